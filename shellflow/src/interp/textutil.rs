//! `find` and `sort` where their output is knowable from the image: the pipeline
//! `find /docker-entrypoint.d/ -type f -print | sort -V | while read -r f` that runs an
//! image's init scripts then loops over their real names instead of unknown lines.
//!
//! `find` is modelled for the forms entrypoints use to list files: starting points, `-L`,
//! `-H`, `-P`, `-follow`, `-mindepth`, `-maxdepth`, `-type` (`f`, `d`, `l`, comma lists),
//! `-name`, `-iname`, `-path`, `-print`, `-quit`, `-a`. Anything else (`-exec`, `-user`,
//! `-newer`, `!`, `-o`, parentheses, `-print0`) leaves the output unknown, as does a
//! starting point under a run-time directory, a volume, or a path the script created (its
//! kind is not tracked), or a walk past [`MAX_ENTRIES`]. Entries are listed in name order:
//! real `find` follows the directory's own order, which the image does not fix, so a script
//! that depends on that order without sorting gets a guess.
//!
//! `sort` is modelled on known input with `-r`, `-u`, `-n`, `-V` (and their combinations)
//! in the C locale; keys (`-k`, `-t`) and other options leave the output unknown.
//!
//! `grep` is modelled over image files and known input (`grep -q '^admin' /etc/app.ini`
//! decides a branch): basic and extended patterns (`-E`), fixed strings (`-F`), `-i`, `-v`,
//! `-x`, `-w`, `-q`, `-s`, `-c`, `-e`, through the `regex` crate (linear time, size-capped).
//! Files the script wrote, may have had written, or that sit under a volume or a run-time
//! directory leave the result unknown, as do other options and back-references.
//!
//! Written here rather than taken from a crate: the walk must go through [`ImageFs`] (root
//! confined, bounded), which `walkdir` or `globset` users cannot.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::api::{FileKind, ImageFs};
use crate::interp::state::OrdSet;
use crate::memfs::normalize;

/// Most entries one `find` visits; past it the output is unknown.
const MAX_ENTRIES: usize = 4096;

/// Deepest directory `find` descends into; deeper, the output is unknown.
const MAX_DEPTH: usize = 32;

/// Directories whose content exists only at run time.
const RUNTIME_DIRS: &[&str] = &["/proc", "/sys", "/dev", "/run", "/var/run"];

/// What `find` or `grep` prints and its exit status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Output {
    pub(crate) out: String,
    pub(crate) status: i32,
}

/// One test of a `find` expression.
#[derive(Debug)]
enum Test {
    Type(Vec<char>),
    Name(String, bool),
    Path(String),
}

/// A parsed `find` command line.
#[derive(Debug, Default)]
struct Query {
    starts: Vec<String>,
    /// `-L` or `-follow`: every symlink is followed.
    follow: bool,
    /// `-H`: symlinks named as starting points are followed.
    follow_starts: bool,
    min: usize,
    max: Option<usize>,
    tests: Vec<Test>,
    /// `-print` given (else printing is implicit unless `-quit` is the only action).
    print: bool,
    /// `-quit` after `-print`: stop at the first match.
    first_only: bool,
    /// `-quit` with nothing printed before it.
    quit_silent: bool,
}

/// Paths that exclude a starting point (the caller's view: volumes, created paths).
pub(crate) struct Unknowable<'a> {
    pub(crate) volumes: &'a [String],
    pub(crate) created: &'a OrdSet<String>,
    pub(crate) maybe_created: &'a OrdSet<String>,
}

