//! Standard base64 (RFC 4648, with padding), as Go's `base64.StdEncoding` writes it: the
//! peer's JSON carries non-UTF-8 bytes and keys this way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Encodes `data` as padded standard base64.
pub(crate) fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes padded standard base64; `None` if `text` is not valid.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_and_a_binary_round_trip() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).as_deref(), Some(plain.as_bytes()));
        }
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&data)), Some(data));
        assert_eq!(decode("ab!d"), None);
    }
}
