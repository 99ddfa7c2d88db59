//! The static reducer: from an image's ENTRYPOINT/CMD to the program the container really
//! runs (static seed §6).
//!
//! [`analyze`] composes the argv ([`compose`]) and hands it to [`reduce_argv`], which walks
//! it ([`walk`]): wrapper catalogue ([`wrapper`]), PATH lookup and probes (`crate::probe`),
//! `#!` rewrites, shell scripts through the [`script`] seam, repeated up to
//! `limits.max_depth` times, then builds and scores the terminal ([`terminal`],
//! `crate::score`). [`reduce_argv`] is also what the dynamic side calls with an argv it saw a
//! live process exec, so both modes share one reducer. Nothing here runs a program, and
//! nothing here fails: problems become diagnostics in the result.

pub mod compose;
pub mod launcher;
pub mod package;
pub mod runtime;
pub mod script;
pub mod shellbridge;
pub mod supervisor;
pub mod terminal;
pub mod users;
pub mod walk;
pub mod wrapper;

use entrytrace_config::Config;

pub use compose::{capabilities, compose, Overrides};

use crate::image::ImageSpec;
use crate::model::{
    Alternate, ChainStep, Diagnostic, EntryTraceResult, Mode, StepKind, Target, Terminal,
};
use crate::vfs::Vfs;
use walk::{Cursor, Walker};

/// A process about to run (or seen running): what the reducer starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub argv: Vec<String>,
    /// `KEY=VALUE` words.
    pub env: Vec<String>,
    /// As written (`name`, `uid`, `uid:gid`, `name:group`); `None` is root.
    pub user: Option<String>,
    /// Absolute working directory.
    pub workdir: String,
    /// `80/tcp` ... (for the ports feature; empty when unknown).
    pub exposed_ports: Vec<String>,
    /// `env` is the whole environment (see [`crate::image::ImageSpec::env_complete`]).
    pub env_complete: bool,
    /// The capability bounding set (see [`crate::image::ImageSpec::capabilities`]).
    pub capabilities: Option<shellflow::Capabilities>,
}

/// What the reducer found for one launch: the pieces of an [`EntryTraceResult`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reduction {
    /// Ranked, best first; empty when there is nothing to run (an empty argv).
    pub terminals: Vec<Terminal>,
    pub alternates: Vec<Alternate>,
    pub chain: Vec<ChainStep>,
    pub evidence: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Reduction {
    /// A result of `mode` for `target` holding this reduction.
    pub fn into_result(self, mode: Mode, target: Target) -> EntryTraceResult {
        let mut r = EntryTraceResult::new(mode, target);
        r.terminals = self.terminals;
        r.alternates = self.alternates;
        r.chain = self.chain;
        r.evidence = self.evidence;
        r.diagnostics = self.diagnostics;
        r
    }
}

/// The static analysis of an image: compose, reduce, score.
pub fn analyze(
    spec: &ImageSpec,
    vfs: &dyn Vfs,
    overrides: &Overrides,
    cfg: &Config,
    target: Target,
) -> EntryTraceResult {
    let composed = compose(spec, overrides);
    let launch = Launch {
        argv: composed.argv.clone(),
        env: composed.env,
        user: composed.user,
        workdir: composed.workdir,
        exposed_ports: spec.exposed_ports.clone(),
        env_complete: spec.env_complete,
        // The CLI checked the flags' names; a bad one here leaves the source's set.
        capabilities: capabilities(spec.capabilities.as_ref(), overrides)
            .unwrap_or_else(|_| spec.capabilities.clone()),
    };
    let mut red = reduce_argv(&launch, vfs, cfg);
    red.chain.insert(
        0,
        ChainStep {
            step: StepKind::Compose,
            argv: composed.argv,
            why: composed.why,
            location: None,
        },
    );
    red.into_result(Mode::Static, target)
}

/// Reduces one launch to its terminal. The chain holds the steps *after* `launch.argv`
/// (callers prepend their own first step: `compose`, or `exec` for an observed process).
/// A supervisor the walk passes through has its services reduced too ([`supervisor`]).
pub fn reduce_argv(launch: &Launch, vfs: &dyn Vfs, cfg: &Config) -> Reduction {
    reduce_launch(launch, vfs, cfg, true)
}

