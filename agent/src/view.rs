//! The JSON documents of the agent's HTTP API, shared by the server (`agent`) and the client
//! (`members`).
//!
//! `GET /members` returns an array of [`MemberView`]:
//!
//! ```json
//! [{"name": "a", "addr": "127.0.0.1", "port": 7946, "state": "alive", "incarnation": 1,
//!   "meta": {"role": "web"}}]
//! ```
//!
//! `meta` is present when the node's metadata is Serf-style tags (see [`crate::meta`]) or
//! empty (`{}`); otherwise the raw metadata is given as standard base64 in `meta_base64`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memberlist::machine::Member;
use serde::{Deserialize, Serialize};

use crate::meta::decode_tags;

/// One member as `GET /members` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberView {
    /// The node's name.
    pub(crate) name: String,
    /// Its advertised IP address (empty if the bytes it advertised form none).
    pub(crate) addr: String,
    /// Its advertised port.
    pub(crate) port: u16,
    /// `alive`, `suspect`, `dead` or `left`.
    pub(crate) state: String,
    /// Its incarnation number.
    pub(crate) incarnation: u32,
    /// Its metadata decoded as Serf tags, when it is in that format or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<BTreeMap<String, String>>,
    /// Its metadata as base64, when it is not in Serf's tag format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta_base64: Option<String>,
}

impl MemberView {
    /// The view of `m`.
    pub(crate) fn of(m: &Member) -> Self {
        let tags = decode_tags(&m.meta);
        let meta_base64 = tags.is_none().then(|| STANDARD.encode(&m.meta));
        Self {
            name: m.name.to_string(),
            addr: m.addr.to_ip().map(|ip| ip.to_string()).unwrap_or_default(),
            port: m.port,
            state: m.state.to_string(),
            incarnation: m.incarnation,
            meta: tags,
            meta_base64,
        }
    }

    /// The metadata in one short cell: `k=v,k=v`, or `base64:…`.
    pub(crate) fn meta_text(&self) -> String {
        match (&self.meta, &self.meta_base64) {
            (Some(tags), _) => tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            (None, Some(b64)) => format!("base64:{b64}"),
            (None, None) => String::new(),
        }
    }
}

/// `GET /health`: the Lifeguard health score and member counts per state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HealthView {
    /// This node's name.
    pub(crate) name: String,
    /// The Lifeguard health score (0 is healthy).
    pub(crate) health_score: u32,
    /// Members per state (`alive`, `suspect`, `dead`, `left`).
    pub(crate) members: BTreeMap<String, usize>,
}
