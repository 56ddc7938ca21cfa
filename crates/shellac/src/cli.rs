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
    // (varnishd's `-h` names its hash algorithm: help is `--help` only.)
    #[command(disable_help_flag = true)]
    Serve(Box<ServeArgs>),
    /// Check a VCL file: print what it declares, or its errors, and exit 0 or 1.
    Check(CheckArgs),
    /// Send a command to a running Shellac's management port, as varnishadm does.
    Adm(AdmArgs),
    /// Show a running Shellac's counters, as varnishstat does.
    Stat(StatArgs),
    /// Follow a running Shellac's transaction log, as varnishlog does.
    Log(LogArgs),
    /// Write a running Shellac's requests as access log lines, as varnishncsa does.
    Ncsa(NcsaArgs),
    /// Show the records a running Shellac logs most often, as varnishtop does.
    Top(TopArgs),
    /// Register a backend in etcd under a lease, keep it alive, withdraw it when a health check
    /// fails and on SIGTERM/SIGINT (replaces seed 000's fleet sidekick).
    Register(RegisterArgs),
}

/// How to reach etcd (serve and register).
#[derive(Debug, Args, Clone)]
pub(crate) struct EtcdArgs {
    /// User and password for etcd authentication, `USER:PASSWORD`.
    #[arg(long = "etcd-user", value_name = "USER:PASSWORD")]
    pub(crate) etcd_user: Option<String>,
    /// CA certificate (PEM) to verify etcd's TLS certificate.
    #[arg(long = "etcd-cacert", value_name = "FILE")]
    pub(crate) etcd_cacert: Option<String>,
    /// Client certificate (PEM) for etcd's TLS client authentication.
    #[arg(long = "etcd-cert", value_name = "FILE", requires = "etcd_key")]
    pub(crate) etcd_cert: Option<String>,
    /// Client key (PEM) for `--etcd-cert`.
    #[arg(long = "etcd-key", value_name = "FILE", requires = "etcd_cert")]
    pub(crate) etcd_key: Option<String>,
}

/// `shellac register`.
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// etcd endpoints, `URL[,URL…]`.
    #[arg(long, value_name = "URLS")]
    pub(crate) etcd: String,
    /// The key, `/varnish/backends/GROUP/HOST:PORT`.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// The value: empty, or JSON such as `{"weight": 2}`.
    #[arg(long, value_name = "JSON", default_value = "")]
    pub(crate) value: String,
    /// Lease time to live.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub(crate) ttl: String,
    /// Health check URL (`http://host:port/path`): registered only while it answers 2xx/3xx.
    #[arg(long, value_name = "URL")]
    pub(crate) check: Option<String>,
    /// How often to run the health check.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub(crate) check_interval: String,
    #[command(flatten)]
    pub(crate) etcd_args: EtcdArgs,
}

/// How a management client reaches a running Shellac (or varnishd).
#[derive(Debug, Args)]
pub(crate) struct Reach {
    /// Management address `host:port`.
    #[arg(short = 'T', value_name = "ADDRESS")]
    pub(crate) admin: Option<String>,
    /// Working directory of the running Shellac (or varnishd): find -T and -S there. Without
    /// -T and -n: varnishd's default working directory, then the per-user one.
    #[arg(short = 'n', value_name = "DIR", conflicts_with = "admin")]
    pub(crate) workdir: Option<String>,
    /// Secret file.
    #[arg(short = 'S', value_name = "FILE")]
    pub(crate) secret: Option<String>,
}

/// `shellac adm`: varnishadm's flags.
#[derive(Debug, Args)]
pub(crate) struct AdmArgs {
    #[command(flatten)]
    pub(crate) reach: Reach,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    pub(crate) command: Vec<String>,
}

