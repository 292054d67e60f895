//! Pure timing formulas of the protocol machine, bit-for-bit the ones Go memberlist uses;
//! nothing here reads a clock.
//!
//! | Function | Go counterpart |
//! |---|---|
//! | [`suspicion_timeout`] | `suspicionTimeout` (util.go) |
//! | [`push_pull_scale`] | `pushPullScale` (util.go) |
//! | [`suspicion_remaining`] | `remainingSuspicionTime` (suspicion.go) |

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Cluster size up to which [`push_pull_scale`] leaves the push/pull interval alone
/// (Go: `pushPullScaleThreshold`).
pub const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// Converts a nanosecond count to a [`Duration`], saturating at [`Duration::MAX`].
fn duration_from_nanos(nanos: u128) -> Duration {
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below 10^9, so it always fits a u32.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// The minimum suspicion timeout for a cluster of `n` nodes (the Lifeguard timer shortens
/// towards it from `max`, see [`suspicion_remaining`]). Go's formula, including its rounding:
///
/// ```text
/// nodeScale = max(1, log10(max(1, n)))                  // float
/// timeout   = mult × trunc(nodeScale × 1000) × interval / 1000   // integer nanoseconds
/// ```
///
/// so clusters of up to 10 nodes all get `mult × interval`. The result saturates at
/// [`Duration::MAX`].
///
/// # Examples
///
/// LAN defaults (`SuspicionMult` 4, `ProbeInterval` 1 s):
///
/// ```
/// use std::time::Duration;
/// use memberlist_core::machine::timing::suspicion_timeout;
///
/// let second = Duration::from_secs(1);
/// assert_eq!(suspicion_timeout(4, 3, second), Duration::from_secs(4)); // log10(3) < 1
/// assert_eq!(suspicion_timeout(4, 10, second), Duration::from_secs(4));
/// assert_eq!(suspicion_timeout(4, 100, second), Duration::from_secs(8));
/// assert_eq!(suspicion_timeout(4, 1000, second), Duration::from_secs(12));
/// // log10(50) = 1.69897… is truncated to 1.698
/// assert_eq!(suspicion_timeout(3, 50, second), Duration::from_millis(3 * 1698));
/// ```
pub fn suspicion_timeout(suspicion_mult: u32, n: usize, interval: Duration) -> Duration {
    let nodes = (n as f64).max(1.0);
    let node_scale = nodes.log10().max(1.0);
    // Go: time.Duration(nodeScale*1000) truncates toward zero. The scale is at most
    // log10(usize::MAX) < 20, so the cast is exact and cannot saturate.
    let scale_milli = (node_scale * 1000.0) as u128;
    // Go multiplies int64 nanoseconds (and could overflow); u128 only overflows for absurd
    // intervals, where the result saturates.
    let nanos = u128::from(suspicion_mult)
        .saturating_mul(scale_milli)
        .saturating_mul(interval.as_nanos());
    duration_from_nanos(nanos / 1000)
}

/// The push/pull interval scaled to the cluster size, so that the total push/pull traffic of
/// large clusters stays bounded. Go's formula:
///
/// ```text
/// n ≤ 32:  interval
/// n > 32:  interval × (ceil(log2(n) − log2(32)) + 1)
/// ```
///
/// computed exactly with integers (powers of two come out as in Go, whose `math.Log2` is
/// exact for them: 64 → 2×, 128 → 3×). The result saturates at [`Duration::MAX`].
///
/// # Examples
///
/// LAN default (`PushPullInterval` 30 s):
///
/// ```
/// use std::time::Duration;
/// use memberlist_core::machine::timing::push_pull_scale;
///
/// let interval = Duration::from_secs(30);
/// assert_eq!(push_pull_scale(interval, 32), Duration::from_secs(30));
/// assert_eq!(push_pull_scale(interval, 33), Duration::from_secs(60));
/// assert_eq!(push_pull_scale(interval, 64), Duration::from_secs(60));
/// assert_eq!(push_pull_scale(interval, 65), Duration::from_secs(90));
/// assert_eq!(push_pull_scale(interval, 10_000), Duration::from_secs(300));
/// ```
pub fn push_pull_scale(interval: Duration, n: usize) -> Duration {
    if n <= PUSH_PULL_SCALE_THRESHOLD {
        return interval;
    }
    // n > 32 ≥ 2, so n − 1 ≥ 1 and ilog2 is defined: ceil(log2(n)) = floor(log2(n − 1)) + 1.
    let ceil_log2_n = (n - 1).ilog2() + 1;
    let multiplier = ceil_log2_n - PUSH_PULL_SCALE_THRESHOLD.ilog2() + 1;
    interval.saturating_mul(multiplier)
}

/// Time left on a Lifeguard suspicion timer after `n_confirmations` independent
/// confirmations out of the `k` expected, `elapsed` after the suspicion started. Go's
/// `remainingSuspicionTime`:
///
/// ```text
/// frac    = ln(n + 1) / ln(k + 1)
/// raw     = max.secs − frac × (max.secs − min.secs)
/// timeout = max(min, floor(1000 × raw) ms)
/// result  = timeout − elapsed
/// ```
///
/// Where Go goes negative, the result saturates at [`Duration::ZERO`]: fire at once. With
/// `k == 0` (Go never evaluates the formula then: it would divide by `ln 1 = 0`) the timeout
/// is `min`.
///
/// # Examples
///
/// A 10-node LAN cluster: `k` = 2, `min` = 4 s, `max` = 24 s.
///
/// ```
/// use std::time::Duration;
/// use memberlist_core::machine::timing::suspicion_remaining;
///
/// let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
/// let zero = Duration::ZERO;
/// assert_eq!(suspicion_remaining(0, 2, zero, min, max), Duration::from_secs(24));
/// // 24 − (ln 2 / ln 3) × 20 = 11.3814… s
/// assert_eq!(suspicion_remaining(1, 2, zero, min, max), Duration::from_millis(11_381));
/// assert_eq!(suspicion_remaining(2, 2, zero, min, max), Duration::from_secs(4));
///
/// // Time already spent suspecting is subtracted …
/// let elapsed = Duration::from_secs(3);
/// assert_eq!(suspicion_remaining(1, 2, elapsed, min, max), Duration::from_millis(8_381));
/// // … and once it exceeds the timeout the caller must fire right away.
/// let elapsed = Duration::from_secs(5);
/// assert_eq!(suspicion_remaining(2, 2, elapsed, min, max), Duration::ZERO);
/// ```
pub fn suspicion_remaining(
    n_confirmations: u32,
    k: u32,
    elapsed: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    if k == 0 {
        return min.saturating_sub(elapsed);
    }
    let frac = (f64::from(n_confirmations) + 1.0).ln() / (f64::from(k) + 1.0).ln();
    let (min_secs, max_secs) = (min.as_secs_f64(), max.as_secs_f64());
    let raw = max_secs - frac * (max_secs - min_secs);
    // `as` saturates: a negative raw (only possible with n > k or max < min) becomes 0 and
    // is then raised to `min` below, as in Go.
    let timeout = Duration::from_millis((1000.0 * raw).floor() as u64);
    timeout.max(min).saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn suspicion_timeout_lan_min_and_max() {
        // (n, min seconds) with SuspicionMult 4, ProbeInterval 1 s; max is 6 × min.
        let cases = [
            (0, 4),
            (1, 4),
            (2, 4),
            (3, 4),
            (10, 4),
            (100, 8),
            (1000, 12),
            (10_000, 16),
        ];
        for (n, secs) in cases {
            let min = suspicion_timeout(4, n, SECOND);
            assert_eq!(min, Duration::from_secs(secs), "min for n = {n}");
            assert_eq!(min * 6, Duration::from_secs(6 * secs), "max for n = {n}");
        }
    }

    #[test]
    fn suspicion_timeout_matches_go_test_vectors() {
        // Go's TestSuspicionTimeout: suspicionTimeout(3, n, time.Second) / 3.
        let cases = [
            (5, 1000),
            (10, 1000),
            (50, 1698),
            (100, 2000),
            (500, 2698),
            (1000, 3000),
        ];
        for (n, millis) in cases {
            assert_eq!(
                suspicion_timeout(3, n, SECOND) / 3,
                Duration::from_millis(millis),
                "n = {n}"
            );
        }
    }

    #[test]
    fn suspicion_timeout_truncates_scale_and_nanoseconds() {
        // log10(11) = 1.04139… → 1.041; 4 × 1041 × 1 s / 1000 = 4.164 s.
        assert_eq!(
            suspicion_timeout(4, 11, SECOND),
            Duration::from_millis(4164)
        );
        // 1 × 1698 × 1 ns / 1000 = 1.698 ns → 1 ns (integer division, as in Go).
        assert_eq!(
            suspicion_timeout(1, 50, Duration::from_nanos(1)),
            Duration::from_nanos(1)
        );
        // Sub-second intervals scale the same way: 4 × 2 × 200 ms.
        assert_eq!(
            suspicion_timeout(4, 100, Duration::from_millis(200)),
            Duration::from_millis(1600)
        );
    }

    #[test]
    fn suspicion_timeout_degenerate_inputs() {
        assert_eq!(suspicion_timeout(0, 1000, SECOND), Duration::ZERO);
        assert_eq!(suspicion_timeout(4, 1000, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            suspicion_timeout(u32::MAX, usize::MAX, Duration::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn push_pull_scale_steps() {
        let interval = Duration::from_secs(30);
        let cases = [
            (0, 1),
            (1, 1),
            (32, 1),
            (33, 2),
            (64, 2),
            (65, 3),
            (128, 3),
            (129, 4),
            (256, 4),
            (257, 5),
            (1024, 6),
            (10_000, 10),
        ];
        for (n, mult) in cases {
            assert_eq!(push_pull_scale(interval, n), interval * mult, "n = {n}");
        }
    }

    #[test]
    fn push_pull_scale_matches_go_float_formula() {
        // Go: math.Ceil(math.Log2(float64(n))-math.Log2(32)) + 1. Rust's log2 is exact on
        // powers of two just like Go's, so both agree over this whole range.
        let interval = Duration::from_secs(1);
        for n in (PUSH_PULL_SCALE_THRESHOLD + 1)..=(1 << 20) {
            let go = ((n as f64).log2() - (PUSH_PULL_SCALE_THRESHOLD as f64).log2()).ceil() + 1.0;
            assert_eq!(
                push_pull_scale(interval, n),
                Duration::from_secs(go as u64),
                "n = {n}"
            );
        }
    }

    #[test]
    fn push_pull_scale_saturates() {
        assert_eq!(push_pull_scale(Duration::MAX, 1 << 20), Duration::MAX);
        assert_eq!(push_pull_scale(SECOND, usize::MAX), SECOND * 60);
    }

    #[test]
    fn suspicion_remaining_lan_sequence() {
        let (min, max) = (4 * SECOND, 24 * SECOND);
        let zero = Duration::ZERO;
        assert_eq!(suspicion_remaining(0, 2, zero, min, max), 24 * SECOND);
        assert_eq!(
            suspicion_remaining(1, 2, zero, min, max),
            Duration::from_millis(11_381)
        );
        assert_eq!(suspicion_remaining(2, 2, zero, min, max), 4 * SECOND);
    }

    #[test]
    fn suspicion_remaining_go_test_vectors() {
        // Go's TestSuspicion_remainingSuspicionTime.
        let s = SECOND;
        let ms = Duration::from_millis;
        let cases = [
            (0, 3, Duration::ZERO, 2 * s, 30 * s, 30 * s),
            (1, 3, 2 * s, 2 * s, 30 * s, 14 * s),
            (2, 3, 3 * s, 2 * s, 30 * s, ms(4810)),
            (3, 3, 4 * s, 2 * s, 30 * s, Duration::ZERO), // Go: −2 s
            (4, 3, 5 * s, 2 * s, 30 * s, Duration::ZERO), // Go: −3 s
            (5, 3, 10 * s, 2 * s, 30 * s, Duration::ZERO), // Go: −8 s
        ];
        for (n, k, elapsed, min, max, expected) in cases {
            assert_eq!(
                suspicion_remaining(n, k, elapsed, min, max),
                expected,
                "n = {n}, k = {k}, elapsed = {elapsed:?}"
            );
        }
    }

    #[test]
    fn suspicion_remaining_floors_to_milliseconds() {
        // max with sub-millisecond precision: floor(1000 × 24.0009) ms = 24.000 s.
        let max = Duration::from_micros(24_000_900);
        assert_eq!(
            suspicion_remaining(0, 2, Duration::ZERO, 4 * SECOND, max),
            24 * SECOND
        );
    }

    #[test]
    fn suspicion_remaining_never_below_min() {
        let (min, max) = (4 * SECOND, 24 * SECOND);
        // More confirmations than expected.
        assert_eq!(suspicion_remaining(7, 2, Duration::ZERO, min, max), min);
        // max < min (misconfiguration): min still wins.
        assert_eq!(suspicion_remaining(0, 2, Duration::ZERO, min, SECOND), min);
        // k == 0: the timeout is min.
        assert_eq!(suspicion_remaining(0, 0, Duration::ZERO, min, max), min);
        assert_eq!(suspicion_remaining(3, 0, SECOND, min, max), 3 * SECOND);
    }

    #[test]
    fn suspicion_remaining_is_monotonic_in_confirmations() {
        let (min, max) = (Duration::from_millis(1234), Duration::from_millis(98_765));
        for k in 1..20 {
            let mut previous = Duration::MAX;
            for n in 0..=k + 2 {
                let t = suspicion_remaining(n, k, Duration::ZERO, min, max);
                assert!(t <= previous, "k = {k}, n = {n}");
                assert!(t >= min && t <= max, "k = {k}, n = {n}");
                previous = t;
            }
            assert_eq!(suspicion_remaining(k, k, Duration::ZERO, min, max), min);
        }
    }
}
