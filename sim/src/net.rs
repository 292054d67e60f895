//! The virtual network: latency, jitter, loss, duplication, partitions and slow nodes.
//!
//! The model is deliberately simple: every link has the same base latency plus uniform jitter,
//! each datagram is lost or duplicated independently, and a partition assigns every node a
//! group — nodes in different groups cannot reach each other — and single links can be
//! cut. Randomness comes from one seeded generator owned by the engine, so decisions replay
//! exactly.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

/// Settings of the virtual network, shared by all links.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConfig {
    /// One-way latency of every link.
    pub base_latency: Duration,
    /// Uniform extra latency in `[0, jitter)` added per datagram.
    pub jitter: Duration,
    /// Probability that a datagram is lost (0.0 ..= 1.0).
    pub loss: f64,
    /// Probability that a delivered datagram is delivered twice.
    pub duplicate: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            base_latency: Duration::from_millis(1),
            jitter: Duration::from_micros(500),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// Per-node network conditions plus the shared link model.
#[derive(Debug, Clone)]
pub struct Network {
    cfg: NetConfig,
    /// Partition group of each node; links only work inside a group.
    group: Vec<u32>,
    /// Extra delay applied to every input of a node (CPU starvation).
    slow: Vec<Duration>,
    /// Some node is in another group than node 0's: `group` must be read.
    split: bool,
    /// Number of nodes with a non-zero `slow`: unless some are, `slow` need not be read.
    slowed: usize,
    /// Cut links, as (lower, higher) node indexes.
    cuts: Vec<(usize, usize)>,
    /// Links cut in one direction only, as (from, to).
    one_way: Vec<(usize, usize)>,
}

impl Network {
    /// A fully connected network of `n` nodes.
    pub fn new(cfg: NetConfig, n: usize) -> Self {
        Self {
            cfg,
            group: vec![0; n],
            slow: vec![Duration::ZERO; n],
            split: false,
            slowed: 0,
            cuts: Vec::new(),
            one_way: Vec::new(),
        }
    }

    /// Changes the loss probability of all links.
    pub fn set_loss(&mut self, loss: f64) {
        self.cfg.loss = loss.clamp(0.0, 1.0);
    }

    /// Splits the nodes: `group_of(i)` names node i's side; nodes on different sides cannot
    /// talk.
    pub fn partition(&mut self, group_of: impl Fn(usize) -> u32) {
        for (i, g) in self.group.iter_mut().enumerate() {
            *g = group_of(i);
        }
        let first = self.group.first().copied();
        self.split = self.group.iter().any(|&g| Some(g) != first);
    }

    /// Cuts the link between `a` and `b`: nothing passes either way, while both still
    /// reach everyone else.
    pub fn cut(&mut self, a: usize, b: usize) {
        let link = (a.min(b), a.max(b));
        if !self.cuts.contains(&link) {
            self.cuts.push(link);
        }
    }

    /// Cuts the link from `from` to `to` in that direction only: datagrams from `to` to
    /// `from` still pass (streams need both directions).
    pub fn cut_one_way(&mut self, from: usize, to: usize) {
        if !self.one_way.contains(&(from, to)) {
            self.one_way.push((from, to));
        }
    }

    /// Removes every partition and cut.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
        self.split = false;
        self.cuts.clear();
        self.one_way.clear();
    }

    /// Whether a datagram from `a` reaches `b` (loss aside): the two are on the same side
    /// of every partition and their link is cut in neither both directions nor `a` to `b`.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        (!self.split || self.group[a] == self.group[b])
            && (self.cuts.is_empty() || !self.cuts.contains(&(a.min(b), a.max(b))))
            && (self.one_way.is_empty() || !self.one_way.contains(&(a, b)))
    }

    /// Delays every datagram delivered to `node` by `delay` (zero makes it normal again):
    /// the Lifeguard paper's slow member, whose message processing lags seconds behind
    /// (CPU starvation of its receive loop) while its timers still fire on time, so acks
    /// to its own probes arrive after its probe timeout.
    pub fn set_slow(&mut self, node: usize, delay: Duration) {
        let was = std::mem::replace(&mut self.slow[node], delay);
        match (was.is_zero(), delay.is_zero()) {
            (true, false) => self.slowed += 1,
            (false, true) => self.slowed -= 1,
            _ => {}
        }
    }

    /// The inbound delay of `node`.
    pub fn slowness(&self, node: usize) -> Duration {
        if self.slowed == 0 {
            return Duration::ZERO;
        }
        self.slow[node]
    }

    /// Decides the fate of one datagram from `from` to `to`: the delays after which copies
    /// arrive (empty when lost or partitioned away).
    pub fn route(&self, rng: &mut SmallRng, from: usize, to: usize) -> Deliveries {
        if !self.connected(from, to) {
            return Deliveries::default();
        }
        if self.cfg.loss > 0.0 && rng.random::<f64>() < self.cfg.loss {
            return Deliveries::default();
        }
        let first = self.delay(rng, to);
        let second = (self.cfg.duplicate > 0.0 && rng.random::<f64>() < self.cfg.duplicate)
            .then(|| self.delay(rng, to));
        Deliveries {
            first: Some(first),
            second,
        }
    }

    fn delay(&self, rng: &mut SmallRng, to: usize) -> Duration {
        let jitter = if self.cfg.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.cfg.jitter.mul_f64(rng.random::<f64>())
        };
        self.cfg.base_latency + jitter + self.slowness(to)
    }
}

/// Up to two copies of a datagram and their delays (none by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// Delay of the first copy, if any arrives.
    pub first: Option<Duration>,
    /// Delay of the duplicate, if one is made.
    pub second: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_and_loss() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut net = Network::new(NetConfig::default(), 4);
        net.partition(|i| u32::from(i >= 2));
        assert!(net.route(&mut rng, 0, 2).first.is_none());
        assert!(net.route(&mut rng, 0, 1).first.is_some());
        net.heal();
        net.set_loss(1.0);
        assert!(net.route(&mut rng, 0, 2).first.is_none());
        net.set_loss(0.0);
        net.set_slow(3, Duration::from_secs(1));
        let d = net.route(&mut rng, 0, 3).first.unwrap_or_default();
        assert!(d >= Duration::from_secs(1));
        assert!(net.route(&mut rng, 0, 2).first.unwrap_or_default() < Duration::from_secs(1));
        net.set_slow(3, Duration::from_secs(2));
        net.set_slow(3, Duration::ZERO);
        assert_eq!(net.slowness(3), Duration::ZERO);
        net.set_slow(2, Duration::from_secs(2));
        assert_eq!(net.slowness(2), Duration::from_secs(2));
        net.partition(|i| u32::from(i == 1));
        assert!(!net.connected(0, 1) && net.connected(0, 2));
        net.partition(|_| 5);
        assert!(net.connected(0, 1), "one group is no split");
        net.cut(2, 1);
        assert!(!net.connected(1, 2) && !net.connected(2, 1) && net.connected(0, 2));
        assert!(net.route(&mut rng, 1, 2).first.is_none());
        net.heal();
        assert!(net.connected(1, 2));
    }
}
