//! Supervisors, statically: which services a supervisor terminal starts (static seed §4,
//! dynamic seed §4 "Supervisors & multi-service containers").
//!
//! When the walk passed through a supervisor (supervisord, s6-svscan, s6-overlay's `/init`,
//! runsvdir/runsv/runit, pm2-runtime, or a Procfile runner: forego, foreman, overmind,
//! honcho), [`expand`] reads its configuration through the [`Vfs`] (one parser per kind, in
//! the sibling files), reduces every service like an entrypoint with
//! [`super::reduce_service`] — so a `run` script goes through shellflow — and fills the
//! terminal's `services` with terminals of `kind: service`. A supervisor with one service
//! collapses into it. The supervisor's confidence is scaled by how well its services
//! resolved. Every read is root-confined and bounded (`limits.max_read_bytes`), the number of
//! services by `limits.max_services`, includes and bundle nesting by
//! `limits.max_include_depth`. It does not run anything, does not model restarts, numprocs,
//! dependencies between services or start order, and does not expand a supervisor found
//! inside a service again.

mod execline;
mod json5ish;
mod pm2;
mod procfile;
mod runit;
mod s6;
mod supervisord;

use entrytrace_config::{Config, Limits};

use super::{Launch, Reduction};
use crate::model::{ChainStep, Diagnostic, Level, StepKind, Terminal, TerminalKind};
use crate::vfs::{normalize, FileKind, Vfs};

/// One service a supervisor starts, as its configuration says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Service {
    /// `program:web`, `services.d/nginx`, `web` ...
    pub name: String,
    pub argv: Vec<String>,
    /// `KEY=VALUE` set on top of the supervisor's environment.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `file:line` of the configuration that defined it.
    pub location: String,
    /// False when the supervisor lists it but does not start it at boot.
    pub autostart: bool,
    /// How the argv was taken from the configuration (execline prefixes ...).
    pub notes: Vec<String>,
}

/// What reading one supervisor's configuration found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub services: Vec<Service>,
    pub evidence: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Shared state of the parsers: the filesystem, the caps, and what they report.
pub(crate) struct Reader<'a> {
    pub vfs: &'a dyn Vfs,
    pub limits: &'a Limits,
    /// The supervisor's environment (`KEY=VALUE`), for `%(ENV_X)s`-style references.
    pub env: &'a [String],
    pub found: Found,
    capped: bool,
}

impl<'a> Reader<'a> {
    pub fn new(vfs: &'a dyn Vfs, limits: &'a Limits, env: &'a [String]) -> Self {
        Self {
            vfs,
            limits,
            env,
            found: Found::default(),
            capped: false,
        }
    }

    pub fn warn(&mut self, message: String) {
        self.found.diagnostics.push(Diagnostic::warning(message));
    }

    /// The text of `path`, or `None` with a diagnostic naming it and the cause.
    pub fn read(&mut self, path: &str) -> Option<String> {
        match self.vfs.read(path, self.limits.max_read_bytes) {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => {
                self.warn(format!("cannot read supervisor configuration: {e}"));
                None
            }
        }
    }

    /// The text of `path` when it is a regular file; `None` quietly when absent.
    pub fn read_if_present(&mut self, path: &str) -> Option<String> {
        match self.vfs.stat(path) {
            Ok(Some(m)) if m.kind == FileKind::File => self.read(path),
            _ => None,
        }
    }

    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.vfs.stat(path), Ok(Some(m)) if m.kind == FileKind::Dir)
    }

    /// The entries of the directory `path` (none when it is absent or unreadable).
    pub fn entries(&self, path: &str) -> Vec<String> {
        self.vfs
            .resolve(path, "/", true)
            .and_then(|real| self.vfs.read_dir(&real))
            .unwrap_or_default()
    }

    /// Adds a service unless `limits.max_services` is reached (then says so once).
    pub fn push(&mut self, s: Service) -> bool {
        if self.found.services.len() >= self.limits.max_services as usize {
            if !self.capped {
                self.capped = true;
                let max = self.limits.max_services;
                self.warn(format!(
                    "more services than limits.max_services = {max}: {} and later ones dropped",
                    s.name
                ));
            }
            return false;
        }
        self.found.services.push(s);
        true
    }

    /// Files matching the glob `pattern` (absolute or relative to `dir`), sorted, bounded.
    pub fn glob(&self, pattern: &str, dir: &str) -> Vec<String> {
        let abs = normalize(pattern, dir);
        let mut current = vec![String::from("/")];
        let cap = self.limits.max_services as usize * 4;
        for comp in abs.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            for d in &current {
                if !comp.contains(['*', '?', '[']) {
                    next.push(normalize(comp, d));
                    continue;
                }
                let names = self.entries(d);
                next.extend(
                    names
                        .iter()
                        .filter(|n| !n.starts_with('.') && shellflow::pattern_matches(comp, n))
                        .map(|n| normalize(n, d)),
                );
            }
            next.truncate(cap);
            current = next;
        }
        current.retain(|p| matches!(self.vfs.stat(p), Ok(Some(m)) if m.kind == FileKind::File));
        current
    }
}

