//! The figures: timing from the machine's own formulas, sizes from the real encoders.

use std::time::Duration;

use memberlist_core::machine::ProtocolConfig;
use memberlist_core::machine::broadcast::retransmit_limit;
use memberlist_core::machine::suspicion::confirmations_needed;
use memberlist_core::machine::timing::{push_pull_scale, suspicion_remaining, suspicion_timeout};

use crate::figure::{bytes, secs};
use crate::{
    Assumptions, Bandwidth, Figure, INLINE_NAME_MAX, META_OVERHEAD, Prediction, Span,
    TABLE_BYTES_PER_MEMBER, WireSizes, risk,
};

/// Builds the prediction; the inputs are already checked.
pub(crate) fn build(cfg: &ProtocolConfig, n: usize, loss: f64, a: &Assumptions) -> Prediction {
    let t = cfg.probe_interval;
    let first_suspicion = first_suspicion(t, n);
    let (confirmations, suspicion) = suspicion(cfg, n);
    let pp = push_pull_scale(cfg.push_pull_interval, n);
    let (rounds, spread) = dissemination(cfg, n, loss, pp);
    let time_to_dead = time_to_dead(&first_suspicion, &suspicion, &spread);
    let limit = retransmit_limit(cfg.retransmit_mult, n);
    let retransmit_limit = Figure::new(
        limit,
        "count",
        format!(
            "RetransmitMult × ceil(log10(N + 1)) = {} × {}",
            cfg.retransmit_mult,
            limit.checked_div(cfg.retransmit_mult).unwrap_or(0)
        ),
    );
    let push_pull_interval = Figure::new(
        pp,
        "s",
        if pp.is_zero() {
            "PushPullInterval is 0: push/pull is off".to_owned()
        } else {
            format!(
                "PushPullInterval {} for N ≤ 32, else × (ceil(log2 N − 5) + 1) = × {}",
                secs(cfg.push_pull_interval),
                pp.as_nanos() / cfg.push_pull_interval.as_nanos().max(1)
            )
        },
    );
    let gossip_miss = gossip_miss(cfg, n, loss, limit, pp);
    let sizes = WireSizes::measure(a);
    let bandwidth = bandwidth(cfg, n, loss, &sizes, pp, limit);
    let memory = memory(n, a);
    let risk = risk::risk(cfg, n, loss, limit, &suspicion.value, &spread.value);
    Prediction {
        nodes: n,
        loss,
        lifeguard: cfg.lifeguard,
        assumptions: *a,
        probe_interval: t,
        first_suspicion,
        confirmations,
        suspicion_timeout: suspicion,
        time_to_dead,
        dissemination_rounds: rounds,
        dissemination_time: spread,
        retransmit_limit,
        gossip_miss,
        push_pull_interval,
        sizes,
        bandwidth,
        memory,
        risk,
    }
}

/// The wait until some member probes the crashed node, plus the one period the probe takes
/// to reach its verdict (Go raises the suspicion when the probe's interval runs out).
///
/// Each of the m = N − 1 live members probes on its own timer (a node's ticker runs from its
/// start, so the members' periods are not in step) and picks the crashed node with
/// probability p = 1/m per period. For a crash at a random moment, the chance that nobody has probed it after k + x
/// periods (0 ≤ x < 1) is ((1 − p)^k (1 − x·p))^m, whose integral is the expected wait:
/// T × (1 − (1 − p)^(m+1)) / ((m + 1)·p·(1 − (1 − p)^m)), which is T for large N (and
/// 0.95 T at N = 10). SWIM's T·e/(e − 1) ≈ 1.58 T counts whole periods from a crash at the
/// start of every prober's period; timers out of step make it ≈ 2 T.
fn first_suspicion(t: Duration, n: usize) -> Figure<Duration> {
    let m = (n - 1) as f64;
    let p = 1.0 / m;
    let miss = 1.0 - p;
    let wait = (1.0 - miss.powf(m + 1.0)) / ((m + 1.0) * p * (1.0 - miss.powf(m)));
    let periods = wait + 1.0;
    Figure::new(
        t.mul_f64(periods),
        "s",
        format!(
            "T × (wait {wait:.3} + verdict 1) = {} × {periods:.3}: the N − 1 members probe on \
             their own timers, out of step, each picking the crashed node with probability \
             1/(N−1) per period, so the first probe comes about one period T after the crash \
             (T·(1 − (1−p)^N) / (N·p·(1 − (1−p)^(N−1))) with p = 1/(N−1)), and the probe \
             raises the suspicion when its interval T runs out; assumes healthy probers \
             (awareness 0)",
            secs(t)
        ),
    )
}

