//! The `node` subcommand: one Rust node in its own process, driven over stdin/stdout with
//! the subset of the Go peer's JSON-lines protocol that the benchmark uses
//! (`interop/go/peer`, `-bench` mode), so both sides are driven by the same code.
//!
//! Output: `{"event":"ready","name","addr","port"}` once bound; `{"event":"joined",
//! "contacted","error"}` after a `join`; `{"event":"stats","alive","bytes_sent","stream_bytes_sent","target",`
//! `"dials"}` for `stats` (`target` is the state of node `to`: `alive`, `suspect` or
//! `gone`; `dials` counts the streams this node opened).
//! Input: `{"cmd":"join","addrs":[..]}`, `{"cmd":"stats","to":name}`. End of input stops
//! the node.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use memberlist::runtime::{Config, Memberlist};
use memberlist::testing::Intercept;
use memberlist_core::machine::State;
use memberlist_lzw::Lzw;
use memberlist_net::NetTransport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::BenchError;

fn emit(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A vanished driver is noticed on stdin (end of input); nothing to do here.
    let _ = writeln!(out, "{value}").and_then(|()| out.flush());
}

/// Runs one node named `name` on 127.0.0.1:0 with the LAN preset until stdin closes.
pub async fn run(name: &str) -> Result<(), BenchError> {
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let node = Memberlist::builder(Config::lan(name))
        .transport(Intercept::new(NetTransport::bind(bind).await?))
        .compression(Lzw)
        .start()
        .await?;
    let addr = node.advertise_addr();
    emit(
        &json!({"event": "ready", "name": name, "addr": addr.ip().to_string(), "port": addr.port()}),
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let Ok(command) = serde_json::from_str::<Value>(&line) else {
            emit(&json!({"event": "error", "error": "bad command line"}));
            continue;
        };
        match command.get("cmd").and_then(Value::as_str) {
            Some("join") => {
                let addrs = command.get("addrs").cloned().unwrap_or_default();
                let addrs: Vec<String> = serde_json::from_value(addrs).unwrap_or_default();
                let node = node.clone();
                tokio::spawn(async move {
                    let event = match node.join(addrs.iter().map(String::as_str)).await {
                        Ok(n) => json!({"event": "joined", "contacted": n, "error": null}),
                        Err(e) => {
                            json!({"event": "joined", "contacted": 0, "error": e.to_string()})
                        }
                    };
                    emit(&event);
                });
            }
            Some("stats") => {
                let target = command
                    .get("to")
                    .and_then(Value::as_str)
                    .and_then(|to| node.member(to))
                    .map_or("gone", |m| match m.state {
                        State::Alive => "alive",
                        State::Suspect => "suspect",
                        State::Dead | State::Left => "gone",
                    });
                emit(&json!({
                    "event": "stats",
                    "alive": node.count_in_state(State::Alive),
                    "bytes_sent": node.transport().traffic().bytes_sent(),
                    "stream_bytes_sent": node.transport().traffic().stream_bytes_written,
                    "dials": node.stats().streams_opened,
                    "target": target,
                }));
            }
            _ => emit(&json!({"event": "error", "error": "unknown cmd"})),
        }
    }
    node.shutdown().await;
    Ok(())
}
