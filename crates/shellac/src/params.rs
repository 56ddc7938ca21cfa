//! varnishd parameters given with `-p name=value`: the names Shellac knows and the values the
//! VCL compiler reads (`vcl_path`, `vcc_err_unref`).

use anyhow::{bail, Context as _};
use shellac_vcl::Options;

/// Parameters Shellac accepts (spec §6.1). Only the compiler's are read so far; the others are
/// validated by name and kept for the data path.
const KNOWN: &[&str] = &[
    "default_ttl",
    "default_grace",
    "default_keep",
    "connect_timeout",
    "first_byte_timeout",
    "between_bytes_timeout",
    "backend_idle_timeout",
    "max_retries",
    "max_restarts",
    "shortlived",
    "clock_skew",
    "vcl_cooldown",
    "vcc_err_unref",
    "vcl_path",
    "http_gzip_support",
    "http_range_support",
    "prefer_ipv6",
    "backend_remote_error_holddown",
    "backend_local_error_holddown",
    "ban_lurker_age",
    "ban_lurker_batch",
    "ban_lurker_sleep",
    "ban_dups",
    "rush_exponent",
    "timeout_idle",
    "send_timeout",
    "pipe_timeout",
    "cli_limit",
    "cli_timeout",
];

/// Builds compiler options from `-p` flags.
pub(crate) fn compiler_options(params: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options::default();
    for p in params {
        let (name, value) = p.split_once('=').with_context(|| format!("-p {p}: expected NAME=VALUE"))?;
        if !KNOWN.contains(&name) {
            bail!("-p {p}: unknown parameter \"{name}\"");
        }
        match name {
            "vcl_path" => opts.vcl_path = value.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "vcc_err_unref" => {
                opts.err_unref = match value {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    _ => bail!("-p {p}: vcc_err_unref takes on or off"),
                }
            }
            _ => {}
        }
    }
    Ok(opts)
}
