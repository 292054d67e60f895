//! State-change messages spread by gossip: `alive`, `suspect`, `dead`.

use bytes::Bytes;
use smol_str::SmolStr;

use super::field::{NilBytes, Str, Uint};
use super::go_struct::go_struct;
use super::ip::IpBytes;
use super::node::Vsn;

/// Announces that a node is alive, with its address, metadata and versions (`alive`, type 4).
///
/// ```
/// use bytes::Bytes;
/// use memberlist_core::wire::{Alive, IpBytes, Vsn, WireMessage};
///
/// let alive = Alive {
///     incarnation: 1,
///     node: "node-a".into(),
///     addr: IpBytes::from([10, 0, 0, 1]),
///     port: 7946,
///     meta: Bytes::new(),
///     vsn: Vsn::default_advertised(),
/// };
/// assert_eq!(alive.encoded_len(), 62);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alive {
    /// The node's incarnation number.
    pub incarnation: u32,
    /// Node name.
    pub node: SmolStr,
    /// IP as raw 4 or 16 bytes, relayed unchanged.
    pub addr: IpBytes,
    /// Port.
    pub port: u16,
    /// Delegate metadata (empty is written as nil).
    pub meta: Bytes,
    /// Protocol and delegate versions.
    pub vsn: Vsn,
}

go_struct! {
    message Alive = Alive {
        "Addr" => addr: NilBytes;
        "Incarnation" => incarnation: Uint;
        "Meta" => meta: NilBytes;
        "Node" => node: Str;
        "Port" => port: Uint;
        "Vsn" => vsn: NilBytes;
    }
}

macro_rules! accusation {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            /// The accused node's incarnation this message refers to.
            pub incarnation: u32,
            /// The node the message is about.
            pub node: SmolStr,
            /// The node making the statement.
            pub from: SmolStr,
        }

        go_struct! {
            message $name = $name {
                "From" => from: Str;
                "Incarnation" => incarnation: Uint;
                "Node" => node: Str;
            }
        }
    };
}

accusation!(
    /// `from` suspects `node` at `incarnation` (`suspect`, type 3).
    Suspect
);

accusation!(
    /// `from` declares `node` dead at `incarnation` (`dead`, type 5). When `from == node` it is
    /// a graceful leave.
    Dead
);

impl Dead {
    /// Whether this is a graceful leave (the node announced its own departure).
    pub fn is_leave(&self) -> bool {
        self.from == self.node
    }
}
