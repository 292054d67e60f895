//! [`Builder`]: assembles the wire pipeline, the machine and the driver task.

use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc, watch};
use tracing::{Instrument, info, info_span, warn};

use crate::codec::{Codec, CodecRegistry};
use crate::delegate::{Delegate, NoopDelegate};
use crate::encryption::{Encryption, EnvelopeVersion};
use crate::machine::Machine;
use crate::metrics::{Metrics, NoopMetrics};
use crate::transport::Transport;
use crate::wire::{CRC_HEADER_LEN, Label, Pipeline};

use super::config::{Config, ConfigError};
use super::driver::{Core, Driver, now, send_datagrams};
use super::error::Error;
use super::handle::{Memberlist, Shared};
use super::member_info::WallClock;
use super::seeds::Seed;
use super::snapshot::Snapshot;
use super::stats::Counters;
use super::stream::StreamContext;

/// Marks a [`Builder`] that has no transport yet; [`Builder::transport`] replaces it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTransport;

impl Memberlist<NoTransport, NoopDelegate> {
    /// Starts building a node with `config`. Give it a transport with
    /// [`Builder::transport`], optionally a delegate, codecs and encryption, then
    /// [`start`](Builder::start) it.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use memberlist_core::delegate::NoopDelegate;
    /// use memberlist::runtime::{Config, Error, Memberlist};
    /// use memberlist_core::transport::Transport;
    ///
    /// async fn start<T: Transport>(transport: T) -> Result<Memberlist<T>, Error> {
    ///     Memberlist::builder(Config::local("node-a").with_label("test"))
    ///         .transport(transport)
    ///         .delegate(NoopDelegate)
    ///         .start()
    ///         .await
    /// }
    /// ```
    pub fn builder(config: Config) -> Builder<NoTransport, NoopDelegate> {
        let builder = Builder {
            config,
            transport: NoTransport,
            delegate: NoopDelegate,
            codecs: CodecRegistry::new(),
            compressor: None,
            encryption: None,
            metrics: Arc::new(NoopMetrics),
            seed: None,
        };
        // Go's default: LZW, so that a node built the obvious way talks to Go nodes.
        #[cfg(feature = "lzw")]
        let builder = builder.compression(memberlist_lzw::Lzw);
        builder
    }
}

/// Assembles a [`Memberlist`] node: configuration, transport, delegate, compression and
/// encryption plugins. Made by [`Memberlist::builder`].
///
/// - **Compression**: with the `lzw` feature (a default) Go's LZW is registered from the
///   start, compressing outgoing messages when [`Config::compression`] is on (the default,
///   as in Go) — nothing to call. [`compression`](Self::compression) replaces the codec that
///   compresses (LZW stays registered to decompress); [`decoder`](Self::decoder) registers
///   codecs that only decompress. Every registered codec decompresses what arrives, as Go
///   accepts compressed input whatever its own setting.
/// - **Encryption**: give the keys in [`Config::keyring`] (or a config file's `keys`); with
///   the `aes-gcm` feature (a default) the node encrypts with Go's AES-GCM, nothing to call.
///   [`encryption`](Self::encryption) is for a custom [`Encryption`] implementation: it is
///   given the configuration's keys (and holds only those), or keeps the keys it manages
///   itself when the configuration has none. The envelope version follows the protocol
///   version, as in Go.
pub struct Builder<T, D> {
    config: Config,
    transport: T,
    delegate: D,
    codecs: CodecRegistry,
    compressor: Option<Arc<dyn Codec>>,
    encryption: Option<Arc<dyn Encryption>>,
    metrics: Arc<dyn Metrics>,
    seed: Option<u64>,
}

impl<T, D> std::fmt::Debug for Builder<T, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("codecs", &self.codecs)
            .field("encryption", &self.encryption)
            .finish_non_exhaustive()
    }
}

impl<T, D> Builder<T, D> {
    /// The transport that carries datagrams and streams (`memberlist-net`'s `NetTransport`
    /// for UDP + TCP).
    pub fn transport<T2: Transport>(self, transport: T2) -> Builder<T2, D> {
        self.replace(|_, delegate| (transport, delegate))
    }

