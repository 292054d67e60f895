//! The agent's admin API (`--admin-http IP:PORT`), off unless that flag is given: key
//! rotation (Go's `AddKey`, `UseKey` and `RemoveKey`) and the GossipVerify switches of a
//! running node, on the routes of [`router`]. Its requests, answers and error statuses are
//! described in `agent/README.md`.
//!
//! The listener is separate from `--http` so that `/metrics` can be exposed to a scraper
//! without exposing key management; [`check_admin_addr`] says where it may listen.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State as AxumState;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use memberlist::Transport;
use memberlist::aes_gcm::{AesGcm, EnvelopeVersion};
use memberlist::encryption::{Keyring, KeyringError, SecretKey};
use memberlist::runtime::KeyError;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::info;

use crate::agent::Node;

/// Authenticated data of the fingerprint computation (domain separation).
const FINGERPRINT_CONTEXT: &[u8] = b"memberlist-rs key fingerprint v1";

/// A short, stable identifier of a key that does not reveal it: the first 8 bytes (hex) of
/// the AES-GCM tag of an empty message under this key, an all-zero nonce and a fixed context.
/// Recovering the key from it is as hard as breaking AES; traffic never uses that nonce
/// (nonces are random), so the value cannot help forge or read packets.
pub(crate) fn fingerprint(key: &SecretKey) -> String {
    let mut out = Vec::with_capacity(29);
    let sealed = AesGcm::from_key(key.clone()).encrypt_with_nonce(
        EnvelopeVersion::V1,
        [0; 12],
        b"",
        FINGERPRINT_CONTEXT,
        &mut out,
    );
    match (sealed, out.get(13..21)) {
        (Ok(()), Some(tag)) => tag.iter().map(|b| format!("{b:02x}")).collect(),
        _ => "unknown".to_owned(),
    }
}

/// Checks `--admin-http` against the rest of the configuration.
pub(crate) fn check_admin_addr(addr: SocketAddr, quic: bool, has_keys: bool) -> Result<(), String> {
    if quic {
        return Err(
            "--admin-http manages memberlist's encryption keys, which --transport quic does not \
             use (TLS protects QUIC traffic)"
                .into(),
        );
    }
    if !has_keys {
        return Err(
            "--admin-http needs encryption: start the agent with --key (the admin API rotates \
             the keyring, it cannot create one)"
                .into(),
        );
    }
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--admin-http {addr}: the admin API must listen on a loopback address \
             (127.0.0.1 or [::1]); keys travel over plain HTTP"
        ));
    }
    Ok(())
}

/// `GET /keys`: fingerprints, primary first.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct KeysView {
    /// How many keys are installed.
    pub(crate) count: usize,
    /// The primary key's fingerprint.
    pub(crate) primary: String,
    /// Every key's fingerprint, primary first.
    pub(crate) keys: Vec<String>,
}

impl KeysView {
    fn of(ring: &Keyring) -> Self {
        let keys: Vec<String> = ring.keys().iter().map(fingerprint).collect();
        Self {
            count: keys.len(),
            primary: fingerprint(ring.primary()),
            keys,
        }
    }
}

/// The body of the `/keys/*` operations.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct KeyRequest {
    /// Base64 of 16, 24 or 32 bytes.
    pub(crate) key: String,
}

/// `GET /encryption`, and the body of `POST /encryption` (absent fields are left alone).
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct VerifyView {
    /// Go's GossipVerifyIncoming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verify_incoming: Option<bool>,
    /// Go's GossipVerifyOutgoing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verify_outgoing: Option<bool>,
}

/// An error answer: status and `{"error": message}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        let status = match &e {
            KeyError::Keyring(KeyringError::KeyNotFound) => StatusCode::NOT_FOUND,
            KeyError::Keyring(KeyringError::RemovePrimary) => StatusCode::CONFLICT,
            KeyError::Keyring(_) => StatusCode::BAD_REQUEST,
            KeyError::EncryptionDisabled => StatusCode::CONFLICT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(StatusCode::BAD_REQUEST, e.body_text())
    }
}

