//! [`Config`]: the protocol settings plus what the runtime itself needs (stream limits,
//! label, encryption policy, compression switch, keys).

use std::time::Duration;

use smol_str::SmolStr;

use crate::encryption::Keyring;
use crate::machine::ProtocolConfig;
use crate::wire::{LABEL_MAX_SIZE, Limits};

use super::seeds::{JoinRetry, Seed};

/// Everything a [`Memberlist`](super::Memberlist) node needs to know: the
/// [`ProtocolConfig`] of the protocol machine (timers, multipliers, name; Go's
/// `TCPTimeout` is [`ProtocolConfig::tcp_timeout`]) and the runtime's own settings.
///
/// Start from a preset — [`lan`](Config::lan), [`wan`](Config::wan) or
/// [`local`](Config::local), Go's `DefaultLANConfig`, `DefaultWANConfig` and
/// `DefaultLocalConfig` — and change fields. Files are read through
/// [`ConfigFile`](super::ConfigFile).
///
/// ```
/// use std::time::Duration;
/// use memberlist::runtime::Config;
///
/// let mut config = Config::lan("node-a").with_label("prod");
/// config.protocol.probe_interval = Duration::from_millis(500);
/// config.protocol.probe_timeout = Duration::from_millis(250);
/// assert_eq!(config.tcp_timeout(), Duration::from_secs(10));
/// assert_eq!(config.max_concurrent_push_pulls, 128);
/// config.validate()?;
/// # Ok::<(), memberlist::runtime::ConfigError>(())
/// ```
///
/// With the `serde` feature (on by default) a `Config` reads and writes as its
/// [`ConfigFile`](super::ConfigFile) form, and reading validates it:
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use memberlist::runtime::Config;
/// let config: Config = serde_json::from_str(r#"{"name": "a", "probe_interval": "2s"}"#).unwrap();
/// assert_eq!(config.protocol.probe_interval, std::time::Duration::from_secs(2));
/// assert!(serde_json::from_str::<Config>(r#"{"name": "a", "event_buffer": 0}"#).is_err());
/// let json = serde_json::to_value(&config).unwrap();
/// assert_eq!(json["probe_interval"], "2s");
/// # }
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "super::ConfigFile", into = "super::ConfigFile")
)]
#[non_exhaustive]
pub struct Config {
    /// The protocol machine's settings: name, timers, multipliers, TCP timeout, CIDR allow
    /// list, reclaim time and so on.
    pub protocol: ProtocolConfig,
    /// Go's `Label`: written in front of every packet and stream, and authenticated with the
    /// encryption; nodes with different labels ignore each other. Empty (the default) writes
    /// no label header, as Go v0.2.2 expects. At most 255 bytes.
    pub label: String,
    /// Go's `SkipInboundLabelCheck`: inbound label headers are refused and our own label is
    /// assumed (for deployments where a proxy strips labels).
    pub skip_inbound_label_check: bool,
    /// Go's `GossipVerifyIncoming` (default true): with keys configured, refuse unencrypted
    /// packets and streams. Turn off only while rolling encryption out on a live cluster.
    pub gossip_verify_incoming: bool,
    /// Go's `GossipVerifyOutgoing` (default true): with keys configured, encrypt what we
    /// send. Turn off only while rolling encryption out on a live cluster.
    pub gossip_verify_outgoing: bool,
    /// Go's `EnableCompression` (default true): compress outgoing messages, as Go does by
    /// default, with the [`Builder`](super::Builder)'s codec (Go's LZW with the `lzw`
    /// feature, a default).
    pub compression: bool,
    /// Secret keys (the first one encrypts; all of them decrypt): the one place keys are
    /// given, by code, config files and the agent alike; `None`: no encryption, or the keys a
    /// custom plugin manages itself. Which plugin uses them: see [`Builder`](super::Builder).
    ///
    /// ```
    /// use memberlist::encryption::{Keyring, SecretKey};
    /// use memberlist::runtime::Config;
    ///
    /// let key = SecretKey::new(&[7u8; 32])?;
    /// let config = Config::lan("node-a").with_keyring(Keyring::new(key));
    /// # Ok::<(), memberlist::encryption::KeyringError>(())
    /// ```
    pub keyring: Option<Keyring>,
    /// The nodes this node joins through with [`join_seeds`](super::Memberlist::join_seeds),
    /// and retries for reconnection whenever they are not members (see [`Seed`]). Empty by
    /// default.
    ///
    /// ```
    /// use memberlist::runtime::Config;
    ///
    /// let config = Config::lan("node-a").with_seeds(["10.0.0.2:7946".parse()?, "seeds.internal".parse()?]);
    /// assert_eq!(config.seeds.len(), 2);
    /// # Ok::<(), memberlist::runtime::AddressError>(())
    /// ```
    pub seeds: Vec<Seed>,
    /// How [`join_seeds`](super::Memberlist::join_seeds) keeps trying (see [`JoinRetry`]).
    pub join_retry: JoinRetry,
    /// Inbound push/pull exchanges served at once (Go's `maxPushPullRequests`, 128; Go refuses
    /// from the 128th on). Push/pulls beyond it are closed without an answer, logged at debug
    /// level and counted in [`Stats::push_pulls_refused`](super::Stats::push_pulls_refused).
    pub max_concurrent_push_pulls: usize,
    /// Inbound streams of any kind served at once (512; Go has no bound). A connection beyond
    /// it is closed at once, logged at debug level and counted in
    /// [`Stats::streams_refused`](super::Stats::streams_refused).
    pub max_inbound_streams: usize,
    /// The most bytes read from one stream (an inbound request or the reply to one of ours)
    /// before it is dropped; a guard on top of the decoder's own [`Limits`]. By default the
    /// decoder's bound on one stream message (40 MiB, [`Limits::max_stream_message`]) plus
    /// room for a label header and an envelope.
    pub stream_read_limit: usize,
    /// How long [`leave`](super::Memberlist::leave) still waits after our leave message has
    /// been gossiped, so that it spreads further before a shutdown (Go memberlist: none, the
    /// default here; Serf waits 1 s).
    pub leave_propagate_delay: Duration,
    /// Membership events each [`subscribe`](super::Memberlist::subscribe)r may fall behind by
    /// (a buffer shared by all subscriptions): a subscriber further behind is resynchronised
    /// from a fresh snapshot ([`Notification::Lagged`](super::Notification::Lagged)). 1,024
    /// by default.
    pub event_buffer: usize,
    /// Datagrams waiting to be handed to the transport (4,096 by default); beyond it new ones
    /// are dropped (and counted), as a full network would drop them.
    pub transmit_queue: usize,
    /// Bounds enforced on untrusted input (Go's values by default): sizes and counts the
    /// decoders check, the largest datagram accepted and the largest metadata accepted from
    /// another node. Each input refused is counted in
    /// [`Counter::LimitExceeded`](crate::metrics::Counter::LimitExceeded) by limit.
    pub limits: Limits,
}

