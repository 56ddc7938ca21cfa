//! A client connection's bytes, as varnishd counts them (`MAIN.s_resp_*`, `MAIN.s_pipe_*`,
//! `MAIN.s_req_bodybytes`), and what they tell of why it closed: a connection that timed out
//! having read nothing since its last answer was idle (`RX_CLOSE_IDLE`), one that had begun
//! another request was too slow with it (`RX_TIMEOUT`); one whose request body broke off could
//! not go on (`RX_BODY`).
//!
//! The connection's reads and writes go through [`crate::client_io::ClientIo`], which tells the
//! tally of each; the request side tells it of each answer's head as it hands the answer to
//! hyper. The bytes written go to `s_resp_hdrbytes` until the heads handed over are used up,
//! then to `s_resp_bodybytes`: both counted as the bytes go out, so that neither ever runs ahead
//! of what was sent. Once a request is piped, everything the connection writes is
//! `s_pipe_out`, and what the client sends on is `s_pipe_in`: the request's body, then, once the
//! pipe is a tunnel (WebSocket, `CONNECT`), every byte read.
//!
//! Only the connection's own task touches its tally: plain loads and stores, no read-modify-write.
//! A piped connection counts in `n_pipe` until its tally goes, with the connection (or the
//! tunnel that took it over).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::stats::{Main, Stats};

/// One client connection's byte accounting.
#[derive(Default)]
pub struct Tally {
    stats: Arc<Stats>,
    /// Bytes of answer heads handed to hyper and not yet written.
    heads: AtomicU64,
    /// Bytes read from the client, in all.
    read: AtomicU64,
    /// `read` as it was when the connection last wrote.
    read_at_write: AtomicU64,
    /// A request of this connection was piped: what follows is the pipe's.
    piped: AtomicBool,
    /// The pipe became a tunnel: every byte read is the pipe's.
    tunnel: AtomicBool,
    /// A request body broke off (`RX_BODY`).
    body_failed: AtomicBool,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally").field("read", &self.read).field("piped", &self.piped).finish_non_exhaustive()
    }
}

impl Tally {
    /// A tally counting into `stats`.
    pub fn new(stats: Arc<Stats>) -> Tally {
        Tally {
            stats,
            heads: AtomicU64::new(0),
            read: AtomicU64::new(0),
            read_at_write: AtomicU64::new(0),
            piped: AtomicBool::new(false),
            tunnel: AtomicBool::new(false),
            body_failed: AtomicBool::new(false),
        }
    }

    /// `n` bytes read from the client.
    pub(crate) fn read(&self, n: usize) {
        let read = self.read.load(Relaxed) + n as u64;
        self.read.store(read, Relaxed);
        if n > 0 && self.tunnel.load(Relaxed) {
            self.stats.add(Main::SPipeIn, n as u64);
        }
    }

    /// `n` bytes written to the client, the first of them `data`.
    pub(crate) fn wrote(&self, data: &[u8], n: usize) {
        self.read_at_write.store(self.read.load(Relaxed), Relaxed);
        let n = n as u64;
        if n == 0 {
            return;
        }
        if self.piped() {
            self.stats.add(Main::SPipeOut, n);
            return;
        }
        let heads = self.heads.load(Relaxed);
        // A head hyper writes of its own, with no answer of ours on its way (`100 Continue`, a
        // 400 to junk, a 431), is a whole head in one write.
        let whole = usize::try_from(n).ok().and_then(|n| data.get(..n));
        let own = heads == 0 && whole.is_some_and(|d| d.starts_with(b"HTTP/1.") && d.ends_with(b"\r\n\r\n"));
        let head = if own { n } else { heads.min(n) };
        if heads > 0 {
            self.heads.store(heads - head, Relaxed);
        }
        if head > 0 {
            self.stats.add(Main::SRespHdrbytes, head);
        }
        if n > head {
            self.stats.add(Main::SRespBodybytes, n - head);
        }
    }

    /// An answer whose head is `n` bytes on the wire goes to hyper, to be written.
    pub(crate) fn head_out(&self, n: u64) {
        self.heads.store(self.heads.load(Relaxed) + n, Relaxed);
    }

    /// A request's body, `n` bytes, has been read: `s_req_bodybytes`, or a piped one's
    /// `s_pipe_in`.
    pub(crate) fn body_in(&self, n: u64) {
        if n > 0 {
            self.stats.add(if self.piped() { Main::SPipeIn } else { Main::SReqBodybytes }, n);
        }
    }

