//! A stored response's headers, kept compact: one allocation of their own (never a slice of the
//! connection's read buffer, which it would pin) holding where each name and value ends, then
//! every name and value back to back. An `http::HeaderMap` costs about a kilobyte for a handful
//! of headers (its buckets and index are sized for growth); this costs the bytes themselves
//! and 2 bytes a header (4 past 255 bytes of headers, 8 past 64 KiB). A delivery makes its
//! `HeaderMap` from it.
//!
//! Layout: the width of every number that follows (1, 2 or 4 bytes, little endian); the number
//! of headers; per header where its name ends and where its value ends (counted from the start
//! of the names and values; a name starts where the value before it ended); the names (lower
//! case) and values.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Writes the count and the positions into `numbers` (one slot each, by `put`) and the names and
/// values into `bytes`.
fn fill<'a>(
    mut numbers: impl Iterator<Item = &'a mut [u8]>,
    bytes: &mut [u8],
    parts: &[(&[u8], &[u8])],
    put: impl Fn(&mut [u8], usize),
) {
    let mut next = |v: usize| {
        if let Some(slot) = numbers.next() {
            put(slot, v);
        }
    };
    next(parts.len());
    let mut end = 0;
    for (name, value) in parts {
        for part in [name, value] {
            bytes[end..end + part.len()].copy_from_slice(part);
            end += part.len();
            next(end);
        }
    }
}

/// Stored headers, in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// As the module says; empty for no headers.
    block: Box<[u8]>,
}

// === impl Headers ===

