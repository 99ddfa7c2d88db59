//! The wrapper catalogue: programs that run another program and are not themselves the
//! workload (init shims, privilege droppers, `env`, `nice`, shells, package runners).
//!
//! Each rule says how to find the wrapped command in the wrapper's argv: which options take a
//! value, whether a `--` sentinel ends the options, whether the first operand is a user (gosu)
//! or an option carries it (setpriv), and whether a subcommand word must come first
//! (`pipenv run`, `bundle exec`). The reducer applies the rules; this file is data only.

use serde::{Deserialize, Serialize};

/// What role a wrapper plays; decides how its collapse is explained and scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapperKind {
    /// tini, dumb-init, catatonit: PID 1 shims that exec/fork the command.
    Init,
    /// gosu, su-exec, setpriv, chpst, s6-setuidgid, runuser: change user, then exec.
    Dropper,
    /// `env`: assignments and options, then exec.
    Env,
    /// nice, numactl, ionice, taskset, stdbuf ...: adjust, then exec.
    Modifier,
    /// sh, bash, dash, ash: `-c STRING` or a script file.
    Shell,
    /// npm/yarn/pnpm, pipenv/poetry run, bundle exec: recorded as steps.
    PackageRunner,
}

/// How to see through one wrapper program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapperRule {
    /// Program basenames this rule matches (`tini`, `tini-static`).
    pub names: Vec<String>,
    pub kind: WrapperKind,
    /// Options that consume a value (`-p SIG`, `--rewrite=15:2` and `--rewrite 15:2` alike).
    #[serde(default)]
    pub value_options: Vec<String>,
    /// Options whose value is the user to run as (`--reuid`, `-u`).
    #[serde(default)]
    pub user_options: Vec<String>,
    /// The first operand is the user (`gosu USER CMD`), written `user[:group]`.
    #[serde(default)]
    pub user_operand: bool,
    /// Words that must follow the options before the command (`run`, `exec`); empty = none.
    #[serde(default)]
    pub subcommands: Vec<String>,
    /// Subcommands (of `subcommands`) that name a `package.json` script instead of a command:
    /// `npm run NAME`, and `npm start`, whose script is the subcommand itself.
    #[serde(default)]
    pub script_subcommands: Vec<String>,
    /// Leading `NAME=VALUE` operands are environment assignments (`env`).
    #[serde(default)]
    pub assignments: bool,
    /// Operands to skip before the command (`numactl` has none; `taskset MASK CMD` has one).
    #[serde(default)]
    pub skip_operands: u32,
    /// Why this program is a wrapper, for the chain.
    pub reason: String,
}

impl WrapperRule {
    pub fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("names must not be empty".into());
        }
        if self.names.iter().any(|n| n.is_empty() || n.contains('/')) {
            return Err("names are basenames: not empty, no '/'".into());
        }
        if self.reason.trim().is_empty() {
            return Err("reason must not be empty".into());
        }
        if let Some(s) = self
            .script_subcommands
            .iter()
            .find(|s| !self.subcommands.contains(s))
        {
            return Err(format!("script subcommand {s} is not in subcommands"));
        }
        Ok(())
    }
}

fn rule(names: &[&str], kind: WrapperKind, reason: &str) -> WrapperRule {
    WrapperRule {
        names: names.iter().map(|s| s.to_string()).collect(),
        kind,
        value_options: Vec::new(),
        user_options: Vec::new(),
        user_operand: false,
        subcommands: Vec::new(),
        script_subcommands: Vec::new(),
        assignments: false,
        skip_operands: 0,
        reason: reason.to_string(),
    }
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|s| s.to_string()).collect()
}

