//! Run-time parameters (`-p name=value`, later `param.set`): one table of names, defaults and
//! meanings, and the typed values the data path reads. Values use varnishd's units: durations
//! in seconds (a unit suffix `ms s m h` is accepted), sizes in bytes (`k m g` suffixes).

mod compat;

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
    /// A number with a fraction and no unit.
    Double,
    /// A set of named switches (`+NAME`, `-NAME`, `none`, `default`; see [`ParamDef::bits`]).
    Bits,
    /// Three counts: `min_pool,max_pool,max_age`.
    Pool,
}

/// A parameter's row.
#[derive(Debug)]
pub struct ParamDef {
    /// Its name.
    pub name: &'static str,
    /// Its default, as given to [`Params::set`].
    pub default: &'static str,
    /// Its kind.
    pub kind: ParamKind,
    /// Its unit as varnishd names it (`seconds`, `bytes`, `header lines`; empty for none).
    pub units: &'static str,
    /// The smallest value, in varnishd's text (`0.25k`, `32`, `0.000`).
    pub min: Option<&'static str>,
    /// The largest value.
    pub max: Option<&'static str>,
    /// varnishd's flags (`experimental`, `obj_sticky`, `delayed_effect`, `build_options`).
    pub flags: &'static [&'static str],
    /// What it does.
    pub doc: &'static str,
    /// Whether Shellac acts on it (the others are accepted for compatibility).
    pub used: bool,
    /// For [`ParamKind::Bits`], the switches' names in varnishd's order.
    pub bits: &'static [&'static str],
}

/// A parameter of `kind` in `units`, with its default and meaning; the range and flags are added
/// with the builder methods below.
const fn p(
    name: &'static str,
    default: &'static str,
    kind: ParamKind,
    units: &'static str,
    used: bool,
    doc: &'static str,
) -> ParamDef {
    ParamDef { name, default, kind, units, min: None, max: None, flags: &[], doc, used, bits: &[] }
}

const fn secs(name: &'static str, default: &'static str, used: bool, doc: &'static str) -> ParamDef {
    p(name, default, K::Duration, "seconds", used, doc).min("0.000")
}

impl ParamDef {
    const fn min(mut self, min: &'static str) -> ParamDef {
        self.min = Some(min);
        self
    }

    const fn max(mut self, max: &'static str) -> ParamDef {
        self.max = Some(max);
        self
    }

    const fn flags(mut self, flags: &'static [&'static str]) -> ParamDef {
        self.flags = flags;
        self
    }

    const fn bits(mut self, names: &'static [&'static str]) -> ParamDef {
        self.bits = names;
        self
    }

    /// `vsl_mask` lists what is off (`-Debug`); the other sets of switches what is on.
    fn bits_are_a_mask(&self) -> bool {
        self.name == "vsl_mask"
    }
}

/// Every parameter, in alphabetical order (`param.show` lists them so): those of [`PARAMS`] and
/// varnishd's others, accepted for compatibility.
pub fn all() -> Vec<&'static ParamDef> {
    let mut v: Vec<&ParamDef> = PARAMS.iter().chain(compat::COMPAT).collect();
    v.sort_by_key(|d| d.name);
    v
}

/// The parameter called `name`.
pub fn find(name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().chain(compat::COMPAT).find(|d| d.name == name)
}

use ParamKind as K;

