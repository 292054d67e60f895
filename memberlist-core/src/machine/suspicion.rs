//! Lifeguard dynamic suspicion timeouts, sans-I/O.
//!
//! A suspected node gets `max` time to refute; each *independent* confirmation shrinks it
//! towards `min` ([`timing::suspicion_remaining`]). This is Go memberlist's `suspicion`
//! type without its timer: the machine fires when its clock reaches the
//! [`deadline`](Suspicion::deadline).

use std::time::{Duration, Instant};

use smol_str::SmolStr;

use super::timing;

/// How many independent confirmations a suspicion waits for before reaching its minimum
/// timeout (Lifeguard's `k`).
///
/// Go's rule: `k = SuspicionMult − 2`, or 0 when the cluster cannot supply that many
/// confirmers (`n_nodes − 2 < k`: not ourselves nor the suspect) or `suspicion_mult < 2`.
///
/// # Examples
///
/// ```
/// use memberlist_core::machine::suspicion::confirmations_needed;
///
/// assert_eq!(confirmations_needed(4, 10), 2); // LAN default
/// assert_eq!(confirmations_needed(4, 4), 2);
/// assert_eq!(confirmations_needed(4, 3), 0); // only one possible confirmer
/// assert_eq!(confirmations_needed(4, 0), 0);
/// assert_eq!(confirmations_needed(1, 100), 0);
/// ```
pub fn confirmations_needed(suspicion_mult: u32, n_nodes: usize) -> u32 {
    let Some(k) = suspicion_mult.checked_sub(2) else {
        return 0;
    };
    // usize is at least 32 bits on every supported target; if it were not, the cluster
    // could never supply k confirmers anyway.
    let possible_confirmers = n_nodes.saturating_sub(2);
    match usize::try_from(k) {
        Ok(k_usize) if possible_confirmers >= k_usize => k,
        _ => 0,
    }
}

/// Adds `duration` to `instant`, staying as far in the future as `Instant` can represent
/// instead of panicking on overflow.
fn add_saturating(instant: Instant, mut duration: Duration) -> Instant {
    loop {
        if let Some(later) = instant.checked_add(duration) {
            return later;
        }
        duration /= 2;
    }
}

/// The suspicion timer of one suspected node.
///
/// Created when the node becomes suspect; dropped when it refutes, is declared dead, or
/// leaves.
///
/// # Examples
///
/// A 10-node LAN cluster (`k` = 2, `min` = 4 s, `max` = 24 s):
///
/// ```
/// use std::time::{Duration, Instant};
/// use memberlist_core::machine::suspicion::{confirmations_needed, Suspicion};
///
/// let start = Instant::now();
/// let k = confirmations_needed(4, 10);
/// let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
/// let mut suspicion = Suspicion::new("accuser".into(), k, min, max, start);
/// assert_eq!(suspicion.deadline(), start + Duration::from_secs(24));
///
/// // The accuser repeating itself is not a confirmation.
/// assert!(!suspicion.confirm("accuser", start + Duration::from_secs(1)));
///
/// // Two independent confirmations shrink the timeout to 11.381 s, then to 4 s.
/// assert!(suspicion.confirm("b", start + Duration::from_secs(1)));
/// assert_eq!(suspicion.deadline(), start + Duration::from_millis(11_381));
/// assert!(suspicion.is_degraded());
/// assert!(suspicion.confirm("c", start + Duration::from_secs(2)));
/// assert_eq!(suspicion.deadline(), start + Duration::from_secs(4));
/// assert!(!suspicion.is_degraded());
///
/// // Enough confirmations: further ones are ignored.
/// assert!(!suspicion.confirm("d", start + Duration::from_secs(3)));
/// assert_eq!(suspicion.confirmations(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Suspicion {
    /// When the node became suspect.
    start: Instant,
    /// When the node is to be declared dead.
    deadline: Instant,
    /// Confirmations expected (Lifeguard's `k`).
    k: u32,
    /// Independent confirmations counted so far, at most `k`.
    n: u32,
    /// Minimum total timeout, reached after `k` confirmations.
    min: Duration,
    /// Maximum total timeout, with no confirmations.
    max: Duration,
    /// The accuser followed by every counted confirmer: at most `k + 1` names, since
    /// nothing is recorded once `n` reaches `k`.
    seen: Vec<SmolStr>,
}

