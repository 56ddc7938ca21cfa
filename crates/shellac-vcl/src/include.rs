//! Include expansion and the `vcl X.Y;` header, per spec §1.2.
//!
//! `include "file";` is expanded at the token level, so it may stand anywhere, even inside a
//! `sub`. A plain name is searched along `vcl_path`; `./` and `../` names are relative to the
//! including file; absolute names are used as they are; `include +glob "pattern";` includes every
//! match in sorted order. Each file may open with `vcl X.Y;`; an included file's version may not
//! exceed the top-level one. Files are read only through the [`Loader`].

use crate::diagnostic::Diagnostic;
use crate::lexer::lex;
use crate::source::{normalize_path, LoadError, Loader, SourceFile, SourceMap, Span};
use crate::token::{Tok, Token};

/// Deepest include nesting accepted.
const MAX_DEPTH: usize = 16;

/// A VCL language version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `vcl 4.0;`
    V40,
    /// `vcl 4.1;`
    V41,
}

/// The result of expanding the top-level file.
#[derive(Debug)]
pub struct Expanded {
    /// The single token stream, ending in [`Tok::Eof`].
    pub tokens: Vec<Token>,
    /// The version of the top-level file.
    pub version: Version,
}

/// Lexes `top` and every file it includes into one token stream.
pub fn expand(
    sources: &mut SourceMap,
    top: SourceFile,
    vcl_path: &[String],
    loader: &dyn Loader,
    diags: &mut Vec<Diagnostic>,
) -> Expanded {
    let mut ex = Expander { sources, vcl_path, loader, diags, stack: Vec::new(), version: Version::V40 };
    let mut tokens = Vec::new();
    ex.file(top, true, &mut tokens);
    let end = tokens.last().map_or(Span { file: crate::source::FileId(0), start: 0, end: 0 }, |t| t.span);
    tokens.push(Token { tok: Tok::Eof, span: end });
    Expanded { tokens, version: ex.version }
}

impl Version {
    /// The text as written after `vcl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V40 => "4.0",
            Version::V41 => "4.1",
        }
    }

    /// The version in tenths (40, 41), as `std.syntax()` compares it.
    pub fn tenths(self) -> u16 {
        match self {
            Version::V40 => 40,
            Version::V41 => 41,
        }
    }
}

struct Expander<'a> {
    sources: &'a mut SourceMap,
    vcl_path: &'a [String],
    loader: &'a dyn Loader,
    diags: &'a mut Vec<Diagnostic>,
    stack: Vec<String>,
    version: Version,
}

// === impl Expander ===

