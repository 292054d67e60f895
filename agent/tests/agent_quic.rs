//! `memberlist agent --transport quic` as an operator runs it: development certificates
//! from `memberlist tls-dev`, real processes on 127.0.0.1 (ports picked by the system), the
//! local preset, the HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::path::Path;
use std::time::Duration;

use agent_support::*;

/// Runs `memberlist tls-dev --dir DIR --nodes NODES`, which must succeed.
fn tls_dev(dir: &Path, nodes: &str) {
    let out = run(&[
        "tls-dev",
        "--dir",
        &dir.display().to_string(),
        "--nodes",
        nodes,
    ]);
    assert!(out.status.success(), "tls-dev failed: {}", out.stderr);
}

/// The flags of a QUIC agent called `name` with certificates from `certs`.
fn quic_args(certs: &TempDir, name: &str) -> Vec<String> {
    [
        "--name",
        name,
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--transport",
        "quic",
        "--tls-cert",
        &certs.file(&format!("{name}.pem")),
        "--tls-key",
        &certs.file(&format!("{name}.key")),
        "--tls-ca",
        &certs.file("ca.pem"),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn start(args: &[String]) -> Agent {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::start(&args)
}

#[test]
fn quic_agents_form_a_cluster_refuse_another_ca_and_see_a_leave() {
    let certs = TempDir::new("cluster");
    tls_dev(&certs.0, "a,b,c");
    for file in [
        "ca.pem", "a.pem", "a.key", "b.pem", "b.key", "c.pem", "c.key",
    ] {
        assert!(certs.0.join(file).is_file(), "tls-dev did not write {file}");
    }
    // Existing files are never overwritten.
    let again = run(&[
        "tls-dev",
        "--dir",
        &certs.0.display().to_string(),
        "--nodes",
        "a",
    ]);
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let a = start(&quic_args(&certs, "a"));
    let seed = a.bind.to_string();
    let mut b_args = quic_args(&certs, "b");
    b_args.extend(["--join".to_owned(), seed.clone()]);
    let b = start(&b_args);
    // c reads its transport and TLS files from a config file.
    let config = certs.0.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"c\"\npreset = \"local\"\nbind = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n\
             seeds = [\"{seed}\"]\ntransport = \"quic\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             tls_ca = {:?}\nmtls = true\n",
            certs.file("c.pem"),
            certs.file("c.key"),
            certs.file("ca.pem"),
        ),
    )
    .unwrap();
    let mut c = Agent::start(&["--config", &config.display().to_string()]);
    let names = ["a", "b", "c"];
    let all_alive = |agents: &[&Agent]| {
        agents.iter().all(|x| {
            names
                .iter()
                .all(|n| x.state_of(n).as_deref() == Some("alive"))
        })
    };
    assert!(
        wait_until(Duration::from_secs(15), || all_alive(&[&a, &b, &c])),
        "no full view: a {:?}\nb {:?}\nc {:?}\nlogs of a:\n{}",
        a.members(),
        b.members(),
        c.members(),
        a.logs()
    );
    assert!(a.logs().contains("transport=\"quic\""), "{}", a.logs());
    let ma = b.members();
    let ma = ma.iter().find(|m| m["name"] == "a").unwrap();
    assert_eq!(ma["addr"], a.bind.to_string());

    // A node whose certificate comes from another CA cannot join: the handshakes fail, it
    // stays alone, and nobody lists it.
    let strangers = TempDir::new("stranger");
    tls_dev(&strangers.0, "mallory");
    let mut m_args = quic_args(&strangers, "mallory");
    m_args.extend(["--join".to_owned(), seed.clone()]);
    let mallory = start(&m_args);
    assert!(
        wait_until(Duration::from_secs(10), || mallory
            .logs()
            .contains("joining through the seeds failed, will retry")),
        "mallory's join did not fail: {}",
        mallory.logs()
    );
    assert!(
        mallory.logs().contains("invalid peer certificate"),
        "mallory's join did not fail on a's certificate: {}",
        mallory.logs()
    );
    // Let mallory retry once more (after 1 s) before checking that nobody lists it.
    std::thread::sleep(Duration::from_millis(1500));
    let listed = mallory.members();
    assert_eq!(listed.len(), 1, "mallory sees others: {listed:?}");
    for x in [&a, &b, &c] {
        assert_eq!(x.state_of("mallory"), None, "{} lists mallory", x.name);
    }
    // The refused handshakes show in the /metrics of the node mallory dialled.
    let refused: f64 = http_get(a.http(), "/metrics")
        .1
        .lines()
        .filter(|l| l.starts_with("memberlist_quic_handshakes_refused_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(refused >= 1.0, "a counted no refused handshake");

    // SIGTERM: c leaves gracefully over QUIC; the others see it left.
    c.signal("TERM");
    let status = c.wait_exit(Duration::from_secs(10)).expect("c exits");
    assert!(status.success(), "c exited with {status}:\n{}", c.logs());
    assert!(c.logs().contains("left the cluster"), "{}", c.logs());
    assert!(
        wait_until(Duration::from_secs(5), || {
            a.state_of("c").as_deref() == Some("left") && b.state_of("c").as_deref() == Some("left")
        }),
        "c not seen left: a {:?} b {:?}",
        a.state_of("c"),
        b.state_of("c")
    );
    assert_eq!(a.state_of("mallory"), None);
}

#[test]
fn bad_tls_flags_fail_with_one_clear_line() {
    let certs = TempDir::new("flags");
    tls_dev(&certs.0, "x");
    let base = ["--name", "x", "--bind", "127.0.0.1:0", "--preset", "local"];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        let err = agent_fails(&v);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err
    };
    let (cert, key, ca) = (
        certs.file("x.pem"),
        certs.file("x.key"),
        certs.file("ca.pem"),
    );

    let err = with(&["--transport", "quic"]);
    assert!(
        err.contains(
            "error: --transport quic needs TLS files: missing --tls-cert, --tls-key, --tls-ca"
        ),
        "{err}"
    );
    assert!(err.contains("memberlist tls-dev"), "{err}");
    let err = with(&["--transport", "quic", "--tls-cert", &cert, "--tls-ca", &ca]);
    assert!(err.contains("missing --tls-key"), "{err}");

    let missing = certs.file("nope.pem");
    let err = with(&[
        "--transport",
        "quic",
        "--tls-cert",
        &missing,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
    ]);
    assert!(
        err.contains("error: cannot load the TLS files: reading"),
        "{err}"
    );
    assert!(err.contains("nope.pem"), "{err}");

    let garbage = certs.file("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let err = with(&[
        "--transport",
        "quic",
        "--tls-cert",
        &garbage,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
    ]);
    assert!(err.contains("error: cannot load the TLS files"), "{err}");

    let err = with(&[
        "--transport",
        "quic",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
        "--key",
        "cg8StVXbQJ0gPvMd9o7yrg==",
    ]);
    assert!(
        err.contains("error: --key (memberlist encryption) cannot be used with --transport quic"),
        "{err}"
    );

    let err = with(&["--tls-cert", &cert]);
    assert!(err.contains("apply to --transport quic only"), "{err}");

    let out = run(&[
        "tls-dev",
        "--dir",
        &certs.0.display().to_string(),
        "--nodes",
        "../evil",
    ]);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("is not a usable node name"),
        "{}",
        out.stderr
    );
}
