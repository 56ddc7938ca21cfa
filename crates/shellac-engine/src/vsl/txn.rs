//! A transaction's binary form, as it is gathered, kept in the ring and written to the shared
//! file: a head (a magic number, the length of the whole, the vxid, the side) and the records,
//! each a tag byte, a length (`u32`, little-endian) and its data. Data is the record's text
//! as varnishlog shows it, except a `Timestamp`'s, which is its label, a zero byte and three
//! `f64` (when, when the transaction began, when the previous timestamp was taken): the
//! reader writes the numbers. Nothing is formatted while a request is served but integers.

use super::{Side, Tag, TagSet};

/// What starts every transaction: bytes that no UTF-8 text holds (0xF3 wants three
/// continuation bytes), so that a reader that lost its place finds the next one.
pub(crate) const MAGIC: [u8; 4] = [0xF3, 0xA7, 0x5C, 0x2E];

/// The head: magic, length, vxid, side, three bytes of padding.
pub(crate) const HEAD: usize = 20;

/// The largest transaction a reader accepts (a longer length is not a transaction's).
pub(crate) const MAX_TXN: usize = 64 << 20;

/// A committed transaction.
#[derive(Debug)]
pub struct Txn {
    /// Its vxid.
    pub vxid: u64,
    /// Its side.
    pub side: Side,
    bytes: Vec<u8>,
}

/// A transaction read back: its records' data as text (a newline in it as `\n`), all in one
/// string (a reader decodes hundreds of thousands of records a second).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Its vxid.
    pub vxid: u64,
    /// Its side.
    pub side: Side,
    /// Its records' data, one after the other.
    pub text: String,
    /// Its records: tag, and where its data is in `text`.
    pub spans: Vec<(Tag, std::ops::Range<usize>)>,
}

impl Decoded {
    /// Its records: tag, data.
    pub fn records(&self) -> impl DoubleEndedIterator<Item = (Tag, &str)> + '_ {
        self.spans.iter().map(|(tag, r)| (*tag, &self.text[r.clone()]))
    }
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug)]
pub enum Found {
    /// A transaction, and how many bytes it took.
    Txn(Decoded, usize),
    /// The start of one: more bytes are needed.
    Partial,
    /// Not a transaction (a reader that lost its place looks for the next [`MAGIC`]).
    Garbage,
}

/// A new transaction's bytes, its head written (its length is filled in at the commit), with
/// room for `capacity` bytes.
pub(crate) fn begin(vxid: u64, side: Side, capacity: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(capacity.max(64));
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&vxid.to_le_bytes());
    b.extend_from_slice(&[side.letter() as u8, 0, 0, 0]);
    b
}

/// Opens a record: its tag and room for its length; returns where the length goes.
#[inline]
pub(crate) fn open(b: &mut Vec<u8>, tag: Tag) -> usize {
    b.push(tag as u8);
    b.extend_from_slice(&[0; 4]);
    b.len() - 4
}

/// Opens a record whose data will be `len` bytes: its tag and its length at once (room made
/// for the data too).
#[inline]
pub(crate) fn open_sized(b: &mut Vec<u8>, tag: Tag, len: usize) {
    b.reserve(5 + len);
    let [x, y, z, w] = u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes();
    b.extend_from_slice(&[tag as u8, x, y, z, w]);
}

