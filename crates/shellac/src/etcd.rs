//! The etcd side of the command line: connection options from flags, the key prefix, and
//! starting the watcher for `serve`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use shellac_control::discovery::etcd::{EtcdOptions, EtcdStore};
use shellac_control::discovery::status::Status;
use shellac_control::discovery::watcher::{self, Watcher};
use shellac_engine::server::Server;

use crate::cli::EtcdArgs;

/// How long `serve` waits for the first listing before it starts serving anyway.
const DISCOVERY_WAIT: Duration = Duration::from_secs(2);

/// `--etcd URLS` and the `--etcd-*` flags.
pub(crate) fn options(urls: &str, args: &EtcdArgs) -> anyhow::Result<EtcdOptions> {
    let mut o = EtcdOptions::new(urls);
    if o.endpoints.is_empty() {
        bail!("--etcd {urls:?}: no endpoint");
    }
    for e in &o.endpoints {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            bail!("--etcd {e:?}: endpoints are URLs, such as http://127.0.0.1:2379");
        }
    }
    if let Some(u) = &args.etcd_user {
        let (user, password) = u.split_once(':').with_context(|| "--etcd-user: expected USER:PASSWORD")?;
        o.user = Some((user.to_string(), password.to_string()));
    }
    let read = |flag: &str, f: &str| std::fs::read(f).with_context(|| format!("{flag} {f}: cannot read"));
    if let Some(f) = &args.etcd_cacert {
        o.ca = Some(read("--etcd-cacert", f)?);
    }
    if let (Some(c), Some(k)) = (&args.etcd_cert, &args.etcd_key) {
        o.identity = Some((read("--etcd-cert", c)?, read("--etcd-key", k)?));
    }
    Ok(o)
}

/// `--etcd-prefix`, ending in `/`.
pub(crate) fn prefix(p: &str) -> anyhow::Result<String> {
    if !p.starts_with('/') {
        bail!("--etcd-prefix {p:?}: must start with '/'");
    }
    Ok(if p.ends_with('/') { p.to_string() } else { format!("{p}/") })
}

/// A duration flag: a number with a unit (ms, s, m, h).
pub(crate) fn duration(flag: &str, v: &str) -> anyhow::Result<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().with_context(|| format!("{flag} {v:?}: expected a duration such as 10s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("{flag} {v:?}: unknown unit {unit:?} (ms, s, m, h)"),
    };
    if !(secs.is_finite() && secs > 0.0) {
        bail!("{flag} {v:?}: must be more than zero");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Points the catalog at `prefix`, starts the watcher, and waits (at most [`DISCOVERY_WAIT`])
/// for its first listing.
pub(crate) async fn start(
    server: &Arc<Server>,
    opts: EtcdOptions,
    prefix: &str,
    resync: Duration,
    prefer_ipv6: bool,
) -> Arc<Status> {
    server.registry.catalog.set_root(prefix);
    let status = Arc::new(Status::new(opts.endpoints.clone(), prefix));
    let wopts = watcher::Options { resync, prefer_ipv6, ..watcher::Options::default() };
    let w = Watcher::new(EtcdStore::new(opts), prefix, server.registry.clone(), status.clone(), wopts);
    tokio::spawn(w.run());
    let start = tokio::time::Instant::now();
    while status.snapshot().resyncs.is_empty() && start.elapsed() < DISCOVERY_WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if status.snapshot().resyncs.is_empty() {
        tracing::warn!("etcd is not answering yet; serving 503 for discovered directors until it does");
    }
    status
}
