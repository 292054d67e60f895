//! Choosing the address to advertise when the transport is bound to an unspecified IP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use memberlist_core::transport::{AdvertiseError, IoOp, TransportError};

/// One address of a network interface, as far as the choice needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) ip: IpAddr,
    /// Prefix length of the interface's network: shorter means a larger network.
    pub(crate) prefix_len: u8,
    /// The interface holds the default IPv4 route.
    pub(crate) default_route: bool,
}

/// The address to advertise, given the options and the bound address: see
/// [the rules](crate::NetTransport#the-advertise-address).
pub(crate) fn advertise_addr(
    advertise: Option<SocketAddr>,
    local: SocketAddr,
    dual_stack: bool,
) -> Result<SocketAddr, TransportError> {
    if let Some(mut addr) = advertise {
        if addr.ip().is_unspecified() {
            return Err(AdvertiseError::Unspecified(addr).into());
        }
        if addr.port() == 0 {
            addr.set_port(local.port());
        }
        return Ok(addr);
    }
    if !local.ip().is_unspecified() {
        return Ok(local);
    }
    let interfaces =
        if_addrs::get_if_addrs().map_err(|e| TransportError::io(IoOp::ListInterfaces, e))?;
    let default_interface = default_route_interface();
    let candidates: Vec<Candidate> = interfaces
        .iter()
        .filter(|i| i.is_oper_up() && !i.is_loopback() && !i.is_link_local())
        .map(|i| Candidate {
            ip: i.ip(),
            prefix_len: match &i.addr {
                if_addrs::IfAddr::V4(a) => a.prefixlen,
                if_addrs::IfAddr::V6(a) => a.prefixlen,
            },
            default_route: default_interface.as_deref() == Some(i.name.as_str()),
        })
        .collect();
    // An IPv4-only socket cannot be reached at an IPv6 address; a dual-stack one can be
    // reached at either.
    let (want_v4, want_v6) = match local {
        SocketAddr::V4(_) => (true, false),
        SocketAddr::V6(_) => (dual_stack, true),
    };
    match pick_private(&candidates, want_v4, want_v6) {
        Some(ip) => {
            tracing::debug!(%ip, bind = %local, "advertising a private interface address");
            Ok(SocketAddr::new(ip, local.port()))
        }
        None => Err(AdvertiseError::NoPrivateAddress {
            bound: local,
            ipv6: want_v6,
        }
        .into()),
    }
}

/// The best private address among `candidates`, ordered as Go's `sockaddr.GetPrivateIP`
/// orders them: addresses in RFC 6890's special-purpose blocks only; the interface holding the
/// default route first, then IPv4 before IPv6, then the larger network (Go compares netmasks);
/// ties keep the system's interface order.
pub(crate) fn pick_private(candidates: &[Candidate], v4: bool, v6: bool) -> Option<IpAddr> {
    candidates
        .iter()
        .filter(|c| match c.ip {
            IpAddr::V4(ip) => v4 && is_rfc6890_v4(ip),
            IpAddr::V6(ip) => v6 && is_rfc6890_v6(ip),
        })
        .min_by_key(|c| (!c.default_route, c.ip.is_ipv6(), c.prefix_len))
        .map(|c| c.ip)
}

/// RFC 6890's IPv4 special-purpose blocks (loopback and link-local are filtered out before).
/// Among them RFC 1918 (10/8, 172.16/12, 192.168/16) and RFC 6598 (100.64/10).
const RFC6890_V4: [(u32, u8); 14] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8
    (0x6440_0000, 10), // 100.64.0.0/10
    (0x7f00_0000, 8),  // 127.0.0.0/8
    (0xa9fe_0000, 16), // 169.254.0.0/16
    (0xac10_0000, 12), // 172.16.0.0/12
    (0xc000_0000, 24), // 192.0.0.0/24
    (0xc000_0200, 24), // 192.0.2.0/24
    (0xc058_6300, 24), // 192.88.99.0/24
    (0xc0a8_0000, 16), // 192.168.0.0/16
    (0xc612_0000, 15), // 198.18.0.0/15
    (0xc633_6400, 24), // 198.51.100.0/24
    (0xcb00_7100, 24), // 203.0.113.0/24
    (0xf000_0000, 4),  // 240.0.0.0/4 (and 255.255.255.255)
];

/// RFC 6890's IPv6 special-purpose blocks (loopback and link-local are filtered out before).
const RFC6890_V6: [(u128, u8); 9] = [
    (0, 127),                                        // ::/128, ::1/128
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // 64:ff9b::/96
    (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96), // ::ffff:0:0/96
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // 100::/64
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // 2001::/23
    (0x2001_0002_0000_0000_0000_0000_0000_0000, 48), // 2001:2::/48
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // fc00::/7
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // fe80::/10
];

