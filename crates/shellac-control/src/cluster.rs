//! Invalidations across a cluster (issue 21): a ban, a purge of one key or a purge by surrogate
//! key issued on one node (`ban.cluster` on the CLI; `etcd.ban()`, `etcd.purge()`,
//! `etcd.xkey_purge()` in VCL) is written to etcd under a prefix beside the backends
//! (`/varnish/bans/` beside `/varnish/backends/`), one key per invalidation, under a lease that
//! lasts as long as an object it could match may live. Every node watching the prefix applies
//! each once, in revision order, the issuing node included.
//!
//! - [`entry`]: the value written (JSON), and the checks on reading it back;
//! - [`publisher`]: writing one (a lease, then the key), for the CLI and for VCL's outbox;
//! - [`applier`]: the watch that applies them: list at R, apply what is above the last revision
//!   applied, watch from there; resume after a disconnect, list again after a compaction or
//!   when the store changed. An entry that expired while a node was away can no longer match
//!   any object that node holds.

pub mod applier;
pub mod entry;
pub mod publisher;

use std::time::Duration;

/// The prefix of the invalidation keys beside a backend prefix: `/varnish/backends/` →
/// `/varnish/bans/`.
pub fn prefix_beside(backends: &str) -> String {
    let trimmed = backends.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => format!("{}/bans/", &trimmed[..i]),
        None => "/bans/".to_string(),
    }
}

/// How long the CLI waits for this node to apply what it wrote.
pub const APPLY_WAIT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    #[test]
    fn the_prefix_sits_beside_the_backends() {
        assert_eq!(super::prefix_beside("/varnish/backends/"), "/varnish/bans/");
        assert_eq!(super::prefix_beside("/a/b/c"), "/a/b/bans/");
        assert_eq!(super::prefix_beside("/backends/"), "/bans/");
    }
}
