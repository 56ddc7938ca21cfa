//! An object's body as it is stored: chunks appended by the one fetch that fills it, read by any
//! number of readers, each at its own pace, from the first byte, while the fetch goes on
//! (streaming, spec §5.5). A reader that catches up waits for the next chunk; a fetch that fails
//! mid-body ends every reader with the error (they truncate, as Varnish's do).
//!
//! The chunks are `Bytes`: a reader's chunk is a reference, not a copy. When the body completes,
//! it is kept in as few allocations as its size allows, for a stored object's allocations are
//! what a miss writes into memory the CPU's caches lost long ago, and what its eviction frees
//! there:
//! - a small one (up to [`SMALL_MAX`]) becomes one plain allocation (a reader gets a copy:
//!   cheaper than the bookkeeping a shared chunk costs each of a million small objects);
//! - one up to [`PIECE`] becomes one `Bytes` over an allocation of exactly its length, its
//!   count made with it: three allocations with the box that holds it, where a list of one
//!   chunk took four (the list's box, its buffer, the bytes, and their count at the first
//!   reader). (Not an `Arc<[u8]>` with the count in front: a body of a round size, 1 KiB, would
//!   then take the allocator's next size, a quarter more.) Each reader shares it;
//! - a larger one up to [`MERGE_MAX`] is cut again into pieces of [`PIECE`] (a hit goes out in a
//!   few writes, not one per 8 KiB read of the fetch; pieces of a size the allocator recycles
//!   well, where bodies of a megabyte in one allocation each leave the freed ones' memory with
//!   the process).
//!
//! Nothing else is ever removed from a body while it lives. A reader's position is the bytes
//! it has read and, while the chunks can still be cut again, its chunk index.

use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use parking_lot::Mutex;

/// A body being filled or filled.
pub struct Body {
    inner: Mutex<Inner>,
}

struct Inner {
    chunks: Chunks,
    /// While it fills (or once it failed): who waits, and the failure. `None`: complete.
    fill: Option<Box<Fill>>,
}

enum Chunks {
    /// Boxed: 16 bytes for either form, not 24 (a million small objects have none).
    Shared(Box<Shared>),
    /// A complete body up to [`SMALL_MAX`].
    Small(Box<[u8]>),
}

/// Chunks that readers share.
enum Shared {
    /// As they were appended, or cut again.
    List(Vec<Bytes>),
    /// A complete body from [`SMALL_MAX`] to [`PIECE`] in one piece (see the module).
    Whole(Bytes),
}

#[derive(Default)]
struct Fill {
    /// Readers waiting for the next chunk or the end.
    waiting: Vec<Waker>,
    /// Why the fetch broke off.
    failed: Option<Box<str>>,
}

/// A complete body up to this size is cut again into pieces of [`PIECE`].
pub const MERGE_MAX: u64 = 1 << 20;

/// The size of the pieces a complete body up to [`MERGE_MAX`] is cut into.
pub const PIECE: usize = 64 << 10;

/// At most this many chunks in a body that was cut again: with no more, a reader finds its
/// place by its bytes (chunk boundaries no longer move), with more by its chunk index (such a
/// body was never cut).
const PIECES_MAX: usize = (MERGE_MAX as usize).div_ceil(PIECE);

/// A complete body up to this size is kept as plain bytes, copied for each reader.
pub const SMALL_MAX: usize = 256;

impl Chunks {
    /// An empty list, to be appended to.
    fn list() -> Chunks {
        Chunks::Shared(Box::new(Shared::List(Vec::new())))
    }

