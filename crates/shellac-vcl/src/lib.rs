//! Shellac's VCL front end: Varnish Configuration Language text in, a checked, typed program out.
//!
//! The pipeline is [`compile`]: lex and expand includes ([`include`]), parse ([`parser`]), check
//! (`check`, in named passes) and lower to the IR ([`ir`]), which is the only thing the engine
//! links and runs. The tables that define the language — subroutines, return actions, variables
//! ([`symbols`]) and vmod functions and objects ([`vmods`]) — are shared with the engine.
//!
//! This crate is pure: it performs no I/O. Included files are read through a [`Loader`] and host
//! names resolved through a [`Resolver`], both supplied by the caller. No input makes it panic or
//! hang; every problem becomes a [`Diagnostic`] with file, line, column and a marker.

pub mod ast;
mod check;
pub mod diagnostic;
pub mod include;
pub mod ir;
pub mod lexer;
pub mod parser;
pub mod regex;
pub mod source;
mod suggest;
pub mod summary;
pub mod symbols;
pub mod token;
pub mod types;
pub mod vmods;

pub use check::Resolver;
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use include::Version;
pub use ir::Program;
pub use source::{LoadError, Loader, MemLoader, SourceFile, SourceMap};

/// The builtin VCL, compiled after the user's (spec §1.10).
pub const BUILTIN_VCL: &str = include_str!("builtin.vcl");

/// The name under which the builtin VCL appears in diagnostics and `vcl.show -v`.
pub const BUILTIN_NAME: &str = "<builtin>";

/// Compiler settings that come from varnishd parameters.
#[derive(Clone, Debug)]
pub struct Options {
    /// `vcl_path`: where plain `include` names are searched.
    pub vcl_path: Vec<String>,
    /// `vcc_err_unref`: unused backends, probes, ACLs and subs are errors (else warnings).
    pub err_unref: bool,
    /// The storages `-s` declares, `Transient` included: what `storage.NAME` may name.
    pub storages: Vec<String>,
    /// The VCL labels that exist, which `return (vcl(LABEL))` may name (as varnishd, which
    /// refuses a label it does not have when it compiles); `None` takes any label.
    pub labels: Option<Vec<String>>,
}

/// varnishd's storages without `-s`: the default store `s0`, and `Transient`.
pub fn default_storages() -> Vec<String> {
    vec!["s0".into(), "Transient".into()]
}

/// The result of a compilation: the sources read, the program if there was no error, and every
/// diagnostic (warnings included).
#[derive(Debug)]
pub struct Output {
    /// Every file read, top-level first, builtin last.
    pub sources: SourceMap,
    /// The program, when there was no error.
    pub program: Option<Program>,
    /// Errors and warnings in the order found.
    pub diagnostics: Diagnostics,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vcl_path: vec!["/etc/varnish".into(), "/usr/share/varnish/vcl".into()],
            err_unref: true,
            storages: default_storages(),
            labels: Some(Vec::new()),
        }
    }
}

impl Output {
    /// Renders every diagnostic.
    pub fn render(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// Compiles VCL source. `name` is the file's name as shown in messages and as the base of `./`
/// includes; `loader` reads included files; `resolver`, when given, resolves backend and ACL hosts.
pub fn compile(
    name: &str,
    source: &[u8],
    options: &Options,
    loader: &dyn Loader,
    resolver: Option<&dyn Resolver>,
) -> Output {
    let mut sources = SourceMap::default();
    let mut diags = Vec::new();
    let expanded =
        include::expand(&mut sources, SourceFile::new(name, source, None), &options.vcl_path, loader, &mut diags);
    // Parsing broken tokens would only echo the lexical errors; report those alone.
    let lexical_errors = diags.iter().any(Diagnostic::is_error);
    let decls = if lexical_errors { Vec::new() } else { parser::parse(expanded.tokens, &mut diags) };
    let builtin_file = sources.add(SourceFile::new(BUILTIN_NAME, BUILTIN_VCL.as_bytes(), None));
    let mut builtin_diags = Vec::new();
    let builtin_tokens = lexer::lex(builtin_file, BUILTIN_VCL, &mut builtin_diags);
    let builtin = parser::parse(builtin_tokens, &mut builtin_diags);
    diags.extend(builtin_diags);
    let program = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        let opts = check::CheckOptions {
            err_unref: options.err_unref,
            resolver,
            storages: &options.storages,
            labels: options.labels.as_deref(),
        };
        check::check(&decls, &builtin, builtin_file, expanded.version, opts, &mut diags)
    };
    // Show diagnostics in source order (whole-program ones first), whatever pass found them.
    diags.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
    Output { sources, program, diagnostics: Diagnostics(diags) }
}
