//! The command line: `shellac serve` takes varnishd's flags; `shellac check` checks a VCL file.

use clap::{Args, Parser, Subcommand};

/// Shellac: Varnish's VCL, backends from etcd, one binary.
#[derive(Debug, Parser)]
#[command(name = "shellac", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the proxy, with varnishd's flags (`-C` checks the VCL and exits).
    Serve(ServeArgs),
    /// Check a VCL file: print what it declares, or its errors, and exit 0 or 1.
    Check(CheckArgs),
    /// Send a command to a running Shellac's management port, as varnishadm does.
    Adm(AdmArgs),
}

/// `shellac adm`: varnishadm's flags.
#[derive(Debug, Args)]
pub(crate) struct AdmArgs {
    /// Management address `host:port`.
    #[arg(short = 'T', value_name = "ADDRESS", required_unless_present = "workdir")]
    pub(crate) admin: Option<String>,
    /// Working directory of the running Shellac (or varnishd): find -T and -S there.
    #[arg(short = 'n', value_name = "DIR", conflicts_with = "admin")]
    pub(crate) workdir: Option<String>,
    /// Secret file.
    #[arg(short = 'S', value_name = "FILE")]
    pub(crate) secret: Option<String>,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    pub(crate) command: Vec<String>,
}

/// `shellac serve`: varnishd's flags.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen address `[name=][host][:port][,PROXY|HTTP]`; repeatable.
    #[arg(short = 'a', value_name = "ADDRESS")]
    pub(crate) listen: Vec<String>,
    /// Backend `host[:port]` (builds a one-backend VCL); not with -f.
    #[arg(short = 'b', value_name = "HOST[:PORT]", conflicts_with = "vcl_file")]
    pub(crate) backend: Option<String>,
    /// VCL file; relative names are tried in the current directory, then along vcl_path.
    #[arg(short = 'f', value_name = "FILE")]
    pub(crate) vcl_file: Vec<String>,
    /// Management interface `address:port`, or `none`.
    #[arg(short = 'T', value_name = "ADDRESS")]
    pub(crate) admin: Option<String>,
    /// Secret file for the management interface, or `none`.
    #[arg(short = 'S', value_name = "FILE")]
    pub(crate) secret: Option<String>,
    /// Working directory.
    #[arg(short = 'n', value_name = "DIR")]
    pub(crate) workdir: Option<String>,
    /// Parameter `name=value`; repeatable.
    #[arg(short = 'p', value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Storage `[name=]malloc[,size]`; repeatable.
    #[arg(short = 's', value_name = "STORAGE")]
    pub(crate) storage: Vec<String>,
    /// Stay in the foreground.
    #[arg(short = 'F')]
    pub(crate) foreground: bool,
    /// Check the VCL, print what it declares, and exit.
    #[arg(short = 'C')]
    pub(crate) check_only: bool,
    /// Do not resolve backend and ACL host names when checking (VCL written for another network).
    #[arg(long)]
    pub(crate) no_resolve: bool,
}

/// `shellac check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The VCL file.
    #[arg(short = 'f', value_name = "FILE")]
    pub(crate) vcl_file: String,
    /// Parameter `name=value` (vcl_path, vcc_err_unref); repeatable.
    #[arg(short = 'p', value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Do not resolve backend and ACL host names (VCL written for another network).
    #[arg(long)]
    pub(crate) no_resolve: bool,
}
