//! The bridge to `shellflow`: presents the image's [`Vfs`] as shellflow's `ImageFs` (every
//! path confined to the image root and every read bounded, because the `Vfs` is), builds the
//! invocation from the reducer's state, and turns shellflow's ranked candidates into the
//! reducer's [`Candidate`]s with the user they run as and one `file:line` step per reason.
//!
//! shellflow decides what a script runs; this module only translates. It does not run the
//! candidates through the wrapper catalogue: the reducer does that next, so a candidate
//! `gosu postgres postgres` is collapsed (and its user recorded) exactly as if the image had
//! said it.

use entrytrace_config::{Config, Limits};
use shellflow::{
    Dialect, EndKind, FileKind as SfKind, FileStat, FsError, ImageFs, Invocation, Script, User,
};

use super::script::{Candidate, ScriptRequest, ScriptSource};
use super::users::Users;
use super::walk::Cursor;
use super::Launch;
use crate::model::{Terminal, TerminalKind};
use crate::vfs::{normalize, FileKind, Vfs, VfsError};

/// shellflow's view of the image, through the confined [`Vfs`].
pub struct VfsImageFs<'a> {
    vfs: &'a dyn Vfs,
    limit: u64,
}

impl std::fmt::Debug for VfsImageFs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfsImageFs")
            .field("limit", &self.limit)
            .finish()
    }
}

impl<'a> VfsImageFs<'a> {
    pub fn new(vfs: &'a dyn Vfs, limit: u64) -> Self {
        Self { vfs, limit }
    }
}

impl ImageFs for VfsImageFs<'_> {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError> {
        self.vfs.read(path, self.limit).map_err(|e| {
            let path = path.to_string();
            match e {
                VfsError::NotFound { .. } | VfsError::NotADirectory { .. } => {
                    FsError::NotFound { path }
                }
                VfsError::NotRegular { .. } => FsError::NotAFile { path },
                VfsError::TooLarge { size, .. } => FsError::TooLarge { path, size },
                other => FsError::Unreadable {
                    path,
                    cause: other.to_string(),
                },
            }
        })
    }

    fn canonical(&self, path: &str) -> Option<String> {
        let p = self.vfs.resolve(path, "/", true).ok()?;
        self.vfs.lstat(&p).ok().flatten().map(|_| p)
    }

    fn stat(&self, path: &str) -> Option<FileStat> {
        let is_symlink = self
            .vfs
            .resolve(path, "/", false)
            .ok()
            .and_then(|p| self.vfs.lstat(&p).ok().flatten())
            .is_some_and(|m| m.kind == FileKind::Symlink);
        let m = self.vfs.stat(path).ok().flatten()?;
        let kind = match m.kind {
            FileKind::File => SfKind::File,
            FileKind::Dir => SfKind::Dir,
            FileKind::Symlink => SfKind::Symlink,
            _ => SfKind::Other,
        };
        Some(FileStat {
            kind,
            mode: m.mode,
            size: m.size,
            uid: m.uid,
            is_symlink,
        })
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        self.vfs
            .resolve(path, "/", true)
            .and_then(|p| self.vfs.read_dir(&p))
            .unwrap_or_default()
    }
}

/// The outcome of shellflow on one request, in the reducer's terms.
#[derive(Debug, Default)]
pub struct Followed {
    pub candidates: Vec<Candidate>,
    pub notes: Vec<String>,
    /// The supervisor shape's services (see `shellflow::Analysis::services`).
    pub services: Vec<Candidate>,
}

