//! A one-shot stop signal with many waiters, whose wait costs no lock once registered. Every
//! client connection polls its wait beside the connection itself, on every wakeup of its task;
//! tokio's `watch` and `Notify` take a mutex on each of those polls.
//!
//! Invariant: a waiter that returned `Pending` has its current waker registered, or the signal
//! was already given (it then sees the flag when polled again, and is woken by `stop` if it
//! registered before the map was drained).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// The signal.
#[derive(Default)]
pub struct Stop {
    stopped: AtomicBool,
    next: AtomicU64,
    waiters: Mutex<HashMap<u64, Waker>>,
}

/// A wait for the signal; resolves once it is given.
pub struct Stopped {
    stop: Arc<Stop>,
    id: u64,
    /// The waker registered last (`None` before the first registration).
    waker: Option<Waker>,
}

// === impl Stop ===

impl Stop {
    /// Gives the signal: every wait resolves.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let waiters = std::mem::take(&mut *self.waiters.lock());
        for w in waiters.into_values() {
            w.wake();
        }
    }

    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// A wait for the signal.
    pub fn wait(self: &Arc<Self>) -> Stopped {
        Stopped { stop: self.clone(), id: self.next.fetch_add(1, Ordering::Relaxed), waker: None }
    }
}

// === impl Stopped ===

impl Future for Stopped {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.is_stopped() {
            return Poll::Ready(());
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let waker = cx.waker().clone();
        self.stop.waiters.lock().insert(self.id, waker.clone());
        self.waker = Some(waker);
        // The signal may have been given between the check above and the registration, after
        // `stop` drained the map.
        if self.stop.is_stopped() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.waker.is_some() {
            self.stop.waiters.lock().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_wait_resolves_and_the_registry_empties() {
        let stop = Arc::new(Stop::default());
        let waits: Vec<_> = (0..3).map(|_| tokio::spawn(stop.wait())).collect();
        tokio::task::yield_now().await;
        // A wait dropped before the signal leaves nothing behind.
        let mut dropped = stop.wait();
        assert!(futures_poll(&mut dropped).is_pending());
        drop(dropped);
        assert_eq!(stop.waiters.lock().len(), 3);
        stop.stop();
        for w in waits {
            tokio::time::timeout(std::time::Duration::from_secs(5), w).await.unwrap().unwrap();
        }
        assert!(stop.waiters.lock().is_empty());
        // A wait made after the signal resolves at once.
        let mut late = stop.wait();
        assert!(futures_poll(&mut late).is_ready());
    }

    #[test]
    fn polling_again_with_the_same_waker_does_not_register_again() {
        let stop = Arc::new(Stop::default());
        let mut w = stop.wait();
        assert!(futures_poll(&mut w).is_pending());
        assert!(futures_poll(&mut w).is_pending());
        assert_eq!(stop.waiters.lock().len(), 1);
        stop.stop();
        assert!(futures_poll(&mut w).is_ready());
    }

    fn futures_poll(f: &mut Stopped) -> Poll<()> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }
}
