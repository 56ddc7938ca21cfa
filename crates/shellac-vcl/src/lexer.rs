//! The lexer: VCL text to tokens, per spec §1.1.
//!
//! Comments (`#`, `//`, `/* */`), the three string forms (`"…"` on one line, `{"…"}` and
//! `"""…"""` across lines, none with escapes), integers and reals (digit limits are checked by
//! the parser, which knows the context), names with `-` and dots, and the fixed punctuation.
//! Bad input yields a diagnostic and the lexer carries on, so one run reports every lexical error.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use crate::token::{Tok, Token};

/// Splits a file into tokens. The last token is always [`Tok::Eof`].
pub fn lex(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut lx = Lexer { file, src: text.as_bytes(), pos: 0, tokens: Vec::new(), diags };
    lx.run();
    lx.tokens
}

/// Whether a byte may start a name.
pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

/// Whether a byte may continue a name.
pub fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

struct Lexer<'a, 'd> {
    file: FileId,
    src: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diags: &'d mut Vec<Diagnostic>,
}

// === impl Lexer ===

impl Lexer<'_, '_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span { file: self.file, start: start as u32, end: end as u32 }
    }

    fn push(&mut self, tok: Tok, start: usize) {
        let span = self.span(start, self.pos);
        self.tokens.push(Token { tok, span });
    }

    fn peek(&self, n: usize) -> u8 {
        self.src.get(self.pos + n).copied().unwrap_or(0)
    }

    fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(&self.src[start..end]).into_owned()
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let start = self.pos;
            let c = self.src[self.pos];
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => self.skip_line(),
                b'/' if self.peek(1) == b'/' => self.skip_line(),
                b'/' if self.peek(1) == b'*' => self.block_comment(),
                b'{' if self.peek(1) == b'"' => self.long_string(start, b"\"}", 2),
                b'"' if self.peek(1) == b'"' && self.peek(2) == b'"' => self.long_string(start, b"\"\"\"", 3),
                b'"' => self.string(start),
                b'0'..=b'9' => self.number(start),
                c if is_ident_start(c) => self.ident(start),
                _ => self.punct(start),
            }
        }
        let end = self.src.len();
        self.tokens.push(Token { tok: Tok::Eof, span: self.span(end, end) });
    }

    fn skip_line(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        while self.pos < self.src.len() {
            if self.src[self.pos] == b'*' && self.peek(1) == b'/' {
                self.pos += 2;
                return;
            }
            if self.src[self.pos] == b'/' && self.peek(1) == b'*' {
                let span = self.span(self.pos, self.pos + 2);
                self.diags.push(Diagnostic::error(span, "/* inside a comment (comments do not nest)"));
            }
            self.pos += 1;
        }
        let span = self.span(start, start + 2);
        self.diags.push(Diagnostic::error(span, "Unterminated /* ... */ comment"));
    }

    fn string(&mut self, start: usize) {
        self.pos += 1;
        while self.pos < self.src.len() {
            match self.src[self.pos] {
                b'"' => {
                    let value = self.text(start + 1, self.pos);
                    self.pos += 1;
                    self.push(Tok::Str(value), start);
                    return;
                }
                b'\n' | b'\r' => break,
                _ => self.pos += 1,
            }
        }
        let span = self.span(start, self.pos);
        self.diags.push(
            Diagnostic::error(span, "Unterminated string")
                .with_note("strings in \"…\" end on their line; use {\"…\"} or \"\"\"…\"\"\" for several lines", None),
        );
        let value = self.text(start + 1, self.pos);
        self.push(Tok::Str(value), start);
    }

    fn long_string(&mut self, start: usize, close: &[u8], open_len: usize) {
        self.pos += open_len;
        let body = self.pos;
        while self.pos < self.src.len() {
            if self.src[self.pos..].starts_with(close) {
                let value = self.text(body, self.pos);
                self.pos += close.len();
                self.push(Tok::Str(value), start);
                return;
            }
            self.pos += 1;
        }
        let span = self.span(start, start + open_len);
        self.diags.push(Diagnostic::error(span, "Unterminated long string"));
        let value = self.text(body, self.pos);
        self.push(Tok::Str(value), start);
    }

    fn number(&mut self, start: usize) {
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
            let text = self.text(start, self.pos);
            self.push(Tok::Real(text), start);
        } else {
            let text = self.text(start, self.pos);
            self.push(Tok::Int(text), start);
        }
    }

    fn ident(&mut self, start: usize) {
        loop {
            while is_ident_char(self.peek(0)) {
                self.pos += 1;
            }
            // A dot directly followed by a name continues a dotted name (`req.http.host`).
            if self.peek(0) == b'.' && is_ident_start(self.peek(1)) {
                self.pos += 1;
                continue;
            }
            break;
        }
        let text = self.text(start, self.pos);
        self.push(Tok::Ident(text), start);
    }

    fn punct(&mut self, start: usize) {
        let two = [self.peek(0), self.peek(1)];
        let tok2 = match &two {
            b"==" => Some(Tok::Eq),
            b"!=" => Some(Tok::Ne),
            b"<=" => Some(Tok::Le),
            b">=" => Some(Tok::Ge),
            b"!~" => Some(Tok::NotTilde),
            b"&&" => Some(Tok::AndAnd),
            b"||" => Some(Tok::OrOr),
            b"+=" => Some(Tok::PlusAssign),
            b"-=" => Some(Tok::MinusAssign),
            b"*=" => Some(Tok::StarAssign),
            b"/=" => Some(Tok::SlashAssign),
            b"++" => Some(Tok::Other("++")),
            b"--" => Some(Tok::Other("--")),
            b"<<" => Some(Tok::Other("<<")),
            b">>" => Some(Tok::Other(">>")),
            _ => None,
        };
        if let Some(tok) = tok2 {
            self.pos += 2;
            self.push(tok, start);
            return;
        }
        let tok = match two[0] {
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b';' => Tok::Semi,
            b',' => Tok::Comma,
            b'.' => Tok::Dot,
            b'=' => Tok::Assign,
            b'<' => Tok::Lt,
            b'>' => Tok::Gt,
            b'~' => Tok::Tilde,
            b'!' => Tok::Not,
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'*' => Tok::Star,
            b'/' => Tok::Slash,
            b'%' => Tok::Percent,
            b'&' => Tok::Other("&"),
            b'|' => Tok::Other("|"),
            _ => {
                // Skip the whole character, which may be several bytes of UTF-8.
                let len = utf8_len(two[0]);
                let end = (self.pos + len).min(self.src.len());
                let shown = self.text(self.pos, end);
                let span = self.span(self.pos, end);
                self.diags.push(Diagnostic::error(
                    span,
                    format!("Syntax error: unexpected character '{}'", shown.escape_debug()),
                ));
                self.pos = end;
                return;
            }
        };
        self.pos += 1;
        self.push(tok, start);
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> (Vec<Tok>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let t = lex(FileId(0), text, &mut d);
        (t.into_iter().map(|t| t.tok).collect(), d)
    }

    #[test]
    fn dotted_names_and_dashes_are_one_token() {
        let (t, d) = toks("req.http.X-Forwarded-For beresp.ttl-1s .host");
        assert!(d.is_empty());
        assert_eq!(
            t,
            vec![
                Tok::Ident("req.http.X-Forwarded-For".into()),
                Tok::Ident("beresp.ttl-1s".into()),
                Tok::Dot,
                Tok::Ident("host".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_have_no_escapes() {
        let (t, _) = toks(r#""\1" {"a"b"} """x"y""""#);
        assert_eq!(t, vec![Tok::Str("\\1".into()), Tok::Str("a\"b".into()), Tok::Str("x\"y".into()), Tok::Eof]);
    }

    #[test]
    fn comments_are_skipped_and_nesting_is_an_error() {
        let (t, d) = toks("# a\n// b\n/* c */ x /* /* */");
        assert_eq!(t, vec![Tok::Ident("x".into()), Tok::Eof]);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn numbers_and_units_are_separate() {
        let (t, _) = toks("1.5s 10KB 3");
        assert_eq!(
            t,
            vec![
                Tok::Real("1.5".into()),
                Tok::Ident("s".into()),
                Tok::Int("10".into()),
                Tok::Ident("KB".into()),
                Tok::Int("3".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unterminated_string_is_reported() {
        let (_, d) = toks("\"abc\nx");
        assert_eq!(d[0].message, "Unterminated string");
    }
}