    /// A complete body of `chunks` (`len` bytes in all), kept as the module says. Unless `copy`,
    /// a body that the module's rules leave as it came keeps its chunks (a stored body never
    /// holds on to the buffer its chunks were read into: it is a copy).
    fn complete(chunks: &[Bytes], len: usize, copy: bool) -> Chunks {
        if len <= SMALL_MAX {
            Chunks::Small(chunks.concat().into_boxed_slice())
        } else if len <= PIECE {
            let whole = match chunks {
                // (As it is: the store's own copy already, or another object's body, shared.)
                [one] if !copy => one.clone(),
                [one] => Bytes::from_owner(Box::<[u8]>::from(&one[..])),
                _ => Bytes::from_owner(chunks.concat().into_boxed_slice()),
            };
            Chunks::Shared(Box::new(Shared::Whole(whole)))
        } else if len as u64 <= MERGE_MAX && chunks.len() > len.div_ceil(PIECE) {
            Chunks::Shared(Box::new(Shared::List(cut(chunks, len))))
        } else {
            let own = |c: &Bytes| if copy { Bytes::copy_from_slice(c) } else { c.clone() };
            Chunks::Shared(Box::new(Shared::List(chunks.iter().map(own).collect())))
        }
    }

    fn get(&self, i: usize) -> Option<Bytes> {
        match self {
            Chunks::Shared(s) => match &**s {
                Shared::List(l) => l.get(i).cloned(),
                // (Whole and small bodies are complete: read by bytes, see `by_bytes`.)
                Shared::Whole(_) => None,
            },
            Chunks::Small(_) => None,
        }
    }

    /// Shared chunks (each with its bookkeeping; plain bytes have none).
    fn shared(&self) -> usize {
        match self {
            Chunks::Shared(s) => match &**s {
                Shared::List(l) => l.len(),
                Shared::Whole(_) => 1,
            },
            Chunks::Small(_) => 0,
        }
    }

    /// Bytes stored so far (summed: one chunk once the body is complete, a handful while it
    /// fills for the few who ask then; a field would cost every stored object 8 bytes).
    fn len(&self) -> u64 {
        match self {
            Chunks::Shared(s) => match &**s {
                Shared::List(l) => l.iter().map(|c| c.len() as u64).sum(),
                Shared::Whole(w) => w.len() as u64,
            },
            Chunks::Small(b) => b.len() as u64,
        }
    }

    /// Whether a reader finds its place by bytes (see [`PIECES_MAX`]): the body is complete
    /// and has few chunks.
    fn by_bytes(&self, complete: bool) -> bool {
        complete && self.shared() <= PIECES_MAX
    }

    /// The rest of the chunk that holds byte `at` (`None` past the end).
    fn at_byte(&self, at: u64) -> Option<Bytes> {
        let at = usize::try_from(at).ok()?;
        match self {
            Chunks::Small(b) => (at < b.len()).then(|| Bytes::copy_from_slice(&b[at..])),
            Chunks::Shared(s) => match &**s {
                Shared::Whole(w) => (at < w.len()).then(|| w.slice(at..)),
                Shared::List(l) => {
                    let mut start = 0;
                    for c in l.iter() {
                        if at < start + c.len() {
                            return Some(c.slice(at - start..));
                        }
                        start += c.len();
                    }
                    None
                }
            },
        }
    }

    /// All of it, as readers get it.
    fn all(&self) -> Vec<Bytes> {
        match self {
            Chunks::Shared(s) => match &**s {
                Shared::List(l) => l.clone(),
                Shared::Whole(w) => vec![w.clone()],
            },
            Chunks::Small(b) if b.is_empty() => Vec::new(),
            Chunks::Small(b) => vec![Bytes::copy_from_slice(b)],
        }
    }
}

/// Where the filling stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// The fetch is still appending.
    #[default]
    Filling,
    /// Complete.
    Complete,
    /// The fetch broke off: readers end with this error.
    Failed(Box<str>),
}

/// A reader of a body: its position (the next chunk, and the bytes read).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    next: usize,
    read: u64,
}

/// `list` (`len` bytes in all) in pieces of [`PIECE`] (the last one shorter).
fn cut(list: &[Bytes], len: usize) -> Vec<Bytes> {
    let mut pieces = Vec::with_capacity(len.div_ceil(PIECE));
    let mut piece = Vec::with_capacity(PIECE.min(len));
    for c in list {
        let mut c = &c[..];
        while !c.is_empty() {
            let n = c.len().min(PIECE - piece.len());
            piece.extend_from_slice(&c[..n]);
            c = &c[n..];
            if piece.len() == PIECE {
                let rest = len - (pieces.len() + 1) * PIECE;
                pieces.push(Bytes::from(std::mem::replace(&mut piece, Vec::with_capacity(PIECE.min(rest)))));
            }
        }
    }
    if !piece.is_empty() {
        pieces.push(Bytes::from(piece));
    }
    pieces
}