/// The parameters of spec §6.1 and Shellac's own, in alphabetical order, with varnishd 7.1's
/// units, ranges and flags (the others varnishd has are in `params/compat.rs`; [`all`] lists
/// both).
pub const PARAMS: &[ParamDef] = &[
    secs("backend_idle_timeout", "60", true, "Idle backend connections are closed after this long.").min("1.000"),
    secs(
        "backend_local_error_holddown",
        "10",
        true,
        "No new connects after a local connect error (EACCES, EADDRNOTAVAIL) for this long.",
    )
    .flags(&["experimental"]),
    secs("backend_remote_error_holddown", "0.25", true, "No new connects after a refused or unreachable connect for this long.")
        .flags(&["experimental"]),
    p("ban_dups", "on", K::Bool, "bool", false, "Eliminate older identical bans."),
    secs("ban_lurker_age", "60", false, "Age of bans the lurker works on."),
    p("ban_lurker_batch", "1000", K::Uint, "", false, "Bans the lurker tests per batch.").min("1"),
    secs("ban_lurker_sleep", "0.01", false, "Lurker pause between batches."),
    secs("between_bytes_timeout", "60", true, "Longest wait between two reads of a backend response."),
    p("cli_limit", "48k", K::Bytes, "bytes", false, "Largest management response.").min("128b").max("99999999b"),
    secs("cli_timeout", "60", false, "Management command timeout."),
    p("clock_skew", "10", K::Uint, "seconds", true, "Tolerated difference between a backend's Date and ours (Expires).").min("0"),
    secs("connect_timeout", "3.5", true, "Longest wait for a backend connection to open."),
    secs("default_grace", "10", true, "Default grace of cached objects.").flags(&["obj_sticky"]),
    secs("default_keep", "0", true, "Default keep of cached objects.").flags(&["obj_sticky"]),
    secs("default_ttl", "120", true, "Default time to live of cached objects.").flags(&["obj_sticky"]),
    secs("first_byte_timeout", "60", true, "Longest wait for the first byte of a backend response, from the end of the request."),
    p("http_gzip_support", "on", K::Bool, "bool", true, "Normalise Accept-Encoding to gzip or nothing."),
    p("http_max_hdr", "64", K::Uint, "header lines", true, "Most header lines in a client request (more: 431).")
        .min("32")
        .max("65535"),
    p("http_range_support", "on", K::Bool, "bool", true, "Answer a single byte range of a 200 with 206 (416 when it cannot)."),
    p("http_req_hdr_len", "8k", K::Bytes, "bytes", true, "Longest client request header line (longer: 431).").min("40b"),
    p("http_req_size", "32k", K::Bytes, "bytes", true, "Largest client request head (larger: 431).").min("0.25k"),
    p("max_restarts", "4", K::Uint, "restarts", true, "Most restarts of one request.").min("0"),
    p("max_retries", "4", K::Uint, "retries", true, "Most retries of one backend fetch.").min("0"),
    secs("pipe_timeout", "60", true, "Idle timeout of piped connections."),
    p("prefer_ipv6", "off", K::Bool, "bool", true, "Connect to a backend's IPv6 address first."),
    p("req_body_max", "0", K::Bytes, "bytes", true, "Largest client request body (larger: 413); 0 for no limit. Shellac's own.")
        .min("0b"),
    p("rush_exponent", "3", K::Uint, "requests per request", false, "Waiting-list rush factor.")
        .min("2")
        .flags(&["experimental"]),
    secs("send_timeout", "600", true, "A client that takes no byte of a response for this long is disconnected.")
        .flags(&["delayed_effect"]),
    secs("shortlived", "10", false, "Objects whose ttl + grace + keep is shorter go to Transient storage."),
    secs("shutdown_timeout", "10", true, "On SIGTERM, how long in-flight requests may take. Shellac's own."),
    secs(
        "timeout_idle",
        "5",
        true,
        "Idle keep-alive timeout, the longest wait for a complete request head, and the longest a client may send none of its request body.",
    ),
    p("vcc_err_unref", "on", K::Bool, "bool", true, "Unused VCL objects are errors."),
    secs("vcl_cooldown", "600", true, "An unused VCL goes cold (its probes stop) after this long.").min("1.000"),
    p("vcl_path", "/etc/varnish:/usr/share/varnish/vcl", K::Text, "", true, "Where VCL files and includes are searched.")
        .flags(&["build_options"]),
];

