//! `etcd.groups(prefix, default, policy, probe, …)`: one dynamic director per group of keys
//! `<prefix><group>/<host>:<port>`, created when a group's first key appears and gone from
//! routing when its last key goes. This is seed 000's setup (one round-robin director per backend
//! type) without the generated VCL.
//!
//! `.backend(name)` is the group called `name`; a name that matches no group with keys goes to
//! the **fallback**:
//! - with `default = "GROUP"`, that group (none while it has no keys);
//! - without it, the group `default` when it has keys, else the only group when exactly one group
//!   has keys, else none (several groups, none called `default`: which one would be a guess).
//!
//! The fallback is worked out again after every change; a change of it is logged once (while the
//! VCL is warm), and a name that reaches no group is logged once per name and window, with the
//! groups that exist, so that a 503 always has a stated cause.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::dynamic::{Dynamic, Template};
use super::{Director, Members};
use crate::backend::registry::Registry;
use crate::backend::BackendHandle;
use crate::catalog::{Entry, Subscriber};

/// The group the automatic rule prefers.
pub const DEFAULT_GROUP: &str = "default";

/// How long a name that reached no group stays logged (it is logged again after that).
const UNROUTED_WINDOW: Duration = Duration::from_secs(60);
/// At most this many distinct unrouted names are logged per window.
const UNROUTED_MAX: usize = 64;
/// At most this many group names are spelled out in a message.
const NAMES_SHOWN: usize = 10;

/// Where requests go whose name matches no group: the rule, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FallbackRule {
    /// `default = "GROUP"`: that group, while it has keys.
    Named(String),
    /// No `default`: the group `default` when it has keys, else the only group.
    Auto,
}

/// The fallback now, and why (or why there is none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The configured group, which has keys.
    Named(String),
    /// The group `default` (automatic rule).
    Default,
    /// The only group with keys (automatic rule).
    Only(String),
    /// None: the configured group has no keys.
    NamedEmpty(String),
    /// None: no group has keys.
    NoGroups,
    /// None: several groups, none called `default` (automatic rule).
    Several,
}

/// One group as `discovery.status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its name.
    pub name: String,
    /// Keys under it (usable or not).
    pub keys: usize,
    /// Members that take requests (not draining, weight above 0).
    pub members: usize,
    /// Of those, the healthy ones.
    pub healthy: usize,
}

/// A set of group directors.
pub struct Groups {
    name: String,
    prefix: String,
    rule: FallbackRule,
    template: Template,
    registry: Arc<Registry>,
    /// What `.backend(name)` reads, lock-free.
    live: ArcSwap<Live>,
    /// Every group seen (an empty one keeps its retired members' history).
    all: Mutex<BTreeMap<String, Arc<Dynamic>>>,
    warm: Mutex<bool>,
    /// Whether the first update came (the state before it is not a change worth logging).
    updated: Mutex<bool>,
    unrouted: Mutex<Unrouted>,
    members: Members,
}

/// The groups with keys and the fallback, replaced whole after every change.
struct Live {
    groups: HashMap<String, Arc<Dynamic>>,
    /// Sorted names of `groups`.
    names: Vec<String>,
    fallback: Fallback,
    /// The fallback's director.
    target: Option<Arc<Dynamic>>,
}

/// Names already logged as reaching no group, in this window.
struct Unrouted {
    since: Instant,
    names: HashSet<String>,
}

// === impl Groups ===

impl Groups {
    /// An empty one.
    pub fn new(name: &str, prefix: &str, rule: FallbackRule, template: Template, registry: Arc<Registry>) -> Groups {
        let live = Live { groups: HashMap::new(), names: Vec::new(), fallback: rule.pick(&[]), target: None };
        Groups {
            name: name.to_string(),
            prefix: prefix.to_string(),
            rule,
            template,
            registry,
            live: ArcSwap::from_pointee(live),
            all: Mutex::new(BTreeMap::new()),
            warm: Mutex::new(true),
            updated: Mutex::new(false),
            unrouted: Mutex::new(Unrouted { since: Instant::now(), names: HashSet::new() }),
            members: Members::default(),
        }
    }

    /// The director of a group that has keys.
    pub fn group(&self, name: &str) -> Option<Arc<Dynamic>> {
        self.live.load().groups.get(name).cloned()
    }

    /// The key prefix the groups live under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The configured rule.
    pub fn rule(&self) -> &FallbackRule {
        &self.rule
    }

    /// The fallback now.
    pub fn fallback(&self) -> Fallback {
        self.live.load().fallback.clone()
    }

