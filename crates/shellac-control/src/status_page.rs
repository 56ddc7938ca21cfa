//! The status page (`GET /` on the `--metrics` listener): what a HAProxy or Traefik user expects
//! of a dashboard — the request rate and hit ratio, the stores, the discovery state, and every
//! backend (discovered members included) with its health and its probe history drawn as a row of
//! cells, as `backend.list -p` prints it. One HTML document with its style inline, no script: it
//! refreshes itself every [`REFRESH_SECS`] (a `<meta http-equiv="refresh">`), and the rates are
//! over the time since the page was last served.

use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;
use shellac_engine::backend::probe::Flag;
use shellac_engine::stats::Main;

use crate::manager::Manager;

/// Seconds between the page's refreshes.
pub const REFRESH_SECS: u32 = 2;

/// How many probe results a backend's row draws (newest on the right).
const HISTORY: u32 = 32;

/// What the page remembers between two views, for the rates.
#[derive(Default)]
pub struct Memory(Mutex<Option<Sample>>);

#[derive(Clone, Copy)]
struct Sample {
    at: tokio::time::Instant,
    requests: u64,
    hits: u64,
    misses: u64,
}

/// The page, now.
pub fn render(m: &Manager, memory: &Arc<Memory>) -> String {
    let stats = &m.server.registry.stats;
    let now = Sample {
        at: tokio::time::Instant::now(),
        requests: stats.get(Main::ClientReq),
        hits: stats.get(Main::CacheHit),
        misses: stats.get(Main::CacheMiss),
    };
    let before = memory.0.lock().replace(now);
    let (rate, window_ratio) = match before {
        Some(b) if now.at > b.at => {
            let secs = (now.at - b.at).as_secs_f64();
            let (h, mi) = (now.hits.saturating_sub(b.hits), now.misses.saturating_sub(b.misses));
            (now.requests.saturating_sub(b.requests) as f64 / secs, ratio(h, mi))
        }
        _ => (0.0, None),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\"><title>Shellac on {host}</title>\
         <style>{STYLE}</style></head><body>\n<h1>Shellac <small>{host}</small></h1>\n",
        host = esc(&m.server.identity)
    );
    let active = m.active_name().unwrap_or_else(|| "none".to_string());
    let _ = writeln!(h, "<p class=\"meta\">VCL <b>{}</b> · refreshes every {REFRESH_SECS} s</p>", esc(&active));
    // The numbers.
    h.push_str("<section class=\"tiles\">");
    tile(&mut h, "requests/s", &format!("{rate:.1}"));
    tile(&mut h, "hit ratio", &window_ratio.map_or_else(|| "–".to_string(), |r| format!("{:.1} %", 100.0 * r)));
    tile(
        &mut h,
        "hit ratio since start",
        &ratio(now.hits, now.misses).map_or_else(|| "–".to_string(), |r| format!("{:.1} %", 100.0 * r)),
    );
    tile(&mut h, "requests", &now.requests.to_string());
    tile(&mut h, "objects", &m.server.cache.len().to_string());
    h.push_str("</section>\n");
    // The stores.
    h.push_str("<h2>Storage</h2><table><tr><th>store</th><th>used</th><th>limit</th><th></th></tr>");
    for st in m.server.cache.stores() {
        let unlimited = st.limit() >= u64::MAX / 2;
        let share = if unlimited { 0.0 } else { st.used() as f64 / st.limit().max(1) as f64 };
        let limit = if unlimited { "none".to_string() } else { bytes(st.limit()) };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{limit}</td><td><span class=\"bar\"><span style=\"width:{:.0}%\"></span></span></td></tr>",
            esc(st.name()),
            bytes(st.used()),
            100.0 * share.min(1.0)
        );
    }
    h.push_str("</table>\n");
    // Discovery.
    if let Some(d) = m.discovery() {
        let s = d.snapshot();
        let state = if s.connected {
            "<span class=\"ok\">connected</span>"
        } else {
            "<span class=\"bad\">not connected</span>"
        };
        let _ = writeln!(
            h,
            "<h2>Discovery</h2><p>etcd {} · prefix <code>{}</code> · {state} · revision {} · {} keys · {} events · {} bad keys</p>",
            esc(&s.endpoints.join(",")),
            esc(&s.prefix),
            s.revision,
            s.keys,
            s.events,
            s.bad_keys.len()
        );
        if let Some((_, e)) = &s.last_error {
            let _ = writeln!(h, "<p class=\"meta\">last error: {}</p>", esc(e));
        }
    }
    // The backends.
    h.push_str(
        "<h2>Backends</h2><table class=\"backends\"><tr><th>backend</th><th>health</th>\
         <th>probe history (newest right)</th><th>in use</th></tr>\n",
    );
    for (name, b) in crate::backends::all(m) {
        let healthy = b.is_healthy();
        let (class, word) = if healthy { ("ok", "healthy") } else { ("bad", "sick") };
        let _ = write!(h, "<tr><td class=\"name\">{}</td><td class=\"{class}\">{word}</td><td>", esc(&name));
        match &b.probe {
            Some(p) => {
                let st = p.state();
                let happy = st.bits[Flag::Happy as usize];
                let n = u64::from(HISTORY).min(st.count);
                h.push_str("<span class=\"probes\">");
                for slot in (0..u64::from(HISTORY)).rev() {
                    let cell = if slot >= n {
                        "none"
                    } else if happy >> slot & 1 == 1 {
                        "good"
                    } else {
                        "fail"
                    };
                    let _ = write!(h, "<i class=\"{cell}\"></i>");
                }
                let _ = write!(h, "</span> <small>{}/{}</small>", st.good, p.spec().window);
            }
            None => h.push_str("<small>no probe</small>"),
        }
        let _ = writeln!(h, "</td><td>{}</td></tr>", b.busy());
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

fn tile(h: &mut String, label: &str, value: &str) {
    let _ = write!(h, "<div class=\"tile\"><b>{}</b><span>{}</span></div>", esc(value), esc(label));
}

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64)
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Text as HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1 small{font-weight:normal;color:#666}.meta{color:#666}\
.tiles{display:flex;gap:1em;flex-wrap:wrap}.tile{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}\
.tile b{display:block;font-size:1.6em}.tile span{color:#666}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;text-align:left;border-bottom:1px solid #eee}\
.ok{color:#1a7f37;font-weight:bold}.bad{color:#c62828;font-weight:bold}\
.bar{display:inline-block;width:12em;height:.8em;background:#eee;border-radius:3px}.bar span{display:block;height:100%;background:#3b82f6;border-radius:3px}\
.probes i{display:inline-block;width:8px;height:14px;margin-right:1px;vertical-align:middle}\
.probes .good{background:#2e7d32}.probes .fail{background:#c62828}.probes .none{background:#ddd}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_sizes_read_well() {
        assert_eq!(esc("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        assert_eq!(
            (bytes(512), bytes(64 << 20), bytes(3 << 30)),
            ("512 B".into(), "64.0 MiB".into(), "3.0 GiB".into())
        );
        assert_eq!(ratio(0, 0), None);
        assert_eq!(ratio(3, 1), Some(0.75));
    }
}
