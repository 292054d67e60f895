//! `memberlist agent`: run one memberlist node until SIGINT or SIGTERM.
//!
//! The flags are those of [`AgentArgs`] (`memberlist agent --help`); `--config FILE` reads
//! any of them from TOML (see [`crate::settings`]) and flags override it. What the agent does
//! with them (joining, encryption, QUIC and its TLS rules, the startup line on stdout, the
//! leave on a signal) is described in `agent/README.md`; the hidden test flags are in
//! [`crate::faults`]. Everything but the startup line is logged through `tracing` to stderr.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use memberlist::delegate::Delegate;
use memberlist::metrics::Metrics;
use memberlist::net::{NetTransport, NetTransportOptions};
use memberlist::quic::{QuicConfig, QuicTransport};
use memberlist::{JoinError, MemberEvent, Memberlist, Notification, Transport};
use memberlist_opentelemetry::{OtelMetrics, Otlp};
use memberlist_prometheus::PrometheusMetrics;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio::net::TcpListener;
use tracing::{debug, error, info, warn};

use crate::faults::TestHooks;
use crate::settings::{self, DelegateVersions, Settings, TransportSettings};
use crate::signals::Signals;

/// How long a leave may take to be gossiped before the agent shuts down anyway.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The node the agent runs, over transport `T`.
pub(crate) type Node<T> = Memberlist<T, AgentDelegate>;

/// Options of `memberlist agent`.
#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// The node's unique name in the cluster.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Address to bind for UDP and TCP (port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) bind: Option<SocketAddr>,
    /// Address announced to other nodes, if not the bound one.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) advertise: Option<SocketAddr>,
    /// A node to join through, `[name/]host[:port]` (repeatable; the `seeds` of the config
    /// file); retried in the background until a join succeeds.
    #[arg(long, value_name = "ADDR")]
    pub(crate) join: Vec<String>,
    /// Protocol timings: Go's LAN, WAN or local defaults [default: lan].
    #[arg(long, value_enum)]
    pub(crate) preset: Option<Preset>,
    /// Encryption key, base64 of 16, 24 or 32 bytes (repeatable; the first one encrypts).
    #[arg(long, value_name = "BASE64")]
    pub(crate) key: Vec<String>,
    /// Label written on every packet; nodes with different labels ignore each other.
    #[arg(long, value_name = "TEXT")]
    pub(crate) label: Option<String>,
    /// Transport: UDP + TCP (`net`, what Go speaks) or QUIC with TLS (`quic`, needs
    /// --tls-cert, --tls-key, --tls-ca) [default: net].
    #[arg(long, value_enum)]
    pub(crate) transport: Option<TransportKind>,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Serve GET /members, /health and /metrics on this address (port 0 picks one).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) http: Option<SocketAddr>,
    /// Serve the admin API (GET /keys, POST /keys/install|use|remove, GET/POST /encryption)
    /// on this loopback address; off by default. Needs --key; refused with QUIC.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) admin_http: Option<SocketAddr>,
    /// TOML file with any of these options (flags override it).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Node metadata entry (repeatable), encoded as Serf tags: byte 0xFF then a msgpack map
    /// of string to string, at most 512 bytes in all.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) meta: Vec<String>,
    /// Delegate protocol versions MIN,MAX,CUR announced to peers [default: 0,0,0]; Serf
    /// clusters need 2,5,5.
    #[arg(long, value_name = "MIN,MAX,CUR")]
    pub(crate) delegate_version: Option<DelegateVersions>,
    /// Also push the metrics over OTLP/HTTP (protobuf) to this collector, e.g.
    /// http://127.0.0.1:4318 (`/v1/metrics` is added when the URL has no path).
    #[arg(long, value_name = "URL")]
    pub(crate) otlp_endpoint: Option<String>,
    /// How often to push over OTLP [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) otlp_interval: Option<Duration>,
    /// Hidden, test-only fault injection (see [`crate::faults`]).
    #[command(flatten)]
    pub(crate) test_hooks: TestHooks,
}