/// The supervisor kinds, each with its own configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Supervisord,
    S6Svscan,
    S6Overlay,
    Runit,
    Pm2,
    Procfile,
}

/// A supervisor found in an argv.
#[derive(Clone, Copy)]
struct Hit<'a> {
    kind: Kind,
    /// Its base name (`supervisord`).
    name: &'a str,
    /// The word as written (`/usr/bin/supervisord`).
    word: &'a str,
    /// Its own arguments.
    args: &'a [String],
}

/// The supervisor in `argv`. The word may follow an interpreter and its flags (`python3
/// /usr/bin/supervisord -n` after a `#!` rewrite).
fn identify<'a>(argv: &'a [String], vfs: &dyn Vfs) -> Option<Hit<'a>> {
    for (i, word) in argv.iter().enumerate().take(3) {
        if i > 0 && word.starts_with('-') {
            continue;
        }
        let name = word.rsplit('/').next().unwrap_or(word);
        let args = &argv[i + 1..];
        let kind = match name {
            "supervisord" => Kind::Supervisord,
            "s6-svscan" => Kind::S6Svscan,
            "runsvdir" | "runsv" | "runit" => Kind::Runit,
            "pm2-runtime" | "pm2-docker" => Kind::Pm2,
            "pm2" if args.iter().any(|a| a == "--no-daemon") => Kind::Pm2,
            "forego" | "foreman" | "overmind" | "honcho" => Kind::Procfile,
            "init" if normalize(word, "/") == "/init" && is_s6_overlay_init(vfs) => Kind::S6Overlay,
            _ => continue,
        };
        return Some(Hit {
            kind,
            name,
            word,
            args,
        });
    }
    None
}

/// True when the image's `/init` is s6-overlay's (its script names s6-overlay, or the
/// overlay's package directory is present).
pub(crate) fn is_s6_overlay_init(vfs: &dyn Vfs) -> bool {
    if matches!(vfs.stat("/package/admin/s6-overlay"), Ok(Some(m)) if m.kind == FileKind::Dir) {
        return true;
    }
    vfs.read("/init", 64 << 10)
        .map(|b| String::from_utf8_lossy(&b).contains("s6-overlay"))
        .unwrap_or(false)
}