/// Lifeguard's dynamic suspicion timeout, from the machine's formulas.
fn suspicion(cfg: &ProtocolConfig, n: usize) -> (Figure<u32>, Figure<Span>) {
    let t = cfg.probe_interval;
    let min = suspicion_timeout(cfg.suspicion_mult, n, t);
    let k = if cfg.lifeguard {
        confirmations_needed(cfg.suspicion_mult, n)
    } else {
        0
    };
    let max = if k == 0 {
        min
    } else {
        suspicion_remaining(
            0,
            k,
            Duration::ZERO,
            min,
            min.saturating_mul(cfg.suspicion_max_timeout_mult),
        )
    };
    let confirmations = Figure::new(
        k,
        "count",
        if !cfg.lifeguard {
            "0: without Lifeguard the suspicion timeout is fixed".to_owned()
        } else {
            format!(
                "SuspicionMult − 2 = {} − 2 (0 when N − 2 is smaller): independent suspicions \
                 from other members that shorten the timeout",
                cfg.suspicion_mult
            )
        },
    );
    let min_words = format!(
        "min = SuspicionMult × max(1, log10 N) × T = {} × {:.3} × {}",
        cfg.suspicion_mult,
        (n as f64).log10().max(1.0),
        secs(t)
    );
    let formula = if k == 0 {
        let why = if cfg.lifeguard {
            "too few members to confirm"
        } else {
            "Lifeguard off"
        };
        format!("{min_words}; fixed ({why})")
    } else {
        format!(
            "{min_words} with {k} confirmation{}; max = SuspicionMaxTimeoutMult × min = {} × \
             min with none; each confirmation n shortens it to max − ln(n+1)/ln(k+1) × \
             (max − min)",
            if k == 1 { "" } else { "s" },
            cfg.suspicion_max_timeout_mult
        )
    };
    let span = Span {
        low: min,
        high: max,
    };
    (confirmations, Figure::new(span, "s", formula))
}

/// Push gossip on the nodes' own timers: rounds until every node has an update,
/// 2 ln(N) / f with the effective fanout f = (GossipNodes + 2 × GossipInterval / T) × (1 − p),
/// counting the ping and the ack each node sends per probe interval, which carry updates too.
///
/// Each node that has the update sends it to f random nodes per gossip interval, at its own
/// phase, so the informed grow like e^(f·t) until most nodes have it (ln N / f rounds), and
/// the last uninformed nodes, each reached at rate f, are all reached after another
/// ln N / f. (Synchronous rounds, Pittel's log_(f+1) N + ln N / f, overestimate nodes on
/// their own timers.)
///
/// `pp` is the push/pull interval scaled to N, which spreads the update when gossip is off.
fn dissemination(
    cfg: &ProtocolConfig,
    n: usize,
    loss: f64,
    pp: Duration,
) -> (Figure<f64>, Figure<Duration>) {
    let nf = n as f64;
    if cfg.gossip_nodes == 0 || cfg.gossip_interval.is_zero() {
        let rounds = nf.log2().ceil();
        let time = if pp.is_zero() {
            Duration::MAX
        } else {
            pp.mul_f64(rounds)
        };
        return (
            Figure::new(
                0.0,
                "rounds",
                "gossip is off (GossipNodes or GossipInterval is 0)",
            ),
            Figure::new(
                time,
                "s",
                format!(
                    "gossip is off: updates spread only by push/pull, about log2 N = {rounds} \
                     scaled push/pull intervals of {}",
                    secs(pp)
                ),
            ),
        );
    }
    // Updates also ride on every ping and ack (Go piggybacks broadcasts on them): a node
    // sends a ping and answers one each probe interval, two more random contacts per T.
    let piggyback = 2.0 * cfg.gossip_interval.as_secs_f64() / cfg.probe_interval.as_secs_f64();
    let f = (cfg.gossip_nodes as f64 + piggyback) * (1.0 - loss);
    let rounds = 2.0 * nf.ln() / f;
    let loss_words = if loss > 0.0 {
        " × (1 − p), as lost packets do not count"
    } else {
        ""
    };
    (
        Figure::new(
            rounds,
            "rounds",
            format!(
                "2 ln N / f with fanout f = (GossipNodes {} + 2 × GossipInterval / T = \
                 {piggyback:.2} piggybacked on pings and acks){loss_words} = {f:.2}: push \
                 gossip on the nodes' own timers, ln N / f rounds until most nodes have the \
                 update and as many again until the last one is reached",
                cfg.gossip_nodes
            ),
        ),
        Figure::new(
            cfg.gossip_interval.mul_f64(rounds),
            "s",
            format!(
                "{rounds:.1} rounds × GossipInterval {}",
                secs(cfg.gossip_interval)
            ),
        ),
    )
}