/// What `find ARGS` prints in `cwd`, when the image decides it.
pub(crate) fn find(
    fs: &dyn ImageFs,
    cwd: &str,
    args: &[String],
    skip: &Unknowable<'_>,
) -> Option<Output> {
    let q = parse_find(args)?;
    let mut out = String::new();
    let mut status = 0;
    let mut budget = MAX_ENTRIES;
    for start in &q.starts {
        let abs = normalize(&if start.starts_with('/') {
            start.clone()
        } else {
            format!("{cwd}/{start}")
        });
        if !knowable_root(&abs, skip) {
            return None;
        }
        if fs.stat(&abs).is_none() {
            status = 1;
            continue;
        }
        let done = walk(fs, &q, &abs, start, 0, &mut out, &mut budget)?;
        if done {
            break;
        }
    }
    Some(Output { out, status })
}

/// Whether nothing the image does not show can be under `abs`.
fn knowable_root(abs: &str, skip: &Unknowable<'_>) -> bool {
    let under = |root: &str| {
        let root = root.trim_end_matches('/');
        root.is_empty() || abs == root || abs.starts_with(&format!("{root}/"))
    };
    let inside = |p: &str| p == abs || p.starts_with(&format!("{}/", abs.trim_end_matches('/')));
    !RUNTIME_DIRS.iter().any(|d| under(d) || inside(d))
        && !skip.volumes.iter().any(|v| under(v) || inside(v))
        && !skip.created.iter().any(|c| inside(c))
}

/// What `readlink -f PATH` / `realpath PATH` print for `arg` (relative to `cwd`): the
/// image's canonical path, when the path exists in the image and neither it nor a directory
/// above it is a volume, a run-time directory, or something the script made or may have made
/// (a link the script creates is not followed here). `None` when the image does not decide it.
pub(crate) fn canonical(
    fs: &dyn ImageFs,
    cwd: &str,
    arg: &str,
    skip: &Unknowable<'_>,
) -> Option<String> {
    let abs = normalize(&if arg.starts_with('/') {
        arg.to_string()
    } else {
        format!("{cwd}/{arg}")
    });
    let above = |c: &String| abs == *c || abs.starts_with(&format!("{}/", c.trim_end_matches('/')));
    if !knowable_root(&abs, skip)
        || skip.created.iter().any(above)
        || skip.maybe_created.iter().any(above)
    {
        return None;
    }
    let canon = fs.canonical(&abs)?;
    knowable_root(&canon, skip).then_some(canon)
}

/// Visits `abs` (shown as `shown`) at `depth`; `Some(true)` when `-quit` fired, `None` past
/// the budget.
fn walk(
    fs: &dyn ImageFs,
    q: &Query,
    abs: &str,
    shown: &str,
    depth: usize,
    out: &mut String,
    budget: &mut usize,
) -> Option<bool> {
    *budget = budget.checked_sub(1)?;
    let meta = fs.stat(abs)?;
    let follows = q.follow || (depth == 0 && q.follow_starts);
    let kind = if meta.is_symlink && !follows {
        'l'
    } else {
        match meta.kind {
            FileKind::File => 'f',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::Other => 'o',
        }
    };
    if depth >= q.min && q.tests.iter().all(|t| t.holds(kind, abs, shown)) {
        if q.quit_silent {
            return Some(true);
        }
        out.push_str(shown);
        out.push('\n');
        if q.first_only {
            return Some(true);
        }
    }
    if kind != 'd' || q.max.is_some_and(|max| depth >= max) {
        return Some(false);
    }
    if depth >= MAX_DEPTH {
        // Deeper than any image lays out on purpose (or a symlink loop under `-L`).
        return None;
    }
    for name in fs.list_dir(abs) {
        let child_abs = format!("{}/{name}", abs.trim_end_matches('/'));
        let child_shown = if shown.ends_with('/') {
            format!("{shown}{name}")
        } else {
            format!("{shown}/{name}")
        };
        if walk(fs, q, &child_abs, &child_shown, depth + 1, out, budget)? {
            return Some(true);
        }
    }
    Some(false)
}

