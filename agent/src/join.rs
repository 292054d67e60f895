//! Joining in the background: an unreachable `--join` address is not fatal; the agent keeps
//! trying, waiting 1 s after the first failure and doubling the wait up to 30 s, until one
//! join succeeds (or the node stops).

use std::time::Duration;

use memberlist::{JoinError, Transport};
use tracing::{info, warn};

use crate::agent::Node;

/// The wait after the first failed attempt.
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(30);

/// The wait after `previous`: doubled, at most [`MAX_RETRY`].
pub(crate) fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).min(MAX_RETRY)
}

/// Tries to join `addrs` until one attempt contacts at least one node.
pub(crate) async fn join_until_success<T: Transport>(node: Node<T>, addrs: Vec<String>) {
    if addrs.is_empty() {
        return;
    }
    let mut wait = FIRST_RETRY;
    let mut attempt = 1u32;
    loop {
        match node.join(&addrs).await {
            Ok(contacted) => {
                info!(
                    contacted,
                    members = node.num_members(),
                    attempt,
                    "joined the cluster"
                );
                return;
            }
            Err(JoinError::Shutdown) => return,
            Err(e) => {
                warn!(attempt, retry_in = ?wait, "join failed, will retry: {e}");
            }
        }
        tokio::time::sleep(wait).await;
        if !node.is_running() {
            return;
        }
        wait = next_backoff(wait);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut wait = FIRST_RETRY;
        let mut seen = vec![wait.as_secs()];
        for _ in 0..7 {
            wait = next_backoff(wait);
            seen.push(wait.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
