//! Every metric the library emits: Go's name, the exporters' names, kind, unit and meaning.
//!
//! The metric identifiers ([`Counter`], [`Gauge`], [`Histogram`]) are small `Copy` enums; a
//! variant that carries a label value (a member [`State`], a [`DropReason`]) names one time
//! series of a labelled metric. Each identifier has a dense [`index`](Counter::index) so a
//! sink can keep its instruments in an array and update them without hashing or allocating.

use crate::machine::State;
use crate::wire::Limit;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The name Go's go-metrics uses (key parts joined with `.`), or the name in that style
    /// for metrics Go lacks.
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
    /// The key of the metric's one variable label, if it has one.
    pub label: Option<&'static str>,
    /// Go's, Go HEAD's, or ours.
    pub origin: Origin,
}

/// Why a datagram or an inbound stream was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// It could not be decoded (bad framing, msgpack, CRC, compression).
    Decode,
    /// Its label did not match ours.
    Label,
    /// It could not be decrypted (wrong key, not encrypted while we require it, …).
    Decrypt,
    /// Its sender is outside the configured CIDR allow list.
    Cidr,
    /// A bounded queue was full.
    QueueFull,
    /// A size or concurrency limit was reached.
    Limit,
    /// A read or write deadline passed.
    Timeout,
}

impl DropReason {
    /// Every reason, in index order.
    pub const ALL: [DropReason; 7] = [
        DropReason::Decode,
        DropReason::Label,
        DropReason::Decrypt,
        DropReason::Cidr,
        DropReason::QueueFull,
        DropReason::Limit,
        DropReason::Timeout,
    ];

    /// The label value (`reason="…"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Decode => "decode",
            DropReason::Label => "label",
            DropReason::Decrypt => "decrypt",
            DropReason::Cidr => "cidr",
            DropReason::QueueFull => "queue_full",
            DropReason::Limit => "limit",
            DropReason::Timeout => "timeout",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Why a transport refused a peer's TLS handshake (transports with TLS, such as QUIC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeRefusal {
    /// The peer's certificate chains to another CA.
    UnknownCa,
    /// The peer's certificate is invalid, expired, for another name, or not signed by the
    /// cluster CA's key.
    BadCertificate,
    /// Mutual TLS is on and the peer sent no certificate.
    NoClientCertificate,
    /// The peer does not speak our application protocol (ALPN).
    Alpn,
}

impl HandshakeRefusal {
    /// Every reason, in index order.
    pub const ALL: [HandshakeRefusal; 4] = [
        HandshakeRefusal::UnknownCa,
        HandshakeRefusal::BadCertificate,
        HandshakeRefusal::NoClientCertificate,
        HandshakeRefusal::Alpn,
    ];

    /// The label value (`reason="…"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            HandshakeRefusal::UnknownCa => "unknown_ca",
            HandshakeRefusal::BadCertificate => "bad_certificate",
            HandshakeRefusal::NoClientCertificate => "no_client_certificate",
            HandshakeRefusal::Alpn => "alpn",
        }
    }
}

const STATES: [State; 4] = [State::Alive, State::Suspect, State::Dead, State::Left];

const fn state_index(state: State) -> usize {
    match state {
        State::Alive => 0,
        State::Suspect => 1,
        State::Dead => 2,
        State::Left => 3,
    }
}

const fn state_label(state: State) -> &'static str {
    match state {
        State::Alive => "alive",
        State::Suspect => "suspect",
        State::Dead => "dead",
        State::Left => "left",
    }
}

macro_rules! desc {
    ($name:literal, $prom:literal, $otel:literal, $kind:ident, $unit:ident, $origin:ident, $label:expr, $help:literal) => {
        Descriptor {
            name: $name,
            prometheus_name: $prom,
            otel_name: $otel,
            kind: Kind::$kind,
            unit: Unit::$unit,
            help: $help,
            label: $label,
            origin: Origin::$origin,
        }
    };
}

