//! `param.show [-l|-j] [NAME|changed]` and `param.set [-j] NAME VALUE`, from the engine's
//! parameter table, in varnishd 7.1's layouts: the one-line list, the long form with default and
//! range, and the JSON list; `changed` is the parameters that differ from their defaults.

use std::fmt::Write as _;

use shellac_engine::params::{self, ParamDef, ParamKind, Params};

use crate::manager::{Failure, Manager};
use crate::proto::Status;

/// `param.show`
pub fn show(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let (mut long, mut json) = (false, false);
    let mut name = None;
    for a in args {
        match a.as_str() {
            "-l" => long = true,
            "-j" => json = true,
            other if other.starts_with('-') => return Err((Status::Param, format!("Invalid flag {other}"))),
            other => name = Some(other),
        }
    }
    let params = m.server.params();
    let rows: Vec<&ParamDef> = match name {
        None => params::all(),
        Some("changed") => params::all().into_iter().filter(|d| !params.is_default(d.name)).collect(),
        Some(n) => vec![params::find(n).ok_or_else(|| (Status::Param, format!("Unknown parameter \"{n}\".")))?],
    };
    if json {
        let items: Vec<String> = rows.iter().map(|d| json_item(&params, d)).collect();
        let mut out = crate::json::header(2, "param.show", args);
        out.push_str(&items.join(",\n"));
        out.push_str("\n]\n");
        return Ok(out);
    }
    // One parameter by name, or -l: the long form.
    if long || name.is_some_and(|n| n != "changed") {
        return Ok(rows.iter().map(|d| long_form(&params, d)).collect());
    }
    let mut out = String::new();
    for d in rows {
        let value = params.value(d.name).unwrap_or_default();
        let default = if params.is_default(d.name) { " (default)" } else { "" };
        let _ = writeln!(out, "{:<30}{value}{}{default}", d.name, units(d));
    }
    Ok(out)
}

/// `param.set`
pub fn set(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let args: Vec<&String> = args.iter().filter(|a| *a != "-j").collect();
    if args.len() != 2 {
        return Err((Status::TooFew, "Too few parameters".into()));
    }
    refuse_protected(m, args[0])?;
    let mut params = (*m.server.params()).clone();
    // varnishd's message, with what was attempted (status 106).
    params.set(args[0], args[1]).map_err(|e| (Status::Param, e.to_string()))?;
    m.server.set_params(params);
    Ok(String::new())
}

/// `param.reset PARAM`: back to its default (varnishd's, not a `-p` given at the start).
pub fn reset(m: &Manager, args: &[String]) -> Result<String, Failure> {
    let name = &args[0];
    if name == "-j" {
        return Err((Status::Unimplemented, "JSON unimplemented".into()));
    }
    refuse_protected(m, name)?;
    let mut default =
        Params::defaults().value(name).ok_or_else(|| (Status::Param, format!("Unknown parameter \"{name}\".")))?;
    // (A set of switches is changed by what is given, not replaced: `default` puts it back.)
    if params::find(name).is_some_and(|d| d.kind == ParamKind::Bits) {
        default = "default".into();
    }
    let mut params = (*m.server.params()).clone();
    params.set(name, &default).map_err(|e| (Status::Param, e.to_string()))?;
    m.server.set_params(params);
    Ok(String::new())
}

/// A parameter made read-only with `-r` is refused as varnishd refuses it (status 107).
fn refuse_protected(m: &Manager, name: &str) -> Result<(), Failure> {
    if m.is_protected(name) {
        return Err((Status::Auth, format!("parameter \"{name}\" is protected.")));
    }
    Ok(())
}

/// ` [seconds]`, or nothing for a parameter without a unit.
fn units(d: &ParamDef) -> String {
    if d.units.is_empty() {
        String::new()
    } else {
        format!(" [{}]", d.units)
    }
}

/// The default as varnishd prints it.
fn default_text(d: &ParamDef) -> String {
    match d.kind {
        ParamKind::Duration => Params::defaults().value(d.name).unwrap_or_else(|| d.default.to_string()),
        _ => d.default.to_string(),
    }
}

/// `NAME`, `Value is:`, `Default is:` (when changed), the range, and the description.
fn long_form(p: &Params, d: &ParamDef) -> String {
    let value = p.value(d.name).unwrap_or_default();
    let mut out = format!("{}\n", d.name);
    if p.is_default(d.name) {
        let _ = writeln!(out, "        Value is: {value}{} (default)", units(d));
    } else {
        let _ = writeln!(out, "        Value is: {value}{}", units(d));
        let _ = writeln!(out, "        Default is: {}", default_text(d));
    }
    if let Some(min) = d.min {
        let _ = writeln!(out, "        Minimum is: {min}");
    }
    if let Some(max) = d.max {
        let _ = writeln!(out, "        Maximum is: {max}");
    }
    let _ = write!(out, "\n        {}\n\n", d.doc);
    if !d.used {
        out.push_str("        NB: Shellac accepts this parameter, as varnishd's, and does not act on it.\n\n");
    }
    out
}

/// One parameter as `param.show -j` lists it.
fn json_item(p: &Params, d: &ParamDef) -> String {
    use crate::json::string;
    let value = p.value(d.name).unwrap_or_default();
    let json_value = match d.kind {
        ParamKind::Bool => (value == "on").to_string(),
        ParamKind::Text | ParamKind::Bits | ParamKind::Pool => string(&value),
        ParamKind::Bytes => shellac_engine::params::parse_bytes(&value).unwrap_or(0).to_string(),
        ParamKind::Duration | ParamKind::Uint | ParamKind::Double => value,
    };
    let mut out = format!(
        "  {{\n    \"name\": {},\n    \"implemented\": {},\n    \"value\": {json_value},\n",
        string(d.name),
        d.used
    );
    if !d.units.is_empty() {
        let _ = writeln!(out, "    \"units\": {},", string(d.units));
    }
    let _ = writeln!(out, "    \"default\": {},", string(&default_text(d)));
    if let Some(min) = d.min {
        let _ = writeln!(out, "    \"minimum\": {},", string(min));
    }
    if let Some(max) = d.max {
        let _ = writeln!(out, "    \"maximum\": {},", string(max));
    }
    let _ = writeln!(out, "    \"description\": {},", string(d.doc));
    if d.flags.is_empty() {
        out.push_str("    \"flags\": []\n  }");
    } else {
        let flags: Vec<String> = d.flags.iter().map(|f| format!("      {}", string(f))).collect();
        let _ = write!(out, "    \"flags\": [\n{}\n    ]\n  }}", flags.join(",\n"));
    }
    out
}
