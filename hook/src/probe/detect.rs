//! Runtime detectors (static seed §6 step 5, §7 f3/f4/f6): given the program a chain ends
//! in, what it really runs inside its host and whether that is in the image.
//!
//! [`detect`] hands the terminal to the detector of its family — [`super::jvm`] (`java -jar`,
//! `-cp … Main`, `-m mod/cls`), [`super::dotnet`] (`dotnet X.dll`, apphosts), [`super::python`]
//! (`-m mod`, scripts, gunicorn/uvicorn `mod:obj`), [`super::node`] (`node file.js`, `node
//! dir`), [`super::ruby`] (rack servers, rails, PHP) — and to [`super::server`] for well-known
//! servers (nginx, redis, postgres …) whose config says which ports they listen on. Native
//! binaries get their build facts (Go main package). Each detector returns a [`Detection`]:
//! evidence, the artefact, and the facts the scorer weighs. Detectors read files only through
//! the [`Vfs`], bounded by the limits; they never execute anything and never take a path
//! found inside an archive or a config as a host path.

use entrytrace_config::Limits;

use super::{FileProbe, Format};
use crate::vfs::{normalize, FileKind, Vfs};

/// The largest config file (package.json, runtimeconfig, nginx.conf …) a detector reads.
pub const CONFIG_CAP: u64 = 256 << 10;

/// What one terminal is found to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    /// Replaces the family of `runtime::family` (an apphost ELF is `dotnet`).
    pub family: Option<&'static str>,
    pub evidence: Vec<String>,
    /// What the host runs: `jar /app/app.jar (Main-Class a.Main)`, `module app`, ….
    pub artefact: Option<String>,
    /// f3: the artefact resolves to files of the image.
    pub resolved: Option<String>,
    /// f6: the artefact is what it claims (the jar has the class, the package its module).
    pub validated: Option<String>,
    /// The host was asked to run a file that is not there: it would fail at start.
    pub missing: Option<String>,
    /// Ports the program's configuration says it listens on, and where that was read.
    pub listens: Option<(Vec<u16>, String)>,
}

/// The terminal a detector looks at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub vfs: &'a dyn Vfs,
    pub argv: &'a [String],
    /// `KEY=VALUE` words.
    pub env: &'a [String],
    pub cwd: &'a str,
    /// The real path of the binary.
    pub path: &'a str,
    pub probe: &'a FileProbe,
    /// The family `runtime::family` gave.
    pub family: &'a str,
    pub limits: &'a Limits,
}

impl Subject<'_> {
    /// The metadata of `path` (relative to the working directory) after symlinks, when it
    /// is a regular file.
    pub fn file(&self, path: &str) -> Option<(String, u64)> {
        let p = normalize(path, self.cwd);
        let real = self.vfs.resolve(&p, "/", true).ok()?;
        let m = self.vfs.lstat(&real).ok()??;
        (m.kind == FileKind::File).then_some((real, m.size))
    }

    /// The regular file `path` that `who` (`java -jar`, `dotnet`) runs as its `kind`
    /// (`jar`, `assembly`), or the detection saying the image lacks it.
    pub fn artefact_file(
        &self,
        path: &str,
        kind: &str,
        who: &str,
    ) -> Result<(String, u64), Box<Detection>> {
        self.file(path).ok_or_else(|| {
            let p = normalize(path, self.cwd);
            Box::new(Detection::lacking(
                format!("{kind} {p}"),
                format!("{who} {p}: {p} is missing from the image"),
            ))
        })
    }

    /// Whether `path` is a directory (after symlinks).
    pub fn is_dir(&self, path: &str) -> bool {
        let p = normalize(path, self.cwd);
        matches!(self.vfs.stat(&p), Ok(Some(m)) if m.kind == FileKind::Dir)
    }

    /// The text of a small config file: none when it is larger than [`CONFIG_CAP`] (or
    /// `limits.max_metadata_bytes`), so that the few dozen a detector may read stay cheap.
    pub fn read_text(&self, path: &str) -> Option<String> {
        let p = normalize(path, self.cwd);
        let cap = self.limits.max_metadata_bytes.min(CONFIG_CAP);
        let body = self.vfs.read(&p, cap).ok()?;
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    /// The value of environment variable `key`.
    pub fn env(&self, key: &str) -> Option<&str> {
        super::path::env_value(self.env, key)
    }

    /// The basename of `argv[0]`.
    pub fn name(&self) -> &str {
        let a = self.argv.first().map(String::as_str).unwrap_or("");
        a.rsplit('/').next().unwrap_or(a)
    }
}

