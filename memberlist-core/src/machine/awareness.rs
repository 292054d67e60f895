//! Lifeguard local health awareness ("LHA"): a score of how unhealthy this node believes
//! itself to be, used to stretch its own probe intervals and timeouts.
//!
//! Missed acks, refutations and missing nacks raise the score; successful probes lower
//! it, so a slow node gives its peers more time instead of spreading false suspicions
//! (Go memberlist's `awareness` type).

use std::time::Duration;

/// Local health score in `0..max`, where 0 is healthy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use memberlist_core::machine::awareness::Awareness;
///
/// // Go's default AwarenessMaxMultiplier is 8: scores 0..=7.
/// let mut awareness = Awareness::new(8);
/// assert_eq!(awareness.score(), 0);
///
/// // A failed probe: the score rises, and probes now wait twice as long.
/// assert_eq!(awareness.apply_delta(1), Some(1));
/// assert_eq!(awareness.scale_timeout(Duration::from_secs(1)), Duration::from_secs(2));
///
/// // The score is clamped to max − 1 …
/// assert_eq!(awareness.apply_delta(100), Some(7));
/// assert_eq!(awareness.apply_delta(1), None); // unchanged: no gauge update
/// // … and to 0.
/// assert_eq!(awareness.apply_delta(-100), Some(0));
/// assert_eq!(awareness.apply_delta(-1), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awareness {
    /// Exclusive upper bound of the score (Go: `AwarenessMaxMultiplier`).
    max: u32,
    /// Current score, always in `0..=max.saturating_sub(1)`.
    score: u32,
}

impl Awareness {
    /// A healthy (score 0) awareness whose score stays below `max`, Go's
    /// `AwarenessMaxMultiplier` (8 by default); 0 or 1 disables it.
    ///
    /// # Examples
    ///
    /// ```
    /// use memberlist_core::machine::awareness::Awareness;
    ///
    /// let mut awareness = Awareness::new(1);
    /// assert_eq!(awareness.apply_delta(5), None);
    /// assert_eq!(awareness.score(), 0);
    /// ```
    pub fn new(max: u32) -> Self {
        Self { max, score: 0 }
    }

    /// The current health score: 0 is healthy, `max − 1` is the worst.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// Adds `delta` to the score, clamped to `0..=max − 1`. Returns the new score if it
    /// changed (the caller then sets the `memberlist.health.score` gauge, as Go does).
    ///
    /// # Examples
    ///
    /// ```
    /// use memberlist_core::machine::awareness::Awareness;
    ///
    /// let mut awareness = Awareness::new(8);
    /// assert_eq!(awareness.apply_delta(-1), None); // already 0
    /// assert_eq!(awareness.apply_delta(3), Some(3));
    /// assert_eq!(awareness.apply_delta(0), None);
    /// ```
    pub fn apply_delta(&mut self, delta: i32) -> Option<u32> {
        let ceiling = i64::from(self.max.saturating_sub(1));
        let target = (i64::from(self.score) + i64::from(delta)).clamp(0, ceiling);
        // `target` is within 0..=u32::MAX by the clamp above.
        let score = u32::try_from(target).unwrap_or(self.score);
        if score == self.score {
            None
        } else {
            self.score = score;
            Some(score)
        }
    }

    /// Scales a probe interval or timeout by the current health: `timeout × (score + 1)`,
    /// saturating at [`Duration::MAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist_core::machine::awareness::Awareness;
    ///
    /// let mut awareness = Awareness::new(8);
    /// let interval = Duration::from_millis(500);
    /// assert_eq!(awareness.scale_timeout(interval), interval);
    /// awareness.apply_delta(3);
    /// assert_eq!(awareness.scale_timeout(interval), Duration::from_secs(2));
    /// ```
    pub fn scale_timeout(&self, timeout: Duration) -> Duration {
        timeout.saturating_mul(self.score.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_healthy() {
        let awareness = Awareness::new(8);
        assert_eq!(awareness.score(), 0);
        assert_eq!(awareness.max, 8);
        assert_eq!(
            awareness.scale_timeout(Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn clamps_at_both_ends() {
        let mut awareness = Awareness::new(8);
        assert_eq!(awareness.apply_delta(-1), None);
        assert_eq!(awareness.score(), 0);
        for expected in 1..=7 {
            assert_eq!(awareness.apply_delta(1), Some(expected));
        }
        assert_eq!(awareness.apply_delta(1), None);
        assert_eq!(awareness.score(), 7);
        assert_eq!(awareness.apply_delta(i32::MAX), None);
        assert_eq!(awareness.apply_delta(-2), Some(5));
        assert_eq!(awareness.apply_delta(i32::MIN), Some(0));
        assert_eq!(awareness.apply_delta(i32::MIN), None);
        assert_eq!(awareness.score(), 0);
    }

    #[test]
    fn overshooting_delta_reports_clamped_score() {
        let mut awareness = Awareness::new(8);
        assert_eq!(awareness.apply_delta(2), Some(2));
        assert_eq!(awareness.apply_delta(10), Some(7));
        assert_eq!(awareness.apply_delta(-10), Some(0));
    }

    #[test]
    fn scaling_follows_score() {
        let mut awareness = Awareness::new(8);
        let base = Duration::from_millis(500);
        for score in 0..8u32 {
            assert_eq!(awareness.score(), score);
            assert_eq!(awareness.scale_timeout(base), base * (score + 1));
            awareness.apply_delta(1);
        }
        // Clamped at 7: at most 8 × base.
        assert_eq!(awareness.scale_timeout(base), base * 8);
        assert_eq!(awareness.scale_timeout(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn max_one_or_zero_means_always_healthy() {
        for max in [0, 1] {
            let mut awareness = Awareness::new(max);
            assert_eq!(awareness.apply_delta(1), None);
            assert_eq!(awareness.apply_delta(i32::MAX), None);
            assert_eq!(awareness.apply_delta(-1), None);
            assert_eq!(awareness.score(), 0);
            assert_eq!(
                awareness.scale_timeout(Duration::from_secs(3)),
                Duration::from_secs(3)
            );
        }
    }

    #[test]
    fn huge_max_does_not_overflow() {
        let mut awareness = Awareness::new(u32::MAX);
        assert_eq!(awareness.apply_delta(i32::MAX), Some(i32::MAX as u32));
        assert_eq!(awareness.apply_delta(i32::MAX), Some(u32::MAX - 1));
        assert_eq!(awareness.apply_delta(1), None);
        assert_eq!(
            awareness.scale_timeout(Duration::from_nanos(1)),
            Duration::from_nanos(u64::from(u32::MAX))
        );
    }
}
