//! Linking calls of builtin, std and directors functions and of director methods (spec §1.9,
//! §3). Conversions that can fail without a fallback are VCL failures (503), as in Varnish.

use std::net::SocketAddr;

use shellac_vcl::ir::{Expr, ExprKind, ObjId};
use shellac_vcl::symbols::Method;
use shellac_vcl::vmods::{Func, ObjMethod};

use super::expr::{link_args, var_parts};
use super::parse;
use super::{ExprFn, Linker};
use crate::backend::BackendHandle;
use crate::error::{LoadError, VclFail};
use crate::value::Value;
use crate::vrt::{vars, Ctx, Req};

type Args = Vec<Option<ExprFn>>;

/// Links a function call.
pub(crate) fn link_call(l: &Linker<'_>, func: Func, raw: &[Option<Expr>]) -> Result<ExprFn, LoadError> {
    let args = link_args(l, raw)?;
    Ok(match func {
        Func::CookieClean
        | Func::CookieDelete
        | Func::CookieFilter
        | Func::CookieFilterRe
        | Func::CookieKeep
        | Func::CookieKeepRe
        | Func::CookieFormatDate
        | Func::CookieGet
        | Func::CookieGetRe
        | Func::CookieGetString
        | Func::CookieIsset
        | Func::CookieParse
        | Func::CookieSet => return super::cookie::link(l, func, raw, args),
        Func::Regsub | Func::Regsuball => {
            let all = func == Func::Regsuball;
            let Some(Some(Expr { kind: ExprKind::RegexRef(id), .. })) = raw.get(1) else {
                return Err(LoadError::Unsupported("regsub without a regex".into()));
            };
            let re = l.program.regexes[id.0 as usize].clone();
            Box::new(move |ctx| {
                let subject = arg(ctx, &args, 0)?;
                let sub = arg(ctx, &args, 2)?;
                let out = re
                    .substitute(subject.str().as_bytes(), sub.str().as_bytes(), all)
                    .map_err(|e| VclFail(format!("regsub failed: {e}")))?;
                Ok(Value::Str(text(out)))
            })
        }
        Func::StdHealthy => Box::new(move |ctx| {
            Ok(Value::Bool(match arg(ctx, &args, 0)? {
                Value::Backend(b) => b.is_healthy(),
                _ => false,
            }))
        }),
        Func::StdLog | Func::StdSyslog | Func::StdTimestamp => Box::new(move |ctx| {
            let last = args.len() - 1;
            let s = arg(ctx, &args, last)?;
            tracing::info!(target: "vcl_log", xid = xid(ctx), "{}", s.str());
            // `std.log` is `VCL_Log` in the transaction log (the others have tags of their own,
            // not kept yet).
            if func == Func::StdLog {
                if let Some(b) = ctx.vsl.as_deref_mut() {
                    b.add_str(crate::vsl::Tag::VCL_Log, s.str());
                }
            }
            Ok(Value::Null)
        }),
        Func::StdTolower => Box::new(move |ctx| Ok(Value::Str(recase(arg(ctx, &args, 0)?, str::make_ascii_lowercase)))),
        Func::StdToupper => Box::new(move |ctx| Ok(Value::Str(recase(arg(ctx, &args, 0)?, str::make_ascii_uppercase)))),
        Func::StdInteger => conversion(args, "std.integer", |v| match v {
            Value::Str(s) => parse::integer(&s).map(Value::Int),
            Value::Bool(b) => Some(Value::Int(i64::from(b))),
            Value::Bytes(b) => i64::try_from(b).ok().map(Value::Int),
            Value::Duration(d) | Value::Real(d) | Value::Time(d) => {
                (d.is_finite() && d.abs() < 9.2e18).then(|| Value::Int(d.trunc() as i64))
            }
            _ => None,
        }),
        Func::StdDuration => conversion(args, "std.duration", |v| match v {
            Value::Str(s) => parse::duration(&s).map(Value::Duration),
            Value::Real(r) => Some(Value::Duration(r)),
            Value::Int(n) => Some(Value::Duration(n as f64)),
            _ => None,
        }),
        Func::StdReal => conversion(args, "std.real", |v| match v {
            Value::Str(s) => parse::real(&s).map(Value::Real),
            Value::Null => None,
            other => Some(Value::Real(other.num())),
        }),
        Func::StdTime => conversion(args, "std.time", |v| match v {
            Value::Str(s) => parse::time(&s).map(Value::Time),
            Value::Real(r) => Some(Value::Time(r)),
            Value::Int(n) => Some(Value::Time(n as f64)),
            _ => None,
        }),
        Func::StdBytes => conversion(args, "std.bytes", |v| match v {
            Value::Str(s) => parse::bytes(&s).map(Value::Bytes),
            Value::Real(r) if r >= 0.0 => Some(Value::Bytes(r as u64)),
            Value::Int(n) => u64::try_from(n).ok().map(Value::Bytes),
            _ => None,
        }),
        Func::StdIp => Box::new(move |ctx| {
            let s = arg(ctx, &args, 0)?;
            let port: u16 = arg(ctx, &args, 3)?.str().parse().unwrap_or(80);
            match parse::ip(s.str()) {
                Some(ip) => Ok(Value::Ip(Some(SocketAddr::new(ip, port)))),
                None => match args.get(1).and_then(Option::as_ref) {
                    Some(f) => f(ctx),
                    None => {
                        Err(VclFail(format!("std.ip: {:?} is not an IP address and there is no fallback", s.str())))
                    }
                },
            }
        }),
        Func::StdStrstr => Box::new(move |ctx| {
            let (s1, s2) = (arg(ctx, &args, 0)?, arg(ctx, &args, 1)?);
            Ok(match s1.str().find(s2.str()) {
                Some(i) if s1.as_opt_str().is_some() && s2.as_opt_str().is_some() => {
                    Value::Str(s1.str()[i..].to_string())
                }
                _ => Value::Null,
            })
        }),
        Func::StdQuerysort => Box::new(move |ctx| Ok(Value::Str(parse::querysort(arg(ctx, &args, 0)?.str())))),
        Func::StdCollect => {
            let Some(Some(Expr { kind: ExprKind::Var(v), .. })) = raw.first() else {
                return Err(LoadError::Unsupported("std.collect needs a header".into()));
            };
            let (var, hdr) = var_parts(v)?;
            Box::new(move |ctx| {
                let sep = arg(ctx, &args, 1)?;
                vars::collect(ctx, var, hdr.as_ref(), sep.str())?;
                Ok(Value::Null)
            })
        }
        Func::StdRandom => Box::new(move |ctx| {
            let (lo, hi) = (arg(ctx, &args, 0)?.num(), arg(ctx, &args, 1)?.num());
            Ok(Value::Real(lo + fastrand::f64() * (hi - lo)))
        }),
        Func::StdRound => Box::new(move |ctx| Ok(Value::Real(arg(ctx, &args, 0)?.num().round()))),
        // The reason a ban failed is the task's: `std.ban_error()` reads it back.
        Func::StdBan => {
            let cache = l.cache.cloned();
            Box::new(move |ctx| {
                let spec = arg(ctx, &args, 0)?.to_text();
                let now = ctx.now();
                let result = match &cache {
                    Some(cache) => crate::ban::issue_vcl(cache, &spec, now).map_err(|e| e.to_string()),
                    None => Err("No object store".to_string()),
                };
                let error = result.as_ref().err().map(|e| e.as_str().into());
                set_ban_error(ctx, error);
                Ok(Value::Bool(result.is_ok()))
            })
        }
        // Queued for the cluster (applied here too when it comes back through etcd); false
        // when the outbox is full or there is no cluster (`serve` without `--etcd`).
        Func::EtcdBan => {
            let outbox = l.outbox.clone();
            Box::new(move |ctx| {
                let spec = arg(ctx, &args, 0)?.to_text();
                let result = match crate::cluster::Invalidation::ban_from_vcl(&spec) {
                    Err(e) => Err(e.to_string()),
                    Ok(inv) => queue(&outbox, inv),
                };
                let error = result.as_ref().err().map(|e| e.as_str().into());
                set_ban_error(ctx, error);
                Ok(Value::Bool(result.is_ok()))
            })
        }
        Func::EtcdPurge => {
            let outbox = l.outbox.clone();
            Box::new(move |ctx| {
                let Some(key) = ctx.req.as_deref().and_then(Req::key) else {
                    return Err(VclFail("etcd.purge() needs the request's hash: call it after vcl_hash".into()));
                };
                Ok(Value::Bool(queue(&outbox, crate::cluster::Invalidation::Purge(key)).is_ok()))
            })
        }
        Func::EtcdXkeyPurge => {
            // (Objects need their keys indexed for the purge to find them, on every node that
            // runs this VCL.)
            if let Some(cache) = l.cache {
                cache.xkeys().enable();
            }
            let outbox = l.outbox.clone();
            Box::new(move |ctx| {
                let keys = arg(ctx, &args, 0)?.to_text();
                let soft = arg(ctx, &args, 1)?.truth();
                Ok(Value::Bool(queue(&outbox, crate::cluster::Invalidation::Xkey { keys, soft }).is_ok()))
            })
        }
        Func::XkeyPurge | Func::XkeySoftpurge => {
            let cache = l.cache.cloned();
            let soft = func == Func::XkeySoftpurge;
            Box::new(move |ctx| {
                let keys = arg(ctx, &args, 0)?.to_text();
                let now = ctx.now();
                let n = cache.as_ref().map_or(0, |c| c.xkey_purge(keys.as_bytes(), soft, now));
                Ok(Value::Int(n as i64))
            })
        }
        Func::PurgeHard | Func::PurgeSoft => {
            let cache = l.cache.cloned();
            let hard = func == Func::PurgeHard;
            Box::new(move |ctx| {
                if !matches!(ctx.method, Method::Hit | Method::Miss) {
                    return Err(VclFail("purge can only be called from vcl_hit or vcl_miss".into()));
                }
                let key = ctx.req.as_deref().and_then(Req::key);
                let (Some(cache), Some(key)) = (&cache, key) else { return Ok(Value::Int(0)) };
                let n = if hard {
                    cache.purge(&key)
                } else {
                    let (ttl, grace, keep) =
                        (arg(ctx, &args, 0)?.num(), arg(ctx, &args, 1)?.num(), arg(ctx, &args, 2)?.num());
                    let now = ctx.now();
                    cache.rearm(&key, now, ttl, grace, keep)
                };
                Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
            })
        }
        Func::StdBanError => Box::new(|ctx| {
            let error = match (&ctx.req, &ctx.bereq) {
                (Some(req), _) => req.ban_error.as_deref(),
                (None, Some(bereq)) => bereq.ban_error.as_deref(),
                _ => None,
            };
            Ok(Value::Str(error.unwrap_or("").to_string()))
        }),
        Func::StdCacheReqBody => Box::new(move |ctx| {
            let size = arg(ctx, &args, 0)?.int();
            if let Some(req) = ctx.req.as_deref_mut() {
                req.cache_body = Some(u64::try_from(size).unwrap_or(0));
            }
            Ok(Value::Bool(true))
        }),
        Func::StdPort => Box::new(move |ctx| {
            Ok(Value::Int(match arg(ctx, &args, 0)? {
                Value::Ip(Some(a)) => i64::from(a.port()),
                _ => 0,
            }))
        }),
        Func::StdFnmatch => Box::new(move |ctx| {
            let (p, s) = (arg(ctx, &args, 0)?, arg(ctx, &args, 1)?);
            let flags = shellac_vcl::source::Fnmatch {
                pathname: arg(ctx, &args, 2)?.truth(),
                noescape: arg(ctx, &args, 3)?.truth(),
                period: arg(ctx, &args, 4)?.truth(),
            };
            Ok(Value::Bool(shellac_vcl::source::fnmatch_with(p.str(), s.str(), flags)))
        }),
        Func::StdLate100Continue | Func::StdSetIpTos => Box::new(|_| Ok(Value::Null)),
        // The deprecated conversions: a fallback when the value has no integer or time.
        Func::StdRealToInteger | Func::StdTimeToInteger => Box::new(move |ctx| {
            // (Both round halfway away from zero, as varnishd's do.)
            let r = arg(ctx, &args, 0)?.num().round();
            if r.is_finite() && r.abs() < 9.2e18 {
                Ok(Value::Int(r as i64))
            } else {
                arg(ctx, &args, 1)
            }
        }),
        Func::StdRealToTime | Func::StdTimeToReal => Box::new(move |ctx| {
            let r = arg(ctx, &args, 0)?.num();
            if !r.is_finite() {
                return arg(ctx, &args, 1);
            }
            Ok(if func == Func::StdRealToTime { Value::Time(r) } else { Value::Real(r) })
        }),
        // (Unset reads as the empty string.)
        Func::StdGetenv => Box::new(move |ctx| {
            let name = arg(ctx, &args, 0)?;
            Ok(std::env::var_os(name.str()).map_or(Value::Null, |v| Value::Str(v.to_string_lossy().into_owned())))
        }),
        Func::StdSyntax => {
            let version = l.program.version.tenths();
            Box::new(move |ctx| {
                let want = (arg(ctx, &args, 0)?.num() * 10.0).round();
                Ok(Value::Bool(want <= f64::from(version)))
            })
        }
        Func::StdRollback => {
            let Some(Some(Expr { kind: ExprKind::Str(which), .. })) = raw.first() else {
                return Err(LoadError::Unsupported("std.rollback without req or bereq".into()));
            };
            let which = which.clone();
            l.rollback.set(true);
            Box::new(move |ctx| {
                rollback(ctx, &which)?;
                Ok(Value::Null)
            })
        }
        Func::StdFileread | Func::StdBlobread => {
            let files = Files::default();
            Box::new(move |ctx| {
                let path = arg(ctx, &args, 0)?;
                let bytes = files.read(path.str())?;
                Ok(if func == Func::StdBlobread {
                    Value::Blob(bytes)
                } else {
                    Value::Str(String::from_utf8_lossy(&bytes).into_owned())
                })
            })
        }
        Func::StdFileExists => Box::new(move |ctx| {
            let path = arg(ctx, &args, 0)?;
            Ok(Value::Bool(std::fs::metadata(path.str()).is_ok()))
        }),
        Func::StdStrftime => Box::new(move |ctx| {
            let (t, format) = (arg(ctx, &args, 0)?.num(), arg(ctx, &args, 1)?);
            Ok(Value::Str(crate::strftime::strftime(format.str(), t, "GMT")))
        }),
        Func::DirectorsLookup => {
            // Only allowed in vcl_init/vcl_fini: the names are fixed, so look them up now when
            // the argument is a literal, else at run time among this VCL's objects.
            let backends: Vec<_> = l.backends.to_vec();
            let directors: Vec<_> = l.directors.to_vec();
            Box::new(move |ctx| {
                if !matches!(ctx.method, Method::Init | Method::Fini) {
                    return Err(VclFail("directors.lookup() may only be called from vcl_init{} and vcl_fini{}".into()));
                }
                let name = arg(ctx, &args, 0)?;
                let name = name.str();
                if let Some(b) = backends.iter().find(|b| b.name == name) {
                    return Ok(Value::Backend(BackendHandle::Backend(b.clone())));
                }
                if let Some(d) = directors.iter().find(|d| d.name() == name && d.as_shard_param().is_none()) {
                    return Ok(Value::Backend(BackendHandle::Director(d.clone())));
                }
                Ok(Value::Backend(BackendHandle::None))
            })
        }
    })
}

