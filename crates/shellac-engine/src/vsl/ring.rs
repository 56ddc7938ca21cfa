//! The log's ring: committed transactions, oldest first, bounded in bytes; readers take them
//! from a cursor and are told how many they lost. And its stage: the committed transactions'
//! bytes on their way to the shared file (see [`super::shared`]), copied into one buffer as
//! they are committed, which the file's writer takes whole. A transaction's own memory then
//! goes back at once and is used again for the next one: held in the ring until the writer's
//! round, every transaction was memory the CPU's caches had long lost (a tenth of a cache
//! hit's CPU while the log was read). The ring holds transactions only while somebody reads
//! it (the management port's `log.read`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::{Side, Txn};

/// How long the log keeps recording after its last read, in seconds.
pub const IDLE: u64 = 10;

/// About how much text a read takes at most.
pub const READ_BYTES: usize = 128 * 1024;

/// The ring's default size in bytes of record data (and the stage's bound).
pub const DEFAULT_BYTES: usize = 16 << 20;

/// The staged bytes at which the file's writer is woken (a few hundred transactions: its
/// buffers stay in the CPU's caches).
const STAGE_WAKE: usize = 128 << 10;

/// The log.
pub struct Log {
    ring: Mutex<Ring>,
    /// Whether the ring was read in the last [`IDLE`] seconds (it holds transactions then).
    ring_read: AtomicBool,
    /// When the ring was last read (seconds of the monotonic clock since the log began).
    ring_last_read: AtomicU64,
    stage: Mutex<Stage>,
    /// Signalled when the stage holds [`STAGE_WAKE`] bytes.
    staged: Condvar,
    /// Whether a shared file's writer takes what is staged.
    staging: AtomicBool,
    /// Whether anybody read it in the last [`IDLE`] seconds.
    active: AtomicBool,
    /// When it was last read (seconds of the monotonic clock since the log began).
    last_read: AtomicU64,
    born: tokio::time::Instant,
    /// The size of the latest transaction committed, per side (client, backend, session):
    /// the room a new one starts with.
    latest: [AtomicUsize; 3],
    /// The most bytes the ring's transactions hold, and the stage.
    cap: usize,
}

/// Committed transactions' bytes, back to back, for the shared file's writer.
#[derive(Default)]
struct Stage {
    bytes: Vec<u8>,
    /// How many transactions `bytes` holds.
    txns: u64,
    /// Transactions let go before the writer took them (it fell behind), not yet told.
    dropped: u64,
}

