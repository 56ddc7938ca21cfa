//! varnishd's other flags, so that a varnishd command line (a systemd unit, an init script)
//! starts `shellac serve` unchanged: `-t` and `-l` (parameters), `-i` (`server.identity`), `-P`
//! (a pid file), `-r` (read-only parameters), `-I` (commands run before serving), `-j` (the
//! jail), `-h` and `-W` (checked, then nothing to do), `-V` and `-x` (print and exit). `-M` is
//! served in `serve.rs`, the `-P` file made by [`crate::daemon`].

use anyhow::{bail, Context as _};

use crate::cli::ServeArgs;

/// The `-p` flags with `-t` and `-l` first, as `default_ttl=` and `vsl_space=` (a `-p` of the
/// same parameter wins).
pub(crate) fn param_flags(args: &ServeArgs) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(ttl) = &args.ttl {
        flags.push(format!("default_ttl={ttl}"));
    }
    if let Some(size) = &args.vsl_space {
        flags.push(format!("vsl_space={size}"));
    }
    flags.extend(args.params.iter().cloned());
    flags
}

/// Checks `-h`, `-W`, `-j` and `-r` as varnishd does, before anything starts; the parameters
/// `-r` makes read-only.
pub(crate) fn check(args: &ServeArgs) -> anyhow::Result<Vec<String>> {
    if let Some(h) = &args.hash {
        let (method, rest) = h.split_once(',').unwrap_or((h, ""));
        let ok = match method {
            "critbit" | "simple_list" => rest.is_empty(),
            "classic" => rest.is_empty() || rest.parse::<u32>().is_ok_and(|n| n > 0),
            _ => bail!("-h {h}: Unknown hash method \"{method}\" (critbit, simple_list, classic[,BUCKETS])"),
        };
        if !ok {
            bail!("-h {h}: bad arguments for {method}");
        }
    }
    if let Some(w) = &args.waiter {
        if !matches!(w.as_str(), "epoll" | "poll") {
            bail!("-W {w}: Unknown waiter method \"{w}\" (epoll, poll)");
        }
    }
    if let Some(j) = &args.jail {
        jail(j, current_uid())?;
    }
    let mut read_only = Vec::new();
    for list in &args.read_only {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if shellac_engine::params::find(name).is_none() {
                bail!("-r {list}: Unknown parameter {name}");
            }
            read_only.push(name.to_string());
        }
    }
    Ok(read_only)
}

/// `-j none`, or `-j unix[,user=U][,ccgroup=G][,workuser=W]`. varnishd, started as root, runs
/// its worker as U; Shellac is one process and does not switch users, so it must already run as
/// U (or, without `user=`, as anyone but root): a root process is refused rather than left
/// running as root where the command line asked for less.
fn jail(spec: &str, uid: Option<u32>) -> anyhow::Result<()> {
    let (method, options) = spec.split_once(',').unwrap_or((spec, ""));
    match method {
        "none" if options.is_empty() => return Ok(()),
        "none" => bail!("-j {spec}: the none jail takes no options"),
        "unix" => {}
        _ => bail!("-j {spec}: Unknown jail method \"{method}\" (none, unix)"),
    }
    let mut user = None;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("user", u)) => user = Some(u),
            Some(("ccgroup" | "workuser", _)) => {}
            _ => bail!("-j {spec}: Unknown unix jail option \"{option}\" (user=, ccgroup=, workuser=)"),
        }
    }
    let wanted = match user {
        Some(u) => Some((
            u,
            crate::listen::id_of("/etc/passwd", u)
                .with_context(|| format!("-j {spec}: Unix jail: {u} user not found."))?,
        )),
        None => None,
    };
    let how = |u: Option<&str>| {
        let (who, unit) = match u {
            Some(u) => (u.to_string(), format!("User={u}")),
            None => ("an unprivileged user".to_string(), "User=…".to_string()),
        };
        format!(
            "run Shellac as {who} (systemd: {unit}, and AmbientCapabilities=CAP_NET_BIND_SERVICE for port 80) and leave -j out"
        )
    };
    match (uid, wanted) {
        (Some(now), Some((_, id))) if now == id => Ok(()),
        (Some(0), Some((u, _))) => bail!("-j {spec}: Shellac does not switch users; {}", how(Some(u))),
        (Some(0), None) => bail!("-j {spec}: Shellac does not switch users; {}", how(None)),
        (Some(now), Some((u, id))) if now != id => bail!("-j {spec}: Shellac runs as uid {now}, not as {u} ({id})"),
        _ => Ok(()),
    }
}

