//! An object's body as it is stored: chunks appended by the one fetch that fills it, read by any
//! number of readers, each at its own pace, from the first byte, while the fetch goes on
//! (streaming, spec §5.5). A reader that catches up waits for the next chunk; a fetch that fails
//! mid-body ends every reader with the error (they truncate, as Varnish's do).
//!
//! The chunks are `Bytes`: a reader's chunk is a reference, not a copy. Nothing is ever removed
//! from a body while it lives, so a reader's position is a chunk index.

use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use parking_lot::Mutex;

/// A body being filled or filled.
#[derive(Default)]
pub struct Body {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    chunks: Vec<Bytes>,
    state: State,
    /// Readers waiting for the next chunk or the end. Boxed: a stored object keeps its body
    /// for its whole life, and waiters exist only while it fills (8 bytes here, not 24).
    #[allow(clippy::box_collection)]
    waiting: Option<Box<Vec<Waker>>>,
    /// The chunks were merged into one when the body completed (see [`MERGE_MAX`]).
    merged: bool,
}

/// A complete body up to this size is kept as one chunk: a hit then goes out in one write,
/// not one per read the fetch made (8 KiB each).
pub const MERGE_MAX: u64 = 1 << 20;

impl Inner {
    /// Bytes stored so far (summed: one chunk once the body is merged, a handful while it fills
    /// for the few who ask then; a field would cost every stored object 8 bytes).
    fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
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

/// A reader of a body: its position (the next chunk, and the bytes read, which find its place
/// again if the chunks are merged meanwhile).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    next: usize,
    read: u64,
    saw_merge: bool,
}

// === impl Body ===

impl Body {
    /// A complete body of these bytes.
    pub fn complete(bytes: Bytes) -> Body {
        let chunks = if bytes.is_empty() { Vec::new() } else { vec![bytes] };
        Body { inner: Mutex::new(Inner { chunks, state: State::Complete, waiting: None, merged: false }) }
    }

    /// Appends a chunk (the fetch) and wakes the readers waiting for it.
    pub fn append(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let waiting = {
            let mut i = self.inner.lock();
            i.chunks.push(chunk);
            i.waiting.take()
        };
        waiting.into_iter().flat_map(|w| w.into_iter()).for_each(Waker::wake);
    }

    /// Ends the body, complete or failed, and wakes every reader.
    pub fn finish(&self, state: State) {
        let waiting = {
            let mut i = self.inner.lock();
            if i.state == State::Filling {
                let len = i.len();
                if state == State::Complete && i.chunks.len() > 1 && len <= MERGE_MAX {
                    let mut one = bytes::BytesMut::with_capacity(len as usize);
                    for c in &i.chunks {
                        one.extend_from_slice(c);
                    }
                    i.chunks = vec![one.freeze()];
                    i.merged = true;
                }
                i.state = state;
                // The chunk list grew by doubling; it will not grow again.
                i.chunks.shrink_to_fit();
            }
            i.waiting.take()
        };
        waiting.into_iter().flat_map(|w| w.into_iter()).for_each(Waker::wake);
    }

    /// The next chunk for a reader at `cursor`: `Ready(None)` at the end of a complete body,
    /// `Ready(Some(Err))` when the fetch failed, `Pending` (woken later) while the fetch has
    /// given nothing more yet.
    pub fn poll_chunk(&self, cursor: &mut Cursor, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        let mut i = self.inner.lock();
        if i.merged && !cursor.saw_merge {
            // The chunks became one while this reader was part way: it goes on from its byte.
            cursor.saw_merge = true;
            if cursor.read > 0 {
                cursor.next = 1;
                let rest = i.chunks.first().map(|c| c.slice(cursor.read as usize..)).unwrap_or_default();
                cursor.read += rest.len() as u64;
                if !rest.is_empty() {
                    return Poll::Ready(Some(Ok(rest)));
                }
            }
        }
        if let Some(chunk) = i.chunks.get(cursor.next) {
            cursor.next += 1;
            cursor.read += chunk.len() as u64;
            return Poll::Ready(Some(Ok(chunk.clone())));
        }
        match &i.state {
            State::Complete => Poll::Ready(None),
            State::Failed(e) => Poll::Ready(Some(Err(e.to_string()))),
            State::Filling => {
                let waiting = i.waiting.get_or_insert_with(Box::default);
                if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Bytes stored so far.
    pub fn len(&self) -> u64 {
        self.inner.lock().len()
    }

    /// How many chunks it holds.
    pub fn chunks(&self) -> usize {
        self.inner.lock().chunks.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the filling stands.
    pub fn state(&self) -> State {
        self.inner.lock().state.clone()
    }

    /// The whole body, once complete (`None` while filling or failed).
    pub fn bytes(&self) -> Option<Vec<Bytes>> {
        let i = self.inner.lock();
        (i.state == State::Complete).then(|| i.chunks.clone())
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.inner.lock();
        f.debug_struct("Body").field("len", &i.len()).field("chunks", &i.chunks.len()).field("state", &i.state).finish()
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
        b.finish(State::Complete);
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(None));
        assert_eq!(poll(&b, &mut early, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"cd")))));
        assert_eq!(poll(&b, &mut early, &w), Poll::Ready(None));
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn a_complete_body_becomes_one_chunk_and_readers_part_way_go_on_from_their_byte() {
        let b = Body::default();
        let w = Arc::new(Count(AtomicUsize::new(0)));
        let (mut part_way, mut done) = (Cursor::default(), Cursor::default());
        for piece in [&b"ab"[..], b"cd", b"ef"] {
            b.append(Bytes::copy_from_slice(piece));
        }
        assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"ab")))));
        for _ in 0..3 {
            assert!(poll(&b, &mut done, &w).is_ready());
        }
        b.finish(State::Complete);
        assert_eq!(b.chunks(), 1);
        assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"cdef")))));
        assert_eq!(poll(&b, &mut part_way, &w), Poll::Ready(None));
        assert_eq!(poll(&b, &mut done, &w), Poll::Ready(None), "a reader that had it all ends");
        let mut late = Cursor::default();
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(Some(Ok(Bytes::from_static(b"abcdef")))));
        assert_eq!(poll(&b, &mut late, &w), Poll::Ready(None));
        assert_eq!(b.bytes(), Some(vec![Bytes::from_static(b"abcdef")]));
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
