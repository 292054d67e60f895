//! The JSON lines the Go peer writes on stdout, parsed.

use std::net::IpAddr;

use serde_json::{Map, Value};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A node's state as the Go peer reports it (Go's `StateAlive`, `StateSuspect`, `StateDead`,
/// `StateLeft`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Alive.
    Alive,
    /// Suspected of having failed.
    Suspect,
    /// Declared dead by the failure detector.
    Dead,
    /// Left the cluster gracefully (its own dead message).
    Left,
}

impl NodeState {
    /// The name the Go peer uses: `alive`, `suspect`, `dead` or `left`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Suspect => "suspect",
            Self::Dead => "dead",
            Self::Left => "left",
        }
    }

    /// Parses the Go peer's name for a state.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "alive" => Self::Alive,
            "suspect" => Self::Suspect,
            "dead" => Self::Dead,
            "left" => Self::Left,
            _ => return None,
        })
    }

    /// Alive or suspect: the nodes Go's public `Members()` lists.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Alive | Self::Suspect)
    }
}

/// A node as the Go peer sees it: in node events, conflict events and member lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's name.
    pub name: String,
    /// The node's advertised IP address.
    pub addr: IpAddr,
    /// The node's advertised port.
    pub port: u16,
    /// The state Go holds for the node.
    pub state: NodeState,
    /// Go's incarnation number for the node, when the peer could read it (it reads Go's
    /// internal `nodeState`; `None` for the `other` node of a conflict event).
    pub incarnation: Option<u32>,
    /// The node's metadata.
    pub meta: Vec<u8>,
    /// Protocol versions `[pmin, pmax, pcur, dmin, dmax, dcur]` (memberlist's `Vsn`).
    pub vsn: Option<[u8; 6]>,
}

impl NodeInfo {
    /// The node's advertised address as a socket address.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.addr, self.port)
    }
}

/// One line of the Go peer's output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The node is up: its name and the address it advertises.
    Ready {
        /// The node's name.
        name: String,
        /// The advertised IP address.
        addr: IpAddr,
        /// The advertised port (the bound one when started with port 0).
        port: u16,
    },
    /// `EventDelegate.NotifyJoin` (also fired for the local node at start-up).
    Join(NodeInfo),
    /// `EventDelegate.NotifyLeave`: the node is dead or left (see its `state`).
    Leave(NodeInfo),
    /// `EventDelegate.NotifyUpdate`: the node's metadata changed.
    Update(NodeInfo),
    /// `Delegate.NotifyMsg`: a user message (sent directly or by broadcast) arrived.
    Message(Vec<u8>),
    /// `Delegate.MergeRemoteState`: a push/pull brought the remote node's local state.
    RemoteState {
        /// Whether the push/pull was part of a join.
        join: bool,
        /// The remote node's `LocalState`.
        data: Vec<u8>,
    },
    /// `ConflictDelegate.NotifyConflict`: another node claims a known node's name.
    Conflict {
        /// The node Go knows.
        existing: NodeInfo,
        /// The node that claimed the same name.
        other: NodeInfo,
    },
    /// The reply to a `members` command.
    Members {
        /// Every node Go knows, with its state (alive, suspect, dead and left) when
        /// `complete`; otherwise only what Go's public `Members()` lists (alive and suspect).
        members: Vec<NodeInfo>,
        /// Go's `NumMembers()`: the number of nodes that are not dead or left.
        num_members: usize,
        /// Whether `members` includes dead and left nodes.
        complete: bool,
        /// The command's `id`, if it had one.
        id: Option<u64>,
    },
    /// The result of a join (at start-up with `-join`, or a `join` command).
    Joined {
        /// How many nodes were contacted (Go's `Join` return value).
        contacted: usize,
        /// Go's error, if the join failed.
        error: Option<String>,
        /// The command's `id`, if it had one (none for the start-up join).
        id: Option<u64>,
    },
    /// A command succeeded.
    Ok {
        /// The command's name.
        cmd: String,
        /// The command's `id`, if it had one.
        id: Option<u64>,
    },
    /// A command failed (or a line on stdin was not a command).
    Error {
        /// The command's name, if the line could be parsed.
        cmd: Option<String>,
        /// What went wrong.
        error: String,
        /// The command's `id`, if it had one.
        id: Option<u64>,
    },
    /// `PingDelegate.NotifyPingComplete` (only with `ping_events`).
    Ping {
        /// The probed node.
        node: String,
        /// Round-trip time in milliseconds.
        rtt_ms: f64,
    },
    /// A line this crate does not know (kept as JSON, or as a string if it was not JSON).
    Other(Value),
}

impl Event {
    /// Parses one stdout line; lines it does not understand become [`Event::Other`].
    pub fn parse_line(line: &str) -> Event {
        match serde_json::from_str::<Value>(line) {
            Ok(value) => value
                .as_object()
                .and_then(parse_object)
                .unwrap_or(Event::Other(value)),
            Err(_) => Event::Other(Value::String(line.to_owned())),
        }
    }

    /// The node a join, leave or update event is about.
    pub fn node(&self) -> Option<&NodeInfo> {
        match self {
            Event::Join(n) | Event::Leave(n) | Event::Update(n) => Some(n),
            _ => None,
        }
    }
}

