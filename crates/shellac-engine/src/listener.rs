//! Accepting clients: one task per connection running hyper's HTTP/1.1 server with Varnish's
//! limits (`http_req_size` → 431, `http_max_hdr` → 431, `timeout_idle` for idle keep-alive
//! connections and slow request heads), and a graceful stop: on shutdown no new connections are
//! accepted, idle ones close, and requests in flight get `shutdown_timeout` to finish. A client
//! that stops reading for `send_timeout` loses its connection. Failing accepts (out of file
//! descriptors) back off ([`crate::accept`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use crate::accept::Backoff;
use crate::client_io::{ClientIo, Socket};
use crate::clock;
use crate::deadline::ConnTimer;
use crate::fetch::secs;
use crate::fsm;
use crate::send_timeout::SendTimeout;
use crate::server::Server;
use crate::stop::Stop;
use crate::vrt::Sess;

/// A bound listen address (`-a`).
pub struct Listen {
    /// Its name (`a0`, `a1`, … or as given).
    pub name: String,
    /// The address as given on the command line.
    pub endpoint: String,
    /// The socket.
    pub socket: Socket,
    /// Whether each connection begins with a PROXY protocol header (`-a ADDR,PROXY`).
    pub proxy: bool,
}

/// Counts open client connections so that shutdown can wait for them.
#[derive(Default)]
struct Open {
    count: AtomicUsize,
    zero: Notify,
}

/// Serves clients on the listen sockets until `shutdown` resolves, then drains: returns when
/// every connection is closed or `shutdown_timeout` has passed.
pub async fn serve(server: Arc<Server>, listens: Vec<Listen>, shutdown: impl Future<Output = ()>) {
    let stop = Arc::new(Stop::default());
    let open = Arc::new(Open::default());
    let sweeper = tokio::spawn(sweep_cache(server.clone()));
    let lurker = tokio::spawn(crate::ban::lurker(server.clone()));
    let mut acceptors = Vec::new();
    for l in listens {
        let (server, open, stop) = (server.clone(), open.clone(), stop.clone());
        acceptors.push(tokio::spawn(accept_loop(server, l, open, stop)));
    }
    shutdown.await;
    stop.stop();
    for a in &acceptors {
        a.abort();
    }
    sweeper.abort();
    lurker.abort();
    let deadline = secs(server.params().shutdown_timeout);
    let drained = async {
        while open.count.load(Ordering::Acquire) > 0 {
            let notified = open.zero.notified();
            if open.count.load(Ordering::Acquire) == 0 {
                break;
            }
            notified.await;
        }
    };
    if tokio::time::timeout(deadline, drained).await.is_err() {
        tracing::warn!(
            "shutdown: {} connections still open after {deadline:?}; closing them",
            open.count.load(Ordering::Acquire)
        );
    }
}

/// How often the sweeper goes through the whole index.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Removes the objects that outlived ttl, grace and keep: the whole index every
/// [`SWEEP_EVERY`], one part at a time, so that no request waits behind a long sweep. (A part
/// none of whose objects can have expired yet is passed over without a look.)
async fn sweep_cache(server: Arc<Server>) {
    let parts = shellac_cache::Cache::SHARDS;
    let mut tick = tokio::time::interval(SWEEP_EVERY / parts as u32);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for part in (0..parts).cycle() {
        tick.tick().await;
        server.registry.log.idle_check();
        let gone = server.cache.sweep_shard(part, crate::value::now());
        if gone > 0 {
            tracing::debug!(gone, "expired objects removed");
        }
    }
}

async fn accept_loop(server: Arc<Server>, l: Listen, open: Arc<Open>, stop: Arc<Stop>) {
    let bound = l.socket.describe().unwrap_or_else(|| l.endpoint.clone());
    let mut backoff = Backoff::new(format!("{}={bound}", l.name));
    let endpoint: Arc<str> = l.endpoint.into();
    let name: Arc<str> = l.name.into();
    loop {
        let (stream, peer, local) = match l.socket.accept().await {
            Ok(x) => x,
            Err(e) => {
                server.registry.stats.inc(crate::stats::Main::SessFail);
                server.registry.stats.inc(crate::stats::accept_failure(&e));
                // Out of file descriptors and the like: back off rather than spin.
                backoff.failed(&e).await;
                continue;
            }
        };
        backoff.succeeded();
        server.registry.stats.inc(crate::stats::Main::SessConn);
        server.registry.stats.inc(crate::stats::Main::SSess);
        open.count.fetch_add(1, Ordering::AcqRel);
        let (server, open, stop) = (server.clone(), open.clone(), stop.clone());
        let (endpoint, name, proxy) = (endpoint.clone(), name.clone(), l.proxy);
        tokio::spawn(clock::per_poll(async move {
            let tally = Arc::new(crate::tally::Tally::new(server.registry.stats.clone()));
            let mut io = ClientIo::new(stream, tally.clone());
            // (Read in the connection's own task: a slow header holds up no other client.)
            if let Some((client, server_addr)) = addresses(&server, &mut io, proxy, peer, local).await {
                let sess = Arc::new(Sess {
                    client,
                    local: server_addr,
                    remote: peer,
                    bound: local,
                    xid: server.next_xid(),
                    endpoint,
                    socket: name,
                    hostname: server.hostname.clone(),
                    identity: server.identity.clone(),
                    client_ip: Sess::ip_value(&client),
                    links: crate::vsl::Links::new(&server.registry.log),
                    timeouts: crate::vrt::timeouts::Timeouts::new(&server.params()),
                    closing: Default::default(),
                    tally,
                });
                serve_connection(server, sess, io, stop).await;
            }
            if open.count.fetch_sub(1, Ordering::AcqRel) == 1 {
                open.zero.notify_waiters();
            }
        }));
    }
}

