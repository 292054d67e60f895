//! The serde forms of [`MemberInfo`](super::MemberInfo)'s fields that have no obvious one:
//! metadata bytes and the wall-clock time of the last state change.

/// `Bytes` as a base64 string (standard alphabet, padded) in human-readable formats, as raw
/// bytes in binary ones; either form (or a sequence of bytes) is accepted on input.
pub(crate) mod meta {
    use std::fmt;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(meta: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&STANDARD.encode(meta))
        } else {
            s.serialize_bytes(meta)
        }
    }

    struct MetaVisitor;

    impl<'de> Visitor<'de> for MetaVisitor {
        type Value = Bytes;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("metadata as a base64 string or bytes")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
            STANDARD
                .decode(v)
                .map(Bytes::from)
                .map_err(|e| E::custom(format_args!("metadata is not valid base64: {e}")))
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
            Ok(Bytes::copy_from_slice(v))
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
            Ok(Bytes::from(v))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(Bytes::from(out))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(MetaVisitor)
        } else {
            d.deserialize_bytes(MetaVisitor)
        }
    }
}

/// `SystemTime` as an RFC 3339 string in UTC with nanoseconds
/// (`"2025-05-01T09:30:00.123456789Z"`), which reads back to the same time. Times outside
/// 1970–9999 are written as the nearest bound.
pub(crate) mod rfc3339 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// 9999-12-31T23:59:59.999999999Z, the last time RFC 3339 can write.
    fn last() -> SystemTime {
        UNIX_EPOCH + Duration::new(253_402_300_799, 999_999_999)
    }

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let t = (*t).clamp(UNIX_EPOCH, last());
        s.collect_str(&humantime::format_rfc3339_nanos(t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(|e| {
            D::Error::custom(format_args!(
                "state_changed_at is not an RFC 3339 time: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::machine::State;
    use crate::runtime::{MemberInfo, VersionRange};

    fn sample() -> MemberInfo {
        let mut m = MemberInfo::new("node-a", "[::1]:7946".parse().expect("addr"));
        m.meta = bytes::Bytes::from_static(&[0xff, 0x81, 0xa4]);
        m.incarnation = 9;
        m.state = State::Left;
        m.state_changed_at = UNIX_EPOCH + Duration::new(1_746_091_800, 123_456_789);
        m.protocol = VersionRange {
            min: 1,
            max: 5,
            current: 2,
        };
        m
    }

    #[test]
    fn json_is_readable_and_round_trips() {
        let m = sample();
        let json = serde_json::to_value(&m).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({
                "name": "node-a",
                "addr": "[::1]:7946",
                "meta": "/4Gk",
                "incarnation": 9,
                "state": "left",
                "state_changed_at": "2025-05-01T09:30:00.123456789Z",
                "protocol": {"min": 1, "max": 5, "current": 2},
                "delegate": {"min": 0, "max": 0, "current": 0},
            })
        );
        assert_eq!(
            serde_json::from_value::<MemberInfo>(json).expect("parse"),
            m
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut json = serde_json::to_value(sample()).expect("serialize");
        json["meta"] = "not base64!".into();
        assert!(serde_json::from_value::<MemberInfo>(json.clone()).is_err());
        json["meta"] = "".into();
        json["state_changed_at"] = "yesterday".into();
        assert!(serde_json::from_value::<MemberInfo>(json.clone()).is_err());
        json["state_changed_at"] = "2025-05-01T09:30:00Z".into();
        json["state"] = "asleep".into();
        assert!(serde_json::from_value::<MemberInfo>(json).is_err());
    }

    #[test]
    fn times_out_of_range_are_clamped() {
        let mut m = sample();
        m.state_changed_at = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        let json = serde_json::to_value(&m).expect("serialize");
        assert_eq!(json["state_changed_at"], "9999-12-31T23:59:59.999999999Z");
        m.state_changed_at = UNIX_EPOCH
            .checked_sub(Duration::from_secs(10))
            .unwrap_or(UNIX_EPOCH);
        let json = serde_json::to_value(&m).expect("serialize");
        assert_eq!(json["state_changed_at"], "1970-01-01T00:00:00.000000000Z");
    }
}
