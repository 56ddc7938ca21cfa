//! Run-time parameters (`-p name=value`, later `param.set`): one table of names, defaults and
//! meanings, and the typed values the data path reads. Values use varnishd's units: durations
//! in seconds (a unit suffix `ms s m h` is accepted), sizes in bytes (`k m g` suffixes).

use std::fmt;

/// What kind of value a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Seconds.
    Duration,
    /// A count.
    Uint,
    /// `on`/`off`.
    Bool,
    /// A byte size.
    Bytes,
    /// Free text (paths, lists).
    Text,
}

/// A parameter's row.
#[derive(Debug)]
pub struct ParamDef {
    /// Its name.
    pub name: &'static str,
    /// Its default, as varnishd prints it.
    pub default: &'static str,
    /// Its kind.
    pub kind: ParamKind,
    /// What it does.
    pub doc: &'static str,
    /// Whether Shellac acts on it (the others are accepted for compatibility).
    pub used: bool,
}

const fn p(name: &'static str, default: &'static str, kind: ParamKind, used: bool, doc: &'static str) -> ParamDef {
    ParamDef { name, default, kind, doc, used }
}

use ParamKind as K;

/// Every parameter Shellac accepts (spec §6.1), in alphabetical order.
pub const PARAMS: &[ParamDef] = &[
    p("backend_idle_timeout", "60", K::Duration, true, "Idle backend connections are closed after this long."),
    p(
        "backend_local_error_holddown",
        "10",
        K::Duration,
        true,
        "No new connects after a local connect error (EACCES, EADDRNOTAVAIL) for this long.",
    ),
    p(
        "backend_remote_error_holddown",
        "0.25",
        K::Duration,
        true,
        "No new connects after a refused or unreachable connect for this long.",
    ),
    p("ban_dups", "on", K::Bool, false, "Eliminate older identical bans."),
    p("ban_lurker_age", "60", K::Duration, false, "Age of bans the lurker works on."),
    p("ban_lurker_batch", "1000", K::Uint, false, "Bans the lurker tests per batch."),
    p("ban_lurker_sleep", "0.01", K::Duration, false, "Lurker pause between batches."),
    p("between_bytes_timeout", "60", K::Duration, true, "Longest wait between two reads of a backend response."),
    p("cli_limit", "48k", K::Bytes, false, "Largest management response."),
    p("cli_timeout", "60", K::Duration, false, "Management command timeout."),
    p("clock_skew", "10", K::Duration, false, "Tolerated clock difference with backends."),
    p("connect_timeout", "3.5", K::Duration, true, "Longest wait for a backend connection to open."),
    p("default_grace", "10", K::Duration, false, "Default grace of cached objects."),
    p("default_keep", "0", K::Duration, false, "Default keep of cached objects."),
    p("default_ttl", "120", K::Duration, false, "Default time to live of cached objects."),
    p("first_byte_timeout", "60", K::Duration, true, "Longest wait for the first byte of a backend response."),
    p("http_gzip_support", "on", K::Bool, true, "Normalise Accept-Encoding to gzip or nothing."),
    p("http_max_hdr", "64", K::Uint, true, "Most header lines in a client request (more: 431)."),
    p("http_range_support", "on", K::Bool, false, "Serve Range requests from cached objects."),
    p("http_req_hdr_len", "8k", K::Bytes, true, "Longest client request header line (longer: 431)."),
    p("http_req_size", "32k", K::Bytes, true, "Largest client request head (larger: 431)."),
    p("max_restarts", "4", K::Uint, true, "Most restarts of one request."),
    p("max_retries", "4", K::Uint, true, "Most retries of one backend fetch."),
    p("pipe_timeout", "60", K::Duration, true, "Idle timeout of piped connections."),
    p("prefer_ipv6", "off", K::Bool, true, "Connect to a backend's IPv6 address first."),
    p("req_body_max", "0", K::Bytes, true, "Largest client request body (larger: 413); 0 for no limit. Shellac's own."),
    p("rush_exponent", "3", K::Uint, false, "Waiting-list rush factor."),
    p(
        "send_timeout",
        "600",
        K::Duration,
        true,
        "A client that takes no byte of a response for this long is disconnected.",
    ),
    p("shortlived", "10", K::Duration, false, "Objects with a shorter ttl go to transient storage."),
    p("shutdown_timeout", "10", K::Duration, true, "On SIGTERM, how long in-flight requests may take. Shellac's own."),
    p(
        "timeout_idle",
        "5",
        K::Duration,
        true,
        "Idle keep-alive timeout, and the longest wait for a complete request head.",
    ),
    p("vcc_err_unref", "on", K::Bool, true, "Unused VCL objects are errors."),
    p("vcl_cooldown", "600", K::Duration, true, "An unused VCL goes cold (its probes stop) after this long."),
    p("vcl_path", "/etc/varnish:/usr/share/varnish/vcl", K::Text, true, "Where VCL files and includes are searched."),
];

