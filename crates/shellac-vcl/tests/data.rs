//! Data-driven front-end tests: every `test_data/ok/NNNN_name.vcl` (or `NNNN_name/main.vcl` with its
//! includes) must compile and print the summary in `NNNN_name.out`; every `test_data/err/…` case
//! must fail with exactly the diagnostics in its `.out`. Options go in a first-line comment:
//! `# options: vcc_err_unref=off`. Run with `UPDATE_EXPECT=1` to rewrite the `.out` files after
//! reading the change.

#![allow(clippy::unwrap_used)] // Test helpers: a failure is the report.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use shellac_vcl::{compile, summary::summary, MemLoader, Options, Resolver};

/// A deterministic resolver: literal addresses, `localhost`, `*.example.com` (one IPv4 each),
/// `multi.example.net` (two IPv4s); anything else does not resolve.
struct TableResolver;

impl Resolver for TableResolver {
    fn resolve(&self, host: &str, port: &str) -> Result<Vec<SocketAddr>, String> {
        let port: u16 = match port {
            "http" => 80,
            "https" => 443,
            p => p.parse().map_err(|_| format!("unknown service '{p}'"))?,
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let v4 = |d: u8| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, d)), port);
        match host {
            "localhost" => Ok(vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ]),
            "multi.example.net" => Ok(vec![v4(1), v4(2)]),
            h if h.ends_with(".example.com") => Ok(vec![v4((h.bytes().map(u32::from).sum::<u32>() % 250) as u8 + 1)]),
            _ => Err("Name or service not known".into()),
        }
    }
}

struct Case {
    name: String,
    main: String,
    loader: MemLoader,
    expect: PathBuf,
}

fn cases(kind: &str) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(kind);
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let mut out = Vec::new();
    for path in entries {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut loader = MemLoader::new();
        let main = if path.is_dir() {
            for f in walk(&path) {
                let rel = f.strip_prefix(&path).unwrap().to_string_lossy().to_string();
                loader.insert(rel, std::fs::read(&f).unwrap());
            }
            "main.vcl".to_string()
        } else if path.extension().is_some_and(|e| e == "vcl") {
            loader.insert(format!("{stem}.vcl"), std::fs::read(&path).unwrap());
            format!("{stem}.vcl")
        } else {
            continue;
        };
        out.push(Case { expect: dir.join(format!("{stem}.out")), name: format!("{kind}/{stem}"), main, loader });
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

fn run(case: &Case) -> (bool, String) {
    use shellac_vcl::Loader;
    let source = case.loader.load(&case.main).unwrap();
    let first = String::from_utf8_lossy(&source).lines().next().unwrap_or("").to_string();
    let mut opts = Options {
        vcl_path: vec![".".into()],
        err_unref: true,
        storages: shellac_vcl::default_storages(),
        labels: Some(vec!["other".into()]),
    };
    let mut resolve = true;
    if let Some(o) = first.strip_prefix("# options:") {
        for o in o.split_whitespace() {
            match o {
                "vcc_err_unref=off" => opts.err_unref = false,
                "no_resolve" => resolve = false,
                other => panic!("{}: unknown option {other}", case.name),
            }
        }
    }
    let resolver = TableResolver;
    let out = compile(&case.main, &source, &opts, &case.loader, resolve.then_some(&resolver as &dyn Resolver));
    let mut text = String::new();
    if let Some(p) = &out.program {
        text.push_str(&summary(p));
    }
    let diags = out.render();
    if !diags.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&diags);
    }
    (out.program.is_some(), text)
}

fn check_all(kind: &str, should_compile: bool) -> usize {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let cases = cases(kind);
    for case in &cases {
        let (ok, text) = run(case);
        if ok != should_compile {
            failures.push(format!(
                "{}: expected {}, got:\n{text}",
                case.name,
                if should_compile { "success" } else { "failure" }
            ));
            continue;
        }
        if update {
            std::fs::write(&case.expect, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&case.expect).unwrap_or_default();
        if expected != text {
            failures.push(format!("{}: output differs\n--- expected\n{expected}--- actual\n{text}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n"));
    cases.len()
}

#[test]
fn ok_cases_compile_with_the_expected_summary() {
    assert!(check_all("ok", true) >= 30);
}

#[test]
fn err_cases_fail_with_the_expected_diagnostics() {
    assert!(check_all("err", false) >= 50);
}
