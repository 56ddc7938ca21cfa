//! Test support for Shellac: in-process HTTP/1.1 origins that label their answers with their
//! name and can be told to fail, stall, refuse or answer any status, and a raw HTTP/1.1 client
//! that sends exactly the bytes a test writes and parses what comes back. Everything listens on
//! 127.0.0.1 port 0. Dev-only: nothing here is used by the product.

pub mod client;
pub mod origin;

pub use client::{get, request, Client, Response};
pub use origin::{Behavior, Origin, Recorded};
