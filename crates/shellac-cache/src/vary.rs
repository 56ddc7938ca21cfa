//! Variants (spec §5.2): a response's `Vary` names request headers; the store records what the
//! request that fetched it had in them, and a later lookup matches that variant only when its
//! request has the same. `Vary: *` never matches. Several `Vary` headers are one list.

use http::header::VARY;
use http::{HeaderMap, HeaderName};

/// What a variant was fetched with: per header the `Vary` names, the request's value (all its
/// lines, joined), or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vary {
    /// `Vary: *`: matches no request.
    Star,
    /// Each name with the value the fetching request had.
    Headers(Vec<(HeaderName, Option<Vec<u8>>)>),
}

/// A `Vary` header that does not name headers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Vary: {0:?}")]
pub struct Malformed(pub String);

// === impl Vary ===

impl Vary {
    /// The variant a response with `resp` headers is, for the request `req`; `None` when the
    /// response does not vary.
    pub fn record(resp: &HeaderMap, req: &HeaderMap) -> Result<Option<Vary>, Malformed> {
        let mut names: Vec<HeaderName> = Vec::new();
        for value in resp.get_all(VARY) {
            let text = value.to_str().map_err(|_| Malformed(String::from_utf8_lossy(value.as_bytes()).into()))?;
            for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if token == "*" {
                    return Ok(Some(Vary::Star));
                }
                let name = HeaderName::from_bytes(token.as_bytes()).map_err(|_| Malformed(token.to_string()))?;
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            return Ok(None);
        }
        Ok(Some(Vary::Headers(names.into_iter().map(|n| (n.clone(), value_of(req, &n))).collect())))
    }

    /// Whether a request with `req` headers gets this variant. With `gzip_support`
    /// (`http_gzip_support`), `Accept-Encoding` is not compared, as in Varnish: every client is
    /// served from the one copy, unpacked for those that do not take gzip.
    pub fn matches(&self, req: &HeaderMap, gzip_support: bool) -> bool {
        match self {
            Vary::Star => false,
            Vary::Headers(h) => h.iter().all(|(name, value)| {
                (gzip_support && name == http::header::ACCEPT_ENCODING) || value_of(req, name) == *value
            }),
        }
    }
}

/// A request header's value, all its lines joined with `, `; `None` when absent.
fn value_of(req: &HeaderMap, name: &HeaderName) -> Option<Vec<u8>> {
    let mut all = req.get_all(name).iter();
    let first = all.next()?;
    let mut v = first.as_bytes().to_vec();
    for more in all {
        v.extend_from_slice(b", ");
        v.extend_from_slice(more.as_bytes());
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(*n, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn a_variant_matches_requests_with_the_same_values() {
        let resp = h(&[("vary", "Accept-Encoding, Accept-Language")]);
        let v = Vary::record(&resp, &h(&[("accept-encoding", "gzip")])).unwrap().unwrap();
        assert!(v.matches(&h(&[("accept-encoding", "gzip")]), false));
        assert!(!v.matches(&h(&[]), false), "absent differs from present");
        assert!(!v.matches(&h(&[("accept-encoding", "gzip"), ("accept-language", "fr")]), false));
        // Absent in both matches.
        let v = Vary::record(&resp, &h(&[])).unwrap().unwrap();
        assert!(v.matches(&h(&[("x-other", "1")]), false));
        // With gzip support, Accept-Encoding is not compared; the other names still are.
        let v = Vary::record(&resp, &h(&[("accept-encoding", "gzip"), ("accept-language", "fr")])).unwrap().unwrap();
        assert!(v.matches(&h(&[("accept-language", "fr")]), true));
        assert!(!v.matches(&h(&[("accept-language", "fr")]), false));
        assert!(!v.matches(&h(&[("accept-encoding", "gzip")]), true));
    }

    #[test]
    fn several_vary_headers_are_one_list_and_star_never_matches() {
        let resp = h(&[("vary", "accept-encoding"), ("vary", "cookie")]);
        let v = Vary::record(&resp, &h(&[("cookie", "a=1")])).unwrap().unwrap();
        assert!(!v.matches(&h(&[("cookie", "a=2")]), false));
        assert!(v.matches(&h(&[("cookie", "a=1")]), false));
        let star = Vary::record(&h(&[("vary", "Cookie, *")]), &h(&[])).unwrap().unwrap();
        assert_eq!(star, Vary::Star);
        assert!(!star.matches(&h(&[]), false));
        assert_eq!(Vary::record(&h(&[]), &h(&[])).unwrap(), None);
        assert!(Vary::record(&h(&[("vary", "bad header")]), &h(&[])).is_err());
    }
}
