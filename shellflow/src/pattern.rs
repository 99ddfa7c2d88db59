//! Shell pattern matching (XCU 2.13): `*`, `?`, bracket expressions, backslash escapes.
//!
//! Used by `case`, `[[ == ]]` and the `#`/`%`/`/` parameter operators. Patterns arrive with
//! quoted characters already backslash-escaped by the expander. Extended globs (`extglob`) and
//! character classes other than `[:alpha:]`-style names are not modelled (they match
//! literally or as the nearest POSIX class).

/// Escapes glob metacharacters so the text matches only itself.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether a pattern names a specific word or part of one: at least three characters that
/// are not wildcards (`postgres`, `--port=*`, `*.conf`; not `*` or `-*`). An unknown value is
/// rarely such a word.
pub fn is_specific(pattern: &str) -> bool {
    pattern
        .chars()
        .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
        .count()
        >= 3
}

/// Whether `text` matches the whole `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    // Iterative matcher with single-star backtracking (linear in practice).
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = bracket(p, pi, t[ti]) {
                        if ok {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Evaluates a bracket expression starting at `p[start] == '['` against `c`.
/// Returns `(matched, index after ']')`, or `None` when the bracket is not closed.
fn bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p[i] == '[' && i + 1 < p.len() && p[i + 1] == ':' {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                matched |= class(&rest[..end], c);
                i += 2 + end + 2;
                continue;
            }
        }
        let lo = if p[i] == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            p[i]
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= lo <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    None
}

fn class(name: &str, c: char) -> bool {
    match name {
        "alpha" => c.is_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_alphanumeric(),
        "upper" => c.is_uppercase(),
        "lower" => c.is_lowercase(),
        "space" => c.is_whitespace(),
        "xdigit" => c.is_ascii_hexdigit(),
        "punct" => c.is_ascii_punctuation(),
        _ => false,
    }
}

/// Removes a prefix matching `pattern` (`${v#p}`, or `${v##p}` when `longest`).
pub fn strip_prefix(text: &str, pattern: &str, longest: bool) -> String {
    let idx: Vec<usize> = char_bounds(text);
    let order: Box<dyn Iterator<Item = &usize>> = if longest {
        Box::new(idx.iter().rev())
    } else {
        Box::new(idx.iter())
    };
    for &i in order {
        if matches(pattern, &text[..i]) {
            return text[i..].to_string();
        }
    }
    text.to_string()
}

/// Removes a suffix matching `pattern` (`${v%p}`, or `${v%%p}` when `longest`).
pub fn strip_suffix(text: &str, pattern: &str, longest: bool) -> String {
    let idx: Vec<usize> = char_bounds(text);
    let order: Box<dyn Iterator<Item = &usize>> = if longest {
        Box::new(idx.iter())
    } else {
        Box::new(idx.iter().rev())
    };
    for &i in order {
        if matches(pattern, &text[i..]) {
            return text[..i].to_string();
        }
    }
    text.to_string()
}

/// Replaces the first (or every) longest match of `pattern` (`${v/p/r}`, `${v//p/r}`).
pub fn replace(text: &str, pattern: &str, with: &str, all: bool) -> String {
    if pattern.is_empty() {
        return text.to_string();
    }
    let bounds = char_bounds(text);
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        let hit = bounds
            .iter()
            .rev()
            .filter(|&&e| e > i)
            .find(|&&e| matches(pattern, &text[i..e]));
        if let Some(&e) = hit {
            out.push_str(with);
            i = e;
            if !all {
                out.push_str(&text[i..]);
                return out;
            }
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn char_bounds(text: &str) -> Vec<usize> {
    let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    v.push(text.len());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns_match_as_the_shell_does() {
        let yes = [
            ("-*", "-c"),
            ("*.conf", "redis.conf"),
            ("[+-]*", "+x"),
            ("mysqld|x", "mysqld|x"),
            ("?", "a"),
            ("\\*", "*"),
            ("*", ""),
            ("[[:digit:]]*", "1abc"),
            ("postgres*", "postgres"),
        ];
        let no = [("-*", "postgres"), ("\\*", "a"), ("?", ""), ("[!-]*", "-x")];
        for (p, t) in yes {
            assert!(matches(p, t), "{p} should match {t}");
        }
        for (p, t) in no {
            assert!(!matches(p, t), "{p} should not match {t}");
        }
    }

    #[test]
    fn prefix_suffix_and_replace_operators_agree_with_bash() {
        assert_eq!(strip_prefix("--verbose", "-", false), "-verbose");
        assert_eq!(strip_prefix("a/b/c", "*/", true), "c");
        assert_eq!(strip_prefix("a/b/c", "*/", false), "b/c");
        assert_eq!(strip_suffix("redis.conf", ".conf", false), "redis");
        assert_eq!(strip_suffix("a.b.c", ".*", true), "a");
        assert_eq!(strip_suffix("a.b.c", ".*", false), "a.b");
        assert_eq!(replace("a-b-c", "-", "_", true), "a_b_c");
        assert_eq!(replace("a-b-c", "-", "_", false), "a_b-c");
    }
}
