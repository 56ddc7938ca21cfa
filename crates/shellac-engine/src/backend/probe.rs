//! Health probes (spec §2): one task per (address, probe definition), a 64-slot history per
//! flag, the verdict `good >= threshold` over the newest `window` slots. The task holds only a
//! weak reference between probes, so it stops by itself when no loaded VCL uses the probe any
//! more; a VCL that declares the same backend address and probe again gets the same [`Prober`]
//! and with it the history (our deliberate difference from Varnish, which starts sick).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::address::Address;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// What one probe definition asks for, with the request bytes already built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProbeSpec {
    /// The full request sent on each probe.
    pub request: Vec<u8>,
    /// `.timeout`
    pub timeout: Duration,
    /// `.interval`
    pub interval: Duration,
    /// `.window`
    pub window: u32,
    /// `.threshold` (0 means 3).
    pub threshold: u32,
    /// `.initial`
    pub initial: u32,
    /// `.expected_response`
    pub expected: u16,
}

/// The rows of the history, in `backend.list -p` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// Good IPv4 connect.
    Ipv4 = 0,
    /// Good IPv6 connect.
    Ipv6 = 1,
    /// Good Unix-socket connect.
    Unix = 2,
    /// Transmit error.
    XmitError = 3,
    /// Good transmit.
    Xmit = 4,
    /// Receive error.
    RecvError = 5,
    /// Good receive.
    Recv = 6,
    /// Happy: the probe succeeded.
    Happy = 7,
}

/// The probe's state, as `backend.list -p` prints it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeState {
    /// One 64-bit shift register per [`Flag`]; bit 0 is the newest probe.
    pub bits: [u64; 8],
    /// Happy probes among the newest `window`.
    pub good: u32,
    /// Seconds taken by the last probe that got an answer.
    pub last: f64,
    /// Average response time of good probes.
    pub avg: f64,
    rate: u32,
    /// The first line of the last answer, or why there was none.
    pub message: String,
    /// Probes completed since creation.
    pub count: u64,
    /// Whether this sick spell was logged with its cause (once per spell).
    sick_logged: bool,
}

/// A probe target: its definition, state and verdict.
pub struct Prober {
    name: String,
    addr: Address,
    spec: ProbeSpec,
    state: Mutex<ProbeState>,
    healthy: AtomicBool,
    /// Backends of warm VCLs using this prober; it probes only while there is one.
    warm: AtomicUsize,
    /// Wakes the task when the prober turns warm, so that the first probe is immediate.
    wake: Arc<tokio::sync::Notify>,
    /// When the verdict last changed (or the prober was made).
    changed: Mutex<std::time::SystemTime>,
    /// The transaction log, for `Backend_health` records.
    log: Option<Arc<crate::vsl::Log>>,
}

// === impl Prober ===

impl Prober {
    /// A prober in its initial state (spec §2.2); call [`Prober::start`] to begin probing.
    pub fn new(name: String, addr: Address, spec: ProbeSpec) -> Prober {
        let p = Prober {
            name,
            addr,
            spec,
            state: Mutex::new(ProbeState::default()),
            healthy: AtomicBool::new(false),
            warm: AtomicUsize::new(0),
            wake: Arc::new(tokio::sync::Notify::new()),
            changed: Mutex::new(std::time::SystemTime::now()),
            log: None,
        };
        p.reset();
        p
    }

    /// This prober, logging its `Backend_health` records into `log` (while it is read).
    pub fn with_log(mut self, log: Arc<crate::vsl::Log>) -> Prober {
        self.log = Some(log);
        self
    }

    /// Starts the probe task: the first probe at once (if warm), then `.interval` after each one
    /// ends.
    pub fn start(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(run(weak, self.wake.clone()));
    }

    /// A backend of a warm VCL starts using the prober.
    pub fn warm(&self) {
        if self.warm.fetch_add(1, Ordering::AcqRel) == 0 {
            self.wake.notify_one();
        }
    }

