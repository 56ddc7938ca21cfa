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
    Options {
        vcl_path: params.vcl_path.clone(),
        err_unref: params.vcc_err_unref,
        storages: shellac_vcl::default_storages(),
        // (At boot, and for `check`, there are no labels yet: as `varnishd -C`.)
        labels: Some(Vec::new()),
    }
}

/// varnishd's default store: `-s default,100m`.
const DEFAULT_STORE: u64 = 100 << 20;

/// The stores `-s` describes, each `[NAME=]malloc[,SIZE]` or `default[,SIZE]` (`malloc` without
/// a size is unlimited, as in varnishd; without `-s`, `default,100m` called `s0`), and
/// `Transient` (unlimited unless `-s Transient=malloc,SIZE`).
pub(crate) fn storage(flags: &[String]) -> anyhow::Result<Stores> {
    use anyhow::bail;
    let mut stores: Vec<shellac_cache::Storage> = Vec::new();
    let mut transient = None;
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
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') || name.is_empty() {
            bail!("-s {s}: a storage name is letters, digits, '_' and '-'");
        }
        if name == "Transient" {
            transient = Some(shellac_cache::Storage::new(&name, limit));
            continue;
        }
        if stores.iter().any(|st| st.name() == name) {
            bail!("-s {s}: storage {name:?} is already defined");
        }
        stores.push(shellac_cache::Storage::new(&name, limit));
    }
    if stores.is_empty() {
        stores.push(shellac_cache::Storage::new("s0", DEFAULT_STORE));
    }
    let transient = transient.unwrap_or_else(|| shellac_cache::Storage::new("Transient", u64::MAX));
    Ok(Stores { stores, transient })
}

/// What `-s` gives: the stores in order, and `Transient`.
#[derive(Debug)]
pub(crate) struct Stores {
    pub(crate) stores: Vec<shellac_cache::Storage>,
    pub(crate) transient: shellac_cache::Storage,
}

impl Stores {
    /// The names `storage.NAME` may use in VCL.
    pub(crate) fn names(&self) -> Vec<String> {
        self.stores.iter().chain(std::iter::once(&self.transient)).map(|s| s.name().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(flags: &[&str]) -> anyhow::Result<Stores> {
        storage(&flags.iter().map(|f| f.to_string()).collect::<Vec<_>>())
    }

    fn first(flags: &[&str]) -> (String, u64) {
        let st = s(flags).unwrap();
        (st.stores[0].name().to_string(), st.stores[0].limit())
    }

    #[test]
    fn storage_flags_read_as_varnishd_reads_them() {
        assert_eq!(first(&[]), ("s0".into(), 100 << 20));
        assert_eq!(s(&[]).unwrap().names(), ["s0", "Transient"]);
        assert_eq!(first(&["malloc,256m"]), ("s0".into(), 256 << 20));
        let n = s(&["Transient=malloc,10m", "mem=malloc,1G"]).unwrap();
        assert_eq!((n.stores[0].name(), n.stores[0].limit()), ("mem", 1 << 30));
        assert_eq!((n.transient.name(), n.transient.limit()), ("Transient", 10 << 20));
        assert_eq!(s(&["malloc"]).unwrap().stores[0].limit(), u64::MAX);
        assert_eq!(s(&["malloc"]).unwrap().transient.limit(), u64::MAX);
        // Unnamed stores are numbered by their place among the -s flags, as in varnishd.
        assert_eq!(s(&["malloc,1m", "malloc,2m"]).unwrap().names(), ["s0", "s1", "Transient"]);
        assert!(s(&["file,/tmp/x,1g"]).unwrap_err().to_string().contains("not supported"));
        assert!(s(&["malloc,lots"]).is_err());
        assert!(s(&["a=malloc,1m", "a=malloc,2m"]).unwrap_err().to_string().contains("already defined"));
        assert!(s(&["a.b=malloc,1m"]).is_err());
    }
}