/// Links a director method call.
pub(crate) fn link_method(
    l: &Linker<'_>,
    obj: ObjId,
    method: ObjMethod,
    raw: &[Option<Expr>],
) -> Result<ExprFn, LoadError> {
    let args = link_args(l, raw)?;
    let d = l.directors[obj.0 as usize].clone();
    if d.as_shard().is_some() || d.as_shard_param().is_some() {
        return Ok(super::shard::link(d, l.directors.to_vec().into(), method, args));
    }
    Ok(match method {
        ObjMethod::AddBackend => Box::new(move |ctx| {
            let Value::Backend(b) = arg(ctx, &args, 0)? else {
                return Err(VclFail("add_backend: not a backend".into()));
            };
            if b.is_none() {
                return Err(VclFail(format!("{}.add_backend(): none is not a backend", d.name())));
            }
            let weight = match args.get(1).and_then(Option::as_ref) {
                Some(f) => f(ctx)?.num(),
                None => 1.0,
            };
            d.members().add(b, weight);
            Ok(Value::Null)
        }),
        ObjMethod::RemoveBackend => Box::new(move |ctx| {
            if let Value::Backend(b) = arg(ctx, &args, 0)? {
                if let Some(i) = d.members().remove(&b) {
                    d.on_removed(i);
                }
            }
            Ok(Value::Null)
        }),
        // Whether the key picks the member is known at link time; directors that do not pick
        // by key stand for themselves.
        ObjMethod::Backend if d.uses_key() && args.first().is_some_and(Option::is_some) => Box::new(move |ctx| {
            let key = arg(ctx, &args, 0)?;
            Ok(Value::Backend(d.backend_for_key(key.str().as_bytes()).unwrap_or_default()))
        }),
        ObjMethod::Backend => Box::new(move |_| Ok(Value::Backend(BackendHandle::Director(d.clone())))),
        ObjMethod::Explain => Box::new(move |ctx| {
            let name = arg(ctx, &args, 0)?;
            Ok(Value::Str(d.as_groups().map(|g| g.explain(name.str())).unwrap_or_default()))
        }),
        // (The shard director's own; the front end allows them on nothing else.)
        ObjMethod::Clear
        | ObjMethod::Reconfigure
        | ObjMethod::Key
        | ObjMethod::SetWarmup
        | ObjMethod::SetRampup
        | ObjMethod::Debug
        | ObjMethod::Associate
        | ObjMethod::Set
        | ObjMethod::Use
        | ObjMethod::GetBy
        | ObjMethod::GetKey
        | ObjMethod::GetAlt
        | ObjMethod::GetWarmup
        | ObjMethod::GetRampup
        | ObjMethod::GetHealthy => {
            return Err(LoadError::Unsupported(format!("{method:?} on a {} director", d.type_name())))
        }
    })
}

