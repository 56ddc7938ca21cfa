//! `beresp.filters` and `resp.filters`: the processing a body goes through, as the list of
//! names Varnish 7.1 shows (with its leading space: `" testgunzip"`). Shellac has the gzip ones;
//! `esi` and `esi_gzip` fail the VCL (ESI is not supported), any other name too ("not found").

use http::header::CONTENT_ENCODING;
use http::HeaderMap;

use crate::error::VclFail;
use crate::vrt::Beresp;

/// `beresp.filters` as the flags make it now: `gunzip` for a gzip body with `do_gunzip`,
/// `testgunzip` for one kept gzip, `gzip` for a plain body with `do_gzip`.
pub fn beresp_list(b: &Beresp) -> &'static str {
    match (is_gzip(&b.headers), b.do_gunzip, b.do_gzip) {
        (true, true, _) => " gunzip",
        (true, false, _) => " testgunzip",
        (false, _, true) => " gzip",
        (false, _, false) => "",
    }
}

/// `set beresp.filters = list`: the flags it stands for.
pub fn set_beresp(b: &mut Beresp, list: &str) -> Result<(), VclFail> {
    let (mut gzip, mut gunzip) = (false, false);
    for name in names(list)? {
        match name {
            "gzip" => gzip = true,
            "gunzip" => gunzip = true,
            "testgunzip" => {}
            _ => return Err(unknown(name)),
        }
    }
    (b.do_gzip, b.do_gunzip) = (gzip, gunzip);
    Ok(())
}

/// `resp.filters` by default: `gunzip` when a gzip body goes to a client that does not take it,
/// `range` for a `Range` request of a 200 answer (with `http_range_support`).
pub fn resp_list(unpack: bool, range: bool) -> String {
    match (unpack, range) {
        (false, false) => String::new(),
        (true, false) => " gunzip".into(),
        (false, true) => " range".into(),
        (true, true) => " gunzip range".into(),
    }
}

/// Whether a `resp.filters` list cuts a range.
pub fn resp_ranges(list: &str) -> bool {
    list.split_ascii_whitespace().any(|n| n == "range")
}

/// Checks a `resp.filters` list (`gunzip` and `range` are Shellac's delivery filters).
pub fn check_resp(list: &str) -> Result<(), VclFail> {
    names(list)?.into_iter().find(|n| !matches!(*n, "gunzip" | "range")).map_or(Ok(()), |n| Err(unknown(n)))
}

/// Whether a `resp.filters` list unpacks the body.
pub fn resp_unpacks(list: &str) -> bool {
    list.split_ascii_whitespace().any(|n| n == "gunzip")
}

fn names(list: &str) -> Result<Vec<&str>, VclFail> {
    let names: Vec<&str> = list.split_ascii_whitespace().collect();
    if let Some(esi) = names.iter().find(|n| n.starts_with("esi")) {
        return Err(VclFail(format!("Filter '{esi}': ESI is not supported by Shellac")));
    }
    Ok(names)
}

fn unknown(name: &str) -> VclFail {
    VclFail(format!("Filter '{name}' not found"))
}

/// Whether a message's body is gzip.
pub fn is_gzip(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_varnishd_knows_and_shellac_has_pass_the_others_fail() {
        assert!(check_resp(" gunzip range").is_ok());
        assert!(check_resp("").is_ok());
        assert!(check_resp("esi").unwrap_err().0.contains("ESI"));
        assert!(check_resp("brotli").unwrap_err().0.contains("not found"));
        assert!(resp_unpacks(" gunzip") && !resp_unpacks(" range"));
    }
}
