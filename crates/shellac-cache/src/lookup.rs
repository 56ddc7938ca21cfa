//! The lookup decision (spec §5.3, Varnish's `HSH_Lookup`): given the objects stored under a key
//! (newest first), whether a fetch is busy for it, and the request, what the request gets. Pure:
//! the index holds the lock and acts on the answer.

use std::sync::Arc;

use http::HeaderMap;

use crate::object::{Kind, Object};

/// What a lookup asks.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The request's time (`req.time`).
    pub now: f64,
    /// `req.ttl`, when set: caps the objects' ttl.
    pub req_ttl: Option<f64>,
    /// `req.grace`, when set: caps the objects' grace.
    pub req_grace: Option<f64>,
    /// The request headers, for Vary and bans.
    pub headers: &'a HeaderMap,
    /// `req.url`, for bans.
    pub url: &'a [u8],
    /// `req.hash_ignore_vary`
    pub ignore_vary: bool,
    /// `req.hash_ignore_busy`: never wait on a fetch in progress.
    pub ignore_busy: bool,
    /// `http_gzip_support`: variants do not differ by `Accept-Encoding`.
    pub gzip_support: bool,
    /// `rush_exponent`: how many waiters each served waiter lets go.
    pub rush_exponent: usize,
}

impl<'a> Query<'a> {
    /// A plain lookup at `now` for a request with these headers and URL: no `req.ttl` or
    /// `req.grace`, Vary and busy objects heeded, `rush_exponent` 3.
    pub fn new(now: f64, headers: &'a HeaderMap, url: &'a [u8]) -> Query<'a> {
        Query {
            now,
            req_ttl: None,
            req_grace: None,
            headers,
            url,
            ignore_vary: false,
            ignore_busy: false,
            gzip_support: false,
            rush_exponent: 3,
        }
    }
}

/// What the request gets, as indices into the objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A fresh object.
    Hit(usize),
    /// A fresh hit-for-pass marker: pass.
    HitForPass(usize),
    /// A hit-for-miss marker (fresh, or the newest stale one): fetch without coalescing.
    HitMiss(usize),
    /// A stale object within grace; `fetch`: no fetch is busy, so this request starts the
    /// background one.
    Grace { stale: usize, fetch: bool },
    /// Fetch (this request makes the busy object); `stale`: a kept object to revalidate.
    Miss { stale: Option<usize> },
    /// Wait for the busy fetch, then look up again.
    Wait,
}

