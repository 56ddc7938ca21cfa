//! The vmods Shellac provides (`std`, `directors`, `etcd`, `purge`, `xkey`) and the builtin functions, as tables of
//! signatures: names, parameter types and defaults, return types and where they may be called.
//!
//! The checker binds call arguments against these rows; the engine dispatches on [`Func`],
//! [`DirectorKind`] and [`ObjMethod`]. Any other vmod is rejected at `import`.

use crate::symbols::{Mask, ALL};
use crate::types::Type;

/// The vmods that may be imported.
pub const KNOWN_VMODS: &[&str] = &["std", "directors", "cookie", "etcd", "purge", "xkey"];

/// Why a vmod bundled with Varnish 7.1 (or a well-known one) is not here, and what to do.
pub fn unsupported_vmod(name: &str) -> Option<&'static str> {
    Some(match name {
        "blob" => "encode and decode blobs in VCL is not there yet (a BLOB reads as :base64: where a STRING is wanted)",
        "proxy" => "Shellac does not speak the PROXY protocol, so there are no PROXY TLVs to read",
        "unix" => "Shellac listens on TCP only: there is no Unix-socket peer to ask about",
        "vtc" => "it is Varnish's test-suite helper",
        "debug" => "it is Varnish's test-suite helper",
        "header" => "use std.collect(), regsub() and unset on the headers themselves",
        "bodyaccess" => "request bodies are not readable from VCL",
        _ => return None,
    })
}

/// A function of a vmod or of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Func {
    Regsub,
    Regsuball,
    StdHealthy,
    StdLog,
    StdSyslog,
    StdTolower,
    StdToupper,
    StdInteger,
    StdDuration,
    StdReal,
    StdTime,
    StdBytes,
    StdIp,
    StdStrstr,
    StdQuerysort,
    StdCollect,
    StdRandom,
    StdRound,
    StdBan,
    StdBanError,
    StdCacheReqBody,
    StdPort,
    StdTimestamp,
    StdFnmatch,
    StdLate100Continue,
    StdSetIpTos,
    StdRealToInteger,
    StdRealToTime,
    StdTimeToInteger,
    StdTimeToReal,
    StdGetenv,
    StdSyntax,
    StdRollback,
    StdFileread,
    StdBlobread,
    StdFileExists,
    StdStrftime,
    DirectorsLookup,
    PurgeHard,
    PurgeSoft,
    XkeyPurge,
    XkeySoftpurge,
    EtcdBan,
    EtcdPurge,
    EtcdXkeyPurge,
    CookieClean,
    CookieDelete,
    CookieFilter,
    CookieFilterRe,
    CookieKeep,
    CookieKeepRe,
    CookieFormatDate,
    CookieGet,
    CookieGetRe,
    CookieGetString,
    CookieIsset,
    CookieParse,
    CookieSet,
}

/// A default value of an optional parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// Required.
    Required,
    /// Optional with no default: the function sees "not given".
    Absent,
    /// A boolean default.
    Bool(bool),
    /// A real default.
    Real(f64),
    /// An integer default.
    Int(i64),
    /// A string default.
    Str(&'static str),
}

/// A parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its name (for named arguments).
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// Whether and how it may be left out.
    pub default: Default,
    /// For an ENUM parameter, the identifiers it accepts (written bare, as in
    /// `policy = round_robin`); empty otherwise.
    pub choices: &'static [&'static str],
}

/// A function's row.
#[derive(Debug)]
pub struct FuncDef {
    /// The full name (`std.integer`).
    pub name: &'static str,
    /// The function.
    pub func: Func,
    /// What it returns.
    pub ret: Type,
    /// Its parameters in order.
    pub params: &'static [Param],
    /// Where it may be called.
    pub mask: Mask,
    /// Names of parameters of which exactly one must be given (std conversion functions).
    pub one_of: &'static [&'static str],
}

