//! The transaction log (Varnish's VSL, issue 22): what each transaction did, as records with
//! varnishlog's tags (`ReqStart`, `ReqMethod`, `VCL_call`, `RespStatus`, `Timestamp`, `End`, …).
//! A transaction gathers its records as it runs, in a binary form that costs a copy of their
//! bytes and no formatting (`txn.rs`: numbers and times are written as text by whoever reads),
//! and commits them at its end, in one piece, into a ring bounded in bytes (`ring.rs`).
//! Readers take them from there: `log.read` on the management port, or, for `shellac log` and
//! `shellac ncsa` on the same machine, a file in shared memory (`shared.rs`) that a thread of
//! the server fills and the readers read without asking the server anything. A reader that
//! falls behind loses the oldest transactions and is told so; nothing waits for a reader.
//!
//! When nobody has read the log lately (`IDLE`), transactions record nothing: the cost is one
//! relaxed load per transaction.

mod ring;
pub mod shared;
mod txn;

pub use ring::{Log, Read, DEFAULT_BYTES, IDLE, READ_BYTES};
pub use txn::{
    decode, decode_only, decode_raw, number_field, plain, push_record, timestamp_field, Decoded, Found, FoundRaw, Num,
    Raw, Txn,
};

use parking_lot::Mutex;

/// A record's tag, as varnishlog names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, non_camel_case_types)]
#[repr(u8)]
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
    Backend_health,
    TTL,
    ReqUnset,
    RespUnset,
    BereqUnset,
    BerespUnset,
    VCL_use,
    Filters,
    Storage,
    Fetch_Body,
    BackendClose,
}

/// A set of tags: the records a reader wants decoded (a reader that writes a few fields of
/// each transaction, as `shellac ncsa` does, need not turn every record into text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagSet(u64);

// (A tag is a bit of the set.)
const _: () = assert!(Tag::ALL.len() <= 64);

impl TagSet {
    /// Every tag.
    pub const ALL: TagSet = TagSet(u64::MAX);

    /// These tags.
    pub fn of(tags: &[Tag]) -> TagSet {
        tags.iter().fold(TagSet(0), |set, t| set.with(*t))
    }

    /// This set and `tag`.
    pub fn with(self, tag: Tag) -> TagSet {
        TagSet(self.0 | 1 << (tag as u8))
    }

    /// This set and `other`.
    pub fn union(self, other: TagSet) -> TagSet {
        TagSet(self.0 | other.0)
    }

    /// Whether `tag` is in it.
    pub fn contains(self, tag: Tag) -> bool {
        self.0 >> (tag as u8) & 1 == 1
    }
}

impl Tag {
    /// Every tag.
    pub const ALL: [Tag; 46] = [
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
        Tag::Backend_health,
        Tag::TTL,
        Tag::ReqUnset,
        Tag::RespUnset,
        Tag::BereqUnset,
        Tag::BerespUnset,
        Tag::VCL_use,
        Tag::Filters,
        Tag::Storage,
        Tag::Fetch_Body,
        Tag::BackendClose,
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
            Tag::Backend_health => "Backend_health",
            Tag::TTL => "TTL",
            Tag::ReqUnset => "ReqUnset",
            Tag::RespUnset => "RespUnset",
            Tag::BereqUnset => "BereqUnset",
            Tag::BerespUnset => "BerespUnset",
            Tag::VCL_use => "VCL_use",
            Tag::Filters => "Filters",
            Tag::Storage => "Storage",
            Tag::Fetch_Body => "Fetch_Body",
            Tag::BackendClose => "BackendClose",
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

/// What a transaction gathers while it runs (nothing when the log is idle).
#[derive(Debug, Default)]
pub struct Buffer(Option<Gathering>);

/// A transaction's records so far.
#[derive(Debug)]
struct Gathering {
    vxid: u64,
    side: Side,
    /// Its records in [`txn`]'s binary form.
    bytes: Vec<u8>,
    /// When its first timestamp was taken, and its latest (for `Timestamp`'s two spans).
    first: f64,
    last: f64,
}

/// One record being written (see [`Buffer::rec`]); its length is filled in when it is
/// dropped.
pub struct Rec<'a> {
    bytes: &'a mut Vec<u8>,
    at: usize,
}

impl Rec<'_> {
    /// Text.
    pub fn s(&mut self, text: &str) -> &mut Self {
        self.bytes.extend_from_slice(text.as_bytes());
        self
    }

    /// A number.
    pub fn n(&mut self, n: u64) -> &mut Self {
        txn::push_u64(self.bytes, n);
        self
    }
}

impl Drop for Rec<'_> {
    fn drop(&mut self) {
        txn::close(self.bytes, self.at);
    }
}

impl Buffer {
    /// A buffer for transaction `vxid`, if the log is being read.
    pub fn new(log: &Log, vxid: u64, side: Side) -> Buffer {
        Buffer(log.active().then(|| {
            let bytes = txn::begin(vxid, side, log.room_for(side));
            Gathering { vxid, side, bytes, first: 0.0, last: 0.0 }
        }))
    }

    /// Whether it records.
    pub fn on(&self) -> bool {
        self.0.is_some()
    }

    /// Records a `Timestamp`: `LABEL: TIME SINCE_FIRST SINCE_PREVIOUS` (the first one taken
    /// starts the transaction's clock).
    #[inline]
    pub fn timestamp(&mut self, label: &str, t: f64) {
        if let Some(g) = &mut self.0 {
            if g.first == 0.0 {
                (g.first, g.last) = (t, t);
            }
            txn::timestamp(&mut g.bytes, label, t, g.first, g.last);
            g.last = t;
        }
    }

