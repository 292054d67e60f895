//! [`ConfigFile`]: the serde form of [`Config`] (TOML, JSON, YAML… whatever serde reads).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::encryption::{Keyring, SecretKey};

use super::config::{Config, ConfigError};
use super::seeds::Seed;

/// Declares [`ConfigFile`]: `name`, then the optional fields in file order. A field written
/// `=> path` is that field of [`Config`], copied in by `apply_plain` and out by `plain`; the
/// others are converted by hand.
macro_rules! config_file {
    (@out $c:ident) => { None };
    (@out $c:ident $($path:ident).+) => { Some(Clone::clone(&$c.$($path).+)) };
    ($(#[$meta:meta])* pub struct ConfigFile {
        $( $(#[$attr:meta])* $field:ident: $ty:ty $(=> $($path:ident).+)?, )*
    }) => {
        $(#[$meta])*
        pub struct ConfigFile {
            /// The node's unique name (required).
            pub name: String,
            $(
                $(#[$attr])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl ConfigFile {
            /// Moves the fields that are fields of [`Config`] into `c`.
            fn apply_plain(&mut self, c: &mut Config) {
                $($( if let Some(v) = self.$field.take() { c.$($path).+ = v; } )?)*
            }

            /// `c`'s fields that are fields of a `ConfigFile`; the others `None`.
            fn plain(c: &Config) -> Self {
                Self {
                    name: c.protocol.name.to_string(),
                    $( $field: config_file!(@out c $($($path).+)?), )*
                }
            }
        }
    };
}

config_file! {
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
        /// `"lan"` (default), `"wan"` or `"local"`.
        preset: Preset,

        /// Protocol version spoken (1..=5).
        protocol_version: u8 => protocol.protocol_version,
        /// Delegate protocol versions `[min, max, current]`.
        delegate_versions: [u8; 3],
        /// Go's `TCPTimeout`.
        #[serde(with = "duration")]
        tcp_timeout: Duration => protocol.tcp_timeout,
        /// Go's `IndirectChecks`.
        indirect_checks: usize => protocol.indirect_checks,
        /// Go's `RetransmitMult`.
        retransmit_mult: u32 => protocol.retransmit_mult,
        /// Go's `SuspicionMult`.
        suspicion_mult: u32 => protocol.suspicion_mult,
        /// Go's `SuspicionMaxTimeoutMult`.
        suspicion_max_timeout_mult: u32 => protocol.suspicion_max_timeout_mult,
        /// Go's `PushPullInterval` (`"0s"` disables periodic push/pull).
        #[serde(with = "duration")]
        push_pull_interval: Duration => protocol.push_pull_interval,
        /// Go's `ProbeInterval`.
        #[serde(with = "duration")]
        probe_interval: Duration => protocol.probe_interval,
        /// Go's `ProbeTimeout`.
        #[serde(with = "duration")]
        probe_timeout: Duration => protocol.probe_timeout,
        /// Go's `DisableTcpPings`.
        disable_tcp_pings: bool => protocol.disable_tcp_pings,
        /// Go's `AwarenessMaxMultiplier`.
        awareness_max_multiplier: u32 => protocol.awareness_max_multiplier,
        /// Go's `GossipInterval` (`"0s"` disables gossip).
        #[serde(with = "duration")]
        gossip_interval: Duration => protocol.gossip_interval,
        /// Go's `GossipNodes`.
        gossip_nodes: usize => protocol.gossip_nodes,
        /// Go's `GossipToTheDeadTime`.
        #[serde(with = "duration")]
        gossip_to_the_dead_time: Duration => protocol.gossip_to_the_dead_time,
        /// Go's `UDPBufferSize`.
        udp_buffer_size: usize => protocol.udp_buffer_size,
        /// Go's `DeadNodeReclaimTime` (`"0s"` disables reclaiming).
        #[serde(with = "duration")]
        dead_node_reclaim_time: Duration => protocol.dead_node_reclaim_time,
        /// The Lifeguard extensions (default on).
        lifeguard: bool => protocol.lifeguard,
        /// How often to retry failed nodes and seeds (beyond Go; `"0s"` disables it).
        #[serde(with = "duration")]
        reconnect_interval: Duration => protocol.reconnect_interval,
        /// How long a failed node is retried (beyond Go).
        #[serde(with = "duration")]
        reconnect_timeout: Duration => protocol.reconnect_timeout,
        /// See [`Config::seeds`]: `[name/]host[:port]`, names resolved at each attempt.
        seeds: Vec<Seed> => seeds,
        /// See [`JoinRetry::first_wait`](super::JoinRetry::first_wait).
        #[serde(with = "duration")]
        join_retry_first_wait: Duration => join_retry.first_wait,
        /// See [`JoinRetry::max_wait`](super::JoinRetry::max_wait).
        #[serde(with = "duration")]
        join_retry_max_wait: Duration => join_retry.max_wait,
        /// See [`JoinRetry::deadline`](super::JoinRetry::deadline) (`"0s"`: keep trying).
        #[serde(with = "duration")]
        join_deadline: Duration,
        /// Follow-up push/pulls after a join (beyond Go; `0` disables them).
        join_push_pulls: u32 => protocol.join_push_pulls,
        /// Wait before each follow-up push/pull of a join (beyond Go).
        #[serde(with = "duration")]
        join_push_pull_delay: Duration => protocol.join_push_pull_delay,
        /// Go's `CIDRsAllowed` (empty allows everything).
        cidrs_allowed: Vec<String>,
        /// See [`max_incarnation_jump`](crate::machine::ProtocolConfig::max_incarnation_jump)
        /// (beyond Go; `0` disables the check).
        max_incarnation_jump: u32 => protocol.max_incarnation_jump,

        /// Go's `Label`.
        label: String => label,
        /// Go's `SkipInboundLabelCheck`.
        skip_inbound_label_check: bool => skip_inbound_label_check,
        /// Go's `GossipVerifyIncoming`.
        gossip_verify_incoming: bool => gossip_verify_incoming,
        /// Go's `GossipVerifyOutgoing`.
        gossip_verify_outgoing: bool => gossip_verify_outgoing,
        /// Go's `EnableCompression`.
        compression: bool => compression,
        /// Secret keys, base64, primary first.
        keys: Vec<String>,
        /// See [`Config::max_concurrent_push_pulls`].
        max_concurrent_push_pulls: usize => max_concurrent_push_pulls,
        /// See [`Config::max_inbound_streams`].
        max_inbound_streams: usize => max_inbound_streams,
        /// See [`Config::stream_read_limit`].
        stream_read_limit: usize => stream_read_limit,
        /// See [`Config::leave_propagate_delay`].
        #[serde(with = "duration")]
        leave_propagate_delay: Duration => leave_propagate_delay,
        /// See [`Config::event_buffer`].
        event_buffer: usize => event_buffer,
        /// See [`Config::transmit_queue`].
        transmit_queue: usize => transmit_queue,
        /// See [`Limits::max_datagram_size`](crate::wire::Limits::max_datagram_size).
        max_datagram_size: usize => limits.max_datagram_size,
        /// See [`Limits::max_push_nodes`](crate::wire::Limits::max_push_nodes).
        max_push_nodes: u32 => limits.max_push_nodes,
        /// See [`Limits::max_user_state`](crate::wire::Limits::max_user_state).
        max_user_state: u32 => limits.max_user_state,
        /// See [`Limits::max_user_message`](crate::wire::Limits::max_user_message).
        max_user_message: u32 => limits.max_user_message,
        /// See [`Limits::max_decompressed_size`](crate::wire::Limits::max_decompressed_size).
        max_decompressed_size: usize => limits.max_decompressed_size,
        /// See [`Limits::max_remote_meta`](crate::wire::Limits::max_remote_meta).
        max_remote_meta: usize => limits.max_remote_meta,
    }
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
    pub fn into_config(mut self) -> Result<Config, ConfigError> {
        if self.name.is_empty() {
            let (field, reason) = ("name", "a node name is required");
            return Err(ConfigError::Invalid { field, reason });
        }
        let mut c = match self.preset.unwrap_or_default() {
            Preset::Lan => Config::lan(self.name.as_str()),
            Preset::Wan => Config::wan(self.name.as_str()),
            Preset::Local => Config::local(self.name.as_str()),
        };
        self.apply_plain(&mut c);
        if let Some([min, max, cur]) = self.delegate_versions {
            c.protocol.delegate_versions = (min, max, cur);
        }
        if let Some(cidrs) = self.cidrs_allowed {
            c.protocol.cidrs_allowed = cidrs
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
        let (dmin, dmax, dcur) = c.protocol.delegate_versions;
        Self {
            delegate_versions: Some([dmin, dmax, dcur]),
            join_deadline: Some(c.join_retry.deadline.unwrap_or_default()),
            cidrs_allowed: Some(
                c.protocol
                    .cidrs_allowed
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
            keys: c.keyring.as_ref().map(|ring| {
                ring.keys()
                    .iter()
                    .map(|k| STANDARD.encode(k.as_bytes()))
                    .collect()
            }),
            ..Self::plain(c)
        }
    }
}

impl From<Config> for ConfigFile {
    /// As [`From<&Config>`](#impl-From%3C%26Config%3E-for-ConfigFile).
    fn from(c: Config) -> Self {
        Self::from(&c)
    }
}

/// Base64 keys (standard alphabet with padding, as Serf and Consul print them) → a keyring
/// (`None` for an empty list). An empty key is never meant: it is invalid.
fn parse_keys(keys: &[String]) -> Result<Option<Keyring>, ConfigError> {
    let mut parsed = keys.iter().enumerate().map(|(index, text)| {
        let text = Some(text.trim()).filter(|t| !t.is_empty());
        let bytes = text
            .and_then(|t| STANDARD.decode(t).ok())
            .ok_or(ConfigError::KeyEncoding { index })?;
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

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
