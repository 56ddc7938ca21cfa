//! `directors.round_robin()` (spec §3.2): members in turn, skipping sick ones; every member tried
//! advances the shared position.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Director, Members};
use crate::backend::BackendHandle;

/// A round-robin director.
pub struct RoundRobin {
    name: String,
    members: Members,
    next: AtomicUsize,
}

impl RoundRobin {
    /// An empty one.
    pub fn new(name: &str) -> RoundRobin {
        RoundRobin { name: name.to_string(), members: Members::default(), next: AtomicUsize::new(0) }
    }
}

impl Director for RoundRobin {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "round-robin"
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.members.with(|list| {
            let n = list.len();
            for _ in 0..n {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
                if list[i].handle.healthy_at(1) {
                    return Some(list[i].handle.clone());
                }
            }
            None
        })
    }

    fn members(&self) -> &Members {
        &self.members
    }
}
