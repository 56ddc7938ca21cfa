//! Varnish's CLI protocol (spec §6.2), shared by the admin server and `shellac adm`: the
//! response frame (`%-3d %-8zu\n`, body, `\n`), the shell-like tokeniser for request lines, and
//! the challenge-response digest of `-S` authentication. No sockets here.

use sha2::{Digest, Sha256};

/// CLI status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 100: syntax error.
    Syntax = 100,
    /// 101: unknown command.
    Unknown = 101,
    /// 102: not implemented.
    Unimplemented = 102,
    /// 104: too few parameters.
    TooFew = 104,
    /// 105: too many parameters.
    TooMany = 105,
    /// 106: bad parameter.
    Param = 106,
    /// 107: authentication required.
    Auth = 107,
    /// 200: OK.
    Ok = 200,
    /// 201: truncated.
    Truncated = 201,
    /// 300: cannot do that now.
    Cant = 300,
    /// 400: communication error.
    Comms = 400,
    /// 500: closing.
    Close = 500,
}

/// Encodes one response: 13-byte header, body, newline.
pub fn encode(status: Status, body: &str) -> Vec<u8> {
    let mut out = encode_head(status, body.len());
    out.extend_from_slice(body.as_bytes());
    out.push(b'\n');
    out
}

/// A response's header line alone (the body and a newline follow).
pub fn encode_head(status: Status, len: usize) -> Vec<u8> {
    format!("{:<3} {:<8}\n", status as u16, len).into_bytes()
}

/// Parses a response header line (`200 19      `) into status and body length.
pub fn parse_header(line: &str) -> Option<(u16, usize)> {
    let mut it = line.split_whitespace();
    let status = it.next()?.parse().ok()?;
    let len = it.next()?.parse().ok()?;
    Some((status, len))
}

/// Splits a request line into words: blanks separate, `"…"` quotes with `\n \r \t \" \\`
/// and octal/hex escapes. A last word `<< WORD` announces a here-document; it is returned as
/// `Err(Heredoc)` for the caller to read on.
pub fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("Missing '\"'".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => word.push('\n'),
                        Some('r') => word.push('\r'),
                        Some('t') => word.push('\t'),
                        Some('"') => word.push('"'),
                        Some('\\') => word.push('\\'),
                        Some('x') => {
                            let hex: String = (0..2).filter_map(|_| chars.next()).collect();
                            let b = u8::from_str_radix(&hex, 16).map_err(|_| "Illegal \\x escape".to_string())?;
                            word.push(char::from(b));
                        }
                        Some(d @ '0'..='7') => {
                            let mut oct = String::from(d);
                            while oct.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                                oct.extend(chars.next());
                            }
                            let b = u8::from_str_radix(&oct, 8).map_err(|_| "Illegal octal escape".to_string())?;
                            word.push(char::from(b));
                        }
                        Some(other) => return Err(format!("Illegal backslash sequence '\\{other}'")),
                        None => return Err("Missing '\"'".into()),
                    },
                    Some(other) => word.push(other),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// The backslash escape of a quote, a backslash, a newline, a carriage return or a tab: the
/// escapes CLI words and JSON strings share.
pub(crate) fn escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return None,
    })
}

/// Quotes a word for a request line when it needs it, so that [`tokenize`] gives it back.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && !word.chars().any(|c| c.is_ascii_whitespace() || c == '"' || c == '\\') {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match escape(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    out.push('"');
    out
}

/// If the last words are `<< WORD` (or `<<WORD`), the here-document terminator.
pub fn heredoc_marker(words: &[String]) -> Option<(usize, String)> {
    let n = words.len();
    if n >= 2 && words[n - 2] == "<<" {
        return Some((n - 2, words[n - 1].clone()));
    }
    let last = words.last()?;
    let rest = last.strip_prefix("<<")?;
    (!rest.is_empty()).then(|| (n - 1, rest.to_string()))
}

/// The lower-case hex SHA-256 of challenge, `\n`, secret, challenge, `\n`.
pub fn auth_digest(challenge: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(b"\n");
    h.update(secret);
    h.update(challenge.as_bytes());
    h.update(b"\n");
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_varnish_frames() {
        assert_eq!(encode(Status::Ok, "PONG 1795218055 1.0"), b"200 19      \nPONG 1795218055 1.0\n");
        assert_eq!(parse_header("200 19      "), Some((200, 19)));
    }

    #[test]
    fn words_split_like_the_varnish_cli() {
        assert_eq!(tokenize(r#"vcl.inline x "a \"b\"\n" cold"#).unwrap(), ["vcl.inline", "x", "a \"b\"\n", "cold"]);
        assert_eq!(tokenize("  ping  ").unwrap(), ["ping"]);
        assert_eq!(tokenize(r#""\101\x42""#).unwrap(), ["AB"]);
        assert!(tokenize(r#"a "b"#).is_err());
        let src = "vcl 4.1;\nsub x { \"a\\b\" }\t";
        assert_eq!(tokenize(&format!("vcl.inline v {}", quote(src))).unwrap(), ["vcl.inline", "v", src]);
        let w = tokenize("vcl.inline x << EOF").unwrap();
        assert_eq!(heredoc_marker(&w), Some((2, "EOF".into())));
    }
}
