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

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

// === impl Etcd ===

impl Etcd {
    /// Starts etcd and waits until it answers (at most 20 s).
    pub async fn start() -> Etcd {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("shellac-etcd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let client_port = free_port();
        let peer_port = free_port();
        let mut e = Etcd { url: format!("http://127.0.0.1:{client_port}"), client_port, peer_port, dir, child: None };
        e.restart().await;
        e
    }

    /// Starts it again after [`Etcd::stop`], with the same ports and data.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "etcd is already running");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(&self.dir)
            .args(["--listen-client-urls", &self.url, "--advertise-client-urls", &self.url])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd runs (./dev deps installs etcd-server)");
        self.child = Some(child);
        let start = tokio::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.is_healthy().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("etcd did not become healthy on {} within 20 s", self.url);
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
    }
}
