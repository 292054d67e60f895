//! The tasks behind a [`QuicTransport`](crate::QuicTransport): accepting connections, dialling
//! them, serving each one (its datagrams and streams), and sending packets on one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use quinn::{Connection, Incoming, RecvStream, SendDatagramError, SendStream};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, trace, warn};

use crate::config::MAX_PACKET_SIZE;
use crate::pool::Waiting;
use crate::stats::{HandshakeFailure, bump};
use crate::stream::QuicStream;
use crate::transport::Inner;

/// The address as other nodes know it: IPv4-mapped IPv6 addresses become plain IPv4.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Accepts inbound connections until the endpoint closes, within the connection cap.
pub(crate) async fn accept_loop(inner: Arc<Inner>) {
    let mut closed = inner.closed.subscribe();
    loop {
        let incoming = tokio::select! {
            _ = closed.wait_for(|c| *c) => break,
            incoming = inner.endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        let Ok(slot) = inner.conn_slots.clone().try_acquire_owned() else {
            bump(&inner.counters.connections_refused);
            warn!(
                peer = %canonical(incoming.remote_address()),
                "refused a QUIC connection: connection limit reached"
            );
            incoming.refuse();
            continue;
        };
        tokio::spawn(handshake_inbound(inner.clone(), incoming, slot));
    }
    trace!("QUIC accept loop ended");
}

fn handshake_failed(
    inner: &Inner,
    peer: SocketAddr,
    error: &quinn::ConnectionError,
    dialing: bool,
) {
    let reason = HandshakeFailure::classify(error);
    inner.counters.handshake_failed(reason);
    if let (Some(sink), Some(refusal)) = (&inner.metrics, reason.refusal()) {
        sink.0
            .increment_declared(&crate::HANDSHAKES_REFUSED, refusal, 1);
    }
    let direction = if dialing { "dialling" } else { "accepting" };
    if reason == HandshakeFailure::Timeout || reason == HandshakeFailure::Other {
        debug!(%peer, reason = reason.as_str(), %error, "QUIC handshake failed ({direction})");
    } else {
        warn!(%peer, reason = reason.as_str(), %error, "QUIC handshake refused ({direction})");
    }
}

async fn handshake_inbound(inner: Arc<Inner>, incoming: Incoming, slot: OwnedSemaphorePermit) {
    let peer = canonical(incoming.remote_address());
    let connecting = match incoming.accept() {
        Ok(connecting) => connecting,
        Err(e) => return handshake_failed(&inner, peer, &e, false),
    };
    match tokio::time::timeout(inner.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => {
            bump(&inner.counters.connections_accepted);
            debug!(%peer, "accepted a QUIC connection");
            serve(inner, conn, peer, slot).await;
        }
        Ok(Err(e)) => handshake_failed(&inner, peer, &e, false),
        Err(_) => handshake_failed(&inner, peer, &quinn::ConnectionError::TimedOut, false),
    }
}

/// Dials `to` and, once connected, serves the connection. Whoever waits for the dial in the
/// pool is told the outcome.
pub(crate) async fn dial(inner: Arc<Inner>, to: SocketAddr) {
    let fail = |inner: &Inner, why: String| {
        let waiting = inner.pool.dial_failed(to);
        let dropped = waiting.pending.len() as u64;
        inner
            .counters
            .datagrams_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        for waiter in waiting.waiters {
            let _ = waiter.send(Err(why.clone()));
        }
    };
    let Ok(slot) = inner.conn_slots.clone().try_acquire_owned() else {
        bump(&inner.counters.connections_refused);
        debug!(peer = %to, "not dialling: connection limit reached");
        return fail(&inner, "connection limit reached".into());
    };
    let connecting = match inner.endpoint.connect(to, &inner.server_name) {
        Ok(connecting) => connecting,
        Err(e) => return fail(&inner, e.to_string()),
    };
    match tokio::time::timeout(inner.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => {
            bump(&inner.counters.connections_dialed);
            debug!(peer = %to, "dialled a QUIC connection");
            serve(inner, conn, to, slot).await;
        }
        Ok(Err(e)) => {
            handshake_failed(&inner, to, &e, true);
            fail(&inner, e.to_string());
        }
        Err(_) => {
            handshake_failed(&inner, to, &quinn::ConnectionError::TimedOut, true);
            fail(&inner, "QUIC handshake timed out".into());
        }
    }
}

/// Pools an established connection and serves it until it closes: its datagrams and
/// unidirectional streams go to the datagram queue, its bidirectional streams to the accept
/// queue. `slot` (one unit of the connection cap) is released when it ends.
async fn serve(inner: Arc<Inner>, conn: Connection, peer: SocketAddr, slot: OwnedSemaphorePermit) {
    bump(&inner.counters.connections_open);
    inner.wire.track(&conn);
    let Waiting { pending, waiters } = inner.pool.established(peer, &conn);
    for waiter in waiters {
        let _ = waiter.send(Ok(conn.clone()));
    }
    for packet in pending {
        send_on(&inner, &conn, peer, packet);
    }
    let mut closed = inner.closed.subscribe();
    loop {
        // Each branch takes its item in the poll that completes it, so losing the race
        // loses nothing.
        tokio::select! {
            _ = closed.wait_for(|c| *c) => break,
            datagram = conn.read_datagram() => match datagram {
                Ok(data) => deliver(&inner, data, peer),
                Err(_) => break,
            },
            uni = conn.accept_uni() => match uni {
                Ok(recv) => read_uni(&inner, recv, peer),
                Err(_) => break,
            },
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => inbound_stream(&inner, send, recv, peer),
                Err(_) => break,
            },
        }
    }
    if let Some(reason) = conn.close_reason() {
        debug!(%peer, %reason, "QUIC connection closed");
    }
    inner.pool.closed(peer, &conn);
    inner.wire.retire(&conn);
    inner
        .counters
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
    drop(slot);
}

