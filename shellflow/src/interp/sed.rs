//! `sed` for what entrypoint scripts compute with it: `s/RE/REPLACEMENT/FLAGS` commands (BRE,
//! or ERE with `-E`/`-r`) over standard input or image files, with `-n` and the `p`, `g`,
//! `I` and occurrence flags. Anything else (addresses, other commands, `-i` in-place edits,
//! back-references in a pattern) is not modelled and leaves the output unknown. Written
//! here because no crate evaluates sed scripts; the patterns go through the same
//! translation to the `regex` crate as `grep`'s, with the same size cap.

use crate::api::ImageFs;

use super::textutil::{bre, ere, read_inputs, Output, Unknowable, MAX_REGEX_BYTES};

/// Most `s` commands one script may hold.
const MAX_COMMANDS: usize = 64;

/// One `s` command.
struct Subst {
    re: regex::Regex,
    /// The replacement in `regex` syntax (`$0`, `${1}`, `$$`).
    with: String,
    global: bool,
    /// Replace only the N-th match (1-based).
    nth: usize,
    print: bool,
}

/// What `sed ARGS` prints and its status, reading image files or `stdin` (when known).
pub(crate) fn sed(
    fs: &dyn ImageFs,
    cwd: &str,
    args: &[String],
    stdin: Option<&str>,
    skip: &Unknowable<'_>,
) -> Option<Output> {
    let (scripts, files, extended, quiet) = parse_args(args)?;
    let mut cmds = Vec::new();
    for s in &scripts {
        parse_script(s, extended, &mut cmds)?;
    }
    let (inputs, missing) = read_inputs(fs, cwd, &files, stdin, skip)?;
    if missing {
        return None;
    }
    let text: String = inputs.into_iter().map(|(_, t)| t).collect();
    let mut out = String::new();
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let mut cur = (*line).to_string();
        for c in &cmds {
            let (next, replaced) = c.apply(&cur);
            cur = next;
            if replaced && c.print {
                out.push_str(&cur);
                out.push('\n');
            }
        }
        if !quiet {
            out.push_str(&cur);
            if i + 1 < lines.len() || ends_with_newline {
                out.push('\n');
            }
        }
    }
    Some(Output { out, status: 0 })
}

impl Subst {
    /// The line after the substitution, and whether it replaced anything.
    fn apply(&self, line: &str) -> (String, bool) {
        if self.global {
            let hit = self.re.is_match(line);
            return (
                self.re.replace_all(line, self.with.as_str()).into_owned(),
                hit,
            );
        }
        let Some(caps) = self.re.captures_iter(line).nth(self.nth - 1) else {
            return (line.to_string(), false);
        };
        let whole = caps.get(0).expect("group 0");
        let mut out = String::with_capacity(line.len());
        out.push_str(&line[..whole.start()]);
        caps.expand(&self.with, &mut out);
        out.push_str(&line[whole.end()..]);
        (out, true)
    }
}

