//! The value of an invalidation key: JSON with the invalidation, the node that issued it and
//! when. `{"ban": ["req.url", "~", "/a"], …}`, `{"purge": "<64 hex digits>", …}`,
//! `{"xkey": "a b", "soft": false, …}`; a node reading one back checks it as it would the
//! same command (a bad value is logged and skipped, never applied in part).

use shellac_engine::cluster::Invalidation;

/// An invalidation as written to etcd.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// What to do.
    pub what: Invalidation,
    /// The node that issued it.
    pub node: String,
    /// When (seconds since the epoch).
    pub time: f64,
}

// === impl Entry ===

impl Entry {
    /// The JSON value.
    pub fn encode(&self) -> String {
        let mut v = serde_json::Map::new();
        match &self.what {
            Invalidation::Ban(words) => {
                v.insert("ban".into(), words.clone().into());
            }
            Invalidation::Purge(key) => {
                v.insert("purge".into(), hex(key).into());
            }
            Invalidation::Xkey { keys, soft } => {
                v.insert("xkey".into(), keys.clone().into());
                v.insert("soft".into(), (*soft).into());
            }
        }
        v.insert("node".into(), self.node.clone().into());
        v.insert("time".into(), self.time.into());
        serde_json::Value::Object(v).to_string()
    }

    /// Reads a value back, or says what is wrong with it.
    pub fn decode(value: &[u8]) -> Result<Entry, String> {
        let v: serde_json::Value = serde_json::from_slice(value).map_err(|e| format!("not JSON: {e}"))?;
        let o = v.as_object().ok_or("not a JSON object")?;
        let node = o.get("node").and_then(|n| n.as_str()).unwrap_or("").to_string();
        let time = o.get("time").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        let what = if let Some(ban) = o.get("ban") {
            let words: Vec<String> = ban
                .as_array()
                .ok_or("\"ban\" is not a list of words")?
                .iter()
                .map(|w| w.as_str().map(str::to_string).ok_or("\"ban\" holds something other than words"))
                .collect::<Result<_, _>>()?;
            Invalidation::ban_from_args(&words).map_err(|e| format!("bad ban: {e}"))?
        } else if let Some(purge) = o.get("purge") {
            let key = purge.as_str().and_then(unhex).ok_or("\"purge\" is not 64 hex digits")?;
            Invalidation::Purge(key)
        } else if let Some(keys) = o.get("xkey") {
            let keys = keys.as_str().ok_or("\"xkey\" is not a string")?.to_string();
            let soft = o.get("soft").and_then(serde_json::Value::as_bool).unwrap_or(false);
            Invalidation::Xkey { keys, soft }
        } else {
            return Err("none of \"ban\", \"purge\", \"xkey\"".to_string());
        };
        Ok(Entry { what, node, time })
    }
}

fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_through_json_and_bad_ones_say_why() {
        let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        for what in [
            Invalidation::Ban(words("req.url ~ /a && obj.status == 200")),
            Invalidation::Purge([0xab; 32]),
            Invalidation::Xkey { keys: "a b".into(), soft: true },
        ] {
            let e = Entry { what, node: "n1".into(), time: 1.5 };
            assert_eq!(Entry::decode(e.encode().as_bytes()), Ok(e));
        }
        for (value, why) in [
            ("nope", "not JSON"),
            ("[1]", "not a JSON object"),
            ("{}", "none of"),
            (r#"{"ban": ["foo.url", "~", "a"]}"#, "bad ban: Unknown or unsupported field \"foo.url\""),
            (r#"{"ban": "req.url ~ a"}"#, "not a list of words"),
            (r#"{"purge": "abc"}"#, "not 64 hex digits"),
            (r#"{"xkey": 3}"#, "not a string"),
        ] {
            let got = Entry::decode(value.as_bytes()).unwrap_err();
            assert!(got.contains(why), "{value}: {got}");
        }
    }
}