/// Counts a packet to or from `peer` as dropped, and logs why.
fn dropped(inner: &Inner, peer: SocketAddr, why: impl std::fmt::Display) {
    bump(&inner.counters.datagrams_dropped);
    debug!(%peer, "dropped a packet: {why}");
}

fn deliver(inner: &Inner, data: Bytes, from: SocketAddr) {
    match inner.datagram_tx.try_send((data, from)) {
        Ok(()) => bump(&inner.counters.datagrams_received),
        Err(_) => dropped(inner, from, "datagram queue full"),
    }
}

/// A packet too large for a datagram arrives alone on a unidirectional stream.
fn read_uni(inner: &Arc<Inner>, mut recv: RecvStream, from: SocketAddr) {
    let Ok(slot) = inner.stream_slots.clone().try_acquire_owned() else {
        dropped(inner, from, "stream limit reached");
        let _ = recv.stop(0u32.into());
        return;
    };
    let inner = inner.clone();
    tokio::spawn(async move {
        let read = recv.read_to_end(MAX_PACKET_SIZE);
        match tokio::time::timeout(inner.handshake_timeout, read).await {
            Ok(Ok(data)) => deliver(&inner, Bytes::from(data), from),
            Ok(Err(e)) => dropped(&inner, from, format_args!("reading its stream failed: {e}")),
            Err(_) => dropped(&inner, from, "its stream stalled"),
        }
        drop(slot);
    });
}

fn inbound_stream(inner: &Inner, mut send: SendStream, mut recv: RecvStream, from: SocketAddr) {
    let Ok(slot) = inner.stream_slots.clone().try_acquire_owned() else {
        bump(&inner.counters.streams_refused);
        warn!(peer = %from, "refused a QUIC stream: stream limit reached");
        let _ = send.reset(0u32.into());
        let _ = recv.stop(0u32.into());
        return;
    };
    match inner
        .stream_tx
        .try_send((QuicStream::new(send, recv, Some(slot)), from))
    {
        Ok(()) => bump(&inner.counters.streams_accepted),
        Err(_) => {
            bump(&inner.counters.streams_refused);
            warn!(peer = %from, "refused a QUIC stream: accept queue full");
        }
    }
}

/// Sends one packet on `conn`: as a QUIC datagram when it fits, else alone on a
/// unidirectional stream. Never waits.
pub(crate) fn send_on(inner: &Arc<Inner>, conn: &Connection, to: SocketAddr, data: Bytes) {
    let fits = conn
        .max_datagram_size()
        .is_some_and(|max| data.len() <= max);
    if fits {
        // Cloning `Bytes` bumps a reference count and keeps the packet for the fallback.
        match conn.send_datagram(data.clone()) {
            Ok(()) => return bump(&inner.counters.datagrams_sent),
            // The path MTU shrank since the check (black-hole detection): use a stream.
            Err(SendDatagramError::TooLarge) => {}
            Err(e) => return dropped(inner, to, format_args!("sending a datagram failed: {e}")),
        }
    }
    let Ok(slot) = inner.stream_slots.clone().try_acquire_owned() else {
        return dropped(inner, to, "stream limit reached");
    };
    let inner = inner.clone();
    let conn = conn.clone();
    tokio::spawn(async move {
        let sent = tokio::time::timeout(inner.handshake_timeout, async {
            let mut send = conn.open_uni().await?;
            send.write_all(&data).await?;
            send.finish()?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .await;
        match sent {
            Ok(Ok(())) => bump(&inner.counters.datagrams_via_stream),
            Ok(Err(e)) => dropped(&inner, to, format_args!("sending its stream failed: {e}")),
            Err(_) => dropped(&inner, to, "sending its stream timed out"),
        }
        drop(slot);
    });
}
