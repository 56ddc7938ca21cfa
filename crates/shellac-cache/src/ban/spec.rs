//! A ban's expression (spec §5.8): conditions joined by `&&`, each `FIELD OP ARG`, parsed from
//! the CLI's arguments or from the string VCL gives `ban()` / `std.ban()`, with varnishd 7.1's
//! error texts; and its test against an object (and, for `req.*` fields, the request that looks
//! it up).
//!
//! Fields: `req.url`, `req.http.NAME`, `obj.status` (compared as its three digits),
//! `obj.http.NAME` with `==`, `!=`, `~`, `!~`; `obj.ttl`, `obj.age`, `obj.grace`, `obj.keep` with
//! `==`, `!=`, `>`, `>=`, `<`, `<=` and a duration with its unit. An absent header is unequal to
//! everything (`!=` holds) and takes part in no regex test (`~` and `!~` both fail), as on
//! varnishd 7.1.1. `obj.ttl` and `obj.age` are taken at the time of
//! the ban, not of the test: `obj.ttl < 1h` bans what had less than an hour left when the ban
//! was issued, whenever it is tested.
//!
//! Regular expressions are compiled by the caller (the engine gives VCL's, so that a ban
//! pattern means what the same pattern means in VCL): the store has no regex engine of its own.

use std::fmt::Write as _;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use crate::object::Object;

/// A compiled regular expression, as the caller compiles them.
pub trait Pattern: Send + Sync {
    /// Whether it matches somewhere in `subject` (unanchored). An error while matching counts
    /// as no match.
    fn is_match(&self, subject: &[u8]) -> bool;
}

/// Compiles a pattern, or says why not.
pub type Compile<'a> = &'a dyn Fn(&str) -> Result<Arc<dyn Pattern>, String>;

/// What a ban tests.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    ReqUrl,
    ReqHttp(HeaderName),
    ObjStatus,
    ObjHttp(HeaderName),
    ObjTtl,
    ObjAge,
    ObjGrace,
    ObjKeep,
}

/// How it compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Match,
    NoMatch,
    Gt,
    Ge,
    Lt,
    Le,
}

enum Arg {
    Text(Box<[u8]>),
    Pattern(Arc<dyn Pattern>),
    Secs(f64),
}

struct Cond {
    field: Field,
    op: Op,
    arg: Arg,
}

/// A parsed ban expression.
pub struct Spec {
    conds: Vec<Cond>,
    /// As `ban.list` shows it (durations in their shortest exact unit).
    text: String,
    /// Whether a condition needs the request (the lurker cannot test it).
    req: bool,
}

/// The request side of a test at lookup.
#[derive(Clone, Copy)]
pub struct ReqView<'a> {
    /// `req.url`
    pub url: &'a [u8],
    /// `req.http.*`
    pub headers: &'a HeaderMap,
}

/// Why an expression is refused, in varnishd's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// (CLI) the arguments do not come in threes joined by `&&`.
    #[error("Wrong number of arguments")]
    ArgCount,
    /// (CLI) two conditions joined by something other than `&&`.
    #[error("Found \"{0}\" expected &&")]
    NotAndCli(String),
    /// (VCL) two conditions joined by something other than `&&`.
    #[error("Expected && between conditions, found \"{0}\"")]
    NotAnd(String),
    /// (VCL) nothing to test.
    #[error("No ban conditions found.")]
    Empty,
    /// (VCL) a field with no operator after it.
    #[error("Expected comparison operator.")]
    NoOperator,
    /// (VCL) an operator with nothing after it.
    #[error("Expected second operand.")]
    NoOperand,
    /// Not a field bans know.
    #[error("Unknown or unsupported field \"{0}\"")]
    Field(String),
    /// `req.http.` or `obj.http.` with no name, or a name HTTP does not allow.
    #[error("Invalid header name \"{0}\" in ban field")]
    HeaderName(String),
    /// An operator the field does not take (string fields).
    #[error("expected conditional (==, !=, ~ or !~) got \"{0}\"")]
    TextOp(String),
    /// An operator the field does not take (duration fields).
    #[error("expected conditional (==, !=, >, >=, < or <=) got \"{0}\"")]
    DurationOp(String),
    /// Not a duration with its unit.
    #[error("expected duration <n.nn>[ms|s|m|h|d|w|y] got \"{0}\"")]
    Duration(String),
    /// The pattern does not compile.
    #[error("Regex compile error: {0}")]
    Regex(String),
}

