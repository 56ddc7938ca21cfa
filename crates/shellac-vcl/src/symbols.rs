//! THE table: VCL's subroutines, their legal return actions, and every variable with its type and
//! where it may be read, written and unset (spec §1.7, §1.8).
//!
//! The checker reads it to accept or reject a program; the engine reads the same [`Method`],
//! [`ActionKind`] and [`Var`] values to run it, so the two cannot disagree. Nothing else in the
//! code base lists subroutines, actions or variables.

use crate::include::Version;
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

/// How a variable depends on the VCL version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// In 4.0 and 4.1.
    Always,
    /// Only in `vcl 4.1`.
    Since41,
    /// Only in `vcl 4.0`.
    Only40,
    /// Readable always, writable only in `vcl 4.0`.
    WritableIn40,
}

/// A variable (or, for `*.http.`, a family of header variables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    #[allow(missing_docs)]
    ClientIp,
    #[allow(missing_docs)]
    ClientIdentity,
    #[allow(missing_docs)]
    ServerIp,
    #[allow(missing_docs)]
    ServerHostname,
    #[allow(missing_docs)]
    ServerIdentity,
    #[allow(missing_docs)]
    RemoteIp,
    #[allow(missing_docs)]
    LocalIp,
    #[allow(missing_docs)]
    LocalEndpoint,
    #[allow(missing_docs)]
    LocalSocket,
    #[allow(missing_docs)]
    Now,
    #[allow(missing_docs)]
    SessXid,
    #[allow(missing_docs)]
    ReqUrl,
    #[allow(missing_docs)]
    ReqMethod,
    #[allow(missing_docs)]
    ReqProto,
    #[allow(missing_docs)]
    ReqHttp,
    #[allow(missing_docs)]
    ReqBackendHint,
    #[allow(missing_docs)]
    ReqRestarts,
    #[allow(missing_docs)]
    ReqEsiLevel,
    #[allow(missing_docs)]
    ReqXid,
    #[allow(missing_docs)]
    ReqCanGzip,
    #[allow(missing_docs)]
    ReqIsHitmiss,
    #[allow(missing_docs)]
    ReqIsHitpass,
    #[allow(missing_docs)]
    ReqTime,
    #[allow(missing_docs)]
    ReqTransport,
    #[allow(missing_docs)]
    ReqTtl,
    #[allow(missing_docs)]
    ReqGrace,
    #[allow(missing_docs)]
    ReqHashAlwaysMiss,
    #[allow(missing_docs)]
    ReqHashIgnoreBusy,
    #[allow(missing_docs)]
    ReqHashIgnoreVary,
    #[allow(missing_docs)]
    ReqHash,
    #[allow(missing_docs)]
    ReqEsi,
    #[allow(missing_docs)]
    BereqUrl,
    #[allow(missing_docs)]
    BereqMethod,
    #[allow(missing_docs)]
    BereqProto,
    #[allow(missing_docs)]
    BereqHttp,
    #[allow(missing_docs)]
    BereqBackend,
    #[allow(missing_docs)]
    BereqConnectTimeout,
    #[allow(missing_docs)]
    BereqFirstByteTimeout,
    #[allow(missing_docs)]
    BereqBetweenBytesTimeout,
    #[allow(missing_docs)]
    BereqRetries,
    #[allow(missing_docs)]
    BereqUncacheable,
    #[allow(missing_docs)]
    BereqIsBgfetch,
    #[allow(missing_docs)]
    BereqXid,
    #[allow(missing_docs)]
    BereqIsHitmiss,
    #[allow(missing_docs)]
    BereqIsHitpass,
    #[allow(missing_docs)]
    BereqBody,
    #[allow(missing_docs)]
    BereqTime,
    #[allow(missing_docs)]
    BerespStatus,
    #[allow(missing_docs)]
    BerespReason,
    #[allow(missing_docs)]
    BerespProto,
    #[allow(missing_docs)]
    BerespHttp,
    #[allow(missing_docs)]
    BerespTtl,
    #[allow(missing_docs)]
    BerespGrace,
    #[allow(missing_docs)]
    BerespKeep,
    #[allow(missing_docs)]
    BerespUncacheable,
    #[allow(missing_docs)]
    BerespDoStream,
    #[allow(missing_docs)]
    BerespDoGzip,
    #[allow(missing_docs)]
    BerespDoGunzip,
    #[allow(missing_docs)]
    BerespDoEsi,
    #[allow(missing_docs)]
    BerespAge,
    #[allow(missing_docs)]
    BerespBackend,
    #[allow(missing_docs)]
    BerespBackendName,
    #[allow(missing_docs)]
    BerespBackendIp,
    #[allow(missing_docs)]
    BerespWas304,
    #[allow(missing_docs)]
    BerespTime,
    #[allow(missing_docs)]
    BerespBody,
    #[allow(missing_docs)]
    BerespStorageHint,
    #[allow(missing_docs)]
    ObjTtl,
    #[allow(missing_docs)]
    ObjGrace,
    #[allow(missing_docs)]
    ObjKeep,
    #[allow(missing_docs)]
    ObjAge,
    #[allow(missing_docs)]
    ObjHits,
    #[allow(missing_docs)]
    ObjTime,
    #[allow(missing_docs)]
    ObjCanEsi,
    #[allow(missing_docs)]
    ObjStatus,
    #[allow(missing_docs)]
    ObjReason,
    #[allow(missing_docs)]
    ObjProto,
    #[allow(missing_docs)]
    ObjHttp,
    #[allow(missing_docs)]
    ObjUncacheable,
    #[allow(missing_docs)]
    RespStatus,
    #[allow(missing_docs)]
    RespReason,
    #[allow(missing_docs)]
    RespProto,
    #[allow(missing_docs)]
    RespHttp,
    #[allow(missing_docs)]
    RespBody,
    #[allow(missing_docs)]
    RespIsStreaming,
    #[allow(missing_docs)]
    RespTime,
}

