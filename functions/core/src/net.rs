//! Where a portal may be. Every operator controls its portal's DNS and
//! redirects, so a probe must never become a way into the monitor's own
//! network: the Lambda Runtime API listens on 127.0.0.1:9001, instance
//! metadata on 169.254.169.254, and private ranges hold whatever else. A
//! probe connects only to public addresses, on the web's ports, unless a
//! network is explicitly trusted (local runs and tests, never the Lambdas).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The ports a public portal is reached on.
pub const PORTAL_PORTS: [u16; 2] = [80, 443];

/// An IP network, `address/prefix` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP network (address/prefix): {0:?}")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(s.to_string());
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { net, bits })
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> Self {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

fn bits_of(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, width) = bits_of(self.net);
        let (addr, w) = bits_of(ip);
        if w != width {
            return false;
        }
        let shift = u32::from(width - self.bits);
        self.bits == 0 || (net >> shift) == (addr >> shift)
    }
}

fn in4(ip: Ipv4Addr, net: [u8; 4], bits: u8) -> bool {
    Cidr {
        net: IpAddr::V4(Ipv4Addr::from(net)),
        bits,
    }
    .contains(IpAddr::V4(ip))
}

fn in6(ip: Ipv6Addr, net: Ipv6Addr, bits: u8) -> bool {
    Cidr {
        net: IpAddr::V6(net),
        bits,
    }
    .contains(IpAddr::V6(ip))
}

/// Why `ip` is not a public portal address, or `None` when it is one.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) => not_public_v4(v),
        IpAddr::V6(v) => not_public_v6(v),
    }
}

fn not_public_v4(v: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (CGNAT) address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (instance metadata lives there)",
        ),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a relay anycast address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    RANGES
        .iter()
        .find(|(net, bits, _)| in4(v, *net, *bits))
        .map(|(_, _, why)| *why)
}

fn not_public_v6(v: Ipv6Addr) -> Option<&'static str> {
    if v.is_unspecified() {
        return Some("an unspecified address");
    }
    if v.is_loopback() {
        return Some("a loopback address");
    }
    const RANGES: &[(Ipv6Addr, u8, &str)] = &[
        (
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
            96,
            "an IPv4-mapped address",
        ),
        (
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
            96,
            "an IPv4-compatible address",
        ),
        (
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
            96,
            "a NAT64 address",
        ),
        (
            Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
            48,
            "a local NAT64 address",
        ),
        (
            Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
            64,
            "a discard address",
        ),
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
            32,
            "a documentation address",
        ),
        (
            Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
            16,
            "a 6to4 address",
        ),
        (
            Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
            7,
            "a unique-local address",
        ),
        (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
            10,
            "a link-local address",
        ),
        (
            Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
            10,
            "a site-local address",
        ),
        (
            Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
            8,
            "a multicast address",
        ),
    ];
    RANGES
        .iter()
        .find(|(net, bits, _)| in6(v, *net, *bits))
        .map(|(_, _, why)| *why)
}

/// Where probes may connect: public addresses on the portal ports, and any
/// address and port in a trusted network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    #[serde(default)]
    pub trusted: Vec<Cidr>,
}

impl Reach {
    /// Public portals only: what the Lambdas use.
    pub fn public_only() -> Self {
        Self::default()
    }

    pub fn trusting(mut self, net: Cidr) -> Self {
        self.trusted.push(net);
        self
    }

    /// Whether a probe may connect to `addr`; the error says why not.
    pub fn check(&self, addr: SocketAddr) -> Result<(), String> {
        if self.trusted.iter().any(|n| n.contains(addr.ip())) {
            return Ok(());
        }
        if let Some(why) = not_public(addr.ip()) {
            return Err(format!(
                "{} is {why}, not a public portal (refused)",
                addr.ip()
            ));
        }
        if !PORTAL_PORTS.contains(&addr.port()) {
            return Err(format!(
                "port {} of {} is not a portal port (80, 443) (refused)",
                addr.port(),
                addr.ip()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_is_written_as_it_is_read() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(String::from(c), "10.0.0.0/8");
    }

    #[test]
    fn only_public_addresses_on_web_ports_are_portals() {
        let reach = Reach::public_only();
        for (addr, ok) in [
            ("93.184.216.34:443", true),
            ("93.184.216.34:80", true),
            ("93.184.216.34:8080", false),
            ("93.184.216.34:22", false),
            ("127.0.0.1:9001", false),
            ("127.8.8.8:443", false),
            ("169.254.169.254:80", false),
            ("10.1.2.3:443", false),
            ("172.16.0.1:443", false),
            ("172.31.255.255:443", false),
            ("172.32.0.1:443", true),
            ("192.168.1.1:443", false),
            ("100.64.0.1:443", false),
            ("100.127.255.255:443", false),
            ("100.128.0.1:443", true),
            ("0.0.0.0:80", false),
            ("255.255.255.255:80", false),
            ("224.0.0.1:80", false),
            ("[2606:4700::1111]:443", true),
            ("[::1]:443", false),
            ("[::]:443", false),
            ("[::ffff:127.0.0.1]:443", false),
            ("[::ffff:93.184.216.34]:443", false),
            ("[64:ff9b::a9fe:a9fe]:443", false),
            ("[fd00::1]:443", false),
            ("[fc00::1]:443", false),
            ("[fe80::1]:443", false),
            ("[ff02::1]:443", false),
            ("[2001:db8::1]:443", false),
        ] {
            let a: SocketAddr = addr.parse().unwrap();
            assert_eq!(reach.check(a).is_ok(), ok, "{addr}: {:?}", reach.check(a));
        }
    }

    #[test]
    fn a_trusted_network_allows_any_port_there_and_nothing_else() {
        let reach = Reach::public_only().trusting("127.0.0.0/8".parse().unwrap());
        assert!(reach.check("127.0.0.1:9001".parse().unwrap()).is_ok());
        assert!(reach.check("127.255.0.1:1".parse().unwrap()).is_ok());
        assert!(reach.check("169.254.169.254:80".parse().unwrap()).is_err());
        assert!(reach.check("[::1]:80".parse().unwrap()).is_err());
        let why = Reach::public_only()
            .check("169.254.169.254:80".parse().unwrap())
            .unwrap_err();
        assert!(why.contains("link-local"), "{why}");
    }

    #[test]
    fn networks_parse_and_contain() {
        for (net, ip, inside) in [
            ("10.0.0.0/8", "10.255.1.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.7", "192.168.1.7", true),
            ("192.168.1.7", "192.168.1.8", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "::1", false),
            ("fd00::/8", "fd12::1", true),
            ("::1", "::1", true),
        ] {
            let c: Cidr = net.parse().unwrap();
            assert_eq!(c.contains(ip.parse().unwrap()), inside, "{net} ∋ {ip}");
        }
        for bad in ["10.0.0.0/33", "::/129", "x/8", "10.0.0.0/", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(
            "127.0.0.1".parse::<Cidr>().unwrap().to_string(),
            "127.0.0.1/32"
        );
    }
}