/// Closes the record opened at `at`: its length.
#[inline]
pub(crate) fn close(b: &mut [u8], at: usize) {
    let len = (b.len() - at - 4) as u32;
    b[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// A `Timestamp` record.
#[inline]
pub(crate) fn timestamp(b: &mut Vec<u8>, label: &str, t: f64, first: f64, last: f64) {
    // (Its length known at once, and the zero and the three times written as one piece.)
    let mut times = [0u8; 25];
    for (i, x) in [t, first, last].into_iter().enumerate() {
        times[1 + 8 * i..9 + 8 * i].copy_from_slice(&x.to_le_bytes());
    }
    open_sized(b, Tag::Timestamp, label.len() + times.len());
    b.extend_from_slice(label.as_bytes());
    b.extend_from_slice(&times);
}

/// A number of a numeric record (see [`nums`]).
#[derive(Clone, Copy, Debug)]
pub enum Num {
    /// An integer.
    U(u64),
    /// Seconds, written with six decimals.
    S(f64),
}

/// A record of numbers only (`ReqAcct`, `Hit`, `Length`, …), kept binary: a zero byte, then
/// each number as a type byte and eight bytes; the reader writes them, a space between.
pub(crate) fn nums(b: &mut Vec<u8>, tag: Tag, nums: &[Num]) {
    // (Its length known at once; each number written as one piece.)
    open_sized(b, tag, 1 + 9 * nums.len());
    b.push(0);
    for n in nums {
        let (kind, bits) = match *n {
            Num::U(u) => (b'u', u.to_le_bytes()),
            Num::S(f) => (b's', f.to_le_bytes()),
        };
        let mut field = [kind; 9];
        field[1..].copy_from_slice(&bits);
        b.extend_from_slice(&field);
    }
}

/// Two decimal digits of every number below 100, back to back.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal (without `fmt`'s machinery; two digits a step: a reader writes
/// millions of numbers a second).
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[n as usize * 2..n as usize * 2 + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[i..]);
}

/// `t` seconds in whole microseconds, rounded half away from zero (`f64::round`), without
/// its sign. (`round` is a call into libm on the x86-64 baseline, which has no instruction for
/// it; a reader writes out three of these for every `Timestamp`. A cast and a compare are
/// exact here: below 2^52 the fraction is exact, above it there is none; a NaN is 0.)
fn micros(t: f64) -> u64 {
    let m = (t * 1e6).abs();
    let whole = m as u64;
    if m - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// Writes `t` seconds with six decimals (as `{:.6}`, by integer arithmetic).
pub(crate) fn push_secs(out: &mut Vec<u8>, t: f64) {
    let micros = micros(t);
    if t < 0.0 && micros > 0 {
        out.push(b'-');
    }
    push_u64(out, micros / 1_000_000);
    // (The six decimals: three pairs.)
    let frac = (micros % 1_000_000) as usize;
    let mut six = [b'.'; 7];
    for (k, part) in [frac / 10_000, frac / 100 % 100, frac % 100].into_iter().enumerate() {
        six[1 + 2 * k..3 + 2 * k].copy_from_slice(&PAIRS[part * 2..part * 2 + 2]);
    }
    out.extend_from_slice(&six);
}

/// A `Timestamp` record in its binary form (see [`timestamp`]): its label and its three times
/// (the time, the first, the one before).
fn stamp_of(data: &[u8]) -> Option<(&[u8], [f64; 3])> {
    let zero = data.iter().position(|b| *b == 0).filter(|z| data.len() - z - 1 == 24)?;
    let f = |i: usize| f64::from_le_bytes(data[zero + 1 + i * 8..zero + 9 + i * 8].try_into().unwrap_or([0; 8]));
    Some((&data[..zero], [f(0), f(1), f(2)]))
}

/// A record of numbers in its binary form (see [`nums`]): each number's type byte and bits.
fn nums_of(data: &[u8]) -> Option<impl Iterator<Item = (u8, [u8; 8])> + '_> {
    (data.first() == Some(&0) && (data.len() - 1).is_multiple_of(9))
        .then(|| data[1..].chunks_exact(9).map(|f| (f[0], f[1..9].try_into().unwrap_or([0; 8]))))
}

/// When the record is one of numbers (a timestamp's, a counter's), its text, written into
/// `bytes` (cleared first): whether it was.
fn numbers_of(tag: Tag, data: &[u8], bytes: &mut Vec<u8>) -> bool {
    bytes.clear();
    if tag == Tag::Timestamp {
        let Some((label, [t, first, last])) = stamp_of(data) else { return false };
        bytes.extend_from_slice(label);
        bytes.extend_from_slice(b": ");
        push_secs(bytes, t);
        bytes.push(b' ');
        push_secs(bytes, t - first);
        bytes.push(b' ');
        push_secs(bytes, t - last);
        true
    } else if let Some(nums) = nums_of(data) {
        for (i, (kind, bits)) in nums.enumerate() {
            if i > 0 {
                bytes.push(b' ');
            }
            match kind {
                b'u' => push_u64(bytes, u64::from_le_bytes(bits)),
                _ => push_secs(bytes, f64::from_le_bytes(bits)),
            }
        }
        true
    } else {
        false
    }
}

/// A record's data as text, added to `out`: a timestamp's numbers written out, bytes that are
/// not UTF-8 replaced, and (with `escape`) a newline as `\n`.
/// `bytes`: room to write numbers in (kept from one record to the next).
fn push_text(out: &mut String, tag: Tag, data: &[u8], escape: bool, bytes: &mut Vec<u8>) {
    let text = if numbers_of(tag, data, bytes) { &bytes[..] } else { data };
    match std::str::from_utf8(text) {
        Ok(s) if escape && s.contains('\n') => out.push_str(&s.replace('\n', "\\n")),
        Ok(s) => out.push_str(s),
        Err(_) => {
            let s = String::from_utf8_lossy(text);
            out.push_str(&if escape { s.replace('\n', "\\n") } else { s.into_owned() });
        }
    }
}

/// As [`push_text`] with the escape, into bytes: text that is plain ASCII on one line (nearly
/// every record) is copied as it is, unchecked for anything else.
fn push_text_bytes(out: &mut Vec<u8>, tag: Tag, data: &[u8], bytes: &mut Vec<u8>) {
    if numbers_of(tag, data, bytes) {
        out.extend_from_slice(bytes);
    } else if plain(data) {
        out.extend_from_slice(data);
    } else {
        let mut s = String::new();
        push_text(&mut s, tag, data, true, bytes);
        out.extend_from_slice(s.as_bytes());
    }
}

/// Whether `data` is ASCII with no newline, in one pass that looks at every byte (no early
/// exit: the compiler checks many bytes at a time; a record is tens of bytes).
pub fn plain(data: &[u8]) -> bool {
    !data.iter().fold(false, |odd, &b| odd | (b >= 0x80) | (b == b'\n'))
}

/// A record's data as text (see [`push_text`]).
fn text_of(tag: Tag, data: &[u8], escape: bool) -> String {
    let mut s = String::new();
    push_text(&mut s, tag, data, escape, &mut Vec::new());
    s
}

/// The records of a transaction's bytes (after its head): tag, data.
fn records(body: &[u8]) -> Option<Vec<(Tag, &[u8])>> {
    let mut out = Vec::with_capacity(48);
    let mut i = 0;
    while i < body.len() {
        let (tag, data, next) = record_at(body, i)?;
        out.push((tag, data));
        i = next;
    }
    Some(out)
}

/// The record at `i` of a transaction's bytes (after its head): tag, data, and where the next
/// one starts; `None` when its framing is wrong.
fn record_at(body: &[u8], i: usize) -> Option<(Tag, &[u8], usize)> {
    let tag = *Tag::ALL.get(usize::from(*body.get(i)?))?;
    let len = u32::from_le_bytes(body.get(i + 1..i + 5)?.try_into().ok()?) as usize;
    let data = body.get(i + 5..i + 5 + len)?;
    Some((tag, data, i + 5 + len))
}

/// A transaction as it is stored, borrowed from a reader's buffer: its records still binary
/// (a reader that writes them out, as `shellac log -g raw` does, turns each into text once, in
/// its own output, with no transaction of text made first).
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    /// Its vxid.
    pub vxid: u64,
    /// Its side.
    pub side: Side,
    /// Its records (their framing checked when it was found).
    body: &'a [u8],
}

