//! `directors.random()` (spec §3.4): a healthy member chosen at random, in proportion to its
//! weight.

use super::{pick_weighted, Director, Members};
use crate::backend::BackendHandle;

/// A random director.
pub struct Random {
    name: String,
    members: Members,
}

impl Random {
    /// An empty one.
    pub fn new(name: &str) -> Random {
        Random { name: name.to_string(), members: Members::default() }
    }
}

impl Director for Random {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "random"
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.members.with(|list| pick_weighted(list, fastrand::f64(), 1))
    }

    fn members(&self) -> &Members {
        &self.members
    }
}
