//! # counting_transport: a transport of your own, wrapping another
//!
//! memberlist moves its bytes through the [`Transport`] trait: datagrams (UDP in
//! [`NetTransport`]) for probes and gossip, streams (TCP) for push/pull state exchanges and
//! reliable messages. This example writes a wrapper around any transport that counts what
//! goes through it — datagrams and their bytes, streams and their bytes — with atomic
//! counters, runs a small cluster over it and prints the totals.
//!
//! The same shape serves for other wrappers: delay or drop datagrams in tests, log traffic,
//! enforce a rate limit. Read the [`Transport`] documentation for what each method must
//! guarantee; a wrapper keeps those guarantees by forwarding, and by counting only *after*
//! the inner call completed (so `recv_from` and `accept` stay cancel-safe).
//!
//! Run it from the workspace root:
//!
//! ```text
//! cargo run --example counting_transport
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use memberlist::prelude::*;
use memberlist::transport::TransportError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Errors of this example: anything printable that can cross tasks.
pub type DynError = Box<dyn Error + Send + Sync>;

/// The counters, shared by the transport and every stream it hands out.
#[derive(Debug, Default)]
struct Counters {
    datagrams_sent: AtomicU64,
    datagram_bytes_sent: AtomicU64,
    datagrams_received: AtomicU64,
    datagram_bytes_received: AtomicU64,
    streams_opened: AtomicU64,
    streams_accepted: AtomicU64,
    stream_bytes_written: AtomicU64,
    stream_bytes_read: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    // Relaxed: each counter is independent and only read for reporting.
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// A snapshot of a [`CountingTransport`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams handed to the network.
    pub datagrams_sent: u64,
    /// Their bytes.
    pub datagram_bytes_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Their bytes.
    pub datagram_bytes_received: u64,
    /// Streams we dialed.
    pub streams_opened: u64,
    /// Streams peers dialed to us.
    pub streams_accepted: u64,
    /// Bytes written to streams, both kinds.
    pub stream_bytes_written: u64,
    /// Bytes read from streams, both kinds.
    pub stream_bytes_read: u64,
}

impl std::ops::Add for Traffic {
    type Output = Traffic;
    fn add(self, o: Traffic) -> Traffic {
        Traffic {
            datagrams_sent: self.datagrams_sent + o.datagrams_sent,
            datagram_bytes_sent: self.datagram_bytes_sent + o.datagram_bytes_sent,
            datagrams_received: self.datagrams_received + o.datagrams_received,
            datagram_bytes_received: self.datagram_bytes_received + o.datagram_bytes_received,
            streams_opened: self.streams_opened + o.streams_opened,
            streams_accepted: self.streams_accepted + o.streams_accepted,
            stream_bytes_written: self.stream_bytes_written + o.stream_bytes_written,
            stream_bytes_read: self.stream_bytes_read + o.stream_bytes_read,
        }
    }
}

/// Wraps a transport and counts the traffic through it.
#[derive(Debug)]
pub struct CountingTransport<T> {
    inner: T,
    counters: Arc<Counters>,
}

impl<T> CountingTransport<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            counters: Arc::default(),
        }
    }

    /// The counts so far.
    pub fn traffic(&self) -> Traffic {
        let c = &self.counters;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Traffic {
            datagrams_sent: get(&c.datagrams_sent),
            datagram_bytes_sent: get(&c.datagram_bytes_sent),
            datagrams_received: get(&c.datagrams_received),
            datagram_bytes_received: get(&c.datagram_bytes_received),
            streams_opened: get(&c.streams_opened),
            streams_accepted: get(&c.streams_accepted),
            stream_bytes_written: get(&c.stream_bytes_written),
            stream_bytes_read: get(&c.stream_bytes_read),
        }
    }
}

#[async_trait::async_trait]
impl<T: Transport> Transport for CountingTransport<T> {
    /// Streams are wrapped too, to count their bytes.
    type Stream = CountingStream<T::Stream>;

    fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.inner.max_datagram_size()
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        self.inner.send_to(to, data).await?;
        // Only what the inner transport accepted is counted.
        add(&self.counters.datagrams_sent, 1);
        add(&self.counters.datagram_bytes_sent, data.len());
        Ok(())
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        // Cancel-safe: no await between taking the datagram and returning it.
        let (data, from) = self.inner.recv_from().await?;
        add(&self.counters.datagrams_received, 1);
        add(&self.counters.datagram_bytes_received, data.len());
        Ok((data, from))
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<Self::Stream, TransportError> {
        let stream = self.inner.connect(to, deadline).await?;
        add(&self.counters.streams_opened, 1);
        Ok(CountingStream::new(stream, Arc::clone(&self.counters)))
    }

