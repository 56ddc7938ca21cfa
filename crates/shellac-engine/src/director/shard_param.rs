//! `directors.shard_param()`: a set of the shard director's `.backend()` arguments that several
//! shard directors share. Two scopes, as Varnish 7.1's: what `vcl_init` sets is the VCL's
//! default; what a backend request (or `vcl_pipe`) sets is that request's own copy, kept in its
//! `bereq`, and never seen by any other request. `.use()` names the set as a BLOB, which
//! `.associate()` and `.backend(param=)` of a shard director take.

use std::sync::Arc;

use parking_lot::Mutex;

use super::shard::Healthy;
use super::{Director, Members};
use crate::backend::BackendHandle;

/// How the key is made (`by=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// `HASH`
    Hash,
    /// `URL`
    Url,
    /// `KEY`
    Key,
    /// `BLOB`
    Blob,
}

/// The arguments of a shard lookup, each as given or defaulted.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardArgs {
    /// `by`
    pub by: By,
    /// `key`
    pub key: i64,
    /// `key_blob`
    pub key_blob: Option<Arc<[u8]>>,
    /// `alt`
    pub alt: i64,
    /// `warmup` (−1: the director's)
    pub warmup: f64,
    /// `rampup`
    pub rampup: bool,
    /// `healthy`
    pub healthy: Healthy,
}

/// A parameter set.
pub struct ShardParam {
    name: String,
    members: Members,
    defaults: Mutex<ShardArgs>,
}

/// What `.use()` hands out: a BLOB that names the set (this prefix, then its id).
const TOKEN: &[u8] = b"shellac-shard-param:";

// === impl By ===

impl By {
    /// The ENUM value.
    pub fn parse(s: &str) -> By {
        match s {
            "URL" => By::Url,
            "KEY" => By::Key,
            "BLOB" => By::Blob,
            _ => By::Hash,
        }
    }

    /// As VCL spells it.
    pub fn name(self) -> &'static str {
        match self {
            By::Hash => "HASH",
            By::Url => "URL",
            By::Key => "KEY",
            By::Blob => "BLOB",
        }
    }
}

// === impl ShardArgs ===

impl Default for ShardArgs {
    /// `.backend()`'s documented defaults.
    fn default() -> Self {
        ShardArgs { by: By::Hash, key: 0, key_blob: None, alt: 0, warmup: -1.0, rampup: true, healthy: Healthy::Chosen }
    }
}

// === impl ShardParam ===

impl ShardParam {
    /// A set at the defaults.
    pub fn new(name: &str) -> ShardParam {
        ShardParam { name: name.to_string(), members: Members::default(), defaults: Mutex::new(ShardArgs::default()) }
    }

    /// Its identity, as `.use()` names it and a backend request's copies are keyed.
    pub fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The VCL's defaults.
    pub fn defaults(&self) -> ShardArgs {
        self.defaults.lock().clone()
    }

    /// Changes the VCL's defaults (`vcl_init`).
    pub fn set_defaults(&self, args: ShardArgs) {
        *self.defaults.lock() = args;
    }

    /// What a request uses: its own copy if it made one, else the defaults.
    pub fn effective(&self, copies: &[(usize, ShardArgs)]) -> ShardArgs {
        copies.iter().find(|(id, _)| *id == self.id()).map_or_else(|| self.defaults(), |(_, a)| a.clone())
    }

    /// `.use()`: the BLOB naming this set.
    pub fn token(&self) -> Arc<[u8]> {
        let mut t = TOKEN.to_vec();
        t.extend_from_slice(&self.id().to_le_bytes());
        t.into()
    }

    /// The set a `.use()` BLOB names, among `directors`.
    pub fn from_token<'a>(token: &[u8], directors: &'a [Arc<dyn Director>]) -> Option<&'a ShardParam> {
        let id = token.strip_prefix(TOKEN)?;
        let id = usize::from_le_bytes(id.try_into().ok()?);
        directors.iter().filter_map(|d| d.as_shard_param()).find(|p| p.id() == id)
    }
}

impl Director for ShardParam {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "shard_param"
    }

    /// (Not a backend: the front end never lets one stand where a backend goes.)
    fn resolve(&self) -> Option<BackendHandle> {
        None
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn as_shard_param(&self) -> Option<&ShardParam> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_set_and_a_requests_copy_shadows_the_defaults() {
        let p: Arc<dyn Director> = Arc::new(ShardParam::new("p"));
        let q: Arc<dyn Director> = Arc::new(ShardParam::new("q"));
        let all = [p.clone(), q.clone()];
        let pp = p.as_shard_param().expect("a set");
        assert_eq!(ShardParam::from_token(&pp.token(), &all).map(ShardParam::name), Some("p"));
        assert!(ShardParam::from_token(b"nothing", &all).is_none());
        let copy = ShardArgs { alt: 2, ..ShardArgs::default() };
        assert_eq!(pp.effective(&[(pp.id(), copy.clone())]), copy);
        assert_eq!(pp.effective(&[]), ShardArgs::default());
    }
}