/// The typed parameter values.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `ban_dups`: a new ban completes the older identical ones.
    pub ban_dups: bool,
    /// `ban_lurker_age`: the lurker works on bans at least this old.
    pub ban_lurker_age: f64,
    /// `ban_lurker_batch`: objects the lurker tests between pauses.
    pub ban_lurker_batch: u64,
    /// `ban_lurker_sleep`: the lurker's pause between batches.
    pub ban_lurker_sleep: f64,
    /// `backend_idle_timeout`
    pub backend_idle_timeout: f64,
    /// `backend_local_error_holddown`
    pub backend_local_error_holddown: f64,
    /// `backend_remote_error_holddown`
    pub backend_remote_error_holddown: f64,
    /// `between_bytes_timeout`
    pub between_bytes_timeout: f64,
    /// `clock_skew`
    pub clock_skew: u64,
    /// `connect_timeout`
    pub connect_timeout: f64,
    /// `default_grace`
    pub default_grace: f64,
    /// `shortlived`: objects whose ttl + grace + keep is shorter go to Transient.
    pub shortlived: f64,
    /// `default_keep`
    pub default_keep: f64,
    /// `default_ttl`
    pub default_ttl: f64,
    /// `first_byte_timeout`
    pub first_byte_timeout: f64,
    /// `http_gzip_support`
    pub http_gzip_support: bool,
    /// `http_range_support`
    pub http_range_support: bool,
    /// `http_max_hdr`
    pub http_max_hdr: u64,
    /// `http_req_hdr_len`
    pub http_req_hdr_len: u64,
    /// `http_req_size`
    pub http_req_size: u64,
    /// `http_resp_hdr_len`: the longest backend response header line.
    pub http_resp_hdr_len: u64,
    /// `http_resp_size`: the largest backend response head.
    pub http_resp_size: u64,
    /// `gzip_level`: how hard `beresp.do_gzip` packs.
    pub gzip_level: u64,
    /// `vsl_space`: the shared log's size (read at the start).
    pub vsl_space: u64,
    /// `max_restarts`
    pub max_restarts: u64,
    /// `rush_exponent`: how many waiters each served waiter lets go.
    pub rush_exponent: u64,
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
    #[error("Unknown parameter \"{0}\".")]
    Unknown(String),
    /// The value does not parse, or is out of range: varnishd's message, and what was tried.
    #[error("{reason}\n\n(attempting to set param '{name}' to '{value}')")]
    Invalid {
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// Why, as varnishd says it (`Must be at least 0.25k`).
        reason: String,
    },
}

// === impl Params ===

impl Default for Params {
    fn default() -> Self {
        let mut params = Params {
            ban_dups: false,
            ban_lurker_age: 0.0,
            ban_lurker_batch: 0,
            ban_lurker_sleep: 0.0,
            backend_idle_timeout: 0.0,
            backend_local_error_holddown: 0.0,
            backend_remote_error_holddown: 0.0,
            between_bytes_timeout: 0.0,
            clock_skew: 0,
            connect_timeout: 0.0,
            default_grace: 0.0,
            shortlived: 0.0,
            default_keep: 0.0,
            default_ttl: 0.0,
            first_byte_timeout: 0.0,
            http_gzip_support: false,
            http_range_support: false,
            http_max_hdr: 0,
            http_req_hdr_len: 0,
            http_req_size: 0,
            http_resp_hdr_len: 0,
            http_resp_size: 0,
            gzip_level: 0,
            vsl_space: 0,
            max_restarts: 0,
            rush_exponent: 0,
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
        for def in all() {
            // The table's defaults are valid by construction (tested below).
            let _ = params.set(def.name, def.default);
        }
        params
    }
}

impl Params {
    /// What the TTL rules read (spec §5.1).
    pub fn ttl_params(&self) -> shellac_cache::ttl::TtlParams {
        shellac_cache::ttl::TtlParams {
            default_ttl: self.default_ttl,
            default_grace: self.default_grace,
            default_keep: self.default_keep,
            clock_skew: self.clock_skew as f64,
        }
    }

