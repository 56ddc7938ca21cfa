//! VCL regular expressions with PCRE2 semantics (non-UTF mode, as Varnish compiles them).
//!
//! A pattern is first scanned and rewritten by [`translate`], which knows where PCRE and the Rust
//! engines differ:
//! - Most patterns run on `regex::bytes` with Unicode off: ASCII classes, byte-wise `.`, ASCII
//!   case folding, linear time. PCRE's `$` also matches before a final newline; `regex` does not,
//!   so a pattern with `$` keeps a second, lookahead-based program that is used only for
//!   subjects ending in `\n`.
//! - Backreferences, lookaround, atomic groups and possessive quantifiers run on `fancy-regex`
//!   with a backtrack limit. Its classes are Unicode, so `\d \w \s` are rewritten to their ASCII
//!   sets; `.` and case folding still work on characters rather than bytes, which differs from
//!   PCRE only on non-ASCII subjects.
//! - Constructs neither engine can match the PCRE way (`\K`, `\G`, `\Q…\E`, `\p{…}`, recursion,
//!   branch reset, verbs, callouts) are rejected with a message that names them.
//!
//! [`VclRegex::substitute`] implements `regsub`/`regsuball` replacement (`\0`–`\9`; a backslash
//! before any other character inserts that character).

use std::fmt;

/// How many backtracking steps fancy-regex may take for one match.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

/// A compiled VCL regular expression.
#[derive(Clone)]
pub struct VclRegex {
    pattern: String,
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    /// The linear engine, plus the `$`-before-final-newline program when the pattern has `$`,
    /// and for a pattern of literal alternatives, those alternatives.
    Fast { re: regex::bytes::Regex, dollar: Option<Box<Dollar>>, lits: Option<Box<Literals>> },
    /// The backtracking engine.
    Backtrack(Box<fancy_regex::Regex>),
}

/// The `$`-before-final-newline program: checked when the pattern is compiled, built when a
/// subject ending in a newline first needs it (rare: URLs and header values never end so, and it
/// costs some 18 KB a pattern, which a list of bans would pay thousands of times).
#[derive(Clone)]
struct Dollar {
    pattern: String,
    re: std::sync::OnceLock<Result<fancy_regex::Regex, String>>,
}

impl Dollar {
    fn new(pattern: &str) -> Result<Dollar, String> {
        build_fancy(pattern)?;
        Ok(Dollar { pattern: pattern.to_string(), re: std::sync::OnceLock::new() })
    }

    fn get(&self) -> Result<&fancy_regex::Regex, MatchError> {
        self.re.get_or_init(|| build_fancy(&self.pattern)).as_ref().map_err(|e| MatchError(e.clone()))
    }
}

/// A pattern of literal alternatives and nothing else (`no-cache|no-store|private`), perhaps
/// case-insensitive as a whole (`(?i)…`, `(?i:…)`), as the builtin VCL's tests of
/// `Cache-Control` are: on a short subject, comparing bytes finds a match in a fraction of the
/// time the regex engine's general machinery takes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Literals {
    alts: Vec<Box<[u8]>>,
    fold: bool,
}

/// Subjects up to this length are matched by [`Literals`]; longer ones by the regex engine
/// (whose vectorised search wins there).
const LITERALS_MAX: usize = 256;

/// Byte ranges of a match's groups (group 0 is the whole match).
type Groups = Vec<Option<(usize, usize)>>;

/// A match could not be completed (the backtrack limit was hit).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("regex matching failed: {0}")]
pub struct MatchError(pub String);

/// What [`translate`] decided about a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The pattern for the chosen engine.
    pub pattern: String,
    /// Whether it needs the backtracking engine.
    pub backtrack: bool,
    /// The pattern with PCRE's `$` semantics spelled as a lookahead (for subjects ending in
    /// newline), when it contains `$` and runs on the linear engine.
    pub dollar: Option<String>,
}

// === impl VclRegex ===

impl VclRegex {
    /// Compiles a pattern; the error says what is wrong in words for a VCL author.
    pub fn new(pattern: &str) -> Result<VclRegex, String> {
        let t = translate(pattern)?;
        let engine = if t.backtrack {
            Engine::Backtrack(Box::new(build_fancy(&t.pattern)?))
        } else {
            let re = regex::bytes::RegexBuilder::new(&t.pattern)
                .unicode(false)
                .size_limit(32 << 20)
                .build()
                .map_err(|e| clean_error(&e.to_string()))?;
            let dollar = match &t.dollar {
                Some(d) => Some(Box::new(Dollar::new(d)?)),
                None => None,
            };
            let lits = Literals::of(pattern).map(Box::new);
            Engine::Fast { re, dollar, lits }
        };
        Ok(VclRegex { pattern: pattern.to_string(), engine })
    }

