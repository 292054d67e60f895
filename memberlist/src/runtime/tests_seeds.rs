//! Joining through the configured seeds: retries with backoff until a seed answers, gives
//! up at the deadline, and needs seeds to be configured.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use crate::runtime::{Config, JoinError, JoinRetry, Memberlist, Seed};

use super::tests::Network;

const SEED: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    7946,
);

#[tokio::test(start_paused = true)]
async fn join_seeds_keeps_trying_until_a_seed_answers() {
    let network = Network::default();
    let config = Config::local("b").with_seeds([Seed::from(SEED)]);
    let b = Memberlist::builder(config)
        .transport(network.endpoint(7947))
        .start()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let joining = tokio::spawn({
        let b = b.clone();
        async move { b.join_seeds().await }
    });
    // The seed comes up only after the first attempts (at 0 s, 1 s, 3 s) have failed.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!joining.is_finished());
    let a = Memberlist::builder(Config::local("a"))
        .transport(network.endpoint(7946))
        .start()
        .await
        .unwrap();
    let contacted = joining.await.unwrap().expect("joins once the seed answers");
    assert_eq!(contacted, 1);
    // The fourth attempt, 4 s after the third, is the first that can succeed.
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(b.members().len(), 2);
    assert!(a.members().iter().any(|m| m.name == "b"));
}

#[tokio::test(start_paused = true)]
async fn join_seeds_gives_up_at_the_deadline_with_the_last_failures() {
    let network = Network::default();
    let mut config = Config::local("b").with_seeds([Seed::from(SEED)]);
    config.join_retry = JoinRetry::default().with_deadline(Duration::from_secs(5));
    let b = Memberlist::builder(config)
        .transport(network.endpoint(7947))
        .start()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    match b.join_seeds().await {
        Err(JoinError::GaveUp { attempts, failures }) => {
            // Attempts at 0 s, 1 s and 3 s; the next would start after the deadline.
            assert_eq!(attempts, 3);
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].tried, Some(SEED));
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn join_seeds_without_seeds_says_so() {
    let b = Memberlist::builder(Config::local("b"))
        .transport(Network::default().endpoint(7947))
        .start()
        .await
        .unwrap();
    assert!(matches!(b.join_seeds().await, Err(JoinError::NoAddresses)));
}