/// A counter (only grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// An alive message changed our view of a member (Go `memberlist.msg.alive`).
    MsgAlive,
    /// A suspect message changed our view of a member (Go `memberlist.msg.suspect`).
    MsgSuspect,
    /// A dead or leave message changed our view of a member (Go `memberlist.msg.dead`).
    MsgDead,
    /// Bytes of datagrams sent, after compression, CRC and encryption (Go `memberlist.udp.sent`).
    UdpSentBytes,
    /// Bytes of datagrams received, label included (Go `memberlist.udp.received`).
    UdpReceivedBytes,
    /// Datagrams sent.
    UdpSentPackets,
    /// Datagrams received.
    UdpReceivedPackets,
    /// Bytes written to streams after compression and encryption (Go `memberlist.tcp.sent`).
    TcpSentBytes,
    /// Inbound streams accepted (Go `memberlist.tcp.accept`).
    TcpAccept,
    /// Outbound streams opened (Go `memberlist.tcp.connect` counts push/pulls only; this
    /// counts every stream we open).
    TcpConnect,
    /// A probe interval was stretched by a degraded health score (Go
    /// `memberlist.degraded.probe`).
    DegradedProbe,
    /// A suspicion expired with fewer than the wanted independent confirmations (Go
    /// `memberlist.degraded.timeout`).
    DegradedTimeout,
    /// Datagrams dropped, by reason.
    PacketsDropped(DropReason),
    /// Inbound streams dropped, by reason.
    StreamsDropped(DropReason),
    /// Times this node refuted a suspicion or death about itself.
    Refutations,
    /// Another node claimed this node's name or a member's name with another address.
    Conflicts,
    /// TLS handshakes refused, by reason (QUIC transport).
    HandshakesRefused(HandshakeRefusal),
    /// A bound on hostile input was exceeded, by limit (the input was dropped or refused; a
    /// drop is also counted in [`PacketsDropped`](Counter::PacketsDropped) or
    /// [`StreamsDropped`](Counter::StreamsDropped)).
    LimitExceeded(Limit),
}

impl Counter {
    /// How many distinct counters (time series) there are.
    pub const COUNT: usize =
        14 + 2 * DropReason::ALL.len() + HandshakeRefusal::ALL.len() + Limit::ALL.len();

    /// Every counter, in index order.
    pub fn all() -> impl Iterator<Item = Counter> {
        (0..Self::COUNT).filter_map(Self::from_index)
    }

    /// A dense index in `0..COUNT`.
    pub const fn index(self) -> usize {
        let drops = DropReason::ALL.len();
        match self {
            Counter::MsgAlive => 0,
            Counter::MsgSuspect => 1,
            Counter::MsgDead => 2,
            Counter::UdpSentBytes => 3,
            Counter::UdpReceivedBytes => 4,
            Counter::UdpSentPackets => 5,
            Counter::UdpReceivedPackets => 6,
            Counter::TcpSentBytes => 7,
            Counter::TcpAccept => 8,
            Counter::TcpConnect => 9,
            Counter::DegradedProbe => 10,
            Counter::DegradedTimeout => 11,
            Counter::Refutations => 12,
            Counter::Conflicts => 13,
            Counter::PacketsDropped(r) => 14 + r.index(),
            Counter::StreamsDropped(r) => 14 + drops + r.index(),
            Counter::HandshakesRefused(r) => 14 + 2 * drops + r as usize,
            Counter::LimitExceeded(l) => 14 + 2 * drops + HandshakeRefusal::ALL.len() + l.index(),
        }
    }

    /// The counter with this index.
    pub fn from_index(index: usize) -> Option<Counter> {
        const PLAIN: [Counter; 14] = [
            Counter::MsgAlive,
            Counter::MsgSuspect,
            Counter::MsgDead,
            Counter::UdpSentBytes,
            Counter::UdpReceivedBytes,
            Counter::UdpSentPackets,
            Counter::UdpReceivedPackets,
            Counter::TcpSentBytes,
            Counter::TcpAccept,
            Counter::TcpConnect,
            Counter::DegradedProbe,
            Counter::DegradedTimeout,
            Counter::Refutations,
            Counter::Conflicts,
        ];
        let drops = DropReason::ALL.len();
        let limits_from = 14 + 2 * drops + HandshakeRefusal::ALL.len();
        match index {
            i if i < PLAIN.len() => Some(PLAIN[i]),
            i if i < PLAIN.len() + drops => Some(Counter::PacketsDropped(DropReason::ALL[i - 14])),
            i if i < PLAIN.len() + 2 * drops => {
                Some(Counter::StreamsDropped(DropReason::ALL[i - 14 - drops]))
            }
            i if i < limits_from => Some(Counter::HandshakesRefused(
                HandshakeRefusal::ALL[i - 14 - 2 * drops],
            )),
            i if i < Self::COUNT => Some(Counter::LimitExceeded(Limit::ALL[i - limits_from])),
            _ => None,
        }
    }