/// The client's and the server's addresses for the session: the connection's own (`peer`,
/// `local`), or on a PROXY listener those its header names (what the read took past the
/// header given back to `io`); `None` when the header is missing or broken, and the
/// connection is closed.
async fn addresses(
    server: &Server,
    io: &mut ClientIo,
    proxy: bool,
    peer: SocketAddr,
    local: SocketAddr,
) -> Option<(SocketAddr, SocketAddr)> {
    if !proxy {
        return Some((peer, local));
    }
    match crate::proxy_protocol::read_header(io, secs(server.params().timeout_idle)).await {
        Ok((stated, ahead)) => {
            io.give_back(ahead);
            Some(stated.unwrap_or((peer, local)))
        }
        Err(e) => {
            tracing::debug!("{peer}: {e}; closing");
            // (Not a PROXY header: junk, as varnishd counts it.)
            count_close(server, crate::stats::Main::ScRxJunk);
            None
        }
    }
}

async fn serve_connection(server: Arc<Server>, sess: Arc<Sess>, io: ClientIo, stop: Arc<Stop>) {
    io.stream().set_nodelay();
    let opened = sess.links.on().then(|| (crate::value::now(), std::os::fd::AsRawFd::as_raw_fd(io.stream())));
    let params = server.params();
    let svc = {
        let (server, sess) = (server.clone(), sess.clone());
        service_fn(move |req| fsm::handle(server.clone(), sess.clone(), req))
    };
    let mut builder = http1::Builder::new();
    builder
        // (The idle timeout as `sess.timeout_idle` has it when the timer arms.)
        .timer(ConnTimer::with_idle(sess.timeouts.idle.clone()))
        .keep_alive(true)
        .header_read_timeout(secs(params.timeout_idle))
        // (The head's limit exactly; the buffer's is looser: a read may take it past.)
        .max_header_size(usize::try_from(params.http_req_size).unwrap_or(usize::MAX))
        .max_buf_size(usize::try_from(params.http_req_size).unwrap_or(usize::MAX).max(8192))
        .max_headers(usize::try_from(params.http_max_hdr).unwrap_or(64))
        .writev(false);
    let io = SendTimeout::new(TokioIo::new(io), sess.timeouts.send.clone());
    let conn = builder.serve_connection(io, svc).with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => r,
        () = stop.wait() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    let closing = crate::fsm::connection::Close::of(sess.closing.load(Ordering::Relaxed));
    let (why, counter) = close_reason(&ended, closing, &sess.tally);
    if counter == crate::stats::Main::ScRxJunk {
        // (hyper answered it 400, as varnishd does.)
        server.registry.stats.inc(crate::stats::Main::ClientReq400);
    }
    count_close(&server, counter);
    if let Some((t0, fd)) = opened {
        session_log(&server, &sess, t0, fd, why);
    }
    log_end(&sess.client, ended);
}

