//! [`MemoryTransport`]: one endpoint of a [`MemoryNetwork`].

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use memberlist_core::transport::{IoOp, Transport, TransportError};
use tokio::io::DuplexStream;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use super::network::{Datagram, Inbound, MemoryNetwork};

/// Bytes a stream buffers each way before a writer waits for the reader.
const STREAM_BUFFER: usize = 64 * 1024;

/// The largest datagram an endpoint sends: UDP's over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// An endpoint of a [`MemoryNetwork`], from [`MemoryNetwork::bind`] or
/// [`MemoryNetwork::endpoint`]: a [`Transport`] whose datagrams and streams go through the
/// network's channels and pipes, subject to its loss, latency and cuts. Its advertise address
/// and local address are the address it was bound to; its largest datagram is 65,507 bytes.
///
/// Shutting it down, or dropping it, frees its address: datagrams to it are then lost and
/// dials refused.
#[derive(Debug)]
pub struct MemoryTransport {
    addr: SocketAddr,
    id: u64,
    network: MemoryNetwork,
    datagrams: Mutex<mpsc::UnboundedReceiver<Datagram>>,
    streams: Mutex<mpsc::UnboundedReceiver<Inbound>>,
    closed: watch::Sender<bool>,
}

impl MemoryTransport {
    pub(crate) fn new(
        addr: SocketAddr,
        id: u64,
        network: MemoryNetwork,
        datagrams: mpsc::UnboundedReceiver<Datagram>,
        streams: mpsc::UnboundedReceiver<Inbound>,
    ) -> Self {
        Self {
            addr,
            id,
            network,
            datagrams: Mutex::new(datagrams),
            streams: Mutex::new(streams),
            closed: watch::Sender::new(false),
        }
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// The next datagram or stream of `rx`, or [`TransportError::Shutdown`] once closed.
    /// Cancel-safe: an item is either returned or stays in the channel.
    async fn next<T>(&self, rx: &Mutex<mpsc::UnboundedReceiver<T>>) -> Result<T, TransportError> {
        let mut closed = self.closed.subscribe();
        let mut rx = rx.lock().await;
        tokio::select! {
            _ = closed.wait_for(|closed| *closed) => Err(TransportError::Shutdown),
            item = rx.recv() => item.ok_or(TransportError::Shutdown),
        }
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        self.network.unregister(self.addr, self.id);
    }
}

#[async_trait::async_trait]
impl Transport for MemoryTransport {
    type Stream = DuplexStream;

    fn advertise_addr(&self) -> SocketAddr {
        self.addr
    }

    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn max_datagram_size(&self) -> usize {
        MAX_DATAGRAM
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        if self.is_closed() {
            return Err(TransportError::Shutdown);
        }
        if data.len() > MAX_DATAGRAM {
            let (len, max) = (data.len(), MAX_DATAGRAM);
            return Err(TransportError::DatagramTooLarge { len, max });
        }
        self.network
            .send_datagram(self.addr, to, Bytes::copy_from_slice(data));
        Ok(())
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        self.next(&self.datagrams).await
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<DuplexStream, TransportError> {
        if self.is_closed() {
            return Err(TransportError::Shutdown);
        }
        // The deadline is on tokio's clock (see `Transport::connect`).
        let deadline = Instant::from_std(deadline);
        if deadline <= Instant::now() {
            return Err(TransportError::Timeout);
        }
        let refused = || {
            let err = io::Error::from(io::ErrorKind::ConnectionRefused);
            TransportError::io(IoOp::Connect(to), err)
        };
        let (listener, round_trip) = match self.network.dial(self.addr, to) {
            Ok(route) => route,
            // Across a cut, nothing answers: the dial times out.
            Err(true) => {
                tokio::time::sleep_until(deadline).await;
                return Err(TransportError::Timeout);
            }
            Err(false) => return Err(refused()),
        };
        if !round_trip.is_zero() {
            if Instant::now() + round_trip >= deadline {
                tokio::time::sleep_until(deadline).await;
                return Err(TransportError::Timeout);
            }
            tokio::time::sleep(round_trip).await;
        }
        let (ours, theirs) = tokio::io::duplex(STREAM_BUFFER);
        listener.send((theirs, self.addr)).map_err(|_| refused())?;
        Ok(ours)
    }

    async fn accept(&self) -> Result<(DuplexStream, SocketAddr), TransportError> {
        self.next(&self.streams).await
    }

    async fn shutdown(&self) -> Result<(), TransportError> {
        self.closed.send_replace(true);
        self.network.unregister(self.addr, self.id);
        Ok(())
    }
}
