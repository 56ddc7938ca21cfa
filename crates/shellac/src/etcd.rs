//! The etcd side of the command line: connection options from flags, the key prefix, starting
//! the watcher for `serve`, and what the seed-000 setup (`--etcd` without `-f`) says of itself
//! at startup and under `serve -C`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use shellac_control::discovery::etcd::{EtcdOptions, EtcdStore};
use shellac_control::discovery::status::Status;
use shellac_control::discovery::watcher::{self, Watcher};
use shellac_control::discovery::Store as _;
use shellac_engine::director::groups::FallbackRule;
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

/// Starts invalidations across the cluster under `prefix`: VCL's outbox drained into etcd, and
/// the watch that applies what every node writes (this one's too).
pub(crate) fn start_cluster(
    server: &Arc<Server>,
    opts: EtcdOptions,
    prefix: &str,
) -> shellac_control::manager::Cluster {
    use shellac_control::cluster::{applier::Applier, publisher};
    let (outbox, inbox) = shellac_engine::cluster::outbox();
    let _ = server.registry.outbox.set(outbox);
    let publisher = Arc::new(publisher::Publisher::new(opts.clone(), prefix, &server.identity, server.cache.clone()));
    tokio::spawn(publisher::drain(publisher.clone(), inbox));
    let applier = Applier::new(EtcdStore::new(opts), prefix, server.cache.clone());
    let applied = applier.applied();
    tokio::spawn(applier.run());
    tracing::info!("invalidations for the cluster: etcd prefix {prefix}");
    shellac_control::manager::Cluster { publisher, applied }
}

/// How long `serve -C` waits for etcd's listing.
const CHECK_WAIT: Duration = Duration::from_secs(3);

/// What the seed-000 setup does, line by line, for the startup log and `serve -C`: the routing
/// rule, the groups found (`groups`, already phrased) and the fallback now, the probe and
/// timeouts.
pub(crate) fn setup_lines(prefix: &str, rule: &FallbackRule, groups: &str, fallback: &str) -> Vec<String> {
    let rule_text = match rule {
        FallbackRule::Auto => "the group \"default\" when it has keys, else the only group when exactly one \
            group has keys; with several groups and none called \"default\", such requests answer 503 with \
            a page naming the groups (--etcd-default-group GROUP sets the fallback)"
            .to_string(),
        FallbackRule::Named(g) => {
            format!("the group \"{g}\" (--etcd-default-group) while it has keys; otherwise such requests answer 503")
        }
    };
    vec![
        "Routing: a request goes to the group named like the first label of its Host header, \
         lower-cased (web.example.com and web:8080 -> web); a Host that names no group goes to the \
         fallback group"
            .to_string(),
        format!("Fallback rule: {rule_text}"),
        format!("Groups under {prefix}: {groups}"),
        format!("Fallback now: {fallback}"),
        "Probe: GET /probe.txt (Host: the member's host) every 3s, timeout 2s; a member is healthy \
         once 8 of the last 10 probes passed (a new member starts with 7, so its first good probe \
         makes it healthy)"
            .to_string(),
        "Timeouts: connect 5s, first byte 5s, between bytes 2s; nothing is cached (every request is \
         passed, as in seed 000)"
            .to_string(),
    ]
}

/// The groups under `prefix` now and their key counts, read once (for `serve -C`).
pub(crate) fn list_groups(opts: EtcdOptions, prefix: &str) -> anyhow::Result<BTreeMap<String, usize>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let listing = runtime.block_on(async {
        let mut store = EtcdStore::new(opts);
        match tokio::time::timeout(CHECK_WAIT, store.list(prefix)).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(anyhow::anyhow!("no answer in {CHECK_WAIT:?}")),
        }
    })?;
    let mut groups = BTreeMap::new();
    for kv in listing.kvs {
        if let Some((group, rest)) = kv.key.strip_prefix(prefix).and_then(|k| k.split_once('/')) {
            if !group.is_empty() && !rest.is_empty() && !rest.contains('/') {
                *groups.entry(group.to_string()).or_insert(0) += 1;
            }
        }
    }
    Ok(groups)
}
