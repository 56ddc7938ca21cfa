//! Reading, setting and unsetting VCL variables (spec §1.8). The front end has checked where
//! each variable may be used, so a part that is missing here is an internal error reported as a
//! VCL failure, never a panic.

use std::borrow::Cow;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use shellac_vcl::symbols::Var;

use super::{Bereq, Beresp, Ctx, Req, Resp};
use crate::backend::BackendHandle;
use crate::error::VclFail;
use crate::value::Value;
use crate::vsl::{Buffer, Tag};

/// Reads a variable.
pub fn get(ctx: &mut Ctx<'_>, var: Var, hdr: Option<&HeaderName>) -> Result<Value, VclFail> {
    use Var as V;
    Ok(match var {
        V::ClientIp => Value::Ip(Some(ctx.sess.client)),
        V::RemoteIp => Value::Ip(Some(ctx.sess.remote)),
        V::ClientIdentity => {
            let id = ctx.req.as_ref().and_then(|r| r.client_identity.clone());
            Value::Str(id.unwrap_or_else(|| ctx.sess.client.ip().to_string()))
        }
        V::ServerIp => Value::Ip(Some(ctx.sess.local)),
        V::LocalIp => Value::Ip(Some(ctx.sess.bound)),
        V::ServerHostname => Value::Str(ctx.sess.hostname.to_string()),
        V::ServerIdentity => Value::Str(ctx.sess.identity.to_string()),
        V::LocalEndpoint => Value::Str(ctx.sess.endpoint.to_string()),
        V::LocalSocket => Value::Str(ctx.sess.socket.to_string()),
        V::Now => Value::Time(ctx.now()),
        V::SessXid => Value::Str(ctx.sess.xid.to_string()),
        V::ReqUrl => Value::Str(req(ctx)?.url.clone()),
        V::ReqMethod => Value::Str(req(ctx)?.method.to_string()),
        V::ReqProto => Value::Str(req(ctx)?.proto.to_string()),
        V::ReqHttp => header(&req(ctx)?.headers, hdr),
        V::ReqBackendHint => Value::Backend(req(ctx)?.backend_hint.clone()),
        V::ReqRestarts => Value::Int(i64::from(req(ctx)?.restarts)),
        V::ReqEsiLevel => Value::Int(0),
        V::ReqXid => Value::Str(req(ctx)?.xid.to_string()),
        V::ReqCanGzip => Value::Bool(crate::gzip::accepts_gzip(&req(ctx)?.headers)),
        V::ReqIsHitmiss => Value::Bool(req(ctx)?.is_hitmiss),
        V::ReqIsHitpass => Value::Bool(req(ctx)?.is_hitpass),
        V::ReqTime => Value::Time(req(ctx)?.time),
        V::ReqTransport => Value::Str("HTTP/1".into()),
        V::ReqTtl => Value::Duration(req(ctx)?.ttl.unwrap_or(-1.0)),
        V::ReqGrace => Value::Duration(req(ctx)?.grace.unwrap_or(-1.0)),
        V::ReqHashAlwaysMiss => Value::Bool(req(ctx)?.hash_always_miss),
        V::ReqHashIgnoreBusy => Value::Bool(req(ctx)?.hash_ignore_busy),
        V::ReqHashIgnoreVary => Value::Bool(req(ctx)?.hash_ignore_vary),
        V::ReqHash => req(ctx)?.hash().map_or(Value::Null, Value::Blob),
        V::ReqEsi => Value::Bool(req(ctx)?.esi),
        V::BereqUrl => Value::Str(bereq(ctx)?.url.clone()),
        V::BereqMethod => Value::Str(bereq(ctx)?.method.to_string()),
        V::BereqProto => Value::Str(bereq(ctx)?.proto.to_string()),
        V::BereqHttp => header(&bereq(ctx)?.headers, hdr),
        V::BereqBackend => Value::Backend(bereq(ctx)?.backend.clone()),
        V::BereqConnectTimeout => Value::Duration(bereq(ctx)?.connect_timeout.unwrap_or(0.0)),
        V::BereqFirstByteTimeout => Value::Duration(bereq(ctx)?.first_byte_timeout.unwrap_or(0.0)),
        V::BereqBetweenBytesTimeout => Value::Duration(bereq(ctx)?.between_bytes_timeout.unwrap_or(0.0)),
        V::BereqRetries => Value::Int(i64::from(bereq(ctx)?.retries)),
        V::BereqUncacheable => Value::Bool(bereq(ctx)?.uncacheable),
        V::BereqIsBgfetch => Value::Bool(bereq(ctx)?.is_bgfetch),
        V::BereqXid => Value::Str(bereq(ctx)?.xid.to_string()),
        V::BereqIsHitmiss => Value::Bool(bereq(ctx)?.is_hitmiss),
        V::BereqIsHitpass => Value::Bool(bereq(ctx)?.is_hitpass),
        V::BereqBody => Value::Null,
        V::BereqTime => Value::Time(bereq(ctx)?.time),
        V::BerespStatus => Value::Int(i64::from(beresp(ctx)?.status)),
        V::BerespReason => Value::Str(beresp(ctx)?.reason.to_string()),
        V::BerespProto => Value::Str(beresp(ctx)?.proto.to_string()),
        V::BerespHttp => header(&beresp(ctx)?.headers, hdr),
        V::BerespTtl => {
            let now = ctx.now();
            Value::Duration(beresp(ctx)?.ttl_now(now))
        }
        V::BerespGrace => Value::Duration(beresp(ctx)?.grace),
        V::BerespKeep => Value::Duration(beresp(ctx)?.keep),
        V::BerespUncacheable => Value::Bool(beresp(ctx)?.uncacheable),
        V::BerespDoStream => Value::Bool(beresp(ctx)?.do_stream),
        V::BerespDoGzip => Value::Bool(beresp(ctx)?.do_gzip),
        V::BerespDoGunzip => Value::Bool(beresp(ctx)?.do_gunzip),
        V::BerespStorage => beresp(ctx)?.storage.clone().map_or(Value::Null, Value::Stevedore),
        V::ObjStorage => ctx.obj.and_then(|o| o.storage.clone()).map_or(Value::Null, Value::Stevedore),
        V::Storage | V::StorageFreeSpace | V::StorageUsedSpace | V::StorageHappy => {
            return Err(VclFail("storage variables are linked, not read".into()))
        }
        V::BerespDoEsi => Value::Bool(beresp(ctx)?.do_esi),
        V::BerespAge => {
            let now = ctx.now();
            Value::Duration(now - beresp(ctx)?.t_origin)
        }
        V::BerespBackend => Value::Backend(beresp(ctx)?.backend.clone()),
        V::BerespBackendName => Value::Str(beresp(ctx)?.backend.name().to_string()),
        V::BerespBackendIp => match &beresp(ctx)?.backend {
            // (A Unix socket backend's is 0.0.0.0, as varnishd has it.)
            BackendHandle::Backend(b) => {
                Value::Ip(b.addr.as_ref().map(|a| a.ip().unwrap_or(crate::client_io::UNIX_PEER)))
            }
            _ => Value::Ip(None),
        },
        V::BerespWas304 => Value::Bool(beresp(ctx)?.was_304),
        V::BerespTime => Value::Time(beresp(ctx)?.time),
        V::BerespBody => Value::Null,
        V::BerespStorageHint => beresp(ctx)?.storage_hint.clone().map_or(Value::Null, Value::Str),
        V::ObjTtl => obj_value(ctx, |o, now| Value::Duration(o.ttl_now(now)), Value::Duration(0.0)),
        V::ObjGrace => obj_value(ctx, |o, _| Value::Duration(o.ttl().grace), Value::Duration(0.0)),
        V::ObjKeep => obj_value(ctx, |o, _| Value::Duration(o.ttl().keep), Value::Duration(0.0)),
        V::ObjAge => obj_value(ctx, |o, now| Value::Duration(o.age(now)), Value::Duration(0.0)),
        V::ObjHits => obj_value(ctx, |o, _| Value::Int(i64::try_from(o.hits()).unwrap_or(i64::MAX)), Value::Int(0)),
        V::ObjTime => {
            let now = ctx.now();
            obj_value(ctx, |o, _| Value::Time(o.ttl().t_origin), Value::Time(now))
        }
        V::ObjCanEsi => Value::Bool(false),
        V::ObjStatus => obj_value(ctx, |o, _| Value::Int(i64::from(o.head.status)), Value::Int(0)),
        V::ObjReason => obj_value(ctx, |o, _| Value::Str(o.head.reason().to_string()), Value::Str(String::new())),
        V::ObjProto => obj_value(ctx, |o, _| Value::Str(o.head.proto().to_string()), Value::Str(String::new())),
        V::ObjHttp => match ctx.obj {
            Some(o) => match hdr.and_then(|h| o.head.headers.get_all(h).next()) {
                Some(v) => Value::Str(String::from_utf8_lossy(v).into_owned()),
                None => Value::Null,
            },
            None => Value::Null,
        },
        // A pass delivers no stored object: it reads as uncacheable.
        V::ObjUncacheable => {
            obj_value(ctx, |o, _| Value::Bool(o.kind != shellac_cache::Kind::Normal), Value::Bool(true))
        }
        V::RespStatus => Value::Int(i64::from(resp(ctx)?.status)),
        V::RespReason => Value::Str(resp(ctx)?.reason.to_string()),
        V::RespProto => Value::Str(resp(ctx)?.proto.to_string()),
        V::RespHttp => header(&resp(ctx)?.headers, hdr),
        V::RespBody => Value::Null,
        V::RespIsStreaming => Value::Bool(false),
        V::RespTime => Value::Time(resp(ctx)?.time),
        // (Without ESI the top request is the request.)
        V::ReqTopUrl => Value::Str(req(ctx)?.url.clone()),
        V::ReqTopMethod => Value::Str(req(ctx)?.method.to_string()),
        V::ReqTopProto => Value::Str(req(ctx)?.proto.to_string()),
        V::ReqTopTime => Value::Time(req(ctx)?.time),
        V::ReqTopHttp => header(&req(ctx)?.headers, hdr),
        V::ReqStorage => Value::Null,
        V::BereqHash => bereq(ctx)?.hash.map_or(Value::Null, |k| Value::Blob(std::sync::Arc::from(&k[..]))),
        V::BerespFilters => Value::Str(super::filters::beresp_list(beresp(ctx)?).to_string()),
        V::RespFilters => Value::Str(resp(ctx)?.filters.clone()),
        // (varnishd reads it true by default; nothing here is ESI.)
        V::RespDoEsi => Value::Bool(true),
        V::SessTimeoutIdle => Value::Duration(ctx.sess.timeouts.idle.get()),
        V::SessSendTimeout => Value::Duration(ctx.sess.timeouts.send.get()),
        V::SessTimeoutLinger => Value::Duration(ctx.sess.timeouts.linger.get()),
        V::SessIdleSendTimeout => Value::Duration(ctx.sess.timeouts.send.get()),
    })
}

