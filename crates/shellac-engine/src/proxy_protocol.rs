//! The PROXY protocol (versions 1 and 2, as HAProxy specifies them) on a `-a ADDR,PROXY`
//! listener: a TLS terminator or load balancer in front (hitch, HAProxy, a cloud balancer)
//! states the client's address before the request. As varnishd does, `client.ip` and
//! `server.ip` become the addresses it states, `remote.ip` and `local.ip` stay the
//! connection's own. A connection that does not begin with a well-formed header within
//! `timeout_idle` is closed; `LOCAL` (v2) and `UNKNOWN` (v1) keep the connection's addresses.
//!
//! What was read past the header (the request's first bytes, when they came in the same
//! packet) is handed back, for the HTTP server to read first (see [`crate::client_io`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// Version 2's first twelve bytes.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Version 1's longest header (`PROXY TCP6` with the longest addresses, CRLF included).
const V1_MAX: usize = 107;

/// What a header says: the client's and the server's addresses, or `None` for the
/// connection's own (`LOCAL`, `UNKNOWN`).
pub type Addresses = Option<(SocketAddr, SocketAddr)>;

/// Why a connection's header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Not a PROXY header at all.
    #[error("not a PROXY protocol header")]
    NotProxy,
    /// A header that breaks the protocol, and how.
    #[error("bad PROXY header: {0}")]
    Bad(&'static str),
    /// The connection closed or failed before the header was whole.
    #[error("connection ended in the PROXY header")]
    Closed,
    /// The header did not come in time.
    #[error("no PROXY header within the idle timeout")]
    Timeout,
}

/// What the bytes at the start of a connection are, so far.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A header of this many bytes (version 2's length is known from its first 16, before the
    /// rest has come).
    Whole(usize),
    /// More bytes are needed to know.
    Partial,
}

/// How much is read at a time while the header's length is not known yet.
const CHUNK: usize = 4096;

/// Reads the header at the start of `stream` (within `limit`): what it says, and the bytes read
/// past it.
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Result<(Addresses, Vec<u8>), ProxyError> {
    tokio::time::timeout(limit, read(stream)).await.map_err(|_| ProxyError::Timeout)?
}

async fn read<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Addresses, Vec<u8>), ProxyError> {
    // (On the heap: the connection's task, which awaits this, stays small.)
    let mut buf = Vec::new();
    let len = loop {
        buf.reserve(CHUNK);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Err(ProxyError::Closed),
            Ok(_) => {}
        }
        if let Seen::Whole(len) = measure(&buf)? {
            break len;
        }
    };
    // (Version 2's rest: at most 16 + 65535 bytes in all, as its length field allows.)
    if buf.len() < len {
        let at = buf.len();
        buf.resize(len, 0);
        stream.read_exact(&mut buf[at..]).await.map_err(|_| ProxyError::Closed)?;
    }
    let rest = buf.split_off(len);
    Ok((parse(&buf)?, rest))
}

/// How long the header at the start of `bytes` is, if it is whole.
fn measure(bytes: &[u8]) -> Result<Seen, ProxyError> {
    if bytes.starts_with(b"PROXY ") {
        return match bytes.windows(2).position(|w| w == b"\r\n") {
            Some(at) if at + 2 <= V1_MAX => Ok(Seen::Whole(at + 2)),
            Some(_) => Err(ProxyError::Bad("a version 1 header longer than 107 bytes")),
            None if bytes.len() >= V1_MAX => Err(ProxyError::Bad("a version 1 header longer than 107 bytes")),
            None => Ok(Seen::Partial),
        };
    }
    let sig = &V2_SIGNATURE[..bytes.len().min(12)];
    let v1 = &b"PROXY "[..bytes.len().min(6)];
    if bytes.len() < 12 && (bytes.starts_with(sig) || bytes.starts_with(v1)) {
        return Ok(Seen::Partial);
    }
    if !bytes.starts_with(V2_SIGNATURE) {
        return Err(ProxyError::NotProxy);
    }
    if bytes.len() < 16 {
        return Ok(Seen::Partial);
    }
    Ok(Seen::Whole(16 + usize::from(u16::from_be_bytes([bytes[14], bytes[15]]))))
}

/// The addresses a whole header states.
fn parse(header: &[u8]) -> Result<Addresses, ProxyError> {
    if header.starts_with(b"PROXY ") {
        parse_v1(header)
    } else {
        parse_v2(header)
    }
}

/// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n`, or `PROXY UNKNOWN…\r\n`.
fn parse_v1(header: &[u8]) -> Result<Addresses, ProxyError> {
    let line = std::str::from_utf8(header).map_err(|_| ProxyError::Bad("version 1 header is not text"))?;
    let line = line.strip_suffix("\r\n").ok_or(ProxyError::Bad("version 1 header without CRLF"))?;
    let words: Vec<&str> = line.split(' ').collect();
    match words.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(None),
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip: IpAddr = s.parse().map_err(|_| ProxyError::Bad("a bad address"))?;
                match (*family, ip) {
                    ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_)) => Ok(ip),
                    _ => Err(ProxyError::Bad("an address of the other family")),
                }
            };
            let port = |s: &str| -> Result<u16, ProxyError> {
                // (Decimal without a leading zero, as the specification asks.)
                if s.len() > 1 && s.starts_with('0') || s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ProxyError::Bad("a bad port"));
                }
                s.parse().map_err(|_| ProxyError::Bad("a bad port"))
            };
            Ok(Some((SocketAddr::new(ip(src)?, port(sport)?), SocketAddr::new(ip(dst)?, port(dport)?))))
        }
        _ => Err(ProxyError::Bad("a version 1 header of neither TCP4, TCP6 nor UNKNOWN")),
    }
}