/// Runs shellflow on `req`.
pub fn follow(req: &ScriptRequest<'_>, vfs: &dyn Vfs, limits: &Limits) -> Followed {
    let users = Users::load(vfs, limits.max_read_bytes);
    let mut start = user_of(req.user, &users);
    if let Some(uid) = req.uid {
        if uid != start.uid {
            start.uid = uid;
            start.name = users.name_of(uid).map(str::to_string);
        }
    }
    let (script, args) = match &req.source {
        ScriptSource::File(p) => (
            Script::File {
                path: normalize(p, req.cwd),
                name_called_as: req.args.first().cloned().unwrap_or_else(|| p.clone()),
            },
            req.args.iter().skip(1).cloned().collect(),
        ),
        ScriptSource::Inline(text) => (Script::String { text: text.clone() }, req.args.to_vec()),
    };
    let inv = Invocation {
        script,
        args,
        env: req
            .env
            .iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect(),
        user: start.clone(),
        cwd: req.cwd.to_string(),
        shell: if req.shell == "bash" {
            Dialect::Bash
        } else {
            Dialect::Sh
        },
        volumes: Vec::new(),
        pid1: req.pid1,
        env_complete: req.env_complete,
        capabilities: req.capabilities.cloned(),
    };
    let sf_limits = script_limits(limits);
    let fs = VfsImageFs::new(vfs, limits.max_read_bytes);
    let analysis = shellflow::analyze(&inv, &fs, &sf_limits);
    let mut notes: Vec<String> = analysis
        .diagnostics
        .iter()
        .map(|d| format!("shellflow: {d}"))
        .collect();
    if analysis.capped {
        notes.push("shellflow: an analysis bound was hit; some paths were not followed".into());
    }
    notes.extend(exit_note(&analysis));
    let services = analysis
        .services
        .into_iter()
        .map(|c| convert(c, &start))
        .collect();
    let candidates = analysis
        .candidates
        .into_iter()
        .map(|c| {
            let mut c = convert(c, &start);
            // bash and dash exec the last simple command of a `-c` string in place rather
            // than forking it, so falling off the end of `sh -c` is an exec.
            if matches!(req.source, ScriptSource::Inline(_)) && !c.exec && !c.background {
                c.exec = true;
            }
            c
        })
        .collect();
    Followed {
        candidates,
        notes,
        services,
    }
}

/// Where the script ends when no path of it runs a command: the likeliest exit, where, and
/// the step that led to it. Scripts that may run something get no note: the share of paths
/// that exit rests on 50/50 guesses for commands whose status is unknown (`mysqld
/// --verbose --help` as a config check), which overstate the error branches.
fn exit_note(analysis: &shellflow::Analysis) -> Option<String> {
    if !analysis.candidates.is_empty() {
        return None;
    }
    let x = analysis.exits.first()?;
    let how = "the script runs no command: it ends";
    let status = match x.status {
        Some(n) => format!("with status {n}"),
        None => "with an unknown status".to_string(),
    };
    let at = x
        .location
        .as_ref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    // The step before the end says why (the test that chose the branch).
    let after = x
        .reasons
        .iter()
        .rev()
        .skip(usize::from(x.location.is_some()))
        .find(|r| r.location.is_some())
        .map(|r| {
            let at = r
                .location
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!(", after: {}{at}", r.message)
        })
        .unwrap_or_default();
    let others = match analysis.exits.len() {
        0 | 1 => String::new(),
        2 => "; it may also end one other way".to_string(),
        n => format!("; it may also end {} other ways", n - 1),
    };
    Some(format!("shellflow: {how} {status}{at}{after}{others}"))
}

/// shellflow's bounds from the configuration (`limits.shellflow`, and the read cap).
fn script_limits(limits: &Limits) -> shellflow::Limits {
    let s = &limits.shellflow;
    let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    shellflow::Limits {
        max_paths: n(s.max_paths),
        max_unroll: n(s.max_unroll),
        max_source_depth: n(s.max_source_depth),
        max_call_depth: n(s.max_call_depth),
        max_steps: n(s.max_steps),
        max_file_bytes: limits.max_read_bytes,
        max_parse_ms: u64::from(s.max_parse_ms),
    }
}

