//! What the management commands act on: the loaded VCLs (name, running VCL, source files), the
//! active one, and the parameters. Compiling happens off the data path (`spawn_blocking`); a
//! switch is one atomic store in the engine's [`Server`].

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use shellac_engine::server::Server;
use shellac_engine::vcl::Vcl;
use shellac_vcl::source::fnmatch;
use shellac_vcl::{compile, Options, Resolver};

use crate::fs::{FsLoader, SystemResolver};
use crate::proto::Status;

/// A loaded VCL.
pub struct Loaded {
    /// Its name.
    pub name: String,
    /// The running VCL.
    pub vcl: Arc<Vcl>,
    /// Its files (name, text), top-level first, builtin last.
    pub sources: Vec<(String, String)>,
    /// When it was loaded.
    pub loaded: SystemTime,
    /// `vcl.state`: auto (cools after `vcl_cooldown` unused), warm or cold.
    pub state: &'static str,
    /// Whether it is warm (its probes run).
    pub warm: bool,
    /// Since when nothing uses it (not active, no label on it).
    pub unused_since: Option<tokio::time::Instant>,
}

/// The management state.
pub struct Manager {
    /// The data path.
    pub server: Arc<Server>,
    vcls: Mutex<Vec<Loaded>>,
    /// Labels in creation order: (label, VCL name).
    labels: Mutex<Vec<(String, String)>>,
    /// The active name: a VCL or a label.
    active: Mutex<Option<String>>,
    resolve: bool,
    /// The etcd watch's status, when discovery is on.
    discovery: Mutex<Option<Arc<crate::discovery::status::Status>>>,
    cluster: std::sync::OnceLock<Cluster>,
    /// Parameters `param.set` may not change (varnishd's `-r`).
    protected: std::sync::OnceLock<Vec<String>>,
}

/// Invalidations across the cluster (`serve --etcd`): where `ban.cluster` writes, and how far
/// this node has applied what was written.
#[derive(Clone)]
pub struct Cluster {
    /// Writes invalidations.
    pub publisher: Arc<crate::cluster::publisher::Publisher>,
    /// The last revision this node applied.
    pub applied: tokio::sync::watch::Receiver<i64>,
}

/// Where a VCL's text comes from.
pub enum VclText {
    /// A file name (resolved like `-f`: as given, then along `vcl_path`).
    File(String),
    /// Source given on the command line.
    Inline(String),
}

/// A failed command: its status and message.
pub type Failure = (Status, String);

/// varnishd's answer to a state that is not one.
pub const BAD_STATE: &str = "State must be one of auto, cold or warm.";

/// A compiled and loaded VCL with its files and its warnings.
type Compiled = (Arc<Vcl>, Vec<(String, String)>, String);

// === impl Loaded ===

impl Loaded {
    fn new(name: String, vcl: Arc<Vcl>, sources: Vec<(String, String)>) -> Loaded {
        Loaded {
            name,
            vcl,
            sources,
            loaded: SystemTime::now(),
            state: "auto",
            warm: true,
            unused_since: Some(tokio::time::Instant::now()),
        }
    }
}

// === impl Manager ===

impl Manager {
    /// A manager for a server; `resolve` says whether backend names are resolved at compile time.
    pub fn new(server: Arc<Server>, resolve: bool) -> Manager {
        Manager {
            server,
            vcls: Mutex::new(Vec::new()),
            labels: Mutex::new(Vec::new()),
            active: Mutex::new(None),
            resolve,
            discovery: Mutex::new(None),
            cluster: std::sync::OnceLock::new(),
            protected: std::sync::OnceLock::new(),
        }
    }

    /// How many VCLs are loaded (a discarded one is gone at once).
    pub fn vcl_count(&self) -> usize {
        self.vcls.lock().len()
    }

    /// Makes these parameters read-only for `param.set` and `param.reset` (once, at the start).
    pub fn protect(&self, names: Vec<String>) {
        let _ = self.protected.set(names);
    }

    /// Whether `param.set` may not change this parameter.
    pub fn is_protected(&self, name: &str) -> bool {
        self.protected.get().is_some_and(|p| p.iter().any(|n| n == name))
    }

    /// Sets up invalidations across the cluster (once).
    pub fn set_cluster(&self, cluster: Cluster) {
        let _ = self.cluster.set(cluster);
    }

