//! External commands: recorded, never run (the exec handler of mvdan/sh's interp, turned
//! into a recorder). Knowable commands (`id`, `whoami`, `basename`, `dirname`, `cat` of an
//! image file, `expr`) are answered; `exec` ends the path with a terminal; a privilege
//! dropper (`gosu`, `su-exec`, `setpriv`, `chpst`, `s6-setuidgid`, `runuser`,
//! `chroot --userspec`, `su -c`) changes the user, and re-executing the script itself under
//! one runs a second pass as that user (with the bounding set `setpriv --bounding-set` leaves).
//!
//! Side-work tools (`chown`, `mkdir`, `find` …) are assumed to succeed and are not terminal
//! candidates; probes (`grep`, `pg_isready`, `curl` …) have an unknown exit status.

use std::rc::Rc;

use crate::api::User;
use crate::memfs::normalize;
use crate::parse::ast;
use crate::value::{concat, Val};

use super::state::{Recorded, State, Status};
use super::{short, who, Flow, Interp, Paths};

/// Tools run for their side effects: assumed to succeed, never the terminal.
const SIDE_WORK: &[&str] = &[
    "mkdir",
    "chown",
    "chmod",
    "chgrp",
    "find",
    "rm",
    "cp",
    "mv",
    "ln",
    "touch",
    "sleep",
    "sed",
    "awk",
    "tr",
    "cut",
    "head",
    "tail",
    "sort",
    "uniq",
    "xargs",
    "tee",
    "install",
    "rmdir",
    "ls",
    "sync",
    "usermod",
    "useradd",
    "groupadd",
    "adduser",
    "addgroup",
    "ldconfig",
    "envsubst",
    "echo",
    "printf",
    "cat",
    "date",
    "hostname",
    "uname",
    "nproc",
    "wc",
    "sysctl",
    "setcap",
    "rsync",
    "tar",
    "gzip",
    "sha256sum",
    "md5sum",
    "openssl",
    "kill",
    "chpasswd",
    "update-ca-certificates",
];

/// Whether the script created a file named like the program `name` (its last component):
/// a program it may have installed, which the image alone does not show.
fn created_named(st: &State, name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    st.created
        .iter()
        .any(|c| c.rsplit('/').next() == Some(base))
}

/// The builtins `resolve_command` answers by name (as `command -v` does): the ones the
/// interpreter runs itself ([`super::builtins::handles_builtin`]), and `kill`, which bash has
/// built in but the analysis records as a command, less `times`.
fn is_builtin_name(name: &str) -> bool {
    name == "kill" || (name != "times" && super::builtins::handles_builtin(name))
}

/// Most paths remembered as perhaps created by unmodelled commands, per path.
const MAX_MAYBE_CREATED: usize = 256;

/// An entry of `/etc/group`.
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// An entry of `/etc/passwd`.
#[derive(Debug, Clone)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

