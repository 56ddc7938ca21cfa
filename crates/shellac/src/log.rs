//! `shellac log [-T ADDR [-S FILE] | -n DIR] [-g vxid|request|session|raw] [-d] [-q QUERY]
//! [-i|-x TAGLIST] [-I|-X [TAGLIST:]REGEX] [-b] [-c] [-k N] [-w FILE [-a]] [-D] [-P FILE]`: a
//! running Shellac's
//! transaction log, as `varnishlog` shows varnishd's: by transaction (`-g vxid`, the default:
//! `*   << Request  >> VXID` then one `-   TAG DATA` line per record), by request (`-g
//! request`: each request with its backend fetches below it, `**  << BeReq    >>`
//! and `--`; `-g session`: each connection with its requests, see [`crate::groups`]), or
//! one line per record (`-g raw`: `VXID TAG SIDE DATA`), those a query selects (`-q`, see
//! [`crate::query`]), their records as the filters let them through (see [`crate::filter`]).
//! `-b`/`-c` keep one side's transactions, `-k` stops after so many, `-w` writes to a file
//! (see [`crate::out`]), `-D`/`-P` make it a service (see [`crate::daemon`]).
//! It follows the log as it grows; with `-d` it prints what
//! the log holds and exits. A reader that falls behind is told how many transactions it lost.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};

use shellac_engine::vsl::{shared, Tag, TagSet};

use crate::adm::Session;
use crate::cli::LogArgs;
use crate::filter::Filter;

/// One transaction as a reader has it: its records' data in one string, with where each is.
pub(crate) struct Txn {
    pub(crate) vxid: u64,
    pub(crate) side: char,
    text: String,
    /// Tag (`None`: one this reader does not know) and where its data is in `text`.
    spans: Vec<(Option<Tag>, std::ops::Range<usize>)>,
}

impl From<shellac_engine::vsl::Decoded> for Txn {
    fn from(t: shellac_engine::vsl::Decoded) -> Txn {
        Txn {
            vxid: t.vxid,
            side: t.side.letter(),
            // (In place: a tag and its option take the same room.)
            spans: t.spans.into_iter().map(|(tag, r)| (Some(tag), r)).collect(),
            text: t.text,
        }
    }
}

impl Txn {
    /// A transaction with no records yet.
    pub(crate) fn new(vxid: u64, side: char) -> Txn {
        Txn { vxid, side, text: String::new(), spans: Vec::new() }
    }

    /// Adds a record (of the tag of that name).
    pub(crate) fn push(&mut self, tag: &str, data: &str) {
        let at = self.text.len();
        self.text.push_str(data);
        self.spans.push((Tag::from_name(tag), at..self.text.len()));
    }

    /// Its records: tag (varnishlog's name; `Unknown` for a tag this reader does not know),
    /// data.
    pub(crate) fn records(&self) -> impl DoubleEndedIterator<Item = (&'static str, &str)> + '_ {
        self.tagged().map(|(tag, d)| (tag.map_or("Unknown", Tag::name), d))
    }

    /// Its records: tag, data.
    pub(crate) fn tagged(&self) -> impl DoubleEndedIterator<Item = (Option<Tag>, &str)> + '_ {
        self.spans.iter().map(|(tag, r)| (*tag, &self.text[r.clone()]))
    }

    /// The data of its records of `tag` (the others are passed over, not even cut out of the
    /// text: a formatter looks for a dozen records in every transaction).
    pub(crate) fn of(&self, tag: Tag) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.spans.iter().filter(move |(t, _)| *t == Some(tag)).map(|(_, r)| &self.text[r.clone()])
    }

    /// How many bytes of data its records hold.
    pub(crate) fn data_len(&self) -> usize {
        self.text.len()
    }
}

/// The sides `-b` and `-c` let through (neither: all): client transactions and sessions,
/// backend transactions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sides {
    client: bool,
    backend: bool,
}

