//! gzip as Varnish does it with `http_gzip_support` on (checked on varnishd 7.1.1): a response
//! body is stored once, gzipped or not, and gunzipped on the way out for a client that does not
//! take gzip.
//!
//! On the fetch side, after `vcl_backend_response` ([`fetch_codec`], Varnish's
//! `vbf_figure_out_vfp`): `beresp.do_gunzip` unpacks a gzip body, `beresp.do_gzip` packs a plain
//! one, and a gzip body kept as it is gets tested (inflated and thrown away: invalid gzip fails
//! the fetch). Each tells the client side, through `Vary: Accept-Encoding`, that the answer
//! depends on it; each that changes the bytes weakens the `ETag`. On the delivery side
//! ([`deliver_gunzip`]) a gzip object for a client whose `Accept-Encoding` does not take gzip
//! loses `Content-Encoding`, and its body is inflated as it is sent.
//!
//! The codecs run over flate2 (the zlib-rs backend); one codec is one stream, fed chunk by
//! chunk, never holding more than its window and what one chunk gives.

use std::io::Write;

use bytes::Bytes;
use flate2::write::{GzDecoder, GzEncoder};
use flate2::Compression;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, VARY};
use http::{HeaderMap, HeaderValue};

/// A body codec.
pub enum Codec {
    /// `beresp.do_gzip`: plain in, gzip out.
    Gzip(GzEncoder<Vec<u8>>, u64),
    /// `beresp.do_gunzip`, or delivery to a client that does not take gzip: gzip in, plain out.
    Gunzip(GzDecoder<Vec<u8>>),
    /// A gzip body stored as it comes: passed through, and inflated only to prove it is gzip.
    Test(GzDecoder<Count>),
}

/// A writer that keeps only the number of bytes written.
#[derive(Debug, Default)]
pub struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a body is not the gzip it says it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GzipError {
    /// The deflate stream or the gzip header or trailer is broken.
    #[error("Invalid gzip data: {0}")]
    Invalid(String),
    /// Bytes after the end of the gzip stream.
    #[error("Junk after gzip data")]
    Junk,
    /// The body ended inside the gzip stream.
    #[error("Gzip data truncated")]
    Truncated,
}

// === impl Codec ===

impl Codec {
    /// Packs a plain body at `level` (`gzip_level`: 0 stores, 9 packs hardest).
    pub fn gzip(level: u32) -> Codec {
        Codec::Gzip(GzEncoder::new(Vec::new(), Compression::new(level.min(9))), 0)
    }

    /// The counter of its kind of operation (`n_gzip`, `n_gunzip`, `n_test_gunzip`).
    pub fn counter(&self) -> crate::stats::Main {
        use crate::stats::Main;
        match self {
            Codec::Gzip(..) => Main::NGzip,
            Codec::Gunzip(_) => Main::NGunzip,
            Codec::Test(_) => Main::NTestGunzip,
        }
    }

    /// Unpacks a gzip body.
    pub fn gunzip() -> Codec {
        Codec::Gunzip(GzDecoder::new(Vec::new()))
    }

    /// Passes a gzip body through, checking it.
    pub fn test() -> Codec {
        Codec::Test(GzDecoder::new(Count::default()))
    }

