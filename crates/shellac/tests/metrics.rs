//! Prometheus metrics (issue 22): `serve --metrics` with seed 000's setup on a real etcd; the
//! exposition passes `promtool check metrics` (Debian's `prometheus`, installed by `./dev`),
//! counts the traffic, and has a series per discovered member that comes and goes with its key.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use etcd_client::Client;
use shellac_testkit::{request, Etcd, Origin, Scratch, Shellac};

async fn scrape(p: &Shellac) -> String {
    let addr = p.metrics.as_deref().expect("--metrics").parse().expect("an address");
    let r = request(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    r.text()
}

fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; ./dev installs it)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// etcd with members `a` and `b` in group `web`, and Shellac in seed 000's setup on it with
/// `--metrics`.
struct Fleet {
    etcd: Etcd,
    c: Client,
    a: Origin,
    b: Origin,
    p: Shellac,
}

async fn fleet(name: &str) -> Fleet {
    let etcd = Etcd::start().await;
    let mut c = Client::connect([etcd.url.as_str()], None).await.expect("etcd");
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    for o in [&a, &b] {
        c.put(format!("/varnish/backends/web/{}", o.addr), "", None).await.expect("put");
    }
    let work = Scratch::new(&format!("{name}-test"));
    let dir = work.dir();
    let args = [
        "-a",
        "127.0.0.1:0",
        "-T",
        "127.0.0.1:0",
        "-S",
        "none",
        "-n",
        &dir,
        "--etcd",
        &etcd.url,
        "--metrics",
        "127.0.0.1:0",
    ];
    let p = Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &args, &[]).await.owning(work);
    Fleet { etcd, c, a, b, p }
}

/// The value of the sample that starts with `series` (name and labels), if there is one.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

#[tokio::test]
async fn metrics_pass_promtool_and_follow_an_etcd_member_that_goes() {
    let Fleet { etcd: _etcd, mut c, a, b, p } = fleet("metrics").await;
    let key = |o: &Origin| format!("/varnish/backends/web/{}", o.addr);
    for _ in 0..10 {
        request(p.addr, "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n").await;
    }
    let before = scrape(&p).await;
    promtool(&before);
    assert_eq!(sample(&before, "shellac_client_requests_total"), Some(10.0), "{before}");
    // Seed 000's setup passes every request.
    assert_eq!(sample(&before, "shellac_requests_handled_total{handling=\"pass\"}"), Some(10.0));
    assert_eq!(sample(&before, "shellac_client_request_duration_seconds_count"), Some(10.0));
    assert_eq!(sample(&before, "shellac_backend_fetch_duration_seconds_count"), Some(10.0));
    // The bytes each way: ten request heads of 52 bytes, no bodies; answers written (each with
    // a head and the origin's name as body); ten connections closed as asked.
    let sent = "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n".len() as f64;
    assert_eq!(sample(&before, "shellac_client_received_bytes_total{part=\"header\"}"), Some(10.0 * sent));
    assert_eq!(sample(&before, "shellac_client_received_bytes_total{part=\"body\"}"), Some(0.0));
    assert!(sample(&before, "shellac_client_sent_bytes_total{part=\"header\"}").is_some_and(|n| n > 10.0 * 100.0));
    assert!(sample(&before, "shellac_client_sent_bytes_total{part=\"body\"}").is_some_and(|n| n >= 10.0));
    // (A close is counted a moment after the client has seen it.)
    let mut closes = sample(&before, "shellac_session_closes_total{reason=\"req_close\"}");
    for _ in 0..100 {
        if closes == Some(10.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        closes = sample(&scrape(&p).await, "shellac_session_closes_total{reason=\"req_close\"}");
    }
    assert_eq!(closes, Some(10.0));
    assert_eq!(sample(&before, "shellac_pipes"), Some(0.0));
    let up = |o: &Origin| format!("shellac_backend_up{{backend=\"boot.web({})\"}}", o.addr);
    let reqs = |o: &Origin| format!("shellac_backend_requests_total{{backend=\"boot.web({})\"}}", o.addr);
    assert_eq!((sample(&before, &up(&a)), sample(&before, &up(&b))), (Some(1.0), Some(1.0)), "{before}");
    assert_eq!(sample(&before, &reqs(&a)).unwrap_or(0.0) + sample(&before, &reqs(&b)).unwrap_or(0.0), 10.0);
    assert_eq!(sample(&before, "shellac_discovery_connected"), Some(1.0));

    // Member b goes: its series go with it.
    c.delete(key(&b), None).await.expect("delete");
    let mut after = String::new();
    for _ in 0..100 {
        after = scrape(&p).await;
        if sample(&after, &up(&b)).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    promtool(&after);
    assert_eq!((sample(&after, &up(&a)), sample(&after, &up(&b))), (Some(1.0), None), "{after}");
    assert!(!after.contains(&b.addr.to_string()), "no series of b is left");
    let addr = p.metrics.as_deref().expect("--metrics").parse().expect("an address");
    assert_eq!(request(addr, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.status, 404);
    assert_eq!(
        request(addr, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .status,
        405
    );
}

/// Runs headless Chromium (Debian's `chromium`, installed by `./dev`) with these arguments.
fn chromium(args: &[&str]) -> std::process::Output {
    let profile = std::env::temp_dir().join(format!("shellac-chromium-{}-{}", std::process::id(), args.len()));
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium (Debian package chromium; ./dev installs it)");
    let _ = std::fs::remove_dir_all(&profile);
    out
}

#[tokio::test]
async fn the_status_page_shows_the_backends_under_load_in_a_real_browser() {
    let Fleet { etcd: _etcd, c: _c, a, b, p } = fleet("status").await;
    let url = format!("http://{}/", p.metrics.as_deref().expect("--metrics"));

    // Load while the browser looks (bounded in count and time).
    let addr = p.addr;
    let load = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        for _ in 0..20_000 {
            if start.elapsed() > Duration::from_secs(20) {
                break;
            }
            request(addr, "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n").await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let u = url.clone();
    let dom = tokio::task::spawn_blocking(move || chromium(&["--dump-dom", &u])).await.expect("chromium");
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    for o in [&a, &b] {
        assert!(dom.contains(&format!("boot.web({})", o.addr)), "the page names backend {}:\n{dom}", o.addr);
    }
    assert!(dom.contains("requests/s") && dom.contains("hit ratio") && dom.contains("connected"), "{dom}");
    assert!(dom.contains("class=\"good\""), "probe history drawn: {dom}");
    assert!(dom.contains("http-equiv=\"refresh\""), "refreshes itself");

    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&shots).expect("artifacts dir");
    let png = shots.join("status-page.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let u = url.clone();
    let out =
        tokio::task::spawn_blocking(move || chromium(&[&shot, "--window-size=1280,900", &u])).await.expect("chromium");
    load.abort();
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot at {} ({size} bytes): {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
