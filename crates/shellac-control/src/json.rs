//! The JSON that `-j` commands print, written the way varnishd lays it out: the
//! `[ VERSION, [command, args…], EPOCH,` header, then the command's value.

use std::time::{SystemTime, UNIX_EPOCH};

/// The header line of a `-j` answer.
pub fn header(version: u32, command: &str, args: &[String]) -> String {
    let mut words = vec![string(command)];
    words.extend(args.iter().map(|a| string(a)));
    format!("[ {version}, [{}], {},\n", words.join(", "), epoch(SystemTime::now()))
}

/// Seconds since the epoch with three decimals.
pub fn epoch(t: SystemTime) -> String {
    format!("{:.3}", t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()))
}

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match crate::proto::escape(c) {
            Some(e) => out.push_str(e),
            None if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            None => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_the_header_lists_the_arguments() {
        assert_eq!(string("a\"b\\\n"), r#""a\"b\\\n""#);
        let h = header(3, "backend.list", &["-j".to_string()]);
        assert!(h.starts_with("[ 3, [\"backend.list\", \"-j\"], ") && h.ends_with(",\n"), "{h}");
    }
}
