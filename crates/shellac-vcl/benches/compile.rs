//! Compile-time benchmark (issue: "The VCL compiler"): a generated VCL of 500 backends with a
//! probe, one round-robin director over all of them and 200 `if` routing rules. Prints the median
//! of the runs. `cargo bench -p shellac-vcl --bench compile -- --write FILE` writes the VCL out,
//! so that `bench/vcl-compile.sh` can time `shellac check` and `varnishd -C` on the same file.
#![allow(clippy::disallowed_types, missing_docs)]

use std::fmt::Write as _;
use std::time::Instant;

use shellac_vcl::{compile, MemLoader, Options};

fn generate(backends: usize, rules: usize) -> String {
    let mut v = String::from("vcl 4.1;\nimport directors;\n\n");
    v.push_str("probe health {\n    .url = \"/probe.txt\";\n    .timeout = 2s;\n    .interval = 3s;\n    .window = 10;\n    .threshold = 8;\n}\n\n");
    for i in 0..backends {
        let _ = writeln!(
            v,
            "backend b{i} {{\n    .host = \"127.0.{}.{}\";\n    .port = \"8080\";\n    .connect_timeout = 5s;\n    .first_byte_timeout = 5s;\n    .between_bytes_timeout = 2s;\n    .probe = health;\n}}\n",
            i / 250,
            i % 250 + 1
        );
    }
    v.push_str("sub vcl_init {\n    new lb = directors.round_robin();\n");
    for i in 0..backends {
        let _ = writeln!(v, "    lb.add_backend(b{i});");
    }
    v.push_str("}\n\nsub vcl_recv {\n");
    for i in 0..rules {
        let _ = writeln!(
            v,
            "    if (req.url ~ \"^/app{i}/\" && req.http.host == \"site{i}.example.com\") {{\n        set req.backend_hint = b{};\n        return (pass);\n    }}",
            i % backends
        );
    }
    v.push_str("    set req.backend_hint = lb.backend();\n}\n");
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let source = generate(500, 200);
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let path = args.get(i + 1).expect("--write FILE");
        std::fs::write(path, &source).expect("write the VCL");
        return;
    }
    let opts = Options::default();
    let loader = MemLoader::new();
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let out = compile("bench.vcl", source.as_bytes(), &opts, &loader, None);
        let elapsed = t.elapsed();
        assert!(out.program.is_some(), "{}", out.render());
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "compile 500 backends + 1 director + 200 rules ({} bytes): median {:.2} ms, min {:.2} ms, max {:.2} ms over {} runs",
        source.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
}
