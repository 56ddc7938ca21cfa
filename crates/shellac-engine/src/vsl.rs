//! The transaction log (Varnish's VSL, issue 22): what each transaction did, as records with
//! varnishlog's tags (`ReqStart`, `ReqMethod`, `VCL_call`, `RespStatus`, `Timestamp`, `End`, …).
//! A transaction gathers its records as it runs and commits them at its end, in one piece,
//! into a ring bounded in bytes; readers poll the ring from a cursor, and one that falls
//! behind loses the oldest transactions and is told how many (as a VSL reader is told of an
//! overrun). Nothing waits for a reader.
//!
//! When nobody has read the log lately (`IDLE`), transactions record nothing: the cost is one
//! relaxed load per transaction.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// A record's tag, as varnishlog names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, non_camel_case_types)]
pub enum Tag {
    Begin,
    End,
    ReqStart,
    ReqMethod,
    ReqURL,
    ReqProtocol,
    ReqHeader,
    VCL_call,
    VCL_return,
    Hit,
    HitMiss,
    HitPass,
    Link,
    RespProtocol,
    RespStatus,
    RespReason,
    RespHeader,
    Timestamp,
    BereqMethod,
    BereqURL,
    BereqProtocol,
    BereqHeader,
    BerespProtocol,
    BerespStatus,
    BerespReason,
    BerespHeader,
    FetchError,
    VCL_Log,
    ReqAcct,
    PipeAcct,
    BereqAcct,
    SessOpen,
    SessClose,
    BackendOpen,
    Length,
}

impl Tag {
    /// Every tag.
    pub const ALL: [Tag; 35] = [
        Tag::Begin,
        Tag::End,
        Tag::ReqStart,
        Tag::ReqMethod,
        Tag::ReqURL,
        Tag::ReqProtocol,
        Tag::ReqHeader,
        Tag::VCL_call,
        Tag::VCL_return,
        Tag::Hit,
        Tag::HitMiss,
        Tag::HitPass,
        Tag::Link,
        Tag::RespProtocol,
        Tag::RespStatus,
        Tag::RespReason,
        Tag::RespHeader,
        Tag::Timestamp,
        Tag::BereqMethod,
        Tag::BereqURL,
        Tag::BereqProtocol,
        Tag::BereqHeader,
        Tag::BerespProtocol,
        Tag::BerespStatus,
        Tag::BerespReason,
        Tag::BerespHeader,
        Tag::FetchError,
        Tag::VCL_Log,
        Tag::ReqAcct,
        Tag::PipeAcct,
        Tag::BereqAcct,
        Tag::SessOpen,
        Tag::SessClose,
        Tag::BackendOpen,
        Tag::Length,
    ];

    /// The tag of a name.
    pub fn from_name(name: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Begin => "Begin",
            Tag::End => "End",
            Tag::ReqStart => "ReqStart",
            Tag::ReqMethod => "ReqMethod",
            Tag::ReqURL => "ReqURL",
            Tag::ReqProtocol => "ReqProtocol",
            Tag::ReqHeader => "ReqHeader",
            Tag::VCL_call => "VCL_call",
            Tag::VCL_return => "VCL_return",
            Tag::Hit => "Hit",
            Tag::HitMiss => "HitMiss",
            Tag::HitPass => "HitPass",
            Tag::Link => "Link",
            Tag::RespProtocol => "RespProtocol",
            Tag::RespStatus => "RespStatus",
            Tag::RespReason => "RespReason",
            Tag::RespHeader => "RespHeader",
            Tag::Timestamp => "Timestamp",
            Tag::BereqMethod => "BereqMethod",
            Tag::BereqURL => "BereqURL",
            Tag::BereqProtocol => "BereqProtocol",
            Tag::BereqHeader => "BereqHeader",
            Tag::BerespProtocol => "BerespProtocol",
            Tag::BerespStatus => "BerespStatus",
            Tag::BerespReason => "BerespReason",
            Tag::BerespHeader => "BerespHeader",
            Tag::FetchError => "FetchError",
            Tag::VCL_Log => "VCL_Log",
            Tag::ReqAcct => "ReqAcct",
            Tag::PipeAcct => "PipeAcct",
            Tag::BereqAcct => "BereqAcct",
            Tag::SessOpen => "SessOpen",
            Tag::SessClose => "SessClose",
            Tag::BackendOpen => "BackendOpen",
            Tag::Length => "Length",
        }
    }
}

