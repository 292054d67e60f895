//! Real-socket tests of `NetTransport` on the loopback interface (127.0.0.1 and ::1), always on
//! ports chosen by the system, so the tests run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use memberlist_net::{NetTransport, NetTransportOptions, Transport, TransportError};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bounds every wait so a broken transport fails the test instead of hanging it.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the operation did not complete within 20 s")
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

async fn loopback_v4() -> NetTransport {
    NetTransport::bind(addr("127.0.0.1:0")).await.unwrap()
}

/// A transport on [::1], or None (with a note) when this host has no IPv6 loopback.
async fn loopback_v6() -> Option<NetTransport> {
    match NetTransport::bind(addr("[::1]:0")).await {
        Ok(transport) => Some(transport),
        Err(e) => {
            eprintln!("skipping: cannot bind [::1] ({e}); this host has no IPv6 loopback");
            None
        }
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn datagrams_flow_both_ways() {
    let a = loopback_v4().await;
    let b = loopback_v4().await;

    within(a.send_to(b.advertise_addr(), b"ping"))
        .await
        .unwrap();
    let (data, from) = within(b.recv_from()).await.unwrap();
    assert_eq!(&data[..], b"ping");
    assert_eq!(from, a.advertise_addr(), "UDP goes out from the bound port");

    within(b.send_to(from, b"ack")).await.unwrap();
    let (data, from) = within(a.recv_from()).await.unwrap();
    assert_eq!(&data[..], b"ack");
    assert_eq!(from, b.advertise_addr());
}

#[tokio::test]
async fn udp_and_tcp_share_the_port() {
    let t = loopback_v4().await;
    let local = t.local_addr();
    assert_ne!(local.port(), 0);
    assert_eq!(t.advertise_addr(), local);
    // Both protocols hold the port: binding either again fails.
    let udp = std::net::UdpSocket::bind(local).unwrap_err();
    assert_eq!(udp.kind(), ErrorKind::AddrInUse);
    let tcp = std::net::TcpListener::bind(local).unwrap_err();
    assert_eq!(tcp.kind(), ErrorKind::AddrInUse);
    // And both answer there.
    let peer = loopback_v4().await;
    within(peer.send_to(local, b"x")).await.unwrap();
    assert_eq!(&within(t.recv_from()).await.unwrap().0[..], b"x");
    let _stream = within(peer.connect(local, deadline())).await.unwrap();
    within(t.accept()).await.unwrap();
}

#[tokio::test]
async fn a_fixed_port_whose_udp_side_is_taken_fails_to_bind() {
    let squatter = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let err = NetTransport::bind(SocketAddr::new(addr("127.0.0.1:0").ip(), port))
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
}

#[tokio::test]
async fn large_datagrams_arrive_whole() {
    let a = loopback_v4().await;
    let b = loopback_v4().await;
    assert_eq!(a.max_datagram_size(), 65_507);
    for len in [65_000, a.max_datagram_size()] {
        let sent: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        within(a.send_to(b.advertise_addr(), &sent)).await.unwrap();
        let (received, _) = within(b.recv_from()).await.unwrap();
        assert_eq!(received.len(), len);
        assert_eq!(&received[..], &sent[..]);
    }
}

#[tokio::test]
async fn oversized_datagrams_are_refused() {
    let a = loopback_v4().await;
    let too_big = vec![0; a.max_datagram_size() + 1];
    let err = within(a.send_to(a.advertise_addr(), &too_big))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::DatagramTooLarge { len, max } if len == max + 1),
        "{err}"
    );
}

