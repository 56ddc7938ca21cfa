//! The workload `./dev release` trains the profile-guided build on runs clean against the real
//! binary: every answer is the one its VCL gives, on both schedulers, and SIGTERM ends each run
//! with exit 0 (which is when an instrumented build writes its profile). A change that breaks
//! the workload fails here, not in the middle of a release build.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pgo_workload_runs_clean_on_both_schedulers() {
    let phases = shellac_testkit::workload::run(env!("CARGO_BIN_EXE_shellac"), 2_400).await.expect("the workload");
    let schedulers: Vec<&str> = phases.iter().map(|p| p.scheduler).collect();
    assert_eq!(schedulers, ["multi-threaded", "single-threaded"]);
    for p in &phases {
        assert_eq!(p.requests, 1_200, "{p:?}");
    }
}

#[tokio::test]
async fn a_missing_binary_is_named_in_the_error() {
    let err = shellac_testkit::workload::run("/nonexistent/shellac", 10).await.expect_err("no binary");
    assert!(err.contains("cannot run /nonexistent/shellac"), "{err}");
}
