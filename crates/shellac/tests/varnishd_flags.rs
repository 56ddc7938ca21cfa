//! varnishd's other flags on `shellac serve`: `-t -l -i -P -r -I -h -W -j none` on one command
//! line, a failing `-I` file, `-M` (the reverse management connection), and `-V`/`-x`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use shellac_testkit::process::Shellac;
use shellac_testkit::Scratch;

/// A scratch directory (removed, with the shared log of a server killed in it, when dropped)
/// with a VCL that answers every request itself, saying its `server.identity`.
fn scratch(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("flags-{name}"));
    std::fs::write(
        dir.path().join("main.vcl"),
        "vcl 4.1;\nbackend default none;\nsub vcl_recv { return (synth(200)); }\n\
         sub vcl_synth { set resp.http.identity = server.identity; }\n",
    )
    .expect("vcl");
    dir
}

/// The arguments that start `shellac serve` in `dir` (listen and management flags, the VCL),
/// then `args`.
fn serve_args(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = ["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n"].map(String::from).into();
    all.push(dir.join("work").display().to_string());
    all.push("-f".into());
    all.push(dir.join("main.vcl").display().to_string());
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

/// `shellac serve` with these arguments, once it listens.
fn start(dir: &std::path::Path, args: &[&str]) -> Shellac {
    let all = serve_args(dir, args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Shellac::start(env!("CARGO_BIN_EXE_shellac"), &all, &[])
}

fn varnishadm(admin: &str, args: &[&str]) -> Output {
    Command::new("varnishadm")
        .args(["-T", admin])
        .args(args)
        .output()
        .expect("run varnishadm (Debian package varnish; ./dev installs it)")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_varnishd_command_line_with_its_other_flags_starts_and_means_what_it_says() {
    let scratch = scratch("many");
    let dir = scratch.path();
    std::fs::write(dir.join("cli.txt"), "param.set first_byte_timeout 33\n\nvcl.list\n").expect("cli file");
    let pid_file = dir.join("shellac.pid");
    let (cli, pid) = (dir.join("cli.txt"), pid_file.to_str().expect("path").to_string());
    let shellac = start(
        dir,
        &[
            "-t",
            "42",
            "-l",
            "2M",
            "-i",
            "edge-7",
            "-P",
            &pid,
            "-r",
            "default_grace,default_ttl",
            "-I",
            cli.to_str().expect("path"),
            "-h",
            "critbit",
            "-W",
            "epoll",
            "-j",
            "none",
        ],
    );
    let (proxy, admin) = (shellac.addr, shellac.admin.clone().expect("management port"));
    // -P: the process id, in the file, until the process ends.
    assert_eq!(std::fs::read_to_string(&pid_file).expect("pid file").trim(), shellac.pid().to_string());
    // -t and -l are parameters; -I ran before serving.
    let show = |name: &str| text(&varnishadm(&admin, &["param.show", name]).stdout);
    assert!(show("default_ttl").contains("Value is: 42.000 [seconds]"), "{}", show("default_ttl"));
    assert!(show("vsl_space").contains("Value is: 2M [bytes]"), "{}", show("vsl_space"));
    // ... and the shared log is that size (after its 4 KiB head).
    let shared = std::fs::read_to_string(dir.join("work").join("_.vsl")).expect("the pointer to the shared log");
    let len = std::fs::metadata(shared.trim()).expect("the shared log").len();
    assert_eq!(len, 4096 + (2 << 20));
    assert!(show("first_byte_timeout").contains("Value is: 33.000 [seconds]"));
    // -r: read-only, as varnishd says it (status 107); the others still change.
    let refused = varnishadm(&admin, &["param.set", "default_grace", "5"]);
    assert!(!refused.status.success(), "protected");
    let out = text(&refused.stdout) + &text(&refused.stderr);
    assert!(out.contains("parameter \"default_grace\" is protected.") && out.contains("107"), "{out}");
    assert!(varnishadm(&admin, &["param.set", "connect_timeout", "2"]).status.success());
    // -i: server.identity.
    let mut s = TcpStream::connect(proxy).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.to_ascii_lowercase().contains("\r\nidentity: edge-7\r\n"), "{resp}");
    assert!(shellac.stop(), "stops cleanly on SIGTERM");
    assert!(!pid_file.exists(), "the pid file goes with the process");
}

#[test]
fn a_failing_i_command_stops_the_start_and_says_which() {
    let scratch = scratch("failing");
    let dir = scratch.path();
    std::fs::write(dir.join("cli.txt"), "param.set first_byte_timeout 3\nparam.set default_ttl 1\nvcl.list\n")
        .expect("cli file");
    let cli = dir.join("cli.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .arg("serve")
        .args(serve_args(dir, &["-r", "default_ttl", "-I", cli.to_str().expect("path")]))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("CLI command failed (107)"), "{err}");
    assert!(
        err.contains("> param.set default_ttl 1") && err.contains("parameter \"default_ttl\" is protected."),
        "{err}"
    );
    assert!(!err.contains("> vcl.list"), "nothing after the failure runs: {err}");
    assert!(!text(&out.stdout).contains("Listening on"), "it never listened");
}

#[test]
fn m_offers_the_management_protocol_on_a_connection_out() {
    let scratch = scratch("reverse");
    let dir = scratch.path();
    let agent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = agent.local_addr().expect("addr").to_string();
    let shellac = start(dir, &["-M", &addr]);
    let (conn, _) = agent.accept().expect("shellac connects");
    conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    // One framed answer: `STATUS LENGTH`, the body, a newline.
    let mut answer = || {
        let mut head = String::new();
        reader.read_line(&mut head).expect("head");
        let mut words = head.split_whitespace();
        let status: u16 = words.next().and_then(|w| w.parse().ok()).expect("status");
        let len: usize = words.next().and_then(|w| w.parse().ok()).expect("length");
        let mut body = vec![0; len + 1];
        reader.read_exact(&mut body).expect("body");
        (status, text(&body[..len]))
    };
    let (status, banner) = answer();
    assert_eq!(status, 200, "no secret (-S none): the banner at once");
    assert!(banner.contains("Varnish Cache CLI 1.0"), "{banner}");
    let mut w = conn;
    w.write_all(b"param.show default_ttl\n").expect("write");
    let (status, body) = answer();
    assert_eq!(status, 200);
    assert!(body.starts_with("default_ttl\n        Value is: 120.000 [seconds] (default)"), "{body}");
    drop(shellac);
}

#[test]
fn v_and_x_print_and_exit() {
    let run =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_shellac")).arg("serve").args(args).output().expect("run");
    let v = run(&["-V"]);
    assert!(v.status.success() && text(&v.stdout).starts_with("varnishd (varnish-7.1.1 revision shellac-"));
    let builtin = run(&["-x", "builtin"]);
    assert!(text(&builtin.stdout).contains("sub vcl_builtin_recv"), "{}", text(&builtin.stdout));
    let params = text(&run(&["-x", "parameter"]).stdout);
    assert!(params.contains("thread_pools\n    Default: 2 [pools]\n") && params.contains("Shellac does not act on it"));
    assert_eq!(text(&run(&["-x", "optstring"]).stdout), "a:b:Cf:Fh:i:I:j:l:M:n:P:p:r:S:s:T:t:VW:x:\n");
    let bad = run(&["-x", "nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("Invalid -x argument"));
    // -h names a hash algorithm (help is --help); a bad one stops the start.
    let bad = run(&["-h", "nope", "-b", "127.0.0.1:1"]);
    assert!(text(&bad.stderr).contains("Unknown hash method \"nope\""), "{}", text(&bad.stderr));
    assert!(text(&run(&["--help"]).stdout).contains("Usage: shellac serve"));
}