fn parse_object(obj: &Map<String, Value>) -> Option<Event> {
    let kind = obj.get("event")?.as_str()?;
    Some(match kind {
        "ready" => Event::Ready {
            name: string(obj, "name")?,
            addr: string(obj, "addr")?.parse().ok()?,
            port: u16::try_from(obj.get("port")?.as_u64()?).ok()?,
        },
        "join" => Event::Join(node_info(obj)?),
        "leave" => Event::Leave(node_info(obj)?),
        "update" => Event::Update(node_info(obj)?),
        "message" => Event::Message(bytes(obj, "data")?),
        "remote_state" => Event::RemoteState {
            join: obj.get("join")?.as_bool()?,
            data: bytes(obj, "data")?,
        },
        "conflict" => Event::Conflict {
            existing: node_info(obj.get("existing")?.as_object()?)?,
            other: node_info(obj.get("other")?.as_object()?)?,
        },
        "members" => {
            let members = obj
                .get("members")?
                .as_array()?
                .iter()
                .map(|m| m.as_object().and_then(node_info))
                .collect::<Option<Vec<_>>>()?;
            Event::Members {
                members,
                num_members: usize::try_from(obj.get("num_members")?.as_u64()?).ok()?,
                complete: obj.get("source").and_then(Value::as_str) == Some("all"),
                id: id(obj),
            }
        }
        "joined" => Event::Joined {
            contacted: usize::try_from(obj.get("contacted")?.as_u64()?).ok()?,
            error: string(obj, "error"),
            id: id(obj),
        },
        "ok" => Event::Ok {
            cmd: string(obj, "cmd")?,
            id: id(obj),
        },
        "error" => Event::Error {
            cmd: string(obj, "cmd"),
            error: string(obj, "error")?,
            id: id(obj),
        },
        "ping" => Event::Ping {
            node: string(obj, "node")?,
            rtt_ms: obj.get("rtt_ms")?.as_f64()?,
        },
        _ => return None,
    })
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)?.as_str().map(str::to_owned)
}

fn id(obj: &Map<String, Value>) -> Option<u64> {
    obj.get("id").and_then(Value::as_u64)
}

/// `key` as a UTF-8 string, or `key_b64` as base64.
fn bytes(obj: &Map<String, Value>, key: &str) -> Option<Vec<u8>> {
    if let Some(s) = obj.get(key).and_then(Value::as_str) {
        return Some(s.as_bytes().to_vec());
    }
    STANDARD
        .decode(obj.get(&format!("{key}_b64"))?.as_str()?)
        .ok()
}

fn node_info(obj: &Map<String, Value>) -> Option<NodeInfo> {
    let name = string(obj, "name").or_else(|| string(obj, "node"))?;
    let vsn = obj.get("vsn").and_then(Value::as_array).and_then(|v| {
        let v = v
            .iter()
            .map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
            .collect::<Option<Vec<u8>>>()?;
        <[u8; 6]>::try_from(v).ok()
    });
    Some(NodeInfo {
        name,
        addr: string(obj, "addr")?.parse().ok()?,
        port: u16::try_from(obj.get("port")?.as_u64()?).ok()?,
        state: NodeState::parse(obj.get("state")?.as_str()?)?,
        incarnation: obj
            .get("incarnation")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok()),
        meta: bytes(obj, "meta").unwrap_or_default(),
        vsn,
    })
}

#[cfg(test)]
mod tests {
    use super::{Event, NodeState};

    #[test]
    fn parses_the_peer_lines() {
        let e = Event::parse_line(
            r#"{"addr":"127.0.0.1","event":"leave","incarnation":2,"meta":"m2","node":"b","port":46415,"state":"dead","vsn":[1,5,2,0,0,0]}"#,
        );
        let n = e.node().expect("node event");
        assert!(matches!(e, Event::Leave(_)));
        assert_eq!(n.name, "b");
        assert_eq!(n.state, NodeState::Dead);
        assert_eq!(n.incarnation, Some(2));
        assert_eq!(n.meta, b"m2");
        assert_eq!(n.vsn, Some([1, 5, 2, 0, 0, 0]));
        assert_eq!(n.socket_addr().to_string(), "127.0.0.1:46415");

        let e = Event::parse_line(r#"{"event":"message","data_b64":"/wA="}"#);
        assert_eq!(e, Event::Message(vec![0xff, 0]));

        let e = Event::parse_line(
            r#"{"event":"members","id":7,"num_members":1,"source":"all","members":[{"addr":"127.0.0.1","incarnation":1,"meta":"","name":"a","port":1,"state":"alive","vsn":[1,5,2,0,0,0]}]}"#,
        );
        match e {
            Event::Members {
                members,
                num_members,
                complete,
                id,
            } => {
                assert_eq!(members.len(), 1);
                assert_eq!(num_members, 1);
                assert!(complete);
                assert_eq!(id, Some(7));
            }
            other => panic!("unexpected {other:?}"),
        }

        let e = Event::parse_line(r#"{"contacted":0,"error":"boom","event":"joined"}"#);
        assert_eq!(
            e,
            Event::Joined {
                contacted: 0,
                error: Some("boom".into()),
                id: None
            }
        );
        let e = Event::parse_line(r#"{"cmd":null,"error":"bad","event":"error"}"#);
        assert_eq!(
            e,
            Event::Error {
                cmd: None,
                error: "bad".into(),
                id: None
            }
        );
    }

    #[test]
    fn unknown_lines_are_kept() {
        assert!(matches!(Event::parse_line("not json"), Event::Other(_)));
        assert!(matches!(
            Event::parse_line(r#"{"event":"new-thing"}"#),
            Event::Other(_)
        ));
        assert!(matches!(
            Event::parse_line(r#"{"event":"join","node":"x"}"#),
            Event::Other(_)
        ));
    }
}