/// Scripts, files, `-E`, `-n`; `None` for an option not modelled (`-i`, `-z`, `-s` …).
fn parse_args(args: &[String]) -> Option<(Vec<String>, Vec<String>, bool, bool)> {
    let (mut scripts, mut files) = (Vec::new(), Vec::new());
    let (mut extended, mut quiet) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            files.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(e) = a.strip_prefix("--expression=") {
            scripts.push(e.to_string());
            continue;
        }
        match a.as_str() {
            "--regexp-extended" => extended = true,
            "--quiet" | "--silent" => quiet = true,
            "--posix" => {}
            _ if a.starts_with("--") => return None,
            _ if a.starts_with('-') && a.len() > 1 => {
                for (j, c) in a.char_indices().skip(1) {
                    match c {
                        'E' | 'r' => extended = true,
                        'n' => quiet = true,
                        'e' => {
                            let rest = &a[j + 1..];
                            if rest.is_empty() {
                                scripts.push(args.get(i)?.clone());
                                i += 1;
                            } else {
                                scripts.push(rest.to_string());
                            }
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            _ if scripts.is_empty() => scripts.push(a.clone()),
            _ => files.push(a.clone()),
        }
    }
    (!scripts.is_empty()).then_some((scripts, files, extended, quiet))
}

/// Appends the `s` commands of `script` (separated by `;` or newlines) to `out`.
fn parse_script(script: &str, extended: bool, out: &mut Vec<Subst>) -> Option<()> {
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ';') {
            i += 1;
        }
        if i >= chars.len() {
            return Some(());
        }
        if chars[i] != 's' || out.len() >= MAX_COMMANDS {
            return None;
        }
        let delim = *chars.get(i + 1)?;
        if delim == '\\' || delim == '\n' || delim.is_alphanumeric() {
            return None;
        }
        i += 2;
        let pattern = part(&chars, &mut i, delim)?;
        let replacement = part(&chars, &mut i, delim)?;
        let (mut global, mut print, mut fold, mut nth) = (false, false, false, 0usize);
        while let Some(&f) = chars.get(i) {
            match f {
                'g' => global = true,
                'p' => print = true,
                'I' | 'i' => fold = true,
                d if d.is_ascii_digit() => {
                    nth = nth
                        .saturating_mul(10)
                        .saturating_add(d.to_digit(10)? as usize);
                }
                ';' | '\n' | ' ' | '\t' | '}' => break,
                _ => return None,
            }
            i += 1;
        }
        if pattern.is_empty() || (global && nth > 0) {
            // An empty pattern reuses the last one; `Ng` replaces from the N-th on.
            return None;
        }
        let translated = if extended {
            ere(&pattern)?
        } else {
            bre(&pattern)?
        };
        let re = regex::RegexBuilder::new(&translated)
            .case_insensitive(fold)
            .size_limit(MAX_REGEX_BYTES)
            .dfa_size_limit(MAX_REGEX_BYTES)
            .build()
            .ok()?;
        out.push(Subst {
            re,
            with: replacement_of(&replacement)?,
            global,
            nth: nth.max(1),
            print,
        });
    }
}

/// The text up to the next unescaped `delim` (an escaped delimiter stands for itself);
/// advances `i` past the delimiter.
fn part(chars: &[char], i: &mut usize, delim: char) -> Option<String> {
    let mut s = String::new();
    while let Some(&c) = chars.get(*i) {
        *i += 1;
        if c == delim {
            return Some(s);
        }
        if c == '\\' {
            let n = *chars.get(*i)?;
            *i += 1;
            if n == delim {
                s.push(n);
            } else {
                s.push('\\');
                s.push(n);
            }
        } else {
            s.push(c);
        }
    }
    None
}

/// A sed replacement (`&`, `\1`…`\9`, `\n`, escapes) in `regex` replacement syntax.
fn replacement_of(r: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = r.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("${0}"),
            '$' => out.push_str("$$"),
            '\\' => match chars.next()? {
                d @ '0'..='9' => out.push_str(&format!("${{{d}}}")),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                // `\L`, `\U`… change case (GNU): not modelled.
                'L' | 'U' | 'l' | 'u' | 'E' => return None,
                '$' => out.push_str("$$"),
                e => out.push(e),
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::state::OrdSet;
    use crate::memfs::MemFs;

    fn run(args: &[&str], stdin: &str) -> Option<String> {
        let fs = MemFs::new().file("/etc/app.conf", "port=80\nname = web\n", 0o644);
        let (created, maybe) = (OrdSet::new(), OrdSet::new());
        let skip = Unknowable {
            volumes: &[],
            created: &created,
            maybe_created: &maybe,
        };
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        sed(&fs, "/", &args, Some(stdin), &skip).map(|o| o.out)
    }

    #[test]
    fn substitutes_as_gnu_sed_does() {
        // Expected outputs are GNU sed 4.9's, checked by hand.
        let cases: &[(&[&str], &str, &str)] = &[
            (&["s/^ $//"], " \n", "\n"),
            (&["-e", "s/a/b/"], "aaa\n", "baa\n"),
            (&["s/a/b/g"], "aaa\nxa", "bbb\nxb"),
            (&["s/a/b/2"], "aaa\n", "aba\n"),
            (&["s|/usr|/opt|;s/x/&&/"], "/usr/x\n", "/opt/xx\n"),
            (
                &["-E", "s/([a-z]+)=([0-9]+)/\\2:\\1/"],
                "port=80\n",
                "80:port\n",
            ),
            (&["s/\\([a-z]*\\) *= */\\1=/"], "name = web\n", "name=web\n"),
            (&["-n", "s/^port=//p"], "port=80\nx\n", "80\n"),
            (
                &["s/WEB/app/I", "/etc/app.conf"],
                "",
                "port=80\nname = app\n",
            ),
            (&["s/\\./\\$/g"], "a.b\n", "a$b\n"),
            (&["s/x/a\\/b/"], "x\n", "a/b\n"),
        ];
        for (args, input, want) in cases {
            assert_eq!(
                run(args, input).as_deref(),
                Some(*want),
                "sed {args:?} <<< {input:?}"
            );
        }
    }

    #[test]
    fn what_is_not_modelled_is_unknown() {
        for args in [
            &["-i", "s/a/b/", "/etc/app.conf"][..],
            &["/port/d"],
            &["1s/a/b/"],
            &["s/\\(a\\)\\1/b/"],
            &["s/a/\\U&/"],
            &["s//b/"],
            &["s/a/b"],
            &["s/a/b/", "/etc/missing"],
        ] {
            assert_eq!(run(args, "a\n"), None, "sed {args:?}");
        }
    }
}
