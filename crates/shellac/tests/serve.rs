//! `shellac serve` as a process: a bad load exits 1 before listening; a good one serves, and
//! SIGTERM drains and exits 0, even when it comes the moment the port is announced.

use shellac_testkit::Scratch;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn shellac(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shellac"));
    c.args(args).env("RUST_LOG", "warn");
    c
}

/// A one-thread origin that answers every request with "origin".
fn origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

fn serve(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        buf.drain(..end);
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\norigin").is_err() {
            return;
        }
    }
}

/// Runs to completion, killing the process if it outlives 20 s (a load that should fail but
/// serves instead must not hang the suite).
fn run_bounded(mut cmd: Command) -> std::process::Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let out = child.wait_with_output().expect("wait");
    let _ = tx.send(());
    out
}

struct Running(Child);

/// Starts `shellac serve ARGS` and reads its first line (`Listening on a0=ADDRESS`): the
/// process, and the address it listens on.
fn serve_process(args: &[&str]) -> (Running, String) {
    let child = shellac(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().expect("stdout")).read_line(&mut line).expect("the listening line");
    assert!(line.starts_with("Listening on a0=127.0.0.1:"), "{line}");
    let addr = line.trim().rsplit('=').next().expect("address").to_string();
    (running, addr)
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_failed_load_exits_1_with_the_diagnostic() {
    let out = run_bounded(shellac(&["serve", "-a", "127.0.0.1:0", "-T", "none", "-b", "no-such-host.invalid:80"]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-host.invalid"), "{err}");
    assert!(out.stdout.is_empty(), "nothing listened");

    let dir = Scratch::new("serve-test-serve");
    let f = dir.join("bad.vcl");
    std::fs::write(
        &f,
        "vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; }\nsub vcl_recv { set req.http.x = req.nothing; }\n",
    )
    .expect("write");
    let out = run_bounded(shellac(&["serve", "-a", "127.0.0.1:0", "-T", "none", "-f", f.to_str().expect("path")]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.vcl:3:"), "{err}");
}

#[test]
fn serves_then_drains_on_sigterm() {
    let port = origin();
    let backend = format!("127.0.0.1:{port}");
    let (mut running, addr) =
        serve_process(&["serve", "-a", "127.0.0.1:0", "-T", "none", "-b", &backend, "-F", "-p", "timeout_idle=2"]);

    let mut c = TcpStream::connect(&addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = String::new();
    c.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with("origin"), "{resp}");

    let status = terminate(&mut running);
    assert!(status.success(), "{status:?}");
}

/// Sends SIGTERM and waits (at most 10 s) for the process to end.
fn terminate(running: &mut Running) -> std::process::ExitStatus {
    let pid = running.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    for _ in 0..100 {
        if let Some(s) = running.0.try_wait().expect("wait") {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("did not exit within 10 s of SIGTERM");
}

#[test]
fn a_signal_as_soon_as_the_port_is_announced_is_handled_not_fatal() {
    // SIGHUP (reload) then SIGTERM (drain), each sent the moment the listening line is read: the
    // handlers are in place by then, so the process neither dies of the first nor fails the
    // second. Several times over, for the race this closes.
    let port = origin();
    let dir = Scratch::new("serve-test-sig");
    let f = dir.join("main.vcl");
    std::fs::write(&f, format!("vcl 4.1;\nbackend o {{ .host = \"127.0.0.1\"; .port = \"{port}\"; }}\n"))
        .expect("write");
    for round in 0..5 {
        let (mut running, _) =
            serve_process(&["serve", "-a", "127.0.0.1:0", "-T", "none", "-f", f.to_str().expect("path")]);
        let pid = running.0.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
        std::thread::sleep(Duration::from_millis(50));
        assert!(running.0.try_wait().expect("wait").is_none(), "round {round}: SIGHUP ended the process");
        let status = terminate(&mut running);
        assert!(status.success(), "round {round}: {status:?}");
    }
}

#[test]
fn sighup_reloads_the_vcl_file_and_keeps_the_old_one_when_it_is_broken() {
    let port = origin();
    let dir = Scratch::new("serve-test-hup");
    let f = dir.join("main.vcl");
    let vcl = |tag: &str| {
        format!(
            "vcl 4.1;\nbackend default {{ .host = \"127.0.0.1\"; .port = \"{port}\"; }}\n\
             sub vcl_deliver {{ set resp.http.X-Gen = \"{tag}\"; }}\n"
        )
    };
    std::fs::write(&f, vcl("one")).expect("write");
    let (mut running, addr) =
        serve_process(&["serve", "-a", "127.0.0.1:0", "-T", "none", "-f", f.to_str().expect("path")]);
    let generation = || {
        let mut c = TcpStream::connect(&addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
        let mut resp = String::new();
        let _ = c.read_to_string(&mut resp);
        resp.lines().find_map(|l| l.strip_prefix("x-gen: ").map(str::to_string)).unwrap_or_default()
    };
    assert_eq!(generation(), "one");
    let pid = running.0.id().to_string();
    let hup = || assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    let wait_for = |want: &str| {
        (0..100).any(|_| {
            generation() == want || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        })
    };

    std::fs::write(&f, vcl("two")).expect("write");
    hup();
    assert!(wait_for("two"), "SIGHUP switched to the new file");

    std::fs::write(&f, "vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; }\nsub vcl_recv { set req.nope = 1; }\n")
        .expect("write");
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(generation(), "two", "a broken file leaves the VCL in use");
    assert!(running.0.try_wait().expect("wait").is_none(), "still running");
}

/// `GET /` over a Unix socket, with `first` (a PROXY header) before it; the answer, in lower case.
fn get_unix(path: &std::path::Path, first: &[u8]) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(path).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(first).expect("write");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.to_ascii_lowercase()
}

#[test]
fn unix_socket_listeners_with_their_mode_and_the_proxy_protocol() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Scratch::new("unix-listen");
    let vcl = dir.path().join("main.vcl");
    std::fs::write(
        &vcl,
        "vcl 4.1;\nbackend default none;\nsub vcl_recv { return (synth(200)); }\n\
         sub vcl_synth { set resp.http.client = client.ip; set resp.http.remote = remote.ip; \
         set resp.http.socket = local.socket; set resp.http.endpoint = local.endpoint; }\n",
    )
    .expect("vcl");
    let (plain, proxied) = (dir.path().join("plain.sock"), dir.path().join("proxied.sock"));
    // A socket an earlier process left behind is replaced.
    drop(std::os::unix::net::UnixListener::bind(&plain).expect("a stale socket"));
    assert!(plain.exists());
    let a1 = format!("web={},mode=0660", plain.display());
    let a2 = format!("{},PROXY", proxied.display());
    let (vcl, work) = (vcl.display().to_string(), dir.path().join("work").display().to_string());
    let (mut running, _) =
        serve_process(&["serve", "-a", "127.0.0.1:0", "-a", &a1, "-a", &a2, "-T", "none", "-n", &work, "-f", &vcl]);
    // (The Unix sockets are bound after a0, which is announced first: until the last is there,
    // at most 10 s.)
    let mode = || std::fs::metadata(&plain).map_or(0, |m| m.permissions().mode() & 0o777);
    for _ in 0..500 {
        if proxied.exists() && mode() == 0o660 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(mode(), 0o660, "the stale socket replaced, with its mode");
    // A Unix socket's client is 0.0.0.0 (as varnishd has it), unless a PROXY header names one.
    let r = get_unix(&plain, b"");
    assert!(r.starts_with("http/1.1 200"), "{r}");
    assert!(r.contains("client: 0.0.0.0\r\n") && r.contains("socket: web\r\n"), "{r}");
    assert!(r.contains(&format!("endpoint: {}\r\n", plain.display()).to_ascii_lowercase()), "{r}");
    let r = get_unix(&proxied, b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
    assert!(r.contains("client: 192.0.2.1\r\n") && r.contains("remote: 0.0.0.0\r\n"), "{r}");
    assert!(get_unix(&proxied, b"").is_empty(), "no header: closed unanswered");
    // Their files go with the process.
    assert!(terminate(&mut running).success());
    assert!(!plain.exists() && !proxied.exists());
}
