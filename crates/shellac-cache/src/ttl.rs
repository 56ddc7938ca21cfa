//! How long a backend response may be cached (spec §5.1, Varnish's `RFC2616_Ttl`): the status
//! rules, `Cache-Control: s-maxage` over `max-age` over `Expires` (against `Date`, with
//! `clock_skew`) over `default_ttl`, the origin time from `Age`, and `stale-while-revalidate` as
//! grace. Pure: the caller gives the time.

use http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES};
use http::{HeaderMap, HeaderValue};

/// The parameters the rules read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TtlParams {
    /// `default_ttl`
    pub default_ttl: f64,
    /// `default_grace`
    pub default_grace: f64,
    /// `default_keep`
    pub default_keep: f64,
    /// `clock_skew`
    pub clock_skew: f64,
}

/// The lifetime of an object: from `t_origin` (its birth at the origin, `now − Age`), fresh for
/// `ttl`, then usable stale for `grace`, then kept for revalidation for `keep`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ttl {
    /// When the object was born at the origin (seconds since the epoch).
    pub t_origin: f64,
    /// Seconds of freshness from `t_origin`; negative: not cacheable.
    pub ttl: f64,
    /// Seconds after `ttl` in which a stale copy may be served.
    pub grace: f64,
    /// Seconds after `ttl + grace` in which the object is kept for a conditional fetch.
    pub keep: f64,
}

impl Default for TtlParams {
    fn default() -> Self {
        TtlParams { default_ttl: 120.0, default_grace: 10.0, default_keep: 0.0, clock_skew: 10.0 }
    }
}

/// When a response received at `now` was born at the origin: `now − Age` (a non-numeric
/// `Age` counts as 0).
pub fn origin_time(headers: &HeaderMap, now: f64) -> f64 {
    born(headers.get(AGE), now)
}

/// `now − Age` (a non-numeric one counts as 0).
fn born(age: Option<&HeaderValue>, now: f64) -> f64 {
    let age = age.and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    now - age as f64
}

/// The TTL of a response with `status` and `headers` received at `now`.
pub fn rfc_ttl(status: u16, headers: &HeaderMap, now: f64, p: &TtlParams) -> Ttl {
    let f = Fields::of(headers);
    let t_origin = born(f.age, now);
    let mut out = Ttl { t_origin, ttl: p.default_ttl, grace: p.default_grace, keep: p.default_keep };
    out.ttl = match status {
        // Redirects that are temporary: only an explicit lifetime makes them cacheable.
        302 | 307 => freshness(&f, now, p).unwrap_or(-1.0),
        200 | 203 | 204 | 300 | 301 | 304 | 404 | 410 | 414 => freshness(&f, now, p).unwrap_or(p.default_ttl),
        _ => -1.0,
    };
    if out.ttl >= 0.0 {
        if let Some(swr) = f.cc.stale_while_revalidate {
            out.grace = swr;
        }
    }
    out
}

/// What a response's headers say of its lifetime, as varnishd's `TTL RFC` record shows it:
/// its `Date` and `Expires` (seconds since the epoch, 0 without one) and the `s-maxage` or
/// `max-age` that counts (0 without one).
pub fn header_times(headers: &HeaderMap) -> (f64, f64, f64) {
    let f = Fields::of(headers);
    let time = |v: Option<&HeaderValue>| v.and_then(|v| v.to_str().ok()).and_then(parse_rfc1123).unwrap_or(0.0);
    (time(f.date), time(f.expires), f.cc.s_maxage.or(f.cc.max_age).unwrap_or(0.0))
}

/// The headers the rules read, found in one walk over the headers (a response has a handful:
/// cheaper than a hashed lookup of each): the first `Age`, `Date` and `Expires`, and the
/// directives of every `Cache-Control`.
struct Fields<'a> {
    age: Option<&'a HeaderValue>,
    date: Option<&'a HeaderValue>,
    expires: Option<&'a HeaderValue>,
    cc: Directives,
}

impl<'a> Fields<'a> {
    fn of(headers: &'a HeaderMap) -> Fields<'a> {
        let mut f = Fields { age: None, date: None, expires: None, cc: Directives::default() };
        for (name, value) in headers {
            if name == CACHE_CONTROL {
                f.cc.add(value);
            } else if name == AGE {
                f.age.get_or_insert(value);
            } else if name == DATE {
                f.date.get_or_insert(value);
            } else if name == EXPIRES {
                f.expires.get_or_insert(value);
            }
        }
        f
    }
}

/// The `Cache-Control` directives the lifetime depends on, across every `Cache-Control` header
/// (the first of each counts). A value is digits, then optional spaces, then the end, `,` or
/// `.`; anything else counts as 0.
#[derive(Default)]
struct Directives {
    s_maxage: Option<f64>,
    max_age: Option<f64>,
    stale_while_revalidate: Option<f64>,
}

impl Directives {
    /// Adds what one `Cache-Control` value says. (A value that is not text — bytes past
    /// ASCII — counts for nothing.)
    fn add(&mut self, value: &HeaderValue) {
        let text = value.as_bytes();
        // (The text test is the header value's own, `to_str`'s: visible ASCII and tabs.)
        if !text.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return;
        }
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            let part = rest[..end].trim_ascii_start();
            rest = rest.get(end + 1..).unwrap_or_default();
            let Some(eq) = part.iter().position(|&b| b == b'=') else { continue };
            let (name, v) = (&part[..eq], &part[eq + 1..]);
            let slot = match name.len() {
                7 if name.eq_ignore_ascii_case(b"max-age") => &mut self.max_age,
                8 if name.eq_ignore_ascii_case(b"s-maxage") => &mut self.s_maxage,
                22 if name.eq_ignore_ascii_case(b"stale-while-revalidate") => &mut self.stale_while_revalidate,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(seconds(v));
            }
        }
    }
}

