//! Test-only fault injection: drop a fraction of the datagrams the node sends.
//!
//! The fault tests (`agent/tests/netns_faults.rs`) need packet loss on every link, and the
//! machines they run on have no `netem` qdisc nor firewall to make it. So the agent has two
//! hidden flags, left out of `--help` and meant for tests only:
//!
//! - `--test-drop-rate P` (0 ≤ P ≤ 1): each outgoing datagram is dropped with probability `P`
//!   (the send reports success, as a datagram lost on the wire would);
//! - `--test-drop-seed N`: the seed of the random sequence (default: a hash of the node name,
//!   so each node drops a different, reproducible sequence).
//!
//! Only datagrams (UDP: probes, acks, gossip) are dropped; streams (TCP: push/pull, TCP
//! fallback pings, joins) are untouched, as real loss under TCP's retransmissions would mostly
//! be. The hook applies to `--transport net` only. The agent logs at warn when it is on, and
//! at shutdown how many datagrams it dropped out of how many.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use memberlist::{Transport, TransportError};
use tracing::{info, warn};

/// The hidden test flags of `memberlist agent`.
#[derive(Debug, Default, Clone, clap::Args)]
pub(crate) struct TestHooks {
    /// Test only: drop this fraction (0 to 1) of outgoing datagrams.
    #[arg(long, hide = true, value_name = "FRACTION", value_parser = parse_rate)]
    pub(crate) test_drop_rate: Option<f64>,
    /// Test only: seed of the drop sequence [default: a hash of the node name].
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

/// Decides, for each datagram, whether to drop it: a seeded SplitMix64 sequence shared by
/// every sending task (one atomic step per draw, no lock).
#[derive(Debug)]
pub(crate) struct Dropper {
    /// Drop when the draw is below this (`rate` scaled to `u64`).
    threshold: u64,
    /// Whether every draw drops (`rate == 1`, which `threshold` cannot say).
    always: bool,
    state: AtomicU64,
}

/// SplitMix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Dropper {
    /// A dropper with probability `rate` (clamped to 0..=1) and `seed`.
    pub(crate) fn new(rate: f64, seed: u64) -> Self {
        let rate = rate.clamp(0.0, 1.0);
        // `as` saturates: 1.0 * 2^64 becomes u64::MAX, covered by `always`.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let threshold = (rate * u64::MAX as f64) as u64;
        Self {
            threshold,
            always: rate >= 1.0,
            state: AtomicU64::new(seed),
        }
    }

    /// Whether to drop the next datagram.
    pub(crate) fn drop_next(&self) -> bool {
        let mut z = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        self.always || z < self.threshold
    }
}

/// The default seed for a node: FNV-1a of its name.
pub(crate) fn seed_for(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A transport that drops a fraction of the datagrams `T` would send.
pub(crate) struct Lossy<T> {
    inner: T,
    dropper: Dropper,
    rate: f64,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl<T> Lossy<T> {
    /// Wraps `inner`, dropping each outgoing datagram with probability `rate`.
    pub(crate) fn new(inner: T, rate: f64, seed: u64) -> Self {
        warn!(
            rate,
            seed, "test hook on: dropping this fraction of outgoing datagrams"
        );
        Self {
            inner,
            dropper: Dropper::new(rate, seed),
            rate,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

#[async_trait::async_trait]
impl<T: Transport> Transport for Lossy<T> {
    type Stream = T::Stream;

    fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.inner.max_datagram_size()
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        // Oversized datagrams are refused whether or not they would be lost.
        if data.len() > self.inner.max_datagram_size() {
            return self.inner.send_to(to, data).await;
        }
        if self.dropper.drop_next() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.inner.send_to(to, data).await
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        self.inner.recv_from().await
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<T::Stream, TransportError> {
        self.inner.connect(to, deadline).await
    }

    async fn accept(&self) -> Result<(T::Stream, SocketAddr), TransportError> {
        self.inner.accept().await
    }

    async fn shutdown(&self) -> Result<(), TransportError> {
        info!(
            rate = self.rate,
            sent = self.sent.load(Ordering::Relaxed),
            dropped = self.dropped.load(Ordering::Relaxed),
            "test hook: outgoing datagrams dropped"
        );
        self.inner.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drops(d: &Dropper, n: u32) -> u32 {
        (0..n).map(|_| u32::from(d.drop_next())).sum()
    }

    #[test]
    fn the_drop_rate_is_what_was_asked() {
        assert_eq!(drops(&Dropper::new(0.0, 7), 100_000), 0);
        assert_eq!(drops(&Dropper::new(1.0, 7), 100_000), 100_000);
        let n = drops(&Dropper::new(0.05, 7), 200_000);
        assert!((9_400..=10_600).contains(&n), "{n} of 200000 dropped");
    }

    #[test]
    fn a_seed_gives_one_sequence_and_seeds_differ() {
        let seq = |seed| {
            let d = Dropper::new(0.5, seed);
            (0..64).map(|_| d.drop_next()).collect::<Vec<_>>()
        };
        assert_eq!(seq(1), seq(1));
        assert_ne!(seq(1), seq(2));
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
