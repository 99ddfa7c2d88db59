//! The public contract of shellflow: what the caller hands in (an [`Invocation`], an
//! [`ImageFs`], [`Limits`]) and what comes back (an [`Analysis`] of ranked [`Candidate`]s).
//!
//! These are plain data types with no behaviour beyond defaults and small helpers; the
//! interpretation lives in `interp`. Nothing here performs I/O: every file the analysis
//! needs is read through the caller's [`ImageFs`].

use std::fmt;

/// Error returned by [`ImageFs::read_file`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// The path does not exist in the image.
    #[error("{path}: no such file in the image")]
    NotFound {
        /// Absolute path that was asked for.
        path: String,
    },
    /// The path exists but is not a regular file (a directory, a device).
    #[error("{path}: not a regular file")]
    NotAFile {
        /// Absolute path that was asked for.
        path: String,
    },
    /// The file is larger than the caller is willing to read.
    #[error("{path}: file of {size} bytes exceeds the read limit")]
    TooLarge {
        /// Absolute path that was asked for.
        path: String,
        /// Size of the file in bytes.
        size: u64,
    },
    /// Reading failed for another reason (the caller's message).
    #[error("{path}: cannot be read: {cause}")]
    Unreadable {
        /// Absolute path that was asked for.
        path: String,
        /// Why the read failed.
        cause: String,
    },
}

/// What kind of object a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link (as `lstat` sees it; `stat` should follow links).
    Symlink,
    /// Anything else (device, fifo, socket).
    Other,
}

/// Metadata of one path in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Object kind after following symlinks (`Symlink` only for dangling or unresolved links).
    pub kind: FileKind,
    /// Permission bits (`0o755`).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Owner uid.
    pub uid: u32,
    /// Whether the path itself is a symlink (for `test -L`).
    pub is_symlink: bool,
}

/// The image's filesystem as shellflow sees it. Paths are absolute; the implementation
/// confines them to the image root and bounds reads. `Sync` because the analysis runs on a
/// thread of its own (with a stack deep enough for hostile nesting).
pub trait ImageFs: Sync {
    /// Whole content of a regular file.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError>;
    /// Metadata of a path, following symlinks; `None` when it does not exist.
    fn stat(&self, path: &str) -> Option<FileStat>;
    /// Names (not paths) of the entries of a directory, sorted; empty when not a directory.
    fn list_dir(&self, path: &str) -> Vec<String>;
    /// The canonical path of an existing `path`: every symlink followed, `.` and `..`
    /// resolved, as `readlink -f` and `realpath` print it; `None` when it does not exist or
    /// the implementation cannot tell (the default).
    fn canonical(&self, path: &str) -> Option<String> {
        let _ = path;
        None
    }
}

/// A user identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
    /// Login name when known (from `/etc/passwd` or the image config).
    pub name: Option<String>,
}

impl User {
    /// The superuser.
    pub fn root() -> Self {
        User {
            uid: 0,
            gid: 0,
            name: Some("root".into()),
        }
    }

    /// Name if known, else the uid as text.
    pub fn display(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

/// What script is being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// A script file in the image, run as `name_called_as` (`$0`).
    File {
        /// Absolute path of the file in the image.
        path: String,
        /// The name it was invoked under (`$0`), e.g. a compat symlink path.
        name_called_as: String,
    },
    /// A command string (`sh -c TEXT`); `$0` is the first of `args` as with `sh -c`.
    String {
        /// The command text.
        text: String,
    },
}

/// Shell dialect, from the shebang or the interpreter that runs the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// POSIX sh (dash, ash): no `BASH_SOURCE`, no `FUNCNAME`.
    #[default]
    Sh,
    /// GNU bash.
    Bash,
}

