//! What one run measures, summaries over runs, and readings from `/proc`.

use std::time::Duration;

use serde::Serialize;

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The figures of one run of a scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// `rust` (nodes in this process), `rust-procs` (one process per Rust node) or `go`
    /// (one process per Go node).
    pub implementation: String,
    /// Cluster size.
    pub nodes: usize,
    /// From the joins until every node sees all `nodes` alive, seconds (in-process: NaN when
    /// that did not happen within the join timeout).
    pub join_s: f64,
    /// In-process runs: from the full join until every node's broadcast queue is empty
    /// (the joins' alive messages gossiped their retransmit limit of times), seconds; NaN
    /// when that did not happen within the join timeout. The settle pause and the window
    /// start after it, so the window is the quiet steady state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_s: Option<f64>,
    /// Length of the steady-state window, seconds.
    pub window_s: f64,
    /// CPU time (user + system) per node per second of the window, milliseconds.
    pub cpu_ms_per_node_s: f64,
    /// CPU time of all nodes over the window, percent of one core.
    pub cpu_pct_of_core: f64,
    /// Payload bytes sent (UDP + TCP) per node per second of the window.
    pub bytes_per_node_s: f64,
    /// Peak resident memory per node (VmHWM divided by the nodes of a process), KiB.
    pub rss_kib_per_node: f64,
    /// From the crash of one node until every survivor sees it dead, seconds (in-process: NaN
    /// when that did not happen within the scenario's timeout).
    pub crash_to_dead_s: f64,
    /// Of `bytes_per_node_s`, the stream (TCP) bytes, divided by the streams dialled in the
    /// window: the bytes of one push/pull exchange, both directions (NaN without dials).
    pub stream_bytes_per_dial: f64,
    /// `bytes_per_node_s` with the measured stream bytes replaced by one exchange of
    /// `stream_bytes_per_dial` per node per nominal push/pull interval (30 s scaled by
    /// `pushPullScale`): a window of 30 s holds 0–2 push/pulls of each node (Go's are often
    /// synchronised), so this is the fairer steady figure.
    pub bytes_per_node_s_nominal: f64,
    /// Failed joins retried (in-process runs; a seed refuses push/pulls beyond its
    /// concurrency limit). Always 0 for one process per node, where a failed join fails the
    /// run.
    pub join_retries: u64,
    /// Streams (TCP connections: push/pulls, mostly) each node dialled per minute of the
    /// window.
    pub dials_per_node_min: f64,
    /// The fewest members alive that any node saw at the end of the window.
    pub worst_alive: usize,
    /// Churn in the window (in-process runs only): suspect messages processed, refutations
    /// and datagrams dropped because a node's send queue was full, per node per minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<Churn>,
}

impl RunReport {
    /// A report of `implementation` with the window's figures worked out from the totals of
    /// all `nodes` over its `secs`: CPU time, bytes sent (of which `stream_bytes` on
    /// streams) and streams dialled. The caller fills in the other figures.
    pub fn from_window(
        implementation: &str,
        nodes: usize,
        secs: f64,
        cpu_s: f64,
        bytes: u64,
        stream_bytes: u64,
        dials: u64,
    ) -> RunReport {
        let n = nodes as f64;
        let stream_bytes_per_dial = if dials == 0 {
            f64::NAN
        } else {
            stream_bytes as f64 / dials as f64
        };
        let period = memberlist_core::machine::timing::push_pull_scale(
            std::time::Duration::from_secs(30),
            nodes,
        )
        .as_secs_f64();
        let datagrams = bytes.saturating_sub(stream_bytes) as f64 / n / secs;
        RunReport {
            implementation: implementation.into(),
            nodes,
            window_s: secs,
            cpu_ms_per_node_s: cpu_s * 1000.0 / n / secs,
            cpu_pct_of_core: cpu_s / secs * 100.0,
            bytes_per_node_s: bytes as f64 / n / secs,
            bytes_per_node_s_nominal: datagrams + stream_bytes_per_dial / period,
            stream_bytes_per_dial,
            dials_per_node_min: dials as f64 / n / secs * 60.0,
            ..RunReport::default()
        }
    }
}

/// Signs of an unsettled cluster during the window, per node per minute.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Churn {
    /// Suspect messages processed.
    pub suspect_msgs: f64,
    /// Refutations of a suspicion or death of the node itself.
    pub refutations: f64,
    /// Datagrams dropped before the socket (send queue full).
    pub transmits_dropped: f64,
}

