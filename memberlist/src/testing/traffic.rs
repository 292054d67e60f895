//! What an [`Intercept`](super::Intercept) counts: the shared atomic counters, their
//! [`Traffic`] snapshot, and [`CountedStream`], the stream wrapper that counts stream bytes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The counters of one wrapper, shared with every stream it hands out.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) datagrams_sent: AtomicU64,
    pub(crate) datagram_bytes_sent: AtomicU64,
    pub(crate) datagrams_dropped: AtomicU64,
    pub(crate) datagrams_delayed: AtomicU64,
    pub(crate) datagrams_received: AtomicU64,
    pub(crate) datagram_bytes_received: AtomicU64,
    pub(crate) streams_opened: AtomicU64,
    pub(crate) streams_refused: AtomicU64,
    pub(crate) streams_accepted: AtomicU64,
    pub(crate) stream_bytes_written: AtomicU64,
    pub(crate) stream_bytes_read: AtomicU64,
}

/// Adds `n` to `counter`. Relaxed: each counter is independent and only read for reports.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Traffic {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Traffic {
            datagrams_sent: get(&self.datagrams_sent),
            datagram_bytes_sent: get(&self.datagram_bytes_sent),
            datagrams_dropped: get(&self.datagrams_dropped),
            datagrams_delayed: get(&self.datagrams_delayed),
            datagrams_received: get(&self.datagrams_received),
            datagram_bytes_received: get(&self.datagram_bytes_received),
            streams_opened: get(&self.streams_opened),
            streams_refused: get(&self.streams_refused),
            streams_accepted: get(&self.streams_accepted),
            stream_bytes_written: get(&self.stream_bytes_written),
            stream_bytes_read: get(&self.stream_bytes_read),
        }
    }
}

/// A snapshot of what went through an [`Intercept`](super::Intercept). Snapshots add up
/// (`+`, `sum()`), to total a cluster.
///
/// ```
/// use memberlist::testing::Traffic;
///
/// let (mut a, mut b) = (Traffic::default(), Traffic::default());
/// (a.datagrams_sent, a.datagram_bytes_sent) = (2, 100);
/// (b.datagrams_sent, b.stream_bytes_written) = (3, 50);
/// let total: Traffic = [a, b].into_iter().sum();
/// assert_eq!((total.datagrams_sent, total.bytes_sent()), (5, 150));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Datagrams handed on to the inner transport (at once or after a delay).
    pub datagrams_sent: u64,
    /// Their bytes.
    pub datagram_bytes_sent: u64,
    /// Datagrams the policy dropped (not in `datagrams_sent`).
    pub datagrams_dropped: u64,
    /// Of `datagrams_sent`, those the policy delayed.
    pub datagrams_delayed: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Their bytes.
    pub datagram_bytes_received: u64,
    /// Streams this node dialed.
    pub streams_opened: u64,
    /// Dials the policy refused.
    pub streams_refused: u64,
    /// Streams peers dialed to this node.
    pub streams_accepted: u64,
    /// Bytes written to streams, dialed or accepted.
    pub stream_bytes_written: u64,
    /// Bytes read from streams, dialed or accepted.
    pub stream_bytes_read: u64,
}

impl Traffic {
    /// Payload bytes sent: datagram bytes plus stream bytes written (headers of the
    /// protocols underneath excluded).
    pub fn bytes_sent(&self) -> u64 {
        self.datagram_bytes_sent + self.stream_bytes_written
    }
}

impl std::ops::Add for Traffic {
    type Output = Traffic;
    fn add(self, o: Traffic) -> Traffic {
        Traffic {
            datagrams_sent: self.datagrams_sent + o.datagrams_sent,
            datagram_bytes_sent: self.datagram_bytes_sent + o.datagram_bytes_sent,
            datagrams_dropped: self.datagrams_dropped + o.datagrams_dropped,
            datagrams_delayed: self.datagrams_delayed + o.datagrams_delayed,
            datagrams_received: self.datagrams_received + o.datagrams_received,
            datagram_bytes_received: self.datagram_bytes_received + o.datagram_bytes_received,
            streams_opened: self.streams_opened + o.streams_opened,
            streams_refused: self.streams_refused + o.streams_refused,
            streams_accepted: self.streams_accepted + o.streams_accepted,
            stream_bytes_written: self.stream_bytes_written + o.stream_bytes_written,
            stream_bytes_read: self.stream_bytes_read + o.stream_bytes_read,
        }
    }
}

impl std::iter::Sum for Traffic {
    fn sum<I: Iterator<Item = Traffic>>(iter: I) -> Traffic {
        iter.fold(Traffic::default(), |a, b| a + b)
    }
}

/// A stream of an [`Intercept`](super::Intercept)'s inner transport, counting the bytes read
/// from and written to it into the wrapper's [`Traffic`].
#[derive(Debug)]
pub struct CountedStream<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> CountedStream<S> {
    pub(crate) fn new(inner: S, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream inside, no longer counted.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

// The inner stream is `Unpin` (the `Transport` trait requires it), so `Pin::new` reaches it
// without any pin projection.
impl<S: AsyncRead + Unpin> AsyncRead for CountedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let read = buf.filled().len().saturating_sub(before);
            add(&self.counters.stream_bytes_read, read);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountedStream<S> {
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
