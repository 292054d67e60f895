//! The configured wire layer ([`Pipeline`]) and the packet (UDP) pipelines in both directions.
//!
//! Outgoing: compress if strictly smaller → CRC (peer protocol ≥ 5) → encrypt → label.
//! Incoming: label check → decrypt (falling back to plaintext only if GossipVerifyIncoming is
//! off) → CRC check → messages (compounds split, compressed parts expanded recursively).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::LocalKey;

use crate::codec::CodecRegistry;
use crate::encryption::{Encryption, EnvelopeVersion};

use super::compound::decode_compound;
use super::crc::{strip_crc, write_crc_wrapped};
use super::error::{DecodeError, WireError};
use super::frames::{compress_len, decode_compress_ref, encode_compress};
use super::label::{Label, strip_label};
use super::limits::Limits;
use super::message::{Message, MessageType};

/// Everything that decides how bytes look on the wire: label, compression, encryption, the
/// GossipVerify flags and the decoding limits. Cheap to clone.
///
/// ```
/// use memberlist_core::wire::{Label, Message, Nack, Pipeline};
///
/// let pipeline = Pipeline::new().with_label(Label::new("prod").unwrap());
/// let msg = Message::Nack(Nack { seq_no: 7 }).to_bytes();
/// let mut packet = Vec::new();
/// pipeline.encode_packet(&msg, true, &mut packet).unwrap();
/// assert_eq!(&packet[..6], b"\xf4\x04prod");
///
/// let decoded = pipeline.decode_packet(&packet).unwrap();
/// assert_eq!(decoded.messages, vec![Message::Nack(Nack { seq_no: 7 })]);
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub(crate) label: Label,
    pub(crate) skip_inbound_label_check: bool,
    pub(crate) codecs: CodecRegistry,
    pub(crate) encryption: Option<Arc<dyn Encryption>>,
    pub(crate) envelope_version: EnvelopeVersion,
    pub(crate) verify: Arc<GossipVerify>,
    pub(crate) limits: Limits,
}

/// Go's GossipVerifyIncoming / GossipVerifyOutgoing, shared by every clone of a [`Pipeline`]
/// so that they can be switched on a live node (each packet reads them once, without a lock).
#[derive(Debug)]
pub(crate) struct GossipVerify {
    incoming: AtomicBool,
    outgoing: AtomicBool,
}

