//! `pgo-workload SHELLAC_BINARY [REQUESTS=120000]`: runs [`shellac_testkit::workload`] against
//! an (instrumented) `shellac` binary, for `./dev release`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(binary) = args.get(1) else {
        eprintln!("usage: pgo-workload SHELLAC_BINARY [REQUESTS]");
        return ExitCode::from(2);
    };
    let requests = match args.get(2).map(|n| n.parse::<usize>()) {
        None => 120_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("pgo-workload: REQUESTS must be a positive number, not {:?}", args[2]);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pgo-workload: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(shellac_testkit::workload::run(binary, requests)) {
        Ok(phases) => {
            for p in phases {
                println!(
                    "pgo-workload: {} scheduler: {} requests in {:.1} s",
                    p.scheduler,
                    p.requests,
                    p.elapsed.as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgo-workload: {e}");
            ExitCode::FAILURE
        }
    }
}
