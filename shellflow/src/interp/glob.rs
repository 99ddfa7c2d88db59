//! Pathname expansion (XCU 2.6.6) against the image: `for f in /docker-entrypoint.d/*.sh`
//! lists what the image holds (plus what the script created), sorted as the shell sorts.
//!
//! Applies to fields that are fully known and come from a word with an unquoted `*`, `?` or
//! `[`. Deliberately approximate: which glob characters were quoted is read from the word's
//! source text, not tracked per character through expansions, so a word mixing a quoted and
//! an unquoted glob character treats both as active. A pattern that matches nothing stays
//! as it is (no `nullglob`). Leading dots must be matched explicitly. Results are capped.

use crate::api::ImageFs;
use crate::memfs::normalize;
use crate::pattern;

/// At most this many paths per word.
const MAX_MATCHES: usize = 1024;

/// Whether the word's source text has a glob character outside quotes and escapes: `*`,
/// `?`, or a `[` closed by a later `]` (a lone `[`, as in `[ -n "$x" ]`, is literal).
pub(crate) fn has_unquoted_glob(text: &str) -> bool {
    let mut chars = text.chars();
    let (mut single, mut double, mut braces) = (false, false, 0usize);
    let mut bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '{' if !single => braces += 1,
            '}' if !single && braces > 0 => braces -= 1,
            '*' | '?' if !single && !double && braces == 0 => return true,
            '[' if !single && !double && braces == 0 => bracket = true,
            ']' if bracket && !single && !double && braces == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Whether `s` has a glob character: `*`, `?`, or a `[` with a `]` after it.
fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?']) || s.find('[').is_some_and(|i| s[i + 1..].contains(']'))
}

/// The paths `pat` matches, sorted; `None` when it has no glob character or matches nothing.
/// Relative patterns are taken from `cwd` and reported relative, as the shell does.
pub(crate) fn expand(
    fs: &dyn ImageFs,
    created: &[&str],
    cwd: &str,
    pat: &str,
) -> Option<Vec<String>> {
    if !is_pattern(pat) {
        return None;
    }
    let absolute = pat.starts_with('/');
    let mut found: Vec<String> = vec![String::new()];
    for comp in pat.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for prefix in &found {
            let dir = dir_of(absolute, cwd, prefix);
            if !is_pattern(comp) {
                next.push(join(prefix, comp));
                continue;
            }
            let mut names = fs.list_dir(&dir);
            names.extend(created_in(created, &dir));
            names.sort();
            names.dedup();
            for n in names
                .iter()
                .filter(|n| !n.starts_with('.') || comp.starts_with('.'))
            {
                if pattern::matches(comp, n) && next.len() < MAX_MATCHES {
                    next.push(join(prefix, n));
                }
            }
        }
        found = next;
    }
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| if absolute { format!("/{p}") } else { p })
        .filter(|p| exists(fs, created, &normalize(&absolutize(cwd, p))))
        .collect();
    out.sort();
    (!out.is_empty()).then_some(out)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

fn dir_of(absolute: bool, cwd: &str, prefix: &str) -> String {
    let rel = if absolute {
        format!("/{prefix}")
    } else {
        absolutize(cwd, prefix)
    };
    normalize(&rel)
}

fn absolutize(cwd: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{cwd}/{p}")
    }
}

/// Names of the created paths directly inside `dir`.
fn created_in<'a>(created: &'a [&'a str], dir: &'a str) -> impl Iterator<Item = String> + 'a {
    created.iter().filter_map(move |c| {
        let rest = c.strip_prefix(dir)?;
        let rest = if dir.ends_with('/') {
            rest
        } else {
            rest.strip_prefix('/')?
        };
        (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
    })
}

fn exists(fs: &dyn ImageFs, created: &[&str], p: &str) -> bool {
    fs.stat(p).is_some() || created.contains(&p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFs;

    #[test]
    fn unquoted_glob_characters_are_found_and_quoted_ones_are_not() {
        for (text, want) in [
            ("/d/*.sh", true),
            ("\"/d/\"*.sh", true),
            ("'/d/*.sh'", false),
            ("\"/d/*.sh\"", false),
            ("/d/\\*.sh", false),
            ("${x:-*}", false),
            ("a?b", true),
            ("plain", false),
            ("[", false),
            ("]", false),
            ("x[ab]", true),
            ("\"[\"ab]", false),
        ] {
            assert_eq!(has_unquoted_glob(text), want, "{text}");
        }
    }

    #[test]
    fn patterns_list_the_image_sorted_and_skip_dot_files() {
        let fs = MemFs::new()
            .file("/d/20-b.sh", "", 0o755)
            .file("/d/10-a.sh", "", 0o755)
            .file("/d/.hidden.sh", "", 0o755)
            .file("/d/notes.txt", "", 0o644)
            .file("/etc/x/y.conf", "", 0o644);
        let created = ["/d/15-made.sh"];
        let cases: &[(&str, &str, Option<&[&str]>)] = &[
            (
                "/d/*.sh",
                "/",
                Some(&["/d/10-a.sh", "/d/15-made.sh", "/d/20-b.sh"]),
            ),
            ("/d/.*.sh", "/", Some(&["/d/.hidden.sh"])),
            ("/*/x/*.conf", "/", Some(&["/etc/x/y.conf"])),
            ("*.txt", "/d", Some(&["notes.txt"])),
            ("/d/*.py", "/", None),
            ("/nowhere/*", "/", None),
            ("/d/10-a.sh", "/", None),
        ];
        for (pat, cwd, want) in cases {
            let got = expand(&fs, &created, cwd, pat);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{pat} in {cwd}");
        }
    }
}