/// A property of `obj` at the invocation's `now`, or `none` when no object is delivered (a pass).
fn obj_value(ctx: &mut Ctx<'_>, f: impl FnOnce(&shellac_cache::Object, f64) -> Value, none: Value) -> Value {
    let now = ctx.now();
    ctx.obj.map_or(none, |o| f(o, now))
}

/// Lends a text variable's bytes without copying them (`None` for an unset header), for the
/// comparisons, matches and hashing that only look. `None` when the variable is not text kept
/// as such; the caller then reads it with [`get`].
pub fn peek<R>(
    ctx: &mut Ctx<'_>,
    var: Var,
    hdr: Option<&HeaderName>,
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> Option<Result<R, VclFail>> {
    use Var as V;
    fn header<'h>(h: &'h HeaderMap, hdr: Option<&HeaderName>) -> Option<&'h [u8]> {
        hdr.and_then(|n| h.get(n)).map(HeaderValue::as_bytes)
    }
    Some(match var {
        V::ReqUrl => req(ctx).map(|r| f(Some(r.url.as_bytes()))),
        V::ReqMethod => req(ctx).map(|r| f(Some(r.method.as_bytes()))),
        V::ReqProto => req(ctx).map(|r| f(Some(r.proto.as_bytes()))),
        V::ReqHttp => req(ctx).map(|r| f(header(&r.headers, hdr))),
        V::BereqUrl => bereq(ctx).map(|r| f(Some(r.url.as_bytes()))),
        V::BereqMethod => bereq(ctx).map(|r| f(Some(r.method.as_bytes()))),
        V::BereqProto => bereq(ctx).map(|r| f(Some(r.proto.as_bytes()))),
        V::BereqHttp => bereq(ctx).map(|r| f(header(&r.headers, hdr))),
        V::BerespHttp => beresp(ctx).map(|r| f(header(&r.headers, hdr))),
        V::RespHttp => resp(ctx).map(|r| f(header(&r.headers, hdr))),
        _ => return None,
    })
}