// === impl Spec ===

impl Spec {
    /// The CLI's `ban` arguments: `FIELD OP ARG [&& FIELD OP ARG]…`, one token each.
    pub fn from_args(args: &[String], compile: Compile<'_>) -> Result<Spec, SpecError> {
        if args.len() < 3 || !(args.len() + 1).is_multiple_of(4) {
            return Err(SpecError::ArgCount);
        }
        let mut b = Builder::default();
        for (i, group) in args.chunks(4).enumerate() {
            if i > 0 && args[4 * i - 1] != "&&" {
                return Err(SpecError::NotAndCli(args[4 * i - 1].clone()));
            }
            b.add(&group[0], &group[1], &group[2], compile)?;
        }
        Ok(b.finish())
    }

    /// The string VCL gives `ban()` or `std.ban()`: the same, split at white space (varnishd
    /// 7.1 has no quoting here: a `"` is part of its word).
    pub fn from_vcl(s: &str, compile: Compile<'_>) -> Result<Spec, SpecError> {
        let words: Vec<&str> = s.split_ascii_whitespace().collect();
        if words.is_empty() {
            return Err(SpecError::Empty);
        }
        let mut b = Builder::default();
        let mut i = 0;
        loop {
            let op = words.get(i + 1).ok_or(SpecError::NoOperator)?;
            let arg = words.get(i + 2).ok_or(SpecError::NoOperand)?;
            b.add(words[i], op, arg, compile)?;
            i += 3;
            match words.get(i) {
                None => break,
                Some(&"&&") if i + 1 < words.len() => i += 1,
                // (varnishd's words for a trailing `&&`.)
                Some(&"&&") => return Err(SpecError::Empty),
                Some(other) => return Err(SpecError::NotAnd(other.to_string())),
            }
        }
        Ok(b.finish())
    }

    /// As `ban.list` shows it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it tests the request (then only a lookup can test it, never the lurker).
    pub fn needs_req(&self) -> bool {
        self.req
    }

    /// Whether `obj` (looked up by `req`, if a request looks it up) is banned by this ban,
    /// issued at `time`. With no request, a `req.*` condition does not hold.
    pub fn matches(&self, obj: &Object, req: Option<ReqView<'_>>, time: f64) -> bool {
        self.conds.iter().all(|c| c.holds(obj, req, time))
    }
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Spec").field(&self.text).finish()
    }
}

#[derive(Default)]
struct Builder {
    conds: Vec<Cond>,
    text: String,
}

impl Builder {
    fn add(&mut self, name: &str, op: &str, arg: &str, compile: Compile<'_>) -> Result<(), SpecError> {
        let field = parse_field(name)?;
        let timed = matches!(field, Field::ObjTtl | Field::ObjAge | Field::ObjGrace | Field::ObjKeep);
        let op = match (op, timed) {
            ("==", _) => Op::Eq,
            ("!=", _) => Op::Ne,
            ("~", false) => Op::Match,
            ("!~", false) => Op::NoMatch,
            (">", true) => Op::Gt,
            (">=", true) => Op::Ge,
            ("<", true) => Op::Lt,
            ("<=", true) => Op::Le,
            (_, false) => return Err(SpecError::TextOp(op.to_string())),
            (_, true) => return Err(SpecError::DurationOp(op.to_string())),
        };
        let (arg, shown) = if timed {
            let secs = parse_duration(arg).ok_or_else(|| SpecError::Duration(arg.to_string()))?;
            (Arg::Secs(secs), format_duration(secs))
        } else if matches!(op, Op::Match | Op::NoMatch) {
            (Arg::Pattern(compile(arg).map_err(SpecError::Regex)?), arg.to_string())
        } else {
            (Arg::Text(arg.as_bytes().into()), arg.to_string())
        };
        if !self.text.is_empty() {
            self.text.push_str(" && ");
        }
        let _ = write!(self.text, "{name} {} {shown}", op.as_str());
        self.conds.push(Cond { field, op, arg });
        Ok(())
    }