impl Test {
    fn holds(&self, kind: char, abs: &str, shown: &str) -> bool {
        match self {
            Test::Type(kinds) => kinds.contains(&kind),
            Test::Name(pat, fold) => {
                let base = abs
                    .rsplit('/')
                    .next()
                    .filter(|b| !b.is_empty())
                    .unwrap_or("/");
                if *fold {
                    crate::pattern::matches(&pat.to_lowercase(), &base.to_lowercase())
                } else {
                    crate::pattern::matches(pat, base)
                }
            }
            Test::Path(pat) => crate::pattern::matches(pat, shown),
        }
    }
}

/// Reads the command line; `None` for anything outside the modelled forms.
fn parse_find(args: &[String]) -> Option<Query> {
    let mut q = Query::default();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next_if(|a| matches!(a.as_str(), "-L" | "-H" | "-P")) {
        q.follow = a == "-L";
        q.follow_starts = a == "-H";
    }
    while let Some(a) = it.next_if(|a| !a.starts_with('-') && *a != "!" && *a != "(") {
        q.starts.push(a.clone());
    }
    if q.starts.is_empty() {
        q.starts.push(".".into());
    }
    let mut quit = false;
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned();
        match a.as_str() {
            "-follow" => q.follow = true,
            "-mindepth" => q.min = value()?.parse().ok()?,
            "-maxdepth" => q.max = Some(value()?.parse().ok()?),
            "-type" => {
                let kinds: Vec<char> = value()?.split(',').map(type_char).collect::<Option<_>>()?;
                q.tests.push(Test::Type(kinds));
            }
            "-name" => q.tests.push(Test::Name(value()?, false)),
            "-iname" => q.tests.push(Test::Name(value()?, true)),
            "-path" | "-wholename" => q.tests.push(Test::Path(value()?)),
            "-print" => q.print = true,
            "-quit" => {
                quit = true;
                break;
            }
            "-a" | "-and" => {}
            _ => return None,
        }
    }
    if it.next().is_some() {
        // Anything after `-quit` never runs; keep to the plain forms.
        return None;
    }
    match (quit, q.print) {
        (true, true) => q.first_only = true,
        (true, false) => q.quit_silent = true,
        _ => {}
    }
    Some(q)
}

fn type_char(s: &str) -> Option<char> {
    match s {
        "f" | "d" | "l" => s.chars().next(),
        _ => None,
    }
}

/// Largest compiled pattern `grep` accepts (a hostile script controls the pattern).
pub(super) const MAX_REGEX_BYTES: usize = 1 << 20;

/// What `grep ARGS` prints and its status, reading image files or `stdin` (when known).
pub(crate) fn grep(
    fs: &dyn ImageFs,
    cwd: &str,
    args: &[String],
    stdin: Option<&str>,
    skip: &Unknowable<'_>,
) -> Option<Output> {
    let g = parse_grep(args)?;
    let re = regex::RegexBuilder::new(&g.regex()?)
        .case_insensitive(g.fold)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .ok()?;
    let (inputs, missing) = read_inputs(fs, cwd, &g.files, stdin, skip)?;
    let named = g.files.len() > 1;
    let (mut out, mut any) = (String::new(), false);
    for (name, text) in &inputs {
        let hits: Vec<&str> = text
            .lines()
            .filter(|l| re.is_match(l) != g.invert)
            .collect();
        any |= !hits.is_empty();
        let prefix = match name {
            Some(n) if named => format!("{n}:"),
            _ => String::new(),
        };
        if g.count {
            out.push_str(&format!("{prefix}{}\n", hits.len()));
        } else if !g.quiet {
            for l in hits {
                out.push_str(&format!("{prefix}{l}\n"));
            }
        }
    }
    let status = match (any, missing) {
        (true, _) if g.quiet => 0,
        (_, true) => 2,
        (true, false) => 0,
        (false, false) => 1,
    };
    Some(Output {
        out: if g.quiet { String::new() } else { out },
        status,
    })
}

/// Texts a filter reads, each with the file name it came from (`None`: standard input).
pub(super) type Inputs = Vec<(Option<String>, String)>;