struct Ring {
    /// The sequence number of `txns[0]`.
    base: u64,
    txns: VecDeque<(Arc<Txn>, usize)>,
    bytes: usize,
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
            ring: Mutex::new(Ring { base: 0, txns: VecDeque::new(), bytes: 0 }),
            ring_read: AtomicBool::new(false),
            ring_last_read: AtomicU64::new(0),
            stage: Mutex::new(Stage::default()),
            staged: Condvar::new(),
            staging: AtomicBool::new(false),
            active: AtomicBool::new(false),
            last_read: AtomicU64::new(0),
            born: tokio::time::Instant::now(),
            latest: std::array::from_fn(|_| AtomicUsize::new(1024)),
            cap: bytes,
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
        if now.saturating_sub(self.ring_last_read.load(Ordering::Relaxed)) > IDLE {
            self.ring_read.store(false, Ordering::Relaxed);
        }
    }

    /// The room a new transaction of `side` starts with: the latest one's size and an eighth
    /// (most transactions of a kind are alike; one that grows past it doubles its room).
    pub(crate) fn room_for(&self, side: Side) -> usize {
        let latest = self.latest[side as usize].load(Ordering::Relaxed);
        (latest + latest / 8).next_multiple_of(64)
    }

    /// Commits a finished transaction: its bytes are staged for the shared file while it has a
    /// writer (all of them are let go, and counted, should the stage be full: the writer fell
    /// behind), and it goes into the ring while the ring is read, where the oldest leave while
    /// the ring is over its size. The ring counts what each one holds in memory: a transaction
    /// that grew (and so holds up to twice its size) gives the rest back first.
    pub fn commit(&self, mut txn: Txn) {
        let len = txn.bytes().len();
        self.latest[txn.side as usize].store(len, Ordering::Relaxed);
        if self.staging.load(Ordering::Relaxed) {
            let mut stage = self.stage.lock();
            if stage.bytes.len() + len > self.cap {
                stage.dropped += stage.txns;
                stage.txns = 0;
                stage.bytes.clear();
            }
            stage.bytes.extend_from_slice(txn.bytes());
            stage.txns += 1;
            let wake = stage.bytes.len() >= STAGE_WAKE;
            drop(stage);
            if wake {
                // (Nothing but a load while the writer is not waiting.)
                self.staged.notify_one();
            }
        }
        if !self.ring_read.load(Ordering::Relaxed) {
            return;
        }
        txn.shrink_if_slack();
        let size = txn.capacity() + 32;
        let mut ring = self.ring.lock();
        ring.txns.push_back((Arc::new(txn), size));
        ring.bytes += size;
        while ring.bytes > self.cap && ring.txns.len() > 1 {
            if let Some((_, s)) = ring.txns.pop_front() {
                ring.bytes -= s;
                ring.base += 1;
            }
        }
    }

    /// Whether a shared file's writer takes what is staged (its start and its end).
    pub(crate) fn set_staging(&self, on: bool) {
        self.staging.store(on, Ordering::Relaxed);
        if !on {
            *self.stage.lock() = Stage::default();
        }
    }

    /// The writer's side of the stage: waits up to `wait` for [`STAGE_WAKE`] bytes, then swaps
    /// what is staged into `batch` (whose old contents are dropped; both buffers are used
    /// again); how many transactions were let go since the last take.
    pub(crate) fn take_staged(&self, batch: &mut Vec<u8>, wait: Duration) -> u64 {
        let mut stage = self.stage.lock();
        if stage.bytes.len() < STAGE_WAKE {
            self.staged.wait_for(&mut stage, wait);
        }
        batch.clear();
        std::mem::swap(batch, &mut stage.bytes);
        stage.txns = 0;
        std::mem::take(&mut stage.dropped)
    }

    /// The transactions from `cursor` on (at most `max`); a read also keeps the log recording.
    /// A cursor of `u64::MAX` starts at the newest (a reader that wants only what comes next).
    pub fn read(&self, cursor: u64, max: usize) -> Read {
        self.keep_active();
        self.ring_last_read.fetch_max(self.born.elapsed().as_secs(), Ordering::Relaxed);
        self.ring_read.store(true, Ordering::Relaxed);
        self.peek(cursor, max)
    }

    /// Somebody reads the log now: it records for [`IDLE`] seconds more.
    pub fn keep_active(&self) {
        self.read_ago(std::time::Duration::ZERO);
    }

    /// Somebody read the log `age` ago (a reader's mark on the shared file, seen late): it
    /// records until [`IDLE`] seconds after that read, not after it was seen.
    pub fn read_ago(&self, age: std::time::Duration) {
        let now = self.born.elapsed();
        let at = now.saturating_sub(age).as_secs();
        self.last_read.fetch_max(at, Ordering::Relaxed);
        if now.as_secs().saturating_sub(at) <= IDLE {
            self.active.store(true, Ordering::Relaxed);
        }
    }

    /// [`Log::read`] without keeping the log recording.
    fn peek(&self, cursor: u64, max: usize) -> Read {
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
    use super::super::{txn, Side, Tag};
    use super::*;

    #[test]
    fn the_ring_holds_its_size_in_memory_and_new_transactions_start_with_the_room_they_need() {
        const CAP: usize = 64 << 10;
        let log = Log::with_capacity(CAP);
        // (The ring holds transactions while it is read.)
        log.read(u64::MAX, 1);
        let record = |b: &mut Vec<u8>| {
            let at = txn::open(b, Tag::ReqURL);
            b.extend_from_slice(&[b'x'; 480]);
            txn::close(b, at);
        };
        for vxid in 0..1000 {
            // (Far more room than it uses: given back at the commit.)
            let mut b = txn::begin(vxid, Side::Client, 4096);
            record(&mut b);
            log.commit(Txn::new(vxid, Side::Client, b));
        }
        let held = |log: &Log| -> (usize, usize) {
            let ring = log.ring.lock();
            (ring.txns.iter().map(|(t, _)| t.capacity()).sum(), ring.txns.len())
        };
        let (memory, n) = held(&log);
        assert!(memory <= CAP, "{memory} bytes held");
        assert!(n > 100, "only {n} kept: the room they did not use was counted");
        // A new one starts with room for one like the latest, and needs no more.
        let room = log.room_for(Side::Client);
        let mut b = txn::begin(1000, Side::Client, room);
        record(&mut b);
        assert_eq!(b.capacity(), room.max(64), "it did not grow");
        assert!(room < 1024, "{room}");
        assert_eq!(log.room_for(Side::Backend), 1152, "a side with no transaction yet: 1 KiB and an eighth");
    }

    #[tokio::test(start_paused = true)]
    async fn recording_stops_idle_seconds_after_the_last_read_however_late_it_was_seen() {
        use std::time::Duration;
        let log = Log::default();
        assert!(!log.active());
        tokio::time::advance(Duration::from_secs(30)).await;
        // A read seen 8 s after it happened: the log records 2 s more, not IDLE.
        log.read_ago(Duration::from_secs(8));
        assert!(log.active());
        tokio::time::advance(Duration::from_secs(2)).await;
        log.idle_check();
        assert!(log.active(), "IDLE seconds after the read");
        tokio::time::advance(Duration::from_secs(1)).await;
        log.idle_check();
        assert!(!log.active(), "past IDLE seconds after the read");
        // A read longer ago than IDLE does not start it again; one now does.
        log.read_ago(Duration::from_secs(IDLE + 1));
        assert!(!log.active());
        log.keep_active();
        assert!(log.active());
        // An older read seen after a newer one does not move the newer back.
        log.read_ago(Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(IDLE)).await;
        log.idle_check();
        assert!(log.active());
    }

    #[test]
    fn committed_transactions_are_staged_for_the_file_and_held_in_the_ring_only_while_it_is_read() {
        let log = Log::with_capacity(4096);
        log.keep_active();
        log.set_staging(true);
        let sizes: Vec<usize> = (0..3).map(|i| txn(i, "/staged").bytes().len()).collect();
        for i in 0..3 {
            log.commit(txn(i, "/staged"));
        }
        assert!(log.ring.lock().txns.is_empty(), "nobody reads the ring: it holds nothing");
        let mut batch = vec![1, 2, 3];
        assert_eq!(log.take_staged(&mut batch, Duration::ZERO), 0);
        assert_eq!(batch.len(), sizes.iter().sum::<usize>(), "the three, back to back, and nothing else");
        let firsts: Vec<u64> = {
            let mut at = 0;
            sizes
                .iter()
                .map(|n| {
                    let vxid = u64::from_le_bytes(batch[at + 8..at + 16].try_into().unwrap_or_default());
                    at += n;
                    vxid
                })
                .collect()
        };
        assert_eq!(firsts, [0, 1, 2]);
        // A writer held up: a full stage lets its transactions go, counted, and keeps the newest.
        for i in 0..100 {
            log.commit(txn(i, &"x".repeat(200)));
        }
        let lost = log.take_staged(&mut batch, Duration::ZERO);
        let one = txn(0, &"x".repeat(200)).bytes().len();
        let kept = batch.len() / one;
        assert_eq!((lost as usize + kept, batch.len() % one), (100, 0));
        assert!(lost > 0 && batch.len() <= 4096);
        let newest = &batch[batch.len() - one + 8..][..8];
        assert_eq!(u64::from_le_bytes(newest.try_into().unwrap_or_default()), 99);
        // Read, the ring holds them too; no writer, nothing is staged.
        log.read(u64::MAX, 1);
        log.set_staging(false);
        log.commit(txn(7, "/ring"));
        assert_eq!(log.ring.lock().txns.len(), 1);
        assert_eq!(log.take_staged(&mut batch, Duration::ZERO), 0);
        assert!(batch.is_empty());
    }

    #[test]
    fn the_writer_is_woken_once_much_is_staged() {
        let log = Arc::new(Log::with_capacity(DEFAULT_BYTES));
        log.keep_active();
        log.set_staging(true);
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                let t = tokio::time::Instant::now();
                let mut batch = Vec::new();
                log.take_staged(&mut batch, Duration::from_secs(30));
                (t.elapsed(), batch.len())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let mut n = 0;
        while n < STAGE_WAKE {
            let t = txn(n as u64, &"w".repeat(1000));
            n += t.bytes().len();
            log.commit(t);
        }
        let (waited, took) = writer.join().expect("writer");
        assert!(waited < Duration::from_secs(10), "woken, not timed out: {waited:?}");
        assert!(took >= STAGE_WAKE, "{took}");
    }

    fn txn(vxid: u64, data: &str) -> Txn {
        let mut b = txn::begin(vxid, Side::Client, 0);
        let at = txn::open(&mut b, Tag::ReqURL);
        b.extend_from_slice(data.as_bytes());
        txn::close(&mut b, at);
        Txn::new(vxid, Side::Client, b)
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
        assert_eq!(r.txns.len(), READ_BYTES.div_ceil(4096 + 32 + 25));
        assert_eq!(log.read(r.next, 1000).txns[0].vxid, r.txns.len() as u64);
    }
}
