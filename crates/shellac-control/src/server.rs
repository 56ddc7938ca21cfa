//! The management port: Varnish's CLI over TCP. A connection first authenticates (when a secret
//! is set: the `107` challenge, `auth <sha256>`); before that only `auth`, `help`, `ping` and
//! `quit` work, anything else is answered `101` and the connection closed, as is a request over
//! 4 KiB or a connection that has not authenticated within a minute; a wrong answer is logged
//! and closes it too. Then one command per line (8 MiB at most with its here-document), one
//! framed response per command.

use std::fmt::Write as _;
use std::sync::Arc;

use shellac_engine::accept::Backoff;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::commands::command;
use crate::manager::{Manager, VclText};
use crate::proto::{auth_digest, encode, encode_head, Status};

/// An answer longer than this is written in three pieces rather than copied into one.
const LARGE: usize = 16 * 1024;
use crate::request::{read_request, ReadError, Request, PRE_AUTH_LIMIT, REQUEST_LIMIT};
use crate::{backends, params_cmd};

/// How long a connection may take to authenticate (`cli_timeout`'s default).
const PRE_AUTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The answer to an unknown command, and to any command but `auth`, `help`, `ping` and `quit`
/// before authentication.
const UNKNOWN: &str = "Unknown request.\nType 'help' for more info.\n";

/// The banner sent after authentication and by `banner`, laid out as varnishd's: the system
/// (`uname`'s name, release and machine), the jail, a `-s` per store (`-smalloc` each, then
/// `-sdefault` for Transient), the hash.
pub fn banner(m: &Manager) -> String {
    let read = |path: &str, or: &str| {
        std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_else(|_| or.to_string())
    };
    let system = read("/proc/sys/kernel/ostype", std::env::consts::OS);
    let release = read("/proc/sys/kernel/osrelease", "-");
    // (The stores, Transient last.)
    let stores = "-smalloc,".repeat(m.server.cache.stores().count().saturating_sub(1));
    format!(
        "-----------------------------\nVarnish Cache CLI 1.0\n-----------------------------\n{system},{release},{},-jnone,{stores}-sdefault,-hcritbit\nvarnish-7.1.1 revision shellac-{}\n\nType 'help' for command list.\nType 'quit' to close CLI session.\n",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

/// Serves the management port until the listener fails; also cools unused VCLs.
pub async fn serve(listener: TcpListener, manager: Arc<Manager>, secret: Option<Arc<Vec<u8>>>) {
    let cooler = manager.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            cooler.cool_unused();
        }
    });
    let mut backoff = Backoff::new(format!(
        "the management port {}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
    ));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        backoff.succeeded();
        let (manager, secret) = (manager.clone(), secret.clone());
        tokio::spawn(async move {
            if let Err(e) = session(stream, &manager, secret.as_deref().map(Vec::as_slice)).await {
                tracing::debug!("management connection {peer}: {e}");
            }
        });
    }
}

