//! Beyond Go: follow-up push/pulls after a join, so that the early joiners of a mass join
//! learn the later ones without waiting for gossip's chance tail or a periodic push/pull
//! (see [`join_push_pulls`](super::ProtocolConfig::join_push_pulls) and
//! [`join_push_pull_delay`](super::ProtocolConfig::join_push_pull_delay)). On the wire
//! these are ordinary push/pulls (`Join` = false): Go peers see nothing new.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::delegate::Delegate;

use super::Machine;

/// Follow-up push/pulls still to run after a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FollowUps {
    /// When the next one runs.
    next: Instant,
    /// How many remain, the next one included (at least 1).
    remaining: u32,
}

impl<D: Delegate> Machine<D> {
    /// A join push/pull succeeded: schedules the follow-ups unless they are off or already
    /// pending (a join through several seeds schedules them once).
    pub(crate) fn schedule_join_follow_ups(&mut self, now: Instant) {
        if self.cfg.join_push_pulls == 0 || self.join_follow_ups.is_some() {
            return;
        }
        self.join_follow_ups = Some(FollowUps {
            next: now + self.follow_up_delay(),
            remaining: self.cfg.join_push_pulls,
        });
    }

    /// When the next follow-up push/pull is due, if one is pending.
    pub(crate) fn join_follow_up_deadline(&self) -> Option<Instant> {
        self.join_follow_ups.map(|f| f.next)
    }

    /// Runs the follow-up push/pull that is due, if any.
    pub(crate) fn run_join_follow_up(&mut self, now: Instant) {
        let Some(f) = self.join_follow_ups else {
            return;
        };
        if now < f.next {
            return;
        }
        self.join_follow_ups = (f.remaining > 1).then(|| FollowUps {
            next: now + self.follow_up_delay(),
            remaining: f.remaining - 1,
        });
        self.metrics
            .increment(crate::metrics::Counter::JoinFollowUps, 1);
        self.periodic_push_pull(now);
    }

    fn follow_up_delay(&mut self) -> Duration {
        let base = self.cfg.join_push_pull_delay;
        base.mul_f64(1.0 + self.rng.random::<f64>())
    }
}