    /// The application's hooks (metadata, user messages and state, vetoes). It is owned by
    /// the driver task; reach it later with [`Memberlist::with_delegate`].
    pub fn delegate<D2: Delegate + 'static>(self, delegate: D2) -> Builder<T, D2> {
        self.replace(|transport, _| (transport, delegate))
    }

    /// This builder with the transport and the delegate `f` makes of the current ones.
    fn replace<T2, D2>(self, f: impl FnOnce(T, D) -> (T2, D2)) -> Builder<T2, D2> {
        let (transport, delegate) = f(self.transport, self.delegate);
        Builder {
            config: self.config,
            transport,
            delegate,
            codecs: self.codecs,
            compressor: self.compressor,
            encryption: self.encryption,
            metrics: self.metrics,
            seed: self.seed,
        }
    }

    /// Compresses outgoing messages with `codec` (when [`Config::compression`] is on) and
    /// decompresses incoming ones with it.
    pub fn compression(mut self, codec: impl Codec + 'static) -> Self {
        let codec: Arc<dyn Codec> = Arc::new(codec);
        self.codecs = self.codecs.with_decoder(Arc::clone(&codec));
        self.compressor = Some(codec);
        self
    }

    /// Decompresses incoming messages with `codec` too (without compressing with it).
    pub fn decoder(mut self, codec: impl Codec + 'static) -> Self {
        self.codecs = self.codecs.with_decoder(Arc::new(codec));
        self
    }

    /// Encrypts and decrypts with a custom `encryption` plugin, given the configuration's keys
    /// as the [`Builder`] doc says (see [`encryption_shared`](Self::encryption_shared) to keep
    /// a handle on it); rotate keys on a running node with [`Memberlist::install_key`].
    pub fn encryption(self, encryption: impl Encryption + 'static) -> Self {
        self.encryption_shared(Arc::new(encryption))
    }

    /// Encrypts and decrypts with a shared plugin: keep a clone of the `Arc` to rotate keys
    /// (`install_key`, `use_key`, `remove_key`) while the node runs.
    pub fn encryption_shared(mut self, encryption: Arc<dyn Encryption>) -> Self {
        self.encryption = Some(encryption);
        self
    }

    /// Reports metrics to `metrics` (see [`crate::metrics`]: the catalog, and exporters such
    /// as `memberlist-prometheus`). The default sink does nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use memberlist_core::metrics::InMemoryMetrics;
    /// use memberlist::runtime::{Config, Memberlist};
    /// let sink = Arc::new(InMemoryMetrics::new());
    /// let builder = Memberlist::builder(Config::local("a")).metrics(Arc::clone(&sink));
    /// ```
    pub fn metrics(mut self, metrics: impl Metrics) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// Seeds the protocol's random choices (probe order, gossip targets, stagger). By
    /// default the seed comes from the operating system; fix it to reproduce a run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn pipeline(&self) -> Result<Pipeline, Error> {
        let c = &self.config;
        let label = Label::new(c.label.clone().into_bytes()).map_err(ConfigError::Label)?;
        let mut codecs = self.codecs.clone();
        match (&self.compressor, c.compression) {
            (Some(codec), true) => codecs = codecs.with_compressor(Arc::clone(codec)),
            (None, true) => warn!(
                "compression is on but no compression codec is registered (the `lzw` feature \
                 is off): sending uncompressed, and compressed messages from Go nodes cannot \
                 be read; give one with Builder::compression or turn compression off"
            ),
            _ => {}
        }
        let mut pipeline = Pipeline::new()
            .with_label(label)
            .with_skip_inbound_label_check(c.skip_inbound_label_check)
            .with_codecs(codecs)
            .with_gossip_verify(c.gossip_verify_incoming, c.gossip_verify_outgoing)
            .with_limits(c.limits);
        if let Some(enc) = self.encryption_plugin()? {
            let version = EnvelopeVersion::for_protocol(c.protocol.protocol_version);
            pipeline = pipeline.with_encryption(enc, version);
        }
        Ok(pipeline)
    }

    /// The plugin that seals and opens, holding exactly [`Config::keyring`]'s keys when the
    /// configuration has keys: the one given to [`encryption`](Self::encryption), or else
    /// (with the `aes-gcm` feature) Go's AES-GCM.
    fn encryption_plugin(&self) -> Result<Option<Arc<dyn Encryption>>, ConfigError> {
        let Some(ring) = &self.config.keyring else {
            // No keys in the configuration: a custom plugin keeps the keys it manages.
            return Ok(self.encryption.clone());
        };
        let Some(enc) = &self.encryption else {
            #[cfg(feature = "aes-gcm")]
            return Ok(Some(Arc::new(memberlist_aes_gcm::AesGcm::new(
                ring.clone(),
            ))));
            #[cfg(not(feature = "aes-gcm"))]
            return Err(ConfigError::Invalid {
                field: "keyring",
                reason: "keys are configured but there is no encryption plugin: enable the \
                         `aes-gcm` feature of `memberlist` (a default) or give a plugin with \
                         Builder::encryption",
            });
        };
        for key in ring.keys() {
            enc.install_key(key.clone());
        }
        enc.use_key(ring.primary()).map_err(ConfigError::Keyring)?;
        let held = enc.keyring();
        for key in held.keys() {
            if !ring.keys().contains(key) {
                enc.remove_key(key).map_err(ConfigError::Keyring)?;
            }
        }
        Ok(Some(Arc::clone(enc)))
    }
}

