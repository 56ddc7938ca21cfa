//! The checked, typed program: the only thing the runtime sees.
//!
//! Every name is resolved to an index (backends, probes, ACLs, director objects, subroutines),
//! every variable to its [`Var`] row, every expression carries its type and every implicit
//! conversion is explicit. Regexes are compiled. Builtin VCL is already concatenated after the
//! user's code, and Varnish 3 director blocks are already lowered to vmod directors objects
//! created at the top of `vcl_init`. Nothing here needs the syntax tree or the source text.

use std::sync::Arc;

use crate::ast::AssignOp;
use crate::include::Version;
use crate::regex::VclRegex;
use crate::source::Span;
use crate::symbols::{ActionKind, Method, Var};
use crate::types::Type;
use crate::vmods::{DirectorKind, Func, ObjMethod};

/// Index into [`Program::backends`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackendId(pub u32);
/// Index into [`Program::probes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeId(pub u32);
/// Index into [`Program::acls`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AclId(pub u32);
/// Index into [`Program::objects`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjId(pub u32);
/// Index into [`Program::subs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubId(pub u32);
/// Index into [`Program::regexes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegexId(pub u32);

/// A checked VCL program.
#[derive(Clone, Debug)]
pub struct Program {
    /// The declared language version.
    pub version: Version,
    /// Backends in declaration order.
    pub backends: Vec<Backend>,
    /// Probes: named ones in declaration order, then inline ones.
    pub probes: Vec<Probe>,
    /// ACLs.
    pub acls: Vec<Acl>,
    /// Director objects (`new` and lowered Varnish 3 directors), in creation order.
    pub objects: Vec<Object>,
    /// Every subroutine: methods, builtin helpers and the user's.
    pub subs: Vec<Sub>,
    /// The subroutine that runs for each method, indexed by `Method as usize`.
    pub methods: Vec<SubId>,
    /// Compiled regexes.
    pub regexes: Vec<Arc<VclRegex>>,
    /// The initial `req.backend_hint`: the backend named `default`, else the first one.
    pub default_backend: BackendRef,
    /// The vmods it imports (by their own names, not aliases), sorted.
    pub imports: Vec<&'static str>,
    /// The labels its `return (vcl(LABEL))` name, sorted: the VCLs it depends on (a label it
    /// names cannot be discarded while it is loaded).
    pub returns_to: Vec<String>,
}

/// A backend.
#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Its address; `None` for `backend NAME none;`.
    pub endpoint: Option<Endpoint>,
    /// `.host_header`, or the `.host` string when absent.
    pub host_header: Option<String>,
    /// `.connect_timeout` in seconds.
    pub connect_timeout: Option<f64>,
    /// `.first_byte_timeout` in seconds.
    pub first_byte_timeout: Option<f64>,
    /// `.between_bytes_timeout` in seconds.
    pub between_bytes_timeout: Option<f64>,
    /// `.max_connections` (0 = unlimited).
    pub max_connections: u32,
    /// `.proxy_header` (1 or 2).
    pub proxy_header: Option<u8>,
    /// The probe (explicit, inline, or `probe default`).
    pub probe: Option<ProbeId>,
}

/// Where a backend lives.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// `.host` and `.port` as written; resolved when the program is loaded.
    Host {
        /// The host string (name or address, brackets removed).
        host: String,
        /// The port string (number or service name).
        port: String,
        /// The span of the `.host` value, for resolution errors.
        span: Span,
        /// Addresses found by the resolver at compile time, if one was given.
        resolved: Vec<std::net::SocketAddr>,
    },
    /// `.path`: a Unix socket.
    Path(String),
}

/// A health probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// Its name (`NAME` or `<backend>.probe` for inline ones).
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// The request: `.url` (built with the backend's Host at run time) or `.request` lines.
    pub request: ProbeRequest,
    /// `.expected_response`.
    pub expected_response: u16,
    /// `.timeout` in seconds.
    pub timeout: f64,
    /// `.interval` in seconds.
    pub interval: f64,
    /// `.window`.
    pub window: u32,
    /// `.threshold`.
    pub threshold: u32,
    /// `.initial` (already clamped to `threshold`).
    pub initial: u32,
}

/// What a probe sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeRequest {
    /// `GET <url> HTTP/1.1` with Host and `Connection: close`.
    Url(String),
    /// The literal lines, each to be followed by CRLF, then an empty line.
    Lines(Vec<String>),
}

/// An ACL.
#[derive(Clone, Debug, PartialEq)]
pub struct Acl {
    /// Its name.
    pub name: String,
    /// Its entries in order.
    pub entries: Vec<AclEntry>,
    /// `+pedantic` (Varnish 7.1's default; `-pedantic` turns it off): an entry with bits set
    /// beyond its mask is an error rather than a warning.
    pub pedantic: bool,
}

/// One ACL entry. Host names are resolved when the program is loaded; entries that resolve to
/// several addresses stand for each of them.
#[derive(Clone, Debug, PartialEq)]
pub struct AclEntry {
    /// `!`
    pub negated: bool,
    /// `( … )`: ignore when the name does not resolve.
    pub optional: bool,
    /// The address or name.
    pub addr: String,
    /// The mask length, if given.
    pub mask: Option<u32>,
    /// Where it is written.
    pub span: Span,
    /// Addresses found by the resolver at compile time, if one was given.
    pub resolved: Vec<std::net::IpAddr>,
}