    async fn accept(&self) -> Result<(Self::Stream, SocketAddr), TransportError> {
        let (stream, from) = self.inner.accept().await?;
        add(&self.counters.streams_accepted, 1);
        Ok((
            CountingStream::new(stream, Arc::clone(&self.counters)),
            from,
        ))
    }

    async fn shutdown(&self) -> Result<(), TransportError> {
        self.inner.shutdown().await
    }
}

/// A stream that counts the bytes read from and written to the stream inside it.
#[derive(Debug)]
pub struct CountingStream<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> CountingStream<S> {
    fn new(inner: S, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }
}

// The inner stream is `Unpin` (the `Transport` trait requires it), so `Pin::new` reaches
// it without any unsafe pin projection.
impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            add(
                &self.counters.stream_bytes_read,
                buf.filled().len() - before,
            );
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            add(&self.counters.stream_bytes_written, n);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            add(&self.counters.stream_bytes_written, n);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A node of this example: memberlist over a counted UDP + TCP transport.
pub type Node = Memberlist<CountingTransport<NetTransport>>;

/// What the demo measured, per node, after every node stopped.
#[derive(Debug)]
pub struct Summary {
    /// Each node's name, its transport's counts and the number of datagrams its protocol
    /// machine says it received (from [`Memberlist::stats`]).
    pub nodes: Vec<(String, Traffic, u64)>,
    /// The sum over all nodes.
    pub total: Traffic,
}

/// Timers for a demo on one machine: the "local" preset, probing and gossiping faster, and a
/// push/pull every second so that streams are used.
pub fn demo_config(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.probe_interval = Duration::from_millis(200);
    config.protocol.gossip_interval = Duration::from_millis(50);
    config.protocol.push_pull_interval = Duration::from_secs(1);
    config
}

/// The demo: `n` nodes on 127.0.0.1 over counting transports run together for `run_for`
/// (one reliable message included), leave, stop, and report their traffic.
pub async fn run_demo(n: usize, run_for: Duration) -> Result<Summary, DynError> {
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    // 1. Start the nodes, each over its own counting wrapper around a NetTransport.
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let transport = CountingTransport::new(NetTransport::bind(localhost).await?);
        let node = Memberlist::builder(demo_config(&format!("node-{i}")))
            .transport(transport)
            .start()
            .await?;
        nodes.push(node);
    }
    // 2. Join them through the first (a push/pull over a stream each).
    let seed = match nodes.first() {
        Some(first) => first.advertise_addr().to_string(),
        None => return Err("the demo needs at least one node".into()),
    };
    for node in nodes.iter().skip(1) {
        node.join([&seed]).await?;
    }
    // 3. Let them probe and gossip for a while; send one reliable message (a stream).
    if let [first, second, ..] = nodes.as_slice() {
        wait_until("the first two nodes know each other", || {
            first.member(second.name()).is_some()
        })
        .await?;
        first
            .send_reliable(second.name(), b"hello over TCP")
            .await?;
    }
    tokio::time::sleep(run_for).await;

    // 4. Stop everything, then read the counters: nothing moves any more.
    for node in &nodes {
        node.leave(Duration::from_secs(5)).await?;
    }
    for node in &nodes {
        node.shutdown().await;
    }
    let mut summary = Summary {
        nodes: Vec::new(),
        total: Traffic::default(),
    };
    for node in &nodes {
        let traffic = node.transport().traffic();
        let machine_received = node.stats().protocol.packets_received;
        summary.total = summary.total + traffic;
        summary
            .nodes
            .push((node.name().to_owned(), traffic, machine_received));
    }
    Ok(summary)
}

/// Polls `check` every 50 ms until it holds, or fails after 30 s.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Result<(), DynError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Prints one row of the table.
fn print_row(name: &str, t: &Traffic) {
    println!(
        "{name:<8} {:>6} {:>9} {:>6} {:>9} {:>5} {:>5} {:>8} {:>8}",
        t.datagrams_sent,
        t.datagram_bytes_sent,
        t.datagrams_received,
        t.datagram_bytes_received,
        t.streams_opened,
        t.streams_accepted,
        t.stream_bytes_written,
        t.stream_bytes_read,
    );
}

/// The program: logging, then the demo (or a real node).
async fn run() -> Result<(), DynError> {
    // Logs go to stderr, filtered by RUST_LOG (warnings by default).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    println!("running 3 nodes for 3 seconds...");
    let summary = run_demo(3, Duration::from_secs(3)).await?;
    println!(
        "{:<8} {:>6} {:>9} {:>6} {:>9} {:>5} {:>5} {:>8} {:>8}",
        "node", "dg out", "bytes", "dg in", "bytes", "dial", "accpt", "st wr", "st rd"
    );
    for (name, traffic, _) in &summary.nodes {
        print_row(name, traffic);
    }
    print_row("total", &summary.total);
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Errors are printed for humans (their `Display`), with a failure exit status.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