/// The lifetime the headers give, if they give one: `s-maxage`, else `max-age`, else `Expires`.
fn freshness(f: &Fields<'_>, now: f64, p: &TtlParams) -> Option<f64> {
    if let Some(n) = f.cc.s_maxage.or(f.cc.max_age) {
        return Some(n);
    }
    let time = |v: Option<&HeaderValue>| v.and_then(|v| v.to_str().ok()).and_then(parse_rfc1123);
    // (The epoch itself counts as no Expires: varnishd 7.1.1 reads a date that fails to parse
    // as 0, and so skips both alike.)
    let expires = time(f.expires).filter(|&e| e != 0.0)?;
    Some(match time(f.date) {
        Some(d) if expires < d => 0.0,
        Some(d) if (d - now).abs() >= p.clock_skew => expires - d,
        _ => (expires - now).max(0.0),
    })
}

/// A directive's value in seconds: digits, then optional spaces, then the end or `.` (a
/// fraction is cut); anything else is 0.
fn seconds(v: &[u8]) -> f64 {
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = &v[digits..];
    let rest = &after[after.iter().take_while(|&&b| b == b' ').count()..];
    if digits == 0 || !(rest.is_empty() || rest[0] == b'.') {
        return 0.0;
    }
    // (Exact up to 2^53; a longer number of seconds is past any lifetime anyway.)
    v[..digits].iter().fold(0.0, |n, &b| n * 10.0 + f64::from(b - b'0'))
}