/// A director object.
#[derive(Clone, Debug)]
pub struct Object {
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: DirectorKind,
    /// Constructor arguments in parameter order (`fallback(sticky)`).
    pub args: Vec<Option<Expr>>,
    /// Where it is created.
    pub span: Span,
    /// Whether it comes from a Varnish 3 `director` block.
    pub from_vcl3: bool,
}

/// A subroutine.
#[derive(Clone, Debug)]
pub struct Sub {
    /// Its name.
    pub name: String,
    /// The method it implements, if it is one of `vcl_*`.
    pub method: Option<Method>,
    /// Its statements: for methods and builtin helpers, the user's definitions in order, then
    /// the builtin's.
    pub body: Vec<Stmt>,
    /// Whether the user defined (part of) it.
    pub user_defined: bool,
}

/// A reference to something that can be a backend at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendRef {
    /// A declared backend.
    Backend(BackendId),
    /// A director object, resolved later (`.backend()` without a key).
    Director(ObjId),
    /// No backend.
    None,
}

/// A variable access.
#[derive(Clone, Debug, PartialEq)]
pub struct VarRef {
    /// The variable.
    pub var: Var,
    /// For header families, the header name as written (case kept).
    pub header: Option<Arc<str>>,
}

/// A statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `set`
    Set {
        /// The variable.
        var: VarRef,
        /// The operator; `+=` on strings appends.
        op: AssignOp,
        /// The value, already converted to the variable's type (STRING for headers and bodies).
        value: Expr,
        /// Where.
        span: Span,
    },
    /// `unset`
    Unset {
        /// The variable.
        var: VarRef,
        /// Where.
        span: Span,
    },
    /// `if`/`elseif`/`else`
    If {
        /// Conditions (BOOL) with their blocks.
        arms: Vec<(Expr, Vec<Stmt>)>,
        /// The `else` block (empty if none).
        otherwise: Vec<Stmt>,
    },
    /// `return`
    Return(Action, Span),
    /// `call`
    Call(SubId, Span),
    /// `new`: create the object.
    New(ObjId, Span),
    /// `synthetic(STRING)`
    Synthetic(Expr),
    /// `hash_data(STRING)`
    HashData(Expr),
    /// `ban(STRING)`
    Ban(Expr),
    /// A call for its effect.
    Eval(Expr),
}

/// A return action with its checked arguments.
#[derive(Clone, Debug)]
pub enum Action {
    /// `return;` in a user sub: leave the sub.
    Leave,
    /// Any table action; arguments are typed per [`crate::symbols::ACTIONS`].
    Act(ActionKind, Vec<Expr>),
    /// `return (vcl(LABEL))`.
    Vcl(String),
}

/// A typed expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its type.
    pub ty: Type,
    /// Where it is written.
    pub span: Span,
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
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
}

/// Expression kinds.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A STRING literal.
    Str(Arc<str>),
    /// An INT literal.
    Int(i64),
    /// A REAL literal.
    Real(f64),
    /// A DURATION literal, in seconds.
    Duration(f64),
    /// A BYTES literal.
    Bytes(u64),
    /// A BOOL literal.
    Bool(bool),
    /// An IP literal (a constant string where an IP is wanted, as in `std.ip(x, "0.0.0.0")`).
    Ip(std::net::IpAddr),
    /// A variable read.
    Var(VarRef),
    /// A backend, director or none.
    Backend(BackendRef),
    /// String concatenation; every part is STRING-typed (unset headers count as "").
    Concat(Vec<Expr>),
    /// A value turned into text (spec §1.5 "Stringification"); the inner type tells how.
    ToString(Box<Expr>),
    /// A value's truth (spec §1.5 "Truthiness").
    ToBool(Box<Expr>),
    /// INT widened to REAL.
    IntToReal(Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `!`
    Not(Box<Expr>),
    /// `&&`
    And(Box<Expr>, Box<Expr>),
    /// `||`
    Or(Box<Expr>, Box<Expr>),
    /// Arithmetic; operand types are those of the sub-expressions.
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// Comparison of two values of the same type (strings byte-wise).
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `STRING ~ REGEX` (or `!~` when negated).
    Match {
        /// The subject.
        subject: Box<Expr>,
        /// The regex.
        regex: RegexId,
        /// `!~`
        negated: bool,
    },
    /// `IP ~ ACL` (or `!~`).
    AclMatch {
        /// The address.
        ip: Box<Expr>,
        /// The ACL.
        acl: AclId,
        /// `!~`
        negated: bool,
    },
    /// A function call; arguments are in parameter order, `None` where left out without a
    /// default. For `regsub`/`regsuball` the regex argument is `RegexRef`.
    Call(Func, Vec<Option<Expr>>),
    /// The compiled regex argument of `regsub`/`regsuball`.
    RegexRef(RegexId),
    /// A probe named as an argument (`etcd.director(probe = p)`).
    Probe(ProbeId),
    /// A director method call.
    Method(ObjId, ObjMethod, Vec<Option<Expr>>),
}

// === impl Program ===

impl Program {
    /// The subroutine run for a method.
    pub fn method(&self, method: Method) -> &Sub {
        &self.subs[self.methods[method as usize].0 as usize]
    }

    /// The backend with an id.
    pub fn backend(&self, id: BackendId) -> &Backend {
        &self.backends[id.0 as usize]
    }

    /// A backend by name.
    pub fn backend_by_name(&self, name: &str) -> Option<BackendId> {
        self.backends.iter().position(|b| b.name == name).map(|i| BackendId(i as u32))
    }

    /// A subroutine by name.
    pub fn sub_by_name(&self, name: &str) -> Option<&Sub> {
        self.subs.iter().find(|s| s.name == name)
    }
}