    /// The pattern as written in the VCL.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the backtracking engine runs it.
    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine, Engine::Backtrack(_))
    }

    /// Unanchored match, as `~`.
    pub fn is_match(&self, subject: &[u8]) -> Result<bool, MatchError> {
        match &self.engine {
            Engine::Fast { dollar: Some(d), .. } if subject.ends_with(b"\n") => fancy_is_match(d.get()?, subject),
            Engine::Fast { lits: Some(l), .. } if subject.len() <= LITERALS_MAX => Ok(l.is_match(subject)),
            Engine::Fast { re, .. } => Ok(re.is_match(subject)),
            Engine::Backtrack(f) => fancy_is_match(f, subject),
        }
    }

    /// Replaces the first match (`regsub`) or every match (`regsuball`) with `sub`, in which
    /// `\0`–`\9` stand for groups. After the first match, empty matches are skipped, as Varnish
    /// does (`regsuball("aaa", "a*", "X")` is `"X"`). No match returns the subject unchanged.
    pub fn substitute(&self, subject: &[u8], sub: &[u8], all: bool) -> Result<Vec<u8>, MatchError> {
        let mut out = Vec::with_capacity(subject.len() + sub.len());
        let mut last = 0;
        let mut pos = 0;
        let mut first = true;
        while pos <= subject.len() {
            let Some(groups) = self.captures_at(subject, pos)? else {
                break;
            };
            let (start, end) = groups[0].unwrap_or((pos, pos));
            if start == end && !first {
                // An empty match after the first one does not count; look further on.
                pos = end + 1;
                continue;
            }
            out.extend_from_slice(&subject[last..start]);
            expand(sub, subject, &groups, &mut out);
            last = end;
            first = false;
            if !all {
                break;
            }
            pos = if end == start { end + 1 } else { end };
        }
        if first {
            return Ok(subject.to_vec());
        }
        out.extend_from_slice(&subject[last..]);
        Ok(out)
    }

    /// Group ranges of the first match at or after `pos`.
    fn captures_at(&self, subject: &[u8], pos: usize) -> Result<Option<Groups>, MatchError> {
        let fancy = match &self.engine {
            Engine::Fast { dollar: Some(d), .. } if subject.ends_with(b"\n") => d.get()?,
            Engine::Fast { re, .. } => {
                return Ok(re
                    .captures_at(subject, pos)
                    .map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect()));
            }
            Engine::Backtrack(f) => f,
        };
        let text = String::from_utf8_lossy(subject);
        if text.len() != subject.len() {
            // Offsets would not line up with the bytes; match the text as the engine sees it.
            return Err(MatchError("subject is not valid UTF-8 for a backtracking pattern".into()));
        }
        let Some(pos) = (pos..=text.len()).find(|p| text.is_char_boundary(*p)) else {
            return Ok(None);
        };
        match fancy.captures_from_pos(text.as_ref(), pos) {
            Ok(Some(c)) => Ok(Some(c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())),
            Ok(None) => Ok(None),
            Err(e) => Err(MatchError(e.to_string())),
        }
    }
}

// === impl Literals ===

impl Literals {
    /// The alternatives, if `pattern` is nothing else: letters, digits and characters that
    /// are literal everywhere in a pattern, between `|`, none empty.
    fn of(pattern: &str) -> Option<Literals> {
        let (body, fold) = if let Some(rest) = pattern.strip_prefix("(?i)") {
            (rest, true)
        } else if let Some(inner) = pattern.strip_prefix("(?i:").and_then(|r| r.strip_suffix(')')) {
            (inner, true)
        } else {
            (pattern, false)
        };
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_ =,;:/|".contains(&b);
        if !body.bytes().all(plain) {
            return None;
        }
        let alts: Vec<Box<[u8]>> = body.split('|').map(|a| a.as_bytes().into()).collect();
        // (An empty alternative matches everywhere: the engine handles that.)
        if alts.iter().any(|a| a.is_empty()) {
            return None;
        }
        Some(Literals { alts, fold })
    }