/// Expands the supervisor the walk passed through (`seen`: the argvs of the launch, of each
/// chain step and of the end, in order) into its services. `base` is the process at the
/// end of the walk: its environment, user and directory are what the services inherit.
pub(crate) fn expand(
    red: &mut Reduction,
    seen: &[&[String]],
    base: &Launch,
    vfs: &dyn Vfs,
    cfg: &Config,
) {
    if red.terminals.is_empty() {
        return;
    }
    let hits: Vec<Hit<'_>> = seen.iter().filter_map(|a| identify(a, vfs)).collect();
    let Some(first) = hits.first() else {
        return;
    };
    // The same supervisor as exec'd by path (after PATH lookup or a `#!` rewrite), if seen.
    let Hit {
        kind,
        name,
        word,
        args,
    } = *hits
        .iter()
        .find(|h| h.kind == first.kind && h.word.starts_with('/'))
        .unwrap_or(first);
    let mut rd = Reader::new(vfs, &cfg.limits, &base.env);
    match kind {
        Kind::Supervisord => supervisord::discover(&mut rd, word, args, &base.workdir),
        Kind::S6Svscan => s6::discover_scandir(&mut rd, args, &base.workdir),
        Kind::S6Overlay => s6::discover_overlay(&mut rd),
        Kind::Runit => runit::discover(&mut rd, name, args, &base.workdir),
        Kind::Pm2 => pm2::discover(&mut rd, args, &base.workdir),
        Kind::Procfile => procfile::discover(&mut rd, name, args, &base.workdir),
    }
    let found = rd.found;
    red.evidence.extend(found.evidence);
    red.diagnostics.extend(found.diagnostics);
    let mut services = Vec::new();
    for s in &found.services {
        let mut r = reduce_one(s, name, base, vfs, cfg);
        let diagnostics = std::mem::take(&mut r.sub.diagnostics);
        red.diagnostics
            .extend(diagnostics.into_iter().map(|d| prefixed(d, &s.name, name)));
        services.push(r);
    }
    attach(red, name, services);
}

/// One service reduced: its terminal (kind `service`), the `fork` step that starts it, and
/// the rest of its reduction (chain, evidence, alternates, diagnostics).
struct Reduced {
    terminal: Option<Terminal>,
    step: ChainStep,
    sub: Reduction,
    autostart: bool,
}

fn reduce_one(
    s: &Service,
    supervisor: &str,
    base: &Launch,
    vfs: &dyn Vfs,
    cfg: &Config,
) -> Reduced {
    let mut env = base.env.clone();
    for kv in &s.env {
        super::compose::set_env(&mut env, kv);
    }
    let workdir = s.workdir.clone().unwrap_or_else(|| base.workdir.clone());
    let launch = Launch {
        argv: s.argv.clone(),
        env,
        user: s.user.clone().or_else(|| base.user.clone()),
        workdir: normalize(&workdir, &base.workdir),
        exposed_ports: base.exposed_ports.clone(),
        env_complete: false,
        // A supervisor's services keep the container's bounding set.
        capabilities: base.capabilities.clone(),
    };
    let mut sub = super::reduce_service(&launch, vfs, cfg);
    let mut terminal = sub.terminals.drain(..).next();
    let nested = std::iter::once(&s.argv)
        .chain(sub.chain.iter().map(|c| &c.argv))
        .any(|a| identify(a, vfs).is_some());
    if let Some(t) = &mut terminal {
        if nested || t.kind == TerminalKind::Supervisor {
            sub.diagnostics.push(Diagnostic {
                level: Level::Info,
                message: "it is itself a supervisor: not expanded again".into(),
            });
        }
        t.kind = TerminalKind::Service;
    }
    if !s.autostart {
        if let Some(t) = &mut terminal {
            t.confidence *= 0.5;
        }
        sub.diagnostics.push(Diagnostic {
            level: Level::Info,
            message: format!(
                "not started at boot (autostart=false or a down file, {})",
                s.location
            ),
        });
    }
    let mut why = format!("{supervisor} starts {}", s.name);
    if !s.autostart {
        why.push_str(" only on request (autostart=false): listed, not started at boot");
    }
    for n in &s.notes {
        why.push_str("; ");
        why.push_str(n);
    }
    let step = ChainStep {
        step: StepKind::Fork,
        argv: s.argv.clone(),
        why,
        location: Some(s.location.clone()),
    };
    Reduced {
        terminal,
        step,
        sub,
        autostart: s.autostart,
    }
}

fn prefixed(d: Diagnostic, service: &str, supervisor: &str) -> Diagnostic {
    Diagnostic {
        level: d.level,
        message: format!("{supervisor} service {service}: {}", d.message),
    }
}