impl Config {
    fn with_protocol(protocol: ProtocolConfig) -> Self {
        Self {
            protocol,
            label: String::new(),
            skip_inbound_label_check: false,
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            compression: true,
            keyring: None,
            seeds: Vec::new(),
            join_retry: JoinRetry::default(),
            max_concurrent_push_pulls: 128,
            max_inbound_streams: 512,
            stream_read_limit: 40 * 1024 * 1024 + 64 * 1024,
            leave_propagate_delay: Duration::ZERO,
            event_buffer: 1024,
            transmit_queue: 4096,
            limits: Limits::default(),
        }
    }

    /// Go's `DefaultLANConfig` for a node called `name`: probe every second, TCP timeout 10 s,
    /// push/pull every 30 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist::runtime::Config;
    /// let config = Config::lan("a");
    /// assert_eq!(config.protocol.probe_interval, Duration::from_secs(1));
    /// assert_eq!(config.tcp_timeout(), Duration::from_secs(10));
    /// ```
    pub fn lan(name: impl Into<SmolStr>) -> Self {
        Self::with_protocol(ProtocolConfig::lan(name))
    }

    /// Go's `DefaultWANConfig`: probe every 5 s, TCP timeout 30 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist::runtime::Config;
    /// assert_eq!(Config::wan("a").tcp_timeout(), Duration::from_secs(30));
    /// ```
    pub fn wan(name: impl Into<SmolStr>) -> Self {
        Self::with_protocol(ProtocolConfig::wan(name))
    }

    /// Go's `DefaultLocalConfig` (loopback or one host): TCP timeout 1 s, probe timeout
    /// 200 ms.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist::runtime::Config;
    /// assert_eq!(Config::local("a").tcp_timeout(), Duration::from_secs(1));
    /// ```
    pub fn local(name: impl Into<SmolStr>) -> Self {
        Self::with_protocol(ProtocolConfig::local(name))
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.protocol.name
    }

