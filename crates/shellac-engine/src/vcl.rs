//! A loaded VCL: the linked program with its live backends, directors and ACLs. Loading resolves
//! backend addresses, attaches pools and probers from the [`Registry`], creates director
//! objects, links every subroutine and runs `vcl_init`; anything that fails stops the load and
//! nothing half-built is ever served.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use shellac_vcl::ir::{Endpoint, ExprKind, Probe, ProbeRequest, Program};
use shellac_vcl::symbols::{method_def, ActionKind, Method};
use shellac_vcl::vmods::DirectorKind;

use crate::backend::address::Address;
use crate::backend::probe::ProbeSpec;
use crate::backend::registry::Registry;
use crate::backend::{Backend, BackendHandle, Timeouts};
use crate::catalog::Subscriber;
use crate::director::dynamic::{Dynamic, Template};
use crate::director::groups::{FallbackRule, Groups};
use crate::director::{new_director, Director};
use crate::error::{LoadError, VclFail};
use crate::exec::{self, Flow, Handling, LinkedAcl, LinkedSub, Linker};
use crate::params::Params;
use crate::vrt::{Bereq, Beresp, Ctx, Req, Resp, Sess};

/// `VCL_call`'s names of the methods, in their order (`vcl_backend_fetch`: `BACKEND_FETCH`).
const CALL_NAMES: [&str; 14] = [
    "RECV",
    "PIPE",
    "PASS",
    "HASH",
    "PURGE",
    "HIT",
    "MISS",
    "DELIVER",
    "SYNTH",
    "BACKEND_FETCH",
    "BACKEND_RESPONSE",
    "BACKEND_ERROR",
    "INIT",
    "FINI",
];

/// A loaded, linked VCL.
pub struct Vcl {
    /// Its name (`boot` for the `-f` file).
    pub name: String,
    /// The checked program it was built from.
    pub program: Arc<Program>,
    /// Backends in declaration order.
    pub backends: Vec<Arc<Backend>>,
    /// Director objects in creation order.
    pub directors: Vec<Arc<dyn Director>>,
    /// The initial `req.backend_hint`.
    pub default_backend: BackendHandle,
    pub(crate) subs: Vec<LinkedSub>,
    /// It calls `std.rollback()`: requests keep a copy of themselves as they came.
    pub keeps_originals: bool,
    /// It has shard directors (whose pending changes apply when a method ends).
    has_shards: bool,
}

/// The parts of a task a method may touch.
#[derive(Default)]
pub struct Parts<'a> {
    /// `req`
    pub req: Option<&'a mut Req>,
    /// `resp`
    pub resp: Option<&'a mut Resp>,
    /// `bereq`
    pub bereq: Option<&'a mut Bereq>,
    /// `beresp`
    pub beresp: Option<&'a mut Beresp>,
    /// `obj`: the object delivered (`vcl_hit`, `vcl_deliver`), read only.
    pub obj: Option<&'a shellac_cache::Object>,
    /// The transaction's log (`VCL_call`, `VCL_return`).
    pub vsl: Option<&'a mut crate::vsl::Buffer>,
}

// === impl Vcl ===

