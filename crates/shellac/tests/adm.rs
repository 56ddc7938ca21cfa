//! The management port driven by the stock `varnishadm` (Debian package `varnish`, installed by
//! `./dev`) and by `shellac adm`: authentication, VCL load/use/list/show/discard, backends,
//! parameters, errors.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Running {
    child: Child,
    dir: std::path::PathBuf,
    proxy: String,
    admin: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        shellac_testkit::scratch::remove_shared_logs(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An origin that answers 200 to everything, probes included (uncacheable: every request
/// reaches it).
fn origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..i + 4);
                        let close = true;
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                        if close {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

fn start() -> Running {
    start_with(&[])
}

/// As [`start`], with these `-p NAME=VALUE` parameters.
fn start_with(params: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!("shellac-adm-{}-{}", std::process::id(), fastrand()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = origin();
    let vcl = format!(
        "vcl 4.1;\nimport directors;\nprobe p {{ .url = \"/\"; .interval = 100ms; .initial = 3; }}\n\
         backend web1 {{ .host = \"127.0.0.1\"; .port = \"{port}\"; .probe = p; }}\n\
         backend web2 {{ .host = \"127.0.0.1\"; .port = \"{port}\"; }}\n\
         sub vcl_init {{ new rr = directors.round_robin(); rr.add_backend(web1); rr.add_backend(web2); }}\n\
         sub vcl_recv {{ if (req.url == \"/2\") {{ set req.backend_hint = web2; }} else {{ set req.backend_hint = rr.backend(); }} }}\n"
    );
    std::fs::write(dir.join("main.vcl"), &vcl).expect("vcl");
    std::fs::write(
        dir.join("bad.vcl"),
        "vcl 4.1;\nbackend b { .host = \"127.0.0.1\"; }\nsub vcl_recv { set req.nope = 1; }\n",
    )
    .expect("bad vcl");
    std::fs::write(dir.join("secret"), "s3cret\n").expect("secret");
    let (secret, main, work) = (dir.join("secret"), dir.join("main.vcl"), dir.join("work"));
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["-S".as_ref(), secret.as_os_str(), "-n".as_ref(), work.as_os_str(), "-f".as_ref(), main.as_os_str()];
    for p in params {
        args.extend([std::ffi::OsStr::new("-p"), std::ffi::OsStr::new(p)]);
    }
    serve_in(dir, &args)
}

/// Starts `shellac serve` on free ports with the extra arguments, and waits until it listens.
fn serve_in(dir: std::path::PathBuf, extra: &[&std::ffi::OsStr]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["serve", "-a", "127.0.0.1:0", "-T", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn shellac");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut proxy, mut admin) = (String::new(), String::new());
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        if let Some(a) = line.trim().strip_prefix("Listening on a0=") {
            proxy = a.to_string();
        }
        if let Some(a) = line.trim().strip_prefix("Management port on ") {
            admin = a.to_string();
        }
    }
    assert!(!proxy.is_empty() && !admin.is_empty(), "proxy {proxy:?} admin {admin:?}");
    Running { child, dir, proxy, admin }
}

fn fastrand() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

fn varnishadm(r: &Running, secret: &str, args: &[&str]) -> Output {
    let secret_file = r.dir.join(secret);
    Command::new("varnishadm")
        .args(["-T", &r.admin, "-S"])
        .arg(secret_file)
        .args(args)
        .output()
        .expect("run varnishadm (Debian package varnish; ./dev installs it)")
}

fn ok(r: &Running, args: &[&str]) -> String {
    let out = varnishadm(r, "secret", args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn fails(r: &Running, args: &[&str]) -> String {
    let out = varnishadm(r, "secret", args);
    assert!(!out.status.success(), "{args:?} should fail");
    // varnishadm prints the body on stdout and "Command failed with error code N" on stderr.
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect proxy");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp
}

#[test]
fn stock_varnishadm_authenticates_and_runs_commands() {
    let r = start();
    assert!(ok(&r, &["ping"]).starts_with("PONG "));
    let pj = ok(&r, &["ping", "-j"]);
    assert!(
        pj.starts_with("[ 2, [\"ping\", \"-j\"], ") && pj.contains(", \"PONG\"\n\n]"),
        "{pj} (varnishd 7.1.1 puts an empty line before the bracket)"
    );
    assert!(ok(&r, &["status", "-j"]).contains(", \"running\"\n]"));
    assert_eq!(ok(&r, &["status"]).trim(), "Child in state running");
    std::fs::write(r.dir.join("wrong"), "nope\n").expect("write");
    assert!(!varnishadm(&r, "wrong", &["ping"]).status.success(), "a wrong secret is refused");
    let help = ok(&r, &["help"]);
    assert!(help.contains("backend.set_health <backend_pattern>"), "{help}");
    let unknown = fails(&r, &["frobnicate"]);
    assert!(unknown.contains("Unknown request") && unknown.contains("error code 101"), "{unknown}");
    let few = fails(&r, &["vcl.use"]);
    assert!(few.contains("Too few parameters") && few.contains("104"), "{few}");
}

#[test]
fn vcls_load_switch_show_and_discard() {
    let r = start();
    let list = ok(&r, &["vcl.list"]);
    assert!(list.starts_with("active   auto    warm         0    boot"), "{list:?}");
    let main = r.dir.join("main.vcl");
    ok(&r, &["vcl.load", "v2", main.to_str().expect("path")]);
    let dup = fails(&r, &["vcl.load", "v2", main.to_str().expect("path")]);
    assert!(dup.contains("Already a VCL named v2"), "{dup}");
    let bad = fails(&r, &["vcl.load", "v3", r.dir.join("bad.vcl").to_str().expect("path")]);
    assert!(bad.contains("bad.vcl:3:") && bad.contains("VCL compilation failed") && bad.contains("106"), "{bad}");
    assert_eq!(ok(&r, &["vcl.use", "v2"]).trim(), "VCL 'v2' now active");
    let list = ok(&r, &["vcl.list"]);
    assert!(
        list.contains("available   auto    warm         0    boot")
            && list.contains("active      auto    warm         0    v2"),
        "{list}"
    );
    let shown = ok(&r, &["vcl.show", "-v", "v2"]);
    assert!(
        shown.starts_with("// VCL.SHOW 0 ") && shown.contains("main.vcl\nvcl 4.1;") && shown.contains("<builtin>"),
        "{shown}"
    );
    let active = fails(&r, &["vcl.discard", "v2"]);
    assert!(active.contains("Cannot discard active VCL program v2") && active.contains("300"), "{active}");
    ok(&r, &["vcl.discard", "boot"]);
    assert!(!ok(&r, &["vcl.list"]).contains("boot"));
    // Inline VCL: varnishadm sends arguments unquoted (as it does to varnishd), so multi-line
    // source goes through `shellac adm`, which quotes.
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["adm", "-T", &r.admin, "-S"])
        .arg(r.dir.join("secret"))
        .args(["vcl.inline", "v4", &std::fs::read_to_string(&main).expect("read")])
        .output()
        .expect("run shellac adm");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(ok(&r, &["vcl.list"]).contains("available   auto    warm         0    v4"));
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
}

#[test]
fn backends_list_and_health_overrides() {
    let r = start();
    std::thread::sleep(Duration::from_millis(300));
    let list = ok(&r, &["backend.list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("Backend name") && lines[0].contains("Admin") && lines[0].ends_with("Last change"),
        "{list}"
    );
    assert!(lines[1].starts_with("boot.web1") && lines[1].contains("probe") && lines[1].contains("healthy"), "{list}");
    assert!(lines[2].starts_with("boot.web2") && lines[2].contains("0/0"), "{list}");
    assert!(lines[3].starts_with("boot.rr") && lines[3].contains("2/2"), "{list}");
    let detail = ok(&r, &["backend.list", "-p", "web1"]);
    assert!(detail.contains(" Current states  good:") && detail.contains("Happy"), "{detail}");
    assert!(http_get(&r.proxy, "/2").starts_with("HTTP/1.1 200"));
    ok(&r, &["backend.set_health", "web2", "sick"]);
    let list = ok(&r, &["backend.list", "web2"]);
    assert!(list.lines().nth(1).is_some_and(|l| l.contains("sick")), "{list}");
    assert!(http_get(&r.proxy, "/2").starts_with("HTTP/1.1 503"), "forced sick: 503");
    ok(&r, &["backend.set_health", "web2", "auto"]);
    assert!(http_get(&r.proxy, "/2").starts_with("HTTP/1.1 200"));
    let bad = fails(&r, &["backend.set_health", "web2", "dead"]);
    assert!(bad.contains("Invalid state dead"), "{bad}");
    let none = fails(&r, &["backend.set_health", "nothing", "sick"]);
    assert!(none.contains("No Backends matches"), "{none}");
}

#[test]
fn parameters_show_and_set() {
    let r = start();
    let all = ok(&r, &["param.show"]);
    assert!(all.contains("first_byte_timeout            60.000 [seconds] (default)\n"), "{all}");
    assert!(all.contains("http_req_size                 32k [bytes] (default)\n"), "{all}");
    ok(&r, &["param.set", "first_byte_timeout", "2.5"]);
    let one = ok(&r, &["param.show", "first_byte_timeout"]);
    assert!(one.starts_with("first_byte_timeout\n        Value is: 2.500 [seconds]\n"), "{one}");
    let bad = fails(&r, &["param.set", "first_byte_timeout", "soon"]);
    assert!(bad.contains("attempting to set param 'first_byte_timeout' to 'soon'"), "{bad}");
    let unknown = fails(&r, &["param.show", "nope"]);
    assert!(unknown.contains("Unknown parameter \"nope\"."), "{unknown}");
}

/// `param.set NAME VALUE` fails with varnishd's message `why`, status 106 and what was tried.
fn refused(r: &Running, name: &str, value: &str, why: &str) {
    let out = fails(r, &["param.set", name, value]);
    assert!(out.contains(why) && out.contains("error code 106"), "{name}={value}: {out}");
    assert!(out.contains(&format!("(attempting to set param '{name}' to '{value}')")), "{out}");
}

#[test]
fn r19_param_set_keeps_to_ranges_and_param_show_shows_the_value_in_force() {
    let r = start();
    // Out of range: varnishd's message and status 106, and nothing changes.
    for (name, value, why) in [
        ("http_req_size", "10", "Must be at least 0.25k"),
        ("http_max_hdr", "5", "Must be at least 32"),
        ("http_max_hdr", "100000", "Must be no more than 65535"),
        ("backend_idle_timeout", "0.5", "Must be greater or equal to 1.000"),
        ("max_retries", "-1", "Not a number (-1)"),
        ("prefer_ipv6", "maybe", "use \"on\" or \"off\""),
    ] {
        refused(&r, name, value, why);
    }
    assert!(ok(&r, &["param.show", "http_req_size"]).contains("Value is: 32k [bytes] (default)"));
    // The value in force for every parameter (send_timeout once showed its default).
    ok(&r, &["param.set", "send_timeout", "100"]);
    ok(&r, &["param.set", "http_req_size", "1.5k"]);
    let all = ok(&r, &["param.show"]);
    assert!(all.contains("send_timeout                  100.000 [seconds]\n"), "{all}");
    assert!(all.contains("prefer_ipv6                   off [bool] (default)\n"), "{all}");
    let one = ok(&r, &["param.show", "http_req_size"]);
    assert!(
        one.starts_with(
            "http_req_size\n        Value is: 1.50k [bytes]\n        Default is: 32k\n        Minimum is: 0.25k\n"
        ),
        "{one}"
    );
    // changed: exactly what was set.
    let changed = ok(&r, &["param.show", "changed"]);
    assert_eq!(
        changed,
        "http_req_size                 1.50k [bytes]\nsend_timeout                  100.000 [seconds]\n\n"
    );
    // -j NAME and -j changed, in varnishd's layout.
    let j = ok(&r, &["param.show", "-j", "http_req_size"]);
    assert!(j.starts_with("[ 2, [\"param.show\", \"-j\", \"http_req_size\"], "), "{j}");
    assert!(
        j.contains("  {\n    \"name\": \"http_req_size\",\n    \"implemented\": true,\n    \"value\": 1536,\n    \"units\": \"bytes\",\n    \"default\": \"32k\",\n    \"minimum\": \"0.25k\",\n"),
        "{j}"
    );
    assert!(j.ends_with("    \"flags\": []\n  }\n]\n\n"), "{j:?}");
    let jc = ok(&r, &["param.show", "-j", "changed"]);
    assert_eq!(jc.matches("\"name\"").count(), 2, "{jc}");
    assert!(jc.contains("\"value\": 100.000,") && jc.contains("\"delayed_effect\""), "{jc}");
}

#[test]
fn a_varnishd_command_lines_other_parameters_are_accepted_and_shown() {
    // What production varnishd units pass: threads, workspaces, switches, pools.
    let r = start_with(&[
        "thread_pools=4",
        "thread_pool_min=200",
        "workspace_client=128k",
        "feature=+http2",
        "vsl_mask=-Hash,+Debug",
        "pool_req=5,50,5",
        "gzip_level=9",
    ]);
    let all = ok(&r, &["param.show"]);
    assert!(all.contains("thread_pools                  4 [pools]\n"), "{all}");
    assert!(all.contains("workspace_client              128k [bytes]\n"), "{all}");
    assert!(all.contains("feature                       +http2,+validate_headers\n"), "{all}");
    assert!(all.contains("gzip_level                    9\n"), "{all}");
    let one = ok(&r, &["param.show", "thread_pool_min"]);
    assert!(one.contains("Value is: 200 [threads]\n        Default is: 100\n        Minimum is: 5\n"), "{one}");
    assert!(one.contains("NB: Shellac accepts this parameter, as varnishd's, and does not act on it."), "{one}");
    let j = ok(&r, &["param.show", "-j", "thread_pools"]);
    assert!(j.contains("\"implemented\": false,\n    \"value\": 4,"), "{j}");
    assert!(ok(&r, &["param.show", "-j", "gzip_level"]).contains("\"implemented\": true,"));
    // varnishd's checks and messages.
    for (name, value, why) in [
        ("thread_pools", "40", "Must be no more than 32"),
        ("feature", "+nosuch", "Unknown feature bit (+nosuch)"),
        ("feature", "http2", "Missing '+' or '-' (http2)"),
        ("vsl_mask", "+Nosuch", "Unknown VSL tag (+Nosuch)"),
        ("pool_req", "10,100", "Three fields required: min_pool, max_pool and max_age"),
        ("tcp_keepalive_time", "8000", "Must be less than or equal to 7200.000"),
    ] {
        refused(&r, name, value, why);
    }
    // A set of switches goes back to its default with param.reset.
    ok(&r, &["param.reset", "feature"]);
    assert!(ok(&r, &["param.show", "feature"]).contains("Value is: +validate_headers (default)"));
    // The proxy serves as ever.
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
}

#[test]
fn shellac_adm_speaks_the_same_protocol() {
    let r = start();
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["adm", "-T", &r.admin, "-S"])
        .arg(r.dir.join("secret"))
        .args(["backend.list", "*"])
        .output()
        .expect("run shellac adm");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("boot.rr"));
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["adm", "-T", &r.admin, "-S"])
        .arg(r.dir.join("secret"))
        .args(["vcl.use", "nope"])
        .output()
        .expect("run shellac adm");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No VCL named nope known") && text.contains("Command failed with error code 106"), "{text}");
}

#[test]
fn varnishadm_dash_n_and_debians_varnishreload_find_the_port_through_the_workdir() {
    let dir = std::env::temp_dir().join(format!("shellac-workdir-{}-{}", std::process::id(), fastrand()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = origin();
    let vcl = dir.join("main.vcl");
    std::fs::write(&vcl, format!("vcl 4.1;\nbackend default {{ .host = \"127.0.0.1\"; .port = \"{port}\"; }}\n"))
        .expect("vcl");
    let work = dir.join("work");
    let _running = serve_in(dir.clone(), &["-n".as_ref(), work.as_os_str(), "-f".as_ref(), vcl.as_os_str()]);
    // No -S: a generated secret in the working directory, as varnishd does.
    assert!(work.join("_.secret").exists());
    let ping = Command::new("varnishadm").arg("-n").arg(&work).arg("ping").output().expect("varnishadm -n");
    assert!(ping.status.success(), "{}", String::from_utf8_lossy(&ping.stderr));
    assert!(String::from_utf8_lossy(&ping.stdout).starts_with("PONG "));
    let ours = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["adm", "-n"])
        .arg(&work)
        .arg("ping")
        .output()
        .expect("shellac adm -n");
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    assert!(String::from_utf8_lossy(&ours.stdout).starts_with("PONG "));
    let reload = Command::new("/usr/share/varnish/varnishreload").arg("-n").arg(&work).output().expect("varnishreload");
    let said = format!("{}{}", String::from_utf8_lossy(&reload.stdout), String::from_utf8_lossy(&reload.stderr));
    assert!(reload.status.success(), "{said}");
    assert!(said.contains("now active"), "{said}");
    let list = Command::new("varnishadm").arg("-n").arg(&work).arg("vcl.list").output().expect("vcl.list");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.lines().any(|l| l.starts_with("active") && l.contains("reload_")), "{list}");
}

#[test]
fn labels_switch_and_protect_vcls() {
    let r = start();
    ok(&r, &["vcl.label", "l1", "boot"]);
    let list = ok(&r, &["vcl.list"]);
    assert!(list.contains("active      auto     warm         0    boot    <-    (1 label)"), "{list}");
    assert!(list.contains("available   label    warm         0    l1      ->    boot"), "{list}");
    assert_eq!(ok(&r, &["vcl.use", "l1"]).trim(), "VCL 'l1' now active");
    let labeled = fails(&r, &["vcl.discard", "boot"]);
    assert!(labeled.contains("Cannot discard labeled VCL program boot:\n\tl1"), "{labeled}");
    let active = fails(&r, &["vcl.discard", "l1"]);
    assert!(active.contains("Cannot discard active VCL program l1"), "{active}");
    let nope = fails(&r, &["vcl.label", "l2", "nope"]);
    assert!(nope.contains("No VCL named nope known"), "{nope}");
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"), "served through the label");
}

/// A label a loaded VCL returns to (`return (vcl(LABEL))`) cannot be discarded, and `vcl.deps`
/// and `vcl.list` show who depends on whom, in varnishd's words and layout (checked on
/// varnishd 7.1.1 with the same commands).
#[test]
fn vcl_deps_and_labels_that_vcls_return_to() {
    let r = start();
    let main = r.dir.join("main.vcl");
    ok(&r, &["vcl.load", "t", main.to_str().expect("path")]);
    ok(&r, &["vcl.label", "other", "t"]);
    let text = std::fs::read_to_string(&main).expect("main.vcl");
    let router = format!("{text}\nsub vcl_recv {{ if (req.http.host == \"x\") {{ return (vcl(other)); }} }}\n");
    let path = r.dir.join("router.vcl");
    std::fs::write(&path, router).expect("write router.vcl");
    ok(&r, &["vcl.load", "r2", path.to_str().expect("path")]);
    assert_eq!(ok(&r, &["vcl.deps"]), "boot\nt\nr2      other\nother   t\n\n");
    let json: serde_json::Value = serde_json::from_str(&ok(&r, &["vcl.deps", "-j"])).expect("vcl.deps -j parses");
    assert_eq!(json[0], 1);
    assert_eq!(json[5], serde_json::json!({"name": "r2", "deps": ["other"]}));
    assert_eq!(json[6], serde_json::json!({"name": "other", "deps": ["t"]}));
    let list = ok(&r, &["vcl.list"]);
    assert!(list.contains("other    ->    t (1 return(vcl))"), "{list}");
    let kept = fails(&r, &["vcl.discard", "other"]);
    assert!(
        kept.contains("Cannot discard VCL label other, other VCLs depend on it:\n\tr2") && kept.contains("300"),
        "{kept}"
    );
    // Once the VCL that returns to it goes, it can go too.
    ok(&r, &["vcl.discard", "r2"]);
    ok(&r, &["vcl.discard", "other"]);
    assert_eq!(ok(&r, &["vcl.deps"]), "boot\nt\n\n");
}

/// `vcl.discard` takes shell-style patterns, all or nothing, as varnishd 7.1 does (the same
/// commands checked on varnishd 7.1.1).
#[test]
fn vcl_discard_takes_patterns_all_or_nothing() {
    let r = start();
    let main = r.dir.join("main.vcl");
    for name in ["v1", "v2", "v3", "w1"] {
        ok(&r, &["vcl.load", name, main.to_str().expect("path")]);
    }
    ok(&r, &["vcl.label", "lv", "v3"]);
    ok(&r, &["vcl.discard", "v[12]"]);
    let names = |r: &Running| -> Vec<String> {
        ok(r, &["vcl.list"]).lines().filter_map(|l| l.split_whitespace().nth(4).map(str::to_string)).collect()
    };
    assert_eq!(names(&r), ["boot", "v3", "w1", "lv"]);
    let none = fails(&r, &["vcl.discard", "x*"]);
    assert!(none.contains("No VCL name matches x*") && none.contains("106"), "{none}");
    // `*` matches the active VCL too: nothing goes.
    let all = fails(&r, &["vcl.discard", "*"]);
    assert!(all.contains("Cannot discard active VCL program boot") && all.contains("300"), "{all}");
    let half = fails(&r, &["vcl.discard", "w1", "nope"]);
    assert!(half.contains("No VCL name matches nope"), "{half}");
    assert_eq!(names(&r), ["boot", "v3", "w1", "lv"]);
    ok(&r, &["vcl.discard", "w*"]);
    // A label and the VCL it names go together.
    ok(&r, &["vcl.discard", "lv", "v?"]);
    assert_eq!(names(&r), ["boot"]);
}

/// `vcl.load`/`vcl.inline` take the state to start in, checked before anything is compiled
/// (varnishd's answers to the same commands).
#[test]
fn vcl_load_takes_the_state_to_start_in() {
    let r = start();
    let main = r.dir.join("main.vcl");
    // (One argument: varnishadm sends it as it is, the quotes included.)
    let bad = fails(&r, &["vcl.inline x \"vcl 4.1; backend b none;\" bogus"]);
    assert!(bad.contains("State must be one of auto, cold or warm.") && bad.contains("106"), "{bad}");
    ok(&r, &["vcl.inline y \"vcl 4.1; backend b none;\" cold"]);
    ok(&r, &["vcl.load", "z", main.to_str().expect("path"), "warm"]);
    let list = ok(&r, &["vcl.list"]);
    assert!(list.contains("available   cold    cold         0    y"), "{list}");
    assert!(list.contains("available   warm    warm         0    z"), "{list}");
    assert!(!list.contains(" x\n"), "{list}");
    let state = fails(&r, &["vcl.state", "y", "bogus"]);
    assert!(state.contains("State must be one of auto, cold or warm."), "{state}");
    assert!(fails(&r, &["vcl.label", "boot", "y"]).contains("boot is not a label"));
}

/// The commands about the process, `param.reset` and `help`, as varnishd answers them.
#[test]
fn pid_panic_start_stop_param_reset_and_help() {
    let r = start();
    let pid = r.child.id();
    assert_eq!(ok(&r, &["pid"]), format!("Master: {pid:>10}\nWorker: {pid:>10}\n\n"));
    let json: serde_json::Value = serde_json::from_str(&ok(&r, &["pid", "-j"])).expect("pid -j parses");
    assert_eq!(json[3], serde_json::json!({"master": pid, "worker": pid}));
    let panic = fails(&r, &["panic.show"]);
    assert!(panic.contains("Child has not panicked or panic has been cleared") && panic.contains("300"), "{panic}");
    assert!(fails(&r, &["panic.clear"]).contains("No panic to clear"));
    ok(&r, &["panic.clear", "-z"]);
    assert!(fails(&r, &["start"]).contains("Child in state running"));
    assert!(fails(&r, &["stop"]).contains("SIGTERM"));
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"), "still serving");
    ok(&r, &["param.set", "default_ttl", "5"]);
    ok(&r, &["param.reset", "default_ttl"]);
    let ttl = ok(&r, &["param.show", "default_ttl"]);
    assert!(ttl.starts_with("default_ttl\n        Value is: 120.000 [seconds] (default)\n"), "{ttl}");
    let unknown = fails(&r, &["param.reset", "nope"]);
    assert!(unknown.contains("Unknown parameter \"nope\".") && unknown.contains("106"), "{unknown}");
    assert_eq!(ok(&r, &["help", "ban"]), "ban <field> <operator> <arg> [&& <field> <oper> <arg> ...]\nMark obsolete all objects where all the conditions match.\n\n");
    let nope = fails(&r, &["help", "nope"]);
    assert!(nope.contains("Unknown request.") && nope.contains("101"), "{nope}");
    // Arguments counted as varnishd counts them (`-j` is none), and its messages.
    for args in [&["pid", "x"][..], &["pid", "-j", "x"], &["status", "x"], &["vcl.list", "x"], &["ping", "1", "2"]] {
        let many = fails(&r, args);
        assert!(many.contains("Too many parameters\n") && many.contains("105"), "{args:?}: {many}");
    }
    let negative = fails(&r, &["param.set", "default_ttl", "-1"]);
    assert!(negative.contains("Must be greater or equal to 0.000"), "{negative}");
    let missing = fails(&r, &["vcl.load", "x", "/nonexistent/x.vcl"]);
    assert!(
        missing.contains("Message from VCC-compiler:\nCannot read file '/nonexistent/x.vcl' (No such file or directory)\nRunning VCC-compiler failed, exited with 2\nVCL compilation failed"),
        "{missing}"
    );
    let help: serde_json::Value = serde_json::from_str(&ok(&r, &["help", "-j"])).expect("help -j parses");
    let row = |name: &str| help.as_array().expect("list").iter().find(|c| c["request"] == name).cloned().expect(name);
    assert_eq!(row("backend.list")["maxarg"], 2);
    assert_eq!(row("backend.list")["json"], true);
    assert_eq!(row("ban")["maxarg"], -1);
    assert_eq!(row("param.show")["maxarg"], 2);
    assert_eq!(row("help")["flags"], "i");
    assert_eq!(row("vcl.load")["json"], false);
}

#[test]
fn json_listings_parse_and_follow_varnishds_layout() {
    let r = start();
    std::thread::sleep(Duration::from_millis(300));
    let j = ok(&r, &["backend.list", "-j"]);
    assert!(j.starts_with("[ 3, [\"backend.list\", \"-j\"], "), "{j}");
    assert!(j.contains("    \"boot.web1\": {\n      \"type\": \"backend\",\n      \"admin_health\": \"probe\",\n      \"probe_message\": ["), "{j}");
    assert!(j.contains("    \"boot.rr\": {\n      \"type\": \"round-robin\""), "{j}");
    let pj = ok(&r, &["backend.list", "-pj", "web1"]);
    assert!(pj.contains("\"bits_H\": ") && pj.contains("\"threshold\": 3,"), "{pj}");
    let v = ok(&r, &["vcl.list", "-j"]);
    assert!(v.starts_with("[ 2, [\"vcl.list\", \"-j\"], "), "{v}");
    assert!(v.contains("    \"status\": \"active\",\n    \"state\": \"auto\",\n    \"temperature\": \"warm\",\n    \"busy\": 0,\n    \"name\": \"boot\"\n}"), "{v}");
    // Every bracket closes (a cheap well-formedness check without a JSON crate).
    for text in [&j, &pj, &v] {
        assert_eq!(text.matches('{').count(), text.matches('}').count());
        assert_eq!(text.matches('[').count(), text.matches(']').count());
    }
}

#[test]
fn set_health_applies_to_directors_too() {
    let r = start();
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
    ok(&r, &["backend.set_health", "rr", "sick"]);
    let list = ok(&r, &["backend.list", "rr"]);
    assert!(list.lines().nth(1).is_some_and(|l| l.starts_with("boot.rr") && l.contains("sick")), "{list}");
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 503"), "a forced-sick director serves nothing");
    ok(&r, &["backend.set_health", "rr", "auto"]);
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
}

#[test]
fn unused_vcls_go_cold_after_vcl_cooldown_and_vcl_state_forces_it() {
    let r = start();
    ok(&r, &["param.set", "vcl_cooldown", "1"]);
    ok(&r, &["vcl.load", "v2", r.dir.join("main.vcl").to_str().expect("path")]);
    let active = fails(&r, &["vcl.state", "boot", "cold"]);
    assert!(active.contains("Cannot set the active VCL cold."), "{active}");
    ok(&r, &["vcl.use", "v2"]);
    let cold = (0..60).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        ok(&r, &["vcl.list"]).contains("available   auto    cold         0    boot")
    });
    assert!(cold, "boot went cold: {}", ok(&r, &["vcl.list"]));
    ok(&r, &["vcl.state", "boot", "warm"]);
    assert!(ok(&r, &["vcl.list"]).contains("available   warm    warm         0    boot"));
    // Back to it: warm, and serving.
    ok(&r, &["vcl.use", "boot"]);
    assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
}

