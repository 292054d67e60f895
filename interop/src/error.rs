//! [`InteropError`].

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// What can go wrong when building or driving a Go peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InteropError {
    /// Go or the memberlist sources are missing, or `interop/build.sh` failed.
    #[error("cannot build the Go memberlist peer: {0}")]
    Build(String),
    /// The peer program could not be started.
    #[error("cannot start the Go peer {binary:?}: {source}")]
    Spawn {
        /// The program.
        binary: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing to the peer (or starting a reader thread) failed.
    #[error("I/O with Go peer {name} failed: {source}")]
    Io {
        /// The peer's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// The peer exited while we waited for something.
    #[error(
        "Go peer {name} exited ({status}) while waiting for {waiting_for}; stderr ends:\n{stderr}"
    )]
    Exited {
        /// The peer's name.
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// What we waited for.
        waiting_for: String,
        /// The last lines it wrote on stderr.
        stderr: String,
    },
    /// Something expected from the peer did not come in time.
    #[error("Go peer {name}: no {waiting_for} within {timeout:?}; stderr ends:\n{stderr}")]
    Timeout {
        /// The peer's name.
        name: String,
        /// What we waited for.
        waiting_for: String,
        /// How long we waited.
        timeout: Duration,
        /// The last lines it wrote on stderr.
        stderr: String,
    },
    /// The peer answered a command with an `error` event.
    #[error("Go peer {name}: {cmd} failed: {error}")]
    Command {
        /// The peer's name.
        name: String,
        /// The command.
        cmd: String,
        /// Go's error text.
        error: String,
    },
}