/// One variable's row.
#[derive(Debug)]
pub struct VarDef {
    /// The name; for header families the prefix ending in `.http.`.
    pub name: &'static str,
    /// The variable.
    pub var: Var,
    /// Its type ([`Type::Header`] for header families).
    pub ty: Type,
    /// Where it may be read.
    pub read: Mask,
    /// Where it may be set.
    pub write: Mask,
    /// Where it may be unset.
    pub unset: Mask,
    /// Version restrictions.
    pub availability: Availability,
}

// === masks ===

const fn m(methods: &[Method]) -> Mask {
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
pub const CLIENT: Mask = m(&[
    M::Recv,
    M::Pipe,
    M::Pass,
    M::Hash,
    M::Purge,
    M::Hit,
    M::Miss,
    M::Deliver,
    M::Synth,
]);
/// The backend-side methods.
pub const BACKEND: Mask = m(&[M::BackendFetch, M::BackendResponse, M::BackendError]);
/// `vcl_init` and `vcl_fini`.
pub const HOUSEKEEPING: Mask = m(&[M::Init, M::Fini]);
/// Every method.
pub const ALL: Mask = Mask(CLIENT.0 | BACKEND.0 | HOUSEKEEPING.0);
/// Client and backend methods (everything a request runs).
pub const TASK: Mask = Mask(CLIENT.0 | BACKEND.0);
const BERESP: Mask = m(&[M::BackendResponse, M::BackendError]);
const PIPE_BACKEND: Mask = Mask(BACKEND.0 | m(&[M::Pipe]).0);
const RESP: Mask = m(&[M::Deliver, M::Synth]);
const OBJ: Mask = m(&[M::Hit, M::Deliver]);

// === the subroutine table ===

use ActionKind as A;

/// Every builtin subroutine with its legal actions (spec §1.7), in state-machine order.
pub const METHODS: &[MethodDef] = &[
    MethodDef {
        method: M::Recv,
        name: "vcl_recv",
        actions: &[
            A::Hash,
            A::Pass,
            A::Pipe,
            A::Purge,
            A::Synth,
            A::Restart,
            A::Vcl,
            A::Fail,
        ],
    },
    MethodDef {
        method: M::Pipe,
        name: "vcl_pipe",
        actions: &[A::Pipe, A::Synth, A::Fail],
    },
    MethodDef {
        method: M::Pass,
        name: "vcl_pass",
        actions: &[A::Fetch, A::Synth, A::Restart, A::Fail],
    },
    MethodDef {
        method: M::Hash,
        name: "vcl_hash",
        actions: &[A::Lookup, A::Fail],
    },
    MethodDef {
        method: M::Purge,
        name: "vcl_purge",
        actions: &[A::Synth, A::Restart, A::Fail],
    },
    MethodDef {
        method: M::Hit,
        name: "vcl_hit",
        actions: &[A::Deliver, A::Pass, A::Synth, A::Restart, A::Fail, A::Miss],
    },
    MethodDef {
        method: M::Miss,
        name: "vcl_miss",
        actions: &[A::Fetch, A::Pass, A::Synth, A::Restart, A::Fail],
    },
    MethodDef {
        method: M::Deliver,
        name: "vcl_deliver",
        actions: &[A::Deliver, A::Synth, A::Restart, A::Fail],
    },
    MethodDef {
        method: M::Synth,
        name: "vcl_synth",
        actions: &[A::Deliver, A::Restart, A::Fail],
    },
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
    MethodDef {
        method: M::Init,
        name: "vcl_init",
        actions: &[A::Ok, A::Fail],
    },
    MethodDef {
        method: M::Fini,
        name: "vcl_fini",
        actions: &[A::Ok],
    },
];

/// Every return action with its arguments.
pub const ACTIONS: &[ActionDef] = &[
    ActionDef {
        kind: A::Hash,
        name: "hash",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Pass,
        name: "pass",
        args: &[Type::Duration],
        required: 1,
    },
    ActionDef {
        kind: A::Pipe,
        name: "pipe",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Purge,
        name: "purge",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Synth,
        name: "synth",
        args: &[Type::Int, Type::String],
        required: 1,
    },
    ActionDef {
        kind: A::Restart,
        name: "restart",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Vcl,
        name: "vcl",
        args: &[Type::String],
        required: 1,
    },
    ActionDef {
        kind: A::Fail,
        name: "fail",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Fetch,
        name: "fetch",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Lookup,
        name: "lookup",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Deliver,
        name: "deliver",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Miss,
        name: "miss",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Error,
        name: "error",
        args: &[Type::Int, Type::String],
        required: 0,
    },
    ActionDef {
        kind: A::Abandon,
        name: "abandon",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Retry,
        name: "retry",
        args: &[],
        required: 0,
    },
    ActionDef {
        kind: A::Ok,
        name: "ok",
        args: &[],
        required: 0,
    },
];

// === the variable table ===

const fn v(name: &'static str, var: Var, ty: Type, read: Mask, write: Mask, unset: Mask) -> VarDef {
    VarDef {
        name,
        var,
        ty,
        read,
        write,
        unset,
        availability: Availability::Always,
    }
}

const fn since41(mut d: VarDef) -> VarDef {
    d.availability = Availability::Since41;
    d
}

const fn only40(mut d: VarDef) -> VarDef {
    d.availability = Availability::Only40;
    d
}

const fn writable40(mut d: VarDef) -> VarDef {
    d.availability = Availability::WritableIn40;
    d
}

use Type as T;
use Var as V;

/// Every variable (spec §1.8). Header families end in `.http.`.
pub const VARIABLES: &[VarDef] = &[
    v("client.ip", V::ClientIp, T::Ip, TASK, NONE, NONE),
    v(
        "client.identity",
        V::ClientIdentity,
        T::String,
        TASK,
        CLIENT,
        NONE,
    ),
    v("server.ip", V::ServerIp, T::Ip, TASK, NONE, NONE),
    v(
        "server.hostname",
        V::ServerHostname,
        T::String,
        ALL,
        NONE,
        NONE,
    ),
    v(
        "server.identity",
        V::ServerIdentity,
        T::String,
        ALL,
        NONE,
        NONE,
    ),
    v("remote.ip", V::RemoteIp, T::Ip, TASK, NONE, NONE),
    v("local.ip", V::LocalIp, T::Ip, TASK, NONE, NONE),
    since41(v(
        "local.endpoint",
        V::LocalEndpoint,
        T::String,
        TASK,
        NONE,
        NONE,
    )),
    since41(v(
        "local.socket",
        V::LocalSocket,
        T::String,
        TASK,
        NONE,
        NONE,
    )),
    v("now", V::Now, T::Time, ALL, NONE, NONE),
    since41(v("sess.xid", V::SessXid, T::String, TASK, NONE, NONE)),
    v("req.url", V::ReqUrl, T::String, CLIENT, CLIENT, NONE),
    v("req.method", V::ReqMethod, T::String, CLIENT, CLIENT, NONE),
    writable40(v("req.proto", V::ReqProto, T::String, CLIENT, CLIENT, NONE)),
    v("req.http.", V::ReqHttp, T::Header, CLIENT, CLIENT, CLIENT),
    v(
        "req.backend_hint",
        V::ReqBackendHint,
        T::Backend,
        CLIENT,
        CLIENT,
        NONE,
    ),
    v("req.restarts", V::ReqRestarts, T::Int, CLIENT, NONE, NONE),
    v("req.esi_level", V::ReqEsiLevel, T::Int, CLIENT, NONE, NONE),
    v("req.xid", V::ReqXid, T::String, CLIENT, NONE, NONE),
    v("req.can_gzip", V::ReqCanGzip, T::Bool, CLIENT, NONE, NONE),
    v(
        "req.is_hitmiss",
        V::ReqIsHitmiss,
        T::Bool,
        CLIENT,
        NONE,
        NONE,
    ),
    v(
        "req.is_hitpass",
        V::ReqIsHitpass,
        T::Bool,
        CLIENT,
        NONE,
        NONE,
    ),
    v("req.time", V::ReqTime, T::Time, CLIENT, NONE, NONE),
    v(
        "req.transport",
        V::ReqTransport,
        T::String,
        CLIENT,
        NONE,
        NONE,
    ),
    v("req.ttl", V::ReqTtl, T::Duration, CLIENT, CLIENT, CLIENT),
    v(
        "req.grace",
        V::ReqGrace,
        T::Duration,
        CLIENT,
        CLIENT,
        CLIENT,
    ),
    v(
        "req.hash_always_miss",
        V::ReqHashAlwaysMiss,
        T::Bool,
        CLIENT,
        m(&[M::Recv]),
        NONE,
    ),
    v(
        "req.hash_ignore_busy",
        V::ReqHashIgnoreBusy,
        T::Bool,
        CLIENT,
        m(&[M::Recv]),
        NONE,
    ),
    v(
        "req.hash_ignore_vary",
        V::ReqHashIgnoreVary,
        T::Bool,
        CLIENT,
        CLIENT,
        NONE,
    ),
    v(
        "req.hash",
        V::ReqHash,
        T::Blob,
        m(&[M::Hit, M::Miss, M::Pass, M::Purge, M::Deliver]),
        NONE,
        NONE,
    ),
    only40(v("req.esi", V::ReqEsi, T::Bool, CLIENT, CLIENT, NONE)),
    v(
        "bereq.url",
        V::BereqUrl,
        T::String,
        PIPE_BACKEND,
        PIPE_BACKEND,
        NONE,
    ),
    v(
        "bereq.method",
        V::BereqMethod,
        T::String,
        PIPE_BACKEND,
        PIPE_BACKEND,
        NONE,
    ),
    writable40(v(
        "bereq.proto",
        V::BereqProto,
        T::String,
        PIPE_BACKEND,
        PIPE_BACKEND,
        NONE,
    )),
    v(
        "bereq.http.",
        V::BereqHttp,
        T::Header,
        PIPE_BACKEND,
        PIPE_BACKEND,
        PIPE_BACKEND,
    ),
    v(
        "bereq.backend",
        V::BereqBackend,
        T::Backend,
        PIPE_BACKEND,
        PIPE_BACKEND,
        NONE,
    ),
    v(
        "bereq.connect_timeout",
        V::BereqConnectTimeout,
        T::Duration,
        PIPE_BACKEND,
        PIPE_BACKEND,
        NONE,
    ),
    v(
        "bereq.first_byte_timeout",
        V::BereqFirstByteTimeout,
        T::Duration,
        BACKEND,
        BACKEND,
        NONE,
    ),
    v(
        "bereq.between_bytes_timeout",
        V::BereqBetweenBytesTimeout,
        T::Duration,
        BACKEND,
        BACKEND,
        NONE,
    ),
    v(
        "bereq.retries",
        V::BereqRetries,
        T::Int,
        BACKEND,
        NONE,
        NONE,
    ),
    v(
        "bereq.uncacheable",
        V::BereqUncacheable,
        T::Bool,
        BACKEND,
        NONE,
        NONE,
    ),
    v(
        "bereq.is_bgfetch",
        V::BereqIsBgfetch,
        T::Bool,
        BACKEND,
        NONE,
        NONE,
    ),
    v("bereq.xid", V::BereqXid, T::String, BACKEND, NONE, NONE),
    v(
        "bereq.is_hitmiss",
        V::BereqIsHitmiss,
        T::Bool,
        BACKEND,
        NONE,
        NONE,
    ),
    v(
        "bereq.is_hitpass",
        V::BereqIsHitpass,
        T::Bool,
        BACKEND,
        NONE,
        NONE,
    ),
    v(
        "bereq.body",
        V::BereqBody,
        T::Body,
        NONE,
        NONE,
        m(&[M::BackendFetch]),
    ),
    v("bereq.time", V::BereqTime, T::Time, BACKEND, NONE, NONE),
    v(
        "beresp.status",
        V::BerespStatus,
        T::Int,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.reason",
        V::BerespReason,
        T::String,
        BERESP,
        BERESP,
        NONE,
    ),
    writable40(v(
        "beresp.proto",
        V::BerespProto,
        T::String,
        BERESP,
        BERESP,
        NONE,
    )),
    v(
        "beresp.http.",
        V::BerespHttp,
        T::Header,
        BERESP,
        BERESP,
        BERESP,
    ),
    v(
        "beresp.ttl",
        V::BerespTtl,
        T::Duration,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.grace",
        V::BerespGrace,
        T::Duration,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.keep",
        V::BerespKeep,
        T::Duration,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.uncacheable",
        V::BerespUncacheable,
        T::Bool,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.do_stream",
        V::BerespDoStream,
        T::Bool,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.do_gzip",
        V::BerespDoGzip,
        T::Bool,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.do_gunzip",
        V::BerespDoGunzip,
        T::Bool,
        BERESP,
        BERESP,
        NONE,
    ),
    v(
        "beresp.do_esi",
        V::BerespDoEsi,
        T::Bool,
        BERESP,
        BERESP,
        NONE,
    ),
    v("beresp.age", V::BerespAge, T::Duration, BERESP, NONE, NONE),
    v(
        "beresp.backend",
        V::BerespBackend,
        T::Backend,
        BERESP,
        NONE,
        NONE,
    ),
    v(
        "beresp.backend.name",
        V::BerespBackendName,
        T::String,
        BERESP,
        NONE,
        NONE,
    ),
    only40(v(
        "beresp.backend.ip",
        V::BerespBackendIp,
        T::Ip,
        BERESP,
        NONE,
        NONE,
    )),
    v(
        "beresp.was_304",
        V::BerespWas304,
        T::Bool,
        BERESP,
        NONE,
        NONE,
    ),
    v("beresp.time", V::BerespTime, T::Time, BERESP, NONE, NONE),
    v(
        "beresp.body",
        V::BerespBody,
        T::Body,
        NONE,
        m(&[M::BackendError]),
        NONE,
    ),
    only40(v(
        "beresp.storage_hint",
        V::BerespStorageHint,
        T::String,
        BERESP,
        BERESP,
        NONE,
    )),
    v("obj.ttl", V::ObjTtl, T::Duration, OBJ, NONE, NONE),
    v("obj.grace", V::ObjGrace, T::Duration, OBJ, NONE, NONE),
    v("obj.keep", V::ObjKeep, T::Duration, OBJ, NONE, NONE),
    v("obj.age", V::ObjAge, T::Duration, OBJ, NONE, NONE),
    v("obj.hits", V::ObjHits, T::Int, OBJ, NONE, NONE),
    v("obj.time", V::ObjTime, T::Time, OBJ, NONE, NONE),
    v("obj.can_esi", V::ObjCanEsi, T::Bool, OBJ, NONE, NONE),
    v("obj.status", V::ObjStatus, T::Int, m(&[M::Hit]), NONE, NONE),
    v(
        "obj.reason",
        V::ObjReason,
        T::String,
        m(&[M::Hit]),
        NONE,
        NONE,
    ),
    v(
        "obj.proto",
        V::ObjProto,
        T::String,
        m(&[M::Hit]),
        NONE,
        NONE,
    ),
    v("obj.http.", V::ObjHttp, T::Header, m(&[M::Hit]), NONE, NONE),
    v(
        "obj.uncacheable",
        V::ObjUncacheable,
        T::Bool,
        m(&[M::Deliver]),
        NONE,
        NONE,
    ),
    v("resp.status", V::RespStatus, T::Int, RESP, RESP, NONE),
    v("resp.reason", V::RespReason, T::String, RESP, RESP, NONE),
    writable40(v("resp.proto", V::RespProto, T::String, RESP, RESP, NONE)),
    v("resp.http.", V::RespHttp, T::Header, RESP, RESP, RESP),
    v(
        "resp.body",
        V::RespBody,
        T::Body,
        NONE,
        m(&[M::Synth]),
        NONE,
    ),
    v(
        "resp.is_streaming",
        V::RespIsStreaming,
        T::Bool,
        RESP,
        NONE,
        NONE,
    ),
    v("resp.time", V::RespTime, T::Time, RESP, NONE, NONE),
];

/// Name roots that belong to variables and may not name backends, ACLs, subs or objects.
pub const RESERVED_ROOTS: &[&str] = &[
    "client", "server", "remote", "local", "now", "sess", "req", "bereq", "beresp", "obj", "resp",
    "storage", "true", "false",
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
    ACTIONS
        .iter()
        .find(|d| d.kind == kind)
        .unwrap_or(&ACTIONS[0])
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

/// Resolves a variable name: returns the row and, for header families, the header name.
pub fn lookup_var(name: &str) -> Option<(&'static VarDef, Option<&str>)> {
    for d in VARIABLES {
        if d.ty == Type::Header {
            if let Some(h) = name.strip_prefix(d.name) {
                if !h.is_empty() {
                    return Some((d, Some(h)));
                }
            }
        } else if d.name == name {
            return Some((d, None));
        }
    }
    None
}

/// The row of a variable.
pub fn var_def(var: Var) -> &'static VarDef {
    VARIABLES
        .iter()
        .find(|d| d.var == var)
        .unwrap_or(&VARIABLES[0])
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
        METHODS
            .iter()
            .map(|d| d.method)
            .filter(move |m| self.contains(*m))
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

// === impl Availability ===

impl Availability {
    /// Whether the variable exists in the version.
    pub fn exists_in(self, v: Version) -> bool {
        match self {
            Availability::Since41 => v >= Version::V41,
            Availability::Only40 => v == Version::V40,
            Availability::Always | Availability::WritableIn40 => true,
        }
    }

    /// Whether the variable may be written in the version (given its write mask allows it).
    pub fn writable_in(self, v: Version) -> bool {
        match self {
            Availability::WritableIn40 => v == Version::V40,
            other => other.exists_in(v),
        }
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
        assert_eq!(
            lookup_var("beresp.backend.name").unwrap().0.var,
            Var::BerespBackendName
        );
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
