//! Failure detection, refutation and graceful leaves across Rust and Go nodes, timed against
//! the model.
//!
//! The cluster is two Go nodes and two Rust nodes, all with
//! [`GoPeerConfig::fast`](memberlist_interop::GoPeerConfig::fast)'s timers: probe interval
//! P = 200 ms, probe timeout 100 ms, suspicion multiplier α = 2, gossip every 50 ms.
//!
//! The model (Go memberlist 0.2.2, which the Rust machine copies):
//!
//! - **Suspicion.** An observer probes the other N − 1 members round robin, reshuffling
//!   after each pass, so a failed node is probed at most 2·(N − 1) − 1 probe intervals after
//!   it fails; the probe fails (ack timeout, indirect probe, TCP fallback) by the end of
//!   that interval. The suspicion usually reaches the other observers by gossip sooner.
//!   Bound: every observer suspects within (2·(N − 1) + 1)·P = 1.4 s.
//! - **Death.** The suspicion timeout is `min = α·max(1, log10 N)·P` = 400 ms for N = 4
//!   (`timing::suspicion_timeout`, Go's `suspicionTimeout`). Lifeguard starts the timer at
//!   `max = SuspicionMaxTimeoutMult·min` and shortens it with each independent confirmation
//!   down to `min` after k = α − 2 confirmations; with α = 2, k = 0 and the timer is `min`
//!   from the start (Go's `newSuspicion`: "if there aren't any confirmations to wait for,
//!   then we can just use the min timeout"). So each observer declares the node dead `min`
//!   after it began suspecting it — or earlier, when a dead message from an observer that
//!   suspected first arrives before its own timer runs out. One test runs α = 4 (k = 2) to
//!   see Lifeguard's confirmations cross between the implementations.
//!
//! Each bound gets a margin for a loaded machine ([`MARGIN`]). Rust observers' times come
//! from the member table's state-change times (exact to the microsecond); Go observers' from polling their
//! member list every few milliseconds (late by at most one poll). Each test watches Go and
//! Rust observers side by side, so Go's own detection is the baseline. The measured times
//! are printed (`--nocapture` shows them).
//!
//! Run with `cargo test -p memberlist-interop -- --include-ignored` (needs Go).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use memberlist::runtime::{MemberEvent, Notification};
use memberlist_core::machine::State;
use memberlist_core::machine::timing::suspicion_timeout;
use memberlist_interop::{Event, GoPeer, NodeState};

/// Added to every bound the model gives, for scheduling delays on a busy machine.
const MARGIN: Duration = Duration::from_millis(1500);
/// Nodes in the cluster.
const N: usize = 4;
/// Go's `SuspicionMaxTimeoutMult` in the local preset (the Rust preset's too).
const SUSPICION_MAX_TIMEOUT_MULT: u32 = 6;

/// The model's numbers for this cluster.
struct Model {
    /// The suspicion multiplier α.
    mult: u32,
    /// Longest from the failure to an observer's suspicion.
    suspect_within: Duration,
    /// The suspicion timeout's lower bound.
    min: Duration,
    /// Lifeguard's upper bound of the suspicion timeout.
    max: Duration,
    /// Confirmations a suspicion waits for (Go: α − 2, or 0 when N − 2 < α − 2).
    k: u32,
}

impl Model {
    fn new(mult: u32) -> Self {
        let min = suspicion_timeout(mult, N, PROBE_INTERVAL);
        assert_eq!(min, PROBE_INTERVAL * mult, "α·max(1, log10 4)·P");
        let k = mult.saturating_sub(2);
        let k = if (N as u32) - 2 < k { 0 } else { k };
        let probes = u32::try_from(2 * (N - 1) + 1).unwrap();
        Model {
            mult,
            suspect_within: PROBE_INTERVAL * probes,
            min,
            max: min * SUSPICION_MAX_TIMEOUT_MULT,
            k,
        }
    }
}

fn model() -> Model {
    Model::new(SUSPICION_MULT)
}

/// When one observer saw the failed node suspect and dead, counted from the failure.
#[derive(Debug)]
struct Detection {
    observer: String,
    suspect: Option<Duration>,
    dead: Option<Duration>,
}

impl Detection {
    fn new(observer: &str) -> Self {
        Self {
            observer: observer.to_owned(),
            suspect: None,
            dead: None,
        }
    }
}

