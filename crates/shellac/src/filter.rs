//! varnishlog's record filters, which choose the records of the transactions shown that are
//! printed (a query still sees them all): `-i TAGLIST` (only these tags), `-x TAGLIST` (never
//! these), `-I [TAGLIST:]REGEX` (records, of those tags if given, whose data matches: printed,
//! and with no `-i`, the only ones), `-X [TAGLIST:]REGEX` (records that match: not printed). A
//! tag list is names or globs (`Req*`, `*Header`, `*`), any case, separated by commas; each
//! option may be given again.

use shellac_engine::vsl::{Tag, TagSet};

/// A bad filter option: which, and why.
#[derive(Debug)]
pub(crate) enum FilterError {
    /// A tag list names no tag.
    NoSuchTag { option: char, list: String, name: String },
    /// A regular expression does not compile.
    BadRegex { option: char, text: String, why: String },
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::NoSuchTag { option, list, name } => write!(f, "-{option} {list:?}: no tag is called {name:?}"),
            FilterError::BadRegex { option, text, why } => {
                write!(f, "-{option} {text:?}: bad regular expression: {why}")
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// The record filters given.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    /// `-i`: the tags printed (`None`: no `-i` given).
    include: Option<TagSet>,
    /// `-x`: the tags never printed.
    exclude: TagSet,
    /// `-I`: records printed when they match.
    select: Vec<Pattern>,
    /// `-X`: records not printed when they match.
    suppress: Vec<Pattern>,
}

/// A `-I`/`-X` pattern: the tags it looks at (all without a list) and its expression.
#[derive(Clone, Debug)]
struct Pattern {
    tags: Option<TagSet>,
    re: regex::Regex,
}

impl Filter {
    /// The filter the options make; `None` when none was given.
    pub(crate) fn parse(
        include: &[String],
        exclude: &[String],
        select: &[String],
        suppress: &[String],
    ) -> Result<Option<Filter>, FilterError> {
        if include.is_empty() && exclude.is_empty() && select.is_empty() && suppress.is_empty() {
            return Ok(None);
        }
        let union = |option: char, lists: &[String]| -> Result<TagSet, FilterError> {
            lists.iter().try_fold(TagSet::of(&[]), |set, list| Ok(set.union(tags(option, list)?)))
        };
        Ok(Some(Filter {
            include: if include.is_empty() { None } else { Some(union('i', include)?) },
            exclude: union('x', exclude)?,
            select: select.iter().map(|p| pattern('I', p)).collect::<Result<_, _>>()?,
            suppress: suppress.iter().map(|p| pattern('X', p)).collect::<Result<_, _>>()?,
        }))
    }

    /// Whether a record is printed only by its tag (no `-I` or `-X`: the data need not be
    /// text to decide).
    pub(crate) fn by_tag_only(&self) -> bool {
        self.select.is_empty() && self.suppress.is_empty()
    }

    /// Whether a record of `tag` (`None`: one this reader does not know) with `data` is printed,
    /// as varnishlog decides: `-x` first, then a matching `-I`, then a matching `-X`, then `-i`
    /// (or, with `-I` but no `-i`, nothing else).
    pub(crate) fn shows(&self, tag: Option<Tag>, data: &str) -> bool {
        let has = |set: Option<TagSet>| match (set, tag) {
            (None, _) => true,
            (Some(set), Some(tag)) => set.contains(tag),
            (Some(_), None) => false,
        };
        if tag.is_some_and(|t| self.exclude.contains(t)) {
            return false;
        }
        if self.select.iter().any(|p| has(p.tags) && p.re.is_match(data)) {
            return true;
        }
        if self.suppress.iter().any(|p| has(p.tags) && p.re.is_match(data)) {
            return false;
        }
        match self.include {
            Some(set) => tag.is_some_and(|t| set.contains(t)),
            None => self.select.is_empty(),
        }
    }

    /// The tags whose records it may let through (`-i`'s, else all): a reader need turn no
    /// others into text.
    pub(crate) fn tags(&self) -> TagSet {
        self.include.unwrap_or(TagSet::ALL)
    }

    /// [`Filter::shows`] for a filter that decides by tag only.
    pub(crate) fn shows_tag(&self, tag: Tag) -> bool {
        !self.exclude.contains(tag) && self.include.is_none_or(|set| set.contains(tag))
    }
}

/// The tags a list names: names or globs (`Req*`, `*Header`, `*`), any case, by commas.
fn tags(option: char, list: &str) -> Result<TagSet, FilterError> {
    let mut set = TagSet::of(&[]);
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let matching: Vec<Tag> = Tag::ALL.into_iter().filter(|t| glob(name, t.name())).collect();
        if matching.is_empty() {
            return Err(FilterError::NoSuchTag { option, list: list.to_string(), name: name.to_string() });
        }
        set = set.union(TagSet::of(&matching));
    }
    Ok(set)
}

