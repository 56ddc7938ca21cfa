//! A real etcd server for tests (Debian's `etcd-server`, installed by `./dev`): started on free
//! loopback ports with a fresh data directory, stoppable and restartable on the same ports and
//! data (to test a proxy riding out an etcd outage) or replaced by a fresh cluster on the same
//! ports, killed and cleaned up on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A running (or stopped) etcd.
pub struct Etcd {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    client_port: u16,
    peer_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Two distinct ports that were free a moment ago (both held while the second is found, so
/// that the system cannot hand out the same one twice).
fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("a bound port").port();
    (port(&a), port(&b))
}

// === impl Etcd ===

impl Etcd {
    /// Starts etcd and waits until it answers (at most 20 s). Its ports are free when they
    /// are chosen, but another test may take one before etcd binds it: an etcd that exits
    /// before it answers is started again on other ports (five tries).
    pub async fn start() -> Etcd {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("shellac-etcd-{}-{n}", std::process::id()));
        let mut tries = 0;
        loop {
            let _ = std::fs::remove_dir_all(&dir);
            let (client_port, peer_port) = free_ports();
            let url = format!("http://127.0.0.1:{client_port}");
            let mut e = Etcd { url, client_port, peer_port, dir: dir.clone(), child: None };
            match e.run().await {
                Ok(()) => return e,
                Err(why) if tries < 4 => {
                    tries += 1;
                    eprintln!("etcd on {} did not start ({why}): again on other ports", e.url);
                }
                Err(why) => panic!("etcd on {} did not start: {why}", e.url),
            }
        }
    }

    /// Starts it again after [`Etcd::stop`], with the same ports and data.
    pub async fn restart(&mut self) {
        if let Err(why) = self.run().await {
            panic!("etcd on {} did not start again: {why}", self.url);
        }
    }

    /// Runs etcd on its ports and data, and waits until it answers: why not, if it exited or
    /// did not answer within 20 s (what it wrote to its standard error, kept in a file beside
    /// its data, tells why).
    async fn run(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "etcd is already running");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = self.log_path();
        let stderr = std::fs::File::create(&log).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(&self.dir)
            .args(["--listen-client-urls", &self.url, "--advertise-client-urls", &self.url])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("etcd runs (./dev deps installs etcd-server)");
        self.child = Some(child);
        let start = tokio::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.is_healthy().await {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("it exited ({status}): {}", self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop();
        Err(format!("no answer within 20 s: {}", self.log_tail()))
    }

    /// Where its standard error goes.
    fn log_path(&self) -> PathBuf {
        let mut p = self.dir.clone().into_os_string();
        p.push(".log");
        PathBuf::from(p)
    }

    /// The end of what it wrote to its standard error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: String = text.chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
        if tail.trim().is_empty() {
            "it wrote nothing".into()
        } else {
            tail.trim().to_string()
        }
    }

    /// Replaces it by a fresh cluster on the same ports: stopped, its data removed, started
    /// again (another cluster id, revisions from the start).
    pub async fn replace(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        self.restart().await;
    }

    /// Stops it (SIGKILL; the data stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.client_port
    }

    async fn is_healthy(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.client_port)).await else { return false };
        let req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf);
        text.starts_with("HTTP/1.1 200") && text.contains("\"health\":\"true\"")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.log_path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_etcd_that_cannot_take_its_port_says_why_at_once() {
        let mut etcd = Etcd::start().await;
        etcd.stop();
        // Another process's listener on its client port: etcd cannot start again there.
        let _taken = TcpListener::bind(("127.0.0.1", etcd.port())).expect("the stopped etcd's port");
        let t = tokio::time::Instant::now();
        let why = etcd.run().await.expect_err("the port is taken");
        assert!(t.elapsed() < Duration::from_secs(15), "told when it exited, not after 20 s: {:?}", t.elapsed());
        assert!(why.contains("exited") && why.contains("address already in use"), "{why}");
    }
}
