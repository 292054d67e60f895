//! Stream (TCP) framing.
//!
//! One request per connection: the dialer writes an optional label header and one framed
//! message; the acceptor may answer with one framed message (never labeled). A frame is either
//! `0a | len:u32 BE | envelope` (encrypted, AAD = those 5 bytes + label), a `compress` message,
//! or a plain message, which is self-delimiting: msgpack objects plus the raw lengths their
//! headers declare.
//!
//! [`StreamDecoder`] is sans-I/O: it allocates no more than the bytes it was fed, and
//! enforces [`Limits`].

use bytes::{Buf, Bytes, BytesMut};

use super::error::{DecodeError, WireError};
use super::frames::{ErrorResponse, UserMsgHeader, encode_stream_user_message};
use super::frames::{compress_len, encode_compress};
use super::go_struct::GoRead;
use super::label::{LabelError, strip_label};
use super::limits::{Limit, Limits};
use super::message::{MessageType, WireMessage};
use super::msgpack::{Reader, value_len};
use super::pipeline::Pipeline;
use super::probe::{Ack, Ping};
use super::push_pull::{PushPull, PushPullHeader};

/// A message received on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMessage {
    /// A TCP fallback ping.
    Ping(Ping),
    /// The answer to a TCP ping.
    Ack(Ack),
    /// A push/pull state exchange.
    PushPull(PushPull),
    /// A reliable user message.
    User(Bytes),
    /// The remote's error reply.
    Error(ErrorResponse),
}

impl Pipeline {
    /// Writes the label header a dialer sends once at the start of a connection (nothing for
    /// the empty label).
    pub fn write_stream_preamble(&self, out: &mut Vec<u8>) {
        self.label.write_header(out);
    }

    /// Whether [`encode_stream`](Self::encode_stream) writes a message unchanged (no
    /// compressor, no outgoing encryption), so that a caller may write it in place.
    pub fn stream_is_plain(&self) -> bool {
        self.codecs.compressor().is_none() && !self.encrypts_outgoing()
    }

    /// Frames one message for a stream: compressed whenever a compressor is set (no
    /// "only if smaller" test, as Go), then encrypted when keys exist and GossipVerifyOutgoing
    /// is on. Appends to `out`.
    ///
    /// ```
    /// use memberlist_core::wire::{Pipeline, encode_stream_user_message};
    /// let mut msg = Vec::new();
    /// encode_stream_user_message(b"hi", &mut msg);
    /// let mut frame = Vec::new();
    /// Pipeline::new().encode_stream(&msg, &mut frame).unwrap();
    /// assert_eq!(frame, msg); // no compression, no encryption
    /// ```
    pub fn encode_stream(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
        let mut compressed = Vec::new();
        let payload = match self.codecs.compressor() {
            Some(codec) => {
                let mut raw = Vec::with_capacity(message.len() / 2 + 16);
                codec.compress(message, &mut raw)?;
                compressed.reserve(compress_len(raw.len()));
                encode_compress(codec.algorithm(), &raw, &mut compressed);
                &compressed[..]
            }
            None => message,
        };
        match &self.encryption {
            Some(enc) if self.verify_outgoing() => {
                let sealed = enc.sealed_len(self.envelope_version, payload.len());
                let len = u32::try_from(sealed).map_err(|_| {
                    Limit::EncryptedStream.exceeded(sealed as u64, u64::from(u32::MAX))
                })?;
                let start = out.len();
                out.reserve(5 + sealed);
                out.push(MessageType::Encrypt.byte());
                out.extend_from_slice(&len.to_be_bytes());
                let aad = [&out[start..start + 5], self.label.as_bytes()].concat();
                enc.encrypt(self.envelope_version, payload, &aad, out)?;
            }
            _ => out.extend_from_slice(payload),
        }
        Ok(())
    }

    /// Frames a stream error reply (`errResp`), as a Go acceptor does when a request's
    /// envelope cannot be opened.
    pub fn encode_stream_error(&self, error: &str, out: &mut Vec<u8>) -> Result<(), WireError> {
        let msg = ErrorResponse {
            error: error.to_owned(),
        }
        .to_bytes();
        self.encode_stream(&msg, out)
    }

    /// Frames a reliable user message for a stream.
    pub fn encode_stream_user(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
        let mut msg = Vec::new();
        encode_stream_user_message(payload, &mut msg);
        self.encode_stream(&msg, out)
    }

    /// Opens a complete frame (encrypted, compressed or plain): the message it carries, type
    /// byte first — `frame` itself when it is plain.
    fn open_stream_frame(&self, frame: Bytes) -> Result<Bytes, WireError> {
        let mut body = frame;
        if body.first() == Some(&MessageType::Encrypt.byte()) {
            let enc = self
                .encryption
                .as_ref()
                .ok_or(WireError::EncryptionNotConfigured)?;
            let (header, envelope) = body.split_at(5);
            let aad = [header, self.label.as_bytes()].concat();
            let mut decrypted = Vec::new();
            enc.decrypt(envelope, &aad, &mut decrypted)?;
            body = Bytes::from(decrypted);
        }
        match body.first() {
            None => Err(WireError::EmptyFrame),
            Some(&t) if t == MessageType::Compress.byte() => {
                let mut decompressed = Vec::new();
                self.decompress(
                    &body[1..],
                    self.limits.max_decompressed_size,
                    &mut decompressed,
                )?;
                if decompressed.is_empty() {
                    return Err(WireError::EmptyFrame);
                }
                Ok(Bytes::from(decompressed))
            }
            Some(_) => Ok(body),
        }
    }
}

