//! `memberlist agent` and `memberlist members` as an operator runs them: real processes on
//! 127.0.0.1 (ports picked by the system), the local preset, the HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use agent_support::*;
use serde_json::Value;

const KEY: &str = "cg8StVXbQJ0gPvMd9o7yrg==";

/// Whether every agent lists every name as alive.
fn all_alive(agents: &[&Agent], names: &[&str]) -> bool {
    agents.iter().all(|a| {
        names
            .iter()
            .all(|n| a.state_of(n).as_deref() == Some("alive"))
    })
}

#[test]
fn three_agents_form_a_cluster_seen_through_http_and_members_then_one_leaves() {
    let a = Agent::start(&[
        "--name",
        "a",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--meta",
        "role=web",
        "--meta",
        "dc=one",
    ]);
    assert_eq!(a.name, "a");
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
    let mut c = Agent::start(&[
        "--name",
        "c",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--join",
        &seed,
    ]);
    let names = ["a", "b", "c"];
    assert!(
        wait_until(Duration::from_secs(15), || all_alive(&[&a, &b, &c], &names)),
        "no full view: a {:?}\nb {:?}\nc {:?}\nlogs of a:\n{}",
        a.members(),
        b.members(),
        c.members(),
        a.logs()
    );

    // /members: the library's MemberInfo (address as ip:port, base64 metadata, state, time
    // of the last change, versions), plus the metadata decoded from Serf tags.
    let members = b.members();
    let ma = members.iter().find(|m| m["name"] == "a").unwrap();
    assert_eq!(ma["addr"], format!("127.0.0.1:{}", a.bind.port()));
    assert!(ma["incarnation"].as_u64().is_some());
    assert_eq!(ma["state"], "alive");
    assert!(
        ma["state_changed_at"].as_str().unwrap().ends_with('Z'),
        "{ma}"
    );
    assert_eq!(ma["protocol"]["max"], 5, "{ma}");
    assert!(
        ma["meta"].as_str().is_some_and(|b64| !b64.is_empty()),
        "{ma}"
    );
    assert_eq!(ma["tags"]["role"], "web");
    assert_eq!(ma["tags"]["dc"], "one");
    let mb = members.iter().find(|m| m["name"] == "b").unwrap();
    assert_eq!(mb["tags"], serde_json::json!({}));
    assert_eq!(mb["meta"], "");

    // `memberlist members`: a table, and the JSON as is.
    let out = run(&["members", "--http", &c.http().to_string()]);
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("NAME"), "{}", out.stdout);
    assert!(lines[0].contains("ADDRESS") && lines[0].contains("INCARNATION"));
    let row_a = lines.iter().find(|l| l.starts_with("a ")).unwrap();
    assert!(row_a.contains(&a.bind.to_string()), "{row_a}");
    assert!(row_a.contains("alive"), "{row_a}");
    assert!(row_a.contains("dc=one,role=web"), "{row_a}");
    let out = run(&["members", "--http", &c.http().to_string(), "--json"]);
    assert!(out.status.success(), "{}", out.stderr);
    let json: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json.len(), 3);
    assert!(json.iter().all(|m| m["state"] == "alive"));

    // /health and /metrics.
    let (status, body) = http_get(a.http(), "/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["name"], "a");
    assert!(health["health_score"].as_u64().is_some(), "{body}");
    assert_eq!(health["members"]["alive"], 3, "{body}");
    assert_eq!(health["members"]["left"], 0, "{body}");
    let (status, body) = http_get(a.http(), "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE memberlist_members gauge"), "{body}");
    assert!(
        body.contains("memberlist_members{state=\"alive\"} 3"),
        "{body}"
    );
    assert!(body.contains("memberlist_health_score "), "{body}");
    assert!(
        body.contains("# TYPE memberlist_push_pull_node_seconds histogram"),
        "{body}"
    );
    assert!(body.contains("memberlist_msg_alive_total "), "{body}");
    let received = body
        .lines()
        .find_map(|l| l.strip_prefix("memberlist_udp_received_packets_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(received > 0, "{body}");
    assert_eq!(http_get(a.http(), "/nothing-here").0, 404);
    assert_eq!(http_request("POST", a.http(), "/members").0, 405);

    // SIGTERM: c leaves gracefully and exits 0; the others see it left.
    c.signal("TERM");
    let status = c.wait_exit(Duration::from_secs(10)).expect("c exits");
    assert!(status.success(), "c exited with {status}:\n{}", c.logs());
    assert!(c.logs().contains("left the cluster"), "{}", c.logs());
    assert!(c.logs().contains("shutdown complete"), "{}", c.logs());
    assert!(
        wait_until(Duration::from_secs(5), || {
            a.state_of("c").as_deref() == Some("left") && b.state_of("c").as_deref() == Some("left")
        }),
        "c not seen left: a {:?} b {:?}",
        a.state_of("c"),
        b.state_of("c")
    );
    let out = run(&["members", "--http", &a.http().to_string()]);
    let row_c = out.stdout.lines().find(|l| l.starts_with("c ")).unwrap();
    assert!(row_c.contains("left"), "{}", out.stdout);
    // The events were logged.
    assert!(a.logs().contains("member joined member=b"), "{}", a.logs());
    assert!(a.logs().contains("member=c state=left"), "{}", a.logs());
}

#[test]
fn bad_flags_keys_meta_and_busy_ports_fail_with_one_clear_line() {
    let base = ["--name", "x", "--bind", "127.0.0.1:0", "--preset", "local"];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        agent_fails(&v)
    };

    let err = with(&["--bogus"]);
    assert!(err.contains("--bogus"), "{err}");

    let err = with(&["--key", "AAAA"]);
    assert!(err.contains("error: --key #1 is 3 bytes"), "{err}");
    let err = with(&["--key", KEY, "--key", "not base64!"]);
    assert!(err.contains("error: --key #2 is not valid base64"), "{err}");

    let big = format!("k={}", "v".repeat(600));
    let err = with(&["--meta", &big]);
    assert!(err.contains("at most 512 bytes"), "{err}");
    let err = with(&["--meta", "novalue"]);
    assert!(err.contains("expected KEY=VALUE"), "{err}");

    let err = with(&["--delegate-version", "5,2"]);
    assert!(err.contains("MIN,MAX,CUR"), "{err}");
    let err = with(&["--transport", "quic"]);
    assert!(err.contains("--transport quic needs TLS files"), "{err}");
    let err = agent_fails(&["--bind", "127.0.0.1:0"]);
    assert!(err.contains("a node name is required"), "{err}");

    // A port in use, for the node and for HTTP.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = tcp.local_addr().unwrap();
    let _udp = UdpSocket::bind(busy);
    let err = agent_fails(&["--name", "x", "--bind", &busy.to_string()]);
    assert!(err.contains(&format!("error: cannot bind {busy}")), "{err}");
    let err = with(&["--http", &busy.to_string()]);
    assert!(
        err.contains(&format!("error: cannot listen for HTTP on {busy}")),
        "{err}"
    );
    // Every failure is one line.
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // `members` against nothing.
    drop(tcp);
    let out = run(&["members", "--http", &busy.to_string()]);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains(&format!("error: cannot reach the agent at {busy}")),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_join_is_retried_until_a_node_appears_there() {
    // A port nobody listens on (bound, then closed).
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = format!("127.0.0.1:{port}");
    let mut a = Agent::start(&[
        "--name",
        "waiting",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--join",
        &target,
    ]);
    assert!(
        wait_until(Duration::from_secs(5), || a
            .logs()
            .contains("joining through the seeds failed")),
        "{}",
        a.logs()
    );
    assert!(a.is_running(), "{}", a.logs());

    // Now a node starts at that address; the next retry finds it.
    let late = Agent::start(&["--name", "late", "--bind", &target]);
    assert!(
        wait_until(Duration::from_secs(10), || a.state_of("late").as_deref()
            == Some("alive")),
        "{}",
        a.logs()
    );
    assert!(
        a.logs().contains("joined through the seeds"),
        "{}",
        a.logs()
    );
    // SIGINT works like SIGTERM.
    a.signal("INT");
    let status = a.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}:\n{}", a.logs());
    assert!(a.logs().contains("signal=\"SIGINT\""), "{}", a.logs());
    drop(late);
}