/// The signature, version and command, family and protocol, length, then the addresses (TLVs
/// after them are passed over).
fn parse_v2(header: &[u8]) -> Result<Addresses, ProxyError> {
    let (ver_cmd, family) = (header[12], header[13]);
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Bad("version 2 signature with another version"));
    }
    let body = &header[16..];
    match ver_cmd & 0x0f {
        // LOCAL: the balancer's own connection (a health check): its addresses stand.
        0 => return Ok(None),
        1 => {}
        _ => return Err(ProxyError::Bad("a version 2 command other than LOCAL and PROXY")),
    }
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match family {
        // TCP (or UDP) over IPv4.
        0x11 | 0x12 if body.len() >= 12 => {
            let ip = |b: &[u8]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            Ok(Some((
                SocketAddr::new(ip(&body[0..4]), port(&body[8..10])),
                SocketAddr::new(ip(&body[4..8]), port(&body[10..12])),
            )))
        }
        // TCP (or UDP) over IPv6.
        0x21 | 0x22 if body.len() >= 36 => {
            let ip = |b: &[u8]| {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            Ok(Some((
                SocketAddr::new(ip(&body[0..16]), port(&body[32..34])),
                SocketAddr::new(ip(&body[16..32]), port(&body[34..36])),
            )))
        }
        0x11 | 0x12 | 0x21 | 0x22 => Err(ProxyError::Bad("version 2 addresses shorter than their family's")),
        // UNSPEC, or Unix sockets: nothing to say of an IP client.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(src: &str, dst: &str) -> Addresses {
        Some((src.parse().expect("src"), dst.parse().expect("dst")))
    }

    #[test]
    fn version_1_headers() {
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(measure(h), Ok(Seen::Whole(45)));
        assert_eq!(parse(&h[..45]), Ok(addrs("192.0.2.1:56324", "198.51.100.2:443")));
        let h6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
        assert_eq!(parse(h6), Ok(addrs("[2001:db8::1]:1", "[2001:db8::2]:65535")));
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Ok(None));
        assert_eq!(parse(b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), Ok(None));
        for bad in [
            &b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n"[..],
            b"PROXY TCP4 ::1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
            b"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
        ] {
            assert!(matches!(parse(bad), Err(ProxyError::Bad(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        // Partial until the CRLF; too long without one.
        assert_eq!(measure(b"PROXY TCP4 192.0"), Ok(Seen::Partial));
        assert_eq!(measure(b"PRO"), Ok(Seen::Partial));
        assert!(matches!(measure(&[b'X'; 200]), Err(ProxyError::NotProxy)));
        let long = [&b"PROXY "[..], &[b'1'; 120]].concat();
        assert!(matches!(measure(&long), Err(ProxyError::Bad(_))));
        assert!(matches!(measure(b"GET / HTTP/1.1\r\n\r\n"), Err(ProxyError::NotProxy)));
    }

    fn v2(cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[0x20 | cmd, family]);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn version_2_headers() {
        let body = [192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb];
        let h = v2(1, 0x11, &body);
        assert_eq!(measure(&[&h[..], b"GET /"].concat()), Ok(Seen::Whole(28)));
        assert_eq!(parse(&h), Ok(addrs("192.0.2.1:56324", "198.51.100.2:443")));
        // TLVs after the addresses are passed over.
        let with_tlv = v2(1, 0x11, &[&body[..], &[0x04, 0x00, 0x01, 0x00]].concat());
        assert_eq!(parse(&with_tlv), Ok(addrs("192.0.2.1:56324", "198.51.100.2:443")));
        let mut six = [0u8; 36];
        six[15] = 1;
        six[31] = 2;
        six[32..34].copy_from_slice(&8080u16.to_be_bytes());
        six[34..36].copy_from_slice(&80u16.to_be_bytes());
        assert_eq!(parse(&v2(1, 0x21, &six)), Ok(addrs("[::1]:8080", "[::2]:80")));
        // LOCAL, UNSPEC and Unix sockets keep the connection's addresses.
        assert_eq!(parse(&v2(0, 0x11, &body)), Ok(None));
        assert_eq!(parse(&v2(1, 0x00, &[])), Ok(None));
        assert_eq!(parse(&v2(1, 0x31, &[0; 216])), Ok(None));
        // Too short for its family; another version; another command.
        assert!(matches!(parse(&v2(1, 0x11, &body[..8])), Err(ProxyError::Bad(_))));
        let mut other = h.clone();
        other[12] = 0x11;
        assert!(matches!(parse(&other), Err(ProxyError::Bad(_))));
        assert!(matches!(parse(&v2(2, 0x11, &body)), Err(ProxyError::Bad(_))));
        // Partial while the signature or the body are incomplete.
        assert_eq!(measure(&h[..5]), Ok(Seen::Partial));
        assert_eq!(measure(&h[..14]), Ok(Seen::Partial));
        assert_eq!(measure(&h[..16]), Ok(Seen::Whole(28)), "its length is known");
    }
}