    /// Sets a parameter from its text form, within its range.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let def = find(name).ok_or_else(|| ParamError::Unknown(name.to_string()))?;
        let invalid = |reason: String| ParamError::Invalid { name: name.to_string(), value: value.to_string(), reason };
        let value = value.trim();
        match def.kind {
            ParamKind::Duration => {
                // (A negative one is read, to be refused by the range with its message.)
                let negative =
                    || value.strip_prefix('-').and_then(parse_duration).filter(|_| def.min.is_some()).map(|s| -s);
                let secs = parse_duration(value)
                    .or_else(negative)
                    .ok_or_else(|| invalid(format!("Invalid number ({value})")))?;
                if let Some(min) = def.min.and_then(parse_duration) {
                    if secs < min {
                        return Err(invalid(format!("Must be greater or equal to {min:.3}")));
                    }
                }
                if let Some(max) = def.max.and_then(parse_duration) {
                    if secs > max {
                        return Err(invalid(format!("Must be less than or equal to {max:.3}")));
                    }
                }
                let slot = match name {
                    "ban_lurker_age" => &mut self.ban_lurker_age,
                    "ban_lurker_sleep" => &mut self.ban_lurker_sleep,
                    "backend_idle_timeout" => &mut self.backend_idle_timeout,
                    "backend_local_error_holddown" => &mut self.backend_local_error_holddown,
                    "backend_remote_error_holddown" => &mut self.backend_remote_error_holddown,
                    "between_bytes_timeout" => &mut self.between_bytes_timeout,
                    "connect_timeout" => &mut self.connect_timeout,
                    "default_grace" => &mut self.default_grace,
                    "default_keep" => &mut self.default_keep,
                    "default_ttl" => &mut self.default_ttl,
                    "first_byte_timeout" => &mut self.first_byte_timeout,
                    "pipe_timeout" => &mut self.pipe_timeout,
                    "send_timeout" => &mut self.send_timeout,
                    "shutdown_timeout" => &mut self.shutdown_timeout,
                    "shortlived" => &mut self.shortlived,
                    "timeout_idle" => &mut self.timeout_idle,
                    "vcl_cooldown" => &mut self.vcl_cooldown,
                    _ => {
                        self.keep(def, &format!("{secs:.3}"));
                        return Ok(());
                    }
                };
                *slot = secs;
            }
            ParamKind::Uint | ParamKind::Bytes => {
                let n = if def.kind == ParamKind::Uint {
                    value.parse::<u64>().map_err(|_| invalid(format!("Not a number ({value})")))?
                } else {
                    parse_bytes_checked(value).map_err(|why| {
                        invalid(format!("Could not convert to bytes.\n{why}\n  Try something like '80k' or '120M'"))
                    })?
                };
                let bound = |b: &str| if def.kind == ParamKind::Uint { b.parse().ok() } else { parse_bytes(b) };
                if let Some((min, text)) = def.min.and_then(|m| bound(m).map(|n| (n, m))) {
                    if n < min {
                        return Err(invalid(format!("Must be at least {text}")));
                    }
                }
                if let Some((max, text)) = def.max.and_then(|m| bound(m).map(|n| (n, m))) {
                    if n > max {
                        let nl = if def.kind == ParamKind::Bytes { "\n" } else { "" };
                        return Err(invalid(format!("Must be no more than {text}{nl}")));
                    }
                }
                let slot = match name {
                    "ban_lurker_batch" => &mut self.ban_lurker_batch,
                    "clock_skew" => &mut self.clock_skew,
                    "http_max_hdr" => &mut self.http_max_hdr,
                    "http_req_hdr_len" => &mut self.http_req_hdr_len,
                    "http_req_size" => &mut self.http_req_size,
                    "http_resp_hdr_len" => &mut self.http_resp_hdr_len,
                    "http_resp_size" => &mut self.http_resp_size,
                    "gzip_level" => &mut self.gzip_level,
                    "vsl_space" => &mut self.vsl_space,
                    "max_restarts" => &mut self.max_restarts,
                    "rush_exponent" => &mut self.rush_exponent,
                    "max_retries" => &mut self.max_retries,
                    "req_body_max" => &mut self.req_body_max,
                    _ => {
                        self.keep(def, &n.to_string());
                        return Ok(());
                    }
                };
                *slot = n;
            }
            ParamKind::Bool => {
                let b = match value {
                    "on" | "true" | "yes" | "enable" => true,
                    "off" | "false" | "no" | "disable" => false,
                    _ => return Err(invalid("use \"on\" or \"off\"".to_string())),
                };
                match name {
                    "ban_dups" => self.ban_dups = b,
                    "http_gzip_support" => self.http_gzip_support = b,
                    "http_range_support" => self.http_range_support = b,
                    "prefer_ipv6" => self.prefer_ipv6 = b,
                    "vcc_err_unref" => self.vcc_err_unref = b,
                    _ => self.keep(def, if b { "on" } else { "off" }),
                }
            }
            ParamKind::Text => match name {
                "vcl_path" => self.vcl_path = value.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                "h2_rxbuf_storage" if value != "Transient" && !value.starts_with('s') => {
                    return Err(invalid(format!("unknown storage backend '{value}'")));
                }
                _ => self.keep(def, value),
            },
            ParamKind::Double => {
                let x: f64 = value
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| invalid(format!("Invalid number ({value})")))?;
                if def.min.and_then(|m| m.parse::<f64>().ok()).is_some_and(|m| x < m) {
                    return Err(invalid(format!("Must be greater or equal to {}", def.min.unwrap_or_default())));
                }
                if def.max.and_then(|m| m.parse::<f64>().ok()).is_some_and(|m| x > m) {
                    return Err(invalid(format!("Must be less than or equal to {}", def.max.unwrap_or_default())));
                }
                self.keep(def, value);
            }
            ParamKind::Bits => {
                let now = self.value(name).unwrap_or_default();
                let set = bits_apply(def, &now, value).map_err(invalid)?;
                self.keep(def, &set);
            }
            ParamKind::Pool => {
                pool_check(value).map_err(invalid)?;
                self.keep(def, value);
            }
        }
        Ok(())
    }

    /// The value in force, as `param.show` prints it (`3.500`, `32k`, `1.50k`, `on`), or `None`
    /// for an unknown name. Every row of [`PARAMS`] has one (a test sets and reads each).
    pub fn value(&self, name: &str) -> Option<String> {
        let def = find(name)?;
        let secs = |v: f64| format!("{v:.3}");
        let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
        Some(match name {
            "ban_dups" => onoff(self.ban_dups),
            "ban_lurker_age" => secs(self.ban_lurker_age),
            "ban_lurker_batch" => self.ban_lurker_batch.to_string(),
            "ban_lurker_sleep" => secs(self.ban_lurker_sleep),
            "backend_idle_timeout" => secs(self.backend_idle_timeout),
            "backend_local_error_holddown" => secs(self.backend_local_error_holddown),
            "backend_remote_error_holddown" => secs(self.backend_remote_error_holddown),
            "between_bytes_timeout" => secs(self.between_bytes_timeout),
            "connect_timeout" => secs(self.connect_timeout),
            "default_grace" => secs(self.default_grace),
            "shortlived" => secs(self.shortlived),
            "default_keep" => secs(self.default_keep),
            "default_ttl" => secs(self.default_ttl),
            "clock_skew" => self.clock_skew.to_string(),
            "first_byte_timeout" => secs(self.first_byte_timeout),
            "pipe_timeout" => secs(self.pipe_timeout),
            "send_timeout" => secs(self.send_timeout),
            "shutdown_timeout" => secs(self.shutdown_timeout),
            "timeout_idle" => secs(self.timeout_idle),
            "vcl_cooldown" => secs(self.vcl_cooldown),
            "http_gzip_support" => onoff(self.http_gzip_support),
            "http_range_support" => onoff(self.http_range_support),
            "prefer_ipv6" => onoff(self.prefer_ipv6),
            "vcc_err_unref" => onoff(self.vcc_err_unref),
            "http_max_hdr" => self.http_max_hdr.to_string(),
            "http_req_hdr_len" => format_bytes(self.http_req_hdr_len),
            "http_req_size" => format_bytes(self.http_req_size),
            "http_resp_hdr_len" => format_bytes(self.http_resp_hdr_len),
            "http_resp_size" => format_bytes(self.http_resp_size),
            "gzip_level" => self.gzip_level.to_string(),
            "vsl_space" => format_bytes(self.vsl_space),
            "max_restarts" => self.max_restarts.to_string(),
            "rush_exponent" => self.rush_exponent.to_string(),
            "max_retries" => self.max_retries.to_string(),
            "req_body_max" => format_bytes(self.req_body_max),
            "vcl_path" => self.vcl_path.join(":"),
            _ => {
                // Kept as set, in canonical form; else the default's.
                let kept = self.others.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
                let raw = kept.unwrap_or_else(|| Params::canonical(def, def.default));
                match def.kind {
                    ParamKind::Bytes => format_bytes(raw.parse().unwrap_or(0)),
                    _ => raw,
                }
            }
        })
    }

    /// Whether a parameter has its default value.
    pub fn is_default(&self, name: &str) -> bool {
        self.value(name) == Params::defaults().value(name)
    }

    /// Every parameter at its default, made once (`param.show` asks about each parameter).
    pub fn defaults() -> &'static Params {
        static DEFAULTS: std::sync::LazyLock<Params> = std::sync::LazyLock::new(Params::default);
        &DEFAULTS
    }

    /// A default in the form [`Params::keep`] stores.
    fn canonical(def: &ParamDef, text: &str) -> String {
        match def.kind {
            ParamKind::Duration => parse_duration(text).map(|s| format!("{s:.3}")).unwrap_or_default(),
            ParamKind::Bytes => parse_bytes(text).map(|n| n.to_string()).unwrap_or_default(),
            _ => text.to_string(),
        }
    }

    fn keep(&mut self, def: &ParamDef, value: &str) {
        self.others.retain(|(n, _)| *n != def.name);
        self.others.push((def.name, value.to_string()));
    }
}