impl Interp<'_> {
    /// Records an external command and sets its status (and output when capturing).
    pub(crate) fn run_external(
        &mut self,
        mut st: State,
        argv: Vec<Val>,
        env_extra: Vec<(String, Val)>,
        location: Option<crate::api::Location>,
    ) -> Paths {
        let name = argv.first().and_then(Val::known).unwrap_or_default();
        let base = name.rsplit('/').next().unwrap_or("").to_string();
        if let Some((out, status)) = self.knowable(&st, &base, &argv[1..]) {
            if base == "setpriv" {
                self.assume_caps(&mut st);
            }
            st.status = status;
            if let Some(buf) = st.stdout.as_mut() {
                buf.push(&out);
            }
            return vec![(st, Flow::Normal)];
        }
        if base == "numactl" && self.numactl_policy(&mut st, &argv, &location).is_some() {
            return vec![(st, Flow::Normal)];
        }
        let missing = !name.is_empty() && self.resolve_command(&st, &name).is_none();
        if missing {
            self.note_missing(&st, &location, &name);
        }
        self.side_effects(&mut st, &base, &argv[1..]);
        if let Some(buf) = st.stdout.as_mut() {
            buf.push(&Val::unknown(
                concat(&["$(", &render(&argv), ")"]),
                "output at run time",
            ));
        }
        let side = SIDE_WORK.contains(&base.as_str());
        st.status = if missing && self.surely_missing(&st, &name) {
            st.reason(
                concat(&["`", &name, "` is not in the image: running it fails (127)"]),
                location.clone(),
            );
            Status::Known(127)
        } else if missing {
            Status::Unknown(concat(&["`", &name, "` is not in the image's PATH"]))
        } else if side {
            Status::OK
        } else {
            Status::Unknown(concat(&[
                "exit status of `",
                &short(&render(&argv)),
                "` depends on the run",
            ]))
        };
        if (!side || st.in_background) && st.subshell == 0 {
            // A background child keeps running as whom its dropper names.
            let dropped = self.dropper(&argv).filter(|_| st.in_background);
            let (user, inner_from) = match dropped {
                Some((u, from)) => (u, Some(from)),
                None => ((*st.user).clone(), None),
            };
            st.last_fg = Some(Rc::new(Recorded {
                argv,
                env_extra,
                location,
                user,
                inner_from,
            }));
        }
        vec![(st, Flow::Normal)]
    }

    /// Lists the bounding set as an assumption when the invocation assumed it (an image's
    /// Docker default), for a path whose outcome rests on it.
    fn assume_caps(&self, st: &mut State) {
        if let Some(why) = self
            .inv
            .capabilities
            .as_ref()
            .and_then(|c| c.assumed.as_ref())
        {
            st.assume(format!("capability bounding set: {why}"));
        }
    }

    /// `numactl` setting a memory policy (`--interleave=all CMD`, the probe `mongo` and
    /// `arangodb` run before prefixing their server with it) when the capability bounding
    /// set is known: the default seccomp profiles of Docker and Podman allow `set_mempolicy`
    /// and `mbind` only to a container with `CAP_SYS_NICE`, so without it numactl fails
    /// (status 1) and with it runs `CMD` (known to succeed for `true`, `echo` and `:`; else
    /// left to `CMD`'s run); `Some` when it set the status. `None`: not a memory policy, the
    /// set is unknown, or `numactl` is not in the image (the general rules apply).
    fn numactl_policy(
        &mut self,
        st: &mut State,
        argv: &[Val],
        location: &Option<crate::api::Location>,
    ) -> Option<()> {
        let caps = st.caps.clone()?;
        let name = argv.first()?.known()?;
        self.resolve_command(st, &name)?;
        let words: Vec<String> = argv[1..].iter().map(|w| w.known()).collect::<Option<_>>()?;
        let (policy, inner) = numactl_split(&words)?;
        st.assume(format!(
            "seccomp: the default profile of Docker and Podman (memory-policy calls need \
             CAP_SYS_NICE), as `{}` relies on",
            short(&render(argv))
        ));
        self.assume_caps(st);
        if !caps.iter().any(|c| c == "sys_nice") {
            st.reason(
                format!(
                    "`numactl {policy}` fails (status 1): without CAP_SYS_NICE the default \
                     seccomp profile refuses set_mempolicy"
                ),
                location.clone(),
            );
            st.status = Status::Known(1);
            if let Some(buf) = st.stdout.as_mut() {
                buf.push(&Val::default());
            }
            return Some(());
        }
        match inner.first().map(String::as_str) {
            Some("true" | ":") if inner.len() == 1 => {}
            Some("echo") => {}
            _ => return None,
        }
        st.reason(
            format!("`numactl {policy}` runs its command: CAP_SYS_NICE is in the bounding set"),
            location.clone(),
        );
        st.status = Status::OK;
        if let Some(buf) = st.stdout.as_mut() {
            let out = if inner[0] == "echo" {
                format!("{}\n", inner[1..].join(" "))
            } else {
                String::new()
            };
            buf.push(&Val::lit(out));
        }
        Some(())
    }

    /// `exec ARGV`: ends the path with a terminal, or re-runs the script under a dropper.
    pub(crate) fn do_exec(
        &mut self,
        mut st: State,
        argv: Vec<Val>,
        env_extra: Vec<(String, Val)>,
        location: Option<crate::api::Location>,
    ) -> Paths {
        if st.subshell > 0 {
            st.status = Status::Unknown("exec in a subshell".into());
            if let Some(buf) = st.stdout.as_mut() {
                buf.push(&Val::unknown(
                    format!("$({})", render(&argv)),
                    "output at run time",
                ));
            }
            return vec![(st, Flow::Exit)];
        }
        let (user, inner_from) = match self.dropper(&argv) {
            Some((user, from)) => (user, Some(from)),
            None => ((*st.user).clone(), None),
        };
        let inner = &argv[inner_from.unwrap_or(0)..];
        if inner.first().is_some_and(|w| self.is_self(&st, w)) {
            let args = inner[1..].to_vec();
            let via = render(&argv[..inner_from.unwrap_or(0)]);
            st.caps = self.caps_after(&st, &argv, inner_from.unwrap_or(0));
            return self.reexec(st, user, args, &via, location);
        }
        st.reason(
            format!("exec {} (as {})", render(&argv), who(&user)),
            location.clone(),
        );
        let rec = Recorded {
            argv,
            env_extra,
            location,
            user,
            inner_from: None,
        };
        self.end_exec(st, rec, inner_from);
        Vec::new()
    }

    fn is_self(&self, st: &State, w: &Val) -> bool {
        let Some(w) = w.known() else { return false };
        let crate::api::Script::File {
            path,
            name_called_as,
        } = &self.inv.script
        else {
            return false;
        };
        w == *path || w == *name_called_as || st.arg0.known().is_some_and(|a| a == w)
    }

    /// The script re-executes itself (as `user`): a second pass from the top.
    fn reexec(
        &mut self,
        st: State,
        user: User,
        args: Vec<Val>,
        via: &str,
        location: Option<crate::api::Location>,
    ) -> Paths {
        if st.reexecs >= 2 || (st.reexecs > 0 && user == *st.user) {
            self.cap(format!(
                "{}: the script re-executes itself again: not followed",
                st.file
            ));
            let rec = Recorded {
                argv: args,
                env_extra: Vec::new(),
                location,
                user,
                inner_from: None,
            };
            self.end_exec(st, rec, None);
            return Vec::new();
        }
        let mut next = st.clone();
        next.vars = next
            .vars
            .exported()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Some(home) = self.passwd_uid(user.uid).map(|e| e.home) {
            next.set("HOME", Val::lit(home));
            next.export("HOME");
        }
        next.positionals = Rc::new(args);
        next.funcs = Default::default();
        next.locals = Rc::default();
        next.frames = Rc::default();
        next.file = std::sync::Arc::from(self.script_path.as_str());
        next.status = Status::OK;
        next.errexit = false;
        next.user = Rc::new(user.clone());
        next.last_fg = None;
        next.depth = 0;
        next.calls = 0;
        next.cond_depth = 0;
        next.reexecs += 1;
        next.reason(
            if via.is_empty() {
                format!(
                    "the script re-executes itself as {}: second pass",
                    who(&user)
                )
            } else {
                format!(
                    "the script re-executes itself under `{via}` as {}: second pass",
                    who(&user)
                )
            },
            location,
        );
        // Its pass runs with those of the other paths that re-execute the script, once this
        // pass is over (see `Interp::run_toplevel`).
        self.reexecuted.push(next);
        Vec::new()
    }

    /// The bounding set the command of a `setpriv` at the head of `argv` (starting at
    /// `from`) gets: changed by `--bounding-set`, unknown when the spec is.
    fn caps_after(&self, st: &State, argv: &[Val], from: usize) -> Option<Rc<[String]>> {
        let words: Vec<Option<String>> = argv.iter().map(Val::known).collect();
        let base = words.first()?.as_deref()?.rsplit('/').next()?;
        if base != "setpriv" {
            return st.caps.clone();
        }
        match bounding_spec(&words, from) {
            None => st.caps.clone(),
            Some(spec) => {
                let after = crate::api::bounding_after(st.caps.as_deref()?, &spec?)?;
                Some(Rc::from(after))
            }
        }
    }

    /// Recognises a privilege dropper: the user it switches to and where its command starts.
    fn dropper(&mut self, argv: &[Val]) -> Option<(User, usize)> {
        let words: Vec<Option<String>> = argv.iter().map(Val::known).collect();
        let base = words.first()?.as_deref()?.rsplit('/').next()?.to_string();
        let w = |i: usize| words.get(i).cloned().flatten();
        let (spec, from) = match base.as_str() {
            "gosu" | "su-exec" | "s6-setuidgid" => (w(1)?, 2),
            "chpst" | "setpriv" | "runuser" => option_user(&base, &words)?,
            // `chroot --userspec=1000 / CMD` (elasticsearch): the command follows NEWROOT.
            "chroot" => {
                let (user, at) = option_user(&base, &words)?;
                (user, at + 1)
            }
            "su" => {
                let c = words.iter().position(|x| x.as_deref() == Some("-c"))?;
                let user = words
                    .iter()
                    .skip(1)
                    .take(c.saturating_sub(1))
                    .flatten()
                    .find(|x| !x.starts_with('-'))?
                    .clone();
                // The dropped command is the `-c` string (a shell command line).
                (user, c + 1)
            }
            _ => return None,
        };
        if from > argv.len() {
            return None;
        }
        Some((self.resolve_user(&spec), from))
    }

    /// Resolves `name[:group]` or `uid[:gid]` through the image's `/etc/passwd`.
    pub(crate) fn resolve_user(&mut self, spec: &str) -> User {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, g.parse::<u32>().ok()),
            None => (spec, None),
        };
        let entry = match u.parse::<u32>() {
            Ok(uid) => self.passwd_uid(uid).or(Some(PasswdEntry {
                name: String::new(),
                uid,
                gid: uid,
                home: "/".into(),
            })),
            Err(_) => self.passwd_entry(u),
        };
        match entry {
            Some(e) => User {
                uid: e.uid,
                gid: g.unwrap_or(e.gid),
                name: (!e.name.is_empty()).then_some(e.name),
            },
            None => {
                self.diag(format!("user {u} is not in the image's /etc/passwd"));
                User {
                    uid: u32::MAX,
                    gid: u32::MAX,
                    name: Some(u.to_string()),
                }
            }
        }
    }

    /// The fields of each line of a colon-separated image file (`/etc/passwd`, `/etc/group`);
    /// none when the file is missing.
    fn colon_file(&self, path: &str) -> Vec<Vec<String>> {
        let bytes = self.fs.read_file(path).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    }

    fn passwd(&self) -> Vec<PasswdEntry> {
        self.colon_file("/etc/passwd")
            .into_iter()
            .filter_map(|f| {
                Some(PasswdEntry {
                    name: f.first()?.to_string(),
                    uid: f.get(2)?.parse().ok()?,
                    gid: f.get(3)?.parse().ok()?,
                    home: f.get(5).map_or("/", String::as_str).to_string(),
                })
            })
            .collect()
    }

    /// Looks a user name up in `/etc/passwd`.
    pub(crate) fn passwd_entry(&self, name: &str) -> Option<PasswdEntry> {
        self.passwd().into_iter().find(|e| e.name == name)
    }

    pub(crate) fn passwd_uid(&self, uid: u32) -> Option<PasswdEntry> {
        self.passwd().into_iter().find(|e| e.uid == uid)
    }

    /// Where a command name leads: a builtin or function name, or a path in the image.
    pub(crate) fn resolve_command(&mut self, st: &State, name: &str) -> Option<String> {
        if is_builtin_name(name) || st.funcs.contains_key(name) {
            return Some(name.to_string());
        }
        if name.contains('/') {
            let p = if name.starts_with('/') {
                normalize(name)
            } else {
                normalize(&format!("{}/{name}", st.cwd))
            };
            return self.fs.stat(&p).map(|_| p);
        }
        // Borrowed from the variable: the cache is searched without copying PATH or the name.
        let path: std::borrow::Cow<'_, str> = match st.get("PATH") {
            None => crate::api::DEFAULT_PATH.into(),
            Some(v) => match v.scalar_ref() {
                None => "".into(),
                Some(v) => v
                    .as_known()
                    .unwrap_or_else(|| crate::api::DEFAULT_PATH.into()),
            },
        };
        if let Some(hit) = self.resolved.get(&*path).and_then(|names| names.get(name)) {
            return hit.clone();
        }
        let hit = crate::lookup_path(self.fs, &path, name, true);
        self.resolved
            .entry(path.into_owned())
            .or_default()
            .insert(name.to_string(), hit.clone());
        hit
    }

    /// Whether running `name`, which the image lacks, surely fails (127): only where the
    /// script tests for it (an `if`, `&&`, `||`), with PATH known and no file of that name
    /// created by the script. A plain command the image lacks is more likely something the
    /// analysis cannot see (a PATH it cannot expand, a tool a script installs) than a
    /// container that dies at start, so it stays unknown there.
    fn surely_missing(&self, st: &State, name: &str) -> bool {
        let path_known = st
            .get("PATH")
            .is_none_or(|v| v.scalar().as_known().is_some());
        st.cond_depth > 0 && path_known && !created_named(st, name)
    }

    /// Reads an image file for `cat`/`$(< f)`.
    pub(crate) fn cat_file(&self, st: &State, path: &str) -> (Val, Status) {
        let abs = if path.starts_with('/') {
            normalize(path)
        } else {
            normalize(&format!("{}/{path}", st.cwd))
        };
        if st.created.contains(&abs) {
            return (
                Val::unknown(format!("$(cat {abs})"), "written by the script"),
                Status::OK,
            );
        }
        match self.fs.stat(&abs) {
            Some(m) if m.size <= self.limits.max_file_bytes => match self.fs.read_file(&abs) {
                Ok(b) => (Val::lit(String::from_utf8_lossy(&b)), Status::OK),
                Err(e) => (
                    Val::unknown(format!("$(cat {abs})"), e.to_string()),
                    Status::Unknown(e.to_string()),
                ),
            },
            Some(_) => (
                Val::unknown(format!("$(cat {abs})"), "too large"),
                Status::OK,
            ),
            None => (
                Val::unknown(
                    format!("$(cat {abs})"),
                    "not in the image (mounted at run time?)",
                ),
                Status::Unknown(format!("{abs} absent from the image")),
            ),
        }
    }

    /// Commands whose output and status follow from the image and the path's state.
    fn knowable(&mut self, st: &State, base: &str, args: &[Val]) -> Option<(Val, Status)> {
        let known: Option<Vec<String>> = args.iter().map(Val::known).collect();
        let a = known?;
        let line = |s: String| (Val::lit(format!("{s}\n")), Status::OK);
        match base {
            "whoami" => Some(line(st.user.display())),
            "id" => self.id(st, &a),
            "basename" => {
                let p = a.first()?;
                let mut b = p
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                if let Some(sfx) = a.get(1) {
                    if b != *sfx {
                        b = b.strip_suffix(sfx.as_str()).unwrap_or(&b).to_string();
                    }
                }
                Some(line(b))
            }
            "dirname" => {
                let p = a.first()?.trim_end_matches('/');
                Some(line(match p.rfind('/') {
                    Some(0) => "/".into(),
                    Some(i) => p[..i].to_string(),
                    None => ".".into(),
                }))
            }
            "cat" if a.len() == 1 && !a[0].starts_with('-') => Some(self.cat_file(st, &a[0])),
            // `readlink -f "$CMD"`, `realpath "$0"`: the image decides where a path leads.
            "readlink" | "realpath" => {
                let path = match (base, a.as_slice()) {
                    ("readlink", [f, p]) if matches!(f.as_str(), "-f" | "-e") => p,
                    ("realpath", [p]) if !p.starts_with('-') => p,
                    _ => return None,
                };
                let skip = super::textutil::Unknowable {
                    volumes: &self.inv.volumes,
                    created: &st.created,
                    maybe_created: &st.maybe_created,
                };
                super::textutil::canonical(self.fs, &st.cwd, path, &skip).map(line)
            }
            "which" if !a.is_empty() && !a.iter().any(|x| x.starts_with('-')) => self.which(st, &a),
            "find" | "grep" | "egrep" | "fgrep" | "sed" => {
                let skip = super::textutil::Unknowable {
                    volumes: &self.inv.volumes,
                    created: &st.created,
                    maybe_created: &st.maybe_created,
                };
                let input = st.stdin.as_ref().and_then(|v| v.as_known());
                let found = if base == "find" {
                    super::textutil::find(self.fs, &st.cwd, &a, &skip)?
                } else if base == "sed" {
                    super::sed::sed(self.fs, &st.cwd, &a, input.as_deref(), &skip)?
                } else {
                    let mut a = a.clone();
                    match base {
                        "egrep" => a.insert(0, "-E".into()),
                        "fgrep" => a.insert(0, "-F".into()),
                        _ => {}
                    }
                    super::textutil::grep(self.fs, &st.cwd, &a, input.as_deref(), &skip)?
                };
                Some((Val::lit(found.out), Status::Known(found.status)))
            }
            "sort" => {
                let input = st.stdin.as_ref()?.as_known()?;
                Some((Val::lit(super::textutil::sort(&input, &a)?), Status::OK))
            }
            "tr" => {
                let input = st.stdin.as_ref()?.as_known()?;
                Some((Val::lit(super::textutil::tr(&input, &a)?), Status::OK))
            }
            "expr" => Some(expr(&a)),
            "setpriv" if !a.is_empty() && a.iter().all(|x| is_dump_flag(x)) => {
                Some((Val::lit(self.setpriv_dump(st)?), Status::OK))
            }
            _ => None,
        }
    }

    /// What `setpriv -d` prints when the bounding set is known: ids, supplementary groups,
    /// then the capability sets. Inheritable and ambient sets are empty and `no_new_privs`
    /// is off, as Docker (since 20.10), Podman, runc and crun start a process by default.
    fn setpriv_dump(&self, st: &State) -> Option<String> {
        let caps = st.caps.as_ref()?;
        let u = &st.user;
        let groups: Vec<String> = self
            .groups_of(u)
            .into_iter()
            .skip(1)
            .map(|(gid, _)| gid.to_string())
            .collect();
        let list = |v: &[String]| {
            if v.is_empty() {
                "[none]".to_string()
            } else {
                v.join(",")
            }
        };
        Some(format!(
            "uid: {uid}\neuid: {uid}\ngid: {gid}\negid: {gid}\nSupplementary groups: {}\n\
             no_new_privs: 0\nInheritable capabilities: [none]\nAmbient capabilities: [none]\n\
             Capability bounding set: {}\nSecurebits: [none]\n",
            list(&groups),
            list(caps),
            uid = u.uid,
            gid = u.gid,
        ))
    }

    fn id(&mut self, st: &State, a: &[String]) -> Option<(Val, Status)> {
        let flags: String = a
            .iter()
            .filter(|x| x.starts_with('-'))
            .map(|x| x.trim_start_matches('-'))
            .collect();
        let user = match a.iter().find(|x| !x.starts_with('-')) {
            Some(name) => match self
                .passwd_entry(name)
                .or_else(|| name.parse().ok().and_then(|u| self.passwd_uid(u)))
            {
                Some(e) => User {
                    uid: e.uid,
                    gid: e.gid,
                    name: Some(e.name),
                },
                None => return Some((Val::default(), Status::FAIL)),
            },
            None => (*st.user).clone(),
        };
        let name = flags.contains('n');
        let text = if flags.contains('u') {
            if name {
                user.display()
            } else {
                user.uid.to_string()
            }
        } else if flags.contains('g') && !flags.contains('G') {
            if name {
                self.group_name(user.gid).unwrap_or(user.gid.to_string())
            } else {
                user.gid.to_string()
            }
        } else if flags.contains('G') {
            // The primary group, then those /etc/group lists the user in (what the runtime
            // and the droppers give a process).
            let groups: Vec<String> = self
                .groups_of(&user)
                .into_iter()
                .map(|(gid, group)| if name { group } else { gid.to_string() })
                .collect();
            groups.join(" ")
        } else if flags.is_empty() {
            format!("uid={}({}) gid={}", user.uid, user.display(), user.gid)
        } else {
            return None;
        };
        Some((Val::lit(format!("{text}\n")), Status::OK))
    }

    /// `which NAME…`: the paths PATH finds (status 1 when one is missing); unknown when PATH
    /// is, or when the script created a file of that name.
    fn which(&mut self, st: &State, names: &[String]) -> Option<(Val, Status)> {
        let path = match st.get("PATH") {
            Some(v) => v.scalar().known()?,
            None => crate::api::DEFAULT_PATH.to_string(),
        };
        let mut out = String::new();
        let mut status = 0;
        for name in names {
            if created_named(st, name) {
                return None;
            }
            let hit = if name.contains('/') {
                let abs = if name.starts_with('/') {
                    normalize(name)
                } else {
                    normalize(&format!("{}/{name}", st.cwd))
                };
                self.fs
                    .stat(&abs)
                    .filter(|m| m.mode & 0o111 != 0 && m.kind == crate::api::FileKind::File)
                    .map(|_| name.clone())
            } else {
                crate::lookup_path(self.fs, &path, name, true)
            };
            match hit {
                Some(p) => {
                    out.push_str(&p);
                    out.push('\n');
                }
                None => status = 1,
            }
        }
        Some((Val::lit(out), Status::Known(status)))
    }

    /// The user's groups (gid, name): the primary one, then /etc/group's memberships.
    fn groups_of(&self, user: &User) -> Vec<(u32, String)> {
        let groups = self.group_file();
        let primary = groups
            .iter()
            .find(|g| g.gid == user.gid)
            .map_or_else(|| user.gid.to_string(), |g| g.name.clone());
        let mut out = vec![(user.gid, primary)];
        let Some(login) = user.name.as_deref() else {
            return out;
        };
        for g in groups {
            if g.members.iter().any(|m| m == login) && !out.iter().any(|(gid, _)| *gid == g.gid) {
                out.push((g.gid, g.name));
            }
        }
        out
    }

    fn group_name(&self, gid: u32) -> Option<String> {
        self.group_file()
            .into_iter()
            .find(|g| g.gid == gid)
            .map(|g| g.name)
    }

    /// The image's `/etc/group` (lines that do not parse are skipped).
    fn group_file(&self) -> Vec<GroupEntry> {
        self.colon_file("/etc/group")
            .into_iter()
            .filter_map(|f| {
                Some(GroupEntry {
                    name: f.first()?.clone(),
                    gid: f.get(2)?.parse().ok()?,
                    members: f.get(3).map_or_else(Vec::new, |m| {
                        m.split(',')
                            .filter(|m| !m.is_empty())
                            .map(str::to_string)
                            .collect()
                    }),
                })
            })
            .collect()
    }

    fn side_effects(&mut self, st: &mut State, base: &str, args: &[Val]) {
        if base != "mkdir" && base != "touch" {
            if !SIDE_WORK.contains(&base) {
                self.note_paths(st, args);
            }
            return;
        }
        for p in args
            .iter()
            .filter_map(Val::known)
            .filter(|p| !p.starts_with('-'))
        {
            let abs = if p.starts_with('/') {
                normalize(&p)
            } else {
                normalize(&format!("{}/{p}", st.cwd))
            };
            st.created.insert(abs);
        }
    }

    /// Remembers the absolute paths (`/p`, `--opt=/p`) an unmodelled command is given that
    /// the image lacks: the command may create them.
    fn note_paths(&self, st: &mut State, args: &[Val]) {
        for a in args.iter().filter_map(Val::known) {
            let p = match a.split_once('=') {
                Some((opt, p)) if opt.starts_with('-') => p,
                _ => a.as_str(),
            };
            if !p.starts_with('/') || st.maybe_created.len() >= MAX_MAYBE_CREATED {
                continue;
            }
            let abs = normalize(p);
            if self.fs.stat(&abs).is_none() && !st.created.contains(&abs) {
                st.maybe_created.insert(abs);
            }
        }
    }

    /// Files created by `>`/`>>` redirections (their content is not tracked).
    pub(crate) fn apply_redirects<'r>(
        &mut self,
        st: &mut State,
        redirects: impl IntoIterator<Item = &'r ast::IoRedirect>,
    ) {
        for r in redirects {
            if reads_stdin(r) {
                st.stdin = self.input_of(st, r);
                continue;
            }
            if let ast::IoRedirect::File(_, kind, ast::IoFileRedirectTarget::Filename(w)) = r {
                if matches!(
                    kind,
                    ast::IoFileRedirectKind::Write
                        | ast::IoFileRedirectKind::Append
                        | ast::IoFileRedirectKind::Clobber
                ) {
                    if let Some(p) = self.expand_str(st, &w.value).known() {
                        if !p.starts_with("/dev/") {
                            let abs = if p.starts_with('/') {
                                normalize(&p)
                            } else {
                                normalize(&format!("{}/{p}", st.cwd))
                            };
                            st.created.insert(abs);
                        }
                    }
                }
            }
        }
    }
}