/// Which side a transaction is on (varnishlog's `c`, `b`, or `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A client request.
    Client,
    /// A backend fetch.
    Backend,
    /// Neither (a session).
    None,
}

impl Side {
    /// varnishlog's letter.
    pub fn letter(self) -> char {
        match self {
            Side::Client => 'c',
            Side::Backend => 'b',
            Side::None => '-',
        }
    }
}

/// One transaction's records.
#[derive(Debug)]
pub struct Txn {
    /// Its vxid.
    pub vxid: u64,
    /// Its side.
    pub side: Side,
    /// Its records as `log.read` gives them, a line each: `TAG DATA` (a newline in data
    /// written as `\n`). Written so as they are recorded, they are read without a copy per
    /// record.
    text: String,
    /// When its first timestamp was taken, and its latest (for `Timestamp`'s two spans).
    first: f64,
    last: f64,
}

impl Txn {
    /// Its records as `TAG DATA` lines.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its records, parsed back (for tests and tools; readers take [`Txn::text`]).
    pub fn records(&self) -> Vec<(Tag, String)> {
        self.text
            .lines()
            .filter_map(|l| {
                let (tag, data) = l.split_once(' ').unwrap_or((l, ""));
                Some((Tag::from_name(tag)?, data.replace("\\n", "\n")))
            })
            .collect()
    }
}

/// What a transaction gathers while it runs (nothing when the log is idle).
#[derive(Debug, Default)]
pub struct Buffer(Option<Txn>);

/// Writes `data` as one record's data: a newline in it as `\n`.
fn push_data(out: &mut String, data: &str) {
    if data.contains('\n') {
        out.push_str(&data.replace('\n', "\\n"));
    } else {
        out.push_str(data);
    }
}

/// Writes `n` in decimal (without `fmt`'s machinery: records are written on every request
/// while somebody reads).
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("?"));
}

/// Writes `t` seconds with six decimals (as `{:.6}`, by integer arithmetic).
pub(crate) fn push_secs(out: &mut String, t: f64) {
    let micros = (t * 1e6).round();
    let (neg, micros) = (micros < 0.0, micros.abs() as u64);
    if neg {
        out.push('-');
    }
    push_u64(out, micros / 1_000_000);
    out.push('.');
    let frac = micros % 1_000_000;
    let mut pad = 100_000;
    while pad > 1 && frac < pad {
        out.push('0');
        pad /= 10;
    }
    push_u64(out, frac);
}

/// One record being written (see [`Buffer::rec`]): its newline goes on when it is dropped.
pub struct Rec<'a>(&'a mut String);

impl Rec<'_> {
    /// Text that cannot hold a newline (a name, an address, a fixed word).
    pub fn s(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    /// A number.
    pub fn n(&mut self, n: u64) -> &mut Self {
        push_u64(self.0, n);
        self
    }

    /// Seconds, six decimals.
    pub fn secs(&mut self, t: f64) -> &mut Self {
        push_secs(self.0, t);
        self
    }
}

impl Drop for Rec<'_> {
    fn drop(&mut self) {
        self.0.push('\n');
    }
}

impl Buffer {
    /// A buffer for transaction `vxid`, if the log is being read.
    pub fn new(log: &Log, vxid: u64, side: Side) -> Buffer {
        Buffer(log.active().then(|| Txn { vxid, side, text: String::with_capacity(1024), first: 0.0, last: 0.0 }))
    }

