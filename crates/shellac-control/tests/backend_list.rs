//! `backend.list` as health changes under it (issue 19): a director's `Last change` moves when a
//! member's health changes, while the member's own stays at its last admin change (as varnishd).

use std::sync::Arc;
use std::time::Duration;

use shellac_control::manager::{Manager, VclText};
use shellac_engine::params::Params;
use shellac_engine::server::Server;
use shellac_testkit::Origin;

/// The `Last change` column of the row that starts with `name`.
fn last_change(list: &str, name: &str) -> String {
    let row = list.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {list}"));
    row.split("  ").map(str::trim).filter(|c| !c.is_empty()).last().expect("a date").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_a_directors_last_change_moves_with_its_members_health() {
    let o = Origin::start("o").await;
    let vcl = format!(
        "vcl 4.1;\nimport directors;\nprobe p {{ .url = \"/\"; .interval = 50ms; .window = 2; .threshold = 1; .initial = 1; }}\n{}\
         sub vcl_init {{ new rr = directors.round_robin(); rr.add_backend(o); }}\n\
         sub vcl_recv {{ set req.backend_hint = rr.backend(); }}\n",
        o.backend_vcl(".probe = p;")
    );
    let server = Server::new(Params::default());
    let manager = Arc::new(Manager::new(server.clone(), false));
    manager.load("boot", VclText::Inline(vcl)).await.expect("load");
    manager.use_vcl("boot").expect("use");
    let list = || shellac_control::backends::list(&manager, &[]).expect("backend.list");
    let before = list();
    let (rr0, o0) = (last_change(&before, "boot.rr"), last_change(&before, "boot.o"));
    // Dates have one-second steps: let a second pass, then make the member sick.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    o.set_status(500);
    let mut after = String::new();
    for _ in 0..100 {
        after = list();
        if after.lines().any(|l| l.starts_with("boot.o ") && l.contains("sick")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(after.lines().any(|l| l.starts_with("boot.rr ") && l.contains("sick")), "{after}");
    assert_ne!(last_change(&after, "boot.rr"), rr0, "the director's Last change moved:\n{before}\n{after}");
    assert_eq!(last_change(&after, "boot.o"), o0, "the backend's own stays (varnishd's way)");
}
