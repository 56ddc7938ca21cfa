//! End-to-end tests of `shellac check` and `shellac serve -C`: exit codes, summaries, diagnostics
//! on stderr, the system resolver, `-p` parameters, `-b`, and includes read from disk.

#![allow(clippy::unwrap_used)] // Test helpers: a failure is the report.

use shellac_testkit::Scratch;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shellac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shellac")).args(args).current_dir(repo()).output().expect("run shellac")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory under the system temp dir, removed when the test ends (passed or not).
fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("check-test-{name}"))
}

#[test]
fn every_seed_example_checks_clean_without_resolution() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("examples/seed-004")).unwrap() {
        let path = entry.unwrap().path();
        let out = shellac(&["check", "--no-resolve", "-f", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", path.display(), text(&out.stderr));
        assert!(out.stderr.is_empty(), "{}: unexpected diagnostics {}", path.display(), text(&out.stderr));
        assert!(text(&out.stdout).starts_with("VCL 4.0: "), "{}", text(&out.stdout));
        n += 1;
    }
    assert_eq!(n, 12);
    // Seed 000 as its script generates it: literal addresses, so it resolves here too.
    let out = shellac(&["check", "-p", "vcl_path=examples/seed-000", "-f", "examples/seed-000/default.vcl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("VCL 4.0: 3 backends, 3 probes, 1 director, 1 subroutine\n"), "{stdout}");
    assert!(stdout.contains("director project round-robin 3 members (Varnish 3 director)"), "{stdout}");
    assert!(text(&out.stderr).contains("warning: VCL version declaration missing"), "{}", text(&out.stderr));
}

#[test]
fn names_that_do_not_resolve_fail_at_their_line_unless_told_not_to_resolve() {
    let out = shellac(&["check", "-f", "examples/seed-004/01-content-aware.vcl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("01-content-aware.vcl:3:9: error: Backend host \"web001.example.com\" could not be resolved"),
        "{stderr}"
    );
    assert!(stderr.contains("01-content-aware.vcl:6:9: error: Backend host \"web002.example.com\""), "{stderr}");
    assert!(stderr.ends_with("VCL compilation failed: 2 errors\n"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn localhost_resolves_through_the_system_resolver() {
    let dir = scratch("resolve");
    let file = dir.join("local.vcl");
    std::fs::write(&file, "vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; .port = \"8080\"; }\nacl locals { \"localhost\"; }\nsub vcl_recv { if (client.ip ~ locals) { return (pass); } }\n").unwrap();
    let out = shellac(&["check", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backend  default 127.0.0.1:8080"));
}

#[test]
fn serve_dash_c_checks_like_varnishd() {
    let out = shellac(&["serve", "-C", "--no-resolve", "-f", "examples/seed-004/03-directors.vcl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("director loadbalancing round-robin 2 members"));

    let out = shellac(&["serve", "-C", "-b", "127.0.0.1:8080"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "VCL 4.1: 1 backend, 0 probes, 0 directors, 0 subroutines\n  backend  default 127.0.0.1:8080\n"
    );

    let out = shellac(&["serve", "-C", "-b", "none"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backend  default none"));

    let out = shellac(&["serve", "-C"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("serve needs -f FILE, -b HOST[:PORT] or --etcd URLS"));

    // --etcd without -f: seed 000's setup, checked like any VCL.
    let out = shellac(&["serve", "-C", "--etcd", "http://127.0.0.1:2379"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("probe    seed url=/probe.txt interval=3s timeout=2s window=10 threshold=8"), "{summary}");
    assert!(summary.contains("director groups etcd groups"), "{summary}");
}

#[test]
fn parameters_change_what_is_an_error() {
    let dir = scratch("params");
    let file = dir.join("unused.vcl");
    std::fs::write(
        &file,
        "vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; }\nbackend spare { .host = \"127.0.0.1\"; }\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = shellac(&["check", "-f", f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unused.vcl:3:9: error: Unused backend 'spare'"), "{}", text(&out.stderr));

    let out = shellac(&["check", "-p", "vcc_err_unref=off", "-f", f]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning: Unused backend 'spare'"));

    let out = shellac(&["check", "-p", "nosuch=1", "-f", f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Unknown parameter \"nosuch\"."), "{}", text(&out.stderr));

    let out = shellac(&["check", "-p", "vcc_err_unref=maybe", "-f", f]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn includes_are_read_from_disk_along_vcl_path_relative_and_by_glob() {
    let dir = scratch("include");
    std::fs::create_dir_all(dir.join("lib/conf.d")).unwrap();
    std::fs::write(dir.join("lib/backends.vcl"), "backend default { .host = \"127.0.0.1\"; }\n").unwrap();
    std::fs::write(dir.join("lib/conf.d/10-a.vcl"), "sub vcl_recv { set req.http.a = \"1\"; }\n").unwrap();
    std::fs::write(dir.join("lib/conf.d/20-b.vcl"), "sub vcl_recv { set req.http.b = \"2\"; }\n").unwrap();
    std::fs::write(
        dir.join("lib/main.vcl"),
        "vcl 4.1;\ninclude \"backends.vcl\";\ninclude +glob \"./conf.d/*.vcl\";\n",
    )
    .unwrap();
    let path = format!("vcl_path={}", dir.join("lib").display());
    // A relative -f name that is not in the current directory is found along vcl_path.
    let out = shellac(&["check", "-p", &path, "-f", "main.vcl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 backend"), "{}", text(&out.stdout));

    std::fs::write(dir.join("lib/main.vcl"), "vcl 4.1;\ninclude \"backends.vcl\";\ninclude \"missing.vcl\";\n")
        .unwrap();
    let out = shellac(&["check", "-p", &path, "-f", "main.vcl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("main.vcl:3:9: error: Cannot read file 'missing.vcl': not found"), "{stderr}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = shellac(&["check", "-f", "no/such/file.vcl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot find VCL file no/such/file.vcl"), "{}", text(&out.stderr));
}

#[test]
fn storage_names_come_from_the_s_flags() {
    let dir = scratch("storage");
    let vcl = dir.join("st.vcl");
    std::fs::write(
        &vcl,
        "vcl 4.1;\nbackend b { .host = \"127.0.0.1\"; .port = \"9\"; }\n\
         sub vcl_backend_response { set beresp.storage = storage.mem; set beresp.http.x = storage.Transient.used_space; }\n",
    )
    .unwrap();
    let v = vcl.to_str().unwrap();
    let with = shellac(&["serve", "-C", "-f", v, "-s", "malloc,10m", "-s", "mem=malloc,1m"]);
    assert!(with.status.success(), "{}", text(&with.stderr));
    let without = shellac(&["serve", "-C", "-f", v]);
    assert!(!without.status.success());
    let err = text(&without.stderr);
    assert!(err.contains("Symbol not found: 'storage.mem'") && err.contains("storage.s0, storage.Transient"), "{err}");
    let checked = shellac(&["check", "-f", v, "-s", "mem=malloc,1m"]);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let bad = shellac(&["serve", "-C", "-f", v, "-s", "mem=malloc,1m", "-s", "mem=malloc,2m"]);
    assert!(text(&bad.stderr).contains("already defined"), "{}", text(&bad.stderr));
}
