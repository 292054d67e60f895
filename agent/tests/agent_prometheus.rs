//! A real Prometheus server scrapes a 3-agent cluster (ignored by default: the interop suite
//! runs it with `cargo test --workspace -- --include-ignored`; `.ci/run` installs Debian's
//! `prometheus`). Skipped, with a note, when `prometheus` is not installed.
//!
//! Prometheus listens on 127.0.0.1 on a port free at the time, scrapes each agent's
//! `/metrics` every second, and the test reads the results back through Prometheus's HTTP
//! query API: `memberlist_members{state="alive"}` is 3 for each agent, and a counter grows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_support::*;
use serde_json::Value;

/// A Prometheus server, killed when dropped.
struct Prometheus {
    addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second and waits until it is ready.
    fn start(targets: &[SocketAddr]) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: memberlist\n    static_configs:\n      - targets: [{list}]\n"
        );
        let config_path = dir.0.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write the config");
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut child = Command::new("prometheus")
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.0.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("prometheus runs");
            let ready = wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(addr).is_ok() && http_get(addr, "/-/ready").0 == 200
            });
            if ready {
                return Prometheus {
                    addr,
                    child,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("prometheus did not become ready");
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={encoded}"));
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The sample value of a result entry.
fn value(entry: &Value) -> f64 {
    entry["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
#[ignore = "needs prometheus; run with --include-ignored"]
fn prometheus_scrapes_three_agents() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prometheus is not installed; skipping (apt-get install prometheus)");
        return;
    }
    let a = Agent::start(&[
        "--name",
        "a",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    let seed = a.bind.to_string();
    let b = Agent::start(&[
        "--name",
        "b",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--join",
        &seed,
    ]);
    let c = Agent::start(&[
        "--name",
        "c",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--join",
        &seed,
    ]);
    let agents = [&a, &b, &c];
    let prometheus = Prometheus::start(&agents.map(|x| x.http()));

    // Every agent, scraped, reports three alive members.
    let alive = r#"memberlist_members{job="memberlist",state="alive"}"#;
    let all_three = wait_until(Duration::from_secs(30), || {
        let result = prometheus.query(alive);
        result.len() == 3 && result.iter().all(|r| value(r) == 3.0)
    });
    assert!(all_three, "Prometheus saw {:?}", prometheus.query(alive));
    let instances: Vec<String> = prometheus
        .query(alive)
        .iter()
        .map(|r| {
            r["metric"]["instance"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for agent in agents {
        assert!(
            instances.contains(&agent.http().to_string()),
            "{instances:?}"
        );
    }

    // A counter grows between scrapes: datagrams keep flowing (probes every second).
    let sent = r#"sum(memberlist_udp_sent_packets_total{job="memberlist"})"#;
    let first = prometheus.query(sent).first().map(value).unwrap_or(0.0);
    let grew = wait_until(Duration::from_secs(20), || {
        prometheus.query(sent).first().map(value).unwrap_or(0.0) > first
    });
    assert!(grew, "memberlist_udp_sent_packets_total stayed at {first}");
    assert!(first > 0.0);
}
