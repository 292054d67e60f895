//! The agent's HTTP API (`--http IP:PORT`), served with axum: `GET /members`, `/events`,
//! `/health` and `/metrics` ([`router`]), with the documents of [`crate::view`]; their
//! answers are described in `agent/README.md`. Other paths answer 404, other methods on
//! these paths 405.

use std::collections::BTreeMap;
use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use futures_util::StreamExt as _;
use memberlist::Transport;
use memberlist::machine::State;
use memberlist_prometheus::PrometheusMetrics;
use tokio::net::TcpListener;

use crate::agent::Node;
use crate::view::{AgentMember, EventLine, HealthView};

/// Every member state, in the order they are listed.
const STATES: [State; 4] = [State::Alive, State::Suspect, State::Dead, State::Left];

/// What the handlers read: the node and its metrics sink.
pub(crate) struct Api<T> {
    node: Node<T>,
    metrics: PrometheusMetrics,
}

impl<T> Clone for Api<T> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The routes, bound to `node` and its metrics.
pub(crate) fn router<T: Transport>(node: Node<T>, metrics: PrometheusMetrics) -> Router {
    Router::new()
        .route("/members", get(members::<T>))
        .route("/events", get(events::<T>))
        .route("/health", get(health::<T>))
        .route("/metrics", get(metrics_handler::<T>))
        .with_state(Api { node, metrics })
}

/// Serves the API on `listener` until `shutdown` completes.
pub(crate) async fn serve<T: Transport>(
    listener: TcpListener,
    node: Node<T>,
    metrics: PrometheusMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    axum::serve(listener, router(node, metrics))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

/// `GET /members`: every known member, sorted by name.
async fn members<T: Transport>(AxumState(api): AxumState<Api<T>>) -> Json<Vec<AgentMember>> {
    let mut members: Vec<AgentMember> = api
        .node
        .all_members()
        .into_iter()
        .map(AgentMember::of)
        .collect();
    members.sort_by(|a, b| a.member.name.cmp(&b.member.name));
    Json(members)
}

/// `GET /events`: the node's subscription as JSON lines, for as long as the node runs.
async fn events<T: Transport>(AxumState(api): AxumState<Api<T>>) -> impl IntoResponse {
    let lines = api
        .node
        .subscribe()
        .filter_map(|n| std::future::ready(EventLine::of(n)))
        .map(|line| Ok::<_, std::convert::Infallible>(line.to_line()));
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
}

/// Member counts per state, every state present.
fn counts<T: Transport>(node: &Node<T>) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> =
        STATES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for m in node.all_members() {
        *counts.entry(m.state.as_str().to_owned()).or_default() += 1;
    }
    counts
}

/// `GET /health`: the health score and member counts.
async fn health<T: Transport>(AxumState(api): AxumState<Api<T>>) -> Json<HealthView> {
    let node = &api.node;
    Json(HealthView {
        name: node.name().to_owned(),
        health_score: node.health_score(),
        members: counts(node),
    })
}

/// `GET /metrics`: every metric of the catalog in Prometheus's text format, from the
/// node's [`PrometheusMetrics`] sink.
async fn metrics_handler<T: Transport>(AxumState(api): AxumState<Api<T>>) -> impl IntoResponse {
    match api.metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                memberlist_prometheus::TEXT_CONTENT_TYPE,
            )],
            text,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot render the metrics: {e}\n"),
        ),
    }
}
