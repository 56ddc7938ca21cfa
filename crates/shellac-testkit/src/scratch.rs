//! Scratch directories for tests: each is new and empty (`shellac-LABEL-PID-N` under the
//! system's temp directory) and is removed, with everything in it, when its [`Scratch`] is
//! dropped, so that a test run leaves nothing behind. A directory a `shellac` process works in
//! is handed to its [`crate::Shellac`] ([`crate::Shellac::owning`]), which removes it after the
//! process has stopped.

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
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
