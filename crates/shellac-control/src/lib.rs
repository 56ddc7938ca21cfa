//! Shellac's management side: Varnish's CLI protocol ([`proto`], shared with the `shellac adm`
//! client), the command table ([`commands`]), the admin server ([`server`]) and the state the
//! commands act on ([`manager`]: loaded VCLs, the active one, parameters). It drives the engine
//! through `shellac_engine::server::Server`; the data path never calls back into it.

pub mod backends;
pub mod cluster;
pub mod commands;
pub mod discovery;
pub mod fs;
pub mod json;
pub mod manager;
pub mod metrics;
pub mod params_cmd;
pub mod process;
pub mod proto;
pub mod registrar;
pub mod request;
pub mod server;
pub mod stats;
pub mod status_page;
pub mod vte;
pub mod web;
pub mod workdir;
