//! `shellac log [-T ADDR [-S FILE] | -n DIR] [-g vxid|request|raw] [-d]`: a running Shellac's
//! transaction log, as `varnishlog` shows varnishd's: by transaction (`-g vxid`, the default:
//! `*   << Request  >> VXID` then one `-   TAG DATA` line per record), by request (`-g
//! request`: each request with its backend fetches below it, `**  << BeReq    >>` and `--`), or
//! one line per record (`-g raw`: `VXID TAG SIDE DATA`). It follows the log as it grows; with `-d` it prints what
//! the log holds and exits. A reader that falls behind is told how many transactions it lost.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::adm::Session;
use crate::cli::LogArgs;

/// One transaction as `log.read` gives it.
pub(crate) struct Txn {
    pub(crate) vxid: u64,
    pub(crate) side: char,
    pub(crate) records: Vec<(String, String)>,
}

/// Runs `shellac log`.
pub(crate) fn run(args: &LogArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(&args.reach)?;
    let mut cursor = if args.dump { "0".to_string() } else { "new".to_string() };
    let mut groups = Requests::default();
    loop {
        let (status, body) = session.command(&["log.read".to_string(), cursor.clone()])?;
        if status != 200 {
            bail!("log.read: {status} {body}");
        }
        let (next, lost, txns) = parse(&body)?;
        if lost > 0 && cursor != "0" {
            eprintln!("Log overrun: {lost} transactions lost (the reader fell behind)");
        }
        let more = !txns.is_empty();
        for t in txns {
            if args.grouping == "request" {
                print!("{}", groups.take(t));
            } else {
                print!("{}", format(&t, &args.grouping));
            }
        }
        cursor = next.to_string();
        if args.dump && !more {
            return Ok(ExitCode::SUCCESS);
        }
        if !more {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A `log.read` answer: the next cursor, how many were lost, the transactions.
pub(crate) fn parse(body: &str) -> anyhow::Result<(u64, u64, Vec<Txn>)> {
    let mut lines = body.lines();
    let head = lines.next().context("log.read: empty answer")?;
    let words: Vec<&str> = head.split(' ').collect();
    let (next, lost) = match words.as_slice() {
        ["next", n, "lost", l] => (n.parse()?, l.parse()?),
        _ => bail!("log.read: unexpected {head:?}"),
    };
    let mut txns: Vec<Txn> = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("* ") {
            let (vxid, side) = rest.split_once(' ').context("log.read: bad transaction line")?;
            txns.push(Txn { vxid: vxid.parse()?, side: side.chars().next().unwrap_or('-'), records: Vec::new() });
        } else if let Some(t) = txns.last_mut() {
            let (tag, data) = line.split_once(' ').unwrap_or((line, ""));
            t.records.push((tag.to_string(), data.to_string()));
        }
    }
    Ok((next, lost, txns))
}

/// `-g request`: a backend fetch goes below the request that made it. The fetch ends before
/// its request does, so it waits for it; one whose request was already printed (a background
/// fetch) is printed at once, on its own.
#[derive(Default)]
pub(crate) struct Requests {
    waiting: std::collections::HashMap<u64, Vec<Txn>>,
    printed: std::collections::VecDeque<u64>,
}

/// How many printed requests `-g request` remembers, for fetches that end after them.
const REMEMBERED: usize = 10_000;

impl Requests {
    /// What to print now that `t` came.
    pub(crate) fn take(&mut self, t: Txn) -> String {
        if t.side == 'b' {
            let parent = t
                .records
                .first()
                .and_then(|(_, d)| d.split(' ').nth(1))
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(0);
            if self.printed.contains(&parent) {
                return format!("{}\n", level(&t, 2));
            }
            self.waiting.entry(parent).or_default().push(t);
            // (Bounded: fetches whose request never comes are dropped past this many.)
            if self.waiting.len() > REMEMBERED {
                self.waiting.clear();
            }
            return String::new();
        }
        let mut out = level(&t, 1);
        for child in self.waiting.remove(&t.vxid).unwrap_or_default() {
            out.push_str(&level(&child, 2));
        }
        out.push('\n');
        self.printed.push_back(t.vxid);
        if self.printed.len() > REMEMBERED {
            self.printed.pop_front();
        }
        out
    }
}

/// A transaction at a level of a group (`*`/`-` at 1, `**`/`--` at 2).
fn level(t: &Txn, depth: usize) -> String {
    let kind = match t.side {
        'c' => "Request",
        'b' => "BeReq",
        _ => "Session",
    };
    let (star, dash) = ("*".repeat(depth), "-".repeat(depth));
    let mut out = format!("{star:<4}<< {kind:<8} >> {:<10}\n", t.vxid);
    for (tag, data) in &t.records {
        out.push_str(&format!("{dash:<4}{tag:<14} {data}\n"));
    }
    out
}

/// A transaction as varnishlog prints it.
pub(crate) fn format(t: &Txn, grouping: &str) -> String {
    let mut out = String::new();
    if grouping == "raw" {
        for (tag, data) in &t.records {
            out.push_str(&format!("{:>10} {tag:<14} {} {data}\n", t.vxid, t.side));
        }
        return out;
    }
    out.push_str(&level(t, 1));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_print_as_varnishlog_prints_them() {
        let (next, lost, txns) =
            parse("next 7 lost 2\n* 32770 c\nBegin req 32769 rxreq\nReqURL /a\nEnd \n").expect("parses");
        assert_eq!((next, lost, txns.len()), (7, 2, 1));
        assert_eq!(
            format(&txns[0], "vxid"),
            "*   << Request  >> 32770     \n-   Begin          req 32769 rxreq\n-   ReqURL         /a\n-   End            \n\n"
        );
        let mut groups = Requests::default();
        let (_, _, mut txns2) =
            parse("next 2 lost 0\n* 3 b\nBegin bereq 2 fetch\nEnd \n* 2 c\nBegin req 1 rxreq\nEnd \n").expect("parses");
        let client = txns2.pop().expect("client");
        assert_eq!(groups.take(txns2.pop().expect("fetch")), "", "the fetch waits for its request");
        assert_eq!(
            groups.take(client),
            "*   << Request  >> 2         \n-   Begin          req 1 rxreq\n-   End            \n\
             **  << BeReq    >> 3         \n--  Begin          bereq 2 fetch\n--  End            \n\n"
        );
        assert_eq!(
            format(&txns[0], "raw"),
            "     32770 Begin          c req 32769 rxreq\n     32770 ReqURL         c /a\n     32770 End            c \n"
        );
    }
}
