//! `shellac top [-T ADDR [-S FILE] | -n DIR] [-1] [-d] [-f] [-p PERIOD] [-b] [-c] [-q QUERY]
//! [-i|-x TAGLIST] [-I|-X [TAGLIST:]REGEX]`: the records a running Shellac logs most often, as
//! `varnishtop` shows varnishd's. Each record (tag and data; with `-f` only its first word) is
//! counted as it comes; every second each count shrinks by a `PERIOD`th (60 by default), so
//! that what a record shows is about how many times it came in the last `PERIOD` seconds. The
//! view redraws itself every second, the most frequent first; `-1` reads what the log holds,
//! prints the counts once (`%9.2f TAG DATA`, as varnishtop -1) and exits.
//!
//! The records counted are those of the transactions `-b`/`-c` and `-q` select (by transaction),
//! as the record filters let them through (see [`crate::filter`]). What is kept is bounded:
//! [`MOST`] distinct records (past that, the least frequent half goes), each at most
//! [`LONGEST`] bytes of data.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;

use shellac_engine::vsl::TagSet;

use crate::cli::TopArgs;
use crate::filter::Filter;
use crate::log::{Sides, Txn};

/// The most distinct records kept.
pub(crate) const MOST: usize = 10_000;

/// The most bytes of a record's data kept (the rest is cut off).
pub(crate) const LONGEST: usize = 1024;

/// The counts.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Per tag, per data: the count and when it was first seen (ties show in that order). (By
    /// tag, then data: a record is looked up by its text, without a key made for it.)
    map: HashMap<&'static str, HashMap<String, (f64, u64)>>,
    /// How many records the map holds.
    len: usize,
    seen: u64,
}

impl Counts {
    /// Counts one record.
    pub(crate) fn add(&mut self, tag: &'static str, data: &str, first_field: bool) {
        let mut data = if first_field { first(data) } else { data };
        if data.len() > LONGEST {
            let mut end = LONGEST;
            while !data.is_char_boundary(end) {
                end -= 1;
            }
            data = &data[..end];
        }
        self.seen += 1;
        if let Some((n, _)) = self.map.get_mut(tag).and_then(|m| m.get_mut(data)) {
            *n += 1.0;
            return;
        }
        if self.len >= MOST {
            self.prune();
        }
        self.map.entry(tag).or_default().insert(data.to_string(), (1.0, self.seen));
        self.len += 1;
    }

    /// Keeps the most frequent half.
    fn prune(&mut self) {
        let mut all: Vec<_> =
            self.map.drain().flat_map(|(tag, m)| m.into_iter().map(move |(data, c)| (tag, data, c))).collect();
        all.sort_by(|a, b| b.2 .0.total_cmp(&a.2 .0).then(a.2 .1.cmp(&b.2 .1)));
        all.truncate(MOST / 2);
        self.len = all.len();
        for (tag, data, c) in all {
            self.map.entry(tag).or_default().insert(data, c);
        }
    }

    /// `secs` seconds go by: each count shrinks by a `period`th a second; what falls below a
    /// hundredth goes.
    pub(crate) fn decay(&mut self, secs: f64, period: f64) {
        let keep = (1.0 - 1.0 / period.max(1.0)).powf(secs);
        for m in self.map.values_mut() {
            m.retain(|_, (n, _)| {
                *n *= keep;
                *n >= 0.01
            });
        }
        self.map.retain(|_, m| !m.is_empty());
        self.len = self.map.values().map(HashMap::len).sum();
    }

    /// The counts, most first (ties in the order first seen).
    pub(crate) fn sorted(&self) -> Vec<(f64, &'static str, &str)> {
        let mut all: Vec<_> = self
            .map
            .iter()
            .flat_map(|(tag, m)| m.iter().map(|(data, (n, seen))| (*n, *seen, *tag, data.as_str())))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().map(|(n, _, tag, data)| (n, tag, data)).collect()
    }

