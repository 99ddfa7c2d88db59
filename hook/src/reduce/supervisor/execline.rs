//! Just enough execline to find the program an s6 `run` script ends at.
//!
//! s6 and s6-overlay run scripts are often execline (`#!/command/execlineb -P`): a chain of
//! "chainloading" commands (`with-contenv`, `s6-setuidgid app`, `cd /srv`, `export K V`,
//! `fdmove -c 2 1`, `exec`) that each change the process state and exec the rest of the
//! words. [`words`] splits a script the way `execlineb` does (whitespace-separated words,
//! `"…"` strings with backslash escapes, `#` comments at the start of a word, `{ }` blocks)
//! and [`program`] strips the known prefixes, keeping the user, environment and directory
//! they set, and stops at the first word it does not know: the program. No crate on
//! crates.io parses execline (the registry lists in `.library/env/packages` have none), and
//! the subset is small. It does not substitute variables (`importas`, `$1`), run
//! `backtick`/`if` blocks, or model `emptyenv` beyond a note.

/// One word of the script and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub line: usize,
}

/// Where the chain ends and what its prefixes set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Program {
    pub argv: Vec<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    /// Line of the program's first word.
    pub line: usize,
    pub notes: Vec<String>,
}

/// Splits execline source into words (the `#!` line is a comment like any other).
pub(crate) fn words(src: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    let mut line = 1;
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.next_if(|x| *x != '\n').is_some() {}
        } else {
            let start = line;
            let mut text = String::new();
            while let Some(c) = chars.next_if(|x| !x.is_whitespace()) {
                match c {
                    '"' => line += quoted(&mut chars, &mut text),
                    '\\' => text.extend(chars.next()),
                    c => text.push(c),
                }
            }
            out.push(Word { text, line: start });
        }
    }
    out
}

/// Reads a `"…"` string (the opening quote consumed); returns the newlines it spanned.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, text: &mut String) -> usize {
    let mut lines = 0;
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('\n') => lines += 1,
                Some(x) => text.push(x),
                None => break,
            },
            '\n' => {
                lines += 1;
                text.push('\n');
            }
            c => text.push(c),
        }
    }
    lines
}

/// The program at the end of the chain of prefixes.
pub(crate) fn program(src: &str) -> Result<Program, String> {
    let w = words(src);
    let mut p = Program::default();
    let mut i = 0;
    while i < w.len() {
        let arg = |k: usize| w.get(i + k).map(|x| x.text.clone());
        let word = w[i].text.as_str();
        let next = match word {
            "with-contenv" => {
                p.notes
                    .push("with-contenv: the container's environment".into());
                i + 1
            }
            "s6-setuidgid" | "s6-envuidgid" => {
                let u = arg(1).ok_or(format!("{word} without a user"))?;
                p.notes.push(format!("{word} {u}"));
                p.user = Some(u);
                i + 2
            }
            "s6-applyuidgid" => applyuidgid(&w, i + 1, &mut p),
            "cd" => {
                p.cwd = Some(arg(1).ok_or("cd without a directory")?);
                i + 2
            }
            "export" => {
                let (k, v) = (arg(1), arg(2));
                let (k, v) = k.zip(v).ok_or("export without a name and value")?;
                p.env.push(format!("{k}={v}"));
                i + 3
            }
            "unexport" | "fdclose" | "umask" | "fdreserve" => i + 2,
            "fdswap" => i + 3,
            "fdmove" => options(&w, i + 1, &[]) + 2,
            "redirfd" => options(&w, i + 1, &[]) + 2,
            "exec" => options(&w, i + 1, &["-a"]),
            "emptyenv" => {
                p.notes.push("emptyenv: environment emptied".into());
                options(&w, i + 1, &[])
            }
            "importas" => options(&w, i + 1, &["-D", "-d"]) + 2,
            "s6-notifyoncheck" => options(&w, i + 1, &["-3", "-s", "-T", "-t", "-w", "-n", "-c"]),
            "s6-setsid" | "fdblock" => options(&w, i + 1, &["-g"]),
            "foreground" | "background" | "if" | "multisubstitute" | "backtick" => {
                skip_block(&w, i + 1)?
            }
            _ => break,
        };
        i = next;
    }
    let rest = w.get(i..).unwrap_or_default();
    let first = rest.first().ok_or("the chain ends without a program")?;
    p.line = first.line;
    p.argv = rest.iter().map(|x| x.text.clone()).collect();
    Ok(p)
}