/// Decodes the key of a request, naming the problem without echoing the input.
fn parse_key(body: Result<Json<KeyRequest>, JsonRejection>) -> Result<SecretKey, ApiError> {
    let Json(req) = body?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(req.key.trim())
        .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "key: not valid base64".into()))?;
    SecretKey::new(&bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("key: {e}")))
}

/// The routes of the admin API, bound to `node`.
pub(crate) fn router<T: Transport>(node: Node<T>) -> Router {
    Router::new()
        .route("/keys", get(list::<T>))
        .route("/keys/install", post(install::<T>))
        .route("/keys/use", post(use_key::<T>))
        .route("/keys/remove", post(remove::<T>))
        .route("/encryption", get(verify::<T>).post(set_verify::<T>))
        .with_state(node)
}

/// Serves the admin API on `listener` until `shutdown` completes.
pub(crate) async fn serve<T: Transport>(
    listener: TcpListener,
    node: Node<T>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("admin HTTP server failed: {e}"))
}

async fn list<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(KeysView::of(&node.keys().await?)))
}

async fn install<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
    body: Result<Json<KeyRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = parse_key(body)?;
    let fp = fingerprint(&key);
    let new = node.install_key(key).await?;
    info!(key = %fp, new, "admin API: key installed");
    let keys = KeysView::of(&node.keys().await?);
    Ok(Json(serde_json::json!({ "installed": new, "keys": keys })))
}

async fn use_key<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
    body: Result<Json<KeyRequest>, JsonRejection>,
) -> Result<Json<KeysView>, ApiError> {
    let key = parse_key(body)?;
    node.use_key(&key).await?;
    info!(key = %fingerprint(&key), "admin API: primary key changed");
    Ok(Json(KeysView::of(&node.keys().await?)))
}

async fn remove<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
    body: Result<Json<KeyRequest>, JsonRejection>,
) -> Result<Json<KeysView>, ApiError> {
    let key = parse_key(body)?;
    node.remove_key(&key).await?;
    info!(key = %fingerprint(&key), "admin API: key removed");
    Ok(Json(KeysView::of(&node.keys().await?)))
}

async fn current<T: Transport>(node: &Node<T>) -> Result<VerifyView, ApiError> {
    let flags = node.gossip_verify().await?;
    Ok(VerifyView {
        verify_incoming: Some(flags.incoming),
        verify_outgoing: Some(flags.outgoing),
    })
}

async fn verify<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
) -> Result<Json<VerifyView>, ApiError> {
    Ok(Json(current(&node).await?))
}

async fn set_verify<T: Transport>(
    AxumState(node): AxumState<Node<T>>,
    body: Result<Json<VerifyView>, JsonRejection>,
) -> Result<Json<VerifyView>, ApiError> {
    let Json(req) = body?;
    if let Some(on) = req.verify_outgoing {
        node.set_gossip_verify_outgoing(on).await?;
    }
    if let Some(on) = req.verify_incoming {
        node.set_gossip_verify_incoming(on).await?;
    }
    info!(?req, "admin API: gossip verification changed");
    Ok(Json(current(&node).await?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_distinct_and_do_not_contain_the_key() {
        let a = SecretKey::new(&[1; 16]).unwrap();
        let b = SecretKey::new(&[2; 32]).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
        assert!(!fingerprint(&a).contains("0101"));
    }

    #[test]
    fn the_admin_listener_is_refused_where_it_makes_no_sense() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        let public: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        assert!(check_admin_addr(local, false, true).is_ok());
        assert!(check_admin_addr(v6, false, true).is_ok());
        assert!(
            check_admin_addr(public, false, true)
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            check_admin_addr(local, true, true)
                .unwrap_err()
                .contains("quic")
        );
        assert!(
            check_admin_addr(local, false, false)
                .unwrap_err()
                .contains("--key")
        );
    }
}
