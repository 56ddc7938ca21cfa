//! The commands about the process itself, which varnishd answers for its two (a manager and the
//! child that serves): `pid`, `panic.show`, `panic.clear`, `start`, `stop`. Shellac is one
//! process that serves from the start, so they answer as varnishd does with a running child that
//! never panicked, and `stop` says how to stop it instead of stopping the serving alone.

use crate::manager::Failure;
use crate::proto::Status;

/// `pid [-j]`: the process id, as the master's and as the worker's.
pub fn pid(args: &[String]) -> String {
    let pid = std::process::id();
    if args.iter().any(|a| a == "-j") {
        return format!("{}  {{\"master\": {pid}, \"worker\": {pid}}}\n]\n", crate::json::header(2, "pid", args));
    }
    format!("Master: {pid:>10}\nWorker: {pid:>10}\n")
}

/// `panic.show [-j]`: nothing to show (a Rust panic in a request ends that request; it is
/// logged, and there is no child to restart).
pub fn panic_show() -> Result<String, Failure> {
    Err((Status::Cant, "Child has not panicked or panic has been cleared".into()))
}

/// `panic.clear [-z]`: nothing to clear; with `-z` (clear the counter too) that is no error.
pub fn panic_clear(args: &[String]) -> Result<String, Failure> {
    match args.first().map(String::as_str) {
        None => Err((Status::Cant, "No panic to clear".into())),
        Some("-z") => Ok(String::new()),
        Some(other) => Err((Status::Param, format!("Unknown parameter \"{other}\"."))),
    }
}

/// `start`: the serving is running already, as varnishd says of a running child.
pub fn start() -> Result<String, Failure> {
    Err((Status::Cant, "Child in state running".into()))
}

/// `stop`: there is no child apart from the process.
pub fn stop() -> Result<String, Failure> {
    Err((
        Status::Cant,
        "Shellac serves in one process, with no child to stop apart from it: stop the process (SIGTERM drains it)"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_is_laid_out_as_varnishd_lays_it_out() {
        let id = std::process::id();
        assert_eq!(pid(&[]), format!("Master: {id:>10}\nWorker: {id:>10}\n"));
        assert_eq!(pid(&[]).lines().next().map(str::len), Some(18));
        let json = pid(&["-j".into()]);
        assert!(json.starts_with("[ 2, [\"pid\", \"-j\"], "), "{json}");
        assert!(json.ends_with(&format!("  {{\"master\": {id}, \"worker\": {id}}}\n]\n")), "{json}");
    }

    #[test]
    fn panics_start_and_stop_answer_as_for_a_running_child_that_never_panicked() {
        assert_eq!(panic_show().unwrap_err().0, Status::Cant);
        assert_eq!(panic_clear(&[]).unwrap_err(), (Status::Cant, "No panic to clear".to_string()));
        assert_eq!(panic_clear(&["-z".into()]), Ok(String::new()));
        assert_eq!(panic_clear(&["-x".into()]).unwrap_err(), (Status::Param, "Unknown parameter \"-x\".".to_string()));
        assert_eq!(start().unwrap_err(), (Status::Cant, "Child in state running".to_string()));
        assert!(stop().unwrap_err().1.contains("SIGTERM"));
    }
}