impl<T: Transport, D: Delegate + 'static> Builder<T, D> {
    /// Validates the configuration, builds the wire pipeline and the protocol machine
    /// (announcing this node at the transport's advertise address), and spawns the driver
    /// task on the current tokio runtime.
    ///
    /// Fails on an invalid configuration, on keys without an encryption plugin, on a
    /// `udp_buffer_size` larger than the transport's datagrams, and if the delegate vetoes
    /// our own alive message.
    pub async fn start(self) -> Result<Memberlist<T, D>, Error> {
        self.config.validate()?;
        let max_datagram = self.transport.max_datagram_size();
        if self.config.protocol.udp_buffer_size > max_datagram {
            return Err(ConfigError::DatagramTooSmall {
                udp_buffer_size: self.config.protocol.udp_buffer_size,
                max_datagram,
            }
            .into());
        }
        let pipeline = self.pipeline()?;
        // A best-effort message must fit one datagram with its framing: type byte, CRC,
        // encryption envelope and label header.
        let max_user_datagram = max_datagram
            .saturating_sub(1 + CRC_HEADER_LEN)
            .saturating_sub(pipeline.encryption_overhead())
            .saturating_sub(pipeline.label().overhead());
        let seed = self.seed.unwrap_or_else(random_seed);
        let transport = Arc::new(self.transport);
        let advertise = transport.advertise_addr();
        let config = self.config;
        let mut machine = Machine::new(
            config.protocol.clone(),
            pipeline.clone(),
            advertise,
            self.delegate,
            seed,
            now(),
        )
        .map_err(ConfigError::from)?;
        let counters = Arc::new(Counters::new(Arc::clone(&self.metrics)));
        machine.set_metrics(Arc::clone(&counters.metrics));
        // Seeds given by IP are reconnection targets from the start; names join them when
        // `join_seeds` resolves them.
        machine.set_seeds(config.seeds.iter().filter_map(Seed::socket_addr));
        let local = machine.local_member().ok_or(Error::LocalNodeVetoed)?;

        let clock = WallClock::new(now());
        let snapshot = Snapshot::new(&mut machine, local, clock, config.event_buffer);
        let snapshot = Arc::new(Mutex::new(snapshot));
        let (commands_tx, commands_rx) = mpsc::channel(256);
        let (inbound_tx, inbound_rx) = mpsc::channel(config.max_inbound_streams);
        let (transmit_tx, transmit_rx) = mpsc::channel(config.transmit_queue);
        let (stopped_tx, stopped_rx) = watch::channel(false);
        let ctx = Arc::new(StreamContext {
            pipeline,
            tcp_timeout: config.tcp_timeout(),
            read_limit: config.stream_read_limit,
            push_pulls: Arc::new(Semaphore::new(config.max_concurrent_push_pulls)),
            counters: Arc::clone(&counters),
            requests: inbound_tx,
        });
        let span = info_span!("memberlist", node = %config.name());
        let sender = tokio::spawn(
            send_datagrams(Arc::clone(&transport), transmit_rx, Arc::clone(&counters))
                .instrument(span.clone()),
        );
        let driver = Driver {
            core: Core::new(machine),
            transport: Arc::clone(&transport),
            commands: commands_rx,
            ctx,
            inbound_rx,
            inbound_limit: Arc::new(Semaphore::new(config.max_inbound_streams)),
            transmit_tx,
            sender,
            counters: Arc::clone(&counters),
            snapshot: Arc::clone(&snapshot),
            stopped: stopped_tx,
            name: config.protocol.name.clone(),
        };
        info!(
            node = %config.name(),
            %advertise,
            local = %transport.local_addr(),
            "memberlist node starting"
        );
        tokio::spawn(driver.run().instrument(span));
        Ok(Memberlist::from_shared(Shared {
            commands: commands_tx,
            transport,
            config,
            snapshot,
            counters,
            stopped: stopped_rx,
            max_user_datagram,
        }))
    }
}

/// A seed from the operating system, or (if that fails) the clock hashed with the standard
/// library's randomly keyed hasher — good enough for choosing gossip targets.
fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::time::SystemTime::now())
    })
}

#[cfg(all(test, feature = "lzw"))]
mod tests {
    use super::*;

    /// Go's LZW (algorithm 0) is the compressor of a default-built node, and stays a
    /// decoder when compression is turned off.
    #[test]
    fn a_default_built_node_compresses_and_reads_go_lzw() {
        let pipeline = Memberlist::builder(Config::lan("a"))
            .pipeline()
            .expect("pipeline");
        let codecs = pipeline.codecs();
        assert_eq!(codecs.compressor().map(|c| c.algorithm()), Some(0));
        assert!(codecs.get(0).is_some());

        let off = Memberlist::builder(Config::lan("a").with_compression(false))
            .pipeline()
            .expect("pipeline");
        assert!(off.codecs().compressor().is_none());
        assert!(off.codecs().get(0).is_some(), "LZW still decompresses");
    }
}
