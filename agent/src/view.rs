//! The JSON documents of the agent's HTTP API (described in `agent/README.md`), shared by the
//! server (`agent`) and the clients (`members`, `events`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memberlist::MemberInfo;
use memberlist::runtime::{MemberEvent, MembersSnapshot, Notification};
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

/// One line of `GET /events` (JSON lines): the members first, then every change in order,
/// numbered without a gap; a follower that fell behind gets `lagged` with the members to
/// start over from.
///
/// ```json
/// {"type": "snapshot", "seq": 4, "members": [{"name": "a", …}]}
/// {"type": "event", "seq": 5, "event": "join", "member": {"name": "b", …}}
/// {"type": "lagged", "seq": 90, "missed": 70, "members": […]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum EventLine {
    /// The members as of event `seq`, sorted by name.
    Snapshot {
        /// The last event the list includes.
        seq: u64,
        /// The members.
        members: Vec<AgentMember>,
    },
    /// Change number `seq`: `event` is `join`, `left`, `failed`, `update`, `changed` or
    /// `conflict` (then `other` is the node claiming the name; the list does not change).
    Event {
        /// The event's number.
        seq: u64,
        /// Its kind.
        event: String,
        /// The member as it is after the change.
        member: Box<AgentMember>,
        /// For a conflict: the other claimant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        other: Option<Box<AgentMember>>,
    },
    /// `missed` events were skipped: `members` is the list with them applied.
    Lagged {
        /// The last event the list includes.
        seq: u64,
        /// How many events were not sent one by one.
        missed: u64,
        /// The members.
        members: Vec<AgentMember>,
    },
}

impl EventLine {
    /// The line for a subscription's notification (`None` for kinds this agent does not
    /// know).
    pub(crate) fn of(n: Notification) -> Option<Self> {
        let members = |s: MembersSnapshot| s.members.into_iter().map(AgentMember::of).collect();
        Some(match n {
            Notification::Snapshot(s) => Self::Snapshot {
                seq: s.seq,
                members: members(s),
            },
            Notification::Lagged { missed, snapshot } => Self::Lagged {
                seq: snapshot.seq,
                missed,
                members: members(snapshot),
            },
            Notification::Event { seq, event } => {
                let other = match &event {
                    MemberEvent::Conflict { other, .. } => {
                        Some(Box::new(AgentMember::of((**other).clone())))
                    }
                    _ => None,
                };
                Self::Event {
                    seq,
                    event: event.kind().to_owned(),
                    member: Box::new(AgentMember::of(event.member().clone())),
                    other,
                }
            }
            _ => return None,
        })
    }

    /// The line as the server sends it: JSON and a newline.
    pub(crate) fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}
