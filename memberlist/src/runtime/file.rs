//! [`ConfigFile`]: the serde form of [`Config`] (TOML, JSON, YAML… whatever serde reads).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::encryption::{Keyring, SecretKey};
use crate::machine::ProtocolConfig;

use super::config::{Config, ConfigError};
use super::seeds::Seed;

/// A [`Config`] as written in a file: a preset plus the fields to change, every one optional.
///
/// - `name` is required; `preset` is `"lan"` (the default), `"wan"` or `"local"`, and every
///   field left out keeps the preset's value.
/// - **Durations** are strings in [humantime](https://docs.rs/humantime) form — `"1s"`,
///   `"200ms"`, `"1m 30s"`, `"2h"` — or plain integers counting **milliseconds**. They are
///   written back as strings.
/// - `keys` are base64 strings (standard alphabet with padding, as Serf and Consul print
///   them) of 16, 24 or 32 bytes; the first is the primary key. They need an encryption plugin
///   (see [`Config::keyring`]).
/// - `seeds` are `ip:port` addresses, `cidrs_allowed` are networks like `"10.0.0.0/8"`.
/// - Unknown fields are an error, so a typo does not pass silently.
///
/// ```
/// use std::time::Duration;
/// use memberlist::runtime::{Config, ConfigFile};
///
/// let file: ConfigFile = toml::from_str(r#"
///     name = "node-a"
///     preset = "local"
///     probe_interval = "500ms"
///     probe_timeout = 250        # milliseconds
///     tcp_timeout = "2s"
///     label = "prod"
///     max_concurrent_push_pulls = 64
/// "#)?;
/// let config: Config = file.into_config()?;
/// assert_eq!(config.name(), "node-a");
/// assert_eq!(config.protocol.probe_interval, Duration::from_millis(500));
/// assert_eq!(config.protocol.probe_timeout, Duration::from_millis(250));
/// assert_eq!(config.tcp_timeout(), Duration::from_secs(2));
/// assert_eq!(config.protocol.gossip_interval, Duration::from_millis(100)); // from "local"
/// assert_eq!(config.label, "prod");
///
/// // And back: durations are written as humantime strings.
/// let text = toml::to_string(&ConfigFile::from(&config))?;
/// assert!(text.contains(r#"probe_interval = "500ms""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfigFile {
    /// The node's unique name (required).
    pub name: String,
    /// `"lan"` (default), `"wan"` or `"local"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,

    /// Protocol version spoken (1..=5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u8>,
    /// Delegate protocol versions `[min, max, current]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegate_versions: Option<[u8; 3]>,
    /// Go's `TCPTimeout`.
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub tcp_timeout: Option<Duration>,
    /// Go's `IndirectChecks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirect_checks: Option<usize>,
    /// Go's `RetransmitMult`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retransmit_mult: Option<u32>,
    /// Go's `SuspicionMult`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspicion_mult: Option<u32>,
    /// Go's `SuspicionMaxTimeoutMult`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspicion_max_timeout_mult: Option<u32>,
    /// Go's `PushPullInterval` (`"0s"` disables periodic push/pull).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub push_pull_interval: Option<Duration>,
    /// Go's `ProbeInterval`.
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub probe_interval: Option<Duration>,
    /// Go's `ProbeTimeout`.
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub probe_timeout: Option<Duration>,
    /// Go's `DisableTcpPings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_tcp_pings: Option<bool>,
    /// Go's `AwarenessMaxMultiplier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awareness_max_multiplier: Option<u32>,
    /// Go's `GossipInterval` (`"0s"` disables gossip).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub gossip_interval: Option<Duration>,
    /// Go's `GossipNodes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gossip_nodes: Option<usize>,
    /// Go's `GossipToTheDeadTime`.
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub gossip_to_the_dead_time: Option<Duration>,
    /// Go's `UDPBufferSize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_buffer_size: Option<usize>,
    /// Go's `DeadNodeReclaimTime` (`"0s"` disables reclaiming).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub dead_node_reclaim_time: Option<Duration>,
    /// The Lifeguard extensions (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifeguard: Option<bool>,
    /// How often to retry failed nodes and seeds (beyond Go; `"0s"` disables it).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub reconnect_interval: Option<Duration>,
    /// How long a failed node is retried (beyond Go).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub reconnect_timeout: Option<Duration>,
    /// See [`Config::seeds`]: `[name/]host[:port]`, names resolved at each attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<Seed>>,
    /// See [`JoinRetry::first_wait`](super::JoinRetry::first_wait).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub join_retry_first_wait: Option<Duration>,
    /// See [`JoinRetry::max_wait`](super::JoinRetry::max_wait).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub join_retry_max_wait: Option<Duration>,
    /// See [`JoinRetry::deadline`](super::JoinRetry::deadline) (`"0s"`: keep trying).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub join_deadline: Option<Duration>,
    /// Follow-up push/pulls after a join (beyond Go; `0` disables them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_push_pulls: Option<u32>,
    /// Wait before each follow-up push/pull of a join (beyond Go).
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub join_push_pull_delay: Option<Duration>,
    /// Go's `CIDRsAllowed` (empty allows everything).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidrs_allowed: Option<Vec<String>>,
    /// See [`ProtocolConfig::max_incarnation_jump`] (beyond Go; `0` disables the check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_incarnation_jump: Option<u32>,

    /// Go's `Label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Go's `SkipInboundLabelCheck`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_inbound_label_check: Option<bool>,
    /// Go's `GossipVerifyIncoming`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gossip_verify_incoming: Option<bool>,
    /// Go's `GossipVerifyOutgoing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gossip_verify_outgoing: Option<bool>,
    /// Go's `EnableCompression`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<bool>,
    /// Secret keys, base64, primary first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// See [`Config::max_concurrent_push_pulls`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_push_pulls: Option<usize>,
    /// See [`Config::max_inbound_streams`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_inbound_streams: Option<usize>,
    /// See [`Config::stream_read_limit`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_read_limit: Option<usize>,
    /// See [`Config::leave_propagate_delay`].
    #[serde(with = "duration", skip_serializing_if = "Option::is_none")]
    pub leave_propagate_delay: Option<Duration>,
    /// See [`Config::event_buffer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_buffer: Option<usize>,
    /// See [`Config::transmit_queue`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transmit_queue: Option<usize>,
    /// See [`Limits::max_datagram_size`](crate::wire::Limits::max_datagram_size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datagram_size: Option<usize>,
    /// See [`Limits::max_push_nodes`](crate::wire::Limits::max_push_nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_push_nodes: Option<u32>,
    /// See [`Limits::max_user_state`](crate::wire::Limits::max_user_state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_user_state: Option<u32>,
    /// See [`Limits::max_user_message`](crate::wire::Limits::max_user_message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_user_message: Option<u32>,
    /// See [`Limits::max_decompressed_size`](crate::wire::Limits::max_decompressed_size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_decompressed_size: Option<usize>,
    /// See [`Limits::max_remote_meta`](crate::wire::Limits::max_remote_meta).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_remote_meta: Option<usize>,
}

