//! The encryption and compression vectors of the wire specification (§5.5, §6.1), run through
//! the full packet and stream pipelines (label header, AAD rules, envelope versions).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memberlist::aes_gcm::AesGcm;
use memberlist::codec::{Codec, CodecRegistry};
use memberlist::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist::lzw::Lzw;
use memberlist::wire::*;

const ACK: &str = "0282a75061796c6f6164c0a55365714e6f01";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn aes() -> Arc<AesGcm> {
    Arc::new(AesGcm::new(Keyring::new(
        SecretKey::new(b"0123456789abcdef").unwrap(),
    )))
}

fn ack() -> Message {
    Message::decode(&h(ACK)).unwrap()
}

#[test]
fn udp_v1_no_label() {
    let p = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V1);
    let pkt = h(
        "01 000102030405060708090a0b ffbd634d7f0d57598942c7bf93fec1636fd6e854d4c96d97f73de9bacbd3d73bb56d",
    );
    assert_eq!(pkt.len(), 47);
    assert_eq!(p.decode_packet(&pkt).unwrap().messages, vec![ack()]);
}

#[test]
fn udp_v1_label_prod() {
    let label = Label::new("prod").unwrap();
    let p = Pipeline::new()
        .with_label(label.clone())
        .with_encryption(aes(), EnvelopeVersion::V1);
    let pkt = h(
        "f4 04 70726f64 01 000102030405060708090a0b ffbd634d7f0d57598942c7bf93fec1636fd6 41e4e675479348fec66c7ce6a07e2b5a",
    );
    assert_eq!(p.decode_packet(&pkt).unwrap().messages, vec![ack()]);

    // The same envelope is rejected without the label (AAD differs), and a node with another
    // label drops it before decryption.
    let unlabeled = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V1);
    assert!(unlabeled.decode_packet(&pkt[6..]).is_err());
    let other = Pipeline::new()
        .with_label(Label::new("test").unwrap())
        .with_encryption(aes(), EnvelopeVersion::V1);
    assert!(matches!(
        other.decode_packet(&pkt),
        Err(WireError::Label(LabelError::Mismatch { .. }))
    ));

    // SkipInboundLabelCheck: a header present is an error; without it our label is the AAD.
    let skip = p.clone().with_skip_inbound_label_check(true);
    assert!(matches!(
        skip.decode_packet(&pkt),
        Err(WireError::Label(LabelError::UnexpectedHeader))
    ));
    assert_eq!(skip.decode_packet(&pkt[6..]).unwrap().messages, vec![ack()]);

    // Our own labeled, encrypted packets round trip.
    let mut out = Vec::new();
    p.encode_packet(&h(ACK), false, &mut out).unwrap();
    assert_eq!(&out[..6], b"\xf4\x04prod");
    assert_eq!(out.len(), 6 + 18 + 29);
    assert_eq!(p.decode_packet(&out).unwrap().messages, vec![ack()]);
}

#[test]
fn udp_v0_padding() {
    let p = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V1);
    let pkt = h(
        "00 000102030405060708090a0b ffbd634d7f0d57598942c7bf93fec1636fd659f409bd44457967e4fde1a5a56247f0a03c3217e8e215319142263e5b3c",
    );
    assert_eq!(pkt.len(), 61);
    assert_eq!(p.decode_packet(&pkt).unwrap().messages, vec![ack()]);

    let v0 = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V0);
    let mut out = Vec::new();
    v0.encode_packet(&h(ACK), false, &mut out).unwrap();
    assert_eq!(out.len(), 61);
    assert_eq!(out[0], 0);
    assert_eq!(p.decode_packet(&out).unwrap().messages, vec![ack()]);
}