impl Interp<'_> {
    /// What an input redirection feeds the command, when the interpreter can know it: a
    /// here-document or here-string with known words, a file as the image holds it (not
    /// one the script wrote, whose contents are not tracked), or the output of a process
    /// substitution (`done < <(printf '%s\0' …)`) run like a command substitution.
    fn input_of(&mut self, st: &mut State, r: &ast::IoRedirect) -> Option<Val> {
        match r {
            ast::IoRedirect::HereString(_, w) => {
                let mut v = self.expand_str(st, &w.value);
                v.push(&Val::lit("\n"));
                Some(v)
            }
            ast::IoRedirect::HereDocument(_, doc) => {
                let body = &doc.doc.value;
                if !doc.requires_expansion {
                    return Some(Val::lit(body.clone()));
                }
                if body.contains('\\') {
                    return None;
                }
                // A here-document expands like a double-quoted word without the quotes.
                Some(self.expand_str(st, &format!("\"{}\"", body.replace('"', "\\\""))))
            }
            ast::IoRedirect::File(_, _, ast::IoFileRedirectTarget::Filename(w)) => {
                let p = self.expand_str(st, &w.value).known()?;
                let abs = if p.starts_with('/') {
                    normalize(&p)
                } else {
                    normalize(&format!("{}/{p}", st.cwd))
                };
                if abs.starts_with("/dev/")
                    || abs.starts_with("/proc/")
                    || st.created.contains(&abs)
                {
                    return None;
                }
                let meta = self.fs.stat(&abs)?;
                if meta.kind != crate::api::FileKind::File || meta.size > self.limits.max_file_bytes
                {
                    return None;
                }
                let bytes = self.fs.read_file(&abs).ok()?;
                Some(Val::lit(String::from_utf8_lossy(&bytes)))
            }
            ast::IoRedirect::File(
                _,
                ast::IoFileRedirectKind::Read,
                ast::IoFileRedirectTarget::ProcessSubstitution(
                    ast::ProcessSubstitutionKind::Read,
                    sub,
                ),
            ) => {
                if st.depth >= self.limits.max_source_depth {
                    return None;
                }
                let (_, out) = self.subshell(st, |me, mut s| {
                    s.stdout = Some(Val::default());
                    s.stdin = None;
                    s.depth += 1;
                    me.run_list(s, &sub.list)
                });
                // Unlike `$( )`, the output keeps its trailing newlines. `read` only uses
                // input that is wholly known, so a partly unknown output counts as unknown.
                out.filter(|v| !v.is_unknown())
            }
            _ => None,
        }
    }
}