impl Sides {
    /// What `-c` and `-b` select (neither: both).
    pub(crate) fn of(client: bool, backend: bool) -> Sides {
        Sides { client: client || !backend, backend: backend || !client }
    }

    /// Every transaction.
    #[cfg(test)]
    pub(crate) const ALL: Sides = Sides { client: true, backend: true };

    /// Whether a transaction of this side (`c`, `b`, `-`) is shown.
    pub(crate) fn shows(self, side: char) -> bool {
        match side {
            'b' => self.backend,
            _ => self.client,
        }
    }
}

/// Runs `shellac log`.
pub(crate) fn run(args: &LogArgs) -> anyhow::Result<ExitCode> {
    let query = crate::query::parse_all(&args.query)?;
    let filter = args.records.filter()?;
    // Everything checked: the output, to the background (-D), the pid file (-P).
    let Some(mut started) = crate::daemon::start(&args.service)? else { return Ok(ExitCode::SUCCESS) };
    let sides = args.sides.sides();
    let crate::daemon::Started { out, left, .. } = &mut started;
    crate::daemon::finished(show(args, query.as_ref(), filter.as_ref(), sides, out, left))
}

/// `-k`: counts off one transaction (or group) shown; whether that was the last.
fn count_off(left: &mut Option<u64>) -> bool {
    match left {
        Some(n) => {
            *n = n.saturating_sub(1);
            *n == 0
        }
        None => false,
    }
}

/// Shows what `args` selects as it comes, to `out`; at most `left` transactions or groups
/// (then [`crate::daemon::Done`]).
fn show(
    args: &LogArgs,
    query: Option<&crate::query::Query>,
    filter: Option<&Filter>,
    sides: Sides,
    out: &mut crate::out::Out,
    left: &mut Option<u64>,
) -> anyhow::Result<ExitCode> {
    // (The fast path below decides on tags only: a filter by regular expression wants text.)
    let by_tag = filter.filter(|f| f.by_tag_only());
    // Every transaction as it comes, on the server's machine, a record a line or a
    // transaction at a time: written out from the shared file's bytes, each record turned into
    // text once, in the output itself.
    let raw = args.grouping == "raw";
    if (raw || args.grouping == "vxid") && query.is_none() && filter.is_none_or(|f| f.by_tag_only()) {
        if let Some(dir) = shared_dir(&args.reach) {
            let (mut text, mut scratch) = (Vec::new(), Vec::new());
            return follow_shared(&dir, args.dump, (TagSet::ALL, None), &mut |reader| {
                let (mut any, mut done) = (false, false);
                let lost = reader
                    .read_raw(|t| {
                        any = true;
                        // (Records of no transaction, `Backend_health`, show record by record
                        // only.)
                        if done || !sides.shows(t.side.letter()) || (!raw && t.vxid == 0) {
                            return;
                        }
                        if raw {
                            format_raw(&mut text, &t, &mut scratch, by_tag);
                        } else {
                            format_vxid(&mut text, &t, &mut scratch, by_tag);
                        }
                        done = count_off(left);
                    })
                    .context("the shared log")?;
                out.write_bytes(&text)?;
                text.clear();
                if done {
                    return Err(crate::daemon::Done.into());
                }
                Ok((any, lost))
            });
        }
    }
    let mut groups = match args.grouping.as_str() {
        "request" => Some(crate::groups::Groups::new(crate::groups::Grouping::Request, filter.cloned(), sides)),
        "session" => Some(crate::groups::Groups::new(crate::groups::Grouping::Session, filter.cloned(), sides)),
        _ => None,
    };
    follow(&args.reach, args.dump, TagSet::ALL, None, |txns| {
        let mut text = String::new();
        let mut done = false;
        for t in txns {
            // Records of no transaction (`Backend_health`) show only record by record.
            if done || (t.vxid == 0 && args.grouping != "raw") {
                continue;
            }
            let before = text.len();
            if let Some(groups) = &mut groups {
                text.push_str(&groups.take(t, query));
            } else if sides.shows(t.side) && crate::query::selects(query, &[&t]) {
                format_into(&mut text, &t, &args.grouping, filter);
            }
            if text.len() > before {
                done = count_off(left);
            }
        }
        out.write(&text)?;
        if done {
            return Err(crate::daemon::Done.into());
        }
        Ok(())
    })
}