fn convert(c: shellflow::Candidate, start: &User) -> Candidate {
    let user = (c.user.uid != start.uid || c.user.name != start.name).then(|| match &c.user.name {
        Some(n) => n.clone(),
        None => format!("{}:{}", c.user.uid, c.user.gid),
    });
    let steps: Vec<(String, Option<String>)> = c
        .reasons
        .iter()
        .map(|r| {
            (
                r.message.clone(),
                r.location.as_ref().map(|l| l.to_string()),
            )
        })
        .collect();
    let last = steps.last().cloned();
    let mut why = last
        .as_ref()
        .map(|(m, _)| m.clone())
        .unwrap_or_else(|| "the script runs this command".into());
    if !c.assumptions.is_empty() {
        why.push_str(&format!(" (assuming {})", c.assumptions.join("; ")));
    }
    Candidate {
        argv: c.argv,
        env: c
            .env_delta
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        exec: c.how == EndKind::Exec,
        background: c.how == EndKind::Background,
        confidence: c.confidence,
        why,
        location: last.and_then(|(_, l)| l),
        user,
        cwd: Some(c.cwd),
        steps,
    }
}

/// shellflow's user for a user written as the runtime takes it (`None` = root).
fn user_of(spec: Option<&str>, users: &Users) -> User {
    let spec = spec.unwrap_or("0");
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    let uid = u
        .parse::<u32>()
        .ok()
        .or_else(|| users.uid_of(u))
        .unwrap_or(0);
    let gid = g
        .parse::<u32>()
        .ok()
        .or_else(|| users.gid_of(g))
        .unwrap_or(uid);
    User {
        uid,
        gid,
        name: users
            .name_of(uid)
            .map(str::to_string)
            .or_else(|| (u.parse::<u32>().is_err() && !u.is_empty()).then(|| u.to_string())),
    }
}

