//! Fuzzes the whole VCL front end: any bytes, with an included file and a resolver, must give a
//! program or diagnostics, never a panic or a hang; and every diagnostic must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shellac_vcl::{compile, MemLoader, Options, Resolver};

struct NoNetwork;

impl Resolver for NoNetwork {
    fn resolve(&self, host: &str, port: &str) -> Result<Vec<std::net::SocketAddr>, String> {
        let ip: std::net::IpAddr = host.parse().map_err(|_| "no network in the fuzzer".to_string())?;
        let port: u16 = port.parse().map_err(|_| "bad port".to_string())?;
        Ok(vec![std::net::SocketAddr::new(ip, port)])
    }
}

fuzz_target!(|data: &[u8]| {
    // The input is the main file; the same bytes are also includable as "inc.vcl".
    let mut loader = MemLoader::new();
    loader.insert("inc.vcl", data.to_vec());
    loader.insert("conf.d/a.vcl", data.to_vec());
    let opts = Options { vcl_path: vec![".".into()], err_unref: data.len() % 2 == 0 };
    let out = compile("main.vcl", data, &opts, &loader, Some(&NoNetwork));
    let _ = out.render();
    if let Some(p) = &out.program {
        let _ = shellac_vcl::summary::summary(p);
    }
});
