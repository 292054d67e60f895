//! `memberlist keys list|install|use|remove --admin IP:PORT [KEY]`: drives a running agent's
//! admin API (its `--admin-http`, see [`crate::admin`]) and prints the key fingerprints it
//! answers with. Rotating a cluster's key is `install` on every node, then `use` on every
//! node, then `remove` of the old key on every node.

use std::net::SocketAddr;

use crate::admin::{KeyRequest, KeysView};
use crate::members::{print_out, request};

/// Options of `memberlist keys`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the keyring.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the installed keys' fingerprints, primary first.
    List(Target),
    /// Install a key for decryption (no-op when already installed).
    Install(WithKey),
    /// Make an installed key the primary (encrypting) key.
    Use(WithKey),
    /// Remove a key (not the primary one).
    Remove(WithKey),
}

/// The agent to talk to.
#[derive(Debug, clap::Args)]
struct Target {
    /// The agent's admin API address (its `--admin-http`).
    #[arg(long, value_name = "IP:PORT")]
    admin: SocketAddr,
}

/// The agent and a key.
#[derive(Debug, clap::Args)]
struct WithKey {
    #[command(flatten)]
    target: Target,
    /// The key, base64 of 16, 24 or 32 bytes.
    #[arg(value_name = "BASE64")]
    key: String,
}

/// Runs `memberlist keys`.
pub(crate) async fn run(args: KeysArgs) -> Result<(), String> {
    let (addr, path, body) = match args.action {
        Action::List(t) => (t.admin, "/keys", None),
        Action::Install(k) => (k.target.admin, "/keys/install", Some(k.key)),
        Action::Use(k) => (k.target.admin, "/keys/use", Some(k.key)),
        Action::Remove(k) => (k.target.admin, "/keys/remove", Some(k.key)),
    };
    let body = body
        .map(|key| serde_json::to_string(&KeyRequest { key }))
        .transpose()
        .map_err(|e| format!("cannot encode the request: {e}"))?;
    let answer = request(addr, path, body).await?;
    let value: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| format!("the agent at {addr} answered something that is not JSON: {e}"))?;
    // `install` wraps the listing with whether the key was new.
    let listing = value
        .get("keys")
        .filter(|k| k.is_object())
        .unwrap_or(&value);
    let view: KeysView = serde_json::from_value(listing.clone())
        .map_err(|e| format!("the agent at {addr} answered an unexpected key listing: {e}"))?;
    let mut text = String::new();
    if value.get("installed") == Some(&serde_json::Value::Bool(false)) {
        text.push_str("(the key was already installed)\n");
    }
    for fp in &view.keys {
        let tag = if *fp == view.primary {
            " (primary)"
        } else {
            ""
        };
        text.push_str(&format!("{fp}{tag}\n"));
    }
    print_out(text.trim_end());
    Ok(())
}
