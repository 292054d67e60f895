//! What a transport put on the wire: the UDP datagrams and bytes of every QUIC connection it
//! served (handshakes, acknowledgements, retransmissions and TLS overhead included), from
//! quinn's per-connection statistics. Live connections are read at snapshot time; a
//! connection's final figures are kept when it closes.

use std::collections::HashMap;
use std::sync::Mutex;

use quinn::Connection;

/// UDP traffic of a transport's QUIC connections, in both directions (monotonic).
///
/// Bytes are UDP payload bytes (QUIC packets), without the IP and UDP headers. Packets of
/// handshakes that never completed are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// UDP datagrams sent.
    pub udp_datagrams_sent: u64,
    /// Their bytes.
    pub udp_bytes_sent: u64,
    /// UDP datagrams received.
    pub udp_datagrams_received: u64,
    /// Their bytes.
    pub udp_bytes_received: u64,
    /// Packets quinn's loss detection declared lost (their datagrams are gone; stream data
    /// is sent again).
    pub lost_packets: u64,
}

impl WireStats {
    fn of(conn: &Connection) -> Self {
        let s = conn.stats();
        Self {
            udp_datagrams_sent: s.udp_tx.datagrams,
            udp_bytes_sent: s.udp_tx.bytes,
            udp_datagrams_received: s.udp_rx.datagrams,
            udp_bytes_received: s.udp_rx.bytes,
            lost_packets: s.path.lost_packets,
        }
    }

    fn add(&mut self, o: Self) {
        self.udp_datagrams_sent += o.udp_datagrams_sent;
        self.udp_bytes_sent += o.udp_bytes_sent;
        self.udp_datagrams_received += o.udp_datagrams_received;
        self.udp_bytes_received += o.udp_bytes_received;
        self.lost_packets += o.lost_packets;
    }
}

#[derive(Debug, Default)]
struct State {
    live: HashMap<usize, Connection>,
    closed: WireStats,
}

/// The connections being served, and the totals of those that closed.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    state: Mutex<State>,
}

impl Wire {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Never held across an await nor while anything can panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts counting `conn`.
    pub(crate) fn track(&self, conn: &Connection) {
        self.lock().live.insert(conn.stable_id(), conn.clone());
    }

    /// `conn` closed: keep its final figures.
    pub(crate) fn retire(&self, conn: &Connection) {
        let mut state = self.lock();
        if state.live.remove(&conn.stable_id()).is_some() {
            state.closed.add(WireStats::of(conn));
        }
    }

    /// The totals now.
    pub(crate) fn snapshot(&self) -> WireStats {
        let state = self.lock();
        let mut total = state.closed;
        for conn in state.live.values() {
            total.add(WireStats::of(conn));
        }
        total
    }
}
