//! Counters with varnishstat's names and meanings (issue 22): `MAIN.*` for the server, `VBE.*`
//! per backend, with the gauges read from where they live (the cache, its stores and bans).
//!
//! Counting costs no shared atomic per request: each counter set is cut into shards, one per
//! thread slot (a thread takes the next slot on first use), each shard on cache lines of its
//! own; a count is a relaxed add on the counting thread's shard, and a read sums the shards.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a counter is, as varnishstat says (`flag`, `format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Def {
    /// The name after its section (`client_req`).
    pub name: &'static str,
    /// `c` counter, `g` gauge, `b` bitmap.
    pub flag: char,
    /// `i` integer, `B` bytes, `d` duration, `b` bitmap.
    pub format: char,
    /// The one-line description.
    pub desc: &'static str,
}

const fn c(name: &'static str, desc: &'static str) -> Def {
    Def { name, flag: 'c', format: 'i', desc }
}

const fn bytes(name: &'static str, desc: &'static str) -> Def {
    Def { name, flag: 'c', format: 'B', desc }
}

macro_rules! counters {
    ($(#[$m:meta])* $ty:ident, $table:ident { $($var:ident = $def:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        #[allow(missing_docs)]
        pub enum $ty { $($var,)* }

        /// The definitions, in the enum's order.
        pub const $table: &[Def] = &[$($def,)*];
    };
}

counters!(
    /// The `MAIN.*` counters Shellac counts itself (gauges are read where they live).
    Main, MAIN {
        SessConn = c("sess_conn", "Sessions accepted"),
        SessFail = c("sess_fail", "Session accept failures"),
        SessFailEconnaborted = c("sess_fail_econnaborted", "Session accept failures: connection aborted"),
        SessFailEintr = c("sess_fail_eintr", "Session accept failures: interrupted system call"),
        SessFailEmfile = c("sess_fail_emfile", "Session accept failures: too many open files"),
        SessFailEbadf = c("sess_fail_ebadf", "Session accept failures: bad file descriptor"),
        SessFailEnomem = c("sess_fail_enomem", "Session accept failures: not enough memory"),
        SessFailOther = c("sess_fail_other", "Session accept failures: other"),
        SessClosed = c("sess_closed", "Session Closed"),
        SessClosedErr = c("sess_closed_err", "Session Closed with error"),
        ScRemClose = c("sc_rem_close", "Session OK  REM_CLOSE"),
        ScReqClose = c("sc_req_close", "Session OK  REQ_CLOSE"),
        ScReqHttp10 = c("sc_req_http10", "Session Err REQ_HTTP10"),
        ScRespClose = c("sc_resp_close", "Session OK  RESP_CLOSE"),
        ScRxBad = c("sc_rx_bad", "Session Err RX_BAD"),
        ScRxBody = c("sc_rx_body", "Session Err RX_BODY"),
        ScRxJunk = c("sc_rx_junk", "Session Err RX_JUNK"),
        ScRxOverflow = c("sc_rx_overflow", "Session Err RX_OVERFLOW"),
        ScRxTimeout = c("sc_rx_timeout", "Session Err RX_TIMEOUT"),
        ScRxCloseIdle = c("sc_rx_close_idle", "Session Err RX_CLOSE_IDLE"),
        ScTxPipe = c("sc_tx_pipe", "Session OK  TX_PIPE"),
        ScTxError = c("sc_tx_error", "Session Err TX_ERROR"),
        ScTxEof = c("sc_tx_eof", "Session OK  TX_EOF"),
        BusySleep = c("busy_sleep", "Number of requests sent to sleep on busy objhdr"),
        BusyWakeup = c("busy_wakeup", "Number of requests woken after sleep on busy objhdr"),
        ClientReq400 = c("client_req_400", "Client requests received, subject to 400 errors"),
        ClientReq417 = c("client_req_417", "Client requests received, subject to 417 errors"),
        ClientReq = c("client_req", "Good client requests received"),
        CacheHit = c("cache_hit", "Cache hits"),
        CacheHitGrace = c("cache_hit_grace", "Cache grace hits"),
        CacheHitpass = c("cache_hitpass", "Cache hits for pass."),
        CacheHitmiss = c("cache_hitmiss", "Cache hits for miss."),
        CacheMiss = c("cache_miss", "Cache misses"),
        BerespUncacheable = c("beresp_uncacheable", "Uncacheable backend responses"),
        BerespShortlived = c("beresp_shortlived", "Shortlived objects"),
        BackendConn = c("backend_conn", "Backend conn. success"),
        BackendUnhealthy = c("backend_unhealthy", "Backend conn. not attempted"),
        BackendBusy = c("backend_busy", "Backend conn. too many"),
        BackendFail = c("backend_fail", "Backend conn. failures"),
        BackendReuse = c("backend_reuse", "Backend conn. reuses"),
        BackendRecycle = c("backend_recycle", "Backend conn. recycles"),
        BackendRetry = c("backend_retry", "Backend conn. retry"),
        BackendReq = c("backend_req", "Backend requests made"),
        FetchHead = c("fetch_head", "Fetch no body (HEAD)"),
        FetchLength = c("fetch_length", "Fetch with Length"),
        FetchChunked = c("fetch_chunked", "Fetch chunked"),
        FetchEof = c("fetch_eof", "Fetch EOF"),
        FetchBad = c("fetch_bad", "Fetch bad T-E"),
        FetchNone = c("fetch_none", "Fetch no body"),
        Fetch1xx = c("fetch_1xx", "Fetch no body (1xx)"),
        Fetch204 = c("fetch_204", "Fetch no body (204)"),
        Fetch304 = c("fetch_304", "Fetch no body (304)"),
        FetchFailed = c("fetch_failed", "Fetch failed (all causes)"),
        SSess = c("s_sess", "Total sessions seen"),
        SPipe = c("s_pipe", "Total pipe sessions seen"),
        SPass = c("s_pass", "Total pass-ed requests seen"),
        SFetch = c("s_fetch", "Total backend fetches initiated"),
        SBgfetch = c("s_bgfetch", "Total backend background fetches initiated"),
        SSynth = c("s_synth", "Total synthetic responses made"),
        SReqHdrbytes = bytes("s_req_hdrbytes", "Request header bytes"),
        SReqBodybytes = bytes("s_req_bodybytes", "Request body bytes"),
        SRespHdrbytes = bytes("s_resp_hdrbytes", "Response header bytes"),
        SRespBodybytes = bytes("s_resp_bodybytes", "Response body bytes"),
        SPipeHdrbytes = bytes("s_pipe_hdrbytes", "Pipe request header bytes"),
        SPipeIn = bytes("s_pipe_in", "Piped bytes from client"),
        SPipeOut = bytes("s_pipe_out", "Piped bytes to client"),
        VclFail = c("vcl_fail", "VCL failures"),
        NPurges = c("n_purges", "Number of purge operations executed"),
        NObjPurged = c("n_obj_purged", "Number of purged objects"),
        NGzip = c("n_gzip", "Gzip operations"),
        NGunzip = c("n_gunzip", "Gunzip operations"),
        NTestGunzip = c("n_test_gunzip", "Test gunzip operations"),
    }
);

counters!(
    /// The `VBE.<vcl>.<backend>.*` counters of one backend.
    Vbe, VBE {
        BereqHdrbytes = bytes("bereq_hdrbytes", "Request header bytes"),
        BereqBodybytes = bytes("bereq_bodybytes", "Request body bytes"),
        BerespHdrbytes = bytes("beresp_hdrbytes", "Response header bytes"),
        BerespBodybytes = bytes("beresp_bodybytes", "Response body bytes"),
        Req = c("req", "Backend requests sent"),
        Unhealthy = c("unhealthy", "Fetches not attempted due to backend being unhealthy"),
        Busy = c("busy", "Fetches not attempted due to backend being busy"),
        Fail = c("fail", "Connections failed"),
        FailEconnrefused = c("fail_econnrefused", "Connections failed with ECONNREFUSED"),
        FailEtimedout = c("fail_etimedout", "Connections failed ETIMEDOUT"),
        FailOther = c("fail_other", "Connections failed for other reason"),
        Helddown = c("helddown", "Connection opens not attempted"),
    }
);

/// Shards a counter set is cut into (thread slots share them past this many threads).
const SHARDS: usize = 16;

/// One shard: the counters of one thread slot, on cache lines of their own.
#[repr(align(128))]
struct Shard<const N: usize>([AtomicU64; N]);

/// A set of `N` counters, sharded by thread.
pub struct Set<const N: usize> {
    shards: Box<[Shard<N>]>,
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl<const N: usize> Default for Set<N> {
    fn default() -> Self {
        Set { shards: (0..SHARDS).map(|_| Shard(std::array::from_fn(|_| AtomicU64::new(0)))).collect() }
    }
}

impl<const N: usize> Set<N> {
    /// Adds `n` to counter `i` (the counting thread's shard).
    pub fn add(&self, i: usize, n: u64) {
        let slot = SLOT.with(|s| *s);
        self.shards[slot].0[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Counter `i`, summed.
    pub fn get(&self, i: usize) -> u64 {
        self.shards.iter().map(|s| s.0[i].load(Ordering::Relaxed)).fold(0, u64::wrapping_add)
    }
}

/// The `sess_fail_*` counter of an accept failure, by its errno (as varnishd counts them).
pub fn accept_failure(e: &std::io::Error) -> Main {
    // (Linux's numbers: ECONNABORTED, EINTR, EMFILE and ENFILE, EBADF, ENOMEM and ENOBUFS.)
    match e.raw_os_error() {
        Some(103) => Main::SessFailEconnaborted,
        Some(4) => Main::SessFailEintr,
        Some(24 | 23) => Main::SessFailEmfile,
        Some(9) => Main::SessFailEbadf,
        Some(12 | 105) => Main::SessFailEnomem,
        _ => Main::SessFailOther,
    }
}

/// How many `MAIN` counters there are.
pub const N_MAIN: usize = MAIN.len();
/// How many `VBE` counters a backend has.
pub const N_VBE: usize = VBE.len();

/// The upper bounds of the duration histograms' buckets, in seconds (the last is `+Inf`).
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A duration histogram, sharded as the counters are: a count per bucket (the last for
/// anything longer), and the sum in microseconds.
#[derive(Default)]
pub struct Histogram {
    set: Set<{ BUCKETS.len() + 2 }>,
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.set.add(i, 1);
        self.set.add(BUCKETS.len() + 1, d.as_micros().min(u128::from(u64::MAX)) as u64);
    }

    /// The count in each bucket (not cumulative; the last is past every bound), and the sum in
    /// seconds.
    pub fn read(&self) -> (Vec<u64>, f64) {
        let counts = (0..=BUCKETS.len()).map(|i| self.set.get(i)).collect();
        (counts, self.set.get(BUCKETS.len() + 1) as f64 / 1e6)
    }
}

/// The server's own counters.
pub struct Stats {
    main: Set<N_MAIN>,
    born: tokio::time::Instant,
    /// Client requests, from the request's start to its response's head.
    pub client: Histogram,
    /// Backend fetches, from the request sent to the response's head.
    pub fetch: Histogram,
    /// Pipes going on (`n_pipe`).
    pipes: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            main: Set::default(),
            born: tokio::time::Instant::now(),
            client: Histogram::default(),
            fetch: Histogram::default(),
            pipes: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Counts one.
    pub fn inc(&self, c: Main) {
        self.main.add(c as usize, 1);
    }

    /// Counts `n`.
    pub fn add(&self, c: Main, n: u64) {
        self.main.add(c as usize, n);
    }

    /// A counter's value.
    pub fn get(&self, c: Main) -> u64 {
        self.main.get(c as usize)
    }

    /// A pipe begins (`n_pipe`).
    pub fn pipe_opened(&self) {
        self.pipes.fetch_add(1, Ordering::Relaxed);
    }

    /// A pipe has ended.
    pub fn pipe_closed(&self) {
        self.pipes.fetch_sub(1, Ordering::Relaxed);
    }

    /// Pipes going on.
    pub fn pipes(&self) -> u64 {
        self.pipes.load(Ordering::Relaxed)
    }

    /// Every `MAIN` counter with its value, in table order.
    pub fn main(&self) -> impl Iterator<Item = (&'static Def, u64)> + '_ {
        MAIN.iter().enumerate().map(|(i, d)| (d, self.main.get(i)))
    }
}

/// One backend's counters.
#[derive(Default)]
pub struct BackendStats {
    set: Set<N_VBE>,
}

impl BackendStats {
    /// Counts `n`.
    pub fn add(&self, c: Vbe, n: u64) {
        self.set.add(c as usize, n);
    }

    /// Every counter with its value, in table order.
    pub fn all(&self) -> impl Iterator<Item = (&'static Def, u64)> + '_ {
        VBE.iter().enumerate().map(|(i, d)| (d, self.set.get(i)))
    }
}

/// One line of a counter listing (varnishstat's point).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The full name (`MAIN.client_req`, `VBE.boot.web1.req`).
    pub name: String,
    /// `c`, `g` or `b`.
    pub flag: char,
    /// `i`, `B`, `d` or `b`.
    pub format: char,
    /// The description.
    pub desc: String,
    /// The value.
    pub value: u64,
}

impl Point {
    /// A point of a counter definition.
    pub fn of(section: &str, d: &Def, value: u64) -> Point {
        Point { name: format!("{section}.{}", d.name), flag: d.flag, format: d.format, desc: d.desc.to_string(), value }
    }

    /// A gauge.
    pub fn gauge(name: &str, format: char, desc: &str, value: u64) -> Point {
        Point { name: name.to_string(), flag: 'g', format, desc: desc.to_string(), value }
    }
}

/// varnishd 7.1's `MAIN` counters in the order `varnishstat -1` lists them (Shellac lists its own
/// in this order; those varnishd has and Shellac does not are here for their places only).
const MAIN_ORDER: &[&str] = &[
    "summs",
    "uptime",
    "sess_conn",
    "sess_fail",
    "sess_fail_econnaborted",
    "sess_fail_eintr",
    "sess_fail_emfile",
    "sess_fail_ebadf",
    "sess_fail_enomem",
    "sess_fail_other",
    "client_req_400",
    "client_req_417",
    "client_req",
    "esi_req",
    "cache_hit",
    "cache_hit_grace",
    "cache_hitpass",
    "cache_hitmiss",
    "cache_miss",
    "beresp_uncacheable",
    "beresp_shortlived",
    "backend_conn",
    "backend_unhealthy",
    "backend_busy",
    "backend_fail",
    "backend_reuse",
    "backend_recycle",
    "backend_retry",
    "fetch_head",
    "fetch_length",
    "fetch_chunked",
    "fetch_eof",
    "fetch_bad",
    "fetch_none",
    "fetch_1xx",
    "fetch_204",
    "fetch_304",
    "fetch_failed",
    "fetch_no_thread",
    "pools",
    "threads",
    "threads_limited",
    "threads_created",
    "threads_destroyed",
    "threads_failed",
    "thread_queue_len",
    "busy_sleep",
    "busy_wakeup",
    "busy_killed",
    "sess_queued",
    "sess_dropped",
    "req_dropped",
    "n_object",
    "n_vampireobject",
    "n_objectcore",
    "n_objecthead",
    "n_backend",
    "n_expired",
    "n_lru_nuked",
    "n_lru_moved",
    "n_lru_limited",
    "losthdr",
    "s_sess",
    "n_pipe",
    "pipe_limited",
    "s_pipe",
    "s_pass",
    "s_fetch",
    "s_bgfetch",
    "s_synth",
    "s_req_hdrbytes",
    "s_req_bodybytes",
    "s_resp_hdrbytes",
    "s_resp_bodybytes",
    "s_pipe_hdrbytes",
    "s_pipe_in",
    "s_pipe_out",
    "sess_closed",
    "sess_closed_err",
    "sess_readahead",
    "sess_herd",
    "sc_rem_close",
    "sc_req_close",
    "sc_req_http10",
    "sc_rx_bad",
    "sc_rx_body",
    "sc_rx_junk",
    "sc_rx_overflow",
    "sc_rx_timeout",
    "sc_rx_close_idle",
    "sc_tx_pipe",
    "sc_tx_error",
    "sc_tx_eof",
    "sc_resp_close",
    "sc_overload",
    "sc_pipe_overflow",
    "sc_range_short",
    "sc_req_http20",
    "sc_vcl_failure",
    "client_resp_500",
    "ws_backend_overflow",
    "ws_client_overflow",
    "ws_thread_overflow",
    "ws_session_overflow",
    "shm_records",
    "shm_writes",
    "shm_flushes",
    "shm_cont",
    "shm_cycles",
    "backend_req",
    "n_vcl",
    "n_vcl_avail",
    "n_vcl_discard",
    "vcl_fail",
    "bans",
    "bans_completed",
    "bans_obj",
    "bans_req",
    "bans_added",
    "bans_deleted",
    "bans_tested",
    "bans_obj_killed",
    "bans_lurker_tested",
    "bans_tests_tested",
    "bans_lurker_tests_tested",
    "bans_lurker_obj_killed",
    "bans_lurker_obj_killed_cutoff",
    "bans_dups",
    "bans_lurker_contention",
    "bans_persisted_bytes",
    "bans_persisted_fragmentation",
    "n_purges",
    "n_obj_purged",
    "exp_mailed",
    "exp_received",
    "hcb_nolock",
    "hcb_lock",
    "hcb_insert",
    "esi_errors",
    "esi_warnings",
    "vmods",
    "n_gzip",
    "n_gunzip",
    "n_test_gunzip",
];

/// Puts the `MAIN.*` points (one run of them, wherever it starts) in varnishd's order; names it
/// does not have go after its own, as they came.
pub fn sort_main(points: &mut [Point]) {
    let Some(start) = points.iter().position(|p| p.name.starts_with("MAIN.")) else { return };
    let len = points[start..].iter().take_while(|p| p.name.starts_with("MAIN.")).count();
    let rank = |p: &Point| MAIN_ORDER.iter().position(|n| p.name[5..] == **n).unwrap_or(MAIN_ORDER.len());
    points[start..start + len].sort_by_key(rank);
}

/// The server's points: `MAIN.*` (its counters and the gauges of its cache and bans) and
/// `SMA.*` per store, in varnishstat's order of sections.
pub fn server_points(server: &crate::server::Server) -> Vec<Point> {
    let stats = &server.registry.stats;
    let cache = &server.cache;
    let mut out = vec![Point {
        name: "MAIN.uptime".into(),
        flag: 'c',
        format: 'd',
        desc: "Child process uptime".into(),
        value: stats.born.elapsed().as_secs(),
    }];
    out.extend(stats.main().map(|(d, v)| Point::of("MAIN", d, v)));
    let threads = tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers() as u64);
    out.push(Point::gauge("MAIN.threads", 'i', "Total number of threads", threads));
    out.push(Point::gauge("MAIN.n_object", 'i', "object structs made", cache.len() as u64));
    let c = |name: &str, desc: &str, value: u64| Point { flag: 'c', ..Point::gauge(name, 'i', desc, value) };
    out.push(c("MAIN.n_expired", "Number of expired objects", cache.expired()));
    let nuked = cache.stores().map(|s| s.nuked()).sum();
    out.push(c("MAIN.n_lru_nuked", "Number of LRU nuked objects", nuked));
    let moved = cache.stores().map(|s| s.moved()).sum();
    out.push(c("MAIN.n_lru_moved", "Number of LRU moved objects", moved));
    out.push(Point::gauge("MAIN.n_objecthead", 'i', "objecthead structs made", cache.heads() as u64));
    out.push(Point::gauge("MAIN.n_pipe", 'i', "Number of ongoing pipe sessions", stats.pipes()));
    let bans = cache.bans();
    let (n, completed, obj, req) = bans.census();
    let k = bans.counters();
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    out.push(Point::gauge("MAIN.bans", 'i', "Count of bans", n));
    out.push(Point::gauge("MAIN.bans_completed", 'i', "Number of bans marked 'completed'", completed));
    out.push(Point::gauge("MAIN.bans_obj", 'i', "Number of bans using obj.*", obj));
    out.push(Point::gauge("MAIN.bans_req", 'i', "Number of bans using req.*", req));
    out.push(c("MAIN.bans_added", "Bans added", get(&k.added)));
    out.push(c("MAIN.bans_deleted", "Bans deleted", get(&k.deleted)));
    out.push(c("MAIN.bans_tested", "Bans tested against objects (lookup)", get(&k.tested)));
    out.push(c("MAIN.bans_obj_killed", "Objects killed by bans (lookup)", get(&k.obj_killed)));
    out.push(c("MAIN.bans_lurker_tested", "Bans tested against objects (lurker)", get(&k.lurker_tested)));
    out.push(c("MAIN.bans_tests_tested", "Ban tests tested against objects (lookup)", get(&k.tests_tested)));
    out.push(c("MAIN.bans_lurker_obj_killed", "Objects killed by bans (lurker)", get(&k.lurker_obj_killed)));
    out.push(c("MAIN.bans_dups", "Bans superseded by other bans", get(&k.dups)));
    for st in cache.stores() {
        let name = |what: &str| format!("SMA.{}.{what}", st.name());
        out.push(c(&name("c_req"), "Allocator requests", st.requests()));
        out.push(c(&name("c_fail"), "Allocator failures", st.failures()));
        out.push(Point::gauge(&name("g_bytes"), 'B', "Bytes outstanding", st.used()));
        // (An unlimited store, as Transient, has no space to speak of: varnishd shows 0.)
        let space = if st.limit() >= u64::MAX / 2 { 0 } else { st.free() };
        out.push(Point::gauge(&name("g_space"), 'B', "Bytes available", space));
    }
    sort_main(&mut out);
    out
}

/// The points of one backend: `VBE.<name>.*`, `name` as `backend.list` shows it
/// (`boot.web1`, `boot.project(10.0.0.1:80)`): `happy`, the probe's good results as a bitmap,
/// newest lowest; `conn`, the fetches using it now; its counters.
pub fn backend_points(name: &str, b: &crate::backend::Backend) -> Vec<Point> {
    let section = format!("VBE.{name}");
    let happy = b.probe.as_ref().map_or(0, |p| p.state().bits[crate::backend::probe::Flag::Happy as usize]);
    let mut out = vec![
        Point {
            name: format!("{section}.happy"),
            flag: 'b',
            format: 'b',
            desc: "Happy health probes".into(),
            value: happy,
        },
        Point::gauge(&format!("{section}.conn"), 'i', "Concurrent connections used", u64::from(b.busy())),
    ];
    out.extend(b.stats.all().map(|(d, v)| Point::of(&section, d, v)));
    out
}

/// Points as `varnishstat -j` lays them out (7.1: `version`, `timestamp`, `counters`), with
/// `timestamp` as given.
pub fn to_json(points: &[Point], timestamp: &str) -> String {
    let mut out = format!("{{\n  \"version\": 1,\n  \"timestamp\": \"{timestamp}\",\n  \"counters\": {{\n");
    let items: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "    \"{}\": {{\n      \"description\": \"{}\",\n      \"flag\": \"{}\",\n      \"format\": \"{}\",\n      \"value\": {}\n    }}",
                p.name,
                p.desc.replace('"', "\\\""),
                p.flag,
                p.format,
                p.value
            )
        })
        .collect();
    out.push_str(&items.join(",\n"));
    out.push_str("\n  }\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_and_names_are_varnishstats() {
        let stats = std::sync::Arc::new(Stats::default());
        let threads: Vec<_> = (0..40)
            .map(|_| {
                let s = stats.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| s.inc(Main::ClientReq)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("thread"));
        stats.add(Main::SFetch, 7);
        assert_eq!(stats.get(Main::ClientReq), 40_000);
        let all: Vec<(&str, u64)> = stats.main().map(|(d, v)| (d.name, v)).collect();
        assert!(all.contains(&("client_req", 40_000)) && all.contains(&("s_fetch", 7)));
        assert_eq!(MAIN[Main::CacheHitGrace as usize].name, "cache_hit_grace");
        assert_eq!(VBE[Vbe::Req as usize].name, "req");
    }

    #[test]
    fn accept_failures_are_counted_by_errno_as_varnishd_counts_them() {
        let of = |n| accept_failure(&std::io::Error::from_raw_os_error(n));
        assert_eq!(of(24), Main::SessFailEmfile, "EMFILE");
        assert_eq!(of(23), Main::SessFailEmfile, "ENFILE");
        assert_eq!(of(103), Main::SessFailEconnaborted);
        assert_eq!(of(4), Main::SessFailEintr);
        assert_eq!(of(9), Main::SessFailEbadf);
        assert_eq!(of(12), Main::SessFailEnomem);
        assert_eq!(of(22), Main::SessFailOther);
        assert_eq!(accept_failure(&std::io::Error::other("no errno")), Main::SessFailOther);
        assert_eq!(MAIN[Main::SessFailEmfile as usize].name, "sess_fail_emfile");
    }
}
