//! Invalidation on the index: the ban test of a key's objects at lookup, the lurker's pass (a
//! plan, the candidates of one shard, their test, completion), and purges by surrogate key.
//! The bans and keys themselves live in [`crate::ban`] and [`crate::xkey`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Cache, Key, Shard, SHARDS};
use crate::ban::list::{Plan, Verdict};
use crate::ban::ReqView;
use crate::lookup::Query;
use crate::object::Object;

/// What one pass of the ban lurker does (see [`Cache::lurk_plan`]).
pub struct LurkPlan(Plan);

// === impl Cache ===

impl Cache {
    /// Purges the stored objects carrying any of `keys` (separated by spaces, tabs or commas),
    /// as varnish-modules' `xkey.purge` (they leave the index) or `xkey.softpurge` (`soft`: a
    /// fresh one becomes stale at `now` and keeps its grace and keep; a stale one is passed
    /// over). How many (an object carrying two of the keys counts twice, as in the vmod).
    pub fn xkey_purge(&self, keys: &[u8], soft: bool, now: f64) -> usize {
        // Found for every key first: an object under two of them counts twice, even when the
        // first takes it out.
        let found: Vec<Arc<Object>> = crate::xkey::words(keys).flat_map(|k| self.inner.xkeys.objects(k)).collect();
        let mut n = 0;
        for obj in &found {
            if soft {
                let t = obj.ttl();
                if t.ttl <= now - t.t_origin {
                    continue;
                }
                self.rearm_one(obj, now, 0.0, t.grace, t.keep);
            } else if obj.is_stored() {
                self.remove(obj);
            }
            n += 1;
        }
        n
    }

    /// Tests the objects of `key` that are behind the newest ban against the newer bans (spec
    /// §5.3: a banned object is killed and the walk goes on without it).
    pub(super) fn test_bans(&self, shard: &mut Shard, key: &Key, q: &Query<'_>) {
        let req = ReqView { url: q.url, headers: q.headers };
        let killed: Vec<Arc<Object>> = shard
            .objects(key)
            .iter()
            .filter(|o| !o.is_expired(q.now) && self.inner.bans.check(o, req) == Verdict::Killed)
            .cloned()
            .collect();
        if killed.is_empty() {
            return;
        }
        let gone = shard.retain(key, |o| !killed.iter().any(|k| Arc::ptr_eq(k, o)));
        self.inner.objects.fetch_sub(gone, Ordering::Relaxed);
        for o in &killed {
            self.forget(o);
        }
    }

    /// The lurker's plan for a pass at `now` over bans at least `age` seconds old (spec
    /// §5.8: only bans that test the object alone; `None`: nothing to do now).
    pub fn lurk_plan(&self, now: f64, age: f64) -> Option<LurkPlan> {
        self.inner.bans.lurker_plan(now, age).map(LurkPlan)
    }

    /// The lurker's part `i` (of [`Cache::SHARDS`]): the stored objects in it that are behind
    /// the plan's newest ban, to test a batch at a time outside the index's lock.
    pub fn lurk_candidates(&self, i: usize, plan: &LurkPlan) -> Vec<Arc<Object>> {
        let shard = self.inner.shards[i % SHARDS].lock();
        let behind = |o: &&Arc<Object>| o.ban() != plan.0.head();
        let mut out: Vec<Arc<Object>> = shard.newest.iter().filter(behind).cloned().collect();
        for all in shard.more.values() {
            // (The first of each is in `newest`, already taken.)
            out.extend(all.iter().skip(1).filter(behind).cloned());
        }
        out
    }

    /// Tests objects (from [`Cache::lurk_candidates`]) against the plan's bans; the banned ones
    /// leave the index. How many left.
    pub fn lurk_test(&self, plan: &LurkPlan, objects: &[Arc<Object>]) -> usize {
        let mut killed = 0;
        for o in objects {
            if o.is_stored() && self.inner.bans.lurker_test(o, &plan.0) == Verdict::Killed {
                self.remove(o);
                killed += 1;
            }
        }
        killed
    }

    /// Every part was gone through with `plan`: its bans are completed.
    pub fn lurk_done(&self, plan: &LurkPlan) {
        self.inner.bans.lurker_done(&plan.0);
    }
}
