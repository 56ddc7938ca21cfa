//! The working directory (`-n DIR`) as varnishd keeps it and its clients read it: `_.pid`, locked
//! while the process runs (with `flock`, as varnishd locks it, so neither can take a directory the
//! other holds), `_.secret`, and in `_.vsm_mgt/` an `_.index` naming the segments that hold the
//! `-T` address and the `-S` secret path, so that `varnishadm [-n DIR]` and Debian's
//! `varnishreload` find the management port. Only those segments are written; statistics and
//! logs are not. [`discover`] reads them back for `shellac adm`.
//!
//! Without `-n`, the directory is varnishd's default, [`VARNISHD_DEFAULT`], so that a plain
//! `varnishadm` finds Shellac; a user who may not write there gets [`user_default`] instead.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// varnishd's working directory when `-n` is not given (Debian's build), where `varnishadm`
/// looks without `-n`.
pub const VARNISHD_DEFAULT: &str = "/var/lib/varnish/varnishd";

/// A working directory this process holds: created, and locked through `_.pid` until the
/// process exits (the lock goes with the descriptor).
#[derive(Debug)]
pub struct Workdir {
    path: PathBuf,
    _pid: File,
}

/// Why a working directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkdirError {
    /// It cannot be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Another process (Shellac or varnishd) holds it.
    #[error("{path} is in use by {}", match pid { Some(p) => format!("process {p}"), None => "another process".to_string() })]
    InUse {
        /// The directory.
        path: String,
        /// The holder, as its `_.pid` says.
        pid: Option<u32>,
    },
    /// A shared directory (the per-user fallback) that is not ours alone.
    #[error("{path} is not a directory owned by this user and closed to others")]
    NotPrivate {
        /// The directory.
        path: String,
    },
}

// === impl Workdir ===

impl Workdir {
    /// Creates (if needed) and locks `dir`, and writes this process's pid into `_.pid`.
    pub fn open(dir: &Path) -> Result<Workdir, WorkdirError> {
        let io = |source| WorkdirError::Io { path: dir.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let pid_path = dir.join("_.pid");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&pid_path)
            .map_err(io)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = f.read_to_string(&mut text);
                return Err(WorkdirError::InUse { path: dir.display().to_string(), pid: text.trim().parse().ok() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        f.set_len(0).map_err(io)?;
        f.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(io)?;
        Ok(Workdir { path: dir.to_path_buf(), _pid: f })
    }

    /// Opens the per-user fallback directory: created closed to others, and refused when it
    /// exists but belongs to someone else or is open to others.
    pub fn open_private(dir: &Path) -> Result<Workdir, WorkdirError> {
        use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
        let io = |source| WorkdirError::Io { path: dir.display().to_string(), source };
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let meta = std::fs::symlink_metadata(dir).map_err(io)?;
        if !meta.is_dir() || meta.uid() != own_uid() || meta.mode() & 0o077 != 0 {
            return Err(WorkdirError::NotPrivate { path: dir.display().to_string() });
        }
        Workdir::open(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The working directory of a user who may not write [`VARNISHD_DEFAULT`]:
/// `$XDG_RUNTIME_DIR/shellac`, else `shellac-<uid>` in the temporary directory.
pub fn user_default() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("shellac"),
        _ => std::env::temp_dir().join(format!("shellac-{}", own_uid())),
    }
}

/// The working directories `shellac adm` tries without `-T` or `-n`, in order.
pub fn defaults() -> [PathBuf; 2] {
    [PathBuf::from(VARNISHD_DEFAULT), user_default()]
}

fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Writes the index and its segments; `admin` is the bound management address, `secret` the
/// secret file. The directory is held ([`Workdir::open`]), which wrote `_.pid`.
pub fn publish(dir: &Path, admin: std::net::SocketAddr, secret: Option<&Path>) -> std::io::Result<()> {
    let mgt = dir.join("_.vsm_mgt");
    std::fs::create_dir_all(&mgt)?;
    let pid = std::process::id();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut index = format!("# {pid} {now}\n");
    let mut segment = |tag: &str, value: &str| -> std::io::Result<()> {
        let file = format!("_.Arg.{:016x}", fxhash(&format!("{pid}{tag}{value}")));
        // A C string padded to a multiple of 8, in a 4 KiB segment, as varnishd writes them.
        let len = (value.len() + 1).div_ceil(8) * 8;
        let mut bytes = value.as_bytes().to_vec();
        bytes.resize(4096.max(len), 0);
        std::fs::write(mgt.join(&file), bytes)?;
        index.push_str(&format!("+ {file} 0 {len} Arg {tag}\n"));
        Ok(())
    };
    segment("-T", &format!("{} {}\n", admin.ip(), admin.port()))?;
    if let Some(s) = secret {
        segment("-S", &absolute(s).to_string_lossy())?;
    }
    // Written last and whole, so a reader never sees an index naming missing segments.
    let tmp = mgt.join("_.index.tmp");
    std::fs::File::create(&tmp)?.write_all(index.as_bytes())?;
    std::fs::rename(tmp, mgt.join("_.index"))
}

/// Reads back what [`publish`] (or varnishd) wrote: the management address and the secret
/// file, as `varnishadm -n DIR` finds them.
pub fn discover(dir: &Path) -> std::io::Result<(String, Option<PathBuf>)> {
    let mgt = dir.join("_.vsm_mgt");
    let index = std::fs::read_to_string(mgt.join("_.index"))?;
    // "# PID TIME": the files outlive their process, whose pid says whether they are current.
    let pid = index.strip_prefix("# ").and_then(|l| l.split_whitespace().next()).unwrap_or("");
    if pid.is_empty() || !Path::new("/proc").join(pid).exists() {
        return Err(std::io::Error::other(format!("the process that wrote it (pid {pid}) is not running")));
    }
    let segment = |tag: &str| -> std::io::Result<Option<String>> {
        for line in index.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 6 && f[0] == "+" && f[4] == "Arg" && f[5] == tag {
                let offset: usize = f[2].parse().unwrap_or(0);
                let bytes = std::fs::read(mgt.join(f[1]))?;
                let text = bytes.get(offset..).unwrap_or(&[]);
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                return Ok(Some(String::from_utf8_lossy(&text[..end]).into_owned()));
            }
        }
        Ok(None)
    };
    let t = segment("-T")?.ok_or_else(|| std::io::Error::other("no -T in the working directory"))?;
    // "ADDR PORT\n", possibly several lines; the first is enough.
    let first = t.lines().next().unwrap_or("");
    let (host, port) =
        first.rsplit_once(' ').ok_or_else(|| std::io::Error::other(format!("bad -T entry {first:?}")))?;
    let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    Ok((addr, segment("-S")?.map(PathBuf::from)))
}

/// Creates `DIR/_.secret` with random contents (mode 0600), as varnishd does without `-S`.
pub fn generate_secret(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join("_.secret");
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    let text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&path)?;
    f.write_all(format!("{text}\n").as_bytes())?;
    Ok(path)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