    /// The value of this series' label, if the metric has one.
    pub const fn label_value(self) -> Option<&'static str> {
        match self {
            Counter::PacketsDropped(r) | Counter::StreamsDropped(r) => Some(r.as_str()),
            Counter::HandshakesRefused(r) => Some(r.as_str()),
            Counter::LimitExceeded(l) => Some(l.as_str()),
            _ => None,
        }
    }

    /// The metric's description.
    pub const fn descriptor(self) -> &'static Descriptor {
        match self {
            Counter::MsgAlive => &desc!(
                "memberlist.msg.alive",
                "memberlist_msg_alive_total",
                "memberlist.msg.alive",
                Counter,
                Count,
                Go,
                None,
                "Alive messages that changed the local view of a member."
            ),
            Counter::MsgSuspect => &desc!(
                "memberlist.msg.suspect",
                "memberlist_msg_suspect_total",
                "memberlist.msg.suspect",
                Counter,
                Count,
                Go,
                None,
                "Suspect messages that changed the local view of a member."
            ),
            Counter::MsgDead => &desc!(
                "memberlist.msg.dead",
                "memberlist_msg_dead_total",
                "memberlist.msg.dead",
                Counter,
                Count,
                Go,
                None,
                "Dead and leave messages that changed the local view of a member."
            ),
            Counter::UdpSentBytes => &desc!(
                "memberlist.udp.sent",
                "memberlist_udp_sent_bytes_total",
                "memberlist.udp.sent",
                Counter,
                Bytes,
                Go,
                None,
                "Bytes of gossip datagrams sent."
            ),
            Counter::UdpReceivedBytes => &desc!(
                "memberlist.udp.received",
                "memberlist_udp_received_bytes_total",
                "memberlist.udp.received",
                Counter,
                Bytes,
                Go,
                None,
                "Bytes of gossip datagrams received."
            ),
            Counter::UdpSentPackets => &desc!(
                "memberlist.udp.sent.packets",
                "memberlist_udp_sent_packets_total",
                "memberlist.udp.sent.packets",
                Counter,
                Count,
                Rust,
                None,
                "Gossip datagrams sent."
            ),
            Counter::UdpReceivedPackets => &desc!(
                "memberlist.udp.received.packets",
                "memberlist_udp_received_packets_total",
                "memberlist.udp.received.packets",
                Counter,
                Count,
                Rust,
                None,
                "Gossip datagrams received."
            ),
            Counter::TcpSentBytes => &desc!(
                "memberlist.tcp.sent",
                "memberlist_tcp_sent_bytes_total",
                "memberlist.tcp.sent",
                Counter,
                Bytes,
                Go,
                None,
                "Bytes written to streams (push/pull, reliable messages, TCP pings)."
            ),
            Counter::TcpAccept => &desc!(
                "memberlist.tcp.accept",
                "memberlist_tcp_accept_total",
                "memberlist.tcp.accept",
                Counter,
                Count,
                Go,
                None,
                "Inbound streams accepted."
            ),
            Counter::TcpConnect => &desc!(
                "memberlist.tcp.connect",
                "memberlist_tcp_connect_total",
                "memberlist.tcp.connect",
                Counter,
                Count,
                Go,
                None,
                "Outbound streams opened."
            ),
            Counter::DegradedProbe => &desc!(
                "memberlist.degraded.probe",
                "memberlist_degraded_probe_total",
                "memberlist.degraded.probe",
                Counter,
                Count,
                Go,
                None,
                "Probe intervals stretched because the local health score was degraded."
            ),
            Counter::DegradedTimeout => &desc!(
                "memberlist.degraded.timeout",
                "memberlist_degraded_timeout_total",
                "memberlist.degraded.timeout",
                Counter,
                Count,
                Go,
                None,
                "Suspicions that expired with fewer independent confirmations than wanted."
            ),
            Counter::PacketsDropped(_) => &desc!(
                "memberlist.udp.dropped",
                "memberlist_udp_dropped_total",
                "memberlist.udp.dropped",
                Counter,
                Count,
                Rust,
                Some("reason"),
                "Datagrams dropped, by reason."
            ),
            Counter::StreamsDropped(_) => &desc!(
                "memberlist.tcp.dropped",
                "memberlist_tcp_dropped_total",
                "memberlist.tcp.dropped",
                Counter,
                Count,
                Rust,
                Some("reason"),
                "Inbound streams dropped, by reason."
            ),
            Counter::Refutations => &desc!(
                "memberlist.refute",
                "memberlist_refutations_total",
                "memberlist.refutations",
                Counter,
                Count,
                Rust,
                None,
                "Suspicions or deaths about this node that it refuted."
            ),
            Counter::Conflicts => &desc!(
                "memberlist.conflict",
                "memberlist_conflicts_total",
                "memberlist.conflicts",
                Counter,
                Count,
                Rust,
                None,
                "Node-name conflicts seen (one name, two addresses)."
            ),
            Counter::HandshakesRefused(_) => &desc!(
                "memberlist.quic.handshake.refused",
                "memberlist_quic_handshakes_refused_total",
                "memberlist.quic.handshakes_refused",
                Counter,
                Count,
                Rust,
                Some("reason"),
                "TLS handshakes refused, by reason (QUIC transport)."
            ),
            Counter::LimitExceeded(_) => &desc!(
                "memberlist.limit.exceeded",
                "memberlist_limit_exceeded_total",
                "memberlist.limit_exceeded",
                Counter,
                Count,
                Rust,
                Some("limit"),
                "Inputs refused because they exceeded a limit, by limit."
            ),
        }
    }
}

