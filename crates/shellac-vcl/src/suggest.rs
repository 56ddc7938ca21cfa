//! "Did you mean": for a name the checker does not know, the known name closest to it by edit
//! distance (insertions, deletions, substitutions and swaps of two neighbours), when it is close
//! enough to be a slip of the fingers and not a different word: at most one edit in a name of
//! up to five characters, a third of its length past that.

/// The candidate closest to `name`, if one is close enough (the first of equals).
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        // (Lengths apart by more than the limit cannot be within it.)
        if c.chars().count().abs_diff(name.chars().count()) > max {
            continue;
        }
        let d = distance(name, c);
        if d <= max && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance with swaps of neighbours (optimal string alignment), over characters.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back (for a swap), the last, this one.
    let mut back2 = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(back2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut back2, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits_and_swaps() {
        for (a, b, d) in [
            ("", "", 0),
            ("url", "url", 0),
            ("ulr", "url", 1),
            ("req.ur", "req.url", 1),
            ("req.urll", "req.url", 1),
            ("req.xrl", "req.url", 1),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
        ] {
            assert_eq!(distance(a, b), d, "{a} / {b}");
            assert_eq!(distance(b, a), d, "{b} / {a}");
        }
    }

    #[test]
    fn only_a_close_name_is_suggested() {
        let vars = ["req.url", "req.method", "req.proto", "resp.status"];
        assert_eq!(closest("req.ulr", vars), Some("req.url"));
        assert_eq!(closest("req.mehtod", vars), Some("req.method"));
        assert_eq!(closest("resp.stauts", vars), Some("resp.status"));
        // Too far from anything, or the same name.
        assert_eq!(closest("req.backend", vars), None);
        assert_eq!(closest("req.url", ["req.url"]), None);
        // A short name takes one edit, no more.
        assert_eq!(closest("fo", ["foo"]), Some("foo"));
        assert_eq!(closest("ab", ["xy"]), None);
        // The nearest wins over the first.
        assert_eq!(closest("helpr", ["help_me", "helper"]), Some("helper"));
    }
}