/// The working directory whose shared log a reader on this machine reads (`-n DIR`, else the
/// first default that has one), unless it asks the management port (`-T`).
pub(crate) fn shared_dir(reach: &crate::cli::Reach) -> Option<std::path::PathBuf> {
    if reach.admin.is_some() {
        return None;
    }
    let dirs: Vec<std::path::PathBuf> = match &reach.workdir {
        Some(d) => vec![d.into()],
        None => shellac_control::workdir::defaults().into_iter().collect(),
    };
    dirs.into_iter().find(|d| d.join(shared::POINTER).exists())
}

/// Reads the log of the Shellac `reach` names, handing each batch of transactions to `each`
/// as they come (from the oldest it holds with `dump`, which returns once they are all read;
/// else from now on, for ever). On the same machine (`-n DIR`, or a default working directory)
/// it reads the shared file the server fills, costing the server nothing, and turns only the
/// records tagged `tags` into text (of the `Timestamp` records, with `stamps`, only those of
/// these labels); with `-T` it asks the management port (`log.read`) and
/// gets every record. A reader that fell behind says what it lost.
pub(crate) fn follow(
    reach: &crate::cli::Reach,
    dump: bool,
    tags: TagSet,
    stamps: Option<&[&str]>,
    mut each: impl FnMut(Vec<Txn>) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = shared_dir(reach) {
        return follow_shared(&dir, dump, (tags, stamps), &mut |reader| {
            let batch = reader.read().context("the shared log")?;
            let more = !batch.txns.is_empty();
            let txns = batch.txns.into_iter().map(Txn::from).collect();
            each(txns)?;
            Ok((more, batch.lost))
        });
    }
    let mut session = Session::open(reach)?;
    let mut cursor = if dump { "0".to_string() } else { "new".to_string() };
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
        each(txns)?;
        cursor = next.to_string();
        if dump && !more {
            return Ok(ExitCode::SUCCESS);
        }
        if !more {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One read of the shared log by a follower: whether it found any transaction, and what was
/// lost since the last read.
pub(crate) type Take<'a> = dyn FnMut(&mut shared::Reader) -> anyhow::Result<(bool, shared::Lost)> + 'a;

/// [`follow`] through the shared file named in `dir`, `take` reading it each time.
pub(crate) fn follow_shared(
    dir: &std::path::Path,
    dump: bool,
    (tags, stamps): (TagSet, Option<&[&str]>),
    take: &mut Take<'_>,
) -> anyhow::Result<ExitCode> {
    let open = |from_start| {
        let mut r =
            shared::Reader::open(dir, from_start).with_context(|| format!("{}: the shared log", dir.display()))?;
        r.keep_only(tags);
        r.keep_stamps(stamps);
        anyhow::Ok(r)
    };
    let mut reader = open(dump)?;
    let mut pause = Pause::default();
    loop {
        let (more, lost) = match take(&mut reader) {
            Ok(x) => x,
            Err(e) if !dump && matches!(e.downcast_ref(), Some(shared::ReadError::Restarted)) => {
                eprintln!("The server restarted: reading its new log");
                std::thread::sleep(Duration::from_millis(500));
                reader = open(false)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if lost.bytes > 0 && !dump {
            eprintln!("Log overrun: {} bytes of transactions lost (the reader fell behind)", lost.bytes);
        }
        if lost.txns > 0 {
            eprintln!("Log overrun: {} transactions lost (the server's log writer fell behind)", lost.txns);
        }
        if dump && !more {
            return Ok(ExitCode::SUCCESS);
        }
        if more {
            pause.found();
        } else {
            // Nothing for a second: is the server still there? If it stopped, wait for the
            // next one and read its log.
            let (sleep, quiet) = pause.nothing();
            std::thread::sleep(sleep);
            if quiet && !reader.is_current() {
                eprintln!("The server stopped: waiting for it to start again");
                reader = loop {
                    std::thread::sleep(Duration::from_millis(500));
                    if let Ok(r) = open(false) {
                        break r;
                    }
                };
                eprintln!("Reading the new server's log");
            }
        }
    }
}

/// How long a follower of the shared log sleeps when it has caught up: a millisecond while
/// transactions come, so that it reads a little at a time (on a busy machine, a reader that
/// woke to decode 20 ms of a server's transactions at once would keep the CPU it shares
/// from whatever runs there, a load generator or the server itself, for milliseconds on
/// end), twice as long after each read that found nothing, up to [`Pause::LONGEST`].
#[derive(Debug)]
struct Pause {
    next: Duration,
    /// Since the last transaction.
    idle: Duration,
}

impl Default for Pause {
    fn default() -> Pause {
        Pause { next: Pause::SHORTEST, idle: Duration::ZERO }
    }
}

impl Pause {
    const SHORTEST: Duration = Duration::from_millis(1);
    const LONGEST: Duration = Duration::from_millis(20);
    /// How long a follower waits for transactions before it asks whether the server is
    /// still there.
    const QUIET: Duration = Duration::from_secs(1);

    /// A read found transactions.
    fn found(&mut self) {
        *self = Pause::default();
    }

    /// A read found nothing: how long to sleep, and whether, after it, another whole
    /// [`Pause::QUIET`] will have gone by without a transaction.
    fn nothing(&mut self) -> (Duration, bool) {
        let sleep = self.next;
        let before = self.idle;
        self.idle += sleep;
        self.next = (sleep * 2).min(Pause::LONGEST);
        (sleep, before.as_nanos() / Pause::QUIET.as_nanos() != self.idle.as_nanos() / Pause::QUIET.as_nanos())
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
            txns.push(Txn::new(vxid.parse()?, side.chars().next().unwrap_or('-')));
        } else if let Some(t) = txns.last_mut() {
            let (tag, data) = line.split_once(' ').unwrap_or((line, ""));
            // (A tag this reader does not know shows as `Unknown`.)
            t.push(tag, data);
        }
    }
    Ok((next, lost, txns))
}

/// A transaction at a level of a group (`*`/`-` at 1, `**`/`--` at 2), the records `filter`
/// lets through.
pub(crate) fn level(t: &Txn, depth: usize, filter: Option<&Filter>) -> String {
    let begin = t.of(Tag::Begin).next().unwrap_or("");
    let mut out = String::with_capacity(64 + t.data_len() + 20 * t.spans.len());
    group_head(&mut out, depth, kind_of(begin.as_bytes(), t.side), t.vxid);
    let dash = marker('-', depth);
    for (tag, data) in t.tagged() {
        if filter.is_some_and(|f| !f.shows(tag, data)) {
            continue;
        }
        pad(&mut out, &dash, 4);
        pad(&mut out, tag.map_or("Unknown", Tag::name), 14);
        out.push(' ');
        out.push_str(data);
        out.push('\n');
    }
    out
}

/// What varnishlog calls a transaction in its group's head, from its `Begin` record's data
/// and its side.
fn kind_of(begin: &[u8], side: char) -> &'static str {
    match (begin.split(|b| *b == b' ').next(), side) {
        (Some(b"sess"), _) => "Session",
        (Some(b"bereq"), _) | (_, 'b') => "BeReq",
        (_, 'c') => "Request",
        _ => "Session",
    }
}

/// A group's head line at `depth`: `*   << Request  >> 32770     `.
fn group_head(out: &mut String, depth: usize, kind: &str, vxid: u64) {
    pad(out, &marker('*', depth), 4);
    out.push_str("<< ");
    pad(out, kind, 8);
    out.push_str(" >> ");
    pad(out, &vxid.to_string(), 10);
    out.push('\n');
}

/// A level's mark, as varnishlog writes it: `*`, `**`, `***`, then `*4*`, `*5*`, … (and `-` for
/// the records' lines).
fn marker(c: char, depth: usize) -> String {
    if depth <= 3 {
        c.to_string().repeat(depth)
    } else {
        format!("{c}{depth}{c}")
    }
}

/// What every `-g raw` line of a transaction begins with: its vxid in ten columns.
fn raw_prefix(vxid: u64) -> String {
    format!("{vxid:>10} ")
}

/// The side between a `-g raw` line's tag and its data.
fn raw_side(side: char) -> &'static str {
    match side {
        'c' => " c ",
        'b' => " b ",
        _ => " - ",
    }
}

/// `text` left-aligned in `width` columns (as `{:<width}`; records are printed by the
/// hundred thousand a second, without `fmt`).
fn pad(out: &mut String, text: &str, width: usize) {
    const SPACES: &str = "                ";
    out.push_str(text);
    let mut n = width.saturating_sub(text.len());
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// A transaction as varnishlog prints it.
#[cfg(test)]
pub(crate) fn format(t: &Txn, grouping: &str) -> String {
    let mut out = String::new();
    format_into(&mut out, t, grouping, None);
    out
}

/// A transaction as `varnishlog -g raw` prints it, from its bytes as stored (each record
/// turned into text where it is printed).
fn format_raw(out: &mut Vec<u8>, t: &shellac_engine::vsl::Raw<'_>, scratch: &mut Vec<u8>, filter: Option<&Filter>) {
    let (vxid, side) = (raw_prefix(t.vxid), t.side.letter());
    for (tag, data) in t.records() {
        if filter.is_some_and(|f| !f.shows_tag(tag)) {
            continue;
        }
        out.extend_from_slice(vxid.as_bytes());
        out.extend_from_slice(padded_side(tag, side).as_bytes());
        shellac_engine::vsl::push_record(out, tag, data, scratch);
        out.push(b'\n');
    }
}

/// A `-g raw` line's tag in 14 columns and its side (`ReqURL         c `), made once for every
/// tag and side.
fn padded_side(tag: shellac_engine::vsl::Tag, side: char) -> &'static str {
    use shellac_engine::vsl::Tag;
    static NAMES: std::sync::OnceLock<[Vec<String>; 3]> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ['c', 'b', '-'].map(|side| Tag::ALL.iter().map(|t| format!("{}{}", padded(*t), raw_side(side))).collect())
    });
    let of_side = match side {
        'c' => &names[0],
        'b' => &names[1],
        _ => &names[2],
    };
    of_side.get(tag as usize).map_or("", String::as_str)
}

