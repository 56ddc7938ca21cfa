//! Backend discovery: keys `<root><group>/<host>:<port>` in a key-value store with revisions
//! (etcd), turned into the engine's catalog without ever losing an event.
//!
//! - [`Store`] is the small interface the watcher needs: a listing at a revision and a watch from
//!   a revision. [`etcd::EtcdStore`] is the real one; the watcher's tests use an in-memory one.
//! - [`key`] parses keys and values; nothing here trusts what it reads.
//! - [`watcher`] is the loop: list at R, watch from R+1, resume after disconnects, re-list on
//!   compaction and periodically (anti-entropy), keep serving the last known set while the store
//!   is away.
//! - [`status`] is what the management port shows of it (`discovery.status`), with
//!   [`routing`]: the groups of the active VCL and their fallback.

pub mod etcd;
pub mod key;
pub mod memory;
pub mod routing;
pub mod status;
pub mod watcher;

use std::future::Future;

/// A key and its value at a revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// The revision of its last change.
    pub mod_revision: i64,
}

/// Every key under a prefix, as of one revision.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The store's identity: a store replaced under the same address (a fresh etcd cluster)
    /// has another.
    pub cluster_id: u64,
    /// The store's revision the listing reflects.
    pub revision: i64,
    /// The keys.
    pub kvs: Vec<Kv>,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A key was created or changed.
    Put(Kv),
    /// A key was deleted at a revision.
    Delete {
        /// The key.
        key: String,
        /// The revision of the delete.
        revision: i64,
    },
}

/// Who the store is and where its history stands, without a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// As in [`Listing::cluster_id`].
    pub cluster_id: u64,
    /// The store's current revision.
    pub revision: i64,
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchMessage {
    /// Events, in revision order (one message never splits a revision).
    Events(Vec<Event>),
    /// The start revision is gone (compacted); the watch is dead.
    Compacted(i64),
    /// The store ended the watch for another reason (auth, no leader, …).
    Canceled(String),
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A key-value store with revisions and watches.
pub trait Store: Send + 'static {
    /// A running watch.
    type Watch: Watch;
    /// Every key under `prefix` now.
    fn list(&mut self, prefix: &str) -> impl Future<Output = Result<Listing, StoreError>> + Send;
    /// The store's identity and revision (cheap: no keys).
    fn header(&mut self, prefix: &str) -> impl Future<Output = Result<Header, StoreError>> + Send;
    /// Watches `prefix` from revision `start` on.
    fn watch(&mut self, prefix: &str, start: i64) -> impl Future<Output = Result<Self::Watch, StoreError>> + Send;
    /// Forgets the connection (the next call reconnects).
    fn reset(&mut self);
}

/// A running watch.
pub trait Watch: Send {
    /// The next message; `Ok(None)` when the stream ended.
    fn next(&mut self) -> impl Future<Output = Result<Option<WatchMessage>, StoreError>> + Send;
}