/// `hash_data(req.url)`, `hash_data(req.http.host)`: feeds a request variable to the hash
/// without copying it; `None` for other variables.
pub fn hash_req_var(ctx: &mut Ctx<'_>, var: Var, hdr: Option<&HeaderName>) -> Option<Result<(), VclFail>> {
    if !matches!(var, Var::ReqUrl | Var::ReqHttp) {
        return None;
    }
    Some(req(ctx).map(|r| {
        let bytes = match var {
            Var::ReqUrl => Some(r.url.as_bytes()),
            _ => hdr.and_then(|n| r.headers.get(n)).map(HeaderValue::as_bytes),
        };
        hash_field(&mut r.hasher, bytes.unwrap_or_default());
    }))
}

/// One `hash_data()` field: its bytes, then the separator Varnish puts after each.
fn hash_field(hasher: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    hasher.update(bytes);
    hasher.update(b"#");
}

/// `if (req.http.NAME) { hash_data(req.http.NAME); }` with one look-up of the header:
/// whether it was set.
pub fn hash_req_header_if_set(ctx: &mut Ctx<'_>, name: &HeaderName) -> Result<bool, VclFail> {
    req(ctx).map(|r| match r.headers.get(name) {
        Some(v) => {
            hash_field(&mut r.hasher, v.as_bytes());
            true
        }
        None => false,
    })
}

