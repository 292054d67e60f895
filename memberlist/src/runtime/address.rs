//! Join addresses: `[name/]host[:port]`, with DNS names resolved by the system resolver.

use std::net::SocketAddr;
use std::sync::Arc;

/// The port used when a join address has none: 7946, Go memberlist's default port.
pub const DEFAULT_JOIN_PORT: u16 = 7946;

/// Why a join address could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// `name/` with an empty name.
    #[error("empty node name before '/'")]
    EmptyName,
    /// The port is not a number from 0 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// `[` without the `]` that closes an IPv6 address.
    #[error("missing ']' after an IPv6 address")]
    UnclosedBracket,
    /// Something other than `:port` after `]`.
    #[error("unexpected text after ']'")]
    TrailingText,
    /// No host.
    #[error("empty host")]
    EmptyHost,
    /// The system resolver failed.
    #[error("cannot resolve the name")]
    Resolve(#[source] Arc<std::io::Error>),
    /// The name resolved to no address.
    #[error("the name resolves to no address")]
    NoAddress,
}

/// Takes apart Go's join address forms: `host`, `host:port`, `[v6]`, `[v6]:port`, a bare
/// IPv6 address, each optionally preceded by `name/`, into the optional node name, the host
/// (IP or DNS name) and the port ([`DEFAULT_JOIN_PORT`] when none is given).
pub(crate) fn parse(spec: &str) -> Result<(Option<&str>, &str, u16), AddressError> {
    let default_port = DEFAULT_JOIN_PORT;
    let spec = spec.trim();
    let (name, rest) = match spec.split_once('/') {
        Some(("", _)) => return Err(AddressError::EmptyName),
        Some((name, rest)) => (Some(name), rest),
        None => (None, spec),
    };
    let port_of = |p: &str| p.parse::<u16>().map_err(|_| AddressError::InvalidPort);
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or(AddressError::UnclosedBracket)?;
        let port = match after {
            "" => default_port,
            _ => port_of(after.strip_prefix(':').ok_or(AddressError::TrailingText)?)?,
        };
        (host, port)
    } else {
        match rest.matches(':').count() {
            0 => (rest, default_port),
            1 => {
                let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
                (host, port_of(port)?)
            }
            // Several colons and no brackets: a bare IPv6 address.
            _ => (rest, default_port),
        }
    };
    if host.is_empty() {
        return Err(AddressError::EmptyHost);
    }
    Ok((name, host, port))
}

/// Resolves a DNS name to every socket address it names, with the system resolver.
pub(crate) async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, AddressError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| AddressError::Resolve(Arc::new(e)))?
        .collect();
    if addrs.is_empty() {
        return Err(AddressError::NoAddress);
    }
    Ok(addrs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<(Option<&str>, &str, u16), String> {
        parse(s).map_err(|e| e.to_string())
    }

    #[test]
    fn go_address_forms() {
        assert_eq!(p("10.0.0.1"), Ok((None, "10.0.0.1", 7946)));
        assert_eq!(p("10.0.0.1:8301"), Ok((None, "10.0.0.1", 8301)));
        assert_eq!(
            p("node-b/10.0.0.1:8301"),
            Ok((Some("node-b"), "10.0.0.1", 8301))
        );
        assert_eq!(p("db.example.com"), Ok((None, "db.example.com", 7946)));
        assert_eq!(p("db.example.com:1"), Ok((None, "db.example.com", 1)));
        assert_eq!(p("[::1]:9000"), Ok((None, "::1", 9000)));
        assert_eq!(p("[fd00::1]"), Ok((None, "fd00::1", 7946)));
        assert_eq!(p("fd00::1"), Ok((None, "fd00::1", 7946)));
        assert_eq!(p("n/[fd00::1]:5"), Ok((Some("n"), "fd00::1", 5)));
        assert_eq!(p(" 10.0.0.1 "), Ok((None, "10.0.0.1", 7946)));
    }

    #[test]
    fn bad_addresses() {
        for bad in [
            "",
            "/10.0.0.1",
            "10.0.0.1:",
            "10.0.0.1:99999",
            "[::1",
            "[::1]x",
            ":80",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn resolves_ips_and_names() {
        let seed = |s: &str| s.parse::<super::super::Seed>().unwrap();
        assert_eq!(
            seed("127.0.0.1:5").resolve().await.unwrap(),
            vec!["127.0.0.1:5".parse().unwrap()]
        );
        let local = seed("localhost:7").resolve().await.unwrap();
        assert!(local.iter().all(|a| a.port() == 7 && a.ip().is_loopback()));
        assert!(seed("name.invalid:7").resolve().await.is_err());
    }
}