// === impl Body ===

impl Default for Body {
    fn default() -> Self {
        Body { inner: Mutex::new(Inner { chunks: Chunks::list(), fill: Some(Box::default()) }) }
    }
}

impl Body {
    /// A complete body of these bytes.
    pub fn complete(bytes: Bytes) -> Body {
        let chunks = if bytes.is_empty() { Vec::new() } else { vec![bytes] };
        Body { inner: Mutex::new(Inner { chunks: Chunks::Shared(Box::new(Shared::List(chunks))), fill: None }) }
    }

    /// A complete body of these chunks (all of it came with the response's head), kept as
    /// [`Body::finish`] keeps a complete body; each chunk a copy when `copy` (a stored body never
    /// holds on to the buffer its chunks were read into).
    pub fn complete_from(chunks: &[Bytes], copy: bool) -> Body {
        let len = chunks.iter().map(Bytes::len).sum::<usize>();
        Body { inner: Mutex::new(Inner { chunks: Chunks::complete(chunks, len, copy), fill: None }) }
    }

    /// Appends a chunk (the fetch) and wakes the readers waiting for it.
    pub fn append(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let waiting = {
            let mut i = self.inner.lock();
            let Inner { chunks: Chunks::Shared(shared), fill: Some(fill) } = &mut *i else { return };
            let Shared::List(list) = &mut **shared else { return };
            if fill.failed.is_some() {
                return;
            }
            list.push(chunk);
            std::mem::take(&mut fill.waiting)
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Ends the body, complete or failed, and wakes every reader; how many chunks fewer it
    /// holds (a complete body becomes one, or plain bytes).
    pub fn finish(&self, state: State) -> usize {
        let (waiting, fewer) = {
            let mut i = self.inner.lock();
            let Inner { chunks, fill } = &mut *i;
            let Some(f) = fill else { return 0 };
            if f.failed.is_some() {
                return 0;
            }
            let before = chunks.shared();
            let waiting = std::mem::take(&mut f.waiting);
            match state {
                State::Failed(e) => f.failed = Some(e),
                State::Filling => return 0,
                State::Complete => {
                    *fill = None;
                    if let Chunks::Shared(shared) = chunks {
                        if let Shared::List(list) = &mut **shared {
                            let len = list.iter().map(Bytes::len).sum::<usize>();
                            if len <= PIECE || (len as u64 <= MERGE_MAX && list.len() > len.div_ceil(PIECE)) {
                                // (Several chunks are copied once more, into the form it keeps:
                                // fewer allocations for as long as it lives.)
                                *chunks = Chunks::complete(list, len, false);
                            } else {
                                // The chunk list grew by doubling; it will not grow again.
                                list.shrink_to_fit();
                            }
                        }
                    }
                }
            }
            (waiting, before - chunks.shared())
        };
        waiting.into_iter().for_each(Waker::wake);
        fewer
    }

    /// The next chunk for a reader at `cursor`: `Ready(None)` at the end of a complete body,
    /// `Ready(Some(Err))` when the fetch failed, `Pending` (woken later) while the fetch has
    /// given nothing more yet.
    pub fn poll_chunk(&self, cursor: &mut Cursor, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        let mut i = self.inner.lock();
        if i.chunks.by_bytes(i.fill.is_none()) {
            // (The chunks may have been cut again since this reader's last one.)
            return Poll::Ready(i.chunks.at_byte(cursor.read).map(|rest| {
                cursor.read += rest.len() as u64;
                Ok(rest)
            }));
        }
        if let Some(chunk) = i.chunks.get(cursor.next) {
            cursor.next += 1;
            cursor.read += chunk.len() as u64;
            return Poll::Ready(Some(Ok(chunk)));
        }
        match &mut i.fill {
            None => Poll::Ready(None),
            Some(f) => match &f.failed {
                Some(e) => Poll::Ready(Some(Err(e.to_string()))),
                None => {
                    if !f.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                        f.waiting.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
            },
        }
    }

    /// Bytes stored so far.
    pub fn len(&self) -> u64 {
        self.inner.lock().chunks.len()
    }

    /// Reads its first byte, so that its first chunk is in the CPU's caches when an eviction
    /// frees it (see `Object::warm`): 0 for an empty body.
    pub(crate) fn warm(&self) -> u8 {
        let i = self.inner.lock();
        let first = match &i.chunks {
            Chunks::Small(b) => b.first(),
            Chunks::Shared(s) => match &**s {
                Shared::Whole(b) => b.first(),
                Shared::List(v) => v.first().and_then(|c| c.first()),
            },
        };
        first.copied().unwrap_or(0)
    }

    /// How many shared chunks it holds (each with its bookkeeping).
    pub fn chunks(&self) -> usize {
        self.inner.lock().chunks.shared()
    }

    /// Bytes stored so far and shared chunks, read together.
    pub fn len_and_chunks(&self) -> (u64, usize) {
        let i = self.inner.lock();
        (i.chunks.len(), i.chunks.shared())
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a reader at `cursor` has read all of it (it is complete, and no bytes are left).
    pub fn is_read(&self, cursor: &Cursor) -> bool {
        let i = self.inner.lock();
        i.fill.is_none() && cursor.read >= i.chunks.len()
    }

    /// Where the filling stands.
    pub fn state(&self) -> State {
        match &self.inner.lock().fill {
            None => State::Complete,
            Some(f) => f.failed.clone().map_or(State::Filling, State::Failed),
        }
    }

    /// The whole body, once complete (`None` while filling or failed).
    pub fn bytes(&self) -> Option<Vec<Bytes>> {
        let i = self.inner.lock();
        if i.fill.is_some() {
            return None;
        }
        Some(i.chunks.all())
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.inner.lock();
        f.debug_struct("Body")
            .field("len", &i.chunks.len())
            .field("chunks", &i.chunks.shared())
            .field("complete", &i.fill.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll(b: &Body, c: &mut Cursor, w: &Arc<Count>) -> Poll<Option<Result<Bytes, String>>> {
        let waker = Waker::from(w.clone());
        b.poll_chunk(c, &mut Context::from_waker(&waker))
    }

    #[test]
    fn a_body_complete_from_the_start_is_kept_as_one_appended_and_finished_is() {
        let sizes: &[&[usize]] = &[
            &[],
            &[100],
            &[SMALL_MAX],
            &[SMALL_MAX + 1],
            &[1000, 500, 24],
            &[8 << 10; 40],
            &[PIECE; 3],
            &[(MERGE_MAX as usize) / 2 + 1; 3],
        ];
        for (i, parts) in sizes.iter().enumerate() {
            let chunks: Vec<Bytes> =
                parts.iter().enumerate().map(|(j, &n)| Bytes::from(vec![(i * 7 + j) as u8; n])).collect();
            let appended = Body::default();
            chunks.iter().for_each(|c| appended.append(c.clone()));
            appended.finish(State::Complete);
            for copy in [false, true] {
                let b = Body::complete_from(&chunks, copy);
                assert_eq!(b.state(), State::Complete, "{parts:?}");
                assert_eq!((b.len(), b.chunks()), (appended.len(), appended.chunks()), "{parts:?}");
                let w = Arc::new(Count(AtomicUsize::new(0)));
                let read = |b: &Body| read_all(b, &mut Cursor::default(), &w);
                assert_eq!(read(&b), read(&appended), "{parts:?}");
            }
        }
        // A copy holds on to nothing of the buffer the chunk was read into; a chunk kept as it
        // is shares it.
        let read_buffer = Bytes::from(vec![b'r'; 4096]);
        let chunk = read_buffer.slice(..1000);
        let copied = Body::complete_from(std::slice::from_ref(&chunk), true);
        drop(chunk);
        assert!(read_buffer.is_unique());
        let shared = Body::complete_from(&[read_buffer.slice(..1000)], false);
        assert!(!read_buffer.is_unique());
        let w = Arc::new(Count(AtomicUsize::new(0)));
        assert_eq!(read_all(&copied, &mut Cursor::default(), &w), read_all(&shared, &mut Cursor::default(), &w));
    }

    #[test]
    fn readers_join_at_any_time_and_read_from_the_start() {
        let b = Body::default();
        let w = Arc::new(Count(AtomicUsize::new(0)));
        let (mut early, mut late) = (Cursor::default(), Cursor::default());
        assert!(poll(&b, &mut early, &w).is_pending());
        b.append(Bytes::from_static(b"ab"));
        assert_eq!(w.0.load(Ordering::Relaxed), 1, "the waiting reader was woken");
        assert_eq!(poll(&b, &mut early, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"ab")))));
        b.append(Bytes::from_static(b"cd"));
        // A reader that joins now gets everything, at its own pace.
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"ab")))));
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"cd")))));
        assert!(poll(&b, &mut late, &w).is_pending());
        // Read to the end so far, but not complete: not read yet.
        assert!(!b.is_read(&late));
        b.finish(State::Complete);
        assert!(b.is_read(&late) && !b.is_read(&early));
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(None));
        assert_eq!(poll(&b, &mut early, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"cd")))));
        assert!(b.is_read(&early));
        assert_eq!(poll(&b, &mut early, &w), Poll::Ready(None));
        assert_eq!(b.len(), 4);
        assert!(Body::complete(Bytes::new()).is_read(&Cursor::default()));
    }

    #[test]
    fn a_complete_body_becomes_one_chunk_and_readers_part_way_go_on_from_their_byte() {
        // Small (plain bytes) and larger (one shared chunk).
        for (size, chunks) in [(2, 0), (600, 1)] {
            let b = Body::default();
            let w = Arc::new(Count(AtomicUsize::new(0)));
            let (mut part_way, mut done) = (Cursor::default(), Cursor::default());
            let pieces: Vec<Bytes> = (b'a'..=b'c').map(|c| Bytes::from(vec![c; size])).collect();
            pieces.iter().for_each(|p| b.append(p.clone()));
            assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(Some(Ok(pieces[0].clone()))));
            for _ in 0..3 {
                assert!(poll(&b, &mut done, &w).is_ready());
            }
            assert_eq!(b.finish(State::Complete), 3 - chunks);
            assert_eq!(b.chunks(), chunks);
            let whole = Bytes::from(pieces.concat());
            assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(Some(Ok(whole.slice(size..)))));
            assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(None));
            assert_eq!(poll(&b, &mut done, &w), Poll::Ready(None), "a reader that had it all ends");
            let mut late = Cursor::default();
            assert_eq!(poll(&b, &mut late, &w), Poll::Ready(Some(Ok(whole.clone()))));
            assert_eq!(poll(&b, &mut late, &w), Poll::Ready(None));
            assert_eq!(b.bytes(), Some(vec![whole.clone()]));
            assert_eq!(b.len(), whole.len() as u64);
        }
    }

    #[test]
    fn a_body_up_to_a_piece_is_kept_in_one_allocation_that_its_readers_share() {
        let w = Arc::new(Count(AtomicUsize::new(0)));
        // The buffer a connection read the body into.
        let read_buffer = Bytes::from(vec![b'x'; PIECE + 100]);
        for len in [SMALL_MAX + 1, 1024, PIECE] {
            let chunk = read_buffer.slice(..len);
            let whole = Body::complete_from(std::slice::from_ref(&chunk), true);
            let appended = Body::default();
            chunk.chunks(1000).for_each(|c| appended.append(Bytes::copy_from_slice(c)));
            appended.finish(State::Complete);
            for b in [&whole, &appended] {
                assert_eq!((b.len(), b.chunks()), (len as u64, 1), "{len}");
                let (mut one, mut two) = (Cursor::default(), Cursor::default());
                let Poll::Ready(Some(Ok(first))) = poll(b, &mut one, &w) else { panic!("{len}: no chunk") };
                let Poll::Ready(Some(Ok(second))) = poll(b, &mut two, &w) else { panic!("{len}: no chunk") };
                // The same bytes in memory, not a copy for each reader, and not the chunk given.
                assert_eq!((first.len(), first.as_ptr()), (len, second.as_ptr()), "{len}");
                assert_ne!(first.as_ptr(), chunk.as_ptr());
                assert!(first == chunk);
                assert_eq!(poll(b, &mut one, &w), Poll::Ready(None));
                // A reader part way gets the rest of the same allocation.
                let mut part_way = Cursor { next: 0, read: 10 };
                let Poll::Ready(Some(Ok(rest))) = poll(b, &mut part_way, &w) else { panic!("{len}: no rest") };
                assert_eq!(rest.as_ptr(), first[10..].as_ptr());
                assert_eq!(b.bytes().map(|v| v.concat()), Some(chunk.to_vec()));
            }
        }
        assert!(read_buffer.is_unique(), "no body holds on to the buffer it was read into");
        // A body made of another's (a 304 merged into a kept object) shares its bytes.
        let old = Body::complete_from(&[Bytes::from(vec![b'o'; 1024])], true);
        let merged = Body::default();
        old.bytes().unwrap_or_default().into_iter().for_each(|c| merged.append(c));
        merged.finish(State::Complete);
        let first = |b: &Body| match poll(b, &mut Cursor::default(), &w) {
            Poll::Ready(Some(Ok(c))) => c,
            other => panic!("no chunk: {other:?}"),
        };
        assert_eq!((merged.len(), merged.chunks()), (1024, 1));
        assert_eq!(first(&merged).as_ptr(), first(&old).as_ptr());
    }

    /// Reads `b` to its end from `c`: the chunks' lengths and the bytes.
    fn read_all(b: &Body, c: &mut Cursor, w: &Arc<Count>) -> (Vec<usize>, Vec<u8>) {
        let (mut lens, mut all) = (Vec::new(), Vec::new());
        while let Poll::Ready(Some(Ok(chunk))) = poll(b, c, w) {
            lens.push(chunk.len());
            all.extend_from_slice(&chunk);
        }
        (lens, all)
    }

    #[test]
    fn a_larger_body_is_cut_in_pieces_and_one_past_a_megabyte_is_left_as_it_came() {
        let w = Arc::new(Count(AtomicUsize::new(0)));
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let b = Body::default();
        data.chunks(8192).for_each(|c| b.append(Bytes::copy_from_slice(c)));
        // One reader part way through a chunk list that is about to be cut.
        let mut part_way = Cursor::default();
        for _ in 0..3 {
            assert!(poll(&b, &mut part_way, &w).is_ready());
        }
        assert_eq!(b.finish(State::Complete), 19 - 3);
        assert_eq!(b.chunks(), 3);
        let (lens, all) = read_all(&b, &mut Cursor::default(), &w);
        assert_eq!((lens, all == data), (vec![PIECE, PIECE, 150_000 - 2 * PIECE], true));
        let (_, rest) = read_all(&b, &mut part_way, &w);
        assert!(rest == data[3 * 8192..], "the reader part way goes on from its byte");
        // Past MERGE_MAX: the chunks stay as they came.
        let big = Body::default();
        let data = vec![7u8; MERGE_MAX as usize + 1];
        data.chunks(8192).for_each(|c| big.append(Bytes::copy_from_slice(c)));
        let mut early = Cursor::default();
        assert!(poll(&big, &mut early, &w).is_ready());
        assert_eq!(big.finish(State::Complete), 0);
        let (lens, all) = read_all(&big, &mut early, &w);
        assert_eq!((lens.len(), all.len()), (data.chunks(8192).count() - 1, data.len() - 8192));
    }

    #[test]
    fn a_failed_fetch_ends_every_reader_with_its_error() {
        let b = Body::default();
        let w = Arc::new(Count(AtomicUsize::new(0)));
        let mut r = Cursor::default();
        b.append(Bytes::from_static(b"half"));
        b.finish(State::Failed("backend reset".into()));
        // Later states do not override the first.
        b.finish(State::Complete);
        assert_eq!(poll(&b, &mut r, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"half")))));
        assert_eq!(poll(&b, &mut r, &w), Poll::Ready(Some(Err("backend reset".into()))));
        assert!(b.bytes().is_none());
    }
}
