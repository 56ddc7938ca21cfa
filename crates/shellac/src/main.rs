//! `shellac`: an HTTP cache and load balancer that runs Varnish's VCL.
//!
//! This binary parses the command line (varnishd's flags for `serve`), wires the crates together
//! and turns errors into exit codes. It is the only place `anyhow` is used.

mod check;
mod cli;
mod fs_loader;
mod params;
mod resolver;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Check(args) => check::run_check(&args),
        cli::Command::Serve(args) => check::run_serve(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shellac: {e:#}");
            ExitCode::FAILURE
        }
    }
}