impl GossipVerify {
    fn new(incoming: bool, outgoing: bool) -> Arc<Self> {
        Arc::new(Self {
            incoming: AtomicBool::new(incoming),
            outgoing: AtomicBool::new(outgoing),
        })
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of decoding one packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedPacket {
    /// Every message that decoded, in order.
    pub messages: Vec<Message>,
    /// Parts that failed to decode (the other parts are still delivered, as in Go).
    pub errors: Vec<WireError>,
    /// Compound parts dropped because the packet ended before them.
    pub truncated: usize,
}

impl Pipeline {
    /// No label, no compression, no encryption, both GossipVerify flags on, default limits.
    pub fn new() -> Self {
        Self {
            label: Label::empty(),
            skip_inbound_label_check: false,
            codecs: CodecRegistry::new(),
            encryption: None,
            envelope_version: EnvelopeVersion::V1,
            verify: GossipVerify::new(true, true),
            limits: Limits::default(),
        }
    }

    /// Sets the cluster label.
    pub fn with_label(mut self, label: Label) -> Self {
        self.label = label;
        self
    }

    /// Go's `SkipInboundLabelCheck`: inbound label headers are an error and our own label is
    /// assumed (for deployments where an outer layer strips labels).
    pub fn with_skip_inbound_label_check(mut self, skip: bool) -> Self {
        self.skip_inbound_label_check = skip;
        self
    }

    /// Sets the codecs: the compressor (if any) for outgoing data and every decoder accepted.
    pub fn with_codecs(mut self, codecs: CodecRegistry) -> Self {
        self.codecs = codecs;
        self
    }

    /// Enables encryption with the given plugin and envelope version.
    pub fn with_encryption(
        mut self,
        encryption: Arc<dyn Encryption>,
        version: EnvelopeVersion,
    ) -> Self {
        self.encryption = Some(encryption);
        self.envelope_version = version;
        self
    }

    /// Go's GossipVerifyIncoming / GossipVerifyOutgoing (both default true), in flags of this
    /// pipeline's own (clones made before keep theirs).
    pub fn with_gossip_verify(mut self, incoming: bool, outgoing: bool) -> Self {
        self.verify = GossipVerify::new(incoming, outgoing);
        self
    }

    /// Whether unencrypted packets and streams are refused when encryption is enabled (Go's
    /// GossipVerifyIncoming).
    pub fn verify_incoming(&self) -> bool {
        self.verify.incoming.load(Ordering::Relaxed)
    }

    /// Whether what is sent is encrypted when encryption is enabled (Go's
    /// GossipVerifyOutgoing).
    pub fn verify_outgoing(&self) -> bool {
        self.verify.outgoing.load(Ordering::Relaxed)
    }

    /// Switches GossipVerifyIncoming on a live pipeline: every clone sees the change from its
    /// next packet or stream frame on.
    ///
    /// ```
    /// use memberlist_core::wire::Pipeline;
    /// let pipeline = Pipeline::new();
    /// let clone = pipeline.clone();
    /// pipeline.set_verify_incoming(false);
    /// assert!(!clone.verify_incoming());
    /// assert!(clone.verify_outgoing());
    /// ```
    pub fn set_verify_incoming(&self, on: bool) {
        self.verify.incoming.store(on, Ordering::Relaxed);
    }

    /// Switches GossipVerifyOutgoing on a live pipeline (shared by every clone, like
    /// [`set_verify_incoming`](Self::set_verify_incoming)).
    pub fn set_verify_outgoing(&self, on: bool) {
        self.verify.outgoing.store(on, Ordering::Relaxed);
    }

    /// Sets the decoding limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The label.
    pub fn label(&self) -> &Label {
        &self.label
    }

    /// The decoding limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The codecs.
    pub fn codecs(&self) -> &CodecRegistry {
        &self.codecs
    }

    /// The encryption plugin, if keys are configured.
    pub fn encryption(&self) -> Option<&Arc<dyn Encryption>> {
        self.encryption.as_ref()
    }

    /// Whether encryption is configured (Go's `EncryptionEnabled`).
    pub fn encryption_enabled(&self) -> bool {
        self.encryption.is_some()
    }

    /// Whether outgoing packets and streams are encrypted.
    pub fn encrypts_outgoing(&self) -> bool {
        self.encryption.is_some() && self.verify_outgoing()
    }

    /// Bytes the encryption envelope adds (0 without encryption); Go reserves it in gossip
    /// budgets whenever encryption is enabled.
    pub fn encryption_overhead(&self) -> usize {
        self.encryption
            .as_ref()
            .map_or(0, |e| e.overhead(self.envelope_version))
    }

    /// Encodes one message or compound as a packet. `crc` adds the CRC wrapper (Go does so for
    /// peers advertising protocol version ≥ 5). The packet is appended to `out`.
    pub fn encode_packet(
        &self,
        message: &[u8],
        crc: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let mut scratch = take_scratch(&OUTGOING);
        let outcome = self.encode_packet_with(message, crc, &mut scratch, out);
        for buf in [&mut scratch.raw, &mut scratch.frame, &mut scratch.plain] {
            clear_or_free(buf);
        }
        put_back_scratch(&OUTGOING, scratch);
        outcome
    }

    /// [`encode_packet`](Self::encode_packet) with scratch buffers for the compressed bytes,
    /// the `compress` frame and the CRC-wrapped plaintext.
    fn encode_packet_with(
        &self,
        message: &[u8],
        crc: bool,
        scratch: &mut PacketScratch,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let payload = match self.codecs.compressor() {
            // A `compress` frame is at least `compress_len(0)` bytes plus the compressed
            // bytes, so compression pays only if those are shorter than `max_len`; below that
            // (and for most small messages) nothing is attempted or the codec gives up early.
            Some(codec) if message.len() > compress_len(0) => {
                let max_len = message.len() - compress_len(0) - 1;
                let raw = &mut scratch.raw;
                if codec.compress_within(message, max_len, raw)?
                    && compress_len(raw.len()) < message.len()
                {
                    encode_compress(codec.algorithm(), raw, &mut scratch.frame);
                    &scratch.frame[..]
                } else {
                    message
                }
            }
            _ => message,
        };
        self.label.write_header(out);
        match &self.encryption {
            Some(enc) if self.verify_outgoing() => {
                let plaintext = if crc {
                    write_crc_wrapped(payload, &mut scratch.plain);
                    &scratch.plain[..]
                } else {
                    payload
                };
                enc.encrypt(self.envelope_version, plaintext, self.label.as_bytes(), out)?;
            }
            _ if crc => write_crc_wrapped(payload, out),
            _ => out.extend_from_slice(payload),
        }
        Ok(())
    }

    /// Removes the label, decryption and CRC layers of an incoming packet, returning the
    /// message bytes (borrowed from `datagram`, or from `scratch` when decrypted).
    pub fn open_packet<'a>(
        &self,
        datagram: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], WireError> {
        let rest = strip_label(datagram, &self.label, self.skip_inbound_label_check)?;
        let plaintext: &'a [u8] = match &self.encryption {
            Some(enc) => {
                scratch.clear();
                match enc.decrypt(rest, self.label.as_bytes(), scratch) {
                    Ok(()) => &scratch[..],
                    Err(e) if self.verify_incoming() => return Err(e.into()),
                    Err(_) => rest,
                }
            }
            None => rest,
        };
        strip_crc(plaintext)
    }

