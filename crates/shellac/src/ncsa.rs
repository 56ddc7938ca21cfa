//! `shellac ncsa`: a running Shellac's requests as access log lines, as `varnishncsa` writes
//! varnishd's: NCSA combined by default, or a `-F` format with varnishncsa's formatters
//! (`%b %D %H %h %I %{X}i %l %m %{X}o %O %q %r %s %t %{X}t %T %{X}T %U %u` and the extended
//! `%{Varnish:…}x`, `%{VCL_Log:key}x`, `%{VSL:tag:prefix[field]}x`). One line per client
//! request (`-c`, the default), per backend request (`-b`), or both; `-q` selects with
//! varnishlog's query language; `-w FILE` writes to a file that SIGHUP reopens (logrotate, see
//! [`crate::out`]); `-k` stops after so many lines; `-D`/`-P` make it a service (see
//! [`crate::daemon`]). Times (`%t`) are in UTC.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use shellac_engine::vsl::{Tag, TagSet};

use crate::cli::NcsaArgs;
use crate::log::Txn;
use crate::query::Selector;

mod source;
mod time;
use crate::out::Out;
use source::{Packed, Source};
use time::push_time;

/// varnishncsa's default: NCSA combined.
pub(crate) const DEFAULT_FORMAT: &str = "%h %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-agent}i\"";

/// One piece of a format.
#[derive(Debug)]
enum Item {
    Text(String),
    /// `%b` and the like: the letter, and the `{…}` argument if any.
    Field(char, Option<String>),
    /// `%{VSL:…}x`.
    Vsl(Selector),
}

/// A parsed format.
#[derive(Debug)]
pub(crate) struct Format(Vec<Item>);