    /// Records a `Timestamp`: `LABEL: TIME SINCE_FIRST SINCE_PREVIOUS` (the first one taken
    /// starts the transaction's clock).
    pub fn timestamp(&mut self, label: &str, t: f64) {
        if let Some(x) = &mut self.0 {
            if x.first == 0.0 {
                (x.first, x.last) = (t, t);
            }
            let (first, last) = (x.first, x.last);
            x.last = t;
            let out = &mut x.text;
            out.push_str("Timestamp ");
            out.push_str(label);
            out.push_str(": ");
            push_secs(out, t);
            out.push(' ');
            push_secs(out, t - first);
            out.push(' ');
            push_secs(out, t - last);
            out.push('\n');
        }
    }

    /// Whether it records.
    pub fn on(&self) -> bool {
        self.0.is_some()
    }

    /// Records one (`data` is only made when recording).
    pub fn add(&mut self, tag: Tag, data: impl FnOnce() -> String) {
        if let Some(t) = &mut self.0 {
            t.text.push_str(tag.name());
            t.text.push(' ');
            push_data(&mut t.text, &data());
            t.text.push('\n');
        }
    }

    /// A record to write piece by piece, if recording: `b.rec(Tag::Begin).map(|mut r| {
    /// r.s("req ").n(xid); })`. Only for pieces that hold no newline.
    pub fn rec(&mut self, tag: Tag) -> Option<Rec<'_>> {
        let t = self.0.as_mut()?;
        t.text.push_str(tag.name());
        t.text.push(' ');
        Some(Rec(&mut t.text))
    }

    /// Records one with this data.
    pub fn add_str(&mut self, tag: Tag, data: &str) {
        if let Some(t) = &mut self.0 {
            t.text.push_str(tag.name());
            t.text.push(' ');
            push_data(&mut t.text, data);
            t.text.push('\n');
        }
    }

    /// Records one, its data formatted (`format_args!`) straight into the record.
    pub fn add_fmt(&mut self, tag: Tag, data: std::fmt::Arguments<'_>) {
        if let Some(t) = &mut self.0 {
            t.text.push_str(tag.name());
            t.text.push(' ');
            let at = t.text.len();
            let _ = t.text.write_fmt(data);
            if t.text[at..].contains('\n') {
                let escaped = t.text[at..].replace('\n', "\\n");
                t.text.truncate(at);
                t.text.push_str(&escaped);
            }
            t.text.push('\n');
        }
    }

    /// Records a header: `name: value` (a value that is not UTF-8 with its bad bytes
    /// replaced).
    pub fn add_header(&mut self, tag: Tag, name: &str, value: &[u8]) {
        if let Some(t) = &mut self.0 {
            t.text.push_str(tag.name());
            t.text.push(' ');
            t.text.push_str(name);
            t.text.push_str(": ");
            match std::str::from_utf8(value) {
                Ok(v) => push_data(&mut t.text, v),
                Err(_) => push_data(&mut t.text, &String::from_utf8_lossy(value)),
            }
            t.text.push('\n');
        }
    }

    /// Ends the transaction (`End`) and commits it.
    pub fn commit(&mut self, log: &Log) {
        if let Some(mut t) = self.0.take() {
            t.text.push_str("End \n");
            log.commit(t);
        }
    }
}

/// The requests of a session, for its `Link` records: gathered only when the log was read as
/// the session began, and at most [`Links::MAX`] (a session that lives long ends its list
/// there: its requests still log themselves).
#[derive(Debug, Default)]
pub struct Links(Option<Mutex<Vec<u64>>>);

impl Links {
    /// The most requests a session's log lists.
    pub const MAX: usize = 1000;

    /// Links for a session beginning now.
    pub fn new(log: &Log) -> Links {
        Links(log.active().then(|| Mutex::new(Vec::new())))
    }

    /// Whether the session logs.
    pub fn on(&self) -> bool {
        self.0.is_some()
    }

    /// A request of the session.
    pub fn add(&self, vxid: u64) {
        if let Some(l) = &self.0 {
            let mut l = l.lock();
            if l.len() < Links::MAX {
                l.push(vxid);
            }
        }
    }

