//! Real-socket tests of `QuicTransport` on 127.0.0.1 with system-chosen ports: the mapping
//! (datagrams, large packets, streams), addresses, deadlines, shutdown, TLS refusals and the
//! connection and stream limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use memberlist_quic::{
    DATAGRAM_PAYLOAD_BUDGET, DevCa, QuicConfig, QuicStats, QuicTransport, TlsConfig, Transport,
    quic_client, quinn, rustls,
};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bounds every wait so a broken transport fails the test instead of hanging it.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the operation did not complete within 20 s")
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

async fn node(ca: &DevCa, name: &str) -> QuicTransport {
    node_with(ca, name, |c| c).await
}

async fn node_with(
    ca: &DevCa,
    name: &str,
    tweak: impl FnOnce(QuicConfig) -> QuicConfig,
) -> QuicTransport {
    let tls = ca.node_tls(name).expect("a node certificate");
    QuicTransport::bind(tweak(QuicConfig::new(loopback(), tls)))
        .await
        .expect("bind on loopback")
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// Polls the stats of `t` until `check` holds (20 s at most).
async fn stats_until(t: &QuicTransport, what: &str, check: impl Fn(&QuicStats) -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !check(&t.stats()) {
        assert!(
            Instant::now() < end,
            "timed out waiting until {what}: {:?}",
            t.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A raw quinn client endpoint on loopback using `client`.
fn raw_client(client: quinn::ClientConfig) -> quinn::Endpoint {
    let mut endpoint = quinn::Endpoint::client(loopback()).expect("a client endpoint");
    endpoint.set_default_client_config(client);
    endpoint
}

#[tokio::test]
async fn datagrams_flow_both_ways_from_the_listening_address() {
    let ca = DevCa::new("dgram").unwrap();
    let a = node(&ca, "a").await;
    let b = node(&ca, "b").await;
    within(a.send_to(b.advertise_addr(), b"ping"))
        .await
        .unwrap();
    let (data, from) = within(b.recv_from()).await.unwrap();
    assert_eq!(&data[..], b"ping");
    // One endpoint dials and listens: the source of a's connection is a's listening address.
    assert_eq!(from, a.advertise_addr());
    assert!(from.is_ipv4(), "IPv4 peers are reported as IPv4");
    // b answers on the connection a opened (no second handshake).
    within(b.send_to(from, b"ack")).await.unwrap();
    let (data, from) = within(a.recv_from()).await.unwrap();
    assert_eq!((&data[..], from), (&b"ack"[..], b.advertise_addr()));
    assert_eq!(a.stats().connections_dialed, 1);
    assert_eq!(b.stats().connections_dialed, 0);
    assert_eq!(b.stats().connections_accepted, 1);
    assert_eq!(a.stats().connections_open, 1);
    assert_eq!(a.stats().datagrams_sent + b.stats().datagrams_sent, 2);
}

#[tokio::test]
async fn packets_keep_their_boundaries_at_every_size() {
    let ca = DevCa::new("sizes").unwrap();
    let a = node(&ca, "a").await;
    let b = node(&ca, "b").await;
    // Warm the connection so that the sizes below are sent in order of calls.
    within(a.send_to(b.advertise_addr(), b"hello"))
        .await
        .unwrap();
    within(b.recv_from()).await.unwrap();
    let sizes = [
        1,
        1400,
        DATAGRAM_PAYLOAD_BUDGET,
        DATAGRAM_PAYLOAD_BUDGET + 1,
        65_507,
    ];
    for (i, &len) in sizes.iter().enumerate() {
        let packet = vec![i as u8; len];
        within(a.send_to(b.advertise_addr(), &packet))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in sizes {
        let (data, from) = within(b.recv_from()).await.unwrap();
        assert_eq!(from, a.advertise_addr());
        assert!(data.iter().all(|&x| x == data[0]), "one packet, not merged");
        got.push((data[0], data.len()));
    }
    got.sort();
    let want: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u8, l))
        .collect();
    assert_eq!(got, want);
    let stats = a.stats();
    assert_eq!(
        stats.datagrams_sent, 4,
        "up to the budget as datagrams: {stats:?}"
    );
    assert_eq!(
        stats.datagrams_via_stream, 2,
        "larger ones on streams: {stats:?}"
    );
    let err = within(a.send_to(b.advertise_addr(), &vec![0; 65_508]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("65508"), "{err}");
}

#[tokio::test]
async fn streams_carry_a_request_and_a_reply() {
    let ca = DevCa::new("streams").unwrap();
    let a = node(&ca, "a").await;
    let b = node(&ca, "b").await;
    let mut dialed = within(a.connect(b.advertise_addr(), deadline()))
        .await
        .unwrap();
    dialed.write_all(b"push").await.unwrap();
    let (mut accepted, from) = within(b.accept()).await.unwrap();
    assert_eq!(from, a.advertise_addr());
    let mut buf = [0; 4];
    within(accepted.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"push");
    accepted.write_all(b"pull and more").await.unwrap();
    accepted.shutdown().await.unwrap();
    let mut reply = Vec::new();
    within(dialed.read_to_end(&mut reply)).await.unwrap();
    assert_eq!(reply, b"pull and more", "shutdown finishes the stream: EOF");
    // A second stream reuses the pooled connection.
    let mut again = within(a.connect(b.advertise_addr(), deadline()))
        .await
        .unwrap();
    again.write_all(b"x").await.unwrap();
    within(b.accept()).await.unwrap();
    assert_eq!(a.stats().connections_dialed, 1);
    assert_eq!(a.stats().streams_opened, 2);
    assert_eq!(b.stats().streams_accepted, 2);
}

#[tokio::test]
async fn connect_honours_its_deadline() {
    let ca = DevCa::new("deadline").unwrap();
    let a = node(&ca, "a").await;
    let b = node(&ca, "b").await;
    let past = within(a.connect(b.advertise_addr(), Instant::now())).await;
    assert!(past.unwrap_err().is_timeout());
    // Nobody answers QUIC at a bare UDP socket: the dial runs into the deadline.
    let silent = std::net::UdpSocket::bind(loopback()).unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_millis(300);
    let err = within(a.connect(silent.local_addr().unwrap(), deadline))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An IPv6 destination from an IPv4 endpoint is refused at once.
    let err = within(a.send_to("[::1]:1".parse().unwrap(), b"x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("address families"), "{err}");
}

#[tokio::test]
async fn shutdown_wakes_pending_receivers_and_is_idempotent() {
    let ca = DevCa::new("shutdown").unwrap();
    let a = Arc::new(node(&ca, "a").await);
    let recv = tokio::spawn({
        let a = a.clone();
        async move { a.recv_from().await }
    });
    let accept = tokio::spawn({
        let a = a.clone();
        async move { a.accept().await.map(|(_, from)| from) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    assert!(within(recv).await.unwrap().unwrap_err().is_shutdown());
    assert!(within(accept).await.unwrap().unwrap_err().is_shutdown());
    assert!(
        a.send_to(a.advertise_addr(), b"x")
            .await
            .unwrap_err()
            .is_shutdown()
    );
    assert!(
        a.connect(a.advertise_addr(), deadline())
            .await
            .unwrap_err()
            .is_shutdown()
    );
}

#[tokio::test]
async fn advertise_address_is_never_unspecified() {
    let ca = DevCa::new("advertise").unwrap();
    let tls = ca.node_tls("a").unwrap();
    let err = QuicTransport::bind(QuicConfig::new("0.0.0.0:0".parse().unwrap(), tls.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("advertise"), "{err}");
    let config = QuicConfig::new("0.0.0.0:0".parse().unwrap(), tls)
        .with_advertise("127.0.0.1:0".parse().unwrap());
    let t = QuicTransport::bind(config).await.unwrap();
    assert_eq!(t.advertise_addr().ip().to_string(), "127.0.0.1");
    assert_eq!(t.advertise_addr().port(), t.local_addr().port());
}

#[tokio::test]
async fn a_node_of_another_ca_is_refused_both_ways() {
    let ca = DevCa::new("ours").unwrap();
    let other = DevCa::new("theirs").unwrap();
    let a = node(&ca, "a").await;
    let stranger = node(&other, "stranger").await;
    // Dialling us: its own verifier rejects our certificate (unknown CA), and ours its.
    let err = within(stranger.connect(a.advertise_addr(), deadline()))
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "refused, not timed out: {err}");
    stats_until(&a, "a counts the unknown CA", |s| {
        s.handshake_failures.unknown_ca >= 1
    })
    .await;
    assert_eq!(stranger.stats().handshake_failures.unknown_ca, 1);
    // Datagrams from it never arrive.
    within(stranger.send_to(a.advertise_addr(), b"let me in"))
        .await
        .unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(500), a.recv_from()).await;
    assert!(nothing.is_err(), "nothing delivered from a stranger");
    assert_eq!(a.stats().connections_open, 0);
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate() {
    let ca = DevCa::new("mtls").unwrap();
    let a = node(&ca, "a").await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut anonymous = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![memberlist_quic::ALPN.to_vec()];
    let client = raw_client(quic_client(anonymous.clone()).unwrap());
    let server_name = memberlist_quic::DEFAULT_SERVER_NAME;
    // The client may believe the handshake done; the node closes the connection at once.
    if let Ok(conn) = within(client.connect(a.advertise_addr(), server_name).unwrap()).await {
        within(conn.closed()).await;
    }
    stats_until(&a, "a counts the missing certificate", |s| {
        s.handshake_failures.no_client_certificate >= 1
    })
    .await;
    assert_eq!(a.stats().connections_accepted, 0);

    // Without mutual TLS the same client is let in.
    let open = node_with(&ca, "open", |c| c.with_mutual_tls(false)).await;
    let conn = within(client.connect(open.advertise_addr(), server_name).unwrap())
        .await
        .expect("no client certificate needed");
    conn.send_datagram(bytes::Bytes::from_static(b"hi"))
        .unwrap();
    let (data, _) = within(open.recv_from()).await.unwrap();
    assert_eq!(&data[..], b"hi");
}

#[tokio::test]
async fn a_wrong_alpn_is_refused() {
    let ca = DevCa::new("alpn").unwrap();
    let a = node(&ca, "a").await;
    let tls: TlsConfig = ca
        .node_tls("b")
        .unwrap()
        .with_alpn(vec![b"memberlist/0".to_vec()]);
    let client = raw_client(tls.quinn_client_config().unwrap());
    let connecting = client
        .connect(a.advertise_addr(), memberlist_quic::DEFAULT_SERVER_NAME)
        .unwrap();
    assert!(within(connecting).await.is_err(), "no common protocol");
    stats_until(&a, "a counts the ALPN mismatch", |s| {
        s.handshake_failures.alpn >= 1
    })
    .await;
    assert_eq!(a.stats().connections_open, 0);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_peers_still_served() {
    let ca = DevCa::new("conncap").unwrap();
    let a = node_with(&ca, "a", |c| c.with_max_connections(3)).await;
    let friend = node(&ca, "friend").await;
    within(friend.send_to(a.advertise_addr(), b"before"))
        .await
        .unwrap();
    within(a.recv_from()).await.unwrap();
    // A flood of connections from raw clients, each holding its connection.
    let client_config = ca.node_tls("flood").unwrap().quinn_client_config().unwrap();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..10 {
        let client = raw_client(client_config.clone());
        let connecting = client
            .connect(a.advertise_addr(), memberlist_quic::DEFAULT_SERVER_NAME)
            .unwrap();
        match within(connecting).await {
            Ok(conn) => held.push((client, conn)),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(held.len(), 2, "the friend holds one of three slots");
    assert_eq!(refused, 8);
    let stats = a.stats();
    assert_eq!(stats.connections_refused, 8, "{stats:?}");
    assert_eq!(stats.connections_open, 3, "{stats:?}");
    // The friend's pooled connection still works, both ways.
    within(friend.send_to(a.advertise_addr(), b"after"))
        .await
        .unwrap();
    let (data, from) = within(a.recv_from()).await.unwrap();
    assert_eq!((&data[..], from), (&b"after"[..], friend.advertise_addr()));
    within(a.send_to(from, b"still here")).await.unwrap();
    assert_eq!(
        &within(friend.recv_from()).await.unwrap().0[..],
        b"still here"
    );
    // Closing the flood frees the slots.
    for (client, conn) in held {
        conn.close(0u32.into(), b"bye");
        client.wait_idle().await;
    }
    stats_until(&a, "slots freed", |s| s.connections_open == 1).await;
}

#[tokio::test]
async fn streams_beyond_the_caps_wait_or_are_refused() {
    let ca = DevCa::new("streamcap").unwrap();
    let a = node_with(&ca, "a", |c| {
        c.with_max_streams_per_connection(2)
            .with_max_streams(3)
            .with_accept_queue(16)
    })
    .await;
    let client_config = ca.node_tls("flood").unwrap().quinn_client_config().unwrap();
    let mut conns = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..2 {
        let client = raw_client(client_config.clone());
        let conn = within(
            client
                .connect(a.advertise_addr(), memberlist_quic::DEFAULT_SERVER_NAME)
                .unwrap(),
        )
        .await
        .unwrap();
        // QUIC flow control: the peer grants two streams per connection, the third waits.
        for _ in 0..2 {
            let (mut send, recv) = within(conn.open_bi()).await.unwrap();
            send.write_all(b"stall").await.unwrap();
            streams.push((send, recv));
        }
        let third = tokio::time::timeout(Duration::from_millis(300), conn.open_bi()).await;
        assert!(
            third.is_err(),
            "a third concurrent stream must wait for credit"
        );
        conns.push((client, conn));
    }
    // Four streams arrived; the total cap of three refused one.
    stats_until(&a, "three accepted, one refused", |s| {
        s.streams_accepted == 3 && s.streams_refused == 1
    })
    .await;
    // The accepted ones are with the runtime (here: us); dropping them frees the slots.
    let mut accepted = Vec::new();
    for _ in 0..3 {
        accepted.push(within(a.accept()).await.unwrap());
    }
    drop(accepted);
    let friend = node(&ca, "friend").await;
    let mut s = within(friend.connect(a.advertise_addr(), deadline()))
        .await
        .unwrap();
    s.write_all(b"hello").await.unwrap();
    let (_, from) = within(a.accept()).await.unwrap();
    assert_eq!(from, friend.advertise_addr());
}

#[tokio::test]
async fn a_dual_stack_node_reports_ipv4_peers_as_ipv4() {
    let ca = DevCa::new("dual").unwrap();
    let tls = ca.node_tls("dual").unwrap();
    let config = QuicConfig::new("[::]:0".parse().unwrap(), tls)
        .with_advertise("127.0.0.1:0".parse().unwrap());
    let dual = match QuicTransport::bind(config).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skipping: cannot bind [::] ({e}); this host has no IPv6");
            return;
        }
    };
    let v4 = node(&ca, "v4").await;
    within(v4.send_to(dual.advertise_addr(), b"hello"))
        .await
        .unwrap();
    let (_, from) = within(dual.recv_from()).await.unwrap();
    assert_eq!(from, v4.advertise_addr(), "not ::ffff:127.0.0.1");
    within(dual.send_to(from, b"back")).await.unwrap();
    assert_eq!(&within(v4.recv_from()).await.unwrap().0[..], b"back");
    assert_eq!(
        dual.stats().connections_dialed,
        0,
        "answered on the same connection"
    );
}

/// Collects everything written by the fmt subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: every task runs on this thread, under the subscriber set here.
#[tokio::test]
async fn refusals_are_logged_as_warnings_with_their_reason() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ca = DevCa::new("logs").unwrap();
    let a = node(&ca, "a").await;
    let stranger = node(&DevCa::new("elsewhere").unwrap(), "stranger").await;
    assert!(
        within(stranger.connect(a.advertise_addr(), deadline()))
            .await
            .is_err()
    );
    stats_until(&a, "a counts the refusal", |s| {
        s.handshake_failures.unknown_ca >= 1
    })
    .await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("WARN") && l.contains("accepting"))
        .unwrap_or_else(|| panic!("a warning from the accepting side in:\n{logs}"));
    assert!(line.contains("unknown CA"), "{line}");
    assert!(
        line.contains(&stranger.advertise_addr().to_string()),
        "{line}"
    );
}

#[tokio::test]
async fn tls_material_loads_from_pem_files() {
    let ca = DevCa::new("files").unwrap();
    let issued = ca.issue("from-files").unwrap();
    let dir = std::env::temp_dir().join(format!(
        "memberlist-quic-pem-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, ca_file) = (
        dir.join("node.pem"),
        dir.join("node.key"),
        dir.join("ca.pem"),
    );
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();

    let tls = TlsConfig::from_pem_files(&cert, &key, &ca_file).expect("valid PEM files");
    let a = QuicTransport::bind(QuicConfig::new(loopback(), tls))
        .await
        .unwrap();
    let b = node(&ca, "b").await;
    within(a.send_to(b.advertise_addr(), b"from files"))
        .await
        .unwrap();
    assert_eq!(&within(b.recv_from()).await.unwrap().0[..], b"from files");

    // A missing file and a key that does not match the certificate are reported, not panics.
    let err = TlsConfig::from_pem_files(dir.join("nope.pem"), &key, &ca_file).unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
    let other_key = ca.issue("someone-else").unwrap().key_pem;
    let err = TlsConfig::from_pem(
        issued.cert_pem.as_bytes(),
        other_key.as_bytes(),
        ca.cert_pem().as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("TLS configuration"), "{err}");
    let err =
        TlsConfig::from_pem(b"", issued.key_pem.as_bytes(), ca.cert_pem().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("certificate chain"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn idle_connections_close_and_are_dialled_again() {
    let ca = DevCa::new("idle").unwrap();
    let short = |c: QuicConfig| c.with_idle_timeout(Duration::from_millis(300));
    let a = node_with(&ca, "a", short).await;
    let b = node_with(&ca, "b", short).await;
    within(a.send_to(b.advertise_addr(), b"one")).await.unwrap();
    within(b.recv_from()).await.unwrap();
    assert_eq!(a.stats().connections_open, 1);
    stats_until(&a, "a's idle connection closed", |s| {
        s.connections_open == 0
    })
    .await;
    stats_until(&b, "b's idle connection closed", |s| {
        s.connections_open == 0
    })
    .await;
    within(a.send_to(b.advertise_addr(), b"two")).await.unwrap();
    let (data, from) = within(b.recv_from()).await.unwrap();
    assert_eq!((&data[..], from), (&b"two"[..], a.advertise_addr()));
    assert_eq!(
        a.stats().connections_dialed,
        2,
        "dialled again after the idle close"
    );

    // With keep-alives the connection outlives the idle timeout.
    let alive = |c: QuicConfig| short(c).with_keep_alive(Some(Duration::from_millis(100)));
    let c = node_with(&ca, "c", alive).await;
    let d = node_with(&ca, "d", alive).await;
    within(c.send_to(d.advertise_addr(), b"hi")).await.unwrap();
    within(d.recv_from()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(c.stats().connections_open, 1);
    assert_eq!(c.stats().connections_dialed, 1);
}

#[tokio::test]
async fn wire_stats_count_udp_bytes_of_live_and_closed_connections() {
    let ca = DevCa::new("wire").unwrap();
    let a = node(&ca, "a").await;
    let b = node(&ca, "b").await;
    assert_eq!(a.wire_stats(), memberlist_quic::WireStats::default());
    let payload = vec![7u8; 1000];
    for _ in 0..10 {
        within(a.send_to(b.advertise_addr(), &payload))
            .await
            .unwrap();
        within(b.recv_from()).await.unwrap();
    }
    let live = a.wire_stats();
    // The handshake plus ten 1,000-byte datagrams, each in its own QUIC packet with its
    // header and AEAD tag: more bytes than the payloads, at least one datagram each.
    assert!(live.udp_datagrams_sent >= 11, "{live:?}");
    assert!(live.udp_bytes_sent > 10 * 1000, "{live:?}");
    assert!(live.udp_bytes_received > 0, "{live:?}");
    let seen_by_b = b.wire_stats();
    assert!(seen_by_b.udp_bytes_received > 10 * 1000, "{seen_by_b:?}");
    // After shutdown the connection is closed: its figures are kept, never lost.
    within(a.shutdown()).await.unwrap();
    stats_until(&a, "the connection closed", |s| s.connections_open == 0).await;
    let closed = a.wire_stats();
    assert!(
        closed.udp_bytes_sent >= live.udp_bytes_sent,
        "{closed:?} < {live:?}"
    );
}