impl Vcl {
    /// Loads a checked program. Host names the front end did not resolve are resolved here
    /// (blocking: call from a blocking context).
    pub fn load(
        name: &str,
        program: Arc<Program>,
        registry: &Arc<Registry>,
        params: &Params,
    ) -> Result<Arc<Vcl>, LoadError> {
        let backends = program
            .backends
            .iter()
            .map(|b| new_backend(b, &program, registry, params))
            .collect::<Result<Vec<_>, _>>()?;
        let directors = program
            .objects
            .iter()
            .map(|o| {
                if matches!(o.kind, DirectorKind::Etcd | DirectorKind::EtcdGroups) {
                    return discovered_director(o, &program, registry);
                }
                let sticky = match o.args.first() {
                    Some(Some(e)) => match e.kind {
                        ExprKind::Bool(b) => b,
                        _ => {
                            return Err(LoadError::Unsupported(format!(
                                "{}: constructor arguments must be constants",
                                o.name
                            )))
                        }
                    },
                    _ => false,
                };
                Ok(new_director(o.kind, &o.name, sticky))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let acls: Arc<[LinkedAcl]> = program.acls.iter().map(LinkedAcl::new).collect::<Result<Vec<_>, _>>()?.into();
        let linker = Linker {
            program: &program,
            backends: &backends,
            directors: &directors,
            acls,
            stores: &registry.stores,
            cache: registry.cache.as_ref(),
            outbox: &registry.outbox,
            rollback: std::cell::Cell::new(false),
        };
        let subs = exec::link(&linker)?;
        let keeps_originals = linker.rollback.get();
        // As the vmod subscribes to object events when a VCL that imports it loads.
        if program.imports.contains(&"xkey") {
            if let Some(cache) = &registry.cache {
                cache.xkeys().enable();
            }
        }
        let default_backend = linker.backend_ref(program.default_backend);
        // A new VCL is warm: its probes run (spec §2.5).
        for b in &backends {
            b.set_warm(true);
        }
        for d in &directors {
            d.set_warm(true);
        }
        let has_shards = directors.iter().any(|d| d.as_shard().is_some());
        let vcl = Arc::new(Vcl {
            name: name.to_string(),
            has_shards,
            program: program.clone(),
            backends,
            directors,
            default_backend,
            subs,
            keeps_originals,
        });
        let sess = Sess::housekeeping();
        match vcl.run(Method::Init, &sess, Parts::default()) {
            Ok(h) if h.action == ActionKind::Ok => Ok(vcl),
            Ok(h) => Err(LoadError::Init(format!("vcl_init returned {:?}", h.action))),
            Err(e) => Err(LoadError::Init(e.0)),
        }
    }

    /// Runs a method; falling off the end means the method's default action.
    pub fn run(&self, method: Method, sess: &Sess, parts: Parts<'_>) -> Result<Handling, VclFail> {
        let mut ctx = Ctx {
            vcl: self,
            sess,
            method,
            now: None,
            req: parts.req,
            resp: parts.resp,
            bereq: parts.bereq,
            beresp: parts.beresp,
            obj: parts.obj,
            vsl: parts.vsl,
        };
        if let Some(b) = ctx.vsl.as_deref_mut() {
            b.add_str(crate::vsl::Tag::VCL_call, CALL_NAMES.get(method as usize).copied().unwrap_or("?"));
        }
        let id = self.program.methods[method as usize];
        let result = match exec::run_sub(&mut ctx, id) {
            Err(e) => Err(e),
            Ok(Flow::Return(h)) if h.action == ActionKind::Fail => Err(VclFail(match h.args.first() {
                Some(reason) => reason.to_text(),
                None => "return (fail)".into(),
            })),
            Ok(Flow::Return(h)) => Ok(h),
            Ok(Flow::Next | Flow::Leave) => Ok(Handling::new(method_def(method).actions[0])),
        };
        // Shard directors' changes not yet reconfigured take effect at the end of the method
        // (varnishd's end of task).
        if self.has_shards {
            self.directors.iter().filter_map(|d| d.as_shard()).for_each(|s| s.end_task());
        }
        if let Some(b) = ctx.vsl.as_deref_mut() {
            let name = match &result {
                Ok(h) => shellac_vcl::symbols::action_def(h.action).name,
                Err(_) => "fail",
            };
            b.add_str(crate::vsl::Tag::VCL_return, name);
        }
        result
    }

    /// Warms or cools the VCL: a cold VCL's backends stop counting as users of their probers
    /// (probes shared with a warm VCL go on).
    pub fn set_warm(&self, warm: bool) {
        for b in &self.backends {
            b.set_warm(warm);
        }
        for d in &self.directors {
            d.set_warm(warm);
        }
    }
}

/// Creates an `etcd.director` or `etcd.groups` object and subscribes it to the catalog, so it
/// starts with the members known now.
fn discovered_director(
    o: &shellac_vcl::ir::Object,
    program: &Program,
    registry: &Arc<Registry>,
) -> Result<Arc<dyn Director>, LoadError> {
    let def = shellac_vcl::vmods::director_def(o.kind);
    let arg = |name: &str| {
        def.ctor
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| o.args.get(i))
            .and_then(|a| a.as_ref())
            .map(|e| &e.kind)
    };
    let text = |name: &str| match arg(name) {
        Some(ExprKind::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let seconds = |name: &str| match arg(name) {
        Some(ExprKind::Duration(d)) => Some(*d),
        _ => None,
    };
    let unsupported = |why: String| LoadError::Unsupported(format!("{}: {why}", o.name));
    let prefix = text("prefix").ok_or_else(|| unsupported("no prefix".into()))?;
    match registry.catalog.root() {
        None => return Err(unsupported(format!("{} needs discovery: start shellac with --etcd ENDPOINTS", def.name))),
        Some(root) if !prefix.starts_with(&root) => {
            return Err(unsupported(format!(
                "prefix {prefix:?} is outside the watched prefix {root:?} (--etcd-prefix)"
            )))
        }
        // Keys are `<root><group>/<host>:<port>`: a director follows one group, the groups
        // object the root itself.
        Some(root) if o.kind == DirectorKind::EtcdGroups && prefix != root => {
            return Err(unsupported(format!(
                "prefix {prefix:?}: etcd.groups follows the watched prefix itself, {root:?} (--etcd-prefix)"
            )))
        }
        Some(root) if o.kind == DirectorKind::Etcd && !is_group_prefix(&prefix[root.len()..]) => {
            return Err(unsupported(format!(
                "prefix {prefix:?}: an etcd.director follows one group, \"{root}<group>/\" (keys are {root}<group>/<host>:<port>)"
            )))
        }
        Some(_) => {}
    }
    let policy = text("policy").unwrap_or_else(|| "round_robin".into());
    let policy = shellac_vcl::vmods::POLICIES
        .iter()
        .find(|(n, _)| *n == policy)
        .map(|(_, k)| *k)
        .ok_or_else(|| unsupported(format!("unknown policy {policy:?}")))?;
    let host_header = match text("host_header") {
        Some(h) => Some(
            HeaderValue::from_str(&h)
                .map_err(|_| unsupported(format!("host_header {h:?} is not a valid header value")))?,
        ),
        None => None,
    };
    let template = Template {
        policy,
        probe: match arg("probe") {
            Some(ExprKind::Probe(id)) => Some(program.probes[id.0 as usize].clone()),
            _ => None,
        },
        timeouts: Timeouts {
            connect: seconds("connect_timeout"),
            first_byte: seconds("first_byte_timeout"),
            between_bytes: seconds("between_bytes_timeout"),
        },
        max_connections: match arg("max_connections") {
            Some(ExprKind::Int(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
            _ => 0,
        },
        host_header,
    };
    Ok(if o.kind == DirectorKind::EtcdGroups {
        let rule = match text("default") {
            Some(g) if g.is_empty() || g.contains('/') => {
                return Err(unsupported(format!("default {g:?} is not a group name")));
            }
            Some(g) => FallbackRule::Named(g),
            None => FallbackRule::Auto,
        };
        let g = Arc::new(Groups::new(&o.name, &prefix, rule, template, registry.clone()));
        registry.catalog.subscribe(&(g.clone() as Arc<dyn Subscriber>));
        g
    } else {
        let d = Arc::new(Dynamic::new(&o.name, &prefix, template, registry.clone()));
        registry.catalog.subscribe(&(d.clone() as Arc<dyn Subscriber>));
        d
    })
}

/// `<group>/`: one non-empty path segment and its slash.
fn is_group_prefix(rest: &str) -> bool {
    rest.strip_suffix('/').is_some_and(|g| !g.is_empty() && !g.contains('/'))
}

fn new_backend(
    b: &shellac_vcl::ir::Backend,
    program: &Program,
    registry: &Registry,
    params: &Params,
) -> Result<Arc<Backend>, LoadError> {
    let timeouts = Timeouts {
        connect: b.connect_timeout,
        first_byte: b.first_byte_timeout,
        between_bytes: b.between_bytes_timeout,
    };
    let host_header = match &b.host_header {
        Some(h) => Some(HeaderValue::from_str(h).map_err(|_| {
            LoadError::Unsupported(format!("backend {}: .host_header {h:?} is not a valid header value", b.name))
        })?),
        None => None,
    };
    let addr = match &b.endpoint {
        None => None,
        Some(Endpoint::Path(p)) => Some(Address::Unix(std::path::Path::new(p).into())),
        Some(Endpoint::Host { host, port, resolved, .. }) => {
            Some(Address::Ip(pick_addr(&b.name, host, port, resolved, params.prefer_ipv6)?))
        }
    };
    let pool = addr.clone().map(|a| registry.pool(a));
    let probe = match (b.probe, &addr) {
        (Some(id), Some(addr)) => {
            let spec = probe_spec(&program.probes[id.0 as usize], host_header.as_ref());
            Some(registry.prober(&b.name, addr.clone(), spec))
        }
        _ => None,
    };
    Ok(Arc::new(Backend::new(b.name.clone(), addr, pool, host_header, timeouts, b.max_connections, probe)))
}

/// The address to connect to: the front end's resolution if it did one, else resolve now; IPv4
/// first unless `prefer_ipv6`.
fn pick_addr(
    name: &str,
    host: &str,
    port: &str,
    resolved: &[SocketAddr],
    prefer_ipv6: bool,
) -> Result<SocketAddr, LoadError> {
    let err = |reason: String| LoadError::Resolve {
        backend: name.to_string(),
        host: host.to_string(),
        port: port.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = if resolved.is_empty() {
        let port_num: u16 = match port.parse() {
            Ok(p) => p,
            Err(_) => match port {
                "http" => 80,
                "https" => 443,
                _ => return Err(err(format!("unknown port {port:?}"))),
            },
        };
        (host, port_num).to_socket_addrs().map_err(|e| err(e.to_string()))?.collect()
    } else {
        resolved.to_vec()
    };
    let first = |v6: bool| addrs.iter().find(|a| a.is_ipv6() == v6).copied();
    let pick = if prefer_ipv6 { first(true).or_else(|| first(false)) } else { first(false).or_else(|| first(true)) };
    pick.ok_or_else(|| err("no address".into()))
}

/// The request bytes and timing of a probe (spec §2.3).
pub fn probe_spec(p: &Probe, host_header: Option<&HeaderValue>) -> ProbeSpec {
    let request = match &p.request {
        ProbeRequest::Url(url) => {
            let mut r = format!("GET {url} HTTP/1.1\r\n").into_bytes();
            if let Some(h) = host_header {
                r.extend_from_slice(b"Host: ");
                r.extend_from_slice(h.as_bytes());
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"Connection: close\r\n\r\n");
            r
        }
        ProbeRequest::Lines(lines) => {
            let mut r = Vec::new();
            for l in lines {
                r.extend_from_slice(l.as_bytes());
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"\r\n");
            r
        }
    };
    ProbeSpec {
        request,
        timeout: Duration::from_secs_f64(p.timeout.max(0.001)),
        interval: Duration::from_secs_f64(p.interval.max(0.001)),
        window: p.window,
        threshold: p.threshold,
        initial: p.initial,
        expected: p.expected_response,
    }
}

impl Sess {
    /// The session `vcl_init` and `vcl_fini` run with.
    pub fn housekeeping() -> Sess {
        let zero = SocketAddr::from(([0, 0, 0, 0], 0));
        Sess {
            client: zero,
            local: zero,
            remote: zero,
            bound: zero,
            xid: 0,
            endpoint: "".into(),
            socket: "".into(),
            hostname: hostname().into(),
            identity: hostname().into(),
            client_ip: Sess::ip_value(&zero),
            links: crate::vsl::Links::default(),
            timeouts: crate::vrt::timeouts::Timeouts::new(&crate::params::Params::default()),
            closing: Default::default(),
            tally: Default::default(),
        }
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcl_call_names_are_the_methods_names() {
        for d in shellac_vcl::symbols::METHODS {
            let want = d.name.trim_start_matches("vcl_").to_ascii_uppercase();
            assert_eq!(CALL_NAMES[d.method as usize], want);
        }
    }
}
