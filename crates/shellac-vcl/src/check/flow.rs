//! Pass 4: the call graph. Reports recursion, computes which methods reach each subroutine, and
//! checks every recorded use against each of them, so a custom sub that reads `beresp.ttl` is
//! an error when `vcl_recv` calls it, and its `return (pass)` is an error when `vcl_deliver`
//! does.

use std::collections::HashMap;

use super::Checker;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::symbols::{Mask, Method};

/// Something legal only in some methods.
#[derive(Clone, Debug)]
pub(crate) struct Use {
    /// Where it is legal.
    pub(crate) mask: Mask,
    /// Where it stands.
    pub(crate) span: Span,
    /// What it is, phrased to be followed by " in vcl_xxx".
    pub(crate) what: String,
}

// === impl Checker ===

impl Checker<'_, '_> {
    /// Pass 4; returns, per subroutine, the methods that reach it.
    pub(super) fn check_flow(&mut self) -> Vec<Mask> {
        self.check_recursion();
        let n = self.subs.len();
        let mut reach = vec![Mask::default(); n];
        // The first call that brought each method to each sub, for notes.
        let mut via: HashMap<(usize, Method), (usize, Span)> = HashMap::new();
        let mut work: Vec<usize> = Vec::new();
        for (i, s) in self.subs.iter().enumerate() {
            if let Some(m) = s.method {
                reach[i] = Mask::default().with(m);
                work.push(i);
            }
        }
        while let Some(i) = work.pop() {
            for &(j, span) in &self.subs[i].calls {
                let j = j.0 as usize;
                let new = Mask(reach[i].0 & !reach[j].0);
                if new.is_empty() {
                    continue;
                }
                for m in new.methods() {
                    via.entry((j, m)).or_insert((i, span));
                }
                reach[j] = Mask(reach[j].0 | new.0);
                work.push(j);
            }
        }
        let mut found = Vec::new();
        for (i, s) in self.subs.iter().enumerate() {
            for u in &s.uses {
                let bad = Mask(reach[i].0 & !u.mask.0);
                let Some(m) = bad.methods().next() else {
                    continue;
                };
                let mut d = Diagnostic::error(u.span, format!("{} in {}", u.what, m.name()))
                    .with_note(format!("allowed in: {}", u.mask.names()), None);
                // Walk back the call chain from this sub to the method.
                let mut at = i;
                let mut guard = 0;
                while let Some((caller, span)) = via.get(&(at, m)) {
                    d = d.with_note(
                        format!("'{}' is called from '{}' here", self.subs[at].name, self.subs[*caller].name),
                        Some(*span),
                    );
                    at = *caller;
                    guard += 1;
                    if guard > n {
                        break;
                    }
                }
                found.push(d);
            }
        }
        self.diags.extend(found);
        reach
    }

    fn check_recursion(&mut self) {
        #[derive(Clone, Copy, PartialEq)]
        enum Color {
            White,
            Gray,
            Black,
        }
        let n = self.subs.len();
        let mut color = vec![Color::White; n];
        let mut found = Vec::new();
        for start in 0..n {
            if color[start] != Color::White {
                continue;
            }
            // Iterative DFS: (node, next edge index).
            let mut stack = vec![(start, 0usize)];
            color[start] = Color::Gray;
            while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
                if let Some(&(next, span)) = self.subs[node].calls.get(*edge) {
                    *edge += 1;
                    let next = next.0 as usize;
                    match color[next] {
                        Color::White => {
                            color[next] = Color::Gray;
                            stack.push((next, 0));
                        }
                        Color::Gray => found.push(Diagnostic::error(
                            span,
                            format!(
                                "Recursive call of '{}' from '{}' (subroutines cannot recurse)",
                                self.subs[next].name, self.subs[node].name
                            ),
                        )),
                        Color::Black => {}
                    }
                } else {
                    color[node] = Color::Black;
                    stack.pop();
                }
            }
        }
        self.diags.extend(found);
    }
}
