//! One demo node over either transport: UDP + TCP ([`NetTransport`]) or QUIC
//! ([`QuicTransport`], with a certificate from the demo's in-memory [`DevCa`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use memberlist::machine::State;
use memberlist::prelude::{Config, MemberInfo, Memberlist, NetTransport, Subscription};
use memberlist::quic::{DevCa, QuicConfig, QuicTransport};
use memberlist::{Error, JoinError};

use crate::agent::TransportKind;

/// Where the demo's nodes get their transport from.
pub(crate) enum Factory {
    /// UDP + TCP sockets.
    Net,
    /// QUIC endpoints with certificates from this CA.
    Quic(Box<DevCa>),
}

impl Factory {
    /// A factory for `kind`; QUIC generates the demo's CA.
    pub(crate) fn new(kind: TransportKind) -> Result<Self, String> {
        match kind {
            TransportKind::Net => Ok(Self::Net),
            TransportKind::Quic => DevCa::new("memberlist demo")
                .map(|ca| Self::Quic(Box::new(ca)))
                .map_err(|e| format!("cannot generate the demo CA: {e}")),
        }
    }

    /// How the header and the summary name the transport.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Net => "net (UDP + TCP)",
            Self::Quic(_) => "quic (QUIC + TLS 1.3, mutual TLS, development CA)",
        }
    }

    /// Starts node `name` with `config` on a 127.0.0.1 port chosen by the system.
    pub(crate) async fn start(&self, name: &str, config: Config) -> Result<Node, String> {
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let started = |e: Error| format!("{name}: cannot start: {e}");
        let builder = Memberlist::builder(config);
        match self {
            Self::Net => {
                let transport = NetTransport::bind(bind)
                    .await
                    .map_err(|e| format!("{name}: cannot bind {bind}: {e}"))?;
                let node = builder.transport(transport).start().await;
                node.map(Node::Net).map_err(started)
            }
            Self::Quic(ca) => {
                let tls = ca
                    .node_tls(name)
                    .map_err(|e| format!("{name}: cannot issue a certificate: {e}"))?;
                let transport = QuicTransport::bind(QuicConfig::new(bind, tls))
                    .await
                    .map_err(|e| format!("{name}: cannot start QUIC on {bind}: {e}"))?;
                let node = builder.transport(transport).start().await;
                node.map(Node::Quic).map_err(started)
            }
        }
    }
}

/// A running demo node.
#[derive(Clone)]
pub(crate) enum Node {
    /// Over UDP + TCP.
    Net(Memberlist<NetTransport>),
    /// Over QUIC.
    Quic(Memberlist<QuicTransport>),
}

/// Calls the same method on whichever handle the node holds.
macro_rules! each {
    ($node:expr, $n:ident => $body:expr) => {
        match $node {
            Node::Net($n) => $body,
            Node::Quic($n) => $body,
        }
    };
}

impl Node {
    /// The node's name.
    pub(crate) fn name(&self) -> &str {
        each!(self, n => n.name())
    }

    /// The address others join through.
    pub(crate) fn advertise_addr(&self) -> SocketAddr {
        each!(self, n => n.advertise_addr())
    }

    /// Joins through `addr`.
    pub(crate) async fn join(&self, addr: &str) -> Result<usize, JoinError> {
        each!(self, n => n.join([addr]).await)
    }

    /// Leaves gracefully, waiting at most `timeout` for the leave to spread.
    pub(crate) async fn leave(&self, timeout: Duration) -> Result<(), Error> {
        each!(self, n => n.leave(timeout).await)
    }

    /// Stops without leaving.
    pub(crate) async fn shutdown(&self) {
        each!(self, n => n.shutdown().await)
    }

    /// How many members this node sees in `state`.
    pub(crate) fn count_in_state(&self, state: State) -> usize {
        each!(self, n => n.count_in_state(state))
    }

    /// What this node knows of member `name`.
    pub(crate) fn member(&self, name: &str) -> Option<MemberInfo> {
        each!(self, n => n.member(name))
    }

    /// The node's membership events.
    pub(crate) fn subscribe(&self) -> Subscription {
        each!(self, n => n.subscribe())
    }
}
