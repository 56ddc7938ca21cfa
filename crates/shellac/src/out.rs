//! Where `shellac ncsa` and `shellac log` write: standard output, or the `-w` file, which SIGHUP
//! reopens under the same name (logrotate moved the old one away).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;

/// Where lines go: standard output, or a file that SIGHUP reopens.
pub(crate) enum Out {
    Stdout,
    File { path: String, file: std::fs::File, hup: Arc<AtomicBool> },
}

impl Out {
    /// `-w PATH` (`-a`: appended to), or standard output without one or with `-`.
    pub(crate) fn of(path: Option<&str>, append: bool) -> anyhow::Result<Out> {
        Ok(match path {
            Some(path) if path != "-" => {
                let hup = Arc::new(AtomicBool::new(false));
                on_hangup(hup.clone())?;
                Out::File { path: path.to_string(), file: Out::open(path, append)?, hup }
            }
            _ => Out::Stdout,
        })
    }

    fn open(path: &str, append: bool) -> anyhow::Result<std::fs::File> {
        let mut o = std::fs::OpenOptions::new();
        o.create(true);
        if append {
            o.append(true);
        } else {
            o.write(true).truncate(true);
        }
        o.open(path).with_context(|| format!("-w {path}"))
    }

    pub(crate) fn write(&mut self, text: &str) -> anyhow::Result<()> {
        self.write_bytes(text.as_bytes())
    }

    pub(crate) fn write_bytes(&mut self, text: &[u8]) -> anyhow::Result<()> {
        match self {
            Out::Stdout => crate::stdout_bytes(text)?,
            Out::File { path, file, hup } => {
                if hup.swap(false, Ordering::Relaxed) {
                    // Rotated away: a new file under the same name (appended to, in case
                    // it is already there).
                    *file = Out::open(path, true)?;
                }
                file.write_all(text).with_context(|| format!("writing {path}"))?;
            }
        }
        Ok(())
    }
}

/// Sets `flag` on each SIGHUP, from a thread of its own.
fn on_hangup(flag: Arc<AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let mut hup = rt.block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) })?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            while hup.recv().await.is_some() {
                flag.store(true, Ordering::Relaxed);
            }
        })
    });
    Ok(())
}
