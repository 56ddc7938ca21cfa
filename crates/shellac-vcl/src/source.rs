//! Source files, spans and the loader through which `include` reads files.
//!
//! This module owns the text of every file that took part in a compilation and the mapping from
//! byte offsets to lines and columns. It performs no I/O itself: files are read through the
//! [`Loader`] trait, which the binary implements over the file system and tests implement in
//! memory ([`MemLoader`]).

use std::collections::BTreeMap;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// One loaded file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in diagnostics and by `vcl.show -v`.
    pub name: String,
    /// The text (invalid UTF-8 is replaced, so spans always fall on character boundaries).
    pub text: String,
    /// Where the `include` that brought this file in stands, if any.
    pub included_from: Option<Span>,
    line_starts: Vec<u32>,
}

/// All files of one compilation, in load order (the top-level file first).
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// A file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// There is no file by that name.
    NotFound,
    /// The file exists but could not be read; the text says why.
    Other(String),
}

/// Reads the files that `include` names. Paths handed in are already resolved (absolute, or
/// joined with a `vcl_path` entry or the including file's directory).
pub trait Loader {
    /// Returns the contents of the file at `path`.
    fn load(&self, path: &str) -> Result<Vec<u8>, LoadError>;
    /// Returns the paths matching a glob pattern (`*`, `?`, `[…]` in the last component or
    /// anywhere), sorted.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, LoadError>;
}

/// An in-memory [`Loader`] for tests and for VCL handed over inline (`vcl.inline`).
#[derive(Clone, Debug, Default)]
pub struct MemLoader {
    files: BTreeMap<String, Vec<u8>>,
}

// === impl Span ===

impl Span {
    /// A span covering both `self` and `other`; `self` alone when they are in different files
    /// (an `include` inside an expression).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The length in bytes.
    pub fn len(self) -> u32 {
        self.end - self.start
    }

    /// Whether the span is empty.
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

// === impl SourceFile ===

impl SourceFile {
    /// Wraps file contents, replacing invalid UTF-8.
    pub fn new(name: impl Into<String>, bytes: &[u8], included_from: Option<Span>) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i as u32 + 1);
            }
        }
        SourceFile { name: name.into(), text, included_from, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self.text.get(start..end).map_or(0, |s| s.chars().count()) + 1;
        (line + 1, col)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1] as usize;
        let end = self.line_starts.get(line).map_or(self.text.len(), |e| *e as usize);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The byte offset where a 1-based line starts.
    pub fn line_start(&self, line: usize) -> u32 {
        self.line_starts[line - 1]
    }

    /// The text covered by a span of this file.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }
}

// === impl SourceMap ===

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    /// The file with the given id.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files, top-level file first.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The text covered by a span.
    pub fn slice(&self, span: Span) -> &str {
        self.file(span.file).slice(span)
    }
}

// === impl MemLoader ===

impl MemLoader {
    /// An empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.into(), contents.into());
        self
    }
}

impl Loader for MemLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        self.files.get(&normalize_path(path)).cloned().ok_or(LoadError::NotFound)
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, LoadError> {
        let pattern = normalize_path(pattern);
        Ok(self.files.keys().filter(|k| fnmatch(&pattern, k)).cloned().collect())
    }
}

/// Removes `.` components and folds `dir/..` pairs, so that `./a/../b.vcl` names `b.vcl`.
pub fn normalize_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Shell-style wildcard matching (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`), as fnmatch(3) without
/// flags: `*` also matches `/`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    fnmatch_with(pattern, name, Fnmatch::default())
}

/// fnmatch(3)'s flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fnmatch {
    /// `FNM_PATHNAME`: `/` is matched only by `/` itself.
    pub pathname: bool,
    /// `FNM_NOESCAPE`: a backslash is an ordinary character.
    pub noescape: bool,
    /// `FNM_PERIOD`: a leading `.` (after a `/` too, with `pathname`) is matched only by `.`.
    pub period: bool,
}

/// fnmatch(3) with its flags, as `std.fnmatch()` has it.
pub fn fnmatch_with(pattern: &str, name: &str, flags: Fnmatch) -> bool {
    fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
        // Returns whether `c` matches the class starting after `[` and the length consumed.
        let mut i = 0;
        let negate = matches!(p.first(), Some(b'!') | Some(b'^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == b']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let leading = |i: usize| i == 0 || (flags.pathname && n[i - 1] == b'/');
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                // (A leading `.` under `period` is not for a star, not even an empty one.)
                b'*' if flags.period && n[ni] == b'.' && leading(ni) => return false,
                b'*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                _ if flags.period && n[ni] == b'.' && leading(ni) && p[pi] != b'.' => {}
                b'?' if !(flags.pathname && n[ni] == b'/') => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                b'[' if !(flags.pathname && n[ni] == b'/') => {
                    if let Some((ok, len)) = class(&p[pi + 1..], n[ni]) {
                        if ok {
                            pi += 1 + len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == b'[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                b'\\' if !flags.noescape && pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            // (A star never takes a `/` with `pathname`, nor a leading `.` with `period`.)
            Some((sp, sn))
                if !((flags.pathname && n[sn] == b'/') || (flags.period && n[sn] == b'.' && leading(sn))) =>
            {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("x", "ab\nçd\n".as_bytes(), None);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (2, 2));
        assert_eq!(f.line_text(2), "çd");
    }

    #[test]
    fn fnmatch_follows_shell_rules() {
        assert!(fnmatch("*.vcl", "a/b.vcl"));
        assert!(fnmatch("boot.*", "boot.web001"));
        assert!(fnmatch("b?ot.w[a-z]b00[!2]", "boot.web001"));
        assert!(!fnmatch("boot.web00[!1]", "boot.web001"));
        assert!(fnmatch("*", ""));
        assert!(!fnmatch("a", "ab"));
        assert!(fnmatch("a*b*c", "axxbyyc"));
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("./a/../b.vcl"), "b.vcl");
        assert_eq!(normalize_path("/etc//varnish/./x.vcl"), "/etc/varnish/x.vcl");
        assert_eq!(normalize_path("../x"), "../x");
    }
}