/// The typed parameter values.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `backend_idle_timeout`
    pub backend_idle_timeout: f64,
    /// `backend_local_error_holddown`
    pub backend_local_error_holddown: f64,
    /// `backend_remote_error_holddown`
    pub backend_remote_error_holddown: f64,
    /// `between_bytes_timeout`
    pub between_bytes_timeout: f64,
    /// `connect_timeout`
    pub connect_timeout: f64,
    /// `first_byte_timeout`
    pub first_byte_timeout: f64,
    /// `http_gzip_support`
    pub http_gzip_support: bool,
    /// `http_max_hdr`
    pub http_max_hdr: u64,
    /// `http_req_hdr_len`
    pub http_req_hdr_len: u64,
    /// `http_req_size`
    pub http_req_size: u64,
    /// `max_restarts`
    pub max_restarts: u64,
    /// `max_retries`
    pub max_retries: u64,
    /// `pipe_timeout`
    pub pipe_timeout: f64,
    /// `prefer_ipv6`
    pub prefer_ipv6: bool,
    /// `req_body_max` (0 = no limit)
    pub req_body_max: u64,
    /// `send_timeout`
    pub send_timeout: f64,
    /// `shutdown_timeout`
    pub shutdown_timeout: f64,
    /// `timeout_idle`
    pub timeout_idle: f64,
    /// `vcc_err_unref`
    pub vcc_err_unref: bool,
    /// `vcl_cooldown`
    pub vcl_cooldown: f64,
    /// `vcl_path`, split at `:`.
    pub vcl_path: Vec<String>,
    /// Values of parameters Shellac accepts but does not act on, as given.
    pub others: Vec<(&'static str, String)>,
}

