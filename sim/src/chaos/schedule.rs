//! A random fault schedule drawn from a seed: the cluster size, which nodes join late, and
//! a time-ordered list of actions that are valid when they happen (a crash hits a running
//! node, a restart a stopped one, one network fault at a time).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// When the schedule's first fault may strike: the initial join has settled.
pub const FIRST_FAULT: Duration = Duration::from_secs(20);

/// One scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The process stops (SIGKILL): no more datagrams, timers or answers.
    Crash(usize),
    /// A stopped node starts again under its name and joins through a running node.
    Restart {
        /// The node.
        node: usize,
        /// At a new address (else at its own).
        elsewhere: bool,
    },
    /// A graceful leave (the process exits two seconds later, a scheduled crash).
    Leave(usize),
    /// The nodes with group 1 are cut off from those with group 0, both ways.
    Partition(Vec<bool>),
    /// The listed nodes stop receiving datagrams from every other node (they still send).
    Deaf(Vec<usize>),
    /// Every datagram is lost with this probability.
    Loss(f64),
    /// The node's inbound datagrams are late by this much (a starved receive loop).
    Slow(usize, Duration),
    /// The node is no longer slow.
    Fast(usize),
    /// The partition, deafness or loss in force ends.
    Heal,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crash(i) => write!(f, "crash {i}"),
            Self::Restart { node, elsewhere } => {
                write!(
                    f,
                    "restart {node}{}",
                    if *elsewhere { " elsewhere" } else { "" }
                )
            }
            Self::Leave(i) => write!(f, "leave {i}"),
            Self::Partition(side) => {
                let cut: Vec<String> = (0..side.len())
                    .filter(|&i| side[i])
                    .map(|i| i.to_string())
                    .collect();
                write!(f, "partition [{}] from the rest", cut.join(" "))
            }
            Self::Deaf(nodes) => write!(f, "deaf {nodes:?}"),
            Self::Loss(p) => write!(f, "loss {:.0} %", p * 100.0),
            Self::Slow(i, d) => write!(f, "slow {i} by {} ms", d.as_millis()),
            Self::Fast(i) => write!(f, "fast {i}"),
            Self::Heal => write!(f, "heal"),
        }
    }
}

/// A drawn schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Cluster size (5 to 64).
    pub nodes: usize,
    /// Nodes that stay stopped until a `Restart` joins them.
    pub late: Vec<usize>,
    /// Actions, time-ordered (times from the start of the run).
    pub actions: Vec<(Duration, Action)>,
    /// How many faults were drawn (ends, restarts and exits not counted).
    pub faults: usize,
}

/// What the drawing knows of the cluster at the current point of the schedule.
struct State {
    up: Vec<bool>,
    /// Actions already scheduled for the node (a restart, an exit): it is left alone until
    /// they have happened.
    pending: Vec<u32>,
    slow: Vec<bool>,
    network_fault: bool,
    /// Actions scheduled for later, drawn into the list when their time comes.
    later: BTreeMap<(Duration, u32), Action>,
    seq: u32,
}

impl State {
    fn running(&self) -> Vec<usize> {
        (0..self.up.len())
            .filter(|&i| self.up[i] && self.pending[i] == 0)
            .collect()
    }

    fn schedule(&mut self, at: Duration, action: Action) {
        if let Action::Crash(i) | Action::Restart { node: i, .. } = action {
            self.pending[i] += 1;
        }
        self.seq += 1;
        self.later.insert((at, self.seq), action);
    }

    /// A scheduled action's time has come.
    fn happen(&mut self, action: &Action) {
        if let Action::Crash(i) | Action::Restart { node: i, .. } = *action {
            self.pending[i] -= 1;
        }
        self.apply(action);
    }

    /// Applies an action to the drawing's view of the cluster.
    fn apply(&mut self, action: &Action) {
        match action {
            Action::Crash(i) => {
                self.up[*i] = false;
                self.slow[*i] = false;
            }
            Action::Restart { node, .. } => self.up[*node] = true,
            Action::Leave(_) => {}
            Action::Partition(_) | Action::Deaf(_) | Action::Loss(_) => self.network_fault = true,
            Action::Heal => self.network_fault = false,
            Action::Slow(i, _) => self.slow[*i] = true,
            Action::Fast(i) => self.slow[*i] = false,
        }
    }
}

fn secs(rng: &mut SmallRng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.random_range(lo * 1000..=hi * 1000))
}