impl Expander<'_> {
    /// Lexes one file and appends its expanded tokens (without its Eof) to `out`.
    fn file(&mut self, file: SourceFile, is_top: bool, out: &mut Vec<Token>) {
        let name = file.name.clone();
        let id = crate::source::FileId(self.sources.files().len() as u32);
        let tokens = lex(id, &file.text, self.diags);
        self.sources.add(file);
        let mut i = self.version_header(&tokens, is_top);
        self.stack.push(name.clone());
        while i < tokens.len() {
            let t = &tokens[i];
            match &t.tok {
                Tok::Eof => break,
                Tok::Ident(s) if s == "include" => {
                    i = self.include(&tokens, i, &name, out);
                }
                _ => {
                    out.push(t.clone());
                    i += 1;
                }
            }
        }
        self.stack.pop();
    }

    /// Checks and strips a leading `vcl X.Y;`, returning the index of the first other token.
    fn version_header(&mut self, tokens: &[Token], is_top: bool) -> usize {
        let first = &tokens[0];
        if !first.tok.is_ident("vcl") {
            if is_top {
                self.diags.push(
                    Diagnostic::warning(first.span, "VCL version declaration missing; assuming 'vcl 4.0;'")
                        .with_note("Varnish 4 and later require 'vcl 4.0;' or 'vcl 4.1;' as the first line; Shellac accepts its absence as Varnish 3 did", None),
                );
            }
            return 0;
        }
        let (version, span) = match &tokens[1].tok {
            Tok::Real(v) if v == "4.0" => (Some(Version::V40), tokens[1].span),
            Tok::Real(v) if v == "4.1" => (Some(Version::V41), tokens[1].span),
            Tok::Real(v) => {
                self.diags.push(Diagnostic::error(
                    tokens[1].span,
                    format!("VCL version {v} not supported (supported: 4.0 and 4.1)"),
                ));
                (None, tokens[1].span)
            }
            other => {
                self.diags.push(Diagnostic::error(
                    tokens[1].span,
                    format!("Expected the VCL version as N.N (4.0 or 4.1), found {}", other.describe()),
                ));
                return skip_to_semi(tokens, 1);
            }
        };
        if let Some(v) = version {
            if is_top {
                self.version = v;
            } else if v > self.version {
                self.diags.push(Diagnostic::error(
                    span,
                    format!(
                        "VCL version {} in an included file is higher than the top-level file's {}",
                        v.as_str(),
                        self.version.as_str()
                    ),
                ));
            }
        }
        if tokens[2].tok != Tok::Semi {
            self.diags.push(Diagnostic::error(
                tokens[2].span,
                format!("Expected ';' after the VCL version, found {}", tokens[2].tok.describe()),
            ));
            return 2;
        }
        3
    }

    /// Expands `include [+glob] "name";` at `tokens[i]`; returns the index after it.
    fn include(&mut self, tokens: &[Token], i: usize, from: &str, out: &mut Vec<Token>) -> usize {
        let kw = tokens[i].span;
        let mut j = i + 1;
        let mut glob = false;
        if tokens[j].tok == Tok::Plus {
            if tokens[j + 1].tok.is_ident("glob") {
                glob = true;
                j += 2;
            } else {
                self.diags.push(Diagnostic::error(tokens[j + 1].span, "Unknown include flag (only '+glob' exists)"));
                return skip_to_semi(tokens, j);
            }
        }
        let Tok::Str(name) = &tokens[j].tok else {
            self.diags.push(Diagnostic::error(
                tokens[j].span,
                format!("Expected a file name string after 'include', found {}", tokens[j].tok.describe()),
            ));
            return skip_to_semi(tokens, j);
        };
        let name_span = tokens[j].span;
        j += 1;
        if tokens[j].tok == Tok::Semi {
            j += 1;
        } else {
            self.diags.push(Diagnostic::error(
                tokens[j].span,
                format!("Expected ';' after the include, found {}", tokens[j].tok.describe()),
            ));
        }
        let inc_span = kw.to(name_span);
        if self.stack.len() >= MAX_DEPTH {
            self.diags.push(Diagnostic::error(inc_span, format!("Includes nested deeper than {MAX_DEPTH} levels")));
            return j;
        }
        let candidates = self.candidates(name, from);
        let Some(candidates) = candidates else {
            self.diags.push(Diagnostic::error(
                name_span,
                format!("Cannot include \"{name}\" relative to a source that is not a file"),
            ));
            return j;
        };
        if glob {
            let mut found = false;
            for pattern in &candidates {
                match self.loader.glob(pattern) {
                    Ok(paths) if !paths.is_empty() => {
                        for p in paths {
                            self.load_one(&p, inc_span, name_span, out);
                        }
                        found = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.diags.push(Diagnostic::error(
                            name_span,
                            format!("Cannot expand \"{name}\": {}", load_error_text(&e)),
                        ));
                        return j;
                    }
                }
            }
            if !found {
                self.diags.push(Diagnostic::error(name_span, format!("include +glob \"{name}\" matches no file")));
            }
            return j;
        }
        for path in &candidates {
            match self.loader.load(path) {
                Ok(bytes) => {
                    self.push_file(path, &bytes, inc_span, name_span, out);
                    return j;
                }
                Err(LoadError::NotFound) => {}
                Err(e) => {
                    self.diags.push(Diagnostic::error(
                        name_span,
                        format!("Cannot read file '{path}': {}", load_error_text(&e)),
                    ));
                    return j;
                }
            }
        }
        let mut d = Diagnostic::error(name_span, format!("Cannot read file '{name}': not found"));
        if !name.starts_with('/') && !name.starts_with("./") && !name.starts_with("../") {
            d = d.with_note(format!("searched vcl_path: {}", self.vcl_path.join(":")), None);
        }
        self.diags.push(d);
        j
    }

    fn load_one(&mut self, path: &str, inc_span: Span, name_span: Span, out: &mut Vec<Token>) {
        match self.loader.load(path) {
            Ok(bytes) => self.push_file(path, &bytes, inc_span, name_span, out),
            Err(e) => self
                .diags
                .push(Diagnostic::error(name_span, format!("Cannot read file '{path}': {}", load_error_text(&e)))),
        }
    }

    fn push_file(&mut self, path: &str, bytes: &[u8], inc_span: Span, name_span: Span, out: &mut Vec<Token>) {
        if self.stack.iter().any(|p| p == path) {
            self.diags.push(Diagnostic::error(name_span, format!("Recursive include of '{path}'")));
            return;
        }
        self.file(SourceFile::new(path, bytes, Some(inc_span)), false, out);
    }

    /// The paths to try for an include name, in order; `None` when a relative name has no
    /// directory to be relative to.
    fn candidates(&self, name: &str, from: &str) -> Option<Vec<String>> {
        if name.starts_with('/') {
            return Some(vec![normalize_path(name)]);
        }
        if name.starts_with("./") || name.starts_with("../") {
            if from.starts_with('<') {
                return None;
            }
            let dir = from.rsplit_once('/').map_or(".", |(d, _)| if d.is_empty() { "/" } else { d });
            return Some(vec![normalize_path(&format!("{dir}/{name}"))]);
        }
        Some(self.vcl_path.iter().map(|dir| normalize_path(&format!("{dir}/{name}"))).collect())
    }
}