/// One run of a script to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The script.
    pub script: Script,
    /// Positional arguments (`$1…`). For [`Script::String`] the first one is `$0`, as with `sh -c`.
    pub args: Vec<String>,
    /// Environment: image env plus the caller's overrides.
    pub env: Vec<(String, String)>,
    /// User the script starts as.
    pub user: User,
    /// Working directory.
    pub cwd: String,
    /// Dialect of the interpreter.
    pub shell: Dialect,
    /// Image `VOLUME` paths: files under them are assumed absent (fresh, empty volumes) and
    /// every branch decided by them says so.
    pub volumes: Vec<String>,
    /// Whether the shell runs as PID 1 (no init shim before it): decides `$$`.
    pub pid1: bool,
    /// `env` is the process's whole environment (an OCI bundle's `process.env`), so a name
    /// missing from it is unset for certain. When false (an image's defaults), an
    /// environment-style name the script never sets may be given at run time: reading it
    /// gives an unknown word, and tests on it fork, the unset branch weighing more. With a
    /// complete env, `HOME` defaults to the user's passwd entry ("/" without one), as runc
    /// and crun set it.
    pub env_complete: bool,
    /// The capability bounding set the script starts with, when the caller knows it (an OCI
    /// bundle's `process.capabilities.bounding`) or assumes it (Docker's default set for an
    /// image). `setpriv -d` and `capsh --print` print it, so tests such as redis's
    /// `setpriv -d | grep -q 'Capability bounding set:.*\bsetuid\b'` are decided; with
    /// `None` their outcome depends on the run.
    pub capabilities: Option<Capabilities>,
}

/// A capability bounding set and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Lowercase names without the `cap_` prefix (`chown`, `setuid`, `sys_resource`), as
    /// `setpriv` prints them.
    pub bounding: Vec<String>,
    /// Where the set comes from, for the assumptions of a candidate that rests on it
    /// (`Docker's default set (a run may add or drop capabilities)`); `None` when it is
    /// what the container gets for certain.
    pub assumed: Option<String>,
}

impl Capabilities {
    /// The set from names as OCI configs and Docker write them (`CAP_CHOWN`), or as
    /// `setpriv` does (`chown`); sorted and without repeats.
    pub fn from_names<S: AsRef<str>>(names: &[S], assumed: Option<String>) -> Self {
        let mut bounding: Vec<String> = names
            .iter()
            .map(|n| normal_cap(n.as_ref()))
            .filter(|n| !n.is_empty())
            .collect();
        bounding.sort_by_key(|n| cap_number(n).unwrap_or(u32::MAX));
        bounding.dedup();
        Capabilities { bounding, assumed }
    }

    /// The set a command started by `setpriv --bounding-set=SPEC` gets (`-all` clears it,
    /// `-cap` drops one, `+cap` keeps one the set holds: a process cannot raise its
    /// bounding set); `None` for a spec it cannot read.
    pub fn after_bounding_spec(&self, spec: &str) -> Option<Capabilities> {
        Some(Capabilities {
            bounding: bounding_after(&self.bounding, spec)?,
            assumed: self.assumed.clone(),
        })
    }

    /// The capability a name stands for, as `setpriv` writes it (`CAP_NET_ADMIN`,
    /// `net_admin`, `NET_ADMIN` → `net_admin`); `None` for a name the kernel does not define.
    pub fn name_of(name: &str) -> Option<String> {
        let n = normal_cap(name);
        cap_number(&n).map(|_| n)
    }

    /// Every capability the kernel defines, in its order.
    pub fn all_names() -> Vec<String> {
        CAP_NAMES.iter().map(|n| n.to_string()).collect()
    }

    /// Docker's (and Podman's) default set for a container run without `--cap-add`,
    /// `--cap-drop` or `--privileged`.
    pub fn docker_default() -> Self {
        Self::from_names(
            DOCKER_DEFAULT_CAPS,
            Some("Docker's default capability set (a run may add or drop some)".into()),
        )
    }
}

/// The capabilities Docker gives a container by default (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "net_bind_service",
    "net_raw",
    "sys_chroot",
    "mknod",
    "audit_write",
    "setfcap",
];