impl Suspicion {
    /// Starts a suspicion at `now`, raised by `from` (whose own messages never count as
    /// confirmations).
    ///
    /// `k` comes from [`confirmations_needed`]; `min` is [`timing::suspicion_timeout`] and
    /// `max` `SuspicionMaxTimeoutMult` times it. The deadline starts at `now + max`, or at
    /// `now + min` when `k == 0` (no confirmations are accepted then).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use memberlist_core::machine::suspicion::Suspicion;
    ///
    /// let now = Instant::now();
    /// let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
    ///
    /// // A 3-node cluster cannot supply confirmations: k = 0.
    /// let mut suspicion = Suspicion::new("a".into(), 0, min, max, now);
    /// assert_eq!(suspicion.deadline(), now + min);
    /// assert!(!suspicion.confirm("b", now));
    /// assert!(!suspicion.is_degraded());
    /// ```
    pub fn new(from: SmolStr, k: u32, min: Duration, max: Duration, now: Instant) -> Self {
        let timeout = if k == 0 { min } else { max };
        let mut seen = Vec::with_capacity(usize::try_from(k).map_or(1, |k| k.min(7) + 1));
        seen.push(from);
        Self {
            start: now,
            deadline: add_saturating(now, timeout),
            k,
            n: 0,
            min,
            max,
            seen,
        }
    }

    /// Records that `from` independently confirmed the suspicion at `now`.
    ///
    /// Returns `true` only for a new, counted confirmation (the caller re-gossips the
    /// suspect message then); `false`, changing nothing, once `k` are counted or when `from`
    /// is the accuser or has already confirmed. A counted confirmation moves the deadline to
    /// `start + timeout(n)`, never earlier than `now` nor later than it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use memberlist_core::machine::suspicion::Suspicion;
    ///
    /// let start = Instant::now();
    /// let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
    /// let mut suspicion = Suspicion::new("a".into(), 2, min, max, start);
    ///
    /// // The first confirmation arrives 15 s in: its 11.381 s timeout has passed.
    /// let now = start + Duration::from_secs(15);
    /// assert!(suspicion.confirm("b", now));
    /// assert!(!suspicion.confirm("b", now)); // duplicate
    /// assert_eq!(suspicion.deadline(), now); // fire immediately
    /// ```
    pub fn confirm(&mut self, from: &str, now: Instant) -> bool {
        if self.n >= self.k || self.seen.iter().any(|seen| seen == from) {
            return false;
        }
        self.seen.push(SmolStr::new(from));
        self.n += 1;

        // Measure from the start even if the caller's clock reads earlier.
        let now = now.max(self.start);
        let elapsed = now.duration_since(self.start);
        let remaining = timing::suspicion_remaining(self.n, self.k, elapsed, self.min, self.max);
        // start + elapsed + remaining = max(start + timeout(n), now).
        let target = add_saturating(now, remaining);
        self.deadline = self.deadline.min(target);
        true
    }

    /// When the suspect is to be declared dead, unless it refutes first.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// When the suspicion started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Independent confirmations counted so far (never more than `k`).
    pub fn confirmations(&self) -> u32 {
        self.n
    }

