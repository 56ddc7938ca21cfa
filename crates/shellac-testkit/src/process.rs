//! A `shellac serve` process for tests: started with its arguments, its addresses read from what
//! it prints (`Listening on a0=…`, `Management port on …`), its log (stderr) kept for assertions,
//! stopped with SIGTERM or killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// At most this much of the log is kept.
const LOG_MAX: usize = 4 << 20;

/// A running `shellac serve`.
pub struct Shellac {
    binary: String,
    child: Child,
    /// The first `-a` address.
    pub addr: SocketAddr,
    /// The management address, when it has one.
    pub admin: Option<String>,
    /// The metrics address (`--metrics`), when it has one.
    pub metrics: Option<String>,
    log: Arc<Mutex<String>>,
    /// Directories removed once the process has stopped (see [`Shellac::owning`]).
    dirs: Vec<crate::Scratch>,
}

// === impl Shellac ===

impl Shellac {
    /// Runs `BINARY serve ARGS` with `RUST_LOG=info` (unless `RUST_LOG` is among `env`) and
    /// waits, at most 30 s, until it listens.
    pub fn start(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Shellac {
        let mut cmd = Command::new(binary);
        cmd.arg("serve").args(args);
        Shellac::run(binary, cmd, env)
    }

    /// [`Shellac::start`] with at most `fds` file descriptors (`ulimit -n`).
    pub fn start_limited(binary: &str, fds: u32, args: &[&str], env: &[(&str, &str)]) -> Shellac {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("ulimit -n {fds} && exec \"$0\" serve \"$@\""), binary]).args(args);
        Shellac::run(binary, cmd, env)
    }

    fn run(binary: &str, mut cmd: Command, env: &[(&str, &str)]) -> Shellac {
        cmd.env("RUST_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || keep(stderr, &sink));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut addr, mut admin, mut metrics) = (None, None, None);
        while addr.is_none() {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("shellac did not listen; its log:\n{}", log.lock());
            };
            if let Some(a) = line.strip_prefix("Listening on a0=") {
                addr = a.parse().ok();
            } else if let Some(a) = line.strip_prefix("Management port on ") {
                admin = Some(a.to_string());
            } else if let Some(a) = line.strip_prefix("Metrics on ") {
                metrics = Some(a.to_string());
            }
        }
        Shellac { binary: binary.to_string(), child, addr: addr.expect("addr"), admin, metrics, log, dirs: Vec::new() }
    }

    /// [`Shellac::start`] off the async runtime, so that in-process origins on it keep answering
    /// (`serve` probes discovered members before it listens).
    pub async fn spawn(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Shellac {
        let binary = binary.to_string();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Shellac::start(&binary, &args, &env)
        })
        .await
        .expect("start shellac")
    }

    /// Keeps `dir` (its working directory, its VCL) until the process has stopped, then
    /// removes it.
    pub fn owning(mut self, dir: crate::Scratch) -> Shellac {
        self.dirs.push(dir);
        self
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().clone()
    }

    /// Waits, at most `limit`, until the log contains `needle`; returns whether it did.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log().contains(needle)
    }

    /// Runs `shellac adm -T ADMIN CMD…` (without a secret: start with `-S none`); returns what
    /// it printed.
    pub fn adm(&self, cmd: &[&str]) -> String {
        let admin = self.admin.as_deref().expect("started with a management port");
        let out = Command::new(&self.binary).args(["adm", "-T", admin]).args(cmd).output().expect("shellac adm");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops it with SIGTERM and returns whether it exited with status 0 (within 20 s).
    pub fn stop(mut self) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Shellac {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // (Then `dirs` go: nothing works in them any more.)
    }
}

/// Appends what `r` gives to `log`, up to [`LOG_MAX`], until it ends.
fn keep(mut r: impl Read, log: &Mutex<String>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            return;
        }
        let mut l = log.lock();
        if l.len() < LOG_MAX {
            l.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}
