//! How to start a Go peer: [`GoPeerConfig`], turned into the program's flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Which of Go's config constructors the peer starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// `memberlist.DefaultLANConfig()`.
    Lan,
    /// `memberlist.DefaultLocalConfig()` (probe every 1 s, suspicion multiplier 3).
    #[default]
    Local,
    /// `memberlist.DefaultWANConfig()`.
    Wan,
}

impl Preset {
    /// The `-preset` value: `lan`, `local` or `wan`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lan => "lan",
            Self::Local => "local",
            Self::Wan => "wan",
        }
    }
}

/// Settings for one Go peer. [`GoPeerConfig::new`] gives Go's local preset on 127.0.0.1 with
/// a kernel-chosen port; change the public fields as needed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GoPeerConfig {
    /// Node name (`-name`).
    pub name: String,
    /// IP address to bind, UDP and TCP (`-bind`).
    pub bind: IpAddr,
    /// Port to bind; 0 lets the kernel pick one, used for both UDP and TCP (`-port`).
    pub port: u16,
    /// Address to advertise instead of the bound one (`-advertise`). With `port` 0, Go
    /// memberlist 0.2.2 replaces the advertised port with the bound port.
    pub advertise: Option<std::net::SocketAddr>,
    /// Go config preset (`-preset`).
    pub preset: Preset,
    /// `ProbeInterval` override.
    pub probe_interval: Option<Duration>,
    /// `ProbeTimeout` override.
    pub probe_timeout: Option<Duration>,
    /// `SuspicionMult` override (at least 1).
    pub suspicion_mult: Option<u32>,
    /// `GossipInterval` override.
    pub gossip_interval: Option<Duration>,
    /// `PushPullInterval` override (zero disables periodic push/pull).
    pub pushpull_interval: Option<Duration>,
    /// AES keys (16, 24 or 32 bytes); the first is the primary key. Empty: no encryption.
    pub keys: Vec<Vec<u8>>,
    /// Packet/stream label. Go memberlist 0.2.2 has no labels: the peer refuses to start
    /// with one.
    pub label: Option<String>,
    /// `EnableCompression` (LZW).
    pub compression: bool,
    /// `GossipVerifyIncoming`.
    pub gossip_verify_incoming: bool,
    /// `GossipVerifyOutgoing`.
    pub gossip_verify_outgoing: bool,
    /// Node metadata (at most 512 bytes).
    pub meta: String,
    /// What the delegate's `LocalState` returns (sent in push/pull).
    pub local_state: String,
    /// `DelegateProtocolMin`, `DelegateProtocolMax`, `DelegateProtocolVersion`.
    pub delegate_version: Option<(u8, u8, u8)>,
    /// `DeadNodeReclaimTime`.
    pub dead_node_reclaim: Option<Duration>,
    /// Addresses (`ip:port`, optionally `name/ip:port`) to join at start-up.
    pub join: Vec<String>,
    /// Emit an [`Event::Ping`](crate::Event::Ping) for every completed probe.
    pub ping_events: bool,
    /// Further raw flags for the program.
    pub extra_args: Vec<String>,
    /// The peer binary; `None` builds it with [`build_peer`](crate::build_peer).
    pub binary: Option<PathBuf>,
    /// How long [`GoPeer::spawn`](crate::GoPeer::spawn) waits for the `ready` line.
    pub ready_timeout: Duration,
    /// How long a command waits for its reply (also the start-up join).
    pub command_timeout: Duration,
}

impl GoPeerConfig {
    /// Go's local preset, bound to 127.0.0.1 on a kernel-chosen port, compression on, no
    /// encryption.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            advertise: None,
            preset: Preset::Local,
            probe_interval: None,
            probe_timeout: None,
            suspicion_mult: None,
            gossip_interval: None,
            pushpull_interval: None,
            keys: Vec::new(),
            label: None,
            compression: true,
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            meta: String::new(),
            local_state: String::new(),
            delegate_version: None,
            dead_node_reclaim: None,
            join: Vec::new(),
            ping_events: false,
            extra_args: Vec::new(),
            binary: None,
            ready_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(30),
        }
    }

    /// The local preset with short timers for tests: probe every 200 ms with a 100 ms
    /// timeout, suspicion multiplier 2, gossip every 50 ms.
    pub fn fast(name: impl Into<String>) -> Self {
        let mut config = Self::new(name);
        config.probe_interval = Some(Duration::from_millis(200));
        config.probe_timeout = Some(Duration::from_millis(100));
        config.suspicion_mult = Some(2);
        config.gossip_interval = Some(Duration::from_millis(50));
        config
    }

    /// Sets the addresses to join at start-up.
    pub fn with_join<S: ToString>(mut self, addrs: impl IntoIterator<Item = S>) -> Self {
        self.join = addrs.into_iter().map(|a| a.to_string()).collect();
        self
    }

    /// Sets the encryption keys (the first is primary).
    pub fn with_keys(mut self, keys: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.keys = keys.into_iter().collect();
        self
    }

    /// The program's command-line flags for this configuration.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("-name={}", self.name),
            format!("-bind={}", self.bind),
            format!("-port={}", self.port),
            format!("-preset={}", self.preset.as_str()),
            format!("-compression={}", self.compression),
            format!("-gossip-verify-incoming={}", self.gossip_verify_incoming),
            format!("-gossip-verify-outgoing={}", self.gossip_verify_outgoing),
            format!("-meta={}", self.meta),
            format!("-local-state={}", self.local_state),
            format!("-join={}", self.join.join(",")),
        ];
        let durations = [
            ("probe-interval", self.probe_interval),
            ("probe-timeout", self.probe_timeout),
            ("gossip-interval", self.gossip_interval),
            ("pushpull-interval", self.pushpull_interval),
            ("dead-node-reclaim", self.dead_node_reclaim),
        ];
        let durations = durations
            .into_iter()
            .filter_map(|(flag, value)| value.map(|d| format!("-{flag}={}ns", d.as_nanos())));
        let optional = [
            self.advertise.map(|a| format!("-advertise={a}")),
            self.suspicion_mult.map(|m| format!("-suspicion-mult={m}")),
            self.label.as_ref().map(|label| format!("-label={label}")),
            self.delegate_version
                .map(|(min, max, cur)| format!("-delegate-version={min},{max},{cur}")),
            self.ping_events.then(|| "-ping-events".to_owned()),
        ];
        args.extend(durations.chain(optional.into_iter().flatten()));
        let keys = self
            .keys
            .iter()
            .map(|key| format!("-key={}", STANDARD.encode(key)));
        args.extend(keys.chain(self.extra_args.iter().cloned()));
        args
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::GoPeerConfig;

    #[test]
    fn flags() {
        let mut c = GoPeerConfig::fast("n1").with_join(["127.0.0.1:1", "127.0.0.1:2"]);
        c.keys = vec![b"0123456789abcdef".to_vec()];
        c.delegate_version = Some((0, 2, 1));
        c.dead_node_reclaim = Some(Duration::from_secs(1));
        let args = c.args();
        for want in [
            "-name=n1",
            "-bind=127.0.0.1",
            "-port=0",
            "-preset=local",
            "-join=127.0.0.1:1,127.0.0.1:2",
            "-probe-interval=200000000ns",
            "-suspicion-mult=2",
            "-key=MDEyMzQ1Njc4OWFiY2RlZg==",
            "-delegate-version=0,2,1",
            "-dead-node-reclaim=1000000000ns",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
    }
}
