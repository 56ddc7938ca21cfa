//! `shellac check` and `shellac serve -C`: compile the VCL, print what it declares or why it
//! fails, and exit 0 or 1, as `varnishd -C` does. `serve` compiles through [`compile_vcl`] too.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use shellac_engine::director::groups::FallbackRule;
use shellac_vcl::summary::summary;
use shellac_vcl::{compile, Options, Program, Resolver};

use crate::cli::{CheckArgs, ServeArgs};
use crate::params::{compiler_options, parse_params};
use shellac_control::fs::{FsLoader, SystemResolver};

/// Where the VCL comes from.
pub(crate) enum VclSource {
    /// `-f FILE`
    File(String),
    /// `-b HOST[:PORT]`
    Backend(String),
    /// `--etcd` without `-f`/`-b`: seed 000's setup under a prefix, with a default group.
    Etcd {
        /// The key root.
        prefix: String,
        /// `--etcd-default-group`: the fallback group, else the automatic rule.
        default_group: Option<String>,
    },
}

/// `shellac check -f FILE`.
pub(crate) fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut opts = compiler_options(&parse_params(&args.params)?);
    opts.storages = crate::params::storage(&args.storage)?.names();
    print_check(&VclSource::File(args.vcl_file.clone()), &opts, !args.no_resolve)
}

/// `shellac serve -C …`; with `--etcd` and no `-f`, also what the seed-000 setup does and the
/// groups etcd has now.
pub(crate) fn run_serve_check(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    crate::varnishd::check(args)?;
    let mut opts = compiler_options(&parse_params(&crate::varnishd::param_flags(args))?);
    opts.storages = crate::params::storage(&args.storage)?.names();
    let source = source_of(args)?;
    let code = print_check(&source, &opts, !args.no_resolve)?;
    if let (VclSource::Etcd { prefix, default_group }, Some(urls)) = (&source, &args.etcd) {
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
        let rule = match default_group {
            Some(g) => FallbackRule::Named(g.clone()),
            None => FallbackRule::Auto,
        };
        let found = crate::etcd::options(urls, &args.etcd_args).and_then(|o| crate::etcd::list_groups(o, prefix));
        let (groups, fallback) = match found {
            Ok(g) if g.is_empty() => ("none yet".to_string(), rule.pick(&[]).to_string()),
            Ok(g) => {
                let names: Vec<String> = g.keys().cloned().collect();
                let each: Vec<String> =
                    g.iter().map(|(n, k)| format!("{n} ({k} key{})", if *k == 1 { "" } else { "s" })).collect();
                (each.join(", "), rule.pick(&names).to_string())
            }
            Err(e) => (format!("unknown (etcd at {urls} did not answer: {e:#})"), "unknown".to_string()),
        };
        let mut text = "Seed 000 setup (--etcd without -f):\n".to_string();
        for line in crate::etcd::setup_lines(prefix, &rule, &groups, &fallback) {
            text.push_str(&format!("  {line}\n"));
        }
        crate::stdout(&text)?;
    }
    Ok(code)
}

/// Where `serve`'s VCL comes from: `-b`, else `-f`, else the `--etcd` setup.
pub(crate) fn source_of(args: &ServeArgs) -> anyhow::Result<VclSource> {
    Ok(match (&args.backend, args.vcl_file.last(), &args.etcd) {
        (Some(b), _, _) => VclSource::Backend(b.clone()),
        (None, Some(f), _) => VclSource::File(f.clone()),
        (None, None, Some(_)) => VclSource::Etcd {
            prefix: crate::etcd::prefix(&args.etcd_prefix)?,
            default_group: args.etcd_default_group.clone(),
        },
        (None, None, None) => bail!("serve needs -f FILE, -b HOST[:PORT] or --etcd URLS"),
    })
}

fn print_check(source: &VclSource, opts: &Options, resolve: bool) -> anyhow::Result<ExitCode> {
    match compile_vcl(source, opts, resolve)? {
        Some((p, _)) => {
            crate::stdout(&summary(&p))?;
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::FAILURE),
    }
}

/// The files of a compilation as (name, text), for `vcl.show`.
pub(crate) type Sources = Vec<(String, String)>;