/// Index after the options (`-x`, and the value of those in `valued`) starting at `i`.
fn options(w: &[Word], mut i: usize, valued: &[&str]) -> usize {
    while let Some(x) = w.get(i) {
        if x.text == "--" {
            return i + 1;
        }
        if !x.text.starts_with('-') || x.text.len() < 2 {
            break;
        }
        i += if valued.contains(&x.text.as_str()) {
            2
        } else {
            1
        };
    }
    i
}

/// `s6-applyuidgid [-u uid] [-g gid] [-U] [-z] prog`: takes `-u` as the user.
fn applyuidgid(w: &[Word], mut i: usize, p: &mut Program) -> usize {
    while let Some(x) = w.get(i) {
        match x.text.as_str() {
            "-u" | "-g" | "-G" => {
                if x.text == "-u" {
                    p.user = w.get(i + 1).map(|v| v.text.clone());
                }
                i += 2;
            }
            t if t.starts_with('-') => i += 1,
            _ => break,
        }
    }
    p.notes.push(format!(
        "s6-applyuidgid{}",
        p.user
            .as_deref()
            .map(|u| format!(" -u {u}"))
            .unwrap_or_default()
    ));
    i
}

/// Skips the options, an optional variable name and the `{ … }` block (nested blocks too)
/// of a block command; the index after the closing brace.
fn skip_block(w: &[Word], i: usize) -> Result<usize, String> {
    let open = (i..w.len())
        .take(8)
        .find(|k| w[*k].text == "{")
        .ok_or("a block command without { }")?;
    let mut depth = 0usize;
    for (k, x) in w.iter().enumerate().skip(open) {
        match x.text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return Ok(k + 1);
                }
            }
            _ => {}
        }
    }
    Err("unbalanced { } block".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        words(src).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_words_like_execlineb() {
        #[rustfmt::skip]
        let cases: &[(&str, &[&str])] = &[
            ("#!/command/execlineb -P\nexec nginx", &["exec", "nginx"]),
            ("a \"b c\" d", &["a", "b c", "d"]),
            ("a\"b c\"d", &["ab cd"]),
            ("x \\\"y", &["x", "\"y"]),
            ("# only a comment\n", &[]),
            ("foreground { echo hi } app", &["foreground", "{", "echo", "hi", "}", "app"]),
            ("\"unterminated", &["unterminated"]),
            ("a#b c", &["a#b", "c"]),
            ("", &[]),
        ];
        for (src, want) in cases {
            assert_eq!(texts(src), *want, "{src:?}");
        }
    }

    #[test]
    fn strips_chainloading_prefixes_down_to_the_program() {
        type Row = (
            &'static str,
            &'static [&'static str],
            Option<&'static str>,
            Option<&'static str>,
            usize,
        );
        #[rustfmt::skip]
        let cases: &[Row] = &[
            ("#!/command/execlineb -P\nwith-contenv\ns6-setuidgid app\nexec /usr/bin/app --x\n", &["/usr/bin/app", "--x"], Some("app"), None, 4),
            ("#!/bin/execlineb -P\nfdmove -c 2 1\ncd /srv\nexport HOME /srv\nredis-server\n", &["redis-server"], None, Some("/srv"), 5),
            ("#!/command/execlineb -P\nforeground { echo starting }\ns6-notifyoncheck -d -n 3\nexec -a web busybox httpd -f\n", &["busybox", "httpd", "-f"], None, None, 4),
            ("#!/command/execlineb -S0\ns6-applyuidgid -u 1000 -g 1000 nginx -g \"daemon off;\"\n", &["nginx", "-g", "daemon off;"], Some("1000"), None, 2),
            ("importas -D 8080 PORT PORT app $PORT", &["app", "$PORT"], None, None, 1),
        ];
        for (src, argv, user, cwd, line) in cases {
            let p = program(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            assert_eq!(p.argv, *argv, "{src:?}");
            assert_eq!(p.user.as_deref(), *user, "{src:?}");
            assert_eq!(p.cwd.as_deref(), *cwd, "{src:?}");
            assert_eq!(p.line, *line, "{src:?}");
        }
    }

    #[test]
    fn chains_without_a_program_are_errors() {
        for src in [
            "with-contenv\n",
            "s6-setuidgid",
            "foreground { echo",
            "cd",
            "",
        ] {
            assert!(program(src).is_err(), "{src:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let src = String::from_utf8_lossy(&bytes);
            let w = words(&src);
            if let Ok(p) = program(&src) {
                proptest::prop_assert!(!p.argv.is_empty());
                proptest::prop_assert!(p.line >= 1 && p.line <= src.lines().count().max(1) + 1);
            }
            proptest::prop_assert!(w.iter().all(|x| x.line >= 1));
        }
    }
}