    fn is_match(&self, subject: &[u8]) -> bool {
        self.alts
            .iter()
            .any(|a| subject.windows(a.len()).any(|w| if self.fold { w.eq_ignore_ascii_case(a) } else { w == &a[..] }))
    }
}

impl fmt::Debug for VclRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VclRegex({:?})", self.pattern)
    }
}

impl PartialEq for VclRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

fn build_fancy(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| clean_error(&e.to_string()))
}

fn fancy_is_match(re: &fancy_regex::Regex, subject: &[u8]) -> Result<bool, MatchError> {
    let text = String::from_utf8_lossy(subject);
    re.is_match(text.as_ref()).map_err(|e| MatchError(e.to_string()))
}

fn clean_error(e: &str) -> String {
    // regex's messages span several lines with an ASCII-art pointer; keep the last line.
    let last = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(e);
    last.trim().trim_start_matches("error: ").to_string()
}

fn expand(sub: &[u8], subject: &[u8], groups: &[Option<(usize, usize)>], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < sub.len() {
        if sub[i] == b'\\' && i + 1 < sub.len() {
            let c = sub[i + 1];
            if c.is_ascii_digit() {
                if let Some(Some((s, e))) = groups.get((c - b'0') as usize) {
                    out.extend_from_slice(&subject[*s..*e]);
                }
            } else {
                out.push(c);
            }
            i += 2;
        } else {
            out.push(sub[i]);
            i += 1;
        }
    }
}