    /// A record to write piece by piece, if recording: `if let Some(mut r) =
    /// b.rec(Tag::Begin) { r.s("req ").n(xid); }`.
    #[inline]
    pub fn rec(&mut self, tag: Tag) -> Option<Rec<'_>> {
        let g = self.0.as_mut()?;
        let at = txn::open(&mut g.bytes, tag);
        Some(Rec { bytes: &mut g.bytes, at })
    }

    /// Records one (`data` is only made when recording).
    pub fn add(&mut self, tag: Tag, data: impl FnOnce() -> String) {
        if let Some(mut r) = self.rec(tag) {
            r.s(&data());
        }
    }

    /// Records numbers (`ReqAcct`, `Hit`, …): kept binary, written out by the reader.
    #[inline]
    pub fn nums(&mut self, tag: Tag, nums: &[Num]) {
        if let Some(g) = &mut self.0 {
            txn::nums(&mut g.bytes, tag, nums);
        }
    }

    /// Records one with this data.
    #[inline]
    pub fn add_str(&mut self, tag: Tag, data: &str) {
        if let Some(g) = &mut self.0 {
            txn::open_sized(&mut g.bytes, tag, data.len());
            g.bytes.extend_from_slice(data.as_bytes());
        }
    }

    /// Records one, its data formatted (`format_args!`) straight into the record.
    pub fn add_fmt(&mut self, tag: Tag, data: std::fmt::Arguments<'_>) {
        if let Some(r) = self.rec(tag) {
            let _ = std::io::Write::write_fmt(&mut *r.bytes, data);
        }
    }

    /// Records a header: `name: value` (its bytes as they are).
    #[inline]
    pub fn add_header(&mut self, tag: Tag, name: &str, value: &[u8]) {
        if let Some(g) = &mut self.0 {
            // (Its length known at once: written with the tag, not filled in after.)
            txn::open_sized(&mut g.bytes, tag, name.len() + 2 + value.len());
            g.bytes.extend_from_slice(name.as_bytes());
            g.bytes.extend_from_slice(b": ");
            g.bytes.extend_from_slice(value);
        }
    }

    /// Commits records that belong to no transaction (vxid 0: `Backend_health`), without an
    /// `End`.
    pub fn commit_bare(&mut self, log: &Log) {
        if let Some(g) = self.0.take() {
            log.commit(Txn::new(g.vxid, g.side, g.bytes));
        }
    }

    /// Ends the transaction (`End`) and commits it.
    pub fn commit(&mut self, log: &Log) {
        if let Some(mut g) = self.0.take() {
            txn::open_sized(&mut g.bytes, Tag::End, 0);
            log.commit(Txn::new(g.vxid, g.side, g.bytes));
        }
    }
}

/// Some headers' values as they were, so that what changes them outside VCL (gzip on the way
/// in, delivery's framing on the way out) is logged as varnishd logs a change: the old line
/// unset, the new one set.
pub(crate) struct Watch<const N: usize> {
    names: &'static [http::HeaderName; N],
    before: [Option<http::HeaderValue>; N],
}

impl<const N: usize> Watch<N> {
    /// `names` in `headers` now, when `log` records.
    pub(crate) fn of(names: &'static [http::HeaderName; N], headers: &http::HeaderMap, log: &Buffer) -> Option<Self> {
        log.on().then(|| Watch { names, before: names.each_ref().map(|n| headers.get(n).cloned()) })
    }

    /// Logs each watched header that `headers` has changed: `unset` with the old line, `set` with
    /// the new.
    pub(crate) fn log_changes(&self, headers: &http::HeaderMap, log: &mut Buffer, [set, unset]: [Tag; 2]) {
        for (name, old) in self.names.iter().zip(&self.before) {
            let new = headers.get(name);
            if old.as_ref() == new {
                continue;
            }
            if let Some(old) = old {
                log.add_header(unset, name.as_str(), old.as_bytes());
            }
            if let Some(new) = new {
                log.add_header(set, name.as_str(), new.as_bytes());
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn records_read_as_varnishlog_shows_them() {
        let log = Log::default();
        log.read(u64::MAX, 1);
        let mut b = Buffer::new(&log, 7, Side::Client);
        b.timestamp("Start", 1_796_584_732.786_556);
        b.add_str(Tag::VCL_Log, "two\nlines");
        b.nums(Tag::ReqAcct, &[Num::U(95), Num::U(0)]);
        b.add_fmt(Tag::Hit, format_args!("{} {:.1}", 3, 0.25));
        b.add_header(Tag::ReqHeader, "host", b"example.com");
        b.add_header(Tag::ReqHeader, "x-bin", b"a\xffb");
        b.timestamp("Resp", 1_796_584_732.787_376);
        b.commit(&log);
        let r = log.read(0, 10);
        assert_eq!(
            r.txns[0].text(),
            "Timestamp Start: 1796584732.786556 0.000000 0.000000\nVCL_Log two\\nlines\nReqAcct 95 0\nHit 3 0.2\n\
             ReqHeader host: example.com\nReqHeader x-bin: a\u{fffd}b\n\
             Timestamp Resp: 1796584732.787376 0.000820 0.000820\nEnd \n"
        );
        assert_eq!(r.txns[0].records()[1], (Tag::VCL_Log, "two\nlines".to_string()));
        assert_eq!((r.txns[0].vxid, r.txns[0].side), (7, Side::Client));
    }
}
