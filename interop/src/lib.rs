//! Runs real Go memberlist nodes beside memberlist-rs, to prove wire compatibility.
//!
//! The Go side is `interop/go/peer/main.go`: one HashiCorp memberlist node (Debian's
//! `golang-github-hashicorp-memberlist-dev`, memberlist 0.2.2), driven over stdin/stdout with
//! JSON lines. `interop/build.sh` builds it offline in GOPATH mode; [`build_peer`] runs that
//! script once per process. [`GoPeer`] starts one node and records what it prints as
//! [`Event`]s.
//!
//! ```no_run
//! use std::time::Duration;
//! use memberlist_interop::{Event, GoPeer, GoPeerConfig};
//!
//! # fn main() -> Result<(), memberlist_interop::InteropError> {
//! let seed = GoPeer::spawn(GoPeerConfig::fast("seed"))?;
//! let other = GoPeer::spawn(GoPeerConfig::fast("other").with_join([seed.addr()]))?;
//! other.send_reliable("seed", b"hello")?;
//! let got = seed.wait_for(|e| *e == Event::Message(b"hello".to_vec()), Duration::from_secs(5));
//! assert!(got.is_some());
//! assert_eq!(seed.live_members()?.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Requirements
//!
//! `apt-get install -y golang-go golang-github-hashicorp-memberlist-dev`. Nothing is
//! downloaded. Environment: `MEMBERLIST_GO_PEER` names a prebuilt peer binary (no build
//! then); `MEMBERLIST_INTEROP_GOCODE` replaces `/usr/share/gocode`; a non-empty
//! `MEMBERLIST_INTEROP_STDERR` copies every peer's log to this process's stderr.
//!
//! # The peer's protocol
//!
//! Flags (Go syntax, `-flag=value`): `-name` (required), `-bind` (IP, default 127.0.0.1),
//! `-port` (default 0: a kernel-chosen port, the same for UDP and TCP), `-advertise ip:port`,
//! `-preset lan|local|wan` (default local), `-probe-interval`, `-probe-timeout`,
//! `-suspicion-mult`, `-gossip-interval`, `-pushpull-interval`, `-dead-node-reclaim` (Go
//! durations), `-key` (base64 AES key, repeatable, first is primary), `-label` (refused by
//! 0.2.2, which has no labels), `-compression`, `-gossip-verify-incoming`,
//! `-gossip-verify-outgoing` (bools, default true), `-meta`, `-local-state`,
//! `-delegate-version min,max,cur`, `-join a,b,...`, `-ping-events`, `-bench` (benchmark mode
//! for `memberlist-bench`: the transport counts the bytes and streams it sends, node events
//! are not printed; see `interop/go/peer/bench.go`). Bad flags exit 2 and a
//! failed `memberlist.Create` exits 1, with a message on stderr; memberlist logs to stderr.
//!
//! Stdout, one JSON object per line (byte strings are `"data"` when UTF-8, else base64 in
//! `"data_b64"`; the same for `meta`):
//!
//! - `{"event":"ready","name","addr","port"}` once memberlist is up (after the local node's
//!   own `join` event);
//! - `{"event":"join"|"leave"|"update","node","addr","port","state","incarnation","meta","vsn"}`
//!   from the EventDelegate; `state` is `alive|suspect|dead|left` and, like `incarnation`,
//!   read from Go's internal node state (0.2.2 never fills the public `Node.State`), so a
//!   leave says `dead` or `left`;
//! - `{"event":"message","data"}` (NotifyMsg), `{"event":"remote_state","join","data"}`
//!   (MergeRemoteState), `{"event":"conflict","node","existing":{..},"other":{..}}`,
//!   `{"event":"ping","node","rtt_ms"}` (with `-ping-events`);
//! - `{"event":"joined","contacted","error"}` after the start-up join and a `join` command;
//! - `{"event":"members","members":[{"name","addr","port","state","incarnation","meta","vsn"}],
//!   "num_members","source"}`: with `source` `"all"`, every node Go knows including dead and
//!   left ones (read under Go's node lock); with `"public"`, only `Members()` (alive and
//!   suspect), if the internals could not be read; `num_members` is `NumMembers()`;
//! - `{"event":"ok","cmd"}` or `{"event":"error","cmd","error"}` ends every command.
//!
//! Stdin commands, one JSON object per line; an `"id"` in a command is echoed in the events
//! it produces: `members`; `join` (`addrs`); `send_best_effort` / `send_reliable` (`to`,
//! `data`); `send_to_address` (`addr`, `to`, `data`); `broadcast` (`data`, through a
//! `TransmitLimitedQueue`; Go does not deduplicate, so a receiver may see it more than once);
//! `update_meta` (`meta`, `timeout_ms`, default 5000; 0 waits forever); `set_local_state`
//! (`data`); `leave` (`timeout_ms`, default 5000); `shutdown` (then exit 0); `stats` (`to`,
//! optional: answers `{"event":"stats","alive","bytes_sent","stream_bytes_sent","dials",
//! "target"}`, `target` being `to`'s state or `gone`; the counters move only with `-bench`). End of input:
//! shutdown and exit 0. Commands run one at a time, in order.

mod config;
mod error;
mod event;
mod peer;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use config::{GoPeerConfig, Preset};
pub use error::InteropError;
pub use event::{Event, NodeInfo, NodeState};
pub use peer::GoPeer;

/// Builds the Go peer with `interop/build.sh` (once per process; later calls return the
/// first result) and returns the binary's path, or the prebuilt `MEMBERLIST_GO_PEER`.
pub fn build_peer() -> Result<PathBuf, InteropError> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build_once)
        .clone()
        .map_err(InteropError::Build)
}

fn build_once() -> Result<PathBuf, String> {
    let prebuilt = std::env::var_os("MEMBERLIST_GO_PEER").filter(|v| !v.is_empty());
    if let Some(path) = prebuilt.map(PathBuf::from) {
        return a_file(path, "MEMBERLIST_GO_PEER names");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("build.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            stderr.trim_end()
        ));
    }
    let path = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| format!("{} printed no path", script.display()))?;
    a_file(path, &format!("{} printed", script.display()))
}

/// `path` if it is a file, else an error: "`what` `path`, which is not a file".
fn a_file(path: PathBuf, what: &str) -> Result<PathBuf, String> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{what} {}, which is not a file", path.display()))
    }
}