impl StreamMessage {
    /// Decodes an opened stream message ([`StreamDecoder::poll_opened`]) within `limits`.
    ///
    /// ```
    /// use memberlist_core::wire::{Limits, StreamMessage, encode_stream_user_message};
    /// let mut msg = Vec::new();
    /// encode_stream_user_message(b"hi", &mut msg);
    /// let got = StreamMessage::decode(&msg, &Limits::default()).unwrap();
    /// assert_eq!(got, StreamMessage::User("hi".into()));
    /// ```
    pub fn decode(msg: &[u8], limits: &Limits) -> Result<Self, WireError> {
        let (&t, body) = msg.split_first().ok_or(WireError::EmptyFrame)?;
        let ty = MessageType::from_byte(t).ok_or(DecodeError::UnknownMessageType(t))?;
        Ok(match ty {
            MessageType::Ping => Self::Ping(Ping::decode_body(body)?.0),
            MessageType::Ack => Self::Ack(Ack::decode_body(body)?.0),
            MessageType::Err => Self::Error(ErrorResponse::decode_body(body)?.0),
            MessageType::PushPull => Self::PushPull(PushPull::decode_body(body, limits)?.0),
            MessageType::User => {
                let mut r = Reader::new(body);
                let header = UserMsgHeader::read_map(&mut r, limits)?;
                let payload = r
                    .rest()
                    .get(..header.user_msg_len as usize)
                    .ok_or(DecodeError::UnexpectedEof)?;
                Self::User(Bytes::copy_from_slice(payload))
            }
            _ => return Err(DecodeError::UnsupportedMessageType(t).into()),
        })
    }
}

/// Which end of a connection a [`StreamDecoder`] reads for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// We accepted the connection: the dialer may send a label header first.
    Acceptor,
    /// We dialed: the reply carries no label header.
    Dialer,
}

/// Progress through a plain (unencrypted, uncompressed) frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Waiting for the first byte of the frame.
    Start,
    /// Waiting for `objects` more msgpack values starting at `offset`, then `raw` bytes.
    /// `header` marks that the next value is a push/pull or user header that declares the
    /// counts.
    Plain {
        offset: usize,
        objects: u64,
        raw: usize,
        header: Option<MessageType>,
    },
    /// Waiting for an encrypted frame of this total length.
    Encrypted { total: usize },
}

/// A sans-I/O stream decoder.
///
/// ```
/// use memberlist_core::wire::{Pipeline, StreamDecoder, StreamMessage, StreamRole};
/// let pipeline = Pipeline::new();
/// let mut frame = Vec::new();
/// pipeline.encode_stream_user(b"hello", &mut frame).unwrap();
///
/// let mut decoder = StreamDecoder::new(StreamRole::Acceptor);
/// decoder.feed(&frame[..3]);
/// assert!(decoder.poll(&pipeline).unwrap().is_none()); // needs more bytes
/// decoder.feed(&frame[3..]);
/// assert_eq!(decoder.poll(&pipeline).unwrap(), Some(StreamMessage::User("hello".into())));
/// ```
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    buf: BytesMut,
    label_pending: bool,
    scan: Scan,
}

impl StreamDecoder {
    /// A decoder for one side of a connection.
    pub fn new(role: StreamRole) -> Self {
        Self {
            buf: BytesMut::new(),
            label_pending: role == StreamRole::Acceptor,
            scan: Scan::Start,
        }
    }

    /// Adds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// [`poll_opened`](Self::poll_opened) followed by [`StreamMessage::decode`]. Use
    /// [`WireError::is_envelope_error`] to decide whether to send an error reply.
    pub fn poll(&mut self, pipeline: &Pipeline) -> Result<Option<StreamMessage>, WireError> {
        match self.poll_opened(pipeline)? {
            Some(msg) => StreamMessage::decode(&msg, &pipeline.limits).map(Some),
            None => Ok(None),
        }
    }

