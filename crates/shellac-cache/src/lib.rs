//! Shellac's object store (the product's cache, spec §5): how long a response may be cached
//! ([`ttl`]), objects ([`object`]) and their bodies, filled by one fetch and read by many
//! ([`body`]), variants ([`vary`]), the lookup decision ([`lookup`]) and the index of objects by
//! key with busy fetches and their waiting lists ([`index`]), and the storage they are charged to
//! with its size limit and LRU eviction ([`storage`]), bans ([`ban`]) and surrogate keys ([`xkey`]). The engine's request state machine uses all
//! of it.
//!
//! No HTTP server and no VCL here: the engine turns a backend response into an object and
//! delivers objects; this crate owns objects, their metadata and the rules about them.

pub mod ban;
pub mod body;
pub mod headers;
pub mod index;
pub mod lookup;
pub mod object;
pub mod storage;
pub mod ttl;
pub mod vary;
pub mod xkey;

pub use headers::Headers;
pub use index::{Cache, Fetch, Key, Lookup, LurkPlan, Rushed, Waiter};
pub use lookup::Query;
pub use object::{Head, Kind, Object};
pub use storage::Storage;
pub use ttl::Ttl;
pub use vary::Vary;
