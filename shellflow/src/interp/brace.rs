//! Brace expansion (bash): `mkdir -p /var/{log,run}/app`, `for i in {1..3}` — done on a
//! word's source text before any other expansion, as bash does.
//!
//! Handles comma lists (nested) and integer or single-letter sequences with an optional
//! step. Braces inside quotes, after `$` (`${…}`), or escaped are left alone, as is a brace
//! group without a top-level comma or `..`. The number of words is capped. POSIX `sh` has
//! no brace expansion; the caller only applies this for bash.

/// At most this many words from one word.
const MAX_WORDS: usize = 256;

/// The words `text` expands to; `[text]` when it has no brace expression.
pub(crate) fn expand(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(text, &mut out, 0);
    out
}

fn expand_into(text: &str, out: &mut Vec<String>, depth: usize) {
    if out.len() >= MAX_WORDS {
        return;
    }
    let Some((open, close)) = (depth < 16).then(|| find_group(text)).flatten() else {
        out.push(text.to_string());
        return;
    };
    let (pre, body, post) = (&text[..open], &text[open + 1..close], &text[close + 1..]);
    let alternatives = match split_commas(body) {
        Some(parts) => parts,
        None => match sequence(body) {
            Some(seq) => seq,
            None => {
                out.push(text.to_string());
                return;
            }
        },
    };
    for alt in alternatives {
        expand_into(&format!("{pre}{alt}{post}"), out, depth + 1);
        if out.len() >= MAX_WORDS {
            return;
        }
    }
}

/// Byte offsets of the first brace group that expands: `{` not quoted, escaped or inside
/// `${…}`, and its matching `}`, with a top-level comma or a valid sequence inside.
fn find_group(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if !single => i += 1,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'$' if !single && b.get(i + 1) == Some(&b'{') => {
                // `${…}` is a parameter expansion, skipped whole.
                i = matching(b, i + 1).unwrap_or(b.len());
            }
            b'{' if !single && !double => {
                if let Some(close) = matching(b, i) {
                    let body = &text[i + 1..close];
                    if split_commas(body).is_some() || sequence(body).is_some() {
                        return Some((i, close));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The `}` matching the `{` at `open` (nesting, quotes and escapes respected).
fn matching(b: &[u8], open: usize) -> Option<usize> {
    let (mut depth, mut single, mut double) = (0usize, false, false);
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' if !single => i += 1,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'{' if !single && !double => depth += 1,
            b'}' if !single && !double => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The comma-separated parts of a group body; `None` without a top-level comma.
fn split_commas(body: &str) -> Option<Vec<String>> {
    let b = body.as_bytes();
    let (mut depth, mut single, mut double, mut start) = (0usize, false, false, 0);
    let mut parts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if !single => i += 1,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'{' if !single && !double => depth += 1,
            b'}' if !single && !double => depth = depth.saturating_sub(1),
            b',' if !single && !double && depth == 0 => {
                parts.push(body[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(body[start..].to_string());
    Some(parts)
}

/// `a..b[..step]` over integers or single letters.
fn sequence(body: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = body.split("..").collect();
    let (from, to, step) = match parts.as_slice() {
        [a, b] => (*a, *b, 1i64),
        [a, b, s] => (*a, *b, s.parse::<i64>().ok()?.checked_abs()?.max(1)),
        _ => return None,
    };
    if let (Ok(a), Ok(b)) = (from.parse::<i64>(), to.parse::<i64>()) {
        let width = if [from, to]
            .iter()
            .any(|s| s.trim_start_matches('-').starts_with('0') && s.len() > 1)
        {
            from.len().max(to.len())
        } else {
            0
        };
        return Some(range(a, b, step).map(|n| format!("{n:0width$}")).collect());
    }
    let (a, b) = (single_letter(from)?, single_letter(to)?);
    Some(
        range(i64::from(a), i64::from(b), step)
            .filter_map(|n| u8::try_from(n).ok())
            .map(|c| char::from(c).to_string())
            .collect(),
    )
}

fn single_letter(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [c] if c.is_ascii_alphabetic() => Some(*c),
        _ => None,
    }
}

fn range(a: i64, b: i64, step: i64) -> impl Iterator<Item = i64> {
    let up = a <= b;
    let n = (a.abs_diff(b) / step.unsigned_abs()).min(MAX_WORDS as u64);
    (0..=n as i64).map(move |k| if up { a + k * step } else { a - k * step })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_words_expand_as_bash_expands_them() {
        let cases: &[(&str, &[&str])] = &[
            ("/var/{log,run}/app", &["/var/log/app", "/var/run/app"]),
            ("a{b,c{d,e}}f", &["abf", "acdf", "acef"]),
            ("{1..3}", &["1", "2", "3"]),
            ("x{3..1}", &["x3", "x2", "x1"]),
            ("{01..03}", &["01", "02", "03"]),
            ("{0..10..5}", &["0", "5", "10"]),
            ("{a..c}", &["a", "b", "c"]),
            ("{a,}b", &["ab", "b"]),
            ("${x}", &["${x}"]),
            ("${x:-{a,b}}", &["${x:-{a,b}}"]),
            ("'{a,b}'", &["'{a,b}'"]),
            ("\"{a,b}\"", &["\"{a,b}\""]),
            ("\\{a,b}", &["\\{a,b}"]),
            ("{a}", &["{a}"]),
            ("{}", &["{}"]),
            ("{a,b", &["{a,b"]),
            ("plain", &["plain"]),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text), *want, "{text}");
        }
    }

    #[test]
    fn huge_sequences_and_products_are_capped() {
        assert_eq!(expand("{1..100000000}").len(), MAX_WORDS);
        assert_eq!(
            expand("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}").len(),
            MAX_WORDS
        );
        assert_eq!(expand(&"{".repeat(5000)).len(), 1);
    }
}
