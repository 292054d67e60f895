//! Golden tests on real traffic captured from Go memberlist 0.2.2 (Debian's package): every
//! captured packet and stream decodes to the messages the capture lists, and re-encoding what
//! we decoded reproduces Go's bytes layer by layer (message, compound, LZW, CRC, AES-GCM with
//! the captured nonce).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memberlist::aes_gcm::AesGcm;
use memberlist::codec::{Codec, CodecRegistry};
use memberlist::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist::lzw::Lzw;
use memberlist::wire::*;

const CAPTURE_KEY: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Capture {
    name: String,
    udp: bool,
    client_to_server: bool,
    key: Option<SecretKey>,
    tags: Vec<String>,
    bytes: Vec<u8>,
}

fn load_captures() -> Vec<Capture> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(data_dir().join("captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cap = Capture {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            udp: false,
            client_to_server: false,
            key: None,
            tags: Vec::new(),
            bytes: Vec::new(),
        };
        let mut hex_text = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("# transport: ") {
                cap.udp = t.starts_with("UDP");
                cap.client_to_server = t.contains("client->server");
            } else if line.starts_with("# key: ") {
                cap.key = Some(SecretKey::new(&CAPTURE_KEY).unwrap());
            } else if let Some(t) = line.strip_prefix("# tags: ") {
                cap.tags = t.split_whitespace().map(str::to_owned).collect();
            } else if !line.starts_with('#') {
                hex_text.push_str(line.trim());
            }
        }
        cap.bytes = hex::decode(hex_text).unwrap();
        out.push(cap);
    }
    assert!(
        out.len() >= 50,
        "expected the full capture set, got {}",
        out.len()
    );
    out
}

fn aes(key: &SecretKey) -> Arc<AesGcm> {
    Arc::new(AesGcm::new(Keyring::new(key.clone())))
}

fn pipeline(key: Option<&SecretKey>) -> Pipeline {
    let codecs = CodecRegistry::new().with_decoder(Arc::new(Lzw));
    let p = Pipeline::new().with_codecs(codecs);
    match key {
        Some(k) => p.with_encryption(aes(k), EnvelopeVersion::V1),
        None => p,
    }
}

fn lzw_decompress(body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let c = Compress::decode_body(body).unwrap().0;
    assert_eq!(c.algo, 0);
    let mut out = Vec::new();
    Lzw.decompress(&c.buf, 1 << 20, &mut out).unwrap();
    (c.buf.to_vec(), out)
}

/// Walks one message, returning its tag paths and checking that every layer re-encodes to
/// exactly the captured bytes.
fn walk_message(msg: &[u8], prefix: &str, tags: &mut Vec<String>) {
    let (&t, body) = msg.split_first().unwrap();
    match MessageType::from_byte(t).unwrap() {
        MessageType::Compound => {
            let parts = decode_compound(body).unwrap();
            assert_eq!(parts.truncated, 0);
            let mut again = Vec::new();
            encode_compound(&parts.parts, &mut again).unwrap();
            assert_eq!(again, msg, "compound re-encoding");
            let p = format!("{prefix}compound[{}]/", parts.parts.len());
            for part in parts.parts {
                walk_message(part, &p, tags);
            }
        }
        MessageType::Compress => {
            let (compressed, inner) = lzw_decompress(body);
            let mut again = Vec::new();
            Lzw.compress(&inner, &mut again).unwrap();
            assert_eq!(
                hex::encode(&again),
                hex::encode(&compressed),
                "LZW re-encoding"
            );
            walk_message(&inner, &format!("{prefix}compress/"), tags);
        }
        MessageType::PushPull => {
            let pp = PushPull::decode(msg, &Limits::default()).unwrap();
            assert_eq!(
                hex::encode(pp.to_bytes()),
                hex::encode(msg),
                "push/pull re-encoding"
            );
            assert!(!pp.states.is_empty());
            assert!(pp.states.iter().all(|s| s.vsn.is_complete()));
            assert!(
                pp.user_state.starts_with(b"state-"),
                "user state {:?}",
                pp.user_state
            );
            let suffix = if pp.join { "(join)" } else { "" };
            tags.push(format!("{prefix}pushPull{suffix}"));
        }
        MessageType::User if prefix.contains("stream:") => {
            let mut dec = StreamDecoder::new(StreamRole::Dialer);
            dec.feed(msg);
            let Some(StreamMessage::User(payload)) = dec.poll(&Pipeline::new()).unwrap() else {
                panic!("not a stream user message");
            };
            let mut again = Vec::new();
            encode_stream_user_message(&payload, &mut again);
            assert_eq!(again, msg, "stream user message re-encoding");
            tags.push(format!("{prefix}user"));
        }
        _ => {
            let m = Message::decode(msg).unwrap();
            assert_eq!(
                hex::encode(m.to_bytes()),
                hex::encode(msg),
                "message re-encoding"
            );
            let name = match &m {
                Message::Ping(_) => "ping",
                Message::IndirectPing(_) => "indirectPing",
                Message::Ack(_) => "ack",
                Message::Nack(_) => "nack",
                Message::Suspect(_) => "suspect",
                Message::Alive(a) => {
                    assert!(a.vsn.is_complete());
                    "alive"
                }
                Message::Dead(d) if d.is_leave() => "dead(leave)",
                Message::Dead(_) => "dead",
                Message::User(_) => "user",
            };
            tags.push(format!("{prefix}{name}"));
        }
    }
}

