//! `-a` as varnishd reads it: `[name=][host][:port][,PROXY|HTTP]` (an empty host is every IPv4
//! address, port 80 by default), or a Unix socket `[name=]/path[,user=U][,group=G][,mode=OCTAL]
//! [,PROXY|HTTP]`; and the binding of each: a Unix socket's stale file (a socket an earlier
//! process left) is replaced, its owner and mode set as asked.

use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use shellac_engine::client_io::{Socket, UnixPath};

/// One `-a`, parsed.
#[derive(Debug, PartialEq)]
pub(crate) struct Spec {
    /// `a0`, `a1`, … or as given.
    pub(crate) name: String,
    /// The address as given (`local.endpoint`).
    pub(crate) endpoint: String,
    pub(crate) addr: Addr,
    /// A PROXY protocol header comes first.
    pub(crate) proxy: bool,
}

/// Where a listener listens.
#[derive(Debug, PartialEq)]
pub(crate) enum Addr {
    Tcp(SocketAddr),
    Unix { path: PathBuf, user: Option<String>, group: Option<String>, mode: Option<u32> },
}

/// Parses the `index`th `-a`.
pub(crate) fn parse(arg: &str, index: usize) -> anyhow::Result<Spec> {
    let (name, rest) = match arg.split_once('=') {
        Some((n, r)) if !n.contains(':') && !n.contains('/') && !n.contains(',') => (n.to_string(), r),
        _ => (format!("a{index}"), arg),
    };
    let mut parts = rest.split(',');
    let addr = parts.next().unwrap_or("");
    let (mut proxy, mut user, mut group, mut mode) = (false, None, None, None);
    for part in parts {
        match part.split_once('=') {
            None if part.eq_ignore_ascii_case("HTTP") => proxy = false,
            None if part.eq_ignore_ascii_case("PROXY") => proxy = true,
            Some(("user", u)) => user = Some(u.to_string()),
            Some(("group", g)) => group = Some(g.to_string()),
            Some(("mode", m)) => {
                let m = u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o777);
                mode = Some(m.with_context(|| format!("-a {arg}: the mode is octal, 0 to 777"))?);
            }
            _ => bail!("-a {arg}: unknown part {part:?} (the protocol is HTTP or PROXY; a Unix socket takes user=, group=, mode=)"),
        }
    }
    if let Some(path) = addr.strip_prefix('/').map(|_| PathBuf::from(addr)) {
        return Ok(Spec { name, endpoint: addr.to_string(), addr: Addr::Unix { path, user, group, mode }, proxy });
    }
    if user.is_some() || group.is_some() || mode.is_some() {
        bail!("-a {arg}: user=, group= and mode= are for Unix sockets (a path)");
    }
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (h, p) = rest.split_once(']').with_context(|| format!("-a {arg}: missing ']'"))?;
        (h.to_string(), p.strip_prefix(':').unwrap_or("80").to_string())
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (addr.to_string(), "80".to_string()),
        }
    };
    let port: u16 =
        if port.is_empty() { 80 } else { port.parse().with_context(|| format!("-a {arg}: bad port {port:?}"))? };
    let host = if host.is_empty() { "0.0.0.0".to_string() } else { host };
    use std::net::ToSocketAddrs;
    let sa = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("-a {arg}: cannot resolve {host}"))?
        .next()
        .with_context(|| format!("-a {arg}: {host} has no address"))?;
    Ok(Spec { name, endpoint: addr.to_string(), addr: Addr::Tcp(sa), proxy })
}