    /// The requests so far.
    pub fn take(&self) -> Vec<u64> {
        self.0.as_ref().map(|l| std::mem::take(&mut *l.lock())).unwrap_or_default()
    }
}

/// How long the log keeps recording after its last read, in seconds.
pub const IDLE: u64 = 10;

/// About how much text a read takes at most.
pub const READ_BYTES: usize = 128 * 1024;

/// The ring's default size in bytes of record data.
pub const DEFAULT_BYTES: usize = 16 << 20;

/// The log.
pub struct Log {
    ring: Mutex<Ring>,
    /// Whether anybody read it in the last [`IDLE`] seconds.
    active: AtomicBool,
    /// When it was last read (seconds of the monotonic clock since the log began).
    last_read: AtomicU64,
    born: tokio::time::Instant,
}

struct Ring {
    /// The sequence number of `txns[0]`.
    base: u64,
    txns: VecDeque<(Arc<Txn>, usize)>,
    bytes: usize,
    cap: usize,
}

/// What a read returns.
#[derive(Debug)]
pub struct Read {
    /// The transactions after the cursor, oldest first.
    pub txns: Vec<Arc<Txn>>,
    /// Where the next read starts.
    pub next: u64,
    /// Transactions the reader lost (they left the ring before it read them).
    pub lost: u64,
}

impl Default for Log {
    fn default() -> Self {
        Log::with_capacity(DEFAULT_BYTES)
    }
}

impl Log {
    /// A log keeping about `bytes` of record data.
    pub fn with_capacity(bytes: usize) -> Log {
        Log {
            ring: Mutex::new(Ring { base: 0, txns: VecDeque::new(), bytes: 0, cap: bytes }),
            active: AtomicBool::new(false),
            last_read: AtomicU64::new(0),
            born: tokio::time::Instant::now(),
        }
    }

    /// Whether transactions record.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Stops recording if nobody read for [`IDLE`] seconds (the server's sweeper calls it).
    pub fn idle_check(&self) {
        let now = self.born.elapsed().as_secs();
        if now.saturating_sub(self.last_read.load(Ordering::Relaxed)) > IDLE {
            self.active.store(false, Ordering::Relaxed);
        }
    }

    /// Commits a finished transaction; the oldest leave while the ring is over its size.
    pub fn commit(&self, txn: Txn) {
        let size = txn.text.len() + 32;
        let mut ring = self.ring.lock();
        ring.txns.push_back((Arc::new(txn), size));
        ring.bytes += size;
        while ring.bytes > ring.cap && ring.txns.len() > 1 {
            if let Some((_, s)) = ring.txns.pop_front() {
                ring.bytes -= s;
                ring.base += 1;
            }
        }
    }

