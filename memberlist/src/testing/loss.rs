//! Seeded randomness for loss: a SplitMix64 sequence shared by every sending task (one atomic
//! step per draw, no lock), and [`DropRate`], the policy that drops a fraction of datagrams.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::intercept::{Policy, Verdict};

/// SplitMix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seeded SplitMix64 sequence, safe to draw from many tasks at once.
#[derive(Debug)]
pub(crate) struct Rng {
    state: AtomicU64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// The next number of the sequence.
    pub(crate) fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p` (clamped to 0..=1): one draw, even when `p` is 0 or 1, so
    /// that changing a probability does not shift the sequence.
    pub(crate) fn chance(&self, p: f64) -> bool {
        let draw = self.next_u64();
        p >= 1.0 || draw < threshold(p)
    }
}

/// `p` as a probability: clamped to 0..=1, NaN read as 0.
pub(crate) fn probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// `p` scaled to `u64` (a draw below it has probability `p`).
fn threshold(p: f64) -> u64 {
    let p = probability(p);
    // `as` saturates: 1.0 * 2^64 becomes u64::MAX; `chance` treats p = 1 apart.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let t = (p * u64::MAX as f64) as u64;
    t
}

/// A [`Policy`] that drops each outgoing datagram with a fixed probability, from a seeded
/// sequence: the same seed drops the same datagrams (counted in order of sending). Streams
/// are untouched.
///
/// ```
/// use memberlist::testing::DropRate;
///
/// let half = DropRate::new(0.5, 7);
/// let dropped = (0..10_000).filter(|_| half.drop_next()).count();
/// assert!((4_500..5_500).contains(&dropped));
/// assert_eq!(DropRate::new(0.0, 7).drop_next(), false);
/// assert_eq!(DropRate::new(1.0, 7).drop_next(), true);
/// ```
#[derive(Debug)]
pub struct DropRate {
    rate: f64,
    rng: Rng,
}

impl DropRate {
    /// Drops with probability `rate` (clamped to 0..=1), drawing from the sequence of `seed`.
    pub fn new(rate: f64, seed: u64) -> Self {
        Self {
            rate: probability(rate),
            rng: Rng::new(seed),
        }
    }

    /// The probability of a drop.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Draws once: whether to drop the next datagram.
    pub fn drop_next(&self) -> bool {
        self.rng.chance(self.rate)
    }
}

impl Policy for DropRate {
    fn outgoing(&self, _to: SocketAddr, _data: &[u8]) -> Verdict {
        if self.drop_next() {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drops(d: &DropRate, n: u32) -> u32 {
        (0..n).map(|_| u32::from(d.drop_next())).sum()
    }

    #[test]
    fn the_drop_rate_is_what_was_asked() {
        assert_eq!(drops(&DropRate::new(0.0, 7), 100_000), 0);
        assert_eq!(drops(&DropRate::new(1.0, 7), 100_000), 100_000);
        let n = drops(&DropRate::new(0.05, 7), 200_000);
        assert!((9_400..=10_600).contains(&n), "{n} of 200000 dropped");
        assert_eq!(DropRate::new(f64::NAN, 1).rate(), 0.0);
        assert_eq!(DropRate::new(3.0, 1).rate(), 1.0);
    }

    #[test]
    fn a_seed_gives_one_sequence_and_seeds_differ() {
        let seq = |seed| {
            let d = DropRate::new(0.5, seed);
            (0..64).map(|_| d.drop_next()).collect::<Vec<_>>()
        };
        assert_eq!(seq(1), seq(1));
        assert_ne!(seq(1), seq(2));
    }
}