    /// Calls `sink` with each message, or per-part error, of an opened payload (see
    /// [`open_packet`](Self::open_packet)), splitting compounds and decompressing. Returns the
    /// number of truncated compound parts.
    pub fn decode_messages(
        &self,
        payload: &[u8],
        sink: &mut dyn FnMut(Result<Message, WireError>),
    ) -> usize {
        let mut budget = self.limits.max_decompressed_size;
        self.walk(payload, 0, &mut budget, sink)
    }

    fn walk(
        &self,
        msg: &[u8],
        depth: usize,
        budget: &mut usize,
        sink: &mut dyn FnMut(Result<Message, WireError>),
    ) -> usize {
        let Some((&t, body)) = msg.split_first() else {
            sink(Err(DecodeError::Empty.into()));
            return 0;
        };
        let nested = t == MessageType::Compound.byte() || t == MessageType::Compress.byte();
        if nested && depth >= self.limits.max_nesting {
            sink(Err(WireError::NestingTooDeep(self.limits.max_nesting)));
            return 0;
        }
        if t == MessageType::Compound.byte() {
            return match decode_compound(body) {
                Ok(parts) => {
                    let mut truncated = parts.truncated;
                    for part in parts.parts {
                        truncated += self.walk(part, depth + 1, budget, sink);
                    }
                    truncated
                }
                Err(e) => {
                    sink(Err(e.into()));
                    0
                }
            };
        }
        if t == MessageType::Compress.byte() {
            let mut inner = take_scratch(&INFLATED);
            let truncated = match self.decompress(body, *budget, &mut inner) {
                Ok(()) => {
                    *budget -= inner.len();
                    self.walk(&inner, depth + 1, budget, sink)
                }
                Err(e) => {
                    sink(Err(e));
                    0
                }
            };
            clear_or_free(&mut inner);
            put_back_scratch(&INFLATED, inner);
            return truncated;
        }
        sink(Message::decode(msg).map_err(WireError::from));
        0
    }

    /// Decompresses a `compress` body (after the `09` byte) into `out`, at most `limit` bytes.
    pub(crate) fn decompress(
        &self,
        body: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let (algo, data, _) = decode_compress_ref(body)?;
        self.codecs.decompress(algo, &data, limit, out)?;
        Ok(())
    }