    /// The transactions from `cursor` on (at most `max`); a read also keeps the log recording.
    /// A cursor of `u64::MAX` starts at the newest (a reader that wants only what comes next).
    pub fn read(&self, cursor: u64, max: usize) -> Read {
        self.last_read.store(self.born.elapsed().as_secs(), Ordering::Relaxed);
        self.active.store(true, Ordering::Relaxed);
        let ring = self.ring.lock();
        let end = ring.base + ring.txns.len() as u64;
        if cursor == u64::MAX {
            return Read { txns: Vec::new(), next: end, lost: 0 };
        }
        let from = cursor.max(ring.base).min(end);
        let lost = ring.base.saturating_sub(cursor);
        // (At most about READ_BYTES of text a read: readers keep up in small steps.)
        let mut bytes = 0;
        let txns: Vec<Arc<Txn>> = ring
            .txns
            .iter()
            .skip((from - ring.base) as usize)
            .take(max)
            .take_while(|(_, size)| {
                let more = bytes < READ_BYTES;
                bytes += size;
                more
            })
            .map(|(t, _)| t.clone())
            .collect();
        let next = from + txns.len() as u64;
        Read { txns, next, lost }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(vxid: u64, data: &str) -> Txn {
        Txn { vxid, side: Side::Client, text: format!("ReqURL {data}\n"), first: 0.0, last: 0.0 }
    }

    #[test]
    fn readers_get_what_came_after_their_cursor_and_are_told_what_they_lost() {
        let log = Log::with_capacity(1000);
        assert!(!log.active(), "nobody reads yet: nothing records");
        let start = log.read(u64::MAX, 10);
        assert!(log.active());
        for i in 0..5 {
            log.commit(txn(i, "/x"));
        }
        let r = log.read(start.next, 3);
        assert_eq!((r.txns.iter().map(|t| t.vxid).collect::<Vec<_>>(), r.next, r.lost), (vec![0, 1, 2], 3, 0));
        let r = log.read(r.next, 10);
        assert_eq!((r.txns.len(), r.next, r.lost), (2, 5, 0));
        // A slow reader: the ring (1,000 bytes) keeps the newest transactions only.
        for i in 5..100 {
            log.commit(txn(i, &"y".repeat(100)));
        }
        let r = log.read(5, 1000);
        assert!(r.lost > 80 && r.txns.last().is_some_and(|t| t.vxid == 99), "lost {}", r.lost);
        assert_eq!(r.next, 100);
        // A read takes about READ_BYTES of text at most; the next goes on from there.
        let log = Log::with_capacity(DEFAULT_BYTES);
        let start = log.read(u64::MAX, 1).next;
        for i in 0..100 {
            log.commit(txn(i, &"z".repeat(4096)));
        }
        let r = log.read(start, 1000);
        assert_eq!(r.txns.len(), READ_BYTES.div_ceil(4096 + 32 + 8));
        assert_eq!(log.read(r.next, 1000).txns[0].vxid, r.txns.len() as u64);
    }

    #[test]
    fn a_buffer_records_only_while_the_log_is_read() {
        let log = Log::default();
        let mut b = Buffer::new(&log, 1, Side::Client);
        b.add(Tag::ReqURL, || unreachable!("not made when idle"));
        b.commit(&log);
        assert_eq!(log.read(0, 10).txns.len(), 0);
        let mut b = Buffer::new(&log, 2, Side::Client);
        b.add(Tag::ReqURL, || "/a".into());
        b.commit(&log);
        let r = log.read(0, 10);
        assert_eq!(r.txns[0].records(), vec![(Tag::ReqURL, "/a".to_string()), (Tag::End, String::new())]);
        assert_eq!(r.txns[0].text(), "ReqURL /a\nEnd \n");
    }

    #[test]
    fn records_write_as_varnishlog_shows_them() {
        let log = Log::default();
        log.read(u64::MAX, 1);
        let mut b = Buffer::new(&log, 7, Side::Client);
        b.timestamp("Start", 1_796_584_732.786_556);
        b.add_str(Tag::VCL_Log, "two\nlines");
        b.add_fmt(Tag::ReqAcct, format_args!("{} {}\n", 95, 0));
        b.add_header(Tag::ReqHeader, "host", b"example.com");
        b.add_header(Tag::ReqHeader, "x-bin", b"a\xffb");
        b.timestamp("Resp", 1_796_584_732.787_376);
        b.commit(&log);
        let r = log.read(0, 10);
        assert_eq!(
            r.txns[0].text(),
            "Timestamp Start: 1796584732.786556 0.000000 0.000000\nVCL_Log two\\nlines\nReqAcct 95 0\\n\n\
             ReqHeader host: example.com\nReqHeader x-bin: a\u{fffd}b\n\
             Timestamp Resp: 1796584732.787376 0.000820 0.000820\nEnd \n"
        );
        assert_eq!(r.txns[0].records()[1], (Tag::VCL_Log, "two\nlines".to_string()));
        let mut s = String::new();
        for (t, want) in [
            (-0.25, "-0.250000"),
            (0.0, "0.000000"),
            (1.000_001, "1.000001"),
            (12.5, "12.500000"),
            (0.000_42, "0.000420"),
        ] {
            s.clear();
            push_secs(&mut s, t);
            assert_eq!(s, want);
        }
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            s.clear();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
