//! `param.show [-l] [NAME]` and `param.set NAME VALUE`, from the engine's parameter table.

use shellac_engine::params::{ParamKind, PARAMS};

use crate::manager::{Failure, Manager};
use crate::proto::Status;

/// `param.show`
pub fn show(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let long = args.iter().any(|a| a == "-l");
    let name = args.iter().find(|a| !a.starts_with('-'));
    let params = m.server.params();
    let value = |n: &str| current(&params, n);
    match name {
        None => {
            let mut out = String::new();
            for d in PARAMS {
                let v = value(d.name);
                let default = if is_default(&params, d) { " (default)" } else { "" };
                out.push_str(&format!("{:<30}{}{}{default}\n", d.name, v, unit(d.kind)));
                if long {
                    out.push_str(&format!("\n        {}\n\n", d.doc));
                }
            }
            Ok(out)
        }
        Some(n) => {
            let d = PARAMS
                .iter()
                .find(|d| d.name == n)
                .ok_or_else(|| (Status::Param, format!("Unknown parameter \"{n}\".")))?;
            let v = value(d.name);
            let default = if is_default(&params, d) { " (default)" } else { "" };
            Ok(format!(
                "{}\n        Value is: {v}{}{default}\n        Default is: {}\n\n        {}\n\n",
                d.name,
                unit(d.kind),
                d.default,
                d.doc
            ))
        }
    }
}

/// `param.set`
pub fn set(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let args: Vec<&String> = args.iter().filter(|a| *a != "-j").collect();
    if args.len() != 2 {
        return Err((Status::TooFew, "Too few parameters".into()));
    }
    let mut params = (*m.server.params()).clone();
    params.set(args[0], args[1]).map_err(|e| match e {
        shellac_engine::params::ParamError::Unknown(n) => (Status::Param, format!("Unknown parameter \"{n}\".")),
        other => (Status::Param, format!("{other}\n\n(attempting to set param '{}' to '{}')", args[0], args[1])),
    })?;
    m.server.set_params(params);
    Ok(String::new())
}

/// Whether a parameter still has its default value.
fn is_default(p: &shellac_engine::params::Params, d: &shellac_engine::params::ParamDef) -> bool {
    let mut fresh = shellac_engine::params::Params::default();
    let _ = fresh.set(d.name, d.default);
    current(p, d.name) == current(&fresh, d.name)
}

fn unit(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Duration => " [seconds]",
        ParamKind::Bytes => " [bytes]",
        ParamKind::Uint | ParamKind::Bool | ParamKind::Text => "",
    }
}

/// The current value as text.
fn current(p: &shellac_engine::params::Params, name: &str) -> String {
    let secs = |v: f64| format!("{v:.3}");
    let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
    match name {
        "backend_idle_timeout" => secs(p.backend_idle_timeout),
        "backend_local_error_holddown" => secs(p.backend_local_error_holddown),
        "backend_remote_error_holddown" => secs(p.backend_remote_error_holddown),
        "between_bytes_timeout" => secs(p.between_bytes_timeout),
        "connect_timeout" => secs(p.connect_timeout),
        "first_byte_timeout" => secs(p.first_byte_timeout),
        "pipe_timeout" => secs(p.pipe_timeout),
        "shutdown_timeout" => secs(p.shutdown_timeout),
        "timeout_idle" => secs(p.timeout_idle),
        "vcl_cooldown" => secs(p.vcl_cooldown),
        "http_gzip_support" => onoff(p.http_gzip_support),
        "prefer_ipv6" => onoff(p.prefer_ipv6),
        "vcc_err_unref" => onoff(p.vcc_err_unref),
        "http_max_hdr" => p.http_max_hdr.to_string(),
        "http_req_hdr_len" => bytes(p.http_req_hdr_len),
        "http_req_size" => bytes(p.http_req_size),
        "max_restarts" => p.max_restarts.to_string(),
        "max_retries" => p.max_retries.to_string(),
        "req_body_max" => bytes(p.req_body_max),
        "vcl_path" => p.vcl_path.join(":"),
        other => p
            .others
            .iter()
            .find(|(n, _)| *n == other)
            .map(|(_, v)| v.clone())
            .or_else(|| PARAMS.iter().find(|d| d.name == other).map(|d| d.default.to_string()))
            .unwrap_or_default(),
    }
}

fn bytes(n: u64) -> String {
    if n > 0 && n.is_multiple_of(1024) {
        format!("{}k", n / 1024)
    } else {
        n.to_string()
    }
}
