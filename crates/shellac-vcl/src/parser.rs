//! The parser: tokens to the syntax tree, by recursive descent.
//!
//! This file holds the token cursor, error recovery and the top-level loop; declarations,
//! statements and expressions are parsed in `parser/{decl,stmt,expr}.rs`. Every error is pushed as a
//! diagnostic and parsing resumes at the next statement or declaration, so independent syntax
//! errors are all reported. Nesting is bounded so that no input can exhaust the stack.

mod decl;
mod expr;
mod stmt;

use crate::ast::{Decl, Ident};
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::token::{Tok, Token};

/// How deep blocks and expressions may nest.
const MAX_NESTING: usize = 128;

/// Parses an expanded token stream into declarations.
pub fn parse(tokens: Vec<Token>, diags: &mut Vec<Diagnostic>) -> Vec<Decl> {
    let mut p = Parser { tokens, pos: 0, diags, depth: 0 };
    p.top_level()
}

/// The marker of a parse error whose diagnostic is already recorded.
#[derive(Debug)]
pub(crate) struct Reported;

pub(crate) type PResult<T> = Result<T, Reported>;

pub(crate) struct Parser<'d> {
    tokens: Vec<Token>,
    pos: usize,
    diags: &'d mut Vec<Diagnostic>,
    depth: usize,
}

const TOP_KEYWORDS: &[&str] = &["backend", "probe", "acl", "sub", "import", "director"];

// === impl Parser ===

impl Parser<'_> {
    fn top_level(&mut self) -> Vec<Decl> {
        let mut decls = Vec::new();
        loop {
            let t = self.peek().clone();
            let result = match &t.tok {
                Tok::Eof => break,
                Tok::Ident(k) => match k.as_str() {
                    "backend" => self.backend().map(Decl::Backend),
                    "probe" => self.probe().map(Decl::Probe),
                    "acl" => self.acl().map(Decl::Acl),
                    "sub" => self.sub().map(Decl::Sub),
                    "import" => self.import().map(Decl::Import),
                    "director" => self.director().map(Decl::Director),
                    // (varnishd takes a repeated declaration later in a file, and keeps the
                    // first one's version.)
                    "vcl" => {
                        self.later_version();
                        continue;
                    }
                    _ => Err(self.top_level_error(&t)),
                },
                _ => Err(self.top_level_error(&t)),
            };
            match result {
                Ok(d) => decls.push(d),
                Err(Reported) => self.recover_top_level(),
            }
        }
        decls
    }

    /// A `vcl 4.0;` or `vcl 4.1;` after the first declaration: read and ignored.
    fn later_version(&mut self) {
        self.bump();
        let t = self.peek().clone();
        match &t.tok {
            Tok::Real(v) if v == "4.0" || v == "4.1" => {
                self.bump();
                if self.expect(&Tok::Semi, "after the VCL version").is_err() {
                    self.recover_top_level();
                }
            }
            _ => {
                self.error(t.span, format!("Expected 4.0 or 4.1 after 'vcl', found {}", t.tok.describe()));
                self.recover_top_level();
            }
        }
    }

    fn top_level_error(&mut self, t: &Token) -> Reported {
        self.error(
            t.span,
            format!(
                "Expected one of 'acl', 'sub', 'backend', 'probe', 'import', 'include' or 'vcl', found {}",
                t.tok.describe()
            ),
        )
    }

    /// Skips to the next top-level keyword outside braces.
    fn recover_top_level(&mut self) {
        let mut depth = 0usize;
        // Always make progress.
        if self.peek().tok != Tok::Eof {
            depth = self.brace_delta(0);
            self.pos += 1;
        }
        loop {
            let t = &self.tokens[self.pos].tok;
            match t {
                Tok::Eof => return,
                Tok::Ident(k) if depth == 0 && TOP_KEYWORDS.contains(&k.as_str()) => return,
                _ => {
                    depth = self.brace_delta(depth);
                    self.pos += 1;
                }
            }
        }
    }

    fn brace_delta(&self, depth: usize) -> usize {
        match self.tokens[self.pos].tok {
            Tok::LBrace => depth + 1,
            Tok::RBrace => depth.saturating_sub(1),
            _ => depth,
        }
    }

    // --- cursor ---

    pub(crate) fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    pub(crate) fn peek_at(&self, n: usize) -> &Token {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i]
    }

    pub(crate) fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn prev_span(&self) -> Span {
        self.tokens[self.pos.saturating_sub(1)].span
    }

    pub(crate) fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    pub(crate) fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, tok: &Tok, context: &str) -> PResult<Span> {
        if self.at(tok) {
            Ok(self.bump().span)
        } else {
            let t = self.peek().clone();
            Err(self.error(t.span, format!("Expected '{}' {context}, found {}", tok.punct(), t.tok.describe())))
        }
    }

    pub(crate) fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Ident(name) => {
                self.pos += 1;
                Ok(Ident { name, span: t.span, quoted: false })
            }
            other => Err(self.error(t.span, format!("Expected {what}, found {}", other.describe()))),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) -> Reported {
        self.diags.push(Diagnostic::error(span, message));
        Reported
    }

    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let span = self.peek().span;
            self.depth -= 1;
            return Err(self.error(span, format!("Nested more than {MAX_NESTING} levels deep")));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{ExprKind, StmtKind};
    use crate::lexer::lex;
    use crate::source::FileId;

    fn parse_str(s: &str) -> (Vec<Decl>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let t = lex(FileId(0), s, &mut d);
        let decls = parse(t, &mut d);
        (decls, d)
    }

    #[test]
    fn parses_the_seed_shapes() {
        let (decls, d) = parse_str(
            "backend public { .host = \"web001.example.com\"; .probe = { .url = \"/\"; } }\n\
             sub vcl_recv { if (req.url ~ \"^/admin\") { set req.backend_hint = admin; } elsif (a) {} else { return (pass); } }",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(decls.len(), 2);
        let Decl::Sub(s) = &decls[1] else { panic!() };
        let StmtKind::If { arms, otherwise } = &s.body[0].kind else { panic!() };
        assert_eq!(arms.len(), 2);
        assert!(otherwise.is_some());
    }

    #[test]
    fn precedence_is_cs() {
        let (decls, d) = parse_str("sub f { set x = 1 + 2 * 3 == 7 && !a || b; }");
        assert!(d.is_empty(), "{d:?}");
        let Decl::Sub(s) = &decls[0] else { panic!() };
        let StmtKind::Set { value, .. } = &s.body[0].kind else { panic!() };
        let ExprKind::Binary(op, ..) = &value.kind else { panic!() };
        assert_eq!(*op, crate::ast::BinOp::Or);
    }

    #[test]
    fn errors_recover_and_continue() {
        let (decls, d) = parse_str("sub a { set = ; set b = 1; } bogus; sub c { call ; }");
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(decls.len(), 2);
    }

    #[test]
    fn r_fuzz_unclosed_sub_before_sub_terminates() {
        // Found by the fuzzer: recovery stopped before `sub` without consuming it and the
        // block loop retried forever, filling memory with diagnostics.
        let (decls, d) = parse_str("sub a { x sub b { } sub c { set; }");
        assert!(!d.is_empty());
        assert!(d.len() < 10, "{d:?}");
        assert_eq!(decls.len(), 3);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let src = format!("sub a {{ set x = {}1{}; }}", "(".repeat(10_000), ")".repeat(10_000));
        let (_, d) = parse_str(&src);
        assert!(d.iter().any(|d| d.message.starts_with("Nested more than")));
    }
}
