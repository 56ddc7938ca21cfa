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

/// A duration flag: a number with a unit (ms, s, m, h, d), as `-p` takes them.
pub(crate) fn duration(flag: &str, v: &str) -> anyhow::Result<Duration> {
    match shellac_engine::params::parse_duration(v.trim()) {
        Some(secs) if secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
        Some(_) => bail!("{flag} {v:?}: must be more than zero"),
        None => bail!("{flag} {v:?}: expected a duration such as 10s (units ms, s, m, h, d)"),
    }
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