impl Format {
    /// Parses a format string; an unknown formatter is an error that names it.
    pub(crate) fn parse(f: &str) -> anyhow::Result<Format> {
        let mut items = Vec::new();
        let mut text = String::new();
        let mut chars = f.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, other)) => {
                        text.push('\\');
                        text.push(other);
                    }
                    None => text.push('\\'),
                },
                '%' => {
                    let mut arg = None;
                    if chars.peek().is_some_and(|(_, c)| *c == '{') {
                        chars.next();
                        let mut a = String::new();
                        let mut depth = 1;
                        loop {
                            match chars.next() {
                                Some((_, '{')) => {
                                    depth += 1;
                                    a.push('{');
                                }
                                Some((_, '}')) => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                    a.push('}');
                                }
                                Some((_, c)) => a.push(c),
                                None => bail!("format: unterminated %{{ at character {}", at + 1),
                            }
                        }
                        arg = Some(a);
                    }
                    let Some((_, letter)) = chars.next() else { bail!("format: % at the end") };
                    if letter == '%' && arg.is_none() {
                        text.push('%');
                        continue;
                    }
                    let with_arg = "ioxtT";
                    let plain = "bDHhIlmOqrsTtUu";
                    let known = if arg.is_some() { with_arg.contains(letter) } else { plain.contains(letter) };
                    if !known {
                        let shown = arg.as_ref().map_or(String::new(), |a| format!("{{{a}}}"));
                        bail!("format: unknown formatter %{shown}{letter} at character {}", at + 1);
                    }
                    if !text.is_empty() {
                        items.push(Item::Text(std::mem::take(&mut text)));
                    }
                    if letter == 'x' {
                        let a = arg.unwrap_or_default();
                        if let Some(sel) = a.strip_prefix("VSL:") {
                            let sel = Selector::parse(sel)
                                .map_err(|(_, what)| anyhow::anyhow!("format: %{{{a}}}x: {what}"))?;
                            items.push(Item::Vsl(sel));
                            continue;
                        }
                        let ok = a.starts_with("VCL_Log:")
                            || [
                                "Varnish:time_firstbyte",
                                "Varnish:hitmiss",
                                "Varnish:handling",
                                "Varnish:side",
                                "Varnish:vxid",
                            ]
                            .contains(&a.as_str());
                        if !ok {
                            bail!("format: unknown extended variable %{{{a}}}x at character {}", at + 1);
                        }
                        items.push(Item::Field('x', Some(a)));
                        continue;
                    }
                    if letter == 'T' {
                        if let Some(a) = &arg {
                            if !["s", "ms", "us"].contains(&a.as_str()) {
                                bail!("format: %{{{a}}}T: the unit is s, ms or us");
                            }
                        }
                    }
                    items.push(Item::Field(letter, arg));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        Ok(Format(items))
    }

    /// The records its lines are made of (with whatever `wanted` and `%{VSL:…}x` need): a
    /// reader decodes no others.
    pub(crate) fn tags(&self) -> TagSet {
        use shellac_engine::vsl::Tag as T;
        let mut set = TagSet::of(&[T::Begin, T::Link, T::End]);
        for item in &self.0 {
            let more: &[T] = match item {
                Item::Text(_) => &[],
                Item::Vsl(_) => return TagSet::ALL,
                Item::Field(c, arg) => match c {
                    'b' | 'I' | 'O' => &[T::ReqAcct, T::BereqAcct],
                    'D' | 'T' | 't' => &[T::Timestamp],
                    'H' => &[T::ReqProtocol, T::BereqProtocol],
                    'h' => &[T::ReqStart, T::BackendOpen],
                    'i' | 'u' => &[T::ReqHeader, T::BereqHeader],
                    'o' => &[T::RespHeader, T::BerespHeader],
                    'm' => &[T::ReqMethod, T::BereqMethod],
                    'q' | 'U' => &[T::ReqURL, T::BereqURL],
                    'r' => &[
                        T::ReqMethod,
                        T::BereqMethod,
                        T::ReqHeader,
                        T::BereqHeader,
                        T::ReqProtocol,
                        T::BereqProtocol,
                        T::ReqURL,
                        T::BereqURL,
                    ],
                    's' => &[T::RespStatus, T::BerespStatus],
                    'x' => match arg.as_deref() {
                        Some("Varnish:time_firstbyte") => &[T::Timestamp],
                        Some("Varnish:hitmiss" | "Varnish:handling") => &[T::VCL_call],
                        Some(a) if a.starts_with("VCL_Log:") => &[T::VCL_Log],
                        _ => &[],
                    },
                    _ => &[],
                },
            };
            set = more.iter().fold(set, |s, t| s.with(*t));
        }
        set
    }

    /// The labels of the `Timestamp` records its lines read (`None`: any, for a `%{VSL:…}x`): a
    /// reader writes out the numbers of no other timestamp.
    pub(crate) fn stamps(&self) -> Option<Vec<&'static str>> {
        let mut labels = Vec::new();
        for item in &self.0 {
            let more: &[&'static str] = match item {
                Item::Text(_) => &[],
                Item::Vsl(_) => return None,
                Item::Field(c, arg) => match c {
                    'D' | 'T' => &["Resp", "BerespBody", "PipeSess"],
                    't' => &["Start"],
                    'x' if arg.as_deref() == Some("Varnish:time_firstbyte") => &["Process", "Beresp"],
                    _ => &[],
                },
            };
            labels.extend_from_slice(more);
        }
        Some(labels)
    }

    /// The line for a transaction (without its newline); `json` as `-j`.
    #[cfg(test)]
    pub(crate) fn line(&self, t: &Txn, json: bool) -> String {
        let mut out = String::with_capacity(256);
        self.line_into(&mut out, t, json);
        out
    }

    /// The line for a transaction (without its newline), added to `out` (the batch's lines).
    fn line_into(&self, out: &mut String, t: &impl Source, json: bool) {
        let v = View { t, backend: t.side() == 'b' };
        for item in &self.0 {
            match item {
                Item::Text(s) => out.push_str(s),
                Item::Vsl(sel) => push_str(out, t.vsl(sel), json),
                Item::Field(c, arg) => v.field(out, *c, arg.as_deref(), json),
            }
        }
    }

    /// The line (and its newline) for a transaction as the shared file holds it, if it gives
    /// one (see [`wanted`]: `client`, `backend`), added to `out`; its records of `tags` are
    /// read (`spans`: room for where they are, kept from one transaction to the next). For a
    /// format that reads no `%{VSL:…}x`.
    fn raw_line_into(
        &self,
        out: &mut String,
        raw: &shellac_engine::vsl::Raw<'_>,
        (tags, spans): (TagSet, &mut Vec<(Tag, std::ops::Range<usize>)>),
        (client, backend, json): (bool, bool, bool),
    ) {
        spans.clear();
        spans.extend(raw.spans().filter(|(tag, _)| tags.contains(*tag)));
        let packed = Packed {
            vxid: raw.vxid,
            side: raw.side.letter(),
            body: raw.body(),
            spans,
            lossy: std::cell::Cell::new(false),
        };
        let at = out.len();
        self.wanted_line_into(out, &packed, (client, backend, json));
        if packed.lossy.get() {
            out.truncate(at);
            self.wanted_line_into(out, &Txn::from(raw.text(tags)), (client, backend, json));
        }
    }

    /// The line and its newline for `t`, if it gives one (see [`wanted`]).
    fn wanted_line_into(&self, out: &mut String, t: &impl Source, (client, backend, json): (bool, bool, bool)) {
        if wanted(t, client, backend) {
            self.line_into(out, t, json);
            out.push('\n');
        }
    }

    /// Whether its lines read `%{VSL:…}x`, which may name any record: those are made from
    /// text only.
    fn reads_any_record(&self) -> bool {
        self.0.iter().any(|i| matches!(i, Item::Vsl(_)))
    }
}

/// A value as varnishncsa writes it: `-` when missing (`""` under -j), escaped.
fn push_str(out: &mut String, v: Option<&str>, json: bool) {
    match v {
        None => out.push_str(if json { "" } else { "-" }),
        // (Nearly every value needs no escape: copied whole. Every byte is looked at, with no
        // early exit, so that the compiler checks many at a time.)
        Some(s) if !s.bytes().fold(false, |odd, b| odd | (b == b'"') | (b == b'\\') | (b < 0x20) | (b == 0x7f)) => {
            out.push_str(s)
        }
        Some(s) => {
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                        if json {
                            out.push_str(&format!("\\u{:04x}", c as u32));
                        } else {
                            out.push_str(&format!("\\x{:02x}", c as u32));
                        }
                    }
                    c => out.push(c),
                }
            }
        }
    }
}

