//! Where clients connect: a listening TCP socket, or a Unix socket (`-a /path`, as a TLS
//! terminator or a web server on the same machine connects); and a client connection (a
//! [`Stream`]) with the bytes read ahead of its requests (what came after a PROXY header in its
//! read) given back first, whose reads and writes its [`Tally`] counts.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};

use crate::tally::Tally;
use crate::transport::Stream;

/// What a Unix socket's client is, for `client.ip` and the like: varnishd's `0.0.0.0`, port 0.
pub const UNIX_PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// A listening socket.
pub enum Socket {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix socket, and its file (removed when the socket is dropped).
    Unix(UnixListener, UnixPath),
}

/// A Unix socket's file, removed when dropped.
pub struct UnixPath(pub PathBuf);

impl Drop for UnixPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Socket {
    /// The next connection, and its peer's and its own addresses (a Unix socket's are
    /// [`UNIX_PEER`]).
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr, SocketAddr)> {
        match self {
            Socket::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                let local = s.local_addr().unwrap_or(peer);
                Ok((Stream::Tcp(s), peer, local))
            }
            Socket::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), UNIX_PEER, UNIX_PEER))
            }
        }
    }

    /// The address as logged: `host:port`, or the socket's path.
    pub fn describe(&self) -> Option<String> {
        match self {
            Socket::Tcp(l) => l.local_addr().ok().map(|a| a.to_string()),
            Socket::Unix(_, p) => Some(p.0.display().to_string()),
        }
    }
}

/// A connection with the bytes read ahead of it given back first.
pub struct ClientIo {
    ahead: Vec<u8>,
    at: usize,
    inner: Stream,
    tally: std::sync::Arc<Tally>,
}

impl ClientIo {
    /// `inner`, nothing read ahead of it yet, its reads and writes counted by `tally`.
    pub fn new(inner: Stream, tally: std::sync::Arc<Tally>) -> ClientIo {
        ClientIo { ahead: Vec::new(), at: 0, inner, tally }
    }

    /// A write's outcome, counted (`data`: the first of what was written).
    fn wrote(&self, data: &[u8], r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &r {
            self.tally.wrote(data, *n);
        }
        r
    }

    /// Gives back bytes read past what its reader wanted, to be read first.
    pub fn give_back(&mut self, mut ahead: Vec<u8>) {
        ahead.extend_from_slice(&self.ahead[self.at..]);
        (self.ahead, self.at) = (ahead, 0);
    }

    /// The connection.
    pub fn stream(&self) -> &Stream {
        &self.inner
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.at < me.ahead.len() {
            let n = (me.ahead.len() - me.at).min(buf.remaining());
            buf.put_slice(&me.ahead[me.at..me.at + n]);
            me.at += n;
            if me.at == me.ahead.len() {
                me.ahead = Vec::new();
                me.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            me.tally.read(buf.filled().len() - before);
        }
        r
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, data);
        me.wrote(data, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write_vectored(cx, bufs);
        me.wrote(bufs.first().map_or(&[][..], |b| &b[..]), r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    #[tokio::test]
    async fn bytes_read_ahead_come_first_then_the_socket() {
        let dir = std::env::temp_dir().join(format!("shellac-client-io-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("s.sock");
        let socket = Socket::Unix(UnixListener::bind(&path).expect("bind"), UnixPath(path.clone()));
        assert_eq!(socket.describe(), Some(path.display().to_string()));
        let client = tokio::spawn({
            let path = path.clone();
            async move {
                let mut c = UnixStream::connect(&path).await.expect("connect");
                c.write_all(b" world").await.expect("write");
                let mut back = Vec::new();
                c.read_to_end(&mut back).await.expect("read");
                back
            }
        });
        let (stream, peer, local) = socket.accept().await.expect("accept");
        assert_eq!((peer, local), (UNIX_PEER, UNIX_PEER));
        let mut io = ClientIo::new(stream, std::sync::Arc::default());
        io.give_back(b"hello".to_vec());
        let mut got = [0u8; 11];
        io.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello world");
        io.write_all(b"answer").await.expect("write");
        io.shutdown().await.expect("shutdown");
        drop(io);
        assert_eq!(client.await.expect("client"), b"answer");
        drop(socket);
        assert!(!path.exists(), "the socket's file goes with it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
