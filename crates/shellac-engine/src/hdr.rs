//! Header tables of the data path (spec §4.1, §4.7): what a backend request drops in pass and
//! miss mode, what a delivered response drops, the headers a client's `Connection:` may not
//! name, and the headers Shellac adds.

use http::header::{HeaderName, CONNECTION};
use http::{HeaderMap, HeaderValue};

/// Dropped from a pass-mode backend request.
pub const BEREQ_PASS_DROP: NameSet = NameSet::new(&[
    "accept-ranges",
    "connection",
    "http2-settings",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
]);

/// Dropped from a miss-mode (cacheable) backend request.
pub const BEREQ_MISS_DROP: NameSet = NameSet::new(&[
    "accept-ranges",
    "cache-control",
    "connection",
    "content-range",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
]);

/// Dropped from a backend response before delivery.
pub const BERESP_DROP: NameSet = NameSet::new(&[
    "age",
    "connection",
    "http2-settings",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
]);

/// Dropped from a backend response as it arrives (`Age` is kept for `beresp.age` and dropped at
/// delivery).
pub const BERESP_DROP_KEEP_AGE: NameSet =
    NameSet::new(&["connection", "http2-settings", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]);

/// A list of header names (lower case), with a mask of their lengths: most names a message
/// carries differ in length from every listed one and are passed over by one bit test.
pub struct NameSet {
    names: &'static [&'static str],
    lengths: u64,
}

impl NameSet {
    /// A list of names shorter than 64 bytes (checked when the constant is built).
    const fn new(names: &'static [&'static str]) -> NameSet {
        let mut lengths = 0u64;
        let mut i = 0;
        while i < names.len() {
            assert!(names[i].len() < 64, "a listed header name is 64 bytes or longer");
            lengths |= 1 << names[i].len();
            i += 1;
        }
        NameSet { names, lengths }
    }

    fn may_hold(&self, len: usize) -> bool {
        len < 64 && self.lengths & (1 << len) != 0
    }

    /// Whether `name` (a header map's, lower case) is listed.
    fn contains(&self, name: &str) -> bool {
        self.may_hold(name.len()) && self.names.contains(&name)
    }

    /// Whether `token` (a `Connection:` token, any case) is listed.
    fn contains_token(&self, token: &str) -> bool {
        self.may_hold(token.len()) && self.names.iter().any(|n| n.eq_ignore_ascii_case(token))
    }
}

/// Headers a pass would forward that a client's `Connection:` may not name (400).
const PROTECTED: NameSet = NameSet::new(&[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "authorization",
    "cache-control",
    "content-length",
    "content-type",
    "cookie",
    "expect",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "range",
    "referer",
    "user-agent",
    "x-forwarded-for",
]);

/// `Via` as Varnish 7.1 adds it.
pub const VIA: HeaderValue = HeaderValue::from_static("1.1 varnish (Varnish/7.1)");
/// `Server` of synthetic responses.
pub const SERVER: HeaderValue = HeaderValue::from_static("Varnish");
/// `X-Varnish`
pub const X_VARNISH: HeaderName = HeaderName::from_static("x-varnish");
/// `X-Forwarded-For`
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Removes the listed headers and any header named in `Connection:`.
pub fn filter(headers: &mut HeaderMap, drop: &NameSet) {
    // Names that `Connection:` adds to the list: the usual tokens (`keep-alive`, `upgrade`) are
    // on every list already and cost no lookup; `close` and the rare others are looked up, and
    // the names present are copied out of the borrow (allocating only then).
    let mut named = Vec::new();
    for t in connection_tokens(headers) {
        if drop.contains_token(t) {
            continue;
        }
        if let Ok(n) = HeaderName::from_bytes(t.as_bytes()) {
            if headers.contains_key(&n) {
                named.push(n);
            }
        }
    }
    for n in named {
        headers.remove(n);
    }
    // Most messages carry few of these: one pass over the (few) names present is cheaper than a
    // hash lookup per listed name. A found name is cloned out of the borrow (a standard name
    // costs nothing) and the scan starts again.
    while let Some(name) = headers.keys().find(|n| drop.contains(n.as_str())).cloned() {
        headers.remove(name);
    }
}

/// The tokens listed in `Connection:`, trimmed and as sent (compare them ignoring case).
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> + '_ {
    tokens(headers.get_all(CONNECTION).iter())
}

/// The comma-separated tokens of some header values, trimmed and as sent (a value that is not
/// text has none).
pub fn tokens<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> impl Iterator<Item = &'a str> {
    values.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty())
}