/// `hash_data(EXPR)` of any other value: its text (nothing for an unset one), then the
/// field separator.
pub fn hash_value(ctx: &mut Ctx<'_>, v: &Value) -> Result<(), VclFail> {
    let req = ctx.req.as_deref_mut().ok_or_else(|| VclFail("hash_data outside vcl_hash".into()))?;
    if let Some(s) = v.as_opt_str() {
        hash_field(&mut req.hasher, s.as_bytes());
    } else if !matches!(v, Value::Null) {
        hash_field(&mut req.hasher, v.to_text().as_bytes());
    } else {
        hash_field(&mut req.hasher, b"");
    }
    Ok(())
}

/// Sets a variable to a value of its type (`=`); STRING and BODY values are text.
pub fn set(ctx: &mut Ctx<'_>, var: Var, hdr: Option<&HeaderName>, v: Value) -> Result<(), VclFail> {
    if let Some((headers, log)) = logged_headers(ctx, var)? {
        return set_header(headers, hdr, &v, log);
    }
    if let Some(tag) = set_scalar(ctx, var, v)? {
        log_change(ctx, tag);
    }
    Ok(())
}

/// Sets a variable that is not a header; the tag of the record that logs the change, for
/// those varnishd logs (`ReqURL`, `RespStatus`, …).
fn set_scalar(ctx: &mut Ctx<'_>, var: Var, v: Value) -> Result<Option<Tag>, VclFail> {
    use Var as V;
    let logged = match var {
        V::ReqUrl => Some(Tag::ReqURL),
        V::ReqMethod => Some(Tag::ReqMethod),
        V::ReqProto => Some(Tag::ReqProtocol),
        V::BereqUrl => Some(Tag::BereqURL),
        V::BereqMethod => Some(Tag::BereqMethod),
        V::BereqProto => Some(Tag::BereqProtocol),
        V::BerespStatus => Some(Tag::BerespStatus),
        V::BerespReason => Some(Tag::BerespReason),
        V::BerespProto => Some(Tag::BerespProtocol),
        V::RespStatus => Some(Tag::RespStatus),
        V::RespReason => Some(Tag::RespReason),
        V::RespProto => Some(Tag::RespProtocol),
        _ => None,
    };
    match var {
        V::ClientIdentity => req(ctx)?.client_identity = Some(v.to_text()),
        V::ReqUrl => req(ctx)?.url = v.to_text(),
        V::ReqMethod => req(ctx)?.method = v.to_text().into(),
        V::ReqProto => req(ctx)?.proto = v.to_text().into(),
        V::ReqBackendHint => req(ctx)?.backend_hint = backend(v),
        V::ReqTtl => req(ctx)?.ttl = Some(v.num()),
        V::ReqGrace => req(ctx)?.grace = Some(v.num()),
        V::ReqHashAlwaysMiss => req(ctx)?.hash_always_miss = v.truth(),
        V::ReqHashIgnoreBusy => req(ctx)?.hash_ignore_busy = v.truth(),
        V::ReqHashIgnoreVary => req(ctx)?.hash_ignore_vary = v.truth(),
        V::ReqEsi => req(ctx)?.esi = v.truth(),
        V::BereqUrl => bereq(ctx)?.url = v.to_text(),
        V::BereqMethod => bereq(ctx)?.method = v.to_text().into(),
        V::BereqProto => bereq(ctx)?.proto = v.to_text().into(),
        V::BereqBackend => bereq(ctx)?.backend = backend(v),
        V::BereqConnectTimeout => bereq(ctx)?.connect_timeout = Some(v.num()),
        V::BereqFirstByteTimeout => bereq(ctx)?.first_byte_timeout = Some(v.num()),
        V::BereqBetweenBytesTimeout => bereq(ctx)?.between_bytes_timeout = Some(v.num()),
        V::BerespStatus => {
            let b = beresp(ctx)?;
            set_status(&mut b.status, &mut b.reason, &v)?;
        }
        V::BerespReason => beresp(ctx)?.reason = v.to_text().into(),
        V::BerespProto => beresp(ctx)?.proto = v.to_text().into(),
        V::BerespTtl => {
            let now = ctx.now();
            beresp(ctx)?.set_ttl_now(v.num(), now);
            log_ttl(ctx);
        }
        V::BerespGrace => {
            beresp(ctx)?.grace = v.num();
            log_ttl(ctx);
        }
        V::BerespKeep => {
            beresp(ctx)?.keep = v.num();
            log_ttl(ctx);
        }
        V::BerespUncacheable => {
            // Once uncacheable, always uncacheable (Varnish ignores `false` after `true`).
            let b = beresp(ctx)?;
            b.uncacheable |= v.truth();
            log_ttl(ctx);
        }
        V::BerespDoStream => beresp(ctx)?.do_stream = v.truth(),
        V::BerespDoGzip => beresp(ctx)?.do_gzip = v.truth(),
        V::BerespDoGunzip => beresp(ctx)?.do_gunzip = v.truth(),
        V::BerespDoEsi => beresp(ctx)?.do_esi = v.truth(),
        V::BerespBody => beresp(ctx)?.body = v.to_text().into_bytes(),
        V::BerespStorageHint => beresp(ctx)?.storage_hint = Some(v.to_text()),
        V::BerespStorage => {
            if let Value::Stevedore(s) = v {
                beresp(ctx)?.storage = Some(s);
            }
        }
        V::RespStatus => {
            let r = resp(ctx)?;
            set_status(&mut r.status, &mut r.reason, &v)?;
        }
        V::RespReason => resp(ctx)?.reason = v.to_text().into(),
        V::RespProto => resp(ctx)?.proto = v.to_text().into(),
        V::RespBody => resp(ctx)?.body = v.to_text().into_bytes(),
        V::BerespFilters => super::filters::set_beresp(beresp(ctx)?, &v.to_text())?,
        V::RespFilters => {
            let list = v.to_text();
            super::filters::check_resp(&list)?;
            resp(ctx)?.filters = list;
        }
        V::SessTimeoutIdle => ctx.sess.timeouts.idle.set(v.num()),
        V::SessSendTimeout => ctx.sess.timeouts.send.set(v.num()),
        V::SessTimeoutLinger => ctx.sess.timeouts.linger.set(v.num()),
        other => return Err(VclFail(format!("variable {other:?} is read only"))),
    }
    Ok(logged)
}