/// The texts a filter reads: each named file as the image holds it (`None` when one may
/// differ at run time: a volume, a file the script wrote), or standard input when no file
/// is named (`None` when it is not known); and whether a named file is missing.
pub(super) fn read_inputs(
    fs: &dyn ImageFs,
    cwd: &str,
    files: &[String],
    stdin: Option<&str>,
    skip: &Unknowable<'_>,
) -> Option<(Inputs, bool)> {
    let mut inputs: Inputs = Vec::new();
    let mut missing = false;
    if files.is_empty() {
        inputs.push((None, stdin?.to_string()));
    }
    for f in files {
        let abs = normalize(&if f.starts_with('/') {
            f.clone()
        } else {
            format!("{cwd}/{f}")
        });
        if !knowable_root(&abs, skip) || skip.maybe_created.contains(&abs) {
            return None;
        }
        match fs.read_file(&abs) {
            Ok(bytes) => inputs.push((Some(f.clone()), String::from_utf8_lossy(&bytes).into())),
            Err(crate::api::FsError::NotFound { .. }) => missing = true,
            Err(_) => return None,
        }
    }
    Some((inputs, missing))
}

/// A parsed `grep` command line.
#[derive(Debug, Default)]
struct Grep {
    patterns: Vec<String>,
    files: Vec<String>,
    extended: bool,
    fixed: bool,
    fold: bool,
    invert: bool,
    whole_line: bool,
    word: bool,
    quiet: bool,
    count: bool,
}

impl Grep {
    /// One `regex` pattern for all the patterns; `None` for a back-reference.
    fn regex(&self) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .patterns
            .iter()
            .map(|p| {
                if self.fixed {
                    Some(regex::escape(p))
                } else if self.extended {
                    ere(p)
                } else {
                    bre(p)
                }
            })
            .collect();
        let alt = parts?
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        Some(if self.whole_line {
            format!("^(?:{alt})$")
        } else if self.word {
            format!(r"\b(?:{alt})\b")
        } else {
            alt
        })
    }
}

fn parse_grep(args: &[String]) -> Option<Grep> {
    let mut g = Grep::default();
    let mut it = args.iter();
    let mut operands = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-e" => g.patterns.push(it.next()?.clone()),
            "--" => {
                operands.extend(it.by_ref().cloned());
                break;
            }
            s if s.starts_with('-') && s.len() > 1 && !s.starts_with("--") => {
                for c in s[1..].chars() {
                    match c {
                        'E' => g.extended = true,
                        'F' => g.fixed = true,
                        'G' => g.extended = false,
                        'i' => g.fold = true,
                        'v' => g.invert = true,
                        'x' => g.whole_line = true,
                        'w' => g.word = true,
                        'q' => g.quiet = true,
                        'c' => g.count = true,
                        's' => {}
                        _ => return None,
                    }
                }
            }
            s if s.starts_with("--") => match s {
                "--quiet" | "--silent" => g.quiet = true,
                "--extended-regexp" => g.extended = true,
                "--fixed-strings" => g.fixed = true,
                "--ignore-case" => g.fold = true,
                "--invert-match" => g.invert = true,
                "--no-messages" => {}
                _ => return None,
            },
            _ => operands.push(a.clone()),
        }
    }
    let mut operands = operands.into_iter();
    if g.patterns.is_empty() {
        // A pattern with newlines is several patterns.
        g.patterns = operands.next()?.split('\n').map(str::to_string).collect();
    }
    g.files = operands.collect();
    Some(g)
}

