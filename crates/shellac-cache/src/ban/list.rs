//! The ban list (spec §5.8): bans in the order they were issued, each with a sequence number,
//! its time and expression, and how many stored objects were last tested up to it (`refs`, as
//! `ban.list` shows). A stored object carries the sequence number of the newest ban it has
//! been tested against ([`Object`]'s ban position): when it was stored, the newest ban; at a
//! lookup that finds it behind, it is tested against the newer bans and is either killed or
//! moves up to the newest. The lurker does the same in the background for bans that need no
//! request.
//!
//! Invariants:
//! - Sequence numbers are consecutive from the oldest ban kept to the newest (a ban's place is
//!   its number minus the oldest's); they wrap at 2^32, and the list never spans 2^31 of them
//!   ([`MAX_BANS`] is far below), so comparisons are modulo 2^32.
//! - Only the oldest bans leave, and only when no object refers to them: every object's
//!   position is in the list. The newest always stays (varnishd shows a completed ban from
//!   boot). They leave at once; varnishd lets them go when its lurker next runs, which can be
//!   `ban_lurker_age` later, so its `ban.list` shows them meanwhile (checked on 7.1.1).
//! - A completed ban (the lurker tested every older object against it, or a newer identical
//!   ban replaced it under `ban_dups`) has shed its expression and is never tested again.
//!
//! One lock guards the list and every object's position; tests run outside it, on the
//! expressions they share.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::spec::{ReqView, Spec};
use crate::object::Object;

/// The most bans kept. A ban with a regular expression costs some 17 KB while it is not
/// completed (most of it the compiled expression), so at most some 170 MB. Past it, the lurker
/// kills the objects that hold the oldest bans in the list (an invalidation too many is a miss;
/// a list without end is memory without end).
pub const MAX_BANS: usize = 10_000;

/// The bans issued to one cache.
pub struct Bans {
    list: Mutex<List>,
    /// The newest ban's number (read without the lock: an object at it is tested).
    head: AtomicU32,
    counters: Counters,
    /// `ban_dups`
    dups: AtomicBool,
    /// Wakes the lurker when a ban comes.
    added: tokio::sync::Notify,
    /// [`MAX_BANS`] (less in tests).
    max: AtomicUsize,
}

/// What bans did so far (varnishstat's `MAIN.bans_*`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Bans added (`bans_added`).
    pub added: AtomicU64,
    /// Bans that left the list (`bans_deleted`).
    pub deleted: AtomicU64,
    /// Bans completed (`bans_completed`).
    pub completed: AtomicU64,
    /// Older bans made redundant by an identical newer one (`bans_dups`).
    pub dups: AtomicU64,
    /// Objects killed by a ban at lookup (`bans_obj_killed`).
    pub obj_killed: AtomicU64,
    /// Objects killed by the lurker (`bans_lurker_obj_killed`).
    pub lurker_obj_killed: AtomicU64,
    /// Objects tested against bans at lookup (`bans_tested`).
    pub tested: AtomicU64,
    /// Ban tests made at lookup (`bans_tests_tested`).
    pub tests_tested: AtomicU64,
    /// Objects the lurker tested (`bans_lurker_tested`).
    pub lurker_tested: AtomicU64,
}

struct List {
    /// The oldest ban's number.
    first: u32,
    entries: VecDeque<Entry>,
    /// The newest ban not completed of each expression (`ban_dups` finds its duplicate here,
    /// not by a walk of the list).
    live: HashMap<Box<str>, u32>,
}

struct Entry {
    time: f64,
    /// `None` once completed.
    spec: Option<Arc<Spec>>,
    refs: u32,
    /// Whether it came from the cluster (another node, through etcd).
    cluster: bool,
}

