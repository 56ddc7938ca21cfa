//! Pass 5b: backend and ACL host names, resolved through the caller's [`Resolver`] as varnishd
//! does at compile time (spec §0 S3, §1.3): a name that does not resolve, or that yields more than
//! one IPv4 or more than one IPv6 address for a backend, is an error at its line. Then the ACL
//! entries' addresses are checked as varnishd 7.1 checks them: no bits set beyond the mask
//! (under `+pedantic`, the default) and no address and mask both included and excluded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Checker;
use crate::diagnostic::Diagnostic;
use crate::ir::Endpoint;

// === impl Checker ===

impl Checker<'_, '_> {
    pub(super) fn resolve_hosts(&mut self) {
        let Some(resolver) = self.opts.resolver else {
            return;
        };
        let mut found = Vec::new();
        for b in &mut self.backends {
            let Some(Endpoint::Host { host, port, span, resolved }) = &mut b.endpoint else {
                continue;
            };
            match resolver.resolve(host, port) {
                Ok(addrs) if addrs.is_empty() => {
                    found.push(Diagnostic::error(*span, format!("Backend host \"{host}\" resolves to no address")))
                }
                Ok(addrs) => {
                    let v4 = addrs.iter().filter(|a| a.is_ipv4()).count();
                    let v6 = addrs.len() - v4;
                    if v4 > 1 || v6 > 1 {
                        let list: Vec<_> = addrs.iter().map(SocketAddr::to_string).collect();
                        found.push(
                            Diagnostic::error(*span, format!("Backend host \"{host}\" resolves to too many addresses"))
                                .with_note(
                                    format!(
                                        "found {}; only one IPv4 and one IPv6 address are allowed",
                                        list.join(", ")
                                    ),
                                    None,
                                ),
                        );
                    } else {
                        *resolved = addrs;
                    }
                }
                Err(e) => {
                    found.push(Diagnostic::error(*span, format!("Backend host \"{host}\" could not be resolved: {e}")))
                }
            }
        }
        for acl in &mut self.acls {
            for e in &mut acl.entries {
                if let Ok(ip) = e.addr.parse::<std::net::IpAddr>() {
                    e.resolved = vec![ip];
                    continue;
                }
                match resolver.resolve(&e.addr, "80") {
                    Ok(addrs) if !addrs.is_empty() => {
                        let mut ips: Vec<_> = addrs.iter().map(SocketAddr::ip).collect();
                        ips.dedup();
                        e.resolved = ips;
                    }
                    Ok(_) | Err(_) if e.optional => {}
                    Ok(_) => found
                        .push(Diagnostic::error(e.span, format!("ACL entry \"{}\" resolves to no address", e.addr))),
                    Err(err) => found.push(
                        Diagnostic::error(e.span, format!("ACL entry \"{}\" could not be resolved: {err}", e.addr))
                            .with_note("put the entry in parentheses to skip it when it does not resolve", None),
                    ),
                }
            }
        }
        self.diags.extend(found);
    }

    pub(super) fn check_acl_entries(&mut self) {
        let mut found = Vec::new();
        for acl in &self.acls {
            // (address, mask) → whether it is excluded, and where.
            let mut seen: Vec<(IpAddr, u32, bool)> = Vec::new();
            for e in &acl.entries {
                let literal = e.addr.parse::<IpAddr>().ok();
                let addrs: Vec<IpAddr> =
                    if e.resolved.is_empty() { literal.into_iter().collect() } else { e.resolved.clone() };
                for ip in addrs {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let Some(bits) = e.mask.or(Some(max)).filter(|b| *b <= max) else { continue };
                    let net = masked(ip, bits);
                    if net != ip {
                        let d = Diagnostic::error(
                            e.span,
                            format!("Non-zero bits in masked part of \"{}\"/{bits} (maybe use {net}/{bits}?)", e.addr),
                        );
                        if acl.pedantic {
                            found.push(d.with_note("or declare the ACL '-pedantic' to have them ignored", None));
                        } else {
                            found.push(Diagnostic::warning(
                                e.span,
                                format!(
                                    "Non-zero bits in masked part of \"{}\"/{bits}: ignored ({net}/{bits})",
                                    e.addr
                                ),
                            ));
                        }
                    }
                    match seen.iter().find(|(a, b, _)| *a == net && *b == bits) {
                        Some((_, _, negated)) if *negated != e.negated => found.push(Diagnostic::error(
                            e.span,
                            format!(
                                "Conflicting ACL entries: {net}/{bits} is both included and excluded in ACL '{}'",
                                acl.name
                            ),
                        )),
                        Some(_) => {}
                        None => seen.push((net, bits, e.negated)),
                    }
                }
            }
        }
        self.diags.extend(found);
    }
}

/// `ip` with every bit past the first `bits` cleared.
fn masked(ip: IpAddr, bits: u32) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}