    /// Returns the opened message (label removed, decrypted, decompressed; type byte first)
    /// once a whole frame has arrived, `None` while more bytes are needed, or an envelope
    /// error. The message is left to
    /// [`Machine::handle_stream`](crate::machine::Machine::handle_stream) to decode. After a
    /// message or an error the decoder starts over on the bytes that remain.
    ///
    /// ```
    /// use memberlist_core::wire::{Pipeline, StreamDecoder, StreamRole, encode_stream_user_message};
    /// let mut msg = Vec::new();
    /// encode_stream_user_message(b"hi", &mut msg);
    /// let mut decoder = StreamDecoder::new(StreamRole::Dialer);
    /// decoder.feed(&msg);
    /// assert_eq!(decoder.poll_opened(&Pipeline::new()).unwrap().as_deref(), Some(&msg[..]));
    /// ```
    pub fn poll_opened(&mut self, pipeline: &Pipeline) -> Result<Option<Bytes>, WireError> {
        if self.label_pending {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let (label, skip) = (&pipeline.label, pipeline.skip_inbound_label_check);
            let consumed = match strip_label(&self.buf, label, skip) {
                Ok(rest) => self.buf.len() - rest.len(),
                Err(LabelError::Truncated) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            self.buf.advance(consumed);
            self.label_pending = false;
        }
        match self.frame_len(pipeline) {
            Ok(Some(len)) => {
                self.scan = Scan::Start;
                let frame = self.buf.split_to(len).freeze();
                pipeline.open_stream_frame(frame).map(Some)
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.scan = Scan::Start;
                self.buf.clear();
                Err(e)
            }
        }
    }

    /// [`feed`](Self::feed) then [`poll_opened`](Self::poll_opened) on a fresh decoder, for
    /// everything one side wrote, held in memory; but a plain, unlabelled push/pull is returned
    /// as `data` itself, unscanned (a truncated one then fails to decode).
    pub fn open_complete(
        role: StreamRole,
        pipeline: &Pipeline,
        data: Bytes,
    ) -> Result<Option<Bytes>, WireError> {
        let unlabeled = pipeline.label.as_bytes().is_empty()
            && (role == StreamRole::Dialer || data.first() != Some(&MessageType::HasLabel.byte()));
        let plaintext_ok = pipeline.encryption.is_none() || !pipeline.verify_incoming();
        if unlabeled
            && plaintext_ok
            && data.first() == Some(&MessageType::PushPull.byte())
            && data.len() <= pipeline.limits.max_stream_message
        {
            return Ok(Some(data));
        }
        let mut decoder = Self::new(role);
        decoder.feed(&data);
        decoder.poll_opened(pipeline)
    }

    /// Works out whether a whole frame is buffered, resuming where the last call stopped.
    fn frame_len(&mut self, pipeline: &Pipeline) -> Result<Option<usize>, WireError> {
        let limits = &pipeline.limits;
        loop {
            match self.scan {
                Scan::Start => {
                    let Some(&t) = self.buf.first() else {
                        return Ok(None);
                    };
                    if t == MessageType::Encrypt.byte() {
                        if pipeline.encryption.is_none() {
                            return Err(WireError::EncryptionNotConfigured);
                        }
                        let Some(header) = self.buf.get(1..5) else {
                            return Ok(None);
                        };
                        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                        if len > limits.max_encrypted_stream {
                            let max = u64::from(limits.max_encrypted_stream);
                            return Err(Limit::EncryptedStream.exceeded(len.into(), max).into());
                        }
                        self.scan = Scan::Encrypted {
                            total: 5 + len as usize,
                        };
                        continue;
                    }
                    if pipeline.encryption.is_some() && pipeline.verify_incoming() {
                        return Err(WireError::NotEncrypted);
                    }
                    let ty = MessageType::from_byte(t).ok_or(DecodeError::UnknownMessageType(t))?;
                    let header = match ty {
                        MessageType::PushPull | MessageType::User => Some(ty),
                        MessageType::Compound | MessageType::HasCrc | MessageType::HasLabel => {
                            return Err(DecodeError::UnsupportedMessageType(t).into());
                        }
                        _ => None,
                    };
                    self.scan = Scan::Plain {
                        offset: 1,
                        objects: 1,
                        raw: 0,
                        header,
                    };
                }
                Scan::Encrypted { total } => {
                    return Ok((self.buf.len() >= total).then_some(total));
                }
                Scan::Plain {
                    offset,
                    objects,
                    raw,
                    header,
                } => {
                    if objects == 0 {
                        let total = offset + raw;
                        if total > limits.max_stream_message {
                            return Err(too_long(total, limits));
                        }
                        return Ok((self.buf.len() >= total).then_some(total));
                    }
                    let Some(len) = value_len(&self.buf[offset..])? else {
                        if self.buf.len() > limits.max_stream_message {
                            return Err(too_long(self.buf.len(), limits));
                        }
                        return Ok(None);
                    };
                    let mut r = Reader::new(&self.buf[offset..]);
                    let (more_objects, more_raw) = match header {
                        Some(MessageType::PushPull) => {
                            let h = PushPullHeader::read_map(&mut r, limits)?;
                            (u64::from(h.nodes), h.user_state_len as usize)
                        }
                        Some(_) => (
                            0,
                            UserMsgHeader::read_map(&mut r, limits)?.user_msg_len as usize,
                        ),
                        None => (0, 0),
                    };
                    self.scan = Scan::Plain {
                        offset: offset + len,
                        objects: objects - 1 + more_objects,
                        raw: raw + more_raw,
                        header: None,
                    };
                }
            }
        }
    }
}

fn too_long(len: usize, limits: &Limits) -> WireError {
    let max = limits.max_stream_message as u64;
    Limit::StreamMessage.exceeded(len as u64, max).into()
}
