//! VCL's types and the literal values the checker folds at compile time.

use std::fmt;

/// A VCL type (spec §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// Text.
    String,
    /// A header of req/bereq/beresp/resp/obj: reads as STRING, may be unset.
    Header,
    /// 64-bit signed integer.
    Int,
    /// Floating point.
    Real,
    /// Seconds, as a real.
    Duration,
    /// A point in time.
    Time,
    /// Byte count.
    Bytes,
    /// `true`/`false`.
    Bool,
    /// An address.
    Ip,
    /// A backend or director.
    Backend,
    /// A message body (`resp.body`, `beresp.body`, `bereq.body`).
    Body,
    /// Binary data (`req.hash`).
    Blob,
    /// A regular expression literal.
    Regex,
    /// An ACL name.
    Acl,
    /// A probe name.
    Probe,
    /// A storage (`storage.NAME`, `beresp.storage`).
    Stevedore,
    /// A whole message's head (`req`, `bereq`, `resp`, `beresp`), as `std.rollback()` takes it.
    Http,
    /// No value (functions called for their effect).
    Void,
}

// === impl Type ===

impl Type {
    /// Varnish's name of the type, as shown in messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "STRING",
            Type::Header => "HEADER",
            Type::Int => "INT",
            Type::Real => "REAL",
            Type::Duration => "DURATION",
            Type::Time => "TIME",
            Type::Bytes => "BYTES",
            Type::Bool => "BOOL",
            Type::Ip => "IP",
            Type::Backend => "BACKEND",
            Type::Body => "BODY",
            Type::Blob => "BLOB",
            Type::Regex => "REGEX",
            Type::Acl => "ACL",
            Type::Probe => "PROBE",
            Type::Stevedore => "STEVEDORE",
            Type::Http => "HTTP",
            Type::Void => "VOID",
        }
    }

    /// Whether values of this type turn into text where a STRING is wanted (spec §1.5).
    pub fn is_stringifiable(self) -> bool {
        matches!(
            self,
            Type::String
                | Type::Header
                | Type::Int
                | Type::Real
                | Type::Duration
                | Type::Time
                | Type::Bytes
                | Type::Bool
                | Type::Ip
                | Type::Backend
                | Type::Stevedore
                | Type::Blob
        )
    }

    /// Whether the type reads as text without conversion.
    pub fn is_string_like(self) -> bool {
        matches!(self, Type::String | Type::Header)
    }

    /// Whether values of this type have a truth value in `if` (spec §1.5 "Truthiness").
    pub fn is_boolable(self) -> bool {
        matches!(self, Type::Bool | Type::String | Type::Header | Type::Int | Type::Duration | Type::Backend)
    }

    /// Whether `<`, `>`, `<=`, `>=` and arithmetic apply.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Real | Type::Duration | Type::Time | Type::Bytes)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a duration unit into seconds per unit.
pub fn duration_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 7.0 * 86_400.0,
        "y" => 365.0 * 86_400.0,
        _ => return None,
    })
}

/// Parses a bytes unit into bytes per unit (binary multiples).
pub fn bytes_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}