/// Reduces a supervisor's service: as [`reduce_argv`], but a supervisor found inside it is
/// not expanded again (the recursion bound).
pub(crate) fn reduce_service(launch: &Launch, vfs: &dyn Vfs, cfg: &Config) -> Reduction {
    reduce_launch(launch, vfs, cfg, false)
}

fn reduce_launch(launch: &Launch, vfs: &dyn Vfs, cfg: &Config, expand: bool) -> Reduction {
    let mut walker = Walker::new(vfs, cfg);
    let mut cur = Cursor::new(
        launch.argv.clone(),
        launch.env.clone(),
        launch.user.clone(),
        if launch.workdir.is_empty() {
            "/".to_string()
        } else {
            launch.workdir.clone()
        },
    );
    cur.env_complete = launch.env_complete;
    cur.capabilities = launch.capabilities.clone();
    if let Some(u) = launch
        .user
        .as_deref()
        .filter(|u| walker.users.is_unknown(u))
    {
        walker.diagnose(
            crate::model::Level::Warning,
            format!(
                "user {u} is not in the image's /etc/passwd: the runtime would refuse to start"
            ),
        );
    }
    let ending = walker.run(&mut cur);
    let mut terminals = match &ending {
        Some(e) => vec![terminal::build(
            &cur,
            e,
            &walker,
            vfs,
            cfg,
            &launch.exposed_ports,
        )],
        None => Vec::new(),
    };
    if let Some(t) = terminals.first_mut() {
        shellbridge::supervise(t, &walker.services, &cur, vfs, cfg);
    }
    if let Some(t) = terminals.first() {
        walker.evidence.extend(
            t.features
                .iter()
                .map(|f| format!("{} {:+.2}: {}", f.id, f.contribution, f.evidence)),
        );
    }
    let mut red = Reduction {
        terminals,
        alternates: walker.alternates,
        chain: walker.chain,
        evidence: walker.evidence,
        diagnostics: walker.diagnostics,
    };
    if expand {
        let seen: Vec<Vec<String>> = std::iter::once(launch.argv.clone())
            .chain(red.chain.iter().map(|s| s.argv.clone()))
            .chain(std::iter::once(cur.argv.clone()))
            .collect();
        let seen: Vec<&[String]> = seen.iter().map(Vec::as_slice).collect();
        let base = Launch {
            argv: cur.argv.clone(),
            env: cur.env.clone(),
            user: cur.user.clone(),
            workdir: cur.cwd.clone(),
            exposed_ports: launch.exposed_ports.clone(),
            env_complete: cur.env_complete,
            capabilities: cur.capabilities.clone(),
        };
        supervisor::expand(&mut red, &seen, &base, vfs, cfg);
    }
    red
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, StepKind::*};
    use crate::vfs::mem::MemVfs;

    const GLIBC: &str = "/lib64/ld-linux-x86-64.so.2";
    const MUSL: &str = "/lib/ld-musl-x86_64.so.1";

    fn image() -> MemVfs {
        let mut v = MemVfs::new();
        for (path, interp) in [
            ("/usr/bin/tini", Some(GLIBC)),
            ("/usr/local/bin/gosu", Some(GLIBC)),
            ("/usr/bin/dumb-init", None),
            ("/usr/bin/env", Some(GLIBC)),
            ("/usr/bin/app", Some(GLIBC)),
            ("/opt/bin/app", Some(MUSL)),
            ("/usr/bin/python3.11", Some(GLIBC)),
            ("/bin/dash", Some(GLIBC)),
            ("/srv/bin/server", None),
            ("/usr/sbin/nginx", Some(GLIBC)),
            ("/usr/bin/setpriv", Some(GLIBC)),
            ("/usr/bin/supervisord", Some(GLIBC)),
        ] {
            v.add_tiny_elf(path, 0o755, interp);
        }
        v.add_tiny_elf("/usr/local/bin/noexec", 0o644, None);
        v.add_symlink("/usr/bin/python3", "python3.11");
        v.add_symlink("/bin/sh", "dash");
        v.add_file("/app/main.py", 0o755, b"#!/usr/bin/env python3\nprint(1)\n");
        v.add_file("/app/loop.sh", 0o755, b"#!/app/loop.sh\n");
        v.add_file("/app/notes.txt", 0o755, b"hello\n");
        v.add_file(
            "/docker-entrypoint.sh",
            0o755,
            b"#!/bin/sh\nset -e\nexec \"$@\"\n",
        );
        v.add_file(
            "/etc/passwd",
            0o644,
            b"root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
        );
        v
    }

    fn words(s: &str) -> Vec<String> {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    }

    fn run(ep: &str, cmd: &str, user: Option<&str>, workdir: Option<&str>) -> EntryTraceResult {
        let spec = ImageSpec {
            entrypoint: (!ep.is_empty()).then(|| words(ep)),
            cmd: (!cmd.is_empty()).then(|| words(cmd)),
            env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
            user: user.map(String::from),
            workdir: workdir.map(String::from),
            exposed_ports: vec!["80/tcp".into()],
            ..ImageSpec::default()
        };
        analyze(
            &spec,
            &image(),
            &Overrides::default(),
            &Config::default(),
            Target::default(),
        )
    }

    struct Want {
        path: Option<&'static str>,
        user: &'static str,
        family: &'static str,
        confidence: (f64, f64),
        steps: &'static [StepKind],
    }

    fn want(
        path: Option<&'static str>,
        user: &'static str,
        family: &'static str,
        confidence: (f64, f64),
        steps: &'static [StepKind],
    ) -> Want {
        Want {
            path,
            user,
            family,
            confidence,
            steps,
        }
    }

    #[test]
    fn reduces_entrypoints_to_their_terminal() {
        let (clean, low) = ((0.85, 1.0), (0.0, 0.2));
        let app = Some("/usr/bin/app");
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Want,
        );
        #[rustfmt::skip]
        let cases: Vec<Row> = vec![
            ("/usr/bin/app --flag", "", None, None, want(app, "root", "c", clean, &[Compose, Resolve])),
            ("tini -- gosu postgres app", "", None, None, want(app, "postgres", "c", clean, &[Compose, Wrapper, Wrapper, Resolve])),
            ("dumb-init --single-child --rewrite 15:2", "app", Some("1000"), None, want(app, "app", "c", clean, &[Compose, Wrapper, Resolve])),
            ("", "./bin/server", Some("app:app"), Some("/srv"), want(Some("/srv/bin/server"), "app", "c", clean, &[Compose, Resolve])),
            ("setpriv --reuid=999 --init-groups app", "", Some("app"), None, want(app, "postgres", "c", clean, &[Compose, Wrapper, Resolve])),
            ("env PATH=/opt/bin app", "", None, None, want(Some("/opt/bin/app"), "root", "c", clean, &[Compose, Wrapper, Resolve])),
            ("/app/main.py", "", None, None, want(Some("/usr/bin/python3.11"), "root", "python", (0.6, 1.0), &[Compose, Shebang, Wrapper, Resolve])),
            ("/docker-entrypoint.sh", "app", None, None, want(app, "root", "c", (0.6, 1.0), &[Compose, Shebang, Shellflow, Resolve])),
            ("", "missing-app", None, None, want(None, "root", "unknown", low, &[Compose])),
            ("/usr/local/bin/noexec", "", None, None, want(Some("/usr/local/bin/noexec"), "root", "unknown", low, &[Compose])),
            ("/app/notes.txt", "", None, None, want(Some("/app/notes.txt"), "root", "unknown", low, &[Compose])),
            ("/app/loop.sh", "", None, None, want(Some("/app/loop.sh"), "root", "unknown", low, &[Compose, Shebang, Shebang, Shebang, Shebang])),
        ];
        for (ep, cmd, user, wd, want) in cases {
            let r = run(ep, cmd, user, wd);
            let t = r
                .terminals
                .first()
                .unwrap_or_else(|| panic!("{ep} {cmd}: no terminal: {r:#?}"));
            let ctx = format!("{ep} | {cmd}: {t:#?}\n{:#?}\n{:#?}", r.chain, r.diagnostics);
            assert_eq!(t.path.as_deref(), want.path, "{ctx}");
            assert_eq!(t.user, want.user, "{ctx}");
            assert_eq!(t.runtime.family, want.family, "{ctx}");
            assert!(
                (want.confidence.0..=want.confidence.1).contains(&t.confidence),
                "{ctx}"
            );
            let steps: Vec<StepKind> = r.chain.iter().map(|s| s.step).collect();
            assert_eq!(steps, want.steps, "{ctx}");
        }
    }

    #[test]
    fn shell_form_cmd_resolves_through_the_interim_split() {
        let spec = ImageSpec {
            cmd: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "exec nginx -g daemon-off".into(),
            ]),
            exposed_ports: vec!["80/tcp".into()],
            ..ImageSpec::default()
        };
        let r = analyze(
            &spec,
            &image(),
            &Overrides::default(),
            &Config::default(),
            Target::default(),
        );
        let t = &r.terminals[0];
        assert_eq!(t.path.as_deref(), Some("/usr/sbin/nginx"));
        assert_eq!(t.argv, words("nginx -g daemon-off"));
        assert!(t.features.iter().any(|f| f.id == "f4"), "{:?}", t.features);
        assert_eq!(
            r.chain.iter().map(|s| s.step).collect::<Vec<_>>(),
            [Compose, Shellflow, Resolve]
        );
        assert!(r.chain[0].why.contains("shell form"));
    }

    #[test]
    fn a_missing_target_is_named_in_a_diagnostic_and_scores_f9() {
        let r = run("", "/usr/bin/nope --x", None, None);
        let t = &r.terminals[0];
        assert!(t.features.iter().any(|f| f.id == "f9"));
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.message.contains("/usr/bin/nope")),
            "{:?}",
            r.diagnostics
        );
        let r = run("", "/usr/local/bin/noexec", None, None);
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.message.contains("permission denied")),
            "{:?}",
            r.diagnostics
        );
    }

    #[test]
    fn an_empty_argv_gives_no_terminal_and_an_error() {
        let r = run("", "", None, None);
        assert!(r.terminals.is_empty());
        assert!(r.diagnostics.iter().any(|d| d.level == Level::Error));
    }

    #[test]
    fn env_wrapper_changes_the_environment_seen_by_later_lookups() {
        let launch = Launch {
            argv: words("env -i A=1 /usr/bin/env PATH=/opt/bin app"),
            workdir: "/".into(),
            ..Launch::default()
        };
        let red = reduce_argv(&launch, &image(), &Config::default());
        assert_eq!(red.terminals[0].path.as_deref(), Some("/opt/bin/app"));
        assert!(
            red.chain[0].why.contains("environment cleared") && red.chain[0].why.contains("A=1"),
            "{:?}",
            red.chain
        );
    }

    #[test]
    fn the_depth_limit_stops_wrapper_loops_with_a_diagnostic() {
        let launch = Launch {
            argv: [vec!["nice".to_string(); 40], vec!["app".to_string()]].concat(),
            workdir: "/".into(),
            ..Launch::default()
        };
        let mut v = image();
        v.add_tiny_elf("/usr/bin/nice", 0o755, Some(GLIBC));
        let red = reduce_argv(&launch, &v, &Config::default());
        assert!(
            red.diagnostics
                .iter()
                .any(|d| d.message.contains("max_depth")),
            "{:?}",
            red.diagnostics
        );
        assert!(red.terminals[0].confidence < 0.5);
    }

    #[test]
    fn a_supervisor_is_a_terminal_of_kind_supervisor() {
        let r = run("", "supervisord -n", None, None);
        assert_eq!(r.terminals[0].kind, crate::model::TerminalKind::Supervisor);
        let r = run("", "app", None, None);
        assert_eq!(r.terminals[0].kind, crate::model::TerminalKind::Process);
    }

    proptest::proptest! {
        #[test]
        fn any_argv_of_wrapper_words_reduces_without_panicking(
            picks in proptest::collection::vec(0usize..22, 0..14),
        ) {
            const VOCAB: [&str; 22] = [
                "tini", "--", "gosu", "postgres", "env", "-i", "A=1", "-S", "-u", "app",
                "dumb-init", "-c", "/bin/sh", "exec app", "nice", "-n", "setpriv", "--reuid=0",
                "/app/main.py", "/docker-entrypoint.sh", "busybox", "",
            ];
            let launch = Launch {
                argv: picks.iter().map(|i| VOCAB[*i].to_string()).collect(),
                workdir: "/".into(),
                ..Launch::default()
            };
            let red = reduce_argv(&launch, &image(), &Config::default());
            proptest::prop_assert!(red.terminals.len() <= 1);
            proptest::prop_assert_eq!(red.terminals.is_empty(), launch.argv.is_empty());
            for t in &red.terminals {
                proptest::prop_assert!((0.0..=1.0).contains(&t.confidence));
            }
        }
    }

    #[test]
    fn a_shadowing_non_executable_path_hit_is_remembered_as_f9() {
        let mut v = image();
        v.add_tiny_elf("/usr/local/bin/tool", 0o644, None);
        v.add_tiny_elf("/usr/bin/tool", 0o755, None);
        let spec = ImageSpec {
            cmd: Some(words("tool")),
            env: vec!["PATH=/usr/local/bin:/usr/bin".into()],
            ..ImageSpec::default()
        };
        let r = analyze(
            &spec,
            &v,
            &Overrides::default(),
            &Config::default(),
            Target::default(),
        );
        let t = &r.terminals[0];
        assert_eq!(t.path.as_deref(), Some("/usr/bin/tool"));
        let f9 = t.features.iter().find(|f| f.id == "f9").expect("f9");
        assert!(f9.evidence.contains("/usr/local/bin/tool"), "{f9:?}");
    }

    #[test]
    fn wrappers_from_the_config_file_are_collapsed_too() {
        let mut v = image();
        v.add_tiny_elf("/usr/bin/launch", 0o755, None);
        let cfg = Config::parse(
            "[[wrappers]]\nnames = [\"launch\"]\nkind = \"modifier\"\nvalue_options = [\"--profile\"]\nreason = \"our launcher execs its command\"\n",
            std::path::Path::new("test.toml"),
        )
        .expect("config");
        let launch = Launch {
            argv: words("launch --profile prod -- app --serve"),
            workdir: "/".into(),
            ..Launch::default()
        };
        let red = reduce_argv(&launch, &v, &cfg);
        assert_eq!(red.terminals[0].argv, words("app --serve"));
        assert!(red.chain[0].why.contains("our launcher"), "{:?}", red.chain);
        let red = reduce_argv(&launch, &v, &Config::default());
        assert_eq!(red.terminals[0].argv[0], "launch");
    }

    #[test]
    fn docker_run_overrides_replace_entrypoint_cmd_and_user() {
        let spec = ImageSpec {
            entrypoint: Some(words("tini --")),
            cmd: Some(words("app")),
            user: Some("1000".into()),
            ..ImageSpec::default()
        };
        let ov = Overrides {
            entrypoint: Some("/srv/bin/server".into()),
            user: Some("999".into()),
            args: words("--debug"),
            ..Overrides::default()
        };
        let r = analyze(&spec, &image(), &ov, &Config::default(), Target::default());
        let t = &r.terminals[0];
        assert_eq!(t.argv, words("/srv/bin/server --debug"));
        assert_eq!(t.user, "postgres");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let ov = Overrides {
            user: Some("ghost".into()),
            ..Overrides::default()
        };
        let r = analyze(&spec, &image(), &ov, &Config::default(), Target::default());
        assert_eq!(r.terminals[0].user, "ghost");
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.message.contains("user ghost")),
            "{:?}",
            r.diagnostics
        );
    }
}
