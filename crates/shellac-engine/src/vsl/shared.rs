//! The log shared with readers on the same machine through a file in shared memory, as
//! varnishd shares its log: `shellac log` and `shellac ncsa` read it without asking the server
//! anything, so that reading costs the server no formatting and no answers, however many
//! read. A thread of the server writes committed transactions, as the log stages them (see
//! [`super::ring`]), into the file (a ring of `vsl_space` bytes, in `/dev/shm`, named by `_.vsl`
//! in the working directory);
//! each write of data is followed by the new head (bytes written since the start), and a
//! reader that finds the head more than the file's size ahead of it knows what it lost.
//! Readers say they are there by writing to `PATH.readers` (which the server makes, so that no
//! reader ever leaves a file behind) every second: with none in the last [`super::IDLE`]
//! seconds, the server stops recording.
//!
//! Only plain reads and writes at offsets: the file is shared memory by way of the page cache,
//! with no mapping (and no `unsafe`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{decode_raw, Decoded, FoundRaw, Log, Raw, TagSet, IDLE};

/// The file's size for data when none is given (varnishd's `vsl_space` default, 80 MiB).
pub const FILE_BYTES: u64 = 80 << 20;

/// The most a reader reads at once: what it copies from the file is still in the CPU's caches
/// when it decodes it (a server's 20 ms of hits are megabytes, which a read of them all at
/// once would copy out of the caches before the first was decoded). One that took this much
/// reads again at once; a longer transaction is read whole.
const READ_MAX: usize = 256 << 10;

/// The file's head: magic, size, head position, generation, transactions dropped (the log let
/// them go before the writer took them: it was held up).
const HEADER: u64 = 4096;
const MAGIC: &[u8; 8] = b"SHLCVSL1";

/// The name, in the working directory, of the file that names the shared file.
pub const POINTER: &str = "_.vsl";

/// How often the writer copies what was committed (at the latest: it is woken when much is).
const EVERY: Duration = Duration::from_millis(10);

/// The server's side: stops its thread and removes its files when dropped.
pub struct Shared {
    log: Arc<Log>,
    stop: Arc<AtomicBool>,
    path: PathBuf,
    pointer: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.log.set_staging(false);
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(readers_path(&self.path));
        let _ = std::fs::remove_file(&self.pointer);
    }
}

fn readers_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".readers");
    PathBuf::from(p)
}