/// Logs a change VCL made (as varnishd logs each one when it makes it): the new value of the
/// variable `tag` names; a status's with the reason phrase it brought.
fn log_change(ctx: &mut Ctx<'_>, tag: Tag) {
    let Some(vsl) = ctx.vsl.as_deref_mut().filter(|v| v.on()) else { return };
    let (req, bereq, beresp, resp) =
        (ctx.req.as_deref(), ctx.bereq.as_deref(), ctx.beresp.as_deref(), ctx.resp.as_deref());
    match tag {
        Tag::ReqURL => req.iter().for_each(|r| vsl.add_str(tag, &r.url)),
        Tag::ReqMethod => req.iter().for_each(|r| vsl.add_str(tag, &r.method)),
        Tag::ReqProtocol => req.iter().for_each(|r| vsl.add_str(tag, &r.proto)),
        Tag::BereqURL => bereq.iter().for_each(|b| vsl.add_str(tag, &b.url)),
        Tag::BereqMethod => bereq.iter().for_each(|b| vsl.add_str(tag, &b.method)),
        Tag::BereqProtocol => bereq.iter().for_each(|b| vsl.add_str(tag, &b.proto)),
        Tag::BerespStatus | Tag::BerespReason | Tag::BerespProtocol => {
            if let Some(b) = beresp {
                log_status_change(vsl, tag, [Tag::BerespStatus, Tag::BerespReason], b.status, &b.reason, &b.proto);
            }
        }
        Tag::RespStatus | Tag::RespReason | Tag::RespProtocol => {
            if let Some(r) = resp {
                log_status_change(vsl, tag, [Tag::RespStatus, Tag::RespReason], r.status, &r.reason, &r.proto);
            }
        }
        _ => {}
    }
}

