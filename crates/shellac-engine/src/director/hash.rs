//! `directors.hash()` (spec §3.5): `.backend(key)` hashes the key with SHA-256, reads the last
//! four bytes of the digest as a little-endian number, and picks among healthy members by
//! cumulative weight, as the random director does with a random number. The hash director has
//! no health of its own (always healthy, like Varnish's). Used directly as a backend, without a
//! key, it hashes the empty key.

use sha2::{Digest, Sha256};

use super::{pick_weighted, Director, Members};
use crate::backend::BackendHandle;

/// A hash director.
pub struct Hash {
    name: String,
    members: Members,
}

impl Hash {
    /// An empty one.
    pub fn new(name: &str) -> Hash {
        Hash { name: name.to_string(), members: Members::default() }
    }
}

/// The point in [0, 1) a key maps to.
pub fn key_point(key: &[u8]) -> f64 {
    let digest = Sha256::digest(key);
    let n = u32::from_le_bytes([digest[28], digest[29], digest[30], digest[31]]);
    f64::from(n) / 4_294_967_296.0
}

impl Director for Hash {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "hash"
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.backend_for_key(b"")
    }

    fn is_healthy(&self, _depth: usize) -> bool {
        true
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn uses_key(&self) -> bool {
        true
    }

    fn backend_for_key(&self, key: &[u8]) -> Option<BackendHandle> {
        let r = key_point(key);
        self.members.with(|list| pick_weighted(list, r, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_point_uses_the_last_four_digest_bytes_little_endian() {
        // SHA-256("") ends in ...78 52 b8 55.
        let expect = f64::from(u32::from_le_bytes([0x78, 0x52, 0xb8, 0x55])) / 4_294_967_296.0;
        assert_eq!(key_point(b""), expect);
    }
}
