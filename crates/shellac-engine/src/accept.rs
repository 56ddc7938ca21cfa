//! Accepting through resource exhaustion. When `accept` fails (out of file descriptors,
//! `EMFILE`/`ENFILE`, or memory), the listening socket stays readable, so a loop that retries at
//! once spins and one that logs every failure floods the log. [`Backoff`] sleeps a little longer
//! after each failure (as varnishd's acceptor does: `acceptor_sleep_incr` 1 ms up to
//! `acceptor_sleep_max` 50 ms, decaying by `acceptor_sleep_decay` 0.9 per success), logs the
//! first failure of a burst, then at most one summary every [`SUMMARY_EVERY`], and says when
//! accepting works again. Both the HTTP listeners and the management port use it.

use std::time::Duration;

use tokio::time::Instant;

/// The sleep added by each failure.
const INCREMENT: Duration = Duration::from_millis(1);
/// The longest sleep between attempts.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// How the sleep shrinks with each success.
const DECAY: f64 = 0.9;
/// At most one log line about a burst of failures this often.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The backoff state of one accept loop.
#[derive(Debug)]
pub struct Backoff {
    what: String,
    sleep: Duration,
    /// Failures since the last success.
    failures: u64,
    /// Failures not yet reported, and when the last report was.
    unreported: u64,
    reported_at: Option<Instant>,
}

// === impl Backoff ===

impl Backoff {
    /// The backoff of the accept loop on `what` (`a0=0.0.0.0:80`, `the management port`).
    pub fn new(what: impl Into<String>) -> Backoff {
        Backoff { what: what.into(), sleep: Duration::ZERO, failures: 0, unreported: 0, reported_at: None }
    }

    /// An accept failed: logs (rate-limited) and sleeps before the next attempt.
    pub async fn failed(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        self.failures += 1;
        self.unreported += 1;
        if self.failures == 1 {
            tracing::warn!(
                "accept on {}: {e}; retrying every {}-{} ms until it works (further failures are \
                 summarised every {} s)",
                self.what,
                INCREMENT.as_millis(),
                MAX_SLEEP.as_millis(),
                SUMMARY_EVERY.as_secs()
            );
            self.unreported = 0;
            self.reported_at = Some(now);
        } else if self.reported_at.is_none_or(|t| now.saturating_duration_since(t) >= SUMMARY_EVERY) {
            tracing::warn!("accept on {}: {} more failures ({e})", self.what, self.unreported);
            self.unreported = 0;
            self.reported_at = Some(now);
        }
        self.sleep = (self.sleep + INCREMENT).min(MAX_SLEEP);
        tokio::time::sleep(self.sleep).await;
    }

    /// An accept succeeded: the sleep decays, and the end of a burst is logged.
    pub fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::warn!("accept on {} works again after {} failures", self.what, self.failures);
            self.failures = 0;
            self.unreported = 0;
        }
        self.sleep = self.sleep.mul_f64(DECAY);
    }

    /// The sleep before the next attempt after a failure now.
    pub fn sleep(&self) -> Duration {
        self.sleep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_sleep_longer_up_to_the_maximum_and_successes_decay() {
        let mut b = Backoff::new("test");
        let e = std::io::Error::from_raw_os_error(24);
        for _ in 0..3 {
            b.failed(&e).await;
        }
        assert_eq!(b.sleep(), Duration::from_millis(3));
        for _ in 0..100 {
            b.failed(&e).await;
        }
        assert_eq!(b.sleep(), MAX_SLEEP);
        b.succeeded();
        assert_eq!(b.sleep(), MAX_SLEEP.mul_f64(0.9));
        assert_eq!(b.failures, 0);
    }
}