/// Removes the encryption layer, checking that sealing again with the captured nonce gives
/// the captured bytes.
fn open_envelope(key: &SecretKey, envelope: &[u8], aad: &[u8]) -> Vec<u8> {
    let enc = aes(key);
    let mut plain = Vec::new();
    memberlist::encryption::Encryption::decrypt(&*enc, envelope, aad, &mut plain).unwrap();
    let nonce: [u8; 12] = envelope[1..13].try_into().unwrap();
    let mut again = Vec::new();
    enc.encrypt_with_nonce(EnvelopeVersion::V1, nonce, &plain, aad, &mut again)
        .unwrap();
    assert_eq!(again, envelope, "AES-GCM re-encoding");
    plain
}

fn capture_tags(cap: &Capture) -> Vec<String> {
    let mut tags = Vec::new();
    if cap.udp {
        let (mut buf, prefix) = match &cap.key {
            Some(k) => (open_envelope(k, &cap.bytes, b""), "enc/".to_owned()),
            None => (cap.bytes.clone(), String::new()),
        };
        let mut prefix = prefix;
        if buf[0] == MessageType::HasCrc.byte() {
            let inner = strip_crc(&buf).unwrap().to_vec();
            let mut again = Vec::new();
            write_crc_wrapped(&inner, &mut again);
            assert_eq!(again, buf, "CRC re-encoding");
            buf = inner;
            prefix.push_str("crc/");
        }
        walk_message(&buf, &prefix, &mut tags);
    } else {
        let (buf, prefix) = match &cap.key {
            Some(k) => {
                assert_eq!(cap.bytes[0], MessageType::Encrypt.byte());
                let len = u32::from_be_bytes(cap.bytes[1..5].try_into().unwrap()) as usize;
                assert_eq!(len + 5, cap.bytes.len());
                (open_envelope(k, &cap.bytes[5..], &cap.bytes[..5]), "enc/")
            }
            None => (cap.bytes.clone(), ""),
        };
        walk_message(&buf, &format!("stream:{prefix}"), &mut tags);
        for t in &mut tags {
            *t = t.replacen("stream:", "", 1);
        }
    }
    tags
}

#[test]
fn every_capture_decodes_to_its_tags_and_reencodes_exactly() {
    for cap in load_captures() {
        let tags = capture_tags(&cap);
        assert_eq!(tags, cap.tags, "{}", cap.name);
    }
}