/// Median, minimum and maximum of one figure over runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (all zero when empty).
    pub fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// Median [min – max] of every figure over the runs of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// As in [`RunReport::implementation`].
    pub implementation: String,
    /// Cluster size.
    pub nodes: usize,
    /// Number of runs.
    pub runs: usize,
    /// [`RunReport::join_s`].
    pub join_s: Spread,
    /// [`RunReport::quiet_s`] (in-process runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_s: Option<Spread>,
    /// [`RunReport::cpu_ms_per_node_s`].
    pub cpu_ms_per_node_s: Spread,
    /// [`RunReport::cpu_pct_of_core`].
    pub cpu_pct_of_core: Spread,
    /// [`RunReport::bytes_per_node_s`].
    pub bytes_per_node_s: Spread,
    /// [`RunReport::bytes_per_node_s_nominal`].
    pub bytes_per_node_s_nominal: Spread,
    /// [`RunReport::stream_bytes_per_dial`].
    pub stream_bytes_per_dial: Spread,
    /// [`RunReport::rss_kib_per_node`].
    pub rss_kib_per_node: Spread,
    /// [`RunReport::crash_to_dead_s`].
    pub crash_to_dead_s: Spread,
    /// [`RunReport::dials_per_node_min`].
    pub dials_per_node_min: Spread,
}

impl Summary {
    /// Summarises `runs` (all of the same scenario; empty gives zeros).
    pub fn of(runs: &[RunReport]) -> Summary {
        let get = |f: fn(&RunReport) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        Summary {
            implementation: runs
                .first()
                .map(|r| r.implementation.clone())
                .unwrap_or_default(),
            nodes: runs.first().map_or(0, |r| r.nodes),
            runs: runs.len(),
            join_s: get(|r| r.join_s),
            quiet_s: runs
                .iter()
                .map(|r| r.quiet_s)
                .collect::<Option<Vec<_>>>()
                .filter(|v| !v.is_empty())
                .map(|v| Spread::of(&v)),
            cpu_ms_per_node_s: get(|r| r.cpu_ms_per_node_s),
            cpu_pct_of_core: get(|r| r.cpu_pct_of_core),
            bytes_per_node_s: get(|r| r.bytes_per_node_s),
            bytes_per_node_s_nominal: get(|r| r.bytes_per_node_s_nominal),
            stream_bytes_per_dial: get(|r| r.stream_bytes_per_dial),
            rss_kib_per_node: get(|r| r.rss_kib_per_node),
            crash_to_dead_s: get(|r| r.crash_to_dead_s),
            dials_per_node_min: get(|r| r.dials_per_node_min),
        }
    }
}

/// CPU time (user + system) consumed so far by process `pid` ("self" for this one), from
/// `/proc/<pid>/stat`; the same figure as `getrusage`, at clock-tick resolution.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Skip the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / TICKS_PER_SECOND,
    ))
}

/// CPU time consumed so far by the live threads of process `pid`, in nanoseconds: the sum
/// of the first field of `/proc/<pid>/task/*/schedstat`. Far finer than [`cpu_time`]'s
/// clock ticks (a lightly loaded node process uses less than one tick a second), but
/// threads that exited are not counted: use it over windows where the thread set is stable.
pub fn cpu_time_precise(pid: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let total = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(Duration::from_nanos(total))
}

/// Peak resident set size (`VmHWM`) of process `pid` ("self" for this one), KiB.
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Raises this process's soft limit of open files to its hard limit (a node holds a UDP
/// socket, a TCP listener and its streams).
pub fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!("cannot raise the open-file limit: {e}");
        }
    }
}

/// One line for humans: median [min – max] of each figure.
pub fn human(s: &Summary) -> String {
    let f = |x: Spread, d: usize| format!("{:.d$} [{:.d$} – {:.d$}]", x.median, x.min, x.max);
    format!(
        "{} N={} runs={}: join {} s;{} CPU {} ms/node-s ({} % of a core); sent {} B/node-s \
         ({} at the nominal push/pull rate); peak RSS {} KiB/node; crash→dead {} s; {} dials/node-min",
        s.implementation,
        s.nodes,
        s.runs,
        f(s.join_s, 2),
        s.quiet_s
            .map(|q| format!(" queues quiet {} s later;", f(q, 1)))
            .unwrap_or_default(),
        f(s.cpu_ms_per_node_s, 3),
        f(s.cpu_pct_of_core, 1),
        f(s.bytes_per_node_s, 0),
        f(s.bytes_per_node_s_nominal, 0),
        f(s.rss_kib_per_node, 0),
        f(s.crash_to_dead_s, 2),
        f(s.dials_per_node_min, 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(Spread::of(&[]).median, 0.0);
    }

    #[test]
    fn proc_readings_of_self() {
        assert!(cpu_time("self").is_some());
        assert!(cpu_time_precise(&std::process::id().to_string()).is_some());
        assert!(peak_rss_kib("self").is_some_and(|k| k > 0));
    }
}
