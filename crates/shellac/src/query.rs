//! varnishlog's query language (`-q`), for `shellac log` and `shellac ncsa`: a transaction is
//! shown when the query holds for one of its records (for `-g request`, for a record of one
//! of the group's transactions). The forms:
//!
//! - `TAG` — a record of that tag exists; `TAG,TAG`, and `Req*` for every tag starting so;
//! - `TAG:PREFIX` — a record whose data starts with `PREFIX:` (any case), the rest being its
//!   value (`ReqHeader:Host`);
//! - `TAG[N]` — the value's N-th field, split at white space, counted from 1;
//! - `LHS OP VALUE` with `==` `!=` `<` `<=` `>` `>=` (numbers), `eq` `ne` (strings), `~` `!~`
//!   (regular expressions); a value is a number, a word, or a quoted string;
//! - `not`, `and`, `or` (binding in that order) and parentheses.
//!
//! A record level (`{N}TAG`) is read and ignored: records carry no level here.

use std::fmt;

/// A parsed query.
#[derive(Debug)]
pub(crate) enum Query {
    Not(Box<Query>),
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Match(Box<RecordMatch>),
}

/// Which records, and what to take from them.
#[derive(Debug)]
pub(crate) struct Selector {
    /// Tag names, each possibly ending in `*`.
    tags: Vec<String>,
    prefix: Option<String>,
    field: Option<usize>,
}

/// One record test.
#[derive(Debug)]
pub(crate) struct RecordMatch {
    sel: Selector,
    test: Option<Test>,
}

#[derive(Debug)]
enum Test {
    Num(NumOp, f64),
    Str(bool, String),
    Regex(bool, regex::Regex),
}

#[derive(Debug, Clone, Copy)]
enum NumOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A query that does not parse: what, and where (a character offset).
#[derive(Debug)]
pub(crate) struct QueryError {
    pub(crate) at: usize,
    pub(crate) what: String,
    query: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "query: {} (at character {})", self.what, self.at + 1)?;
        writeln!(f, "  {}", self.query)?;
        write!(f, "  {}^", " ".repeat(self.at))
    }
}

impl std::error::Error for QueryError {}

// === parsing ===

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let err = |at: usize, what: &str| QueryError { at, what: what.to_string(), query: q.to_string() };
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            b'(' => {
                out.push((i, Tok::Open));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::Close));
                i += 1;
            }
            b'"' | b'\'' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "unterminated string")),
                        Some(&x) if x == c => break,
                        Some(b'\\') if b.get(i + 1).is_some() => {
                            s.push(b[i + 1]);
                            i += 2;
                            continue;
                        }
                        Some(&x) => s.push(x),
                    }
                    i += 1;
                }
                i += 1;
                out.push((start, Tok::Quoted(String::from_utf8_lossy(&s).into_owned())));
            }
            _ => {
                let ops: [&'static str; 8] = ["==", "!=", "<=", ">=", "!~", "<", ">", "~"];
                if let Some(op) = ops.iter().find(|op| q[i..].starts_with(**op)) {
                    out.push((i, Tok::Op(op)));
                    i += op.len();
                    continue;
                }
                while i < b.len() && !b[i].is_ascii_whitespace() && !b"()\"'=!<>~".contains(&b[i]) {
                    i += 1;
                }
                if i == start {
                    return Err(err(start, "unexpected character"));
                }
                out.push((start, Tok::Word(q[start..i].to_string())));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    q: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Query {
    /// Parses `q`.
    pub(crate) fn parse(q: &str) -> Result<Query, QueryError> {
        let mut p = Parser { q, toks: lex(q)?, pos: 0 };
        if p.toks.is_empty() {
            return Err(p.err(0, "empty query"));
        }
        let e = p.or()?;
        if let Some((at, _)) = p.toks.get(p.pos) {
            return Err(p.err(*at, "unexpected text after the query"));
        }
        Ok(e)
    }

    /// Whether it holds for a transaction (or a group) with these records.
    pub(crate) fn matches<'r>(
        &self,
        records: &dyn Fn() -> Box<dyn Iterator<Item = (&'static str, &'r str)> + 'r>,
    ) -> bool {
        match self {
            Query::Not(q) => !q.matches(records),
            Query::And(a, b) => a.matches(records) && b.matches(records),
            Query::Or(a, b) => a.matches(records) || b.matches(records),
            Query::Match(m) => records().any(|(tag, data)| m.holds(tag, data)),
        }
    }
}

impl Parser<'_> {
    fn err(&self, at: usize, what: &str) -> QueryError {
        QueryError { at, what: what.to_string(), query: self.q.to_string() }
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.q.len(), |t| t.0)
    }

    fn keyword(&mut self, k: &str) -> bool {
        if let Some((_, Tok::Word(w))) = self.toks.get(self.pos) {
            if w.eq_ignore_ascii_case(k) {
                self.pos += 1;
                return true;
            }
        }
        false
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Query::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Query, QueryError> {
        if self.keyword("not") {
            return Ok(Query::Not(Box::new(self.not()?)));
        }
        if let Some((_, Tok::Open)) = self.toks.get(self.pos) {
            self.pos += 1;
            let e = self.or()?;
            return match self.toks.get(self.pos) {
                Some((_, Tok::Close)) => {
                    self.pos += 1;
                    Ok(e)
                }
                _ => Err(self.err(self.at(), "expected )")),
            };
        }
        self.record()
    }

    fn record(&mut self) -> Result<Query, QueryError> {
        let at = self.at();
        let Some((_, Tok::Word(lhs))) = self.toks.get(self.pos).cloned() else {
            return Err(self.err(at, "expected a tag"));
        };
        if ["and", "or", "not"].iter().any(|k| lhs.eq_ignore_ascii_case(k)) {
            return Err(self.err(at, "expected a tag"));
        }
        self.pos += 1;
        let sel = Selector::parse(&lhs).map_err(|(off, what)| self.err(at + off, &what))?;
        let op_at = self.at();
        let op = match self.toks.get(self.pos) {
            Some((_, Tok::Op(op))) => Some(*op),
            Some((_, Tok::Word(w))) if w == "eq" || w == "ne" => Some(if w == "eq" { "eq" } else { "ne" }),
            _ => None,
        };
        let Some(op) = op else {
            return Ok(Query::Match(Box::new(RecordMatch { sel, test: None })));
        };
        self.pos += 1;
        let val_at = self.at();
        let value = match self.toks.get(self.pos) {
            Some((_, Tok::Word(w))) => w.clone(),
            Some((_, Tok::Quoted(s))) => s.clone(),
            _ => return Err(self.err(val_at, &format!("expected a value after {op}"))),
        };
        self.pos += 1;
        let test = match op {
            "eq" | "ne" => Test::Str(op == "eq", value),
            "~" | "!~" => {
                let re =
                    regex::Regex::new(&value).map_err(|e| self.err(val_at, &format!("bad regular expression: {e}")))?;
                Test::Regex(op == "~", re)
            }
            _ => {
                let n: f64 = value.parse().map_err(|_| {
                    self.err(val_at, &format!("{op} compares numbers: {value:?} is not one (use eq/ne for strings)"))
                })?;
                let op = match op {
                    "==" => NumOp::Eq,
                    "!=" => NumOp::Ne,
                    "<" => NumOp::Lt,
                    "<=" => NumOp::Le,
                    ">" => NumOp::Gt,
                    ">=" => NumOp::Ge,
                    _ => return Err(self.err(op_at, "unknown operator")),
                };
                Test::Num(op, n)
            }
        };
        Ok(Query::Match(Box::new(RecordMatch { sel, test: Some(test) })))
    }
}