#[test]
fn pipelines_decode_every_capture() {
    for cap in load_captures() {
        let p = pipeline(cap.key.as_ref());
        if cap.udp {
            let decoded = p
                .decode_packet(&cap.bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", cap.name));
            assert!(
                decoded.errors.is_empty(),
                "{}: {:?}",
                cap.name,
                decoded.errors
            );
            assert_eq!(decoded.truncated, 0);
            assert_eq!(decoded.messages.len(), cap.tags.len(), "{}", cap.name);
        } else {
            let role = if cap.client_to_server {
                StreamRole::Acceptor
            } else {
                StreamRole::Dialer
            };
            // Feed in small pieces to exercise the incremental decoder.
            let mut dec = StreamDecoder::new(role);
            let mut got = None;
            for chunk in cap.bytes.chunks(7) {
                assert!(got.is_none(), "{}: message before the end", cap.name);
                dec.feed(chunk);
                got = dec.poll(&p).unwrap_or_else(|e| panic!("{}: {e}", cap.name));
            }
            let msg = got.unwrap_or_else(|| panic!("{}: incomplete", cap.name));
            assert_eq!(dec.buffered(), 0);
            let tag = cap.tags[0].rsplit('/').next().unwrap();
            match (tag, msg) {
                ("pushPull(join)", StreamMessage::PushPull(pp)) => assert!(pp.join),
                ("user", StreamMessage::User(u)) => assert!(!u.is_empty()),
                (t, m) => panic!("{}: tag {t} but decoded {m:?}", cap.name),
            }
        }
    }
}

/// Our own send pipeline produces Go's exact bytes for every unencrypted UDP capture
/// (same compression decision, same LZW output, same CRC).
#[test]
fn send_pipeline_reproduces_unencrypted_packets() {
    let lzw: Arc<dyn Codec> = Arc::new(Lzw);
    for cap in load_captures()
        .into_iter()
        .filter(|c| c.udp && c.key.is_none())
    {
        let compressed = cap.name.starts_with("compressed_");
        let codecs = if compressed {
            CodecRegistry::new().with_compressor(lzw.clone())
        } else {
            CodecRegistry::new()
        };
        let p = Pipeline::new().with_codecs(codecs);
        let has_crc = cap.bytes[0] == MessageType::HasCrc.byte();
        let mut inner = if has_crc {
            cap.bytes[5..].to_vec()
        } else {
            cap.bytes.clone()
        };
        if inner[0] == MessageType::Compress.byte() {
            inner = lzw_decompress(&inner[1..]).1;
        }
        let mut out = Vec::new();
        p.encode_packet(&inner, has_crc, &mut out).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&cap.bytes), "{}", cap.name);
    }
}

/// The older scenario logs (`v022_*.txt`): every entry decodes without error, including the
/// run encrypted with the ASCII key "0123456789abcdef".
#[test]
fn scenario_logs_decode() {
    let dir = data_dir().join("v022");
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let key = name
            .contains("encrypted")
            .then(|| SecretKey::new(b"0123456789abcdef").unwrap());
        let p = pipeline(key.as_ref());
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            let udp = line.starts_with("UDP ");
            let stream = line.starts_with("STREAM-WRITE ");
            if !udp && !stream {
                continue;
            }
            let want_len: usize = line.rsplit("len=").next().unwrap().parse().unwrap();
            let bytes = hex::decode(lines.next().unwrap().trim()).unwrap();
            assert_eq!(bytes.len(), want_len, "{name}: {line}");
            total += 1;
            if udp {
                let d = p
                    .decode_packet(&bytes)
                    .unwrap_or_else(|e| panic!("{name}: {line}: {e}"));
                assert!(
                    d.errors.is_empty() && !d.messages.is_empty(),
                    "{name}: {line}"
                );
            } else {
                let role = if line.contains("(dialer)") {
                    StreamRole::Acceptor
                } else {
                    StreamRole::Dialer
                };
                let mut dec = StreamDecoder::new(role);
                dec.feed(&bytes);
                let m = dec
                    .poll(&p)
                    .unwrap_or_else(|e| panic!("{name}: {line}: {e}"));
                assert!(m.is_some(), "{name}: {line}: incomplete");
            }
        }
    }
    assert!(total > 100, "only {total} entries");
}
