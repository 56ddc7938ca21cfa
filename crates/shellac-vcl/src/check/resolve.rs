//! Pass 5b: backend and ACL host names, resolved through the caller's [`Resolver`] as varnishd
//! does at compile time (spec §0 S3, §1.3): a name that does not resolve, or that yields more than
//! one IPv4 or more than one IPv6 address for a backend, is an error at its line.

use std::net::SocketAddr;

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
}
