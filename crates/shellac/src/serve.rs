//! `shellac serve`: compile the VCL, load it, bind the `-a` addresses and serve until SIGTERM or
//! SIGINT, then drain. Any failure before serving (bad VCL, a host that does not resolve, an
//! address that cannot be bound) exits 1 with the reason, before a single request is accepted.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use shellac_control::manager::{Manager, VclText};
use shellac_engine::listener::{self, Listen};
use shellac_engine::server::Server;
use shellac_engine::vcl::Vcl;
use tokio::net::TcpListener;

use crate::check::{compile_vcl, source_of, VclSource};
use crate::cli::ServeArgs;
use crate::params::{compiler_options, parse_params};

/// How long `serve` waits for the first probes of discovered members before it listens (the
/// seed's probe timeout, and a margin).
const FIRST_PROBES_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs the server.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let read_only = crate::varnishd::check(args)?;
    let params = parse_params(&crate::varnishd::param_flags(args))?;
    // (Removed when `run` returns, however it does.)
    let _pid_file = args.pid_file.as_deref().map(crate::daemon::PidFile::write).transpose()?;
    let stores = crate::params::storage(&args.storage)?;
    let mut opts = compiler_options(&params);
    opts.storages = stores.names();
    let source = source_of(args)?;
    let discovery = match &args.etcd {
        Some(urls) => Some((
            crate::etcd::options(urls, &args.etcd_args)?,
            crate::etcd::prefix(&args.etcd_prefix)?,
            crate::etcd::duration("--etcd-resync", &args.etcd_resync)?,
            match &args.etcd_bans_prefix {
                Some(p) => crate::etcd::prefix(p)?,
                None => shellac_control::cluster::prefix_beside(&crate::etcd::prefix(&args.etcd_prefix)?),
            },
        )),
        None => None,
    };
    let Some((program, sources)) = compile_vcl(&source, &opts, !args.no_resolve)? else { return Ok(ExitCode::FAILURE) };
    let management = crate::management::setup(args)?;
    let addrs = if args.listen.is_empty() { vec![":80".to_string()] } else { args.listen.clone() };
    let specs =
        addrs.iter().enumerate().map(|(i, a)| crate::listen::parse(a, i)).collect::<anyhow::Result<Vec<_>>>()?;

    // One worker (TOKIO_WORKER_THREADS=1, as the benchmark pins it to one CPU) runs on the
    // single-threaded scheduler; otherwise one worker per CPU.
    let single = std::env::var("TOKIO_WORKER_THREADS").is_ok_and(|v| v.trim() == "1");
    let runtime = if single {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
    .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut server = Server::with_stores(params.clone(), stores.stores, stores.transient);
        if let Some(identity) = &args.identity {
            // (Nothing holds the server yet.)
            Arc::get_mut(&mut server).context("-i: the server is already shared")?.identity = identity.as_str().into();
        }
        // Discovery starts first, so the VCL's etcd directors load with what it found (it waits
        // at most DISCOVERY_WAIT for etcd; without it, they are empty and answer 503 until it
        // connects).
        let (status, cluster) = match discovery {
            Some((opts, prefix, resync, bans)) => {
                let cluster = crate::etcd::start_cluster(&server, opts.clone(), &bans);
                (Some(crate::etcd::start(&server, opts, &prefix, resync, params.prefer_ipv6).await), Some(cluster))
            }
            None => (None, None),
        };
        let program = Arc::new(program);
        let registry_server = server.clone();
        let vcl = tokio::task::spawn_blocking(move || Vcl::load("boot", program, &registry_server.registry, &params))
            .await
            .context("loading the VCL")?
            .context("cannot load the VCL")?;
        let manager = Arc::new(Manager::new(server.clone(), !args.no_resolve));
        manager.adopt(vcl, sources);
        if let Some(cluster) = cluster {
            manager.set_cluster(cluster);
        }
        manager.protect(read_only);
        if let Some(file) = &args.cli_file {
            run_cli_file(&manager, file).await?;
        }
        if let Some(status) = status {
            manager.set_discovery(status);
            // Discovered members are probed before the first request, so that those that
            // answer take it (rather than 503 while their first probe is on its way).
            if !server.registry.first_probes(FIRST_PROBES_WAIT).await {
                tracing::warn!("some discovered members were not probed within {FIRST_PROBES_WAIT:?}");
            }
        }
        if let (VclSource::Etcd { prefix, .. }, Some(vcl)) = (&source, server.active()) {
            // `vcl` goes at the end of this block: vcl.list counts every other holder as busy.
            for r in shellac_control::discovery::routing::of("boot", &vcl) {
                for line in crate::etcd::setup_lines(prefix, &r.rule, &r.groups_line(), &r.fallback_text) {
                    tracing::info!("{line}");
                }
            }
        }
        // The signal handlers are in place before any port is announced: a signal that
        // comes as soon as the server answers drains it (or reloads), never kills it.
        let shutdown = shutdown_signal();
        if let VclSource::File(file) = &source {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(hup) => drop(tokio::spawn(reload_on_sighup(hup, manager.clone(), file.clone()))),
                Err(e) => tracing::warn!("no SIGHUP handler ({e}): the VCL file is not reloaded on SIGHUP"),
            }
        }
        if let Some(addr) = &args.metrics {
            let socket = TcpListener::bind(addr).await.with_context(|| format!("--metrics {addr}: cannot listen"))?;
            let bound = socket.local_addr().map_or(addr.clone(), |a| a.to_string());
            tracing::info!("metrics on http://{bound}/metrics");
            // (Announced on stdout for scripts; a closed stdout must not stop the server.)
            let _ = crate::stdout(&format!("Metrics on {bound}\n"));
            tokio::spawn(shellac_control::web::serve(socket, manager.clone()));
        }
        let crate::management::Management { address, workdir, secret_path, secret } = management;
        if let Some(addr) = address {
            let socket = TcpListener::bind(&addr).await.with_context(|| format!("-T {addr}: cannot listen"))?;
            let bound = socket.local_addr().map_or(addr.clone(), |a| a.to_string());
            match &secret_path {
                None => {
                    tracing::warn!("management port {bound} has no secret (-S none): anyone who can connect can manage")
                }
                Some(f) => tracing::info!("management port {bound}, secret {}", f.display()),
            }
            let _ = crate::stdout(&format!("Management port on {bound}\n"));
            if let (Some(w), Ok(local)) = (&workdir, socket.local_addr()) {
                shellac_control::workdir::publish(w.path(), local, secret_path.as_deref())
                    .with_context(|| format!("{}: cannot publish the management address", w.path().display()))?;
                let n = if w.path() == std::path::Path::new(shellac_control::workdir::VARNISHD_DEFAULT) {
                    String::new()
                } else {
                    format!(" -n {}", w.path().display())
                };
                tracing::info!("manage with: varnishadm{n} backend.list (or shellac adm{n} backend.list)");
            }
            tokio::spawn(shellac_control::server::serve(socket, manager.clone(), secret.clone()));
        }
        if let Some(addr) = &args.reverse_admin {
            tokio::spawn(shellac_control::server::reverse(addr.clone(), manager.clone(), secret.clone()));
        }
        // The log, shared with `shellac log` and `shellac ncsa` on this machine through a file.
        let _shared = match &workdir {
            Some(w) => match shellac_engine::vsl::shared::start(
                server.registry.log.clone(),
                w.path(),
                server.params().vsl_space,
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("{}: cannot share the log ({e}); shellac log reads it over -T", w.path().display());
                    None
                }
            },
            None => None,
        };
        // Held (locked) until the process ends.
        let _workdir = workdir;
        let mut listens = Vec::new();
        for spec in specs {
            let (socket, bound) = crate::listen::bind(&spec).await?;
            let crate::listen::Spec { name, endpoint, proxy, .. } = spec;
            tracing::info!("listening on {name}={bound}");
            let _ = crate::stdout(&format!("Listening on {name}={bound}\n"));
            listens.push(Listen { name, endpoint, socket, proxy });
        }
        listener::serve(server, listens, shutdown).await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `-I FILE`: its commands, run before serving and logged; the first that fails stops the
