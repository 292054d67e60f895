//! Real packets and streams captured from Go memberlist 0.2.2 (see `tests/data/`).
#![allow(clippy::unwrap_used)]

use memberlist_aes_gcm::{AesGcm, Encryption, EnvelopeVersion, SecretKey};

/// Key of the `enc_*` captures: bytes 00..1f (AES-256).
fn capture_key() -> AesGcm {
    let key: Vec<u8> = (0u8..32).collect();
    AesGcm::from_key(SecretKey::new(&key).unwrap())
}

/// Highest memberlist message type (`hasLabelMsg` = 13).
const MAX_MESSAGE_TYPE: u8 = 13;

struct Capture {
    name: &'static str,
    tcp: bool,
    bytes: Vec<u8>,
    /// Plaintext as decoded by the capture tooling (`-> plaintext N bytes: HEX`).
    plaintext: Vec<u8>,
}

fn parse(name: &'static str, text: &str) -> Capture {
    let mut tcp = None;
    let mut hex_text = String::new();
    let mut plaintext = None;
    for line in text.lines() {
        if let Some(transport) = line.strip_prefix("# transport: ") {
            tcp = Some(transport.starts_with("TCP"));
        } else if let Some(comment) = line.strip_prefix('#') {
            if let Some((_, rest)) = comment.split_once("-> plaintext ") {
                let (_, hex) = rest.split_once(": ").unwrap();
                plaintext = Some(hex::decode(hex.trim()).unwrap());
            }
        } else {
            hex_text.push_str(line.trim());
        }
    }
    Capture {
        name,
        tcp: tcp.unwrap(),
        bytes: hex::decode(hex_text).unwrap(),
        plaintext: plaintext.unwrap(),
    }
}

fn captures() -> Vec<Capture> {
    vec![
        parse("enc_ack", include_str!("data/enc_ack.hex")),
        parse(
            "enc_comp_compressed_packet",
            include_str!("data/enc_comp_compressed_packet.hex"),
        ),
        parse(
            "enc_pushpull_join_request",
            include_str!("data/enc_pushpull_join_request.hex"),
        ),
        parse(
            "enc_user_tcp_reliable",
            include_str!("data/enc_user_tcp_reliable.hex"),
        ),
    ]
}

/// Splits a wire message into (AAD, envelope): a UDP payload is a bare envelope with no AAD;
/// a stream is `[0a][u32 BE length]` + envelope, authenticated with those first 5 bytes.
fn split(tcp: bool, bytes: &[u8]) -> (&[u8], &[u8]) {
    if !tcp {
        return (&[], bytes);
    }
    assert_eq!(bytes[0], 0x0a, "encryptMsg");
    let (header, envelope) = bytes.split_at(5);
    let len = u32::from_be_bytes(header[1..5].try_into().unwrap());
    assert_eq!(len as usize, envelope.len());
    (header, envelope)
}

/// Decrypts, checks the plaintext, and re-seals with the captured nonce.
fn check(enc: &AesGcm, name: &str, tcp: bool, bytes: &[u8]) -> Vec<u8> {
    let (aad, envelope) = split(tcp, bytes);
    let mut plain = Vec::new();
    enc.decrypt(envelope, aad, &mut plain)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(plain[0] <= MAX_MESSAGE_TYPE, "{name}: type {}", plain[0]);

    assert_eq!(envelope[0], 1, "{name}: Go 0.2.2 with protocol 2 sends v1");
    let nonce: [u8; 12] = envelope[1..13].try_into().unwrap();
    let mut resealed = Vec::new();
    enc.encrypt_with_nonce(EnvelopeVersion::V1, nonce, &plain, aad, &mut resealed)
        .unwrap();
    assert_eq!(resealed, envelope, "{name}: re-encryption differs");

    // Without the right AAD (e.g. a stream opened as a packet) nothing authenticates.
    if tcp {
        assert!(enc.decrypt(envelope, b"", &mut Vec::new()).is_err());
    }
    plain
}

#[test]
fn go_captures_decrypt_and_reseal() {
    let enc = capture_key();
    let captures = captures();
    assert!(captures.iter().any(|c| c.tcp) && captures.iter().any(|c| !c.tcp));
    for c in &captures {
        let plain = check(&enc, c.name, c.tcp, &c.bytes);
        assert_eq!(plain, c.plaintext, "{}", c.name);
    }
}

#[test]
fn go_captures_open_with_secondary_key() {
    let enc = AesGcm::keyring_from_bytes([[0xEE; 16].to_vec(), (0u8..32).collect()]).unwrap();
    for c in captures() {
        let (aad, envelope) = split(c.tcp, &c.bytes);
        let mut plain = Vec::new();
        enc.decrypt(envelope, aad, &mut plain).unwrap();
        assert_eq!(plain, c.plaintext, "{}", c.name);
    }
}

#[test]
fn go_two_node_session_with_aes128() {
    let text = include_str!("data/v022_2node_compressed_encrypted_key0123456789abcdef.txt");
    let enc = AesGcm::from_key(SecretKey::new(b"0123456789abcdef").unwrap());
    let mut lines = text.lines();
    let (mut streams, mut packets) = (0, 0);
    while let Some(line) = lines.next() {
        let tcp = if line.starts_with("STREAM-WRITE") {
            true
        } else if line.starts_with("UDP") {
            false
        } else {
            continue;
        };
        let len: usize = line.rsplit_once("len=").unwrap().1.parse().unwrap();
        let bytes = hex::decode(lines.next().unwrap().trim()).unwrap();
        assert_eq!(bytes.len(), len);
        check(&enc, line, tcp, &bytes);
        if tcp {
            streams += 1;
        } else {
            packets += 1;
        }
    }
    assert_eq!((streams, packets), (2, 8));
}
