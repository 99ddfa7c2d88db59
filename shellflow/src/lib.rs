//! shellflow: follows a container entrypoint shell script to the command it really execs,
//! as which user, and why.
//!
//! The caller hands an [`Invocation`] (script, args, env, user, cwd, dialect, volumes) and an
//! [`ImageFs`] to read the image; [`analyze`] parses the script (`parse`, over
//! `brush-parser`), runs an abstract interpreter over it that *records* external commands
//! instead of running them, and returns ranked [`Candidate`]s with `file:line` reasons and the
//! run-time assumptions each rests on.
//!
//! # Reading the result
//!
//! * `candidates[0]` is the best guess; the rest are alternates (other branches that depend on
//!   the run, background children of a supervisor-shaped script).
//! * [`EndKind::Exec`]: the script `exec`s the command. [`EndKind::FellOffEnd`]: the last
//!   foreground command, with the shell left as its parent (apply the "no exec" penalty).
//!   [`EndKind::Background`]: started with `&`; several of them are a supervisor shape
//!   (a diagnostic says so).
//! * Privilege droppers: when the script execs `gosu U cmd…` (or `su-exec`, `setpriv --reuid`,
//!   `chpst -u`, `s6-setuidgid`, `runuser -u`, `su … -c`), `argv` holds the whole command
//!   including the dropper, `inner_argv` the command the dropper runs, and `user` is already
//!   the dropper's target user (looked up in the image's `/etc/passwd`). When the dropper
//!   re-executes the script itself (`exec gosu postgres "$BASH_SOURCE" "$@"`), shellflow runs a
//!   second pass as that user and reports what the second pass execs.
//! * Unknown words are rendered `<$VAR: reason>` and flagged in `unknown`. The reason
//!   "differs between paths that were merged" means branches that set the variable
//!   differently met again and, past the join bound, the variable was widened.
//!
//! It does no I/O of its own and never runs anything. It does not classify or resolve the
//! terminal command beyond PATH (the caller's reducer does), and does not model signals or
//! job control. Pathname patterns in command words are expanded against the image.
//!
//! ```
//! use shellflow::{analyze, Invocation, Limits, MemFs};
//! let fs = MemFs::new()
//!     .file("/entry.sh", "#!/bin/sh\nset -e\nif [ \"${1#-}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"\n", 0o755)
//!     .exe("/usr/local/bin/redis-server");
//! let a = analyze(&Invocation::file("/entry.sh", &["--port", "7000"]), &fs, &Limits::default());
//! assert_eq!(a.candidates[0].argv, ["redis-server", "--port", "7000"]);
//! ```

mod api;
pub mod arena;
#[doc(hidden)]
pub mod fuzzing;
mod interp;
mod memfs;
pub mod parse;
mod pattern;
mod report;
mod stack;
mod value;

pub use api::{
    Analysis, Candidate, Capabilities, Dialect, EndKind, Exit, FileKind, FileStat, FsError,
    ImageFs, Invocation, Limits, Location, Reason, Script, User, DEFAULT_PATH, DOCKER_DEFAULT_CAPS,
};
pub use memfs::MemFs;
/// Shell pattern matching (XCU 2.13), for callers that match file names as `glob` does.
pub use pattern::matches as pattern_matches;

use std::rc::Rc;

use interp::state::{State, Status};
use interp::Interp;
use value::Val;

/// The file mode creation mask a container starts with (Docker, Podman, runc's default).
const DEFAULT_UMASK: u32 = 0o022;

/// Analyses one run of a script: what it ends up running, as whom, and why.
///
/// Runs on a stack of its own ([`stack`]), large enough that deeply nested (hostile)
/// scripts hit the caps in [`Limits`] rather than the stack's end; where none can be
/// mapped, on the caller's. A panic is caught and reported as the analysis's failure.
pub fn analyze(inv: &Invocation, fs: &dyn ImageFs, limits: &Limits) -> Analysis {
    let result = stack::on_analysis_stack(|| analyze_here(inv, fs, limits)).unwrap_or_else(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            analyze_here(inv, fs, limits)
        }))
    });
    result.unwrap_or_else(|_| failed("shellflow: analysis panicked".into()))
}

/// One analysis on this thread, its memory from the arena ([`arena`]) when the program's
/// allocator is one.
fn analyze_here(inv: &Invocation, fs: &dyn ImageFs, limits: &Limits) -> Analysis {
    // The name table's thread-local is made before the arena opens (see `names::warm`).
    interp::names::warm();
    let scope = arena::Scope::enter();
    let a = {
        // Variable names interned during this analysis are dropped when it ends.
        let _names = interp::names::Scope::enter();
        analyze_within(inv, &arena::Suspended(fs), limits)
    };
    scope.finish(a)
}