/// A change of a response's status line: the status (and the reason it brought), the reason, or
/// the protocol.
fn log_status_change(
    vsl: &mut Buffer,
    tag: Tag,
    [status_tag, reason_tag]: [Tag; 2],
    status: u32,
    reason: &str,
    proto: &str,
) {
    if tag == status_tag {
        vsl.add_fmt(tag, format_args!("{}", status % 1000));
        vsl.add_str(reason_tag, reason);
    } else if tag == reason_tag {
        vsl.add_str(tag, reason);
    } else {
        vsl.add_str(tag, proto);
    }
}

/// Appends text to a BODY variable (`synthetic()`, `set resp.body += …`).
pub fn append_body(ctx: &mut Ctx<'_>, var: Var, text: &str) -> Result<(), VclFail> {
    match var {
        Var::RespBody => resp(ctx)?.body.extend_from_slice(text.as_bytes()),
        Var::BerespBody => beresp(ctx)?.body.extend_from_slice(text.as_bytes()),
        other => return Err(VclFail(format!("variable {other:?} is not a body"))),
    }
    Ok(())
}

/// Unsets a header (all lines of that name) or `bereq.body`.
pub fn unset(ctx: &mut Ctx<'_>, var: Var, hdr: Option<&HeaderName>) -> Result<(), VclFail> {
    if let Some((headers, log)) = logged_headers(ctx, var)? {
        if let Some(name) = hdr {
            if let Some((vsl, _, unset)) = log {
                log_lines(vsl, unset, headers, name);
            }
            headers.remove(name);
        }
        return Ok(());
    }
    match var {
        Var::BereqBody => {
            let b = bereq(ctx)?;
            b.body_unset = true;
            b.headers.remove(http::header::CONTENT_LENGTH);
        }
        Var::ReqTtl => req(ctx)?.ttl = None,
        Var::ReqGrace => req(ctx)?.grace = None,
        other => return Err(VclFail(format!("variable {other:?} cannot be unset"))),
    }
    Ok(())
}

