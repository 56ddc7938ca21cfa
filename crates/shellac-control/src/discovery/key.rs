//! Keys and values of discovered backends. A key is `<root><group>/<host>:<port>` (seed 000's
//! layout: one group level, no more, no less) where host is an IPv4 address, a bracketed IPv6
//! address or a DNS name; the value is empty (seed 000's form) or
//! a JSON object `{"weight": 2.5, "drain": true}` whose other fields are ignored. Everything is
//! checked: a bad key or value becomes an entry with an error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use shellac_engine::catalog::Entry;

/// Where a key points, before name resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The host without brackets.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The address when the host is one.
    pub ip: Option<IpAddr>,
}

/// What the value says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meta {
    /// Share of traffic (random and hash policies).
    pub weight: f64,
    /// No new requests.
    pub drain: bool,
}

impl Default for Meta {
    fn default() -> Meta {
        Meta { weight: 1.0, drain: false }
    }
}

/// How long a DNS name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Parses the last path segment of a key: `10.0.0.1:80`, `[2001:db8::1]:80`, `web1.local:80`.
pub fn parse_endpoint(segment: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = segment.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:").ok_or_else(|| format!("{segment:?}: expected [IPv6]:port"))?;
        let ip: Ipv6Addr = addr.parse().map_err(|_| format!("{segment:?}: {addr:?} is not an IPv6 address"))?;
        return Ok(Endpoint { host: addr.to_string(), port: port_of(segment, port)?, ip: Some(IpAddr::V6(ip)) });
    } else {
        segment.rsplit_once(':').ok_or_else(|| format!("{segment:?}: no port (expected host:port)"))?
    };
    if host.contains(':') {
        return Err(format!("{segment:?}: an IPv6 address needs brackets, as in [2001:db8::1]:80"));
    }
    let port = port_of(segment, port)?;
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Endpoint { host: host.to_string(), port, ip: Some(IpAddr::V4(ip)) });
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !valid {
        return Err(format!("{segment:?}: {host:?} is neither an IP address nor a DNS name"));
    }
    Ok(Endpoint { host: host.to_string(), port, ip: None })
}

fn port_of(segment: &str, port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("{segment:?}: {port:?} is not a port (1-65535)")),
    }
}

/// Parses a value: empty, or a JSON object with optional `weight` (a number ≥ 0) and `drain`
/// (a boolean).
pub fn parse_value(value: &[u8]) -> Result<Meta, String> {
    if value.iter().all(u8::is_ascii_whitespace) {
        return Ok(Meta::default());
    }
    let v: serde_json::Value =
        serde_json::from_slice(value).map_err(|e| format!("value is neither empty nor JSON: {e}"))?;
    let obj = v.as_object().ok_or("value must be a JSON object such as {\"weight\": 2}")?;
    let mut meta = Meta::default();
    if let Some(w) = obj.get("weight") {
        meta.weight = match w.as_f64() {
            Some(w) if w.is_finite() && w >= 0.0 => w,
            _ => return Err(format!("\"weight\" must be a number ≥ 0, not {w}")),
        };
    }
    if let Some(d) = obj.get("drain") {
        meta.drain = d.as_bool().ok_or_else(|| format!("\"drain\" must be true or false, not {d}"))?;
    }
    Ok(meta)
}

/// Checks that `key` is `<root><group>/<endpoint>`: exactly one group level under the root.
pub fn check_layout(root: &str, key: &str) -> Result<(), String> {
    let rest = key.strip_prefix(root).ok_or_else(|| format!("not under {root}"))?;
    let levels: Vec<&str> = rest.split('/').collect();
    match levels.as_slice() {
        [group, endpoint] if !group.is_empty() && !endpoint.is_empty() => Ok(()),
        [_] => Err(format!("no group: expected {root}<group>/<host>:<port>")),
        _ => Err(format!("{} path levels under {root}: expected {root}<group>/<host>:<port>", levels.len())),
    }
}

/// Turns a key under `root` and its value into a catalog entry, resolving a DNS name (IPv4
/// first unless `prefer_ipv6`). Problems end up in the entry's `target`.
pub async fn entry(root: &str, key: &str, value: &[u8], prefer_ipv6: bool) -> Entry {
    let endpoint = key.rsplit('/').next().unwrap_or(key).to_string();
    let parsed = check_layout(root, key).and_then(|()| parse_endpoint(&endpoint));
    let host = parsed.as_ref().map(|e| e.host.clone()).unwrap_or_default();
    let meta = parse_value(value);
    let target = match (parsed, &meta) {
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.clone()),
        (Ok(Endpoint { ip: Some(ip), port, .. }), Ok(_)) => Ok(SocketAddr::new(ip, port)),
        (Ok(Endpoint { host, port, ip: None }), Ok(_)) => resolve(&host, port, prefer_ipv6).await,
    };
    let meta = meta.unwrap_or_default();
    Entry { key: key.to_string(), endpoint, host, target, weight: meta.weight, drain: meta.drain }
}