/// `shellac stat`: varnishstat's flags.
#[derive(Debug, Args)]
pub(crate) struct StatArgs {
    #[command(flatten)]
    pub(crate) reach: Reach,
    /// Print the counters once, in varnishstat -1's layout.
    #[arg(short = '1')]
    pub(crate) once: bool,
    /// Print the counters once, in varnishstat -j's layout.
    #[arg(short = 'j', conflicts_with = "once")]
    pub(crate) json: bool,
    /// Only counters matching this glob (`*` for any characters; `^GLOB` leaves them out);
    /// repeatable.
    #[arg(short = 'f', value_name = "GLOB")]
    pub(crate) fields: Vec<String>,
    /// Seconds between refreshes of the live view.
    #[arg(short = 'w', value_name = "SECONDS", default_value = "1")]
    pub(crate) interval: f64,
    /// List the counters' names and descriptions (those -f keeps), and exit.
    #[arg(short = 'l', conflicts_with_all = ["once", "json"])]
    pub(crate) list: bool,
    /// Print the counters once, in varnishstat -x's XML layout.
    #[arg(short = 'x', conflicts_with_all = ["once", "json", "list"])]
    pub(crate) xml: bool,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub(crate) version: bool,
}

/// What makes a reader a service, as varnishlog's and varnishncsa's flags do.
#[derive(Debug, Args, Clone)]
pub(crate) struct Service {
    /// Run in the background (with -P, its process id goes there).
    #[arg(short = 'D')]
    pub(crate) daemon: bool,
    /// Write the process id to this file while it runs.
    #[arg(short = 'P', value_name = "FILE")]
    pub(crate) pid_file: Option<String>,
    /// Stop after this many transactions (log) or lines (ncsa).
    #[arg(short = 'k', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) limit: Option<u64>,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub(crate) version: bool,
    /// Write to this file (reopened on SIGHUP, for logrotate) instead of standard output
    /// (`shellac log` writes text, as varnishlog -A -w does).
    #[arg(short = 'w', value_name = "FILE")]
    pub(crate) write: Option<String>,
    /// Append to the -w file rather than truncate it.
    #[arg(short = 'a')]
    pub(crate) append: bool,
}

/// `-b`, `-c`: the sides whose transactions a log reader (`log`, `top`) takes.
#[derive(Debug, Args)]
pub(crate) struct SideFlags {
    /// Only backend transactions (with -c too: both).
    #[arg(short = 'b')]
    pub(crate) backend: bool,
    /// Only client transactions (and sessions).
    #[arg(short = 'c')]
    pub(crate) client: bool,
}

impl SideFlags {
    /// The sides they select (neither: both).
    pub(crate) fn sides(&self) -> crate::log::Sides {
        crate::log::Sides::of(self.client, self.backend)
    }
}

/// `-i`, `-x`, `-I`, `-X`: varnishlog's record filters, which a log reader (`log`, `top`) applies
/// to the records of the transactions it takes (see [`crate::filter`]).
#[derive(Debug, Args)]
pub(crate) struct RecordFlags {
    /// Only the records of these tags (names or globs such as `Req*`, any case, by commas; may
    /// be given again).
    #[arg(short = 'i', value_name = "TAGLIST")]
    pub(crate) include: Vec<String>,
    /// Never the records of these tags.
    #[arg(short = 'x', value_name = "TAGLIST")]
    pub(crate) exclude: Vec<String>,
    /// The records (of these tags, if given) whose data matches the regular expression (and,
    /// with no -i, only those).
    #[arg(short = 'I', value_name = "[TAGLIST:]REGEX")]
    pub(crate) select: Vec<String>,
    /// Not the records (of these tags, if given) whose data matches.
    #[arg(short = 'X', value_name = "[TAGLIST:]REGEX")]
    pub(crate) suppress: Vec<String>,
}

impl RecordFlags {
    /// The filter they make (`None`: none given).
    pub(crate) fn filter(&self) -> Result<Option<crate::filter::Filter>, crate::filter::FilterError> {
        crate::filter::Filter::parse(&self.include, &self.exclude, &self.select, &self.suppress)
    }
}

