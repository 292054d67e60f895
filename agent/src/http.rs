//! The agent's HTTP API (`--http IP:PORT`), served with axum:
//!
//! - `GET /members`: every member this node knows, left and dead ones not yet forgotten
//!   included, as a JSON array of [`MemberView`];
//! - `GET /health`: the Lifeguard health score and the member counts per state
//!   ([`HealthView`]);
//! - `GET /metrics`: Prometheus text format (member counts per state, health score, and
//!   counters of [`Memberlist::stats`](memberlist::Memberlist::stats)).
//!
//! Other paths answer 404, other methods on these paths 405.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use memberlist::machine::State;
use tokio::net::TcpListener;

use crate::agent::Node;
use crate::view::{HealthView, MemberView};

/// Every member state, in the order they are listed.
const STATES: [State; 4] = [State::Alive, State::Suspect, State::Dead, State::Left];

/// The routes, bound to `node`.
pub(crate) fn router(node: Node) -> Router {
    Router::new()
        .route("/members", get(members))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(node)
}

/// Serves the API on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Node,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

/// `GET /members`: every known member, sorted by name.
async fn members(AxumState(node): AxumState<Node>) -> Json<Vec<MemberView>> {
    let mut members: Vec<MemberView> = node.all_members().iter().map(MemberView::of).collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Json(members)
}

/// Member counts per state, every state present.
fn counts(node: &Node) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> =
        STATES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for m in node.all_members() {
        *counts.entry(m.state.as_str().to_owned()).or_default() += 1;
    }
    counts
}

/// `GET /health`: the health score and member counts.
async fn health(AxumState(node): AxumState<Node>) -> Json<HealthView> {
    Json(HealthView {
        name: node.name().to_owned(),
        health_score: node.health_score(),
        members: counts(&node),
    })
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(AxumState(node): AxumState<Node>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_metrics(&node),
    )
}

/// The Prometheus text exposition of the node's gauges and counters.
fn render_metrics(node: &Node) -> String {
    let mut out = String::new();
    out.push_str("# HELP memberlist_members Members known to this node, by state.\n");
    out.push_str("# TYPE memberlist_members gauge\n");
    for (state, n) in counts(node) {
        let _ = writeln!(out, "memberlist_members{{state=\"{state}\"}} {n}");
    }
    let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        );
    };
    gauge(
        &mut out,
        "memberlist_health_score",
        "Lifeguard health score (0 is healthy).",
        u64::from(node.health_score()),
    );
    let s = node.stats();
    let p = &s.protocol;
    let counters: [(&str, &str, u64); 14] = [
        ("msg_alive", "Accepted alive state changes.", p.alive),
        ("msg_suspect", "Accepted suspicions.", p.suspect),
        ("msg_dead", "Accepted deaths and leaves.", p.dead),
        (
            "refutations",
            "Accusations about this node refuted.",
            p.refutations,
        ),
        ("packets_sent", "Datagrams sent.", p.packets_sent),
        ("bytes_sent", "Bytes of datagrams sent.", p.bytes_sent),
        (
            "packets_received",
            "Datagrams received.",
            p.packets_received,
        ),
        (
            "packets_dropped",
            "Datagrams or messages dropped as undecodable.",
            p.packets_dropped,
        ),
        (
            "streams_accepted",
            "Inbound streams accepted.",
            s.streams_accepted,
        ),
        (
            "streams_refused",
            "Inbound streams refused over the limit.",
            s.streams_refused,
        ),
        ("streams_opened", "Streams opened.", s.streams_opened),
        (
            "stream_failures",
            "Streams opened that failed.",
            s.stream_failures,
        ),
        (
            "transmit_errors",
            "Datagrams the transport refused.",
            s.transmit_errors,
        ),
        (
            "transmits_dropped",
            "Datagrams dropped on a full send queue.",
            s.transmits_dropped,
        ),
    ];
    for (name, help, v) in counters {
        let _ = write!(
            out,
            "# HELP memberlist_{name}_total {help}\n# TYPE memberlist_{name}_total counter\nmemberlist_{name}_total {v}\n"
        );
    }
    out
}