    fn finish(self) -> Spec {
        let req = self.conds.iter().any(|c| matches!(c.field, Field::ReqUrl | Field::ReqHttp(_)));
        Spec { conds: self.conds, text: self.text, req }
    }
}

fn parse_field(s: &str) -> Result<Field, SpecError> {
    let header = |name: &str| HeaderName::from_bytes(name.as_bytes()).map_err(|_| SpecError::HeaderName(s.to_string()));
    Ok(match s {
        "req.url" => Field::ReqUrl,
        "obj.status" => Field::ObjStatus,
        "obj.ttl" => Field::ObjTtl,
        "obj.age" => Field::ObjAge,
        "obj.grace" => Field::ObjGrace,
        "obj.keep" => Field::ObjKeep,
        _ => match (s.strip_prefix("req.http."), s.strip_prefix("obj.http.")) {
            (Some(name), _) => Field::ReqHttp(header(name)?),
            (_, Some(name)) => Field::ObjHttp(header(name)?),
            _ => return Err(SpecError::Field(s.to_string())),
        },
    })
}

/// `<n.nn><unit>`, the unit required (`ms`, `s`, `m`, `h`, `d`, `w`, `y`); in seconds.
fn parse_duration(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let scale = unit_secs(unit)?;
    let digits = num.strip_prefix(['-', '+']).unwrap_or(num);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits != ".";
    ok.then(|| num.parse::<f64>().ok()).flatten().map(|n| n * scale)
}

fn unit_secs(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        "y" => 365.0 * 86400.0,
        _ => return None,
    })
}

/// A duration as `ban.list` shows it (as varnishd does): in the largest unit that holds it a
/// whole number of times; under a second in whole milliseconds; else seconds to the
/// millisecond.
fn format_duration(secs: f64) -> String {
    if secs == 0.0 {
        return "0s".to_string();
    }
    if secs.abs() < 1.0 {
        return format!("{}ms", (secs * 1000.0).trunc() as i64);
    }
    for unit in ["y", "w", "d", "h", "m", "s"] {
        let scale = unit_secs(unit).unwrap_or(1.0);
        let n = secs / scale;
        if n == n.trunc() && n.abs() < 1e15 {
            return format!("{}{unit}", n as i64);
        }
    }
    format!("{secs:.3}s")
}

// === impl Op ===

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Match => "~",
            Op::NoMatch => "!~",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

// === impl Cond ===

