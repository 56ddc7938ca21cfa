//! Host name resolution for `.host` and ACL entries, through the system resolver, as varnishd
//! does when it compiles VCL.

use std::net::{SocketAddr, ToSocketAddrs};

use shellac_vcl::Resolver;

/// Resolves with getaddrinfo(3).
pub(crate) struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: &str) -> Result<Vec<SocketAddr>, String> {
        let port: u16 = match port {
            "http" | "www" => 80,
            "https" => 443,
            "http-alt" => 8080,
            p => p.parse().map_err(|_| format!("unknown port or service '{p}'"))?,
        };
        let mut addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().map_err(|e| e.to_string())?.collect();
        addrs.dedup();
        Ok(addrs)
    }
}
