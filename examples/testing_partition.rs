//! # testing_partition: testing an application on an in-memory network
//!
//! A tiny application — a delegate that keeps a roster of the peers it has met — tested the
//! way you would test yours with memberlist's test kit (feature `testing`): four nodes on a
//! [`MemoryNetwork`], a partition that splits them two and two, and a heal.
//!
//! The test checks that each side sees the other side fail (suspect, then dead) during the
//! partition, that everyone is alive again after the heal, and that the roster counted each
//! peer once, however many times it was declared dead and came back.
//!
//! It runs in tokio's paused time (tokio's `test-util` feature; `#[tokio::test(start_paused =
//! true)]` in a test): minutes of protocol take milliseconds, and nothing depends on how
//! loaded the machine is.
//!
//! ```text
//! cargo run -p memberlist --features testing --example testing_partition
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use memberlist::prelude::*;
use memberlist::testing::{
    MemoryNetwork, MemoryTransport, addr_of, eventually, fast_config, state_of,
    wait_until_converged,
};

/// The application: remembers the name of every peer it accepted as alive.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    me: String,
    peers: Arc<Mutex<BTreeSet<String>>>,
}

impl Roster {
    /// A roster for the node called `me`.
    pub fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            peers: Arc::default(),
        }
    }

    /// How many peers this node has met.
    pub fn met(&self) -> usize {
        self.peers.lock().map(|p| p.len()).unwrap_or(0)
    }
}

impl Delegate for Roster {
    fn notify_alive(&mut self, peer: &Member) -> Result<(), Veto> {
        if peer.name != self.me.as_str()
            && let Ok(mut peers) = self.peers.lock()
        {
            peers.insert(peer.name.to_string());
        }
        Ok(())
    }
}

/// A node of the application on the memory network.
pub type Node = Memberlist<MemoryTransport, Roster>;

/// What the scenario saw.
#[derive(Debug)]
pub struct Report {
    /// Per node: how many of the other side it saw suspect or dead during the partition.
    pub failed_during_partition: Vec<usize>,
    /// Per node: peers its roster met, at the end.
    pub met: Vec<usize>,
}

/// Starts four nodes, partitions them two and two, heals, and reports. Fails (panics, as a
/// test does) if a step does not happen within the kit's patience.
pub async fn run_scenario() -> Result<Report, Box<dyn std::error::Error>> {
    let network = MemoryNetwork::with_seed(42);
    let mut nodes: Vec<Node> = Vec::new();
    let mut rosters = Vec::new();
    for i in 0..4 {
        let name = format!("app-{i}");
        let roster = Roster::new(&name);
        rosters.push(roster.clone());
        let node = Memberlist::builder(fast_config(&name))
            .transport(network.bind())
            .delegate(roster)
            .start()
            .await?;
        if let Some(first) = nodes.first() {
            node.join([addr_of(first)]).await?;
        }
        nodes.push(node);
    }
    let everyone: Vec<&Node> = nodes.iter().collect();
    wait_until_converged(&everyone).await;

    // Split: app-0 and app-1 on one side, app-2 and app-3 on the other.
    let (left, right) = nodes.split_at(2);
    let addrs = |side: &[Node]| {
        side.iter()
            .map(Node::advertise_addr)
            .collect::<Vec<SocketAddr>>()
    };
    network.partition(&addrs(left), &addrs(right));
    let failed = |observer: &Node, others: &[Node]| {
        others
            .iter()
            .filter(|o| {
                matches!(
                    state_of(observer, o.name()),
                    Some(State::Suspect | State::Dead)
                )
            })
            .count()
    };
    eventually("each side sees the other side fail", || {
        left.iter().all(|l| failed(l, right) == 2) && right.iter().all(|r| failed(r, left) == 2)
    })
    .await;
    let failed_during_partition = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| failed(n, if i < 2 { right } else { left }))
        .collect();

    // Heal: refutations and gossip to the dead bring everyone back.
    network.heal();
    wait_until_converged(&everyone).await;
    let met = rosters.iter().map(Roster::met).collect();
    for node in &nodes {
        node.shutdown().await;
    }
    Ok(Report {
        failed_during_partition,
        met,
    })
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run_scenario().await?;
    println!(
        "failed peers seen during the partition: {:?}",
        report.failed_during_partition
    );
    println!("peers each roster met: {:?}", report.met);
    assert_eq!(report.failed_during_partition, [2, 2, 2, 2]);
    assert_eq!(report.met, [3, 3, 3, 3]);
    println!("ok: the partition was seen on both sides and healed");
    Ok(())
}
