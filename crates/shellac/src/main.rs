//! `shellac`: an HTTP cache and load balancer that runs Varnish's VCL.
//!
//! This binary parses the command line (varnishd's flags for `serve`), wires the crates together
//! and turns errors into exit codes. It is the only place `anyhow` is used.

mod adm;
mod check;
mod cli;
mod daemon;
mod etcd;
mod filter;
mod groups;
mod listen;
mod log;
mod management;
mod ncsa;
mod out;
mod params;
mod query;
mod register;
mod serve;
mod stat;
mod top;
mod varnishd;

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc: the data path allocates small, short-lived buffers per request; with it
/// `bench/proxy.sh` serves about 5 % more requests per second than with glibc's malloc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Check(args) => check::run_check(&args),
        cli::Command::Adm(args) => adm::run(&args),
        cli::Command::Stat(args) if args.version => version("varnishstat"),
        cli::Command::Stat(args) => stat::run(&args),
        cli::Command::Log(args) if args.service.version => version("varnishlog"),
        cli::Command::Ncsa(args) if args.service.version => version("varnishncsa"),
        cli::Command::Log(args) => log::run(&args),
        cli::Command::Ncsa(args) => ncsa::run(&args),
        cli::Command::Top(args) if args.version => version("varnishtop"),
        cli::Command::Top(args) => top::run(&args),
        cli::Command::Register(args) => {
            init_logging();
            register::run(&args)
        }
        cli::Command::Serve(args) => match varnishd::explain(&args) {
            Ok(Some(text)) => stdout(&text).map(|_| ExitCode::SUCCESS).map_err(Into::into),
            Err(e) => Err(e),
            Ok(None) if args.check_only => check::run_serve_check(&args),
            Ok(None) => {
                init_logging();
                serve::run(&args)
            }
        },
    };
    match result {
        Ok(code) => code,
        // Whoever read the output went away (`shellac log | head`): nothing more to say.
        Err(e) if e.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shellac: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `-V` of a reader: the varnishd tool it stands for, and Shellac's version.
fn version(tool: &str) -> anyhow::Result<ExitCode> {
    stdout(&version_line(tool))?;
    Ok(ExitCode::SUCCESS)
}

/// The line `-V` prints, as the varnishd tool `tool` prints its own, with Shellac's version.
pub(crate) fn version_line(tool: &str) -> String {
    format!("{tool} (varnish-7.1.1 revision shellac-{})\n", env!("CARGO_PKG_VERSION"))
}

/// Writes `text` to standard output. A failure (a closed pipe included) is an error, never a
/// panic as `print!`'s is.
pub(crate) fn stdout(text: &str) -> std::io::Result<()> {
    stdout_bytes(text.as_bytes())
}

/// As [`stdout`], of text already in bytes.
pub(crate) fn stdout_bytes(text: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text)?;
    out.flush()
}

/// Whether an error is standard output's reader having gone away.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Logs to stderr; `RUST_LOG` (e.g. `info,backend_health=warn`) filters.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
}
