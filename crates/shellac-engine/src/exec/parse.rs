//! Text parsers behind `std.integer`, `std.duration`, `std.real`, `std.time`, `std.bytes`,
//! `std.ip` and `std.querysort`, with Varnish's rules (spec §1.9).

use std::net::IpAddr;

/// `std.integer`: optional blanks, optional `-`, at most 15 digits, an optional integral
/// fraction (`1.0`), optional blanks; nothing else.
pub(super) fn integer(s: &str) -> Option<i64> {
    let t = s.trim_matches([' ', '\t']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|c| c == b'0') {
            return None;
        }
    }
    let n: i64 = int.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// `std.real`: a decimal number.
pub(super) fn real(s: &str) -> Option<f64> {
    let t = s.trim_matches([' ', '\t']);
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    t.parse().ok().filter(|r: &f64| r.is_finite())
}

/// `std.duration`: a number and a unit (`ms s m h d w y`), the unit required.
pub(super) fn duration(s: &str) -> Option<f64> {
    let t = s.trim_matches([' ', '\t']);
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim_start() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 604_800.0,
        "y" => 31_536_000.0,
        _ => return None,
    };
    Some(n * mult)
}

/// `std.bytes`: a number with an optional `k m g t p` multiplier and optional `b`.
pub(super) fn bytes(s: &str) -> Option<u64> {
    crate::params::parse_bytes(s.trim_matches([' ', '\t']))
}

/// `std.time`: an HTTP date or seconds since the epoch.
pub(super) fn time(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Ok(st) = httpdate::parse_http_date(t) {
        return st.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs_f64());
    }
    real(t)
}

/// `std.ip` without name resolution: an address, optionally bracketed.
pub(super) fn ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    let t = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(t);
    t.parse().ok()
}

/// `std.querysort`: the query parameters in byte order, empty ones dropped.
pub(super) fn querysort(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else { return url.to_string() };
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if params.is_empty() {
        return path.to_string();
    }
    params.sort_unstable();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_follows_varnish() {
        assert_eq!(integer(" 42\t"), Some(42));
        assert_eq!(integer("-7"), Some(-7));
        assert_eq!(integer("1.0"), Some(1));
        assert_eq!(integer("1.5"), None);
        assert_eq!(integer("0x10"), None);
        assert_eq!(integer("+5"), None);
        assert_eq!(integer("1234567890123456"), None);
        assert_eq!(integer(""), None);
    }

    #[test]
    fn duration_needs_a_unit() {
        assert_eq!(duration("10"), None);
        assert_eq!(duration("10s"), Some(10.0));
        assert_eq!(duration("1.5m"), Some(90.0));
        assert_eq!(duration("250ms"), Some(0.25));
        assert_eq!(duration("2w"), Some(1_209_600.0));
    }

    #[test]
    fn querysort_orders_parameters() {
        assert_eq!(querysort("/a?b=2&a=1&&c"), "/a?a=1&b=2&c");
        assert_eq!(querysort("/a?"), "/a");
        assert_eq!(querysort("/a"), "/a");
        assert_eq!(bytes("1k"), Some(1024));
        assert_eq!(ip("[::1]"), Some("::1".parse().unwrap()));
    }
}
