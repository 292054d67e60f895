//! Every metric the library emits: Go's name, the exporters' names, kind, unit and meaning.
//! A variant carrying a label value ([`State`], [`DropReason`]) names one time series.

use crate::machine::State;
use crate::wire::{Limit, label_enum};

use super::table::{LabelValue, metric_table};

/// What kind of instrument a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Only grows; the value passed is the increment.
    Counter,
    /// Set to the current value.
    Gauge,
    /// A distribution of observed values (timings, sizes).
    Histogram,
}

/// The unit of a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A plain count.
    Count,
    /// Bytes.
    Bytes,
    /// Seconds (Go's go-metrics timers report milliseconds; we use the SI unit the
    /// Prometheus and OpenTelemetry conventions ask for).
    Seconds,
}

/// Where a metric comes from, relative to Go memberlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Emitted by Go memberlist 0.2.2 and later under the same name and meaning.
    Go,
    /// Emitted by Go memberlist after 0.2.2 (HEAD) only.
    GoHead,
    /// Added by memberlist-rs (operators asked for it; Go has no equivalent).
    Rust,
}

/// The description of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Descriptor {
    /// The name Go's go-metrics uses (key parts joined with `.`), or one in that style.
    pub name: &'static str,
    /// The Prometheus name (with the `_total`, `_bytes`, `_seconds` suffixes of its
    /// conventions).
    pub prometheus_name: &'static str,
    /// The OpenTelemetry instrument name (dotted, unit-free; the unit is separate).
    pub otel_name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The unit of the values.
    pub unit: Unit,
    /// One line for `# HELP` and instrument descriptions.
    pub help: &'static str,
    /// A histogram's bucket boundaries, in its unit (empty for counters and gauges).
    pub buckets: &'static [f64],
    /// The key of the metric's one variable label, if it has one.
    pub label: Option<&'static str>,
    /// Go's, Go HEAD's, or ours.
    pub origin: Origin,
}

/// Histogram buckets for durations, in seconds: from 0.5 ms (a loopback round trip) to 10 s
/// (a WAN push/pull).
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram buckets for sizes, in bytes: 256 B to 16 MiB, by factors of 4.
pub const BYTES_BUCKETS: &[f64] = &[
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];

label_enum! {
    /// Why a datagram or an inbound stream was dropped.
    pub enum DropReason {
        /// It could not be decoded (bad framing, msgpack, CRC, compression).
        Decode => "decode",
        /// Its label did not match ours.
        Label => "label",
        /// It could not be decrypted (wrong key, not encrypted while we require it, …).
        Decrypt => "decrypt",
        /// Its sender is outside the configured CIDR allow list.
        Cidr => "cidr",
        /// A bounded queue was full.
        QueueFull => "queue_full",
        /// A size or concurrency limit was reached.
        Limit => "limit",
        /// A read or write deadline passed.
        Timeout => "timeout",
    }
}

/// Implements [`LabelValue`] from each type's list of values and its `as_str`; the index
/// is the discriminant.
macro_rules! label_values {
    ($($t:ident: $all:expr;)*) => {$(
        impl LabelValue for $t {
            const ALL: &'static [Self] = $all;
            fn as_str(self) -> &'static str {
                $t::as_str(self)
            }
            fn index(self) -> usize {
                self as usize
            }
        }
    )*};
}

label_values! {
    DropReason: &DropReason::ALL;
    Limit: &Limit::ALL;
    State: &[State::Alive, State::Suspect, State::Dead, State::Left];
}

