//! Where a backend listens: an IP address and port (`.host`, `.port`), or a Unix socket
//! (`.path`, as an application server on the same machine offers one).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::transport::Stream;

/// A backend's address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// TCP to this address.
    Ip(SocketAddr),
    /// This Unix socket.
    Unix(Arc<Path>),
}

impl Address {
    /// The IP address and port, for a TCP backend.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            Address::Ip(a) => Some(*a),
            Address::Unix(_) => None,
        }
    }

    /// Connects (Nagle off on TCP).
    pub async fn connect(&self) -> std::io::Result<Stream> {
        match self {
            Address::Ip(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            Address::Unix(p) => Ok(Stream::Unix(tokio::net::UnixStream::connect(p).await?)),
        }
    }

    /// The IP and port as the log and `backend.list` write them (a Unix socket's: `0.0.0.0 0`,
    /// as varnishd writes them).
    pub fn ip_port(&self) -> (String, u16) {
        match self {
            Address::Ip(a) => (a.ip().to_string(), a.port()),
            Address::Unix(_) => ("0.0.0.0".to_string(), 0),
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Ip(a) => write!(f, "{a}"),
            Address::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}
