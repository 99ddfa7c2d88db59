//! The readable rendering of a result, used by `explain` and `scan --format text`.
//!
//! A tree a person reads top-down: the terminal(s) first (what runs, as whom, where, in what
//! runtime, how sure and why — each feature with its signed contribution), then the chain
//! from the image's words to the terminal with the location each step came from, then
//! alternates, evidence and diagnostics. Argv words are shell-quoted where needed so a reader
//! can tell `a b` from `"a b"`. It renders only; it does not decide or reorder anything.

use std::fmt::Write;

use crate::model::{ChainStep, EntryTraceResult, Level, Mode, StepKind, Terminal, TerminalKind};

/// Renders `r` as a tree a person can read.
pub fn render(r: &EntryTraceResult) -> String {
    let mut s = String::new();
    let mode = match r.mode {
        Mode::Static => "static",
        Mode::Dynamic => "dynamic",
        Mode::Merged => "merged",
    };
    let what = r
        .target
        .source
        .as_deref()
        .or(r.target.container_id.as_deref())
        .or(r.target.bundle.as_deref())
        .unwrap_or("(unnamed)");
    let _ = writeln!(s, "entrytrace {mode} result for {what}");
    if r.terminals.is_empty() {
        let _ = writeln!(s, "no terminal: nothing could be resolved");
    }
    for (i, t) in r.terminals.iter().enumerate() {
        terminal(&mut s, t, &format!("terminal {}", i + 1), "");
    }
    if !r.chain.is_empty() {
        let _ = writeln!(s, "chain");
        for (i, step) in r.chain.iter().enumerate() {
            chain_step(&mut s, i + 1, step, i + 1 == r.chain.len());
        }
    }
    if !r.alternates.is_empty() {
        let _ = writeln!(s, "alternates");
        for a in &r.alternates {
            let _ = writeln!(
                s,
                "  {} ({:.2}): {}",
                quote_argv(&a.argv),
                a.confidence,
                a.why
            );
        }
    }
    list(&mut s, "evidence", r.evidence.iter().map(String::as_str));
    if !r.diagnostics.is_empty() {
        let _ = writeln!(s, "diagnostics");
        for d in &r.diagnostics {
            let level = match d.level {
                Level::Info => "info",
                Level::Warning => "warning",
                Level::Error => "error",
            };
            let _ = writeln!(s, "  {level}: {}", d.message);
        }
    }
    s
}

fn terminal(s: &mut String, t: &Terminal, title: &str, indent: &str) {
    let kind = match t.kind {
        TerminalKind::Process => "process",
        TerminalKind::Supervisor => "supervisor",
        TerminalKind::Service => "service",
    };
    let _ = writeln!(s, "{indent}{title}: {}", quote_argv(&t.argv));
    let row = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "{indent}  {k:<11}{v}");
    };
    row(s, "path", t.path.as_deref().unwrap_or("(unresolved)"));
    row(s, "user", &t.user);
    row(s, "workdir", &t.workdir);
    row(s, "kind", kind);
    row(s, "runtime", &t.runtime.family);
    for e in &t.runtime.evidence {
        let _ = writeln!(s, "{indent}  {:<11}  {e}", "");
    }
    if let Some(a) = &t.runtime.artefact {
        row(s, "artefact", a);
    }
    row(s, "confidence", &format!("{:.2}", t.confidence));
    for f in &t.features {
        let _ = writeln!(
            s,
            "{indent}    {:<4}{:+.2}  {}",
            f.id, f.contribution, f.evidence
        );
    }
    for (i, svc) in t.services.iter().enumerate() {
        terminal(
            s,
            svc,
            &format!("service {}", i + 1),
            &format!("{indent}  "),
        );
    }
}

fn chain_step(s: &mut String, n: usize, step: &ChainStep, last: bool) {
    let kind = match step.step {
        StepKind::Compose => "compose",
        StepKind::Wrapper => "wrapper",
        StepKind::Resolve => "resolve",
        StepKind::Shebang => "shebang",
        StepKind::Shellflow => "shellflow",
        StepKind::Exec => "exec",
        StepKind::Fork => "fork",
    };
    let (branch, cont) = if last {
        ("└─", "   ")
    } else {
        ("├─", "│  ")
    };
    let _ = writeln!(s, "  {branch}{n}. {kind:<9} {}", quote_argv(&step.argv));
    let _ = writeln!(s, "  {cont}   {}", step.why);
    if let Some(loc) = &step.location {
        let _ = writeln!(s, "  {cont}   at {loc}");
    }
}

fn list<'a>(s: &mut String, title: &str, items: impl Iterator<Item = &'a str>) {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return;
    }
    let _ = writeln!(s, "{title}");
    for i in items {
        let _ = writeln!(s, "  - {i}");
    }
}

/// Joins words, single-quoting those a shell would split or expand.
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

fn quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_need_it() {
        let w = |ws: &[&str]| ws.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (argv, want) in [
            (w(&["sh", "-c", "exec app"]), "sh -c 'exec app'"),
            (w(&["a", ""]), "a ''"),
            (w(&["it's"]), r"'it'\''s'"),
            (w(&["--port=80", "/x/y"]), "--port=80 /x/y"),
        ] {
            assert_eq!(quote_argv(&argv), want);
        }
    }

    #[test]
    fn renders_supervisors_services_alternates_and_every_diagnostic_level() {
        use crate::model::*;
        let svc = |argv: &[&str], user: &str| Terminal {
            argv: argv.iter().map(|w| w.to_string()).collect(),
            path: Some(format!("/usr/sbin/{}", argv[0])),
            user: user.into(),
            workdir: "/".into(),
            kind: TerminalKind::Service,
            runtime: Runtime {
                family: "c".into(),
                evidence: vec![],
                artefact: None,
            },
            confidence: 0.7,
            features: vec![],
            services: vec![],
        };
        let mut r = EntryTraceResult::new(
            Mode::Merged,
            Target {
                container_id: Some("abc123".into()),
                ..Target::default()
            },
        );
        r.terminals.push(Terminal {
            argv: vec!["supervisord".into(), "-n".into()],
            path: None,
            user: "0".into(),
            workdir: "/etc".into(),
            kind: TerminalKind::Supervisor,
            runtime: Runtime {
                family: "python".into(),
                evidence: vec!["#! interpreter /usr/bin/python3".into()],
                artefact: None,
            },
            confidence: 0.5,
            features: vec![Feature {
                id: "f8".into(),
                contribution: -0.2,
                evidence: "two branches".into(),
            }],
            services: vec![
                svc(&["nginx", "-g", "daemon off;"], "www-data"),
                svc(&["cron", "-f"], "root"),
            ],
        });
        r.alternates.push(Alternate {
            argv: vec!["bash".into()],
            confidence: 0.21,
            why: "when $1 is not a flag".into(),
        });
        r.chain.push(ChainStep {
            step: StepKind::Exec,
            argv: vec!["supervisord".into()],
            why: "observed exec".into(),
            location: None,
        });
        for (level, m) in [
            (Level::Info, "window 2s"),
            (Level::Warning, "ring buffer dropped 3 events"),
            (Level::Error, "no terminal"),
        ] {
            r.diagnose(level, m);
        }
        insta::assert_snapshot!(render(&r));
    }
}
