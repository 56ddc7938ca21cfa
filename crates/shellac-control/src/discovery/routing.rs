//! What `discovery.status` (and `serve`'s startup log) shows of routing: for each `etcd.groups`
//! object of the active VCL, its groups with their member counts, the fallback rule and the group
//! it picks now.

use std::fmt::Write as _;

use shellac_engine::director::groups::{FallbackRule, GroupInfo};
use shellac_engine::vcl::Vcl;

/// One `etcd.groups` object, as seen now.
#[derive(Clone, Debug)]
pub struct Routing {
    /// `vcl.object`, as `backend.list` names it.
    pub name: String,
    /// The key prefix of its groups.
    pub prefix: String,
    /// The configured rule.
    pub rule: FallbackRule,
    /// The fallback group now, if any.
    pub fallback: Option<String>,
    /// The fallback now, as a phrase (`project (the only group)`, `none (…)`).
    pub fallback_text: String,
    /// The groups with keys.
    pub groups: Vec<GroupInfo>,
}

/// The `etcd.groups` objects of a VCL called `vcl_name`.
pub fn of(vcl_name: &str, vcl: &Vcl) -> Vec<Routing> {
    vcl.directors
        .iter()
        .filter_map(|d| d.as_groups())
        .map(|g| {
            let fallback = g.fallback();
            Routing {
                name: format!("{vcl_name}.{}", shellac_engine::director::Director::name(g)),
                prefix: g.prefix().to_string(),
                rule: g.rule().clone(),
                fallback: fallback.group().map(str::to_string),
                fallback_text: fallback.to_string(),
                groups: g.groups(),
            }
        })
        .collect()
}

// === impl Routing ===

impl Routing {
    /// The groups as one line: `project (3 members, 3 healthy), api (1 member, 0 healthy)`.
    pub fn groups_line(&self) -> String {
        if self.groups.is_empty() {
            return format!("none yet (no keys under {})", self.prefix);
        }
        let each: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{} ({} member{}, {} healthy)", g.name, g.members, plural(g.members), g.healthy))
            .collect();
        each.join(", ")
    }

    /// The text `discovery.status` prints for it.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "Groups of {} (prefix {}):", self.name, self.prefix);
        if self.groups.is_empty() {
            let _ = writeln!(t, "  none yet");
        }
        for g in &self.groups {
            let mark = if self.fallback.as_deref() == Some(g.name.as_str()) { "  (fallback)" } else { "" };
            let _ = writeln!(
                t,
                "  {}: {} key{}, {} member{}, {} healthy{mark}",
                g.name,
                g.keys,
                plural(g.keys),
                g.members,
                plural(g.members),
                g.healthy
            );
        }
        let _ = writeln!(t, "Fallback: {}", self.fallback_text);
        let _ = writeln!(t, "Fallback rule: {}", self.rule);
        t
    }

    /// The JSON object `discovery.status -j` shows for it.
    pub fn json(&self) -> serde_json::Value {
        let groups: serde_json::Map<String, serde_json::Value> = self
            .groups
            .iter()
            .map(|g| {
                let v = serde_json::json!({ "keys": g.keys, "members": g.members, "healthy": g.healthy });
                (g.name.clone(), v)
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "prefix": self.prefix,
            "default": match &self.rule { FallbackRule::Named(g) => Some(g), FallbackRule::Auto => None },
            "fallback": self.fallback,
            "fallback_text": self.fallback_text,
            "groups": groups,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
