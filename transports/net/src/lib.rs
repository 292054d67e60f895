//! # memberlist-net
//!
//! The default [`Transport`] of memberlist-rs: UDP datagrams and TCP streams on one port, on
//! [tokio](https://tokio.rs), interoperable with Go memberlist's `NetTransport` (same port for
//! UDP and TCP, same way of choosing a port and an advertise address, same buffer sizes).
//!
//! ```
//! use memberlist_net::{NetTransport, NetTransportOptions, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Port 0 picks a free port; UDP and TCP get the same one.
//! let transport = NetTransport::bind("127.0.0.1:0".parse()?).await?;
//! println!("reachable at {}", transport.advertise_addr());
//!
//! // Behind NAT or in a container, say where others reach this node.
//! let options = NetTransportOptions::new("127.0.0.1:0".parse()?)
//!     .with_advertise("198.51.100.20:7946".parse()?);
//! let behind_nat = NetTransport::with_options(options).await?;
//! assert_eq!(behind_nat.advertise_addr(), "198.51.100.20:7946".parse()?);
//! # Ok(())
//! # }
//! ```
//!
//! See [`NetTransport`] for how binding, receiving and the advertise address work, and
//! [`memberlist_core::transport`] for the contract every transport fulfils.
#![forbid(unsafe_code)]

mod advertise;
mod options;
mod socket;
mod transport;

pub use memberlist_core::transport::{Transport, TransportError};
pub use options::{
    DEFAULT_BIND_ATTEMPTS, DEFAULT_PORT, DEFAULT_UDP_RECV_BUFFER, NetTransportOptions,
};
pub use transport::{
    MAX_DATAGRAM_SIZE_V4, MAX_DATAGRAM_SIZE_V6, NetTransport, UDP_PACKET_BUF_SIZE,
};
