//! Scratch directories for tests: each is new and empty (`shellac-LABEL-PID-N` under the
//! system's temp directory) and is removed, with everything in it, when its [`Scratch`] is
//! dropped, so that a test run leaves nothing behind. A directory a `shellac` process works in
//! is handed to its [`crate::Shellac`] ([`crate::Shellac::owning`]), which removes it after the
//! process has stopped; the shared log file such a working directory names (in `/dev/shm`,
//! which a killed server cannot remove) goes with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory removed when this is dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

// === impl Scratch ===

impl Scratch {
    /// A new, empty directory named after `label`.
    pub fn new(label: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("shellac-{label}-{}-{n}", std::process::id()));
        // (A directory left by a killed run whose process id came round again.)
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory as text (for command-line arguments).
    pub fn dir(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` to the file `name` in it; the file's path as text.
    pub fn write(&self, name: &str, text: &str) -> String {
        let f = self.join(name);
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        f.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_shared_logs(&self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the shared log files (and their readers' marks) that the `shellac` working
/// directories in `dir` (it, or one or two levels down) name in their `_.vsl`: a server that
/// stops removes its own, one that is killed leaves it behind. Only files named as a server
/// names them are removed.
pub fn remove_shared_logs(dir: &Path) {
    fn walk(dir: &Path, depth: usize) {
        let pointer = dir.join("_.vsl");
        if let Ok(text) = std::fs::read_to_string(&pointer) {
            let file = PathBuf::from(text.trim());
            if file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("shellac-vsl-")) {
                let mut marks = file.clone().into_os_string();
                marks.push(".readers");
                let _ = std::fs::remove_file(&file);
                let _ = std::fs::remove_file(PathBuf::from(marks));
            }
        }
        if depth == 0 {
            return;
        }
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), depth - 1);
            }
        }
    }
    walk(dir, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_log_a_working_directory_in_it_names_goes_with_it() {
        let shm = Scratch::new("scratch-test-shm");
        let log = shm.write("shellac-vsl-1-abc", "log");
        let marks = shm.write("shellac-vsl-1-abc.readers", "");
        let other = shm.write("not-a-log", "kept");
        let s = Scratch::new("scratch-test");
        std::fs::create_dir_all(s.join("work")).expect("mkdir");
        std::fs::write(s.join("work/_.vsl"), format!("{log}\n")).expect("pointer");
        // A pointer to a file no server would make is left alone.
        std::fs::write(s.join("_.vsl"), format!("{other}\n")).expect("pointer");
        drop(s);
        assert!(!Path::new(&log).exists() && !Path::new(&marks).exists());
        assert!(Path::new(&other).exists());
    }

    #[test]
    fn each_is_new_and_is_gone_with_its_contents_when_dropped() {
        let (a, b) = (Scratch::new("scratch-test"), Scratch::new("scratch-test"));
        assert_ne!(a.path(), b.path());
        let f = a.write("f.txt", "x");
        std::fs::create_dir_all(a.join("sub/dir")).expect("mkdir");
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "x");
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists(), "{} is left", path.display());
        assert!(b.path().is_dir());
    }
}