/// Why a connection closed (`SessClose`'s reason), and its `sc_*` counter: it carried a pipe;
/// a request's body broke off; an answer said `Connection: close` (`closing`: the client asked,
/// an HTTP/1.0 client did not ask to keep it, the answer itself said so, or it refused a bad
/// request) or sent its body to the connection's end; the client closed it; it sent nothing in
/// time (nothing at all since the last answer: idle; part of a request: too slow), a head past
/// `http_req_size`, or what is not HTTP/1; or writing to it failed.
fn close_reason(
    ended: &Result<(), hyper::Error>,
    closing: crate::fsm::connection::Close,
    tally: &crate::tally::Tally,
) -> (&'static str, crate::stats::Main) {
    use crate::fsm::connection::Close;
    use crate::stats::Main;
    if tally.piped() {
        return ("TX_PIPE", Main::ScTxPipe);
    }
    if tally.body_broke_off() {
        return ("RX_BODY", Main::ScRxBody);
    }
    match (ended, closing) {
        (Ok(()), Close::ReqClose) => ("REQ_CLOSE", Main::ScReqClose),
        (Ok(()), Close::ReqHttp10) => ("REQ_HTTP10", Main::ScReqHttp10),
        (Ok(()), Close::RespClose) => ("RESP_CLOSE", Main::ScRespClose),
        (Ok(()), Close::RxBad) => ("RX_BAD", Main::ScRxBad),
        (Ok(()), Close::TxEof) => ("TX_EOF", Main::ScTxEof),
        (Ok(()), Close::No) => ("REM_CLOSE", Main::ScRemClose),
        (Err(e), _) if e.is_timeout() && tally.idle() => ("RX_CLOSE_IDLE", Main::ScRxCloseIdle),
        (Err(e), _) if e.is_timeout() => ("RX_TIMEOUT", Main::ScRxTimeout),
        (Err(e), _) if e.is_parse_too_large() => ("RX_OVERFLOW", Main::ScRxOverflow),
        (Err(e), _) if e.is_parse() => ("RX_JUNK", Main::ScRxJunk),
        (Err(_), _) => ("TX_ERROR", Main::ScTxError),
    }
}

/// Counts a connection's close as varnishd 7.1 does: its `sc_*` counter; `sess_closed` for one
/// that Shellac closes as it answers (varnishd's worker; not what the client closed, nor
/// what timed out or overflowed waiting for a request); and `sess_closed_err` for an error
/// (all but `REM_CLOSE`, `REQ_CLOSE`, `RESP_CLOSE`, `TX_PIPE`, `TX_EOF` and `RX_CLOSE_IDLE`).
fn count_close(server: &Server, reason: crate::stats::Main) {
    use crate::stats::Main;
    let stats = &server.registry.stats;
    stats.inc(reason);
    if !matches!(reason, Main::ScRemClose | Main::ScRxTimeout | Main::ScRxCloseIdle | Main::ScRxOverflow) {
        stats.inc(Main::SessClosed);
    }
    let ok =
        [Main::ScRemClose, Main::ScReqClose, Main::ScRespClose, Main::ScTxPipe, Main::ScTxEof, Main::ScRxCloseIdle];
    if !ok.contains(&reason) {
        stats.inc(Main::SessClosedErr);
    }
}

/// A session's transaction, at its end: `Begin sess`, `SessOpen`, a `Link` per request,
/// `SessClose` with why it closed (see [`close_reason`]) and how long it lasted.
fn session_log(server: &Server, sess: &Sess, t0: f64, fd: i32, why: &str) {
    use crate::vsl::Tag;
    let mut b = crate::vsl::Buffer::new(&server.registry.log, sess.xid, crate::vsl::Side::Client);
    b.add_str(Tag::Begin, "sess 0 HTTP/1");
    b.add(Tag::SessOpen, || {
        // (The connection's own addresses, as varnishd logs them; a PROXY header's are the
        // request's.)
        let (c, l) = (sess.remote, sess.bound);
        format!("{} {} {} {} {} {t0:.6} {fd}", c.ip(), c.port(), sess.socket, l.ip(), l.port())
    });
    for vxid in sess.links.take() {
        // (A thousand of them for a long session: written without `fmt`.)
        if let Some(mut r) = b.rec(Tag::Link) {
            r.s("req ").n(vxid).s(" rxreq");
        }
    }

    b.add_fmt(Tag::SessClose, format_args!("{why} {:.3}", crate::value::now() - t0));
    b.commit(&server.registry.log);
}

/// How a client connection ended, when it ended in an error. A request that is not HTTP/1 (an
/// HTTP/2 preface, garbage) is closed by hyper, with a 400 where it can send one; it is logged,
/// at most once a second with a count of the others, so that a close is never silent and never
/// a flood. Clients that merely go away are logged at debug.
fn log_end(peer: &SocketAddr, r: Result<(), hyper::Error>) {
    let Err(e) = r else { return };
    if !(e.is_parse() || e.is_user()) {
        tracing::debug!("client {peer}: {e}");
        return;
    }
    static LAST: AtomicU64 = AtomicU64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if LAST.swap(second, Ordering::Relaxed) == second {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let skipped = SKIPPED.swap(0, Ordering::Relaxed);
    let more = if skipped > 0 { format!(" ({skipped} more such closes in the last second)") } else { String::new() };
    let hint = if e.to_string().contains("HTTP2 preface") {
        ": HTTP/2 with prior knowledge is not supported on an HTTP/1.1 listener"
    } else {
        ""
    };
    tracing::info!("client {peer}: {e}{hint}; connection closed{more}");
}