/// A gauge (set to the current value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gauge {
    /// The Lifeguard local health score: 0 is healthy (Go `memberlist.health.score`).
    HealthScore,
    /// Members known in a state, kept current (Go HEAD's `memberlist.node.instances`, which
    /// Go only sets on push/pull).
    Members(State),
    /// Messages waiting in the broadcast queue (Go HEAD's `memberlist.queue.broadcasts`).
    BroadcastQueue,
    /// Push/pull exchanges under way, in both directions.
    PushPullInFlight,
}

impl Gauge {
    /// How many distinct gauges (time series) there are.
    pub const COUNT: usize = 3 + STATES.len();

    /// Every gauge, in index order.
    pub fn all() -> impl Iterator<Item = Gauge> {
        (0..Self::COUNT).filter_map(Self::from_index)
    }

    /// A dense index in `0..COUNT`.
    pub const fn index(self) -> usize {
        match self {
            Gauge::HealthScore => 0,
            Gauge::BroadcastQueue => 1,
            Gauge::PushPullInFlight => 2,
            Gauge::Members(s) => 3 + state_index(s),
        }
    }

    /// The gauge with this index.
    pub fn from_index(index: usize) -> Option<Gauge> {
        match index {
            0 => Some(Gauge::HealthScore),
            1 => Some(Gauge::BroadcastQueue),
            2 => Some(Gauge::PushPullInFlight),
            i if i < Self::COUNT => Some(Gauge::Members(STATES[i - 3])),
            _ => None,
        }
    }

    /// The value of this series' label, if the metric has one.
    pub const fn label_value(self) -> Option<&'static str> {
        match self {
            Gauge::Members(s) => Some(state_label(s)),
            _ => None,
        }
    }

    /// The metric's description.
    pub const fn descriptor(self) -> &'static Descriptor {
        match self {
            Gauge::HealthScore => &desc!(
                "memberlist.health.score",
                "memberlist_health_score",
                "memberlist.health.score",
                Gauge,
                Count,
                Go,
                None,
                "Lifeguard local health score; 0 is healthy, higher means probes time out locally."
            ),
            Gauge::Members(_) => &desc!(
                "memberlist.node.instances",
                "memberlist_members",
                "memberlist.members",
                Gauge,
                Count,
                GoHead,
                Some("state"),
                "Members known, by state."
            ),
            Gauge::BroadcastQueue => &desc!(
                "memberlist.queue.broadcasts",
                "memberlist_queue_broadcasts",
                "memberlist.queue.broadcasts",
                Gauge,
                Count,
                GoHead,
                None,
                "Messages waiting in the broadcast queue."
            ),
            Gauge::PushPullInFlight => &desc!(
                "memberlist.pushPull.inFlight",
                "memberlist_push_pull_in_flight",
                "memberlist.push_pull.in_flight",
                Gauge,
                Count,
                Rust,
                None,
                "Push/pull exchanges under way."
            ),
        }
    }
}