/// Shares `log` through a new file of `size` bytes of data (`vsl_space`) in `/dev/shm` (or in
/// `workdir` without one), named in `workdir`'s `_.vsl`. A file an earlier process left is
/// removed first.
pub fn start(log: Arc<Log>, workdir: &Path, size: u64) -> io::Result<Shared> {
    let size = size.max(1);
    let pointer = workdir.join(POINTER);
    if let Ok(old) = std::fs::read_to_string(&pointer) {
        let old = PathBuf::from(old.trim());
        let _ = std::fs::remove_file(readers_path(&old));
        let _ = std::fs::remove_file(old);
    }
    let generation = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let name = format!("shellac-vsl-{}-{generation:x}", std::process::id());
    let shm = Path::new("/dev/shm");
    let path = if shm.is_dir() { shm.join(&name) } else { workdir.join(&name) };
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
    file.set_len(HEADER + size)?;
    let mut head = [0u8; 32];
    head[..8].copy_from_slice(MAGIC);
    head[8..16].copy_from_slice(&size.to_le_bytes());
    head[24..32].copy_from_slice(&generation.to_le_bytes());
    file.write_all_at(&head, 0)?;
    // The readers' mark: made here, with a time long past (nobody reads yet), so that readers
    // only ever write to it and never make a file of their own that outlives the server.
    let readers = readers_path(&path);
    std::fs::File::create(&readers)?.set_modified(SystemTime::UNIX_EPOCH)?;
    std::fs::write(&pointer, format!("{}\n", path.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = Writer { log: log.clone(), file, size, readers, head: 0, dropped: 0, batch: Vec::new() };
    let s = stop.clone();
    // (The thread settles, its allocator's first pages taken, before the server serves: the
    // process's memory does not move later for it.)
    let (ready, settled) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name("shellac-vsl".into()).spawn(move || writer.run(&s, &ready))?;
    let _ = settled.recv_timeout(Duration::from_secs(1));
    log.set_staging(true);
    Ok(Shared { log, stop, path, pointer, thread: Some(thread) })
}

struct Writer {
    log: Arc<Log>,
    file: File,
    /// The file's size for data.
    size: u64,
    readers: PathBuf,
    /// Bytes written since the start.
    head: u64,
    /// Transactions the log let go before this writer took them (a full stage), since the start.
    dropped: u64,
    batch: Vec<u8>,
}

impl Writer {
    fn run(mut self, stop: &AtomicBool, ready: &std::sync::mpsc::Sender<()>) {
        let mut checked = tokio::time::Instant::now() - Duration::from_secs(60);
        let mut first = true;
        while !stop.load(Ordering::Relaxed) {
            if checked.elapsed() >= Duration::from_millis(500) {
                checked = tokio::time::Instant::now();
                // (The log records until IDLE seconds after the readers' last mark, however
                // late it is seen here.)
                let touched = std::fs::metadata(&self.readers).and_then(|m| m.modified()).ok();
                if let Some(age) = touched.and_then(|t| t.elapsed().ok()).filter(|age| age.as_secs() <= IDLE) {
                    self.log.read_ago(age);
                }
            }
            if std::mem::take(&mut first) {
                let _ = ready.send(());
            }
            if !self.log.active() {
                std::thread::sleep(EVERY);
                continue;
            }
            // (Woken early when much is staged.)
            let lost = self.log.take_staged(&mut self.batch, EVERY);
            if lost > 0 {
                // (Held up long enough for the stage to fill: the readers are told.)
                self.dropped += lost;
                if let Err(e) = self.file.write_all_at(&self.dropped.to_le_bytes(), 32) {
                    tracing::warn!("the shared log: {e}");
                    return;
                }
            }
            if !self.batch.is_empty() {
                if let Err(e) = self.write() {
                    tracing::warn!("the shared log: {e}");
                    return;
                }
            }
        }
    }

    /// Writes the batch at the head (wrapping at the end), then the new head.
    fn write(&mut self) -> io::Result<()> {
        let mut data = &self.batch[..];
        let size = self.size;
        if data.len() as u64 > size {
            data = &data[data.len() - size as usize..];
            self.head += self.batch.len() as u64 - size;
        }
        let at = self.head % size;
        let first = data.len().min((size - at) as usize);
        self.file.write_all_at(&data[..first], HEADER + at)?;
        if first < data.len() {
            self.file.write_all_at(&data[first..], HEADER)?;
        }
        self.head += data.len() as u64;
        self.file.write_all_at(&self.head.to_le_bytes(), 16)
    }
}

/// What a read of the shared log found.
#[derive(Debug, Default)]
pub struct Batch {
    /// Whole transactions, oldest first.
    pub txns: Vec<Decoded>,
    /// What was lost since the last read.
    pub lost: Lost,
}

/// What a reader lost since its last read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// Bytes the server's writer went round the file past it with (the reader fell behind).
    pub bytes: u64,
    /// Transactions the server let go before its writer copied them into the file (the
    /// writer fell behind).
    pub txns: u64,
}

/// A reader of the shared log.
pub struct Reader {
    file: File,
    /// The working directory's pointer file, and the shared file it named when opened.
    pointer: PathBuf,
    path: PathBuf,
    readers: PathBuf,
    size: u64,
    generation: u64,
    /// The writer's count of dropped transactions at the last read.
    dropped: u64,
    /// Where the next read starts.
    pos: u64,
    /// The reader has to find the start of a transaction first.
    resync: bool,
    touched: Option<tokio::time::Instant>,
    /// Read from `pos` on: `buf[..filled]` (past it, room zeroed once, not at every read).
    buf: Vec<u8>,
    filled: usize,
    /// The records it decodes (the others it skips).
    keep: TagSet,
    /// The labels of the `Timestamp` records it decodes (`None`: all).
    stamps: Option<Vec<Box<[u8]>>>,
}

/// Why the shared log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No shared log named in the working directory, or it cannot be opened.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is not a shared log.
    #[error("{0}: not a Shellac log")]
    NotALog(String),
    /// The server that wrote it stopped, or another took its place.
    #[error("the server restarted")]
    Restarted,
}

