//! Header tables of the data path (spec §4.1, §4.7): what a backend request drops in pass and
//! miss mode, what a delivered response drops, the headers a client's `Connection:` may not
//! name, and the headers Shellac adds.

use http::header::{HeaderName, CONNECTION};
use http::{HeaderMap, HeaderValue};

/// Dropped from a pass-mode backend request.
pub const BEREQ_PASS_DROP: &[&str] =
    &["accept-ranges", "connection", "http2-settings", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

/// Dropped from a miss-mode (cacheable) backend request.
pub const BEREQ_MISS_DROP: &[&str] = &[
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
];

/// Dropped from a backend response before delivery.
pub const BERESP_DROP: &[&str] =
    &["age", "connection", "http2-settings", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

/// Dropped from a backend response as it arrives (`Age` is kept for `beresp.age` and dropped at
/// delivery).
pub const BERESP_DROP_KEEP_AGE: &[&str] =
    &["connection", "http2-settings", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

/// Headers a pass would forward that a client's `Connection:` may not name (400).
const PROTECTED: &[&str] = &[
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
];

/// `Via` as Varnish 7.1 adds it.
pub const VIA: HeaderValue = HeaderValue::from_static("1.1 varnish (Varnish/7.1)");
/// `Server` of synthetic responses.
pub const SERVER: HeaderValue = HeaderValue::from_static("Varnish");
/// `X-Varnish`
pub const X_VARNISH: HeaderName = HeaderName::from_static("x-varnish");
/// `X-Forwarded-For`
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Removes the listed headers and any header named in `Connection:`.
pub fn filter(headers: &mut HeaderMap, drop: &[&'static str]) {
    // Allocates only when `Connection:` names a header that is present (`keep-alive` and
    // `close` name none): the tokens borrow the map, so those names are copied out first.
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter(|t| headers.contains_key(*t))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for n in named {
            headers.remove(n);
        }
    }
    // Most messages carry none of these: one pass over the (few) names present is cheaper than
    // a hash lookup per listed name. A found name is cloned out of the borrow (a standard name
    // costs nothing) and the scan starts again.
    while let Some(name) = headers.keys().find(|n| drop.contains(&n.as_str())).cloned() {
        headers.remove(name);
    }
}

/// The tokens listed in `Connection:`, trimmed and as sent (compare them ignoring case).
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> + '_ {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A protected header named in the client's `Connection:`, if any (lower case).
pub fn protected_in_connection(headers: &HeaderMap) -> Option<String> {
    connection_tokens(headers)
        .find(|t| PROTECTED.iter().any(|p| t.eq_ignore_ascii_case(p)))
        .map(str::to_ascii_lowercase)
}

/// A number as a header value.
pub fn num(n: u64) -> HeaderValue {
    // `Age: 0` on nearly every pass response: a static value, no allocation.
    if n == 0 {
        return HeaderValue::from_static("0");
    }
    // Digits written on the stack and copied once (`HeaderValue::from(u64)` allocates twice).
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    // Digits always make a valid value; the fallback is the slower conversion, never an error.
    HeaderValue::from_bytes(&buf[at..]).unwrap_or_else(|_| HeaderValue::from(n))
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
        filter(&mut h, BEREQ_PASS_DROP);
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
        filter(&mut h, BEREQ_PASS_DROP);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-b"], "kept");
        let mut none = HeaderMap::new();
        filter(&mut none, BERESP_DROP);
        assert!(none.is_empty());
    }

    #[test]
    fn numbers_as_values() {
        for n in [0, 7, 10, 1_234_567_890, u64::MAX] {
            assert_eq!(num(n), HeaderValue::from(n));
        }
    }
}