    /// How many distinct records there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// `-f`: a record's first word, without a colon that ends it (`Host: a` → `Host`, `Start:
/// 1.0 …` → `Start`).
fn first(data: &str) -> &str {
    let word = data.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or("");
    word.strip_suffix(':').unwrap_or(word)
}

/// The counts as `-1` prints them: `%9.2f TAG DATA`, a line each.
pub(crate) fn once(counts: &Counts) -> String {
    let mut out = String::new();
    for (n, tag, data) in counts.sorted() {
        out.push_str(&format!("{n:9.2} {tag} {data}\n"));
    }
    out
}

/// The live view: how many records, then as many of the most frequent as `rows` lines hold,
/// each cut to `cols` characters.
fn view(counts: &Counts, rows: usize, cols: usize) -> String {
    let mut out = format!("list length {}\n\n", counts.len());
    for (n, tag, data) in counts.sorted().into_iter().take(rows.saturating_sub(3)) {
        let line = format!("{n:9.2} {tag:<14} {data}");
        out.extend(line.chars().take(cols));
        out.push('\n');
    }
    out
}

/// The terminal's size as the environment says it (`LINES`, `COLUMNS`), else 24 by 80.
fn screen() -> (usize, usize) {
    let get = |name: &str, or: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(or);
    (get("LINES", 24), get("COLUMNS", 80))
}

/// Counts the records of `txns` that `sides`, `query` and `filter` let through.
fn count(
    counts: &mut Counts,
    txns: &[Txn],
    (sides, query, filter): (Sides, Option<&crate::query::Query>, Option<&Filter>),
    first_field: bool,
) {
    for t in txns {
        // (Records of no transaction, `Backend_health`, are counted: watching probes is what
        // `-i Backend_health` is for.)
        if t.vxid != 0 && (!sides.shows(t.side) || !crate::query::selects(query, &[t])) {
            continue;
        }
        for (tag, data) in t.tagged() {
            if filter.is_none_or(|f| f.shows(tag, data)) {
                counts.add(tag.map_or("Unknown", |t| t.name()), data, first_field);
            }
        }
    }
}

/// Runs `shellac top`.
pub(crate) fn run(args: &TopArgs) -> anyhow::Result<ExitCode> {
    let query = crate::query::parse_all(&args.query)?;
    let filter = args.records.filter()?;
    let sides = args.sides.sides();
    let period = args.period;
    let mut counts = Counts::default();
    // (Without a query, which reads every record, only the tags a filter by tag lets through
    // are turned into text.)
    let tags = match (&filter, &query) {
        (Some(f), None) if f.by_tag_only() => f.tags(),
        _ => TagSet::ALL,
    };
    let how = (sides, query.as_ref(), filter.as_ref());
    if args.once {
        crate::log::follow(&args.reach, true, tags, None, |txns| {
            count(&mut counts, &txns, how, args.first_field);
            Ok(())
        })?;
        crate::stdout(&once(&counts))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut drawn = Instant::now();
    crate::log::follow(&args.reach, args.dump, tags, None, |txns| {
        count(&mut counts, &txns, how, args.first_field);
        let since = drawn.elapsed();
        if since >= Duration::from_secs(1) {
            counts.decay(since.as_secs_f64(), period);
            drawn = Instant::now();
            let (rows, cols) = screen();
            crate::stdout(&format!("\x1b[H\x1b[2J{}", view(&counts, rows, cols)))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_come_first_ties_in_the_order_first_seen() {
        let mut c = Counts::default();
        for (tag, data) in
            [("ReqURL", "/b"), ("ReqURL", "/a"), ("ReqURL", "/a"), ("ReqMethod", "GET"), ("ReqURL", "/b")]
        {
            c.add(tag, data, false);
        }
        c.add("ReqURL", "/c", false);
        assert_eq!(
            once(&c),
            "     2.00 ReqURL /b\n     2.00 ReqURL /a\n     1.00 ReqMethod GET\n     1.00 ReqURL /c\n"
        );
    }

    #[test]
    fn the_first_field_is_the_first_word_without_its_colon() {
        let mut c = Counts::default();
        for data in ["Host: a", "Host: b", "Start: 1.000000 0.000000 0.000000", "req 5 rxreq", ""] {
            c.add("X", data, true);
        }
        let lines: Vec<_> = c.sorted().into_iter().map(|(n, _, d)| format!("{n} {d}")).collect();
        assert_eq!(lines, ["2 Host", "1 Start", "1 req", "1 "]);
    }

    #[test]
    fn counts_shrink_by_a_periodth_a_second_and_tiny_ones_go() {
        let mut c = Counts::default();
        for _ in 0..60 {
            c.add("ReqURL", "/a", false);
        }
        c.add("ReqURL", "/b", false);
        c.decay(1.0, 60.0);
        assert_eq!(once(&c), "    59.00 ReqURL /a\n     0.98 ReqURL /b\n");
        c.decay(300.0, 60.0);
        assert_eq!(c.len(), 1, "/b fell below a hundredth and went");
    }

    #[test]
    fn what_is_kept_is_bounded() {
        let mut c = Counts::default();
        c.add("ReqURL", "/often", false);
        c.add("ReqURL", "/often", false);
        for i in 0..3 * MOST {
            c.add("ReqURL", &format!("/{i}"), false);
        }
        assert!(c.len() <= MOST);
        assert_eq!(c.sorted()[0], (2.0, "ReqURL", "/often"), "the most frequent stay");
        c.add("ReqHeader", &"x".repeat(10 * LONGEST), false);
        assert!(c.sorted().iter().all(|(_, _, d)| d.len() <= LONGEST));
    }
}
