//! Run-time VCL values and their text forms (spec §1.5 "Stringification").

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::backend::BackendHandle;

/// A value computed by a VCL expression. The front end typed every expression, so the runtime
/// only meets the variants its type allows.
#[derive(Clone, Debug)]
pub enum Value {
    /// An unset header or string (`NULL` in Varnish): concatenates as "", is false, and never
    /// compares equal.
    Null,
    /// Text.
    Str(String),
    /// INT
    Int(i64),
    /// REAL
    Real(f64),
    /// DURATION, in seconds.
    Duration(f64),
    /// TIME, in seconds since the epoch.
    Time(f64),
    /// BYTES
    Bytes(u64),
    /// BOOL
    Bool(bool),
    /// IP, with the port where one is known (`client.ip`), `None` for an unknown address.
    Ip(Option<SocketAddr>),
    /// BACKEND
    Backend(BackendHandle),
    /// BLOB
    Blob(Arc<[u8]>),
    /// STEVEDORE: a store.
    Stevedore(Arc<shellac_cache::Storage>),
}

// === impl Value ===

impl Value {
    /// The text form used by concatenation and `ToString`.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Str(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Real(r) | Value::Duration(r) => format!("{r:.3}"),
            Value::Time(t) => http_date(*t),
            Value::Bytes(b) => format!("{b}"),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Ip(Some(ip)) => ip.ip().to_string(),
            Value::Ip(None) => String::new(),
            Value::Backend(b) => b.name().to_string(),
            // (As varnishd 7.1 writes a BLOB: an RFC 8941 byte sequence, `:base64:`.)
            Value::Blob(b) => format!(":{}:", base64(b)),
            Value::Stevedore(s) => format!("storage.{}", s.name()),
        }
    }

    /// Text, or `None` for an unset value.
    pub fn as_opt_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a STRING value (unset reads as "").
    pub fn str(&self) -> &str {
        self.as_opt_str().unwrap_or("")
    }

    /// Truth in `if` (spec §1.5 "Truthiness").
    pub fn truth(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Str(_) => true,
            Value::Int(n) => *n != 0,
            Value::Real(r) => *r != 0.0,
            Value::Duration(d) => *d > 0.0,
            Value::Time(t) => *t != 0.0,
            Value::Bytes(b) => *b != 0,
            Value::Bool(b) => *b,
            Value::Ip(ip) => ip.is_some(),
            Value::Backend(b) => !b.is_none(),
            Value::Blob(b) => !b.is_empty(),
            Value::Stevedore(_) => true,
        }
    }

    /// A number for arithmetic and comparison.
    pub fn num(&self) -> f64 {
        match self {
            Value::Int(n) => *n as f64,
            Value::Real(r) | Value::Duration(r) | Value::Time(r) => *r,
            Value::Bytes(b) => *b as f64,
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }
    }

    /// An INT.
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            Value::Bytes(b) => i64::try_from(*b).unwrap_or(i64::MAX),
            other => other.num() as i64,
        }
    }
}

/// Seconds since the epoch, now (as of this poll of a client connection: [`crate::clock`]).
pub fn now() -> f64 {
    crate::clock::wall()
}

/// RFC 1123 date of a time in epoch seconds.
pub fn http_date(t: f64) -> String {
    let t = if t.is_finite() && t > 0.0 { t } else { 0.0 };
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs_f64(t))
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringification_matches_varnish() {
        assert_eq!(Value::Real(1.5).to_text(), "1.500");
        assert_eq!(Value::Duration(-5.0).to_text(), "-5.000");
        assert_eq!(Value::Int(-7).to_text(), "-7");
        assert_eq!(Value::Bool(true).to_text(), "true");
        assert_eq!(Value::Ip(Some("[::1]:80".parse().unwrap())).to_text(), "::1");
        assert_eq!(Value::Time(0.0).to_text(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(Value::Null.to_text(), "");
        assert!(!Value::Null.truth() && Value::Str(String::new()).truth());
        assert!(!Value::Duration(0.0).truth());
    }

    #[test]
    fn a_blob_reads_as_varnishd_writes_it() {
        // (varnishd 7.1.1: `set resp.http.x = std.blobread(F)` for a file "ab" gives `:YWI=:`.)
        assert_eq!(Value::Blob(Arc::from(&b"ab"[..])).to_text(), ":YWI=:");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