impl Cond {
    fn holds(&self, obj: &Object, req: Option<ReqView<'_>>, time: f64) -> bool {
        let status;
        let text: Option<&[u8]> = match &self.field {
            Field::ReqUrl => match req {
                Some(r) => Some(r.url),
                None => return false,
            },
            Field::ReqHttp(name) => match req {
                Some(r) => r.headers.get(name).map(|v| v.as_bytes()),
                None => return false,
            },
            Field::ObjHttp(name) => obj.head.headers.get_all(name).next(),
            Field::ObjStatus => {
                let s = obj.head.status;
                status = [b'0' + (s / 100 % 10) as u8, b'0' + (s / 10 % 10) as u8, b'0' + (s % 10) as u8];
                Some(&status[..])
            }
            // The times: what the object had left, or its age, when the ban was issued.
            Field::ObjTtl | Field::ObjAge | Field::ObjGrace | Field::ObjKeep => {
                let t = obj.ttl();
                let (have, want) = match (&self.field, &self.arg) {
                    (Field::ObjTtl, Arg::Secs(d)) => (t.t_origin + t.ttl, time + d),
                    (Field::ObjAge, Arg::Secs(d)) => (time - t.t_origin, *d),
                    (Field::ObjGrace, Arg::Secs(d)) => (t.grace, *d),
                    (Field::ObjKeep, Arg::Secs(d)) => (t.keep, *d),
                    _ => return false,
                };
                return match self.op {
                    Op::Eq => have == want,
                    Op::Ne => have != want,
                    Op::Gt => have > want,
                    Op::Ge => have >= want,
                    Op::Lt => have < want,
                    Op::Le => have <= want,
                    Op::Match | Op::NoMatch => false,
                };
            }
        };
        match (self.op, &self.arg, text) {
            (Op::Eq, Arg::Text(want), Some(have)) => have == &want[..],
            (Op::Ne, Arg::Text(want), Some(have)) => have != &want[..],
            (Op::Match, Arg::Pattern(p), Some(have)) => p.is_match(have),
            (Op::NoMatch, Arg::Pattern(p), Some(have)) => !p.is_match(have),
            // An absent header equals nothing, matches nothing, and fails to match nothing
            // either (varnishd 7.1.1: `!=` holds, `!~` does not).
            (Op::Ne, _, None) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Head, Kind};
    use crate::ttl::Ttl;
    use crate::Headers;

    use super::super::testing::compile;

    fn vcl(s: &str) -> Result<Spec, String> {
        Spec::from_vcl(s, &compile).map_err(|e| e.to_string())
    }

    fn cli(s: &str) -> Result<Spec, String> {
        let args: Vec<String> = s.split(' ').map(str::to_string).collect();
        Spec::from_args(&args, &compile).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_are_varnishds_for_each_kind_of_mistake() {
        // (Texts as varnishd 7.1.1 gives them, CLI and VCL.)
        let cases: &[(&str, bool, &str)] = &[
            ("foo.url ~ /foo", true, "Unknown or unsupported field \"foo.url\""),
            ("REQ.URL ~ a", false, "Unknown or unsupported field \"REQ.URL\""),
            ("req.url ~ (", true, "Regex compile error: missing closing parenthesis"),
            ("req.url < 3", true, "expected conditional (==, !=, ~ or !~) got \"<\""),
            ("req.url = 3", true, "expected conditional (==, !=, ~ or !~) got \"=\""),
            ("obj.ttl ~ 3", true, "expected conditional (==, !=, >, >=, < or <=) got \"~\""),
            ("obj.ttl > 3x", true, "expected duration <n.nn>[ms|s|m|h|d|w|y] got \"3x\""),
            ("obj.ttl > 3", true, "expected duration <n.nn>[ms|s|m|h|d|w|y] got \"3\""),
            ("obj.ttl > 1.5", false, "expected duration <n.nn>[ms|s|m|h|d|w|y] got \"1.5\""),
            ("obj.status == 200 || obj.http.x !~ y", true, "Found \"||\" expected &&"),
            ("obj.status == 200 &&", true, "Wrong number of arguments"),
            ("req.url ~ a b", true, "Wrong number of arguments"),
            ("", false, "No ban conditions found."),
            ("req.url ~ a &&", false, "No ban conditions found."),
            ("req.url", false, "Expected comparison operator."),
            ("req.url ~ a && req.url", false, "Expected comparison operator."),
            ("req.url ~", false, "Expected second operand."),
            ("req.url ~ a b", false, "Expected && between conditions, found \"b\""),
            ("req.url ~ \"x y\"", false, "Expected && between conditions, found \"y\"\""),
            ("req.http. == 1", false, "Invalid header name \"req.http.\" in ban field"),
            ("obj.http.a:b == 1", false, "Invalid header name \"obj.http.a:b\" in ban field"),
        ];
        for (text, from_cli, want) in cases {
            let got = if *from_cli { cli(text) } else { vcl(text) };
            assert_eq!(got.err().as_deref(), Some(*want), "{text}");
        }
    }

    #[test]
    fn the_text_is_as_given_with_durations_in_their_shortest_exact_unit() {
        let cases = [
            ("obj.ttl > 1.50m && req.http.Host == x", "obj.ttl > 90s && req.http.Host == x"),
            ("obj.ttl > 1.5s", "obj.ttl > 1.500s"),
            ("obj.ttl > 0.25s", "obj.ttl > 250ms"),
            ("obj.ttl > 1.25ms", "obj.ttl > 1ms"),
            ("obj.ttl > 120s", "obj.ttl > 2m"),
            ("obj.ttl > 3600s", "obj.ttl > 1h"),
            ("obj.ttl > 86400s", "obj.ttl > 1d"),
            ("obj.ttl > 14d", "obj.ttl > 2w"),
            ("obj.age < 1y", "obj.age < 1y"),
            ("obj.ttl > 366d", "obj.ttl > 366d"),
            ("obj.keep == 0s", "obj.keep == 0s"),
            ("obj.ttl > -5s", "obj.ttl > -5s"),
            ("req.url ~ /a", "req.url ~ /a"),
        ];
        for (given, shown) in cases {
            assert_eq!(vcl(given).map(|s| s.text().to_string()), Ok(shown.to_string()), "{given}");
            assert_eq!(cli(given).map(|s| s.text().to_string()), Ok(shown.to_string()), "{given}");
        }
        assert!(vcl("req.url ~ a && obj.status == 200").is_ok_and(|s| s.needs_req()));
        assert!(vcl("obj.http.x ~ a && obj.status == 200").is_ok_and(|s| !s.needs_req()));
    }

    fn object(status: u16, headers: &[(&str, &str)], born: f64, ttl: f64) -> Object {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let head = Head::new(status, "", false, Headers::from_map(&map));
        Object::new(head, Ttl { t_origin: born, ttl, grace: 10.0, keep: 5.0 }, Kind::Normal)
    }

    #[test]
    fn each_field_and_operator_tests_what_varnishd_tests() {
        let o = object(200, &[("content-type", "text/html"), ("x-k", "a b")], 1000.0, 100.0);
        let mut h = HeaderMap::new();
        h.insert("host", "example.com".parse().unwrap());
        let req = ReqView { url: b"/b/a?q", headers: &h };
        // (The ban issued at 1050: the object then had 50 s left and was 50 s old.)
        let cases: &[(&str, bool)] = &[
            ("req.url ~ /a", true),
            ("req.url ~ ^/a", false),
            ("req.url == /b/a?q", true),
            ("req.url != /b/a?q", false),
            ("req.url !~ zzz", true),
            ("req.http.host == example.com", true),
            ("req.http.Host ~ example", true),
            ("req.http.absent == x", false),
            ("req.http.absent != x", true),
            ("req.http.absent ~ x", false),
            ("req.http.absent !~ x", false),
            ("obj.status == 200", true),
            ("obj.status != 200", false),
            ("obj.status ~ 20", true),
            ("obj.http.content-type ~ html", true),
            ("obj.http.Content-Type == text/html", true),
            ("obj.http.x-k == a", false),
            ("obj.http.absent != x", true),
            ("obj.http.absent !~ x", false),
            ("obj.ttl == 50s", true),
            ("obj.ttl > 49s", true),
            ("obj.ttl >= 51s", false),
            ("obj.ttl < 1m", true),
            ("obj.ttl <= 50s", true),
            ("obj.age > 49s", true),
            ("obj.age < 50s", false),
            ("obj.age == 50s", true),
            ("obj.grace == 10s", true),
            ("obj.grace != 10s", false),
            ("obj.keep > 4s", true),
            ("obj.keep >= 6s", false),
            ("obj.status == 200 && req.url ~ /a && obj.ttl > 10s", true),
            ("obj.status == 200 && req.url ~ /nope", false),
        ];
        for (text, want) in cases {
            let spec = vcl(text).unwrap();
            assert_eq!(spec.matches(&o, Some(req), 1050.0), *want, "{text}");
        }
        // With no request (the lurker), a `req.*` condition does not hold.
        assert!(!vcl("req.url ~ /a").unwrap().matches(&o, None, 1050.0));
        assert!(vcl("obj.status == 200").unwrap().matches(&o, None, 1050.0));
    }
}
