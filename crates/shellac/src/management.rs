//! `serve`'s management port with varnishd's defaults: `-T` on localhost at a free port unless
//! `-T none`; the working directory `-n DIR`, else varnishd's own default (so that a plain
//! `varnishadm` finds it), else a per-user one; `-S FILE`, else a secret generated in the
//! working directory, or `-S none` for none.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use shellac_control::workdir::{self, Workdir, WorkdirError};

use crate::cli::ServeArgs;

/// Where `-T` listens when it is not given: localhost, a free port (as varnishd).
const DEFAULT_ADDRESS: &str = "127.0.0.1:0";

/// The management port's settings, worked out before serving.
pub(crate) struct Management {
    /// Where to listen (`None`: `-T none`).
    pub(crate) address: Option<String>,
    /// The working directory held, where the address and secret are published.
    pub(crate) workdir: Option<Workdir>,
    /// The secret file, if there is authentication.
    pub(crate) secret_path: Option<PathBuf>,
    /// Its contents.
    pub(crate) secret: Option<Arc<Vec<u8>>>,
}

/// Works out `-T`, `-n` and `-S`; takes the working directory (an error if another Shellac or
/// varnishd holds it) and generates the secret.
pub(crate) fn setup(args: &ServeArgs) -> anyhow::Result<Management> {
    let address = match args.admin.as_deref() {
        Some("none") => None,
        Some(a) => Some(a.to_string()),
        None => Some(DEFAULT_ADDRESS.to_string()),
    };
    let workdir = match (&args.workdir, &address) {
        (Some(dir), _) => Some(Workdir::open(Path::new(dir)).map_err(|e| in_use_hint(&format!("-n {dir}"), e))?),
        (None, Some(_)) => Some(default_workdir()?),
        (None, None) => None,
    };
    let secret_path = match (args.secret.as_deref(), &workdir) {
        (Some("none"), _) | (None, None) => None,
        (Some(f), _) => Some(PathBuf::from(f)),
        (None, Some(w)) => Some(
            workdir::generate_secret(w.path())
                .with_context(|| format!("{}: cannot write _.secret", w.path().display()))?,
        ),
    };
    let secret = match &secret_path {
        None => None,
        Some(f) => Some(Arc::new(
            std::fs::read(f).with_context(|| format!("-S {}: cannot read the secret file", f.display()))?,
        )),
    };
    Ok(Management { address, workdir, secret_path, secret })
}

/// varnishd's default working directory, or the per-user one when this user may not write it.
fn default_workdir() -> anyhow::Result<Workdir> {
    match Workdir::open(Path::new(workdir::VARNISHD_DEFAULT)) {
        Ok(w) => Ok(w),
        Err(e @ WorkdirError::InUse { .. }) => Err(in_use_hint("the default working directory", e)),
        Err(e) => {
            let user = workdir::user_default();
            tracing::info!(
                "cannot use varnishd's working directory ({e}); using {} (plain varnishadm will not find \
                 it: use varnishadm -n {} or shellac adm)",
                user.display(),
                user.display()
            );
            Workdir::open_private(&user).map_err(|e| in_use_hint("the per-user working directory", e))
        }
    }
}

/// The error, with what to do when the directory is taken.
fn in_use_hint(what: &str, e: WorkdirError) -> anyhow::Error {
    match e {
        WorkdirError::InUse { .. } => anyhow::anyhow!(
            "{what}: {e} (another shellac or varnishd); give this one its own working directory with -n DIR, \
             or run it without a management port with -T none"
        ),
        e => anyhow::Error::new(e).context(what.to_string()),
    }
}