/// The chance that gossip stops before an update reached every node, as each node sends it
/// only `limit` times.
///
/// The informed nodes send L = limit × (1 − p) copies each to random other nodes, so a node
/// is never sent one with probability s = exp(−L·N·(1 − s)/(N − 1)) (the final size of an
/// epidemic with L contacts each; the smallest root, by iteration from 0). Each of the N − 1
/// others is missed with probability s, so some node is missed with probability
/// 1 − (1 − s)^(N − 1). A missed node learns the update from a push/pull: its own comes
/// within one scaled interval, and others pick it about as often.
fn gossip_miss(cfg: &ProtocolConfig, n: usize, loss: f64, limit: u32, pp: Duration) -> Figure<f64> {
    if cfg.gossip_nodes == 0 || cfg.gossip_interval.is_zero() {
        return Figure::new(
            1.0,
            "probability",
            "gossip is off: every update waits for push/pull",
        );
    }
    let sends = f64::from(limit) * (1.0 - loss);
    let c = sends * n as f64 / (n as f64 - 1.0).max(1.0);
    let mut s = 0.0_f64;
    for _ in 0..200 {
        s = (-c * (1.0 - s)).exp();
    }
    let others = (n - 1) as f64;
    let p = 1.0 - (1.0 - s).powf(others);
    let catch_up = if pp.is_zero() {
        "push/pull is off, so a missed node learns it only when it is probed and an update \
         still rides along, or never"
            .to_owned()
    } else {
        format!(
            "a missed node learns it by push/pull, within {} (half that on average)",
            secs(pp)
        )
    };
    Figure::new(
        p,
        "probability",
        format!(
            "1 − (1 − s)^(N − 1) with s = exp(−L·N·(1 − s)/(N − 1)) = {s:.2e} the chance a \
             node is never sent it, L = {limit} retransmits{} = {sends:.2} sends per node: \
             {:.3} nodes missed per update on average; {catch_up}",
            if loss > 0.0 { " × (1 − p)" } else { "" },
            others * s
        ),
    )
}

fn time_to_dead(
    first: &Figure<Duration>,
    suspicion: &Figure<Span>,
    spread: &Figure<Duration>,
) -> Figure<Span> {
    let s = suspicion.value;
    let span = Span {
        low: first
            .value
            .saturating_add(s.low)
            .saturating_add(spread.value),
        high: first
            .value
            .saturating_add(s.high)
            .saturating_add(spread.value),
    };
    let words = if s.low == s.high {
        format!(
            "first suspicion {} + suspicion timeout {} + dissemination {}",
            secs(first.value),
            secs(s.low),
            secs(spread.value)
        )
    } else {
        format!(
            "first suspicion {} + suspicion timeout ({} once the confirmations arrive, {} \
             without any) + dissemination {}; expect the low end in a healthy cluster: the \
             other members find the crashed node too (about one a period), so the \
             confirmations arrive well before the shortest timeout",
            secs(first.value),
            secs(s.low),
            secs(s.high),
            secs(spread.value)
        )
    };
    Figure::new(span, "s", words)
}

