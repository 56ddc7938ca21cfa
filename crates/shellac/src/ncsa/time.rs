//! `%t`: times as varnishncsa writes them, in UTC.

/// `t` (seconds since the epoch) in a strftime format, in UTC (see
/// [`shellac_engine::strftime`]), and varnishncsa's `sec`, `msec`, `usec`, `msec_frac`,
/// `usec_frac`.
pub(super) fn strftime(f: &str, t: f64) -> String {
    let ext = f.strip_prefix("%{").and_then(|x| x.strip_suffix('}')).unwrap_or(f);
    match ext {
        "sec" => format!("{}", t as i64),
        "msec" => format!("{}", (t * 1e3) as i64),
        "usec" => format!("{}", (t * 1e6) as i64),
        "msec_frac" => format!("{:03}", ((t.fract()) * 1e3) as i64),
        "usec_frac" => format!("{:06}", ((t.fract()) * 1e6) as i64),
        _ => shellac_engine::strftime::strftime(f, t, "UTC"),
    }
}

/// `%t`: `t` in the format `f` (see [`strftime`]). A whole-second format is made once a
/// second, not once a line: the last one made is kept.
pub(super) fn push_time(out: &mut String, f: &str, t: f64) {
    thread_local! {
        static LAST: std::cell::RefCell<(String, i64, String)> = const { std::cell::RefCell::new((String::new(), i64::MIN, String::new())) };
    }
    // (varnishncsa's sub-second forms change within a second: made each time.)
    let whole = !f.contains("sec") && t.is_finite() && t.abs() < 1e17;
    if !whole {
        out.push_str(&strftime(f, t));
        return;
    }
    let second = t.floor() as i64;
    LAST.with_borrow_mut(|(format, at, text)| {
        if *at != second || format != f {
            *text = strftime(f, t);
            (*at, *format) = (second, f.to_string());
        }
        out.push_str(text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_in_utc() {
        assert_eq!(strftime("[%d/%b/%Y:%T %z]", 0.0), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(strftime("%F %T %a %j", 951_782_400.0), "2000-02-29 00:00:00 Tue 060");
        assert_eq!(strftime("%{usec_frac}", 1.25), "250000");
        assert_eq!(strftime("msec_frac", 1.25), "250");
    }

    #[test]
    fn a_time_made_once_a_second_is_made_again_for_the_next_second_and_another_format() {
        let t = |f: &str, at: f64| {
            let mut out = String::new();
            push_time(&mut out, f, at);
            out
        };
        let f = "[%d/%b/%Y:%T %z]";
        assert_eq!(t(f, 0.2), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(t(f, 0.9), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(t(f, 1.0), "[01/Jan/1970:00:00:01 +0000]");
        assert_eq!(t("%F", 1.5), "1970-01-01");
        assert_eq!(t(f, 1.5), "[01/Jan/1970:00:00:01 +0000]");
        assert_eq!(t(f, -0.5), "[31/Dec/1969:23:59:59 +0000]");
        // Sub-second forms are made each time.
        assert_eq!(t("%{msec_frac}", 1.25), "250");
        assert_eq!(t("%{msec_frac}", 1.75), "750");
    }
}