    /// Whether confirmations were expected but not all of them arrived (`k > 0` and
    /// fewer than `k` counted): a suspicion expiring so counts `memberlist.degraded.timeout`.
    pub fn is_degraded(&self) -> bool {
        self.k > 0 && self.n < self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// The LAN suspicion bounds for `n` nodes (SuspicionMult 4, max mult 6, 1 s probes).
    fn lan(n: usize) -> (u32, Duration, Duration) {
        let min = timing::suspicion_timeout(4, n, SECOND);
        (confirmations_needed(4, n), min, min * 6)
    }

    #[test]
    fn confirmations_needed_rule() {
        assert_eq!(confirmations_needed(4, 0), 0);
        assert_eq!(confirmations_needed(4, 1), 0);
        assert_eq!(confirmations_needed(4, 2), 0);
        assert_eq!(confirmations_needed(4, 3), 0);
        assert_eq!(confirmations_needed(4, 4), 2);
        assert_eq!(confirmations_needed(4, 10_000), 2);
        assert_eq!(confirmations_needed(5, 4), 0);
        assert_eq!(confirmations_needed(5, 5), 3);
        assert_eq!(confirmations_needed(2, 100), 0);
        assert_eq!(confirmations_needed(1, 100), 0);
        assert_eq!(confirmations_needed(0, 100), 0);
        assert_eq!(confirmations_needed(3, 1), 0);
        assert_eq!(confirmations_needed(3, 3), 1);
        assert_eq!(confirmations_needed(u32::MAX, usize::MAX), u32::MAX - 2);
    }

    #[test]
    fn lan_bounds_for_cluster_sizes() {
        let cases = [
            (1, 0, 4),
            (2, 0, 4),
            (3, 0, 4),
            (10, 2, 4),
            (100, 2, 8),
            (1000, 2, 12),
            (10_000, 2, 16),
        ];
        for (n, k, min_secs) in cases {
            let (got_k, min, max) = lan(n);
            assert_eq!(got_k, k, "k for n = {n}");
            assert_eq!(min, min_secs * SECOND, "min for n = {n}");
            assert_eq!(max, 6 * min_secs * SECOND, "max for n = {n}");

            let start = Instant::now();
            let s = Suspicion::new("accuser".into(), got_k, min, max, start);
            let expected = if k == 0 { min } else { max };
            assert_eq!(s.deadline(), start + expected, "deadline for n = {n}");
        }
    }

    #[test]
    fn lan_ten_nodes_sequence() {
        let (k, min, max) = lan(10);
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), k, min, max, start);
        assert_eq!(s.start(), start);
        assert_eq!((s.k, s.min, s.max), (2, 4 * SECOND, 24 * SECOND));
        assert_eq!(s.deadline(), start + 24 * SECOND);
        assert_eq!(s.confirmations(), 0);
        assert!(s.is_degraded());

        assert!(s.confirm("b", start + SECOND));
        assert_eq!(s.deadline(), start + Duration::from_millis(11_381));
        assert_eq!(s.confirmations(), 1);
        assert!(s.is_degraded());

        assert!(s.confirm("c", start + 2 * SECOND));
        assert_eq!(s.deadline(), start + 4 * SECOND);
        assert_eq!(s.confirmations(), 2);
        assert!(!s.is_degraded());