#[tokio::test]
async fn ipv6_destination_from_ipv4_socket_is_a_family_error() {
    let a = loopback_v4().await;
    let err = within(a.send_to(addr("[::1]:9"), b"x")).await.unwrap_err();
    assert!(matches!(err, TransportError::AddressFamily { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_senders() {
    let a = Arc::new(loopback_v4().await);
    let b = loopback_v4().await;
    let to = b.advertise_addr();
    let tasks: Vec<_> = (0..50u8)
        .map(|i| {
            let a = Arc::clone(&a);
            tokio::spawn(async move { a.send_to(to, &[i; 100]).await })
        })
        .collect();
    for task in tasks {
        within(task).await.unwrap().unwrap();
    }
    let mut seen = [false; 50];
    for _ in 0..50 {
        let (data, _) = within(b.recv_from()).await.unwrap();
        assert_eq!(data.len(), 100);
        assert!(data.iter().all(|&byte| byte == data[0]), "never merged");
        seen[usize::from(data[0])] = true;
    }
    assert!(seen.iter().all(|&s| s));
}

#[tokio::test]
async fn streams_carry_bytes_both_ways() {
    let a = loopback_v4().await;
    let b = loopback_v4().await;

    let mut dialed = within(a.connect(b.advertise_addr(), deadline()))
        .await
        .unwrap();
    let (mut accepted, from) = within(b.accept()).await.unwrap();
    assert_eq!(from, dialed.local_addr().unwrap());
    assert!(dialed.nodelay().unwrap());
    assert!(accepted.nodelay().unwrap());

    // A request larger than any socket buffer, written while the other side reads.
    let request: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let writer = {
        let request = request.clone();
        tokio::spawn(async move {
            dialed.write_all(&request).await.unwrap();
            dialed
        })
    };
    let mut received = vec![0; request.len()];
    within(accepted.read_exact(&mut received)).await.unwrap();
    assert_eq!(received, request);
    let mut dialed = within(writer).await.unwrap();

    within(accepted.write_all(b"reply")).await.unwrap();
    drop(accepted);
    let mut reply = Vec::new();
    within(dialed.read_to_end(&mut reply)).await.unwrap();
    assert_eq!(reply, b"reply");
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_with_an_io_error() {
    let t = loopback_v4().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    // Refused at once, well before the deadline: an I/O error, not a timeout.
    let err = within(t.connect(closed, deadline())).await.unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
    assert!(!err.is_timeout());
}

#[tokio::test]
async fn a_deadline_in_the_past_is_a_timeout() {
    let a = loopback_v4().await;
    let b = loopback_v4().await;
    let past = Instant::now()
        .checked_sub(Duration::from_millis(1))
        .unwrap_or_else(Instant::now);
    let err = within(a.connect(b.advertise_addr(), past))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout), "{err}");
    let err = within(a.connect(b.advertise_addr(), Instant::now()))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn ipv6_loopback() {
    let (Some(a), Some(b)) = (loopback_v6().await, loopback_v6().await) else {
        return;
    };
    assert!(a.local_addr().is_ipv6());
    assert_eq!(a.advertise_addr(), a.local_addr());
    assert_eq!(a.max_datagram_size(), 65_527);

    within(a.send_to(b.advertise_addr(), b"ping6"))
        .await
        .unwrap();
    let (data, from) = within(b.recv_from()).await.unwrap();
    assert_eq!((&data[..], from), (&b"ping6"[..], a.advertise_addr()));
    within(b.send_to(from, b"ack6")).await.unwrap();
    assert_eq!(&within(a.recv_from()).await.unwrap().0[..], b"ack6");

    let large = vec![7u8; 65_000];
    within(a.send_to(b.advertise_addr(), &large)).await.unwrap();
    assert_eq!(within(b.recv_from()).await.unwrap().0.len(), 65_000);

    let mut dialed = within(a.connect(b.advertise_addr(), deadline()))
        .await
        .unwrap();
    let (mut accepted, from) = within(b.accept()).await.unwrap();
    assert!(from.is_ipv6());
    within(dialed.write_all(b"six")).await.unwrap();
    let mut buf = [0; 3];
    within(accepted.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"six");

    let err = within(a.send_to(addr("127.0.0.1:9"), b"x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::AddressFamily { .. }),
        "an IPv6-only socket cannot reach IPv4: {err}"
    );
}

#[tokio::test]
async fn the_advertise_override_is_reported() {
    let options =
        NetTransportOptions::new(addr("127.0.0.1:0")).with_advertise(addr("203.0.113.9:7946"));
    let t = NetTransport::with_options(options).await.unwrap();
    assert_eq!(t.advertise_addr(), addr("203.0.113.9:7946"));
    assert_eq!(t.local_addr().ip(), addr("127.0.0.1:0").ip());

    // Port 0 in the override means "the bound port".
    let options =
        NetTransportOptions::new(addr("127.0.0.1:0")).with_advertise(addr("203.0.113.9:0"));
    let t = NetTransport::with_options(options).await.unwrap();
    assert_eq!(
        t.advertise_addr(),
        SocketAddr::new(addr("203.0.113.9:0").ip(), t.local_addr().port())
    );

    // An unspecified override is refused.
    let options =
        NetTransportOptions::new(addr("127.0.0.1:0")).with_advertise(addr("0.0.0.0:7946"));
    let err = NetTransport::with_options(options).await.unwrap_err();
    assert!(matches!(err, TransportError::Advertise(_)), "{err}");
}

#[tokio::test]
async fn the_receive_buffer_is_enlarged() {
    let t = loopback_v4().await;
    let default = NetTransport::with_options(
        NetTransportOptions::new(addr("127.0.0.1:0")).with_udp_recv_buffer(0),
    )
    .await
    .unwrap();
    let (Some(asked), Some(system)) = (t.udp_recv_buffer_size(), default.udp_recv_buffer_size())
    else {
        eprintln!("skipping: this system does not report SO_RCVBUF");
        return;
    };
    assert!(asked >= system, "asked {asked}, system default {system}");
}

#[tokio::test]
async fn shutdown_wakes_pending_calls_and_sticks() {
    let t = Arc::new(loopback_v4().await);
    let port = t.local_addr();

    let receiver = tokio::spawn({
        let t = Arc::clone(&t);
        async move { t.recv_from().await }
    });
    let acceptor = tokio::spawn({
        let t = Arc::clone(&t);
        async move { t.accept().await.map(|(_, from)| from) }
    });
    // Let both calls start waiting.
    tokio::time::sleep(Duration::from_millis(50)).await;
    within(t.shutdown()).await.unwrap();

    assert!(within(receiver).await.unwrap().unwrap_err().is_shutdown());
    assert!(within(acceptor).await.unwrap().unwrap_err().is_shutdown());

    // Later calls fail too, and shutdown is idempotent.
    assert!(within(t.recv_from()).await.unwrap_err().is_shutdown());
    assert!(within(t.accept()).await.unwrap_err().is_shutdown());
    assert!(
        within(t.send_to(port, b"x"))
            .await
            .unwrap_err()
            .is_shutdown()
    );
    assert!(
        within(t.connect(port, deadline()))
            .await
            .unwrap_err()
            .is_shutdown()
    );
    within(t.shutdown()).await.unwrap();

    // The port is free again.
    let again = NetTransport::bind(port).await.unwrap();
    assert_eq!(again.local_addr(), port);
}

#[tokio::test]
async fn recv_from_is_cancel_safe() {
    let a = loopback_v4().await;
    let b = loopback_v4().await;
    // Cancel many pending receives, then check nothing was lost.
    for _ in 0..20 {
        let cancelled = tokio::time::timeout(Duration::from_millis(1), b.recv_from()).await;
        assert!(cancelled.is_err());
    }
    for i in 0..10u8 {
        within(a.send_to(b.advertise_addr(), &[i])).await.unwrap();
    }
    // Race each receive against a yield, so many are dropped midway.
    let mut got = Vec::new();
    within(async {
        while got.len() < 10 {
            tokio::select! {
                datagram = b.recv_from() => got.push(datagram.unwrap().0[0]),
                _ = tokio::task::yield_now() => {}
            }
        }
    })
    .await;
    got.sort_unstable();
    assert_eq!(got, (0..10).collect::<Vec<u8>>());
}
