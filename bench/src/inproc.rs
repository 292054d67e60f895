//! The `rust` scenario: N Rust nodes in this process over real UDP/TCP sockets on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use memberlist::runtime::{Config, Memberlist};
use memberlist::testing::Intercept;
use memberlist_core::machine::State;
use memberlist_lz4::Lz4;
use memberlist_lzw::Lzw;
use memberlist_net::NetTransport;
use tokio::time::Instant;

use crate::report::{Churn, RunReport, cpu_time, peak_rss_kib};
use crate::{BenchCodec, BenchError, Scenario};

/// A node of the in-process scenario.
type Node = Memberlist<Intercept<NetTransport>>;

/// How often the harness looks at the nodes while waiting (join, crash).
const POLL: Duration = Duration::from_millis(100);

/// Runs the scenario once on the current tokio runtime (the binary uses a 2-worker one).
///
/// Nodes bind 127.0.0.1:0 with `Config::lan` and `scenario.codec`; all but the first join
/// through the first, at once or `scenario.join_rate` per second; after the join and `scenario.settle`, the process's CPU time and the nodes' sent
/// bytes are read over `scenario.window`; then the last node shuts down without leaving,
/// and the harness waits until every survivor sees it dead.
pub async fn run_once(scenario: &Scenario) -> Result<RunReport, BenchError> {
    let n = scenario.nodes;
    if n < 3 {
        return Err("--nodes must be at least 3".into());
    }
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    for i in 0..n {
        let transport = Intercept::new(NetTransport::bind(bind).await?);
        let builder = Memberlist::builder(Config::lan(format!("node-{i:04}"))).transport(transport);
        let node = match scenario.codec {
            BenchCodec::Lzw => builder.compression(Lzw).start().await?,
            BenchCodec::Lz4 => builder.compression(Lz4).start().await?,
            BenchCodec::None => builder.start().await?,
        };
        nodes.push(node);
    }
    let seed = nodes[0].advertise_addr().to_string();

    // Join: everyone but the seed at once.
    let began = Instant::now();
    let deadline = began + scenario.timeout;
    let mut joins = Vec::with_capacity(n);
    for (i, node) in nodes[1..].iter().enumerate() {
        let (node, seed) = (node.clone(), seed.clone());
        let start = scenario.join_rate.map_or(began, |rate| {
            began + Duration::from_secs_f64(i as f64 / rate)
        });
        joins.push(tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            join_with_retries(node, seed, i as u64, deadline).await
        }));
    }
    // A rolling start gives the join timeout after the last node has started joining.
    let stagger = scenario.join_rate.map_or(Duration::ZERO, |rate| {
        Duration::from_secs_f64((n - 1) as f64 / rate)
    });
    let join_deadline = began + stagger + scenario.join_timeout;
    let mut join_converged = true;
    let join_s = loop {
        if nodes
            .iter()
            .all(|node| node.count_in_state(State::Alive) == n)
        {
            break began.elapsed().as_secs_f64();
        }
        if Instant::now() > join_deadline {
            // Measure the steady state anyway; the run reports the join as not converged.
            let worst = worst_alive(&nodes);
            tracing::warn!("not joined in time: the worst node sees {worst}/{n} alive");
            join_converged = false;
            break f64::NAN;
        }
        tokio::time::sleep(POLL).await;
    };
    let mut join_retries = 0;
    for join in joins {
        if !join_converged {
            join.abort();
            continue;
        }
        join_retries += join
            .await
            .map_err(|e| format!("join task: {e}"))?
            .map_err(|e| format!("join: {e}"))?;
    }

    // Quiet: the joins' alive messages gossiped to their retransmit limit everywhere.
    let quiet_s = if join_converged {
        let joined = Instant::now();
        let quiet_deadline = joined + scenario.join_timeout;
        loop {
            if nodes.iter().all(|node| node.queued_broadcasts() == 0) {
                break joined.elapsed().as_secs_f64();
            }
            if Instant::now() > quiet_deadline {
                tracing::warn!("broadcast queues not empty within the join timeout");
                break f64::NAN;
            }
            tokio::time::sleep(POLL).await;
        }
    } else {
        f64::NAN
    };

    // Steady state.
    tokio::time::sleep(scenario.settle).await;
    // Totals over all nodes: bytes sent, of which on streams, streams dialled, then the churn
    // counters (suspect messages, refutations, datagrams dropped before the socket).
    let totals = |nodes: &[Node]| -> [u64; 6] {
        nodes.iter().fold([0; 6], |total, node| {
            let (traffic, stats) = (node.transport().traffic(), node.stats());
            let counts = [
                traffic.bytes_sent(),
                traffic.stream_bytes_written,
                stats.streams_opened,
                stats.protocol.suspect,
                stats.protocol.refutations,
                stats.transmits_dropped,
            ];
            std::array::from_fn(|i| total[i] + counts[i])
        })
    };
    let (cpu0, totals0, t0) = (cpu_time("self"), totals(&nodes), Instant::now());
    tokio::time::sleep(scenario.window).await;
    let (cpu1, totals1, window) = (cpu_time("self"), totals(&nodes), t0.elapsed());
    let [sent, streamed, dials, suspect, refutations, dropped]: [u64; 6] =
        std::array::from_fn(|i| totals1[i] - totals0[i]);
    let per_node_min = |count: u64| count as f64 / n as f64 / window.as_secs_f64() * 60.0;
    let churn = Churn {
        suspect_msgs: per_node_min(suspect),
        refutations: per_node_min(refutations),
        transmits_dropped: per_node_min(dropped),
    };
    let worst_alive = worst_alive(&nodes);
    let rss = peak_rss_kib("self").unwrap_or(0);
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    let secs = window.as_secs_f64();

    // Crash the last node: shut down without leaving.
    let victim = nodes.pop().ok_or("no nodes")?;
    let victim_name = victim.name().to_owned();
    let crashed = Instant::now();
    victim.shutdown().await;
    let deadline = crashed + scenario.timeout;
    let crash_to_dead_s = loop {
        let all_see_dead = nodes.iter().all(|node| {
            node.member(&victim_name)
                .is_none_or(|m| matches!(m.state, State::Dead | State::Left))
        });
        if all_see_dead {
            break crashed.elapsed().as_secs_f64();
        }
        if Instant::now() > deadline {
            // Report the run anyway, with the crash detection as not completed.
            tracing::warn!("{victim_name} not seen dead by all survivors in time");
            break f64::NAN;
        }
        tokio::time::sleep(POLL).await;
    };
    for node in &nodes {
        node.shutdown().await;
    }

    Ok(RunReport {
        join_s,
        quiet_s: Some(quiet_s),
        rss_kib_per_node: rss as f64 / n as f64,
        crash_to_dead_s,
        join_retries,
        worst_alive,
        churn: Some(churn),
        ..RunReport::from_window("rust", n, secs, cpu, sent, streamed, dials)
    })
}

/// Joins `node` through `seed`, retrying failed attempts (a seed refuses push/pulls beyond
/// its concurrency limit, 128 by default, as Go does, so hundreds of simultaneous joins
/// through one seed see refusals) after 0.5–1 s, until `deadline`. Returns the retries.
async fn join_with_retries(
    node: Node,
    seed: String,
    salt: u64,
    deadline: Instant,
) -> Result<u64, String> {
    let mut retries = 0;
    loop {
        match node.join([seed.as_str()]).await {
            Ok(_) => return Ok(retries),
            Err(e) if Instant::now() > deadline => return Err(e.to_string()),
            Err(e) => {
                tracing::debug!(node = node.name(), error = %e, "join failed; retrying");
                retries += 1;
                // Spread the retries: 500 ms plus up to 500 ms, varying by node and attempt.
                let jitter = (salt.wrapping_mul(0x9e37_79b9).wrapping_add(retries * 7919)) % 500;
                tokio::time::sleep(Duration::from_millis(500 + jitter)).await;
            }
        }
    }
}

fn worst_alive(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|node| node.count_in_state(State::Alive))
        .min()
        .unwrap_or(0)
}