/// A `std.*` conversion: exactly one input argument (the front end checked that), then the
/// fallback; a failed conversion without fallback is a VCL failure.
fn conversion(args: Args, name: &'static str, convert: fn(Value) -> Option<Value>) -> ExprFn {
    Box::new(move |ctx| {
        let mut input = Value::Null;
        for (i, a) in args.iter().enumerate() {
            if i == 1 {
                continue;
            }
            if let Some(f) = a {
                input = f(ctx)?;
                break;
            }
        }
        let shown = input.to_text();
        match convert(input) {
            Some(v) => Ok(v),
            None => match args.get(1).and_then(Option::as_ref) {
                Some(f) => f(ctx),
                None => Err(VclFail(format!("{name}: cannot convert {shown:?} and there is no fallback"))),
            },
        }
    })
}

fn arg(ctx: &mut Ctx<'_>, args: &Args, i: usize) -> Result<Value, VclFail> {
    match args.get(i).and_then(Option::as_ref) {
        Some(f) => f(ctx),
        None => Ok(Value::Null),
    }
}

/// Bytes as a VCL string: kept as they are when valid UTF-8 (no copy), else made valid.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `std.tolower`/`std.toupper`: a string argument is changed in place, anything else first
/// made a string.
fn recase(v: Value, change: fn(&mut str)) -> String {
    let mut s = match v {
        Value::Str(s) => s,
        other => other.str().to_string(),
    };
    change(&mut s);
    s
}

