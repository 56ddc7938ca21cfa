//! `backend.list [-j] [-p] [pattern]` and `backend.set_health pattern state` (spec §2.7–2.8):
//! the five columns, the pattern rules (`*`/empty: the active VCL; no dot: `active.<pattern>`;
//! with a dot: every loaded VCL), the `-p` probe history and director member tables.
//!
//! Discovered members are listed after their director, named `director(host:port)`; a dot
//! inside the parentheses does not start a VCL name, so `backend.set_health 'web(10.0.0.1:80)'
//! sick` means the active VCL. A member whose key or value is malformed is listed with the
//! error, and a draining member with admin state `drain`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use shellac_engine::backend::probe::Flag;
use shellac_engine::backend::{Admin, Backend};
use shellac_engine::director::dynamic::Discovered;
use shellac_engine::director::Director;
use shellac_vcl::source::fnmatch;

use crate::manager::{Failure, Loaded, Manager};
use crate::proto::Status;

/// One object a pattern matched.
enum Object<'a> {
    Backend(&'a Arc<Backend>),
    Director(&'a dyn Director),
    Discovered(&'a Discovered),
}

/// `backend.list`
pub fn list(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let (flags, patterns): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.starts_with('-'));
    let (mut probes, mut json) = (false, false);
    for f in flags {
        for c in f.chars().skip(1) {
            match c {
                'p' => probes = true,
                'j' => json = true,
                other => return Err((Status::Param, format!("Invalid flag {other}"))),
            }
        }
    }
    if patterns.len() > 1 {
        return Err((Status::TooMany, "Too many parameters".into()));
    }
    let pattern = patterns.first().map_or("", |s| s.as_str());
    if json {
        let mut entries = Vec::new();
        each_match(m, pattern, |name, obj, loaded| entries.push(json_entry(name, &obj, loaded, probes)));
        let mut out = crate::json::header(3, "backend.list", args);
        out.push_str("  {\n");
        out.push_str(&entries.join(",\n"));
        if !entries.is_empty() {
            out.push('\n');
        }
        out.push_str("  }\n]\n");
        return Ok(out);
    }
    let mut t = String::from("Backend name\tAdmin\tProbe\tHealth\tLast change\n");
    each_match(m, pattern, |name, obj, loaded| {
        row(&mut t, name, &obj, loaded);
        if probes {
            details(&mut t, &obj);
        }
    });
    Ok(crate::vte::format(&t))
}

/// `backend.set_health`
pub fn set_health(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let admin = match args[1].to_ascii_lowercase().as_str() {
        "auto" => Admin::Auto,
        "healthy" => Admin::Healthy,
        "sick" => Admin::Sick,
        _ => return Err((Status::Param, format!("Invalid state {}", args[1]))),
    };
    let mut n = 0;
    each_match(m, &args[0], |_, obj, _| {
        match obj {
            Object::Backend(b) => b.set_admin(admin),
            Object::Director(d) => {
                d.members().admin.set(admin);
            }
            Object::Discovered(Discovered { backend: Ok(b), .. }) => b.set_admin(admin),
            Object::Discovered(_) => return,
        }
        n += 1;
    });
    if n == 0 {
        return Err((Status::Param, "No Backends matches".into()));
    }
    Ok(String::new())
}

/// Every backend of every loaded VCL, named as `backend.list` names it (`boot.web1`), the
/// members discovered by its directors included (`boot.project(10.0.0.1:80)`), `none` ones left
/// out: what the counters, metrics and status page show.
pub fn all(m: &Manager) -> Vec<(String, Arc<Backend>)> {
    let mut out = Vec::new();
    each_match(m, "*.*", |name, obj, _| match obj {
        Object::Backend(b) | Object::Discovered(Discovered { backend: Ok(b), .. }) => {
            out.push((name.to_string(), b.clone()));
        }
        _ => {}
    });
    out
}

fn each_match(m: &Manager, pattern: &str, mut f: impl FnMut(&str, Object<'_>, &Loaded)) {
    let active = m.active_name().unwrap_or_default();
    let qualified = has_vcl_part(pattern);
    let full = if pattern.is_empty() || pattern == "*" {
        format!("{active}.*")
    } else if qualified {
        pattern.to_string()
    } else {
        format!("{active}.{pattern}")
    };
    m.with_vcls(|vcls| {
        for l in vcls {
            if !qualified && l.name != active {
                continue;
            }
            // `backend x none;` is no backend: varnishd lists nothing for it either.
            for b in l.vcl.backends.iter().filter(|b| b.addr.is_some()) {
                let name = format!("{}.{}", l.name, b.name);
                if fnmatch(&full, &name) {
                    f(&name, Object::Backend(b), l);
                }
            }
            // (A shard parameter set is an object of vmod directors, not a director.)
            for d in l.vcl.directors.iter().filter(|d| d.as_shard_param().is_none()) {
                each_director(d.as_ref(), &full, l, &mut f);
            }
        }
    });
}

/// A director, the groups it made, and its discovered members.
fn each_director(d: &dyn Director, full: &str, l: &Loaded, f: &mut impl FnMut(&str, Object<'_>, &Loaded)) {
    let name = format!("{}.{}", l.name, d.name());
    if fnmatch(full, &name) {
        f(&name, Object::Director(d), l);
    }
    for member in d.discovered() {
        let name = format!("{}.{}", l.name, member.name);
        if fnmatch(full, &name) {
            f(&name, Object::Discovered(&member), l);
        }
    }
    for child in d.children() {
        each_director(child.as_ref(), full, l, f);
    }
}

/// Whether a pattern names its VCL: it has a dot outside parentheses and brackets (member
/// names such as `web(10.0.0.1:80)` carry dots of their own).
fn has_vcl_part(pattern: &str) -> bool {
    let mut depth = 0i32;
    for c in pattern.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '.' if depth <= 0 => return true,
            _ => {}
        }
    }
    false
}

/// What `backend.list` says of one object, in text or JSON.
struct Facts {
    kind: &'static str,
    admin: &'static str,
    good: usize,
    total: usize,
    health: &'static str,
    changed: SystemTime,
}

fn facts(obj: &Object<'_>, loaded: &Loaded) -> Facts {
    let word = |healthy: bool| if healthy { "healthy" } else { "sick" };
    match obj {
        Object::Discovered(Discovered { backend: Ok(b), drain, .. }) => {
            let f = facts(&Object::Backend(b), loaded);
            Facts { admin: if *drain { "drain" } else { f.admin }, ..f }
        }
        Object::Discovered(Discovered { backend: Err(_), .. }) => {
            Facts { kind: "backend", admin: "error", good: 0, total: 0, health: "invalid", changed: loaded.loaded }
        }
        Object::Backend(b) => {
            let admin = match b.admin() {
                Admin::Healthy => "healthy",
                Admin::Sick => "sick",
                Admin::Auto if b.probe.is_some() => "probe",
                Admin::Auto => "healthy",
            };
            let (good, total, health) = match &b.probe {
                Some(p) => (p.state().good as usize, p.spec().window as usize, word(p.is_healthy())),
                None => (0, 0, "healthy"),
            };
            Facts { kind: "backend", admin, good, total, health, changed: b.last_change() }
        }
        Object::Director(d) if d.type_name() == "groups" => {
            let groups = d.children();
            let healthy = groups.iter().filter(|g| g.is_healthy(1)).count();
            let admin = match d.members().admin.get() {
                Admin::Healthy => "healthy",
                Admin::Sick => "sick",
                Admin::Auto => "probe",
            };
            Facts {
                kind: "groups",
                admin,
                good: healthy,
                total: groups.len(),
                health: word(healthy > 0),
                changed: director_changed(*d, loaded),
            }
        }
        Object::Director(d) => {
            let members = d.members().snapshot();
            let healthy = members.iter().filter(|m| m.handle.is_healthy()).count();
            // The hash director has no health of its own.
            let is_hash = d.type_name() == "hash";
            let admin = match d.members().admin.get() {
                Admin::Healthy => "healthy",
                Admin::Sick => "sick",
                Admin::Auto if is_hash => "healthy",
                Admin::Auto => "probe",
            };
            let (good, total) = if is_hash { (0, 0) } else { (healthy, members.len()) };
            Facts {
                kind: d.type_name(),
                admin,
                good,
                total,
                health: word(is_hash || healthy > 0),
                changed: director_changed(*d, loaded),
            }
        }
    }
}

/// A director's `Last change`: the latest health change of its members (their probes' verdicts
/// and admin states), and never before its VCL was loaded.
fn director_changed(d: &dyn Director, loaded: &Loaded) -> SystemTime {
    shellac_engine::director::health_changed(d).map_or(loaded.loaded, |t| t.max(loaded.loaded))
}

fn row(t: &mut String, name: &str, obj: &Object<'_>, loaded: &Loaded) {
    let f = facts(obj, loaded);
    let _ = writeln!(t, "{name}\t{}\t{}/{}\t{}\t{}", f.admin, f.good, f.total, f.health, date(f.changed));
}

fn details(t: &mut String, obj: &Object<'_>) {
    match obj {
        Object::Discovered(Discovered { backend: Ok(b), .. }) => details(t, &Object::Backend(b)),
        Object::Discovered(Discovered { backend: Err(e), key, .. }) => {
            let _ = writeln!(t, "  Key: {key}\n  Error: {e}\n");
        }
        Object::Backend(b) => {
            let Some(p) = &b.probe else { return };
            let st = p.state();
            let _ = writeln!(
                t,
                " Current states  good: {:2} threshold: {:2} window: {:2}",
                st.good,
                p.threshold(),
                p.spec().window
            );
            let _ = writeln!(t, "  Average response time of good probes: {:.6}", st.avg);
            t.push_str("  Oldest ================================================== Newest\n");
            const ROWS: [(Flag, &str); 8] = [
                (Flag::Ipv4, "Good IPv4"),
                (Flag::Ipv6, "Good IPv6"),
                (Flag::Unix, "Good UNIX"),
                (Flag::XmitError, "Error Xmit"),
                (Flag::Xmit, "Good Xmit"),
                (Flag::RecvError, "Error Recv"),
                (Flag::Recv, "Good Recv"),
                (Flag::Happy, "Happy"),
            ];
            for (flag, label) in ROWS {
                let bits = st.bits[flag as usize];
                if bits == 0 && flag != Flag::Happy {
                    continue;
                }
                let letter = b"46UxXrRH"[flag as usize] as char;
                let line: String = (0..64).rev().map(|i| if bits >> i & 1 == 1 { letter } else { '-' }).collect();
                let _ = writeln!(t, "  {line} {label}");
            }
            t.push('\n');
        }
        Object::Director(d) => {
            let kind = d.type_name();
            if kind == "hash" || kind == "groups" {
                return;
            }
            let members = d.members().snapshot();
            let head = if kind == "fallback" { "Current" } else { "Weight" };
            // The row ended its line; one empty line, then the member table.
            let _ = write!(t, "\n\tBackend\t{head}\tHealth\n");
            let total: f64 = members.iter().filter(|m| m.handle.is_healthy()).map(|m| m.weight).sum();
            let current = d.current();
            for (i, m) in members.iter().enumerate() {
                let healthy = m.handle.is_healthy();
                let w = match kind {
                    "random" if healthy && total > 0.0 => format!("{:6.2}%", 100.0 * m.weight / total),
                    "random" => format!("{:6.2}%", 0.0),
                    "fallback" if current == Some(i) => "*".to_string(),
                    "fallback" => String::new(),
                    _ => "-".to_string(),
                };
                let _ = writeln!(t, "\t{}\t{w}\t{}", m.handle.name(), if healthy { "healthy" } else { "sick" });
            }
            t.push('\n');
        }
    }
}

fn json_entry(name: &str, obj: &Object<'_>, loaded: &Loaded, probes: bool) -> String {
    use crate::json::{epoch, string};
    let f = facts(obj, loaded);
    let mut e = format!(
        "    {}: {{\n      \"type\": \"{}\",\n      \"admin_health\": \"{}\",\n      \"probe_message\": [{}, {}, \"{}\"],\n",
        string(name),
        f.kind,
        f.admin,
        f.good,
        f.total,
        f.health
    );
    if probes {
        let _ = writeln!(e, "      \"probe_details\": {},", json_details(obj));
    }
    if let Object::Discovered(d) = obj {
        let _ = writeln!(e, "      \"key\": {},", string(&d.key));
        let _ = writeln!(e, "      \"weight\": {},", d.weight);
        let _ = writeln!(e, "      \"drain\": {},", d.drain);
        if let Err(why) = &d.backend {
            let _ = writeln!(e, "      \"error\": {},", string(why));
        }
    }
    let _ = write!(e, "      \"last_change\": {}\n    }}", epoch(f.changed));
    e
}

/// `probe_details`: the registers of a probed backend, the members of a director.
fn json_details(obj: &Object<'_>) -> String {
    use crate::json::string;
    match obj {
        Object::Discovered(Discovered { backend: Ok(b), .. }) => json_details(&Object::Backend(b)),
        Object::Discovered(_) => "{}".to_string(),
        Object::Backend(b) => {
            let Some(p) = &b.probe else { return "{}".to_string() };
            let st = p.state();
            let mut d = String::from("{\n");
            for (i, l) in ["4", "6", "U", "x", "X", "r", "R", "H"].iter().enumerate() {
                let _ = writeln!(d, "        \"bits_{l}\": {},", st.bits[i]);
            }
            let _ = write!(
                d,
                "        \"good\": {},\n        \"threshold\": {},\n        \"window\": {}\n      }}",
                st.good,
                p.threshold(),
                p.spec().window
            );
            d
        }
        Object::Director(d) => {
            let items: Vec<String> = d
                .members()
                .snapshot()
                .iter()
                .map(|m| {
                    format!(
                        "          {}: {{\n            \"health\": \"{}\"\n          }}",
                        string(m.handle.name()),
                        if m.handle.is_healthy() { "healthy" } else { "sick" }
                    )
                })
                .collect();
            format!("{{\n        \"backends\": {{\n{}\n        }}\n      }}", items.join(",\n"))
        }
    }
}

fn date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}