impl Detection {
    /// A detection of the artefact `artefact`, resolved (f3) with `why`.
    pub fn found(artefact: String, why: String) -> Self {
        Self {
            artefact: Some(artefact),
            resolved: Some(why.clone()),
            evidence: vec![why],
            ..Self::default()
        }
    }

    /// A detection of an artefact the image lacks.
    pub fn lacking(artefact: String, why: String) -> Self {
        Self {
            artefact: Some(artefact),
            missing: Some(why.clone()),
            evidence: vec![why],
            ..Self::default()
        }
    }
}

/// Runs the detectors that apply to `s`; an empty detection when none does.
pub fn detect(s: &Subject<'_>) -> Detection {
    let mut d = match s.family {
        "java" => super::jvm::detect(s),
        "dotnet" => super::dotnet::detect(s),
        "python" => super::python::detect(s),
        "node" => super::node::detect(s),
        "ruby" | "php" => super::ruby::detect(s),
        _ => native(s),
    }
    .unwrap_or_default();
    if d.artefact.is_none() && s.family != "dotnet" {
        if let Some(apphost) = super::dotnet::apphost(s) {
            d = apphost;
        }
    }
    if let Some(server) = super::server::detect(s) {
        d.evidence.extend(server.evidence);
        d.listens = d.listens.or(server.listens);
    }
    d
}

/// Build facts of native binaries: the Go main package, static linking.
fn native(s: &Subject<'_>) -> Option<Detection> {
    let Format::Elf(e) = &s.probe.format else {
        return None;
    };
    let mut d = Detection::default();
    if let Some(go) = &e.go {
        let main = go
            .path
            .clone()
            .or_else(|| go.main_module.as_ref().map(|m| m.0.clone()));
        if let Some(main) = main {
            d.evidence.push(format!("Go main package {main}"));
            d.artefact = Some(main);
        }
        if let Some((m, v)) = &go.main_module {
            d.evidence.push(format!("Go main module {m} {v}"));
        }
    }
    if e.interpreter.is_none() && e.parse_error.is_none() {
        d.evidence.push("statically linked (no PT_INTERP)".into());
    }
    Some(d)
}

