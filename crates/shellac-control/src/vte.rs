//! Varnish's text-table formatter (VTE, spec §2.7): tab-separated rows laid out in columns of an
//! 80-character screen. Lines that start with a space are copied as they are and do not count
//! for the column widths.

/// Lays out `text` (rows separated by `\n`, cells by `\t`).
pub fn format(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut widths: Vec<usize> = Vec::new();
    let mut longest = 0usize;
    let mut ncols = 0usize;
    for line in &lines {
        let l = line.trim_end_matches('\n');
        if l.starts_with(' ') {
            continue;
        }
        let cells: Vec<&str> = l.split('\t').collect();
        ncols = ncols.max(cells.len());
        longest = longest.max(l.chars().count());
        for (k, c) in cells.iter().enumerate() {
            let w = c.chars().count() + usize::from(k > 0);
            if widths.len() <= k {
                widths.push(0);
            }
            widths[k] = widths[k].max(w);
        }
    }
    let pad = 80usize.saturating_sub(longest).checked_div(ncols).map_or(1, |p| p.clamp(1, 3));
    let mut out = String::new();
    for line in lines {
        let (l, nl) = match line.strip_suffix('\n') {
            Some(l) => (l, true),
            None => (line, false),
        };
        if l.starts_with(' ') {
            out.push_str(l);
        } else {
            let cells: Vec<&str> = l.split('\t').collect();
            for (k, c) in cells.iter().enumerate() {
                out.push_str(c);
                if k + 1 < cells.len() {
                    let target = widths[k] + pad;
                    for _ in c.chars().count()..target {
                        out.push(' ');
                    }
                }
            }
        }
        if nl {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_list_header_lays_out_as_varnish_prints_it() {
        let t = "Backend name\tAdmin\tProbe\tHealth\tLast change\nboot.web001\tprobe\t8/8\thealthy\tSat, 21 Nov 2026 03:00:00 GMT\n";
        let out = format(t);
        let first = out.lines().next().unwrap();
        assert_eq!(first, "Backend name   Admin    Probe    Health     Last change");
        assert!(out.lines().nth(1).unwrap().starts_with("boot.web001    probe    8/8      healthy    Sat"));
    }
}