fn skip_to_semi(tokens: &[Token], mut i: usize) -> usize {
    while i < tokens.len() && !matches!(tokens[i].tok, Tok::Semi | Tok::Eof) {
        i += 1;
    }
    if i < tokens.len() && tokens[i].tok == Tok::Semi {
        i += 1;
    }
    i
}

fn load_error_text(e: &LoadError) -> String {
    match e {
        LoadError::NotFound => "not found".into(),
        LoadError::Other(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemLoader;

    fn run(top: &str, loader: &MemLoader) -> (Vec<Tok>, Vec<Diagnostic>, Version) {
        let mut map = SourceMap::default();
        let mut d = Vec::new();
        let ex = expand(
            &mut map,
            SourceFile::new("/etc/varnish/main.vcl", top.as_bytes(), None),
            &["/etc/varnish".into(), "/usr/share/varnish/vcl".into()],
            loader,
            &mut d,
        );
        (ex.tokens.into_iter().map(|t| t.tok).collect(), d, ex.version)
    }

    #[test]
    fn includes_expand_in_place_from_vcl_path_and_relative() {
        let mut l = MemLoader::new();
        l.insert("/usr/share/varnish/vcl/a.vcl", "vcl 4.0; a");
        l.insert("/etc/varnish/sub/b.vcl", "b");
        let (t, d, v) = run("vcl 4.1; x include \"a.vcl\"; include \"./sub/b.vcl\"; y", &l);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(v, Version::V41);
        let names: Vec<_> =
            t.iter().filter_map(|t| if let Tok::Ident(s) = t { Some(s.as_str()) } else { None }).collect();
        assert_eq!(names, ["x", "a", "b", "y"]);
    }

    #[test]
    fn recursion_and_missing_files_are_errors() {
        let mut l = MemLoader::new();
        l.insert("/etc/varnish/loop.vcl", "include \"loop.vcl\";");
        let (_, d, _) = run("vcl 4.1; include \"loop.vcl\"; include \"nope.vcl\";", &l);
        assert_eq!(d.len(), 2);
        assert!(d[0].message.starts_with("Recursive include"));
        assert!(d[1].message.contains("not found"));
    }

    #[test]
    fn glob_includes_every_match_sorted() {
        let mut l = MemLoader::new();
        l.insert("/etc/varnish/conf.d/b.vcl", "b");
        l.insert("/etc/varnish/conf.d/a.vcl", "a");
        let (t, d, _) = run("vcl 4.1; include +glob \"./conf.d/*.vcl\";", &l);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(t, vec![Tok::Ident("a".into()), Tok::Ident("b".into()), Tok::Eof]);
    }

    #[test]
    fn included_version_may_not_exceed_top() {
        let mut l = MemLoader::new();
        l.insert("/etc/varnish/a.vcl", "vcl 4.1;");
        let (_, d, _) = run("vcl 4.0; include \"a.vcl\";", &l);
        assert_eq!(d.len(), 1);
    }
}