/// This process's user id, from `/proc/self/status` (`None` where there is none to read).
fn current_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Real, effective, saved, file system: the effective one decides.
    line.split_whitespace().nth(2)?.parse().ok()
}

/// What `-V` or `-x WHAT` prints (then `serve` exits), or `None` to serve.
pub(crate) fn explain(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    if args.version {
        return Ok(Some(format!(
            "{}Shellac {}: Varnish 7.1's VCL and management protocol in one binary\n",
            crate::version_line("varnishd"),
            env!("CARGO_PKG_VERSION")
        )));
    }
    let Some(what) = args.explain.as_deref() else { return Ok(None) };
    Ok(Some(match what {
        "builtin" => shellac_vcl::BUILTIN_VCL.to_string(),
        "optstring" => "a:b:Cf:Fh:i:I:j:l:M:n:P:p:r:S:s:T:t:VW:x:\n".to_string(),
        "parameter" => parameters(),
        "cli" => {
            shellac_control::commands::COMMANDS.iter().map(|c| format!("{}\n  {}\n\n", c.syntax, c.help)).collect()
        }
        "vsl" => shellac_engine::vsl::Tag::ALL.iter().map(|t| format!("{}\n", t.name())).collect(),
        other => bail!("-x {other}: Invalid -x argument (builtin, parameter, cli, vsl, optstring)"),
    }))
}

/// Every parameter: name, default and unit, range, what it does, and whether Shellac acts on it.
fn parameters() -> String {
    let mut out = String::new();
    for d in shellac_engine::params::all() {
        let units = if d.units.is_empty() { String::new() } else { format!(" [{}]", d.units) };
        out.push_str(&format!("{}\n    Default: {}{units}\n", d.name, d.default));
        if let Some(min) = d.min {
            out.push_str(&format!("    Minimum: {min}\n"));
        }
        if let Some(max) = d.max {
            out.push_str(&format!("    Maximum: {max}\n"));
        }
        out.push_str(&format!("    {}\n", d.doc));
        if !d.used {
            out.push_str("    (accepted, as varnishd's; Shellac does not act on it)\n");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jails_are_checked_as_varnishd_checks_them() {
        assert!(jail("none", Some(0)).is_ok());
        let err = |spec: &str, uid| jail(spec, uid).unwrap_err().to_string();
        assert!(err("foo", Some(1000)).contains("Unknown jail method \"foo\""));
        assert!(err("none,user=x", Some(1000)).contains("takes no options"));
        assert!(err("unix,colour=blue", Some(1000)).contains("Unknown unix jail option"));
        assert!(err("unix,user=no-such-user-here", Some(1000)).contains("no-such-user-here user not found"));
        // Root is refused with what to do; the user asked for is accepted as it is.
        let nobody = crate::listen::id_of("/etc/passwd", "nobody").ok();
        if let Some(id) = nobody {
            assert!(err("unix,user=nobody", Some(0)).contains("does not switch users; run Shellac as nobody"));
            assert!(jail("unix,user=nobody", Some(id)).is_ok());
        }
        assert!(err("unix", Some(0)).contains("an unprivileged user"));
        assert!(jail("unix,user=root", Some(0)).is_ok(), "already the user asked for");
        assert!(jail("unix,ccgroup=x", Some(1000)).is_ok());
        assert!(err("unix,user=root", Some(1000)).contains("runs as uid 1000, not as root (0)"));
    }
}
