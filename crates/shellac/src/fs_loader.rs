//! The file-system [`Loader`] through which the VCL front end reads included files.

use shellac_vcl::source::fnmatch;
use shellac_vcl::{LoadError, Loader};

/// Reads files from disk; globs match in the last path component.
pub(crate) struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        match std::fs::read(path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LoadError::NotFound),
            Err(e) => Err(LoadError::Other(e.to_string())),
        }
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, LoadError> {
        let (dir, file) = pattern.rsplit_once('/').unwrap_or((".", pattern));
        let dir = if dir.is_empty() { "/" } else { dir };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(LoadError::Other(e.to_string())),
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && fnmatch(file, name))
            .map(|name| format!("{}/{name}", dir.trim_end_matches('/')))
            .collect();
        out.sort();
        Ok(out)
    }
}
