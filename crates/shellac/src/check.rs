//! `shellac check` and `shellac serve -C`: compile the VCL, print what it declares or why it
//! fails, and exit 0 or 1, as `varnishd -C` does. `serve` compiles through [`compile_vcl`] too.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
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
}

/// `shellac check -f FILE`.
pub(crate) fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let opts = compiler_options(&parse_params(&args.params)?);
    print_check(&VclSource::File(args.vcl_file.clone()), &opts, !args.no_resolve)
}

/// `shellac serve -C …`.
pub(crate) fn run_serve_check(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let opts = compiler_options(&parse_params(&args.params)?);
    let source = match (&args.backend, args.vcl_file.last()) {
        (Some(b), _) => VclSource::Backend(b.clone()),
        (None, Some(f)) => VclSource::File(f.clone()),
        (None, None) => bail!("-C needs -f FILE or -b HOST[:PORT]"),
    };
    print_check(&source, &opts, !args.no_resolve)
}

fn print_check(source: &VclSource, opts: &Options, resolve: bool) -> anyhow::Result<ExitCode> {
    match compile_vcl(source, opts, resolve)? {
        Some((p, _)) => {
            print!("{}", summary(&p));
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

/// A relative `-f` name is tried in the current directory, then along vcl_path (varnishd only
/// searches vcl_path, which surprises users running from a checkout).
fn find_vcl(file: &str, opts: &Options) -> anyhow::Result<String> {
    shellac_control::manager::find_vcl(file, opts).with_context(|| {
        format!("cannot find VCL file {file} (searched the current directory and vcl_path {})", opts.vcl_path.join(":"))
    })
}