/// Whether a redirection replaces standard input (`<`, `<<`, `<<<` on fd 0).
pub(crate) fn reads_stdin(r: &ast::IoRedirect) -> bool {
    match r {
        ast::IoRedirect::File(fd, ast::IoFileRedirectKind::Read, _)
        | ast::IoRedirect::HereDocument(fd, _)
        | ast::IoRedirect::HereString(fd, _) => matches!(fd, None | Some(0)),
        _ => false,
    }
}

/// The user option and command start of `chpst`, `setpriv`, `runuser` (and where `chroot`'s
/// NEWROOT operand is).
fn option_user(base: &str, words: &[Option<String>]) -> Option<(String, usize)> {
    let mut user = None;
    let mut i = 1;
    while i < words.len() {
        let w = words[i].as_deref()?;
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') {
            break;
        }
        let takes_value = match base {
            "chpst" => matches!(
                w,
                "-u" | "-U"
                    | "-b"
                    | "-e"
                    | "-/"
                    | "-n"
                    | "-l"
                    | "-L"
                    | "-m"
                    | "-d"
                    | "-o"
                    | "-p"
                    | "-f"
                    | "-c"
                    | "-r"
                    | "-t"
            ),
            "chroot" => matches!(w, "--userspec" | "--groups"),
            "setpriv" => {
                !w.contains('=')
                    && matches!(
                        w,
                        "--reuid"
                            | "--regid"
                            | "--groups"
                            | "--inh-caps"
                            | "--bounding-set"
                            | "--ambient-caps"
                            | "--securebits"
                            | "--selinux-label"
                            | "--apparmor-profile"
                    )
            }
            _ => matches!(
                w,
                "-u" | "-g" | "-G" | "-s" | "--user" | "--group" | "--shell"
            ),
        };
        let is_user = matches!(w, "-u" | "--user" | "--reuid" | "--userspec")
            || w.starts_with("--reuid=")
            || w.starts_with("--user=")
            || w.starts_with("--userspec=");
        if is_user {
            user = match w.split_once('=') {
                Some((_, v)) => Some(v.to_string()),
                None => words.get(i + 1).cloned().flatten(),
            };
        }
        i += if takes_value { 2 } else { 1 };
    }
    let user = user?;
    let user = if base == "chpst" {
        user.split(':').next().unwrap_or("").to_string()
    } else {
        user
    };
    Some((user, i))
}

