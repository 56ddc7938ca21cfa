//! Parsing of statements inside `sub` bodies.

use super::{PResult, Parser, Reported};
use crate::ast::{AssignOp, Ident, ReturnAction, Stmt, StmtKind};
use crate::token::Tok;

// === impl Parser ===

impl Parser<'_> {
    /// Parses statements up to and including the closing brace. Errors inside a statement are
    /// reported and parsing resumes after it.
    pub(super) fn block_body(&mut self) -> PResult<Vec<Stmt>> {
        self.enter()?;
        let r = self.block_body_inner();
        self.leave();
        r
    }

    fn block_body_inner(&mut self) -> PResult<Vec<Stmt>> {
        let mut stmts = Vec::new();
        loop {
            match self.peek().tok {
                Tok::RBrace => {
                    self.bump();
                    return Ok(stmts);
                }
                Tok::Eof => {
                    let span = self.peek().span;
                    return Err(self.error(span, "Expected '}' to close the block, found end of file"));
                }
                _ => {}
            }
            match self.stmt() {
                Ok(Some(s)) => stmts.push(s),
                Ok(None) => {}
                Err(Reported) => {
                    if self.recover_stmt() {
                        // A `sub` keyword: this block lacks its '}'; let the next
                        // declaration parse (an error is already reported).
                        return Ok(stmts);
                    }
                }
            }
        }
    }

    /// Skips past the next `;` at this nesting level, or stops before a `}` that closes it.
    /// Returns true when it stopped before a `sub` keyword (the block was never closed).
    fn recover_stmt(&mut self) -> bool {
        let mut depth = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return false,
                Tok::Semi if depth == 0 => {
                    self.bump();
                    return false;
                }
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return false;
                    }
                }
                Tok::Ident(ref k) if depth == 0 && k == "sub" => return true,
                _ => {}
            }
            self.bump();
        }
    }

    fn stmt(&mut self) -> PResult<Option<Stmt>> {
        let t = self.peek().clone();
        let start = t.span;
        let kind = match &t.tok {
            // (As varnishd 7.1: no empty statement, so no stray ';' after a block either.)
            Tok::Semi => {
                return Err(self.error(t.span, "Expected an action, 'if', '{' or '}' (an empty statement ';' is not allowed)"));
            }
            Tok::LBrace => {
                self.bump();
                StmtKind::Block(self.block_body()?)
            }
            Tok::Ident(k) => match k.as_str() {
                "set" => self.set_stmt()?,
                "unset" => {
                    self.bump();
                    let target = self.target()?;
                    self.expect(&Tok::Semi, "after the variable")?;
                    StmtKind::Unset(target)
                }
                "if" => {
                    self.bump();
                    self.if_stmt()?
                }
                "return" => self.return_stmt()?,
                "call" => {
                    self.bump();
                    let name = self.ident("a subroutine name after 'call'")?;
                    self.expect(&Tok::Semi, "after the subroutine name")?;
                    StmtKind::Call(name)
                }
                "new" => {
                    self.bump();
                    let name = self.ident("an object name after 'new'")?;
                    self.expect(&Tok::Assign, "after the object name")?;
                    let ctor = self.expr()?;
                    self.expect(&Tok::Semi, "after the constructor")?;
                    StmtKind::New { name, ctor }
                }
                "synthetic" | "hash_data" | "ban" => {
                    let kw = k.clone();
                    self.bump();
                    self.expect(&Tok::LParen, &format!("after '{kw}'"))?;
                    let e = self.expr()?;
                    self.expect(&Tok::RParen, &format!("to close '{kw}('"))?;
                    self.expect(&Tok::Semi, "after the statement")?;
                    match kw.as_str() {
                        "synthetic" => StmtKind::Synthetic(e),
                        "hash_data" => StmtKind::HashData(e),
                        _ => StmtKind::Ban(e),
                    }
                }
                "remove" => return Err(self.error(t.span, "'remove' was removed in VCL 4.0; use 'unset'")),
                "error" => {
                    return Err(self.error(t.span, "'error' is Varnish 3 syntax; use 'return (synth(STATUS, \"reason\"));'"))
                }
                "esi" => return Err(self.error(t.span, "'esi' is Varnish 3 syntax; use 'set beresp.do_esi = true;'")),
                _ if self.peek_at(1).tok == Tok::LParen => {
                    let e = self.expr()?;
                    self.expect(&Tok::Semi, "after the call")?;
                    StmtKind::Eval(e)
                }
                _ => {
                    return Err(self.error(
                        t.span,
                        format!("Expected a statement (set, unset, if, return, call, new, synthetic, hash_data, ban or a function call), found {}", t.tok.describe()),
                    ))
                }
            },
            other => {
                return Err(self.error(t.span, format!("Expected a statement or '}}', found {}", other.describe())));
            }
        };
        Ok(Some(Stmt { kind, span: start.to(self.prev_span()) }))
    }

    /// A variable name, with an optional quoted header part: `req.http."x.y"`.
    fn target(&mut self) -> PResult<Ident> {
        let mut id = self.ident("a variable name")?;
        if self.at(&Tok::Dot) {
            if let Tok::Str(h) = &self.peek_at(1).tok {
                id.name = format!("{}.{h}", id.name);
                id.quoted = true;
                self.bump();
                id.span = id.span.to(self.bump().span);
            }
        }
        Ok(id)
    }

    fn set_stmt(&mut self) -> PResult<StmtKind> {
        self.bump();
        let target = self.target()?;
        let t = self.bump();
        let op = match t.tok {
            Tok::Assign => AssignOp::Set,
            Tok::PlusAssign => AssignOp::Add,
            Tok::MinusAssign => AssignOp::Sub,
            Tok::StarAssign => AssignOp::Mul,
            Tok::SlashAssign => AssignOp::Div,
            other => {
                return Err(self.error(
                    t.span,
                    format!("Expected an assignment operator (=, +=, -=, *=, /=), found {}", other.describe()),
                ))
            }
        };
        let value = self.expr()?;
        self.expect(&Tok::Semi, "after the value")?;
        Ok(StmtKind::Set { target, op, op_span: t.span, value })
    }

    fn if_stmt(&mut self) -> PResult<StmtKind> {
        let mut arms = Vec::new();
        let mut otherwise = None;
        loop {
            self.expect(&Tok::LParen, "after 'if'")?;
            let cond = self.expr()?;
            self.expect(&Tok::RParen, "to close the condition")?;
            self.expect(&Tok::LBrace, "to open the block")?;
            let body = self.block_body()?;
            arms.push((cond, body));
            let t = self.peek().clone();
            match &t.tok {
                Tok::Ident(k) if k == "elseif" || k == "elsif" || k == "elif" => {
                    self.bump();
                }
                Tok::Ident(k) if k == "else" => {
                    self.bump();
                    if self.peek().tok.is_ident("if") {
                        self.bump();
                        continue;
                    }
                    self.expect(&Tok::LBrace, "after 'else'")?;
                    otherwise = Some(self.block_body()?);
                    break;
                }
                _ => break,
            }
        }
        Ok(StmtKind::If { arms, otherwise })
    }

    fn return_stmt(&mut self) -> PResult<StmtKind> {
        self.bump();
        if self.eat(&Tok::Semi) {
            return Ok(StmtKind::Return(None));
        }
        self.expect(&Tok::LParen, "after 'return'")?;
        let name = self.ident("a return action")?;
        let mut args = Vec::new();
        if self.eat(&Tok::LParen) {
            if !self.at(&Tok::RParen) {
                loop {
                    args.push(self.expr()?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
            }
            self.expect(&Tok::RParen, "to close the action's arguments")?;
        }
        self.expect(&Tok::RParen, "to close 'return ('")?;
        self.expect(&Tok::Semi, "after the return")?;
        Ok(StmtKind::Return(Some(ReturnAction { name, args })))
    }
}