thread_local! {
    /// How many `supervise` calls are active: a service may itself be a supervisor-shaped
    /// script (or the same one), so nesting is bounded.
    static SUPERVISING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Services deeper than this are not reduced (a script that backgrounds itself).
const MAX_SUPERVISE_DEPTH: usize = 2;

/// Makes `t` (the script a walk ended at) a supervisor when the script keeps several
/// commands running: each service is reduced on its own, as the script would start it
/// (its env, user and working directory), and kept as a terminal of kind `service`.
/// Does nothing when `services` is empty.
pub(crate) fn supervise(
    t: &mut Terminal,
    services: &[Candidate],
    cur: &Cursor,
    vfs: &dyn Vfs,
    cfg: &Config,
) {
    if services.is_empty() {
        return;
    }
    t.kind = TerminalKind::Supervisor;
    let depth = SUPERVISING.with(|d| d.get());
    if depth >= MAX_SUPERVISE_DEPTH {
        t.runtime.evidence.push(format!(
            "services nested {depth} deep are not reduced further"
        ));
        return;
    }
    SUPERVISING.with(|d| d.set(depth + 1));
    for s in services {
        let mut env = cur.env.clone();
        env.extend(s.env.iter().cloned());
        let launch = Launch {
            argv: s.argv.clone(),
            env,
            user: s.user.clone().or_else(|| cur.user.clone()),
            workdir: s
                .cwd
                .as_deref()
                .map(|d| normalize(d, &cur.cwd))
                .unwrap_or_else(|| cur.cwd.clone()),
            exposed_ports: Vec::new(),
            env_complete: false,
            capabilities: cur.capabilities.clone(),
        };
        let red = super::reduce_argv(&launch, vfs, cfg);
        if let Some(mut service) = red.terminals.into_iter().next() {
            service.kind = TerminalKind::Service;
            t.services.push(service);
        }
    }
    SUPERVISING.with(|d| d.set(depth));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    fn reduce(script: &[u8]) -> Terminal {
        reduce_with(script, &[], false)
            .terminals
            .into_iter()
            .next()
            .expect("a terminal")
    }

    fn reduce_with(script: &[u8], env: &[&str], env_complete: bool) -> super::super::Reduction {
        let mut v = MemVfs::new();
        v.add_file("/bin/sh", 0o755, b"\x7fELF");
        v.add_tiny_elf("/usr/bin/server", 0o755, None);
        v.add_file("/start.sh", 0o755, script);
        let mut launch = Launch {
            argv: vec!["/start.sh".into()],
            env: vec!["PATH=/usr/bin:/bin".into()],
            user: None,
            workdir: "/".into(),
            exposed_ports: Vec::new(),
            env_complete,
            capabilities: None,
        };
        launch.env.extend(env.iter().map(|e| e.to_string()));
        super::super::reduce_argv(&launch, &v, &Config::default())
    }

    /// A bundle's env is the container's whole env: a required variable missing from it
    /// means the script exits, where an image scan (env may be given at run time) follows
    /// the branch that runs the server.
    #[test]
    fn a_variable_missing_from_a_complete_env_is_unset() {
        let script = b"#!/bin/sh\nif [ -z \"$DB_PASSWORD\" ]; then\n\techo 'DB_PASSWORD is required' >&2\n\texit 1\nfi\nexec server --pw \"$DB_PASSWORD\"\n";
        let image = reduce_with(script, &[], false);
        let t = &image.terminals[0];
        assert_eq!(
            t.argv,
            [
                "server",
                "--pw",
                "<$DB_PASSWORD: set at run time (assumed non-empty)>"
            ],
            "{image:#?}"
        );
        let bundle = reduce_with(script, &[], true);
        let t = &bundle.terminals[0];
        assert_eq!(t.path.as_deref(), Some("/start.sh"), "{bundle:#?}");
        let step = bundle.chain.last().expect("a step");
        assert!(
            step.why
                .contains("the script runs no command: it ends with status 1 at /start.sh:4")
                && step
                    .why
                    .contains("after: `[ -z \"$DB_PASSWORD\" ]` is true (/start.sh:2)"),
            "{bundle:#?}"
        );
        let given = reduce_with(script, &["DB_PASSWORD=pw"], true);
        assert_eq!(
            given.terminals[0].argv,
            ["server", "--pw", "pw"],
            "{given:#?}"
        );
    }

    #[test]
    fn a_script_that_keeps_two_children_is_a_supervisor_of_two_services() {
        let t = reduce(b"#!/bin/sh\n/bin/sh -c 'exec a' &\n/bin/sh -c 'exec b' &\nwait\n");
        assert_eq!(t.kind, TerminalKind::Supervisor, "{t:#?}");
        let argv: Vec<&str> = t.services.iter().map(|s| s.argv[0].as_str()).collect();
        assert_eq!(argv, ["a", "b"], "{t:#?}");
        assert!(t.services.iter().all(|s| s.kind == TerminalKind::Service));
    }

    #[test]
    fn a_script_that_backgrounds_itself_nests_a_bounded_number_of_supervisors() {
        let t = reduce(b"#!/bin/sh\n/start.sh &\n/start.sh &\nwait\n");
        let mut depth = 0;
        let mut cur = &t;
        while let Some(s) = cur.services.first() {
            depth += 1;
            cur = s;
        }
        assert_eq!(depth, MAX_SUPERVISE_DEPTH, "{t:#?}");
        assert_eq!(t.kind, TerminalKind::Supervisor);
    }

    /// The container's bounding set decides redis's "drop privileges only if we may": the
    /// image's assumed default set has setuid and setgid, a bundle's set without them keeps
    /// root, and an image scan says what it assumed.
    #[test]
    fn the_bounding_set_decides_a_drop_that_needs_setuid() {
        let script = b"#!/bin/sh\nhas_cap() {\n\t/usr/bin/setpriv -d | grep -q 'Capability bounding set:.*\\b'\"$1\"'\\b'\n}\nif [ \"$(id -u)\" = 0 ] && has_cap setuid && has_cap setgid; then\n\texec setpriv --reuid redis --regid redis --clear-groups \"$0\" \"$@\"\nfi\nexec server\n";
        let run = |caps: Option<shellflow::Capabilities>| {
            let mut v = MemVfs::new();
            v.add_file("/bin/sh", 0o755, b"\x7fELF");
            v.add_tiny_elf("/usr/bin/server", 0o755, None);
            v.add_tiny_elf("/usr/bin/setpriv", 0o755, None);
            v.add_tiny_elf("/bin/grep", 0o755, None);
            v.add_tiny_elf("/usr/bin/id", 0o755, None);
            v.add_file(
                "/etc/passwd",
                0o644,
                b"root:x:0:0::/root:/bin/sh\nredis:x:999:999::/data:/bin/sh\n",
            );
            v.add_file("/start.sh", 0o755, script);
            let launch = Launch {
                argv: vec!["/start.sh".into()],
                env: vec!["PATH=/usr/bin:/bin".into()],
                user: None,
                workdir: "/".into(),
                exposed_ports: Vec::new(),
                env_complete: false,
                capabilities: caps,
            };
            super::super::reduce_argv(&launch, &v, &Config::default())
        };
        let image = run(Some(shellflow::Capabilities::docker_default()));
        let t = &image.terminals[0];
        assert_eq!(
            (t.argv.as_slice(), t.user.as_str()),
            (&["server".to_string()][..], "redis"),
            "{image:#?}"
        );
        assert!(
            format!("{:?}", image.chain).contains("capability bounding set: Docker's default"),
            "the assumption is recorded: {image:#?}"
        );
        let bundle = run(Some(shellflow::Capabilities::from_names(
            &["CAP_CHOWN", "CAP_KILL"],
            None,
        )));
        let t = &bundle.terminals[0];
        assert_eq!(
            (t.argv.as_slice(), t.user.as_str()),
            (&["server".to_string()][..], "root"),
            "{bundle:#?}"
        );
    }

    /// `readlink -f` answers come from the confined Vfs: a link that climbs out with `..` or
    /// points at an absolute host path resolves inside the image root, and a dangling one
    /// answers nothing.
    #[test]
    fn canonical_paths_stay_inside_the_image() {
        let mut v = MemVfs::new();
        v.add_file("/usr/lib/app/bin/app", 0o755, b"\x7fELF");
        v.add_file("/etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n");
        v.add_symlink("/usr/bin/app", "../lib/app/bin/app");
        v.add_symlink("/usr/bin/up", "../../../../../../etc/passwd");
        v.add_symlink("/usr/bin/abs", "/etc/passwd");
        v.add_symlink("/usr/bin/gone", "/nowhere");
        let fs = VfsImageFs::new(&v, 1 << 20);
        assert_eq!(
            fs.canonical("/usr/bin/app").as_deref(),
            Some("/usr/lib/app/bin/app")
        );
        assert_eq!(fs.canonical("/usr/bin/up").as_deref(), Some("/etc/passwd"));
        assert_eq!(fs.canonical("/usr/bin/abs").as_deref(), Some("/etc/passwd"));
        assert_eq!(fs.canonical("/usr/bin/gone"), None);
        assert_eq!(
            fs.canonical("/usr/bin/../lib/app/bin/app").as_deref(),
            Some("/usr/lib/app/bin/app")
        );
    }

    #[test]
    fn the_script_bounds_come_from_the_configuration() {
        let mut v = MemVfs::new();
        v.add_file("/bin/sh", 0o755, b"\x7fELF");
        v.add_file("/srv", 0o755, b"\x7fELF");
        // Each line read from a run-time file adds an argument: every iteration forks.
        let text = "while read -r l; do set -- \"$@\" \"$l\"; done < /run/list\nexec /srv \"$@\"\n";
        let follow_with = |shellflow: entrytrace_config::ScriptLimits| {
            let limits = Limits {
                shellflow,
                ..Limits::default()
            };
            let req = ScriptRequest {
                source: ScriptSource::Inline(text.into()),
                args: &[],
                env: &[],
                user: None,
                uid: None,
                cwd: "/",
                shell: "sh",
                pid1: true,
                env_complete: false,
                capabilities: None,
            };
            follow(&req, &v, &limits).notes
        };
        let unroll = |notes: &[String]| notes.iter().any(|n| n.contains("after 4 iterations"));
        let default = entrytrace_config::ScriptLimits::default();
        assert!(!unroll(&follow_with(default.clone())));
        let four = entrytrace_config::ScriptLimits {
            max_unroll: 4,
            ..default
        };
        let notes = follow_with(four);
        assert!(unroll(&notes), "{notes:?}");
        // The configuration's defaults are shellflow's own.
        let mapped = script_limits(&Limits::default());
        let own = shellflow::Limits {
            max_file_bytes: Limits::default().max_read_bytes,
            ..shellflow::Limits::default()
        };
        assert_eq!(mapped, own);
    }
}