/// Parses an RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`) strictly: that exact layout, names
/// as written there, and a weekday that matches the date. Seconds since the epoch.
pub fn parse_rfc1123(s: &str) -> Option<f64> {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = s.as_bytes();
    if b.len() != 29 || &s[3..5] != ", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || &s[25..] != " GMT" {
        return None;
    }
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten()
    };
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| *m == &s[8..11])? as i64 + 1;
    let year = num(12..16)?;
    let (hour, min, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // 1970-01-01 was a Thursday.
    if DAYS[days.rem_euclid(7) as usize] != &s[..3] {
        return None;
    }
    Some((days * 86_400 + hour * 3600 + min * 60 + sec) as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: f64 = 1_800_000_000.0;

    fn headers(h: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in h {
            m.append(*n, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    fn date(offset: f64) -> String {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(NOW + offset))
    }

    /// A rule: what it says, the status, the headers, the ttl and grace expected.
    type Row = (&'static str, u16, Vec<(&'static str, String)>, f64, f64);

    /// One row per rule of spec §5.1.
    #[test]
    fn the_rules_of_spec_5_1() {
        let p = TtlParams::default();
        let rows: Vec<Row> = vec![
            ("200 without headers: default_ttl", 200, vec![], 120.0, 10.0),
            ("404 is cacheable", 404, vec![], 120.0, 10.0),
            ("every listed status", 414, vec![], 120.0, 10.0),
            ("201: not cacheable", 201, vec![], -1.0, 10.0),
            ("206: not cacheable", 206, vec![], -1.0, 10.0),
            ("500: not cacheable", 500, vec![], -1.0, 10.0),
            ("500 with max-age: still not", 500, vec![("cache-control", "max-age=60".into())], -1.0, 10.0),
            ("302 without lifetime: not cacheable", 302, vec![], -1.0, 10.0),
            ("307 with max-age: cacheable", 307, vec![("cache-control", "max-age=30".into())], 30.0, 10.0),
            ("max-age", 200, vec![("cache-control", "public, max-age=60".into())], 60.0, 10.0),
            (
                "s-maxage wins whatever the order",
                200,
                vec![("cache-control", "s-maxage=5, max-age=60".into())],
                5.0,
                10.0,
            ),
            (
                "s-maxage wins across headers",
                200,
                vec![("cache-control", "max-age=60".into()), ("cache-control", "s-maxage=7".into())],
                7.0,
                10.0,
            ),
            ("garbage max-age is 0", 200, vec![("cache-control", "max-age=a2".into())], 0.0, 10.0),
            ("2a is 0", 200, vec![("cache-control", "max-age=2a".into())], 0.0, 10.0),
            ("negative is 0", 200, vec![("cache-control", "max-age=-2".into())], 0.0, 10.0),
            ("a fraction is cut at the dot", 200, vec![("cache-control", "max-age=10.5".into())], 10.0, 10.0),
            ("spaces before a comma", 200, vec![("cache-control", "max-age=10 , public".into())], 10.0, 10.0),
            ("names in any case", 200, vec![("cache-control", "public,\tMAX-Age=12".into())], 12.0, 10.0),
            ("a space before = is another name", 200, vec![("cache-control", "max-age =12".into())], 120.0, 10.0),
            ("digits then a space then more", 200, vec![("cache-control", "max-age=12 3".into())], 0.0, 10.0),
            ("many digits", 200, vec![("cache-control", "max-age=31536000000".into())], 31_536_000_000.0, 10.0),
            ("Expires without Date", 200, vec![("expires", date(100.0))], 100.0, 10.0),
            ("Expires in the past", 200, vec![("expires", date(-100.0))], 0.0, 10.0),
            (
                "Expires against a Date within clock_skew",
                200,
                vec![("expires", date(100.0)), ("date", date(-5.0))],
                100.0,
                10.0,
            ),
            (
                "Expires against a Date beyond clock_skew",
                200,
                vec![("expires", date(100.0)), ("date", date(-50.0))],
                150.0,
                10.0,
            ),
            ("Expires before Date", 200, vec![("expires", date(-10.0)), ("date", date(0.0))], 0.0, 10.0),
            ("a bad Expires is ignored", 200, vec![("expires", "tomorrow".into())], 120.0, 10.0),
            (
                "an Expires at the epoch is ignored too (varnishd 7.1.1)",
                200,
                vec![("expires", "Thu, 01 Jan 1970 00:00:00 GMT".into())],
                120.0,
                10.0,
            ),
            (
                "max-age beats Expires",
                200,
                vec![("cache-control", "max-age=3".into()), ("expires", date(100.0))],
                3.0,
                10.0,
            ),
            (
                "stale-while-revalidate is the grace",
                200,
                vec![("cache-control", "max-age=60, stale-while-revalidate=30".into())],
                60.0,
                30.0,
            ),
            (
                "but not on an uncacheable answer",
                500,
                vec![("cache-control", "stale-while-revalidate=30".into())],
                -1.0,
                10.0,
            ),
        ];
        for (what, status, h, ttl, grace) in rows {
            let h: Vec<(&'static str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let got = rfc_ttl(status, &headers(&h), NOW, &p);
            assert_eq!((got.ttl, got.grace), (ttl, grace), "{what}");
            assert_eq!(got.keep, 0.0, "{what}");
        }
    }

    #[test]
    fn a_cache_control_that_is_not_text_counts_for_nothing() {
        let mut h = HeaderMap::new();
        h.append(CACHE_CONTROL, HeaderValue::from_bytes(b"max-age=5, x=\xff").unwrap());
        h.append(CACHE_CONTROL, HeaderValue::from_static("s-maxage=7"));
        assert_eq!(rfc_ttl(200, &h, NOW, &TtlParams::default()).ttl, 7.0);
        h.remove(CACHE_CONTROL);
        h.append(CACHE_CONTROL, HeaderValue::from_bytes(b"max-age=5, x=\xff").unwrap());
        assert_eq!(rfc_ttl(200, &h, NOW, &TtlParams::default()).ttl, 120.0);
    }

    #[test]
    fn age_moves_the_origin_and_defaults_come_from_the_parameters() {
        let p = TtlParams { default_ttl: 30.0, default_grace: 5.0, default_keep: 60.0, clock_skew: 10.0 };
        let got = rfc_ttl(200, &headers(&[("age", "20"), ("cache-control", "max-age=100")]), NOW, &p);
        assert_eq!(got, Ttl { t_origin: NOW - 20.0, ttl: 100.0, grace: 5.0, keep: 60.0 });
        let got = rfc_ttl(200, &headers(&[("age", "soon")]), NOW, &p);
        assert_eq!((got.t_origin, got.ttl), (NOW, 30.0));
    }

    #[test]
    fn dates_are_strict_rfc_1123() {
        assert_eq!(parse_rfc1123("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777.0));
        assert_eq!(parse_rfc1123("Mon, 06 Nov 1994 08:49:37 GMT"), None, "the weekday must match");
        assert_eq!(parse_rfc1123("sun, 06 Nov 1994 08:49:37 GMT"), None, "names are case-sensitive");
        assert_eq!(parse_rfc1123("Sunday, 06-Nov-94 08:49:37 GMT"), None, "RFC 850 is not RFC 1123");
        assert_eq!(parse_rfc1123("Sun Nov  6 08:49:37 1994"), None, "nor is asctime");
        assert_eq!(parse_rfc1123("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
    }
}
