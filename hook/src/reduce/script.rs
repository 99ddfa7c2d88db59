//! The seam between the reducer and shell analysis: given a shell script (a file, or a `-c`
//! string) with its arguments, environment, user and working directory, what commands could
//! it end up running?
//!
//! The `shellflow` crate answers (through `shellbridge`, which presents the [`Vfs`] to it and
//! maps its candidates back). A `-c` string made of plain words — bare, or quoted without
//! expansions; no operators or redirections — is also split here, as a fallback when
//! shellflow yields nothing for it. [`follow_script`] also reports whether the script refers
//! to its positional parameters, for the "unresolved branches" feature when nothing could be
//! followed.

use entrytrace_config::Limits;

use super::wrapper::is_assignment;
use crate::vfs::Vfs;

/// Where the script comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// A script file, by the path the shell was given.
    File(String),
    /// A `-c` string.
    Inline(String),
}

/// What the shell is asked to run, and in which state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRequest<'a> {
    pub source: ScriptSource,
    /// `$0`, `$1` ...: for a file, its path then its arguments; for `-c`, the words after
    /// the string.
    pub args: &'a [String],
    pub env: &'a [String],
    /// As written (`name`, `uid[:gid]`); `None` is root.
    pub user: Option<&'a str>,
    /// The user's uid, where the image's passwd (or the number itself) says.
    pub uid: Option<u32>,
    pub cwd: &'a str,
    /// Basename of the shell running the script (`sh`, `bash`, `dash`): picks the dialect.
    pub shell: &'a str,
    /// The shell is PID 1 (no init shim forked it): decides `$$` for shellflow.
    pub pid1: bool,
    /// `env` is the whole environment: shellflow takes a missing name as unset, not as
    /// "may be set at run time".
    pub env_complete: bool,
    /// The capability bounding set (`setpriv -d` prints it); `None` when unknown.
    pub capabilities: Option<&'a shellflow::Capabilities>,
}

/// One command the script may run.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub argv: Vec<String>,
    /// Assignments the script makes for it (`NAME=VALUE`).
    pub env: Vec<String>,
    /// Replaces the shell (`exec`, or a last simple command the shell execs in place).
    pub exec: bool,
    /// The user it runs as when the script changed it (`gosu` inside the script), as written.
    pub user: Option<String>,
    /// The working directory when the script changed it (`cd`).
    pub cwd: Option<String>,
    /// In `[0, 1]`: how sure the analysis is that this one runs.
    pub confidence: f64,
    pub why: String,
    /// `file:line`.
    pub location: Option<String>,
    /// Started in the background (`&`): one of several children, not the shell's successor.
    pub background: bool,
    /// The script's steps that led here: what happened, and `file:line`.
    pub steps: Vec<(String, Option<String>)>,
}

/// What the analysis found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptOutcome {
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// The script uses `$@`, `$*` or `$1`..`$9` (its result depends on the arguments).
    pub uses_positional: bool,
    /// Why nothing (or only part) was followed.
    pub notes: Vec<String>,
    /// The supervisor shape: the commands the script keeps running in the background (and
    /// the foreground one it ends in). Non-empty only when there are at least two.
    pub services: Vec<Candidate>,
}

/// Follows a script to the commands it may run, with shellflow. A `-c` string of plain
/// words that shellflow leaves without a command still gets the plain split.
pub fn follow_script(req: &ScriptRequest<'_>, vfs: &dyn Vfs, limits: &Limits) -> ScriptOutcome {
    let text = match &req.source {
        ScriptSource::Inline(text) => Ok(text.clone()),
        ScriptSource::File(path) => vfs
            .read(&crate::vfs::normalize(path, req.cwd), limits.max_read_bytes)
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            return ScriptOutcome {
                notes: vec![format!("script unreadable: {e}")],
                ..ScriptOutcome::default()
            }
        }
    };
    let followed = super::shellbridge::follow(req, vfs, limits);
    if followed.candidates.is_empty() {
        if let ScriptSource::Inline(t) = &req.source {
            let mut plain = follow_inline(t);
            if !plain.candidates.is_empty() {
                plain.notes.extend(followed.notes);
                return plain;
            }
        }
    }
    let mut notes = followed.notes;
    if followed.candidates.is_empty() {
        notes.push("shellflow found no command this script runs".into());
    }
    ScriptOutcome {
        candidates: followed.candidates,
        uses_positional: uses_positional(&text),
        notes,
        services: followed.services,
    }
}

fn follow_inline(text: &str) -> ScriptOutcome {
    let mut out = ScriptOutcome {
        uses_positional: uses_positional(text),
        ..ScriptOutcome::default()
    };
    let Some(mut words) = split_plain_words(text) else {
        out.notes.push(format!(
            "-c {text:?}: has shell syntax beyond plain words; not followed until shellflow lands"
        ));
        return out;
    };
    let mut explicit_exec = false;
    let mut env = Vec::new();
    while let Some((first, bare_name)) = words.first() {
        if first == "exec" && !explicit_exec {
            explicit_exec = true;
        } else if *bare_name && is_assignment(first) {
            env.push(first.clone());
        } else {
            break;
        }
        words.remove(0);
    }
    let words: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
    if words.is_empty() {
        out.notes.push(format!("-c {text:?} runs no command"));
        return out;
    }
    let why = if explicit_exec {
        "sh -c with one exec of plain words (split without a shell parser)"
    } else {
        "sh -c with one simple command of plain words: the shell execs it in place"
    };
    out.candidates.push(Candidate {
        argv: words,
        env,
        exec: true,
        user: None,
        cwd: None,
        confidence: 1.0,
        why: why.to_string(),
        location: None,
        background: false,
        steps: Vec::new(),
    });
    out
}

