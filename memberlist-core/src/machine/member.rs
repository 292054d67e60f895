//! The public view of one member, and its state.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use smol_str::SmolStr;

use crate::wire::{IpBytes, NodeState, PushNodeStateRef, Vsn};

/// A node's state in the membership table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Answering probes.
    Alive,
    /// Suspected of having failed; it can still refute.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left the cluster gracefully.
    Left,
}

impl State {
    /// The wire form used in push/pull.
    pub fn to_wire(self) -> NodeState {
        match self {
            Self::Alive => NodeState::Alive,
            Self::Suspect => NodeState::Suspect,
            Self::Dead => NodeState::Dead,
            Self::Left => NodeState::Left,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        self.to_wire().as_str()
    }

    /// Dead or left: no longer a member.
    pub fn is_gone(self) -> bool {
        matches!(self, Self::Dead | Self::Left)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node as this member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Unique name.
    pub name: SmolStr,
    /// Advertised IP, raw bytes as advertised.
    pub addr: IpBytes,
    /// Advertised port.
    pub port: u16,
    /// Delegate metadata.
    pub meta: Bytes,
    /// Incarnation number.
    pub incarnation: u32,
    /// Current state.
    pub state: State,
    /// When `state` last changed.
    pub state_change: Instant,
    /// Protocol and delegate versions.
    pub vsn: Vsn,
}

impl Member {
    /// The entry a push/pull carries for this member, borrowed.
    pub fn as_push_state(&self) -> PushNodeStateRef<'_> {
        PushNodeStateRef {
            name: &self.name,
            addr: self.addr,
            port: self.port,
            meta: &self.meta,
            incarnation: self.incarnation,
            state: self.state.to_wire(),
            vsn: self.vsn,
        }
    }

    /// The node's address, if its IP bytes form one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.addr.to_ip().map(|ip| SocketAddr::new(ip, self.port))
    }

    /// Highest protocol version the node understands (0 when unknown).
    pub fn protocol_max(&self) -> u8 {
        self.vsn.protocol_max().unwrap_or(0)
    }
}
