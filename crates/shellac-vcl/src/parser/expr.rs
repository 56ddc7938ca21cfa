//! Parsing of expressions, with C precedence: `||` < `&&` < `!` < comparisons < `+ -` < `* / %` <
//! unary `-` < primaries.

use super::{PResult, Parser};
use crate::ast::{Arg, BinOp, Expr, ExprKind, Ident};
use crate::token::Tok;

// === impl Parser ===

impl Parser<'_> {
    /// Parses a full expression.
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut l = self.and_expr()?;
        while self.eat(&Tok::OrOr) {
            let r = self.and_expr()?;
            l = binary(BinOp::Or, l, r);
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut l = self.not_expr()?;
        while self.eat(&Tok::AndAnd) {
            let r = self.not_expr()?;
            l = binary(BinOp::And, l, r);
        }
        Ok(l)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.at(&Tok::Not) {
            let start = self.bump().span;
            self.enter()?;
            let e = self.not_expr();
            self.leave();
            let e = e?;
            let span = start.to(e.span);
            return Ok(Expr { kind: ExprKind::Not(Box::new(e)), span });
        }
        self.cmp_expr()
    }

    fn cmp_expr(&mut self) -> PResult<Expr> {
        let l = self.add_expr()?;
        let op = match self.peek().tok {
            Tok::Eq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Gt => BinOp::Gt,
            Tok::Le => BinOp::Le,
            Tok::Ge => BinOp::Ge,
            Tok::Tilde => BinOp::Match,
            Tok::NotTilde => BinOp::NotMatch,
            _ => return Ok(l),
        };
        self.bump();
        let r = self.add_expr()?;
        Ok(binary(op, l, r))
    }

    fn add_expr(&mut self) -> PResult<Expr> {
        let mut l = self.mul_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.mul_expr()?;
            l = binary(op, l, r);
        }
    }

    fn mul_expr(&mut self) -> PResult<Expr> {
        let mut l = self.unary_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Rem,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.unary_expr()?;
            l = binary(op, l, r);
        }
    }

    fn unary_expr(&mut self) -> PResult<Expr> {
        if self.at(&Tok::Minus) {
            let start = self.bump().span;
            self.enter()?;
            let e = self.unary_expr();
            self.leave();
            let e = e?;
            let span = start.to(e.span);
            return Ok(Expr { kind: ExprKind::Neg(Box::new(e)), span });
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        match t.tok {
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                self.expect(&Tok::RParen, "to close the parenthesis")?;
                Ok(e)
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr { kind: ExprKind::Str(s), span: t.span })
            }
            Tok::Int(_) | Tok::Real(_) => {
                let n = self.number_lit()?;
                let span = n.span;
                Ok(Expr { kind: ExprKind::Number(n), span })
            }
            Tok::Ident(name) => {
                self.bump();
                let mut id = Ident { name, span: t.span, quoted: false };
                if self.at(&Tok::Dot) {
                    if let Tok::Str(h) = &self.peek_at(1).tok {
                        id.name = format!("{}.{h}", id.name);
                        id.quoted = true;
                        self.bump();
                        id.span = id.span.to(self.bump().span);
                        return Ok(Expr { span: id.span, kind: ExprKind::Path(id) });
                    }
                }
                if self.eat(&Tok::LParen) {
                    let args = self.args()?;
                    let span = id.span.to(self.prev_span());
                    return Ok(Expr { kind: ExprKind::Call { callee: id, args }, span });
                }
                Ok(Expr { span: id.span, kind: ExprKind::Path(id) })
            }
            other => Err(self.error(t.span, format!("Expected an expression, found {}", other.describe()))),
        }
    }

    /// Arguments after `(`, up to and including `)`.
    fn args(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            let mut name = None;
            if matches!(self.peek().tok, Tok::Ident(_)) && self.peek_at(1).tok == Tok::Assign {
                name = Some(self.ident("an argument name")?);
                self.bump();
            }
            let value = self.expr()?;
            args.push(Arg { name, value });
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&Tok::RParen, "to close the argument list")?;
            return Ok(args);
        }
    }
}

fn binary(op: BinOp, l: Expr, r: Expr) -> Expr {
    let span = l.span.to(r.span);
    Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), span }
}
