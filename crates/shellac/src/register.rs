//! `shellac register`: flags to a [`Registration`], then hold it until SIGTERM or SIGINT.

use std::process::ExitCode;

use anyhow::Context as _;
use shellac_control::registrar::{self, CheckUrl, Registration};

use crate::cli::RegisterArgs;

/// Runs the registrar.
pub(crate) fn run(args: &RegisterArgs) -> anyhow::Result<ExitCode> {
    let opts = crate::etcd::options(&args.etcd, &args.etcd_args)?;
    let reg = Registration {
        key: args.key.clone(),
        value: args.value.clone(),
        ttl: crate::etcd::duration("--ttl", &args.ttl)?,
        check: args.check.as_deref().map(CheckUrl::parse).transpose()?,
        check_interval: crate::etcd::duration("--check-interval", &args.check_interval)?,
    };
    reg.validate()?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the runtime")?;
    // (The signal handlers are set up inside the runtime, before the registrar starts.)
    runtime.block_on(async { registrar::run(opts, reg, crate::serve::shutdown_signal()).await });
    Ok(ExitCode::SUCCESS)
}