/// `shellac log`: varnishlog's flags (so far).
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    #[command(flatten)]
    pub(crate) reach: Reach,
    #[command(flatten)]
    pub(crate) service: Service,
    #[command(flatten)]
    pub(crate) sides: SideFlags,
    /// Text in the -w file (what Shellac always writes; varnishlog writes binary without it).
    #[arg(short = 'A')]
    pub(crate) ascii: bool,
    /// Grouping: `vxid` (a transaction at a time), `request` (a request with its fetches),
    /// `session` (a connection with its requests) or `raw` (a record a line).
    #[arg(short = 'g', value_name = "GROUPING", default_value = "vxid", value_parser = ["vxid", "request", "session", "raw"])]
    pub(crate) grouping: String,
    /// Print what the log holds now, then exit.
    #[arg(short = 'd')]
    pub(crate) dump: bool,
    /// Show only the transactions (or groups) this query selects (varnishlog's query
    /// language); several are or'ed.
    #[arg(short = 'q', value_name = "QUERY")]
    pub(crate) query: Vec<String>,
    #[command(flatten)]
    pub(crate) records: RecordFlags,
}

/// `shellac top`: varnishtop's flags.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    #[command(flatten)]
    pub(crate) reach: Reach,
    /// Read what the log holds, print the counts once and exit.
    #[arg(short = '1')]
    pub(crate) once: bool,
    #[command(flatten)]
    pub(crate) sides: SideFlags,
    /// Begin with what the log holds now (else with what comes from now on).
    #[arg(short = 'd')]
    pub(crate) dump: bool,
    /// Count each record by its first word only (a header by its name).
    #[arg(short = 'f')]
    pub(crate) first_field: bool,
    /// The seconds a count is an average over (each count shrinks by a PERIODth a second).
    #[arg(short = 'p', value_name = "PERIOD", default_value_t = 60.0, value_parser = period)]
    pub(crate) period: f64,
    /// Only the transactions this query selects (varnishlog's query language); several are
    /// or'ed.
    #[arg(short = 'q', value_name = "QUERY")]
    pub(crate) query: Vec<String>,
    #[command(flatten)]
    pub(crate) records: RecordFlags,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub(crate) version: bool,
}

/// `-p`: a period of at least a second (varnishtop's own bound).
fn period(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p >= 1.0 && p.is_finite() => Ok(p),
        _ => Err(format!("{text:?}: a period is a number of seconds, at least 1")),
    }
}