impl Reader {
    /// Opens the shared log named in `workdir`, at its end (`from_start`: at the oldest it
    /// holds).
    pub fn open(workdir: &Path, from_start: bool) -> Result<Reader, ReadError> {
        let pointer = workdir.join(POINTER);
        let path = PathBuf::from(std::fs::read_to_string(&pointer)?.trim());
        let file = File::open(&path)?;
        let [magic, size, at, generation, dropped] = head_of(&file)?;
        if magic != u64::from_le_bytes(*MAGIC) || size == 0 {
            return Err(ReadError::NotALog(path.display().to_string()));
        }
        let pos = if from_start { at.saturating_sub(size) } else { at };
        let mut r = Reader {
            file,
            pointer,
            readers: readers_path(&path),
            path,
            size,
            generation,
            // (A reader that starts now was not there for the earlier ones.)
            dropped: if from_start { 0 } else { dropped },
            pos,
            resync: from_start && at > size,
            touched: None,
            buf: Vec::new(),
            filled: 0,
            keep: TagSet::ALL,
            stamps: None,
        };
        r.touch();
        Ok(r)
    }

    /// From now on, decodes only the records whose tags are in `tags`.
    pub fn keep_only(&mut self, tags: TagSet) {
        self.keep = tags;
    }

    /// From now on, of the `Timestamp` records, decodes only those with these labels (`None`:
    /// all of them): a reader that uses one timestamp of a transaction's four writes out the
    /// numbers of that one alone.
    pub fn keep_stamps(&mut self, labels: Option<&[&str]>) {
        self.stamps = labels.map(|l| l.iter().map(|s| s.as_bytes().into()).collect());
    }

    /// Whether the server that writes the file still runs: its working directory still names
    /// this file (a server that stopped took the name away; one that started since named its
    /// own).
    pub fn is_current(&self) -> bool {
        std::fs::read_to_string(&self.pointer).is_ok_and(|p| Path::new(p.trim()) == self.path)
    }

    /// Says this reader is there (at most once a second), on the mark the server made: once
    /// the server has gone, with its files, there is nothing to write to.
    fn touch(&mut self) {
        if self.touched.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        self.touched = Some(tokio::time::Instant::now());
        if let Ok(mut marks) = std::fs::OpenOptions::new().write(true).truncate(true).open(&self.readers) {
            let _ = std::io::Write::write_all(&mut marks, std::process::id().to_string().as_bytes());
        }
    }

    /// Where the writer is (bytes written since the start), and how many transactions it
    /// dropped so far.
    fn head(&self) -> Result<(u64, u64), ReadError> {
        let [_, _, at, generation, dropped] = head_of(&self.file)?;
        if generation != self.generation {
            return Err(ReadError::Restarted);
        }
        Ok((at, dropped))
    }

    /// What was written since the last read (at most a few megabytes at a time).
    pub fn read(&mut self) -> Result<Batch, ReadError> {
        let mut txns = Vec::new();
        let keep = self.keep;
        let stamps = self.stamps.take();
        let lost = self.read_raw(|raw| txns.push(super::txn::text_of_raw(&raw, keep, stamps.as_deref())));
        self.stamps = stamps;
        Ok(Batch { txns, lost: lost? })
    }

