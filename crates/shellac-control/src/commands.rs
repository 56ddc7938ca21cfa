//! THE command table of the management port (as Varnish's `cli_cmds.h`): name, synopsis, help,
//! argument counts, and whether it works before authentication. The server checks argument
//! counts from here and `help` prints from here.

/// One command's row.
#[derive(Debug)]
pub struct CommandDef {
    /// Its name.
    pub name: &'static str,
    /// Its synopsis as `help` shows it.
    pub syntax: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments (`usize::MAX`: no limit).
    pub max: usize,
    /// Usable before authentication.
    pub pre_auth: bool,
}

const fn c(
    name: &'static str,
    syntax: &'static str,
    help: &'static str,
    min: usize,
    max: usize,
    pre_auth: bool,
) -> CommandDef {
    CommandDef { name, syntax, help, min, max, pre_auth }
}

const ANY: usize = usize::MAX;

/// Every command, in `help` order.
pub const COMMANDS: &[CommandDef] = &[
    c("auth", "auth <response>", "Authenticate.", 1, 1, true),
    c("backend.list", "backend.list [-j] [-p] [<backend_pattern>]", "List backends.", 0, 3, false),
    c(
        "backend.set_health",
        "backend.set_health <backend_pattern> [auto|healthy|sick]",
        "Set health status of backend(s).",
        2,
        2,
        false,
    ),
    c(
        "ban",
        "ban <field> <operator> <arg> [&& <field> <oper> <arg> ...]",
        "Mark obsolete all objects where all the conditions match.",
        3,
        ANY,
        false,
    ),
    c(
        "ban.cluster",
        "ban.cluster <field> <operator> <arg> [&& <field> <oper> <arg> ...]",
        "Ban on every node watching etcd (written there; applied here too).",
        3,
        ANY,
        false,
    ),
    c("ban.list", "ban.list [-j]", "List the active bans.", 0, 1, false),
    c("banner", "banner", "Print welcome banner.", 0, 0, false),
    c(
        "discovery.status",
        "discovery.status [-j]",
        "Show the etcd watch: connection, revision, resyncs, bad keys.",
        0,
        1,
        false,
    ),
    c("help", "help [-j|<command>]", "Show command/protocol help.", 0, 2, true),
    c(
        "log.read",
        "log.read <cursor|new> [<max>]",
        "The transaction log after a cursor (for shellac log): next cursor, transactions lost, records.",
        1,
        2,
        false,
    ),
    c("panic.clear", "panic.clear [-z]", "Clear the last panic, if any (-z: its counter too).", 0, 1, false),
    c("panic.show", "panic.show [-j]", "Return the last panic, if any.", 0, 1, false),
    c("param.reset", "param.reset <param>", "Reset parameter to default value.", 1, 1, false),
    c("param.set", "param.set [-j] <param> <value>", "Set parameter value.", 2, 3, false),
    c("param.show", "param.show [-l|-j] [<param>|changed]", "Show parameters and their values.", 0, 2, false),
    c("pid", "pid [-j]", "Show the process id (Shellac's master and worker are one process).", 0, 1, false),
    c("ping", "ping [-j] [<timestamp>]", "Keep connection alive.", 0, 2, true),
    c("quit", "quit", "Close connection.", 0, 0, true),
    c("start", "start", "Start serving (Shellac serves from the start: always running).", 0, 0, false),
    c("stats", "stats", "Every counter, as varnishstat -j lays them out (for shellac stat).", 0, 0, false),
    c("status", "status [-j]", "Check status of Varnish cache process.", 0, 1, false),
    c("stop", "stop", "Stop serving (Shellac has no child to stop: stop the process).", 0, 0, false),
    c("storage.list", "storage.list [-j]", "List storage devices.", 0, 1, false),
    c("vcl.deps", "vcl.deps [-j]", "List all loaded configuration and their dependencies.", 0, 1, false),
    c(
        "vcl.discard",
        "vcl.discard <name_pattern>...",
        "Unload the named configurations (when possible).",
        1,
        ANY,
        false,
    ),
    c(
        "vcl.inline",
        "vcl.inline <configname> <quoted_VCLstring> [auto|cold|warm]",
        "Compile and load the VCL data under the name provided.",
        2,
        3,
        false,
    ),
    c("vcl.label", "vcl.label <label> <configname>", "Apply label to configuration.", 2, 2, false),
    c("vcl.list", "vcl.list [-j]", "List all loaded configuration.", 0, 1, false),
    c(
        "vcl.load",
        "vcl.load <configname> <filename> [auto|cold|warm]",
        "Compile and load the VCL file under the name provided.",
        2,
        3,
        false,
    ),
    c(
        "vcl.show",
        "vcl.show [-v] [<configname>]",
        "Display the source code for the specified configuration.",
        0,
        2,
        false,
    ),
    c(
        "vcl.state",
        "vcl.state <configname> [auto|cold|warm]",
        "Force the state of the named configuration.",
        2,
        2,
        false,
    ),
    c("vcl.use", "vcl.use <configname|label>", "Switch to the named configuration immediately.", 1, 1, false),
];

/// A command by name.
pub fn command(name: &str) -> Option<&'static CommandDef> {
    COMMANDS.iter().find(|d| d.name == name)
}

// === impl CommandDef ===

impl CommandDef {
    /// Whether it answers in JSON with `-j`.
    pub fn json(&self) -> bool {
        self.syntax.contains("-j")
    }

    /// Its fewest and most arguments as varnishd counts them in `help -j` (a lone `[-j]` is not
    /// one; -1: no limit).
    pub fn arg_range(&self) -> (i64, i64) {
        let max = match self.max {
            ANY => -1,
            m if self.syntax.contains("[-j]") => m as i64 - 1,
            m => m as i64,
        };
        (self.min as i64, max)
    }

    /// varnishd's flags: `i` for the commands its CLI answers itself (`help`, `ping`).
    pub fn flags(&self) -> &'static str {
        if matches!(self.name, "help" | "ping") {
            "i"
        } else {
            ""
        }
    }
}

/// `help [-j|<command>]`: the synopses, one a line; a command's synopsis and what it does; or,
/// with `-j`, every command as varnishd's `help -j` lists them. `None`: no such command.
pub fn help(args: &[String]) -> Option<String> {
    if args.iter().any(|a| a == "-j") {
        return Some(help_json(args));
    }
    match args.first() {
        Some(name) => command(name).map(|d| format!("{}\n{}\n", d.syntax, d.help)),
        None => Some(COMMANDS.iter().map(|d| format!("{}\n", d.syntax)).collect()),
    }
}

fn help_json(args: &[String]) -> String {
    use crate::json::string;
    let items: Vec<String> = COMMANDS
        .iter()
        .map(|d| {
            let (min, max) = d.arg_range();
            format!(
                "  {{\n    \"request\": {},\n    \"syntax\": {},\n    \"help\": {},\n    \"minarg\": {min},\n    \"maxarg\": {max},\n    \"flags\": {},\n    \"json\": {}\n  }}",
                string(d.name),
                string(d.syntax),
                string(d.help),
                string(d.flags()),
                d.json()
            )
        })
        .collect();
    format!("{}{}\n]\n", crate::json::header(2, "help", args), items.join(",\n"))
}