/// The TLS flags of `--transport quic`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct TlsArgs {
    /// QUIC: this node's certificate chain, PEM (leaf first).
    #[arg(long, value_name = "PEM")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// QUIC: this node's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM")]
    pub(crate) tls_key: Option<PathBuf>,
    /// QUIC: the cluster CA certificate(s), PEM; peers must hold a certificate it issued.
    #[arg(long, value_name = "PEM")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// QUIC: the name every node certificate carries and diallers verify
    /// [default: memberlist.cluster].
    #[arg(long, value_name = "NAME")]
    pub(crate) tls_server_name: Option<String>,
    /// QUIC: accept connections from clients without a certificate (mutual TLS is on by
    /// default).
    #[arg(long)]
    pub(crate) no_mtls: bool,
}

impl TlsArgs {
    /// True when any TLS flag was given.
    pub(crate) fn given(&self) -> bool {
        self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca.is_some()
            || self.tls_server_name.is_some()
            || self.no_mtls
    }
}

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Preset {
    /// Go's `DefaultLANConfig`.
    Lan,
    /// Go's `DefaultWANConfig`.
    Wan,
    /// Go's `DefaultLocalConfig` (fast timers, for one machine).
    Local,
}

impl From<Preset> for memberlist::runtime::Preset {
    fn from(p: Preset) -> Self {
        match p {
            Preset::Lan => Self::Lan,
            Preset::Wan => Self::Wan,
            Preset::Local => Self::Local,
        }
    }
}

/// `--transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TransportKind {
    /// UDP for gossip and probes, TCP for push/pull, on one port.
    Net,
    /// QUIC with TLS 1.3 (datagrams for gossip, streams for push/pull), on one UDP port.
    Quic,
}

/// The agent's delegate: announces the encoded `--meta` tags and ignores user messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentDelegate {
    meta: Bytes,
}

impl Delegate for AgentDelegate {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }

    fn has_broadcasts(&self) -> bool {
        false
    }
}

/// Where the agent's metrics go: the Prometheus registry `/metrics` serves, and the OTLP
/// pipeline when `--otlp-endpoint` is given.
struct Sinks {
    metrics: PrometheusMetrics,
    otlp: Option<(SdkMeterProvider, OtelMetrics)>,
}

impl Sinks {
    fn new(settings: &Settings) -> Result<Sinks, String> {
        let metrics = PrometheusMetrics::builder()
            .build()
            .map_err(|e| format!("cannot set up the metrics: {e}"))?;
        let otlp = match &settings.otlp {
            Some((endpoint, interval)) => Some(
                Otlp::new(endpoint.clone())
                    .interval(*interval)
                    .service_name(settings.config.name().to_owned())
                    .install()
                    .map_err(|e| format!("--otlp-endpoint {endpoint}: {e}"))?,
            ),
            None => None,
        };
        Ok(Sinks { metrics, otlp })
    }
}

/// The sink handed to the runtime and the transport: Prometheus, plus OTLP when on.
fn sink(
    metrics: &PrometheusMetrics,
    otlp: Option<&(SdkMeterProvider, OtelMetrics)>,
) -> Arc<dyn Metrics> {
    match otlp {
        Some((_, otel)) => Arc::new((metrics.clone(), otel.clone())),
        None => Arc::new(metrics.clone()),
    }
}

