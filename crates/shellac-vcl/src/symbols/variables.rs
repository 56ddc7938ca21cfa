//! The variable half of the table: every VCL variable with its type and the methods in which it
//! may be read, set and unset (spec §1.8), and how it depends on the VCL version.

use super::{m, Mask, Method as M, ALL, BACKEND, BERESP, CLIENT, NONE, OBJ, PIPE_BACKEND, RESP, TASK};
use crate::include::Version;
use crate::types::Type;

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
#[allow(missing_docs)] // The names are the VCL variables'.
pub enum Var {
    ClientIp,
    ClientIdentity,
    ServerIp,
    ServerHostname,
    ServerIdentity,
    RemoteIp,
    LocalIp,
    LocalEndpoint,
    LocalSocket,
    Now,
    SessXid,
    ReqUrl,
    ReqMethod,
    ReqProto,
    ReqHttp,
    ReqBackendHint,
    ReqRestarts,
    ReqEsiLevel,
    ReqXid,
    ReqCanGzip,
    ReqIsHitmiss,
    ReqIsHitpass,
    ReqTime,
    ReqTransport,
    ReqTtl,
    ReqGrace,
    ReqHashAlwaysMiss,
    ReqHashIgnoreBusy,
    ReqHashIgnoreVary,
    ReqHash,
    ReqEsi,
    BereqUrl,
    BereqMethod,
    BereqProto,
    BereqHttp,
    BereqBackend,
    BereqConnectTimeout,
    BereqFirstByteTimeout,
    BereqBetweenBytesTimeout,
    BereqRetries,
    BereqUncacheable,
    BereqIsBgfetch,
    BereqXid,
    BereqIsHitmiss,
    BereqIsHitpass,
    BereqBody,
    BereqTime,
    BerespStatus,
    BerespReason,
    BerespProto,
    BerespHttp,
    BerespTtl,
    BerespGrace,
    BerespKeep,
    BerespUncacheable,
    BerespDoStream,
    BerespDoGzip,
    BerespDoGunzip,
    BerespDoEsi,
    BerespAge,
    BerespBackend,
    BerespBackendName,
    BerespBackendIp,
    BerespWas304,
    BerespTime,
    BerespBody,
    BerespStorageHint,
    BerespStorage,
    ObjStorage,
    Storage,
    StorageFreeSpace,
    StorageUsedSpace,
    StorageHappy,
    ObjTtl,
    ObjGrace,
    ObjKeep,
    ObjAge,
    ObjHits,
    ObjTime,
    ObjCanEsi,
    ObjStatus,
    ObjReason,
    ObjProto,
    ObjHttp,
    ObjUncacheable,
    RespStatus,
    RespReason,
    RespProto,
    RespHttp,
    RespBody,
    RespIsStreaming,
    RespTime,
    ReqTopUrl,
    ReqTopMethod,
    ReqTopProto,
    ReqTopTime,
    ReqTopHttp,
    ReqStorage,
    BereqHash,
    BerespFilters,
    RespFilters,
    RespDoEsi,
    SessTimeoutIdle,
    SessTimeoutLinger,
    SessSendTimeout,
    SessIdleSendTimeout,
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

// === the variable table ===

const fn v(name: &'static str, var: Var, ty: Type, read: Mask, write: Mask, unset: Mask) -> VarDef {
    VarDef { name, var, ty, read, write, unset, availability: Availability::Always }
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
    v("client.identity", V::ClientIdentity, T::String, TASK, CLIENT, NONE),
    v("server.ip", V::ServerIp, T::Ip, TASK, NONE, NONE),
    v("server.hostname", V::ServerHostname, T::String, ALL, NONE, NONE),
    v("server.identity", V::ServerIdentity, T::String, ALL, NONE, NONE),
    v("remote.ip", V::RemoteIp, T::Ip, TASK, NONE, NONE),
    v("local.ip", V::LocalIp, T::Ip, TASK, NONE, NONE),
    since41(v("local.endpoint", V::LocalEndpoint, T::String, TASK, NONE, NONE)),
    since41(v("local.socket", V::LocalSocket, T::String, TASK, NONE, NONE)),
    v("now", V::Now, T::Time, ALL, NONE, NONE),
    since41(v("sess.xid", V::SessXid, T::String, TASK, NONE, NONE)),
    v("req.url", V::ReqUrl, T::String, CLIENT, CLIENT, NONE),
    v("req.method", V::ReqMethod, T::String, CLIENT, CLIENT, NONE),
    writable40(v("req.proto", V::ReqProto, T::String, CLIENT, CLIENT, NONE)),
    v("req.http.", V::ReqHttp, T::Header, CLIENT, CLIENT, CLIENT),
    v("req.backend_hint", V::ReqBackendHint, T::Backend, CLIENT, CLIENT, NONE),
    v("req.restarts", V::ReqRestarts, T::Int, CLIENT, NONE, NONE),
    v("req.esi_level", V::ReqEsiLevel, T::Int, CLIENT, NONE, NONE),
    v("req.xid", V::ReqXid, T::String, CLIENT, NONE, NONE),
    v("req.can_gzip", V::ReqCanGzip, T::Bool, CLIENT, NONE, NONE),
    v("req.is_hitmiss", V::ReqIsHitmiss, T::Bool, CLIENT, NONE, NONE),
    v("req.is_hitpass", V::ReqIsHitpass, T::Bool, CLIENT, NONE, NONE),
    v("req.time", V::ReqTime, T::Time, CLIENT, NONE, NONE),
    v("req.transport", V::ReqTransport, T::String, CLIENT, NONE, NONE),
    v("req.ttl", V::ReqTtl, T::Duration, CLIENT, CLIENT, NONE),
    v("req.grace", V::ReqGrace, T::Duration, CLIENT, CLIENT, NONE),
    v("req.hash_always_miss", V::ReqHashAlwaysMiss, T::Bool, CLIENT, m(&[M::Recv]), NONE),
    v("req.hash_ignore_busy", V::ReqHashIgnoreBusy, T::Bool, CLIENT, m(&[M::Recv]), NONE),
    v("req.hash_ignore_vary", V::ReqHashIgnoreVary, T::Bool, CLIENT, CLIENT, NONE),
    v("req.hash", V::ReqHash, T::Blob, m(&[M::Hit, M::Miss, M::Pass, M::Purge, M::Deliver]), NONE, NONE),
    only40(v("req.esi", V::ReqEsi, T::Bool, CLIENT, CLIENT, NONE)),
    v("bereq.url", V::BereqUrl, T::String, PIPE_BACKEND, PIPE_BACKEND, NONE),
    v("bereq.method", V::BereqMethod, T::String, PIPE_BACKEND, PIPE_BACKEND, NONE),
    writable40(v("bereq.proto", V::BereqProto, T::String, PIPE_BACKEND, PIPE_BACKEND, NONE)),
    v("bereq.http.", V::BereqHttp, T::Header, PIPE_BACKEND, PIPE_BACKEND, PIPE_BACKEND),
    v("bereq.backend", V::BereqBackend, T::Backend, PIPE_BACKEND, PIPE_BACKEND, NONE),
    v("bereq.connect_timeout", V::BereqConnectTimeout, T::Duration, PIPE_BACKEND, PIPE_BACKEND, NONE),
    v("bereq.first_byte_timeout", V::BereqFirstByteTimeout, T::Duration, BACKEND, BACKEND, NONE),
    v("bereq.between_bytes_timeout", V::BereqBetweenBytesTimeout, T::Duration, BACKEND, BACKEND, NONE),
    v("bereq.retries", V::BereqRetries, T::Int, BACKEND, NONE, NONE),
    v("bereq.uncacheable", V::BereqUncacheable, T::Bool, BACKEND, NONE, NONE),
    v("bereq.is_bgfetch", V::BereqIsBgfetch, T::Bool, BACKEND, NONE, NONE),
    v("bereq.xid", V::BereqXid, T::String, BACKEND, NONE, NONE),
    v("bereq.is_hitmiss", V::BereqIsHitmiss, T::Bool, BACKEND, NONE, NONE),
    v("bereq.is_hitpass", V::BereqIsHitpass, T::Bool, BACKEND, NONE, NONE),
    v("bereq.body", V::BereqBody, T::Body, NONE, NONE, m(&[M::BackendFetch])),
    v("bereq.time", V::BereqTime, T::Time, BACKEND, NONE, NONE),
    v("beresp.status", V::BerespStatus, T::Int, BERESP, BERESP, NONE),
    v("beresp.reason", V::BerespReason, T::String, BERESP, BERESP, NONE),
    writable40(v("beresp.proto", V::BerespProto, T::String, BERESP, BERESP, NONE)),
    v("beresp.http.", V::BerespHttp, T::Header, BERESP, BERESP, BERESP),
    v("beresp.ttl", V::BerespTtl, T::Duration, BERESP, BERESP, NONE),
    v("beresp.grace", V::BerespGrace, T::Duration, BERESP, BERESP, NONE),
    v("beresp.keep", V::BerespKeep, T::Duration, BERESP, BERESP, NONE),
    v("beresp.uncacheable", V::BerespUncacheable, T::Bool, BERESP, BERESP, NONE),
    v("beresp.do_stream", V::BerespDoStream, T::Bool, BERESP, BERESP, NONE),
    v("beresp.do_gzip", V::BerespDoGzip, T::Bool, BERESP, BERESP, NONE),
    v("beresp.do_gunzip", V::BerespDoGunzip, T::Bool, BERESP, BERESP, NONE),
    v("beresp.do_esi", V::BerespDoEsi, T::Bool, BERESP, BERESP, NONE),
    v("beresp.age", V::BerespAge, T::Duration, BERESP, NONE, NONE),
    v("beresp.backend", V::BerespBackend, T::Backend, BERESP, NONE, NONE),
    v("beresp.backend.name", V::BerespBackendName, T::String, BERESP, NONE, NONE),
    only40(v("beresp.backend.ip", V::BerespBackendIp, T::Ip, BERESP, NONE, NONE)),
    v("beresp.was_304", V::BerespWas304, T::Bool, BERESP, NONE, NONE),
    v("beresp.time", V::BerespTime, T::Time, BERESP, NONE, NONE),
    v("beresp.body", V::BerespBody, T::Body, NONE, m(&[M::BackendError]), NONE),
    only40(v("beresp.storage_hint", V::BerespStorageHint, T::String, BERESP, BERESP, NONE)),
    v("beresp.storage", V::BerespStorage, T::Stevedore, BERESP, BERESP, NONE),
    v("obj.ttl", V::ObjTtl, T::Duration, OBJ, NONE, NONE),
    v("obj.grace", V::ObjGrace, T::Duration, OBJ, NONE, NONE),
    v("obj.keep", V::ObjKeep, T::Duration, OBJ, NONE, NONE),
    v("obj.age", V::ObjAge, T::Duration, OBJ, NONE, NONE),
    v("obj.hits", V::ObjHits, T::Int, OBJ, NONE, NONE),
    v("obj.time", V::ObjTime, T::Time, OBJ, NONE, NONE),
    v("obj.can_esi", V::ObjCanEsi, T::Bool, OBJ, NONE, NONE),
    v("obj.status", V::ObjStatus, T::Int, m(&[M::Hit]), NONE, NONE),
    v("obj.reason", V::ObjReason, T::String, m(&[M::Hit]), NONE, NONE),
    v("obj.proto", V::ObjProto, T::String, m(&[M::Hit]), NONE, NONE),
    v("obj.http.", V::ObjHttp, T::Header, m(&[M::Hit]), NONE, NONE),
    v("obj.uncacheable", V::ObjUncacheable, T::Bool, m(&[M::Deliver]), NONE, NONE),
    v("obj.storage", V::ObjStorage, T::Stevedore, OBJ, NONE, NONE),
    v("resp.status", V::RespStatus, T::Int, RESP, RESP, NONE),
    v("resp.reason", V::RespReason, T::String, RESP, RESP, NONE),
    writable40(v("resp.proto", V::RespProto, T::String, RESP, RESP, NONE)),
    v("resp.http.", V::RespHttp, T::Header, RESP, RESP, RESP),
    v("resp.body", V::RespBody, T::Body, NONE, m(&[M::Synth]), NONE),
    v("resp.is_streaming", V::RespIsStreaming, T::Bool, RESP, NONE, NONE),
    v("resp.time", V::RespTime, T::Time, RESP, NONE, NONE),
    // Without ESI the top request is the request itself.
    v("req_top.url", V::ReqTopUrl, T::String, CLIENT, NONE, NONE),
    v("req_top.method", V::ReqTopMethod, T::String, CLIENT, NONE, NONE),
    v("req_top.proto", V::ReqTopProto, T::String, CLIENT, NONE, NONE),
    v("req_top.time", V::ReqTopTime, T::Time, CLIENT, NONE, NONE),
    v("req_top.http.", V::ReqTopHttp, T::Header, CLIENT, NONE, NONE),
    v("req.storage", V::ReqStorage, T::Stevedore, CLIENT, CLIENT, NONE),
    v("bereq.hash", V::BereqHash, T::Blob, PIPE_BACKEND, NONE, NONE),
    v("beresp.filters", V::BerespFilters, T::String, m(&[M::BackendResponse]), m(&[M::BackendResponse]), NONE),
    v("resp.filters", V::RespFilters, T::String, m(&[M::Deliver, M::Synth]), m(&[M::Deliver, M::Synth]), NONE),
    since41(v("resp.do_esi", V::RespDoEsi, T::Bool, m(&[M::Deliver, M::Synth]), m(&[M::Deliver, M::Synth]), NONE)),
    v("sess.timeout_idle", V::SessTimeoutIdle, T::Duration, CLIENT, CLIENT, NONE),
    v("sess.timeout_linger", V::SessTimeoutLinger, T::Duration, CLIENT, CLIENT, NONE),
    v("sess.send_timeout", V::SessSendTimeout, T::Duration, CLIENT, CLIENT, NONE),
    v("sess.idle_send_timeout", V::SessIdleSendTimeout, T::Duration, CLIENT, CLIENT, NONE),
    // The storages `-s` names (and Transient): `storage.NAME` and its properties; the name is
    // in place of `*` (see [`lookup_var`]).
    v("storage.*", V::Storage, T::Stevedore, ALL, NONE, NONE),
    v("storage.*.free_space", V::StorageFreeSpace, T::Bytes, ALL, NONE, NONE),
    v("storage.*.used_space", V::StorageUsedSpace, T::Bytes, ALL, NONE, NONE),
    v("storage.*.happy", V::StorageHappy, T::Bool, ALL, NONE, NONE),
];

/// Resolves a variable name: returns the row and, for header families, the header name; for
/// `storage.NAME[.property]`, the storage name (whether it exists is the checker's question).
pub fn lookup_var(name: &str) -> Option<(&'static VarDef, Option<&str>)> {
    if let Some(rest) = name.strip_prefix("storage.") {
        let (store, row) = match rest.split_once('.') {
            None => (rest, "storage.*"),
            Some((store, "free_space")) => (store, "storage.*.free_space"),
            Some((store, "used_space")) => (store, "storage.*.used_space"),
            Some((store, "happy")) => (store, "storage.*.happy"),
            Some(_) => return None,
        };
        if store.is_empty() {
            return None;
        }
        return VARIABLES.iter().find(|d| d.name == row).map(|d| (d, Some(store)));
    }
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
    VARIABLES.iter().find(|d| d.var == var).unwrap_or(&VARIABLES[0])
}

// === impl Var ===

impl Var {
    /// Whether it is `storage.NAME` or one of its properties (the name is in the
    /// reference's `header`).
    pub fn is_storage(self) -> bool {
        matches!(self, Var::Storage | Var::StorageFreeSpace | Var::StorageUsedSpace | Var::StorageHappy)
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
