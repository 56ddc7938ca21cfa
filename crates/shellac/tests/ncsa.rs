//! `shellac ncsa` and `shellac log` against a running Shellac (issue 22): the access log lines
//! of a miss, a hit, a pass, a pipe, a synth and a restart, on the client side and the backend
//! side, read through the management port (`-T`) and through the shared file (`-n`) alike; a
//! query that picks one request in a thousand; `-w` reopened on SIGHUP; `shellac top -1`'s
//! counts.

use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

use shellac_testkit::{request, Origin, Scratch, Shellac};

const VCL: &str = "sub vcl_recv {\n\
    if (req.url ~ \"^/pass\") { return (pass); }\n\
    if (req.url ~ \"^/pipe\") { return (pipe); }\n\
    if (req.url ~ \"^/synth\") { return (synth(404, \"Nope\")); }\n\
    if (req.url == \"/restart\") { set req.url = \"/after\"; return (restart); }\n\
}\n";

/// An origin and a server with its VCL and working directory in a scratch directory (given
/// first: it outlives the server), and that directory's path.
async fn start(name: &str) -> (Scratch, Origin, Shellac, String) {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let scratch = Scratch::new(&format!("{name}-test"));
    let dir = scratch.path().to_path_buf();
    let vcl = dir.join("main.vcl");
    let program = format!("vcl 4.1;\nbackend o {{ .host = \"{}\"; .port = \"{}\"; }}\n{VCL}", o.host(), o.port());
    std::fs::write(&vcl, program).expect("vcl");
    let vcl = vcl.to_string_lossy().into_owned();
    let work = dir.join("work").to_string_lossy().into_owned();
    let args = ["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &work, "-f", &vcl];
    let p = Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &args, &[("RUST_LOG", "error")]).await;
    (scratch, o, p, dir.to_string_lossy().into_owned())
}

/// Runs `shellac TOOL -T ADMIN ARGS` to its end; its standard output.
fn tool(p: &Shellac, tool: &str, args: &[&str]) -> String {
    let admin = p.admin.as_deref().expect("-T");
    run(&[tool, "-T", admin], args)
}

/// Runs `shellac TOOL -n WORKDIR ARGS` (the shared file) to its end; its standard output.
fn tool_n(dir: &str, tool: &str, args: &[&str]) -> String {
    run(&[tool, "-n", &format!("{dir}/work")], args)
}

fn run(head: &[&str], args: &[&str]) -> String {
    let tool = head[0];
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(head)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("shellac {tool}: {e}"));
    assert!(out.status.success(), "shellac {tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn get(p: &Shellac, path: &str) -> u16 {
    request(
        p.addr,
        &format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\nConnection: close\r\n\r\n"),
    )
    .await
    .status
}

