//! Restoring members learned out of band (a snapshot written by an earlier run of this node,
//! or a simulator starting from a converged cluster) without gossiping them.

use std::time::Instant;

use tracing::debug;

use crate::delegate::Delegate;

use super::Machine;
use super::members::{Member, State};
use super::output::Event;

impl<D: Delegate> Machine<D> {
    /// Adds members learned out of band as alive, without announcing them to the cluster.
    ///
    /// Each enters alive with its incarnation and is probed like any other member (one no
    /// longer running is soon declared dead); nothing is gossiped, as the others know these
    /// nodes or will learn them by push/pull. Skipped: members already in the table,
    /// ourselves, nameless or not-alive entries, addresses outside the CIDR allow list. An
    /// [`Event::Join`] is emitted per restored member; returns how many were added.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use memberlist_core::delegate::NoopDelegate;
    /// # use memberlist_core::machine::{Machine, ProtocolConfig};
    /// # use memberlist_core::wire::Pipeline;
    /// let now = Instant::now();
    /// let addr = |p| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    /// let mut a = Machine::new(ProtocolConfig::lan("a"), Pipeline::new(), addr(7946), NoopDelegate, 1, now)?;
    /// let b = Machine::new(ProtocolConfig::lan("b"), Pipeline::new(), addr(7947), NoopDelegate, 2, now)?;
    /// // `a` learns `b` from a snapshot of `b`'s own entry.
    /// let added = a.restore_members(now, b.local_member());
    /// assert_eq!(added, 1);
    /// assert_eq!(a.num_members(), 2);
    /// assert_eq!(a.queued_broadcasts(), 1); // only a's own announcement
    /// # Ok::<(), memberlist_core::machine::ConfigError>(())
    /// ```
    pub fn restore_members(
        &mut self,
        now: Instant,
        members: impl IntoIterator<Item = Member>,
    ) -> usize {
        let members = members.into_iter();
        self.members.reserve(members.size_hint().0);
        let mut added = 0;
        for mut m in members {
            if m.name.is_empty()
                || m.name == self.cfg.name
                || m.state != State::Alive
                || self.members.get(&m.name).is_some()
            {
                continue;
            }
            if !m.addr.to_ip().is_some_and(|ip| self.cfg.ip_allowed(ip)) {
                debug!(node = %m.name, "not restoring a member outside the CIDR allow list");
                continue;
            }
            m.state_change = now;
            self.events.push_back(Event::Join(m.clone()));
            self.members.insert(m, &mut self.rng);
            added += 1;
        }
        added
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use crate::delegate::NoopDelegate;
    use crate::machine::{Event, Machine, ProtocolConfig, State};
    use crate::wire::Pipeline;

    fn machine(name: &str, addr: SocketAddr, now: Instant) -> Machine<NoopDelegate> {
        let mut cfg = ProtocolConfig::lan(name);
        cfg.cidrs_allowed = vec!["10.0.0.0/8".parse().unwrap()];
        Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 3, now).unwrap()
    }

    #[test]
    fn skips_self_known_gone_and_disallowed_members() {
        let now = Instant::now();
        let mut a = machine("a", "10.0.0.1:7946".parse().unwrap(), now);
        while a.poll_event().is_some() {}
        let me = a.local_member().unwrap();
        let mut b = me.clone();
        b.name = "b".into();
        let mut dead = me.clone();
        dead.name = "c".into();
        dead.state = State::Dead;
        let mut outside = me.clone();
        outside.name = "d".into();
        outside.addr = std::net::IpAddr::from([192, 168, 0, 1]).into();
        let mut nameless = me.clone();
        nameless.name = "".into();
        let added = a.restore_members(now, [me, b.clone(), b, dead, outside, nameless]);
        assert_eq!(added, 1);
        assert_eq!(a.num_members(), 2);
        assert!(matches!(a.poll_event(), Some(Event::Join(m)) if m.name == "b"));
        assert!(a.poll_event().is_none());
        assert_eq!(a.member("b").unwrap().state, State::Alive);
    }
}