fn bandwidth(
    cfg: &ProtocolConfig,
    n: usize,
    loss: f64,
    s: &WireSizes,
    push_pull: Duration,
    limit: u32,
) -> Bandwidth {
    let t = cfg.probe_interval.as_secs_f64();
    let o = s.datagram_overhead;
    let per_probe = (s.ping + s.ack + 2 * o) as f64;
    // A direct probe fails when the ping or its ack is lost; then K relays each get a
    // request, ping the target, and forward an ack (or a nack): four datagrams per relay,
    // and every node carries its share of the cluster's relaying.
    let relays = cfg.indirect_checks.min(n.saturating_sub(2)) as f64;
    let fails = 1.0 - (1.0 - loss).powi(2);
    let per_relay = (s.indirect_ping + s.ping + 2 * s.ack + 4 * o) as f64;
    let indirect = fails * relays * per_relay;
    let loss_words = if indirect > 0.0 {
        format!(
            " + P(direct probe fails) {fails:.3} × K {relays} relays × (request {} B + ping \
             + 2 acks{}) = {indirect:.1} B per period of indirect probes under loss",
            s.indirect_ping,
            overhead_words(o, 4)
        )
    } else {
        String::new()
    };
    let probes = Figure::new(
        (per_probe + indirect) / t,
        "B/s",
        format!(
            "((ping {} B + ack {} B{}){loss_words}) / T: each period a node sends a ping and \
             answers the one probe it gets on average; as much comes in",
            s.ping,
            s.ack,
            overhead_words(o, 2)
        ),
    );
    let message = (s.push_pull_header + n * s.push_pull_per_member) as f64;
    let push_pull = if push_pull.is_zero() {
        Figure::new(0.0, "B/s", "push/pull is off")
    } else {
        Figure::new(
            2.0 * message / push_pull.as_secs_f64(),
            "B/s",
            format!(
                "2 × (header {} B + N × {} B per member) / {}: each interval a node starts one \
                 exchange and is picked for one, each sending its whole table; uncompressed \
                 (compression shrinks it: Go nodes use LZW by default, ours when configured)",
                s.push_pull_header,
                s.push_pull_per_member,
                secs(push_pull)
            ),
        )
    };
    let gossip_quiet = Figure::new(0.0, "B/s", "nothing to gossip in a quiet cluster");
    let quiet_total = Figure::new(
        probes.value + push_pull.value,
        "B/s",
        format!(
            "probes {}/s + push/pull {}/s + gossip 0",
            bytes(probes.value),
            bytes(push_pull.value)
        ),
    );
    let update = f64::from(limit) * (s.alive + 2 + s.datagram_overhead) as f64;
    let gossip_per_update = Figure::new(
        update,
        "B",
        format!(
            "retransmit limit {limit} × (alive {} B + 2 B compound entry{}): every node that \
             learns an update sends it that many times",
            s.alive,
            overhead_words(s.datagram_overhead, 1)
        ),
    );
    let ceiling = if cfg.gossip_interval.is_zero() {
        0.0
    } else {
        (cfg.gossip_nodes * cfg.udp_buffer_size) as f64 / cfg.gossip_interval.as_secs_f64()
    };
    let gossip_ceiling = Figure::new(
        ceiling,
        "B/s",
        format!(
            "GossipNodes {} × UDPBufferSize {} B / GossipInterval {}: full packets every round",
            cfg.gossip_nodes,
            cfg.udp_buffer_size,
            secs(cfg.gossip_interval)
        ),
    );
    Bandwidth {
        probes,
        push_pull,
        gossip_quiet,
        quiet_total,
        gossip_per_update,
        gossip_ceiling,
    }
}

fn overhead_words(overhead: usize, times: usize) -> String {
    if overhead == 0 {
        String::new()
    } else {
        format!(" + {times} × {overhead} B label/encryption")
    }
}

/// N × (the measured fixed cost + heap for long names + metadata).
fn memory(n: usize, a: &Assumptions) -> Figure<f64> {
    let name_heap = if a.name_len > INLINE_NAME_MAX {
        // A shared string: two counters and the bytes.
        16 + a.name_len
    } else {
        0
    };
    let meta = if a.meta_len == 0 {
        0
    } else {
        META_OVERHEAD + a.meta_len
    };
    let per_member = TABLE_BYTES_PER_MEMBER + name_heap + meta;
    Figure::new(
        (n * per_member) as f64,
        "B",
        format!(
            "N × {per_member} B: {TABLE_BYTES_PER_MEMBER} B per member measured on the machine \
             (row, identity, name index), plus names longer than {INLINE_NAME_MAX} B \
             and metadata on the heap"
        ),
    )
}
