//! The cache side of a client request (spec §5.3): the lookup of the request's hash in the
//! object store, waiting on a busy fetch for the same key, and `vcl_hit`. A fresh object is a
//! hit; a stale one in grace is delivered while this request's background fetch refreshes it;
//! hit-for-pass and hit-for-miss markers turn the request into a pass or an uncoalesced miss.

use crate::stats::Main;
use std::sync::Arc;

use http::Response;
use shellac_cache::{Lookup, Object, Query};
use shellac_vcl::symbols::{ActionKind, Method};

use super::{synth_step, Step, Task};
use crate::body::Body;
use crate::fetch::{self, Mode};
use crate::vcl::Parts;
use crate::vrt::Bereq;

impl Task {
    /// Looks the request up, waiting while another request fetches the same key.
    pub(super) async fn lookup(&mut self) -> Step {
        let Some(key) = self.req.key() else { return Step::Fail };
        if self.req.hash_always_miss {
            self.server.registry.stats.inc(Main::CacheMiss);
            // A fetch of its own, whose object is stored for the others.
            self.fetch = Some(self.server.cache.private(&key));
            return Step::Miss;
        }
        let mut _rushed = None;
        loop {
            let query = Query {
                now: self.req.time,
                req_ttl: self.req.ttl,
                req_grace: self.req.grace,
                headers: &self.req.headers,
                url: self.req.url.as_bytes(),
                ignore_vary: self.req.hash_ignore_vary,
                ignore_busy: self.req.hash_ignore_busy,
                gzip_support: self.params.http_gzip_support,
                rush_exponent: usize::try_from(self.params.rush_exponent).unwrap_or(3),
            };
            let found = self.server.cache.lookup(&key, &query);
            let stats = &self.server.registry.stats;
            return match found {
                Lookup::Hit(obj) => {
                    stats.inc(Main::CacheHit);
                    log_hit(&mut self.vsl, crate::vsl::Tag::Hit, &obj, self.req.time);
                    Step::Hit(obj)
                }
                Lookup::HitForPass(marker) => {
                    stats.inc(Main::CacheHitpass);
                    log_hit(&mut self.vsl, crate::vsl::Tag::HitPass, &marker, self.req.time);
                    self.req.is_hitpass = true;
                    Step::Pass
                }
                // (varnishd counts a hit-for-miss as a miss too.)
                Lookup::HitMiss { fetch, marker } => {
                    stats.inc(Main::CacheHitmiss);
                    log_hit(&mut self.vsl, crate::vsl::Tag::HitMiss, &marker, self.req.time);
                    stats.inc(Main::CacheMiss);
                    self.req.is_hitmiss = true;
                    self.fetch = Some(fetch);
                    Step::Miss
                }
                Lookup::Grace { stale, fetch } => {
                    stats.inc(Main::CacheHit);
                    log_hit(&mut self.vsl, crate::vsl::Tag::Hit, &stale, self.req.time);
                    stats.inc(Main::CacheHitGrace);
                    self.fetch = fetch;
                    Step::Hit(stale)
                }
                Lookup::Miss { fetch, stale } => {
                    stats.inc(Main::CacheMiss);
                    self.fetch = Some(fetch);
                    self.stale = stale;
                    Step::Miss
                }
                Lookup::Wait(waiter) => {
                    // Let go by the rush: the next lookup is this request's; the ones after
                    // it go once it is done (when `_rushed` is replaced or dropped).
                    self.count(Main::BusySleep);
                    _rushed = Some(waiter.wait().await);
                    self.count(Main::BusyWakeup);
                    continue;
                }
            };
        }
    }

    /// `vcl_hit` on a fresh object, or a stale one in grace (then `self.fetch` is the refresh
    /// to start, if no other request is refreshing it): the response, or the step instead.
    pub(super) fn hit(&mut self, obj: Arc<Object>) -> Result<Response<Body>, Step> {
        let handling = self.vcl.run(
            Method::Hit,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), obj: Some(&obj), ..Parts::default() },
        );
        match handling {
            Ok(h) if h.action == ActionKind::Deliver => {
                if let Some(fetch) = self.fetch.take() {
                    self.background_fetch(fetch, obj.clone());
                }
                obj.hit();
                self.server.cache.touch(&obj, self.req.time as u64);
                self.deliver_object(obj, true, None)
            }
            // `return (miss)` (seed 004, Varnish 4): fetch, refreshing the key.
            Ok(h) if h.action == ActionKind::Miss => {
                // The object is the one to revalidate, if it has a keep (spec §5.7).
                self.stale = Some(obj);
                if self.fetch.is_none() {
                    if let Some(key) = self.req.key() {
                        self.fetch = Some(self.server.cache.private(&key));
                    }
                }
                Err(Step::Miss)
            }
            Ok(h) if h.action == ActionKind::Pass => Err(Step::Pass),
            Ok(h) if h.action == ActionKind::Synth => Err(synth_step(&h)),
            Ok(h) if h.action == ActionKind::Restart => Err(Step::Restart),
            Ok(_) => Err(Step::Fail),
            Err(e) => Err(self.failed(Method::Hit, &e.0)),
        }
    }

    /// Refreshes an object delivered in grace, in the background (`bereq.is_bgfetch`), as a
    /// conditional request if it has a keep and a validator.
    fn background_fetch(&mut self, fetch: shellac_cache::Fetch, stale: Arc<Object>) {
        let mut bereq = Bereq::from_req(&self.server, &self.params, &self.req, Mode::Miss);
        bereq.is_bgfetch = true;
        self.vsl.add_fmt(crate::vsl::Tag::Link, format_args!("bereq {} bgfetch", bereq.xid));
        let (server, params, vcl, sess) =
            (self.server.clone(), self.params.clone(), self.vcl.clone(), self.sess.clone());
        // Nobody waits for its result: the object is stored for the next requests.
        let fill = fetch::Fill { fetch: Some(fetch), stale: Some(stale) };
        drop(fetch::start(server, params, vcl, sess, bereq, Body::empty(), fill));
    }
}

/// `Hit`, `HitMiss` or `HitPass`: the object's xid and what it has left of ttl, grace and keep
/// (`HitMiss` and `HitPass`: of ttl only), as varnishlog shows them.
fn log_hit(vsl: &mut crate::vsl::Buffer, tag: crate::vsl::Tag, obj: &Object, now: f64) {
    if !vsl.on() {
        return;
    }
    let t = obj.ttl();
    let left = t.t_origin + t.ttl - now;
    use crate::vsl::Num::{S, U};
    if tag == crate::vsl::Tag::Hit {
        vsl.nums(tag, &[U(obj.xid), S(left), S(t.grace), S(t.keep)]);
    } else {
        vsl.nums(tag, &[U(obj.xid), S(left)]);
    }
}
