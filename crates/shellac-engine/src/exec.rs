//! Linking: the checked program becomes closures. Backend and director names become live
//! handles, regexes and header names are prepared once, and each statement becomes a closure
//! that returns how control goes on. Running a method is calling its closures in order.

mod acl;
mod cookie;
mod expr;
mod funcs;
mod native;
mod parse;
mod shard;
mod stmt;

use std::sync::Arc;

use shellac_vcl::ir::{Program, SubId};
use shellac_vcl::symbols::ActionKind;

pub use acl::LinkedAcl;

use crate::backend::{Backend, BackendHandle};
use crate::director::Director;
use crate::error::{LoadError, VclFail};
use crate::value::Value;
use crate::vrt::Ctx;

/// A linked expression.
pub(crate) type ExprFn = Box<dyn Fn(&mut Ctx<'_>) -> Result<Value, VclFail> + Send + Sync>;
/// A linked statement.
pub(crate) type StmtFn = Box<dyn Fn(&mut Ctx<'_>) -> Result<Flow, VclFail> + Send + Sync>;

/// How control goes on after a statement.
pub enum Flow {
    /// To the next statement.
    Next,
    /// `return;`: out of the user sub.
    Leave,
    /// `return (action)`.
    Return(Handling),
}

/// A return action with its evaluated arguments.
#[derive(Clone, Debug)]
pub struct Handling {
    /// The action.
    pub action: ActionKind,
    /// Its arguments (`synth(status, reason)`, `error(status, reason)`, `pass(ttl)`).
    pub args: Vec<Value>,
    /// `vcl(label)`
    pub label: Option<String>,
}

/// A linked subroutine.
pub struct LinkedSub {
    /// Its name.
    pub name: String,
    body: Vec<StmtFn>,
}

/// What linking needs besides the program.
pub(crate) struct Linker<'a> {
    pub(crate) program: &'a Program,
    pub(crate) backends: &'a [Arc<Backend>],
    pub(crate) directors: &'a [Arc<dyn Director>],
    pub(crate) acls: Arc<[LinkedAcl]>,
    /// The stores `storage.NAME` may name.
    pub(crate) stores: &'a [Arc<shellac_cache::Storage>],
    /// The object store, for the `purge` vmod.
    pub(crate) cache: Option<&'a shellac_cache::Cache>,
    /// The cluster's outbox, for `etcd.ban()` and its kin.
    pub(crate) outbox: &'a crate::cluster::Slot,
    /// Set when a call of `std.rollback()` is linked: requests then keep their originals.
    pub(crate) rollback: std::cell::Cell<bool>,
}

/// Links every subroutine of a program.
pub(crate) fn link(linker: &Linker<'_>) -> Result<Vec<LinkedSub>, LoadError> {
    linker
        .program
        .subs
        .iter()
        .map(|s| {
            let body = match native::body(linker.program, &s.name) {
                Some(f) => vec![f],
                None => stmt::link_block(linker, &s.body)?,
            };
            Ok(LinkedSub { name: s.name.clone(), body })
        })
        .collect()
}

/// Runs a subroutine.
pub fn run_sub(ctx: &mut Ctx<'_>, id: SubId) -> Result<Flow, VclFail> {
    let vcl = ctx.vcl;
    run_block(&vcl.subs[id.0 as usize].body, ctx)
}

pub(crate) fn run_block(block: &[StmtFn], ctx: &mut Ctx<'_>) -> Result<Flow, VclFail> {
    for s in block {
        match s(ctx)? {
            Flow::Next => {}
            other => return Ok(other),
        }
    }
    Ok(Flow::Next)
}

// === impl Linker ===

impl Linker<'_> {
    pub(crate) fn backend_ref(&self, r: shellac_vcl::ir::BackendRef) -> BackendHandle {
        use shellac_vcl::ir::BackendRef as R;
        match r {
            R::None => BackendHandle::None,
            R::Backend(id) => BackendHandle::Backend(self.backends[id.0 as usize].clone()),
            R::Director(id) => BackendHandle::Director(self.directors[id.0 as usize].clone()),
        }
    }
}

impl Handling {
    /// An action without arguments.
    pub fn new(action: ActionKind) -> Handling {
        Handling { action, args: Vec::new(), label: None }
    }
}
