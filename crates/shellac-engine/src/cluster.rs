//! Invalidations shared by a cluster (issue 21): a ban, a purge of one key or a purge by
//! surrogate key that one node issues for every node. The engine only queues them (VCL's
//! `etcd.ban()`, `etcd.purge()`, `etcd.xkey_purge()`) and applies them to its cache when they
//! come back; carrying them (through etcd, in revision order, once each) is the control plane's
//! job. The node that issues one applies it when it comes back too, like every other node: each
//! applies each once.

use std::sync::Arc;

use shellac_cache::ban::{Spec, SpecError};
use shellac_cache::{Cache, Key};
use tokio::sync::mpsc;

/// One invalidation for every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// A ban, as the CLI's words (`req.url`, `~`, `/a`, `&&`, …).
    Ban(Vec<String>),
    /// A purge of every object under a key (`return (purge)`'s, for the hash a request made).
    Purge(Key),
    /// `xkey.purge` (`soft`: `xkey.softpurge`) of these keys.
    Xkey {
        /// The surrogate keys, separated by spaces or commas.
        keys: String,
        /// Soft: stale, kept for grace.
        soft: bool,
    },
}

/// How many invalidations may wait to be written; past it, a VCL call fails (returns false).
pub const OUTBOX_DEPTH: usize = 4096;

/// Where VCL queues invalidations for the cluster.
#[derive(Clone, Debug)]
pub struct Outbox(mpsc::Sender<Invalidation>);

/// What takes from the outbox (the control plane's publisher).
pub type Inbox = mpsc::Receiver<Invalidation>;

/// A bounded outbox and its other end.
pub fn outbox() -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel(OUTBOX_DEPTH);
    (Outbox(tx), rx)
}

// === impl Outbox ===

impl Outbox {
    /// Queues an invalidation; false when the outbox is full or nobody takes from it.
    pub fn send(&self, inv: Invalidation) -> bool {
        self.0.try_send(inv).is_ok()
    }
}

// === impl Invalidation ===

impl Invalidation {
    /// A ban from VCL's string (split at white space, as `std.ban()` takes it), checked here so
    /// that a bad one fails where it is issued, with varnishd's reason.
    pub fn ban_from_vcl(text: &str) -> Result<Invalidation, SpecError> {
        Spec::from_vcl(text, &crate::ban::compile)?;
        Ok(Invalidation::Ban(text.split_ascii_whitespace().map(str::to_string).collect()))
    }

    /// A ban from the CLI's words, checked.
    pub fn ban_from_args(args: &[String]) -> Result<Invalidation, SpecError> {
        Spec::from_args(args, &crate::ban::compile)?;
        Ok(Invalidation::Ban(args.to_vec()))
    }

    /// Applies it to `cache` at `now` (the bans it adds are marked as the cluster's). What it
    /// did, for the log.
    pub fn apply(&self, cache: &Cache, now: f64) -> Result<String, SpecError> {
        Ok(match self {
            Invalidation::Ban(words) => {
                let spec = Spec::from_args(words, &crate::ban::compile)?;
                let text = spec.text().to_string();
                cache.bans().add(spec, now, true);
                format!("ban {text}")
            }
            Invalidation::Purge(key) => format!("purge: {} objects", cache.purge(key)),
            Invalidation::Xkey { keys, soft } => {
                let n = cache.xkey_purge(keys.as_bytes(), *soft, now);
                format!("xkey {}purge {keys}: {n} objects", if *soft { "soft" } else { "" })
            }
        })
    }
}

/// The outbox of a server, once the control plane has set one up (`serve --etcd`).
pub type Slot = Arc<std::sync::OnceLock<Outbox>>;
