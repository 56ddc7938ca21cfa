//! `/metrics`: the counters in Prometheus' text exposition format (issue 22), named as
//! Prometheus' guide asks (the `shellac_` prefix, base units, counters ending in `_total`, no
//! label names inside metric names) after the table of ecosystem §4.1: varnishstat's counters
//! regrouped into families with labels whose values are disjoint (a lookup is one of `hit`,
//! `grace`, `miss`, `hitmiss`, `hitpass`, never two), a series per backend (discovered members
//! included) that comes and goes with it, and histograms of client request and backend fetch
//! durations.

use std::collections::HashMap;
use std::fmt::Write as _;

use shellac_engine::stats::{Histogram, BUCKETS};

use crate::manager::Manager;

/// The exposition, whole.
pub fn render(m: &Manager) -> String {
    let points: HashMap<String, u64> = crate::stats::points(m).into_iter().map(|p| (p.name, p.value)).collect();
    let v = |name: &str| points.get(name).copied().unwrap_or(0);
    let mut o = Out::default();

    o.family("shellac_build_info", "gauge", "Shellac's version.");
    o.sample("shellac_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    o.family("shellac_uptime_seconds", "gauge", "Seconds since the server started.");
    o.sample("shellac_uptime_seconds", &[], v("MAIN.uptime") as f64);
    o.one("shellac_sessions_total", "counter", "Client connections accepted.", v("MAIN.sess_conn"));
    o.one(
        "shellac_session_failures_total",
        "counter",
        "Client connections that could not be accepted.",
        v("MAIN.sess_fail"),
    );
    o.one("shellac_client_requests_total", "counter", "Client requests received (well-formed).", v("MAIN.client_req"));
    o.one(
        "shellac_client_requests_bad_total",
        "counter",
        "Client requests refused with 400.",
        v("MAIN.client_req_400"),
    );

    for (name, help, header, body) in [
        (
            "shellac_client_received_bytes_total",
            "Bytes of client requests, by part (piped ones aside).",
            "s_req_hdrbytes",
            "s_req_bodybytes",
        ),
        (
            "shellac_client_sent_bytes_total",
            "Bytes of answers written to clients, by part (piped ones aside).",
            "s_resp_hdrbytes",
            "s_resp_bodybytes",
        ),
    ] {
        o.family(name, "counter", help);
        o.sample(name, &[("part", "header")], v(&format!("MAIN.{header}")) as f64);
        o.sample(name, &[("part", "body")], v(&format!("MAIN.{body}")) as f64);
    }
    o.one("shellac_pipes", "gauge", "Piped connections going on.", v("MAIN.n_pipe"));
    o.family("shellac_pipe_bytes_total", "counter", "Bytes through piped connections, by direction.");
    // (A piped request's head counts with what the client sent after it.)
    let from_client = v("MAIN.s_pipe_hdrbytes") + v("MAIN.s_pipe_in");
    o.sample("shellac_pipe_bytes_total", &[("direction", "from_client")], from_client as f64);
    o.sample("shellac_pipe_bytes_total", &[("direction", "to_client")], v("MAIN.s_pipe_out") as f64);
    o.family("shellac_session_closes_total", "counter", "Client connections closed, by varnishd's reason.");
    // (Every reason Shellac tells apart: its `sc_*` counters.)
    for reason in shellac_engine::stats::MAIN.iter().filter_map(|d| d.name.strip_prefix("sc_")) {
        o.sample("shellac_session_closes_total", &[("reason", reason)], v(&format!("MAIN.sc_{reason}")) as f64);
    }

    o.family("shellac_cache_lookups_total", "counter", "Cache lookups by outcome (each lookup counted once).");
    let hit = v("MAIN.cache_hit").saturating_sub(v("MAIN.cache_hit_grace"));
    let miss = v("MAIN.cache_miss").saturating_sub(v("MAIN.cache_hitmiss"));
    for (result, n) in [
        ("hit", hit),
        ("grace", v("MAIN.cache_hit_grace")),
        ("miss", miss),
        ("hitmiss", v("MAIN.cache_hitmiss")),
        ("hitpass", v("MAIN.cache_hitpass")),
    ] {
        o.sample("shellac_cache_lookups_total", &[("result", result)], n as f64);
    }
    o.family("shellac_requests_handled_total", "counter", "Client requests passed, piped or answered by synth.");
    for (how, n) in [("pass", v("MAIN.s_pass")), ("pipe", v("MAIN.s_pipe")), ("synth", v("MAIN.s_synth"))] {
        o.sample("shellac_requests_handled_total", &[("handling", how)], n as f64);
    }
    o.one(
        "shellac_vcl_failures_total",
        "counter",
        "VCL failures (return (fail) and run-time errors).",
        v("MAIN.vcl_fail"),
    );

    o.family(
        "shellac_backend_fetches_total",
        "counter",
        "Backend fetches started, in the foreground or the background.",
    );
    let bg = v("MAIN.s_bgfetch");
    o.sample("shellac_backend_fetches_total", &[("kind", "foreground")], v("MAIN.s_fetch").saturating_sub(bg) as f64);
    o.sample("shellac_backend_fetches_total", &[("kind", "background")], bg as f64);
    o.family("shellac_backend_responses_total", "counter", "Backend responses by how their body was framed.");
    for f in ["head", "length", "chunked", "eof", "none", "1xx", "204", "304", "bad"] {
        o.sample("shellac_backend_responses_total", &[("framing", f)], v(&format!("MAIN.fetch_{f}")) as f64);
    }
    o.one(
        "shellac_backend_fetch_failures_total",
        "counter",
        "Backend fetches that failed (all causes).",
        v("MAIN.fetch_failed"),
    );
    o.one(
        "shellac_backend_responses_uncacheable_total",
        "counter",
        "Backend responses that ended uncacheable (passes, hit-for-miss and hit-for-pass).",
        v("MAIN.beresp_uncacheable"),
    );
    o.family(
        "shellac_backend_connections_total",
        "counter",
        "Backend connections: opened, reused, failed, or not attempted.",
    );
    for (result, name) in [
        ("new", "backend_conn"),
        ("reuse", "backend_reuse"),
        ("fail", "backend_fail"),
        ("unhealthy", "backend_unhealthy"),
        ("busy", "backend_busy"),
        ("retry", "backend_retry"),
    ] {
        o.sample("shellac_backend_connections_total", &[("result", result)], v(&format!("MAIN.{name}")) as f64);
    }

    o.one("shellac_cache_objects", "gauge", "Objects in the cache (markers included).", v("MAIN.n_object"));
    o.family("shellac_cache_evictions_total", "counter", "Objects that left the cache: expired, or evicted for room.");
    o.sample("shellac_cache_evictions_total", &[("reason", "expired")], v("MAIN.n_expired") as f64);
    o.sample("shellac_cache_evictions_total", &[("reason", "lru")], v("MAIN.n_lru_nuked") as f64);
    let stores: Vec<String> = m.server.cache.stores().map(|s| s.name().to_string()).collect();
    o.per("shellac_storage_bytes", "gauge", "Bytes each store holds.", "store", &stores, |s| {
        v(&format!("SMA.{s}.g_bytes"))
    });
    o.family("shellac_storage_limit_bytes", "gauge", "Each store's size limit (unlimited stores not shown).");
    for st in m.server.cache.stores().filter(|s| s.limit() < u64::MAX / 2) {
        o.sample("shellac_storage_limit_bytes", &[("store", st.name())], st.limit() as f64);
    }
    o.per("shellac_storage_objects_total", "counter", "Objects each store took in.", "store", &stores, |s| {
        v(&format!("SMA.{s}.c_req"))
    });
    o.per("shellac_storage_failures_total", "counter", "Objects too large for their store.", "store", &stores, |s| {
        v(&format!("SMA.{s}.c_fail"))
    });

    o.family("shellac_bans", "gauge", "Bans in the list, active or completed.");
    let completed = v("MAIN.bans_completed");
    o.sample("shellac_bans", &[("state", "active")], v("MAIN.bans").saturating_sub(completed) as f64);
    o.sample("shellac_bans", &[("state", "completed")], completed as f64);
    o.one("shellac_bans_added_total", "counter", "Bans added.", v("MAIN.bans_added"));
    o.one("shellac_bans_deleted_total", "counter", "Bans that left the list.", v("MAIN.bans_deleted"));
    o.one(
        "shellac_bans_duplicates_total",
        "counter",
        "Bans superseded by an identical newer one.",
        v("MAIN.bans_dups"),
    );
    o.family("shellac_ban_objects_killed_total", "counter", "Objects killed by bans, at lookup or by the lurker.");
    o.sample("shellac_ban_objects_killed_total", &[("by", "lookup")], v("MAIN.bans_obj_killed") as f64);
    o.sample("shellac_ban_objects_killed_total", &[("by", "lurker")], v("MAIN.bans_lurker_obj_killed") as f64);

    // One series per backend, named as backend.list names it.
    let backends = crate::backends::all(m);
    o.family("shellac_backend_up", "gauge", "Whether each backend is healthy (1) or sick (0).");
    for (name, b) in &backends {
        o.sample("shellac_backend_up", &[("backend", name)], f64::from(u8::from(b.is_healthy())));
    }
    let names: Vec<String> = backends.iter().map(|(n, _)| n.clone()).collect();
    o.per("shellac_backend_requests_total", "counter", "Requests sent to each backend.", "backend", &names, |n| {
        v(&format!("VBE.{n}.req"))
    });
    o.family(
        "shellac_backend_connection_failures_total",
        "counter",
        "Connections to each backend that failed or were not attempted.",
    );
    for (name, _) in &backends {
        for (reason, c) in [
            ("econnrefused", "fail_econnrefused"),
            ("etimedout", "fail_etimedout"),
            ("other", "fail_other"),
            ("helddown", "helddown"),
            ("unhealthy", "unhealthy"),
            ("busy", "busy"),
        ] {
            let labels = [("backend", name.as_str()), ("reason", reason)];
            o.sample("shellac_backend_connection_failures_total", &labels, v(&format!("VBE.{name}.{c}")) as f64);
        }
    }
    let sent = "Bytes sent to each backend (request heads and bodies).";
    o.per("shellac_backend_sent_bytes_total", "counter", sent, "backend", &names, |n| {
        v(&format!("VBE.{n}.bereq_hdrbytes")) + v(&format!("VBE.{n}.bereq_bodybytes"))
    });
    let received = "Bytes received from each backend (response heads and bodies).";
    o.per("shellac_backend_received_bytes_total", "counter", received, "backend", &names, |n| {
        v(&format!("VBE.{n}.beresp_hdrbytes")) + v(&format!("VBE.{n}.beresp_bodybytes"))
    });
    o.per("shellac_backend_connections", "gauge", "Fetches using each backend now.", "backend", &names, |n| {
        v(&format!("VBE.{n}.conn"))
    });

    if m.discovery().is_some() {
        o.one("shellac_discovery_connected", "gauge", "Whether the etcd watch is up.", v("DISC.connected"));
        o.one("shellac_discovery_revision", "gauge", "The last etcd revision applied.", v("DISC.revision"));
        o.one("shellac_discovery_keys", "gauge", "Backend keys known.", v("DISC.keys"));
        o.one("shellac_discovery_events_total", "counter", "Watch events applied.", v("DISC.events"));
        o.one("shellac_discovery_resyncs_total", "counter", "Full listings of the backend keys.", v("DISC.resyncs"));
        o.one(
            "shellac_discovery_drift_total",
            "counter",
            "Keys a periodic listing found the watch had missed.",
            v("DISC.drift"),
        );
        o.one("shellac_discovery_failures_total", "counter", "etcd connection or watch failures.", v("DISC.failures"));
    }

    let stats = &m.server.registry.stats;
    o.histogram(
        "shellac_client_request_duration_seconds",
        "Client requests, from the request to its response's head.",
        &stats.client,
    );
    o.histogram(
        "shellac_backend_fetch_duration_seconds",
        "Backend fetches, from the request sent to the response's head.",
        &stats.fetch,
    );
    o.0
}

#[derive(Default)]
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family with one label, a sample per value of it.
    fn per(&mut self, name: &str, kind: &str, help: &str, label: &str, keys: &[String], value: impl Fn(&str) -> u64) {
        self.family(name, kind, help);
        for k in keys {
            self.sample(name, &[(label, k)], value(k) as f64);
        }
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value as f64);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.family(name, "histogram", help);
        let (counts, sum) = h.read();
        let mut total = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            total += counts[i];
            let le = bound.to_string();
            self.sample(&format!("{name}_bucket"), &[("le", &le)], total as f64);
        }
        total += counts[BUCKETS.len()];
        self.sample(&format!("{name}_bucket"), &[("le", "+Inf")], total as f64);
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], total as f64);
    }
}

/// A label value as the text format quotes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