metric_table! {
    /// A counter (only grows).
    pub enum Counter: Counter {
        MsgAlive => ("memberlist.msg.alive", "memberlist_msg_alive_total", "memberlist.msg.alive", Count, Go, "Alive messages that changed the local view of a member."),
        MsgSuspect => ("memberlist.msg.suspect", "memberlist_msg_suspect_total", "memberlist.msg.suspect", Count, Go, "Suspect messages that changed the local view of a member."),
        MsgDead => ("memberlist.msg.dead", "memberlist_msg_dead_total", "memberlist.msg.dead", Count, Go, "Dead and leave messages that changed the local view of a member."),
        /// After compression, CRC and encryption.
        UdpSentBytes => ("memberlist.udp.sent", "memberlist_udp_sent_bytes_total", "memberlist.udp.sent", Bytes, Go, "Bytes of gossip datagrams sent."),
        /// Label included.
        UdpReceivedBytes => ("memberlist.udp.received", "memberlist_udp_received_bytes_total", "memberlist.udp.received", Bytes, Go, "Bytes of gossip datagrams received."),
        UdpSentPackets => ("memberlist.udp.sent.packets", "memberlist_udp_sent_packets_total", "memberlist.udp.sent.packets", Count, Rust, "Gossip datagrams sent."),
        UdpReceivedPackets => ("memberlist.udp.received.packets", "memberlist_udp_received_packets_total", "memberlist.udp.received.packets", Count, Rust, "Gossip datagrams received."),
        /// After compression and encryption.
        TcpSentBytes => ("memberlist.tcp.sent", "memberlist_tcp_sent_bytes_total", "memberlist.tcp.sent", Bytes, Go, "Bytes written to streams (push/pull, reliable messages, TCP pings)."),
        TcpAccept => ("memberlist.tcp.accept", "memberlist_tcp_accept_total", "memberlist.tcp.accept", Count, Go, "Inbound streams accepted."),
        /// Go's counts push/pulls only; this counts every stream we open.
        TcpConnect => ("memberlist.tcp.connect", "memberlist_tcp_connect_total", "memberlist.tcp.connect", Count, Go, "Outbound streams opened."),
        DegradedProbe => ("memberlist.degraded.probe", "memberlist_degraded_probe_total", "memberlist.degraded.probe", Count, Go, "Probe intervals stretched because the local health score was degraded."),
        DegradedTimeout => ("memberlist.degraded.timeout", "memberlist_degraded_timeout_total", "memberlist.degraded.timeout", Count, Go, "Suspicions that expired with fewer independent confirmations than wanted."),
        Refutations => ("memberlist.refute", "memberlist_refutations_total", "memberlist.refutations", Count, Rust, "Suspicions or deaths about this node that it refuted."),
        Conflicts => ("memberlist.conflict", "memberlist_conflicts_total", "memberlist.conflicts", Count, Rust, "Node-name conflicts seen (one name, two addresses)."),
        PacketsDropped(DropReason, "reason") => ("memberlist.udp.dropped", "memberlist_udp_dropped_total", "memberlist.udp.dropped", Count, Rust, "Datagrams dropped, by reason."),
        StreamsDropped(DropReason, "reason") => ("memberlist.tcp.dropped", "memberlist_tcp_dropped_total", "memberlist.tcp.dropped", Count, Rust, "Inbound streams dropped, by reason."),
        /// Go's `memberlist.gossip` timer also counts the idle ticks; here those are skipped
        /// without a wake-up and counted in [`GossipTicksIdle`](Counter::GossipTicksIdle).
        GossipRounds => ("memberlist.gossip.rounds", "memberlist_gossip_rounds_total", "memberlist.gossip.rounds", Count, Rust, "Gossip rounds run (ticks at which something could be sent)."),
        GossipTicksIdle => ("memberlist.gossip.idle", "memberlist_gossip_idle_ticks_total", "memberlist.gossip.idle_ticks", Count, Rust, "Gossip ticks that passed with nothing to send."),
        PushPulls => ("memberlist.pushPull.received", "memberlist_push_pull_received_total", "memberlist.push_pull.received", Count, Rust, "Push/pull states received (requests accepted and replies)."),
        /// Of [`PushPulls`](Counter::PushPulls): the equal-view fast path.
        PushPullsSameView => ("memberlist.pushPull.sameView", "memberlist_push_pull_same_view_total", "memberlist.push_pull.same_view", Count, Rust, "Push/pull states equal to the local view, merged without decoding."),
        /// Beyond Go; see
        /// [`ProtocolConfig::join_push_pulls`](crate::machine::ProtocolConfig::join_push_pulls).
        JoinFollowUps => ("memberlist.join.followUp", "memberlist_join_follow_ups_total", "memberlist.join.follow_ups", Count, Rust, "Follow-up push/pulls run after a join."),
        StreamFailures => ("memberlist.tcp.failed", "memberlist_tcp_failed_total", "memberlist.tcp.failed", Count, Rust, "Outbound streams that failed (dial, write, reply or timeout)."),
        SendErrors => ("memberlist.udp.send.errors", "memberlist_udp_send_errors_total", "memberlist.udp.send_errors", Count, Rust, "Datagrams the transport failed to send."),
        /// A drop is also counted in [`PacketsDropped`](Counter::PacketsDropped) or
        /// [`StreamsDropped`](Counter::StreamsDropped).
        LimitExceeded(Limit, "limit") => ("memberlist.limit.exceeded", "memberlist_limit_exceeded_total", "memberlist.limit_exceeded", Count, Rust, "Inputs refused because they exceeded a limit, by limit."),
    }
}

metric_table! {
    /// A gauge (set to the current value).
    pub enum Gauge: Gauge {
        HealthScore => ("memberlist.health.score", "memberlist_health_score", "memberlist.health.score", Count, Go, "Lifeguard local health score; 0 is healthy, higher means probes time out locally."),
        BroadcastQueue => ("memberlist.queue.broadcasts", "memberlist_queue_broadcasts", "memberlist.queue.broadcasts", Count, GoHead, "Messages waiting in the broadcast queue."),
        PushPullInFlight => ("memberlist.pushPull.inFlight", "memberlist_push_pull_in_flight", "memberlist.push_pull.in_flight", Count, Rust, "Push/pull exchanges under way."),
        /// Kept current; Go HEAD only sets it on push/pull.
        Members(State, "state") => ("memberlist.node.instances", "memberlist_members", "memberlist.members", Count, GoHead, "Members known, by state."),
    }
}

metric_table! {
    /// A histogram (a distribution of timings or sizes; buckets in its descriptor).
    pub enum Histogram: Histogram {
        ProbeNode => ("memberlist.probeNode", "memberlist_probe_node_seconds", "memberlist.probe_node", Seconds, Go, "Duration of one probe, from the ping to the ack or the timeout."),
        /// Go also records its idle ticks (about 5 a second), which this implementation skips
        /// without waking up.
        Gossip => ("memberlist.gossip", "memberlist_gossip_seconds", "memberlist.gossip", Seconds, Go, "Duration of one gossip round that had something to send."),
        PushPullNode => ("memberlist.pushPullNode", "memberlist_push_pull_node_seconds", "memberlist.push_pull_node", Seconds, Go, "Duration of one push/pull or join exchange."),
        ProbeRtt => ("memberlist.probe.rtt", "memberlist_probe_rtt_seconds", "memberlist.probe.rtt", Seconds, Rust, "Round-trip time of successful direct probes."),
        /// Go HEAD's reads the wrong bytes; this is the real size.
        PushPullSizeLocal => ("memberlist.size.local", "memberlist_push_pull_local_bytes", "memberlist.push_pull.local_size", Bytes, GoHead, "Size of the push/pull state sent."),
        /// Go HEAD only emits it for encrypted streams.
        PushPullSizeRemote => ("memberlist.size.remote", "memberlist_push_pull_remote_bytes", "memberlist.push_pull.remote_size", Bytes, GoHead, "Size of the push/pull state received."),
    }
}