/// `-d`, `-dd`, `--dump`: `setpriv`'s request to print its state.
fn is_dump_flag(x: &str) -> bool {
    x == "--dump" || (x.len() > 1 && x.starts_with('-') && x[1..].bytes().all(|b| b == b'd'))
}

/// The `--bounding-set` spec given to `setpriv` before its command (at `from`), if any.
fn bounding_spec(words: &[Option<String>], from: usize) -> Option<Option<String>> {
    let mut i = 1;
    let mut spec = None;
    while i < from.min(words.len()) {
        match words[i].as_deref() {
            Some("--bounding-set") => {
                spec = Some(words.get(i + 1).cloned().flatten());
                i += 1;
            }
            Some(w) if w.starts_with("--bounding-set=") => {
                spec = Some(Some(w["--bounding-set=".len()..].to_string()));
            }
            None => return Some(None),
            _ => {}
        }
        i += 1;
    }
    spec
}

/// `expr` for `:` matches, comparisons, arithmetic and `length`.
fn expr(a: &[String]) -> (Val, Status) {
    let res: Option<String> = match a {
        [s, op, re] if op == ":" => {
            let pat = bre_to_regex(re);
            regex::Regex::new(&format!("^(?:{pat})"))
                .ok()
                .map(|r| match r.captures(s) {
                    Some(c) if c.len() > 1 => {
                        c.get(1).map(|m| m.as_str().to_string()).unwrap_or_default()
                    }
                    Some(c) => c
                        .get(0)
                        .map(|m| m.as_str().chars().count())
                        .unwrap_or(0)
                        .to_string(),
                    None => {
                        if r.captures_len() > 1 {
                            String::new()
                        } else {
                            "0".into()
                        }
                    }
                })
        }
        [l, s] if l == "length" => Some(s.chars().count().to_string()),
        [x, op, y] => {
            let (p, q) = (x.parse::<i64>().ok(), y.parse::<i64>().ok());
            match (op.as_str(), p, q) {
                ("+", Some(p), Some(q)) => p.checked_add(q).map(|v| v.to_string()),
                ("-", Some(p), Some(q)) => p.checked_sub(q).map(|v| v.to_string()),
                ("*", Some(p), Some(q)) => p.checked_mul(q).map(|v| v.to_string()),
                ("/", Some(p), Some(q)) => p.checked_div(q).map(|v| v.to_string()),
                ("=", ..) => Some(u8::from(x == y).to_string()),
                ("!=", ..) => Some(u8::from(x != y).to_string()),
                _ => None,
            }
        }
        [s] => Some(s.clone()),
        _ => None,
    };
    match res {
        Some(r) => {
            let ok = !(r.is_empty() || r == "0");
            (Val::lit(format!("{r}\n")), Status::from_bool(ok))
        }
        None => (
            Val::unknown("$(expr …)", "expression not modelled"),
            Status::Unknown("expr".into()),
        ),
    }
}

