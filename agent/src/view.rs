//! The JSON documents of the agent's HTTP API, shared by the server (`agent`) and the client
//! (`members`).
//!
//! `GET /members` returns an array of [`AgentMember`]: the library's
//! [`MemberInfo`] in its serde form, plus the metadata decoded as Serf tags when it is in
//! that format (or empty):
//!
//! ```json
//! [{"name": "a", "addr": "127.0.0.1:7946", "meta": "/4Gkcm9sZaN3ZWI=", "incarnation": 1,
//!   "state": "alive", "state_changed_at": "2025-05-01T09:30:00.123456789Z",
//!   "protocol": {"min": 1, "max": 5, "current": 2},
//!   "delegate": {"min": 0, "max": 0, "current": 0}, "tags": {"role": "web"}}]
//! ```
//!
//! `meta` is the raw metadata in standard base64; `tags` is absent when the metadata is not
//! Serf-style tags.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memberlist::MemberInfo;
use serde::{Deserialize, Serialize};

use crate::meta::decode_tags;

/// One member as `GET /members` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentMember {
    /// The member, as the library serialises it.
    #[serde(flatten)]
    pub(crate) member: MemberInfo,
    /// Its metadata decoded as Serf tags, when it is in that format or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<BTreeMap<String, String>>,
}

impl AgentMember {
    /// `m` with its tags decoded.
    pub(crate) fn of(m: MemberInfo) -> Self {
        let tags = decode_tags(&m.meta);
        Self { member: m, tags }
    }

    /// The metadata in one short cell: `k=v,k=v`, or `base64:…`.
    pub(crate) fn meta_text(&self) -> String {
        match &self.tags {
            Some(tags) => tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            None => format!("base64:{}", STANDARD.encode(&self.member.meta)),
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
