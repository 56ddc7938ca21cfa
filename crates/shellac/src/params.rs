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

/// varnishd's default store: `-s default,100m`.
const DEFAULT_STORE: u64 = 100 << 20;

/// The object store `-s` describes: `[NAME=]malloc[,SIZE]` or `default[,SIZE]` (one store;
/// `malloc` without a size is unlimited, as in varnishd; without `-s`, `default,100m`).
/// `Transient=…` is accepted: short-lived objects are never kept in the store.
pub(crate) fn storage(flags: &[String]) -> anyhow::Result<shellac_cache::Storage> {
    use anyhow::bail;
    let mut main: Option<shellac_cache::Storage> = None;
    for (i, s) in flags.iter().enumerate() {
        let (name, spec) = match s.split_once('=') {
            Some((n, rest)) if !n.contains(',') => (n.to_string(), rest),
            _ => (format!("s{i}"), s.as_str()),
        };
        let mut parts = spec.split(',');
        let kind = parts.next().unwrap_or_default();
        if matches!(kind, "file" | "umem" | "deprecated_persistent") {
            bail!("-s {s}: {kind} storage is not supported; use malloc[,SIZE]");
        }
        let size = parts.next();
        if parts.next().is_some() {
            bail!("-s {s}: expected [NAME=]malloc[,SIZE]");
        }
        let limit = match (kind, size) {
            ("malloc" | "default", Some(size)) => shellac_engine::params::parse_bytes(size)
                .with_context(|| format!("-s {s}: bad size {size:?} (a number with k, m, g, t or p)"))?,
            ("malloc", None) => u64::MAX,
            ("default", None) => DEFAULT_STORE,
            _ => bail!("-s {s}: unknown storage type {kind:?} (expected malloc or default)"),
        };
        if name == "Transient" {
            continue;
        }
        if main.is_some() {
            bail!("-s {s}: only one store is supported (besides Transient)");
        }
        main = Some(shellac_cache::Storage::new(&name, limit));
    }
    Ok(main.unwrap_or_else(|| shellac_cache::Storage::new("s0", DEFAULT_STORE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(flags: &[&str]) -> anyhow::Result<shellac_cache::Storage> {
        storage(&flags.iter().map(|f| f.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn storage_flags_read_as_varnishd_reads_them() {
        let d = s(&[]).unwrap();
        assert_eq!((d.name(), d.limit()), ("s0", 100 << 20));
        let m = s(&["malloc,256m"]).unwrap();
        assert_eq!((m.name(), m.limit()), ("s0", 256 << 20));
        let n = s(&["Transient=malloc,10m", "mem=malloc,1G"]).unwrap();
        assert_eq!((n.name(), n.limit()), ("mem", 1 << 30));
        assert_eq!(s(&["malloc"]).unwrap().limit(), u64::MAX);
        assert!(s(&["file,/tmp/x,1g"]).unwrap_err().to_string().contains("not supported"));
        assert!(s(&["malloc,lots"]).is_err());
        assert!(s(&["malloc,1m", "malloc,2m"]).is_err());
    }
}
