//! THE table: VCL's subroutines, their legal return actions, and every variable with its type and
//! where it may be read, written and unset (spec §1.7, §1.8).
//!
//! The checker reads it to accept or reject a program; the engine reads the same [`Method`],
//! [`ActionKind`] and [`Var`] values to run it, so the two cannot disagree. Nothing else in the
//! code base lists subroutines, actions or variables.

mod variables;

pub use variables::{lookup_var, var_def, Availability, Var, VarDef, VARIABLES};

use crate::types::Type;

/// A builtin subroutine (a step of the request state machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `vcl_recv`
    Recv,
    /// `vcl_pipe`
    Pipe,
    /// `vcl_pass`
    Pass,
    /// `vcl_hash`
    Hash,
    /// `vcl_purge`
    Purge,
    /// `vcl_hit`
    Hit,
    /// `vcl_miss`
    Miss,
    /// `vcl_deliver`
    Deliver,
    /// `vcl_synth`
    Synth,
    /// `vcl_backend_fetch`
    BackendFetch,
    /// `vcl_backend_response`
    BackendResponse,
    /// `vcl_backend_error`
    BackendError,
    /// `vcl_init`
    Init,
    /// `vcl_fini`
    Fini,
}

/// A set of methods, one bit each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Mask(pub u16);

/// A return action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// `hash`: go to lookup.
    Hash,
    /// `pass`, or `pass(DURATION)` in `vcl_backend_response` (hit-for-pass).
    Pass,
    /// `pipe`
    Pipe,
    /// `purge`
    Purge,
    /// `synth(STATUS[, REASON])`
    Synth,
    /// `restart`
    Restart,
    /// `vcl(LABEL)`
    Vcl,
    /// `fail`
    Fail,
    /// `fetch`
    Fetch,
    /// `lookup`
    Lookup,
    /// `deliver`
    Deliver,
    /// `miss`: only in `vcl_hit`, a compatibility extension (treated as a miss).
    Miss,
    /// `error([STATUS[, REASON]])`
    Error,
    /// `abandon`
    Abandon,
    /// `retry`
    Retry,
    /// `ok`
    Ok,
}

/// One builtin subroutine's row.
#[derive(Debug)]
pub struct MethodDef {
    /// The method.
    pub method: Method,
    /// Its VCL name.
    pub name: &'static str,
    /// The legal return actions; the first is what the builtin VCL returns.
    pub actions: &'static [ActionKind],
}

/// One return action's row: its name and arguments.
#[derive(Debug)]
pub struct ActionDef {
    /// The action.
    pub kind: ActionKind,
    /// Its VCL name.
    pub name: &'static str,
    /// Argument types; the count before `required` must be given.
    pub args: &'static [Type],
    /// How many arguments are required when parentheses are written.
    pub required: usize,
}

// === masks ===

pub(crate) const fn m(methods: &[Method]) -> Mask {
    let mut bits = 0u16;
    let mut i = 0;
    while i < methods.len() {
        bits |= 1 << methods[i] as u16;
        i += 1;
    }
    Mask(bits)
}

use Method as M;

/// No method.
pub const NONE: Mask = Mask(0);
/// The client-side methods.
pub const CLIENT: Mask = m(&[M::Recv, M::Pipe, M::Pass, M::Hash, M::Purge, M::Hit, M::Miss, M::Deliver, M::Synth]);
/// The backend-side methods.
pub const BACKEND: Mask = m(&[M::BackendFetch, M::BackendResponse, M::BackendError]);
/// `vcl_init` and `vcl_fini`.
pub const HOUSEKEEPING: Mask = m(&[M::Init, M::Fini]);
/// Every method.
pub const ALL: Mask = Mask(CLIENT.0 | BACKEND.0 | HOUSEKEEPING.0);
/// Client and backend methods (everything a request runs).
pub const TASK: Mask = Mask(CLIENT.0 | BACKEND.0);
pub(crate) const BERESP: Mask = m(&[M::BackendResponse, M::BackendError]);
pub(crate) const PIPE_BACKEND: Mask = Mask(BACKEND.0 | m(&[M::Pipe]).0);
pub(crate) const RESP: Mask = m(&[M::Deliver, M::Synth]);
pub(crate) const OBJ: Mask = m(&[M::Hit, M::Deliver]);

// === the subroutine table ===

use ActionKind as A;

/// Every builtin subroutine with its legal actions (spec §1.7), in state-machine order.
pub const METHODS: &[MethodDef] = &[
    MethodDef {
        method: M::Recv,
        name: "vcl_recv",
        actions: &[A::Hash, A::Pass, A::Pipe, A::Purge, A::Synth, A::Restart, A::Vcl, A::Fail],
    },
    MethodDef { method: M::Pipe, name: "vcl_pipe", actions: &[A::Pipe, A::Synth, A::Fail] },
    MethodDef { method: M::Pass, name: "vcl_pass", actions: &[A::Fetch, A::Synth, A::Restart, A::Fail] },
    MethodDef { method: M::Hash, name: "vcl_hash", actions: &[A::Lookup, A::Fail] },
    MethodDef { method: M::Purge, name: "vcl_purge", actions: &[A::Synth, A::Restart, A::Fail] },
    MethodDef {
        method: M::Hit,
        name: "vcl_hit",
        actions: &[A::Deliver, A::Pass, A::Synth, A::Restart, A::Fail, A::Miss],
    },
    MethodDef { method: M::Miss, name: "vcl_miss", actions: &[A::Fetch, A::Pass, A::Synth, A::Restart, A::Fail] },
    MethodDef { method: M::Deliver, name: "vcl_deliver", actions: &[A::Deliver, A::Synth, A::Restart, A::Fail] },
    MethodDef { method: M::Synth, name: "vcl_synth", actions: &[A::Deliver, A::Restart, A::Fail] },
    MethodDef {
        method: M::BackendFetch,
        name: "vcl_backend_fetch",
        actions: &[A::Fetch, A::Error, A::Abandon, A::Fail],
    },
    MethodDef {
        method: M::BackendResponse,
        name: "vcl_backend_response",
        actions: &[A::Deliver, A::Retry, A::Pass, A::Error, A::Abandon, A::Fail],
    },
    MethodDef {
        method: M::BackendError,
        name: "vcl_backend_error",
        actions: &[A::Deliver, A::Retry, A::Abandon, A::Fail],
    },
    MethodDef { method: M::Init, name: "vcl_init", actions: &[A::Ok, A::Fail] },
    MethodDef { method: M::Fini, name: "vcl_fini", actions: &[A::Ok] },
];

