//! The engine's errors: why a VCL could not be loaded, why a fetch failed, and a VCL failure.

use std::fmt;

/// Why a checked program could not be turned into a running VCL.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A backend's host did not resolve.
    #[error("backend {backend}: cannot resolve {host}:{port}: {reason}")]
    Resolve {
        /// The backend.
        backend: String,
        /// The host.
        host: String,
        /// The port.
        port: String,
        /// Why.
        reason: String,
    },
    /// Something the runtime cannot run.
    #[error("{0}")]
    Unsupported(String),
    /// `vcl_init` failed.
    #[error("vcl_init failed: {0}")]
    Init(String),
}

/// Why a backend fetch failed; the text is what Varnish logs as FetchError.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// `bereq.backend` is none.
    #[error("No backend")]
    NoBackend,
    /// A director had no healthy member.
    #[error("Director {0} returned no backend")]
    DirectorEmpty(String),
    /// Directors nested too deep (or in a cycle).
    #[error("Director nesting too deep")]
    TooDeep,
    /// The backend is sick.
    #[error("backend {0}: unhealthy")]
    Unhealthy(String),
    /// `.max_connections` reached.
    #[error("backend {0}: busy")]
    Busy(String),
    /// `backend x none;`
    #[error("backend {0}: no address")]
    NoAddress(String),
    /// Connecting failed.
    #[error("backend {backend}: fail errno {errno} ({reason})")]
    Connect {
        /// The backend.
        backend: String,
        /// The OS error number (110 for a timeout).
        errno: i32,
        /// Its text.
        reason: String,
    },
    /// Connect refused during the error hold-down.
    #[error("backend {0}: in error holddown")]
    Holddown(String),
    /// No response within first_byte_timeout.
    #[error("first byte timeout")]
    FirstByteTimeout,
    /// The backend closed or reset before a complete response head, or sent garbage.
    #[error("http first read error: {0}")]
    Read(String),
    /// Reading the body failed (between-bytes timeout, reset) when it was fetched whole.
    #[error("body read failed: {0}")]
    Body(String),
    /// The request body was consumed by an earlier attempt.
    #[error("cannot retry: request body already sent")]
    BodyGone,
}

/// A VCL failure (`return (fail)` or a run-time error such as `std.integer("x")`); the request
/// ends in `vcl_synth` with 503 "VCL failed".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VclFail(pub String);

impl fmt::Display for VclFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VclFail {}