/// A protected header named in the client's `Connection:`, if any (lower case).
pub fn protected_in_connection(headers: &HeaderMap) -> Option<String> {
    connection_tokens(headers).find(|t| PROTECTED.contains_token(t)).map(str::to_ascii_lowercase)
}

/// A number as a header value.
pub fn num(n: u64) -> HeaderValue {
    // `Age: 0` on nearly every pass response: a static value, no allocation.
    if n == 0 {
        return HeaderValue::from_static("0");
    }
    // Digits written on the stack and copied once (`HeaderValue::from(u64)` allocates twice).
    let mut buf = [0u8; 20];
    let at = digits(&mut buf, 20, n);
    // Digits always make a valid value; the fallback is the slower conversion, never an error.
    HeaderValue::from_bytes(&buf[at..]).unwrap_or_else(|_| HeaderValue::from(n))
}

/// Two numbers with a space between (a hit's `X-Varnish: 32770 3`), written as [`num`] does.
pub fn num_pair(a: u64, b: u64) -> HeaderValue {
    let mut buf = [0u8; 41];
    let mut at = digits(&mut buf, 41, b) - 1;
    buf[at] = b' ';
    at = digits(&mut buf, at, a);
    HeaderValue::from_bytes(&buf[at..]).unwrap_or_else(|_| num(a))
}

/// Writes `n`'s decimal digits into `buf` so that they end at `end`; where they start.
fn digits(buf: &mut [u8], end: usize, n: u64) -> usize {
    let (mut at, mut rest) = (end, n);
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return at;
        }
    }
}

/// The length of a message head on the wire: the first line (`A B C\r\n`), each header
/// (`name: value\r\n`), and the blank line.
pub(crate) fn head_len(a: &str, b: &str, c: &str, headers: &http::HeaderMap) -> u64 {
    line_and_end_len(a, b, c) + headers.iter().map(|(n, v)| field_len(n.as_str(), v.as_bytes())).sum::<u64>()
}

/// The length of a head's first line (`A B C\r\n`) and of the blank line that ends it.
pub(crate) fn line_and_end_len(a: &str, b: &str, c: &str) -> u64 {
    (a.len() + b.len() + c.len() + 4 + 2) as u64
}

/// The length of a header line on the wire (`name: value\r\n`).
pub(crate) fn field_len(name: &str, value: &[u8]) -> u64 {
    (name.len() + value.len() + 4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive, X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("host", HeaderValue::from_static("a"));
        filter(&mut h, &BEREQ_PASS_DROP);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("host"));
        h.insert("connection", HeaderValue::from_static("close, Cookie"));
        assert_eq!(protected_in_connection(&h).as_deref(), Some("cookie"));
    }

    #[test]
    fn filter_takes_every_listed_name_and_only_present_connection_names() {
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("keep-alive"));
        h.append("Connection", HeaderValue::from_static(" , X-A ,x-absent"));
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        h.append("upgrade", HeaderValue::from_static("h2c"));
        h.append("te", HeaderValue::from_static("trailers"));
        h.append("keep-alive", HeaderValue::from_static("timeout=5"));
        h.append("x-b", HeaderValue::from_static("kept"));
        filter(&mut h, &BEREQ_PASS_DROP);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-b"], "kept");
        let mut none = HeaderMap::new();
        filter(&mut none, &BERESP_DROP);
        assert!(none.is_empty());
    }

    #[test]
    fn name_sets_match_whole_names_and_tokens_in_any_case() {
        assert!(BEREQ_MISS_DROP.contains("range") && BEREQ_MISS_DROP.contains("if-unmodified-since"));
        // Same length as a listed name, not listed.
        assert!(!BEREQ_MISS_DROP.contains("rangx") && !BERESP_DROP.contains("via"));
        assert!(!BEREQ_PASS_DROP.contains("host") && !BEREQ_PASS_DROP.contains(&"x".repeat(80)));
        assert!(BERESP_DROP.contains_token("Keep-Alive") && BERESP_DROP.contains_token("TE"));
        assert!(!BERESP_DROP_KEEP_AGE.contains_token("Age") && BERESP_DROP.contains_token("AGE"));
    }

    #[test]
    fn numbers_as_values() {
        for n in [0, 7, 10, 1_234_567_890, u64::MAX] {
            assert_eq!(num(n), HeaderValue::from(n));
        }
    }
}