/// Runs `memberlist agent` until a signal; `log_level` is `--log-level` when given.
pub(crate) async fn run(mut args: AgentArgs, log_level: Option<&str>) -> Result<(), String> {
    let hooks = std::mem::take(&mut args.test_hooks);
    let mut settings = settings::resolve(args, log_level)?;
    let drop_rate = hooks.test_drop_rate.filter(|rate| *rate > 0.0);
    if drop_rate.is_some() && !matches!(settings.transport, TransportSettings::Net) {
        return Err("--test-drop-rate applies to --transport net only".into());
    }
    crate::init_logging(settings.log_level.as_deref().unwrap_or("info"))?;
    let signals = Signals::new();

    if let Some(addr) = settings.admin_http {
        let quic = matches!(settings.transport, TransportSettings::Quic { .. });
        crate::admin::check_admin_addr(addr, quic, settings.config.keyring.is_some())?;
    }
    let listeners = Listeners {
        http: listen(settings.http, "HTTP").await?,
        admin: listen(settings.admin_http, "the admin API").await?,
    };

    let sinks = Sinks::new(&settings)?;
    let bind = settings.bind;
    match std::mem::replace(&mut settings.transport, TransportSettings::Net) {
        TransportSettings::Net => {
            let mut options = NetTransportOptions::new(bind);
            if let Some(advertise) = settings.advertise {
                options = options.with_advertise(advertise);
            }
            let transport = NetTransport::with_options(options)
                .await
                .map_err(|e| format!("cannot bind {bind}: {e}"))?;
            match drop_rate {
                Some(rate) => {
                    let seed = hooks
                        .test_drop_seed
                        .unwrap_or_else(|| crate::faults::seed_for(settings.config.name()));
                    let lossy = crate::faults::lossy(transport, rate, seed);
                    let report = crate::faults::report;
                    run_node(lossy, "net", settings, sinks, listeners, signals, report).await
                }
                None => {
                    let report = |_: &NetTransport| {};
                    run_node(
                        transport, "net", settings, sinks, listeners, signals, report,
                    )
                    .await
                }
            }
        }
        TransportSettings::Quic { tls, mutual_tls } => {
            let mut config = QuicConfig::new(bind, *tls)
                .with_mutual_tls(mutual_tls)
                .with_metrics(sink(&sinks.metrics, sinks.otlp.as_ref()));
            if let Some(advertise) = settings.advertise {
                config = config.with_advertise(advertise);
            }
            let transport = QuicTransport::bind(config)
                .await
                .map_err(|e| format!("cannot start QUIC on {bind}: {e}"))?;
            let report = |_: &QuicTransport| {};
            run_node(
                transport, "quic", settings, sinks, listeners, signals, report,
            )
            .await
        }
    }
}

/// Listens on `addr` for `what`, when an address is given.
async fn listen(addr: Option<SocketAddr>, what: &str) -> Result<Option<TcpListener>, String> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = TcpListener::bind(addr).await;
    listener
        .map(Some)
        .map_err(|e| format!("cannot listen for {what} on {addr}: {e}"))
}

/// The local address of `listener` (for `what`), if there is one.
fn bound(listener: Option<&TcpListener>, what: &str) -> Result<Option<SocketAddr>, String> {
    let addr = listener.map(TcpListener::local_addr).transpose();
    addr.map_err(|e| format!("cannot read the {what} address: {e}"))
}

/// Runs an HTTP server on its own task, logging its failure.
fn spawn_server(
    server: impl Future<Output = Result<(), String>> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = server.await {
            error!("{e}");
        }
    })
}

/// The HTTP listeners: `--http` and `--admin-http`.
struct Listeners {
    http: Option<TcpListener>,
    admin: Option<TcpListener>,
}

