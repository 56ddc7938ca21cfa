//! `shellac adm [-T ADDR [-S FILE] | -n DIR] CMD…`: a management client that behaves as `varnishadm` does
//! (prints the body; exit 0 on status 200, else the body, `Command failed with error code N` and
//! exit 1).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use shellac_control::proto::{auth_digest, parse_header, quote};

use crate::cli::{AdmArgs, Reach};

/// An authenticated connection to a management port.
pub(crate) struct Session {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Session {
    /// Connects as `-T ADDR [-S FILE]` or `-n DIR` say (neither: the default working
    /// directories), and authenticates.
    pub(crate) fn open(reach: &Reach) -> anyhow::Result<Session> {
        let (admin, workdir, secret) = (reach.admin.as_deref(), reach.workdir.as_deref(), reach.secret.as_deref());
        let (admin, secret_file) = match (admin, workdir) {
            (Some(a), _) => (a.to_string(), secret.map(std::path::PathBuf::from)),
            (None, Some(dir)) => {
                let (a, s) = shellac_control::workdir::discover(std::path::Path::new(dir))
                    .with_context(|| format!("-n {dir}: no management address found"))?;
                (a, secret.map(std::path::PathBuf::from).or(s))
            }
            (None, None) => default_workdir(secret)?,
        };
        let stream = TcpStream::connect(&admin).with_context(|| format!("cannot connect to {admin}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut session = Session { writer, reader: BufReader::new(stream) };
        let (status, body) = read_frame(&mut session.reader)?;
        if status == 107 {
            let Some(file) = &secret_file else { bail!("authentication required: give -S FILE") };
            let secret = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let challenge = body.lines().next().unwrap_or("");
            let (status, body) = session.command(&["auth".to_string(), auth_digest(challenge, &secret)])?;
            if status != 200 {
                bail!("authentication failed: {body}");
            }
        }
        Ok(session)
    }

    /// Runs one command: its status and body.
    pub(crate) fn command(&mut self, words: &[String]) -> anyhow::Result<(u16, String)> {
        let line: Vec<String> = words.iter().map(|a| quote(a)).collect();
        self.writer.write_all(format!("{}\n", line.join(" ")).as_bytes())?;
        read_frame(&mut self.reader)
    }
}

/// Runs one command.
pub(crate) fn run(args: &AdmArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(&args.reach)?;
    let (status, body) = session.command(&args.command)?;
    crate::stdout(&body)?;
    if !body.is_empty() && !body.ends_with('\n') {
        crate::stdout("\n")?;
    }
    if status == 200 {
        Ok(ExitCode::SUCCESS)
    } else {
        crate::stdout(&format!("Command failed with error code {status}\n"))?;
        Ok(ExitCode::FAILURE)
    }
}

/// Without `-T` and `-n`: the first default working directory whose process runs.
fn default_workdir(secret: Option<&str>) -> anyhow::Result<(String, Option<std::path::PathBuf>)> {
    let mut tried = Vec::new();
    for dir in shellac_control::workdir::defaults() {
        match shellac_control::workdir::discover(&dir) {
            Ok((a, s)) => return Ok((a, secret.map(std::path::PathBuf::from).or(s))),
            Err(e) => tried.push(format!("{}: {e}", dir.display())),
        }
    }
    bail!("no running shellac (or varnishd) found; give -T ADDRESS or -n DIR ({})", tried.join("; "))
}

fn read_frame(r: &mut impl BufRead) -> anyhow::Result<(u16, String)> {
    let mut head = String::new();
    r.read_line(&mut head)?;
    let (status, len) = parse_header(&head).with_context(|| format!("bad response header {head:?}"))?;
    let mut body = vec![0u8; len + 1];
    r.read_exact(&mut body)?;
    body.truncate(len);
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