impl Headers {
    /// The headers of a map, copied.
    pub fn from_map(map: &HeaderMap) -> Headers {
        if map.is_empty() {
            return Headers::default();
        }
        fn part<'a>((name, value): (&'a HeaderName, &'a HeaderValue)) -> (&'a [u8], &'a [u8]) {
            (name.as_str().as_bytes(), value.as_bytes())
        }
        // (The map is walked once: up to this many headers, nearly always, into a list on the
        // stack, read twice after; past it, into one on the heap.)
        const INLINE: usize = 32;
        if map.len() <= INLINE {
            let mut parts: [(&[u8], &[u8]); INLINE] = [(&[], &[]); INLINE];
            let mut n = 0;
            for (slot, header) in parts.iter_mut().zip(map) {
                *slot = part(header);
                n += 1;
            }
            Headers::from_parts(&parts[..n])
        } else {
            Headers::from_parts(&map.iter().map(part).collect::<Vec<_>>())
        }
    }

    /// Headers of these names (lower case) and values.
    fn from_parts(parts: &[(&[u8], &[u8])]) -> Headers {
        let n = parts.len();
        let data: usize = parts.iter().map(|(name, value)| name.len() + value.len()).sum();
        let fits = |max: usize| data <= max && n <= max;
        let width = if fits(u8::MAX.into()) {
            1
        } else if fits(u16::MAX.into()) {
            2
        } else {
            4
        };
        let start = 1 + width * (1 + 2 * n);
        let mut block = vec![0u8; start + data];
        block[0] = width as u8;
        let (numbers, bytes) = block[1..].split_at_mut(start - 1);
        // (Each number fits: the width was chosen for them; header blocks are far below 4 GiB.
        // A width fixed for the loop writes each in place, not through a copy of some length.)
        match width {
            1 => fill(numbers.chunks_exact_mut(1), bytes, parts, |c, v| c[0] = v as u8),
            2 => fill(numbers.chunks_exact_mut(2), bytes, parts, |c, v| c.copy_from_slice(&(v as u16).to_le_bytes())),
            _ => fill(numbers.chunks_exact_mut(4), bytes, parts, |c, v| c.copy_from_slice(&(v as u32).to_le_bytes())),
        }
        Headers { block: block.into_boxed_slice() }
    }

    /// The width of its numbers, and how many headers.
    fn dims(&self) -> (usize, usize) {
        match self.block.first() {
            Some(&w) => (usize::from(w), self.number(usize::from(w), 0)),
            None => (2, 0),
        }
    }

    /// The `i`th number after the width byte.
    fn number(&self, width: usize, i: usize) -> usize {
        let at = 1 + width * i;
        let b = &self.block[at..];
        match width {
            1 => usize::from(b[0]),
            2 => usize::from(u16::from_le_bytes([b[0], b[1]])),
            _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        }
    }

    /// The names and values, back to back, and per header where its name starts, where it
    /// ends (the value starts) and where the value ends in them.
    fn layout(&self) -> (&[u8], impl Iterator<Item = (usize, usize, usize)> + '_) {
        let (width, n) = self.dims();
        let data = &self.block[(1 + width * (1 + 2 * n)).min(self.block.len())..];
        let mut start = 0usize;
        let ends = (0..n).map(move |i| {
            let (name_end, value_end) = (self.number(width, 1 + 2 * i), self.number(width, 2 + 2 * i));
            let header = (start, name_end, value_end);
            start = value_end;
            header
        });
        (data, ends)
    }

    /// The headers as a map with room for `spare` more (what delivery adds). The names and
    /// values are copied once, together; each value is a slice of that copy.
    pub fn to_map(&self, spare: usize) -> HeaderMap {
        let (data, ends) = self.layout();
        let mut map = HeaderMap::with_capacity(self.len() + spare);
        let copy = Bytes::copy_from_slice(data);
        for (start, name_end, value_end) in ends {
            let name = HeaderName::from_bytes(&copy[start..name_end]);
            let value = HeaderValue::from_maybe_shared(copy.slice(name_end..value_end));
            // Both were a valid name and value when they were stored.
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
        map
    }

    /// Each header as (name in lower case, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (data, ends) = self.layout();
        ends.map(move |(start, name_end, value_end)| (&data[start..name_end], &data[name_end..value_end]))
    }

    /// The values of every header called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = name.as_str().as_bytes();
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The first value of the header called `name`.
    pub fn get(&self, name: &HeaderName) -> Option<HeaderValue> {
        let v = self.get_all(name).next()?;
        HeaderValue::from_bytes(v).ok()
    }

    /// How many headers.
    pub fn len(&self) -> usize {
        self.dims().1
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes it holds on the heap: names, values and their positions.
    pub fn heap_bytes(&self) -> u64 {
        self.block.len() as u64
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_order_with_repeats() {
        let mut m = HeaderMap::new();
        m.append("Content-Type", HeaderValue::from_static("text/plain"));
        m.append("x-custom", HeaderValue::from_static("a"));
        m.append("X-Custom", HeaderValue::from_static("b"));
        m.append("empty", HeaderValue::from_static(""));
        m.append(http::header::ETAG, HeaderValue::from_static("\"v1\""));
        let h = Headers::from_map(&m);
        assert_eq!(h.len(), 5);
        assert_eq!(h.to_map(3), m);
        let custom = HeaderName::from_static("x-custom");
        assert_eq!(h.get_all(&custom).collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(h.get(&http::header::ETAG), Some(HeaderValue::from_static("\"v1\"")));
        assert_eq!(h.get(&HeaderName::from_static("empty")), Some(HeaderValue::from_static("")));
        assert_eq!(h.get(&http::header::VARY), None);
        assert_eq!(h.heap_bytes(), (12 + 10 + 2 * 9 + 5 + 4 + 4) as u64 + 1 + 1 + 5 * 2);
        assert!(Headers::default().is_empty() && Headers::default().to_map(0).is_empty());
    }

    #[test]
    fn the_stored_copy_does_not_share_the_source_buffer() {
        // A value sliced out of a large read buffer: the stored block holds only its bytes.
        let read_buffer = Bytes::from(vec![b'v'; 16 * 1024]);
        let mut m = HeaderMap::new();
        m.insert("x", HeaderValue::from_maybe_shared(read_buffer.slice(0..3)).expect("value"));
        let h = Headers::from_map(&m);
        drop(m);
        assert!(read_buffer.is_unique(), "the read buffer is not pinned by the stored headers");
        assert_eq!(h.heap_bytes(), 1 + 3 + 1 + 1 + 2);
        assert_eq!(h.to_map(0), {
            let mut m = HeaderMap::new();
            m.insert("x", HeaderValue::from_static("vvv"));
            m
        });
    }

    #[test]
    fn many_headers_round_trip_as_few_do() {
        for count in [1, 31, 32, 33, 100] {
            let mut m = HeaderMap::new();
            for i in 0..count {
                m.append(HeaderName::from_bytes(format!("x-h{}", i % 7).as_bytes()).expect("name"), i.into());
            }
            let h = Headers::from_map(&m);
            assert_eq!((h.len(), h.to_map(0)), (count, m), "{count} headers");
        }
    }

    #[test]
    fn past_255_bytes_of_headers_the_positions_are_two_bytes() {
        let mut m = HeaderMap::new();
        m.append("x-a", HeaderValue::from_str(&"a".repeat(250)).expect("value"));
        m.append("x-b", HeaderValue::from_static("b"));
        let h = Headers::from_map(&m);
        assert_eq!(h.heap_bytes(), 1 + 2 + 2 * 4 + 3 + 250 + 3 + 1);
        assert_eq!(h.to_map(0), m);
    }

    #[test]
    fn past_64_kib_of_headers_the_positions_are_four_bytes() {
        let mut m = HeaderMap::new();
        let big = "b".repeat(40_000);
        m.append("x-big", HeaderValue::from_str(&big).expect("value"));
        m.append("x-big", HeaderValue::from_str(&big).expect("value"));
        m.append("x-small", HeaderValue::from_static("s"));
        let h = Headers::from_map(&m);
        assert_eq!(h.heap_bytes(), 1 + 4 + 3 * 8 + 2 * (5 + 40_000) + 8);
        assert_eq!(h.to_map(0), m);
        assert_eq!(h.get(&HeaderName::from_static("x-small")), Some(HeaderValue::from_static("s")));
    }
}