/// A POSIX extended pattern in `regex` syntax (classes like `[[:space:]]` are the same;
/// `\<`/`\>` become word boundaries); `None` for a back-reference.
pub(super) fn ere(p: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                d if d.is_ascii_digit() => return None,
                '<' | '>' => out.push_str(r"\b"),
                e => {
                    out.push('\\');
                    out.push(e);
                }
            },
            '{' if !chars.peek().is_some_and(char::is_ascii_digit) => out.push_str(r"\{"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// A POSIX basic pattern (GNU: `\(`, `\)`, `\{`, `\}`, `\|`, `\+`, `\?` are operators; their
/// bare forms are literal) in `regex` syntax; `None` for a back-reference.
pub(super) fn bre(p: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    let mut bracket = false;
    while let Some(c) = chars.next() {
        if bracket {
            out.push(c);
            bracket = c != ']';
            continue;
        }
        match c {
            '[' => {
                out.push('[');
                // A leading `]` or `^]` is a member, not the end.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next()?);
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
                bracket = true;
            }
            '\\' => match chars.next()? {
                d if d.is_ascii_digit() => return None,
                e @ ('(' | ')' | '{' | '}' | '|' | '+' | '?') => out.push(e),
                '<' | '>' => out.push_str(r"\b"),
                e => {
                    out.push('\\');
                    out.push(e);
                }
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// What `tr [-c] [-d] [-s] SET1 [SET2]` prints for `input` (`tr . _`, `tr '[:lower:]'
/// '[:upper:]'`, `tr -d '\r'`, `tr -dc '[:print:]'`), when the sets are modelled: plain
/// characters, ranges, the escapes `\n \t \r \\` and the ASCII classes; `None` otherwise
/// (`[c*n]` repeats, `[=c=]`, `-t`, complemented translation).
pub(crate) fn tr(input: &str, args: &[String]) -> Option<String> {
    let (mut complement, mut delete, mut squeeze) = (false, false, false);
    let mut sets: Vec<&str> = Vec::new();
    for a in args {
        match a
            .strip_prefix('-')
            .filter(|f| !f.is_empty() && sets.is_empty())
        {
            Some(flags) => {
                for c in flags.chars() {
                    match c {
                        'c' | 'C' => complement = true,
                        'd' => delete = true,
                        's' => squeeze = true,
                        _ => return None,
                    }
                }
            }
            None => sets.push(a),
        }
    }
    let set1 = tr_set(sets.first()?)?;
    let members: HashSet<char> = set1.iter().copied().collect();
    let in1 = |c: char| members.contains(&c) != complement;
    let mut out = String::with_capacity(input.len());
    match (delete, squeeze, sets.len()) {
        (true, false, 1) => out.extend(input.chars().filter(|c| !in1(*c))),
        (false, true, 1) => {
            let mut last = None;
            for c in input.chars() {
                if !(in1(c) && last == Some(c)) {
                    out.push(c);
                }
                last = Some(c);
            }
        }
        (false, _, 2) if !complement => {
            let set2 = tr_set(sets[1])?;
            let last2 = *set2.last()?;
            // A character listed twice in SET1 takes its last mapping, as GNU tr does.
            let map: HashMap<char, char> = set1
                .iter()
                .enumerate()
                .map(|(i, c)| (*c, set2.get(i).copied().unwrap_or(last2)))
                .collect();
            let targets: HashSet<char> = set2.iter().copied().collect();
            let mut prev = None;
            for c in input.chars() {
                let t = map.get(&c).copied().unwrap_or(c);
                // `-s` squeezes runs of the same translated character of SET2.
                if squeeze && prev == Some(t) && targets.contains(&t) {
                    continue;
                }
                out.push(t);
                prev = Some(t);
            }
        }
        _ => return None,
    }
    Some(out)
}

/// The characters of a `tr` set, in order (see [`tr`]); at most 4,096.
fn tr_set(spec: &str) -> Option<Vec<char>> {
    type Class = (&'static str, fn(char) -> bool);
    const CLASSES: &[Class] = &[
        ("[:lower:]", |c| c.is_ascii_lowercase()),
        ("[:upper:]", |c| c.is_ascii_uppercase()),
        ("[:digit:]", |c| c.is_ascii_digit()),
        ("[:alpha:]", |c| c.is_ascii_alphabetic()),
        ("[:alnum:]", |c| c.is_ascii_alphanumeric()),
        ("[:space:]", |c| c.is_ascii_whitespace() || c == '\x0b'),
        ("[:blank:]", |c| c == ' ' || c == '\t'),
        ("[:punct:]", |c| c.is_ascii_punctuation()),
        ("[:print:]", |c| c == ' ' || c.is_ascii_graphic()),
        ("[:graph:]", |c| c.is_ascii_graphic()),
        ("[:cntrl:]", |c| c.is_ascii_control()),
        ("[:xdigit:]", |c| c.is_ascii_hexdigit()),
    ];
    let mut out: Vec<char> = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        if let Some((name, class)) = CLASSES.iter().find(|(n, _)| rest.starts_with(n)) {
            out.extend((0u8..128).map(char::from).filter(|c| class(*c)));
            rest = &rest[name.len()..];
            continue;
        }
        if rest.starts_with("[=") || (rest.starts_with('[') && rest.contains('*')) {
            return None;
        }
        let (c, len) = tr_char(rest)?;
        rest = &rest[len..];
        match rest.strip_prefix('-').filter(|r| !r.is_empty()) {
            Some(after) => {
                let (end, elen) = tr_char(after)?;
                if end < c {
                    return None;
                }
                out.extend((c..=end).take(4096));
                rest = &after[elen..];
            }
            None => out.push(c),
        }
        if out.len() > 4096 {
            return None;
        }
    }
    Some(out)
}

/// One character of a `tr` set with the bytes it took (`\n`, `\\`, `a`).
fn tr_char(s: &str) -> Option<(char, usize)> {
    let mut it = s.chars();
    let c = it.next()?;
    if c != '\\' {
        return Some((c, c.len_utf8()));
    }
    let e = match it.next() {
        None => return Some(('\\', 1)),
        Some(e) => e,
    };
    let c = match e {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        '\\' => '\\',
        '-' => '-',
        _ => return None,
    };
    Some((c, 2))
}

/// What `sort ARGS` prints for `input`, when the options are modelled.
pub(crate) fn sort(input: &str, args: &[String]) -> Option<String> {
    let (mut reverse, mut unique, mut numeric, mut version) = (false, false, false, false);
    for a in args {
        let flags = a
            .strip_prefix('-')
            .filter(|f| !f.is_empty() && !f.starts_with('-'));
        match (a.as_str(), flags) {
            ("--reverse", _) => reverse = true,
            ("--unique", _) => unique = true,
            ("--numeric-sort", _) => numeric = true,
            ("--version-sort", _) => version = true,
            (_, Some(f)) => {
                for c in f.chars() {
                    match c {
                        'r' => reverse = true,
                        'u' => unique = true,
                        'n' => numeric = true,
                        'V' => version = true,
                        _ => return None,
                    }
                }
            }
            // A file operand: its content is not the input.
            _ => return None,
        }
    }
    let mut lines: Vec<&str> = input.lines().collect();
    let cmp = |a: &&str, b: &&str| {
        let primary = if version {
            version_cmp(a, b)
        } else if numeric {
            numeric_prefix(a)
                .partial_cmp(&numeric_prefix(b))
                .unwrap_or(Ordering::Equal)
        } else {
            Ordering::Equal
        };
        primary.then_with(|| a.as_bytes().cmp(b.as_bytes()))
    };
    lines.sort_by(cmp);
    if unique {
        lines.dedup_by(|a, b| {
            if numeric && !version {
                numeric_prefix(a) == numeric_prefix(b)
            } else {
                a == b
            }
        });
    }
    if reverse {
        lines.reverse();
    }
    Some(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// The number a line starts with for `sort -n` (0 when none).
fn numeric_prefix(s: &str) -> f64 {
    let t = s.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(t.len(), |(i, _)| i);
    t[..end].parse().unwrap_or(0.0)
}

/// `sort -V`: runs of digits compare as numbers, the rest byte by byte.
fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let m = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (p, q) = (trim_zeros(&x[..n]), trim_zeros(&y[..m]));
                let ord = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|c| **c == b'0').count();
    &d[z.min(d.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memfs::MemFs;

    fn image() -> MemFs {
        MemFs::new()
            .file("/d/20-b.envsh", "", 0o755)
            .file("/d/10-a.sh", "", 0o755)
            .file("/d/sub/30-c.sh", "", 0o644)
            .file("/d/README", "", 0o644)
            .symlink("/d/link.sh", "/d/10-a.sh")
            .dir("/empty")
            .symlink("/loop/self", "/loop")
    }

    #[test]
    fn find_lists_what_the_image_holds_for_the_modelled_forms() {
        let fs = image();
        let created = OrdSet::new();
        let vols = vec!["/data".to_string()];
        let none = OrdSet::new();
        let skip = Unknowable {
            volumes: &vols,
            created: &created,
            maybe_created: &none,
        };
        #[rustfmt::skip]
        type Case<'a> = (&'a str, &'a str, Option<(&'a str, i32)>);
        let cases: &[Case<'_>] = &[
            (
                "/d/ -type f -print",
                "/",
                Some(("/d/10-a.sh\n/d/20-b.envsh\n/d/README\n/d/sub/30-c.sh\n", 0)),
            ),
            (
                "/d -follow -type f -name *.sh",
                "/",
                Some(("/d/10-a.sh\n/d/link.sh\n/d/sub/30-c.sh\n", 0)),
            ),
            ("/d -type l", "/", Some(("/d/link.sh\n", 0))),
            (
                "/d -mindepth 1 -maxdepth 1 -type f -print -quit",
                "/",
                Some(("/d/10-a.sh\n", 0)),
            ),
            (
                "/empty -mindepth 1 -maxdepth 1 -type f -print -quit",
                "/",
                Some(("", 0)),
            ),
            ("d -maxdepth 1 -type d", "/", Some(("d\nd/sub\n", 0))),
            ("-maxdepth 1 -iname readme", "/d", Some(("./README\n", 0))),
            ("/nowhere -type f", "/", Some(("", 1))),
            ("/d -type f -exec chown x {} +", "/", None),
            ("/d ! -user x", "/", None),
            ("/data -type f", "/", None),
            ("/proc -maxdepth 1", "/", None),
            ("/d -type f -print0", "/", None),
            ("-L /loop -type f", "/", None),
            ("/loop -type l", "/", Some(("/loop/self\n", 0))),
        ];
        for (line, cwd, want) in cases {
            let args: Vec<String> = line.split(' ').map(str::to_string).collect();
            let got = find(&fs, cwd, &args, &skip);
            let want = want.map(|(out, status)| Output {
                out: out.into(),
                status,
            });
            assert_eq!(got, want, "find {line} in {cwd}");
        }
    }

    #[test]
    fn a_starting_point_the_script_created_is_not_listed_from_the_image() {
        let fs = image();
        let created: OrdSet<String> = ["/d/new.sh".to_string()].into_iter().collect();
        let skip = Unknowable {
            volumes: &[],
            created: &created,
            maybe_created: &OrdSet::new(),
        };
        assert_eq!(find(&fs, "/", &["/d".into()], &skip), None);
    }

    #[test]
    fn sort_orders_known_lines_as_the_c_locale_does() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("b\na\nB\n", "", Some("B\na\nb\n")),
            ("b\na\nb\n", "-u", Some("a\nb\n")),
            ("10\n9\n-1\n", "-n", Some("-1\n9\n10\n")),
            ("10\n9\n", "-rn", Some("10\n9\n")),
            ("/d/10-x.sh\n/d/9-y.sh\n/d/1.10\n/d/1.9\n", "-V", Some("/d/1.9\n/d/1.10\n/d/9-y.sh\n/d/10-x.sh\n")),
            ("a\n", "-k 2", None),
            ("a\n", "file", None),
        ];
        for (input, opts, want) in cases {
            let args: Vec<String> = opts.split_whitespace().map(str::to_string).collect();
            assert_eq!(sort(input, &args).as_deref(), *want, "sort {opts}");
        }
    }

    #[test]
    fn grep_answers_from_image_files_and_known_input() {
        let fs = MemFs::new().file(
            "/etc/app.ini",
            "[admins]\nadmin = secret\n; db_host = x\nport=5432\n",
            0o644,
        );
        let none = OrdSet::new();
        let maybe: OrdSet<String> = ["/tmp/made.ini".to_string()].into_iter().collect();
        let skip = Unknowable {
            volumes: &[],
            created: &none,
            maybe_created: &maybe,
        };
        type Case<'a> = (&'a str, Option<&'a str>, Option<(&'a str, i32)>);
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            ("-q ^admin /etc/app.ini", None, Some(("", 0))),
            ("-q ^root /etc/app.ini", None, Some(("", 1))),
            (r"-q -E ^\s*\bdb_host\b\s*= /etc/app.ini", None, Some(("", 1))),
            (r"-E ^\s*\bport\b\s*= /etc/app.ini", None, Some(("port=5432\n", 0))),
            (r"^port=\(.*\)$ /etc/app.ini", None, Some(("port=5432\n", 0))),
            ("-c = /etc/app.ini", None, Some(("3\n", 0))),
            ("-v = /etc/app.ini", None, Some(("[admins]\n", 0))),
            ("-Fx [admins] /etc/app.ini", None, Some(("[admins]\n", 0))),
            ("-i ADMIN", Some("x\nAdmin\n"), Some(("Admin\n", 0))),
            ("-qs x /etc/missing.ini", None, Some(("", 2))),
            ("x /tmp/made.ini", None, None),
            ("x /proc/1/status", None, None),
            ("x", None, None),
            (r"\(a\)\1 /etc/app.ini", None, None),
            ("-P x /etc/app.ini", None, None),
        ];
        for (line, input, want) in cases {
            let args: Vec<String> = line.split(' ').map(str::to_string).collect();
            let got = grep(&fs, "/", &args, *input, &skip);
            let want = want.map(|(out, status)| Output {
                out: out.into(),
                status,
            });
            assert_eq!(got, want, "grep {line}");
        }
    }

    #[test]
    fn tr_translates_deletes_and_squeezes_as_gnu_tr() {
        let t = |input: &str, args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            tr(input, &args)
        };
        assert_eq!(
            t("ELASTICSEARCH.HOSTS\n", &[".", "_"]).as_deref(),
            Some("ELASTICSEARCH_HOSTS\n")
        );
        assert_eq!(
            t("Server.Name", &["[:lower:]", "[:upper:]"]).as_deref(),
            Some("SERVER.NAME")
        );
        assert_eq!(t("abc", &["a-c", "A-C"]).as_deref(), Some("ABC"));
        assert_eq!(t("abcd", &["a-d", "xy"]).as_deref(), Some("xyyy"));
        assert_eq!(t("a\r\nb\r\n", &["-d", "\\r"]).as_deref(), Some("a\nb\n"));
        assert_eq!(
            t("na\u{7}me\n", &["-dc", "[:print:]"]).as_deref(),
            Some("name")
        );
        assert_eq!(t("a  b   c", &["-s", " "]).as_deref(), Some("a b c"));
        assert_eq!(t("1-2", &["-", " "]).as_deref(), Some("1 2"));
        assert_eq!(t("x", &["-t", "a", "b"]), None);
        assert_eq!(t("x", &["[a*3]", "b"]), None);
        assert_eq!(t("x", &["z-a", "b"]), None);
        assert_eq!(t("x", &[]), None);
    }
}