/// `std.collect`: merges all lines of a header into the first, joined by `sep`.
pub fn collect(ctx: &mut Ctx<'_>, var: Var, hdr: Option<&HeaderName>, sep: &str) -> Result<(), VclFail> {
    // (Not logged: varnishd 7.1.1 logs no change for it.)
    let Some((headers, _)) = logged_headers(ctx, var)? else { return Ok(()) };
    let Some(name) = hdr else { return Ok(()) };
    let joined: Vec<Vec<u8>> = headers.get_all(name).iter().map(|v| v.as_bytes().to_vec()).collect();
    if joined.len() > 1 {
        let merged = joined.join(sep.as_bytes());
        let value = HeaderValue::from_bytes(&merged).map_err(|_| VclFail(format!("cannot collect {name}")))?;
        headers.insert(name.clone(), value);
    }
    Ok(())
}

/// Where a header change is logged, while the log is read: the transaction's log and the tags of
/// a header set and unset (`ReqHeader`, `ReqUnset`, …).
type HeaderLog<'c> = Option<(&'c mut Buffer, Tag, Tag)>;

/// The header map a header variable (`req.http.*` …) names, and where its changes are logged;
/// `None` for other variables.
fn logged_headers<'c>(ctx: &'c mut Ctx<'_>, var: Var) -> Result<Option<(&'c mut HeaderMap, HeaderLog<'c>)>, VclFail> {
    let vsl = ctx.vsl.as_deref_mut().filter(|v| v.on());
    let (headers, set, unset) = match var {
        Var::ReqHttp => {
            (&mut ctx.req.as_deref_mut().ok_or_else(|| missing("req"))?.headers, Tag::ReqHeader, Tag::ReqUnset)
        }
        Var::BereqHttp => {
            (&mut ctx.bereq.as_deref_mut().ok_or_else(|| missing("bereq"))?.headers, Tag::BereqHeader, Tag::BereqUnset)
        }
        Var::BerespHttp => (
            &mut ctx.beresp.as_deref_mut().ok_or_else(|| missing("beresp"))?.headers,
            Tag::BerespHeader,
            Tag::BerespUnset,
        ),
        Var::RespHttp => {
            (&mut ctx.resp.as_deref_mut().ok_or_else(|| missing("resp"))?.headers, Tag::RespHeader, Tag::RespUnset)
        }
        _ => return Ok(None),
    };
    Ok(Some((headers, vsl.map(|v| (v, set, unset)))))
}

