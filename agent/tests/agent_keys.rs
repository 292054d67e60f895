//! Key rotation through the admin API (`--admin-http`) on a cluster of three agent processes
//! on 127.0.0.1: install a new key everywhere, make it primary everywhere, remove the old
//! one, without any node being suspected or declared dead; then a node holding only the old
//! key cannot join. The plaintext → encryption migration through `POST /encryption` on three
//! agents started with the key and verification off, the same way. Also: the admin API's
//! refusals, at startup and per request (the refusal with QUIC is a unit test of `admin.rs`:
//! a QUIC agent cannot be given `--key` at all).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::net::SocketAddr;
use std::time::Duration;

use agent_support::*;
use serde_json::Value;

const OLD: &str = "cg8StVXbQJ0gPvMd9o7yrg==";
const NEW: &str = "HvY8ubRZMgafUOWvrOadwOckVa1wN3QWAo46FvIEM0o=";

/// `method path` on the admin API with an optional JSON body: status and JSON answer.
fn admin(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}{path}");
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        (_, Some(json)) => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(json.to_string().as_bytes()),
        (_, None) => agent.post(&url).send_empty(),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    for key in [OLD, NEW] {
        assert!(!text.contains(key), "the answer shows a key: {text}");
    }
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn key_op(addr: SocketAddr, op: &str, key: &str) -> (u16, Value) {
    admin(
        addr,
        "POST",
        &format!("/keys/{op}"),
        Some(serde_json::json!({ "key": key })),
    )
}

