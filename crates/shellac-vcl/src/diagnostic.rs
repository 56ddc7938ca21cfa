//! Diagnostics: what went wrong, where, and how it is shown to a person.
//!
//! A [`Diagnostic`] carries a severity, a message, the primary span and optional notes that point
//! at related places (an earlier definition, the call that makes a use illegal). Rendering prints
//! `file:line:column`, the source line and a `^^^` marker under the offending range, in the spirit
//! of varnishd's `(file Line N Pos M)` plus `---###---` marker, and names the `include` chain.

use std::fmt::Write as _;

use crate::source::{SourceMap, Span};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The VCL is rejected.
    Error,
    /// The VCL is accepted; the user should know.
    Warning,
}

/// One message about the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The message, one sentence, no trailing period.
    pub message: String,
    /// Where it happened; `None` for problems of the whole program.
    pub span: Option<Span>,
    /// Related places, each with its own message.
    pub notes: Vec<(String, Option<Span>)>,
}

/// A list of diagnostics, as returned by a failed compilation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

// === impl Diagnostic ===

impl Diagnostic {
    /// An error at a span.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, message: message.into(), span: Some(span), notes: vec![] }
    }

    /// An error not tied to a place.
    pub fn error_global(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, message: message.into(), span: None, notes: vec![] }
    }

    /// A warning at a span.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, message: message.into(), span: Some(span), notes: vec![] }
    }

    /// Adds a note pointing at another place.
    pub fn with_note(mut self, message: impl Into<String>, span: Option<Span>) -> Self {
        self.notes.push((message.into(), span));
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic with source excerpts.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        render_one(&mut out, sources, label, &self.message, self.span);
        for (msg, span) in &self.notes {
            render_one(&mut out, sources, "note", msg, *span);
        }
        out
    }
}

fn render_one(out: &mut String, sources: &SourceMap, label: &str, message: &str, span: Option<Span>) {
    let Some(span) = span else {
        let _ = writeln!(out, "{label}: {message}");
        return;
    };
    let file = sources.file(span.file);
    let (line, col) = file.line_col(span.start);
    let _ = writeln!(out, "{}:{line}:{col}: {label}: {message}", file.name);
    let text = file.line_text(line);
    let gutter = line.to_string().len().max(3);
    let _ = writeln!(out, "{line:>gutter$} | {text}");
    // The marker copies tabs from the line so that it stays aligned under the range.
    let line_start = file.line_start(line) as usize;
    let start = span.start as usize - line_start;
    let end = (span.end as usize - line_start).min(text.len()).max(start);
    let mut marker = String::new();
    for c in text[..start.min(text.len())].chars() {
        marker.push(if c == '\t' { '\t' } else { ' ' });
    }
    let width = text.get(start..end).map_or(0, |s| s.chars().count()).max(1);
    marker.extend(std::iter::repeat_n('^', width));
    let _ = writeln!(out, "{:gutter$} | {marker}", "");
    let mut from = file.included_from;
    while let Some(inc) = from {
        let f = sources.file(inc.file);
        let (l, c) = f.line_col(inc.start);
        let _ = writeln!(out, "{:gutter$} = included from {}:{l}:{c}", "", f.name);
        from = f.included_from;
    }
}

// === impl Diagnostics ===

impl Diagnostics {
    /// Whether any of them is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// Renders all diagnostics, separated by blank lines, errors and warnings in source order.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&d.render(sources));
        }
        let errors = self.0.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            let _ = writeln!(out, "\nVCL compilation failed: {errors} error{}", if errors == 1 { "" } else { "s" });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, SourceFile};

    #[test]
    fn renders_location_line_and_marker() {
        let mut map = SourceMap::default();
        let id = map.add(SourceFile::new("t.vcl", b"vcl 4.1;\n\tbackend b { }\n", None));
        let d = Diagnostic::error(Span { file: id, start: 18, end: 19 }, "bad thing")
            .with_note("see here", Some(Span { file: FileId(0), start: 0, end: 3 }));
        let text = d.render(&map);
        assert_eq!(
            text,
            "t.vcl:2:10: error: bad thing\n  2 | \tbackend b { }\n    | \t        ^\n\
             t.vcl:1:1: note: see here\n  1 | vcl 4.1;\n    | ^^^\n"
        );
    }
}