/// A number, or `-` (`null` under -j) when missing (written where it goes: a line is made
/// for every request).
fn push_num(out: &mut String, v: Option<impl std::fmt::Display>, json: bool) {
    use std::fmt::Write as _;
    match v {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str(if json { "null" } else { "-" }),
    }
}

/// One transaction, read the way the formatters want it.
struct View<'a, S> {
    t: &'a S,
    backend: bool,
}

impl<S: Source> View<'_, S> {
    fn first(&self, tag: Tag) -> Option<&str> {
        self.t.of(tag).next()
    }

    /// The data of the last record of `tag` (a status VCL changed is logged again: the last
    /// one went out).
    fn last(&self, tag: Tag) -> Option<&str> {
        self.t.of(tag).next_back()
    }

    /// A header's value (the last one of that name, or with `first` the first): `tag` is
    /// `ReqHeader`/`RespHeader` on the client, `BereqHeader`/`BerespHeader` on the backend.
    fn header_at(&self, tag: Tag, name: &str, first: bool) -> Option<&str> {
        if name.contains(':') {
            return None;
        }
        // (Read for every record of every line: the tag first, then the name where it must
        // be, on the bytes, with no search for the colon; only the one found is made text.)
        let n = name.len();
        let named = |d: &[u8]| d.get(n) == Some(&b':') && d[..n].eq_ignore_ascii_case(name.as_bytes());
        Some(self.t.find(tag, !first, named)?[n + 1..].trim_start())
    }

    /// A header's value (the last one of that name).
    fn header(&self, tag: Tag, name: &str) -> Option<&str> {
        self.header_at(tag, name, false)
    }

    fn req_tag(&self, client: Tag, backend: Tag) -> Tag {
        if self.backend {
            backend
        } else {
            client
        }
    }

    /// A `Timestamp` record's field (1: absolute, 2: since start).
    fn timestamp(&self, label: &str, field: usize) -> Option<f64> {
        self.t.timestamp(label, field)
    }

    /// `ReqAcct`'s (or `BereqAcct`'s) N-th field.
    fn acct(&self, n: usize) -> Option<u64> {
        self.t.number(self.req_tag(Tag::ReqAcct, Tag::BereqAcct), n)
    }

    fn url(&self) -> Option<&str> {
        self.first(self.req_tag(Tag::ReqURL, Tag::BereqURL))
    }

    /// How long it took, in seconds.
    fn duration(&self) -> Option<f64> {
        self.timestamp(if self.backend { "BerespBody" } else { "Resp" }, 2)
            .or_else(|| (!self.backend).then(|| self.timestamp("PipeSess", 2)).flatten())
    }

    /// When it began.
    fn start(&self) -> Option<f64> {
        self.timestamp("Start", 1)
    }

    /// `hit`/`miss` and how it was handled, from the VCL calls as they came.
    fn handling(&self) -> (&'static str, &'static str) {
        let mut h = ("miss", "miss");
        for data in self.t.of(Tag::VCL_call) {
            h = match data {
                "HIT" => ("hit", "hit"),
                "MISS" => ("miss", "miss"),
                "PASS" => ("miss", "pass"),
                "PIPE" => ("miss", "pipe"),
                "SYNTH" => ("miss", "synth"),
                _ => h,
            };
        }
        h
    }

    fn field(&self, out: &mut String, c: char, arg: Option<&str>, json: bool) {
        match c {
            // The body's bytes: `0` for none (a HEAD, a 304, a 204), `-` only without the
            // accounting record (a pipe), as varnishncsa 7.1.1 writes them; not CLF's `-` for 0.
            'b' => push_num(out, self.acct(5), json),
            'D' => push_num(out, self.duration().map(|d| format!("{:.0}", d * 1e6)), json),
            'T' if arg.is_none() => push_num(out, self.duration().map(|d| format!("{}", d as u64)), json),
            'T' => {
                let d = self.duration();
                push_num(
                    out,
                    match arg {
                        Some("ms") => d.map(|d| format!("{}", (d * 1e3) as u64)),
                        Some("us") => d.map(|d| format!("{:.0}", d * 1e6)),
                        _ => d.map(|d| format!("{}", d as u64)),
                    },
                    json,
                )
            }
            'H' => push_str(
                out,
                Some(self.first(self.req_tag(Tag::ReqProtocol, Tag::BereqProtocol)).unwrap_or("HTTP/1.0")),
                json,
            ),
            'h' => {
                let host = if self.backend {
                    self.first(Tag::BackendOpen).and_then(|r| r.split_ascii_whitespace().nth(2))
                } else {
                    self.first(Tag::ReqStart).and_then(|r| r.split_ascii_whitespace().next())
                };
                push_str(out, host, json);
            }
            'I' => push_num(out, self.acct(3), json),
            'O' => push_num(out, self.acct(6), json),
            'i' => push_str(out, self.header(self.req_tag(Tag::ReqHeader, Tag::BereqHeader), arg.unwrap_or("")), json),
            'o' => {
                push_str(out, self.header(self.req_tag(Tag::RespHeader, Tag::BerespHeader), arg.unwrap_or("")), json)
            }
            'l' => out.push('-'),
            'm' => push_str(out, self.first(self.req_tag(Tag::ReqMethod, Tag::BereqMethod)), json),
            'q' => out.push_str(self.url().and_then(|u| u.find('?').map(|i| &u[i..])).unwrap_or("")),
            'U' => push_str(out, self.url().map(|u| u.split('?').next().unwrap_or(u)), json),
            'r' => {
                let method = self.first(self.req_tag(Tag::ReqMethod, Tag::BereqMethod)).unwrap_or("-");
                // (The first Host, as varnishncsa takes it.)
                let host = self.header_at(self.req_tag(Tag::ReqHeader, Tag::BereqHeader), "host", true);
                let proto = self.first(self.req_tag(Tag::ReqProtocol, Tag::BereqProtocol)).unwrap_or("HTTP/1.0");
                let url = self.url().unwrap_or("-");
                for part in [method, " http://", host.unwrap_or("localhost"), url, " ", proto] {
                    push_str(out, Some(part), json);
                }
            }
            's' => push_num(out, self.last(self.req_tag(Tag::RespStatus, Tag::BerespStatus)), json),
            't' => match self.start() {
                Some(t) => push_time(out, arg.unwrap_or("[%d/%b/%Y:%T %z]"), t),
                None => out.push('-'),
            },
            'u' => push_str(out, self.user().as_deref(), json),
            'x' => self.extended(out, arg.unwrap_or(""), json),
            _ => {}
        }
    }

    /// `%u`: the user of a Basic `Authorization`.
    fn user(&self) -> Option<String> {
        let auth = self.header(self.req_tag(Tag::ReqHeader, Tag::BereqHeader), "authorization")?;
        let (scheme, cred) = auth.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64_decode(cred.trim())?;
        let text = String::from_utf8_lossy(&decoded).into_owned();
        Some(text.split(':').next().unwrap_or("").to_string())
    }

    fn extended(&self, out: &mut String, arg: &str, json: bool) {
        match arg {
            "Varnish:time_firstbyte" => {
                let t = self.timestamp(if self.backend { "Beresp" } else { "Process" }, 2);
                push_num(out, t.map(|t| format!("{t:.6}")), json);
            }
            "Varnish:hitmiss" => out.push_str(self.handling().0),
            "Varnish:handling" => out.push_str(self.handling().1),
            "Varnish:side" => out.push(self.t.side()),
            "Varnish:vxid" => out.push_str(&self.t.vxid().to_string()),
            _ => {
                let key = arg.strip_prefix("VCL_Log:").unwrap_or("");
                let value = self.t.of(Tag::VCL_Log).find_map(|d| {
                    let (k, v) = d.split_once(':')?;
                    (k == key).then(|| v.trim_start())
                });
                push_str(out, value, json);
            }
        }
    }
}