    /// The groups with keys, by name.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let live = self.live.load();
        live.names
            .iter()
            .filter_map(|n| live.groups.get(n))
            .map(|d| {
                let (keys, members, healthy) = d.counts();
                GroupInfo { name: d.name().to_string(), keys, members, healthy }
            })
            .collect()
    }

    /// How `.backend(name)` routes now, as a sentence for people (error pages, logs).
    pub fn explain(&self, name: &str) -> String {
        let live = self.live.load();
        if let Some(d) = live.groups.get(name) {
            let (_, members, healthy) = d.counts();
            let s = if members == 1 { "" } else { "s" };
            return format!("\"{name}\" is the group {name} ({members} member{s}, {healthy} healthy)");
        }
        match (&live.fallback, live.fallback.group()) {
            (f, Some(g)) => format!("\"{name}\" names no group; it goes to the fallback, the group {g}{}", f.why()),
            (f, None) => {
                format!("\"{name}\" names no group, and there is no fallback: {}", self.no_fallback(f, &live.names))
            }
        }
    }

    /// Why there is no fallback, with the groups there are.
    fn no_fallback(&self, f: &Fallback, names: &[String]) -> String {
        match f {
            Fallback::NoGroups => format!("no group has keys under {}", self.prefix),
            Fallback::NamedEmpty(g) => {
                format!("the default group \"{g}\" has no keys (the groups are {})", list(names))
            }
            _ => format!("the groups are {} and none is called \"{DEFAULT_GROUP}\"", list(names)),
        }
    }

    fn pick(&self, group: &str) -> Option<BackendHandle> {
        let live = self.live.load();
        match live.groups.get(group).or(live.target.as_ref()) {
            Some(d) => Some(BackendHandle::Director(d.clone())),
            None => {
                self.log_unrouted(group, &live);
                None
            }
        }
    }

    /// Logs a name that reached no group, once per name and [`UNROUTED_WINDOW`].
    fn log_unrouted(&self, group: &str, live: &Live) {
        let mut u = self.unrouted.lock();
        let now = Instant::now();
        if now.saturating_duration_since(u.since) >= UNROUTED_WINDOW {
            u.since = now;
            u.names.clear();
        }
        if u.names.len() >= UNROUTED_MAX || !u.names.insert(group.to_string()) {
            return;
        }
        let last = u.names.len() == UNROUTED_MAX;
        drop(u);
        tracing::warn!(
            director = %self.name,
            "\"{group}\" names no group, and there is no fallback: {}; requests for it answer 503 \
             (set a fallback with default = \"GROUP\" in etcd.groups, --etcd-default-group GROUP without -f){}",
            self.no_fallback(&live.fallback, &live.names),
            if last { "; further names are not logged for a minute" } else { "" }
        );
    }
}

impl Director for Groups {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "groups"
    }

    /// Without a name: the fallback.
    fn resolve(&self) -> Option<BackendHandle> {
        self.live.load().target.clone().map(|d| BackendHandle::Director(d))
    }

    fn is_healthy(&self, depth: usize) -> bool {
        self.live.load().groups.values().any(|d| BackendHandle::Director(d.clone()).healthy_at(depth))
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn uses_key(&self) -> bool {
        true
    }

    fn backend_for_key(&self, key: &[u8]) -> Option<BackendHandle> {
        self.pick(std::str::from_utf8(key).unwrap_or_default())
    }

    fn set_warm(&self, warm: bool) {
        let mut w = self.warm.lock();
        *w = warm;
        for d in self.all.lock().values() {
            d.set_warm(warm);
        }
    }

    fn children(&self) -> Vec<Arc<dyn Director>> {
        let live = self.live.load();
        live.names.iter().filter_map(|n| live.groups.get(n)).map(|d| d.clone() as Arc<dyn Director>).collect()
    }

    fn as_groups(&self) -> Option<&Groups> {
        Some(self)
    }
}

impl Subscriber for Groups {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn update(&self, entries: &[Arc<Entry>]) {
        let mut by_group: BTreeMap<&str, Vec<Arc<Entry>>> = BTreeMap::new();
        for e in entries {
            // `<group>/<host>:<port>`; deeper or shallower keys belong to no group.
            if let Some((group, rest)) = e.key[self.prefix.len()..].split_once('/') {
                if !group.is_empty() && !rest.is_empty() && !rest.contains('/') {
                    by_group.entry(group).or_default().push(e.clone());
                }
            }
        }
        let warm = *self.warm.lock();
        let mut all = self.all.lock();
        let mut groups = HashMap::new();
        for (name, d) in all.iter() {
            if !by_group.contains_key(name.as_str()) {
                d.update_members(&[]);
            }
        }
        for (group, members) in by_group {
            let d = all
                .entry(group.to_string())
                .or_insert_with(|| {
                    let prefix = format!("{}{group}/", self.prefix);
                    let d = Arc::new(Dynamic::new(group, &prefix, self.template.clone(), self.registry.clone()));
                    d.set_warm(warm);
                    tracing::info!(director = %self.name, group, "group added");
                    d
                })
                .clone();
            d.update_members(&members);
            groups.insert(group.to_string(), d);
        }
        let mut names: Vec<String> = groups.keys().cloned().collect();
        names.sort();
        let fallback = self.rule.pick(&names);
        let target = fallback.group().and_then(|g| groups.get(g)).cloned();
        let old = self.live.swap(Arc::new(Live { groups, names, fallback: fallback.clone(), target }));
        let first = !std::mem::replace(&mut *self.updated.lock(), true);
        if old.fallback != fallback {
            // A new state is worth telling again for names already logged.
            self.unrouted.lock().names.clear();
            if warm && !first {
                match fallback.group() {
                    Some(g) => tracing::info!(director = %self.name, "fallback group is now {g}{}", fallback.why()),
                    None => tracing::warn!(
                        director = %self.name,
                        "no fallback group any more: {}; requests whose name matches no group answer 503",
                        self.no_fallback(&fallback, &self.live.load().names)
                    ),
                }
            }
        }
    }
}

