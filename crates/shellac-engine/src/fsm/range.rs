//! Range requests as varnishd 7.1 answers them (`http_range_support`, checked on varnishd
//! 7.1.1): one `bytes=` range of a 200 answer whose length is known gives 206 with
//! `Content-Range`; anything else in a `Range` header (several ranges, another unit, spaces, a
//! range past the end, `-0`) gives 416 with `Content-Range: bytes */LENGTH`. An `If-Range` that
//! does not hold (a weak or different ETag, another date) gives the whole answer.

use http::header::{ETAG, IF_RANGE, LAST_MODIFIED};
use http::HeaderMap;

/// What a `Range` header asks of a body of a known length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Range {
    /// The bytes from `start`, `len` of them.
    Part { start: u64, len: u64 },
    /// Nothing it can give: 416.
    Unsatisfiable,
}

/// The range `header` asks of `len` bytes.
pub(super) fn parse(header: &[u8], len: u64) -> Range {
    let parsed = (|| {
        let spec = std::str::from_utf8(header.strip_prefix(b"bytes=")?).ok()?;
        let (a, b) = spec.split_once('-')?;
        let num =
            |s: &str| (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten();
        if a.is_empty() {
            // The last `n` bytes.
            let n = num(b)?;
            return (n > 0).then(|| (len.saturating_sub(n), len.min(n)));
        }
        let start = num(a)?;
        let end = if b.is_empty() { len.checked_sub(1)? } else { num(b)?.min(len.checked_sub(1)?) };
        (start <= end && start < len).then(|| (start, end - start + 1))
    })();
    match parsed {
        Some((start, len)) if len > 0 => Range::Part { start, len },
        _ => Range::Unsatisfiable,
    }
}

/// Whether the request's `If-Range` (if any) holds for an answer with these headers: a strong
/// ETag equal to it, or a `Last-Modified` equal to its date.
pub(super) fn if_range_holds(req: &HeaderMap, resp: &HeaderMap) -> bool {
    let Some(cond) = req.get(IF_RANGE).map(|v| v.as_bytes()) else { return true };
    if cond.starts_with(b"W/") {
        return false;
    }
    if cond.starts_with(b"\"") {
        return resp.get(ETAG).is_some_and(|e| !e.as_bytes().starts_with(b"W/") && e.as_bytes() == cond);
    }
    let date = |b: &[u8]| std::str::from_utf8(b).ok().and_then(|s| httpdate::parse_http_date(s).ok());
    match (date(cond), resp.get(LAST_MODIFIED).and_then(|v| date(v.as_bytes()))) {
        (Some(c), Some(lm)) => c == lm,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row as varnishd 7.1.1 answered for a body of 240 bytes.
    #[test]
    fn ranges_are_read_as_varnishd_reads_them() {
        let part = |start, len| Range::Part { start, len };
        let rows: &[(&str, Range)] = &[
            ("bytes=0-9", part(0, 10)),
            ("bytes=10-", part(10, 230)),
            ("bytes=-5", part(235, 5)),
            ("bytes=235-300", part(235, 5)),
            ("bytes=240-", Range::Unsatisfiable),
            ("bytes=300-400", Range::Unsatisfiable),
            ("bytes=5-2", Range::Unsatisfiable),
            ("bytes=0-1,3-4", Range::Unsatisfiable),
            ("bytes=abc", Range::Unsatisfiable),
            ("items=0-1", Range::Unsatisfiable),
            ("bytes= 0-1", Range::Unsatisfiable),
            ("bytes=-0", Range::Unsatisfiable),
            ("bytes=-300", part(0, 240)),
            ("bytes=0-", part(0, 240)),
        ];
        for (header, want) in rows {
            assert_eq!(parse(header.as_bytes(), 240), *want, "{header}");
        }
        assert_eq!(parse(b"bytes=0-", 0), Range::Unsatisfiable);
    }

    #[test]
    fn if_range_needs_a_strong_equal_etag_or_the_same_date() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
            }
            m
        };
        let resp = h(&[("etag", "\"a\""), ("last-modified", "Wed, 22 Feb 2006 14:31:39 GMT")]);
        assert!(if_range_holds(&h(&[]), &resp));
        assert!(if_range_holds(&h(&[("if-range", "\"a\"")]), &resp));
        assert!(!if_range_holds(&h(&[("if-range", "\"b\"")]), &resp));
        assert!(!if_range_holds(&h(&[("if-range", "W/\"a\"")]), &resp));
        assert!(if_range_holds(&h(&[("if-range", "Wed, 22 Feb 2006 14:31:39 GMT")]), &resp));
        assert!(!if_range_holds(&h(&[("if-range", "Wed, 22 Feb 2006 14:31:40 GMT")]), &resp));
    }
}