/// POSIX basic regular expression to the `regex` crate's syntax.
fn bre_to_regex(bre: &str) -> String {
    let mut out = String::new();
    let mut it = bre.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n @ ('(' | ')' | '{' | '}')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '+' | '?' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Words joined for messages.
pub(crate) fn render(argv: &[Val]) -> String {
    let mut out = String::new();
    for (i, v) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        v.render_into(&mut out);
    }
    out
}

impl Interp<'_> {
    /// Diagnoses a command missing from the image, once per place and name.
    fn note_missing(&mut self, st: &State, location: &Option<crate::api::Location>, name: &str) {
        let key = location.as_ref().map_or_else(
            || (std::sync::Arc::clone(&st.file), 0),
            |l| (std::sync::Arc::clone(&l.file), l.line),
        );
        let noted = self.missing_noted.entry(key).or_default();
        if noted.iter().any(|n| n == name) {
            return;
        }
        noted.push(name.to_string());
        self.diag(format!(
            "{}: `{name}` is not found in the image (PATH)",
            location_text(st, location)
        ));
    }
}

fn location_text(st: &State, l: &Option<crate::api::Location>) -> String {
    l.as_ref()
        .map_or_else(|| String::from(&*st.file), |l| l.to_string())
}

/// The memory-policy option of a `numactl` command line and the command it runs, or `None`
/// when it sets no memory policy (`--hardware`, `--show`, only `--cpunodebind`) or runs
/// nothing. Options taking a separate value (`-i all`) are read with it.
fn numactl_split(words: &[String]) -> Option<(String, &[String])> {
    const POLICY: &[&str] = &[
        "--interleave",
        "--weighted-interleave",
        "--membind",
        "--preferred",
        "--preferred-many",
        "--localalloc",
        "-i",
        "-w",
        "-m",
        "-p",
        "-P",
        "-l",
    ];
    const VALUED: &[&str] = &[
        "--interleave",
        "--weighted-interleave",
        "--membind",
        "--preferred",
        "--preferred-many",
        "--cpunodebind",
        "--physcpubind",
        "-i",
        "-w",
        "-m",
        "-p",
        "-P",
        "-N",
        "-C",
    ];
    let mut policy = None;
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') {
            break;
        }
        let opt = w.split('=').next().unwrap_or(w);
        let joined = w.contains('=');
        if POLICY.contains(&opt) {
            policy = Some(if !joined && VALUED.contains(&opt) {
                format!("{w} {}", words.get(i + 1).map_or("", String::as_str))
            } else {
                w.clone()
            });
        }
        i += if !joined && VALUED.contains(&opt) {
            2
        } else {
            1
        };
    }
    let inner = words.get(i..).filter(|r| !r.is_empty())?;
    Some((policy?, inner))
}