/// Logs every line of header `name` with `tag` (the lines an unset takes away).
fn log_lines(vsl: &mut Buffer, tag: Tag, headers: &HeaderMap, name: &HeaderName) {
    for v in headers.get_all(name) {
        vsl.add_header(tag, name.as_str(), v.as_bytes());
    }
}

/// Sets a status, and the reason phrase with it (as varnishd does, for any code).
fn set_status(status: &mut u32, reason: &mut Cow<'static, str>, v: &Value) -> Result<(), VclFail> {
    let n = v.int();
    if !is_valid_status(n) {
        return Err(VclFail(format!("illegal status {n}")));
    }
    *status = n as u32;
    // (Any status, listed or not: varnishd's phrase for it, "Unknown HTTP Status" at worst.)
    *reason = Cow::Borrowed(super::reason::of(*status));
    Ok(())
}

/// A status VCL may use: 100–65535 with the last three digits at least 100 (the `VWXYZ` form).
pub fn is_valid_status(n: i64) -> bool {
    (100..=65535).contains(&n) && n % 1000 >= 100
}

fn backend(v: Value) -> BackendHandle {
    match v {
        Value::Backend(b) => b,
        _ => BackendHandle::None,
    }
}

fn header(headers: &HeaderMap, hdr: Option<&HeaderName>) -> Value {
    match hdr.and_then(|h| headers.get(h)) {
        Some(v) => Value::Str(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        None => Value::Null,
    }
}

/// Sets a header: the lines it had go (each logged as unset), the new one comes (logged as set),
/// as varnishd logs a `set`.
fn set_header(headers: &mut HeaderMap, hdr: Option<&HeaderName>, v: &Value, log: HeaderLog<'_>) -> Result<(), VclFail> {
    let Some(name) = hdr else { return Ok(()) };
    let text = v.to_text();
    let value =
        HeaderValue::from_str(&text).map_err(|_| VclFail(format!("invalid value for header {name}: {text:?}")))?;
    if let Some((vsl, set, unset)) = log {
        log_lines(vsl, unset, headers, name);
        vsl.add_header(set, name.as_str(), value.as_bytes());
    }
    headers.insert(name.clone(), value);
    Ok(())
}

fn req<'c>(ctx: &'c mut Ctx<'_>) -> Result<&'c mut Req, VclFail> {
    ctx.req.as_deref_mut().ok_or_else(|| missing("req"))
}

/// The backend request of `ctx`, or the error VCL gets where there is none.
pub(crate) fn bereq<'c>(ctx: &'c mut Ctx<'_>) -> Result<&'c mut Bereq, VclFail> {
    ctx.bereq.as_deref_mut().ok_or_else(|| missing("bereq"))
}

/// `TTL VCL TTL GRACE KEEP ORIGIN cacheable|uncacheable`: VCL changed the object's lifetime
/// (as varnishd logs each change).
fn log_ttl(ctx: &mut Ctx<'_>) {
    let (Some(b), Some(vsl)) = (ctx.beresp.as_deref(), ctx.vsl.as_deref_mut()) else { return };
    let cacheable = if b.uncacheable { "uncacheable" } else { "cacheable" };
    vsl.add_fmt(
        crate::vsl::Tag::TTL,
        format_args!("VCL {:.0} {:.0} {:.0} {:.0} {cacheable}", b.ttl, b.grace, b.keep, b.t_origin),
    );
}

/// The backend response of `ctx`, or the error VCL gets where there is none.
pub(crate) fn beresp<'c>(ctx: &'c mut Ctx<'_>) -> Result<&'c mut Beresp, VclFail> {
    ctx.beresp.as_deref_mut().ok_or_else(|| missing("beresp"))
}

fn resp<'c>(ctx: &'c mut Ctx<'_>) -> Result<&'c mut Resp, VclFail> {
    ctx.resp.as_deref_mut().ok_or_else(|| missing("resp"))
}

fn missing(what: &str) -> VclFail {
    VclFail(format!("{what} is not available here"))
}
