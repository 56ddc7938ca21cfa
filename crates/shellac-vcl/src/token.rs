//! Tokens of the VCL language.
//!
//! A token is a kind, a span and, for names, literals and numbers, its text or value. Dotted names
//! such as `req.http.X-Forwarded-For` are one [`Tok::Ident`] token (as in varnishd), which keeps
//! them apart from the `.field` syntax of declarations.

use crate::source::Span;

/// A token kind with its payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name, possibly dotted: `vcl_recv`, `req.http.Host`, `X-Forwarded-For`.
    Ident(String),
    /// A string literal's contents (no escapes are processed).
    Str(String),
    /// An integer literal's digits.
    Int(String),
    /// A real literal's text (`1.5`).
    Real(String),
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `=`
    Assign,
    /// `+=`
    PlusAssign,
    /// `-=`
    MinusAssign,
    /// `*=`
    StarAssign,
    /// `/=`
    SlashAssign,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `~`
    Tilde,
    /// `!~`
    NotTilde,
    /// `!`
    Not,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `++`, `--`, `<<`, `>>`, `&`, `|`: lexed so that the parser can say they are not VCL.
    Other(&'static str),
    /// End of the token stream.
    Eof,
}

/// A token with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
}

// === impl Tok ===

impl Tok {
    /// How the token is named in "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Int(s) | Tok::Real(s) => format!("'{s}'"),
            Tok::Eof => "end of file".into(),
            other => format!("'{}'", other.punct()),
        }
    }

    /// The text of a punctuation token.
    pub fn punct(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Semi => ";",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Assign => "=",
            Tok::PlusAssign => "+=",
            Tok::MinusAssign => "-=",
            Tok::StarAssign => "*=",
            Tok::SlashAssign => "/=",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Tilde => "~",
            Tok::NotTilde => "!~",
            Tok::Not => "!",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Other(s) => s,
            Tok::Ident(_) | Tok::Str(_) | Tok::Int(_) | Tok::Real(_) | Tok::Eof => "",
        }
    }

    /// Whether this is the identifier `name`.
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(self, Tok::Ident(s) if s == name)
    }
}