/// Checks the detections against the model and prints them. The observers are all the
/// surviving nodes, so the first suspicion and the first death among them are the cluster's.
///
/// - The node is suspected (by at least one observer) before it is declared dead, and
///   nobody declares it dead before `min` after that first suspicion.
/// - Every observer that saw the suspicion saw it within `suspect_within` of the failure (its
///   own probe bounds it).
/// - k = 0: every observer declares the node dead at most `min` after it began suspecting
///   it, so by `suspect_within + min` after the failure.
/// - k > 0: every observer declares it dead at most `max` after the first suspicion (the
///   timer without any confirmation); and the first death comes by `suspect_within + min`,
///   which needs k confirmations: with k = 2 and three observers of two implementations, an
///   observer's two confirmations come from the two other observers, at least one of the
///   other implementation. Without cross-implementation confirmations nobody would declare
///   the node dead before `max` after the first suspicion.
///
/// Suspect and dead messages are retransmitted a limited number of times (twice in this
/// cluster, to random targets that include the failed node), so an observer may miss them:
/// it may go from alive straight to dead, or count fewer confirmations and rely on its own
/// timer — as in Go.
fn check(what: &str, m: &Model, detections: &[Detection]) {
    eprintln!(
        "{what}: model (α = {}, k = {}): suspect within {:?}; {}; margin {MARGIN:?}",
        m.mult,
        m.k,
        m.suspect_within,
        if m.k == 0 {
            format!("dead {:?} after suspecting", m.min)
        } else {
            format!(
                "dead {:?}..{:?} after the first suspicion, first death by {:?}",
                m.min,
                m.max,
                m.suspect_within + m.min
            )
        },
    );
    for d in detections {
        let ms = |t: Option<Duration>| t.map_or("-".to_owned(), |t| t.as_millis().to_string());
        eprintln!(
            "{what}: {:>14} suspect after {:>4} ms, dead after {:>4} ms ({:>4} ms after suspect)",
            d.observer,
            ms(d.suspect),
            ms(d.dead),
            ms(d.suspect.zip(d.dead).map(|(s, d)| d.saturating_sub(s)))
        );
    }
    let first_suspect = detections.iter().filter_map(|d| d.suspect).min();
    let first_dead = detections.iter().filter_map(|d| d.dead).min();
    let (Some(first_suspect), Some(first_dead)) = (first_suspect, first_dead) else {
        panic!("{what}: the node was not both suspected and declared dead: {detections:?}");
    };
    // Go observers' times are polled, so a little late: allow a quarter of the timeout.
    assert!(
        first_dead >= first_suspect + m.min * 3 / 4,
        "{what}: declared dead before the suspicion timeout: {detections:?}"
    );
    assert!(
        first_dead <= m.suspect_within + m.min + MARGIN,
        "{what}: first declared dead too late: {detections:?}"
    );
    for d in detections {
        let dead = d
            .dead
            .unwrap_or_else(|| panic!("{what}: {} never declared it dead", d.observer));
        if m.k == 0 {
            assert!(
                dead <= m.suspect_within + m.min + MARGIN,
                "{what}: {} declared dead too late: {detections:?}",
                d.observer
            );
        } else {
            assert!(
                dead <= first_suspect + m.max + MARGIN,
                "{what}: {} declared dead too late: {detections:?}",
                d.observer
            );
        }
        let Some(suspect) = d.suspect else { continue };
        assert!(
            suspect <= m.suspect_within + MARGIN,
            "{what}: {} suspected too late: {detections:?}",
            d.observer
        );
        if m.k == 0 {
            assert!(
                dead.saturating_sub(suspect) <= m.min + MARGIN,
                "{what}: {} declared dead too late after suspecting: {detections:?}",
                d.observer
            );
        }
    }
}