/// Every return action with its arguments.
pub const ACTIONS: &[ActionDef] = &[
    ActionDef { kind: A::Hash, name: "hash", args: &[], required: 0 },
    ActionDef { kind: A::Pass, name: "pass", args: &[Type::Duration], required: 1 },
    ActionDef { kind: A::Pipe, name: "pipe", args: &[], required: 0 },
    ActionDef { kind: A::Purge, name: "purge", args: &[], required: 0 },
    ActionDef { kind: A::Synth, name: "synth", args: &[Type::Int, Type::String], required: 1 },
    ActionDef { kind: A::Restart, name: "restart", args: &[], required: 0 },
    ActionDef { kind: A::Vcl, name: "vcl", args: &[Type::String], required: 1 },
    ActionDef { kind: A::Fail, name: "fail", args: &[Type::String], required: 0 },
    ActionDef { kind: A::Fetch, name: "fetch", args: &[], required: 0 },
    ActionDef { kind: A::Lookup, name: "lookup", args: &[], required: 0 },
    ActionDef { kind: A::Deliver, name: "deliver", args: &[], required: 0 },
    ActionDef { kind: A::Miss, name: "miss", args: &[], required: 0 },
    ActionDef { kind: A::Error, name: "error", args: &[Type::Int, Type::String], required: 0 },
    ActionDef { kind: A::Abandon, name: "abandon", args: &[], required: 0 },
    ActionDef { kind: A::Retry, name: "retry", args: &[], required: 0 },
    ActionDef { kind: A::Ok, name: "ok", args: &[], required: 0 },
];

/// Name roots that belong to variables and may not name backends, ACLs, subs or objects.
pub const RESERVED_ROOTS: &[&str] = &[
    "client", "server", "remote", "local", "now", "sess", "req", "bereq", "beresp", "obj", "resp", "storage", "true",
    "false",
];

// === lookups ===

/// The row of a method by VCL name.
pub fn method_by_name(name: &str) -> Option<&'static MethodDef> {
    METHODS.iter().find(|d| d.name == name)
}

/// The row of a method.
pub fn method_def(method: Method) -> &'static MethodDef {
    &METHODS[method as usize]
}

/// The row of an action by VCL name.
pub fn action_by_name(name: &str) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|d| d.name == name)
}

/// The row of an action.
pub fn action_def(kind: ActionKind) -> &'static ActionDef {
    ACTIONS.iter().find(|d| d.kind == kind).unwrap_or(&ACTIONS[0])
}

/// The methods in which an action is legal.
pub fn action_mask(kind: ActionKind) -> Mask {
    let mut mask = NONE;
    for d in METHODS {
        if d.actions.contains(&kind) {
            mask = mask.with(d.method);
        }
    }
    mask
}

// === impl Mask ===

impl Mask {
    /// The mask with one more method.
    pub const fn with(self, method: Method) -> Mask {
        Mask(self.0 | 1 << method as u16)
    }

    /// Whether the method is in the set.
    pub fn contains(self, method: Method) -> bool {
        self.0 & (1 << method as u16) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The methods in the set, in table order.
    pub fn methods(self) -> impl Iterator<Item = Method> {
        METHODS.iter().map(|d| d.method).filter(move |m| self.contains(*m))
    }

    /// The names of the methods in the set, joined with ", ".
    pub fn names(self) -> String {
        let names: Vec<_> = self.methods().map(|m| method_def(m).name).collect();
        if names.is_empty() {
            "no subroutine".into()
        } else {
            names.join(", ")
        }
    }
}

// === impl Method ===

impl Method {
    /// The VCL name.
    pub fn name(self) -> &'static str {
        method_def(self).name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_indexed_by_their_enum() {
        for (i, d) in METHODS.iter().enumerate() {
            assert_eq!(d.method as usize, i);
        }
    }

    #[test]
    fn headers_resolve_with_their_name() {
        let (d, h) = lookup_var("req.http.X-Forwarded-For").unwrap();
        assert_eq!(d.var, Var::ReqHttp);
        assert_eq!(h, Some("X-Forwarded-For"));
        assert!(lookup_var("req.http.").is_none());
        assert_eq!(lookup_var("beresp.backend.name").unwrap().0.var, Var::BerespBackendName);
    }

    #[test]
    fn every_action_has_a_row_and_is_legal_somewhere() {
        for d in METHODS {
            for a in d.actions {
                assert_eq!(action_def(*a).kind, *a);
            }
        }
        for a in ACTIONS {
            assert!(!action_mask(a.kind).is_empty(), "{}", a.name);
        }
    }
}