    /// Feeds a chunk in; what comes out of it so far (may be empty).
    pub fn push(&mut self, input: Bytes) -> Result<Bytes, GzipError> {
        match self {
            Codec::Gzip(enc, n) => {
                *n += input.len() as u64;
                enc.write_all(&input).map_err(|e| GzipError::Invalid(e.to_string()))?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Gunzip(dec) => {
                inflate(dec, &input)?;
                Ok(Bytes::from(std::mem::take(dec.get_mut())))
            }
            Codec::Test(dec) => {
                inflate(dec, &input)?;
                Ok(input)
            }
        }
    }

    /// Ends the stream: what remains to come out (a gzip trailer), or why the stream is not
    /// whole.
    pub fn finish(&mut self) -> Result<Bytes, GzipError> {
        match self {
            Codec::Gzip(enc, _) => {
                enc.try_finish().map_err(|e| GzipError::Invalid(e.to_string()))?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Gunzip(dec) => {
                dec.try_finish().map_err(|_| GzipError::Truncated)?;
                Ok(Bytes::from(std::mem::take(dec.get_mut())))
            }
            Codec::Test(dec) => {
                dec.try_finish().map_err(|_| GzipError::Truncated)?;
                Ok(Bytes::new())
            }
        }
    }

    /// The length of the plain body seen so far (bytes in when packing, bytes out when
    /// unpacking or testing): after [`Codec::finish`], what a client that does not take gzip
    /// gets.
    pub fn plain_len(&self) -> Option<u64> {
        match self {
            Codec::Gzip(_, n) => Some(*n),
            Codec::Gunzip(_) => None,
            Codec::Test(dec) => Some(dec.get_ref().0),
        }
    }
}

/// Feeds compressed bytes to a decoder; bytes after the end of the stream are junk.
fn inflate<W: Write>(dec: &mut GzDecoder<W>, mut input: &[u8]) -> Result<(), GzipError> {
    while !input.is_empty() {
        match dec.write(input) {
            Ok(0) => return Err(GzipError::Junk),
            Ok(n) => input = &input[n..],
            Err(e) => return Err(GzipError::Invalid(e.to_string())),
        }
    }
    Ok(())
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Codec::Gzip(..) => "Codec::Gzip",
            Codec::Gunzip(_) => "Codec::Gunzip",
            Codec::Test(_) => "Codec::Test",
        })
    }
}

/// What the fetch does with a response's encoding, after `vcl_backend_response` (Varnish's
/// `vbf_figure_out_vfp`), and the header changes that go with it. `empty`: the response has no
/// body. Returns the codec to run the body through, if any, and whether the stored body is gzip.
///
/// - No body: `Content-Encoding` goes, nothing else happens.
/// - `do_gunzip` on a `Content-Encoding: gzip` body: unpacked; `Content-Encoding` and
///   `Content-Length` go, the `ETag` is weakened.
/// - `do_gzip` on a body with no `Content-Encoding`: packed; `Content-Length` goes,
///   `Content-Encoding: gzip`, the `ETag` weakened, `Accept-Encoding` added to `Vary`.
/// - Else a gzip body is tested as it is stored, and `Accept-Encoding` added to `Vary`.
/// - Any other `Content-Encoding` is left alone. Without `http_gzip_support`, `do_gzip` and
///   `do_gunzip` do nothing.
pub fn fetch_codec(
    headers: &mut HeaderMap,
    empty: bool,
    support: bool,
    do_gzip: bool,
    do_gunzip: bool,
    level: u32,
) -> (Option<Codec>, bool) {
    if empty || headers.get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0") {
        headers.remove(CONTENT_ENCODING);
        return (None, false);
    }
    let encoding = headers.get(CONTENT_ENCODING);
    let is_gzip = encoding.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let is_plain = encoding.is_none();
    if support && do_gunzip && is_gzip {
        headers.remove(CONTENT_ENCODING);
        headers.remove(CONTENT_LENGTH);
        weaken_etag(headers);
        return (Some(Codec::gunzip()), false);
    }
    if support && do_gzip && is_plain {
        headers.remove(CONTENT_LENGTH);
        weaken_etag(headers);
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        vary_accept_encoding(headers);
        return (Some(Codec::gzip(level)), true);
    }
    if is_gzip {
        vary_accept_encoding(headers);
        return (Some(Codec::test()), true);
    }
    (None, false)
}

/// Whether a request's `Accept-Encoding` takes gzip (Varnish's `RFC2616_Req_Gzip`, the test
/// behind `req.can_gzip`): a `gzip` or `x-gzip` coding, in any case, without `q=0`.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_ENCODING).iter().any(|ae| {
        ae.as_bytes().split(|&b| b == b',').any(|part| {
            let mut it = part.split(|&b| b == b';');
            let coding = it.next().unwrap_or_default().trim_ascii();
            let q_zero = it.any(|p| {
                let p = p.trim_ascii();
                let q = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q="));
                q.and_then(|q| std::str::from_utf8(q).ok()).is_some_and(|q| q.trim().parse::<f64>() == Ok(0.0))
            });
            (coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip")) && !q_zero
        })
    })
}