/// A histogram (a distribution of timings or sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Histogram {
    /// How long one probe took, ack or timeout (Go `memberlist.probeNode`).
    ProbeNode,
    /// How long one gossip round took to build (Go `memberlist.gossip`). Recorded for the
    /// rounds that could send something; Go also records its idle ticks (about 5 a second),
    /// which this implementation skips without waking up.
    Gossip,
    /// How long one push/pull or join exchange took (Go `memberlist.pushPullNode`).
    PushPullNode,
    /// Round-trip time of successful direct probes.
    ProbeRtt,
    /// Size of the push/pull state we sent (Go HEAD's `memberlist.size.local`, which reads
    /// the wrong bytes; this is the real size).
    PushPullSizeLocal,
    /// Size of the push/pull state we received (Go HEAD's `memberlist.size.remote`, which it
    /// only emits for encrypted streams).
    PushPullSizeRemote,
}

impl Histogram {
    /// How many histograms there are.
    pub const COUNT: usize = 6;

    /// Every histogram, in index order.
    pub fn all() -> impl Iterator<Item = Histogram> {
        (0..Self::COUNT).filter_map(Self::from_index)
    }

    /// A dense index in `0..COUNT`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The histogram with this index.
    pub fn from_index(index: usize) -> Option<Histogram> {
        [
            Histogram::ProbeNode,
            Histogram::Gossip,
            Histogram::PushPullNode,
            Histogram::ProbeRtt,
            Histogram::PushPullSizeLocal,
            Histogram::PushPullSizeRemote,
        ]
        .get(index)
        .copied()
    }

    /// Histograms carry no variable label.
    pub const fn label_value(self) -> Option<&'static str> {
        None
    }

    /// The metric's description.
    pub const fn descriptor(self) -> &'static Descriptor {
        match self {
            Histogram::ProbeNode => &desc!(
                "memberlist.probeNode",
                "memberlist_probe_node_seconds",
                "memberlist.probe_node",
                Histogram,
                Seconds,
                Go,
                None,
                "Duration of one probe, from the ping to the ack or the timeout."
            ),
            Histogram::Gossip => &desc!(
                "memberlist.gossip",
                "memberlist_gossip_seconds",
                "memberlist.gossip",
                Histogram,
                Seconds,
                Go,
                None,
                "Duration of one gossip round that had something to send."
            ),
            Histogram::PushPullNode => &desc!(
                "memberlist.pushPullNode",
                "memberlist_push_pull_node_seconds",
                "memberlist.push_pull_node",
                Histogram,
                Seconds,
                Go,
                None,
                "Duration of one push/pull or join exchange."
            ),
            Histogram::ProbeRtt => &desc!(
                "memberlist.probe.rtt",
                "memberlist_probe_rtt_seconds",
                "memberlist.probe.rtt",
                Histogram,
                Seconds,
                Rust,
                None,
                "Round-trip time of successful direct probes."
            ),
            Histogram::PushPullSizeLocal => &desc!(
                "memberlist.size.local",
                "memberlist_push_pull_local_bytes",
                "memberlist.push_pull.local_size",
                Histogram,
                Bytes,
                GoHead,
                None,
                "Size of the push/pull state sent."
            ),
            Histogram::PushPullSizeRemote => &desc!(
                "memberlist.size.remote",
                "memberlist_push_pull_remote_bytes",
                "memberlist.push_pull.remote_size",
                Histogram,
                Bytes,
                GoHead,
                None,
                "Size of the push/pull state received."
            ),
        }
    }
}
