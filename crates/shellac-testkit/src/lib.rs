//! Test support for Shellac: in-process HTTP/1.1 origins that label their answers with their
//! name and can be told to fail, stall, refuse or answer any status, and a raw HTTP/1.1 client
//! that sends exactly the bytes a test writes and parses what comes back; a real etcd server on
//! free loopback ports, a TCP relay that can be cut to partition a client from it, a `shellac
//! serve` process with its log, scratch directories that go when a test ends, and the workload
//! the profile-guided release build is trained on.
//! Everything listens on 127.0.0.1. Dev-only: nothing here is used by the product.

pub mod client;
pub mod etcd;
pub mod origin;
pub mod process;
pub mod relay;
pub mod scratch;
pub mod workload;

pub use client::{get, request, Client, Response};
pub use etcd::Etcd;
pub use origin::{Behavior, Origin, Recorded};
pub use process::Shellac;
pub use relay::Relay;
pub use scratch::Scratch;
