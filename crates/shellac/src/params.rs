//! varnishd parameters given with `-p name=value`, checked against the engine's table; the
//! VCL compiler reads `vcl_path` and `vcc_err_unref` from them.

use anyhow::Context as _;
use shellac_engine::params::Params;
use shellac_vcl::Options;

/// Parses `-p` flags into parameters.
pub(crate) fn parse_params(flags: &[String]) -> anyhow::Result<Params> {
    let mut params = Params::default();
    for p in flags {
        let (name, value) = p.split_once('=').with_context(|| format!("-p {p}: expected NAME=VALUE"))?;
        params.set(name, value).with_context(|| format!("-p {p}"))?;
    }
    Ok(params)
}

/// The compiler options the parameters imply.
pub(crate) fn compiler_options(params: &Params) -> Options {
    Options { vcl_path: params.vcl_path.clone(), err_unref: params.vcc_err_unref }
}