/// Compiles the VCL; prints diagnostics (warnings too) to stderr; `None` when it has errors.
pub(crate) fn compile_vcl(
    source: &VclSource,
    opts: &Options,
    resolve: bool,
) -> anyhow::Result<Option<(Program, Sources)>> {
    let (name, text) = match source {
        VclSource::Backend(b) => ("<-b argument>".to_string(), backend_vcl(b)?.into_bytes()),
        VclSource::Etcd { prefix, default_group } => {
            ("<--etcd>".to_string(), etcd_vcl(prefix, default_group.as_deref())?.into_bytes())
        }
        VclSource::File(f) => {
            let path = find_vcl(f, opts)?;
            let text = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
            (path, text)
        }
    };
    let resolver = SystemResolver;
    let out = compile(&name, &text, opts, &FsLoader, resolve.then_some(&resolver as &dyn Resolver));
    let diagnostics = out.render();
    if !diagnostics.is_empty() {
        eprint!("{diagnostics}");
    }
    let sources = out.sources.files().iter().map(|f| (f.name.clone(), f.text.clone())).collect();
    Ok(out.program.map(|p| (p, sources)))
}

/// The VCL that `-b host[:port]` stands for (spec §6.1).
pub(crate) fn backend_vcl(arg: &str) -> anyhow::Result<String> {
    if arg.is_empty() || arg.contains('"') {
        bail!("-b {arg:?}: expected HOST[:PORT]");
    }
    if arg == "none" {
        return Ok("vcl 4.1;\nbackend default none;\n".into());
    }
    Ok(format!("vcl 4.1;\nbackend default {{\n    .host = \"{arg}\";\n}}\n"))
}

/// The VCL that `--etcd` without `-f` stands for: seed 000's load balancer as it was meant to
/// work. Every group `<prefix><group>/` is a round-robin director whose members carry the seed's
/// probe (`GET /probe.txt` with the member's Host, 2 s timeout, every 3 s, 8 good of 10) and
/// timeouts (connect 5 s, first byte 5 s, between bytes 2 s). A request goes to the group named
/// like the first label of its Host header, lower-cased, else to the fallback group (`default`
/// names it; without it, the group `default` when it has keys, else the only group); nothing is
/// cached (the seed passes everything). A request that reaches no group is answered 503 with a
/// page saying why and which groups there are.
pub(crate) fn etcd_vcl(prefix: &str, default_group: Option<&str>) -> anyhow::Result<String> {
    let bad = |s: &str| s.contains(['"', '\\', '\n', '\r']);
    if bad(prefix) {
        bail!("--etcd-prefix {prefix:?}: cannot contain quotes, backslashes or line breaks");
    }
    let default = match default_group {
        Some(g) if g.is_empty() || g.contains('/') || bad(g) => {
            bail!("--etcd-default-group {g:?}: expected a group name (one key path segment)")
        }
        Some(g) => format!("default = \"{g}\", "),
        None => String::new(),
    };
    Ok(format!(
        r#"vcl 4.1;
import etcd;
import std;

backend default none;

probe seed {{
    .url = "/probe.txt";
    .timeout = 2s;
    .interval = 3s;
    .window = 10;
    .threshold = 8;
}}

sub vcl_init {{
    new groups = etcd.groups(prefix = "{prefix}", {default}policy = round_robin,
        probe = seed, connect_timeout = 5s, first_byte_timeout = 5s, between_bytes_timeout = 2s);
}}

sub vcl_recv {{
    set req.backend_hint = groups.backend(std.tolower(regsub(req.http.host, "^([^.:]+).*$", "\1")));
    if (!req.backend_hint) {{
        return (synth(503, "No group"));
    }}
    return (pass);
}}

sub vcl_synth {{
    if (resp.status == 503 && resp.reason == "No group") {{
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.http.Retry-After = "5";
        set resp.body = "503 No group. Host: " + req.http.host + {{"
The group is the Host's first label: "}} + groups.explain(std.tolower(regsub(req.http.host, "^([^.:]+).*$", "\1")))
            + {{".
Name a group in the Host (web.example.com -> group web), or start shellac with
--etcd-default-group GROUP to send every other request to one group.
"}};
        return (deliver);
    }}
}}
"#
    ))
}

/// A relative `-f` name is tried in the current directory, then along vcl_path (varnishd only
/// searches vcl_path, which surprises users running from a checkout).
fn find_vcl(file: &str, opts: &Options) -> anyhow::Result<String> {
    shellac_control::manager::find_vcl(file, opts).with_context(|| {
        format!("cannot find VCL file {file} (searched the current directory and vcl_path {})", opts.vcl_path.join(":"))
    })
}
