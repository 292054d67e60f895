//! Node metadata as Serf's tags, so that `serf members` and other HashiCorp tools read what
//! `memberlist agent --meta KEY=VALUE` announces: the encoding `agent/README.md`
//! ("Metadata") describes, one byte `0xFF` then a MessagePack map of strings, keys sorted, in
//! the string forms Go's go-msgpack writes (`fixstr` below 32 bytes, `str16` above, never
//! `str8`, so older Go decoders read them too), at most [`META_MAX_SIZE`] bytes.
//!
//! Serf reads metadata that does not start with `0xFF` as the value of a single `role` tag
//! (its protocol 2 form). Reading ([`decode_tags`]) accepts any MessagePack string form and
//! returns `None` for metadata in any other format; the HTTP API then shows it as base64.

use std::collections::BTreeMap;

use memberlist::machine::META_MAX_SIZE;

/// The byte Serf puts in front of its msgpack-encoded tags.
pub(crate) const TAG_MAGIC_BYTE: u8 = 0xFF;

/// Parses one `KEY=VALUE` argument of `--meta`.
pub(crate) fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!(
            "--meta {text:?}: expected KEY=VALUE with a non-empty key"
        )),
    }
}

/// Encodes `tags` in Serf's format, failing if the result exceeds memberlist's 512 bytes.
/// No tags give empty metadata.
pub(crate) fn encode_tags(tags: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = vec![TAG_MAGIC_BYTE];
    let len = u32::try_from(tags.len()).map_err(|_| "too many metadata entries".to_owned())?;
    rmp::encode::write_map_len(&mut out, len).map_err(|e| format!("encoding metadata: {e}"))?;
    for (key, value) in tags {
        write_go_str(&mut out, key)?;
        write_go_str(&mut out, value)?;
    }
    if out.len() > META_MAX_SIZE {
        return Err(format!(
            "metadata is {} bytes encoded; memberlist allows at most {META_MAX_SIZE} bytes",
            out.len()
        ));
    }
    Ok(out)
}

/// Writes a string as go-msgpack does by default: `fixstr`, else `str16`, else `str32`.
fn write_go_str(out: &mut Vec<u8>, s: &str) -> Result<(), String> {
    if s.len() < 32 {
        return rmp::encode::write_str(out, s).map_err(|e| format!("encoding metadata: {e}"));
    }
    match u16::try_from(s.len()) {
        Ok(len) => {
            out.push(0xda);
            out.extend_from_slice(&len.to_be_bytes());
        }
        Err(_) => {
            let len = u32::try_from(s.len()).map_err(|_| "metadata string too long".to_owned())?;
            out.push(0xdb);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Decodes Serf-style tags; `None` if `meta` is not in that format (empty metadata gives an
/// empty map).
pub(crate) fn decode_tags(meta: &[u8]) -> Option<BTreeMap<String, String>> {
    if meta.is_empty() {
        return Some(BTreeMap::new());
    }
    let (&magic, mut rest) = meta.split_first()?;
    if magic != TAG_MAGIC_BYTE {
        return None;
    }
    let len = rmp::decode::read_map_len(&mut rest).ok()?;
    let mut tags = BTreeMap::new();
    for _ in 0..len {
        let (key, after) = rmp::decode::read_str_from_slice(rest).ok()?;
        let (value, after) = rmp::decode::read_str_from_slice(after).ok()?;
        tags.insert(key.to_owned(), value.to_owned());
        rest = after;
    }
    rest.is_empty().then_some(tags)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn encodes_like_serf() {
        // 0xFF, fixmap of 2, fixstr keys and values, sorted keys.
        let bytes = encode_tags(&tags(&[("role", "web"), ("dc", "x")])).unwrap();
        assert_eq!(
            bytes,
            [
                &[0xFF, 0x82, 0xa2][..],
                b"dc",
                &[0xa1],
                b"x",
                &[0xa4],
                b"role",
                &[0xa3],
                b"web"
            ]
            .concat()
        );
        assert!(encode_tags(&BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn long_strings_use_str16_not_str8() {
        let value = "v".repeat(40);
        let bytes = encode_tags(&tags(&[("k", &value)])).unwrap();
        assert_eq!(&bytes[..5], &[0xFF, 0x81, 0xa1, b'k', 0xda]);
        assert_eq!(&bytes[5..7], &40u16.to_be_bytes());
        assert_eq!(decode_tags(&bytes).unwrap(), tags(&[("k", &value)]));
    }

    #[test]
    fn round_trips_and_rejects_other_formats() {
        let t = tags(&[("a", "1"), ("b", ""), ("ünï", "cödé")]);
        assert_eq!(decode_tags(&encode_tags(&t).unwrap()).unwrap(), t);
        assert_eq!(decode_tags(b""), Some(BTreeMap::new()));
        assert_eq!(decode_tags(b"role=db"), None);
        assert_eq!(decode_tags(&[0xFF, 0x81, 0xa1]), None);
        // A str8 string (another encoder's choice) still decodes.
        let mut str8 = vec![0xFF, 0x81, 0xa1, b'k', 0xd9, 3];
        str8.extend_from_slice(b"abc");
        assert_eq!(decode_tags(&str8).unwrap(), tags(&[("k", "abc")]));
    }

    #[test]
    fn size_limit_and_pair_parsing() {
        let big = "x".repeat(600);
        let err = encode_tags(&tags(&[("k", &big)])).unwrap_err();
        assert!(err.contains("at most 512 bytes"), "{err}");
        assert_eq!(
            parse_pair("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert_eq!(parse_pair("a=").unwrap(), ("a".to_owned(), String::new()));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
    }
}
