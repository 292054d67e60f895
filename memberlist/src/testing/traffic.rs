//! What an [`Intercept`](super::Intercept) counts: the shared atomic counters, their
//! [`Traffic`] snapshot, and [`CountedStream`], the stream wrapper that counts stream bytes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Adds `n` to `counter`. Relaxed: each counter is independent and only read for reports.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// Declares a public struct of `u64` counts, which add up (`+`, `sum()`), and a crate-private
/// struct of the same fields as [`AtomicU64`]s whose `snapshot` reads them.
macro_rules! counts {
    ($(#[$meta:meta])* pub struct $name:ident, counted by $counters:ident {
        $( $(#[$doc:meta])* $field:ident, )*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl std::ops::Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name { $( $field: self.$field + o.$field, )* }
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = $name>>(iter: I) -> $name {
                iter.fold($name::default(), |a, b| a + b)
            }
        }

        #[derive(Debug, Default)]
        pub(crate) struct $counters {
            $( pub(crate) $field: std::sync::atomic::AtomicU64, )*
        }

        impl $counters {
            pub(crate) fn snapshot(&self) -> $name {
                $name { $( $field: self.$field.load(std::sync::atomic::Ordering::Relaxed), )* }
            }
        }
    };
}
pub(crate) use counts;

counts! {
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
    pub struct Traffic, counted by Counters {
        /// Datagrams handed on to the inner transport (at once or after a delay).
        datagrams_sent,
        /// Their bytes.
        datagram_bytes_sent,
        /// Datagrams the policy dropped (not in `datagrams_sent`).
        datagrams_dropped,
        /// Of `datagrams_sent`, those the policy delayed.
        datagrams_delayed,
        /// Datagrams received.
        datagrams_received,
        /// Their bytes.
        datagram_bytes_received,
        /// Streams this node dialed.
        streams_opened,
        /// Dials the policy refused.
        streams_refused,
        /// Streams peers dialed to this node.
        streams_accepted,
        /// Bytes written to streams, dialed or accepted.
        stream_bytes_written,
        /// Bytes read from streams, dialed or accepted.
        stream_bytes_read,
    }
}

impl Traffic {
    /// Payload bytes sent: datagram bytes plus stream bytes written (headers of the
    /// protocols underneath excluded).
    pub fn bytes_sent(&self) -> u64 {
        self.datagram_bytes_sent + self.stream_bytes_written
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