/// Before `vcl_deliver`, for a gzip object that this client will get unpacked: the `ETag` is
/// weakened (the bytes differ from the stored ones).
pub fn before_deliver(headers: &mut HeaderMap) {
    weaken_etag(headers);
}

/// After `vcl_deliver`: the headers of a gzip object delivered unpacked. `Content-Encoding` goes;
/// `Content-Length` becomes the plain length when the whole body is known (`plain_len`), else
/// goes (the body is sent chunked).
pub fn deliver_gunzip(headers: &mut HeaderMap, plain_len: Option<u64>) {
    headers.remove(CONTENT_ENCODING);
    match plain_len {
        Some(n) => {
            headers.insert(CONTENT_LENGTH, crate::hdr::num(n));
        }
        None => {
            headers.remove(CONTENT_LENGTH);
        }
    }
}

/// `ETag: "x"` becomes `ETag: W/"x"` (Varnish's `RFC2616_Weaken_Etag`).
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else { return };
    if etag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = Vec::with_capacity(etag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(etag.as_bytes());
    if let Ok(v) = HeaderValue::from_bytes(&weak) {
        headers.remove(ETAG);
        headers.insert(ETAG, v);
    }
}

/// `Accept-Encoding` joins `Vary` unless it is there already (Varnish's `RFC2616_Vary_AE`).
fn vary_accept_encoding(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .any(|v| v.as_bytes().split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"accept-encoding")));
    if present {
        return;
    }
    let mut joined = Vec::new();
    for v in headers.get_all(VARY) {
        joined.extend_from_slice(v.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(b"Accept-Encoding");
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(VARY, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Runs a codec over `input` cut in chunks of `step` bytes.
    fn run(mut c: Codec, input: &[u8], step: usize) -> Result<(Vec<u8>, Option<u64>), GzipError> {
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            out.extend_from_slice(&c.push(Bytes::copy_from_slice(chunk))?);
        }
        out.extend_from_slice(&c.finish()?);
        Ok((out, c.plain_len()))
    }

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(*n, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn codecs_round_trip_in_any_chunking() {
        let plain: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for step in [1, 7, 4096, 1 << 20] {
            let (packed, n) = run(Codec::gzip(6), &plain, step).unwrap();
            assert_eq!(n, Some(plain.len() as u64));
            assert!(packed.len() < plain.len() && packed.starts_with(&[0x1f, 0x8b]));
            let (unpacked, _) = run(Codec::gunzip(), &packed, step).unwrap();
            assert_eq!(unpacked, plain, "step {step}");
            let (tested, n) = run(Codec::test(), &packed, step).unwrap();
            assert_eq!((tested, n), (packed.clone(), Some(plain.len() as u64)));
        }
    }

    #[test]
    fn gzip_level_decides_how_hard_a_body_is_packed() {
        let plain: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 97).to_le_bytes()).collect();
        let size = |level| run(Codec::gzip(level), &plain, 4096).unwrap().0.len();
        // Level 0 stores (larger than the body, with gzip's framing); 9 packs at least as well as 1.
        assert!(
            size(0) > plain.len() && size(1) < plain.len() / 4 && size(9) <= size(1),
            "{} {} {}",
            size(0),
            size(1),
            size(9)
        );
        let (unpacked, _) = run(Codec::gunzip(), &run(Codec::gzip(0), &plain, 4096).unwrap().0, 4096).unwrap();
        assert_eq!(unpacked, plain);
    }

    #[test]
    fn broken_gzip_is_an_error_never_a_panic() {
        let good = gz(b"hello world hello world");
        assert!(matches!(run(Codec::test(), b"\x1f\x8bnot really gzip", 4), Err(GzipError::Invalid(_))));
        assert_eq!(run(Codec::test(), &good[..good.len() - 3], 5), Err(GzipError::Truncated));
        assert_eq!(run(Codec::gunzip(), &good[..10], 5), Err(GzipError::Truncated));
        let mut junk = good.clone();
        junk.extend_from_slice(b"trailing");
        assert_eq!(run(Codec::test(), &junk, 64), Err(GzipError::Junk));
        assert!(run(Codec::gunzip(), b"plain text, not gzip", 3).is_err());
    }

    #[test]
    fn clients_that_take_gzip() {
        let rows = [
            ("gzip", true),
            ("GZIP", true),
            ("x-gzip", true),
            ("br, gzip", true),
            ("gzip;q=0.001", true),
            ("deflate, gzip;q=0", false),
            ("gzip ; q=0", false),
            ("gzip;q=0.0", false),
            ("gzipx", false),
            ("identity, *", false),
            ("", false),
        ];
        for (ae, want) in rows {
            assert_eq!(accepts_gzip(&h(&[("accept-encoding", ae)])), want, "{ae:?}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    /// One row per case observed on varnishd 7.1.1.
    #[test]
    fn fetch_rules_follow_varnish() {
        let etag = ("etag", "\"abc\"");
        // A gzip body kept: tested, Vary gains Accept-Encoding, nothing else changes.
        let mut m = h(&[("content-encoding", "gzip"), ("content-length", "43"), etag, ("vary", "Accept-Language")]);
        let (c, gz) = fetch_codec(&mut m, false, true, false, false, 6);
        assert!(matches!(c, Some(Codec::Test(_))) && gz);
        assert_eq!(m["vary"], "Accept-Language, Accept-Encoding");
        assert_eq!((m["etag"].as_bytes(), m["content-length"].as_bytes()), (&b"\"abc\""[..], &b"43"[..]));
        // do_gzip on a plain body.
        let mut m = h(&[("content-length", "1200"), etag]);
        let (c, gz) = fetch_codec(&mut m, false, true, true, false, 6);
        assert!(matches!(c, Some(Codec::Gzip(..))) && gz);
        assert_eq!((m["content-encoding"].as_bytes(), m["etag"].as_bytes()), (&b"gzip"[..], &b"W/\"abc\""[..]));
        assert_eq!(m["vary"], "Accept-Encoding");
        assert!(!m.contains_key("content-length"));
        // do_gunzip on a gzip body; with do_gzip too, gunzip wins (the body is not plain).
        let mut m = h(&[("content-encoding", "gzip"), ("content-length", "43"), etag]);
        let (c, gz) = fetch_codec(&mut m, false, true, true, true, 6);
        assert!(matches!(c, Some(Codec::Gunzip(_))) && !gz);
        assert_eq!(&m["etag"], &"W/\"abc\"");
        assert!(!m.contains_key("content-encoding") && !m.contains_key("content-length") && !m.contains_key("vary"));
        // do_gzip on gzip, do_gunzip on plain: nothing.
        let mut m = h(&[("content-length", "5"), etag]);
        assert!(matches!(fetch_codec(&mut m, false, true, false, true, 6), (None, false)));
        assert_eq!(m.len(), 2);
        // Another encoding is left alone.
        let mut m = h(&[("content-encoding", "br"), etag]);
        assert!(matches!(fetch_codec(&mut m, false, true, true, true, 6), (None, false)));
        assert_eq!(m.len(), 2);
        // No body: Content-Encoding goes.
        let mut m = h(&[("content-encoding", "gzip"), ("content-length", "0")]);
        assert!(matches!(fetch_codec(&mut m, false, true, false, false, 6), (None, false)));
        assert!(!m.contains_key("content-encoding"));
        // Without http_gzip_support a gzip body is still tested and marked.
        let mut m = h(&[("content-encoding", "gzip"), ("vary", "accept-encoding")]);
        assert!(matches!(fetch_codec(&mut m, false, false, false, true, 6), (Some(Codec::Test(_)), true)));
        assert_eq!(&m["vary"], &"accept-encoding");
    }

    #[test]
    fn delivery_unpacked() {
        let mut m = h(&[("content-encoding", "gzip"), ("content-length", "43"), ("etag", "\"abc\"")]);
        before_deliver(&mut m);
        assert_eq!(&m["etag"], &"W/\"abc\"");
        before_deliver(&mut m);
        assert_eq!(&m["etag"], &"W/\"abc\"");
        deliver_gunzip(&mut m, Some(1200));
        assert_eq!(&m["content-length"], &"1200");
        assert!(!m.contains_key("content-encoding"));
        deliver_gunzip(&mut m, None);
        assert!(!m.contains_key("content-length"));
    }
}
