//! `return (vcl(LABEL))` names a label that exists when the VCL is compiled, as varnishd
//! requires: `vcl.load` of a VCL naming an unknown label fails with varnishd's message, and
//! succeeds once `vcl.label` made it.

use shellac_control::manager::{Manager, VclText};
use shellac_engine::params::Params;
use shellac_engine::server::Server;

const BACKEND: &str = "backend b { .host = \"127.0.0.1\"; .port = \"9\"; }\n";

#[tokio::test]
async fn a_vcl_naming_a_label_loads_once_the_label_exists() {
    let server = Server::new(Params::default());
    let manager = Manager::new(server, false);
    let target = format!("vcl 4.1;\n{BACKEND}");
    let router =
        format!("vcl 4.1;\n{BACKEND}sub vcl_recv {{ if (req.http.host == \"x\") {{ return (vcl(other)); }} }}\n");
    manager.load("t", VclText::Inline(target)).await.expect("load target");
    let (_, msg) = manager.load("r1", VclText::Inline(router.clone())).await.expect_err("no label yet");
    assert!(msg.contains("Symbol not found: 'other'"), "{msg}");
    manager.label("other", "t").expect("label");
    manager.load("r2", VclText::Inline(router)).await.expect("the label exists now");
}
