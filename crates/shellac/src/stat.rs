//! `shellac stat [-T ADDR [-S FILE] | -n DIR] [-1 | -j | -x | -l] [-f GLOB]… [-w SECS]`: the
//! counters of a running Shellac, as `varnishstat` shows varnishd's: `-1` once in its plain
//! layout (name, value, average per second since start, description), `-j` once in its JSON
//! layout, `-x` once in its XML layout, `-l` the names and descriptions, and
//! without either a view that refreshes every `-w` seconds with the rate of each counter over
//! the last interval. `-f` keeps the counters matching a glob (fnmatch's, as `backend.list`'s
//! patterns; `^GLOB` leaves matching ones out), as varnishstat's does.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use shellac_engine::stats::{to_json, Point};
use shellac_vcl::source::fnmatch;

use crate::adm::Session;
use crate::cli::StatArgs;

/// Runs `shellac stat`.
pub(crate) fn run(args: &StatArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(&args.reach)?;
    let (stamp, uptime, points) = fetch(&mut session, &args.fields)?;
    if args.json {
        crate::stdout(&to_json(&points, &stamp))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.once {
        crate::stdout(&once(&points, uptime))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.list {
        crate::stdout(&list(&points))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.xml {
        crate::stdout(&xml(&points, &stamp))?;
        return Ok(ExitCode::SUCCESS);
    }
    let every = Duration::from_secs_f64(args.interval.max(0.1));
    let mut last = points;
    loop {
        std::thread::sleep(every);
        let (_, uptime, now) = fetch(&mut session, &args.fields)?;
        crate::stdout(&format!("\x1b[H\x1b[2J{}", live(&last, &now, every.as_secs_f64(), uptime)))?;
        last = now;
    }
}

/// `-l`: each counter's name and description, as varnishstat lists them.
fn list(points: &[Point]) -> String {
    let mut out = String::from("Varnishstat -f option fields:\nField name                     Description\n----------                     -----------\n");
    for p in points {
        out.push_str(&format!("{:<30} {}\n", p.name, p.desc));
    }
    out
}

/// `-x`: the counters in varnishstat's XML layout.
fn xml(points: &[Point], stamp: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut out = format!("<?xml version=\"1.0\"?>\n<varnishstat timestamp=\"{}\">\n", esc(stamp));
    for p in points {
        out.push_str(&format!(
            "\t<stat>\n\t\t<name>{}</name>\n\t\t<value>{}</value>\n\t\t<flag>{}</flag>\n\t\t<format>{}</format>\n\t\t<description>{}</description>\n\t</stat>\n",
            esc(&p.name),
            p.value,
            p.flag,
            p.format,
            esc(&p.desc)
        ));
    }
    out.push_str("</varnishstat>\n");
    out
}

/// The server's timestamp, `MAIN.uptime`, and its points, filtered.
fn fetch(session: &mut Session, fields: &[String]) -> anyhow::Result<(String, u64, Vec<Point>)> {
    let (status, body) = session.command(&["stats".to_string()])?;
    if status != 200 {
        bail!("stats: {status} {body}");
    }
    let v: serde_json::Value = serde_json::from_str(&body).context("stats: not JSON")?;
    let stamp = v.get("timestamp").and_then(|t| t.as_str()).unwrap_or("").to_string();
    let all = parse(&v)?;
    let uptime = all.iter().find(|p| p.name == "MAIN.uptime").map_or(0, |p| p.value);
    Ok((stamp, uptime, all.into_iter().filter(|p| keep(&p.name, fields)).collect()))
}

/// The points of a `stats` answer, in order.
fn parse(v: &serde_json::Value) -> anyhow::Result<Vec<Point>> {
    let counters = v.get("counters").and_then(|c| c.as_object()).context("stats: no counters")?;
    let ch = |o: &serde_json::Value, k: &str| {
        o.get(k).and_then(|v| v.as_str()).and_then(|s| s.chars().next()).unwrap_or('?')
    };
    Ok(counters
        .iter()
        .map(|(name, o)| Point {
            name: name.clone(),
            flag: ch(o, "flag"),
            format: ch(o, "format"),
            desc: o.get("description").and_then(|d| d.as_str()).unwrap_or("").to_string(),
            value: o.get("value").and_then(serde_json::Value::as_u64).unwrap_or(0),
        })
        .collect())
}

/// Whether `name` passes the `-f` globs: it matches an inclusion (or there is none) and no
/// exclusion (`^GLOB`).
pub(crate) fn keep(name: &str, fields: &[String]) -> bool {
    let (out, inc): (Vec<&String>, Vec<&String>) = fields.iter().partition(|f| f.starts_with('^'));
    let included = inc.is_empty() || inc.iter().any(|g| fnmatch(g, name));
    included && !out.iter().any(|g| fnmatch(&g[1..], name))
}

/// varnishstat -1's layout: the name padded to a width that grows with the longest name so
/// far (18 at first), the value in 12 columns, then for a counter its average per second since
/// start (`%12.2f`), for a gauge or bitmap a `.`, then the description.
pub(crate) fn once(points: &[Point], uptime: u64) -> String {
    let mut out = String::new();
    let mut pad = 18;
    for p in points {
        if p.name.len() >= pad {
            pad = p.name.len() + 1;
        }
        out.push_str(&format!("{:<pad$}", p.name));
        if p.flag == 'c' {
            let rate = if uptime > 0 { p.value as f64 / uptime as f64 } else { 0.0 };
            out.push_str(&format!("{:>12} {:>12.2} {}\n", p.value, rate, p.desc));
        } else {
            out.push_str(&format!("{:>12} {:>12} {}\n", p.value, ".  ", p.desc));
        }
    }
    out
}

/// The live view: each counter's value, its rate over the last interval and its average since
/// start; a gauge's value.
fn live(before: &[Point], now: &[Point], secs: f64, uptime: u64) -> String {
    let width = now.iter().map(|p| p.name.len()).max().unwrap_or(18).max(18);
    let mut out =
        format!("Uptime {uptime} s\n\n{:<width$} {:>14} {:>12} {:>12}\n", "NAME", "CURRENT", "CHANGE", "AVERAGE");
    for p in now {
        if p.flag == 'c' {
            let old = before.iter().find(|b| b.name == p.name).map_or(p.value, |b| b.value);
            let rate = p.value.saturating_sub(old) as f64 / secs;
            let avg = if uptime > 0 { p.value as f64 / uptime as f64 } else { 0.0 };
            out.push_str(&format!("{:<width$} {:>14} {:>12.2} {:>12.2}\n", p.name, p.value, rate, avg));
        } else {
            out.push_str(&format!("{:<width$} {:>14} {:>12} {:>12}\n", p.name, p.value, ".", "."));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_include_and_exclude_as_varnishstat_f() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(keep("MAIN.cache_hit", &[]));
        assert!(keep("MAIN.cache_hit", &f(&["MAIN.cache_*"])));
        assert!(!keep("MAIN.client_req", &f(&["MAIN.cache_*"])));
        assert!(keep("VBE.boot.web.req", &f(&["VBE.*.req"])));
        assert!(!keep("MAIN.cache_hit_grace", &f(&["MAIN.cache_*", "^*grace"])));
        assert!(keep("MAIN.uptime", &f(&["MAIN.uptime"])));
        assert!(!keep("MAIN.uptime2", &f(&["MAIN.uptime"])));
    }

    #[test]
    fn the_plain_layout_is_varnishstat_1s() {
        let c = |name: &str, value| Point { name: name.into(), flag: 'c', format: 'i', desc: "d".into(), value };
        let g = Point { flag: 'g', ..c("MAIN.n_object", 2) };
        let text = once(&[c("MAIN.uptime", 2), c("MAIN.sess_fail_econnaborted", 0), g], 2);
        assert_eq!(
            text,
            "MAIN.uptime                  2         1.00 d\n\
             MAIN.sess_fail_econnaborted            0         0.00 d\n\
             MAIN.n_object                          2          .   d\n"
        );
    }
}
