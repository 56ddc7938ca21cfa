//! Shellac's data path: the listener, the request state machine, the runtime side of VCL
//! (linking the checked program into closures and running it), backends with their connection
//! pools and probes, and directors.
//!
//! It knows nothing of VCL syntax (it receives checked [`shellac_vcl::Program`]s), of the
//! management port, or of etcd: those drive it through [`server::Server`] and [`vcl::Vcl`].

pub mod accept;
pub mod backend;
pub mod ban;
pub mod body;
pub mod catalog;
pub mod client_io;
pub mod clock;
pub mod cluster;
pub mod deadline;
pub mod director;
pub mod error;
pub mod exec;
pub mod fetch;
pub mod fsm;
pub mod gzip;
pub mod hdr;
pub mod listener;
pub mod params;
pub mod proxy_protocol;
pub mod send_timeout;
pub mod server;
pub mod stats;
pub mod stop;
pub mod strftime;
pub mod tally;
pub mod transport;
pub mod value;
pub mod vcl;
pub mod vrt;
pub mod vsl;