    /// As [`Reader::read`], handing each transaction to `each` as it is stored, its records
    /// not turned into text; what was lost since the last read.
    pub fn read_raw(&mut self, mut each: impl FnMut(Raw<'_>)) -> Result<Lost, ReadError> {
        self.touch();
        let mut lost = Lost::default();
        let (head, dropped) = self.head()?;
        lost.txns = dropped.saturating_sub(self.dropped);
        self.dropped = self.dropped.max(dropped);
        if head.saturating_sub(self.pos) > self.size {
            lost.bytes += head - self.size - self.pos;
            self.pos = head - self.size;
            self.filled = 0;
            self.resync = true;
        }
        // (The buffer holds what was read from `pos` on and not taken yet.)
        let start = self.filled;
        let have = self.pos + start as u64;
        // (A transaction longer than that, begun in the buffer, is read to its end at once.)
        let begun = super::txn::declared_len(&self.buf[..start]).unwrap_or(0);
        let most = READ_MAX.max(begun.min(super::txn::MAX_TXN).saturating_sub(start));
        let want = head.saturating_sub(have).min(most as u64) as usize;
        if self.buf.len() < start + want {
            self.buf.resize(start + want, 0);
        }
        let at = have % self.size;
        let first = want.min((self.size - at) as usize);
        self.file.read_exact_at(&mut self.buf[start..start + first], HEADER + at)?;
        if first < want {
            self.file.read_exact_at(&mut self.buf[start + first..start + want], HEADER)?;
        }
        self.filled = start + want;
        // What the writer wrote over while it was read is lost.
        let (after, _) = self.head()?;
        let safe_from = after.saturating_sub(self.size);
        if safe_from > self.pos {
            let gone = ((safe_from - self.pos) as usize).min(self.filled);
            self.buf.copy_within(gone..self.filled, 0);
            self.filled -= gone;
            self.pos += gone as u64;
            lost.bytes += gone as u64;
            self.resync = true;
        }
        let mut i = 0;
        loop {
            if self.resync {
                match find_start(&self.buf[i..self.filled]) {
                    Some(skip) => {
                        i += skip;
                        self.resync = false;
                    }
                    None => {
                        // Keep the last bytes: a magic number may straddle the reads.
                        let keep = self.filled.saturating_sub(i).min(3);
                        i = self.filled - keep;
                        break;
                    }
                }
            }
            match decode_raw(&self.buf[i..self.filled]) {
                FoundRaw::Txn(t, used) => {
                    each(t);
                    i += used;
                }
                FoundRaw::Partial => break,
                FoundRaw::Garbage => {
                    self.resync = true;
                    i += 1;
                }
            }
        }
        self.buf.copy_within(i..self.filled, 0);
        self.filled -= i;
        self.pos += i as u64;
        Ok(lost)
    }
}

/// The file's head, as numbers: magic, size, head position, generation, transactions dropped.
fn head_of(file: &File) -> io::Result<[u64; 5]> {
    let mut h = [0u8; 40];
    file.read_exact_at(&mut h, 0)?;
    Ok(std::array::from_fn(|i| u64::from_le_bytes(h[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))))
}

/// Where in `buf` the next transaction starts (or may, at its end).
fn find_start(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 4 <= buf.len() {
        let at = buf[i..].windows(4).position(|w| w == super::txn::MAGIC)?;
        match decode_raw(&buf[i + at..]) {
            FoundRaw::Txn(..) | FoundRaw::Partial => return Some(i + at),
            FoundRaw::Garbage => i += at + 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{Buffer, Side, Tag};
    use super::*;

    /// `log`'s shared file, written in a scratch directory (`name`) while `log` records as if
    /// read just now: the directory, where the file's pointer is, and the server's side.
    fn recording(name: &str, log: &Arc<Log>) -> (shellac_testkit::Scratch, PathBuf, Shared) {
        let scratch = shellac_testkit::Scratch::new(name);
        let dir = scratch.path().to_path_buf();
        let shared = start(log.clone(), &dir, FILE_BYTES).expect("shared");
        log.read_ago(Duration::ZERO);
        (scratch, dir, shared)
    }

    fn commit(log: &Log, vxid: u64, url: &str) {
        let mut b = Buffer::new(log, vxid, Side::Client);
        b.add_str(Tag::ReqURL, url);
        b.commit(log);
    }

    #[test]
    fn readers_get_the_transactions_through_the_file() {
        let scratch = shellac_testkit::Scratch::new("vsl-test");
        let dir = scratch.path().to_path_buf();
        let log = Arc::new(Log::default());
        let shared = start(log.clone(), &dir, FILE_BYTES).expect("shared");
        std::thread::sleep(Duration::from_millis(600));
        assert!(!log.active(), "the mark the server made says nobody reads");
        let mut r = Reader::open(&dir, false).expect("reader");
        // The reader's touch turns recording on within a second.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !log.active() && tokio::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(log.active(), "a reader of the file keeps the log recording");
        for i in 0..1000 {
            commit(&log, i, &format!("/{i}"));
        }
        let mut got = Vec::new();
        while got.len() < 1000 && tokio::time::Instant::now() < deadline {
            let b = r.read().expect("read");
            assert_eq!(b.lost, Lost::default());
            got.extend(b.txns);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got.len(), 1000);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, t)| t.vxid == i as u64 && t.records().next().map(|r| r.1) == Some(&format!("/{i}")[..])));
        // One that starts later reads from then on; one from the start reads it all.
        let mut all = Reader::open(&dir, true).expect("reader");
        assert_eq!(all.read().expect("read").txns.len(), 1000);
        assert!(r.is_current());
        drop(shared);
        assert!(!r.is_current(), "a reader sees its server stopped");
        assert!(Reader::open(&dir, false).is_err(), "the files go with the server");
        // A reader still there does not make the mark again once the server has gone.
        let marks = r.readers.clone();
        assert!(!marks.exists());
        r.touched = None;
        let _ = r.read();
        assert!(!marks.exists(), "{} was made again", marks.display());
    }