/// Capability names in kernel order (`include/uapi/linux/capability.h`): tools print sets
/// in this order.
const CAP_NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// The bounding set `setpriv --bounding-set=SPEC` leaves: `-all` clears it, `-cap` drops
/// one, and `+cap` keeps one only where the set already held it (a process cannot raise
/// its bounding set). `None` for a spec it cannot read (then the set is unknown).
pub(crate) fn bounding_after(current: &[String], spec: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = current.to_vec();
    for item in spec.split(',') {
        let (sign, name) = match (item.strip_prefix('-'), item.strip_prefix('+')) {
            (Some(n), _) => ("-", n),
            (_, Some(n)) => ("+", n),
            _ => return None,
        };
        let name = normal_cap(name);
        match (sign, name.as_str()) {
            ("-", "all") => out.clear(),
            ("+", "all") => out = current.to_vec(),
            ("-", n) if cap_number(n).is_some() => out.retain(|c| c != n),
            ("+", n) if cap_number(n).is_some() => {
                if current.iter().any(|c| c == n) && !out.iter().any(|c| c == n) {
                    out.push(n.to_string());
                }
            }
            _ => return None,
        }
    }
    out.sort_by_key(|n| cap_number(n).unwrap_or(u32::MAX));
    Some(out)
}

/// A capability name as `setpriv` writes it: lowercase, without `cap_`.
pub(crate) fn normal_cap(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    n.strip_prefix("cap_").map(str::to_string).unwrap_or(n)
}

/// A capability's number, for names the kernel defines.
pub(crate) fn cap_number(name: &str) -> Option<u32> {
    CAP_NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u32::try_from(i).ok())
}

impl Invocation {
    /// An invocation of a script file with the given args, as root in `/`, bash dialect.
    pub fn file(path: &str, args: &[&str]) -> Self {
        Invocation {
            script: Script::File {
                path: path.into(),
                name_called_as: path.into(),
            },
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![("PATH".into(), DEFAULT_PATH.into())],
            user: User::root(),
            cwd: "/".into(),
            shell: Dialect::Bash,
            volumes: Vec::new(),
            pid1: true,
            env_complete: false,
            capabilities: None,
        }
    }
}

/// The PATH Docker gives a container when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Bounds on the analysis. Hitting one is a diagnostic and lowers confidence, never a hang.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most paths followed at once; further forks are dropped.
    pub max_paths: usize,
    /// Forking iterations of one loop followed before it is summarised (iterations whose
    /// outcome is known do not count).
    pub max_unroll: usize,
    /// Depth of `source`/`.`/`eval`/re-exec nesting.
    pub max_source_depth: usize,
    /// Depth of function calls.
    pub max_call_depth: usize,
    /// Total commands evaluated over all paths.
    pub max_steps: usize,
    /// Largest file read for `source` or `cat`, in bytes.
    pub max_file_bytes: u64,
    /// Longest one parse may take, in milliseconds (see [`crate::parse::parse_program_within`]).
    pub max_parse_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_paths: 64,
            max_unroll: 8,
            max_source_depth: 8,
            max_call_depth: 32,
            max_steps: 50_000,
            max_file_bytes: 1 << 20,
            max_parse_ms: crate::parse::DEFAULT_PARSE_MS,
        }
    }
}

/// How a candidate's path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// The script `exec`s the command: it replaces the shell.
    Exec,
    /// The script ran the command in the foreground and then ended without `exec`: the shell
    /// stays as the parent (the caller's "no exec" penalty applies).
    FellOffEnd,
    /// The command was started in the background (`&`); several of them form a supervisor shape.
    Background,
}

/// A `file:line` location in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Script path, or `<sh -c>` / `<eval>` for strings (shared with the paths that
    /// run its code: a location is made for every command a path runs).
    pub file: std::sync::Arc<str>,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One step of evidence on a candidate's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// What happened (`[ "$(id -u)" = '0' ]` is true: running as uid 0).
    pub message: String,
    /// Where in the script.
    pub location: Option<Location>,
}