/// varnishd's `-M`: connects to `addr` and serves the management protocol on that connection, as
/// on the port (the banner or the challenge first); connects again 5 s after it closes or fails.
pub async fn reverse(addr: String, manager: Arc<Manager>, secret: Option<Arc<Vec<u8>>>) {
    loop {
        match TcpStream::connect(&addr).await {
            Ok(stream) => {
                if let Err(e) = session(stream, &manager, secret.as_deref().map(Vec::as_slice)).await {
                    tracing::debug!("management connection to -M {addr}: {e}");
                }
            }
            Err(e) => tracing::warn!("-M {addr}: cannot connect ({e}); trying again in 5 s"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

async fn session(stream: TcpStream, m: &Manager, secret: Option<&[u8]>) -> std::io::Result<()> {
    // Each response is one write; without this, Nagle holds it for the client's delayed ACK.
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let challenge = secret.map(|_| new_challenge());
    let mut authed = challenge.is_none();
    match &challenge {
        Some(c) => write.write_all(&encode(Status::Auth, &format!("{c}\n\nAuthentication required.\n"))).await?,
        None => write.write_all(&encode(Status::Ok, &banner(m))).await?,
    }
    let pre_auth_deadline = tokio::time::Instant::now() + PRE_AUTH_TIMEOUT;
    loop {
        let limit = if authed { REQUEST_LIMIT } else { PRE_AUTH_LIMIT };
        let next = read_request(&mut reader, limit);
        let read = if authed {
            next.await
        } else {
            match tokio::time::timeout_at(pre_auth_deadline, next).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::debug!("management port: no authentication within {PRE_AUTH_TIMEOUT:?}, closing");
                    return Ok(());
                }
            }
        };
        let words = match read {
            Ok(None) => return Ok(()),
            Ok(Some(Request::Words(w))) => w,
            Ok(Some(Request::Syntax(e))) => {
                write.write_all(&encode(Status::Syntax, &e)).await?;
                // Before authentication, any error closes the connection (as varnishd does).
                if !authed {
                    return Ok(());
                }
                continue;
            }
            // Before authentication, varnishd answers an overlong line as an unknown request.
            Err(ReadError::TooLong(_)) if !authed => {
                write.write_all(&encode(Status::Unknown, UNKNOWN)).await?;
                return Ok(());
            }
            Err(ReadError::TooLong(n)) => {
                tracing::warn!("management port: a request over {n} bytes, closing the connection");
                write.write_all(&encode(Status::Comms, &format!("Request too long (the limit is {n} bytes)"))).await?;
                return Ok(());
            }
            Err(ReadError::Io(e)) => return Err(e),
        };
        let Some(name) = words.first().cloned() else { continue };
        let args = &words[1..];
        // Before authentication, only auth, help, ping and quit exist: anything else is an
        // unknown request, and the connection closes (as varnishd does).
        let Some(def) = command(&name).filter(|d| authed || d.pre_auth) else {
            write.write_all(&encode(Status::Unknown, UNKNOWN)).await?;
            if !authed {
                return Ok(());
            }
            continue;
        };
        if let Some((status, text)) = arity_error(def, args) {
            write.write_all(&encode(status, text)).await?;
            if !authed {
                return Ok(());
            }
            continue;
        }
        match name.as_str() {
            "auth" => {
                let (Some(c), Some(s)) = (&challenge, secret) else {
                    write.write_all(&encode(Status::Ok, &banner(m))).await?;
                    continue;
                };
                if authed {
                    write.write_all(&encode(Status::Ok, &banner(m))).await?;
                } else if args[0] == auth_digest(c, s) {
                    authed = true;
                    write.write_all(&encode(Status::Ok, &banner(m))).await?;
                } else {
                    tracing::warn!("management port: wrong authentication answer, closing");
                    write.write_all(&encode(Status::Close, "")).await?;
                    return Ok(());
                }
            }
            "quit" => {
                write.write_all(&encode(Status::Close, "Closing CLI connection")).await?;
                return Ok(());
            }
            _ => {
                let (status, body) = execute(m, &name, args).await;
                if body.len() > LARGE {
                    // (A large answer, such as log.read's, goes out without a copy.)
                    write.write_all(&encode_head(status, body.len())).await?;
                    write.write_all(body.as_bytes()).await?;
                    write.write_all(b"\n").await?;
                } else {
                    write.write_all(&encode(status, &body)).await?;
                }
            }
        }
    }
}

/// Too few or too many arguments for the command, counted as varnishd counts them (`-j` is
/// not one, where the command takes it): the status and message.
fn arity_error(def: &crate::commands::CommandDef, args: &[String]) -> Option<(Status, &'static str)> {
    let given = if def.json() { args.iter().filter(|a| *a != "-j").count() } else { args.len() } as i64;
    let (min, max) = def.arg_range();
    if given < min {
        Some((Status::TooFew, "Too few parameters\n"))
    } else if max >= 0 && given > max {
        Some((Status::TooMany, "Too many parameters\n"))
    } else {
        None
    }
}

/// Runs the commands of a file, one a line (here-documents as on the port), as an authenticated
/// session would (varnishd's `-I`, before it serves): the transcript (each command, its status
/// and answer), or at the first that fails, the transcript so far and the failure: its status
/// and answer.
pub async fn run_commands(m: &Manager, text: &str) -> Result<String, (String, Status, String)> {
    let mut reader = text.as_bytes();
    let mut transcript = String::new();
    loop {
        let (words, line) = match read_request(&mut reader, REQUEST_LIMIT).await {
            Ok(None) => return Ok(transcript),
            Ok(Some(Request::Words(w))) if w.is_empty() => continue,
            Ok(Some(Request::Words(w))) => {
                let line = w.iter().map(|x| crate::proto::quote(x)).collect::<Vec<_>>().join(" ");
                (w, line)
            }
            Ok(Some(Request::Syntax(e))) => return Err((transcript, Status::Syntax, e)),
            Err(e) => return Err((transcript, Status::Comms, e.to_string())),
        };
        let (name, args) = (&words[0], &words[1..]);
        let (status, body) = match command(name).filter(|_| name != "auth" && name != "quit") {
            None => (Status::Unknown, UNKNOWN.to_string()),
            Some(def) => match arity_error(def, args) {
                Some((status, text)) => (status, text.to_string()),
                None => execute(m, name, args).await,
            },
        };
        let _ = write!(transcript, "> {line}\n{} {}\n{body}\n", status as u16, body.len());
        if status != Status::Ok {
            return Err((transcript, status, body));
        }
    }
}

/// Runs an authenticated command.
pub async fn execute(m: &Manager, name: &str, args: &[String]) -> (Status, String) {
    let result = match name {
        "ping" if args.iter().any(|a| a == "-j") => {
            Ok(format!("{} \"PONG\"\n\n]\n", crate::json::header(2, "ping", args).trim_end()))
        }
        "ping" => Ok(format!("PONG {} 1.0", unix_now())),
        "status" if args.iter().any(|a| a == "-j") => {
            Ok(format!("{} \"running\"\n]\n", crate::json::header(2, "status", args).trim_end()))
        }
        "status" => Ok("Child in state running".to_string()),
        "banner" => Ok(banner(m)),
        "help" => crate::commands::help(args).ok_or_else(|| (Status::Unknown, UNKNOWN.to_string())),
        "pid" => Ok(crate::process::pid(args)),
        "panic.show" => crate::process::panic_show(),
        "panic.clear" => crate::process::panic_clear(args),
        "start" => crate::process::start(),
        "stop" => crate::process::stop(),
        "vcl.deps" => Ok(m.deps(args)),
        "param.reset" => params_cmd::reset(m, args),
        "vcl.load" | "vcl.inline" => {
            let text =
                if name == "vcl.load" { VclText::File(args[1].clone()) } else { VclText::Inline(args[1].clone()) };
            // The state it starts in (`auto` unless said), checked before anything is compiled.
            match args.get(2).map(String::as_str) {
                None | Some("auto") => m.load(&args[0], text).await,
                Some(state @ ("cold" | "warm")) => match m.load(&args[0], text).await {
                    Ok(out) => m.set_state(&args[0], state).map(|_| out),
                    Err(e) => Err(e),
                },
                Some(_) => Err((Status::Param, crate::manager::BAD_STATE.to_string())),
            }
        }
        "vcl.use" => m.use_vcl(&args[0]),
        "vcl.label" => m.label(&args[0], &args[1]),
        "vcl.state" => m.set_state(&args[0], &args[1]),
        "vcl.list" if args.iter().any(|a| a == "-j") => Ok(m.list_json(args)),
        "vcl.list" => Ok(m.list()),
        "vcl.discard" => m.discard(args),
        "vcl.show" => {
            let verbose = args.iter().any(|a| a == "-v");
            m.show(args.iter().find(|a| *a != "-v").map(String::as_str), verbose)
        }
        "backend.list" => backends::list(m, args),
        "discovery.status" => match m.discovery() {
            None => Err((Status::Cant, "Discovery is off (start shellac with --etcd ENDPOINTS)".to_string())),
            Some(st) => {
                let routing = match (m.active_name(), m.server.active()) {
                    (Some(name), Some(vcl)) => crate::discovery::routing::of(&name, &vcl),
                    _ => Vec::new(),
                };
                if args.iter().any(|a| a == "-j") {
                    Ok(format!("{}{}\n]\n", crate::json::header(2, "discovery.status", args), st.json(&routing)))
                } else {
                    Ok(st.text(&routing))
                }
            }
        },
        "backend.set_health" => backends::set_health(m, args),
        "storage.list" => Ok(storage_list(m, args)),
        "ban" => shellac_engine::ban::issue_args(&m.server.cache, args, shellac_engine::value::now())
            .map(|()| String::new())
            .map_err(|e| (Status::Param, e.to_string())),
        "ban.list" => Ok(ban_list(m, args)),
        "stats" => Ok(crate::stats::json(m)),
        "log.read" => log_read(m, args),
        "ban.cluster" => ban_cluster(m, args).await,
        "param.show" => params_cmd::show(m, args),
        "param.set" => params_cmd::set(m, args),
        _ => Err((Status::Unimplemented, format!("{name} is not implemented"))),
    };
    match result {
        Ok(body) => (Status::Ok, body),
        Err((status, body)) => (status, body),
    }
}

/// `storage.list [-j]`, laid out as varnishd lays it out: the `-s` stores in order, then
/// Transient (all `malloc`).
fn storage_list(m: &Manager, args: &[String]) -> String {
    let names: Vec<&str> = m.server.cache.stores().map(|s| s.name()).collect();
    if args.iter().any(|a| a == "-j") {
        let items: Vec<String> = names
            .iter()
            .map(|n| format!("  {{\n    \"name\": {},\n    \"storage\": \"malloc\"\n}}", crate::json::string(n)))
            .collect();
        return format!("{}{}\n]\n", crate::json::header(2, "storage.list", args), items.join(",\n"));
    }
    let mut out = String::from("Storage devices:\n");
    for n in names {
        out.push_str(&format!("\tstorage.{n} = malloc\n"));
    }
    out
}

/// `ban.cluster FIELD OP ARG …`: checked here (the same errors as `ban`), written to etcd, and
/// answered once this node has applied it (every node applies it from etcd, this one too).
async fn ban_cluster(m: &Manager, args: &[String]) -> Result<String, (Status, String)> {
    let inv = shellac_engine::cluster::Invalidation::ban_from_args(args).map_err(|e| (Status::Param, e.to_string()))?;
    let Some(cluster) = m.cluster() else {
        return Err((Status::Cant, "No cluster: start shellac serve with --etcd".to_string()));
    };
    let revision = cluster
        .publisher
        .publish(inv)
        .await
        .map_err(|e| (Status::Cant, format!("The ban was not written to etcd (no node has it): {e}")))?;
    let mut applied = cluster.applied.clone();
    let here = tokio::time::timeout(crate::cluster::APPLY_WAIT, applied.wait_for(|r| *r >= revision)).await;
    Ok(match here {
        Ok(Ok(_)) => String::new(),
        _ => format!("Written to etcd at revision {revision}; not applied on this node yet"),
    })
}

/// `log.read CURSOR|new [MAX]`: `next N lost M`, then each transaction as `* VXID SIDE` and
/// its records as `TAG DATA` (a newline in data as `\n`). Reading keeps the log recording.
fn log_read(m: &Manager, args: &[String]) -> Result<String, (Status, String)> {
    let cursor = match args[0].as_str() {
        "new" => u64::MAX,
        c => c.parse().map_err(|_| (Status::Param, format!("bad cursor {c:?}: a number, or new")))?,
    };
    let max = match args.get(1) {
        Some(n) => n.parse().map_err(|_| (Status::Param, format!("bad count {n:?}")))?,
        None => 1000,
    };
    let read = m.server.registry.log.read(cursor, max);
    let size: usize = read.txns.iter().map(|t| t.bytes().len() * 5 / 4 + 32).sum();
    let mut out = String::with_capacity(size + 32);
    let _ = writeln!(out, "next {} lost {}", read.next, read.lost);
    for t in &read.txns {
        let _ = writeln!(out, "* {} {}", t.vxid, t.side.letter());
        out.push_str(&t.text());
    }
    Ok(out)
}

/// `ban.list [-j]`, newest first, as varnishd lays it out (a completed ban shows no
/// expression). A ban that came from the cluster (issued on another node, through etcd) is
/// marked so after its expression.
fn ban_list(m: &Manager, args: &[String]) -> String {
    let bans = m.server.cache.bans().listed();
    if args.iter().any(|a| a == "-j") {
        let items: Vec<String> = bans
            .iter()
            .map(|b| {
                let cluster = if b.cluster { ",\n    \"cluster\": true" } else { "" };
                format!(
                    "  {{\n    \"time\": {:.6},\n    \"refs\": {},\n    \"completed\": {},\n    \"spec\": {}{cluster}\n}}",
                    b.time,
                    b.refs,
                    b.completed,
                    crate::json::string(&b.spec)
                )
            })
            .collect();
        return format!("{}{}\n]\n", crate::json::header(2, "ban.list", args), items.join(",\n"));
    }
    let mut out = String::from("Present bans:\n");
    for b in bans {
        let flag = if b.completed { 'C' } else { '-' };
        let cluster = if b.cluster { "  (cluster)" } else { "" };
        out.push_str(&format!("{:10.6} {:5} {flag}  {}{cluster}\n", b.time, b.refs, b.spec));
    }
    out
}

fn new_challenge() -> String {
    let mut raw = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut raw);
    }
    raw.iter().map(|b| char::from(b'a' + b % 26)).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
