//! The reduction loop (static seed §6): from an argv to the program left at the end.
//!
//! Each round looks the command word up (PATH, execute bit), probes the file, and either
//! collapses a wrapper of the catalogue, rewrites a `#!` script into its interpreter, hands a
//! shell's script to the [`super::script`] seam, or stops at a binary. Every move is a
//! [`ChainStep`] with its reason; soft problems are diagnostics. The loop is bounded by
//! `limits.max_depth` rounds and the kernel's `#!` nesting limit. It builds no terminal
//! (that is `terminal`) and scores nothing.

use entrytrace_config::{Config, WrapperKind, WrapperRule};

use super::compose::{set_env, unset_env};
use super::script::{follow_script, ScriptOutcome, ScriptRequest, ScriptSource};
use super::users::Users;
use super::wrapper::{apply, find_rule, Applied, Collapse};
use crate::model::{Alternate, ChainStep, Diagnostic, Level, StepKind};
use crate::probe::path::{env_value, lookup, Lookup};
use crate::probe::shebang::{Shebang, MAX_INTERPRETER_DEPTH};
use crate::probe::{probe_file, FileProbe, Format};
use crate::score::Facts;
use crate::vfs::{normalize, Metadata, Vfs};

/// The state of the process being followed.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// As written; `None` is root.
    pub user: Option<String>,
    pub cwd: String,
    /// False right after a `#!` rewrite: the kernel does not search PATH for interpreters.
    search: bool,
    shebangs: usize,
    /// A busybox applet runs inside the binary already found.
    applet_of: Option<(String, String, Metadata)>,
    /// The process is still PID 1 (no init shim has forked it).
    pub pid1: bool,
    /// `env` is the whole environment: a name missing from it is unset (see
    /// [`crate::image::ImageSpec::env_complete`]).
    pub env_complete: bool,
    /// The capability bounding set, when known or assumed (see
    /// [`crate::image::ImageSpec::capabilities`]).
    pub capabilities: Option<shellflow::Capabilities>,
}

impl Cursor {
    pub fn new(argv: Vec<String>, env: Vec<String>, user: Option<String>, cwd: String) -> Self {
        Self {
            argv,
            env,
            user,
            cwd,
            search: true,
            shebangs: 0,
            applet_of: None,
            pid1: true,
            env_complete: false,
            capabilities: None,
        }
    }
}

/// How the chain ended.
#[derive(Debug, Clone)]
pub(crate) enum Ending {
    /// A binary that runs as itself. `shell` when it is a shell with no script.
    Binary {
        path: String,
        probe: Box<FileProbe>,
        shell: bool,
    },
    /// A shell script the analysis could not follow.
    Script {
        path: String,
        uses_positional: bool,
        notes: Vec<String>,
    },
    /// Nothing runnable: missing, not executable, bad format, or too deep.
    Failed { path: Option<String>, why: String },
}

/// What the walk collects besides the ending.
#[derive(Debug)]
pub(crate) struct Walker<'a> {
    vfs: &'a dyn Vfs,
    cfg: &'a Config,
    catalogue: Vec<WrapperRule>,
    pub users: Users,
    pub chain: Vec<ChainStep>,
    pub evidence: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub alternates: Vec<Alternate>,
    /// Chain-wide facts (f1, f9 for skipped hits, f10 for a shell that did not exec).
    pub facts: Facts,
    /// The effective `#!` interpreter of the last script (`python3` for `env python3`).
    pub shebang_interpreter: Option<String>,
    /// Commands a supervisor-shaped script keeps running (see `shellbridge::supervise`).
    pub services: Vec<super::script::Candidate>,
    lookups: usize,
}

enum Next {
    Continue,
    End(Ending),
}

impl<'a> Walker<'a> {
    pub fn new(vfs: &'a dyn Vfs, cfg: &'a Config) -> Self {
        Self {
            vfs,
            cfg,
            catalogue: cfg.wrapper_catalogue(),
            users: Users::load(vfs, cfg.limits.max_read_bytes),
            chain: Vec::new(),
            evidence: Vec::new(),
            diagnostics: Vec::new(),
            alternates: Vec::new(),
            facts: Facts::default(),
            shebang_interpreter: None,
            services: Vec::new(),
            lookups: 0,
        }
    }

