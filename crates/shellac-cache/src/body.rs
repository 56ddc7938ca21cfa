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
    len: u64,
    state: State,
    /// Readers waiting for the next chunk or the end. Boxed: a stored object keeps its body
    /// for its whole life, and waiters exist only while it fills (8 bytes here, not 24).
    #[allow(clippy::box_collection)]
    waiting: Option<Box<Vec<Waker>>>,
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

/// A reader of a body: its position.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    next: usize,
}

// === impl Body ===

impl Body {
    /// A complete body of these bytes.
    pub fn complete(bytes: Bytes) -> Body {
        let len = bytes.len() as u64;
        let chunks = if bytes.is_empty() { Vec::new() } else { vec![bytes] };
        Body { inner: Mutex::new(Inner { chunks, len, state: State::Complete, waiting: None }) }
    }

    /// Appends a chunk (the fetch) and wakes the readers waiting for it.
    pub fn append(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let waiting = {
            let mut i = self.inner.lock();
            i.len += chunk.len() as u64;
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
        if let Some(chunk) = i.chunks.get(cursor.next) {
            cursor.next += 1;
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
        self.inner.lock().len
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
        f.debug_struct("Body").field("len", &i.len).field("chunks", &i.chunks.len()).field("state", &i.state).finish()
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