impl<'a> Raw<'a> {
    /// Its records: tag, data as recorded (write it out with [`push_record`]).
    pub fn records(&self) -> impl Iterator<Item = (Tag, &'a [u8])> + 'a {
        let body = self.body;
        self.spans().map(move |(tag, r)| (tag, &body[r]))
    }

    /// Its records: tag, where the data is in [`Raw::body`] (for a reader that keeps the places
    /// of the records it wants from one transaction to the next, in one list).
    pub fn spans(&self) -> impl Iterator<Item = (Tag, std::ops::Range<usize>)> + 'a {
        let body = self.body;
        let mut i = 0;
        std::iter::from_fn(move || {
            let (tag, data, next) = record_at(body, i)?;
            let at = next - data.len();
            i = next;
            Some((tag, at..next))
        })
    }

    /// Its records' bytes.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Its records whose tags are in `keep`, as text (as [`shared::Reader::read`] gives them,
    /// with every `Timestamp` written out).
    ///
    /// [`shared::Reader::read`]: super::shared::Reader::read
    pub fn text(&self, keep: TagSet) -> Decoded {
        text_of_raw(self, keep, None)
    }
}

/// A `Timestamp` record's number as its text shows it (six decimals), if it has this label:
/// `field` 1 is the time, 2 the time since the transaction's first timestamp, 3 since the one
/// before (for a reader that does not turn the record into text first).
pub fn timestamp_field(data: &[u8], label: &str, field: usize) -> Option<f64> {
    let Some((named, [t, first, last])) = stamp_of(data) else {
        // (As text: `LABEL: T SINCE_FIRST SINCE_PREVIOUS`.)
        let rest = std::str::from_utf8(data.strip_prefix(label.as_bytes())?.strip_prefix(b":")?).ok()?;
        return rest.split_ascii_whitespace().nth(field.checked_sub(1)?)?.parse().ok();
    };
    if named != label.as_bytes() {
        return None;
    }
    let x = match field {
        1 => t,
        2 => t - first,
        3 => t - last,
        _ => return None,
    };
    // (What the six decimals read back as: the same rational, rounded once.)
    let m = micros(x) as f64 / 1e6;
    Some(if x < 0.0 { -m } else { m })
}