    /// Invalidations across the cluster, if `serve --etcd` set them up.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.get()
    }

    /// Shows this discovery status through `discovery.status`.
    pub fn set_discovery(&self, status: Arc<crate::discovery::status::Status>) {
        *self.discovery.lock() = Some(status);
    }

    /// The discovery status, when discovery is on.
    pub fn discovery(&self) -> Option<Arc<crate::discovery::status::Status>> {
        self.discovery.lock().clone()
    }

    /// Compiles and loads a VCL under `name` (not yet active).
    pub async fn load(&self, name: &str, text: VclText) -> Result<String, Failure> {
        if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err((Status::Param, format!("Illegal character in VCL name ({name})")));
        }
        if self.vcls.lock().iter().any(|l| l.name == name) || self.labels.lock().iter().any(|(l, _)| l == name) {
            return Err((Status::Param, format!("Already a VCL named {name}")));
        }
        let params = self.server.params();
        let opts = Options {
            vcl_path: params.vcl_path.clone(),
            err_unref: params.vcc_err_unref,
            storages: self.server.cache.stores().map(|s| s.name().to_string()).collect(),
            labels: Some(self.labels.lock().iter().map(|(l, _)| l.clone()).collect()),
        };
        let resolve = self.resolve;
        let server = self.server.clone();
        let vcl_name = name.to_string();
        let job = move || -> Result<Compiled, Failure> {
            let (file, bytes) = match text {
                VclText::Inline(src) => ("<vcl.inline>".to_string(), src.into_bytes()),
                VclText::File(f) => {
                    // (As varnishd's compiler says it: the C library's words for the error.)
                    let unread = |why: &str| {
                        (
                            Status::Param,
                            format!("Message from VCC-compiler:\nCannot read file '{f}' ({why})\nRunning VCC-compiler failed, exited with 2\nVCL compilation failed"),
                        )
                    };
                    let path = find_vcl(&f, &opts).ok_or_else(|| unread("No such file or directory"))?;
                    let bytes = std::fs::read(&path).map_err(|e| unread(&strerror(&e)))?;
                    (path, bytes)
                }
            };
            let resolver = SystemResolver;
            let out = compile(&file, &bytes, &opts, &FsLoader, resolve.then_some(&resolver as &dyn Resolver));
            let rendered = out.render();
            let Some(program) = out.program else {
                return Err((
                    Status::Param,
                    format!("Message from VCC-compiler:\n{rendered}Running VCC-compiler failed, exited with 2\nVCL compilation failed"),
                ));
            };
            let sources = out.sources.files().iter().map(|f| (f.name.clone(), f.text.clone())).collect();
            let vcl = Vcl::load(&vcl_name, Arc::new(program), &server.registry, &server.params())
                .map_err(|e| (Status::Param, format!("Loading VCL failed: {e}")))?;
            Ok((vcl, sources, rendered))
        };
        let (vcl, sources, warnings) =
            tokio::task::spawn_blocking(job).await.map_err(|e| (Status::Cant, format!("VCL load failed: {e}")))??;
        let mut vcls = self.vcls.lock();
        if vcls.iter().any(|l| l.name == name) {
            return Err((Status::Param, format!("Already a VCL named {name}")));
        }
        vcls.push(Loaded::new(name.to_string(), vcl, sources));
        Ok(warnings)
    }

    /// Registers a VCL loaded at startup (`-f`, `-b`) and makes it active.
    pub fn adopt(&self, vcl: Arc<Vcl>, sources: Vec<(String, String)>) {
        self.server.use_vcl(vcl.clone());
        *self.active.lock() = Some(vcl.name.clone());
        let name = vcl.name.clone();
        self.vcls.lock().push(Loaded::new(name, vcl, sources));
        self.mark_unused();
    }

    /// `vcl.use NAME|LABEL`
    pub fn use_vcl(&self, name: &str) -> Result<String, Failure> {
        let target = self.labels.lock().iter().find(|(l, _)| l == name).map(|(_, t)| t.clone());
        let vcl_name = target.as_deref().unwrap_or(name);
        let vcl = self.vcl(vcl_name).ok_or_else(|| (Status::Param, format!("No VCL named {name} known\n")))?;
        // A cold VCL warms before it takes traffic.
        self.set_warm(vcl_name, true);
        self.server.use_vcl(vcl);
        *self.active.lock() = Some(name.to_string());
        self.mark_unused();
        Ok(format!("VCL '{name}' now active"))
    }

    /// `vcl.state NAME auto|cold|warm`
    pub fn set_state(&self, name: &str, state: &str) -> Result<String, Failure> {
        let state: &'static str = match state {
            "auto" => "auto",
            "cold" => "cold",
            "warm" => "warm",
            _ => return Err((Status::Param, BAD_STATE.to_string())),
        };
        if !self.vcls.lock().iter().any(|l| l.name == name) {
            return Err((Status::Param, format!("No VCL named {name} known\n")));
        }
        if state == "cold" && self.in_use().contains(&name.to_string()) {
            return Err((Status::Cant, "Cannot set the active VCL cold.".to_string()));
        }
        if let Some(l) = self.vcls.lock().iter_mut().find(|l| l.name == name) {
            l.state = state;
        }
        match state {
            "warm" => self.set_warm(name, true),
            "cold" => self.set_warm(name, false),
            _ => {}
        }
        Ok(String::new())
    }

    /// Cools `auto` VCLs that nothing has used for `vcl_cooldown` (run periodically).
    pub fn cool_unused(&self) {
        let cooldown = std::time::Duration::from_secs_f64(self.server.params().vcl_cooldown.max(0.0));
        let names: Vec<String> = self
            .vcls
            .lock()
            .iter()
            .filter(|l| l.warm && l.state == "auto" && l.unused_since.is_some_and(|t| t.elapsed() >= cooldown))
            .map(|l| l.name.clone())
            .collect();
        for n in names {
            tracing::info!("VCL {n} unused for {cooldown:?}: cold, its probes stop");
            self.set_warm(&n, false);
        }
    }

    fn set_warm(&self, name: &str, warm: bool) {
        if let Some(l) = self.vcls.lock().iter_mut().find(|l| l.name == name) {
            if l.warm != warm {
                l.warm = warm;
                l.vcl.set_warm(warm);
            }
        }
    }

    /// Names of VCLs in use: the active one (through its label too) and label targets.
    fn in_use(&self) -> Vec<String> {
        let mut used: Vec<String> = self.labels.lock().iter().map(|(_, t)| t.clone()).collect();
        if let Some(a) = self.server.active() {
            used.push(a.name.clone());
        }
        used
    }

    /// Stamps when each VCL stopped being used.
    fn mark_unused(&self) {
        let used = self.in_use();
        for l in self.vcls.lock().iter_mut() {
            if used.contains(&l.name) {
                l.unused_since = None;
            } else if l.unused_since.is_none() {
                l.unused_since = Some(tokio::time::Instant::now());
            }
        }
    }

    /// `vcl.label LABEL NAME`: creates or moves a label.
    pub fn label(&self, label: &str, target: &str) -> Result<String, Failure> {
        if self.vcls.lock().iter().any(|l| l.name == label) {
            return Err((Status::Param, format!("{label} is not a label")));
        }
        let vcl = self.vcl(target).ok_or_else(|| (Status::Param, format!("No VCL named {target} known\n")))?;
        {
            let mut labels = self.labels.lock();
            match labels.iter_mut().find(|(l, _)| l == label) {
                Some(entry) => entry.1 = target.to_string(),
                None => labels.push((label.to_string(), target.to_string())),
            }
        }
        self.set_warm(target, true);
        if self.active.lock().as_deref() == Some(label) {
            self.server.use_vcl(vcl);
        }
        self.publish_labels();
        self.mark_unused();
        Ok(String::new())
    }

    fn vcl(&self, name: &str) -> Option<Arc<Vcl>> {
        self.vcls.lock().iter().find(|l| l.name == name).map(|l| l.vcl.clone())
    }

    fn publish_labels(&self) {
        let map = self.labels.lock().iter().filter_map(|(l, t)| self.vcl(t).map(|v| (l.clone(), v))).collect();
        self.server.set_labels(map);
    }

    /// The name of the active VCL.
    pub fn active_name(&self) -> Option<String> {
        let active = self.server.active()?;
        Some(active.name.clone())
    }

    /// `vcl.discard PATTERN…`: every VCL and label the shell-style patterns match (varnishd
    /// 7.1's `<name_pattern>`), or nothing at all: a pattern that matches none, or a match that
    /// cannot go (active, labelled, returned to), fails the whole command.
    pub fn discard(&self, patterns: &[String]) -> Result<String, Failure> {
        let active = self.active.lock().clone();
        let names: Vec<String> = {
            let vcls = self.vcls.lock();
            let labels = self.labels.lock();
            let all: Vec<&String> = vcls.iter().map(|l| &l.name).chain(labels.iter().map(|(l, _)| l)).collect();
            let mut names = Vec::new();
            for p in patterns {
                let mut matched = false;
                for n in all.iter().filter(|n| fnmatch(p, n)) {
                    matched = true;
                    if !names.contains(*n) {
                        names.push((*n).clone());
                    }
                }
                if !matched {
                    return Err((Status::Param, format!("No VCL name matches {p}\n")));
                }
            }
            names
        };
        let names = &names[..];
        {
            let vcls = self.vcls.lock();
            let labels = self.labels.lock();
            for n in names {
                let is_label = labels.iter().any(|(l, _)| l == n);
                if active.as_deref() == Some(n.as_str()) {
                    return Err((Status::Cant, format!("Cannot discard active VCL program {n}")));
                }
                let by: Vec<&str> =
                    labels.iter().filter(|(l, t)| t == n && !names.contains(l)).map(|(l, _)| l.as_str()).collect();
                if !by.is_empty() {
                    let list: String = by.iter().map(|l| format!("\t{l}\n")).collect();
                    return Err((Status::Cant, format!("Cannot discard labeled VCL program {n}:\n{list}")));
                }
                // A label some other VCL returns to (`return (vcl(LABEL))`) stays while it is
                // loaded: its requests would have nowhere to go.
                let returning: Vec<&str> = vcls
                    .iter()
                    .filter(|l| !names.contains(&l.name) && l.vcl.program.returns_to.contains(n))
                    .map(|l| l.name.as_str())
                    .collect();
                if is_label && !returning.is_empty() {
                    let list: String = returning.iter().map(|l| format!("\t{l}\n")).collect();
                    return Err((
                        Status::Cant,
                        format!("Cannot discard VCL label {n}, other VCLs depend on it:\n{list}"),
                    ));
                }
            }
        }
        self.labels.lock().retain(|(l, _)| !names.contains(l));
        self.vcls.lock().retain(|l| !names.contains(&l.name));
        self.publish_labels();
        Ok(String::new())
    }

    /// `vcl.list`
    pub fn list(&self) -> String {
        let active = self.active.lock().clone();
        let labels = self.labels.lock().clone();
        let status = |name: &str| if active.as_deref() == Some(name) { "active" } else { "available" };
        let mut t = String::new();
        for l in self.vcls.lock().iter() {
            // A request holds an Arc while it runs: what is above the manager's and the
            // server's references (active, labels) is busy.
            let n = labels.iter().filter(|(_, target)| *target == l.name).count();
            let held = 1 + n + usize::from(self.server.active().is_some_and(|a| Arc::ptr_eq(&a, &l.vcl)));
            let busy = Arc::strong_count(&l.vcl).saturating_sub(held);
            let temperature = if l.warm { "warm" } else { "cold" };
            t.push_str(&format!("{}\t{}\t{temperature}\t{busy:6}\t{}", status(&l.name), l.state, l.name));
            if n > 0 {
                t.push_str(&format!("\t<-\t({n} label{})", if n == 1 { "" } else { "s" }));
            }
            t.push('\n');
        }
        for (label, target) in &labels {
            // (And how many VCLs return to it, as varnishd says it.)
            let returns = self.vcls.lock().iter().filter(|l| l.vcl.program.returns_to.contains(label)).count();
            let returns = if returns > 0 { format!(" ({returns} return(vcl))") } else { String::new() };
            t.push_str(&format!("{}\tlabel\twarm\t{:6}\t{label}\t->\t{target}{returns}\n", status(label), 0));
        }
        crate::vte::format(&t)
    }

    /// `vcl.deps [-j]`: every VCL and the labels it returns to (`return (vcl(LABEL))`), then
    /// every label and the VCL it names; in text, one line a dependency (a name alone when it
    /// has none), what it depends on in a column past the longest name.
    pub fn deps(&self, args: &[String]) -> String {
        use crate::json::string;
        let vcls: Vec<(String, Vec<String>)> =
            self.vcls.lock().iter().map(|l| (l.name.clone(), l.vcl.program.returns_to.clone())).collect();
        let labels = self.labels.lock().clone();
        if args.iter().any(|a| a == "-j") {
            let item = |name: &str, deps: &[&str]| {
                let deps = if deps.is_empty() {
                    "[]".to_string()
                } else {
                    let list: Vec<String> = deps.iter().map(|d| format!("      {}", string(d))).collect();
                    format!("[\n{}\n    ]", list.join(",\n"))
                };
                format!("  {{\n    \"name\": {},\n    \"deps\": {deps}\n  }}", string(name))
            };
            let items: Vec<String> = vcls
                .iter()
                .map(|(n, deps)| item(n, &deps.iter().map(String::as_str).collect::<Vec<_>>()))
                .chain(labels.iter().map(|(l, t)| item(l, &[t.as_str()])))
                .collect();
            return format!("{}{}\n]\n", crate::json::header(1, "vcl.deps", args), items.join(",\n"));
        }
        let width =
            vcls.iter().map(|(n, _)| n).chain(labels.iter().map(|(l, _)| l)).map(String::len).max().unwrap_or(0) + 3;
        let mut out = String::new();
        for (name, deps) in &vcls {
            if deps.is_empty() {
                out.push_str(&format!("{name}\n"));
            }
            for dep in deps {
                out.push_str(&format!("{name:width$}{dep}\n"));
            }
        }
        for (label, target) in &labels {
            out.push_str(&format!("{label:width$}{target}\n"));
        }
        out
    }

    /// `vcl.list -j`
    pub fn list_json(&self, args: &[String]) -> String {
        use crate::json::string;
        let active = self.active.lock().clone();
        let status = |name: &str| if active.as_deref() == Some(name) { "active" } else { "available" };
        let labels = self.labels.lock().clone();
        let mut items = Vec::new();
        for l in self.vcls.lock().iter() {
            let mut e = format!(
                "  {{\n    \"status\": \"{}\",\n    \"state\": \"{}\",\n    \"temperature\": \"{}\",\n    \"busy\": 0,\n    \"name\": {}",
                status(&l.name),
                l.state,
                if l.warm { "warm" } else { "cold" },
                string(&l.name)
            );
            let n = labels.iter().filter(|(_, t)| *t == l.name).count();
            if n > 0 {
                e.push_str(&format!(",\n    \"labels\": {n}"));
            }
            e.push_str("\n}");
            items.push(e);
        }
        for (label, target) in &labels {
            items.push(format!(
                "  {{\n    \"status\": \"{}\",\n    \"state\": \"label\",\n    \"temperature\": \"warm\",\n    \"busy\": 0,\n    \"name\": {},\n    \"label\": {}\n}}",
                status(label),
                string(label),
                string(target)
            ));
        }
        format!("{}{}\n]\n", crate::json::header(2, "vcl.list", args), items.join(",\n"))
    }

    /// `vcl.show [-v] [NAME]`
    pub fn show(&self, name: Option<&str>, verbose: bool) -> Result<String, Failure> {
        let active = self.active_name();
        let name = name.map(str::to_string).or(active).ok_or_else(|| (Status::Param, "No active VCL".to_string()))?;
        let vcls = self.vcls.lock();
        let l =
            vcls.iter().find(|l| l.name == name).ok_or_else(|| (Status::Param, format!("No VCL named '{name}'")))?;
        if !verbose {
            return Ok(l.sources.first().map(|(_, t)| t.clone()).unwrap_or_default());
        }
        let mut out = String::new();
        for (i, (file, text)) in l.sources.iter().enumerate() {
            out.push_str(&format!("// VCL.SHOW {i} {} {file}\n{text}", text.len()));
        }
        Ok(out)
    }

    /// Runs `f` over every loaded VCL (for `backend.list` patterns with a dot).
    pub fn with_vcls<R>(&self, f: impl FnOnce(&[Loaded]) -> R) -> R {
        f(&self.vcls.lock())
    }
}

/// A relative file name is tried as given, then along `vcl_path`; an absolute one is taken as
/// it is (reading it says what is wrong).
pub fn find_vcl(file: &str, opts: &Options) -> Option<String> {
    if file.starts_with('/') || std::path::Path::new(file).exists() {
        return Some(file.to_string());
    }
    opts.vcl_path
        .iter()
        .map(|dir| format!("{}/{file}", dir.trim_end_matches('/')))
        .find(|c| std::path::Path::new(c).exists())
}

/// An I/O error as strerror(3) words it (Rust adds ` (os error N)`).
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}
