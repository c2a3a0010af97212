//! `--trusted-proxy ADDR[/BITS]`: an address range whose requests name their client in
//! `X-Forwarded-For`.

use std::net::IpAddr;
use std::str::FromStr;

/// One trusted range: an address and how many leading bits of it must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

/// Why a `--trusted-proxy` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxy;

impl FromStr for TrustedProxy {
    type Err = BadProxy;

    fn from_str(text: &str) -> Result<Self, BadProxy> {
        let (address, bits) = text.split_once('/').map_or((text, None), |(a, b)| (a, Some(b)));
        let network: IpAddr = address.trim().parse().map_err(|_| BadProxy)?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match bits {
            None => width,
            Some(bits) => bits.trim().parse::<u8>().ok().filter(|b| *b <= width).ok_or(BadProxy)?,
        };
        Ok(Self { network, prefix })
    }
}

impl TrustedProxy {
    /// Whether `address` lies in this range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => leading_bits_match(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => leading_bits_match(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn leading_bits_match(network: &[u8], address: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if network[..whole] != address[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xFF_u8 << (8 - rest);
        network[whole] & mask == address[whole] & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ranges_parse_and_match_by_prefix() {
        let range: TrustedProxy = "10.1.0.0/16".parse().expect("valid");
        assert!(range.contains(ip("10.1.200.3")));
        assert!(!range.contains(ip("10.2.0.1")));
        assert!(range.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one: TrustedProxy = "127.0.0.1".parse().expect("valid");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let odd: TrustedProxy = "192.168.0.128/25".parse().expect("valid");
        assert!(odd.contains(ip("192.168.0.200")) && !odd.contains(ip("192.168.0.127")));
        let v6: TrustedProxy = "fd00::/8".parse().expect("valid");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert_eq!(bad.parse::<TrustedProxy>(), Err(BadProxy), "{bad}");
        }
    }
}