/// The `n`-th number (from 1) of a record of numbers (`ReqAcct`, `BereqAcct`, …) as its text
/// shows it, if it is a whole number.
pub fn number_field(data: &[u8], n: usize) -> Option<u64> {
    let i = n.checked_sub(1)?;
    if let Some(mut nums) = nums_of(data) {
        let (kind, bits) = nums.nth(i)?;
        return (kind == b'u').then(|| u64::from_le_bytes(bits));
    }
    std::str::from_utf8(data).ok()?.split_ascii_whitespace().nth(i)?.parse().ok()
}

/// The length the transaction at the start of `buf` says it has (`None`: no transaction
/// starts there, or not 8 bytes of one yet).
pub(crate) fn declared_len(buf: &[u8]) -> Option<usize> {
    let head: [u8; 8] = buf.get(..8)?.try_into().ok()?;
    (head[..4] == MAGIC).then(|| u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize)
}

/// What [`decode_raw`] found at the start of a buffer.
#[derive(Debug)]
pub enum FoundRaw<'a> {
    /// A transaction, and how many bytes it took.
    Txn(Raw<'a>, usize),
    /// The start of one: more bytes are needed.
    Partial,
    /// Not a transaction.
    Garbage,
}

/// A record's data as `log.read` shows it (see [`Raw::records`]), added to `out` (UTF-8): a
/// timestamp's and a counter's numbers written out, bytes that are not UTF-8 replaced, a
/// newline as `\n`. `scratch`: room for the numbers, kept from one record to the next.
pub fn push_record(out: &mut Vec<u8>, tag: Tag, data: &[u8], scratch: &mut Vec<u8>) {
    push_text_bytes(out, tag, data, scratch);
}

/// The transaction at the start of `buf`, if one is there whole, its records' framing
/// checked and the records left as they are.
pub fn decode_raw(buf: &[u8]) -> FoundRaw<'_> {
    if buf.len() < HEAD {
        return if MAGIC.starts_with(&buf[..buf.len().min(4)]) { FoundRaw::Partial } else { FoundRaw::Garbage };
    }
    let Some(len) = declared_len(buf) else { return FoundRaw::Garbage };
    let side = match buf[16] {
        b'c' => Side::Client,
        b'b' => Side::Backend,
        b'-' => Side::None,
        _ => return FoundRaw::Garbage,
    };
    if !(HEAD..=MAX_TXN).contains(&len) {
        return FoundRaw::Garbage;
    }
    if buf.len() < len {
        return FoundRaw::Partial;
    }
    let vxid = u64::from_le_bytes(buf[8..16].try_into().unwrap_or([0; 8]));
    let body = &buf[HEAD..len];
    let mut i = 0;
    while i < body.len() {
        let Some((_, _, next)) = record_at(body, i) else { return FoundRaw::Garbage };
        i = next;
    }
    FoundRaw::Txn(Raw { vxid, side, body }, len)
}

