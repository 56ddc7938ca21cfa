//! The file system and the system resolver as the VCL front end sees them: [`FsLoader`] reads
//! VCL files and includes from disk, [`SystemResolver`] resolves `.host` names with getaddrinfo,
//! as varnishd does when it compiles VCL.

use shellac_vcl::source::fnmatch;
use std::net::{SocketAddr, ToSocketAddrs};

use shellac_vcl::{LoadError, Loader, Resolver};

/// Reads files from disk; globs match in the last path component.
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        match std::fs::read(path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LoadError::NotFound),
            Err(e) => Err(LoadError::Other(e.to_string())),
        }
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, LoadError> {
        let (dir, file) = pattern.rsplit_once('/').unwrap_or((".", pattern));
        let dir = if dir.is_empty() { "/" } else { dir };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(LoadError::Other(e.to_string())),
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && fnmatch(file, name))
            .map(|name| format!("{}/{name}", dir.trim_end_matches('/')))
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Resolves with getaddrinfo(3).
pub struct SystemResolver;

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