impl Selector {
    /// `[{LEVEL}]TAG[,TAG…][:PREFIX][[FIELD]]`; an error is an offset into `s` and what.
    pub(crate) fn parse(s: &str) -> Result<Selector, (usize, String)> {
        let mut rest = s;
        let mut off = 0;
        if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').ok_or((0, "unterminated {level}".to_string()))?;
            off = end + 2;
            rest = &r[end + 1..];
        }
        let mut field = None;
        if let Some(open) = rest.find('[') {
            let close =
                rest[open..].find(']').map(|c| c + open).ok_or((off + open, "unterminated [field]".to_string()))?;
            let n: usize = rest[open + 1..close]
                .parse()
                .ok()
                .filter(|n| (1..=255).contains(n))
                .ok_or((off + open + 1, "a field is a number from 1 to 255".to_string()))?;
            if close + 1 != rest.len() {
                return Err((off + close + 1, "unexpected text after [field]".to_string()));
            }
            field = Some(n);
            rest = &rest[..open];
        }
        let (tags, prefix) = match rest.split_once(':') {
            Some((t, p)) if !p.is_empty() => (t, Some(p.to_string())),
            Some((_, _)) => return Err((off + rest.len(), "empty prefix after :".to_string())),
            None => (rest, None),
        };
        let tags: Vec<String> = tags.split(',').map(str::to_string).collect();
        if let Some(bad) = tags
            .iter()
            .find(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*'))
        {
            return Err((off, format!("bad tag {bad:?}")));
        }
        Ok(Selector { tags, prefix, field })
    }

    /// Whether `tag` is one of its tags.
    fn tag_matches(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| match t.strip_suffix('*') {
            Some(p) => tag.len() >= p.len() && tag[..p.len()].eq_ignore_ascii_case(p),
            None => tag.eq_ignore_ascii_case(t),
        })
    }

    /// The value it selects from a record, if the record is one of its.
    pub(crate) fn value<'d>(&self, tag: &str, data: &'d str) -> Option<&'d str> {
        if !self.tag_matches(tag) {
            return None;
        }
        let mut v = data;
        if let Some(p) = &self.prefix {
            let head = v.get(..p.len())?;
            if !head.eq_ignore_ascii_case(p) || !v[p.len()..].starts_with(':') {
                return None;
            }
            v = v[p.len() + 1..].trim_start();
        }
        match self.field {
            Some(n) => v.split_ascii_whitespace().nth(n - 1),
            None => Some(v),
        }
    }
}