/// Splits a string of plain words — unquoted, `'single'` or `"double"`-quoted without `$`,
/// `` ` `` or `\` — as a shell would; `None` at any other shell syntax. Each word comes with
/// whether its text up to the first `=` was unquoted (only then can it be an assignment).
fn split_plain_words(text: &str) -> Option<Vec<(String, bool)>> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c);
    let mut words = Vec::new();
    let mut cur: Option<(String, bool)> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(cur.take()),
            '\'' | '"' => {
                let w = cur.get_or_insert_with(|| (String::new(), true));
                if !w.0.contains('=') {
                    w.1 = false;
                }
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        '$' | '`' | '\\' if c == '"' => return None,
                        other => w.0.push(other),
                    }
                }
            }
            c if plain(c) => cur.get_or_insert_with(|| (String::new(), true)).0.push(c),
            _ => return None,
        }
    }
    words.extend(cur);
    Some(words)
}

fn uses_positional(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2).enumerate().any(|(i, w)| {
        w[0] == b'$'
            && (matches!(w[1], b'@' | b'*' | b'1'..=b'9')
                || (w[1] == b'{'
                    && b.get(i + 2)
                        .is_some_and(|c| matches!(c, b'@' | b'*' | b'1'..=b'9'))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    fn inline(text: &str) -> ScriptOutcome {
        let req = ScriptRequest {
            source: ScriptSource::Inline(text.into()),
            args: &[],
            env: &[],
            user: None,
            uid: Some(0),
            cwd: "/",
            shell: "sh",
            pid1: true,
            env_complete: false,
            capabilities: None,
        };
        follow_script(&req, &MemVfs::new(), &Limits::default())
    }

    #[test]
    fn inline_strings_are_followed_by_shellflow_or_split_as_plain_words() {
        type Words = &'static [&'static str];
        let cases: &[(&str, Option<Words>, Words)] = &[
            ("python app.py", Some(&["python", "app.py"]), &[]),
            (
                "exec  gunicorn -b 0.0.0.0:8000 app:app",
                Some(&["gunicorn", "-b", "0.0.0.0:8000", "app:app"]),
                &[],
            ),
            (
                "PORT=80 exec node server.js",
                Some(&["node", "server.js"]),
                &["PORT=80"],
            ),
            // `exec` takes no assignments: the shell looks for a program named `PORT=80`.
            (
                "exec PORT=80 node server.js",
                Some(&["PORT=80", "node", "server.js"]),
                &[],
            ),
            ("echo hi; exec app", Some(&["app"]), &[]),
            (
                "exec gunicorn -b '0.0.0.0:8000' \"app:create_app()\"",
                Some(&["gunicorn", "-b", "0.0.0.0:8000", "app:create_app()"]),
                &[],
            ),
            (
                "A=\"x y\" node 'my app.js'",
                Some(&["node", "my app.js"]),
                &["A=x y"],
            ),
            ("\"A=1\" app", Some(&["A=1", "app"]), &[]),
            // An unknown word is kept, rendered as shellflow marks it.
            (
                "app \"$HOME\"",
                Some(&["app", "<$HOME: env HOME not set in image>"]),
                &[],
            ),
            ("app 'unterminated", None, &[]),
            ("exec \"$@\"", None, &[]),
            ("app > /log", Some(&["app"]), &[]),
            ("", None, &[]),
            ("exec", None, &[]),
        ];
        for (text, argv, env) in cases {
            let out = inline(text);
            let got = out.candidates.first();
            match argv {
                Some(argv) => {
                    let c = got.unwrap_or_else(|| panic!("{text}: no candidate: {:?}", out.notes));
                    assert_eq!(&c.argv, argv, "{text}");
                    assert_eq!(&c.env, env, "{text}");
                    assert!(c.exec, "{text}: not an exec");
                }
                None => assert!(got.is_none(), "{text}: {got:?}"),
            }
        }
    }

    #[test]
    fn script_files_are_followed_and_positional_use_is_seen() {
        let mut v = MemVfs::new();
        v.add_file("/entry.sh", 0o755, b"#!/bin/sh\nset -e\nexec \"$@\"\n");
        v.add_file("/plain.sh", 0o755, b"#!/bin/sh\nexec app\n");
        for (path, positional, argv) in
            [("/entry.sh", true, None), ("/plain.sh", false, Some("app"))]
        {
            let req = ScriptRequest {
                source: ScriptSource::File(path.into()),
                args: &[],
                env: &[],
                user: None,
                uid: Some(0),
                cwd: "/",
                shell: "sh",
                pid1: true,
                env_complete: false,
                capabilities: None,
            };
            let out = follow_script(&req, &v, &Limits::default());
            // `exec "$@"` with no arguments runs nothing; `exec app` runs app.
            assert_eq!(
                out.candidates.first().map(|c| c.argv.join(" ")).as_deref(),
                argv,
                "{path}"
            );
            assert_eq!(out.uses_positional, positional, "{path}");
        }
        assert!(inline("exec \"${1}\"").uses_positional);
    }
}