/// Why a parameter could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// No such parameter.
    #[error("unknown parameter \"{0}\"")]
    Unknown(String),
    /// The value does not parse.
    #[error("invalid value {value:?} for parameter \"{name}\": expected {expected}")]
    Invalid {
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

// === impl Params ===

impl Default for Params {
    fn default() -> Self {
        let mut params = Params {
            backend_idle_timeout: 0.0,
            backend_local_error_holddown: 0.0,
            backend_remote_error_holddown: 0.0,
            between_bytes_timeout: 0.0,
            connect_timeout: 0.0,
            first_byte_timeout: 0.0,
            http_gzip_support: false,
            http_max_hdr: 0,
            http_req_hdr_len: 0,
            http_req_size: 0,
            max_restarts: 0,
            max_retries: 0,
            pipe_timeout: 0.0,
            prefer_ipv6: false,
            req_body_max: 0,
            send_timeout: 0.0,
            shutdown_timeout: 0.0,
            timeout_idle: 0.0,
            vcc_err_unref: false,
            vcl_cooldown: 0.0,
            vcl_path: Vec::new(),
            others: Vec::new(),
        };
        for def in PARAMS {
            // The table's defaults are valid by construction (tested below).
            let _ = params.set(def.name, def.default);
        }
        params
    }
}

impl Params {
    /// Sets a parameter from its text form.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let def = PARAMS.iter().find(|d| d.name == name).ok_or_else(|| ParamError::Unknown(name.to_string()))?;
        let invalid = |expected| ParamError::Invalid { name: name.to_string(), value: value.to_string(), expected };
        let value = value.trim();
        match def.kind {
            ParamKind::Duration => {
                let secs = parse_duration(value).ok_or_else(|| invalid("a duration in seconds, e.g. 3.5 or 500ms"))?;
                let slot = match name {
                    "backend_idle_timeout" => &mut self.backend_idle_timeout,
                    "backend_local_error_holddown" => &mut self.backend_local_error_holddown,
                    "backend_remote_error_holddown" => &mut self.backend_remote_error_holddown,
                    "between_bytes_timeout" => &mut self.between_bytes_timeout,
                    "connect_timeout" => &mut self.connect_timeout,
                    "first_byte_timeout" => &mut self.first_byte_timeout,
                    "pipe_timeout" => &mut self.pipe_timeout,
                    "send_timeout" => &mut self.send_timeout,
                    "shutdown_timeout" => &mut self.shutdown_timeout,
                    "timeout_idle" => &mut self.timeout_idle,
                    "vcl_cooldown" => &mut self.vcl_cooldown,
                    _ => {
                        self.keep(def, value);
                        return Ok(());
                    }
                };
                *slot = secs;
            }
            ParamKind::Uint | ParamKind::Bytes => {
                let n = if def.kind == ParamKind::Uint { value.parse().ok() } else { parse_bytes(value) };
                let n = n.ok_or_else(|| {
                    invalid(if def.kind == ParamKind::Uint { "a whole number" } else { "a size, e.g. 32k" })
                })?;
                let slot = match name {
                    "http_max_hdr" => &mut self.http_max_hdr,
                    "http_req_hdr_len" => &mut self.http_req_hdr_len,
                    "http_req_size" => &mut self.http_req_size,
                    "max_restarts" => &mut self.max_restarts,
                    "max_retries" => &mut self.max_retries,
                    "req_body_max" => &mut self.req_body_max,
                    _ => {
                        self.keep(def, value);
                        return Ok(());
                    }
                };
                *slot = n;
            }
            ParamKind::Bool => {
                let b = match value {
                    "on" | "true" | "yes" | "enable" => true,
                    "off" | "false" | "no" | "disable" => false,
                    _ => return Err(invalid("on or off")),
                };
                match name {
                    "http_gzip_support" => self.http_gzip_support = b,
                    "prefer_ipv6" => self.prefer_ipv6 = b,
                    "vcc_err_unref" => self.vcc_err_unref = b,
                    _ => self.keep(def, value),
                }
            }
            ParamKind::Text => match name {
                "vcl_path" => self.vcl_path = value.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                _ => self.keep(def, value),
            },
        }
        Ok(())
    }

    fn keep(&mut self, def: &ParamDef, value: &str) {
        self.others.retain(|(n, _)| *n != def.name);
        self.others.push((def.name, value.to_string()));
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamKind::Duration => "seconds",
            ParamKind::Uint => "count",
            ParamKind::Bool => "bool",
            ParamKind::Bytes => "bytes",
            ParamKind::Text => "text",
        })
    }
}

/// Parses `3.5`, `3.5s`, `500ms`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n * mult)
}

/// Parses `8192`, `8k`, `32K`, `1m`, `1g`, `1t`, `1p`, with an optional trailing `b`.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        'p' => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num.trim_end().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses() {
        let mut p = Params::default();
        for def in PARAMS {
            p.set(def.name, def.default).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        }
        assert_eq!(p.connect_timeout, 3.5);
        assert_eq!(p.http_req_size, 32 * 1024);
        assert_eq!(p.max_retries, 4);
        assert!(p.vcc_err_unref);
        assert_eq!(p.vcl_path, ["/etc/varnish", "/usr/share/varnish/vcl"]);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let mut p = Params::default();
        assert_eq!(p.set("nope", "1"), Err(ParamError::Unknown("nope".into())));
        let e = p.set("connect_timeout", "soon").unwrap_err().to_string();
        assert!(e.contains("connect_timeout") && e.contains("soon"), "{e}");
        p.set("first_byte_timeout", "250ms").unwrap();
        assert!((p.first_byte_timeout - 0.25).abs() < 1e-9);
        assert_eq!(parse_bytes("1.5k"), Some(1536));
    }
}
