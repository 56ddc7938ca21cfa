//! `directors.fallback(sticky)` (spec §3.3): the first healthy member in order; when sticky, the
//! member in use stays in use until it fails, even if an earlier one recovers.

use parking_lot::Mutex;

use super::{Director, Members};
use crate::backend::BackendHandle;

/// A fallback director.
pub struct Fallback {
    name: String,
    members: Members,
    sticky: bool,
    cur: Mutex<usize>,
}

impl Fallback {
    /// An empty one.
    pub fn new(name: &str, sticky: bool) -> Fallback {
        Fallback { name: name.to_string(), members: Members::default(), sticky, cur: Mutex::new(0) }
    }
}

impl Director for Fallback {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "fallback"
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.members.with(|list| {
            let n = list.len();
            if n == 0 {
                return None;
            }
            if !self.sticky {
                return list.iter().find(|m| m.handle.healthy_at(1)).map(|m| m.handle.clone());
            }
            let mut cur = self.cur.lock();
            for k in 0..n {
                let i = (*cur + k) % n;
                if list[i].handle.healthy_at(1) {
                    *cur = i;
                    return Some(list[i].handle.clone());
                }
            }
            None
        })
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn on_removed(&self, index: usize) {
        // The sticky position follows its member when an earlier one goes.
        let mut cur = self.cur.lock();
        if index < *cur {
            *cur -= 1;
        }
    }

    fn current(&self) -> Option<usize> {
        if self.sticky {
            Some(*self.cur.lock())
        } else {
            self.members.with(|list| list.iter().position(|m| m.handle.healthy_at(1)))
        }
    }
}