/// Puts the services under the supervisor terminal, or collapses a single one (started at
/// boot and resolved) into it. The supervisor's confidence is scaled by
/// `0.5 + 0.5 × mean(confidence of the services started at boot)`: a supervisor whose
/// services all resolve keeps its score, one whose services are all missing loses half.
fn attach(red: &mut Reduction, name: &str, mut services: Vec<Reduced>) {
    let Some(sup) = red.terminals.first_mut() else {
        return;
    };
    sup.kind = TerminalKind::Supervisor;
    if services.is_empty() {
        sup.confidence *= 0.5;
        red.diagnostics.push(Diagnostic::warning(format!(
            "{name}: no services found in its configuration"
        )));
        return;
    }
    if let [Reduced {
        terminal: Some(_),
        autostart: true,
        ..
    }] = services.as_slice()
    {
        if let Some(one) = services.pop() {
            collapse(red, name, one);
        }
        return;
    }
    let started: Vec<f64> = services
        .iter()
        .filter(|s| s.autostart)
        .map(|s| s.terminal.as_ref().map_or(0.0, |t| t.confidence))
        .collect();
    let mean = if started.is_empty() {
        0.0
    } else {
        started.iter().sum::<f64>() / started.len() as f64
    };
    sup.confidence = (sup.confidence * (0.5 + 0.5 * mean)).clamp(0.0, 1.0);
    red.evidence.push(format!(
        "{name} runs {} services ({} at boot); their mean confidence {mean:.2} scales the supervisor's",
        services.len(),
        started.len()
    ));
    for s in services {
        if let Some(t) = &s.terminal {
            red.evidence.push(format!(
                "{}: {} as {} ({:.2})",
                s.step.why,
                t.path.as_deref().unwrap_or("(unresolved)"),
                t.user,
                t.confidence
            ));
        }
        red.chain.push(s.step);
        sup.services.extend(s.terminal);
    }
}

/// The supervisor's only service becomes the terminal; its chain continues the supervisor's.
fn collapse(red: &mut Reduction, name: &str, one: Reduced) {
    let Some(mut t) = one.terminal else { return };
    red.evidence.push(format!(
        "{name} supervises one service only: collapsed into {}",
        t.argv.first().map_or("", String::as_str)
    ));
    red.chain.push(one.step);
    red.chain.extend(one.sub.chain);
    red.evidence.extend(one.sub.evidence);
    red.alternates.extend(one.sub.alternates);
    t.kind = TerminalKind::Process;
    red.terminals[0] = t;
}

/// POSIX-shell-like words (`shlex.split` as supervisord uses it): quotes, backslashes.
pub(crate) fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// The argv that runs a service's `run` file, in its directory: an execline script is read
/// here (the walk cannot follow execline), `#!…with-contenv sh` becomes `sh run`, anything
/// else is `[run]`.
pub(crate) fn run_script(rd: &mut Reader<'_>, name: &str, run: &str, autostart: bool) {
    let text = match rd.vfs.read(run, rd.limits.max_read_bytes) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            rd.warn(format!(
                "{name}: run script {run} is missing or unreadable: {e}"
            ));
            return;
        }
    };
    let first = text.lines().next().unwrap_or("");
    let shebang: Vec<&str> = first
        .strip_prefix("#!")
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default();
    let interp = shebang.first().map(|w| w.rsplit('/').next().unwrap_or(w));
    // s6-supervise and runsv run `./run` in the service directory.
    let mut svc = Service {
        name: name.to_string(),
        argv: vec![run.to_string()],
        workdir: Some(normalize("..", run)),
        location: format!("{run}:1"),
        autostart,
        ..Service::default()
    };
    match interp {
        Some("execlineb") => match execline::program(&text) {
            Ok(p) => {
                svc.argv = p.argv;
                svc.user = p.user;
                svc.env = p.env;
                svc.workdir = p.cwd.or(svc.workdir);
                svc.location = format!("{run}:{}", p.line);
                svc.notes = p.notes;
            }
            Err(why) => {
                rd.warn(format!("{name}: execline script {run}: {why}"));
                return;
            }
        },
        Some("with-contenv") => {
            let shell = shebang.get(1).copied().unwrap_or("sh");
            svc.argv = vec![shell.to_string(), run.to_string()];
            svc.notes.push(format!(
                "with-contenv runs {run} with {shell} and the container's environment"
            ));
        }
        _ => {}
    }
    rd.push(svc);
}

#[cfg(test)]
mod tests;