/// start with the transcript so far.
async fn run_cli_file(manager: &Manager, file: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("-I {file}: cannot read it"))?;
    match shellac_control::server::run_commands(manager, &text).await {
        Ok(transcript) => {
            for line in transcript.lines().filter(|l| !l.is_empty()) {
                tracing::info!("-I {file}: {line}");
            }
            Ok(())
        }
        Err((transcript, status, _)) => {
            bail!("-I {file}: CLI command failed ({})\n{}", status as u16, transcript.trim_end())
        }
    }
}

/// SIGHUP: compile the `-f` file again and switch to it if it compiles and loads; otherwise
/// log why and keep serving with the VCL in use.
async fn reload_on_sighup(mut hup: tokio::signal::unix::Signal, manager: Arc<Manager>, file: String) {
    let mut n = 0u32;
    while hup.recv().await.is_some() {
        n += 1;
        let name = format!("reload_{n}");
        match manager.load(&name, VclText::File(file.clone())).await {
            Ok(_) => match manager.use_vcl(&name) {
                Ok(_) => tracing::info!("SIGHUP: {file} reloaded as {name}"),
                Err((_, e)) => tracing::warn!("SIGHUP: {e}"),
            },
            Err((_, e)) => tracing::warn!("SIGHUP: {file} not reloaded, the VCL in use stays:\n{e}"),
        }
    }
}

/// The first SIGTERM or SIGINT. The handlers are in place when this returns, not when the
/// future is first polled (until then the default action, the end of the process, would
/// stand). Called within a runtime.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Without signal handlers, run until killed.
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
    }
}