/// Standard base64, padded or not (for `%u`).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().take_while(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Whether a transaction gives a line: a client request that was not restarted (its
/// restart is the one that gives it) or a backend request, as the sides asked.
fn wanted(t: &impl Source, client: bool, backend: bool) -> bool {
    match t.side() {
        'c' => {
            client
                && t.first_record().is_some_and(|(tag, d)| tag == Some(Tag::Begin) && d.starts_with("req "))
                && !t.of(Tag::Link).any(|d| d.ends_with(" restart"))
        }
        'b' => backend,
        _ => false,
    }
}

/// Runs `shellac ncsa`.
pub(crate) fn run(args: &NcsaArgs) -> anyhow::Result<ExitCode> {
    let text = match (&args.format, &args.format_file) {
        (Some(f), _) => f.clone(),
        (None, Some(path)) => {
            let all = std::fs::read_to_string(path).with_context(|| format!("-f {path}"))?;
            all.lines().next().unwrap_or("").to_string()
        }
        (None, None) => DEFAULT_FORMAT.to_string(),
    };
    let format = Format::parse(&text)?;
    let query = crate::query::parse_all(&args.query)?;
    let (client, backend) = (args.client || !args.backend, args.backend);
    // Everything checked: the output, to the background (-D), the pid file (-P).
    let Some(mut started) = crate::daemon::start(&args.service)? else { return Ok(ExitCode::SUCCESS) };
    let crate::daemon::Started { out, left, .. } = &mut started;
    crate::daemon::finished(follow(args, &format, query.as_ref(), (client, backend), out, left))
}