impl RecordMatch {
    fn holds(&self, tag: &str, data: &str) -> bool {
        let Some(v) = self.sel.value(tag, data) else { return false };
        match &self.test {
            None => true,
            Some(Test::Str(eq, s)) => (v == s) == *eq,
            Some(Test::Regex(yes, re)) => re.is_match(v) == *yes,
            Some(Test::Num(op, n)) => {
                let Ok(x) = v.trim().parse::<f64>() else { return false };
                match op {
                    NumOp::Eq => x == *n,
                    NumOp::Ne => x != *n,
                    NumOp::Lt => x < *n,
                    NumOp::Le => x <= *n,
                    NumOp::Gt => x > *n,
                    NumOp::Ge => x >= *n,
                }
            }
        }
    }
}

/// The queries of `-q` options as one (or'ed), if any.
pub(crate) fn parse_all(queries: &[String]) -> anyhow::Result<Option<Query>> {
    let mut all: Option<Query> = None;
    for q in queries {
        let q = Query::parse(q)?;
        all = Some(match all {
            Some(a) => Query::Or(Box::new(a), Box::new(q)),
            None => q,
        });
    }
    Ok(all)
}

/// Whether `q` (if any) holds for the records of `txns`.
pub(crate) fn selects(q: Option<&Query>, txns: &[&crate::log::Txn]) -> bool {
    let Some(q) = q else { return true };
    q.matches(&|| Box::new(txns.iter().flat_map(|t| t.records())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(records: &[(&'static str, &str)]) -> crate::log::Txn {
        let mut t = crate::log::Txn::new(1, 'c');
        for (tag, data) in records {
            t.push(tag, data);
        }
        t
    }

    #[test]
    fn queries_select_as_varnishlog_does() {
        let t = txn(&[
            ("ReqMethod", "GET"),
            ("ReqURL", "/a/b?x=1"),
            ("ReqHeader", "Host: example.com"),
            ("ReqHeader", "User-Agent: curl/8"),
            ("RespStatus", "404"),
            ("Timestamp", "Resp: 1700000000.5 0.012 0.001"),
            ("VCL_call", "MISS"),
        ]);
        let rows: &[(&str, bool)] = &[
            ("RespStatus", true),
            ("BerespStatus", false),
            ("RespStatus == 404", true),
            ("RespStatus != 404", false),
            ("RespStatus >= 400 and RespStatus < 500", true),
            ("ReqURL ~ \"^/a/\"", true),
            ("ReqURL !~ \"^/a/\"", false),
            ("ReqMethod eq GET", true),
            ("ReqMethod ne 'GET'", false),
            ("ReqHeader:host eq \"example.com\"", true),
            ("ReqHeader:Host ~ example", true),
            ("ReqHeader:Accept", false),
            ("Timestamp:Resp[2] > 0.01", true),
            ("Timestamp:Resp[3] > 0.01", false),
            ("Req*", true),
            ("Resp*,Bereq*", true),
            ("not RespStatus == 200", true),
            ("RespStatus == 200 or VCL_call eq MISS", true),
            ("RespStatus == 200 or (VCL_call eq HIT and ReqMethod eq GET)", false),
            ("not (RespStatus == 200 or VCL_call eq HIT)", true),
            ("{1}ReqURL ~ b", true),
            ("RespStatus == 404 and not ReqHeader:User-Agent ~ curl", false),
        ];
        for (q, want) in rows {
            let parsed = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(selects(Some(&parsed), &[&t]), *want, "{q}");
        }
    }

    #[test]
    fn bad_queries_say_what_and_where() {
        let rows: &[(&str, usize, &str)] = &[
            ("", 0, "empty query"),
            ("RespStatus ==", 13, "expected a value"),
            ("RespStatus == abc", 14, "compares numbers"),
            ("ReqURL ~ \"(\"", 9, "bad regular expression"),
            ("(RespStatus", 11, "expected )"),
            ("RespStatus RespStatus", 11, "unexpected text"),
            ("Timestamp[0]", 10, "a field is a number"),
            ("ReqURL ~ \"x", 9, "unterminated string"),
            ("and", 0, "expected a tag"),
            ("RespStatus and", 14, "expected a tag"),
        ];
        for (q, at, what) in rows {
            let e = Query::parse(q).expect_err(q);
            assert!(e.what.contains(what), "{q}: {}", e.what);
            assert_eq!(e.at, *at, "{q}: {}", e.what);
        }
        let shown = Query::parse("RespStatus == abc").expect_err("bad").to_string();
        assert!(shown.ends_with("\n  RespStatus == abc\n                ^"), "{shown}");
    }
}
