//! The test harness: a proxy running a VCL text in-process on 127.0.0.1 port 0.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shellac_engine::listener::{self, Listen};
use shellac_engine::params::Params;
use shellac_engine::server::Server;
use shellac_engine::vcl::Vcl;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[allow(unused_imports)]
pub use shellac_testkit::{get, request, Client, Origin, Response};

/// A running proxy.
pub struct Proxy {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Compiles a VCL text (no name resolution: tests use addresses).
pub fn compile(vcl: &str) -> shellac_vcl::Program {
    compile_with_storages(vcl, shellac_vcl::default_storages())
}

/// Compiles a VCL text that may name these storages.
pub fn compile_with_storages(vcl: &str, storages: Vec<String>) -> shellac_vcl::Program {
    let opts = shellac_vcl::Options { vcl_path: Vec::new(), err_unref: false, storages, labels: None };
    let out = shellac_vcl::compile("test.vcl", vcl.as_bytes(), &opts, &shellac_vcl::MemLoader::new(), None);
    match out.program {
        Some(p) => p,
        None => panic!("VCL does not compile:\n{}", out.render()),
    }
}

/// Loads a VCL into a server.
pub fn load(server: &Server, name: &str, vcl: &str) -> Arc<Vcl> {
    let program = Arc::new(compile(vcl));
    let params = server.params();
    match Vcl::load(name, program, &server.registry, &params) {
        Ok(v) => v,
        Err(e) => panic!("VCL does not load: {e}"),
    }
}

/// Starts a proxy with default parameters.
pub async fn proxy(vcl: &str) -> Proxy {
    proxy_with(vcl, |_| {}).await
}

/// Starts a proxy after adjusting its parameters.
pub async fn proxy_with(vcl: &str, f: impl FnOnce(&mut Params)) -> Proxy {
    let mut params = Params::default();
    f(&mut params);
    let server = Server::new(params);
    let v = load(&server, "boot", vcl);
    serve_vcl(server, v).await
}

/// Starts a proxy whose objects are kept in `storage`.
pub async fn proxy_with_storage(vcl: &str, storage: shellac_cache::Storage) -> Proxy {
    let server = Server::with_storage(Params::default(), storage);
    let v = load(&server, "boot", vcl);
    serve_vcl(server, v).await
}

/// Starts a proxy whose objects are kept in `stores` (as `-s` flags give them) and
/// `transient`; its VCL may name them.
pub async fn proxy_with_stores(
    vcl: &str,
    params: Params,
    stores: Vec<shellac_cache::Storage>,
    transient: shellac_cache::Storage,
) -> Proxy {
    let server = Server::with_stores(params, stores, transient);
    let names = server.cache.stores().map(|s| s.name().to_string()).collect();
    let program = Arc::new(compile_with_storages(vcl, names));
    let v = Vcl::load("boot", program, &server.registry, &server.params()).expect("load");
    serve_vcl(server, v).await
}

/// Makes `vcl` active on `server` and listens on 127.0.0.1 port 0.
pub async fn serve_vcl(server: Arc<Server>, vcl: Arc<Vcl>) -> Proxy {
    serve_vcl_as(server, vcl, false).await
}

/// A server running `vcl` whose listener takes a PROXY protocol header first.
#[allow(dead_code)] // (Not every test file uses it.)
pub async fn proxy_protocol(vcl: &str) -> Proxy {
    let server = Server::new(Params::default());
    let v = Vcl::load("boot", Arc::new(compile(vcl)), &server.registry, &server.params()).expect("load");
    serve_vcl_as(server, v, true).await
}

/// [`serve_vcl`], the listener taking a PROXY header first with `proxy`.
pub async fn serve_vcl_as(server: Arc<Server>, vcl: Arc<Vcl>, proxy: bool) -> Proxy {
    server.use_vcl(vcl);
    let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let listens = vec![Listen {
        name: "a0".into(),
        endpoint: addr.to_string(),
        socket: shellac_engine::client_io::Socket::Tcp(socket),
        proxy,
    }];
    let srv = server.clone();
    let task = tokio::spawn(async move {
        listener::serve(srv, listens, async {
            let _ = rx.await;
        })
        .await;
    });
    Proxy { addr, server, stop: Some(tx), task: Some(task) }
}

impl Proxy {
    /// `GET path` with `Host: test`.
    pub async fn get(&self, path: &str) -> Response {
        get(self.addr, path).await
    }

    /// A raw request.
    pub async fn request(&self, raw: &str) -> Response {
        request(self.addr, raw).await
    }

    /// Stops accepting and waits for the drain.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
    }

    /// The backend of the active VCL with this name.
    pub fn backend(&self, name: &str) -> Arc<shellac_engine::backend::Backend> {
        let vcl = self.server.active().expect("active vcl");
        vcl.backends.iter().find(|b| b.name == name).cloned().unwrap_or_else(|| panic!("no backend {name}"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `cond` every 10 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = tokio::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// `vcl 4.1;` plus backends for the origins plus `rest`.
pub fn vcl_for(origins: &[&Origin], rest: &str) -> String {
    let mut v = String::from("vcl 4.1;\n");
    for o in origins {
        v.push_str(&o.backend_vcl(""));
    }
    v.push_str(rest);
    v
}

/// Compiles a main file with extra files, all under `/seed` on `vcl_path`.
pub fn compile_files(main: &str, files: &[(&str, String)]) -> shellac_vcl::Program {
    let opts = shellac_vcl::Options {
        vcl_path: vec!["/seed".into()],
        err_unref: true,
        storages: shellac_vcl::default_storages(),
        labels: None,
    };
    let mut loader = shellac_vcl::MemLoader::new();
    for (name, text) in files {
        loader.insert(format!("/seed/{name}"), text.clone());
    }
    let out = shellac_vcl::compile("/seed/default.vcl", main.as_bytes(), &opts, &loader, None);
    match out.program {
        Some(p) => p,
        None => panic!("VCL does not compile:\n{}", out.render()),
    }
}

/// Starts a proxy on an already compiled program.
pub async fn proxy_program(program: shellac_vcl::Program) -> Proxy {
    let server = Server::new(Params::default());
    let params = server.params();
    let v = Vcl::load("boot", Arc::new(program), &server.registry, &params).expect("load");
    serve_vcl(server, v).await
}

/// An example file of the repository.
pub fn example(path: &str) -> String {
    let full = format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A seed 004 example with its host names pointed at origins and probe intervals shortened.
pub fn seed004(file: &str, origins: &[(&str, &Origin)]) -> String {
    let mut text = example(&format!("seed-004/{file}"));
    for (host, o) in origins {
        text = text.replace(&format!("\"{host}\""), &format!("\"{}\"; .port = \"{}\"", o.host(), o.port()));
    }
    text.replace(".interval = 5s;", ".interval = 50ms;").replace(".interval = 2s;", ".interval = 50ms;")
}

/// Which origin answered.
pub fn who(r: &Response) -> String {
    r.header("x-origin").unwrap_or("-").to_string()
}