/// One line of `ban.list`.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    /// When it was issued (seconds since the epoch).
    pub time: f64,
    /// Stored objects last tested up to it.
    pub refs: u32,
    /// Whether it is completed.
    pub completed: bool,
    /// Its expression (empty once completed).
    pub spec: String,
    /// Whether it came from the cluster.
    pub cluster: bool,
}

/// A ban to test, as a test takes it out of the list.
#[derive(Clone)]
pub(crate) struct Pending {
    pub seq: u32,
    pub time: f64,
    pub spec: Arc<Spec>,
}

/// What a test of an object at lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not banned (it is now at the newest ban).
    Clear,
    /// Banned: it is to leave the index.
    Killed,
}

// === impl Bans ===

impl Bans {
    /// A list holding one completed ban issued at `now` (varnishd's from boot).
    pub fn new(now: f64) -> Bans {
        let mut entries = VecDeque::new();
        entries.push_back(Entry { time: now, spec: None, refs: 0, cluster: false });
        Bans {
            list: Mutex::new(List { first: 0, entries, live: HashMap::new() }),
            head: AtomicU32::new(0),
            // (The ban from boot counts as added, as varnishd counts it.)
            counters: Counters { added: AtomicU64::new(1), ..Counters::default() },
            dups: AtomicBool::new(true),
            added: tokio::sync::Notify::new(),
            max: AtomicUsize::new(MAX_BANS),
        }
    }

    #[cfg(test)]
    pub(crate) fn set_max(&self, n: usize) {
        self.max.store(n, Ordering::Relaxed);
    }

    /// Sets `ban_dups`: whether a new ban completes the older identical ones (on by default).
    pub fn set_dups(&self, on: bool) {
        self.dups.store(on, Ordering::Relaxed);
    }

    /// Resolves when a ban is added (one waiter: the lurker).
    pub async fn added(&self) {
        self.added.notified().await;
    }

