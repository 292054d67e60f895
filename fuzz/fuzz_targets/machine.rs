//! The protocol machine under hostile input: datagrams, accepted streams (push/pull merges,
//! also through the equal-view check of `handle_stream`, TCP pings, user messages)
//! and the passage of time, in a fuzzer-chosen order, against a node
//! that already knows a few members. Checks that nothing panics and that the machine's own
//! bookkeeping stays sane (we stay a member; our incarnation never decreases).
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use memberlist_core::delegate::NoopDelegate;
use memberlist_core::machine::{Machine, ProtocolConfig};
use memberlist_core::wire::{Alive, IpBytes, Message, Pipeline, StreamDecoder, StreamRole, Vsn};

#[path = "common.rs"]
mod common;

/// Plain pipeline (so the fuzzer reaches the machine rather than the cipher) with codecs.
static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| common::pipelines()[0].clone());

/// Alive announcements for the members the node knows before the hostile input starts.
static WELCOME: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    (1..=4u8)
        .map(|i| {
            let alive = Alive {
                incarnation: 1,
                node: format!("node-{i}").into(),
                addr: IpBytes::from(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, i + 1))),
                port: 7946,
                meta: Default::default(),
                vsn: Vsn::default_advertised(),
            };
            let message = Message::Alive(alive);
            message.to_bytes().to_vec()
        })
        .collect()
});

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, i % 8 + 1), 7946))
}

fn drain(m: &mut Machine<NoopDelegate>) {
    while m.poll_transmit().is_some() {}
    while m.poll_stream_request().is_some() {}
    while m.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let me = SocketAddr::from((Ipv4Addr::LOCALHOST, 7946));
    let cfg = ProtocolConfig::local("fuzz");
    let Ok(mut m) = Machine::new(cfg, PIPELINE.clone(), me, NoopDelegate, 7, start) else {
        return;
    };
    let mut now = start;
    for (i, packet) in WELCOME.iter().enumerate() {
        m.handle_datagram(now, peer(i as u8 + 1), packet);
    }
    drain(&mut m);
    let mut incarnation = m.local_member().map(|l| l.incarnation);

    // Records: [op][from][len_hi][len_lo][payload…]; op picks datagram, stream or time.
    let mut rest = data;
    while let [op, from, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        match op % 4 {
            0 | 1 => m.handle_datagram(now, peer(*from), payload),
            // A stream: opened as a driver opens it (half the time as a whole buffer, as
            // the simulator does), then the machine's one entry point decodes it or takes
            // it as our own view.
            2 => {
                let opened = if from & 1 == 1 {
                    StreamDecoder::open_complete(
                        StreamRole::Acceptor,
                        &PIPELINE,
                        bytes::Bytes::copy_from_slice(payload),
                    )
                } else {
                    let mut decoder = StreamDecoder::new(StreamRole::Acceptor);
                    decoder.feed(payload);
                    decoder.poll_opened(&PIPELINE)
                };
                match opened {
                    Ok(Some(msg)) => {
                        let _ = m.handle_stream(now, peer(*from), msg);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = m.stream_error_reply(&e);
                    }
                }
            }
            _ => {
                // Advance virtual time by up to ~65 s and fire whatever is due.
                now += Duration::from_millis(u64::from(*from) * 256 + len as u64);
                m.handle_timeout(now);
            }
        }
        drain(&mut m);
        let local = m.local_member().map(|l| l.incarnation);
        assert!(local.is_some(), "the node lost its own entry");
        assert!(local >= incarnation, "our incarnation went backwards");
        incarnation = local;
    }
});