/// The first operand of a host's argv: the first word after the options, skipping the
/// values of `value_options`; `None` when an option in `stop` comes first (`-m`, `-c`).
pub fn first_operand<'a>(
    argv: &'a [String],
    value_options: &[&str],
    stop: &[&str],
) -> Option<(usize, &'a String)> {
    let mut i = 1;
    while let Some(w) = argv.get(i) {
        if stop.contains(&w.as_str()) {
            return None;
        }
        if w == "--" {
            return argv.get(i + 1).map(|w| (i + 1, w));
        }
        if !w.starts_with('-') || w == "-" {
            return Some((i, w));
        }
        i += if value_options.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    None
}

/// The value of option `names` (`-m mod`, `-mmod`, `--module=mod`) before the first operand,
/// skipping the values of `value_options`.
pub fn option_value<'a>(
    argv: &'a [String],
    names: &[&str],
    value_options: &[&str],
) -> Option<&'a str> {
    let mut i = 1;
    while let Some(w) = argv.get(i) {
        if !w.starts_with('-') || w == "--" {
            return None;
        }
        for n in names {
            if w == n {
                return argv.get(i + 1).map(String::as_str);
            }
            if let Some(v) = w.strip_prefix(n) {
                let v = if n.starts_with("--") {
                    v.strip_prefix('=')
                } else {
                    Some(v)
                };
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    return Some(v);
                }
            }
        }
        i += if value_options.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    /// `(f3, f6, missing)` of a detection, for test tables.
    pub(crate) fn facts(d: &Detection) -> (bool, bool, bool) {
        (
            d.resolved.is_some(),
            d.validated.is_some(),
            d.missing.is_some(),
        )
    }

    /// Runs [`detect`] on `line` as a terminal of `family` at `path`, probed from `v` when
    /// it is there (else of unknown format), started in `cwd` with `env`.
    pub(crate) fn detect_line(
        v: &MemVfs,
        line: &str,
        family: &str,
        (path, cwd, env): (&str, &str, &[&str]),
    ) -> Detection {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
        let limits = Limits::default();
        let probe = match v.lstat(path) {
            Ok(Some(m)) => super::super::probe_file(v, path, m.size, &limits).expect("probe"),
            _ => FileProbe {
                path: path.into(),
                format: Format::Unknown,
                evidence: vec![],
            },
        };
        detect(&Subject {
            vfs: v,
            argv: &argv,
            env: &env,
            cwd,
            path,
            probe: &probe,
            family,
            limits: &limits,
        })
    }

    fn w(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn first_operands_skip_options_and_their_values() {
        let vals = ["-X", "-W", "-cp"];
        for (line, stop, want) in [
            ("python3 -u app.py x", &["-m"][..], Some("app.py")),
            ("python3 -X dev -W error app.py", &["-m"], Some("app.py")),
            ("python3 -m app", &["-m"], None),
            ("node -- -weird.js", &[], Some("-weird.js")),
            ("node --inspect", &[], None),
        ] {
            let argv = w(line);
            let got = first_operand(&argv, &vals, stop).map(|(_, s)| s.as_str());
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn option_values_come_in_three_spellings() {
        let names = ["-m", "--module"];
        for (line, want) in [
            ("java -m app/a.Main", Some("app/a.Main")),
            ("java -mapp", Some("app")),
            ("java --module=app/a.B x", Some("app/a.B")),
            ("java --module app", Some("app")),
            ("java Main -m x", None),
            ("java -Xmx1g", None),
            ("java -p mods -m app/a.Main", Some("app/a.Main")),
        ] {
            assert_eq!(option_value(&w(line), &names, &["-p"]), want, "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_command_line_over_hostile_files_gives_a_consistent_detection(
            words in proptest::collection::vec(proptest::sample::select(vec![
                "-jar", "-m", "-cp", "-p", "--", "-", "-c", "-e", "-S", "-y", "exec", "server",
                "app.jar", "bomb.jar", "lib/*", "a.Main", "mod/a.Main", "app:app", "pkg",
                "Api.dll", "index.js", "dir", "config.ru", "x.php", "../../etc", "/", "",
                "--port", "7000", "-C", "--chdir", "/app",
            ]), 0..8),
            host in proptest::sample::select(vec![
                ("java", "java"), ("python3", "python"), ("gunicorn", "python"),
                ("node", "node"), ("dotnet", "dotnet"), ("ruby", "ruby"), ("php", "php"),
                ("php-fpm", "php"), ("nginx", "c"), ("redis-server", "c"), ("app", "c"),
            ]),
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut v = MemVfs::new();
            let bomb = crate::probe::zip::tests::build_zip(&[
                ("META-INF/MANIFEST.MF", &vec![b'A'; 1 << 20], true),
            ]);
            v.add_file("/app/bomb.jar", 0o644, &bomb);
            for f in [
                "/app/app.jar", "/app/lib/x.jar", "/app/Api.dll", "/app/Api.runtimeconfig.json",
                "/app/dir/package.json", "/app/pkg/__init__.py", "/app/config.ru",
                "/etc/nginx/nginx.conf", "/usr/local/etc/php-fpm.d/www.conf", "/app/7000",
            ] {
                v.add_file(f, 0o644, &junk);
            }
            let line = std::iter::once(host.0).chain(words.iter().copied()).collect::<Vec<_>>().join(" ");
            let d = detect_line(&v, &line, host.1, ("/usr/bin/x", "/app", &["PYTHONPATH=/app:/nowhere"]));
            proptest::prop_assert!(d.missing.is_none() || d.artefact.is_some(), "{line}: {d:?}");
            proptest::prop_assert!(d.missing.is_none() || d.resolved.is_none(), "{line}: {d:?}");
            proptest::prop_assert!(d.validated.is_none() || d.artefact.is_some(), "{line}: {d:?}");
        }
    }
}