/// The lines of what `args` selects, written to `out` as they come; at most `left` of them
/// (then [`crate::daemon::Done`]).
fn follow(
    args: &NcsaArgs,
    format: &Format,
    query: Option<&crate::query::Query>,
    (client, backend): (bool, bool),
    out: &mut Out,
    left: &mut Option<u64>,
) -> anyhow::Result<ExitCode> {
    // (A query may look at any record.)
    let (tags, stamps) = if query.is_some() { (TagSet::ALL, None) } else { (format.tags(), format.stamps()) };
    // On the server's machine, with no query and no `%{VSL:…}x`: lines made from the shared
    // file's bytes as they are.
    if let Some(dir) = crate::log::shared_dir(&args.reach).filter(|_| query.is_none() && !format.reads_any_record()) {
        let (mut spans, mut lines) = (Vec::new(), String::new());
        return crate::log::follow_shared(&dir, args.dump, (tags, stamps.as_deref()), &mut |reader| {
            let mut any = false;
            let lost = reader
                .read_raw(|raw| {
                    any = true;
                    format.raw_line_into(&mut lines, &raw, (tags, &mut spans), (client, backend, args.json));
                })
                .context("the shared log")?;
            let done = limit(&mut lines, left);
            out.write(&lines)?;
            lines.clear();
            if done {
                return Err(crate::daemon::Done.into());
            }
            Ok((any, lost))
        });
    }
    crate::log::follow(&args.reach, args.dump, tags, stamps.as_deref(), |txns| {
        let mut lines = String::with_capacity(256 * txns.len());
        for t in txns.iter().filter(|t| wanted(*t, client, backend)) {
            if crate::query::selects(query, &[t]) {
                format.line_into(&mut lines, t, args.json);
                lines.push('\n');
            }
        }
        let done = limit(&mut lines, left);
        out.write(&lines)?;
        if done {
            return Err(crate::daemon::Done.into());
        }
        Ok(())
    })
}