/// A director type of vmod directors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectorKind {
    /// `directors.round_robin()`
    RoundRobin,
    /// `directors.fallback(sticky = false)`
    Fallback,
    /// `directors.random()`
    Random,
    /// `directors.hash()`
    Hash,
    /// `directors.shard()`: consistent hashing on a ring, as Varnish 7.1's.
    Shard,
    /// `directors.shard_param()`: a set of the shard director's `.backend()` arguments.
    ShardParam,
    /// `etcd.director(prefix, policy, …)`: members from discovery.
    Etcd,
    /// `etcd.groups(prefix, default, policy, …)`: one director per group from discovery.
    EtcdGroups,
}

/// A method of a director object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjMethod {
    /// `.add_backend(BACKEND[, REAL])`
    AddBackend,
    /// `.remove_backend(BACKEND)`
    RemoveBackend,
    /// `.backend([STRING])`
    Backend,
    /// `.explain(STRING)` of `etcd.groups`: how a name routes now, as a sentence.
    Explain,
    /// `.clear()` of the shard director.
    Clear,
    /// `.reconfigure([INT replicas])` of the shard director.
    Reconfigure,
    /// `.key(STRING)` of the shard director.
    Key,
    /// `.set_warmup([REAL])` of the shard director.
    SetWarmup,
    /// `.set_rampup([DURATION])` of the shard director.
    SetRampup,
    /// `.debug(INT)` of the shard director (its logging only).
    Debug,
    /// `.associate([BLOB param])` of the shard director.
    Associate,
    /// `.set(…)` of a shard parameter set.
    Set,
    /// `.use()` of a shard parameter set.
    Use,
    /// `.get_by()` of a shard parameter set.
    GetBy,
    /// `.get_key()` of a shard parameter set.
    GetKey,
    /// `.get_alt()` of a shard parameter set.
    GetAlt,
    /// `.get_warmup()` of a shard parameter set.
    GetWarmup,
    /// `.get_rampup()` of a shard parameter set.
    GetRampup,
    /// `.get_healthy()` of a shard parameter set.
    GetHealthy,
}

/// A director type's row: constructor parameters and methods.
#[derive(Debug)]
pub struct DirectorDef {
    /// The constructor name (`directors.round_robin`).
    pub name: &'static str,
    /// The kind.
    pub kind: DirectorKind,
    /// The type name used in messages and by `backend.list` (`round-robin`).
    pub type_name: &'static str,
    /// Constructor parameters.
    pub ctor: &'static [Param],
    /// Methods: name, method, return type, parameters.
    pub methods: &'static [MethodRow],
}

const fn p(name: &'static str, ty: Type) -> Param {
    Param { name, ty, default: Default::Required, choices: &[] }
}

const fn opt(name: &'static str, ty: Type) -> Param {
    Param { name, ty, default: Default::Absent, choices: &[] }
}

const fn dflt(name: &'static str, ty: Type, default: Default) -> Param {
    Param { name, ty, default, choices: &[] }
}