/// `shellac ncsa`: varnishncsa's flags.
#[derive(Debug, Args)]
pub(crate) struct NcsaArgs {
    #[command(flatten)]
    pub(crate) reach: Reach,
    #[command(flatten)]
    pub(crate) service: Service,
    /// The line format (default: NCSA combined,
    /// `%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"`).
    #[arg(short = 'F', value_name = "FORMAT", conflicts_with = "format_file")]
    pub(crate) format: Option<String>,
    /// Read the format from the first line of this file.
    #[arg(short = 'f', value_name = "FILE")]
    pub(crate) format_file: Option<String>,
    /// Log backend requests (alone, unless -c too).
    #[arg(short = 'b')]
    pub(crate) backend: bool,
    /// Log client requests (the default).
    #[arg(short = 'c')]
    pub(crate) client: bool,
    /// Write what the log holds now, then exit.
    #[arg(short = 'd')]
    pub(crate) dump: bool,
    /// Only the requests this query selects (varnishlog's query language); several are or'ed.
    #[arg(short = 'q', value_name = "QUERY")]
    pub(crate) query: Vec<String>,
    /// JSON-safe values: `\uXXXX` escapes, `""` for an empty string, `null` for a missing
    /// number.
    #[arg(short = 'j')]
    pub(crate) json: bool,
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
    /// Management interface `address:port`, or `none` (default: localhost, a free port).
    #[arg(short = 'T', value_name = "ADDRESS")]
    pub(crate) admin: Option<String>,
    /// Secret file for the management interface, or `none` (default: generated in the working
    /// directory).
    #[arg(short = 'S', value_name = "FILE")]
    pub(crate) secret: Option<String>,
    /// Working directory, where varnishadm finds the management port (default: varnishd's,
    /// /var/lib/varnish/varnishd, else a per-user one).
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
    /// `default_ttl` (as `-p default_ttl=TTL`, before the `-p` flags).
    #[arg(short = 't', value_name = "TTL")]
    pub(crate) ttl: Option<String>,
    /// The shared log's size (as `-p vsl_space=SIZE`).
    #[arg(short = 'l', value_name = "SIZE")]
    pub(crate) vsl_space: Option<String>,
    /// `server.identity` (default: the host name).
    #[arg(short = 'i', value_name = "IDENTITY")]
    pub(crate) identity: Option<String>,
    /// Write the process id to this file (removed on exit).
    #[arg(short = 'P', value_name = "FILE")]
    pub(crate) pid_file: Option<String>,
    /// Parameters that param.set may not change (`-r NAME[,NAME…]`); repeatable.
    #[arg(short = 'r', value_name = "NAMES")]
    pub(crate) read_only: Vec<String>,
    /// Management commands to run before serving, one a line; one that fails stops the start.
    #[arg(short = 'I', value_name = "FILE")]
    pub(crate) cli_file: Option<String>,
    /// Also offer the management protocol on a connection to this `address:port` (a reverse
    /// management port, reconnected when it closes).
    #[arg(short = 'M', value_name = "ADDRESS")]
    pub(crate) reverse_admin: Option<String>,
    /// Jail: `none`, or `unix[,user=USER][,ccgroup=GROUP][,workuser=USER]` (Shellac does not
    /// switch users: it must already run as USER).
    #[arg(short = 'j', value_name = "JAIL")]
    pub(crate) jail: Option<String>,
    /// varnishd's hash algorithm (`critbit`, `simple_list`, `classic[,BUCKETS]`); accepted,
    /// Shellac has its own index.
    #[arg(short = 'h', value_name = "HASH")]
    pub(crate) hash: Option<String>,
    /// varnishd's waiter (`epoll`, `poll`); accepted, Shellac waits with tokio.
    #[arg(short = 'W', value_name = "WAITER")]
    pub(crate) waiter: Option<String>,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub(crate) version: bool,
    /// Print `builtin` (the builtin VCL), `parameter`, `cli`, `vsl` or `optstring`, and exit.
    #[arg(short = 'x', value_name = "WHAT")]
    pub(crate) explain: Option<String>,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// Do not resolve backend and ACL host names when checking (VCL written for another network).
    #[arg(long)]
    pub(crate) no_resolve: bool,
    /// Serve Prometheus metrics on this address (`HOST:PORT`), at `/metrics`.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) metrics: Option<String>,
    /// Discover backends in etcd at these endpoints (`URL[,URL…]`). Without -f or -b, serve seed
    /// 000's setup: one round-robin director per group, routed by the Host's first label.
    #[arg(long, value_name = "URLS")]
    pub(crate) etcd: Option<String>,
    /// The root of the backend keys `<prefix><group>/<host>:<port>`.
    #[arg(long, value_name = "PREFIX", default_value = "/varnish/backends/")]
    pub(crate) etcd_prefix: String,
    /// Without -f: the group for requests whose Host names no group (without it: the group
    /// `default` when it has keys, else the only group).
    #[arg(long, value_name = "GROUP")]
    pub(crate) etcd_default_group: Option<String>,
    /// Anti-entropy: list every key again this often.
    #[arg(long, value_name = "DURATION", default_value = "300s")]
    pub(crate) etcd_resync: String,
    /// Where invalidations for the whole cluster (`ban.cluster`, `etcd.ban()`, `etcd.purge()`,
    /// `etcd.xkey_purge()`) are written and watched (default: `bans/` beside the backend
    /// prefix, `/varnish/bans/`).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) etcd_bans_prefix: Option<String>,
    #[command(flatten)]
    pub(crate) etcd_args: EtcdArgs,
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
    /// Storage `[name=]malloc[,size]` the VCL may name as `storage.NAME`; repeatable.
    #[arg(short = 's', value_name = "STORAGE")]
    pub(crate) storage: Vec<String>,
    /// Do not resolve backend and ACL host names (VCL written for another network).
    #[arg(long)]
    pub(crate) no_resolve: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