/// A set of switches changed by `change` (`+a,-b`, `none`, `default`), from `now` as
/// [`Params::value`] shows it, in the same form.
fn bits_apply(def: &ParamDef, now: &str, change: &str) -> Result<String, String> {
    let mask = def.bits_are_a_mask();
    // (Each switch's name in the text: vsl_mask's tags in any case, as varnishd reads them.)
    let index = |name: &str| def.bits.iter().position(|b| if mask { b.eq_ignore_ascii_case(name) } else { *b == name });
    let parse = |text: &str| {
        let mut on = vec![false; def.bits.len()];
        for item in text.split(',') {
            if let Some(i) = item.get(1..).and_then(index) {
                on[i] = true;
            }
        }
        on
    };
    let mut on = parse(now);
    for item in change.split(',') {
        match item {
            "default" => on = parse(def.default),
            "none" if !mask => on.fill(false),
            _ => {
                let (set, name) = match (item.strip_prefix('+'), item.strip_prefix('-')) {
                    (Some(name), _) => (!mask, name),
                    (_, Some(name)) => (mask, name),
                    _ => return Err(format!("Missing '+' or '-' ({item})")),
                };
                let Some(i) = index(name) else {
                    return Err(if mask {
                        format!("Unknown VSL tag ({item})")
                    } else {
                        format!("Unknown {} bit ({item})", def.name)
                    });
                };
                on[i] = set;
            }
        }
    }
    let sign = if mask { '-' } else { '+' };
    let list: Vec<String> =
        def.bits.iter().zip(&on).filter(|(_, on)| **on).map(|(b, _)| format!("{sign}{b}")).collect();
    Ok(match (list.is_empty(), mask) {
        (false, _) => list.join(","),
        (true, false) => "none".to_string(),
        (true, true) => "(all enabled)".to_string(),
    })
}