/// Scans a PCRE pattern, rewrites what the Rust engines read differently and picks the engine.
pub fn translate(pattern: &str) -> Result<Translation, String> {
    let s: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut backtrack = false;
    let mut has_dollar = false;
    let multiline = pattern.contains("(?m") || pattern.contains("(?sm") || pattern.contains("(?im");
    let mut i = 0;
    // Whether the previous item can take a quantifier (to spot possessive `++`, `*+`, `?+`, `}+`).
    let mut after_quantifier = false;
    while i < s.len() {
        let c = s[i];
        let was_quantifier = after_quantifier;
        after_quantifier = false;
        match c {
            '\\' => {
                let Some(&n) = s.get(i + 1) else {
                    return Err("pattern ends with a lone backslash".into());
                };
                i += 2;
                match n {
                    '1'..='9' => {
                        backtrack = true;
                        out.push('\\');
                        out.push(n);
                    }
                    'g' | 'k' => {
                        backtrack = true;
                        out.push('\\');
                        out.push(n);
                    }
                    'Z' => {
                        backtrack = true;
                        out.push_str("(?=\\n?\\z)");
                    }
                    'K' | 'G' | 'Q' | 'E' | 'C' | 'X' | 'R' | 'N' | 'p' | 'P' | 'c' | 'o' => {
                        return Err(format!(
                            "the PCRE escape '\\{n}' is not supported: no engine here matches it the PCRE way"
                        ));
                    }
                    'h' => out.push_str("[\\t \\xA0]"),
                    'H' => out.push_str("[^\\t \\xA0]"),
                    'v' => out.push_str("[\\n\\x0B\\x0C\\r\\x85]"),
                    'V' => out.push_str("[^\\n\\x0B\\x0C\\r\\x85]"),
                    'e' => out.push_str("\\x1B"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' => {
                i = class(&s, i, &mut out)?;
            }
            '(' => {
                if s.get(i + 1) == Some(&'*') {
                    return Err("PCRE verbs '(*…)' are not supported".into());
                }
                if s.get(i + 1) == Some(&'?') {
                    let rest: String = s[i + 2..].iter().take(3).collect();
                    if rest.starts_with('#') {
                        // A comment group: drop it.
                        let end = s[i..].iter().position(|c| *c == ')').ok_or("unterminated (?# comment")?;
                        i += end + 1;
                        continue;
                    }
                    if rest.starts_with('=')
                        || rest.starts_with('!')
                        || rest.starts_with("<=")
                        || rest.starts_with("<!")
                        || rest.starts_with('>')
                        || rest.starts_with('(')
                    {
                        backtrack = true;
                    } else if rest.starts_with('|') {
                        return Err("branch reset groups '(?|…)' are not supported".into());
                    } else if is_recursion(&rest) {
                        return Err("recursive patterns ('(?R)', '(?1)', '(?&name)') are not supported".into());
                    } else if rest.starts_with('C') {
                        return Err("PCRE callouts '(?C…)' are not supported".into());
                    } else if rest.starts_with('\'') {
                        // (?'name'…) is (?P<name>…).
                        let end = s[i + 3..].iter().position(|c| *c == '\'').ok_or("unterminated group name")?;
                        let name: String = s[i + 3..i + 3 + end].iter().collect();
                        out.push_str(&format!("(?P<{name}>"));
                        i += 3 + end + 1;
                        continue;
                    }
                }
                out.push('(');
                i += 1;
            }
            '$' => {
                has_dollar = true;
                out.push('$');
                i += 1;
                after_quantifier = false;
            }
            '{' => {
                let end = s[i..].iter().position(|c| *c == '}').map(|e| i + e);
                let body: String = end.map(|e| s[i + 1..e].iter().collect()).unwrap_or_default();
                if end.is_some() && is_counted_repetition(&body) {
                    out.push('{');
                    out.push_str(&body);
                    out.push('}');
                    i = end.unwrap_or(i) + 1;
                    after_quantifier = true;
                } else {
                    // PCRE2 10.42 reads a '{' that starts no valid quantifier as a literal.
                    out.push_str("\\{");
                    i += 1;
                }
            }
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            '*' | '+' | '?' => {
                if c == '+' && was_quantifier {
                    backtrack = true;
                }
                out.push(c);
                i += 1;
                after_quantifier = c != '+' || !was_quantifier;
                if c == '?' && was_quantifier {
                    after_quantifier = false;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if backtrack {
        let pattern = ascii_classes(&out);
        let pattern = if has_dollar && !multiline { pcre_dollar(&pattern) } else { pattern };
        return Ok(Translation { pattern, backtrack, dollar: None });
    }
    let dollar = if has_dollar && !multiline { Some(ascii_classes(&pcre_dollar(&out))) } else { None };
    Ok(Translation { pattern: out, backtrack, dollar })
}

/// Copies a character class starting at `s[i] == '['`; returns the index after it. Inside a PCRE
/// class `[` (unless POSIX `[:name:]`), `&` and `~` are literals, while `regex` reads them as
/// nesting and set operators, so they are escaped.
fn class(s: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    i += 1;
    if s.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if s.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    while i < s.len() {
        let c = s[i];
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '\\' => {
                let Some(&n) = s.get(i + 1) else { break };
                match n {
                    'h' => out.push_str("\\t \\xA0"),
                    'v' => out.push_str("\\n\\x0B\\x0C\\r\\x85"),
                    'e' => out.push_str("\\x1B"),
                    'p' | 'P' | 'Q' | 'E' | 'X' | 'R' | 'H' | 'V' | 'N' => {
                        return Err(format!("the PCRE escape '\\{n}' inside a class is not supported"));
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                i += 2;
            }
            '[' if s.get(i + 1) == Some(&':') => {
                let end = s[i..].windows(2).position(|w| w == [':', ']']).ok_or("unterminated POSIX class")?;
                out.extend(&s[i..i + end + 2]);
                i += end + 2;
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if s.get(i + 1) == Some(&'-') => {
                out.push_str("\\-");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("missing terminating ] for character class".into())
}

/// Whether the text after `(?` calls a group: `(?R)`, `(?1)`, `(?+1)`, `(?-1)`, `(?&name)`,
/// `(?P>name)`. (`(?-i)` is a flag change, not a call.)
fn is_recursion(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        Some('R' | '&' | '0'..='9') => true,
        Some('P') => chars.next() == Some('>'),
        Some('+' | '-') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

fn is_counted_repetition(body: &str) -> bool {
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.is_none_or(|b| b.bytes().all(|c| c.is_ascii_digit()))
}

/// Rewrites unescaped `$` outside classes as PCRE's "end, or before a final newline".
fn pcre_dollar(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?=\\n?\\z)"),
            _ => out.push(c),
        }
    }
    out
}

/// Rewrites `\d \D \w \W \s \S` as ASCII sets for the Unicode-minded backtracking engine.
fn ascii_classes(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(n) = chars.next() else {
                out.push(c);
                break;
            };
            let set = match n {
                'd' => Some(("0-9", false)),
                'D' => Some(("0-9", true)),
                'w' => Some(("0-9A-Za-z_", false)),
                'W' => Some(("0-9A-Za-z_", true)),
                's' => Some(("\\t\\n\\x0B\\x0C\\r ", false)),
                'S' => Some(("\\t\\n\\x0B\\x0C\\r ", true)),
                _ => None,
            };
            match set {
                Some((set, false)) if in_class => out.push_str(set),
                Some((set, neg)) if !in_class => out.push_str(&format!("[{}{set}]", if neg { "^" } else { "" })),
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            continue;
        }
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn literal_alternatives_match_as_the_regex_engine_does() {
        let patterns = ["(?i:no-cache|no-store|private)", "(?i)no-store", "max-age=0", "a|bc", "(?i:A)"];
        let subjects: [&[u8]; 9] =
            [b"", b"max-age=3600", b"No-Cache", b"public, PRIVATE", b"no-stor", b"xbcx", b"a", b"\xffNO-STORE", b"A"];
        for p in patterns {
            let lits = Literals::of(p).unwrap_or_else(|| panic!("{p} is literal alternatives"));
            let re = regex::bytes::RegexBuilder::new(p).unicode(false).build().expect("regex");
            for s in subjects {
                assert_eq!(lits.is_match(s), re.is_match(s), "{p} on {s:?}");
            }
        }
        // Anything else is left to the engine.
        for p in ["a.b", "^no", "(?i:a)|(b)", "a|", "(?i)(a)", "a\\.b", "[ab]", "a*"] {
            assert_eq!(Literals::of(p), None, "{p}");
        }
        let long = [b'x'; 300];
        let re = VclRegex::new("(?i:x|y)").expect("regex");
        assert!(re.is_match(&long).expect("match") && !re.is_match(b"zz").expect("match"));
    }
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        VclRegex::new(p).unwrap().is_match(s.as_bytes()).unwrap()
    }

    fn sub(p: &str, s: &str, r: &str, all: bool) -> String {
        String::from_utf8(VclRegex::new(p).unwrap().substitute(s.as_bytes(), r.as_bytes(), all).unwrap()).unwrap()
    }

    #[test]
    fn simple_patterns_use_the_linear_engine() {
        let r = VclRegex::new("^/admin(/.*)?").unwrap();
        assert!(!r.is_backtracking());
        assert!(m("^/admin(/.*)?", "/admin/x"));
        assert!(m("(?i)HOST", "host"));
        assert!(!m("\\d", "٣"));
        assert!(m("[[:upper:]]", "aBc"));
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_pcre() {
        assert!(m("foo$", "foo"));
        assert!(m("foo$", "foo\n"));
        assert!(!m("foo$", "foo\nx"));
        assert_eq!(sub("o$", "foo\n", "0", false), "fo0\n");
        assert!(m("a\\Z", "a\n"));
    }

    #[test]
    fn pcre_only_constructs_route_to_backtracking() {
        for p in ["(a)\\1", "^(?!/admin)", "(?<=;)x", "(?>a+)b", "^a++a$"] {
            assert!(VclRegex::new(p).unwrap().is_backtracking(), "{p}");
        }
        assert!(!m("^a++a$", "aaa"));
        assert!(m("^(?!/admin)", "/public"));
        assert!(m("(\\w)\\1", "xaay"));
        assert!(!m("(\\w)\\1", "x٣٣y"));
    }

    #[test]
    fn unsupported_constructs_are_rejected_by_name() {
        for p in ["a\\Kb", "\\Qa.b\\E", "\\p{L}", "(?R)", "(?|a)", "(*UTF)a"] {
            assert!(VclRegex::new(p).is_err(), "{p}");
        }
        assert!(VclRegex::new("(").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn literal_braces_and_class_brackets_read_as_pcre_does() {
        assert!(m("a{,3}", "a{,3}"));
        assert!(m("x{", "x{"));
        assert!(m("[[]", "["));
        assert!(m("[a&&b]", "&"));
        assert!(m("a{2}", "aa"));
    }

    #[test]
    fn regsub_replacement_follows_varnish() {
        assert_eq!(sub("(b)(c)?", "abx", "<\\1\\2\\&\\\\>", false), "a<b&\\>x");
        assert_eq!(sub("a*", "aaa", "X", true), "X");
        assert_eq!(sub("x*", "abc", "-", true), "-abc");
        assert_eq!(sub("o", "foo", "0", true), "f00");
        assert_eq!(sub("z", "foo", "0", true), "foo");
        assert_eq!(
            sub("^.*;? ?PHPSESSID=([a-zA-Z0-9]+)( ?|;| ;).*$", "a=1; PHPSESSID=abc123; b=2", "\\1", true),
            "abc123"
        );
    }
}