/// Decides a lookup over `objects` (newest first; expired ones are skipped) with or without a
/// busy fetch.
pub(crate) fn decide(objects: &[Arc<Object>], busy: bool, q: &Query<'_>) -> Decision {
    let mut stale: Option<usize> = None;
    for (i, o) in objects.iter().enumerate() {
        // Gone, or stored with no freshness at all (as varnishd skips them).
        if o.is_expired(q.now) || o.ttl().ttl <= 0.0 {
            continue;
        }
        if !q.ignore_vary && o.vary.as_deref().is_some_and(|v| !v.matches(q.headers, q.gzip_support)) {
            continue;
        }
        if o.is_fresh(q.now, q.req_ttl) {
            return match o.kind {
                Kind::Normal => Decision::Hit(i),
                Kind::HitForPass => Decision::HitForPass(i),
                Kind::HitForMiss => Decision::HitMiss(i),
            };
        }
        if stale.is_none() {
            stale = Some(i);
        }
    }
    if let Some(e) = stale {
        if objects[e].kind == Kind::HitForMiss {
            return Decision::HitMiss(e);
        }
    }
    let in_grace = stale.filter(|&e| objects[e].kind == Kind::Normal && objects[e].is_in_grace(q.now, q.req_grace));
    match (busy && !q.ignore_busy, in_grace) {
        (false, Some(e)) => Decision::Grace { stale: e, fetch: true },
        (false, None) => Decision::Miss { stale: stale.filter(|&e| objects[e].kind == Kind::Normal) },
        (true, Some(e)) => Decision::Grace { stale: e, fetch: false },
        (true, None) => Decision::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Head;
    use crate::ttl::Ttl;
    use crate::vary::Vary;

    fn obj(born: f64, ttl: f64, grace: f64, keep: f64, kind: Kind) -> Arc<Object> {
        Arc::new(Object::new(Head::default(), Ttl { t_origin: born, ttl, grace, keep }, kind))
    }

    fn q(now: f64, headers: &HeaderMap) -> Query<'_> {
        Query::new(now, headers, b"/")
    }

    /// A case: what it shows, the objects, whether a fetch is busy, the time, the decision.
    type Row = (&'static str, Vec<Arc<Object>>, bool, f64, Decision);

    /// One row per line of spec §5.3, and the timeline it verified (ttl 2 s, grace 5 s).
    #[test]
    fn the_outcomes_of_spec_5_3() {
        let h = HeaderMap::new();
        let o = || vec![obj(100.0, 2.0, 5.0, 0.0, Kind::Normal)];
        let rows: Vec<Row> = vec![
            ("nothing stored: miss", vec![], false, 101.0, Decision::Miss { stale: None }),
            ("nothing stored, a fetch busy: wait", vec![], true, 101.0, Decision::Wait),
            ("fresh: hit (t=1)", o(), false, 101.0, Decision::Hit(0)),
            ("fresh, a fetch busy: still a hit", o(), true, 101.0, Decision::Hit(0)),
            (
                "stale in grace: grace hit and a background fetch (t=3.5)",
                o(),
                false,
                103.5,
                Decision::Grace { stale: 0, fetch: true },
            ),
            (
                "stale in grace, fetch busy: grace hit, no new fetch",
                o(),
                true,
                103.5,
                Decision::Grace { stale: 0, fetch: false },
            ),
            ("beyond grace: miss (t>7)", o(), false, 107.5, Decision::Miss { stale: None }),
            ("beyond grace, fetch busy: wait", o(), true, 107.5, Decision::Wait),
            (
                "beyond grace but kept: miss with the object to revalidate",
                vec![obj(100.0, 2.0, 5.0, 60.0, Kind::Normal)],
                false,
                110.0,
                Decision::Miss { stale: Some(0) },
            ),
            (
                "hit-for-pass marker: pass",
                vec![obj(100.0, 120.0, 0.0, 0.0, Kind::HitForPass)],
                false,
                101.0,
                Decision::HitForPass(0),
            ),
            (
                "hit-for-miss marker: miss, uncoalesced",
                vec![obj(100.0, 120.0, 0.0, 0.0, Kind::HitForMiss)],
                true,
                101.0,
                Decision::HitMiss(0),
            ),
            (
                "a newer object is found before an older marker",
                vec![obj(100.0, 60.0, 0.0, 0.0, Kind::Normal), obj(90.0, 120.0, 0.0, 0.0, Kind::HitForMiss)],
                false,
                101.0,
                Decision::Hit(0),
            ),
        ];
        for (what, objects, busy, now, want) in rows {
            assert_eq!(decide(&objects, busy, &q(now, &h)), want, "{what}");
        }
    }

    #[test]
    fn req_ttl_and_req_grace_cap_the_objects() {
        let h = HeaderMap::new();
        let objects = vec![obj(100.0, 10.0, 10.0, 0.0, Kind::Normal)];
        let mut query = q(105.0, &h);
        query.req_ttl = Some(2.0);
        assert_eq!(decide(&objects, false, &query), Decision::Grace { stale: 0, fetch: true });
        // Grace counts from the object's own ttl: 100 + 10 + grace.
        let mut late = q(112.0, &h);
        assert_eq!(decide(&objects, false, &late), Decision::Grace { stale: 0, fetch: true });
        late.req_grace = Some(1.0);
        // Beyond the usable grace: a miss, which may revalidate the object it still has.
        assert_eq!(decide(&objects, false, &late), Decision::Miss { stale: Some(0) });
        query.req_ttl = None;
        assert_eq!(decide(&objects, false, &query), Decision::Hit(0));
    }

    #[test]
    fn variants_are_matched_and_busy_can_be_ignored() {
        let mut gz = HeaderMap::new();
        gz.insert("accept-encoding", http::HeaderValue::from_static("gzip"));
        let plain = HeaderMap::new();
        let mut resp = HeaderMap::new();
        resp.insert("vary", http::HeaderValue::from_static("Accept-Encoding"));
        let mut o =
            Object::new(Head::default(), Ttl { t_origin: 100.0, ttl: 60.0, grace: 0.0, keep: 0.0 }, Kind::Normal);
        o.vary = Vary::record(&resp, &gz).unwrap().map(Box::new);
        let objects = vec![Arc::new(o)];
        assert_eq!(decide(&objects, false, &q(101.0, &gz)), Decision::Hit(0));
        assert_eq!(decide(&objects, true, &q(101.0, &plain)), Decision::Wait);
        let mut query = q(101.0, &plain);
        query.ignore_busy = true;
        assert_eq!(decide(&objects, true, &query), Decision::Miss { stale: None });
        query.ignore_vary = true;
        assert_eq!(decide(&objects, true, &query), Decision::Hit(0));
    }
}