fn invalid(field: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { field, reason }
}

/// The preset a [`ConfigFile`] starts from: Go's `DefaultLANConfig`, `DefaultWANConfig` or
/// `DefaultLocalConfig` (written `"lan"`, `"wan"`, `"local"`).
///
/// ```
/// use memberlist::runtime::{ConfigFile, Preset};
///
/// let file: ConfigFile = toml::from_str("name = \"a\"\npreset = \"wan\"")?;
/// assert_eq!(file.preset, Some(Preset::Wan));
/// assert!(toml::from_str::<ConfigFile>("name = \"a\"\npreset = \"moon\"").is_err());
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// [`Config::lan`]: Go's `DefaultLANConfig`.
    #[default]
    Lan,
    /// [`Config::wan`]: Go's `DefaultWANConfig`.
    Wan,
    /// [`Config::local`]: Go's `DefaultLocalConfig` (fast timers, for one machine).
    Local,
}

impl ConfigFile {
    /// Applies the fields to the preset and validates the result.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        if self.name.is_empty() {
            return Err(invalid("name", "a node name is required"));
        }
        let mut c = match self.preset.unwrap_or_default() {
            Preset::Lan => Config::lan(self.name.as_str()),
            Preset::Wan => Config::wan(self.name.as_str()),
            Preset::Local => Config::local(self.name.as_str()),
        };
        let p: &mut ProtocolConfig = &mut c.protocol;
        macro_rules! set {
            ($($src:ident => $dst:expr),* $(,)?) => {
                $( if let Some(v) = self.$src { $dst = v; } )*
            };
        }
        set! {
            protocol_version => p.protocol_version,
            tcp_timeout => p.tcp_timeout,
            indirect_checks => p.indirect_checks,
            retransmit_mult => p.retransmit_mult,
            suspicion_mult => p.suspicion_mult,
            suspicion_max_timeout_mult => p.suspicion_max_timeout_mult,
            push_pull_interval => p.push_pull_interval,
            probe_interval => p.probe_interval,
            probe_timeout => p.probe_timeout,
            disable_tcp_pings => p.disable_tcp_pings,
            awareness_max_multiplier => p.awareness_max_multiplier,
            gossip_interval => p.gossip_interval,
            gossip_nodes => p.gossip_nodes,
            gossip_to_the_dead_time => p.gossip_to_the_dead_time,
            udp_buffer_size => p.udp_buffer_size,
            dead_node_reclaim_time => p.dead_node_reclaim_time,
            lifeguard => p.lifeguard,
            reconnect_interval => p.reconnect_interval,
            reconnect_timeout => p.reconnect_timeout,
            join_push_pulls => p.join_push_pulls,
            join_push_pull_delay => p.join_push_pull_delay,
            max_incarnation_jump => p.max_incarnation_jump,
        }
        if let Some([min, max, cur]) = self.delegate_versions {
            p.delegate_versions = (min, max, cur);
        }
        if let Some(cidrs) = self.cidrs_allowed {
            p.cidrs_allowed = cidrs
                .iter()
                .enumerate()
                .map(|(index, s)| {
                    s.parse::<ipnet::IpNet>()
                        .map_err(|source| ConfigError::Cidr { index, source })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(deadline) = self.join_deadline {
            c.join_retry.deadline = (!deadline.is_zero()).then_some(deadline);
        }
        set! {
            seeds => c.seeds,
            join_retry_first_wait => c.join_retry.first_wait,
            join_retry_max_wait => c.join_retry.max_wait,
            label => c.label,
            skip_inbound_label_check => c.skip_inbound_label_check,
            gossip_verify_incoming => c.gossip_verify_incoming,
            gossip_verify_outgoing => c.gossip_verify_outgoing,
            compression => c.compression,
            max_concurrent_push_pulls => c.max_concurrent_push_pulls,
            max_inbound_streams => c.max_inbound_streams,
            stream_read_limit => c.stream_read_limit,
            leave_propagate_delay => c.leave_propagate_delay,
            event_buffer => c.event_buffer,
            transmit_queue => c.transmit_queue,
            max_datagram_size => c.limits.max_datagram_size,
            max_push_nodes => c.limits.max_push_nodes,
            max_user_state => c.limits.max_user_state,
            max_user_message => c.limits.max_user_message,
            max_decompressed_size => c.limits.max_decompressed_size,
            max_remote_meta => c.limits.max_remote_meta,
        }
        if let Some(keys) = self.keys {
            c.keyring = parse_keys(&keys)?;
        }
        c.validate()?;
        Ok(c)
    }
}

impl TryFrom<ConfigFile> for Config {
    type Error = ConfigError;
    fn try_from(file: ConfigFile) -> Result<Self, Self::Error> {
        file.into_config()
    }
}

impl From<&Config> for ConfigFile {
    /// Every field written out (no preset), keys included: treat the output as a secret when
    /// keys are set.
    fn from(c: &Config) -> Self {
        let p = &c.protocol;
        let (dmin, dmax, dcur) = p.delegate_versions;
        Self {
            name: p.name.to_string(),
            preset: None,
            protocol_version: Some(p.protocol_version),
            delegate_versions: Some([dmin, dmax, dcur]),
            tcp_timeout: Some(p.tcp_timeout),
            indirect_checks: Some(p.indirect_checks),
            retransmit_mult: Some(p.retransmit_mult),
            suspicion_mult: Some(p.suspicion_mult),
            suspicion_max_timeout_mult: Some(p.suspicion_max_timeout_mult),
            push_pull_interval: Some(p.push_pull_interval),
            probe_interval: Some(p.probe_interval),
            probe_timeout: Some(p.probe_timeout),
            disable_tcp_pings: Some(p.disable_tcp_pings),
            awareness_max_multiplier: Some(p.awareness_max_multiplier),
            gossip_interval: Some(p.gossip_interval),
            gossip_nodes: Some(p.gossip_nodes),
            gossip_to_the_dead_time: Some(p.gossip_to_the_dead_time),
            udp_buffer_size: Some(p.udp_buffer_size),
            dead_node_reclaim_time: Some(p.dead_node_reclaim_time),
            lifeguard: Some(p.lifeguard),
            reconnect_interval: Some(p.reconnect_interval),
            reconnect_timeout: Some(p.reconnect_timeout),
            seeds: Some(c.seeds.clone()),
            join_retry_first_wait: Some(c.join_retry.first_wait),
            join_retry_max_wait: Some(c.join_retry.max_wait),
            join_deadline: Some(c.join_retry.deadline.unwrap_or_default()),
            join_push_pulls: Some(p.join_push_pulls),
            join_push_pull_delay: Some(p.join_push_pull_delay),
            cidrs_allowed: Some(p.cidrs_allowed.iter().map(ToString::to_string).collect()),
            max_incarnation_jump: Some(p.max_incarnation_jump),
            label: Some(c.label.clone()),
            skip_inbound_label_check: Some(c.skip_inbound_label_check),
            gossip_verify_incoming: Some(c.gossip_verify_incoming),
            gossip_verify_outgoing: Some(c.gossip_verify_outgoing),
            compression: Some(c.compression),
            keys: c.keyring.as_ref().map(|ring| {
                ring.keys()
                    .iter()
                    .map(|k| base64::encode(k.as_bytes()))
                    .collect()
            }),
            max_concurrent_push_pulls: Some(c.max_concurrent_push_pulls),
            max_inbound_streams: Some(c.max_inbound_streams),
            stream_read_limit: Some(c.stream_read_limit),
            leave_propagate_delay: Some(c.leave_propagate_delay),
            event_buffer: Some(c.event_buffer),
            transmit_queue: Some(c.transmit_queue),
            max_datagram_size: Some(c.limits.max_datagram_size),
            max_push_nodes: Some(c.limits.max_push_nodes),
            max_user_state: Some(c.limits.max_user_state),
            max_user_message: Some(c.limits.max_user_message),
            max_decompressed_size: Some(c.limits.max_decompressed_size),
            max_remote_meta: Some(c.limits.max_remote_meta),
        }
    }
}

impl From<Config> for ConfigFile {
    /// As [`From<&Config>`](#impl-From%3C%26Config%3E-for-ConfigFile).
    fn from(c: Config) -> Self {
        Self::from(&c)
    }
}

/// Base64 keys → a keyring (`None` for an empty list).
fn parse_keys(keys: &[String]) -> Result<Option<Keyring>, ConfigError> {
    let mut parsed = keys.iter().enumerate().map(|(index, text)| {
        let bytes = base64::decode(text.trim()).ok_or(ConfigError::KeyEncoding { index })?;
        SecretKey::new(&bytes).map_err(|_| ConfigError::KeySize {
            index,
            len: bytes.len(),
        })
    });
    let Some(primary) = parsed.next().transpose()? else {
        return Ok(None);
    };
    let others = parsed.collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Keyring::with_keys(primary, others)))
}

/// `Option<Duration>` as a humantime string, or an integer of milliseconds on input.
mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(DurationVisitor).map(Some)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"1s\" or \"200ms\", or an integer of milliseconds")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            humantime::parse_duration(v.trim())
                .map_err(|e| E::custom(format_args!("invalid duration {v:?}: {e}")))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_millis(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_millis)
                .map_err(|_| E::custom("a duration cannot be negative"))
        }
    }
}

/// Standard base64 with padding (RFC 4648), as Serf and Consul print keys.
mod base64 {
    use ::base64::Engine as _;
    use ::base64::engine::general_purpose::STANDARD;

    pub(super) fn encode(data: &[u8]) -> String {
        STANDARD.encode(data)
    }

    /// `None` for invalid or empty text (an empty key is never meant).
    pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
        if text.is_empty() {
            return None;
        }
        STANDARD.decode(text).ok()
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
