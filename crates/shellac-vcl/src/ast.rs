//! The syntax tree: what the parser read, with a span on every node, before any name is resolved
//! or any type is known. The checker turns it into the IR ([`crate::ir`]).

use crate::source::Span;

/// A name as written, with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The text (possibly dotted).
    pub name: String,
    /// Where it stands.
    pub span: Span,
    /// Its last part was written as a string: `req.http."X-Name"` (VCL 4.1).
    pub quoted: bool,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    /// `backend NAME { … }` or `backend NAME none;`
    Backend(BackendDecl),
    /// `probe NAME { … }`
    Probe(ProbeDecl),
    /// `acl NAME { … }`
    Acl(AclDecl),
    /// `sub NAME { … }`
    Sub(SubDecl),
    /// `import NAME [as ALIAS] [from "path"];`
    Import(ImportDecl),
    /// Varnish 3 `director NAME POLICY { … }` (compatibility extension).
    Director(DirectorDecl),
}

/// A backend declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendDecl {
    /// Its name.
    pub name: Ident,
    /// Its fields; `None` for `backend NAME none;`.
    pub fields: Option<Vec<Field>>,
}

/// A probe declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeDecl {
    /// Its name.
    pub name: Ident,
    /// Its fields.
    pub fields: Vec<Field>,
}

/// A `.name = value;` line of a backend, probe or director member.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name without the dot.
    pub name: Ident,
    /// The value.
    pub value: FieldValue,
    /// The whole field.
    pub span: Span,
}

/// The value of a field, still untyped.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// One or more adjacent string literals.
    Strings(Vec<(String, Span)>),
    /// A number with optional sign and unit: `5s`, `-1`, `1.5`, `64KB`.
    Number(NumberLit),
    /// A name (`default`, a probe's or backend's name).
    Ident(Ident),
    /// A `{ … }` block of fields (an inline probe or backend).
    Block(Vec<Field>, Span),
}

/// A numeric literal, unit included.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberLit {
    /// Whether a `-` preceded it.
    pub negative: bool,
    /// The digits as written (`10`, `1.5`).
    pub text: String,
    /// Whether it had a fraction.
    pub is_real: bool,
    /// The unit, if any (`s`, `KB`).
    pub unit: Option<Ident>,
    /// The whole literal.
    pub span: Span,
}

/// An ACL.
#[derive(Clone, Debug, PartialEq)]
pub struct AclDecl {
    /// Its name.
    pub name: Ident,
    /// Its flags (`+log`, `-pedantic`…), accepted and recorded.
    pub flags: Vec<Ident>,
    /// Its entries in order.
    pub entries: Vec<AclEntry>,
}

/// One ACL line: `[!] ["(" ] "addr" [")"] [/ mask];`
#[derive(Clone, Debug, PartialEq)]
pub struct AclEntry {
    /// `!` excludes.
    pub negated: bool,
    /// `( … )`: skip when the name does not resolve.
    pub optional: bool,
    /// The address or host name.
    pub addr: String,
    /// The mask length, if given.
    pub mask: Option<(u32, Span)>,
    /// The whole entry.
    pub span: Span,
    /// The address string alone.
    pub addr_span: Span,
}

/// A subroutine definition.
#[derive(Clone, Debug, PartialEq)]
pub struct SubDecl {
    /// Its name.
    pub name: Ident,
    /// Its body.
    pub body: Vec<Stmt>,
    /// From the `sub` keyword to the closing brace.
    pub span: Span,
}

/// An import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportDecl {
    /// The vmod name.
    pub vmod: Ident,
    /// `as ALIAS`.
    pub alias: Option<Ident>,
}

/// A Varnish 3 director block.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectorDecl {
    /// Its name.
    pub name: Ident,
    /// `round-robin`, `random`, `client`, `hash`, `fallback`, `dns`.
    pub policy: Ident,
    /// Fields of the director itself (`.retries`, `.quorum`).
    pub fields: Vec<Field>,
    /// Each `{ .backend = …; .weight = …; }` member, as its fields.
    pub members: Vec<(Vec<Field>, Span)>,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// Assignment operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
}

/// Statement kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `set TARGET OP EXPR;`
    Set {
        /// The variable.
        target: Ident,
        /// The operator.
        op: AssignOp,
        /// Its span.
        op_span: Span,
        /// The value.
        value: Expr,
    },
    /// `unset TARGET;`
    Unset(Ident),
    /// `if (…) {…} elseif (…) {…} else {…}`
    If {
        /// Each condition with its block.
        arms: Vec<(Expr, Vec<Stmt>)>,
        /// The `else` block.
        otherwise: Option<Vec<Stmt>>,
    },
    /// `return;` or `return (ACTION[(ARGS)]);`
    Return(Option<ReturnAction>),
    /// `call NAME;`
    Call(Ident),
    /// `new NAME = vmod.object(ARGS);`
    New {
        /// The object's name.
        name: Ident,
        /// The constructor call.
        ctor: Expr,
    },
    /// `synthetic(EXPR);`
    Synthetic(Expr),
    /// `hash_data(EXPR);`
    HashData(Expr),
    /// `ban(EXPR);`
    Ban(Expr),
    /// A function or method call used as a statement.
    Eval(Expr),
    /// A nested `{ … }` block.
    Block(Vec<Stmt>),
}

/// The action of a `return`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnAction {
    /// Its name (`pass`, `synth`…).
    pub name: Ident,
    /// Arguments, when written with parentheses.
    pub args: Vec<Expr>,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// Binary operators, by precedence class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
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
    Match,
    /// `!~`
    NotMatch,
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

/// Expression kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A string literal.
    Str(String),
    /// A number, possibly with a unit (duration, bytes).
    Number(NumberLit),
    /// A name: variable, backend, ACL, object, `true`/`false`. A quoted header name
    /// (`req.http."x.y"`) is joined onto the path.
    Path(Ident),
    /// `callee(args)`
    Call {
        /// The function or method name.
        callee: Ident,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `!e`
    Not(Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
    /// `l OP r`
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// A call argument, possibly named.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `name = …`
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Match => "~",
            BinOp::NotMatch => "!~",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}