/// A command the script ends up running.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The words as exec'd. When a privilege dropper runs the command, the dropper and its
    /// user argument are included (`["gosu", "postgres", "postgres"]`); see `inner_argv`.
    /// Unknown words are rendered `<$VAR: reason>`.
    pub argv: Vec<String>,
    /// Per word of `argv`: true when the word is not known statically.
    pub unknown: Vec<bool>,
    /// When `argv` starts with a privilege dropper: the command it runs, after the dropper's
    /// own arguments (always a suffix of `argv`). `user` is already the dropper's target user.
    /// For `su USER -c STRING` it is `[STRING]`, a command line to analyse as `sh -c`.
    pub inner_argv: Option<Vec<String>>,
    /// The user the command runs as.
    pub user: User,
    /// The full environment of the command (exported variables).
    pub env: Vec<(String, String)>,
    /// Variables added or changed relative to the invocation's env.
    pub env_delta: Vec<(String, String)>,
    /// Working directory.
    pub cwd: String,
    /// Between 0 and 1; the candidates' path weights, lowered for unknown words and caps.
    /// A command whose words hold a join's placeholder (runs that ran different words,
    /// widened together) counts the weight of its likeliest run only.
    pub confidence: f64,
    /// How the path ended.
    pub how: EndKind,
    /// The steps that led here, in order.
    pub reasons: Vec<Reason>,
    /// Run-time assumptions the path rests on (a volume is empty, a variable is unset…).
    pub assumptions: Vec<String>,
}

/// Paths that end without running a command (`exit`, a failing command under `set -e`, or
/// the end of the script with nothing run), grouped by where and how they end.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// Share of the whole path weight ending here, between 0 and 1. The candidates'
    /// confidences are shares among paths that run something; the exits' shares say how
    /// likely it is that nothing runs at all.
    pub share: f64,
    /// The exit status, when known.
    pub status: Option<i32>,
    /// Where the path ended (the `exit`, or the failing command), when known.
    pub location: Option<Location>,
    /// The steps that led here, in order (of the likeliest path ending here).
    pub reasons: Vec<Reason>,
    /// Run-time assumptions that path rests on.
    pub assumptions: Vec<String>,
}

/// Result of [`crate::analyze`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    /// Ranked, best first; the rest are alternates.
    pub candidates: Vec<Candidate>,
    /// Soft problems: caps hit, unparsable files, unknown commands.
    pub diagnostics: Vec<String>,
    /// Whether any limit was hit.
    pub capped: bool,
    /// Commands evaluated over all paths (at most `Limits::max_steps` + 1).
    pub steps: usize,
    /// The supervisor shape: when the likeliest path starts two or more commands with `&`
    /// and then `wait`s, execs a foreground command or ends in one, the commands the shell
    /// keeps running (the background ones in order, then the foreground one). Empty
    /// otherwise. A background job later killed (`kill "$pid"`) is not told apart.
    pub services: Vec<Candidate>,
    /// Where the script ends without running anything, likeliest first (see [`Exit`]).
    pub exits: Vec<Exit>,
}

impl Analysis {
    /// A copy that shares nothing with `self`: every string and vector new, and each
    /// location's file name too (`Location::file` is shared with the analysis's paths,
    /// and a plain clone would keep pointing at it). The arena copies a result out with
    /// this (`arena::Scope::finish`); a field holding a shared pointer must be copied here.
    pub(crate) fn detached(&self) -> Analysis {
        fn fresh(loc: &mut Option<Location>) {
            if let Some(l) = loc {
                l.file = std::sync::Arc::from(&*l.file);
            }
        }
        fn fresh_reasons(reasons: &mut [Reason]) {
            for r in reasons {
                fresh(&mut r.location);
            }
        }
        let mut out = self.clone();
        for c in out.candidates.iter_mut().chain(out.services.iter_mut()) {
            fresh_reasons(&mut c.reasons);
        }
        for e in &mut out.exits {
            fresh(&mut e.location);
            fresh_reasons(&mut e.reasons);
        }
        out
    }

    /// Share of the path weight that ends without running a command (0 when none does).
    pub fn exit_share(&self) -> f64 {
        self.exits
            .iter()
            .map(|e| e.share)
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }
}
