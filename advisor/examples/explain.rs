//! Prints the prediction for Go's LAN preset: `cargo run -p memberlist-advisor --example
//! explain -- 100 2` (nodes, loss in percent).
#![allow(clippy::print_stdout)]

use memberlist_advisor::predict;
use memberlist_core::machine::ProtocolConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let loss: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.0);
    match predict(&ProtocolConfig::lan("example"), nodes, loss / 100.0) {
        Ok(p) => println!("{p}"),
        Err(e) => println!("error: {e}"),
    }
}
