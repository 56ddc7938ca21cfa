//! `shellac check` and `shellac serve -C`: compile the VCL, print what it declares or why it
//! fails, and exit 0 or 1, as `varnishd -C` does.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use shellac_vcl::summary::summary;
use shellac_vcl::{compile, Options, Resolver};

use crate::cli::{CheckArgs, ServeArgs};
use crate::fs_loader::FsLoader;
use crate::params::compiler_options;
use crate::resolver::SystemResolver;

/// `shellac check -f FILE`.
pub(crate) fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let opts = compiler_options(&args.params)?;
    check_file(&args.vcl_file, &opts, !args.no_resolve)
}

/// `shellac serve …`: only `-C` exists so far.
pub(crate) fn run_serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let opts = compiler_options(&args.params)?;
    if !args.check_only {
        bail!("serving traffic is not built yet (it arrives with the data path); use -C to check the VCL");
    }
    if let Some(b) = &args.backend {
        let source = backend_vcl(b)?;
        return check_source("<-b argument>", source.as_bytes(), &opts, !args.no_resolve);
    }
    let Some(file) = args.vcl_file.last() else { bail!("-C needs -f FILE or -b HOST[:PORT]") };
    check_file(file, &opts, !args.no_resolve)
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

fn check_file(file: &str, opts: &Options, resolve: bool) -> anyhow::Result<ExitCode> {
    let path = find_vcl(file, opts)?;
    let source = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    check_source(&path, &source, opts, resolve)
}

/// A relative `-f` name is tried in the current directory, then along vcl_path (varnishd only
/// searches vcl_path, which surprises users running from a checkout).
fn find_vcl(file: &str, opts: &Options) -> anyhow::Result<String> {
    if file.starts_with('/') || std::path::Path::new(file).exists() {
        return Ok(file.to_string());
    }
    for dir in &opts.vcl_path {
        let candidate = format!("{}/{file}", dir.trim_end_matches('/'));
        if std::path::Path::new(&candidate).exists() {
            return Ok(candidate);
        }
    }
    bail!("cannot find VCL file {file} (searched the current directory and vcl_path {})", opts.vcl_path.join(":"))
}

fn check_source(name: &str, source: &[u8], opts: &Options, resolve: bool) -> anyhow::Result<ExitCode> {
    let resolver = SystemResolver;
    let out = compile(name, source, opts, &FsLoader, resolve.then_some(&resolver as &dyn Resolver));
    let diagnostics = out.render();
    if !diagnostics.is_empty() {
        eprint!("{diagnostics}");
    }
    match &out.program {
        Some(p) => {
            print!("{}", summary(p));
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::FAILURE),
    }
}
