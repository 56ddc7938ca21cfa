//! The time on the request path, read once per wake-up. HAProxy and nginx read the clock once
//! per turn of their event loop and stamp all that turn's work with it; a client connection here
//! does the same per poll of its task ([`per_poll`]). The first reading in a poll is kept and the
//! later ones in that poll get it: the request's timestamps (`req.time`, `bereq.time`,
//! `beresp.time`, `resp.time`, `now`), the backend pool's stamps and hyper's header-read
//! deadline. A poll is the CPU work between two waits, so a stamp is late by at most that.
//!
//! Wall-clock time in a poll comes from the same monotonic reading plus an offset read again
//! once a second: NTP slews both clocks alike, and a step of the wall clock shows within a
//! second. Outside a connection's poll (probes, the CLI, `vcl_init`) every reading is fresh.
//!
//! Not for deciding whether a timer has fired: [`crate::deadline`] reads the clock itself.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// How long a wall-clock offset is used before it is read again.
const RESYNC: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum Scope {
    /// Not in a connection's poll: every reading is fresh.
    Off,
    /// In a poll, the clock not read yet.
    Fresh,
    /// In a poll, read at this time (and the wall-clock time then, once asked for).
    Read(Instant, Option<f64>),
}

thread_local! {
    static SCOPE: Cell<Scope> = const { Cell::new(Scope::Off) };
    /// A monotonic time and the wall-clock seconds at that time.
    static OFFSET: Cell<Option<(Instant, f64)>> = const { Cell::new(None) };
}

/// Runs `f` with one clock reading per poll.
pub async fn per_poll<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    poll_fn(|cx| {
        let _scope = Enter::new();
        f.as_mut().poll(cx)
    })
    .await
}

/// Marks a poll from its start to its end (also when it unwinds).
struct Enter(Scope);

impl Enter {
    fn new() -> Enter {
        Enter(SCOPE.replace(Scope::Fresh))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        SCOPE.set(self.0);
    }
}

/// The monotonic time (tokio's, so that a paused test clock applies).
pub fn mono() -> Instant {
    match SCOPE.get() {
        Scope::Off => Instant::now(),
        Scope::Fresh => {
            let t = Instant::now();
            SCOPE.set(Scope::Read(t, None));
            t
        }
        Scope::Read(t, _) => t,
    }
}

/// Seconds since the epoch.
pub fn wall() -> f64 {
    match SCOPE.get() {
        Scope::Off => system_secs(),
        Scope::Read(_, Some(w)) => w,
        Scope::Fresh | Scope::Read(_, None) => {
            let m = mono();
            let since = OFFSET.get().map(|(base, secs)| (m.saturating_duration_since(base), secs));
            let w = match since {
                Some((d, secs)) if d < RESYNC => secs + d.as_secs_f64(),
                _ => {
                    let secs = system_secs();
                    OFFSET.set(Some((m, secs)));
                    secs
                }
            };
            SCOPE.set(Scope::Read(m, Some(w)));
            w
        }
    }
}

fn system_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps the thread (real time) long enough for any clock to move.
    fn pass_time() {
        std::thread::sleep(Duration::from_millis(3));
    }

    #[tokio::test]
    async fn outside_a_poll_every_reading_is_fresh() {
        let (m, w) = (mono(), wall());
        pass_time();
        assert!(mono() > m);
        assert!(wall() > w);
    }

    #[tokio::test]
    async fn one_poll_reads_the_clock_once() {
        let (m1, m2, w1, w2) = per_poll(async {
            let (m1, w1) = (mono(), wall());
            pass_time();
            (m1, mono(), w1, wall())
        })
        .await;
        assert_eq!(m1, m2);
        assert_eq!(w1, w2);
        // The scope ends with the poll.
        pass_time();
        assert!(mono() > m2);
    }

    #[tokio::test]
    async fn each_poll_reads_it_again_and_wall_time_follows() {
        let (m1, m2, w1, w2) = per_poll(async {
            let (m1, w1) = (mono(), wall());
            pass_time();
            tokio::task::yield_now().await;
            (m1, mono(), w1, wall())
        })
        .await;
        assert!(m2 > m1);
        let (dm, dw) = ((m2 - m1).as_secs_f64(), w2 - w1);
        assert!((dm - dw).abs() < 1e-5, "wall time moved {dw} s, monotonic {dm} s");
    }

    #[tokio::test]
    async fn wall_time_in_a_poll_is_the_system_time() {
        let w = per_poll(async { wall() }).await;
        assert!((w - system_secs()).abs() < 0.5, "{w} against {}", system_secs());
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_test_clock_applies() {
        let m = per_poll(async { mono() }).await;
        tokio::time::advance(Duration::from_secs(5)).await;
        let later = per_poll(async { mono() }).await;
        assert!(later - m >= Duration::from_secs(5));
    }
}