/// Checks a memory pool's `min_pool,max_pool,max_age` as varnishd does.
fn pool_check(value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split(',').map(str::trim).collect();
    let [min, max, age] = fields[..] else {
        return Err("Three fields required: min_pool, max_pool and max_age".to_string());
    };
    let mut n = [0.0; 3];
    for (slot, f) in n.iter_mut().zip([min, max, age]) {
        *slot = f.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("Not a number ({f})"))?;
        if *slot < 0.0 {
            return Err("Must be greater or equal to 0".to_string());
        }
    }
    if n[0] > n[1] {
        return Err("min_pool cannot be larger than max_pool".to_string());
    }
    Ok(())
}

/// A byte count as varnishd prints it: `0b`, `40000b`, `32k`, `1.50k`, `0.50M`, `1M`. A count
/// that is not a multiple of 256 is in bytes; otherwise, unit by unit, a count that is a multiple
/// of 256 but not of 1024 is shown in the next unit with two decimals, and one that is a multiple
/// of 1024 moves up a unit and is shown there unless it is a multiple of 256 again.
pub fn format_bytes(n: u64) -> String {
    if n == 0 || !n.is_multiple_of(256) {
        return format!("{n}b");
    }
    let mut v = n;
    for unit in ['k', 'M', 'G', 'T', 'P', 'E'] {
        if !v.is_multiple_of(1024) {
            return format!("{:.2}{unit}", v as f64 / 1024.0);
        }
        v /= 1024;
        if !v.is_multiple_of(256) {
            return format!("{v}{unit}");
        }
    }
    format!("{n}b")
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamKind::Duration => "seconds",
            ParamKind::Uint => "count",
            ParamKind::Bool => "bool",
            ParamKind::Bytes => "bytes",
            ParamKind::Text => "text",
            ParamKind::Double => "double",
            ParamKind::Bits => "switches",
            ParamKind::Pool => "pool",
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

/// [`parse_bytes`], saying what is wrong as varnishd does.
fn parse_bytes_checked(s: &str) -> Result<u64, &'static str> {
    let t = s.trim();
    let digits = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    if digits == 0 || t[..digits].parse::<f64>().is_err() {
        return Err("Invalid number");
    }
    parse_bytes(t).ok_or("Unknown BYTES unit of measurement ([KMGTP][B])")
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

    /// Why a value was refused (a test fails if it was not).
    fn reason(r: Result<(), ParamError>) -> String {
        match r {
            Err(ParamError::Invalid { reason, .. }) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_default_parses() {
        let mut p = Params::default();
        for def in all() {
            p.set(def.name, def.default).unwrap_or_else(|e| panic!("{}: {e}", def.name));
            assert!(p.is_default(def.name), "{}", def.name);
        }
        assert_eq!(p.connect_timeout, 3.5);
        assert_eq!(p.http_req_size, 32 * 1024);
        assert_eq!(p.max_retries, 4);
        assert!(p.vcc_err_unref);
        assert_eq!(p.vcl_path, ["/etc/varnish", "/usr/share/varnish/vcl"]);
        // varnishd 7.1's whole list (but accept_filter, which it lacks on Linux too) and Shellac's
        // two, in order, no name twice.
        let names: Vec<&str> = all().iter().map(|d| d.name).collect();
        assert_eq!(names.len(), 110, "{names:?}");
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    }

    #[test]
    fn every_parameter_reads_back_what_was_set() {
        // A value other than the default for each row, within its range, read back through
        // `value`: no row can be missing from the getter (send_timeout once was).
        for def in all() {
            let mut p = Params::default();
            let (set, shown): (String, String) = match def.kind {
                ParamKind::Duration => {
                    let s = def.max.and_then(parse_duration).map_or(1234.5, |m| m.min(1234.5));
                    (s.to_string(), format!("{s:.3}"))
                }
                ParamKind::Uint => {
                    let n = def.max.and_then(|m| m.parse::<u64>().ok()).map_or(40000, |m| m.min(40000));
                    (n.to_string(), n.to_string())
                }
                ParamKind::Bytes => {
                    let n = def.max.and_then(parse_bytes).map_or(5 << 20, |m| m.min(5 << 20));
                    (n.to_string(), format_bytes(n))
                }
                ParamKind::Bool if p.value(def.name).as_deref() == Some("on") => ("off".into(), "off".into()),
                ParamKind::Bool => ("on".into(), "on".into()),
                ParamKind::Text => ("s0".into(), "s0".into()),
                ParamKind::Double => ("0.5".into(), "0.5".into()),
                ParamKind::Pool => ("1,2,3".into(), "1,2,3".into()),
                ParamKind::Bits => {
                    // (Each set's last switch, the other way from its default.)
                    let last = def.bits[def.bits.len() - 1];
                    let flip = def.default.contains(last) != (def.name == "vsl_mask");
                    let shown = Params::default().value(def.name).unwrap_or_default();
                    (format!("{}{last}", if flip { '-' } else { '+' }), shown)
                }
            };
            p.set(def.name, &set).unwrap_or_else(|e| panic!("{}: {e}", def.name));
            if def.kind != ParamKind::Bits {
                assert_eq!(p.value(def.name), Some(shown), "{}", def.name);
            } else {
                assert_ne!(p.value(def.name), Some(shown), "{}", def.name);
            }
            assert!(!p.is_default(def.name), "{}", def.name);
            assert!(Params::default().is_default(def.name), "{}", def.name);
        }
    }

    #[test]
    fn switches_and_pools_read_as_varnishd_reads_them() {
        let mut p = Params::default();
        assert_eq!(p.value("feature").as_deref(), Some("+validate_headers"));
        p.set("feature", "+http2,-short_panic").unwrap();
        assert_eq!(p.value("feature").as_deref(), Some("+http2,+validate_headers"));
        p.set("feature", "none").unwrap();
        assert_eq!(p.value("feature").as_deref(), Some("none"));
        p.set("feature", "default").unwrap();
        assert!(p.is_default("feature"));
        assert_eq!(reason(p.set("feature", "http2")), "Missing '+' or '-' (http2)");
        assert_eq!(reason(p.set("feature", "+http2,,+short_panic")), "Missing '+' or '-' ()");
        assert_eq!(reason(p.set("feature", "+nosuch")), "Unknown feature bit (+nosuch)");
        assert_eq!(reason(p.set("debug", "+foo")), "Unknown debug bit (+foo)");
        // vsl_mask lists what is masked; + unmasks; its tags in any case; no `none`.
        p.set("vsl_mask", "+debug,-Hash,+Hash").unwrap();
        assert!(p.value("vsl_mask").is_some_and(|v| v.starts_with("-ObjProtocol,") && !v.contains("Hash")));
        assert_eq!(reason(p.set("vsl_mask", "+Nosuch")), "Unknown VSL tag (+Nosuch)");
        assert_eq!(reason(p.set("vsl_mask", "none")), "Missing '+' or '-' (none)");
        let all_tags: Vec<String> = VSL_TAGS_FOR_TEST.iter().map(|t| format!("+{t}")).collect();
        p.set("vsl_mask", &all_tags.join(",")).unwrap();
        assert_eq!(p.value("vsl_mask").as_deref(), Some("(all enabled)"));
        p.set("vsl_mask", "-Hash").unwrap();
        assert_eq!(p.value("vsl_mask").as_deref(), Some("-Hash"));
        // Pools and the one fraction.
        assert_eq!(reason(p.set("pool_req", "10,100")), "Three fields required: min_pool, max_pool and max_age");
        assert_eq!(reason(p.set("pool_req", "a,b,c")), "Not a number (a)");
        assert_eq!(reason(p.set("pool_req", "100,10,10")), "min_pool cannot be larger than max_pool");
        assert_eq!(reason(p.set("pool_req", "1,2,-3")), "Must be greater or equal to 0");
        assert_eq!(reason(p.set("acceptor_sleep_decay", "2")), "Must be less than or equal to 1");
        assert_eq!(reason(p.set("acceptor_sleep_decay", "x")), "Invalid number (x)");
        assert_eq!(reason(p.set("tcp_keepalive_time", "8000")), "Must be less than or equal to 7200.000");
        assert_eq!(reason(p.set("critbit_cooloff", "10")), "Must be greater or equal to 60.000");
        assert_eq!(reason(p.set("thread_pools", "40")), "Must be no more than 32");
        assert_eq!(reason(p.set("ping_interval", "2.5")), "Not a number (2.5)");
        assert_eq!(reason(p.set("h2_rxbuf_storage", "foo")), "unknown storage backend 'foo'");
        p.set("thread_pool_min", "200").unwrap();
        assert_eq!(p.value("thread_pool_min").as_deref(), Some("200"));
    }

    /// The tags `vsl_mask` names (the table's own list, seen from here).
    const VSL_TAGS_FOR_TEST: &[&str] = compat::VSL_TAGS;

    #[test]
    fn ranges_are_varnishds_with_its_messages() {
        let mut p = Params::default();
        assert_eq!(reason(p.set("http_req_size", "10")), "Must be at least 0.25k");
        assert_eq!(reason(p.set("http_max_hdr", "5")), "Must be at least 32");
        assert_eq!(reason(p.set("http_max_hdr", "100000")), "Must be no more than 65535");
        assert_eq!(reason(p.set("backend_idle_timeout", "0.5")), "Must be greater or equal to 1.000");
        assert_eq!(reason(p.set("connect_timeout", "abc")), "Invalid number (abc)");
        assert_eq!(reason(p.set("max_retries", "-1")), "Not a number (-1)");
        assert_eq!(reason(p.set("prefer_ipv6", "maybe")), "use \"on\" or \"off\"");
        assert!(reason(p.set("http_req_size", "1q")).contains("Unknown BYTES unit"));
        assert!(reason(p.set("http_req_size", "abc")).contains("Invalid number"));
        assert_eq!(reason(p.set("cli_limit", "999999999")), "Must be no more than 99999999b\n");
        let e = p.set("http_req_size", "10").unwrap_err().to_string();
        assert_eq!(e, "Must be at least 0.25k\n\n(attempting to set param 'http_req_size' to '10')");
        assert_eq!(p.http_req_size, 32 * 1024, "a refused value changes nothing");
    }

    #[test]
    fn byte_counts_print_as_varnishd_prints_them() {
        for (n, text) in [(0, "0b"), (40_000, "40000b"), (1536, "1.50k"), (32 << 10, "32k"), (48 << 10, "48k")] {
            assert_eq!(format_bytes(n), text);
        }
        assert_eq!(format_bytes(256), "0.25k");
        assert_eq!(format_bytes(512 << 10), "0.50M");
        assert_eq!(format_bytes(1 << 20), "1M");
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