fn xid(ctx: &Ctx<'_>) -> u64 {
    ctx.req.as_ref().map(|r| r.xid).or(ctx.bereq.as_ref().map(|b| b.xid)).unwrap_or(0)
}

/// Queues an invalidation for the cluster.
fn queue(outbox: &crate::cluster::Slot, inv: crate::cluster::Invalidation) -> Result<(), String> {
    match outbox.get() {
        None => Err("No cluster: start shellac serve with --etcd".to_string()),
        Some(o) if o.send(inv) => Ok(()),
        Some(_) => Err("The cluster outbox is full".to_string()),
    }
}

/// `std.rollback(req|bereq)`: the request back as it came (or as the fetch made it), when the
/// VCL keeps the originals (it does when it calls `std.rollback`). Varnish's own rollback of
/// `resp` or `beresp` stops the process; here it is a VCL failure.
fn rollback(ctx: &mut Ctx<'_>, which: &str) -> Result<(), VclFail> {
    if ctx.method == Method::Pipe {
        return Err(VclFail("Cannot rollback in vcl_pipe {}".into()));
    }
    let restored = match which {
        "req" => ctx.req.as_deref_mut().map(|r| r.rollback()),
        "bereq" => ctx.bereq.as_deref_mut().map(|b| b.rollback()),
        _ => return Err(VclFail(format!("std.rollback({which}): only req and bereq can be rolled back"))),
    };
    match restored {
        Some(true) => Ok(()),
        _ => Err(VclFail(format!("std.rollback({which}): no original to go back to"))),
    }
}

