//! Running as a service the way varnishd's tools do (Debian's units run `varnishncsa -a -w FILE
//! -D -P PIDFILE` with `Type=forking`): `-P FILE` holds the process id while it runs (`serve`,
//! `log`, `ncsa`), and `-D` (`log`, `ncsa`) runs the same command again in the background,
//! detached, writes that one's id to the `-P` file and returns, so that the caller exits.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::cli::Service;

/// Set in the environment of the background process, which must not start another.
const CHILD: &str = "SHELLAC_DAEMON_CHILD";

/// `-P FILE`: the process id, written when made and removed when dropped (and, with
/// [`PidFile::until_signalled`], when SIGTERM or SIGINT ends the process).
pub(crate) struct PidFile(PathBuf);

impl PidFile {
    /// Writes this process's id to `path`.
    pub(crate) fn write(path: &str) -> anyhow::Result<PidFile> {
        write_pid(path, std::process::id())?;
        Ok(PidFile(PathBuf::from(path)))
    }

    /// For a reader that runs until it is stopped: SIGTERM or SIGINT removes the file and ends
    /// the process (status 0, as varnishncsa's), from a thread of its own.
    pub(crate) fn until_signalled(self) -> anyhow::Result<PidFile> {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let (mut term, mut int) =
            rt.block_on(async { anyhow::Ok((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?)) })?;
        let path = self.0.clone();
        std::thread::spawn(move || {
            rt.block_on(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
            let _ = std::fs::remove_file(&path);
            std::process::exit(0);
        });
        Ok(self)
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_pid(path: &str, pid: u32) -> anyhow::Result<()> {
    // Whole or not at all: written beside it, then renamed over it (the background process
    // writes it again as it starts, while whoever started it may already be reading it).
    let part = format!("{path}.{}.part", std::process::id());
    std::fs::write(&part, format!("{pid}\n"))
        .and_then(|()| std::fs::rename(&part, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        })
        .with_context(|| format!("-P {path}: cannot write the pid file"))
}

/// `-D`: unless this is the background process already, starts this same command again,
/// detached (a process group of its own, standard streams on /dev/null), writes its id to
/// `pid_file`, and returns `true`: the caller exits 0. Called once the arguments have been
/// checked, so that a mistake is reported here rather than lost in the background.
fn background(daemon: bool, pid_file: Option<&str>) -> anyhow::Result<bool> {
    if !daemon || std::env::var_os(CHILD).is_some() {
        return Ok(false);
    }
    let exe = std::env::current_exe().context("-D: cannot find this program")?;
    let child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("-D: cannot start in the background")?;
    if let Some(path) = pid_file {
        write_pid(path, child.id())?;
    }
    Ok(true)
}

/// A reader (`log`, `ncsa`) started as its [`Service`] flags say: where it writes, its `-P`
/// file (held until it ends or is stopped), and how many more it may show (`-k`).
pub(crate) struct Started {
    pub(crate) out: crate::out::Out,
    pub(crate) left: Option<u64>,
    _pid_file: Option<PidFile>,
}

/// Starts a reader whose other arguments have been checked: opens its `-w` file, then goes to
/// the background (`-D`: `None`, and the caller exits 0) or holds its `-P` file.
pub(crate) fn start(s: &Service) -> anyhow::Result<Option<Started>> {
    let out = crate::out::Out::of(s.write.as_deref(), s.append)?;
    if background(s.daemon, s.pid_file.as_deref())? {
        return Ok(None);
    }
    let pid_file = s.pid_file.as_deref().map(|p| PidFile::write(p).and_then(PidFile::until_signalled)).transpose()?;
    Ok(Some(Started { out, left: s.limit, _pid_file: pid_file }))
}

/// Returned (as an error) by a reader's loop when `-k` transactions or lines are done: the
/// reader exits 0.
#[derive(Debug)]
pub(crate) struct Done;

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the -k limit was reached")
    }
}

impl std::error::Error for Done {}

/// Ends a reader's result: [`Done`] is success.
pub(crate) fn finished(r: anyhow::Result<std::process::ExitCode>) -> anyhow::Result<std::process::ExitCode> {
    match r {
        Err(e) if e.is::<Done>() => Ok(std::process::ExitCode::SUCCESS),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_holds_the_id_and_goes_when_dropped() {
        let path = std::env::temp_dir().join(format!("shellac-pid-{}", std::process::id()));
        let p = path.to_str().unwrap_or_default();
        let held = PidFile::write(p).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), format!("{}\n", std::process::id()));
        drop(held);
        assert!(!path.exists());
        assert!(PidFile::write("/nonexistent-dir/x.pid").is_err());
        assert!(finished(Err(Done.into())).is_ok());
        assert!(finished(Err(anyhow::anyhow!("other"))).is_err());
    }
}
