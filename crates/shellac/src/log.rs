//! `shellac log [-T ADDR [-S FILE] | -n DIR] [-g vxid|raw] [-d]`: a running Shellac's
//! transaction log, as `varnishlog` shows varnishd's: by transaction (`-g vxid`, the default:
//! `*   << Request  >> VXID` then one `-   TAG DATA` line per record) or one line per record
//! (`-g raw`: `VXID TAG SIDE DATA`). It follows the log as it grows; with `-d` it prints what
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
        for t in &txns {
            print!("{}", format(t, &args.grouping));
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

/// A transaction as varnishlog prints it.
pub(crate) fn format(t: &Txn, grouping: &str) -> String {
    let mut out = String::new();
    if grouping == "raw" {
        for (tag, data) in &t.records {
            out.push_str(&format!("{:>10} {tag:<14} {} {data}\n", t.vxid, t.side));
        }
        return out;
    }
    let kind = match t.side {
        'c' => "Request",
        'b' => "BeReq",
        _ => "Session",
    };
    out.push_str(&format!("*   << {kind:<8} >> {:<10}\n", t.vxid));
    for (tag, data) in &t.records {
        out.push_str(&format!("-   {tag:<14} {data}\n"));
    }
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
        assert_eq!(
            format(&txns[0], "raw"),
            "     32770 Begin          c req 32769 rxreq\n     32770 ReqURL         c /a\n     32770 End            c \n"
        );
    }
}