/// Sum of a counter over its label sets in an agent's `/metrics`.
fn counter(agent: &Agent, name: &str) -> f64 {
    let (status, text) = http_get(agent.http(), "/metrics");
    assert_eq!(status, 200);
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Suspicions, deaths and refutations an agent has seen.
fn accusations(agent: &Agent) -> f64 {
    [
        "memberlist_msg_suspect_total",
        "memberlist_msg_dead_total",
        "memberlist_refutations_total",
    ]
    .iter()
    .map(|name| counter(agent, name))
    .sum()
}

/// Every agent lists every other one as alive, and nothing else.
fn all_alive(agents: &[(Agent, SocketAddr)]) -> bool {
    agents.iter().all(|(a, _)| {
        let members = a.members();
        members.len() == agents.len() && members.iter().all(|m| m["state"] == "alive")
    })
}

/// Lets the cluster run for `for_` while checking that nobody is suspected or dead.
fn watch(agents: &[(Agent, SocketAddr)], for_: Duration) {
    let end = std::time::Instant::now() + for_;
    while std::time::Instant::now() < end {
        for (a, _) in agents {
            for m in a.members() {
                assert_eq!(m["state"], "alive", "{} sees {m}: {}", a.name, a.logs());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start(name: &str, admin_port: u16, join: Option<SocketAddr>) -> (Agent, SocketAddr) {
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let admin_arg = admin_addr.to_string();
    let seed = join.map(|j| j.to_string());
    let mut args = vec![
        "--name",
        name,
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--preset",
        "lan",
        "--key",
        OLD,
        "--admin-http",
        &admin_arg,
    ];
    if let Some(seed) = &seed {
        args.extend(["--join", seed]);
    }
    (Agent::start(&args), admin_addr)
}

#[test]
fn admin_api_is_refused_without_keys_and_off_loopback() {
    let err = agent_fails(&[
        "--name",
        "x",
        "--bind",
        "127.0.0.1:0",
        "--admin-http",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("--admin-http needs encryption"), "{err}");
    let err = agent_fails(&[
        "--name",
        "x",
        "--bind",
        "127.0.0.1:0",
        "--key",
        OLD,
        "--admin-http",
        "0.0.0.0:0",
    ]);
    assert!(err.contains("loopback"), "{err}");
    assert!(!err.contains(OLD));
    // The same from the config file.
    let dir = TempDir::new("admin-http");
    let file = dir.file("agent.toml");
    std::fs::write(
        &file,
        format!("name = \"x\"\nbind = \"127.0.0.1:0\"\nkeys = [\"{OLD}\"]\nadmin_http = \"192.0.2.1:8081\"\n"),
    )
    .unwrap();
    let err = agent_fails(&["--config", &file]);
    assert!(err.contains("--admin-http 192.0.2.1:8081"), "{err}");
}

#[test]
fn three_agents_rotate_their_key_over_http_without_false_suspicions() {
    let first = start("a", free_port(), None);
    let seed = first.0.bind;
    let mut agents = vec![first];
    for name in ["b", "c"] {
        agents.push(start(name, free_port(), Some(seed)));
    }
    assert!(
        wait_until(Duration::from_secs(20), || all_alive(&agents)),
        "{}",
        agents[0].0.logs()
    );
    let (_, a_admin) = agents[0];
    let (status, before) = admin(a_admin, "GET", "/keys", None);
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["count"], 1);
    let old_fp = before["primary"].clone();

    // Refusals, which change nothing.
    assert_eq!(key_op(a_admin, "remove", OLD).0, 409);
    assert_eq!(key_op(a_admin, "use", NEW).0, 404);
    let (status, err) = key_op(a_admin, "install", "not base64!");
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("base64"), "{err}");
    assert_eq!(key_op(a_admin, "install", "AAAA").0, 400);
    assert_eq!(admin(a_admin, "POST", "/keys/install", None).0, 400);
    assert_eq!(admin(a_admin, "GET", "/keys", None).1, before);

    // 1. Install the new key everywhere: with the CLI on a, over HTTP elsewhere.
    let out = run(&["keys", "install", "--admin", &a_admin.to_string(), NEW]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    for (_, addr) in &agents[1..] {
        let (status, answer) = key_op(*addr, "install", NEW);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["installed"], true);
    }
    assert_eq!(key_op(a_admin, "install", NEW).1["installed"], false);
    watch(&agents, Duration::from_secs(3));
    // 2. Make it primary everywhere.
    for (_, addr) in &agents {
        let (status, answer) = key_op(*addr, "use", NEW);
        assert_eq!(status, 200, "{answer}");
        watch(&agents, Duration::from_secs(1));
    }
    watch(&agents, Duration::from_secs(3));
    // 3. Remove the old one everywhere.
    for (_, addr) in &agents {
        let (status, answer) = key_op(*addr, "remove", OLD);
        assert_eq!(status, 200, "{answer}");
    }
    watch(&agents, Duration::from_secs(5));

    let (_, after) = admin(a_admin, "GET", "/keys", None);
    assert_eq!(after["count"], 1);
    assert_ne!(after["primary"], old_fp);
    for (a, addr) in &agents {
        assert_eq!(admin(*addr, "GET", "/keys", None).1, after, "{}", a.name);
        assert_eq!(accusations(a), 0.0, "{}: {}", a.name, a.logs());
        assert!(!a.logs().contains(OLD) && !a.logs().contains(NEW));
    }
    let listed = run(&["keys", "list", "--admin", &a_admin.to_string()]);
    assert!(listed.status.success(), "{}", listed.stderr);
    assert_eq!(
        listed.stdout.trim(),
        format!("{} (primary)", after["primary"].as_str().unwrap())
    );

    // A node holding only the old key cannot join.
    let (mut stale, _) = start("stale", free_port(), Some(seed));
    std::thread::sleep(Duration::from_secs(3));
    assert!(stale.is_running());
    assert_eq!(stale.members().len(), 1, "{}", stale.logs());
    for (a, _) in &agents {
        assert!(a.state_of("stale").is_none(), "{}", a.name);
    }
    watch(&agents, Duration::from_secs(1));

    // The verification switches are readable and settable.
    let (status, flags) = admin(a_admin, "GET", "/encryption", None);
    assert_eq!(status, 200);
    assert_eq!(flags["verify_incoming"], true);
    let (status, flags) = admin(
        a_admin,
        "POST",
        "/encryption",
        Some(serde_json::json!({ "verify_incoming": false })),
    );
    assert_eq!(status, 200, "{flags}");
    assert_eq!(flags["verify_incoming"], false);
    assert_eq!(flags["verify_outgoing"], true);
}

#[test]
fn three_agents_move_from_plaintext_to_encryption_over_http() {
    let dir = TempDir::new("migration");
    let file = dir.file("lenient.toml");
    std::fs::write(
        &file,
        format!(
            "preset = \"lan\"\nkeys = [\"{OLD}\"]\n\
             gossip_verify_incoming = false\ngossip_verify_outgoing = false\n"
        ),
    )
    .unwrap();
    let start_lenient = |name: &str, join: Option<SocketAddr>| {
        let admin_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let admin_arg = admin_addr.to_string();
        let seed = join.map(|j| j.to_string());
        let mut args = vec![
            "--config",
            &file,
            "--name",
            name,
            "--bind",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--admin-http",
            &admin_arg,
        ];
        if let Some(seed) = &seed {
            args.extend(["--join", seed]);
        }
        (Agent::start(&args), admin_addr)
    };
    let first = start_lenient("a", None);
    let seed = first.0.bind;
    let mut agents = vec![first];
    for name in ["b", "c"] {
        agents.push(start_lenient(name, Some(seed)));
    }
    assert!(
        wait_until(Duration::from_secs(20), || all_alive(&agents)),
        "{}",
        agents[0].0.logs()
    );
    // (a) Keys everywhere, verification off: a plaintext agent is still understood. It then
    // leaves gracefully (its leave counts once in `memberlist_msg_dead_total`).
    let mut plain = Agent::start(&[
        "--name",
        "p",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--preset",
        "lan",
        "--join",
        &seed.to_string(),
    ]);
    let everyone_sees_p = |state: &str| {
        agents
            .iter()
            .all(|(a, _)| a.state_of("p").as_deref() == Some(state))
    };
    assert!(
        wait_until(Duration::from_secs(20), || everyone_sees_p("alive")),
        "{}",
        agents[0].0.logs()
    );
    plain.signal("TERM");
    assert!(plain.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        wait_until(Duration::from_secs(20), || everyone_sees_p("left")),
        "{}",
        agents[0].0.logs()
    );
    let before: Vec<f64> = agents.iter().map(|(a, _)| accusations(a)).collect();
    let watch = |for_: Duration| {
        let end = std::time::Instant::now() + for_;
        while std::time::Instant::now() < end {
            for (a, _) in &agents {
                for m in a.members().iter().filter(|m| m["name"] != "p") {
                    assert_eq!(m["state"], "alive", "{} sees {m}: {}", a.name, a.logs());
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let flags = |v: Value| admin_flags(&agents, v);
    assert_eq!(
        admin(agents[0].1, "GET", "/encryption", None).1,
        serde_json::json!({ "verify_incoming": false, "verify_outgoing": false })
    );
    // (b) outgoing on everywhere, then (c) incoming on everywhere.
    flags(serde_json::json!({ "verify_outgoing": true }));
    watch(Duration::from_secs(3));
    flags(serde_json::json!({ "verify_incoming": true }));
    watch(Duration::from_secs(3));
    for ((a, addr), before) in agents.iter().zip(before) {
        assert_eq!(
            admin(*addr, "GET", "/encryption", None).1,
            serde_json::json!({ "verify_incoming": true, "verify_outgoing": true })
        );
        assert_eq!(accusations(a), before, "{}: {}", a.name, a.logs());
    }
    // A plaintext agent can no longer join.
    let late = Agent::start(&[
        "--name",
        "late",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--preset",
        "lan",
        "--join",
        &seed.to_string(),
    ]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(late.members().len(), 1, "{}", late.logs());
    for (a, _) in &agents {
        assert!(a.state_of("late").is_none(), "{}", a.name);
    }
}

/// `POST /encryption` with `body` on every agent, one after the other.
fn admin_flags(agents: &[(Agent, SocketAddr)], body: Value) {
    for (a, addr) in agents {
        let (status, answer) = admin(*addr, "POST", "/encryption", Some(body.clone()));
        assert_eq!(status, 200, "{}: {answer}", a.name);
        std::thread::sleep(Duration::from_millis(500));
    }
}