/// `shellac ncsa -d ARGS` once it has `want` lines (a request's log is complete once its body
/// has gone: the lines can trail the answers by a moment).
fn ncsa_lines(p: &Shellac, args: &[&str], want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut all = vec!["-d"];
        all.extend_from_slice(args);
        let lines: Vec<String> = tool(p, "ncsa", &all).lines().map(str::to_string).collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_request_gives_its_line_on_each_side() {
    let (_scratch, _o, p, dir) = start("ncsa").await;
    tool(&p, "log", &["-d"]); // The log records once somebody reads it.
    tool_n(&dir, "log", &["-d"]);
    for path in ["/a", "/a", "/pass", "/pipe", "/synth", "/restart"] {
        get(&p, path).await;
    }
    let client = ncsa_lines(&p, &["-F", "%{Varnish:hitmiss}x %{Varnish:handling}x %s %U %m %H"], 6);
    assert_eq!(
        client,
        [
            "miss miss 200 /a GET HTTP/1.1",
            "hit hit 200 /a GET HTTP/1.1",
            "miss pass 200 /pass GET HTTP/1.1",
            "miss pipe - /pipe GET HTTP/1.1",
            "miss synth 404 /synth GET HTTP/1.1",
            "miss miss 200 /after GET HTTP/1.1",
        ]
    );
    // %b is the body's length (`-` without the accounting, as for the pipe).
    let sizes = ncsa_lines(&p, &["-F", "%b %{Content-Length}o"], 6);
    for line in &sizes {
        let (b, cl) = line.split_once(' ').expect("two fields");
        assert_eq!(b, cl, "{sizes:?}");
    }
    // The default format: NCSA combined.
    let combined = ncsa_lines(&p, &[], 6);
    let re = regex::Regex::new(
        r#"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET http://example\.com/a HTTP/1\.1" 200 \d+ "-" "t/1"$"#,
    )
    .expect("regex");
    assert!(re.is_match(&combined[0]), "{combined:?}");
    // The backend side: one line per backend request (the hit made none).
    let mut backend = ncsa_lines(&p, &["-b", "-F", "%{Varnish:side}x %s %U %h"], 4);
    backend.sort();
    let here = "127.0.0.1";
    assert_eq!(
        backend,
        [
            format!("b - /pipe {here}"),
            format!("b 200 /a {here}"),
            format!("b 200 /after {here}"),
            format!("b 200 /pass {here}")
        ]
    );
    // `shellac log -g session`: each connection (the requests closed theirs) with its request,
    // that request's fetch below it, and a restart beside it (as varnishlog shows them).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sessions = String::new();
    while sessions.matches("<< Session  >>").count() < 6 && Instant::now() < deadline {
        sessions = tool(&p, "log", &["-d", "-g", "session"]);
    }
    let groups: Vec<&str> = sessions.split("\n\n").filter(|g| g.contains("<< Session  >>")).collect();
    assert_eq!(groups.len(), 6, "{sessions}");
    for g in &groups {
        assert!(g.starts_with("*   << Session  >>") && g.contains("\n**  << Request  >>"), "{g}");
        assert!(g.contains("SessOpen       127.0.0.1 ") && g.contains("SessClose      "), "{g}");
    }
    let pass = groups.iter().find(|g| g.contains("ReqURL         /pass")).expect("the pass's session");
    assert!(pass.contains("\n*** << BeReq    >>"), "{pass}");
    let restart = groups.iter().find(|g| g.contains("ReqURL         /restart")).expect("the restart's session");
    assert_eq!(restart.matches("\n**  << Request  >>").count(), 2, "the restart beside its request: {restart}");
    // The same lines through the shared file (the server's writer copies every 10 ms).
    let f = "%{Varnish:hitmiss}x %{Varnish:handling}x %s %U %m %H %b";
    let want = ncsa_lines(&p, &["-F", f], 6);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut shared = String::new();
    while shared.lines().count() < 6 && Instant::now() < deadline {
        shared = tool_n(&dir, "ncsa", &["-d", "-F", f]);
    }
    assert_eq!(shared.lines().collect::<Vec<_>>(), want);
    let raw = tool_n(&dir, "log", &["-d", "-g", "raw"]);
    assert_eq!(raw.lines().filter(|l| l.contains(" ReqAcct ") || l.contains(" PipeAcct ")).count(), 6, "{raw}");
    // Written out from the shared file's bytes, record by record, the lines are those the
    // management port's text gives.
    assert_eq!(raw, tool(&p, "log", &["-d", "-g", "raw"]));
    let by_vxid = tool_n(&dir, "log", &["-d"]);
    assert_eq!(by_vxid, tool(&p, "log", &["-d"]));
    assert!(by_vxid.contains("*   << Request  >> ") && by_vxid.contains("*   << BeReq    >> "), "{by_vxid}");
    assert!(by_vxid.contains("\n-   ReqAcct        "), "{by_vxid}");
    assert!(raw.contains(" Timestamp      c Resp: ") && raw.contains(" ReqAcct        c "), "{raw}");
    // Record filters, through the management port and the shared file alike: only the tags
    // asked for (group heads stay), or all but some, or what a regular expression picks.
    for reach in [
        tool(&p, "log", &["-d", "-i", "requrl,Resp*", "-x", "RespHeader"]),
        tool_n(&dir, "log", &["-d", "-i", "requrl,Resp*", "-x", "RespHeader"]),
    ] {
        let tags: std::collections::BTreeSet<&str> =
            reach.lines().filter(|l| l.starts_with('-')).filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            ["ReqURL", "RespProtocol", "RespReason", "RespStatus"],
            "{reach}"
        );
        assert!(reach.contains("*   << Request  >> "), "{reach}");
    }
    let picked = tool_n(&dir, "log", &["-d", "-g", "raw", "-I", "ReqURL:^/pa"]);
    assert_eq!(
        picked.lines().map(|l| l.split_whitespace().nth(1).unwrap_or("")).collect::<Vec<_>>(),
        ["ReqURL"],
        "{picked}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["log", "-d", "-n", &format!("{dir}/work"), "-i", "Nope"])
        .output()
        .expect("runs");
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("no tag is called \"Nope\""),
        "{bad:?}"
    );
    // Both sides, and a query.
    assert_eq!(ncsa_lines(&p, &["-b", "-c"], 10).len(), 10);
    assert_eq!(ncsa_lines(&p, &["-q", "RespStatus == 404", "-F", "%U"], 1), ["/synth"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_picks_one_request_in_a_thousand() {
    let (_scratch, _o, p, _dir) = start("query").await;
    tool(&p, "log", &["-d"]);
    for i in 0..1000 {
        get(&p, &format!("/n/{i}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while ncsa_lines(&p, &["-F", "%U"], 1000).len() < 1000 && Instant::now() < deadline {}
    let out = tool(&p, "log", &["-d", "-g", "request", "-q", "ReqURL eq \"/n/537\""]);
    assert_eq!(out.matches("<< Request  >>").count(), 1, "{out}");
    assert_eq!(out.matches("<< BeReq    >>").count(), 1, "its fetch comes with it: {out}");
    assert!(out.contains("ReqURL         /n/537\n"), "{out}");
    let vxid = tool(&p, "log", &["-d", "-q", "BereqURL ~ \"^/n/53[0-9]$\" and not BereqURL eq /n/531"]);
    assert_eq!(vxid.matches("<< BeReq    >>").count(), 9, "{vxid}");
    // A reader whose output is closed early (`| head`) stops quietly: no panic, no error.
    let admin = p.admin.as_deref().expect("-T");
    for args in [&["log", "-T", admin, "-d", "-g", "raw"][..], &["ncsa", "-T", admin, "-d"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shellac"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("shellac");
        let mut first = [0u8; 64];
        std::io::Read::read_exact(&mut child.stdout.take().expect("stdout"), &mut first).expect("some output");
        let out = child.wait_with_output().expect("exits");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{args:?}: {:?} {err}", out.status);
    }
    // A bad query says what and where, and nothing runs.
    let bad = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["log", "-T", admin, "-d", "-q", "RespStatus == ok"])
        .output()
        .expect("shellac log");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("compares numbers") && err.contains("character 15"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_written_file_is_reopened_on_sighup() {
    let (_scratch, _o, p, dir) = start("ncsa-w").await;
    let file = format!("{dir}/access.log");
    let admin = p.admin.clone().expect("-T");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["ncsa", "-T", &admin, "-F", "%U", "-w", &file])
        .stderr(Stdio::null())
        .spawn()
        .expect("shellac ncsa -w");
    let wait_for = |path: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::fs::read_to_string(path).is_ok_and(|s| s.contains(want)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    // Until the reader's first read, nothing records: ask until a line comes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&file).is_ok_and(|s| s.contains("/before")) && Instant::now() < deadline {
        get(&p, "/before").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(wait_for(&file, "/before"));
    let rotated = format!("{file}.1");
    std::fs::rename(&file, &rotated).expect("rotate");
    let hup = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().expect("kill");
    assert!(hup.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    get(&p, "/after-rotation").await;
    let found = wait_for(&file, "/after-rotation");
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "a new file after SIGHUP");
    let old = std::fs::read_to_string(&rotated).expect("the rotated file");
    assert!(old.contains("/before") && !old.contains("/after-rotation"), "{old}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_the_shared_file_follows_the_server_across_a_restart() {
    let (_scratch, o, p, dir) = start("ncsa-restart").await;
    let file = format!("{dir}/access.log");
    let work = format!("{dir}/work");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["ncsa", "-n", &work, "-F", "%U", "-w", &file])
        .stderr(Stdio::null())
        .spawn()
        .expect("shellac ncsa -n");
    let has = |want: &str| std::fs::read_to_string(&file).is_ok_and(|s| s.contains(want));
    // Until the reader is seen (it touches its file), nothing records: ask until a line comes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has("/first") && Instant::now() < deadline {
        get(&p, "/first").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has("/first"), "the reader writes what the first server logs");
    assert!(tokio::task::block_in_place(|| p.stop()), "the first server stops");
    // A new server in the same working directory: the reader finds its log.
    let vcl = format!("{dir}/main.vcl");
    let args = ["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &work, "-f", &vcl];
    let p2 = Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &args, &[("RUST_LOG", "error")]).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !has("/second") && Instant::now() < deadline {
        get(&p2, "/second").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(o);
    assert!(has("/second"), "the reader follows the next server: {:?}", std::fs::read_to_string(&file));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_run_as_services_with_their_pid_files_sides_and_counts() {
    let (_scratch, _o, p, dir) = start("service").await;
    let (file, pid_file, work) = (format!("{dir}/access.log"), format!("{dir}/ncsa.pid"), format!("{dir}/work"));
    // varnishncsa as Debian's unit runs it: -a -w FILE -D -P PIDFILE; it returns at once.
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["ncsa", "-n", &work, "-F", "%U", "-a", "-w", &file, "-D", "-P", &pid_file])
        .output()
        .expect("shellac ncsa -D");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let daemon: u32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid");
    // (Running: its /proc entry is there and not a zombie's, which nobody may reap here.)
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
    };
    assert!(alive(daemon), "the reader runs in the background");
    // Until the reader's first read, nothing records: ask until a line comes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&file).is_ok_and(|s| s.contains("/svc")) && Instant::now() < deadline {
        get(&p, "/svc").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(std::fs::read_to_string(&file).is_ok_and(|s| s.contains("/svc")), "the background reader writes");
    // Three misses: three requests, three fetches.
    for i in 0..3 {
        assert_eq!(get(&p, &format!("/k{i}")).await, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tool_n(&dir, "ncsa", &["-d", "-F", "%U"]).contains("/k2") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // -k: so many lines (ncsa) or transactions (log), then exit 0.
    assert_eq!(tool_n(&dir, "ncsa", &["-d", "-k", "2", "-F", "%U"]).lines().count(), 2);
    assert_eq!(tool_n(&dir, "log", &["-d", "-k", "1"]).matches("<< ").count(), 1);
    assert_eq!(tool_n(&dir, "log", &["-d", "-k", "2", "-g", "request"]).matches("*   << Request").count(), 2);
    // -b and -c: one side's transactions, by transaction, by request and record by record.
    let b = tool_n(&dir, "log", &["-d", "-b"]);
    assert!(b.matches("<< BeReq").count() >= 3 && !b.contains("<< Request") && !b.contains("<< Session"), "{b}");
    let c = tool_n(&dir, "log", &["-d", "-c"]);
    assert!(c.contains("<< Request") && c.contains("<< Session") && !c.contains("BeReq"), "{c}");
    let grouped = tool_n(&dir, "log", &["-d", "-g", "request", "-b"]);
    assert!(grouped.contains("<< BeReq") && !grouped.contains("<< Request"), "{grouped}");
    let raw = tool_n(&dir, "log", &["-d", "-g", "raw", "-c"]);
    assert!(!raw.is_empty() && raw.lines().all(|l| l.split_whitespace().nth(2) != Some("b")), "{raw}");
    // SIGTERM ends the background reader and takes its pid file with it.
    assert!(Command::new("kill").arg(daemon.to_string()).status().is_ok_and(|s| s.success()));
    let deadline = Instant::now() + Duration::from_secs(5);
    while (alive(daemon) || std::path::Path::new(&pid_file).exists()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!std::path::Path::new(&pid_file).exists(), "the pid file goes");
    assert!(!alive(daemon), "the reader stopped");
}

/// `shellac top -1`, as `varnishtop -1`: each record (tag and data) counted, the most frequent
/// first as `%9.2f TAG DATA`; the same through the shared file and the management port; `-f`
/// counts a record by its first word, `-b` one side's, `-q` the transactions it selects.
#[tokio::test]
async fn top_counts_the_records_most_frequent_first() {
    let (_scratch, _o, p, dir) = start("top").await;
    tool(&p, "log", &["-d"]); // The log records once somebody reads it.
    tool_n(&dir, "log", &["-d"]);
    for path in ["/a", "/b", "/a", "/a"] {
        assert_eq!(get(&p, path).await, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let want = "     3.00 ReqURL /a\n     1.00 ReqURL /b\n";
    let mut urls = String::new();
    while Instant::now() < deadline {
        urls = tool_n(&dir, "top", &["-1", "-i", "ReqURL"]);
        if urls == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(urls, want);
    assert_eq!(tool(&p, "top", &["-1", "-i", "ReqURL"]), want, "the same through the management port");
    // The first word: a header by its name.
    let names = tool_n(&dir, "top", &["-1", "-f", "-I", "ReqHeader:^user-agent"]);
    assert_eq!(names, "     4.00 ReqHeader user-agent\n");
    // One side; a query.
    assert_eq!(
        tool_n(&dir, "top", &["-1", "-b", "-i", "ReqURL,BereqURL"]),
        "     1.00 BereqURL /a\n     1.00 BereqURL /b\n"
    );
    assert_eq!(tool_n(&dir, "top", &["-1", "-i", "ReqURL", "-q", "ReqURL eq \"/b\""]), "     1.00 ReqURL /b\n");
    // Every record counted: the most frequent first.
    let all = tool_n(&dir, "top", &["-1"]);
    let counts: Vec<f64> =
        all.lines().map(|l| l.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(-1.0)).collect();
    assert!(counts.len() > 20 && counts.windows(2).all(|w| w[0] >= w[1]), "{all}");
    assert!(all.contains(" VCL_call RECV\n"), "{all}");
}