/// A transaction as `varnishlog` prints it by vxid (as [`level`] at 1, then an empty line),
/// from its bytes as stored.
fn format_vxid(out: &mut Vec<u8>, t: &shellac_engine::vsl::Raw<'_>, scratch: &mut Vec<u8>, filter: Option<&Filter>) {
    let begin = t.records().find(|(tag, _)| *tag == Tag::Begin).map_or(&b""[..], |(_, d)| d);
    let mut head = String::with_capacity(40);
    group_head(&mut head, 1, kind_of(begin, t.side.letter()), t.vxid);
    out.extend_from_slice(head.as_bytes());
    for (tag, data) in t.records() {
        if filter.is_some_and(|f| !f.shows_tag(tag)) {
            continue;
        }
        out.extend_from_slice(b"-   ");
        out.extend_from_slice(padded(tag).as_bytes());
        out.push(b' ');
        shellac_engine::vsl::push_record(out, tag, data, scratch);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// A tag's name in 14 columns (as `{:<14}`), made once for every tag.
fn padded(tag: shellac_engine::vsl::Tag) -> &'static str {
    use shellac_engine::vsl::Tag;
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        Tag::ALL
            .iter()
            .map(|t| {
                let mut s = String::new();
                pad(&mut s, t.name(), 14);
                s
            })
            .collect()
    });
    names.get(tag as usize).map_or("", String::as_str)
}

