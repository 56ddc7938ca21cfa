//! An object's body as it is stored: chunks appended by the one fetch that fills it, read by any
//! number of readers, each at its own pace, from the first byte, while the fetch goes on
//! (streaming, spec §5.5). A reader that catches up waits for the next chunk; a fetch that fails
//! mid-body ends every reader with the error (they truncate, as Varnish's do).
//!
//! The chunks are `Bytes`: a reader's chunk is a reference, not a copy. When the body completes,
//! a small one becomes one plain allocation (a reader gets a copy: cheaper than the 56 bytes of
//! bookkeeping a shared chunk costs each of a million small objects), a larger one up to
//! [`MERGE_MAX`] one chunk. Nothing else is ever removed from a body while it lives, so a
//! reader's position is a chunk index and the bytes it has read (which find its place again
//! once the chunks became one).

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
    /// Boxed: 16 bytes for either form, not 24 (a million small objects have no list).
    #[allow(clippy::box_collection)]
    List(Box<Vec<Bytes>>),
    /// A complete body up to [`SMALL_MAX`].
    Small(Box<[u8]>),
}

#[derive(Default)]
struct Fill {
    /// Readers waiting for the next chunk or the end.
    waiting: Vec<Waker>,
    /// Why the fetch broke off.
    failed: Option<Box<str>>,
}

/// A complete body up to this size is kept as one chunk: a hit then goes out in one write,
/// not one per read the fetch made (8 KiB each).
pub const MERGE_MAX: u64 = 1 << 20;

/// A complete body up to this size is kept as plain bytes, copied for each reader.
pub const SMALL_MAX: usize = 1024;

impl Chunks {
    fn get(&self, i: usize) -> Option<Bytes> {
        match self {
            Chunks::List(l) => l.get(i).cloned(),
            Chunks::Small(b) => (i == 0 && !b.is_empty()).then(|| Bytes::copy_from_slice(b)),
        }
    }

    /// Shared chunks (each with its bookkeeping; plain bytes have none).
    fn shared(&self) -> usize {
        match self {
            Chunks::List(l) => l.len(),
            Chunks::Small(_) => 0,
        }
    }

    /// Bytes stored so far (summed: one chunk once the body is complete, a handful while it
    /// fills for the few who ask then; a field would cost every stored object 8 bytes).
    fn len(&self) -> u64 {
        match self {
            Chunks::List(l) => l.iter().map(|c| c.len() as u64).sum(),
            Chunks::Small(b) => b.len() as u64,
        }
    }

    /// The bytes from `from` on, when the chunks are one (merged meanwhile).
    fn rest_of_one(&self, from: u64) -> Option<Bytes> {
        let from = usize::try_from(from).ok()?;
        match self {
            Chunks::List(l) if l.len() == 1 && from < l[0].len() => Some(l[0].slice(from..)),
            Chunks::Small(b) if from < b.len() => Some(Bytes::copy_from_slice(&b[from..])),
            _ => None,
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

// === impl Body ===

impl Default for Body {
    fn default() -> Self {
        Body { inner: Mutex::new(Inner { chunks: Chunks::List(Box::default()), fill: Some(Box::default()) }) }
    }
}

impl Body {
    /// A complete body of these bytes.
    pub fn complete(bytes: Bytes) -> Body {
        let chunks = if bytes.is_empty() { Vec::new() } else { vec![bytes] };
        Body { inner: Mutex::new(Inner { chunks: Chunks::List(Box::new(chunks)), fill: None }) }
    }

    /// Appends a chunk (the fetch) and wakes the readers waiting for it.
    pub fn append(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let waiting = {
            let mut i = self.inner.lock();
            let Inner { chunks: Chunks::List(list), fill: Some(fill) } = &mut *i else { return };
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
                    if let Chunks::List(list) = chunks {
                        let len = list.iter().map(Bytes::len).sum::<usize>();
                        if len <= SMALL_MAX {
                            *chunks = Chunks::Small(list.concat().into_boxed_slice());
                        } else if list.len() > 1 && len as u64 <= MERGE_MAX {
                            **list = vec![Bytes::from(list.concat())];
                        } else {
                            // The chunk list grew by doubling; it will not grow again.
                            list.shrink_to_fit();
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
        if cursor.next > 0 {
            // The chunks became one while this reader was part way: it goes on from its byte.
            // (A reader that read the only chunk there ever was has read all of it.)
            if let Some(rest) = i.chunks.rest_of_one(cursor.read) {
                cursor.next = 1;
                cursor.read += rest.len() as u64;
                return Poll::Ready(Some(Ok(rest)));
            }
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

    /// How many shared chunks it holds (each with its bookkeeping).
    pub fn chunks(&self) -> usize {
        self.inner.lock().chunks.shared()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        Some(match &i.chunks {
            Chunks::List(l) => l.to_vec(),
            Chunks::Small(b) if b.is_empty() => Vec::new(),
            Chunks::Small(b) => vec![Bytes::copy_from_slice(b)],
        })
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