/// Runs the node over `transport` (named `kind` in the logs) until a signal, then leaves and
/// shuts down; `report` then looks at the transport (the test hook logs its counts).
async fn run_node<T: Transport>(
    transport: T,
    kind: &'static str,
    settings: Settings,
    sinks: Sinks,
    listeners: Listeners,
    mut signals: Signals,
    report: fn(&T),
) -> Result<(), String> {
    let Listeners {
        http: http_listener,
        admin: admin_listener,
    } = listeners;
    let http_addr = bound(http_listener.as_ref(), "HTTP")?;
    let admin_addr = bound(admin_listener.as_ref(), "admin API")?;
    let delegate = AgentDelegate {
        meta: Bytes::from(settings.meta),
    };
    let Sinks { metrics, otlp } = sinks;
    let node: Node<T> = Memberlist::builder(settings.config.clone())
        .transport(transport)
        .delegate(delegate)
        .metrics(sink(&metrics, otlp.as_ref()))
        .start()
        .await
        .map_err(|e| format!("cannot start the node: {e}"))?;

    info!(
        name = node.name(),
        bind = %node.local_addr(),
        advertise = %node.advertise_addr(),
        http = %http_addr.map_or_else(|| "none".to_owned(), |a| a.to_string()),
        transport = kind,
        encrypted = settings.config.keyring.is_some() || kind == "quic",
        "agent started"
    );
    announce_start(&node, http_addr, admin_addr);

    tokio::spawn(log_events(node.clone()));
    // Both servers stop when `stop` is sent (or dropped).
    let (stop, stopped) = tokio::sync::watch::channel(());
    let on_stop = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.changed().await;
        }
    };
    let http_task = http_listener.map(|listener| {
        spawn_server(crate::http::serve(
            listener,
            node.clone(),
            metrics,
            on_stop(),
        ))
    });
    let admin_task = admin_listener
        .map(|listener| spawn_server(crate::admin::serve(listener, node.clone(), on_stop())));
    let joiner = tokio::spawn({
        let node = node.clone();
        async move {
            match node.join_seeds().await {
                Ok(_) | Err(JoinError::NoAddresses | JoinError::Shutdown) => {}
                Err(e) => warn!("{e}"),
            }
        }
    });

    let signal = signals.recv().await;
    info!(signal, "leaving the cluster");
    joiner.abort();
    tokio::select! {
        left = node.leave(LEAVE_TIMEOUT) => match left {
            Ok(()) => info!("left the cluster"),
            Err(e) => warn!("leave did not complete: {e}"),
        },
        again = signals.recv() => warn!(signal = again, "second signal: shutting down without waiting for the leave"),
    }
    node.shutdown().await;
    report(node.transport());
    let _ = stop.send(());
    if let Some(task) = admin_task {
        task.abort();
    }
    if let Some(task) = http_task {
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            warn!("the HTTP server did not stop within 2 s");
        }
    }
    if let Some((provider, _)) = otlp {
        // The last export, then the exporter's thread stops (blocking calls).
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = flushed {
            warn!("the last OTLP export failed: {e}");
        }
    }
    info!("shutdown complete");
    Ok(())
}

/// The startup line on stdout that scripts (and the tests) read. A closed stdout is not an
/// error: the agent keeps running.
fn announce_start<T: Transport>(
    node: &Node<T>,
    http: Option<SocketAddr>,
    admin: Option<SocketAddr>,
) {
    use std::io::Write as _;
    let admin = admin.map_or_else(String::new, |a| format!(" admin={a}"));
    let _ = writeln!(
        std::io::stdout().lock(),
        "memberlist agent started: name={} bind={} advertise={} http={}{admin}",
        node.name(),
        node.local_addr(),
        node.advertise_addr(),
        http.map_or_else(|| "none".to_owned(), |a| a.to_string()),
    );
}

/// Logs membership events until the node stops.
async fn log_events<T: Transport>(node: Node<T>) {
    let mut events = node.subscribe();
    while let Some(item) = events.recv().await {
        match item {
            Notification::Event { event, .. } => log_event(event),
            Notification::Snapshot(s) => info!(members = s.members.len(), "watching membership"),
            Notification::Lagged { missed, snapshot } => warn!(
                missed,
                members = snapshot.members.len(),
                "fell behind the membership events; resynchronised"
            ),
            other => debug!("membership notification: {other:?}"),
        }
    }
}

/// Logs one membership event.
fn log_event(event: MemberEvent) {
    match event {
        MemberEvent::Join(m) => info!(member = %m.name, addr = %m.addr, "member joined"),
        MemberEvent::Left(m) => info!(member = %m.name, state = %m.state, "member left"),
        MemberEvent::Failed(m) => info!(member = %m.name, state = %m.state, "member failed"),
        MemberEvent::Update(m) => info!(member = %m.name, "member updated its metadata"),
        MemberEvent::Changed(m) => debug!(
            member = %m.name,
            state = %m.state,
            incarnation = m.incarnation,
            "member changed"
        ),
        MemberEvent::Conflict { existing, other } => warn!(
            member = %existing.name,
            known = %existing.addr,
            claimed_by = %other.addr,
            "name conflict"
        ),
        other => info!(member = %other.member().name, "membership event: {other:?}"),
    }
}
