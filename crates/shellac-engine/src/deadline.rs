//! Deadlines on long-lived timers. A kept-alive connection meets a new deadline per request
//! (first byte from a backend, the next request head from a client); arming a fresh timer for
//! each costs a timer-wheel insertion and removal. A [`Deadline`] keeps one timer and re-arms it
//! only when it fires before the current deadline or must fire sooner, so a request costs a
//! clock read. [`ConnTimer`] gives hyper's HTTP/1 server (its header-read timeout,
//! `timeout_idle`) the same for a client connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::{Instant, Sleep};

/// A deadline and the timer that watches it.
pub struct Deadline {
    at: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    /// A deadline at `at` (the timer is made when first needed).
    pub fn new(at: Instant) -> Deadline {
        Deadline { at, timer: None }
    }

    /// Moves the deadline (to any time, earlier or later).
    pub fn set(&mut self, at: Instant) {
        self.at = at;
    }

    /// Ready once the deadline has passed; otherwise the task is woken no later than then.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        loop {
            if timer.deadline() > at {
                timer.as_mut().reset(at);
            }
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= at => return Poll::Ready(()),
                // Armed for an earlier deadline: on to this one.
                Poll::Ready(()) => timer.as_mut().reset(at),
            }
        }
    }
}

/// hyper's timer for one client connection: every sleep hyper asks for is a deadline on the
/// connection's one timer. (hyper's HTTP/1 server holds one sleep at a time, for the request
/// head being read.)
#[derive(Clone)]
pub struct ConnTimer {
    shared: Arc<Mutex<Deadline>>,
    /// The session's `sess.timeout_idle`, which replaces the duration hyper asks for (hyper's
    /// server times only the wait for a request head with it).
    idle: Option<crate::vrt::timeouts::Secs>,
}

impl ConnTimer {
    /// A timer with no deadline yet.
    pub fn new() -> ConnTimer {
        ConnTimer { shared: Arc::new(Mutex::new(Deadline::new(Instant::now()))), idle: None }
    }

    /// A timer whose every sleep lasts what `idle` says when it starts.
    pub fn with_idle(idle: crate::vrt::timeouts::Secs) -> ConnTimer {
        ConnTimer { idle: Some(idle), ..ConnTimer::new() }
    }
}

impl Default for ConnTimer {
    fn default() -> Self {
        ConnTimer::new()
    }
}

struct DeadlineSleep {
    shared: Arc<Mutex<Deadline>>,
    at: Instant,
}

// hyper's trait speaks std's Instant; the conversions keep tokio's (pausable) clock underneath.
#[allow(clippy::disallowed_types)]
impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let duration = self.idle.as_ref().map_or(duration, crate::vrt::timeouts::Secs::duration);
        Box::pin(DeadlineSleep { shared: self.shared.clone(), at: crate::clock::mono() + duration })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let at = match &self.idle {
            Some(idle) => crate::clock::mono() + idle.duration(),
            None => Instant::from_std(deadline),
        };
        Box::pin(DeadlineSleep { shared: self.shared.clone(), at })
    }

    fn now(&self) -> std::time::Instant {
        crate::clock::mono().into_std()
    }
}

impl Future for DeadlineSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut deadline = self.shared.lock();
        deadline.set(self.at);
        deadline.poll_expired(cx)
    }
}

impl hyper::rt::Sleep for DeadlineSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer as _;

    #[tokio::test(start_paused = true)]
    async fn a_deadline_fires_at_its_time_after_moving_either_way() {
        let start = Instant::now();
        let mut d = Deadline::new(start + Duration::from_millis(100));
        std::future::poll_fn(|cx| d.poll_expired(cx)).await;
        assert!(Instant::now() >= start + Duration::from_millis(100));
        // Later: the fired timer is re-armed.
        d.set(Instant::now() + Duration::from_secs(5));
        let t = Instant::now();
        std::future::poll_fn(|cx| d.poll_expired(cx)).await;
        assert!(Instant::now() >= t + Duration::from_secs(5));
        // Set far, then pulled in: it fires at the nearer time.
        d.set(Instant::now() + Duration::from_secs(60));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(d.poll_expired(&mut cx).is_pending());
        let t = Instant::now();
        d.set(t + Duration::from_millis(10));
        std::future::poll_fn(|cx| d.poll_expired(cx)).await;
        assert!(Instant::now() >= t + Duration::from_millis(10) && Instant::now() < t + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_firing_timer_does_not_end_a_later_deadline() {
        let mut d = Deadline::new(Instant::now() + Duration::from_millis(10));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(d.poll_expired(&mut cx).is_pending());
        // The next request's deadline is later; the timer, armed for the first, fires first.
        let t = Instant::now();
        d.set(t + Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(d.poll_expired(&mut cx).is_pending(), "not expired at 20 ms");
        std::future::poll_fn(|cx| d.poll_expired(cx)).await;
        assert!(Instant::now() >= t + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn hyper_sleeps_share_the_connection_timer() {
        let timer = ConnTimer::new();
        let t = Instant::now();
        timer.sleep(Duration::from_millis(50)).await;
        assert!(Instant::now() >= t + Duration::from_millis(50));
        let t = Instant::now();
        timer.sleep_until((t + Duration::from_secs(3)).into_std()).await;
        assert!(Instant::now() >= t + Duration::from_secs(3));
    }
}