fn analyze_within(inv: &Invocation, fs: &dyn ImageFs, limits: &Limits) -> Analysis {
    let (file, text) = match &inv.script {
        Script::File { path, .. } => match read_text(fs, path, limits) {
            Ok(t) => (path.clone(), t),
            Err(e) => return failed(e),
        },
        Script::String { text } => ("<sh -c>".to_string(), text.clone()),
    };
    let budget = std::time::Duration::from_millis(limits.max_parse_ms);
    let program = match parse::parse_program_traced(&file, &text, budget) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    let mut it = Interp::new(fs, limits, inv, program, file.clone(), text.len());
    let mut st = initial_state(inv, &file);
    st.errexit = shebang_sets_errexit(&text);
    if inv.env_complete && st.get("HOME").is_none() {
        // runc and crun set HOME from the user's passwd entry ("/" without one) when the
        // bundle's env has none.
        let home = it
            .passwd_uid(inv.user.uid)
            .map_or_else(|| "/".to_string(), |e| e.home);
        st.set("HOME", Val::lit(home));
        st.export("HOME");
    }
    it.keep_text(&file, text.into());
    it.run_toplevel(st);
    let (endings, diagnostics, capped, steps) = it.finish();
    report::build(inv, endings, diagnostics, capped, steps)
}

/// Finds `name` in the directories of `path_var` (a `PATH` value): the first entry that
/// exists (and, when `executable`, has an execute bit and is not a directory).
pub fn lookup_path(
    fs: &dyn ImageFs,
    path_var: &str,
    name: &str,
    executable: bool,
) -> Option<String> {
    path_var
        .split(':')
        .filter(|d| d.starts_with('/'))
        .find_map(|dir| {
            let p = memfs::normalize(&format!("{dir}/{name}"));
            let st = fs.stat(&p)?;
            let ok = !executable || (st.kind != FileKind::Dir && st.mode & 0o111 != 0);
            ok.then_some(p)
        })
}

fn read_text(fs: &dyn ImageFs, path: &str, limits: &Limits) -> Result<String, String> {
    if let Some(m) = fs.stat(path) {
        if m.size > limits.max_file_bytes {
            return Err(format!("{path}: {} bytes exceed the read limit", m.size));
        }
    }
    let bytes = fs.read_file(path).map_err(|e| e.to_string())?;
    // Valid UTF-8 (nearly every script) moves into the `String` without the lossy
    // decoder's character-by-character walk.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// `#!/bin/bash -e`, `#! /bin/sh -eu`: options on the shebang line apply to the script.
fn shebang_sets_errexit(text: &str) -> bool {
    let Some(line) = text.lines().next().and_then(|l| l.strip_prefix("#!")) else {
        return false;
    };
    line.split_whitespace()
        .skip(1)
        .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('e'))
}

fn failed(msg: String) -> Analysis {
    Analysis {
        candidates: Vec::new(),
        diagnostics: vec![msg],
        capped: false,
        steps: 0,
        services: Vec::new(),
        exits: Vec::new(),
    }
}

fn initial_state(inv: &Invocation, file: &str) -> State {
    let mut vars = interp::state::VarMap::new();
    for (k, v) in &inv.env {
        let var = interp::state::Var {
            value: interp::state::VarValue::Scalar(Val::lit(v.clone())),
            exported: true,
        };
        vars.insert(k, var);
    }
    let (arg0, positionals) = match &inv.script {
        Script::File { name_called_as, .. } => (name_called_as.clone(), inv.args.clone()),
        Script::String { .. } => match inv.args.split_first() {
            Some((a0, rest)) => (a0.clone(), rest.to_vec()),
            None => ("sh".to_string(), Vec::new()),
        },
    };
    State::new(interp::state::PathState {
        vars,
        positionals: Rc::new(positionals.into_iter().map(Val::lit).collect()),
        arg0: Val::lit(arg0),
        funcs: Default::default(),
        locals: Rc::default(),
        frames: Rc::default(),
        file: std::sync::Arc::from(file),
        status: Status::OK,
        errexit: false,
        umask: Some(DEFAULT_UMASK),
        user: std::rc::Rc::new(inv.user.clone()),
        cwd: Rc::from(inv.cwd.as_str()),
        weight: 1.0,
        lead: 1.0,
        reasons: Default::default(),
        assumptions: Default::default(),
        background: Rc::default(),
        last_fg: None,
        created: Default::default(),
        maybe_created: Default::default(),
        stdout: None,
        stdin: None,
        deferred: None,
        depth: 0,
        reexecs: 0,
        subshell: 0,
        cond_depth: 0,
        in_background: false,
        waited: false,
        calls: 0,
        unset: Default::default(),
        alts: Default::default(),
        pending: None,
        caps: inv
            .capabilities
            .as_ref()
            .map(|c| Rc::from(c.bounding.as_slice())),
    })
}