/// Binds a listener; what it is bound to, as announced (`ADDR:PORT`, or the socket's path).
pub(crate) async fn bind(spec: &Spec) -> anyhow::Result<(Socket, String)> {
    let endpoint = &spec.endpoint;
    match &spec.addr {
        Addr::Tcp(addr) => {
            let socket = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("-a {endpoint}: cannot listen on {addr}"))?;
            let bound = socket.local_addr().unwrap_or(*addr).to_string();
            Ok((Socket::Tcp(socket), bound))
        }
        Addr::Unix { path, user, group, mode } => {
            // A socket an earlier process left is replaced; anything else there is not ours.
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() {
                    bail!("-a {endpoint}: {} exists and is not a socket", path.display());
                }
                std::fs::remove_file(path).with_context(|| format!("-a {endpoint}: cannot remove the old socket"))?;
            }
            let socket =
                tokio::net::UnixListener::bind(path).with_context(|| format!("-a {endpoint}: cannot listen"))?;
            let guard = UnixPath(path.clone());
            if let Some(mode) = mode {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                    .with_context(|| format!("-a {endpoint}: cannot set mode {mode:o}"))?;
            }
            let uid = user
                .as_deref()
                .map(|u| id_of("/etc/passwd", u).with_context(|| format!("-a {endpoint}: no user {u}")))
                .transpose()?;
            let gid = group
                .as_deref()
                .map(|g| id_of("/etc/group", g).with_context(|| format!("-a {endpoint}: no group {g}")))
                .transpose()?;
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(path, uid, gid)
                    .with_context(|| format!("-a {endpoint}: cannot set its owner"))?;
            }
            Ok((Socket::Unix(socket, guard), path.display().to_string()))
        }
    }
}

/// A user's or group's id in `/etc/passwd` or `/etc/group` (`NAME:x:ID:…`), or the id itself.
pub(crate) fn id_of(file: &str, name: &str) -> anyhow::Result<u32> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
    id_in(&text, name).with_context(|| format!("not in {file}"))
}

/// The id of `name` in the text of a passwd or group file.
pub(crate) fn id_in(text: &str, name: &str) -> Option<u32> {
    text.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[0] == name)?[2].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse_like_varnishd() {
        let s = parse("127.0.0.1:8080", 0).unwrap();
        assert_eq!((s.name.as_str(), s.addr, s.proxy), ("a0", Addr::Tcp("127.0.0.1:8080".parse().unwrap()), false));
        let s = parse("web=:0", 1).unwrap();
        assert_eq!((s.name.as_str(), s.addr), ("web", Addr::Tcp("0.0.0.0:0".parse().unwrap())));
        assert_eq!(parse("[::1]:81", 0).unwrap().addr, Addr::Tcp("[::1]:81".parse().unwrap()));
        let s = parse("tls=127.0.0.1:8443,PROXY", 0).unwrap();
        assert_eq!((s.endpoint.as_str(), s.proxy), ("127.0.0.1:8443", true));
        assert!(parse("1.2.3.4:80,SPDY", 0).is_err());
        assert!(parse("1.2.3.4:http", 0).is_err());
        // Unix sockets, with their owner and mode, and the protocol anywhere after the path.
        let s = parse("hitch=/run/shellac.sock,user=vcache,group=varnish,mode=0660,PROXY", 2).unwrap();
        let want = Addr::Unix {
            path: "/run/shellac.sock".into(),
            user: Some("vcache".into()),
            group: Some("varnish".into()),
            mode: Some(0o660),
        };
        assert_eq!((s.name.as_str(), s.endpoint.as_str(), s.addr, s.proxy), ("hitch", "/run/shellac.sock", want, true));
        assert_eq!(parse("/tmp/x.sock", 0).unwrap().name, "a0");
        assert!(parse("/tmp/x.sock,mode=999", 0).is_err());
        assert!(parse("127.0.0.1:80,mode=0666", 0).is_err(), "mode= is for Unix sockets");
    }

    #[test]
    fn ids_are_read_from_passwd_and_group() {
        let group = "root:x:0:\nvarnish:x:125:vcache\n";
        assert_eq!(id_in(group, "varnish"), Some(125));
        assert_eq!(id_in(group, "nobody"), None);
        assert_eq!(id_of("/nonexistent", "42").unwrap(), 42, "a number is an id");
    }
}