    /// Go's `TCPTimeout`: the deadline of stream dials and of each read or write phase of a
    /// stream (an alias of [`ProtocolConfig::tcp_timeout`]). A phase has one deadline
    /// however the bytes trickle in: an inbound stream must deliver its whole message within
    /// it, or it is closed and counted as `memberlist_limit_exceeded_total{limit="stream_deadline"}`.
    pub fn tcp_timeout(&self) -> Duration {
        self.protocol.tcp_timeout
    }

    /// Sets the TCP timeout.
    pub fn with_tcp_timeout(mut self, timeout: Duration) -> Self {
        self.protocol.tcp_timeout = timeout;
        self
    }

    /// Sets the cluster label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Turns compression of outgoing messages on or off.
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Sets the seeds (see [`Config::seeds`]).
    pub fn with_seeds(mut self, seeds: impl IntoIterator<Item = Seed>) -> Self {
        self.seeds = seeds.into_iter().collect();
        self
    }

    /// Sets the secret keys (see [`Config::keyring`]).
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Checks every setting, naming the field at fault.
    ///
    /// ```
    /// use memberlist::runtime::{Config, ConfigError};
    /// let mut config = Config::lan("a");
    /// config.max_inbound_streams = 0;
    /// let err = config.validate().unwrap_err();
    /// assert!(matches!(err, ConfigError::Invalid { field: "max_inbound_streams", .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: max_inbound_streams: must be at least 1"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.protocol.validate()?;
        let invalid =
            |field: &'static str, reason: &'static str| Err(ConfigError::Invalid { field, reason });
        if self.join_retry.first_wait.is_zero() {
            return invalid("join_retry_first_wait", "must be positive");
        }
        if self.protocol.tcp_timeout.is_zero() {
            return invalid("tcp_timeout", "must be positive");
        }
        if self.label.len() > LABEL_MAX_SIZE {
            return invalid("label", "must be at most 255 bytes");
        }
        if self.max_concurrent_push_pulls == 0 {
            return invalid("max_concurrent_push_pulls", "must be at least 1");
        }
        if self.max_inbound_streams == 0 {
            return invalid("max_inbound_streams", "must be at least 1");
        }
        if self.stream_read_limit < 1024 {
            return invalid("stream_read_limit", "must be at least 1024 bytes");
        }
        if self.event_buffer == 0 {
            return invalid("event_buffer", "must be at least 1");
        }
        if self.transmit_queue == 0 {
            return invalid("transmit_queue", "must be at least 1");
        }
        // Our own datagrams (udp_buffer_size, at least 64 bytes) must fit what we accept.
        if self.limits.max_datagram_size < self.protocol.udp_buffer_size {
            return invalid("max_datagram_size", "must be at least udp_buffer_size");
        }
        if self.limits.max_remote_meta < crate::machine::META_MAX_SIZE {
            return invalid(
                "max_remote_meta",
                "must be at least 512 bytes (Go's MetaMaxSize)",
            );
        }
        Ok(())
    }
}

#[cfg(feature = "advisor")]
impl Config {
    /// What this configuration will do in a cluster of `nodes` nodes where each datagram is
    /// lost with probability `loss` (0 ≤ loss < 1): detection times, dissemination, scaled
    /// timeouts, bandwidth, memory and false-suspicion risk, each with its formula (see
    /// [`advisor`](crate::advisor)). The sizes assume 16-byte names and no metadata, with
    /// this configuration's label and, when a keyring is set, encrypted packets; for other
    /// names or metadata call [`advisor::predict_with`](crate::advisor::predict_with) on
    /// [`Config::protocol`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist::runtime::Config;
    ///
    /// let p = Config::lan("node-a").predict(100, 0.02)?;
    /// assert_eq!(p.push_pull_interval.value, Duration::from_secs(90));
    /// assert_eq!(p.suspicion_timeout.value.low, Duration::from_secs(8));
    /// println!("{p}"); // the operator text, formulas included
    /// # Ok::<(), memberlist::advisor::PredictError>(())
    /// ```
    pub fn predict(
        &self,
        nodes: usize,
        loss: f64,
    ) -> Result<crate::advisor::Prediction, crate::advisor::PredictError> {
        let assumptions = crate::advisor::Assumptions {
            label_len: self.label.len(),
            encrypted: self.keyring.is_some() && self.gossip_verify_outgoing,
            ..crate::advisor::Assumptions::default()
        };
        crate::advisor::predict_with(&self.protocol, nodes, loss, &assumptions)
    }
}