/// The transaction at the start of `buf`, if one is there whole.
pub fn decode(buf: &[u8]) -> Found {
    decode_only(buf, TagSet::ALL)
}

/// As [`decode`], keeping only the records whose tags are in `keep` (the others are checked
/// for their framing, not turned into text).
pub fn decode_only(buf: &[u8], keep: TagSet) -> Found {
    match decode_raw(buf) {
        FoundRaw::Txn(raw, len) => Found::Txn(text_of_raw(&raw, keep, None), len),
        FoundRaw::Partial => Found::Partial,
        FoundRaw::Garbage => Found::Garbage,
    }
}

/// A transaction's records whose tags are in `keep`, as text; of its `Timestamp` records, with
/// `stamps`, only those of these labels (the others' numbers are not written out).
pub(crate) fn text_of_raw(raw: &Raw<'_>, keep: TagSet, stamps: Option<&[Box<[u8]>]>) -> Decoded {
    let mut text = String::with_capacity(raw.body.len());
    let mut spans = Vec::with_capacity(48);
    let mut scratch = Vec::new();
    let stamped = |data: &[u8]| {
        let label = data.split(|b| *b == 0).next().unwrap_or(data);
        stamps.is_none_or(|labels| labels.iter().any(|l| **l == *label))
    };
    for (tag, data) in raw.records() {
        if keep.contains(tag) && (tag != Tag::Timestamp || stamped(data)) {
            let at = text.len();
            push_text(&mut text, tag, data, true, &mut scratch);
            spans.push((tag, at..text.len()));
        }
    }
    Decoded { vxid: raw.vxid, side: raw.side, text, spans }
}

impl Txn {
    /// A transaction of these bytes (from [`begin`]; its length is written now).
    pub(crate) fn new(vxid: u64, side: Side, mut bytes: Vec<u8>) -> Txn {
        let len = bytes.len() as u32;
        bytes[4..8].copy_from_slice(&len.to_le_bytes());
        Txn { vxid, side, bytes }
    }

    /// The memory its bytes take.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Gives back the room it did not use, if that is more than a quarter of what it used.
    pub(crate) fn shrink_if_slack(&mut self) {
        if self.bytes.capacity() - self.bytes.len() > self.bytes.len() / 4 {
            self.bytes.shrink_to_fit();
        }
    }

    /// Its bytes (head and records).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its records, their data as recorded (for tests and tools).
    pub fn records(&self) -> Vec<(Tag, String)> {
        records(&self.bytes[HEAD..])
            .unwrap_or_default()
            .into_iter()
            .map(|(tag, data)| (tag, text_of(tag, data, false)))
            .collect()
    }

