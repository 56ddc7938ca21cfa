//! Bans (spec §5.8): expressions that invalidate every stored object they match and that was
//! stored before them, tested lazily (at lookup, and by the lurker in the background) rather
//! than by walking the cache when they are issued. [`spec`] is the expression, [`list`] the
//! list and every object's place in it; the lurker's pass over the index is
//! [`crate::Cache::lurk_plan`] and its kin (`index/invalidation.rs`).

pub mod list;
pub mod spec;

pub use list::{Bans, Counters, Listed, MAX_BANS};
pub use spec::{Compile, Pattern, ReqView, Spec, SpecError};

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use super::Pattern;

    /// A "regex" for tests: matches where the pattern occurs as a substring.
    struct Sub(Vec<u8>);

    impl Pattern for Sub {
        fn is_match(&self, s: &[u8]) -> bool {
            s.windows(self.0.len().max(1)).any(|w| w == &self.0[..])
        }
    }

    /// Compiles a test pattern; one with `(` does not compile.
    pub(crate) fn compile(p: &str) -> Result<Arc<dyn Pattern>, String> {
        if p.contains('(') {
            return Err("missing closing parenthesis".into());
        }
        Ok(Arc::new(Sub(p.as_bytes().to_vec())))
    }
}