/// Names joined with commas, at most [`NAMES_SHOWN`] of them.
fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMES_SHOWN).map(String::as_str).collect();
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

// === impl FallbackRule ===

impl FallbackRule {
    /// The fallback this rule gives over the groups with keys `names` (sorted).
    pub fn pick(&self, names: &[String]) -> Fallback {
        let has = |g: &str| names.binary_search_by(|n| n.as_str().cmp(g)).is_ok();
        match self {
            FallbackRule::Named(g) if has(g) => Fallback::Named(g.clone()),
            FallbackRule::Named(g) => Fallback::NamedEmpty(g.clone()),
            FallbackRule::Auto if has(DEFAULT_GROUP) => Fallback::Default,
            FallbackRule::Auto => match names {
                [] => Fallback::NoGroups,
                [only] => Fallback::Only(only.clone()),
                _ => Fallback::Several,
            },
        }
    }
}

// === impl Fallback ===

impl Fallback {
    /// The group it is, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            Fallback::Named(g) | Fallback::Only(g) => Some(g),
            Fallback::Default => Some(DEFAULT_GROUP),
            Fallback::NamedEmpty(_) | Fallback::NoGroups | Fallback::Several => None,
        }
    }

    /// Why it is that group, as a parenthesis after its name (empty when configured).
    fn why(&self) -> &'static str {
        match self {
            Fallback::Only(_) => " (the only group)",
            Fallback::Default => " (the group called \"default\")",
            _ => "",
        }
    }
}

impl fmt::Display for Fallback {
    /// `project (the only group)`, or `none (…why…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::Named(g) => write!(f, "{g}"),
            Fallback::Only(g) => write!(f, "{g}{}", self.why()),
            Fallback::Default => write!(f, "{DEFAULT_GROUP}{}", self.why()),
            Fallback::NamedEmpty(g) => write!(f, "none (the default group \"{g}\" has no keys)"),
            Fallback::NoGroups => write!(f, "none (no group has keys)"),
            Fallback::Several => write!(f, "none (several groups, none called \"{DEFAULT_GROUP}\")"),
        }
    }
}

impl fmt::Display for FallbackRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackRule::Named(g) => write!(f, "the group \"{g}\", while it has keys"),
            FallbackRule::Auto => write!(
                f,
                "the group \"{DEFAULT_GROUP}\" when it has keys, else the only group when exactly one group has keys"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_automatic_rule_prefers_default_then_the_only_group() {
        let auto = FallbackRule::Auto;
        assert_eq!(auto.pick(&names(&[])), Fallback::NoGroups);
        assert_eq!(auto.pick(&names(&["project"])), Fallback::Only("project".into()));
        assert_eq!(auto.pick(&names(&["api", "web"])), Fallback::Several);
        assert_eq!(auto.pick(&names(&["api", "default", "web"])), Fallback::Default);
        assert_eq!(auto.pick(&names(&["default"])), Fallback::Default);
    }

    #[test]
    fn a_named_fallback_is_that_group_or_none() {
        let named = FallbackRule::Named("web".into());
        assert_eq!(named.pick(&names(&["api", "web"])), Fallback::Named("web".into()));
        // Even when it is the only group or "default" exists, another group is never chosen.
        assert_eq!(named.pick(&names(&["api"])), Fallback::NamedEmpty("web".into()));
        assert_eq!(named.pick(&names(&["default"])), Fallback::NamedEmpty("web".into()));
    }

    #[test]
    fn fallbacks_read_as_sentences() {
        assert_eq!(Fallback::Only("project".into()).to_string(), "project (the only group)");
        assert_eq!(Fallback::Several.to_string(), "none (several groups, none called \"default\")");
        assert_eq!(list(&names(&["a", "b"])), "a, b");
        let many: Vec<String> = (0..12).map(|i| format!("g{i:02}")).collect();
        assert_eq!(list(&many), "g00, g01, g02, g03, g04, g05, g06, g07, g08, g09 and 2 more");
    }
}