/// Whether `name` matches the glob `pattern` (a `*` at its start or end, or alone), any case.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        (Some(""), _) => true,
        (Some(rest), _) if rest.ends_with('*') => n.contains(&rest[..rest.len() - 1]),
        (Some(rest), _) => n.ends_with(rest),
        (None, Some(rest)) => n.starts_with(rest),
        (None, None) => n == p,
    }
}

/// A `-I`/`-X` argument: `[TAGLIST:]REGEX`. (A colon not after a tag list belongs to the
/// expression, as in `-I 'ReqURL:^/a:b'` or `-I '^a:b'`.)
fn pattern(option: char, text: &str) -> Result<Pattern, FilterError> {
    let (tags_of, re) = match text.split_once(':') {
        Some((list, re))
            if !list.is_empty() && list.split(',').all(|n| Tag::ALL.iter().any(|t| glob(n.trim(), t.name()))) =>
        {
            (Some(tags(option, list)?), re)
        }
        _ => (None, text),
    };
    let re = regex::Regex::new(re).map_err(|e| FilterError::BadRegex {
        option,
        text: text.to_string(),
        why: e.to_string(),
    })?;
    Ok(Pattern { tags: tags_of, re })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(i: &[&str], x: &[&str], ii: &[&str], xx: &[&str]) -> Filter {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::parse(&own(i), &own(x), &own(ii), &own(xx)).expect("parses").expect("some")
    }

    #[test]
    fn tag_lists_take_names_and_globs_in_any_case() {
        let f = filter(&["requrl,Resp*", "*Acct"], &[], &[], &[]);
        for (tag, shown) in [
            (Tag::ReqURL, true),
            (Tag::RespHeader, true),
            (Tag::RespStatus, true),
            (Tag::ReqAcct, true),
            (Tag::BereqAcct, true),
            (Tag::ReqHeader, false),
            (Tag::Timestamp, false),
        ] {
            assert_eq!(f.shows(Some(tag), "x"), shown, "{tag:?}");
            assert_eq!(f.shows_tag(tag), shown, "{tag:?}");
        }
        assert!(!f.shows(None, "x"), "a tag this reader does not know is not in a list");
        let all_but = filter(&[], &["*Header"], &[], &[]);
        assert!(all_but.shows_tag(Tag::ReqURL) && !all_but.shows_tag(Tag::BerespHeader));
        assert!(filter(&["*"], &[], &[], &[]).shows_tag(Tag::End));
        assert!(filter(&["*eader*"], &[], &[], &[]).shows_tag(Tag::ReqHeader));
    }

    #[test]
    fn regexes_select_and_suppress_records_as_varnishlog_does() {
        // -I alone: only what matches (of its tags, if it names some).
        let f = filter(&[], &[], &["ReqHeader:^host:"], &[]);
        assert!(f.shows(Some(Tag::ReqHeader), "host: a"));
        assert!(!f.shows(Some(Tag::ReqHeader), "accept: */*"));
        assert!(!f.shows(Some(Tag::ReqURL), "host: a"), "not of the tags it names");
        assert!(!f.by_tag_only());
        // -I with -i: what matches, and the tags -i names.
        let f = filter(&["ReqURL"], &[], &["ReqHeader:^host:"], &[]);
        assert!(f.shows(Some(Tag::ReqURL), "/a") && f.shows(Some(Tag::ReqHeader), "host: a"));
        assert!(!f.shows(Some(Tag::ReqHeader), "accept: */*"));
        // -X: everything but what matches; -x wins over -I.
        let f = filter(&[], &["Timestamp"], &["Start"], &["^/private"]);
        assert!(!f.shows(Some(Tag::ReqURL), "/private/x") && !f.shows(Some(Tag::Timestamp), "Start: 1 0 0"));
        let f = filter(&[], &[], &[], &["ReqURL:^/private"]);
        assert!(!f.shows(Some(Tag::ReqURL), "/private/x") && f.shows(Some(Tag::ReqURL), "/public"));
        assert!(f.shows(Some(Tag::VCL_Log), "/private/x"), "only the tags it names");
        // A colon that does not end a tag list is the expression's.
        let f = filter(&[], &[], &["^a:b"], &[]);
        assert!(f.shows(Some(Tag::VCL_Log), "a:b"));
    }

    #[test]
    fn bad_options_say_which_and_why() {
        let own = |s: &str| vec![s.to_string()];
        let e = Filter::parse(&own("ReqURL,Nope*"), &[], &[], &[]).expect_err("no such tag");
        assert_eq!(e.to_string(), "-i \"ReqURL,Nope*\": no tag is called \"Nope*\"");
        let e = Filter::parse(&[], &[], &own("ReqURL:(unclosed"), &[]).expect_err("bad regex");
        assert!(e.to_string().starts_with("-I \"ReqURL:(unclosed\": bad regular expression"), "{e}");
        assert!(Filter::parse(&[], &[], &[], &[]).expect("parses").is_none());
    }
}
