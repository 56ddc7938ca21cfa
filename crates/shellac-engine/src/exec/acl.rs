//! ACLs at run time: prefixes with their negation; the longest matching prefix decides, as in
//! Varnish.

use std::net::IpAddr;

use shellac_vcl::ir::Acl;

use crate::error::LoadError;

/// A linked ACL.
#[derive(Debug, Clone)]
pub struct LinkedAcl {
    /// Its name.
    pub name: String,
    entries: Vec<(IpAddr, u32, bool)>,
}

impl LinkedAcl {
    /// Prepares an ACL; names the front end did not resolve are resolved now.
    pub(crate) fn new(acl: &Acl) -> Result<LinkedAcl, LoadError> {
        let mut entries = Vec::new();
        for e in &acl.entries {
            let addrs: Vec<IpAddr> = if let Ok(ip) = e.addr.parse::<IpAddr>() {
                vec![ip]
            } else if !e.resolved.is_empty() {
                e.resolved.clone()
            } else {
                use std::net::ToSocketAddrs;
                match (e.addr.as_str(), 0).to_socket_addrs() {
                    Ok(a) => a.map(|s| s.ip()).collect(),
                    Err(_) if e.optional => Vec::new(),
                    Err(err) => {
                        return Err(LoadError::Resolve {
                            backend: format!("acl {}", acl.name),
                            host: e.addr.clone(),
                            port: String::new(),
                            reason: err.to_string(),
                        })
                    }
                }
            };
            for ip in addrs {
                let full = if ip.is_ipv4() { 32 } else { 128 };
                entries.push((ip, e.mask.unwrap_or(full).min(full), e.negated));
            }
        }
        Ok(LinkedAcl { name: acl.name.clone(), entries })
    }

    /// Whether an address matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let mut best: Option<(u32, bool)> = None;
        for &(net, len, negated) in &self.entries {
            if in_prefix(ip, net, len) && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, negated));
            }
        }
        best.is_some_and(|(_, negated)| !negated)
    }
}

fn in_prefix(ip: IpAddr, net: IpAddr, len: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_decides() {
        let acl = LinkedAcl {
            name: "a".into(),
            entries: vec![
                ("10.0.0.0".parse().unwrap(), 8, false),
                ("10.1.0.0".parse().unwrap(), 16, true),
                ("10.1.2.3".parse().unwrap(), 32, false),
            ],
        };
        assert!(acl.matches("10.9.9.9".parse().unwrap()));
        assert!(!acl.matches("10.1.9.9".parse().unwrap()));
        assert!(acl.matches("10.1.2.3".parse().unwrap()));
        assert!(!acl.matches("11.0.0.1".parse().unwrap()));
        assert!(acl.matches("::ffff:10.0.0.1".parse().unwrap()));
    }
}
