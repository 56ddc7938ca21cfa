//! A stored response's headers, kept compact: every name and value back to back in one buffer
//! of their own (never a slice of the connection's read buffer, which it would pin), and where
//! each ends. An `http::HeaderMap` costs about a kilobyte for a handful of headers (its buckets
//! and index are sized for growth); this costs the bytes themselves and 8 bytes a header. A
//! delivery makes its `HeaderMap` from it, each value a slice of the shared buffer.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Stored headers, in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name (lower case) and value, back to back.
    block: Bytes,
    /// Per header, where its name ends and where its value ends in `block` (a name starts where
    /// the value before it ended).
    ends: Box<[(u32, u32)]>,
}

// === impl Headers ===

impl Headers {
    /// The headers of a map, copied.
    pub fn from_map(map: &HeaderMap) -> Headers {
        let total: usize = map.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
        let mut block = BytesMut::with_capacity(total);
        let mut ends = Vec::with_capacity(map.len());
        for (name, value) in map {
            block.extend_from_slice(name.as_str().as_bytes());
            let name_end = block.len() as u32;
            block.extend_from_slice(value.as_bytes());
            ends.push((name_end, block.len() as u32));
        }
        Headers { block: block.freeze(), ends: ends.into_boxed_slice() }
    }

    /// The headers as a map with room for `spare` more (what delivery adds); the values are
    /// slices of the stored buffer, not copies.
    pub fn to_map(&self, spare: usize) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.ends.len() + spare);
        let mut start = 0usize;
        for &(name_end, value_end) in self.ends.iter() {
            let (name_end, value_end) = (name_end as usize, value_end as usize);
            let name = HeaderName::from_bytes(&self.block[start..name_end]);
            let value = HeaderValue::from_maybe_shared(self.block.slice(name_end..value_end));
            // Both were a valid name and value when they were stored.
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
            start = value_end;
        }
        map
    }

    /// Each header as (name in lower case, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let (name_end, value_end) = (name_end as usize, value_end as usize);
            let pair = (&self.block[start..name_end], &self.block[name_end..value_end]);
            start = value_end;
            pair
        })
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
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes it holds on the heap: names, values and their positions.
    pub fn heap_bytes(&self) -> u64 {
        (self.block.len() + self.ends.len() * std::mem::size_of::<(u32, u32)>()) as u64
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
        assert_eq!(h.heap_bytes(), (12 + 10 + 2 * 9 + 5 + 4 + 4) as u64 + 5 * 8);
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
        assert_eq!(h.heap_bytes(), 1 + 3 + 8);
    }
}
