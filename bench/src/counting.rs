//! A transport wrapper counting the payload bytes a node sends: datagrams and stream writes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use memberlist_core::transport::{Transport, TransportError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a transport and counts the bytes sent through it (UDP payload + TCP payload,
/// headers excluded), the same quantity the Go peer counts in `-bench` mode.
#[derive(Debug)]
pub struct Counting<T> {
    inner: T,
    sent: Arc<AtomicU64>,
    stream_sent: Arc<AtomicU64>,
}

impl<T> Counting<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            sent: Arc::default(),
            stream_sent: Arc::default(),
        }
    }

    /// Bytes sent so far (datagrams and streams).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Of [`bytes_sent`](Self::bytes_sent), those written to streams (dialled or accepted).
    pub fn stream_bytes_sent(&self) -> u64 {
        self.stream_sent.load(Ordering::Relaxed)
    }

    /// A stream of the inner transport, counting into this wrapper's totals.
    fn wrap<S>(&self, inner: S) -> CountingStream<S> {
        CountingStream {
            inner,
            sent: Arc::clone(&self.sent),
            stream_sent: Arc::clone(&self.stream_sent),
        }
    }
}

#[async_trait::async_trait]
impl<T: Transport> Transport for Counting<T> {
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
        self.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        self.inner.recv_from().await
    }
    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<Self::Stream, TransportError> {
        let inner = self.inner.connect(to, deadline).await?;
        Ok(self.wrap(inner))
    }
    async fn accept(&self) -> Result<(Self::Stream, SocketAddr), TransportError> {
        let (inner, from) = self.inner.accept().await?;
        Ok((self.wrap(inner), from))
    }
    async fn shutdown(&self) -> Result<(), TransportError> {
        self.inner.shutdown().await
    }
}

/// A stream counting the bytes written to it.
#[derive(Debug)]
pub struct CountingStream<S> {
    inner: S,
    sent: Arc<AtomicU64>,
    stream_sent: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.sent.fetch_add(*n as u64, Ordering::Relaxed);
            self.stream_sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        poll
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &poll {
            self.sent.fetch_add(*n as u64, Ordering::Relaxed);
            self.stream_sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        poll
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