    #[test]
    fn transactions_the_log_let_go_before_the_writer_took_them_are_told_to_readers() {
        // A stage of a few transactions: far more come between two of the writer's rounds.
        let log = Arc::new(Log::with_capacity(2000));
        let (_scratch, dir, _shared) = recording("vsl-drop-test", &log);
        let mut r = Reader::open(&dir, false).expect("reader");
        for i in 0..5000 {
            commit(&log, i, &format!("/{i}"));
        }
        let (mut got, mut lost) = (Vec::new(), Lost::default());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while got.last().is_none_or(|t: &Decoded| t.vxid != 4999) && tokio::time::Instant::now() < deadline {
            let b = r.read().expect("read");
            got.extend(b.txns);
            lost.txns += b.lost.txns;
            lost.bytes += b.lost.bytes;
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got.last().map(|t| t.vxid), Some(4999), "the newest came");
        assert_eq!((lost.bytes, lost.txns as usize + got.len()), (0, 5000), "every one came or was counted lost");
        assert!(lost.txns > 0, "{lost:?}");
        // A reader that opens later is not told of them again.
        let mut later = Reader::open(&dir, false).expect("reader");
        assert_eq!(later.read().expect("read").lost, Lost::default());
    }

    #[test]
    fn a_reader_reads_a_bounded_piece_at_a_time_and_the_next_at_once() {
        let log = Arc::new(Log::default());
        let (_scratch, dir, _shared) = recording("vsl-piece-test", &log);
        // Three reads' worth: 300 transactions of 2 KiB.
        let long = "x".repeat(2048);
        for i in 0..300 {
            commit(&log, i, &format!("/{i}/{long}"));
        }
        let mut all = Reader::open(&dir, true).expect("reader");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let (mut got, mut sizes) = (Vec::new(), Vec::new());
        while got.len() < 300 && tokio::time::Instant::now() < deadline {
            let b = all.read().expect("read");
            assert_eq!(b.lost, Lost::default());
            sizes.push(b.txns.len());
            got.extend(b.txns);
            if sizes.last() == Some(&0) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert!(got.iter().enumerate().all(|(i, t)| t.vxid == i as u64), "all of them, in order");
        let taken: Vec<_> = sizes.into_iter().filter(|&n| n > 0).collect();
        assert!(taken.len() >= 3, "{taken:?}: each read takes at most {READ_MAX} bytes");
        assert!(taken.iter().all(|&n| n * 2048 <= READ_MAX), "{taken:?}");
    }

    #[test]
    fn a_transaction_longer_than_a_read_comes_whole_in_the_next() {
        let log = Arc::new(Log::default());
        let (_scratch, dir, _shared) = recording("vsl-long-test", &log);
        let urls = ["/short".to_string(), format!("/{}", "x".repeat(3 * READ_MAX)), "/after".to_string()];
        for (vxid, url) in urls.iter().enumerate() {
            commit(&log, vxid as u64, url);
        }
        // All three in the file (the writer may take them in two rounds): each is its head,
        // its URL's record and its `End`.
        let written: usize = urls.iter().map(|url| crate::vsl::txn::HEAD + 5 + url.len() + 5).sum();
        let mut all = Reader::open(&dir, true).expect("reader");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while all.head().expect("head").0 < written as u64 && tokio::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(all.head().expect("head").0, written as u64, "all three written");
        // Each read finds a transaction: one that dumps the log (`-d`), stopping at a read
        // that finds none, reads them all.
        let mut got = Vec::new();
        for _ in 0..3 {
            let b = all.read().expect("read");
            assert!(!b.txns.is_empty(), "a read with nothing after {got:?}");
            got.extend(b.txns.iter().map(|t| t.vxid));
            if got.len() == 3 {
                break;
            }
        }
        assert_eq!(got, [0, 1, 2]);
    }

    #[test]
    fn a_reader_lapped_by_the_writer_is_told_and_finds_its_place() {
        // A transaction-sized chunk of garbage, then real ones: the reader resyncs.
        let mut buf = vec![0xF3, 0xA7, 0x5C, 0x2E, 9, 9, 9];
        let log = Log::default();
        log.read(u64::MAX, 1);
        commit(&log, 5, "/five");
        let t = log.read(0, 1).txns[0].bytes().to_vec();
        buf.extend_from_slice(&t);
        assert_eq!(find_start(&buf), Some(7));
        assert_eq!(find_start(&buf[..5]), Some(0), "may be a start: more bytes tell");
        assert_eq!(find_start(b"no magic here"), None);
    }
}