    /// Adds a ban issued at `time` (from the cluster: another node issued it). Under
    /// `ban_dups`, older identical bans are completed. Its number.
    pub fn add(&self, spec: Spec, time: f64, cluster: bool) -> u32 {
        let mut list = self.list.lock();
        if self.dups.load(Ordering::Relaxed) {
            if let Some(&older) = list.live.get(spec.text()) {
                if list.holds(older) && list.entry(older).spec.take().is_some() {
                    self.counters.dups.fetch_add(1, Ordering::Relaxed);
                    self.counters.completed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // Issued in order: a ban never looks older than the one before it.
        let time = list.entries.back().map_or(time, |b| time.max(b.time));
        let text: Box<str> = spec.text().into();
        list.entries.push_back(Entry { time, spec: Some(Arc::new(spec)), refs: 0, cluster });
        let seq = list.first.wrapping_add(list.entries.len() as u32 - 1);
        list.live.insert(text, seq);
        self.head.store(seq, Ordering::Release);
        self.counters.added.fetch_add(1, Ordering::Relaxed);
        list.trim(&self.counters);
        drop(list);
        self.added.notify_one();
        seq
    }

    /// How many bans the list holds (completed ones included).
    pub fn len(&self) -> usize {
        self.list.lock().entries.len()
    }

    /// Whether it holds none (never: the newest stays).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the list holds now: bans, completed ones, ones testing only `obj.*`, ones testing
    /// `req.*` (varnishstat's `bans`, `bans_completed`, `bans_obj`, `bans_req`).
    pub fn census(&self) -> (u64, u64, u64, u64) {
        let list = self.list.lock();
        let (mut completed, mut obj, mut req) = (0, 0, 0);
        for e in &list.entries {
            match &e.spec {
                None => completed += 1,
                Some(s) if s.needs_req() => req += 1,
                Some(_) => obj += 1,
            }
        }
        (list.entries.len() as u64, completed, obj, req)
    }

    /// The list, newest first (as `ban.list`).
    pub fn listed(&self) -> Vec<Listed> {
        let list = self.list.lock();
        list.entries
            .iter()
            .rev()
            .map(|e| Listed {
                time: e.time,
                refs: e.refs,
                completed: e.spec.is_none(),
                spec: e.spec.as_ref().map(|s| s.text().to_string()).unwrap_or_default(),
                cluster: e.cluster,
            })
            .collect()
    }

    /// What bans did so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Puts a newly stored object at the newest ban.
    pub(crate) fn attach(&self, obj: &Object) {
        let mut list = self.list.lock();
        let head = list.head();
        list.entry(head).refs += 1;
        obj.set_ban(head);
    }

    /// Takes an object that leaves the index off its ban (the oldest bans may leave with it).
    pub(crate) fn detach(&self, obj: &Object) {
        let mut list = self.list.lock();
        let at = obj.ban();
        if list.holds(at) {
            let e = list.entry(at);
            e.refs = e.refs.saturating_sub(1);
        }
        list.trim(&self.counters);
    }

    /// Whether `obj` is behind the newest ban (a test is due).
    pub(crate) fn behind(&self, obj: &Object) -> bool {
        obj.ban() != self.head.load(Ordering::Acquire)
    }

    /// Tests a stored object that a request looks up against the bans newer than its position
    /// (newest first, as varnishd); one that passes moves to the newest.
    pub(crate) fn check(&self, obj: &Object, req: ReqView<'_>) -> Verdict {
        if !self.behind(obj) {
            return Verdict::Clear;
        }
        let (from, to, pending) = self.pending(obj);
        let mut tests = 0;
        let killed = pending.iter().rev().any(|p| {
            tests += 1;
            p.spec.matches(obj, Some(req), p.time)
        });
        self.counters.tested.fetch_add(1, Ordering::Relaxed);
        self.counters.tests_tested.fetch_add(tests, Ordering::Relaxed);
        if killed {
            self.counters.obj_killed.fetch_add(1, Ordering::Relaxed);
            return Verdict::Killed;
        }
        self.advance(obj, from, to);
        Verdict::Clear
    }

    /// The object's position, the newest ban, and the bans after its position still to test
    /// (oldest first).
    fn pending(&self, obj: &Object) -> (u32, u32, Vec<Pending>) {
        let list = self.list.lock();
        let from = obj.ban();
        let head = list.head();
        if !list.holds(from) {
            return (from, from, Vec::new());
        }
        let start = list.index(from) + 1;
        let pending = list
            .entries
            .range(start..)
            .enumerate()
            .filter_map(|(i, e)| {
                let seq = from.wrapping_add(1 + i as u32);
                e.spec.as_ref().map(|spec| Pending { seq, time: e.time, spec: spec.clone() })
            })
            .collect();
        (from, head, pending)
    }

    /// Moves an object from ban `from` to ban `to`, unless it moved or left meanwhile.
    pub(crate) fn advance(&self, obj: &Object, from: u32, to: u32) {
        if from == to {
            return;
        }
        let mut list = self.list.lock();
        if obj.ban() != from || !obj.is_stored() || !list.holds(from) || !list.holds(to) {
            return;
        }
        list.entry(from).refs -= 1;
        list.entry(to).refs += 1;
        obj.set_ban(to);
        list.trim(&self.counters);
    }

    /// The bans the lurker may work on at `now`: not completed, testing the object alone, and
    /// at least `age` seconds old; with, for each ban newer than the oldest, whether an object
    /// can be moved past it once tested (the bans it cannot test stop it). `None`: nothing to
    /// do.
    pub(crate) fn lurker_plan(&self, now: f64, age: f64) -> Option<Plan> {
        let list = self.list.lock();
        let mut steps = Vec::new();
        let mut any = false;
        for (i, e) in list.entries.iter().enumerate() {
            let seq = list.first.wrapping_add(i as u32);
            match &e.spec {
                None => {}
                Some(s) if !s.needs_req() && e.time <= now - age => {
                    any = true;
                    steps.push(Step::Test(Pending { seq, time: e.time, spec: s.clone() }));
                }
                Some(_) => steps.push(Step::Stop(seq)),
            }
        }
        let overflow = list.entries.len().saturating_sub(self.max.load(Ordering::Relaxed));
        let cut = list.first.wrapping_add(overflow as u32);
        (any || overflow > 0).then(|| Plan { steps, head: list.head(), first: list.first, cut })
    }

    /// The lurker's test of one object against a plan: whether it is banned (or, past
    /// [`MAX_BANS`], too far behind); else it moves as far as the plan lets it.
    pub(crate) fn lurker_test(&self, obj: &Object, plan: &Plan) -> Verdict {
        let from = obj.ban();
        if from.wrapping_sub(plan.first) < plan.cut.wrapping_sub(plan.first) {
            self.counters.lurker_obj_killed.fetch_add(1, Ordering::Relaxed);
            return Verdict::Killed;
        }
        let mut to = plan.head;
        for step in &plan.steps {
            match step {
                Step::Test(p) if newer(p.seq, from) && p.spec.matches(obj, None, p.time) => {
                    self.counters.lurker_obj_killed.fetch_add(1, Ordering::Relaxed);
                    return Verdict::Killed;
                }
                Step::Stop(seq) if newer(*seq, from) => {
                    to = seq.wrapping_sub(1);
                    break;
                }
                _ => {}
            }
        }
        self.counters.lurker_tested.fetch_add(1, Ordering::Relaxed);
        self.advance(obj, from, to);
        Verdict::Clear
    }

    /// The lurker went through every stored object with `plan`: its bans are completed.
    pub(crate) fn lurker_done(&self, plan: &Plan) {
        let mut list = self.list.lock();
        let mut n = 0;
        for step in &plan.steps {
            if let Step::Test(p) = step {
                if list.holds(p.seq) && list.complete(p.seq) {
                    n += 1;
                }
            }
        }
        self.counters.completed.fetch_add(n, Ordering::Relaxed);
        list.trim(&self.counters);
    }
}

/// What one pass of the lurker does (see [`Bans::lurker_plan`]).
pub(crate) struct Plan {
    steps: Vec<Step>,
    head: u32,
    first: u32,
    /// Objects at a ban older than this are killed (the list is past [`MAX_BANS`]).
    cut: u32,
}

impl Plan {
    /// The newest ban when the plan was made.
    pub(crate) fn head(&self) -> u32 {
        self.head
    }
}

enum Step {
    Test(Pending),
    Stop(u32),
}

/// Whether ban `a` is newer than ban `b` (modulo 2^32, within half of it).
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

// === impl List ===

impl List {
    fn head(&self) -> u32 {
        self.first.wrapping_add(self.entries.len() as u32 - 1)
    }

    fn index(&self, seq: u32) -> usize {
        seq.wrapping_sub(self.first) as usize
    }

    fn holds(&self, seq: u32) -> bool {
        self.index(seq) < self.entries.len()
    }

    fn entry(&mut self, seq: u32) -> &mut Entry {
        let i = self.index(seq);
        &mut self.entries[i]
    }

    /// Completes a ban: its expression goes; whether it was not completed yet.
    fn complete(&mut self, seq: u32) -> bool {
        let Some(spec) = self.entry(seq).spec.take() else { return false };
        if self.live.get(spec.text()) == Some(&seq) {
            self.live.remove(spec.text());
        }
        true
    }

    /// Lets the oldest bans that no object refers to go (never the newest).
    fn trim(&mut self, counters: &Counters) {
        while self.entries.len() > 1 && self.entries.front().is_some_and(|e| e.refs == 0) {
            let first = self.first;
            self.complete(first);
            self.entries.pop_front();
            self.first = self.first.wrapping_add(1);
            counters.deleted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::HeaderMap;

    use super::super::testing::compile;
    use super::*;
    use crate::index::{Cache, Key, Lookup};
    use crate::object::{Head, Kind};
    use crate::ttl::Ttl;
    use crate::Query;

    fn spec(s: &str) -> Spec {
        Spec::from_vcl(s, &compile).unwrap()
    }

    fn q<'a>(url: &'a str, h: &'a HeaderMap) -> Query<'a> {
        Query::new(150.0, h, url.as_bytes())
    }

    /// Stores an object of `status` under key `k` (looked up as `url`).
    fn store(cache: &Cache, k: u8, url: &str, status: u16) -> Arc<Object> {
        let h = HeaderMap::new();
        let Lookup::Miss { fetch, .. } = cache.lookup(&[k; 32], &q(url, &h)) else { panic!("a miss") };
        let head = Head::new(status, "", false, crate::Headers::default());
        let obj =
            fetch.insert(Object::new(head, Ttl { t_origin: 100.0, ttl: 1000.0, grace: 0.0, keep: 0.0 }, Kind::Normal));
        cache.finish(&obj, crate::body::State::Complete);
        obj
    }

    fn hit(cache: &Cache, k: u8, url: &str) -> bool {
        let h = HeaderMap::new();
        matches!(cache.lookup(&[k; 32] as &Key, &q(url, &h)), Lookup::Hit(_))
    }

    fn refs(cache: &Cache) -> Vec<(u32, bool)> {
        cache.bans().listed().iter().map(|b| (b.refs, b.completed)).collect()
    }

    #[test]
    fn a_ban_kills_at_lookup_the_matching_objects_stored_before_it_and_no_others() {
        let cache = Cache::new();
        store(&cache, 1, "/a", 200);
        store(&cache, 2, "/b", 200);
        assert_eq!(refs(&cache), [(2, true)], "both at the ban from boot");
        cache.bans().add(spec("req.url ~ /a"), 120.0, false);
        store(&cache, 3, "/a/new", 200);
        assert_eq!(refs(&cache), [(1, false), (2, true)]);
        assert!(hit(&cache, 2, "/b"), "not matching: a hit, and it moves up");
        assert_eq!(refs(&cache), [(2, false), (1, true)]);
        assert!(!hit(&cache, 1, "/a"), "matching and older: killed, a miss");
        assert!(hit(&cache, 3, "/a/new"), "matching but newer than the ban: a hit");
        assert_eq!(cache.bans().counters().obj_killed.load(Ordering::Relaxed), 1);
        // Nothing refers to the ban from boot any more: it left.
        assert_eq!(refs(&cache), [(2, false)]);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn an_identical_newer_ban_completes_the_older_one_under_ban_dups() {
        let cache = Cache::new();
        store(&cache, 1, "/a", 200);
        cache.bans().add(spec("obj.status == 500"), 120.0, false);
        cache.bans().add(spec("obj.status == 404"), 121.0, false);
        cache.bans().add(spec("obj.status == 500"), 122.0, false);
        let listed = cache.bans().listed();
        let specs: Vec<&str> = listed.iter().map(|b| b.spec.as_str()).collect();
        assert_eq!(specs, ["obj.status == 500", "obj.status == 404", "", ""]);
        assert_eq!(cache.bans().counters().dups.load(Ordering::Relaxed), 1);
        cache.bans().set_dups(false);
        cache.bans().add(spec("obj.status == 500"), 123.0, false);
        assert_eq!(cache.bans().listed()[1].spec, "obj.status == 500", "kept with ban_dups off");
        // A ban never looks older than the one before it.
        cache.bans().add(spec("obj.status == 501"), 50.0, false);
        let listed = cache.bans().listed();
        assert_eq!(listed[0].time, listed[1].time);
    }

    #[test]
    fn the_lurker_kills_and_completes_object_bans_but_never_passes_a_request_ban() {
        let cache = Cache::new();
        store(&cache, 1, "/a", 200);
        store(&cache, 2, "/b", 404);
        store(&cache, 3, "/c", 200);
        // (Ban times after the ban from boot's, which is now.)
        const T: f64 = 4.0e9;
        cache.bans().add(spec("obj.status == 404"), T + 120.0, false);
        assert!(cache.lurk_plan(T + 130.0, 60.0).is_none(), "not old enough yet");
        let plan = cache.lurk_plan(T + 180.0, 60.0).expect("a plan");
        let mut killed = 0;
        for i in 0..Cache::SHARDS {
            let c = cache.lurk_candidates(i, &plan);
            killed += cache.lurk_test(&plan, &c);
        }
        cache.lurk_done(&plan);
        assert_eq!(killed, 1);
        assert_eq!(cache.len(), 2);
        assert_eq!(refs(&cache), [(2, true)], "completed, and the two moved up to it");
        assert!(cache.lurk_plan(T + 200.0, 60.0).is_none(), "nothing left to do");

        // A request ban stops the lurker: objects stay behind it, its object ban still
        // completes, and a lookup then tests the request ban.
        cache.bans().add(spec("req.url ~ /a"), T + 210.0, false);
        cache.bans().add(spec("obj.status == 500"), T + 211.0, false);
        let plan = cache.lurk_plan(T + 300.0, 60.0).expect("a plan");
        for i in 0..Cache::SHARDS {
            let c = cache.lurk_candidates(i, &plan);
            cache.lurk_test(&plan, &c);
        }
        cache.lurk_done(&plan);
        assert_eq!(refs(&cache), [(0, true), (0, false), (2, true)]);
        assert!(cache.lurk_plan(T + 300.0, 60.0).is_none(), "the lurker never tests a request ban");
        assert!(!hit(&cache, 1, "/a"));
        assert!(hit(&cache, 3, "/c"));
        assert_eq!(refs(&cache), [(1, true)]);
    }

    #[test]
    fn past_the_most_bans_the_lurker_kills_the_objects_holding_the_oldest() {
        let cache = Cache::new();
        cache.bans().set_max(3);
        store(&cache, 1, "/old", 200);
        for i in 0..5 {
            cache.bans().add(spec(&format!("req.url == /nothing/{i}")), 200.0, false);
            if i == 2 {
                store(&cache, 2, "/newer", 200);
            }
        }
        assert_eq!(cache.bans().len(), 6, "the one from boot, held by /old, and five");
        let plan = cache.lurk_plan(200.0, 60.0).expect("over the most: a plan, though no ban is old enough");
        let mut killed = 0;
        for i in 0..Cache::SHARDS {
            let c = cache.lurk_candidates(i, &plan);
            killed += cache.lurk_test(&plan, &c);
        }
        cache.lurk_done(&plan);
        assert_eq!(killed, 1, "only /old was held by a ban past the most");
        assert!(hit(&cache, 2, "/newer"));
        assert_eq!(cache.bans().len(), 1, "every ban left once nothing held them");
    }

    #[test]
    fn bans_leave_as_objects_leave_and_the_list_stays_bounded_under_a_stream_of_bans() {
        let cache = Cache::new();
        for k in 1..=20u8 {
            store(&cache, k, "/x", 200);
        }
        // A steady stream of bans, with lookups of every object in between: the list keeps
        // only what some object still refers to, and the newest.
        for round in 0..100 {
            cache.bans().add(spec(&format!("obj.http.x-round == {round}")), 200.0 + f64::from(round), false);
            for k in 1..=20u8 {
                assert!(hit(&cache, k, "/x"));
            }
            assert_eq!(cache.bans().len(), 1, "round {round}");
        }
        // Objects that leave release their bans.
        cache.bans().add(spec("obj.status == 200"), 400.0, false);
        assert_eq!(cache.bans().len(), 2);
        cache.sweep(1.0e9);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.bans().len(), 1);
    }
}
