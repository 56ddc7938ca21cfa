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

/// `std.real`: a decimal number as varnishd reads one: optional blanks and `-`, digits with at
/// most one point, no exponent; decimals past the third are dropped (`1.2345678` is 1.234).
pub(super) fn real(s: &str) -> Option<f64> {
    let t = s.trim_matches([' ', '\t']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |d: &str| d.bytes().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || int.len() > 15 {
        return None;
    }
    let int: f64 = if int.is_empty() { 0.0 } else { int.parse().ok()? };
    let kept = &frac[..frac.len().min(3)];
    let frac = if kept.is_empty() { 0.0 } else { kept.parse::<f64>().ok()? / 10f64.powi(kept.len() as i32) };
    let r = int + frac;
    Some(if neg { -r } else { r })
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

/// `std.time`: an HTTP date (RFC 1123, RFC 850, asctime), an ISO 8601 `YYYY-MM-DDTHH:MM:SS`, or
/// seconds since the epoch.
pub(super) fn time(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Ok(st) = httpdate::parse_http_date(t) {
        return st.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs_f64());
    }
    iso8601(t).or_else(|| real(t))
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC), as varnishd's time parser takes it.
fn iso8601(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as f64)
}

/// `std.ip` without name resolution: an address, optionally bracketed, optionally with a port
/// (`127.0.0.1:8080`, `[::1]:8080`), which is dropped.
pub(super) fn ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Ok(sa) = t.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    t.strip_prefix('[').and_then(|x| x.strip_suffix(']')).and_then(|x| x.parse().ok())
}

/// `std.querysort`: the query parameters in byte order, empty ones dropped (a query of none
/// keeps its `?`, as varnishd's does).
pub(super) fn querysort(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else { return url.to_string() };
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if params.is_empty() {
        return format!("{path}?");
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
        // (As varnishd 7.1.1 gave them.)
        assert_eq!(querysort("/a?b=2&a=1&&c"), "/a?a=1&b=2&c");
        assert_eq!(querysort("/a?"), "/a?");
        assert_eq!(querysort("/a?&&"), "/a?");
        assert_eq!(querysort("/a?b&a&a"), "/a?a&a&b");
        assert_eq!(querysort("/a"), "/a");
        assert_eq!(bytes("1k"), Some(1024));
        assert_eq!(ip("[::1]"), Some("::1".parse().unwrap()));
    }
}
