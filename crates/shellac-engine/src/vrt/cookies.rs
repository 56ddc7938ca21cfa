//! vmod cookie's jar: the cookies of one task (a client request or a backend request), parsed
//! and written back as Varnish 7.1's vmod does it, quirks included (checked on varnishd 7.1.1):
//!
//! - `parse` of nothing leaves the jar as it is; else it empties the jar, then reads `name=value` pairs up to each `;`, after skipping
//!   spaces; a name is everything up to the first `=` (spaces and a stray `;` included: `a=1;;b=2`
//!   has a cookie named `;b`), a value everything up to the next `;`; a pair without `=` ends the
//!   parse, one with an empty value is left out.
//! - `set` replaces a cookie's value in place, or appends it; an empty name or value sets
//!   nothing.
//! - `get_string` writes `name=value;` for each, joined with spaces.

/// The jar: cookies in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jar(Vec<(String, String)>);

/// At most this many cookies in a jar (more are dropped: a header is bounded already).
const MAX: usize = 1024;

impl Jar {
    /// `cookie.parse(header)` (an empty or unset header leaves the jar as it is).
    pub fn parse(&mut self, header: &str) {
        if header.is_empty() {
            return;
        }
        self.0.clear();
        let mut rest = header;
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                return;
            }
            let Some(eq) = rest.find('=') else { return };
            let name = &rest[..eq];
            let after = &rest[eq + 1..];
            let (value, next) = match after.find(';') {
                Some(semi) => (&after[..semi], &after[semi + 1..]),
                None => (after, ""),
            };
            self.set(name, value);
            rest = next;
        }
    }

    /// `cookie.set(name, value)`.
    pub fn set(&mut self, name: &str, value: &str) {
        if name.is_empty() || value.is_empty() {
            return;
        }
        if let Some((_, v)) = self.0.iter_mut().find(|(n, _)| n == name) {
            *v = value.to_string();
        } else if self.0.len() < MAX {
            self.0.push((name.to_string(), value.to_string()));
        }
    }

    /// `cookie.get(name)`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of the first cookie whose name `matches`.
    pub fn get_by(&self, mut matches: impl FnMut(&str) -> bool) -> Option<&str> {
        self.0.iter().find(|(n, _)| matches(n)).map(|(_, v)| v.as_str())
    }

    /// Keeps the cookies whose names `keep` says to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(n, _)| keep(n));
    }

    /// `cookie.clean()`.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// `cookie.get_string()`.
    pub fn to_header(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v};")).collect();
        parts.join(" ")
    }
}

/// The names of a `filter`/`keep` list: comma-separated, spaces around each ignored.
pub fn names(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).filter(|n| !n.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header, what get_string gives after parse), as varnishd 7.1.1 gave them.
    #[test]
    fn parses_as_varnishd_does() {
        let rows = [
            ("a=1; b=2; c=3", "a=1; b=2; c=3;"),
            ("a=1;b=2;;c=3;", "a=1; b=2; ;c=3;"),
            ("  a = 1 ; b=2", "a = 1 ; b=2;"),
            ("a=1; a=2; b", "a=2;"),
            ("x; =5; b=; c=3", "x; =5; c=3;"),
            ("a=1=2; b=\"q\"", "a=1=2; b=\"q\";"),
        ];
        for (header, want) in rows {
            let mut jar = Jar::default();
            jar.parse(header);
            assert_eq!(jar.to_header(), want, "{header:?}");
        }
    }

    #[test]
    fn set_replaces_in_place_or_appends_and_lists_trim_their_names() {
        let mut jar = Jar::default();
        jar.parse("a=1; b=2; c=3");
        jar.set("n", "v1");
        jar.set("a", "A2");
        jar.set("e", "");
        assert_eq!(jar.to_header(), "a=A2; b=2; c=3; n=v1;");
        let drop = names("x, b");
        jar.retain(|n| !drop.contains(&n));
        assert_eq!(jar.to_header(), "a=A2; c=3; n=v1;");
        jar.parse("");
        assert_eq!(jar.to_header(), "a=A2; c=3; n=v1;", "nothing to parse: the jar stays");
        assert_eq!(jar.get("c"), Some("3"));
        assert_eq!(jar.get_by(|n| n.starts_with('n')), Some("v1"));
    }
}
