//! Addresses and CIDR subnets as the `superuserIPs` setting lists them.
//!
//! Accepted forms are Go's `net.ParseIP` and `net.ParseCIDR` ones (what PocketBase
//! validates with): `127.0.0.1`, `::1`, `10.0.0.0/8`, `fe80::/10`. An IPv4 address written
//! in its IPv6-mapped form is the same address, so a listener on `[::]` matches `127.0.0.1`.

use std::net::IpAddr;

/// One address (a full-length prefix) or one subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses an address or `address/prefix`; `None` when it is neither.
    pub(crate) fn parse(s: &str) -> Option<IpRange> {
        let Some((addr, prefix)) = s.split_once('/') else {
            let addr = s.parse::<IpAddr>().ok()?.to_canonical();
            return Some(IpRange {
                addr,
                prefix: bits(addr),
            });
        };
        let addr = addr.parse::<IpAddr>().ok()?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix = prefix.parse::<u8>().ok().filter(|p| *p <= bits(addr))?;
        Some(IpRange { addr, prefix })
    }

    /// Whether `ip` is this address or lies in this subnet.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_what_pocketbase_accepts() {
        for ok in [
            "127.0.0.1",
            "::1",
            "10.0.0.0/8",
            "fe80::/10",
            "10.0.0.1/32",
            "0.0.0.0/0",
        ] {
            assert!(IpRange::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "not-an-ip",
            "",
            " 127.0.0.1",
            "10.0.0.0/33",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "010.0.0.1",
        ] {
            assert!(IpRange::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn matches_addresses_and_subnets() {
        let net = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.200.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let one = IpRange::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(one.contains(ip("::ffff:127.0.0.1")), "IPv6-mapped form");
        assert!(!one.contains(ip("127.0.0.2")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = IpRange::parse("fe80::/10").unwrap();
        assert!(v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("::1")));
    }
}