/// The files `std.fileread()`/`std.blobread()` read: each read once, on its first call, and
/// the same contents given from then on (Varnish's cache, per call site).
#[derive(Default)]
struct Files(parking_lot::Mutex<Vec<(String, std::sync::Arc<[u8]>)>>);

impl Files {
    /// At most this much of a file is read (a body-sized string, not a disk).
    const MAX: u64 = 64 << 20;

    fn read(&self, path: &str) -> Result<std::sync::Arc<[u8]>, VclFail> {
        let mut files = self.0.lock();
        if let Some((_, bytes)) = files.iter().find(|(p, _)| p == path) {
            return Ok(bytes.clone());
        }
        let bytes =
            read_capped(path, Self::MAX).map_err(|e| VclFail(format!("std.fileread: cannot read {path}: {e}")))?;
        let bytes: std::sync::Arc<[u8]> = bytes.into();
        files.push((path.to_string(), bytes.clone()));
        Ok(bytes)
    }
}

/// A whole file of at most `max` bytes.
fn read_capped(path: &str, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(out)
}

/// Records the outcome of the task's last `std.ban()`.
fn set_ban_error(ctx: &mut Ctx<'_>, error: Option<Box<str>>) {
    if let Some(req) = ctx.req.as_deref_mut() {
        req.ban_error = error;
    } else if let Some(bereq) = ctx.bereq.as_deref_mut() {
        bereq.ban_error = error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recasing_changes_ascii_only_and_other_values_become_text_first() {
        assert_eq!(recase(Value::Str("MiXeD-Ünï".into()), str::make_ascii_lowercase), "mixed-Ünï");
        assert_eq!(recase(Value::Str("abc".into()), str::make_ascii_uppercase), "ABC");
        assert_eq!(recase(Value::Null, str::make_ascii_uppercase), "");
    }

    #[test]
    fn bytes_become_text_without_loss_when_valid() {
        assert_eq!(text(b"web".to_vec()), "web");
        assert_eq!(text(vec![b'a', 0xff, b'b']), "a\u{fffd}b");
    }
}
