//! What an access log line is read from: a transaction's records of the tags its format
//! reads, as text ([`Txn`], from the management port or for `-q` and `%{VSL:…}x`) or as the
//! shared file holds them ([`Packed`]).

use shellac_engine::vsl::Tag;

use crate::log::Txn;
use crate::query::Selector;

/// What a line is made from: a transaction's records of the tags its format reads, as text
/// ([`Txn`]) or as the shared file holds them ([`Packed`]).
pub(super) trait Source {
    fn vxid(&self) -> u64;
    /// `c`, `b` or `-`.
    fn side(&self) -> char;
    /// The data of its records of `tag`.
    fn of(&self, tag: Tag) -> impl DoubleEndedIterator<Item = &str> + '_;
    /// The data of its first (with `last`, its last) record of `tag` whose bytes `pick` picks
    /// (only that one is made text).
    fn find(&self, tag: Tag, last: bool, pick: impl Fn(&[u8]) -> bool) -> Option<&str>;
    /// Its first record.
    fn first_record(&self) -> Option<(Option<Tag>, &str)>;
    /// A `Timestamp` record's field (1: the time, 2: since the first, 3: since the one before)
    /// as its text shows it.
    fn timestamp(&self, label: &str, field: usize) -> Option<f64>;
    /// The `n`-th number (from 1) of its first record of `tag` (`ReqAcct` and the like).
    fn number(&self, tag: Tag, n: usize) -> Option<u64>;
    /// What a `%{VSL:…}x` selects.
    fn vsl(&self, sel: &Selector) -> Option<&str>;
}

impl Source for Txn {
    fn vxid(&self) -> u64 {
        self.vxid
    }

    fn side(&self) -> char {
        self.side
    }

    fn of(&self, tag: Tag) -> impl DoubleEndedIterator<Item = &str> + '_ {
        Txn::of(self, tag)
    }

    fn first_record(&self) -> Option<(Option<Tag>, &str)> {
        self.tagged().next()
    }

    fn find(&self, tag: Tag, last: bool, pick: impl Fn(&[u8]) -> bool) -> Option<&str> {
        let mut all = Txn::of(self, tag);
        if last {
            all.rfind(|d| pick(d.as_bytes()))
        } else {
            all.find(|d| pick(d.as_bytes()))
        }
    }

    fn timestamp(&self, label: &str, field: usize) -> Option<f64> {
        Txn::of(self, Tag::Timestamp).find_map(|d| shellac_engine::vsl::timestamp_field(d.as_bytes(), label, field))
    }

    fn number(&self, tag: Tag, n: usize) -> Option<u64> {
        shellac_engine::vsl::number_field(Txn::of(self, tag).next()?.as_bytes(), n)
    }

    fn vsl(&self, sel: &Selector) -> Option<&str> {
        self.records().find_map(|(tag, data)| sel.value(tag, data))
    }
}

/// A transaction as the shared file holds it, for a format that reads no `%{VSL:…}x`: where
/// its records of the tags the format reads are (one list, used again for every transaction),
/// their text borrowed from the reader's buffer and their numbers read from their bytes, with
/// no transaction of text made. A record it is asked for that is not UTF-8, or holds a newline,
/// marks it `lossy`: its line is then made from text, which shows such bytes replaced and a
/// newline as `\n`.
pub(super) struct Packed<'a> {
    pub(super) vxid: u64,
    pub(super) side: char,
    pub(super) body: &'a [u8],
    pub(super) spans: &'a [(Tag, std::ops::Range<usize>)],
    pub(super) lossy: std::cell::Cell<bool>,
}

impl Packed<'_> {
    /// The bytes of its records of `tag`.
    fn bytes_of(&self, tag: Tag) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.spans.iter().filter(move |(t, _)| *t == tag).map(|(_, r)| &self.body[r.clone()])
    }

    fn text(&self, r: &std::ops::Range<usize>) -> Option<&str> {
        let data = &self.body[r.clone()];
        // (Nearly always plain ASCII: the newline is looked for apart only in other text.)
        let text = std::str::from_utf8(data).ok().filter(|t| shellac_engine::vsl::plain(data) || !t.contains('\n'));
        if text.is_none() {
            self.lossy.set(true);
        }
        text
    }
}

impl Source for Packed<'_> {
    fn vxid(&self) -> u64 {
        self.vxid
    }

    fn side(&self) -> char {
        self.side
    }

    fn of(&self, tag: Tag) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.spans.iter().filter(move |(t, _)| *t == tag).filter_map(|(_, r)| self.text(r))
    }

    fn first_record(&self) -> Option<(Option<Tag>, &str)> {
        let (tag, r) = self.spans.first()?;
        Some((Some(*tag), self.text(r)?))
    }

    fn find(&self, tag: Tag, last: bool, pick: impl Fn(&[u8]) -> bool) -> Option<&str> {
        let mut all = self.spans.iter().filter(|(t, r)| *t == tag && pick(&self.body[r.clone()]));
        self.text(&if last { all.next_back() } else { all.next() }?.1)
    }

    fn timestamp(&self, label: &str, field: usize) -> Option<f64> {
        self.bytes_of(Tag::Timestamp).find_map(|d| shellac_engine::vsl::timestamp_field(d, label, field))
    }

    fn number(&self, tag: Tag, n: usize) -> Option<u64> {
        shellac_engine::vsl::number_field(self.bytes_of(tag).next()?, n)
    }

    fn vsl(&self, _: &Selector) -> Option<&str> {
        // (A format that reads `%{VSL:…}x` is made from text: see `run`.)
        self.lossy.set(true);
        None
    }
}