    /// Opens and decodes a whole packet. Envelope failures (label, decryption, CRC) are
    /// errors; failures of individual messages are collected in [`DecodedPacket::errors`].
    pub fn decode_packet(&self, datagram: &[u8]) -> Result<DecodedPacket, WireError> {
        let mut scratch = Vec::new();
        let payload = self.open_packet(datagram, &mut scratch)?;
        let (mut messages, mut errors) = (Vec::new(), Vec::new());
        let truncated = self.decode_messages(payload, &mut |m| match m {
            Ok(m) => messages.push(m),
            Err(e) => errors.push(e),
        });
        Ok(DecodedPacket {
            messages,
            errors,
            truncated,
        })
    }
}

/// Largest scratch buffer kept for the next packet; larger ones (a big decompressed payload)
/// are freed rather than held by the thread.
const MAX_KEPT_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// [`PacketScratch`] buffers between outgoing packets on this thread.
    static OUTGOING: Cell<PacketScratch> = const { Cell::new(PacketScratch::new()) };
    /// The buffer for decompressed messages between incoming packets on this thread.
    static INFLATED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers for the intermediate forms of one outgoing packet, reused by a thread's packets so
/// that a compression attempt (which usually fails for small messages) allocates nothing.
#[derive(Default)]
struct PacketScratch {
    /// The compressed bytes.
    raw: Vec<u8>,
    /// The `compress` frame around them.
    frame: Vec<u8>,
    /// The CRC-wrapped payload, when it is encrypted.
    plain: Vec<u8>,
}

impl PacketScratch {
    const fn new() -> Self {
        Self {
            raw: Vec::new(),
            frame: Vec::new(),
            plain: Vec::new(),
        }
    }
}

/// Takes the value in this thread's `slot` (a default one if it is in use further up the
/// stack, or the thread is being torn down).
fn take_scratch<T: Default>(slot: &'static LocalKey<Cell<T>>) -> T {
    slot.try_with(Cell::take).unwrap_or_default()
}

/// Returns `value` to this thread's `slot` (a thread being torn down drops it instead).
fn put_back_scratch<T>(slot: &'static LocalKey<Cell<T>>, value: T) {
    let _ = slot.try_with(|cell| cell.set(value));
}

/// Empties `buf`, and frees its memory if it has grown beyond [`MAX_KEPT_SCRATCH`].
fn clear_or_free(buf: &mut Vec<u8>) {
    if buf.capacity() > MAX_KEPT_SCRATCH {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codec::{Codec, CodecError};

    /// "Compresses" by dropping the last `shrink` bytes, so every output length can be tried.
    #[derive(Debug)]
    struct Truncate {
        shrink: usize,
    }

    impl Codec for Truncate {
        fn algorithm(&self) -> u8 {
            7
        }
        fn name(&self) -> &'static str {
            "truncate"
        }
        fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
            out.extend_from_slice(&input[..input.len().saturating_sub(self.shrink)]);
            Ok(())
        }
        fn decompress(&self, input: &[u8], _: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
            out.extend_from_slice(input);
            Ok(())
        }
    }

    /// The packet as built before compression attempts could stop early: compress fully, keep
    /// the `compress` frame only if it is strictly shorter.
    fn reference(codec: &dyn Codec, message: &[u8], crc: bool) -> Vec<u8> {
        let mut raw = Vec::new();
        codec.compress(message, &mut raw).unwrap();
        let mut frame = Vec::new();
        let payload = if compress_len(raw.len()) < message.len() {
            encode_compress(codec.algorithm(), &raw, &mut frame);
            &frame[..]
        } else {
            message
        };
        let mut out = Vec::new();
        if crc {
            write_crc_wrapped(payload, &mut out);
        } else {
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn compress_if_smaller_is_unchanged_around_the_threshold() {
        for shrink in [0, 1, 12, 13, 14, 15, 16, 40, 300] {
            let codec = Arc::new(Truncate { shrink });
            let pipeline =
                Pipeline::new().with_codecs(CodecRegistry::new().with_compressor(codec.clone()));
            for len in (0..90).chain([300, 400, 70_000]) {
                let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
                for crc in [false, true] {
                    let mut out = Vec::new();
                    pipeline.encode_packet(&message, crc, &mut out).unwrap();
                    assert_eq!(
                        out,
                        reference(&*codec, &message, crc),
                        "shrink {shrink}, len {len}"
                    );
                }
            }
        }
    }
}
