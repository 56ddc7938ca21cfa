//! The working directory (`-n DIR`) as clients of varnishd read it: `_.pid`, and in `_.vsm_mgt/`
//! an `_.index` naming the segments that hold the `-T` address and the `-S` secret path, so that
//! `varnishadm -n DIR` and Debian's `varnishreload` find the management port. Only those
//! segments are written; statistics and logs are not. [`discover`] reads them back for
//! `shellac adm -n DIR`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes the files; `admin` is the bound management address, `secret` the secret file.
pub fn publish(dir: &Path, admin: std::net::SocketAddr, secret: Option<&Path>) -> std::io::Result<()> {
    let mgt = dir.join("_.vsm_mgt");
    std::fs::create_dir_all(&mgt)?;
    let pid = std::process::id();
    std::fs::write(dir.join("_.pid"), format!("{pid}\n"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut index = format!("# {pid} {now}\n");
    let mut segment = |tag: &str, value: &str| -> std::io::Result<()> {
        let file = format!("_.Arg.{:016x}", fxhash(&format!("{pid}{tag}{value}")));
        // A C string padded to a multiple of 8, in a 4 KiB segment, as varnishd writes them.
        let len = (value.len() + 1).div_ceil(8) * 8;
        let mut bytes = value.as_bytes().to_vec();
        bytes.resize(4096.max(len), 0);
        std::fs::write(mgt.join(&file), bytes)?;
        index.push_str(&format!("+ {file} 0 {len} Arg {tag}\n"));
        Ok(())
    };
    segment("-T", &format!("{} {}\n", admin.ip(), admin.port()))?;
    if let Some(s) = secret {
        segment("-S", &absolute(s).to_string_lossy())?;
    }
    // Written last and whole, so a reader never sees an index naming missing segments.
    let tmp = mgt.join("_.index.tmp");
    std::fs::File::create(&tmp)?.write_all(index.as_bytes())?;
    std::fs::rename(tmp, mgt.join("_.index"))
}

/// Reads back what [`publish`] (or varnishd) wrote: the management address and the secret
/// file, as `varnishadm -n DIR` finds them.
pub fn discover(dir: &Path) -> std::io::Result<(String, Option<PathBuf>)> {
    let mgt = dir.join("_.vsm_mgt");
    let index = std::fs::read_to_string(mgt.join("_.index"))?;
    let segment = |tag: &str| -> std::io::Result<Option<String>> {
        for line in index.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 6 && f[0] == "+" && f[4] == "Arg" && f[5] == tag {
                let offset: usize = f[2].parse().unwrap_or(0);
                let bytes = std::fs::read(mgt.join(f[1]))?;
                let text = bytes.get(offset..).unwrap_or(&[]);
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                return Ok(Some(String::from_utf8_lossy(&text[..end]).into_owned()));
            }
        }
        Ok(None)
    };
    let t = segment("-T")?.ok_or_else(|| std::io::Error::other("no -T in the working directory"))?;
    // "ADDR PORT\n", possibly several lines; the first is enough.
    let first = t.lines().next().unwrap_or("");
    let (host, port) =
        first.rsplit_once(' ').ok_or_else(|| std::io::Error::other(format!("bad -T entry {first:?}")))?;
    let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    Ok((addr, segment("-S")?.map(PathBuf::from)))
}

/// Creates `DIR/_.secret` with random contents (mode 0600), as varnishd does without `-S`.
pub fn generate_secret(dir: &Path) -> std::io::Result<PathBuf> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join("_.secret");
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    let text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&path)?;
    f.write_all(format!("{text}\n").as_bytes())?;
    Ok(path)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