/// An ENUM parameter with a default choice.
const fn choice(name: &'static str, choices: &'static [&'static str], default: &'static str) -> Param {
    Param { name, ty: Type::String, default: Default::Str(default), choices }
}

/// An ENUM parameter with no default (it may be left out).
const fn enum_opt(name: &'static str, choices: &'static [&'static str]) -> Param {
    Param { name, ty: Type::String, default: Default::Absent, choices }
}

/// The lookup arguments `.backend()` and a parameter set's `.set()` share; each may be left out
/// (the set, or else `.backend()`'s defaults, then decides).
macro_rules! shard_args {
    ($($more:expr),*) => {
        &[
            enum_opt("by", &["HASH", "URL", "KEY", "BLOB"]),
            opt("key", T::Int),
            opt("key_blob", T::Blob),
            opt("alt", T::Int),
            opt("warmup", T::Real),
            opt("rampup", T::Bool),
            enum_opt("healthy", &["CHOSEN", "IGNORE", "ALL"]),
            $($more,)*
        ]
    };
}

const fn f(name: &'static str, func: Func, ret: Type, params: &'static [Param]) -> FuncDef {
    FuncDef { name, func, ret, params, mask: ALL, one_of: &[] }
}

const fn conv(
    name: &'static str,
    func: Func,
    ret: Type,
    params: &'static [Param],
    one_of: &'static [&'static str],
) -> FuncDef {
    FuncDef { name, func, ret, params, mask: ALL, one_of }
}

use Type as T;

/// `regsub(str, regex, sub)` and `regsuball(…)`.
const REGSUB_PARAMS: &[Param] = &[p("str", T::String), p("regex", T::Regex), p("sub", T::String)];

/// Every function. Builtins have no dot; vmod functions are named `vmod.function`.
pub const FUNCTIONS: &[FuncDef] = &[
    f("regsub", Func::Regsub, T::String, REGSUB_PARAMS),
    f("regsuball", Func::Regsuball, T::String, REGSUB_PARAMS),
    f("std.healthy", Func::StdHealthy, T::Bool, &[p("be", T::Backend)]),
    f("std.log", Func::StdLog, T::Void, &[p("s", T::String)]),
    f("std.syslog", Func::StdSyslog, T::Void, &[p("priority", T::Int), p("s", T::String)]),
    f("std.tolower", Func::StdTolower, T::String, &[p("s", T::String)]),
    f("std.toupper", Func::StdToupper, T::String, &[p("s", T::String)]),
    conv(
        "std.integer",
        Func::StdInteger,
        T::Int,
        &[
            opt("s", T::String),
            opt("fallback", T::Int),
            opt("bool", T::Bool),
            opt("bytes", T::Bytes),
            opt("duration", T::Duration),
            opt("real", T::Real),
            opt("time", T::Time),
        ],
        &["s", "bool", "bytes", "duration", "real", "time"],
    ),
    conv(
        "std.duration",
        Func::StdDuration,
        T::Duration,
        &[opt("s", T::String), opt("fallback", T::Duration), opt("real", T::Real), opt("integer", T::Int)],
        &["s", "real", "integer"],
    ),
    conv(
        "std.real",
        Func::StdReal,
        T::Real,
        &[
            opt("s", T::String),
            opt("fallback", T::Real),
            opt("integer", T::Int),
            opt("bool", T::Bool),
            opt("bytes", T::Bytes),
            opt("duration", T::Duration),
            opt("time", T::Time),
        ],
        &["s", "integer", "bool", "bytes", "duration", "time"],
    ),
    conv(
        "std.time",
        Func::StdTime,
        T::Time,
        &[opt("s", T::String), opt("fallback", T::Time), opt("real", T::Real), opt("integer", T::Int)],
        &["s", "real", "integer"],
    ),
    conv(
        "std.bytes",
        Func::StdBytes,
        T::Bytes,
        &[opt("s", T::String), opt("fallback", T::Bytes), opt("real", T::Real), opt("integer", T::Int)],
        &["s", "real", "integer"],
    ),
    f(
        "std.ip",
        Func::StdIp,
        T::Ip,
        &[
            p("s", T::String),
            opt("fallback", T::Ip),
            dflt("resolve", T::Bool, Default::Bool(true)),
            dflt("p", T::String, Default::Str("80")),
        ],
    ),
    f("std.strstr", Func::StdStrstr, T::String, &[p("s1", T::String), p("s2", T::String)]),
    f("std.querysort", Func::StdQuerysort, T::String, &[p("url", T::String)]),
    f("std.collect", Func::StdCollect, T::Void, &[p("hdr", T::Header), dflt("sep", T::String, Default::Str(", "))]),
    f("std.random", Func::StdRandom, T::Real, &[p("lo", T::Real), p("hi", T::Real)]),
    f("std.round", Func::StdRound, T::Real, &[p("r", T::Real)]),
    f("std.ban", Func::StdBan, T::Bool, &[p("spec", T::String)]),
    // (Varnish's vmod purge: callable anywhere, failing at run time outside vcl_hit and vcl_miss.)
    f("purge.hard", Func::PurgeHard, T::Int, &[]),
    f(
        "purge.soft",
        Func::PurgeSoft,
        T::Int,
        &[
            dflt("ttl", T::Duration, Default::Real(0.0)),
            dflt("grace", T::Duration, Default::Real(-1.0)),
            dflt("keep", T::Duration, Default::Real(-1.0)),
        ],
    ),
    f("std.ban_error", Func::StdBanError, T::String, &[]),
    // (varnish-modules' xkey: surrogate keys from the `xkey` response header.)
    f("xkey.purge", Func::XkeyPurge, T::Int, &[p("keys", T::String)]),
    f("xkey.softpurge", Func::XkeySoftpurge, T::Int, &[p("keys", T::String)]),
    // (Shellac's etcd vmod: invalidations for every node of the cluster, through etcd.)
    f("etcd.ban", Func::EtcdBan, T::Bool, &[p("spec", T::String)]),
    f("etcd.purge", Func::EtcdPurge, T::Bool, &[]),
    f(
        "etcd.xkey_purge",
        Func::EtcdXkeyPurge,
        T::Bool,
        &[p("keys", T::String), dflt("soft", T::Bool, Default::Bool(false))],
    ),
    f("std.cache_req_body", Func::StdCacheReqBody, T::Bool, &[p("size", T::Bytes)]),
    f("std.port", Func::StdPort, T::Int, &[p("ip", T::Ip)]),
    f("std.timestamp", Func::StdTimestamp, T::Void, &[p("s", T::String)]),
    f(
        "std.fnmatch",
        Func::StdFnmatch,
        T::Bool,
        &[
            p("pattern", T::String),
            p("subject", T::String),
            dflt("pathname", T::Bool, Default::Bool(true)),
            dflt("noescape", T::Bool, Default::Bool(false)),
            dflt("period", T::Bool, Default::Bool(false)),
        ],
    ),
    f("std.late_100_continue", Func::StdLate100Continue, T::Void, &[p("late", T::Bool)]),
    f("std.set_ip_tos", Func::StdSetIpTos, T::Void, &[p("tos", T::Int)]),
    // (Deprecated in Varnish 7.1, still there: the conversions with a fallback.)
    f("std.real2integer", Func::StdRealToInteger, T::Int, &[p("r", T::Real), p("fallback", T::Int)]),
    f("std.real2time", Func::StdRealToTime, T::Time, &[p("r", T::Real), p("fallback", T::Time)]),
    f("std.time2integer", Func::StdTimeToInteger, T::Int, &[p("t", T::Time), p("fallback", T::Int)]),
    f("std.time2real", Func::StdTimeToReal, T::Real, &[p("t", T::Time), p("fallback", T::Real)]),
    f("std.getenv", Func::StdGetenv, T::String, &[p("name", T::String)]),
    f("std.syntax", Func::StdSyntax, T::Bool, &[p("version", T::Real)]),
    f("std.rollback", Func::StdRollback, T::Void, &[p("h", T::Http)]),
    f("std.fileread", Func::StdFileread, T::String, &[p("path", T::String)]),
    f("std.blobread", Func::StdBlobread, T::Blob, &[p("path", T::String)]),
    f("std.file_exists", Func::StdFileExists, T::Bool, &[p("path", T::String)]),
    f("std.strftime", Func::StdStrftime, T::String, &[p("time", T::Time), p("format", T::String)]),
    // (vmod cookie: a jar per task, as Varnish 7.1's.)
    f("cookie.clean", Func::CookieClean, T::Void, &[]),
    f("cookie.delete", Func::CookieDelete, T::Void, &[p("cookiename", T::String)]),
    f("cookie.filter", Func::CookieFilter, T::Void, &[p("filterstring", T::String)]),
    f("cookie.filter_re", Func::CookieFilterRe, T::Void, &[p("expression", T::Regex)]),
    f("cookie.keep", Func::CookieKeep, T::Void, &[p("filterstring", T::String)]),
    f("cookie.keep_re", Func::CookieKeepRe, T::Void, &[p("expression", T::Regex)]),
    f("cookie.format_date", Func::CookieFormatDate, T::String, &[p("now", T::Time), p("timedelta", T::Duration)]),
    f("cookie.get", Func::CookieGet, T::String, &[p("cookiename", T::String)]),
    f("cookie.get_re", Func::CookieGetRe, T::String, &[p("expression", T::Regex)]),
    f("cookie.get_string", Func::CookieGetString, T::String, &[]),
    f("cookie.isset", Func::CookieIsset, T::Bool, &[p("cookiename", T::String)]),
    f("cookie.parse", Func::CookieParse, T::Void, &[p("cookieheader", T::String)]),
    f("cookie.set", Func::CookieSet, T::Void, &[p("cookiename", T::String), p("value", T::String)]),
    // (As Varnish's: compiled anywhere, a VCL failure outside vcl_init and vcl_fini.)
    f("directors.lookup", Func::DirectorsLookup, T::Backend, &[p("name", T::String)]),
];

const BACKEND_ARG: &[Param] = &[p("backend", T::Backend)];
const WEIGHTED: &[Param] = &[p("backend", T::Backend), p("weight", T::Real)];
const HASH_WEIGHTED: &[Param] = &[p("backend", T::Backend), dflt("weight", T::Real, Default::Real(1.0))];

/// A director method's row: name, method, return type, parameters.
type MethodRow = (&'static str, ObjMethod, Type, &'static [Param]);

/// The methods of round_robin and fallback, whose members carry no weight.
const UNWEIGHTED_METHODS: &[MethodRow] = &[
    ("add_backend", ObjMethod::AddBackend, T::Void, BACKEND_ARG),
    ("remove_backend", ObjMethod::RemoveBackend, T::Void, BACKEND_ARG),
    ("backend", ObjMethod::Backend, T::Backend, &[]),
];

/// Every director type of vmod directors.
pub const DIRECTORS: &[DirectorDef] = &[
    DirectorDef {
        name: "directors.round_robin",
        kind: DirectorKind::RoundRobin,
        type_name: "round-robin",
        ctor: &[],
        methods: UNWEIGHTED_METHODS,
    },
    DirectorDef {
        name: "directors.fallback",
        kind: DirectorKind::Fallback,
        type_name: "fallback",
        ctor: &[dflt("sticky", T::Bool, Default::Bool(false))],
        methods: UNWEIGHTED_METHODS,
    },
    DirectorDef {
        name: "directors.random",
        kind: DirectorKind::Random,
        type_name: "random",
        ctor: &[],
        methods: &[
            ("add_backend", ObjMethod::AddBackend, T::Void, WEIGHTED),
            ("remove_backend", ObjMethod::RemoveBackend, T::Void, BACKEND_ARG),
            ("backend", ObjMethod::Backend, T::Backend, &[]),
        ],
    },
    DirectorDef {
        name: "directors.hash",
        kind: DirectorKind::Hash,
        type_name: "hash",
        ctor: &[],
        methods: &[
            ("add_backend", ObjMethod::AddBackend, T::Void, HASH_WEIGHTED),
            ("remove_backend", ObjMethod::RemoveBackend, T::Void, BACKEND_ARG),
            ("backend", ObjMethod::Backend, T::Backend, &[p("key", T::String)]),
        ],
    },
    DirectorDef {
        name: "directors.shard",
        kind: DirectorKind::Shard,
        type_name: "shard",
        ctor: &[],
        methods: SHARD_METHODS,
    },
    DirectorDef {
        name: "directors.shard_param",
        kind: DirectorKind::ShardParam,
        type_name: "shard_param",
        ctor: &[],
        methods: &[
            ("clear", ObjMethod::Clear, T::Void, &[]),
            ("set", ObjMethod::Set, T::Void, shard_args!()),
            ("get_by", ObjMethod::GetBy, T::String, &[]),
            ("get_key", ObjMethod::GetKey, T::Int, &[]),
            ("get_alt", ObjMethod::GetAlt, T::Int, &[]),
            ("get_warmup", ObjMethod::GetWarmup, T::Real, &[]),
            ("get_rampup", ObjMethod::GetRampup, T::Bool, &[]),
            ("get_healthy", ObjMethod::GetHealthy, T::String, &[]),
            ("use", ObjMethod::Use, T::Blob, &[]),
        ],
    },
];

/// `directors.shard()`'s methods, as Varnish 7.1 declares them.
const SHARD_METHODS: &[MethodRow] = &[
    (
        "add_backend",
        ObjMethod::AddBackend,
        T::Bool,
        &[p("backend", T::Backend), opt("ident", T::String), opt("rampup", T::Duration), opt("weight", T::Real)],
    ),
    ("remove_backend", ObjMethod::RemoveBackend, T::Bool, &[opt("backend", T::Backend), opt("ident", T::String)]),
    ("clear", ObjMethod::Clear, T::Bool, &[]),
    ("reconfigure", ObjMethod::Reconfigure, T::Bool, &[dflt("replicas", T::Int, Default::Int(67))]),
    ("key", ObjMethod::Key, T::Int, &[p("string", T::String)]),
    (
        "backend",
        ObjMethod::Backend,
        T::Backend,
        shard_args!(opt("param", T::Blob), enum_opt("resolve", &["NOW", "LAZY"])),
    ),
    ("associate", ObjMethod::Associate, T::Void, &[opt("param", T::Blob)]),
    ("set_warmup", ObjMethod::SetWarmup, T::Void, &[dflt("probability", T::Real, Default::Real(0.0))]),
    ("set_rampup", ObjMethod::SetRampup, T::Void, &[dflt("duration", T::Duration, Default::Real(0.0))]),
    ("debug", ObjMethod::Debug, T::Void, &[p("flags", T::Int)]),
];

/// The policies of `etcd.director` and `etcd.groups`, as their `policy` parameter spells them.
pub const POLICIES: &[(&str, DirectorKind)] = &[
    ("round_robin", DirectorKind::RoundRobin),
    ("random", DirectorKind::Random),
    ("hash", DirectorKind::Hash),
    ("fallback", DirectorKind::Fallback),
    ("shard", DirectorKind::Shard),
];

/// The policy parameter's choices.
const POLICY_NAMES: &[&str] = &["round_robin", "random", "hash", "fallback", "shard"];

/// Parameters every `etcd` constructor takes after its own: how members are built.
macro_rules! member_params {
    ($($own:expr),*) => {
        &[
            $($own,)*
            choice("policy", POLICY_NAMES, "round_robin"),
            opt("probe", T::Probe),
            opt("connect_timeout", T::Duration),
            opt("first_byte_timeout", T::Duration),
            opt("between_bytes_timeout", T::Duration),
            opt("max_connections", T::Int),
            opt("host_header", T::String),
        ]
    };
}

/// The objects of vmod etcd; their members come from discovery, so they have no
/// `add_backend`/`remove_backend`.
pub const ETCD_OBJECTS: &[DirectorDef] = &[
    DirectorDef {
        name: "etcd.director",
        kind: DirectorKind::Etcd,
        type_name: "etcd director",
        ctor: member_params!(p("prefix", T::String)),
        methods: &[("backend", ObjMethod::Backend, T::Backend, &[opt("key", T::String)])],
    },
    DirectorDef {
        name: "etcd.groups",
        kind: DirectorKind::EtcdGroups,
        type_name: "etcd groups",
        ctor: member_params!(p("prefix", T::String), opt("default", T::String)),
        methods: &[
            ("backend", ObjMethod::Backend, T::Backend, &[opt("group", T::String)]),
            ("explain", ObjMethod::Explain, T::String, &[p("group", T::String)]),
        ],
    },
];

/// The row of a function by full name.
pub fn function(name: &str) -> Option<&'static FuncDef> {
    FUNCTIONS.iter().find(|d| d.name == name)
}

/// The row of a director type by constructor name.
pub fn director(name: &str) -> Option<&'static DirectorDef> {
    DIRECTORS.iter().chain(ETCD_OBJECTS).find(|d| d.name == name)
}

/// The row of a director kind.
pub fn director_def(kind: DirectorKind) -> &'static DirectorDef {
    DIRECTORS.iter().chain(ETCD_OBJECTS).find(|d| d.kind == kind).unwrap_or(&DIRECTORS[0])
}