fn is_rfc6890_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    RFC6890_V4
        .iter()
        .any(|&(net, len)| ip & (u32::MAX << (32 - u32::from(len))) == net)
}

fn is_rfc6890_v6(ip: Ipv6Addr) -> bool {
    let ip = u128::from(ip);
    RFC6890_V6
        .iter()
        .any(|&(net, len)| ip & (u128::MAX << (128 - u32::from(len))) == net)
}

/// The interface holding the default IPv4 route (Go asks `ip route`; we read the same table
/// from /proc/net/route). `None` elsewhere than Linux or when there is no default route.
#[cfg(target_os = "linux")]
fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_default_route(&table)
}

#[cfg(not(target_os = "linux"))]
fn default_route_interface() -> Option<String> {
    None
}

/// The interface of the first default route (destination and mask 0, flag RTF_UP) in the text
/// of /proc/net/route.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_default_route(table: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (iface, destination, flags, mask) = (
            fields.first()?,
            fields.get(1)?,
            fields.get(3)?,
            fields.get(7)?,
        );
        let up = u32::from_str_radix(flags, 16).ok()? & 1 == 1;
        (up && *destination == "00000000" && *mask == "00000000").then(|| (*iface).to_owned())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn c(s: &str, prefix_len: u8) -> Candidate {
        Candidate {
            ip: ip(s),
            prefix_len,
            default_route: false,
        }
    }

    #[test]
    fn special_purpose_ranges() {
        for s in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "100.64.0.1",
            "192.0.2.2",
            "198.18.5.5",
        ] {
            assert!(is_rfc6890_v4(s.parse().unwrap()), "{s}");
        }
        for s in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "11.0.0.1",
            "192.169.0.1",
        ] {
            assert!(!is_rfc6890_v4(s.parse().unwrap()), "{s}");
        }
        for s in ["fd00::1", "fc12::1", "2001:db8::1", "::1"] {
            assert!(is_rfc6890_v6(s.parse().unwrap()), "{s}");
        }
        for s in ["2a00:1450::1", "2001:4860::8888", "fe00::1"] {
            assert!(!is_rfc6890_v6(s.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn picks_default_route_then_ipv4_then_larger_network_then_first() {
        let mut list = vec![
            c("8.8.4.4", 24),
            c("fd00::5", 64),
            c("10.0.0.5", 24),
            c("192.168.1.9", 24),
            c("172.17.0.1", 16),
        ];
        assert_eq!(pick_private(&list, true, true), Some(ip("172.17.0.1")));
        assert_eq!(pick_private(&list, false, true), Some(ip("fd00::5")));
        assert_eq!(pick_private(&list[..1], true, true), None);
        assert_eq!(pick_private(&list[..4], true, false), Some(ip("10.0.0.5")));
        list[3].default_route = true;
        assert_eq!(pick_private(&list, true, true), Some(ip("192.168.1.9")));
        list[1].default_route = true;
        assert_eq!(pick_private(&list, true, true), Some(ip("192.168.1.9")));
        assert_eq!(pick_private(&list, false, true), Some(ip("fd00::5")));
    }

    #[test]
    fn default_route_from_proc_net_route() {
        let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            wlan0\t00000000\t0101A8C0\t0002\t0\t0\t600\t00000000\t0\t0\t0\n\
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        assert_eq!(parse_default_route(table).as_deref(), Some("eth0"));
        assert_eq!(parse_default_route("Iface\tDestination\n"), None);
    }

    #[test]
    fn explicit_advertise_wins_and_port_zero_means_bound_port() {
        let local: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        let given: SocketAddr = "198.51.100.2:0".parse().unwrap();
        let chosen = advertise_addr(Some(given), local, false).unwrap();
        assert_eq!(chosen, SocketAddr::new(given.ip(), 4000));
        assert!(matches!(
            advertise_addr(Some(local), local, false),
            Err(TransportError::Advertise(_))
        ));
    }

    #[test]
    fn specific_bind_is_advertised_as_bound() {
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(advertise_addr(None, local, false).unwrap(), local);
    }

    #[test]
    fn unspecified_bind_advertises_a_usable_address_or_asks_for_one() {
        // Depends on this host's interfaces: either a specific IPv4 address with the bound
        // port, or the error that asks for an explicit address.
        let local: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        match advertise_addr(None, local, false) {
            Ok(addr) => {
                assert!(addr.is_ipv4() && !addr.ip().is_unspecified() && !addr.ip().is_loopback());
                assert_eq!(addr.port(), 4000);
            }
            Err(e) => assert!(matches!(e, TransportError::Advertise(_)), "{e}"),
        }
    }
}