    /// A request's body broke off (the client stopped sending it, or sent too much): the
    /// connection cannot go on (`RX_BODY`).
    pub(crate) fn body_failed(&self) {
        self.body_failed.store(true, Relaxed);
    }

    /// Whether a request's body broke off.
    pub fn body_broke_off(&self) -> bool {
        self.body_failed.load(Relaxed)
    }

    /// The pipe becomes a tunnel: what the client sends from now on goes through as it is.
    pub(crate) fn tunnel(&self) {
        self.tunnel.store(true, Relaxed);
    }

    /// A request of `head` bytes is piped: from now on the connection is the pipe's
    /// (`s_pipe`'s bytes, `n_pipe` until it closes, `TX_PIPE` when it does).
    pub(crate) fn pipe(&self, head: u64) {
        if !self.piped.swap(true, Relaxed) {
            self.stats.pipe_opened();
        }
        self.stats.add(Main::SPipeHdrbytes, head);
    }

    /// Whether a request of this connection was piped.
    pub fn piped(&self) -> bool {
        self.piped.load(Relaxed)
    }

    /// Whether the client sent nothing since the connection last wrote (or since it opened).
    pub fn idle(&self) -> bool {
        self.read.load(Relaxed) == self.read_at_write.load(Relaxed)
    }
}

impl Drop for Tally {
    /// The connection is gone (a pipe's tunnel holds it to the end).
    fn drop(&mut self) {
        if self.piped() {
            self.stats.pipe_closed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(t: &Tally, c: Main) -> u64 {
        t.stats.get(c)
    }

    #[test]
    fn writes_pay_off_the_heads_first_then_count_as_body() {
        let t = Tally::new(Arc::default());
        let out = [b'x'; 2000];
        t.head_out(100);
        t.wrote(&out, 60);
        assert_eq!((get(&t, Main::SRespHdrbytes), get(&t, Main::SRespBodybytes)), (60, 0));
        t.wrote(&out, 1064);
        assert_eq!((get(&t, Main::SRespHdrbytes), get(&t, Main::SRespBodybytes)), (100, 1024));
        // Two pipelined answers in one write.
        t.head_out(50);
        t.head_out(50);
        t.wrote(&out, 110);
        assert_eq!((get(&t, Main::SRespHdrbytes), get(&t, Main::SRespBodybytes)), (200, 1034));
        // hyper's own: a head in one write, with none of ours on its way.
        t.wrote(b"HTTP/1.1 100 Continue\r\n\r\n", 25);
        assert_eq!((get(&t, Main::SRespHdrbytes), get(&t, Main::SRespBodybytes)), (225, 1034));
        // (A body that merely begins so is a body.)
        t.wrote(b"HTTP/1.1 is a protocol", 22);
        assert_eq!((get(&t, Main::SRespHdrbytes), get(&t, Main::SRespBodybytes)), (225, 1056));
    }

    #[test]
    fn a_piped_connection_counts_its_bytes_as_the_pipes() {
        let stats = Arc::new(Stats::default());
        let t = Tally::new(stats.clone());
        t.body_in(5);
        t.pipe(48);
        // Its body read (as hyper reads it, then as it is counted), the answer written back.
        t.read(7);
        t.body_in(7);
        t.head_out(100);
        t.wrote(&[b'x'; 300], 300);
        let got = [Main::SReqBodybytes, Main::SPipeHdrbytes, Main::SPipeIn, Main::SPipeOut, Main::SRespHdrbytes];
        assert_eq!(got.map(|c| get(&t, c)), [5, 48, 7, 300, 0]);
        // A tunnel: every byte read.
        t.tunnel();
        t.read(10);
        assert_eq!(get(&t, Main::SPipeIn), 17);
        assert_eq!(stats.pipes(), 1);
        drop(t);
        assert_eq!(stats.pipes(), 0, "a pipe goes on until its connection is gone");
    }

    #[test]
    fn idle_means_nothing_read_since_the_last_write() {
        let t = Tally::new(Arc::default());
        assert!(t.idle());
        t.read(40);
        assert!(!t.idle());
        t.wrote(b"HTTP/1.1 200 OK\r\n\r\n", 19);
        assert!(t.idle());
        t.read(3);
        assert!(!t.idle());
    }
}