    pub fn diagnose(&mut self, level: Level, message: String) {
        self.diagnostics.push(Diagnostic { level, message });
    }

    fn step(&mut self, step: StepKind, argv: &[String], why: String, location: Option<String>) {
        self.chain.push(ChainStep {
            step,
            argv: argv.to_vec(),
            why,
            location,
        });
    }

    /// Follows `cur` to its end. `None` when there is nothing to run at all (empty argv).
    pub fn run(&mut self, cur: &mut Cursor) -> Option<Ending> {
        let max = self.cfg.limits.max_depth;
        for _ in 0..max {
            if cur.argv.is_empty() {
                self.diagnose(Level::Error, "empty command: nothing to execute".into());
                return None;
            }
            match self.round(cur) {
                Next::Continue => {}
                Next::End(e) => return Some(e),
            }
        }
        let why = format!(
            "reduction stopped at the depth limit (limits.max_depth = {max}) at {}",
            cur.argv.first().map_or("(nothing)", String::as_str)
        );
        self.diagnose(Level::Warning, why.clone());
        Some(Ending::Failed { path: None, why })
    }

    fn round(&mut self, cur: &mut Cursor) -> Next {
        let (path, real, meta) = match self.find(cur) {
            Ok(found) => found,
            Err(ending) => return Next::End(ending),
        };
        let probe = match probe_file(self.vfs, &real, meta.size, &self.cfg.limits) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("cannot read {real}: {e}");
                self.diagnose(Level::Warning, why.clone());
                return Next::End(Ending::Failed {
                    path: Some(path),
                    why,
                });
            }
        };
        self.lookups += 1;
        if self.lookups == 1 && probe.is_loadable() {
            self.facts.entry_is_executable = Some(format!("{path} is an executable binary"));
        }
        if is_busybox(&real) && base(&cur.argv[0]) == "busybox" && cur.argv.len() > 1 {
            cur.argv.remove(0);
            let why = format!("busybox ({real}) runs its applet {}", cur.argv[0]);
            self.step(StepKind::Wrapper, &cur.argv.clone(), why, None);
            cur.applet_of = Some((path, real, meta));
            return Next::Continue;
        }
        if let Some(rule) = find_rule(&self.catalogue, &cur.argv[0]).cloned() {
            if rule.kind == WrapperKind::Shell {
                return self.shell(cur, &path, probe);
            }
            if let Some(next) = self.wrapper(cur, &rule, &path) {
                return next;
            }
        }
        self.classify(cur, path, real, probe)
    }

    /// Ends at a binary, rewrites a `#!` script, or fails for an unrunnable file.
    fn classify(&mut self, cur: &mut Cursor, path: String, real: String, probe: FileProbe) -> Next {
        match &probe.format {
            Format::Script(s) => self.shebang(cur, &path, &s.clone()),
            Format::Elf(e) if e.parse_error.is_some() => {
                let why = format!("{path}: exec format error ({})", probe.evidence.join("; "));
                self.diagnose(Level::Warning, why.clone());
                Next::End(Ending::Failed {
                    path: Some(path),
                    why,
                })
            }
            Format::Elf(_) | Format::Pe(_) => {
                let why = resolved_why(&cur.argv[0], &path, &real);
                self.step(StepKind::Resolve, &cur.argv.clone(), why, None);
                Next::End(Ending::Binary {
                    path: real,
                    probe: Box::new(probe),
                    shell: false,
                })
            }
            Format::BadScript(_) | Format::Unknown => {
                let why = format!("{path}: exec format error ({})", probe.evidence.join("; "));
                self.diagnose(Level::Warning, why.clone());
                Next::End(Ending::Failed {
                    path: Some(path),
                    why,
                })
            }
        }
    }

    /// Looks the command word up: `(path as exec'd, real path, metadata)` or the ending.
    fn find(&mut self, cur: &mut Cursor) -> Result<(String, String, Metadata), Ending> {
        if let Some((_, real, meta)) = cur.applet_of.take() {
            return Ok((cur.argv[0].clone(), real, meta));
        }
        let word = cur.argv[0].clone();
        let search = std::mem::replace(&mut cur.search, true);
        let found = lookup(
            self.vfs,
            &word,
            env_value(&cur.env, "PATH"),
            &cur.cwd,
            search,
        );
        match found {
            Ok(Lookup::Found {
                path,
                real,
                meta,
                skipped,
            }) => {
                if let Some(first) = skipped.first() {
                    let why = format!("{first} has no execute bit; execvp skipped it for {path}");
                    self.evidence.push(why.clone());
                    self.facts.target_not_executable = Some(why);
                }
                Ok((path, real, meta))
            }
            Ok(Lookup::NotExecutable { path, kind, .. }) => {
                let why = format!("{path}: permission denied ({kind} without execute bit)");
                self.diagnose(Level::Warning, why.clone());
                Err(Ending::Failed {
                    path: Some(path),
                    why,
                })
            }
            Ok(Lookup::NotFound { tried }) => {
                let why = if tried.is_empty() {
                    "an empty command word cannot be executed".to_string()
                } else if tried.len() == 1 {
                    format!("{}: not found in the image", tried[0])
                } else {
                    format!(
                        "{word}: not found in the image (looked in {})",
                        tried.join(", ")
                    )
                };
                self.diagnose(Level::Warning, why.clone());
                Err(Ending::Failed { path: None, why })
            }
            Err(e) => {
                let why = format!("cannot resolve {word}: {e}");
                self.diagnose(Level::Warning, why.clone());
                Err(Ending::Failed { path: None, why })
            }
        }
    }

    /// Collapses a wrapper; `None` when this call does not wrap a command.
    fn wrapper(&mut self, cur: &mut Cursor, rule: &WrapperRule, path: &str) -> Option<Next> {
        let name = base(&cur.argv[0]).to_string();
        match apply(rule, &cur.argv) {
            Applied::Collapsed(c) => {
                if rule.kind == WrapperKind::Init {
                    cur.pid1 = false;
                }
                let why = format!("{name} ({path}): {}{}", rule.reason, self.changes(&c));
                self.apply_collapse(cur, c);
                self.evidence
                    .push(format!("wrapper {name} collapsed into {}", cur.argv[0]));
                self.step(StepKind::Wrapper, &cur.argv.clone(), why, None);
                Some(Next::Continue)
            }
            Applied::PackageScript(script) => self.package_script(cur, &name, &script),
            Applied::NotWrapping(why) => {
                match super::launcher::implicit_script(&cur.argv).map(str::to_string) {
                    Some(script) => self.package_script(cur, &name, &script),
                    None => {
                        self.evidence.push(why);
                        None
                    }
                }
            }
        }
    }

    fn changes(&self, c: &Collapse) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &c.user {
            parts.push(format!("user {}", self.users.display(Some(u))));
        }
        if c.clear_env {
            parts.push("environment cleared".to_string());
        }
        parts.extend(c.unset.iter().map(|k| format!("unset {k}")));
        parts.extend(c.set.iter().cloned());
        if let Some(d) = &c.chdir {
            parts.push(format!("cd {d}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }

    fn apply_collapse(&mut self, cur: &mut Cursor, c: Collapse) {
        if c.clear_env {
            cur.env.clear();
        }
        for k in &c.unset {
            unset_env(&mut cur.env, k);
        }
        for kv in &c.set {
            set_env(&mut cur.env, kv);
        }
        if let Some(d) = &c.chdir {
            cur.cwd = normalize(d, &cur.cwd);
        }
        if let Some(u) = c.user {
            if self.users.is_unknown(&u) {
                let why = format!("user {u} is not in the image's /etc/passwd");
                self.diagnose(Level::Warning, why);
            }
            cur.user = Some(u);
        }
        if let Some(spec) = &c.bounding_set {
            // Unknown from here when the spec cannot be read.
            cur.capabilities = cur
                .capabilities
                .as_ref()
                .and_then(|caps| caps.after_bounding_spec(spec));
        }
        cur.argv = c.argv;
    }

    fn package_script(&mut self, cur: &mut Cursor, runner: &str, script: &str) -> Option<Next> {
        let manifest = normalize("package.json", &cur.cwd);
        let Some(body) = super::package::script(self.vfs, &manifest, script, &self.cfg.limits)
        else {
            self.evidence
                .push(format!("{runner}: no script {script:?} in {manifest}"));
            return None;
        };
        let bin = normalize("node_modules/.bin", &cur.cwd);
        let path = env_value(&cur.env, "PATH")
            .unwrap_or(crate::probe::path::DEFAULT_PATH)
            .to_string();
        set_env(&mut cur.env, &format!("PATH={bin}:{path}"));
        cur.argv = vec!["/bin/sh".into(), "-c".into(), body.clone()];
        let why = format!("{runner} runs package.json script {script:?} with sh -c: {body}");
        self.evidence.push(why.clone());
        self.step(StepKind::Wrapper, &cur.argv.clone(), why, Some(manifest));
        Some(Next::Continue)
    }

    fn shebang(&mut self, cur: &mut Cursor, path: &str, s: &Shebang) -> Next {
        cur.shebangs += 1;
        if cur.shebangs > MAX_INTERPRETER_DEPTH {
            let why =
                format!("{path}: more than {MAX_INTERPRETER_DEPTH} nested #! interpreters (ELOOP)");
            self.diagnose(Level::Warning, why.clone());
            return Next::End(Ending::Failed {
                path: Some(path.to_string()),
                why,
            });
        }
        cur.argv = s.rewrite(path, &cur.argv);
        cur.search = false;
        self.shebang_interpreter = Some(effective_interpreter(s));
        let line = match &s.arg {
            Some(a) => format!("#!{} {a}", s.interpreter),
            None => format!("#!{}", s.interpreter),
        };
        let why = format!("{line}: the kernel runs the interpreter with the script");
        self.step(
            StepKind::Shebang,
            &cur.argv.clone(),
            why,
            Some(format!("{path}:1")),
        );
        Next::Continue
    }

    fn shell(&mut self, cur: &mut Cursor, path: &str, probe: FileProbe) -> Next {
        let call = parse_shell_call(&cur.argv);
        let (source, args) = match call {
            ShellCall::Inline { text, args } => (ScriptSource::Inline(text), args),
            ShellCall::File { script, args } => (ScriptSource::File(script), args),
            ShellCall::Interactive(why) => {
                self.evidence.push(format!("{path}: {why}"));
                let real = probe.path.clone();
                return Next::End(Ending::Binary {
                    path: real,
                    probe: Box::new(probe),
                    shell: true,
                });
            }
        };
        let user = cur.user.as_deref().unwrap_or("0");
        let name = user.split(':').next().unwrap_or("");
        let req = ScriptRequest {
            source: source.clone(),
            args: &args,
            env: &cur.env,
            user: cur.user.as_deref(),
            uid: name.parse().ok().or_else(|| self.users.uid_of(name)),
            cwd: &cur.cwd,
            shell: base(&cur.argv[0]),
            pid1: cur.pid1,
            env_complete: cur.env_complete,
            capabilities: cur.capabilities.as_ref(),
        };
        let out = follow_script(&req, self.vfs, &self.cfg.limits);
        let location = match &source {
            ScriptSource::File(p) => Some(normalize(p, &cur.cwd)),
            ScriptSource::Inline(_) => None,
        };
        self.adopt(cur, out, location, &probe.path)
    }

    /// Continues with the script's best candidate (others become alternates), or ends the
    /// chain at the script when there is none.
    fn adopt(
        &mut self,
        cur: &mut Cursor,
        out: ScriptOutcome,
        location: Option<String>,
        shell_path: &str,
    ) -> Next {
        if !out.services.is_empty() {
            // Several children kept running: the script is the supervisor, they its services.
            let why = format!(
                "the script keeps {} commands running: a supervisor",
                out.services.len()
            );
            self.step(
                StepKind::Shellflow,
                &cur.argv.clone(),
                why,
                location.clone(),
            );
            self.services = out.services;
            return Next::End(Ending::Script {
                path: location.unwrap_or_else(|| shell_path.to_string()),
                uses_positional: false,
                notes: out.notes,
            });
        }
        let mut candidates = out.candidates.into_iter();
        let Some(best) = candidates.next() else {
            let why = format!("{} (the chain ends at this script)", out.notes.join("; "));
            self.step(
                StepKind::Shellflow,
                &cur.argv.clone(),
                why,
                location.clone(),
            );
            self.evidence.extend(out.notes.iter().cloned());
            return Next::End(Ending::Script {
                path: location.unwrap_or_else(|| shell_path.to_string()),
                uses_positional: out.uses_positional,
                notes: out.notes,
            });
        };
        for alt in candidates {
            self.alternates.push(Alternate {
                argv: alt.argv,
                confidence: alt.confidence,
                why: alt.why,
            });
        }
        if !self.alternates.is_empty() {
            self.facts.unresolved_branches = Some(format!(
                "the script has {} possible commands; the best was followed",
                self.alternates.len() + 1
            ));
        }
        let script_argv = cur.argv.clone();
        let n = best.steps.len().saturating_sub(1);
        for (what, at) in best.steps.iter().take(n).filter(|(_, at)| at.is_some()) {
            self.step(StepKind::Shellflow, &script_argv, what.clone(), at.clone());
            if let Some(dropper) = reexec_dropper(what) {
                // The re-exec goes through a privilege dropper: name it as the wrapper it is.
                let mut argv = dropper.clone();
                argv.extend(script_argv.iter().skip(1).cloned());
                self.evidence.push(format!(
                    "wrapper {} re-runs the script as another user",
                    dropper[0]
                ));
                self.step(StepKind::Wrapper, &argv, what.clone(), at.clone());
            }
        }
        if let Some(u) = best.user {
            cur.user = Some(u);
        }
        if let Some(d) = &best.cwd {
            cur.cwd = normalize(d, &cur.cwd);
        }
        if !best.exec {
            self.facts.shell_without_exec = Some(format!(
                "the shell runs {} as a child, not with exec",
                best.argv.join(" ")
            ));
        }
        for kv in &best.env {
            set_env(&mut cur.env, kv);
        }
        cur.argv = best.argv;
        let loc = best.location.or(location);
        self.step(StepKind::Shellflow, &cur.argv.clone(), best.why, loc);
        Next::Continue
    }
}

/// The dropper words of a shellflow re-exec step ("… re-executes itself under `gosu
/// postgres` as postgres …").
fn reexec_dropper(message: &str) -> Option<Vec<String>> {
    let rest = message.split_once("re-executes itself under `")?.1;
    let words = rest.split_once('`')?.0;
    let argv: Vec<String> = words.split_whitespace().map(str::to_string).collect();
    (!argv.is_empty()).then_some(argv)
}

/// What a shell was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ShellCall {
    /// `sh -c STRING [$0 [ARGS]]`.
    Inline { text: String, args: Vec<String> },
    /// `sh [OPTIONS] SCRIPT [ARGS]`.
    File { script: String, args: Vec<String> },
    /// No script: interactive, or reading stdin.
    Interactive(String),
}

/// Parses a shell's argv as POSIX `sh` (XCU `sh`, "SYNOPSIS") and bash accept it.
fn parse_shell_call(argv: &[String]) -> ShellCall {
    let mut i = 1;
    let (mut command, mut stdin) = (false, false);
    while let Some(w) = argv.get(i) {
        if w == "--" || w == "-" {
            i += 1;
            break;
        }
        if w.starts_with("--") {
            i += if w == "--rcfile" || w == "--init-file" {
                2
            } else {
                1
            };
            continue;
        }
        if !(w.starts_with('-') || w.starts_with('+')) || w.len() < 2 {
            break;
        }
        command |= w.contains('c') && w.starts_with('-');
        stdin |= w.contains('s') && w.starts_with('-');
        i += if w.contains('o') || w.contains('O') {
            2
        } else {
            1
        };
    }
    let rest: Vec<String> = argv.iter().skip(i).cloned().collect();
    match (command, rest.split_first()) {
        (true, Some((text, args))) => ShellCall::Inline {
            text: text.clone(),
            args: args.to_vec(),
        },
        (true, None) => ShellCall::Interactive("-c without a command string".into()),
        (false, Some((script, _))) if !stdin => ShellCall::File {
            script: script.clone(),
            args: rest.clone(),
        },
        _ => ShellCall::Interactive("an interactive shell (no script)".into()),
    }
}

/// How a command word became a file: `app found on PATH at /usr/bin/app`.
fn resolved_why(word: &str, path: &str, real: &str) -> String {
    let mut why = if word.contains('/') {
        format!("{word} is {path}")
    } else {
        format!("{word} found on PATH at {path}")
    };
    if real != path {
        why.push_str(&format!(" (symlink to {real})"));
    }
    why.push_str(": an executable binary, the end of the chain");
    why
}

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn is_busybox(real: &str) -> bool {
    base(real) == "busybox"
}

/// `python3` for `#!/usr/bin/env python3` and `#!/usr/bin/env -S python3 -u`; the
/// interpreter itself otherwise.
fn effective_interpreter(s: &Shebang) -> String {
    if base(&s.interpreter) == "env" {
        let arg = s.arg.as_deref().unwrap_or("");
        let arg = arg.strip_prefix("-S").unwrap_or(arg);
        if let Some(w) = arg
            .split_whitespace()
            .find(|w| !w.starts_with('-') && !w.contains('='))
        {
            return w.to_string();
        }
    }
    s.interpreter.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_calls_are_parsed_as_sh_does() {
        let w = |s: &str| -> Vec<String> { s.split(' ').map(String::from).collect() };
        let inline = |t: &str, a: &str| ShellCall::Inline {
            text: t.into(),
            args: if a.is_empty() { vec![] } else { w(a) },
        };
        let file = |s: &str, a: &str| ShellCall::File {
            script: s.into(),
            args: w(a),
        };
        let cases = [
            ("/bin/sh -c app", inline("app", "")),
            ("sh -ec app sh x", inline("app", "sh x")),
            ("bash -o pipefail -c app", inline("app", "")),
            (
                "sh -x /entry.sh postgres",
                file("/entry.sh", "/entry.sh postgres"),
            ),
            ("bash --login /entry.sh", file("/entry.sh", "/entry.sh")),
            ("sh +e -- /entry.sh", file("/entry.sh", "/entry.sh")),
        ];
        for (line, want) in cases {
            assert_eq!(parse_shell_call(&w(line)), want, "{line}");
        }
        for line in ["sh", "bash -i", "sh -s x", "sh -c"] {
            assert!(
                matches!(parse_shell_call(&w(line)), ShellCall::Interactive(_)),
                "{line}"
            );
        }
    }

    #[test]
    fn env_shebangs_name_their_real_interpreter() {
        let sb = |i: &str, a: Option<&str>| Shebang {
            interpreter: i.into(),
            arg: a.map(String::from),
            truncated: false,
        };
        assert_eq!(
            effective_interpreter(&sb("/usr/bin/env", Some("python3"))),
            "python3"
        );
        assert_eq!(
            effective_interpreter(&sb("/usr/bin/env", Some("-S node --x"))),
            "node"
        );
        assert_eq!(
            effective_interpreter(&sb("/bin/bash", Some("-e"))),
            "/bin/bash"
        );
    }
}