async fn resolve(host: &str, port: u16, prefer_ipv6: bool) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(format!("{host:?} does not resolve: {e}")),
            Err(_) => return Err(format!("{host:?} did not resolve within {}s", RESOLVE_TIMEOUT.as_secs())),
        };
    let first = |v6: bool| addrs.iter().find(|a| a.is_ipv6() == v6).copied();
    let pick = if prefer_ipv6 { first(true).or_else(|| first(false)) } else { first(false).or_else(|| first(true)) };
    pick.ok_or_else(|| format!("{host:?} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_exactly_one_group_level() {
        assert!(check_layout("/varnish/backends/", "/varnish/backends/web/10.0.0.1:80").is_ok());
        let deep = check_layout("/varnish/backends/", "/varnish/backends/a/b/c/127.0.0.1:1").unwrap_err();
        assert_eq!(deep, "4 path levels under /varnish/backends/: expected /varnish/backends/<group>/<host>:<port>");
        assert!(check_layout("/varnish/backends/", "/varnish/backends/127.0.0.1:1")
            .unwrap_err()
            .starts_with("no group"));
        assert!(check_layout("/varnish/backends/", "/varnish/backends//127.0.0.1:1").is_err());
        assert!(check_layout("/varnish/backends/", "/varnish/backends/web/").is_err());
    }

    #[test]
    fn endpoints_of_every_form() {
        let e = parse_endpoint("10.0.0.1:8080").expect("v4");
        assert_eq!((e.host.as_str(), e.port, e.ip), ("10.0.0.1", 8080, Some("10.0.0.1".parse().expect("ip"))));
        let e = parse_endpoint("[2001:db8::1]:80").expect("v6");
        assert_eq!((e.host.as_str(), e.port, e.ip), ("2001:db8::1", 80, Some("2001:db8::1".parse().expect("ip"))));
        let e = parse_endpoint("web-1.example.com:80").expect("dns");
        assert_eq!((e.host.as_str(), e.port, e.ip), ("web-1.example.com", 80, None));
    }

    #[test]
    fn bad_endpoints_say_what_is_wrong() {
        for (segment, says) in [
            ("10.0.0.1", "no port"),
            ("10.0.0.1:0", "is not a port"),
            ("10.0.0.1:65536", "is not a port"),
            ("10.0.0.1:+80", "is not a port"),
            ("2001:db8::1:80", "needs brackets"),
            ("[2001:db8::1]", "expected [IPv6]:port"),
            ("[nothex::]:80", "is not an IPv6 address"),
            (":80", "neither an IP address nor a DNS name"),
            ("bad_name:80", "neither an IP address nor a DNS name"),
            ("-x.com:80", "neither an IP address nor a DNS name"),
        ] {
            let err = parse_endpoint(segment).expect_err(segment);
            assert!(err.contains(says), "{segment}: {err}");
        }
    }

    #[test]
    fn values() {
        assert_eq!(parse_value(b"").expect("empty"), Meta::default());
        assert_eq!(parse_value(b" \n").expect("blank"), Meta::default());
        assert_eq!(
            parse_value(br#"{"weight": 2.5, "drain": true, "x": 1}"#).expect("json"),
            Meta { weight: 2.5, drain: true }
        );
        assert_eq!(parse_value(br#"{"weight": 0}"#).expect("zero").weight, 0.0);
        for (v, says) in [
            (&br#"up"#[..], "neither empty nor JSON"),
            (br#"[1]"#, "JSON object"),
            (br#"{"weight": -1}"#, "\"weight\" must be"),
            (br#"{"weight": "2"}"#, "\"weight\" must be"),
            (br#"{"drain": "yes"}"#, "\"drain\" must be"),
            (b"\xff\xfe", "neither empty nor JSON"),
        ] {
            let err = parse_value(v).expect_err("bad value");
            assert!(err.contains(says), "{v:?}: {err}");
        }
    }

    #[tokio::test]
    async fn entries_resolve_names_and_carry_errors() {
        let e = entry("/b/", "/b/web/localhost:8080", br#"{"weight": 2}"#, false).await;
        assert_eq!(e.target, Ok("127.0.0.1:8080".parse().expect("addr")));
        assert_eq!((e.endpoint.as_str(), e.host.as_str(), e.weight), ("localhost:8080", "localhost", 2.0));
        let e = entry("/b/", "/b/web/[::1]:80", b"", false).await;
        assert_eq!(e.target, Ok("[::1]:80".parse().expect("addr")));
        let e = entry("/b/", "/b/web/127.0.0.1:80", b"{", false).await;
        assert!(e.target.is_err_and(|m| m.contains("JSON")));
        let e = entry("/b/", "/b/web/no-such-host.invalid:80", b"", false).await;
        assert!(e.target.is_err_and(|m| m.contains("resolve")));
    }
}
