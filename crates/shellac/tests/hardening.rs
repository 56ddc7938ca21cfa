//! The real `shellac serve` process under abuse and resource limits (issue 19): accept loops that
//! run out of file descriptors, a request that is not HTTP/1, a backend body cut half way.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use shellac_testkit::{Origin, Scratch, Shellac};

/// CPU time (user + system) of a process so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

fn get(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_accept_loops_survive_running_out_of_descriptors() {
    let origin = Origin::start("o").await;
    let backend = origin.addr.to_string();
    let work = Scratch::new("hardening-fds");
    let dir = work.dir();
    let args =
        ["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &dir, "-b", &backend, "-p", "timeout_idle=60"];
    let bin = env!("CARGO_BIN_EXE_shellac");
    let p =
        tokio::task::block_in_place(|| Shellac::start_limited(bin, 64, &args, &[("RUST_LOG", "warn")]).owning(work));
    let (addr, admin) = (p.addr.to_string(), p.admin.clone().expect("admin"));
    assert!(get(&addr).starts_with("HTTP/1.1 200"), "serves before the flood");
    // (Its connection closed on both sides before the flood.)
    tokio::time::sleep(Duration::from_millis(200)).await;

    // More idle connections than descriptors left: the kernel completes them, accept fails
    // (and they stay: timeout_idle is a minute).
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(TcpStream::connect(&addr).expect("connect"));
    }
    assert!(p.wait_log("accept on a0=", Duration::from_secs(5)), "{}", p.log());
    // Now the management port's accept fails too.
    for _ in 0..5 {
        held.push(TcpStream::connect(&admin).expect("connect the management port"));
    }
    assert!(p.wait_log("accept on the management port", Duration::from_secs(5)), "{}", p.log());
    let before = cpu_ticks(p.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(p.pid()) - before;
    // Retrying every 50 ms at most costs almost nothing; a spinning loop would take 2 s.
    assert!(spent < 40, "{spent} ticks of CPU in 2 s while out of descriptors");
    let log = p.log();
    // (A descriptor freed by a closing connection can let one accept through, and the next
    // failure is a new spell: at most two spells each.)
    let spells =
        |listener: &str| log.lines().filter(|l| l.contains(listener) && l.contains("Too many open files")).count();
    assert!(spells("accept on a0=") <= 2, "rate-limited:\n{log}");
    assert!(spells("accept on the management port") <= 2, "rate-limited:\n{log}");

    // Descriptors come back: both listeners accept again.
    drop(held);
    let mut answered = String::new();
    for _ in 0..100 {
        answered = get(&addr);
        if answered.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered:?}");
    assert!(p.adm(&["ping"]).starts_with("PONG "));
    assert!(p.wait_log("works again after", Duration::from_secs(5)), "{}", p.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_an_http2_preface_is_closed_with_a_log_line() {
    let origin = Origin::start("o").await;
    let backend = origin.addr.to_string();
    let bin = env!("CARGO_BIN_EXE_shellac");
    let args = ["-a", "127.0.0.1:0", "-T", "none", "-b", &backend];
    let p = tokio::task::block_in_place(|| Shellac::start(bin, &args, &[]));
    let mut s = TcpStream::connect(p.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.is_empty(), "no HTTP/1 text for an HTTP/2 client: {out:?}");
    assert!(
        p.wait_log("HTTP/2 with prior knowledge is not supported on an HTTP/1.1 listener", Duration::from_secs(5)),
        "{}",
        p.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_a_backend_body_cut_midway_leaves_one_log_line_with_backend_url_and_cause() {
    let origin = Origin::start("o").await;
    origin.set(|b| {
        b.body = "x".repeat(100_000);
        b.stall_body = Some(Duration::from_secs(3));
    });
    let backend = origin.addr.to_string();
    let bin = env!("CARGO_BIN_EXE_shellac");
    let args = ["-a", "127.0.0.1:0", "-T", "none", "-b", &backend, "-p", "between_bytes_timeout=1"];
    let p = tokio::task::block_in_place(|| Shellac::start(bin, &args, &[]));
    let addr = p.addr.to_string();
    // A stall past between_bytes_timeout.
    let got = tokio::task::block_in_place(|| get_path(&addr, "/stalled"));
    assert!(got.starts_with("HTTP/1.1 200"), "headers went out first: {got:.80}");
    assert!(p.wait_log("url=/stalled", Duration::from_secs(5)), "{}", p.log());
    // A body the backend closes half way (its stall is shorter than the timeout).
    origin.set(|b| b.stall_body = Some(Duration::from_millis(100)));
    let short = tokio::task::block_in_place(|| get_path(&addr, "/short"));
    assert!(p.wait_log("url=/short", Duration::from_secs(5)), "{short:.200}\n{}", p.log());
    let log = p.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("backend response body cut short")).collect();
    assert_eq!(lines.len(), 2, "one line per cut body:\n{log}");
    assert!(lines[0].contains("between bytes timeout") && lines[0].contains("backend=default"), "{}", lines[0]);
    assert!(lines[1].contains("url=/short") && !lines[1].contains("between bytes timeout"), "{}", lines[1]);
}

fn get_path(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
