//! The demo's nodes: started in this process on 127.0.0.1 (ports chosen by the system), joined
//! through the first one, and watched by polling their member tables and by counting their
//! membership events.

use std::time::Instant;

use memberlist::machine::State;
use memberlist::prelude::{Config, MemberEvent, Notification, Subscription};
use tokio::sync::mpsc;

use super::node::{Factory, Node};

/// What became of a node the demo stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Still running.
    Running,
    /// Shut down without leaving.
    Crashed,
    /// Left gracefully, then shut down.
    Left,
}

/// How many members one node sees in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct View {
    /// Alive members, itself included.
    pub(crate) alive: usize,
    /// Suspect members.
    pub(crate) suspect: usize,
    /// Dead members not yet reaped.
    pub(crate) dead: usize,
    /// Members that left, not yet reaped.
    pub(crate) left: usize,
}

/// Membership events counted over every node since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EventCounts {
    /// `Join` events.
    pub(crate) joins: usize,
    /// `Failed` events (a node declared dead).
    pub(crate) failures: usize,
    /// `Left` events.
    pub(crate) leaves: usize,
    /// Events a slow subscriber was resynchronised past (should stay 0).
    pub(crate) missed: u64,
}

/// The running demo cluster.
pub(crate) struct Cluster {
    transport: &'static str,
    nodes: Vec<Node>,
    fates: Vec<Fate>,
    events: mpsc::UnboundedReceiver<Notification>,
    counts: EventCounts,
}

impl Cluster {
    /// Starts `n` nodes called `node-01`, `node-02`, … with `config(name)`, each on its own
    /// 127.0.0.1 port chosen by the system with a transport from `factory`, and subscribes
    /// to their events.
    pub(crate) async fn start(
        n: usize,
        factory: &Factory,
        config: impl Fn(&str) -> Config,
    ) -> Result<Self, String> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut nodes = Vec::with_capacity(n);
        let width = n.to_string().len().max(2);
        for i in 1..=n {
            let name = format!("node-{i:0width$}");
            let node = factory.start(&name, config(&name)).await?;
            tokio::spawn(forward(node.subscribe(), tx.clone()));
            nodes.push(node);
        }
        Ok(Self {
            transport: factory.describe(),
            fates: vec![Fate::Running; nodes.len()],
            nodes,
            events,
            counts: EventCounts::default(),
        })
    }

    /// Every node but the first joins through the first one.
    pub(crate) async fn join_all(&self) -> Result<(), String> {
        let Some(seed) = self.nodes.first() else {
            return Ok(());
        };
        let seed_addr = seed.advertise_addr().to_string();
        for node in &self.nodes[1..] {
            node.join(seed_addr.as_str())
                .await
                .map_err(|e| format!("{} cannot join through {seed_addr}: {e}", node.name()))?;
        }
        Ok(())
    }

    /// The transport the nodes run, as the summary names it.
    pub(crate) fn transport(&self) -> &'static str {
        self.transport
    }

    /// How many nodes the demo started.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`.
    pub(crate) fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// What became of node `i`.
    pub(crate) fn fate(&self, i: usize) -> Fate {
        self.fates[i]
    }

    /// The indexes of the nodes still running.
    pub(crate) fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.fates[i] == Fate::Running)
    }

    /// What node `i` sees (meaningful while it runs; afterwards its last view).
    pub(crate) fn view(&self, i: usize) -> View {
        let node = &self.nodes[i];
        View {
            alive: node.count_in_state(State::Alive),
            suspect: node.count_in_state(State::Suspect),
            dead: node.count_in_state(State::Dead),
            left: node.count_in_state(State::Left),
        }
    }

    /// How node `observer` sees node `target`: its state and when that state began (the
    /// wall-clock time of the change placed back on this process's monotonic clock).
    pub(crate) fn state_of(&self, observer: usize, target: usize) -> Option<(State, Instant)> {
        let m = self.nodes[observer].member(self.nodes[target].name())?;
        let now = Instant::now();
        Some((
            m.state,
            now.checked_sub(m.since_state_change()).unwrap_or(now),
        ))
    }

    /// Counts the events that arrived since the last call, and returns the totals.
    pub(crate) fn count_events(&mut self) -> EventCounts {
        while let Ok(item) = self.events.try_recv() {
            match item {
                Notification::Event { event, .. } => match event {
                    MemberEvent::Join(_) => self.counts.joins += 1,
                    MemberEvent::Left(_) => self.counts.leaves += 1,
                    MemberEvent::Failed(_) => self.counts.failures += 1,
                    _ => {}
                },
                Notification::Lagged { missed, .. } => self.counts.missed += missed,
                _ => {}
            }
        }
        self.counts
    }

    /// Crashes node `i`: shuts it down without a leave message, so that the others have to
    /// find out by probing.
    pub(crate) async fn crash(&mut self, i: usize) {
        self.nodes[i].shutdown().await;
        self.fates[i] = Fate::Crashed;
    }

    /// Marks node `i` as gone after a graceful leave, and shuts it down.
    pub(crate) async fn retire(&mut self, i: usize) {
        self.nodes[i].shutdown().await;
        self.fates[i] = Fate::Left;
    }

    /// Shuts every node down, all at once.
    pub(crate) async fn shutdown(&mut self) {
        let mut stopping = tokio::task::JoinSet::new();
        for node in &self.nodes {
            let node = node.clone();
            stopping.spawn(async move { node.shutdown().await });
        }
        while stopping.join_next().await.is_some() {}
    }
}

/// Forwards one node's events into the demo's channel until the node stops.
async fn forward(mut events: Subscription, tx: mpsc::UnboundedSender<Notification>) {
    while let Some(item) = events.recv().await {
        if tx.send(item).is_err() {
            return;
        }
    }
}