/// The built-in catalogue.
pub fn builtin() -> Vec<WrapperRule> {
    use WrapperKind::*;
    let mut v = Vec::new();

    let mut tini = rule(
        &["tini", "tini-static"],
        Init,
        "tini is an init shim: it forks the command and reaps zombies",
    );
    // -s, -g, -v, -w, -l (print license) take no value.
    tini.value_options = words(&["-p", "-e"]);
    v.push(tini);
    let mut dumb = rule(
        &["dumb-init"],
        Init,
        "dumb-init is an init shim: it forwards signals to the command",
    );
    dumb.value_options = words(&["-r", "--rewrite"]);
    v.push(dumb);
    v.push(rule(
        &["catatonit"],
        Init,
        "catatonit is an init shim: it forks the command and reaps zombies",
    ));

    let mut gosu = rule(
        &["gosu", "su-exec", "s6-setuidgid"],
        Dropper,
        "drops privileges to the given user, then execs the command",
    );
    gosu.user_operand = true;
    v.push(gosu);
    let mut setpriv = rule(
        &["setpriv"],
        Dropper,
        "setpriv changes credentials, then execs the command",
    );
    setpriv.value_options = words(&[
        "--regid",
        "--rgid",
        "--egid",
        "--groups",
        "--bounding-set",
        "--inh-caps",
        "--ambient-caps",
        "--securebits",
        "--selinux-label",
        "--apparmor-profile",
        "--pdeathsig",
        "--landlock-access",
        "--landlock-rule",
    ]);
    setpriv.user_options = words(&["--reuid", "--ruid", "--euid"]);
    v.push(setpriv);
    let mut chpst = rule(
        &["chpst"],
        Dropper,
        "chpst changes the process state, then execs the command",
    );
    chpst.value_options = words(&[
        "-U", "-e", "-/", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f", "-c",
    ]);
    chpst.user_options = words(&["-u"]);
    v.push(chpst);
    let mut runuser = rule(
        &["runuser"],
        Dropper,
        "runuser runs the command as the given user",
    );
    runuser.value_options = words(&[
        "-g",
        "--group",
        "-G",
        "--supp-group",
        "-s",
        "--shell",
        "-w",
        "--whitelist-environment",
    ]);
    runuser.user_options = words(&["-u", "--user"]);
    v.push(runuser);
    // `chroot --userspec=1000 / CMD`: a dropper when it changes user; the command follows
    // NEWROOT (which the images that use it as a dropper give as `/`).
    let mut chroot = rule(
        &["chroot"],
        Dropper,
        "chroot changes the root directory and (with --userspec) the user, then execs the command",
    );
    chroot.value_options = words(&["--groups"]);
    chroot.user_options = words(&["--userspec"]);
    chroot.skip_operands = 1;
    v.push(chroot);

    let mut env = rule(
        &["env"],
        Env,
        "env sets the environment, then execs the command",
    );
    env.value_options = words(&["-u", "--unset", "-C", "--chdir", "-S", "--split-string"]);
    env.assignments = true;
    v.push(env);

    let mut nice = rule(
        &["nice"],
        Modifier,
        "nice changes the scheduling priority, then execs the command",
    );
    nice.value_options = words(&["-n", "--adjustment"]);
    v.push(nice);
    let mut ionice = rule(
        &["ionice"],
        Modifier,
        "ionice changes the I/O class, then execs the command",
    );
    ionice.value_options = words(&["-c", "--class", "-n", "--classdata"]);
    v.push(ionice);
    let mut numactl = rule(
        &["numactl"],
        Modifier,
        "numactl sets the NUMA policy, then execs the command",
    );
    numactl.value_options = words(&[
        "-i",
        "--interleave",
        "-N",
        "--cpunodebind",
        "-C",
        "--physcpubind",
        "-m",
        "--membind",
        "-p",
        "--preferred",
        "-P",
        "--preferred-many",
    ]);
    v.push(numactl);
    let mut taskset = rule(
        &["taskset"],
        Modifier,
        "taskset sets the CPU affinity, then execs the command",
    );
    taskset.skip_operands = 1;
    v.push(taskset);
    let mut stdbuf = rule(
        &["stdbuf"],
        Modifier,
        "stdbuf sets stream buffering, then execs the command",
    );
    stdbuf.value_options = words(&["-i", "-o", "-e", "--input", "--output", "--error"]);
    v.push(stdbuf);
    let mut timeout = rule(
        &["timeout"],
        Modifier,
        "timeout runs the command with a time limit",
    );
    timeout.value_options = words(&["-k", "--kill-after", "-s", "--signal"]);
    timeout.skip_operands = 1;
    v.push(timeout);

    v.push(rule(
        &[
            "sh",
            "bash",
            "dash",
            "ash",
            "busybox-sh",
            "zsh",
            "ksh",
            "mksh",
        ],
        Shell,
        "a shell: its script or -c string decides what runs",
    ));

    let mut npm = rule(
        &["npm", "pnpm"],
        PackageRunner,
        "a package runner: runs a script of package.json",
    );
    npm.subcommands = words(&["start", "run", "run-script", "exec"]);
    npm.script_subcommands = words(&["start", "run", "run-script"]);
    v.push(npm);
    let mut yarn = rule(
        &["yarn"],
        PackageRunner,
        "yarn runs a script of package.json",
    );
    yarn.subcommands = words(&["start", "run", "exec"]);
    yarn.script_subcommands = words(&["start", "run"]);
    v.push(yarn);
    let mut npx = rule(&["npx"], PackageRunner, "npx runs a package's binary");
    npx.value_options = words(&["-p", "--package"]);
    v.push(npx);
    let mut pyrun = rule(
        &["pipenv", "poetry", "uv", "pdm", "hatch"],
        PackageRunner,
        "runs the command inside the project's Python environment",
    );
    pyrun.subcommands = words(&["run"]);
    v.push(pyrun);
    let mut bundle = rule(
        &["bundle", "bundler"],
        PackageRunner,
        "bundle exec runs the command with the Gemfile's gems",
    );
    bundle.subcommands = words(&["exec"]);
    v.push(bundle);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid_and_names_are_unique() {
        let cat = builtin();
        let mut seen = std::collections::HashSet::new();
        for r in &cat {
            r.validate().expect("valid rule");
            for n in &r.names {
                assert!(seen.insert(n.clone()), "duplicate wrapper name {n}");
            }
        }
        for must in [
            "tini",
            "dumb-init",
            "catatonit",
            "gosu",
            "su-exec",
            "setpriv",
            "chpst",
            "s6-setuidgid",
            "runuser",
            "chroot",
            "env",
            "nice",
            "numactl",
            "sh",
            "bash",
            "npm",
            "yarn",
            "pnpm",
            "pipenv",
            "poetry",
            "bundle",
        ] {
            assert!(seen.contains(must), "catalogue lacks {must}");
        }
    }
}