/// `-k`: cuts `lines` to the lines `left` allows and counts them off; whether that was the last.
fn limit(lines: &mut String, left: &mut Option<u64>) -> bool {
    let Some(n) = left else { return false };
    let mut count = 0;
    for (i, b) in lines.bytes().enumerate() {
        if b == b'\n' {
            count += 1;
            if count == *n {
                lines.truncate(i + 1);
                break;
            }
        }
    }
    *n = n.saturating_sub(count);
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(vxid: u64, side: char, records: &[(&'static str, &str)]) -> Txn {
        let mut t = Txn::new(vxid, side);
        for (tag, data) in records {
            t.push(tag, data);
        }
        t
    }

    /// A client request as Shellac logs it (and varnishd 7.1.1, the same traffic: its
    /// varnishncsa wrote the expected lines).
    fn miss() -> Txn {
        txn(
            2,
            'c',
            &[
                ("Begin", "req 1 rxreq"),
                ("Timestamp", "Start: 1796584732.786556 0.000000 0.000000"),
                ("ReqStart", "127.0.0.1 34194 a0"),
                ("ReqMethod", "GET"),
                ("ReqURL", "/q?x=1"),
                ("ReqProtocol", "HTTP/1.1"),
                ("ReqHeader", "Host: 127.0.0.1:18700"),
                ("ReqHeader", "User-Agent: ua/1"),
                ("ReqHeader", "Referer: http://ref/"),
                ("ReqHeader", "Authorization: Basic dXNlcjpwYXNz"),
                ("VCL_call", "RECV"),
                ("VCL_Log", "key:value1"),
                ("VCL_call", "MISS"),
                ("Link", "bereq 3 fetch"),
                ("Timestamp", "Process: 1796584732.787031 0.000475 0.000016"),
                ("RespStatus", "200"),
                ("RespHeader", "Content-Type: text/html"),
                ("Timestamp", "Resp: 1796584732.787376 0.000819 0.000344"),
                ("ReqAcct", "95 0 95 317 6 323"),
                ("End", ""),
            ],
        )
    }

    /// Transactions as a server records them, in the shared file's binary form: a miss, its
    /// fetch, a request with a header that is not UTF-8 and a log line with a newline, and a
    /// restarted request.
    fn recorded() -> Vec<std::sync::Arc<shellac_engine::vsl::Txn>> {
        use shellac_engine::vsl::{Buffer, Log, Num::U, Side};
        let log = Log::default();
        log.read(u64::MAX, 1);
        let t0 = 1_796_584_732.786_556_4;
        let client = |vxid: u64, ua: &[u8], note: &str, restart: bool| {
            let mut b = Buffer::new(&log, vxid, Side::Client);
            if let Some(mut r) = b.rec(Tag::Begin) {
                r.s("req 1 rxreq");
            }
            b.timestamp("Start", t0);
            b.timestamp("Req", t0);
            b.add_str(Tag::ReqStart, "127.0.0.1 34194 a0");
            b.add_str(Tag::ReqMethod, "GET");
            b.add_str(Tag::ReqURL, "/q?x=1");
            b.add_str(Tag::ReqProtocol, "HTTP/1.1");
            b.add_header(Tag::ReqHeader, "host", b"127.0.0.1:18700");
            b.add_header(Tag::ReqHeader, "user-agent", ua);
            b.add_header(Tag::ReqHeader, "referer", b"http://ref/");
            b.add_header(Tag::ReqHeader, "authorization", b"Basic dXNlcjpwYXNz");
            b.add_str(Tag::VCL_call, "RECV");
            b.add_str(Tag::VCL_Log, note);
            b.add_str(Tag::VCL_call, "MISS");
            b.add_str(Tag::Link, if restart { "req 9 restart" } else { "bereq 3 fetch" });
            b.timestamp("Fetch", t0 + 0.000_412_5);
            b.timestamp("Process", t0 + 0.000_475);
            b.add_str(Tag::RespProtocol, "HTTP/1.1");
            b.add_str(Tag::RespStatus, "200");
            b.add_header(Tag::RespHeader, "content-type", b"text/html");
            b.timestamp("Resp", t0 + 0.000_819_5);
            b.nums(Tag::ReqAcct, &[U(95), U(0), U(95), U(317), U(6), U(323)]);
            b.commit(&log);
        };
        client(2, b"ua/1", "key:value1", false);
        let mut b = Buffer::new(&log, 3, Side::Backend);
        if let Some(mut r) = b.rec(Tag::Begin) {
            r.s("bereq 2 fetch");
        }
        b.timestamp("Start", t0 + 0.000_1);
        b.add_str(Tag::BereqMethod, "GET");
        b.add_str(Tag::BereqURL, "/q?x=1");
        b.add_str(Tag::BereqProtocol, "HTTP/1.1");
        b.add_header(Tag::BereqHeader, "host", b"127.0.0.1:18700");
        b.add_str(Tag::BackendOpen, "20 default 127.0.0.1 8080 127.0.0.1 5555 connect");
        b.timestamp("Beresp", t0 + 0.000_3);
        b.add_str(Tag::BerespProtocol, "HTTP/1.1");
        b.add_str(Tag::BerespStatus, "200");
        b.add_header(Tag::BerespHeader, "content-type", b"text/html");
        b.timestamp("BerespBody", t0 + 0.000_35);
        b.nums(Tag::BereqAcct, &[U(120), U(0), U(120), U(150), U(6), U(156)]);
        b.commit(&log);
        client(4, b"ua\xff/2", "key:two\nlines", false);
        client(5, b"ua/1", "key:v", true);
        log.read(0, 100).txns
    }

    #[test]
    fn lines_from_the_shared_files_bytes_are_the_lines_from_text() {
        use shellac_engine::vsl::{decode_raw, FoundRaw};
        let formats = [
            DEFAULT_FORMAT,
            "%b %D %H %h %I %{Referer}i %l %m %{Content-Type}o %O %q %r %s %t %T %{ms}T %{us}T %U %u",
            "%{Varnish:time_firstbyte}x %{Varnish:hitmiss}x %{Varnish:handling}x %{Varnish:side}x \
             %{Varnish:vxid}x %{VCL_Log:key}x %{User-Agent}i %{%s}t",
        ];
        let txns = recorded();
        assert_eq!(txns.len(), 4);
        let mut spans = Vec::new();
        let mut lines = 0;
        for text in formats {
            let f = Format::parse(text).expect("format");
            for (client, backend) in [(true, false), (false, true), (true, true)] {
                for json in [false, true] {
                    for t in &txns {
                        let FoundRaw::Txn(raw, _) = decode_raw(t.bytes()) else { panic!("a whole transaction") };
                        let mut packed = String::new();
                        f.raw_line_into(&mut packed, &raw, (f.tags(), &mut spans), (client, backend, json));
                        let t = Txn::from(raw.text(TagSet::ALL));
                        let want = if wanted(&t, client, backend) { f.line(&t, json) + "\n" } else { String::new() };
                        assert_eq!(packed, want, "{text:?}, vxid {}, json {json}", t.vxid);
                        lines += usize::from(!want.is_empty());
                    }
                }
            }
        }
        // Each format: the two clients not restarted and the fetch, per side asked for.
        assert_eq!(lines, 3 * 2 * (2 + 1 + 3));
    }

    #[test]
    fn lines_are_varnishncsa_lines() {
        let t = miss();
        let combined = Format::parse(DEFAULT_FORMAT).expect("parses");
        assert_eq!(
            combined.line(&t, false),
            "127.0.0.1 - user [06/Dec/2026:19:18:52 +0000] \"GET http://127.0.0.1:18700/q?x=1 HTTP/1.1\" 200 6 \"http://ref/\" \"ua/1\""
        );
        let f = Format::parse(
            "%{Varnish:hitmiss}x %{Varnish:handling}x %{Varnish:time_firstbyte}x %{VCL_Log:key}x %D %T %I %O %U %q %m %H %{Varnish:vxid}x %{Varnish:side}x %{VSL:Begin[2]}x %{VSL:Timestamp:Process}x %{Content-Type}o %{X}i %{%F %T}t %{msec}t",
        )
        .expect("parses");
        assert_eq!(
            f.line(&t, false),
            "miss miss 0.000475 value1 819 0 95 323 /q ?x=1 GET HTTP/1.1 2 c 1 1796584732.787031 0.000475 0.000016 text/html - 2026-12-06 19:18:52 1796584732786"
        );
        assert_eq!(Format::parse("%{X}i|%b").expect("parses").line(&t, true), "|6");
    }

    #[test]
    fn what_vcl_changed_counts_as_varnishncsa_counts_it() {
        // varnishd 7.1.1's records of a request whose vcl_recv set and unset headers and the
        // URL and whose vcl_deliver changed the status and unset a header; its varnishncsa
        // wrote `/x|ua2|r|*/*|202|BaseHTTP/0.6|1`: the first URL, a header's last line
        // (unsets count for nothing), the last status.
        let t = txn(
            2,
            'c',
            &[
                ("Begin", "req 1 rxreq"),
                ("Timestamp", "Start: 1796664285.777484 0.000000 0.000000"),
                ("ReqStart", "127.0.0.1 42324 a0"),
                ("ReqMethod", "GET"),
                ("ReqURL", "/x"),
                ("ReqProtocol", "HTTP/1.1"),
                ("ReqHeader", "Host: 127.0.0.1:18651"),
                ("ReqHeader", "User-Agent: curl/7.88.1"),
                ("ReqHeader", "Accept: */*"),
                ("ReqHeader", "X-Req: old"),
                ("VCL_call", "RECV"),
                ("ReqUnset", "X-Req: old"),
                ("ReqHeader", "X-Req: r"),
                ("ReqUnset", "Accept: */*"),
                ("ReqUnset", "User-Agent: curl/7.88.1"),
                ("ReqHeader", "User-Agent: ua2"),
                ("ReqURL", "/cache/9"),
                ("VCL_return", "hash"),
                ("RespProtocol", "HTTP/1.1"),
                ("RespStatus", "201"),
                ("RespReason", "Made"),
                ("RespHeader", "Server: BaseHTTP/0.6"),
                ("VCL_call", "DELIVER"),
                ("RespHeader", "X-Test: 1"),
                ("RespUnset", "Server: BaseHTTP/0.6"),
                ("RespStatus", "202"),
                ("RespReason", "Accepted"),
                ("VCL_return", "deliver"),
                ("Timestamp", "Resp: 1796664285.779288 0.001803 0.000030"),
                ("End", ""),
            ],
        );
        let f = Format::parse("%U|%{User-agent}i|%{X-Req}i|%{Accept}i|%s|%{Server}o|%{X-Test}o").expect("parses");
        assert_eq!(f.line(&t, false), "/x|ua2|r|*/*|202|BaseHTTP/0.6|1");
    }

    #[test]
    fn handling_follows_the_vcl_calls() {
        let rows: &[(&[&str], &str)] = &[
            (&["RECV", "HASH", "HIT", "DELIVER"], "hit hit"),
            (&["RECV", "HASH", "MISS", "DELIVER"], "miss miss"),
            (&["RECV", "HASH", "PASS", "DELIVER"], "miss pass"),
            (&["RECV", "HASH", "MISS", "PASS"], "miss pass"),
            (&["RECV", "HASH", "PIPE"], "miss pipe"),
            (&["RECV", "HASH", "SYNTH"], "miss synth"),
        ];
        let f = Format::parse("%{Varnish:hitmiss}x %{Varnish:handling}x").expect("parses");
        for (calls, want) in rows {
            let recs: Vec<(&str, &str)> = calls.iter().map(|c| ("VCL_call", *c)).collect();
            assert_eq!(f.line(&txn(1, 'c', &recs), false), *want, "{calls:?}");
        }
    }

    /// A 304 from the cache: varnishncsa 7.1.1 wrote `304 0` for these records.
    #[test]
    fn no_body_is_0_bytes_and_no_accounting_is_a_dash() {
        let f = Format::parse("%s %b").expect("parses");
        let not_modified =
            txn(1, 'c', &[("Begin", "req 1 rxreq"), ("RespStatus", "304"), ("ReqAcct", "99 0 99 180 0 180")]);
        assert_eq!(f.line(&not_modified, false), "304 0");
        let piped = txn(1, 'c', &[("Begin", "req 1 rxreq"), ("PipeAcct", "99 0 99 180")]);
        assert_eq!(f.line(&piped, false), "- -");
    }

    #[test]
    fn backend_lines_read_the_backend_records() {
        let t = txn(
            3,
            'b',
            &[
                ("Begin", "bereq 2 fetch"),
                ("Timestamp", "Start: 1796584732.786652 0.000000 0.000000"),
                ("BereqMethod", "GET"),
                ("BereqURL", "/a"),
                ("BereqProtocol", "HTTP/1.1"),
                ("BereqHeader", "Host: 127.0.0.1:18700"),
                ("BackendOpen", "23 o 127.0.0.2 18702 127.0.0.1 51454 connect"),
                ("Timestamp", "Beresp: 1796584732.786935 0.000283 0.000161"),
                ("BerespStatus", "200"),
                ("Timestamp", "BerespBody: 1796584732.787022 0.000370 0.000069"),
                ("BereqAcct", "160 0 160 263 0 263"),
            ],
        );
        let f = Format::parse("%h \"%r\" %s %b %D %{Varnish:time_firstbyte}x %{Varnish:side}x").expect("parses");
        assert_eq!(f.line(&t, false), "127.0.0.2 \"GET http://127.0.0.1:18700/a HTTP/1.1\" 200 0 370 0.000283 b");
        assert!(wanted(&t, false, true) && !wanted(&t, true, false));
    }

    /// `t` with only the records a reader decodes for `tags` and, of the timestamps, `stamps`.
    fn only(t: &Txn, tags: TagSet, stamps: Option<&[&str]>) -> Txn {
        let mut out = Txn::new(t.vxid, t.side);
        for (tag, data) in t.records() {
            let known = shellac_engine::vsl::Tag::from_name(tag).expect("a known tag");
            let label = data.split(':').next().unwrap_or(data);
            let stamped = tag != "Timestamp" || stamps.is_none_or(|s| s.contains(&label));
            if tags.contains(known) && stamped {
                out.push(tag, data);
            }
        }
        out
    }

    #[test]
    fn each_formatter_reads_only_records_its_format_keeps() {
        let backend = {
            // The backend side's records, with the client side's left in (they must not count).
            let mut t = Txn::new(3, 'b');
            for (tag, data) in miss().records() {
                t.push(tag, data);
            }
            for (tag, data) in [
                ("BereqMethod", "POST"),
                ("BereqURL", "/b?y=2"),
                ("BereqProtocol", "HTTP/1.0"),
                ("BereqHeader", "Host: origin"),
                ("BereqHeader", "Authorization: Basic Ym9iOng="),
                ("BackendOpen", "23 o 127.0.0.2 18702 127.0.0.1 51454 connect"),
                ("Timestamp", "Beresp: 1796584732.786935 0.000283 0.000161"),
                ("BerespStatus", "503"),
                ("BerespHeader", "Content-Type: text/plain"),
                ("Timestamp", "BerespBody: 1796584732.787022 0.000370 0.000069"),
                ("BereqAcct", "160 0 160 263 7 270"),
            ] {
                t.push(tag, data);
            }
            t
        };
        let formats = [
            DEFAULT_FORMAT,
            "%b",
            "%D",
            "%H",
            "%h",
            "%I",
            "%{Referer}i",
            "%{Host}i",
            "%l",
            "%m",
            "%{Content-Type}o",
            "%O",
            "%q",
            "%r",
            "%s",
            "%t",
            "%{%F %T}t",
            "%{msec}t",
            "%T",
            "%{ms}T",
            "%U",
            "%u",
            "%{Varnish:time_firstbyte}x",
            "%{Varnish:hitmiss}x",
            "%{Varnish:handling}x",
            "%{Varnish:side}x",
            "%{Varnish:vxid}x",
            "%{VCL_Log:key}x",
            "%{VSL:ReqAcct[2]}x",
        ];
        for text in formats {
            let f = Format::parse(text).expect("parses");
            for t in [&miss(), &backend] {
                let kept = only(t, f.tags(), f.stamps().as_deref());
                for json in [false, true] {
                    assert_eq!(f.line(&kept, json), f.line(t, json), "{text:?} on side {}", t.side);
                }
            }
        }
        assert!(!Format::parse(DEFAULT_FORMAT).expect("parses").tags().contains(shellac_engine::vsl::Tag::RespHeader));
    }

    #[test]
    fn a_restarted_request_gives_no_line_and_its_restart_does() {
        let first = txn(5, 'c', &[("Begin", "req 4 rxreq"), ("Link", "req 6 restart"), ("End", "")]);
        let second = txn(6, 'c', &[("Begin", "req 5 restart"), ("End", "")]);
        assert!(!wanted(&first, true, false));
        assert!(wanted(&second, true, false));
    }

    #[test]
    fn bad_formats_say_which_formatter() {
        for (f, what) in [
            ("%Z", "unknown formatter %Z"),
            ("%{Varnish:nope}x", "unknown extended variable"),
            ("%{X}b", "unknown formatter %{X}b"),
            ("%{min}T", "the unit is s, ms or us"),
            ("%{X", "unterminated"),
            ("%{VSL:Timestamp[0]}x", "a field is a number"),
        ] {
            let e = Format::parse(f).expect_err(f).to_string();
            assert!(e.contains(what), "{f}: {e}");
        }
        assert_eq!(Format::parse("100%% \\t%s\\n").expect("parses").line(&txn(1, 'c', &[]), false), "100% \t-\n");
    }

    #[test]
    fn values_are_escaped_as_varnishncsa_does_and_plain_ones_copied() {
        for (v, plain, json) in [
            ("Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"),
            ("caf\u{e9}", "caf\u{e9}", "caf\u{e9}"),
            ("a\"b\\c", "a\\\"b\\\\c", "a\\\"b\\\\c"),
            ("tab\there\u{7f}", "tab\\x09here\\x7f", "tab\\u0009here\\u007f"),
        ] {
            for (json_mode, want) in [(false, plain), (true, json)] {
                let mut out = String::new();
                push_str(&mut out, Some(v), json_mode);
                assert_eq!(out, want, "{v:?}");
            }
        }
        let mut out = String::new();
        push_str(&mut out, None, false);
        push_str(&mut out, None, true);
        assert_eq!(out, "-");
    }
}
