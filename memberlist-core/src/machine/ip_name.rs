//! An IP address written as text, as Go's `net.IP.String` and Rust's `Display` write it,
//! without the formatting machinery for the common IPv4 case.
//!
//! Go 0.2.2 finds the peer of a ping or ack by looking its destination IP up among member
//! *names* (see `pmax_by_address_name`), so every probe formats an address; through
//! `fmt::Display` that is about a thousand instructions, here a few dozen.

use std::net::IpAddr;

use smol_str::SmolStr;

/// The text of `ip`: dotted decimal for IPv4 (the same as `ip.to_string()`), `Display`'s
/// form for IPv6.
pub(crate) fn ip_name(ip: IpAddr) -> SmolStr {
    let IpAddr::V4(v4) = ip else {
        return smol_str::format_smolstr!("{ip}");
    };
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            buf[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            buf[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + octet % 10;
        n += 1;
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).map_or_else(|_| SmolStr::new(v4.to_string()), SmolStr::new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn writes_what_display_writes() {
        let octets = [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 255];
        for &a in &octets {
            for &b in &octets {
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, b, a));
                assert_eq!(ip_name(ip), ip.to_string());
            }
        }
        for ip in [
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::UNSPECIFIED,
            "fe80::1:2".parse().unwrap(),
        ] {
            assert_eq!(ip_name(IpAddr::V6(ip)), ip.to_string());
        }
    }
}
