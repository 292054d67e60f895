//! Label headers (`hasLabelMsg`, 244): `f4 len label` in front of a packet or at the start of a
//! stream, so that clusters sharing a network ignore each other. The label is also the
//! authenticated data of the encryption.

use std::fmt;

use bytes::Bytes;

use super::message::MessageType;

/// Longest label allowed (Go's `LabelMaxSize`).
pub const LABEL_MAX_SIZE: usize = 255;

/// Errors about labels.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LabelError {
    /// A label longer than 255 bytes.
    #[error("label is {0} bytes; the maximum is 255")]
    TooLong(usize),
    /// A label header declaring length 0.
    #[error("label header cannot be empty when present")]
    EmptyHeader,
    /// The header is cut short.
    #[error("label header is truncated")]
    Truncated,
    /// The received label differs from ours.
    #[error(
        "discarding message with label {:?}; expected {:?}",
        String::from_utf8_lossy(.found),
        String::from_utf8_lossy(.expected.as_bytes())
    )]
    Mismatch {
        /// The label found, as sent (empty when absent).
        found: Bytes,
        /// Our label.
        expected: Label,
    },
    /// `SkipInboundLabelCheck` is set and a label header arrived anyway.
    #[error("unexpected label header while inbound label checks are skipped")]
    UnexpectedHeader,
}

/// A cluster label: at most 255 bytes; empty means "no label header".
///
/// ```
/// use memberlist_core::wire::Label;
/// let label = Label::new("prod").unwrap();
/// let mut out = Vec::new();
/// label.write_header(&mut out);
/// assert_eq!(out, b"\xf4\x04prod");
/// assert!(Label::new("x".repeat(256)).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Label(Bytes);

impl Label {
    /// Validates a label.
    pub fn new(label: impl Into<Bytes>) -> Result<Self, LabelError> {
        let bytes: Bytes = label.into();
        if bytes.len() > LABEL_MAX_SIZE {
            return Err(LabelError::TooLong(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The empty label.
    pub fn empty() -> Self {
        Self(Bytes::new())
    }

    /// The label bytes (also the packet AAD).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the label is empty (no header is written).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes the header adds: 0 for the empty label, else 2 + length.
    pub fn overhead(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            2 + self.0.len()
        }
    }

    /// Appends the header (nothing for the empty label).
    pub fn write_header(&self, out: &mut Vec<u8>) {
        if !self.0.is_empty() {
            out.push(MessageType::HasLabel.byte());
            out.push(self.0.len() as u8);
            out.extend_from_slice(&self.0);
        }
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Removes the label header, if any, from the front of `buf` and applies Go's inbound label
/// rules: without `skip_check`, the label found (empty if none) must equal ours; with it, a
/// header must not be present at all. Returns the rest of `buf`.
pub(crate) fn strip_label<'a>(
    buf: &'a [u8],
    ours: &Label,
    skip_check: bool,
) -> Result<&'a [u8], LabelError> {
    let (found, rest) = match buf {
        [244, len, rest @ ..] => {
            let len = usize::from(*len);
            if len == 0 {
                return Err(LabelError::EmptyHeader);
            }
            if rest.len() < len {
                return Err(LabelError::Truncated);
            }
            rest.split_at(len)
        }
        [244] => return Err(LabelError::Truncated),
        _ if skip_check => return Ok(buf),
        _ => (&[][..], buf),
    };
    if skip_check {
        return Err(LabelError::UnexpectedHeader);
    }
    if found != ours.as_bytes() {
        return Err(LabelError::Mismatch {
            found: Bytes::copy_from_slice(found),
            expected: ours.clone(),
        });
    }
    Ok(rest)
}
