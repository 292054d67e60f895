//! Test-only fault injection: drop a fraction of the datagrams the node sends, for the fault
//! tests in network namespaces (`agent/tests/netns_faults.rs`; why and how: see
//! `agent/README.md`, "Tests").
//!
//! A dropped datagram reports success, as one lost on the wire would. The hook is the test
//! kit's `memberlist::testing::Intercept` with its seeded [`DropRate`] policy, so a seed drops
//! the same datagrams from run to run.

use memberlist::testing::{DropRate, Intercept};
use tracing::{info, warn};

/// The hidden test flags of `memberlist agent`.
#[derive(Debug, Default, Clone, clap::Args)]
pub(crate) struct TestHooks {
    /// Test only: drop each outgoing datagram with this probability (0 to 1).
    #[arg(long, hide = true, value_name = "FRACTION", value_parser = parse_rate)]
    pub(crate) test_drop_rate: Option<f64>,
    /// Test only: seed of the drop sequence [default: a hash of the node name, so each node
    /// drops a different, reproducible sequence].
    #[arg(long, hide = true, value_name = "N")]
    pub(crate) test_drop_seed: Option<u64>,
}

/// `--test-drop-rate`: a number from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("not a number: {e}"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("must be between 0 and 1, got {rate}"));
    }
    Ok(rate)
}

/// The default seed for a node: FNV-1a of its name.
pub(crate) fn seed_for(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A transport that drops a fraction of the datagrams `T` would send.
pub(crate) type Lossy<T> = Intercept<T, DropRate>;

/// Wraps `inner`, dropping each outgoing datagram with probability `rate`.
pub(crate) fn lossy<T: memberlist::Transport>(inner: T, rate: f64, seed: u64) -> Lossy<T> {
    warn!(
        rate,
        seed, "test hook on: dropping this fraction of outgoing datagrams"
    );
    Intercept::with_policy(inner, DropRate::new(rate, seed))
}

/// Logs how many outgoing datagrams the hook dropped, out of how many (the fault tests read
/// this line).
pub(crate) fn report<T>(transport: &Lossy<T>) {
    let traffic = transport.traffic();
    info!(
        rate = transport.policy().rate(),
        sent = traffic.datagrams_sent + traffic.datagrams_dropped,
        dropped = traffic.datagrams_dropped,
        "test hook: outgoing datagrams dropped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_has_its_own_default_seed() {
        assert_eq!(seed_for("a"), seed_for("a"));
        assert_ne!(seed_for("a"), seed_for("b"));
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert_eq!(parse_rate("0.05"), Ok(0.05));
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("x").is_err());
    }
}