#[test]
fn tcp_v1_label_prod() {
    let p = Pipeline::new()
        .with_label(Label::new("prod").unwrap())
        .with_encryption(aes(), EnvelopeVersion::V1);
    let stream = h(
        "f4 04 70726f64 0a 0000002f 01 000102030405060708090a0b ffbd634d7f0d57598942c7bf93fec1636fd6 eb24d881fb29d572cfa48ba9f7390d98",
    );
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&stream);
    let Some(StreamMessage::Ack(a)) = dec.poll(&p).unwrap() else {
        panic!("expected an ack")
    };
    assert_eq!(a.seq_no, 1);

    // Our stream framing: the dialer's preamble carries the label, the frame does not, and the
    // AAD is header + label.
    let mut out = Vec::new();
    p.write_stream_preamble(&mut out);
    p.encode_stream(&h(ACK), &mut out).unwrap();
    assert_eq!(out.len(), stream.len());
    assert_eq!(&out[..11], &stream[..11]);
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&out);
    assert!(matches!(dec.poll(&p).unwrap(), Some(StreamMessage::Ack(_))));
}

#[test]
fn verify_incoming_and_outgoing() {
    let strict = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V1);
    let lenient = strict.clone().with_gossip_verify(false, false);
    let plain = h(ACK);
    // Plaintext packets are refused by a strict node and accepted by a lenient one.
    assert!(matches!(
        strict.decode_packet(&plain),
        Err(WireError::Encryption(_))
    ));
    assert_eq!(lenient.decode_packet(&plain).unwrap().messages, vec![ack()]);
    // GossipVerifyOutgoing=false sends plaintext even though a key exists.
    let mut out = Vec::new();
    lenient.encode_packet(&plain, false, &mut out).unwrap();
    assert_eq!(out, plain);
    // Streams: a plaintext request to a strict node is an envelope error (errResp reply).
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&plain);
    let err = dec.poll(&strict).unwrap_err();
    assert_eq!(err, WireError::NotEncrypted);
    assert!(err.is_envelope_error());
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&plain);
    assert!(dec.poll(&lenient).unwrap().is_some());
    // An encrypted stream to a node without keys.
    let mut enc_stream = Vec::new();
    strict.encode_stream(&plain, &mut enc_stream).unwrap();
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&enc_stream);
    assert_eq!(
        dec.poll(&Pipeline::new()).unwrap_err(),
        WireError::EncryptionNotConfigured
    );
}

#[test]
fn lzw_vector_and_compress_if_smaller() {
    let mut lzw = Vec::new();
    Lzw.compress(&h(ACK), &mut lzw).unwrap();
    assert_eq!(
        hex::encode(&lzw),
        "0005083a05254c1e366fc29001566a4a99384ede040808"
    );

    let codecs = CodecRegistry::new().with_compressor(Arc::new(Lzw));
    let p = Pipeline::new().with_codecs(codecs);
    // The 36-byte compressMsg is longer than the 18-byte ack: sent uncompressed.
    let mut out = Vec::new();
    p.encode_packet(&h(ACK), false, &mut out).unwrap();
    assert_eq!(out, h(ACK));
    // Streams always compress.
    let mut out = Vec::new();
    p.encode_stream(&h(ACK), &mut out).unwrap();
    assert_eq!(
        hex::encode(&out),
        format!("0982a4416c676f00a3427566b7{}", hex::encode(&lzw))
    );
    let mut dec = StreamDecoder::new(StreamRole::Dialer);
    dec.feed(&out);
    assert!(matches!(dec.poll(&p).unwrap(), Some(StreamMessage::Ack(_))));
    // A big compound compresses and round trips.
    let alive = Message::decode(&h("0486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461c0a44e6f6465a66e6f64652d62a4506f7274cd461ba356736ea6010502000000")).unwrap();
    let part = alive.to_bytes();
    let parts = vec![part; 20];
    let mut compound = Vec::new();
    encode_compound(&parts, &mut compound).unwrap();
    let mut out = Vec::new();
    p.encode_packet(&compound, true, &mut out).unwrap();
    assert!(out.len() < compound.len());
    assert_eq!(out[0], MessageType::HasCrc.byte());
    assert_eq!(out[5], MessageType::Compress.byte());
    let d = p.decode_packet(&out).unwrap();
    assert_eq!(d.messages, vec![alive; 20]);
}
