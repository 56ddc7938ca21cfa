//! `stats`: every counter as `varnishstat -j` lays them out, for `shellac stat` (varnishd's
//! counters live in shared memory; Shellac's are asked for on the management port). The
//! engine's (`MAIN.*`, `SMA.*`), each loaded VCL's backends (`VBE.<vcl>.<backend>.*`), and
//! discovery's own (`DISC.*`: revision, events, resyncs, drift, connected).

use shellac_engine::stats::{backend_points, server_points, sort_main, to_json, Point};

use crate::manager::Manager;

/// Every point, in order: `MAIN`, `SMA`, `VBE`, `DISC`.
pub fn points(m: &Manager) -> Vec<Point> {
    let mut out = server_points(&m.server);
    let backends = crate::backends::all(m);
    // The management's own gauges go with the other `MAIN` ones.
    let vcls = m.vcl_count() as u64;
    let at = out.iter().rposition(|p| p.name.starts_with("MAIN.")).map_or(out.len(), |i| i + 1);
    let gauges = [
        Point::gauge("MAIN.n_backend", 'i', "Number of backends", backends.len() as u64),
        Point::gauge("MAIN.n_vcl", 'i', "Number of loaded VCLs in total", vcls),
        Point::gauge("MAIN.n_vcl_avail", 'i', "Number of VCLs available", vcls),
    ];
    out.splice(at..at, gauges);
    sort_main(&mut out);
    for (name, b) in backends {
        out.extend(backend_points(&name, &b));
    }
    if let Some(d) = m.discovery() {
        let s = d.snapshot();
        let c = |name: &str, desc: &str, value: u64| Point { flag: 'c', ..Point::gauge(name, 'i', desc, value) };
        out.push(Point::gauge("DISC.connected", 'i', "Watching etcd now (1) or not (0)", u64::from(s.connected)));
        out.push(Point::gauge("DISC.revision", 'i', "Last etcd revision applied", s.revision.max(0) as u64));
        out.push(Point::gauge("DISC.keys", 'i', "Backend keys known", s.keys as u64));
        out.push(c("DISC.events", "Watch events applied", s.events));
        out.push(c(
            "DISC.resyncs",
            "Full listings (start, compaction, store change, anti-entropy)",
            s.resyncs.values().sum(),
        ));
        out.push(c("DISC.drift", "Keys an anti-entropy listing found the watch had missed", s.drift));
        out.push(c("DISC.failures", "Connection or watch failures", s.failures));
    }
    out
}

/// The `stats` command: [`points`] as JSON, stamped with the local time.
pub fn json(m: &Manager) -> String {
    to_json(&points(m), &timestamp())
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) now.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    // (httpdate gives "Sun, 06 Dec 2026 17:36:08 GMT"; varnishstat's layout is ISO 8601.)
    let parts: Vec<&str> = date.split(' ').collect();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| Some(m) == parts.get(2))
        .map_or(1, |i| i + 1);
    format!(
        "{}-{month:02}-{}T{}",
        parts.get(3).unwrap_or(&"1970"),
        parts.get(1).unwrap_or(&"01"),
        parts.get(4).unwrap_or(&"00:00:00")
    )
}