/// Masks RFC 1123 dates.
fn undate(s: &str) -> String {
    s.lines()
        .map(|l| match l.find(" GMT") {
            Some(end) if end >= 25 && l.is_char_boundary(end - 25) => {
                format!("{}DATE{}", &l[..end - 25], &l[end + 4..])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn listings_are_byte_identical_to_varnishd_for_the_same_vcl() {
    let dir = std::env::temp_dir().join(format!("shellac-cmp-{}-{}", std::process::id(), fastrand()));
    std::fs::create_dir_all(&dir).expect("dir");
    let vcl = dir.join("cmp.vcl");
    std::fs::write(
        &vcl,
        "vcl 4.1;\nimport directors;\nbackend web1 { .host = \"127.0.0.1\"; .port = \"9\"; }\nbackend web2 { .host = \"127.0.0.1\"; .port = \"9\"; }\n\
         sub vcl_init { new rr = directors.round_robin(); rr.add_backend(web1); rr.add_backend(web2);\n\
         new rd = directors.random(); rd.add_backend(web1, 1.0); rd.add_backend(web2, 3.0);\n\
         new fb = directors.fallback(); fb.add_backend(web2); fb.add_backend(web1); }\n\
         sub vcl_recv { set req.backend_hint = rr.backend(); set req.backend_hint = rd.backend(); set req.backend_hint = fb.backend(); }\n",
    )
    .expect("vcl");
    // varnishd runs as its own user unless jailed with none; it needs to read the files.
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(&dir).status();
    let vwork = dir.join("varnish");
    let varnishd = Command::new("varnishd")
        .args(["-j", "none", "-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-s", "malloc,16m", "-n"])
        .arg(&vwork)
        .arg("-f")
        .arg(&vcl)
        .status()
        .expect("start varnishd (Debian package varnish)");
    assert!(varnishd.success());
    let _varnishd = Varnishd(std::fs::read_to_string(vwork.join("_.pid")).unwrap_or_default().trim().to_string());
    let swork = dir.join("shellac");
    let _running = serve_in(dir.clone(), &["-n".as_ref(), swork.as_os_str(), "-f".as_ref(), vcl.as_os_str()]);
    let adm = |work: &std::path::Path, args: &[&str]| {
        let o = Command::new("varnishadm").arg("-n").arg(work).args(args).output().expect("varnishadm");
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let compare = |args: &[&str]| {
        let (real, ours) = (adm(&vwork, args), adm(&swork, args));
        (undate(&real), undate(&ours))
    };
    for args in [&["backend.list"][..], &["backend.list", "-p"], &["vcl.list"], &["backend.list", "rr"]] {
        let (real, ours) = compare(args);
        assert!(real.contains("boot"), "varnishd answered: {real}");
        assert_eq!(ours, real, "{args:?}");
    }
    let (real, ours) = compare(&["storage.list"]);
    assert!(real.contains("storage.Transient = malloc"), "varnishd answered: {real}");
    assert_eq!(ours, real, "storage.list");
    // The JSON form, but for the time stamp of its first line.
    let (real, ours) = compare(&["storage.list", "-j"]);
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&ours), body(&real), "storage.list -j");
    // The banner's system line: the same machine, jail, stores and hash (monitoring reads the
    // version from the line after it, which says Shellac's revision).
    let (real, ours) = compare(&["banner"]);
    let system = |s: &str| s.lines().nth(3).unwrap_or_default().to_string();
    assert!(system(&real).ends_with(",-jnone,-smalloc,-sdefault,-hcritbit"), "varnishd answered: {real}");
    assert_eq!(system(&ours), system(&real), "banner");
    assert!(ours.lines().nth(4).is_some_and(|l| l.starts_with("varnish-7.1.1 revision shellac-")), "{ours}");
}

/// Stops a daemonised varnishd (its manager pid, from `_.pid`) when the test ends, even on
/// failure.
struct Varnishd(String);

impl Drop for Varnishd {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("kill").arg(&self.0).status();
        }
    }
}

/// The resident set of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

/// Connects to the management port and reads its first frame (the challenge).
fn connect_raw(r: &Running) -> (std::net::TcpStream, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(&r.admin).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut head = [0u8; 13];
    s.read_exact(&mut head).expect("frame head");
    let len: usize = String::from_utf8_lossy(&head[4..]).trim().parse().expect("length");
    let mut body = vec![0u8; len + 1];
    s.read_exact(&mut body).expect("frame body");
    (s, String::from_utf8_lossy(&head).into_owned() + &String::from_utf8_lossy(&body))
}

/// Writes up to `total` bytes of `chunk`s; returns how many were taken before the server
/// closed, and what it answered.
fn flood(s: &mut std::net::TcpStream, first: &[u8], total: usize) -> (usize, String) {
    use std::io::{Read, Write};
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    if s.write_all(first).is_ok() {
        while sent < total && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    (sent, String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn r19_the_management_port_bounds_what_it_reads_before_and_after_auth() {
    use std::io::{Read, Write};
    let r = start();
    let pid = r.child.id();
    let before = rss_kib(pid);
    // 200 MB without a newline before auth: cut after a few KiB, answered 101 as varnishd does.
    let (mut s, challenge) = connect_raw(&r);
    assert!(challenge.starts_with("107 59"), "{challenge}");
    let (sent, answer) = flood(&mut s, b"", 200 << 20);
    assert!(sent < 200 << 20, "the server stopped reading ({sent} bytes taken)");
    assert!(answer.is_empty() || answer.starts_with("101 "), "{answer:?}");
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("pre-auth flood: {sent} bytes taken, RSS +{grown} KiB");
    assert!(grown < 4 << 10, "RSS grew by {grown} KiB");
    // A known command before auth: 101 and the connection closes.
    let (mut s, _) = connect_raw(&r);
    s.write_all(b"vcl.list\n").expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("101 44      \nUnknown request."), "{answer:?}");
    // After auth: a here-document over the 8 MiB bound is refused and the connection closed.
    let (mut s, challenge) = connect_raw(&r);
    let c = challenge.lines().nth(1).expect("challenge line").to_string();
    let secret = std::fs::read(r.dir.join("secret")).expect("secret");
    let digest = shellac_control::proto::auth_digest(&c, &secret);
    s.write_all(format!("auth {digest}\n").as_bytes()).expect("auth");
    let mut head = [0u8; 13];
    s.read_exact(&mut head).expect("auth answer");
    assert!(head.starts_with(b"200"), "{}", String::from_utf8_lossy(&head));
    let len: usize = String::from_utf8_lossy(&head[4..]).trim().parse().expect("length");
    let mut banner = vec![0u8; len + 1];
    s.read_exact(&mut banner).expect("banner");
    let (_, answer) = flood(&mut s, b"vcl.inline big << EOF\n", 64 << 20);
    assert!(answer.starts_with("400 ") && answer.contains("Request too long"), "{answer:?}");
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("authenticated flood: RSS +{grown} KiB");
    assert!(grown < 48 << 10, "RSS grew by {grown} KiB");
    // And the port still serves.
    assert!(ok(&r, &["ping"]).starts_with("PONG "));
}

#[test]
fn bans_from_varnishadm_with_varnishds_errors_and_listing() {
    let r = start();
    let list = ok(&r, &["ban.list"]);
    assert!(list.starts_with("Present bans:\n"), "{list}");
    assert!(list.lines().nth(1).is_some_and(|l| l.ends_with(" 0 C  ")), "the completed ban from boot: {list}");
    assert_eq!(ok(&r, &["ban", "req.url", "~", "/a"]).trim(), "");
    let list = ok(&r, &["ban.list"]);
    // (No object refers to the older ones: only the newest stays.)
    assert_eq!(list.trim_end().lines().count(), 2, "{list}");
    assert!(list.lines().nth(1).is_some_and(|l| l.ends_with(" 0 -  req.url ~ /a")), "{list}");
    assert_eq!(ok(&r, &["ban", "obj.ttl", ">", "1.5m", "&&", "obj.status", "==", "200"]).trim(), "");
    let list = ok(&r, &["ban.list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[1].ends_with(" 0 -  obj.ttl > 90s && obj.status == 200"), "{list}");
    // `%10.6f %5u`: seconds with six decimals, then the refs in five columns.
    let time = lines[1].split(' ').next().expect("a time");
    assert!(time.len() == 17 && time.as_bytes()[10] == b'.', "{time}");
    for (args, code, text) in [
        (&["ban", "req.url"][..], "104", "Too few parameters"),
        (&["ban", "foo.url", "~", "a"][..], "106", "Unknown or unsupported field \"foo.url\""),
        (&["ban", "req.url", "~", "("][..], "106", "Regex compile error"),
        (&["ban", "req.url", "<", "3"][..], "106", "expected conditional (==, !=, ~ or !~) got \"<\""),
        (&["ban", "obj.status", "==", "200", "||", "req.url", "~", "a"][..], "106", "Found \"||\" expected &&"),
        (&["ban", "obj.status", "==", "200", "&&"][..], "106", "Wrong number of arguments"),
    ] {
        let out = fails(&r, args);
        assert!(out.contains(text) && out.contains(&format!("error code {code}")), "{args:?}: {out}");
    }
    let j = ok(&r, &["ban.list", "-j"]);
    assert!(j.starts_with("[ 2, [\"ban.list\", \"-j\"], "), "{j}");
    assert!(j.contains("  {\n    \"time\": ") && j.contains(",\n    \"refs\": 0,\n    \"completed\": false,\n    \"spec\": \"obj.ttl > 90s && obj.status == 200\"\n}"), "{j}");
    assert_eq!(j.matches('{').count(), j.matches('}').count());
}

#[test]
fn shellac_stat_shows_the_counters_as_varnishstat_does() {
    let r = start();
    for _ in 0..3 {
        assert!(http_get(&r.proxy, "/").starts_with("HTTP/1.1 200"));
    }
    let stat = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
            .args(["stat", "-T", &r.admin, "-S"])
            .arg(r.dir.join("secret"))
            .args(args)
            .output()
            .expect("run shellac stat");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let once = stat(&["-1", "-f", "MAIN.client_req", "-f", "MAIN.n_object", "-f", "VBE.boot.web1.req"]);
    let lines: Vec<&str> = once.lines().collect();
    assert_eq!(lines.len(), 3, "{once}");
    // The name in 18 columns (more for longer names), the value in 12, then the average.
    assert!(
        lines[0].starts_with("MAIN.client_req              3 ") && lines[0].ends_with(" Good client requests received"),
        "{once}"
    );
    // (A hit-for-miss marker is an object.)
    assert!(lines[1].starts_with("MAIN.n_object                1          .   object structs made"), "{once}");
    assert!(lines[2].starts_with("VBE.boot.web1.req "), "{once}");
    let json = stat(&["-j", "-f", "MAIN.cache_*", "-f", "^*grace"]);
    assert!(json.starts_with("{\n  \"version\": 1,\n  \"timestamp\": \""), "{json}");
    assert!(json.contains("    \"MAIN.cache_miss\": {\n      \"description\": \"Cache misses\",\n      \"flag\": \"c\",\n      \"format\": \"i\",\n      \"value\": "), "{json}");
    assert!(!json.contains("cache_hit_grace") && !json.contains("client_req"), "{json}");
    // The management's gauges: two backends in the one VCL.
    let gauges = stat(&["-1", "-f", "MAIN.n_backend", "-f", "MAIN.n_vcl*"]);
    assert!(
        gauges.starts_with(
            "MAIN.n_backend               2          .   Number of backends
"
        ),
        "{gauges}"
    );
    assert!(gauges.contains("MAIN.n_vcl                   1 ") && gauges.contains("MAIN.n_vcl_avail"), "{gauges}");
    // -l: names and descriptions as varnishstat -l lists them; -x: its XML.
    let list = stat(&["-l", "-f", "MAIN.client_req"]);
    assert_eq!(
        list,
        "Varnishstat -f option fields:\nField name                     Description\n----------                     -----------\nMAIN.client_req                Good client requests received\n"
    );
    let xml = stat(&["-x", "-f", "MAIN.client_req"]);
    assert!(xml.starts_with("<?xml version=\"1.0\"?>\n<varnishstat timestamp=\""), "{xml}");
    assert!(xml.contains("\t<stat>\n\t\t<name>MAIN.client_req</name>\n\t\t<value>3</value>\n\t\t<flag>c</flag>\n\t\t<format>i</format>\n\t\t<description>Good client requests received</description>\n\t</stat>\n</varnishstat>\n"), "{xml}");
}