/// Watches the observers until each holds `name` dead. Rust observers' times come from
/// their member table's `state_changed_at`; Go observers' from polling their member list.
async fn watch(rust: &[&RustNode], go: &[&GoPeer], name: &str, since: Instant) -> Vec<Detection> {
    let mut detections: Vec<Detection> = rust
        .iter()
        .map(|o| Detection::new(o.name()))
        .chain(go.iter().map(|o| Detection::new(o.name())))
        .collect();
    // Rust observers report wall-clock times: `since` on the same clock.
    let since_wall = SystemTime::now() - since.elapsed();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (rust_detections, go_detections) = detections.split_at_mut(rust.len());
        for (o, d) in rust.iter().zip(rust_detections) {
            let Some(m) = o.member(name) else { continue };
            let at = m
                .state_changed_at
                .duration_since(since_wall)
                .unwrap_or_default();
            match m.state {
                State::Suspect if d.suspect.is_none() => d.suspect = Some(at),
                State::Dead if d.dead.is_none() => d.dead = Some(at),
                _ => {}
            }
        }
        for (o, d) in go.iter().zip(go_detections) {
            if d.dead.is_some() {
                continue;
            }
            let state = go_member(o, name).map(|m| m.state);
            let at = since.elapsed();
            match state {
                Some(NodeState::Suspect) if d.suspect.is_none() => d.suspect = Some(at),
                Some(NodeState::Dead) => d.dead = Some(at),
                _ => {}
            }
        }
        if detections.iter().all(|d| d.dead.is_some()) || Instant::now() > deadline {
            return detections;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Two Go nodes and two Rust nodes, joined crosswise, all alive everywhere.
async fn cluster(prefix: &str) -> (GoPeer, GoPeer, RustNode, RustNode) {
    cluster_with(prefix, SUSPICION_MULT).await
}

/// [`cluster`] with suspicion multiplier `mult` on every node.
async fn cluster_with(prefix: &str, mult: u32) -> (GoPeer, GoPeer, RustNode, RustNode) {
    let go = |name: String| {
        let mut c = go_fast(&name);
        c.suspicion_mult = Some(mult);
        c
    };
    let rust = |name: String| {
        let mut c = fast_config(&name);
        c.protocol.suspicion_mult = mult;
        start_rust(c, TestDelegate::default(), &[])
    };
    // Each node joins through every node already there, so that every node learns of
    // every other from a push/pull rather than from the few retransmissions of an alive
    // broadcast (see `common::PUSH_PULL_INTERVAL`).
    let g1 = spawn_go(go(format!("{prefix}-go-1")));
    let g2 = spawn_go(go(format!("{prefix}-go-2")).with_join([g1.addr()]));
    let r1 = rust(format!("{prefix}-rs-1")).await;
    let r2 = rust(format!("{prefix}-rs-2")).await;
    let joined = r1
        .join([addr_of_go(&g1), addr_of_go(&g2)])
        .await
        .expect("rs-1 joins");
    assert_eq!(joined, 2);
    let joined = r2
        .join([addr_of_go(&g1), addr_of_go(&g2), addr_of_rust(&r1)])
        .await
        .expect("rs-2 joins");
    assert_eq!(joined, 3);
    let names = [
        format!("{prefix}-go-1"),
        format!("{prefix}-go-2"),
        format!("{prefix}-rs-1"),
        format!("{prefix}-rs-2"),
    ];
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    wait_converged(&[&g1, &g2], &[&r1, &r2], &names).await;
    (g1, g2, r1, r2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_killed_go_node_is_suspected_then_declared_dead_by_rust_nodes() {
    let (g1, g2, r1, r2) = cluster("kill").await;
    let mut events = r1.subscribe();
    g2.kill();
    let killed = Instant::now();
    let detections = watch(&[&r1, &r2], &[&g1], "kill-go-2", killed).await;
    check("Go node killed", &model(), &detections);

    // The Rust node reported the failure as an event.
    let event = loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Some(Notification::Event {
                event: MemberEvent::Failed(m),
                ..
            })) if m.name == "kill-go-2" => break m,
            Ok(Some(_)) => {}
            other => panic!("no leave event for kill-go-2: {other:?}"),
        }
    };
    assert_eq!(event.state, State::Dead);
    for r in [&r1, &r2] {
        assert_eq!(r.num_members(), 3);
        assert!(r.stats().protocol.suspect >= 1 || r.stats().protocol.dead >= 1);
    }
    assert_eq!(blocking(|| g1.live_members()).unwrap().len(), 3);
    assert_no_go_wire_errors(&[&g1]);
    shutdown_all(&[&r1, &r2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_crashed_rust_node_is_suspected_then_declared_dead_by_go_nodes() {
    let (g1, g2, r1, r2) = cluster("crash").await;
    // A crash: the node stops without a leave message; its sockets close.
    r2.shutdown().await;
    let crashed = Instant::now();
    let detections = watch(&[&r1], &[&g1, &g2], "crash-rs-2", crashed).await;
    check("Rust node crashed", &model(), &detections);

    for g in [&g1, &g2] {
        let event = blocking(|| {
            g.wait_for(
                |e| matches!(e, Event::Leave(n) if n.name == "crash-rs-2"),
                PATIENCE,
            )
        })
        .expect("leave event");
        assert_eq!(event.node().unwrap().state, NodeState::Dead);
        assert_eq!(blocking(|| g.live_members()).unwrap().len(), 3);
    }
    assert_no_go_wire_errors(&[&g1, &g2]);
    r1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn lifeguard_confirmations_cross_implementations() {
    // α = 4: k = 2 confirmations, min = 800 ms, max = 4.8 s. The first observer to suspect
    // the killed node starts its timer at max; the suspect messages of the two others (one
    // Go and one Rust for a Rust observer, two Rust for the Go one) confirm it and pull the
    // timer down to min. Without cross-implementation confirmations no observer could
    // declare the node dead before max after the first suspicion; with them the first does
    // by suspect_within + min (2.2 s) plus the margin, and its dead message spreads.
    let mult = 4;
    let m = Model::new(mult);
    assert_eq!((m.k, m.min), (2, Duration::from_millis(800)));
    assert!(m.suspect_within + m.min + MARGIN < m.max);
    assert!(m.min * 3 / 4 > Duration::ZERO);
    let (g1, g2, r1, r2) = cluster_with("lg", mult).await;
    g2.kill();
    let killed = Instant::now();
    let detections = watch(&[&r1, &r2], &[&g1], "lg-go-2", killed).await;
    check("Lifeguard, Go node killed", &m, &detections);
    assert_no_go_wire_errors(&[&g1]);
    shutdown_all(&[&r1, &r2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn graceful_leaves_show_as_left_on_the_other_side() {
    let (g1, g2, r1, r2) = cluster("leave").await;

    // A Rust node leaves: both Go nodes (and the other Rust node) see it left, not dead.
    r2.leave(Duration::from_secs(10)).await.expect("leave");
    for g in [&g1, &g2] {
        let event = blocking(|| {
            g.wait_for(
                |e| matches!(e, Event::Leave(n) if n.name == "leave-rs-2"),
                PATIENCE,
            )
        })
        .unwrap_or_else(|| panic!("{} never saw leave-rs-2 leave", g.name()));
        assert_eq!(event.node().unwrap().state, NodeState::Left);
    }
    eventually("leave-rs-1 holds leave-rs-2 left", || {
        r1.member("leave-rs-2")
            .is_some_and(|m| m.state == State::Left)
    })
    .await;
    r2.shutdown().await;

    // A Go node leaves: the Rust node sees it left.
    let mut events = r1.subscribe();
    blocking(|| g2.leave(Duration::from_secs(10))).expect("Go leave");
    let event = loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Some(Notification::Event {
                event: MemberEvent::Left(m),
                ..
            })) if m.name == "leave-go-2" => break m,
            Ok(Some(_)) => {}
            other => panic!("no leave event for leave-go-2: {other:?}"),
        }
    };
    assert_eq!(event.state, State::Left);
    assert_eq!(r1.member("leave-go-2").unwrap().state, State::Left);
    let status = blocking(|| g2.shutdown(Duration::from_secs(10))).expect("Go shutdown");
    assert!(status.success());

    // Neither leaver is ever reported dead afterwards, and the rest stay alive.
    tokio::time::sleep(model().min + MARGIN).await;
    assert_eq!(r1.member("leave-go-2").unwrap().state, State::Left);
    assert_eq!(go_member(&g1, "leave-rs-2").unwrap().state, NodeState::Left);
    assert_eq!(go_member(&g1, "leave-go-2").unwrap().state, NodeState::Left);
    assert!(r1.members().iter().all(|m| m.state == State::Alive));
    assert_eq!(r1.num_members(), 2);

    // Newcomers learn the cluster from push/pulls that carry the left nodes too: neither
    // brings them back.
    let fresh_rs = rust("leave-rs-3", "").await;
    fresh_rs.join([addr_of_go(&g1)]).await.expect("join");
    let fresh_go = spawn_go(go_fast("leave-go-3").with_join([r1.advertise_addr()]));
    assert_eq!(fresh_go.startup_join(), Some((1, None)));
    let live = ["leave-go-1", "leave-go-3", "leave-rs-1", "leave-rs-3"];
    let sorted = |mut v: Vec<String>| {
        v.sort_unstable();
        v
    };
    eventually("every node lists the four live nodes, all alive", || {
        [&g1, &fresh_go].iter().all(|g| {
            let members = blocking(|| g.live_members()).unwrap();
            members.iter().all(|m| m.state == NodeState::Alive)
                && sorted(members.into_iter().map(|m| m.name).collect()) == live
        }) && [&r1, &fresh_rs].iter().all(|r| {
            let members = r.members();
            members.iter().all(|m| m.state == State::Alive)
                && sorted(members.into_iter().map(|m| m.name.to_string()).collect()) == live
        })
    })
    .await;
    assert_no_go_wire_errors(&[&g1, &fresh_go]);
    shutdown_all(&[&r1, &fresh_rs]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_frozen_node_refutes_its_suspicion_across_implementations() {
    let (g1, g2, r1, r2) = cluster("freeze").await;

    // A Go node freezes (SIGSTOP): the Rust nodes suspect it (or declare it dead). When it
    // runs again it reads the suspect or dead messages about itself, refutes them with a
    // higher incarnation, and the Rust nodes take it back as alive.
    let before = r1.member("freeze-go-2").unwrap().incarnation;
    blocking(|| g2.pause()).expect("SIGSTOP");
    eventually("the Rust nodes suspect the frozen Go node", || {
        [&r1, &r2].iter().all(|r| {
            r.member("freeze-go-2")
                .is_some_and(|m| m.state != State::Alive)
        })
    })
    .await;
    blocking(|| g2.resume()).expect("SIGCONT");
    eventually(
        "the Rust nodes hold the Go node alive again, refuted",
        || {
            [&r1, &r2].iter().all(|r| {
                r.member("freeze-go-2")
                    .is_some_and(|m| m.state == State::Alive && m.incarnation > before)
            })
        },
    )
    .await;
    wait_go_log(&g2, "Refuting a").await;

    // A Rust node freezes (its driver task blocks): the Go nodes suspect it. When it runs
    // again it refutes, and the Go nodes take it back as alive.
    let before = r2.local_node().incarnation;
    let (resume, resumed) = std::sync::mpsc::channel::<()>();
    let frozen = tokio::spawn({
        let r2 = r2.clone();
        async move {
            r2.with_delegate(move |_| {
                let _ = resumed.recv_timeout(PATIENCE);
            })
            .await
        }
    });
    eventually("the Go nodes suspect the frozen Rust node", || {
        [&g1, &g2]
            .iter()
            .all(|g| go_member(g, "freeze-rs-2").is_some_and(|m| m.state != NodeState::Alive))
    })
    .await;
    resume.send(()).unwrap();
    frozen.await.unwrap().unwrap();
    eventually(
        "the Go nodes hold the Rust node alive again, refuted",
        || {
            [&g1, &g2].iter().all(|g| {
                go_member(g, "freeze-rs-2").is_some_and(|m| {
                    m.state == NodeState::Alive && m.incarnation.is_some_and(|i| i > before)
                })
            })
        },
    )
    .await;
    assert!(r2.stats().protocol.refutations >= 1);
    assert_eq!(r2.local_node().state, State::Alive);
    let names = ["freeze-go-1", "freeze-go-2", "freeze-rs-1", "freeze-rs-2"];
    wait_converged(&[&g1, &g2], &[&r1, &r2], &names).await;
    assert_no_go_wire_errors(&[&g1, &g2]);
    shutdown_all(&[&r1, &r2]).await;
}

/// Runs of [`a_leave_after_failures_reaches_the_live_go_node`].
const LEAVE_RUNS: usize = 20;

/// A graceful leave right after two members failed: the leaver still counts the failed
/// nodes as alive (nobody has probed them yet), and its leave broadcast is retransmitted
/// only a few times (twice here) to random gossip targets that include them. The surviving
/// Go node must still see the leaver *left* — never suspect or dead — in every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_leave_after_failures_reaches_the_live_go_node() {
    for run in 0..LEAVE_RUNS {
        let prefix = format!("lvf{run}");
        let (g1, g2, r1, r2) = cluster(&prefix).await;
        let leaver = format!("{prefix}-rs-2");
        g2.kill();
        r1.shutdown().await;
        r2.leave(Duration::from_secs(5)).await.expect("leave");
        r2.shutdown().await;
        // Watch the survivor until well past the time it would have declared the leaver
        // dead had the leave never arrived.
        let until = Instant::now() + model().suspect_within + model().min + MARGIN;
        let mut seen = Vec::new();
        while Instant::now() < until {
            let state = go_member(&g1, &leaver).map(|m| m.state);
            if seen.last() != Some(&state) {
                seen.push(state);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        eprintln!("run {run}: {leaver} as seen by {}: {seen:?}", g1.name());
        let gone: Vec<_> = seen
            .iter()
            .filter(|s| !matches!(s, Some(NodeState::Alive)))
            .collect();
        assert_eq!(
            gone,
            [&Some(NodeState::Left)],
            "run {run}: the Go survivor saw {leaver} go {seen:?}, not alive then left"
        );
        assert_no_go_wire_errors(&[&g1]);
    }
}