        assert!(!s.confirm("d", start + 3 * SECOND));
        assert_eq!(s.deadline(), start + 4 * SECOND);
        assert_eq!(s.confirmations(), 2);
        assert!(s.seen.len() <= (k as usize) + 1);
    }

    #[test]
    fn duplicates_and_accuser_are_ignored() {
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), 3, 2 * SECOND, 30 * SECOND, start);
        assert!(!s.confirm("a", start));
        assert_eq!(s.confirmations(), 0);
        assert_eq!(s.deadline(), start + 30 * SECOND);

        assert!(s.confirm("b", start));
        let after_b = s.deadline();
        assert_eq!(after_b, start + 16 * SECOND); // 30 − (ln 2 / ln 4) × 28
        assert!(!s.confirm("b", start + SECOND));
        assert!(!s.confirm("a", start + SECOND));
        assert_eq!(s.confirmations(), 1);
        assert_eq!(s.deadline(), after_b);
        assert_eq!(s.seen.len(), 2);
    }

    #[test]
    fn k_zero_never_accepts_confirmations() {
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), 0, 4 * SECOND, 24 * SECOND, start);
        assert_eq!(s.deadline(), start + 4 * SECOND);
        for name in ["b", "c", "d"] {
            assert!(!s.confirm(name, start + SECOND));
        }
        assert_eq!(s.confirmations(), 0);
        assert_eq!(s.deadline(), start + 4 * SECOND);
        assert!(!s.is_degraded());
        assert_eq!(s.seen.len(), 1);
    }

    #[test]
    fn elapsed_past_timeout_fires_now() {
        let (k, min, max) = lan(10);
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), k, min, max, start);
        let now = start + 12 * SECOND; // past the 11.381 s of one confirmation
        assert!(s.confirm("b", now));
        assert_eq!(s.deadline(), now);

        // Exactly at the new timeout: the deadline is that instant, i.e. now.
        let mut s = Suspicion::new("a".into(), k, min, max, start);
        let now = start + Duration::from_millis(11_381);
        assert!(s.confirm("b", now));
        assert_eq!(s.deadline(), now);
    }

    #[test]
    fn confirmation_after_deadline_is_counted_but_keeps_deadline() {
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), 2, 4 * SECOND, 24 * SECOND, start);
        assert!(s.confirm("b", start + 12 * SECOND));
        assert_eq!(s.deadline(), start + 12 * SECOND);
        // The caller has not fired yet; a later confirmation must not postpone it.
        assert!(s.confirm("c", start + 20 * SECOND));
        assert_eq!(s.confirmations(), 2);
        assert_eq!(s.deadline(), start + 12 * SECOND);
    }

    #[test]
    fn clock_before_start_is_treated_as_start() {
        let start = Instant::now() + 10 * SECOND;
        let mut s = Suspicion::new("a".into(), 2, 4 * SECOND, 24 * SECOND, start);
        assert!(s.confirm("b", start - 5 * SECOND));
        assert_eq!(s.deadline(), start + Duration::from_millis(11_381));
    }

    #[test]
    fn huge_timeouts_do_not_panic() {
        let start = Instant::now();
        let mut s = Suspicion::new("a".into(), 2, Duration::MAX, Duration::MAX, start);
        assert!(s.deadline() > start);
        assert!(s.confirm("b", start));
        assert!(s.deadline() > start);

        let s = Suspicion::new("a".into(), u32::MAX, SECOND, 2 * SECOND, start);
        assert_eq!(s.deadline(), start + 2 * SECOND);
    }

    /// A confirmation event: (confirmer name index, time since the previous event in ms).
    fn events() -> impl Strategy<Value = Vec<(u8, u64)>> {
        proptest::collection::vec((0u8..8, 0u64..20_000), 0..24)
    }

    proptest! {
        #[test]
        fn deadline_only_moves_earlier_and_stays_above_min(
            k in 0u32..7,
            min_ms in 1u64..20_000,
            max_mult in 1u32..9,
            events in events(),
        ) {
            let start = Instant::now();
            let min = Duration::from_millis(min_ms);
            let max = min * max_mult;
            let mut s = Suspicion::new(SmolStr::new("n0"), k, min, max, start);
            let floor = start + min;
            prop_assert!(s.deadline() >= floor);
            prop_assert!(s.deadline() <= start + max);

            let mut now = start;
            let mut confirmers: Vec<String> = Vec::new();
            for (who, gap_ms) in events {
                now += Duration::from_millis(gap_ms);
                let name = format!("n{who}");
                let previous = s.deadline();
                let n_before = s.confirmations();
                let counted = s.confirm(&name, now);

                let expect_counted =
                    n_before < k && name != "n0" && !confirmers.contains(&name);
                prop_assert_eq!(counted, expect_counted);
                if counted {
                    confirmers.push(name);
                    prop_assert_eq!(s.confirmations(), n_before + 1);
                    if now < previous {
                        // Go's behaviour while the timer is pending.
                        let total = timing::suspicion_remaining(
                            s.confirmations(), k, Duration::ZERO, min, max,
                        );
                        prop_assert_eq!(s.deadline(), (start + total).max(now));
                    }
                } else {
                    prop_assert_eq!(s.confirmations(), n_before);
                }
                prop_assert!(s.deadline() <= previous);
                prop_assert!(s.deadline() >= floor);
                prop_assert!(s.confirmations() <= k);
                prop_assert!(s.seen.len() <= k as usize + 1);
                prop_assert_eq!(s.is_degraded(), k > 0 && s.confirmations() < k);
            }
        }
    }
}