    /// A backend stops using it (its VCL went cold or away).
    pub fn cool(&self) {
        let _ = self.warm.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Whether a warm VCL uses it (and so it probes).
    pub fn is_warm(&self) -> bool {
        self.warm.load(Ordering::Acquire) > 0
    }

    /// The verdict.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// When the verdict last changed.
    pub fn changed(&self) -> std::time::SystemTime {
        *self.changed.lock()
    }

    /// A copy of the state.
    pub fn state(&self) -> ProbeState {
        self.state.lock().clone()
    }

    /// The definition.
    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    /// `.threshold` as used (0 means 3).
    pub fn threshold(&self) -> u32 {
        if self.spec.threshold == 0 {
            3
        } else {
            self.spec.threshold
        }
    }

    /// The probe request's first line, as sent (`GET /probe.txt HTTP/1.1`).
    pub fn request_line(&self) -> String {
        let r = &self.spec.request;
        let end = r.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(r.len());
        String::from_utf8_lossy(&r[..end]).into_owned()
    }

    /// Back to the initial state: empty history with `initial` happy slots.
    pub fn reset(&self) {
        let mut st = self.state.lock();
        *st = ProbeState::default();
        for _ in 0..self.spec.initial {
            for b in &mut st.bits {
                *b <<= 1;
            }
            st.bits[Flag::Happy as usize] |= 1;
        }
        self.verdict(&mut st);
    }

    fn verdict(&self, st: &mut ProbeState) -> bool {
        let window = self.spec.window.min(64);
        let mask = if window >= 64 { u64::MAX } else { (1u64 << window) - 1 };
        st.good = (st.bits[Flag::Happy as usize] & mask).count_ones();
        let healthy = st.good >= self.threshold();
        self.healthy.store(healthy, Ordering::Relaxed);
        healthy
    }

    /// One probe (spec §2.3).
    pub async fn poke(&self) {
        {
            let mut st = self.state.lock();
            for b in &mut st.bits {
                *b <<= 1;
            }
        }
        let start = Instant::now();
        let deadline = start + self.spec.timeout;
        let (flags, answer, message) = self.exchange(deadline).await;
        let elapsed = start.elapsed().as_secs_f64();
        let mut st = self.state.lock();
        for &f in &flags {
            st.bits[f as usize] |= 1;
        }
        let happy = answer.is_some_and(|code| code == self.spec.expected);
        if flags.contains(&Flag::Recv) {
            st.last = elapsed;
        }
        if happy {
            st.bits[Flag::Happy as usize] |= 1;
            st.rate = (st.rate + 1).min(4);
            st.avg += (st.last - st.avg) / f64::from(st.rate);
        }
        st.message = message;
        st.count += 1;
        let was = self.is_healthy();
        let now = self.verdict(&mut st);
        // varnishlog's Backend_health record: into the transaction log (while it is read), and
        // as a trace line, every probe at debug, a change of health at info. (Probes come
        // seconds apart: made once, whether or not anybody reads it.)
        let record = format!(
            "{} {} {} {} {} {} {} {:.6} {:.6} \"{}\"",
            self.name,
            if was == now { "Still" } else { "Went" },
            if now { "healthy" } else { "sick" },
            newest_slots(&st.bits),
            st.good,
            self.threshold(),
            self.spec.window,
            st.last,
            st.avg,
            st.message
        );
        if let Some(log) = &self.log {
            let mut b = crate::vsl::Buffer::new(log, 0, crate::vsl::Side::None);
            b.add_str(crate::vsl::Tag::Backend_health, &record);
            b.commit_bare(log);
        }
        if was == now {
            tracing::debug!(target: "backend_health", "{record}");
        } else {
            tracing::info!(target: "backend_health", "{record}");
            *self.changed.lock() = std::time::SystemTime::now();
        }
        // A sick backend says why once per sick spell, with what the last failed probe saw.
        if now {
            st.sick_logged = false;
        } else if !happy && !st.sick_logged {
            st.sick_logged = true;
            tracing::warn!(
                target: "backend_health",
                "{} is sick: {} of the last {} probes passed, {} needed; the last probe ({}) got: {}",
                self.name,
                st.good,
                self.spec.window,
                self.threshold(),
                self.request_line(),
                st.message
            );
        }
    }

    /// Connect, send, read to EOF; returns the flags to set, the parsed status and the message.
    async fn exchange(&self, deadline: Instant) -> (Vec<Flag>, Option<u16>, String) {
        let mut flags = Vec::with_capacity(4);
        let mut stream = match tokio::time::timeout_at(deadline, self.addr.connect()).await {
            Err(_) => return (flags, None, "Open timeout".into()),
            Ok(Err(e)) => return (flags, None, format!("Open error {} ({e})", e.raw_os_error().unwrap_or(0))),
            Ok(Ok(s)) => s,
        };
        flags.push(match &self.addr {
            Address::Ip(a) if a.is_ipv4() => Flag::Ipv4,
            Address::Ip(_) => Flag::Ipv6,
            Address::Unix(_) => Flag::Unix,
        });
        match tokio::time::timeout_at(deadline, stream.write_all(&self.spec.request)).await {
            Ok(Ok(())) => flags.push(Flag::Xmit),
            Ok(Err(e)) => {
                flags.push(Flag::XmitError);
                return (flags, None, format!("Write error {} ({e})", e.raw_os_error().unwrap_or(0)));
            }
            Err(_) => return (flags, None, "Write timeout".into()),
        }
        let mut kept = Vec::with_capacity(128);
        let mut buf = [0u8; 4096];
        let mut total = 0usize;
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => {
                    flags.push(Flag::RecvError);
                    return (flags, None, "Poll timeout".into());
                }
                Ok(Err(e)) => {
                    flags.push(Flag::RecvError);
                    return (flags, None, format!("Read error {} ({e})", e.raw_os_error().unwrap_or(0)));
                }
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    total += n;
                    let room = 127usize.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        if total == 0 {
            return (flags, None, "Empty response".into());
        }
        flags.push(Flag::Recv);
        let line_end = kept.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(kept.len());
        let line = String::from_utf8_lossy(&kept[..line_end]).into_owned();
        (flags, parse_status_line(&line), line)
    }
}

/// `HTTP/<float> <uint>` followed by anything: the status code.
pub fn parse_status_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/")?;
    let ver_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (ver, rest) = rest.split_at(ver_end);
    ver.parse::<f64>().ok()?;
    let rest = rest.trim_start_matches([' ', '\t']);
    if ver_end == 0 {
        return None;
    }
    let code_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..code_end].parse().ok()
}