/// Draws the schedule of `seed`: 5–64 nodes, up to an eighth of them joining late, and 20–40
/// faults a second to twelve apart.
pub fn draw(seed: u64) -> Schedule {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_c4a0_5c4e_d01e);
    let nodes = rng.random_range(5..=64);
    let late: Vec<usize> = (1..nodes).filter(|_| rng.random_bool(0.06)).collect();
    let mut state = State {
        up: (0..nodes).map(|i| !late.contains(&i)).collect(),
        pending: vec![0; nodes],
        slow: vec![false; nodes],
        network_fault: false,
        later: BTreeMap::new(),
        seq: 0,
    };
    let target = rng.random_range(20..=40);
    let mut actions = Vec::new();
    let mut faults = 0;
    let mut t = FIRST_FAULT;
    while faults < target {
        t += secs(&mut rng, 1, 12);
        while let Some(entry) = state.later.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let ((at, _), action) = entry.remove_entry();
            state.happen(&action);
            actions.push((at, action));
        }
        let Some(action) = draw_fault(&mut rng, &mut state, t, nodes) else {
            continue;
        };
        state.apply(&action);
        actions.push((t, action));
        faults += 1;
    }
    // Whatever is still pending happens; then the network heals and every node is fast.
    while let Some(((at, _), action)) = state.later.pop_first() {
        state.happen(&action);
        actions.push((at, action));
    }
    let end = actions.last().map_or(t, |(at, _)| *at) + Duration::from_secs(1);
    if state.network_fault {
        actions.push((end, Action::Heal));
    }
    for i in 0..nodes {
        if state.slow[i] {
            actions.push((end, Action::Fast(i)));
        }
    }
    Schedule {
        nodes,
        late,
        actions,
        faults,
    }
}

/// One fault valid at `t`, with its end or follow-up scheduled; `None` if the drawn kind
/// does not apply now.
fn draw_fault(rng: &mut SmallRng, s: &mut State, t: Duration, n: usize) -> Option<Action> {
    let running = s.running();
    let stopped: Vec<usize> = (0..n).filter(|&i| !s.up[i] && s.pending[i] == 0).collect();
    let pick = |rng: &mut SmallRng, from: &[usize]| from[rng.random_range(0..from.len())];
    Some(match rng.random_range(0..8) {
        // Crashes and leaves keep at least three nodes running.
        0 | 1 if running.len() > 3 => {
            let i = pick(rng, &running);
            if rng.random_bool(0.7) {
                let elsewhere = rng.random_bool(0.5);
                let back = t + secs(rng, 1, 60);
                s.schedule(back, Action::Restart { node: i, elsewhere });
            }
            Action::Crash(i)
        }
        2 if running.len() > 3 => {
            let i = pick(rng, &running);
            s.schedule(t + Duration::from_secs(2), Action::Crash(i));
            if rng.random_bool(0.5) {
                let back = t + secs(rng, 5, 60);
                s.schedule(
                    back,
                    Action::Restart {
                        node: i,
                        elsewhere: false,
                    },
                );
            }
            Action::Leave(i)
        }
        3 if !stopped.is_empty() => Action::Restart {
            node: pick(rng, &stopped),
            elsewhere: false,
        },
        4 if !s.network_fault => {
            let side: Vec<bool> = (0..n).map(|_| rng.random_bool(0.4)).collect();
            if side.iter().all(|&x| x) || side.iter().all(|&x| !x) {
                return None;
            }
            s.schedule(t + secs(rng, 5, 60), Action::Heal);
            Action::Partition(side)
        }
        5 if !s.network_fault => {
            let k = rng.random_range(1..=(n / 4).max(1));
            let mut deaf: Vec<usize> = (0..k).map(|_| rng.random_range(0..n)).collect();
            deaf.sort_unstable();
            deaf.dedup();
            s.schedule(t + secs(rng, 5, 40), Action::Heal);
            Action::Deaf(deaf)
        }
        6 if !s.network_fault => {
            s.schedule(t + secs(rng, 2, 20), Action::Heal);
            Action::Loss(rng.random_range(0.05..0.3))
        }
        7 => {
            let candidates: Vec<usize> = running.into_iter().filter(|&i| !s.slow[i]).collect();
            if candidates.is_empty() {
                return None;
            }
            let i = pick(rng, &candidates);
            s.schedule(t + secs(rng, 5, 40), Action::Fast(i));
            Action::Slow(i, Duration::from_millis(rng.random_range(200..2500)))
        }
        _ => return None,
    })
}
