//! A session's own timeouts (`sess.timeout_idle`, `sess.send_timeout`, `sess.timeout_linger`):
//! set from the parameters when the session opens, changed by VCL for the rest of the session,
//! and read by the connection's idle timer and send timeout each time they arm.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A number of seconds that one side sets and another reads.
#[derive(Clone, Debug)]
pub struct Secs(Arc<AtomicU64>);

/// The timeouts of one session.
#[derive(Debug)]
pub struct Timeouts {
    /// `sess.timeout_idle`: how long the connection may wait for a request's head.
    pub idle: Secs,
    /// `sess.send_timeout`: how long a write to the client may make no progress.
    pub send: Secs,
    /// `sess.timeout_linger`: kept and read back (varnishd's default, 0.05 s); Shellac has no
    /// worker thread to linger, so it changes nothing else.
    pub linger: Secs,
}

// === impl Secs ===

impl Secs {
    /// Starts at `secs`.
    pub fn new(secs: f64) -> Secs {
        Secs(Arc::new(AtomicU64::new(secs.to_bits())))
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Changes it (for whoever arms next).
    pub fn set(&self, secs: f64) {
        self.0.store(secs.to_bits(), Ordering::Relaxed);
    }

    /// As a duration (zero for a value that is not a positive number).
    pub fn duration(&self) -> Duration {
        crate::fetch::secs(self.get())
    }
}

// === impl Timeouts ===

impl Timeouts {
    /// A session's, from the parameters.
    pub fn new(params: &crate::params::Params) -> Timeouts {
        Timeouts { idle: Secs::new(params.timeout_idle), send: Secs::new(params.send_timeout), linger: Secs::new(0.05) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_seen_by_every_holder() {
        let a = Secs::new(5.0);
        let b = a.clone();
        a.set(0.25);
        assert_eq!(b.get(), 0.25);
        assert_eq!(b.duration(), Duration::from_millis(250));
        b.set(-1.0);
        assert_eq!(a.duration(), Duration::ZERO);
    }
}
