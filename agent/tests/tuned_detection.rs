//! A tuned configuration on real sockets: `memberlist config tune --nodes 50 --detect-within
//! 2s` writes a file, 50 agents on 127.0.0.1 run it, five of them are killed one after the
//! other, and the time until every survivor reports each one failed (read from their
//! `/events` streams) is set next to the advisor's prediction.
//!
//! Ignored by default (50 processes): `cargo test -p memberlist-agent --test tuned_detection
//! -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agent_support::{Agent, TempDir, http_get, run, wait_until};

const NODES: usize = 50;
const CRASHES: usize = 5;

/// Follows `GET /events` on `http` and reports when `victim` is reported failed.
fn follow(http: SocketAddr, victim: String, observer: usize, tx: mpsc::Sender<(usize, Instant)>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(http).unwrap();
        write!(stream, "GET /events HTTP/1.1\r\nHost: {http}\r\n\r\n").unwrap();
        let failed = format!("\"name\":\"{victim}\"");
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            // The snapshot comes first: from then on the stream follows every change.
            if line.contains("\"type\":\"snapshot\"") {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            if line.contains("\"event\":\"failed\"") && line.contains(&failed) {
                let _ = tx.send((observer, Instant::now()));
                return;
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the event stream starts with a snapshot");
}

/// The predicted time to dead written in the tuned file's header.
fn predicted(toml: &str) -> f64 {
    let at = toml
        .find("dead everywhere ")
        .expect("a prediction in the header");
    let rest = &toml[at + "dead everywhere ".len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
#[ignore = "50 agent processes: run with --ignored"]
fn a_tuned_cluster_detects_crashes_as_predicted() {
    let dir = TempDir::new("tuned");
    let file = dir.file("tuned.toml");
    let tuned = run(&[
        "config",
        "tune",
        "--nodes",
        &NODES.to_string(),
        "--detect-within",
        "2s",
        "--no-verify",
        "--out",
        &file,
    ]);
    assert!(tuned.status.success(), "{}", tuned.stderr);
    let toml = std::fs::read_to_string(&file).unwrap();
    let expected = predicted(&toml);
    let mut agents: Vec<Agent> = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let name = format!("node-{i}");
        let mut args = vec![
            "--config",
            &file,
            "--name",
            &name,
            "--bind",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ];
        let seed = agents.first().map(|a: &Agent| a.bind.to_string());
        if let Some(seed) = &seed {
            args.extend(["--join", seed.as_str()]);
        }
        agents.push(Agent::start(&args));
    }
    let alive = |a: &Agent, n: usize| {
        let (_, body) = http_get(a.http(), "/health");
        body.contains(&format!("\"alive\":{n}"))
    };
    assert!(
        wait_until(Duration::from_secs(60), || agents
            .iter()
            .all(|a| alive(a, NODES))),
        "the {NODES} agents did not converge"
    );
    let mut all_dead = Vec::new();
    for k in 0..CRASHES {
        // Victims from the end, so the seed stays up.
        let victim = NODES - 1 - k;
        let (tx, rx) = mpsc::channel();
        let observers: Vec<usize> = (0..NODES - k).filter(|&i| i != victim).collect();
        for &o in &observers {
            follow(agents[o].http(), agents[victim].name.clone(), o, tx.clone());
        }
        std::thread::sleep(Duration::from_millis(500));
        agents[victim].signal("KILL");
        let t0 = Instant::now();
        let mut seen = Vec::new();
        while seen.len() < observers.len() {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok((_, at)) => seen.push(at.duration_since(t0).as_secs_f64()),
                Err(_) => break,
            }
        }
        assert_eq!(
            seen.len(),
            observers.len(),
            "crash {k}: only {} of {} survivors reported node-{victim} failed within 30 s",
            seen.len(),
            observers.len()
        );
        let last = seen.iter().copied().fold(0.0, f64::max);
        let first = seen.iter().copied().fold(f64::INFINITY, f64::min);
        eprintln!(
            "crash {k}: node-{victim} failed at the first survivor after {first:.2} s, at all after {last:.2} s"
        );
        all_dead.push(last);
        // Let the survivors settle before the next crash.
        std::thread::sleep(Duration::from_secs(2));
    }
    let mean = all_dead.iter().sum::<f64>() / all_dead.len() as f64;
    eprintln!(
        "{NODES} agents, tuned to detect within 2 s: dead everywhere after {mean:.2} s on average \
         over {CRASHES} crashes (predicted {expected:.2} s, ratio {:.2}); each: {all_dead:.2?}",
        mean / expected
    );
    // The model is an expected value; a loaded machine adds scheduling delay.
    assert!(
        mean <= expected * 1.5,
        "mean {mean:.2} s vs predicted {expected:.2} s"
    );
}