/// A transaction as varnishlog prints it, added to `out` (the batch's text: records are
/// printed by the hundred thousand a second, each copied once).
pub(crate) fn format_into(out: &mut String, t: &Txn, grouping: &str, filter: Option<&Filter>) {
    if grouping == "raw" {
        // (What every line of it begins with, made once.)
        let (vxid, side) = (raw_prefix(t.vxid), raw_side(t.side));
        out.reserve(t.data_len() + 30 * t.spans.len());
        for (tag, data) in t.tagged() {
            if filter.is_some_and(|f| !f.shows(tag, data)) {
                continue;
            }
            out.push_str(&vxid);
            pad(out, tag.map_or("Unknown", Tag::name), 14);
            out.push_str(side);
            out.push_str(data);
            out.push('\n');
        }
        return;
    }
    out.push_str(&level(t, 1, filter));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_sleeps_a_millisecond_while_transactions_come_and_longer_when_none_do() {
        let ms = |n| Duration::from_millis(n);
        let mut p = Pause::default();
        let sleeps: Vec<_> = (0..7).map(|_| p.nothing().0).collect();
        assert_eq!(sleeps, [ms(1), ms(2), ms(4), ms(8), ms(16), ms(20), ms(20)]);
        p.found();
        assert_eq!(p.nothing(), (ms(1), false));
        // After a second without any, and after each further second: is the server there?
        let mut p = Pause::default();
        let quiet: Vec<_> = (1..=120).filter(|_| p.nothing().1).collect();
        // (1 + 2 + 4 + 8 + 16 = 31 ms in five sleeps, then 20 ms each: 49 more reach 1,011 ms.)
        assert_eq!(quiet, [54, 104]);
    }

    #[test]
    fn a_server_restart_is_seen_through_the_error_s_context() {
        // (What the follower of the shared file tells from any other error, to read the new
        // server's log rather than stop.)
        let e = Err::<(), _>(shared::ReadError::Restarted).context("the shared log").unwrap_err();
        assert!(matches!(e.downcast_ref(), Some(shared::ReadError::Restarted)));
        let other = Err::<(), _>(shared::ReadError::NotALog("x".into())).context("the shared log").unwrap_err();
        assert!(!matches!(other.downcast_ref(), Some(shared::ReadError::Restarted)));
    }

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
        let mut groups = crate::groups::Groups::new(crate::groups::Grouping::Request, None, Sides::ALL);
        let (_, _, mut txns2) = parse(
            "next 2 lost 0\n* 3 b\nBegin bereq 2 fetch\nEnd \n* 2 c\nBegin req 1 rxreq\nLink bereq 3 fetch\nEnd \n",
        )
        .expect("parses");
        let client = txns2.pop().expect("client");
        assert_eq!(groups.take(txns2.pop().expect("fetch"), None), "", "the fetch waits for its request");
        assert_eq!(
            groups.take(client, None),
            "*   << Request  >> 2         \n-   Begin          req 1 rxreq\n-   Link           bereq 3 fetch\n\
             -   End            \n**  << BeReq    >> 3         \n--  Begin          bereq 2 fetch\n--  End            \n\n"
        );
        assert_eq!(
            format(&txns[0], "raw"),
            "     32770 Begin          c req 32769 rxreq\n     32770 ReqURL         c /a\n     32770 End            c \n"
        );
    }
}