/// The newest slot of each row as 8 characters `46UxXrRH`, `-` where unset.
pub fn newest_slots(bits: &[u64; 8]) -> String {
    const LETTERS: &[u8; 8] = b"46UxXrRH";
    bits.iter().zip(LETTERS).map(|(b, &l)| if b & 1 == 1 { l as char } else { '-' }).collect()
}

async fn run(weak: Weak<Prober>, wake: Arc<tokio::sync::Notify>) {
    loop {
        let (interval, warm) = {
            let Some(p) = weak.upgrade() else { return };
            // Only warm VCLs probe; a cold one's prober waits, its history kept.
            let warm = p.is_warm();
            if warm {
                p.poke().await;
            }
            (p.spec.interval, warm)
        };
        if warm {
            // The interval counts from the end of the probe, whatever happens meanwhile.
            tokio::time::sleep(interval).await;
        } else {
            // Cold: probe at once when a VCL warms it.
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = wake.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(window: u32, threshold: u32, initial: u32) -> ProbeSpec {
        ProbeSpec {
            request: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            window,
            threshold,
            initial,
            expected: 200,
        }
    }

    #[test]
    fn status_lines_parse_as_varnish_does() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.1 200 "), Some(200));
        assert_eq!(parse_status_line("HTTP/1.0 404"), Some(404));
        assert_eq!(parse_status_line("FROBOZ 200"), None);
        assert_eq!(parse_status_line("HTTP/x 200"), None);
        assert_eq!(parse_status_line("HTTP/1.1"), None);
    }

    #[test]
    fn initial_fills_happy_slots_and_sets_the_verdict() {
        let addr = Address::Ip("127.0.0.1:9".parse().unwrap());
        let p = Prober::new("b".into(), addr.clone(), spec(8, 3, 2));
        assert_eq!(p.state().bits[Flag::Happy as usize], 0b11);
        assert!(!p.is_healthy());
        let p = Prober::new("b".into(), addr, spec(8, 3, 3));
        assert!(p.is_healthy());
        assert_eq!(p.state().good, 3);
        assert_eq!(newest_slots(&p.state().bits), "-------H");
    }
}
