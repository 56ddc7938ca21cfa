//! varnishlog's groupings above the transaction: `-g request` (a client request with its
//! backend fetches below it; a restart heads a group of its own, as varnishd 7.1's varnishlog
//! shows it) and `-g session` (a connection with its requests, and theirs; a restart beside
//! the request it restarted). Transactions come one by one as they end, children before or after
//! their parent (a fetch ends before its request, a restart after it, a session last), so a
//! group is held until every transaction its `Link` records name has come; a background
//! fetch, which can end long after its request, is not waited for (it is shown on its own
//! when it comes). At most [`HELD`] transactions are held: past that, the oldest groups are
//! shown as far as they came.

use std::collections::{HashMap, VecDeque};

use crate::log::Txn;
use crate::query::Query;

/// The most transactions held for groups still incomplete.
const HELD: usize = 10_000;

/// How transactions group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Grouping {
    Request,
    Session,
}

/// Transactions waiting for the rest of their group.
pub(crate) struct Groups {
    grouping: Grouping,
    /// Which records of a group are printed (`-i`, `-x`, `-I`, `-X`).
    filter: Option<crate::filter::Filter>,
    /// Which transactions of a group are printed (`-b`, `-c`).
    sides: crate::log::Sides,
    held: HashMap<u64, Txn>,
    /// Vxids in the order they came (some may be gone already).
    order: VecDeque<u64>,
}

/// What a transaction's `Begin` says: its kind and its parent.
fn begin(t: &Txn) -> (&str, u64, &str) {
    let data = t.records().find(|(tag, _)| *tag == "Begin").map_or("", |(_, d)| d);
    let mut f = data.split(' ');
    let kind = f.next().unwrap_or("");
    let parent = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (kind, parent, f.next().unwrap_or(""))
}

/// The children a transaction's `Link` records name in `grouping` (a background fetch's aside,
/// and by request a restart's), in order, each with whether it is a restart.
fn linked(t: &Txn, grouping: Grouping) -> impl Iterator<Item = (u64, bool)> + '_ {
    t.records().filter(|(tag, _)| *tag == "Link").filter_map(move |(_, d)| {
        let mut f = d.split(' ');
        let (_, vxid, why) = (f.next()?, f.next()?.parse().ok()?, f.next().unwrap_or(""));
        let restart = why == "restart";
        (why != "bgfetch" && !(grouping == Grouping::Request && restart)).then_some((vxid, restart))
    })
}

/// The children's vxids (see [`linked`]).
fn links(t: &Txn, grouping: Grouping) -> impl Iterator<Item = u64> + '_ {
    linked(t, grouping).map(|(vxid, _)| vxid)
}

impl Groups {
    /// Groups by `grouping`, printing the records `filter` lets through.
    pub(crate) fn new(grouping: Grouping, filter: Option<crate::filter::Filter>, sides: crate::log::Sides) -> Groups {
        Groups { grouping, filter, sides, held: HashMap::new(), order: VecDeque::new() }
    }

    /// Whether `t` heads a group (else it belongs to its parent's).
    fn is_root(&self, t: &Txn) -> bool {
        let (kind, _, _) = begin(t);
        match self.grouping {
            Grouping::Session => kind == "sess",
            Grouping::Request => kind == "req",
        }
    }

    /// The parent `t` hangs below, if it is held.
    fn parent(&self, t: &Txn) -> Option<u64> {
        if self.is_root(t) {
            return None;
        }
        let (_, parent, _) = begin(t);
        self.held.contains_key(&parent).then_some(parent)
    }

    /// Whether every transaction below `vxid` has come.
    fn complete(&self, vxid: u64) -> bool {
        let Some(t) = self.held.get(&vxid) else { return false };
        links(t, self.grouping).all(|child| self.complete(child))
    }

    /// What to print now that `t` came (the groups it completes, those `query` selects).
    pub(crate) fn take(&mut self, t: Txn, query: Option<&Query>) -> String {
        let mut out = String::new();
        let vxid = t.vxid;
        let orphan = !self.is_root(&t) && !self.held.contains_key(&begin(&t).1);
        if orphan && self.grouping == Grouping::Request && begin(&t).2 == "bgfetch" {
            // A background fetch: its request went long ago.
            if self.sides.shows(t.side) {
                out.push_str(&show(&t, query, self.filter.as_ref()));
            }
            return out;
        }
        self.held.insert(vxid, t);
        self.order.push_back(vxid);
        // The group's head: up the parents while they are held.
        let mut root = vxid;
        while let Some(p) = self.held.get(&root).and_then(|t| self.parent(t)) {
            root = p;
        }
        if self.held.get(&root).is_some_and(|t| self.is_root(t)) && self.complete(root) {
            out.push_str(&self.emit(root, query));
        }
        while self.held.len() > HELD {
            let Some(old) = self.order.pop_front() else { break };
            if self.held.contains_key(&old) {
                out.push_str(&self.emit(old, query));
            }
        }
        out
    }

