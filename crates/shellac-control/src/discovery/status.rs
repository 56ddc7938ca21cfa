//! What the watcher reports of itself, for `discovery.status [-j]`: whether it is connected,
//! the last applied revision, how often it re-listed and why, drift found by anti-entropy, and
//! the keys it could not use; the command adds the active VCL's [`Routing`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use parking_lot::Mutex;

use super::routing::Routing;

/// The watcher's state, shared with the management port.
#[derive(Default)]
pub struct Status {
    inner: Mutex<Inner>,
}

/// A copy of the state.
#[derive(Clone, Debug, Default)]
pub struct Inner {
    /// The store's endpoints as configured.
    pub endpoints: Vec<String>,
    /// The watched root.
    pub prefix: String,
    /// Whether a watch is running.
    pub connected: bool,
    /// The last revision applied.
    pub revision: i64,
    /// Keys known under the root.
    pub keys: usize,
    /// Events applied.
    pub events: u64,
    /// Full listings by reason: `initial`, `cluster_changed`, `compacted`, `canceled`, `anti_entropy`.
    pub resyncs: BTreeMap<&'static str, u64>,
    /// Keys that anti-entropy found different from what the watch had said.
    pub drift: u64,
    /// Connection attempts that failed.
    pub failures: u64,
    /// The last error, and when.
    pub last_error: Option<(SystemTime, String)>,
    /// When `connected` last changed.
    pub since: Option<SystemTime>,
    /// Keys that cannot be used, with why.
    pub bad_keys: BTreeMap<String, String>,
}

// === impl Status ===

impl Status {
    /// A status for a store at `endpoints` watching `prefix`.
    pub fn new(endpoints: Vec<String>, prefix: &str) -> Status {
        Status { inner: Mutex::new(Inner { endpoints, prefix: prefix.to_string(), ..Inner::default() }) }
    }

    /// Changes the state.
    pub fn update(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.inner.lock());
    }

    /// Marks the watch running or not.
    pub fn set_connected(&self, connected: bool) {
        let mut s = self.inner.lock();
        if s.connected != connected || s.since.is_none() {
            s.connected = connected;
            s.since = Some(SystemTime::now());
        }
    }

    /// Records a failure.
    pub fn failed(&self, error: String) {
        let mut s = self.inner.lock();
        s.failures += 1;
        s.last_error = Some((SystemTime::now(), error));
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> Inner {
        self.inner.lock().clone()
    }

    /// The text `discovery.status` prints, with the routing of the active VCL's groups.
    pub fn text(&self, routing: &[Routing]) -> String {
        let s = self.snapshot();
        let mut t = String::new();
        let _ = writeln!(t, "Endpoints: {}", s.endpoints.join(","));
        let _ = writeln!(t, "Prefix: {}", s.prefix);
        let _ = writeln!(t, "Connected: {}{}", if s.connected { "yes" } else { "no" }, since(s.since));
        let _ = writeln!(t, "Revision: {}", s.revision);
        let _ = writeln!(t, "Keys: {}", s.keys);
        let _ = writeln!(t, "Events: {}", s.events);
        let resyncs: Vec<String> = s.resyncs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(t, "Resyncs: {}", if resyncs.is_empty() { "none".into() } else { resyncs.join(" ") });
        let _ = writeln!(t, "Drift: {}", s.drift);
        let _ = writeln!(t, "Failures: {}", s.failures);
        if let Some((at, e)) = &s.last_error {
            let _ = writeln!(t, "Last error: {} ({})", e, httpdate::fmt_http_date(*at));
        }
        if !s.bad_keys.is_empty() {
            let _ = writeln!(t, "Bad keys:");
            for (k, why) in &s.bad_keys {
                let _ = writeln!(t, "  {k}: {why}");
            }
        }
        for r in routing {
            t.push_str(&r.text());
        }
        t
    }

    /// The JSON `discovery.status -j` prints (the object, without the CLI envelope).
    pub fn json(&self, routing: &[Routing]) -> String {
        let s = self.snapshot();
        let unix = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let v = serde_json::json!({
            "endpoints": s.endpoints,
            "prefix": s.prefix,
            "connected": s.connected,
            "since": s.since.map(unix),
            "revision": s.revision,
            "keys": s.keys,
            "events": s.events,
            "resyncs": s.resyncs,
            "drift": s.drift,
            "failures": s.failures,
            "last_error": s.last_error.as_ref().map(|(_, e)| e),
            "bad_keys": s.bad_keys,
            "routing": routing.iter().map(Routing::json).collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

fn since(t: Option<SystemTime>) -> String {
    t.map(|t| format!(" (since {})", httpdate::fmt_http_date(t))).unwrap_or_default()
}