/// A setting is out of range or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A protocol setting is out of range.
    #[error(transparent)]
    Protocol(#[from] crate::machine::ConfigError),
    /// A runtime setting (or a value in a [`ConfigFile`](super::ConfigFile)) is invalid.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// Why, and what would be accepted.
        reason: &'static str,
    },
    /// The label cannot be written on packets.
    #[error("invalid configuration: label: {0}")]
    Label(#[from] crate::wire::LabelError),
    /// The keyring's primary key could not be installed in the encryption plugin.
    #[error("invalid configuration: keyring: {0}")]
    Keyring(#[from] crate::encryption::KeyringError),
    /// `udp_buffer_size` is larger than the transport's largest datagram.
    #[error(
        "invalid configuration: udp_buffer_size: {udp_buffer_size} bytes exceeds the \
         transport's largest datagram ({max_datagram} bytes)"
    )]
    DatagramTooSmall {
        /// The configured `udp_buffer_size`.
        udp_buffer_size: usize,
        /// The transport's [`max_datagram_size`](crate::transport::Transport::max_datagram_size).
        max_datagram: usize,
    },
    /// An entry of a [`ConfigFile`](super::ConfigFile)'s `cidrs_allowed` is not a network.
    #[error("invalid configuration: cidrs_allowed: entry {index} is not a CIDR network: {source}")]
    Cidr {
        /// The entry's position in the list (from 0).
        index: usize,
        /// The parser's complaint.
        #[source]
        source: ipnet::AddrParseError,
    },
    /// An entry of a [`ConfigFile`](super::ConfigFile)'s `keys` is not base64 text.
    #[error("invalid configuration: keys: key {index} is not valid base64")]
    KeyEncoding {
        /// The key's position in the list (from 0; the first is the primary).
        index: usize,
    },
    /// An entry of a [`ConfigFile`](super::ConfigFile)'s `keys` has a size AES cannot use.
    #[error("invalid configuration: keys: key {index} is {len} bytes; keys are 16, 24 or 32 bytes")]
    KeySize {
        /// The key's position in the list (from 0; the first is the primary).
        index: usize,
        /// Its decoded size.
        len: usize,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn presets_carry_gos_tcp_timeouts() {
        assert_eq!(Config::lan("a").tcp_timeout(), Duration::from_secs(10));
        assert_eq!(Config::wan("a").tcp_timeout(), Duration::from_secs(30));
        assert_eq!(Config::local("a").tcp_timeout(), Duration::from_secs(1));
        for c in [Config::lan("a"), Config::wan("a"), Config::local("a")] {
            assert_eq!(c.max_concurrent_push_pulls, 128);
            assert!(c.gossip_verify_incoming && c.gossip_verify_outgoing && c.compression);
            assert!(c.label.is_empty());
            c.validate().unwrap();
        }
    }

    #[test]
    fn validation_names_the_field() {
        type Change = fn(&mut Config);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.label = "x".repeat(256), "label"),
            (
                |c| c.max_concurrent_push_pulls = 0,
                "max_concurrent_push_pulls",
            ),
            (|c| c.stream_read_limit = 10, "stream_read_limit"),
            (|c| c.event_buffer = 0, "event_buffer"),
            (|c| c.transmit_queue = 0, "transmit_queue"),
            (|c| c.limits.max_datagram_size = 1000, "max_datagram_size"),
            (|c| c.limits.max_remote_meta = 100, "max_remote_meta"),
            (|c| c.protocol.tcp_timeout = Duration::ZERO, "tcp_timeout"),
        ];
        for (change, field) in cases {
            let mut c = Config::lan("a");
            change(&mut c);
            match c.validate() {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut c = Config::lan("");
        c.label.clear();
        assert!(matches!(c.validate(), Err(ConfigError::Protocol(_))));
    }

    #[cfg(feature = "advisor")]
    #[test]
    fn predict_uses_the_protocol_label_and_keyring() {
        let plain = Config::lan("a").predict(100, 0.0).unwrap();
        assert_eq!(plain.push_pull_interval.value, Duration::from_secs(90));
        assert_eq!(plain.sizes.datagram_overhead, 0);
        let key = crate::encryption::SecretKey::new(&[7u8; 32]).unwrap();
        let sealed = Config::lan("a")
            .with_label("prod")
            .with_keyring(Keyring::new(key))
            .predict(100, 0.0)
            .unwrap();
        // Label header 2 + 4 bytes, envelope 29 bytes.
        assert_eq!(sealed.sizes.datagram_overhead, 6 + 29);
        assert!(sealed.bandwidth.probes.value > plain.bandwidth.probes.value);
        assert!(Config::lan("a").predict(100, 2.0).is_err());
    }
}
