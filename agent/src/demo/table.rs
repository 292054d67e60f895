//! The membership table: each node's view (how many members it sees alive, suspect, dead and
//! left). Up to [`PER_NODE_ROWS`] nodes get a row each; larger clusters are summarised by
//! view, with how many nodes share it.

use std::collections::BTreeMap;

use super::cluster::{Cluster, Fate, View};

/// Clusters up to this size get one row per node.
pub(crate) const PER_NODE_ROWS: usize = 12;

/// The table's rows, header first.
pub(crate) fn render(cluster: &Cluster) -> Vec<String> {
    if cluster.len() <= PER_NODE_ROWS {
        per_node(cluster)
    } else {
        by_view(cluster)
    }
}

fn per_node(cluster: &Cluster) -> Vec<String> {
    let mut rows = vec![format!(
        "  {:<8} {:<21} {:>5} {:>7} {:>4} {:>4}",
        "node", "address", "alive", "suspect", "dead", "left"
    )];
    for i in 0..cluster.len() {
        let node = cluster.node(i);
        let head = format!("  {:<8} {:<21}", node.name(), node.advertise_addr());
        rows.push(match cluster.fate(i) {
            Fate::Running => {
                let v = cluster.view(i);
                format!(
                    "{head} {:>5} {:>7} {:>4} {:>4}",
                    v.alive, v.suspect, v.dead, v.left
                )
            }
            Fate::Crashed => format!("{head} (crashed)"),
            Fate::Left => format!("{head} (left and shut down)"),
        });
    }
    rows
}

fn by_view(cluster: &Cluster) -> Vec<String> {
    let mut views: BTreeMap<View, usize> = BTreeMap::new();
    for i in cluster.running() {
        *views.entry(cluster.view(i)).or_default() += 1;
    }
    let mut rows = vec![format!(
        "  {:>5} {:>7} {:>4} {:>4}   nodes with this view",
        "alive", "suspect", "dead", "left"
    )];
    for (v, count) in views.iter().rev() {
        rows.push(format!(
            "  {:>5} {:>7} {:>4} {:>4}   {count}",
            v.alive, v.suspect, v.dead, v.left
        ));
    }
    for (fate, label) in [
        (Fate::Crashed, "crashed"),
        (Fate::Left, "left and shut down"),
    ] {
        let names: Vec<&str> = (0..cluster.len())
            .filter(|&i| cluster.fate(i) == fate)
            .map(|i| cluster.node(i).name())
            .collect();
        if !names.is_empty() {
            rows.push(format!("  {label}: {}", names.join(", ")));
        }
    }
    rows
}

/// A one-line account of the join for plain output: how many running nodes see all `n`
/// members alive, and how many the others see.
pub(crate) fn join_line(cluster: &Cluster, n: usize) -> String {
    let alive: Vec<usize> = cluster.running().map(|i| cluster.view(i).alive).collect();
    let done = alive.iter().filter(|&&a| a == n).count();
    let others = alive.iter().filter(|&&a| a != n);
    let (lo, hi) = (others.clone().min(), others.max());
    let others = if alive.len() - done == 1 {
        "the other sees"
    } else {
        "the others see"
    };
    let rest = match (lo, hi) {
        (Some(lo), Some(hi)) if lo == hi => format!("; {others} {lo}"),
        (Some(lo), Some(hi)) => format!("; {others} {lo} to {hi}"),
        _ => String::new(),
    };
    format!("{done} of {} nodes see all {n} alive{rest}", alive.len())
}