    /// Prints the group headed by `root` (as far as it came) and lets it go.
    fn emit(&mut self, root: u64, query: Option<&Query>) -> String {
        let mut tree = Vec::new();
        self.collect(root, 1, &mut tree);
        let txns: Vec<&Txn> = tree.iter().map(|(t, _)| t).collect();
        if !crate::query::selects(query, &txns) {
            return String::new();
        }
        let filter = self.filter.as_ref();
        // (`-b`/`-c`: the group's transactions of the other side are left out.)
        let mut out: String = tree
            .iter()
            .filter(|(t, _)| self.sides.shows(t.side))
            .map(|(t, depth)| crate::log::level(t, *depth, filter))
            .collect();
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    fn collect(&mut self, vxid: u64, depth: usize, tree: &mut Vec<(Txn, usize)>) {
        let Some(t) = self.held.remove(&vxid) else { return };
        let children: Vec<(u64, bool)> = linked(&t, self.grouping).collect();
        tree.push((t, depth));
        // (By session, a restart is shown beside the request it restarted, as varnishlog
        // shows it.)
        for (c, restart) in children {
            self.collect(c, if restart { depth } else { depth + 1 }, tree);
        }
    }
}

/// A transaction on its own (a background fetch whose request went long ago).
fn show(t: &Txn, query: Option<&Query>, filter: Option<&crate::filter::Filter>) -> String {
    if !crate::query::selects(query, &[t]) {
        return String::new();
    }
    format!("{}\n", crate::log::level(t, 1, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(vxid: u64, begin: &str, links: &[&str]) -> Txn {
        let mut t = Txn::new(vxid, 'c');
        t.push("Begin", begin);
        for l in links {
            t.push("Link", l);
        }
        t.push("End", "");
        t
    }

    /// The vxids and depths of what was printed.
    fn shape(out: &str) -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("<<"))
            .map(|l| l.split_whitespace().filter(|w| *w != "<<" && *w != ">>").collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn a_request_waits_for_its_fetch_and_a_restart_heads_its_own_group() {
        let mut g = Groups::new(Grouping::Request, None, crate::log::Sides::ALL);
        // The fetch ends first, then the request (which restarted), then the restart with its
        // own fetch (varnishd 7.1.1's varnishlog shows it so: `*   << Request  >>`).
        assert_eq!(g.take(txn(3, "bereq 2 fetch", &[]), None), "");
        let out = g.take(txn(2, "req 1 rxreq", &["bereq 3 fetch", "req 4 restart"]), None);
        assert_eq!(shape(&out), ["* Request 2", "** BeReq 3"]);
        assert_eq!(g.take(txn(5, "bereq 4 fetch", &[]), None), "");
        let out = g.take(txn(4, "req 2 restart", &["bereq 5 fetch"]), None);
        assert_eq!(shape(&out), ["* Request 4", "** BeReq 5"]);
        assert!(g.held.is_empty());
        // A background fetch after its request: on its own.
        assert_eq!(shape(&g.take(txn(6, "req 5 rxreq", &["bereq 7 bgfetch"]), None)), ["* Request 6"]);
        assert_eq!(shape(&g.take(txn(7, "bereq 6 bgfetch", &[]), None)), ["* BeReq 7"]);
    }

    #[test]
    fn by_session_a_restart_is_beside_its_request_and_deep_levels_are_numbered() {
        // As varnishd 7.1.1's varnishlog -g session shows them: `**` for the restart, `*4*`
        // for a retry's fetch below a fetch below a request.
        let mut g = Groups::new(Grouping::Session, None, crate::log::Sides::ALL);
        assert_eq!(g.take(txn(2, "req 1 rxreq", &["req 3 restart"]), None), "");
        assert_eq!(g.take(txn(4, "bereq 3 fetch", &["bereq 5 retry"]), None), "");
        assert_eq!(g.take(txn(5, "bereq 4 retry", &[]), None), "");
        assert_eq!(g.take(txn(3, "req 2 restart", &["bereq 4 fetch"]), None), "");
        let out = g.take(txn(1, "sess 0 HTTP/1", &["req 2 rxreq"]), None);
        assert_eq!(shape(&out), ["* Session 1", "** Request 2", "** Request 3", "*** BeReq 4", "*4* BeReq 5"]);
        assert!(out.contains("\n-4- Begin          bereq 4 retry\n"), "{out}");
    }

    #[test]
    fn a_session_comes_with_its_requests_and_their_fetches() {
        let mut g = Groups::new(Grouping::Session, None, crate::log::Sides::ALL);
        assert_eq!(g.take(txn(3, "bereq 2 fetch", &[]), None), "");
        assert_eq!(g.take(txn(2, "req 1 rxreq", &["bereq 3 fetch"]), None), "");
        assert_eq!(g.take(txn(4, "req 1 rxreq", &[]), None), "");
        let out = g.take(txn(1, "sess 0 HTTP/1", &["req 2 rxreq", "req 4 rxreq"]), None);
        assert_eq!(shape(&out), ["* Session 1", "** Request 2", "*** BeReq 3", "** Request 4"]);
        // A query selects whole groups.
        let q = Query::parse("Begin ~ \"^bereq\"").expect("parses");
        assert_eq!(g.take(txn(6, "req 5 rxreq", &[]), Some(&q)), "");
        assert_eq!(g.take(txn(5, "sess 0 HTTP/1", &["req 6 rxreq"]), Some(&q)), "", "no fetch in it");
    }

    #[test]
    fn what_never_completes_is_shown_once_too_much_is_held() {
        let mut g = Groups::new(Grouping::Session, None, crate::log::Sides::ALL);
        // Requests of sessions that began before anybody read the log: their sessions never
        // come.
        let mut out = String::new();
        for i in 0..=HELD as u64 {
            out.push_str(&g.take(txn(10 + i, "req 1 rxreq", &[]), None));
        }
        assert_eq!(shape(&out), ["* Request 10"]);
        assert_eq!(g.held.len(), HELD);
    }
}
