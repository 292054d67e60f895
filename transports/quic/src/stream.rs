//! [`QuicStream`]: one bidirectional QUIC stream as a tokio byte stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use quinn::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

/// A bidirectional QUIC stream: quinn's send and receive halves joined into one
/// [`AsyncRead`] + [`AsyncWrite`] value, the [`Transport::Stream`] of
/// [`QuicTransport`](crate::QuicTransport).
///
/// [`poll_shutdown`](AsyncWrite::poll_shutdown) finishes the sending half (the peer reads end
/// of stream, like a TCP half-close). Dropping the stream finishes the sending half if it was
/// not already and tells the peer to stop sending; the connection itself stays open in the
/// pool. While it lives the stream holds one slot of the transport's total stream cap.
///
/// [`Transport::Stream`]: memberlist_core::transport::Transport::Stream
#[derive(Debug)]
pub struct QuicStream {
    send: SendStream,
    recv: RecvStream,
    _slot: Option<OwnedSemaphorePermit>,
}

impl QuicStream {
    pub(crate) fn new(
        send: SendStream,
        recv: RecvStream,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            send,
            recv,
            _slot: slot,
        }
    }
}

impl AsyncRead for QuicStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.recv).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.send), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(&mut self.send), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(Pin::new(&mut self.send), cx)
    }
}
