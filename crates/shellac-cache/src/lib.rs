//! Shellac's object store (the product's cache, spec §5): how long a response may be cached
//! ([`ttl`]), objects ([`object`]) and their bodies, filled by one fetch and read by many
//! ([`body`]). Lookup with Vary, busy objects with their waiting lists, expiry and eviction arrive
//! step by step; the engine's request state machine uses them.
//!
//! No HTTP server and no VCL here: the engine turns a backend response into an object and
//! delivers objects; this crate owns objects, their metadata and the rules about them.

pub mod body;
pub mod object;
pub mod ttl;

pub use object::{Head, Kind, Object};
pub use ttl::Ttl;