#[test]
fn config_file_with_flags_over_it_and_encryption() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("agent-config-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        format!(
            r#"
name = "from-file"
preset = "local"
bind = "127.0.0.1:0"
http = "127.0.0.1:0"
label = "cli-test"
keys = ["{KEY}"]
probe_interval = "500ms"
log_level = "debug"

[meta]
role = "file"
zone = "z1"
"#
        ),
    )
    .unwrap();
    let shown = path.display().to_string();

    // Flags win over the file: name, one meta entry.
    let a = Agent::start(&[
        "--config",
        &shown,
        "--name",
        "from-flag",
        "--meta",
        "role=flag",
    ]);
    assert_eq!(a.name, "from-flag");
    assert!(a.http.is_some());
    assert!(
        wait_until(Duration::from_secs(5), || a.logs().contains("DEBUG")),
        "log_level from the file"
    );
    let me = a.members().into_iter().find(|m| m["name"] == "from-flag");
    let me = me.unwrap();
    assert_eq!(me["tags"]["role"], "flag");
    assert_eq!(me["tags"]["zone"], "z1");

    // A node with the same key and label (as flags) joins through the encryption.
    let seed = a.bind.to_string();
    let b = Agent::start(&[
        "--name",
        "b",
        "--bind",
        "127.0.0.1:0",
        "--key",
        KEY,
        "--label",
        "cli-test",
        "--join",
        &seed,
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || a.state_of("b").as_deref()
            == Some("alive")),
        "{}",
        a.logs()
    );
    drop(b);

    // An unknown key is named, with the file.
    let bad = dir.join(format!("agent-config-bad-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "name = \"x\"\nbind = \"127.0.0.1:0\"\nprobe_intervall = \"1s\"\n",
    )
    .unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(
        err.contains(&format!(
            "config file {}: unknown key `probe_intervall`",
            bad.display()
        )),
        "{err}"
    );
    // A bad value is reported too.
    std::fs::write(&bad, "name = \"x\"\nbind = \"nowhere\"\n").unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(err.contains("`bind`"), "{err}");
    std::fs::write(
        &bad,
        "name = \"x\"\nbind = \"127.0.0.1:0\"\nprobe_timeout = \"5s\"\n",
    )
    .unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(
        err.contains("invalid configuration: probe_timeout"),
        "{err}"
    );
    std::fs::write(&bad, "name = \"x\"\nseeds = \"not-a-list\"\n").unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(err.contains("seeds"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    std::fs::write(&bad, "name = \"x\"\nseeds = [\"10.0.0.1:http\"]\n").unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(
        err.contains("seed \"10.0.0.1:http\": invalid port"),
        "{err}"
    );
    std::fs::write(&bad, "name = \"x\"\njoin = [\"10.0.0.1\"]\n").unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(
        err.contains("unknown key `join` (the nodes to join through are `seeds`)"),
        "{err}"
    );
    std::fs::write(&bad, "name = \n").unwrap();
    let err = agent_fails(&["--config", &bad.display().to_string()]);
    assert!(err.contains("TOML parse error at line 1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = agent_fails(&["--config", "/nonexistent/agent.toml", "--name", "x"]);
    assert!(
        err.contains("cannot read config file /nonexistent/agent.toml"),
        "{err}"
    );
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&bad);
}
