//! Parsing of declarations: backend, probe, acl, sub, import and the Varnish 3 director block.

use super::{PResult, Parser};
use crate::ast::{
    AclDecl, AclEntry, BackendDecl, DirectorDecl, Field, FieldValue, ImportDecl, NumberLit, ProbeDecl, SubDecl,
};
use crate::token::Tok;

// === impl Parser ===

impl Parser<'_> {
    pub(super) fn backend(&mut self) -> PResult<BackendDecl> {
        self.bump();
        let name = self.ident("a backend name")?;
        // (`none` in any case, as varnishd reads it: `backend dummy None;`.)
        if matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case("none")) {
            self.bump();
            self.expect(&Tok::Semi, "after 'backend NAME none'")?;
            return Ok(BackendDecl { name, fields: None });
        }
        self.expect(&Tok::LBrace, "to open the backend")?;
        let fields = self.fields()?;
        Ok(BackendDecl { name, fields: Some(fields) })
    }

    pub(super) fn probe(&mut self) -> PResult<ProbeDecl> {
        self.bump();
        let name = self.ident("a probe name")?;
        self.expect(&Tok::LBrace, "to open the probe")?;
        let fields = self.fields()?;
        Ok(ProbeDecl { name, fields })
    }

    /// Parses `.name = value;` fields up to and including the closing brace.
    pub(super) fn fields(&mut self) -> PResult<Vec<Field>> {
        self.enter()?;
        let r = self.fields_inner();
        self.leave();
        r
    }

    fn fields_inner(&mut self) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            if self.eat(&Tok::RBrace) {
                return Ok(fields);
            }
            let start = self.expect(&Tok::Dot, "to start a field ('.name = value;') or '}'")?;
            let name = self.ident("a field name")?;
            self.expect(&Tok::Assign, "after the field name")?;
            let value = self.field_value()?;
            if !matches!(value, FieldValue::Block(..)) || self.at(&Tok::Semi) {
                self.expect(&Tok::Semi, "after the field value")?;
            }
            fields.push(Field { name, value, span: start.to(self.prev_span()) });
        }
    }

    fn field_value(&mut self) -> PResult<FieldValue> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Str(_) => {
                let mut parts = Vec::new();
                while let Tok::Str(s) = &self.peek().tok {
                    parts.push((s.clone(), self.peek().span));
                    self.bump();
                }
                Ok(FieldValue::Strings(parts))
            }
            Tok::LBrace => {
                self.bump();
                let fields = self.fields()?;
                Ok(FieldValue::Block(fields, t.span.to(self.prev_span())))
            }
            Tok::Minus | Tok::Int(_) | Tok::Real(_) => Ok(FieldValue::Number(self.number_lit()?)),
            Tok::Ident(name) => {
                self.bump();
                Ok(FieldValue::Ident(crate::ast::Ident { name, span: t.span, quoted: false }))
            }
            other => Err(self.error(t.span, format!("Expected a value, found {}", other.describe()))),
        }
    }

    /// Parses `[-] digits [unit]`.
    pub(super) fn number_lit(&mut self) -> PResult<NumberLit> {
        let start = self.peek().span;
        let negative = self.eat(&Tok::Minus);
        let t = self.bump();
        let (text, is_real) = match t.tok {
            Tok::Int(s) => (s, false),
            Tok::Real(s) => (s, true),
            other => return Err(self.error(t.span, format!("Expected a number, found {}", other.describe()))),
        };
        let unit = match &self.peek().tok {
            Tok::Ident(_) => Some(self.ident("a unit")?),
            _ => None,
        };
        Ok(NumberLit { negative, text, is_real, unit, span: start.to(self.prev_span()) })
    }

    pub(super) fn acl(&mut self) -> PResult<AclDecl> {
        self.bump();
        let name = self.ident("an ACL name")?;
        let mut flags = Vec::new();
        while matches!(self.peek().tok, Tok::Plus | Tok::Minus) {
            let sign = self.bump();
            let mut flag = self.ident("an ACL flag")?;
            flag.name = format!("{}{}", sign.tok.punct(), flag.name);
            flag.span = sign.span.to(flag.span);
            flags.push(flag);
        }
        self.expect(&Tok::LBrace, "to open the ACL")?;
        let mut entries = Vec::new();
        while !self.eat(&Tok::RBrace) {
            let start = self.peek().span;
            // `!` and the mask may stand inside the parentheses of an optional entry too:
            // `("name" / 22);`, `(!"name");`.
            let mut negated = self.eat(&Tok::Not);
            let optional = self.eat(&Tok::LParen);
            if optional && !negated {
                negated = self.eat(&Tok::Not);
            }
            let t = self.bump();
            let Tok::Str(addr) = t.tok else {
                return Err(
                    self.error(t.span, format!("Expected an address string in the ACL, found {}", t.tok.describe()))
                );
            };
            let addr_span = t.span;
            let mut mask = self.acl_mask()?;
            if optional {
                self.expect(&Tok::RParen, "to close the optional ACL entry")?;
            }
            if mask.is_none() {
                mask = self.acl_mask()?;
            }
            self.expect(&Tok::Semi, "after the ACL entry")?;
            entries.push(AclEntry { negated, optional, addr, mask, span: start.to(self.prev_span()), addr_span });
        }
        Ok(AclDecl { name, flags, entries })
    }

    /// An ACL entry's `/ LENGTH`, if there.
    fn acl_mask(&mut self) -> PResult<Option<(u32, crate::source::Span)>> {
        let mut mask = None;
        if self.eat(&Tok::Slash) {
            let m = self.bump();
            match m.tok {
                Tok::Int(digits) => match digits.parse::<u32>() {
                    Ok(v) => mask = Some((v, m.span)),
                    Err(_) => return Err(self.error(m.span, "ACL mask is too large")),
                },
                other => {
                    return Err(
                        self.error(m.span, format!("Expected a mask length after '/', found {}", other.describe()))
                    )
                }
            }
        }
        Ok(mask)
    }

    pub(super) fn sub(&mut self) -> PResult<crate::ast::SubDecl> {
        let start = self.bump().span;
        let name = self.ident("a subroutine name")?;
        self.expect(&Tok::LBrace, "to open the subroutine body")?;
        let body = self.block_body()?;
        Ok(SubDecl { name, body, span: start.to(self.prev_span()) })
    }

    pub(super) fn import(&mut self) -> PResult<ImportDecl> {
        self.bump();
        let vmod = self.ident("a vmod name")?;
        let mut alias = None;
        if self.peek().tok.is_ident("as") {
            self.bump();
            alias = Some(self.ident("an alias")?);
        }
        if self.peek().tok.is_ident("from") {
            self.bump();
            let t = self.bump();
            if !matches!(t.tok, Tok::Str(_)) {
                return Err(
                    self.error(t.span, format!("Expected a path string after 'from', found {}", t.tok.describe()))
                );
            }
        }
        self.expect(&Tok::Semi, "after the import")?;
        Ok(ImportDecl { vmod, alias })
    }

    /// `director NAME POLICY { .field = v; { .backend = b; .weight = n; } … }`
    pub(super) fn director(&mut self) -> PResult<DirectorDecl> {
        self.bump();
        let name = self.ident("a director name")?;
        let policy = self.ident("a director type (round-robin, random, client, hash, fallback)")?;
        self.expect(&Tok::LBrace, "to open the director")?;
        let mut fields = Vec::new();
        let mut members = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::LBrace => {
                    self.bump();
                    let member = self.fields()?;
                    members.push((member, t.span.to(self.prev_span())));
                }
                Tok::Dot => {
                    self.bump();
                    let fname = self.ident("a field name")?;
                    self.expect(&Tok::Assign, "after the field name")?;
                    let value = self.field_value()?;
                    self.expect(&Tok::Semi, "after the field value")?;
                    fields.push(Field { name: fname, value, span: t.span.to(self.prev_span()) });
                }
                other => {
                    return Err(self.error(
                        t.span,
                        format!("Expected '{{ .backend = …; }}', a field or '}}', found {}", other.describe()),
                    ))
                }
            }
        }
        Ok(DirectorDecl { name, policy, fields, members })
    }
}
