//! The reason phrase Varnish gives a status it makes (`synth(S)`, `error(S)`) or that VCL assigns
//! (`set resp.status`, `set beresp.status`): its own list, which is not `http`'s. It keeps the
//! older wording for 203, 413, 414 and 416, has `(Unused)` for 306, has no phrase for 418, and
//! calls every code it does not list "Unknown HTTP Status". Checked against varnishd 7.1.1, code
//! by code from 100 to 999. A reason a backend sends is its own and is never replaced by these.

/// The phrase of a code varnishd does not list.
pub const UNKNOWN: &str = "Unknown HTTP Status";

/// The phrase varnishd gives `status` (its last three digits), if it lists one.
pub fn standard(status: u32) -> Option<&'static str> {
    Some(match status % 1000 {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        306 => "(Unused)",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// The phrase varnishd gives `status`: its listed one, else [`UNKNOWN`].
pub fn of(status: u32) -> &'static str {
    standard(status).unwrap_or(UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where varnishd's phrases differ from `http`'s (and from the RFCs' latest wording).
    #[test]
    fn the_phrases_where_varnishd_and_http_differ_are_varnishds() {
        let rows: &[(u32, &str)] = &[
            (203, "Non-Authoritative Information"),
            (306, "(Unused)"),
            (413, "Request Entity Too Large"),
            (414, "Request-URI Too Long"),
            (416, "Requested Range Not Satisfiable"),
            (418, UNKNOWN),
        ];
        for &(code, phrase) in rows {
            assert_eq!(of(code), phrase, "{code}");
        }
        // (varnishd 7.1.1 lists 62 codes from 100 to 999.)
        assert_eq!((100..1000).filter(|&c| standard(c).is_some()).count(), 62);
    }

    #[test]
    fn unlisted_codes_are_unknown_and_only_the_last_three_digits_count() {
        for code in [104, 199, 209, 299, 309, 418, 420, 430, 499, 509, 599, 600, 999] {
            assert_eq!(standard(code), None, "{code}");
            assert_eq!(of(code), UNKNOWN, "{code}");
        }
        assert_eq!(of(1404), "Not Found");
        assert_eq!(of(65503), "Service Unavailable");
    }
}