    /// Its records as `log.read` gives them: a line each, `TAG DATA` (a newline in data as
    /// `\n`).
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.bytes.len() + 256);
        let mut scratch = Vec::new();
        for (tag, data) in records(&self.bytes[HEAD..]).unwrap_or_default() {
            out.push_str(tag.name());
            out.push(' ');
            push_text(&mut out, tag, data, true, &mut scratch);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_from_the_bytes_are_those_their_text_shows() {
        let mut b = Vec::new();
        let stamps = [
            (1_796_584_732.786_556_4, 1_796_584_732.5, 1_796_584_732.7),
            (12.000_000_5, 12.0, 12.25),
            (0.1, 0.3, 0.2),
            (1_796_584_733.000_000_5, 1_796_584_732.786_556_4, 1_796_584_733.0),
        ];
        for (t, first, last) in stamps {
            timestamp(&mut b, "Resp", t, first, last);
        }
        nums(&mut b, Tag::ReqAcct, &[Num::U(78), Num::U(0), Num::U(u64::MAX), Num::S(1.5)]);
        let mut text = String::new();
        let mut scratch = Vec::new();
        let mut i = 0;
        while let Some((tag, data, next)) = record_at(&b, i) {
            i = next;
            text.clear();
            push_text(&mut text, tag, data, false, &mut scratch);
            if tag == Tag::Timestamp {
                let shown: Vec<f64> =
                    text["Resp:".len()..].split_ascii_whitespace().map(|n| n.parse().expect("number")).collect();
                for (k, want) in shown.iter().enumerate() {
                    // (Bit for bit: what the text reads back as.)
                    let got = timestamp_field(data, "Resp", k + 1).map(f64::to_bits);
                    assert_eq!(got, Some(want.to_bits()), "{text} field {}", k + 1);
                }
                assert_eq!(timestamp_field(data, "Start", 1), None, "another label");
                assert_eq!(timestamp_field(data, "Resp", 4), None);
                // The same record as text reads the same.
                assert_eq!(timestamp_field(text.as_bytes(), "Resp", 2), Some(shown[1]));
            } else {
                let shown: Vec<&str> = text.split_ascii_whitespace().collect();
                for (k, want) in shown.iter().enumerate() {
                    assert_eq!(number_field(data, k + 1), want.parse().ok(), "{text} field {}", k + 1);
                    assert_eq!(number_field(text.as_bytes(), k + 1), want.parse().ok());
                }
                assert_eq!(number_field(data, 5), None);
                assert_eq!(number_field(data, 0), None);
            }
        }
    }

    #[test]
    fn plain_text_is_ascii_on_one_line() {
        assert!(plain(b"") && plain(b"Host: example.com") && plain(&[b'x'; 100]));
        for odd in [b'\n', 0x80, 0xff] {
            for at in [0, 1, 15, 16, 31, 99] {
                let mut data = vec![b'x'; 100];
                data[at] = odd;
                assert!(!plain(&data), "{odd:#x} at {at}");
            }
        }
    }

    #[test]
    fn microseconds_round_as_f64_round_does() {
        let mut values = vec![0.0, -0.0, 0.5e-6, -0.5e-6, 0.499_999e-6, 1.5e-6, 2.5e-6, f64::NAN, f64::INFINITY];
        values.extend([1e10, 9.007_199_254_740_993e9, 1.8e13, -1.8e13, 1e20, f64::MAX, f64::MIN_POSITIVE]);
        // Halves and their neighbours, across the magnitudes timestamps have.
        for k in 0..2000u32 {
            let x = (f64::from(k) + 0.5) * 1e-6 * 10f64.powi((k % 16) as i32);
            values.extend([x, -x, f64::from_bits(x.to_bits() + 1), f64::from_bits(x.to_bits() - 1)]);
        }
        for t in values {
            let want = (t * 1e6).round().abs() as u64;
            assert_eq!(micros(t), want, "{t:e}");
        }
    }

    #[test]
    fn numbers_write_as_fmt_would() {
        let mut s = Vec::new();
        for (t, want) in [
            (-0.25, "-0.250000"),
            (0.0, "0.000000"),
            (1.000_001, "1.000001"),
            (12.5, "12.500000"),
            (0.000_42, "0.000420"),
            (0.05, "0.050000"),
            (99.999_999_9, "100.000000"),
            (1_796_584_732.786_556, "1796584732.786556"),
        ] {
            s.clear();
            push_secs(&mut s, t);
            assert_eq!(s, want.as_bytes());
        }
        for n in [0, 7, 10, 99, 100, 101, 999, 1000, 12_345, 1_000_000, 1_796_584_732, u64::MAX] {
            s.clear();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string().as_bytes());
        }
    }

    #[test]
    fn records_written_as_bytes_read_as_their_text() {
        let mut b = begin(7, Side::Client, 0);
        for data in [&b"/plain"[..], b"two\nlines", b"a\xffb", b"", b"\x00odd"] {
            let at = open(&mut b, Tag::VCL_Log);
            b.extend_from_slice(data);
            close(&mut b, at);
        }
        timestamp(&mut b, "Resp", 12.25, 10.0, 12.0);
        nums(&mut b, Tag::ReqAcct, &[Num::U(95), Num::U(0), Num::S(0.5)]);
        let t = Txn::new(7, Side::Client, b);
        let FoundRaw::Txn(raw, used) = decode_raw(t.bytes()) else { panic!("a transaction") };
        assert_eq!((raw.vxid, raw.side, used), (7, Side::Client, t.bytes().len()));
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        let mut want = String::new();
        for (tag, data) in raw.records() {
            push_record(&mut out, tag, data, &mut scratch);
            out.push(b'|');
            push_text(&mut want, tag, data, true, &mut Vec::new());
            want.push('|');
        }
        assert_eq!(String::from_utf8(out).expect("UTF-8"), want);
        assert_eq!(want, "/plain|two\\nlines|a\u{fffd}b||\u{0}odd|Resp: 12.250000 2.250000 0.250000|95 0 0.500000|");
    }

    #[test]
    fn a_reader_writes_out_only_the_timestamps_it_wants() {
        let mut b = begin(7, Side::Client, 0);
        timestamp(&mut b, "Start", 100.0, 100.0, 100.0);
        let at = open(&mut b, Tag::ReqURL);
        b.extend_from_slice(b"/x");
        close(&mut b, at);
        timestamp(&mut b, "Resp", 100.5, 100.0, 100.0);
        let t = Txn::new(7, Side::Client, b);
        let FoundRaw::Txn(raw, _) = decode_raw(t.bytes()) else { panic!("a transaction") };
        assert_eq!(text_of_raw(&raw, TagSet::ALL, None).spans.len(), 3);
        let resp: [Box<[u8]>; 1] = [b"Resp".as_slice().into()];
        let some = text_of_raw(&raw, TagSet::ALL, Some(&resp));
        let records: Vec<(Tag, &str)> = some.records().collect();
        assert_eq!(records, [(Tag::ReqURL, "/x"), (Tag::Timestamp, "Resp: 100.500000 0.500000 0.500000")]);
        // Other tags than Timestamp are kept by `keep` alone.
        assert_eq!(text_of_raw(&raw, TagSet::of(&[Tag::ReqURL]), Some(&resp)).spans.len(), 1);
    }

    #[test]
    fn a_reader_finds_transactions_and_tells_garbage_and_halves() {
        let mut b = begin(42, Side::Backend, 0);
        let at = open(&mut b, Tag::BereqURL);
        b.extend_from_slice(b"/x");
        close(&mut b, at);
        timestamp(&mut b, "Start", 10.5, 10.5, 10.5);
        nums(&mut b, Tag::Hit, &[Num::U(3), Num::S(119.5), Num::S(10.0)]);
        let t = Txn::new(42, Side::Backend, b);
        let mut buf = t.bytes().to_vec();
        buf.extend_from_slice(b"trailing");
        let Found::Txn(d, used) = decode(&buf) else { panic!("a transaction") };
        assert_eq!(used, t.bytes().len());
        assert_eq!((d.vxid, d.side), (42, Side::Backend));
        assert_eq!(
            d.records().map(|(t, s)| (t, s.to_string())).collect::<Vec<_>>(),
            [
                (Tag::BereqURL, "/x".to_string()),
                (Tag::Timestamp, "Start: 10.500000 0.000000 0.000000".to_string()),
                (Tag::Hit, "3 119.500000 10.000000".to_string())
            ]
        );
        assert!(matches!(decode(&t.bytes()[..used - 1]), Found::Partial));
        assert!(matches!(decode(&t.bytes()[..3]), Found::Partial));
        assert!(matches!(decode(b"trailing and more than twenty bytes"), Found::Garbage));
        let mut bad = t.bytes().to_vec();
        bad[HEAD] = 250; // no such tag
        assert!(matches!(decode(&bad), Found::Garbage));
        // A record longer than its transaction: garbage, whether it is kept or not.
        let mut long = t.bytes().to_vec();
        long[HEAD + 1..HEAD + 5].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(decode(&long), Found::Garbage));
        assert!(matches!(decode_only(&long, TagSet::of(&[Tag::Hit])), Found::Garbage));
        // A reader that keeps some tags gets those records only, from the same bytes.
        let Found::Txn(d, n) = decode_only(&buf, TagSet::of(&[Tag::Hit, Tag::BereqURL])) else {
            panic!("a transaction")
        };
        assert_eq!(n, used);
        assert_eq!(
            d.records().map(|(t, s)| (t, s.to_string())).collect::<Vec<_>>(),
            [(Tag::BereqURL, "/x".to_string()), (Tag::Hit, "3 119.500000 10.000000".to_string())]
        );
        let Found::Txn(d, _) = decode_only(&buf, TagSet::of(&[])) else { panic!("a transaction") };
        assert_eq!((d.vxid, d.records().count(), d.text.as_str()), (42, 0, ""));
        // Framing is checked all the same.
        assert!(matches!(decode_only(&bad, TagSet::of(&[Tag::Hit])), Found::Garbage));
    }
}
