//! Runs shellflow over real entrypoint scripts kept outside the repository and prints what it
//! predicts next to what a reader of the script expects.
//!
//! The scripts and a manifest (`manifest.tsv`) live in a directory outside the repository (public
//! code is never committed here). Usage:
//!
//! ```text
//! cargo run --release -p shellflow --example realscan -- [MANIFEST] [-v] [--complete-env] [IMAGE[/LABEL]...]
//! ```
//!
//! `MANIFEST` defaults to `$REALSCAN_MANIFEST` or `/work/real-scripts/manifest.tsv`; the local
//! file names in it are relative to the manifest's directory. `-v` prints every candidate with
//! its reasons and assumptions. `--complete-env` analyses each run as the hook sees a
//! container (the env is whole: a variable not given is unset). `REALSCAN_MAX_UNROLL` and `REALSCAN_MAX_PATHS` override the
//! default [`Limits`] (to test whether a cap is what changes a result). `REALSCAN_RUNS=N`
//! times each run as the median of N more analyses (by default the one analysis, cold).
//!
//! Manifest format (tab-separated, `#` starts a comment line, lists are `|`-separated):
//!
//! * `image` rows: `image NAME SOURCE SCRIPT ENTRYPOINT CMD USER ENV VOLUMES USERS EXES DIRS CWD
//!   FILES VERIFIED`, where `ENV` is `K=V|…`, `USERS` is `name:uid:gid:home|…`, `FILES` is
//!   `/image/path=local/path|…`. The image gets an `/etc/passwd` and `/etc/group` with root and
//!   `USERS`, an executable for every `EXES` path, the `DIRS` and `VOLUMES` directories, and
//!   the `FILES` (mode 0755).
//! * `run` rows: `run IMAGE LABEL ARGS ENV EXPECTED_ARGV EXPECTED_USER NOTE`: one analysis with
//!   `ARGS` as the positional arguments and `ENV` added to (or replacing) the image env.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use shellflow::{analyze, Dialect, Invocation, Limits, MemFs, Script, User};

/// The allocator the `entrytrace` binary ships with (`hook/src/alloc.rs`), as the bench uses:
/// the times printed are those of the shipped analysis.
#[path = "../../hook/src/alloc.rs"]
mod alloc;
#[global_allocator]
static GLOBAL: alloc::MiMalloc = alloc::MiMalloc;

#[derive(Debug, Clone, Default)]
struct Image {
    name: String,
    source: String,
    script: String,
    cmd: String,
    user: String,
    env: Vec<(String, String)>,
    volumes: Vec<String>,
    users: Vec<(String, u32, u32, String)>,
    exes: Vec<String>,
    dirs: Vec<String>,
    cwd: String,
    files: Vec<(String, String)>,
    entrypoint: String,
}

#[derive(Debug, Clone, Default)]
struct Run {
    image: String,
    label: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    expected_argv: String,
    expected_user: String,
    note: String,
}

fn list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split('|').map(str::to_string).collect()
    }
}

fn pairs(s: &str) -> Vec<(String, String)> {
    list(s)
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

fn parse_manifest(text: &str) -> (BTreeMap<String, Image>, Vec<Run>) {
    let mut images = BTreeMap::new();
    let mut runs = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        match get(0) {
            "image" => {
                let users = list(get(9))
                    .iter()
                    .filter_map(|u| {
                        let p: Vec<&str> = u.split(':').collect();
                        Some((
                            p.first()?.to_string(),
                            p.get(1)?.parse().ok()?,
                            p.get(2)?.parse().ok()?,
                            p.get(3).unwrap_or(&"/").to_string(),
                        ))
                    })
                    .collect();
                let img = Image {
                    name: get(1).into(),
                    source: get(2).into(),
                    script: get(3).into(),
                    entrypoint: get(4).into(),
                    cmd: get(5).into(),
                    user: get(6).into(),
                    env: pairs(get(7)),
                    volumes: list(get(8)),
                    users,
                    exes: list(get(10)),
                    dirs: list(get(11)),
                    cwd: get(12).into(),
                    files: pairs(get(13)),
                };
                images.insert(img.name.clone(), img);
            }
            "run" => runs.push(Run {
                image: get(1).into(),
                label: get(2).into(),
                args: list(get(3)),
                env: pairs(get(4)),
                expected_argv: get(5).into(),
                expected_user: get(6).into(),
                note: get(7).into(),
            }),
            other => eprintln!("realscan: ignoring a row of kind {other:?}"),
        }
    }
    (images, runs)
}

/// The image filesystem: users, executables, directories, volumes and the scripts.
fn build_fs(img: &Image, base: &Path) -> Result<MemFs, String> {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut group = String::from("root:x:0:\n");
    for (name, uid, gid, home) in &img.users {
        passwd.push_str(&format!("{name}:x:{uid}:{gid}::{home}:/bin/sh\n"));
        group.push_str(&format!("{name}:x:{gid}:\n"));
    }
    let mut fs = MemFs::new()
        .file("/etc/passwd", &passwd, 0o644)
        .file("/etc/group", &group, 0o644)
        .dir("/tmp")
        .dir("/root");
    for e in &img.exes {
        fs = fs.exe(e);
    }
    for d in img.dirs.iter().chain(&img.volumes) {
        fs = fs.dir(d);
    }
    for (_, _, _, home) in &img.users {
        fs = fs.dir(home);
    }
    if img.cwd != "/" && !img.cwd.is_empty() {
        fs = fs.dir(&img.cwd);
    }
    for (at, local) in &img.files {
        let p = base.join(local);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        fs = fs.file(at, &text, 0o755);
    }
    Ok(fs)
}

fn lookup_user(img: &Image, name: &str) -> User {
    if name.is_empty() || name == "root" {
        return User::root();
    }
    // `USER 8983` names the user by uid: /etc/passwd gives its name and group.
    let uid: Option<u32> = name.split(':').next().and_then(|u| u.parse().ok());
    img.users
        .iter()
        .find(|(n, u, ..)| n == name || Some(*u) == uid)
        .map(|(n, uid, gid, _)| User {
            uid: *uid,
            gid: *gid,
            name: Some(n.clone()),
        })
        .unwrap_or(User {
            uid: 1000,
            gid: 1000,
            name: Some(name.into()),
        })
}

fn dialect_of(text: &str) -> Dialect {
    let first = text.lines().next().unwrap_or("");
    if first.starts_with("#!") && first.contains("bash") {
        Dialect::Bash
    } else {
        Dialect::Sh
    }
}

fn invocation(img: &Image, run: &Run, text: &str) -> Invocation {
    let user = lookup_user(img, &img.user);
    let mut env: Vec<(String, String)> = img.env.clone();
    let set = |k: &str, v: &str, env: &mut Vec<(String, String)>| {
        env.retain(|(ek, _)| ek != k);
        env.push((k.into(), v.into()));
    };
    if !env.iter().any(|(k, _)| k == "PATH") {
        set("PATH", shellflow::DEFAULT_PATH, &mut env);
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        let home = img
            .users
            .iter()
            .find(|(n, ..)| Some(n) == user.name.as_ref())
            .map(|u| u.3.clone())
            .unwrap_or_else(|| "/root".into());
        set("HOME", &home, &mut env);
    }
    set("HOSTNAME", "0123456789ab", &mut env);
    for (k, v) in &run.env {
        set(k, v, &mut env);
    }
    // An init shim in ENTRYPOINT (tini, dumb-init) is PID 1, not the shell.
    let pid1 = !(img.entrypoint.contains("tini") || img.entrypoint.contains("dumb-init"));
    Invocation {
        script: Script::File {
            path: img.script.clone(),
            name_called_as: img.script.clone(),
        },
        args: run.args.clone(),
        env,
        user,
        cwd: if img.cwd.is_empty() {
            "/".into()
        } else {
            img.cwd.clone()
        },
        shell: dialect_of(text),
        volumes: img.volumes.clone(),
        env_complete: false,
        pid1,
        // The expected results are those of `docker run IMAGE` with no capability options.
        capabilities: Some(shellflow::Capabilities::docker_default()),
    }
}

fn main() {
    let mut verbose = false;
    let mut complete_env = false;
    let mut manifest: Option<PathBuf> = None;
    let mut only: Vec<String> = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "-v" {
            verbose = true;
        } else if a == "--complete-env" {
            complete_env = true;
        } else if a.ends_with(".tsv") {
            manifest = Some(a.into());
        } else {
            only.push(a);
        }
    }
    let manifest = manifest.unwrap_or_else(|| {
        std::env::var("REALSCAN_MANIFEST")
            .unwrap_or_else(|_| "/work/real-scripts/manifest.tsv".into())
            .into()
    });
    let text = match std::fs::read_to_string(&manifest) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("realscan: {}: {e}", manifest.display());
            std::process::exit(2);
        }
    };
    let base = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let (images, runs_list) = parse_manifest(&text);
    let runs: usize = std::env::var("REALSCAN_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut limits = Limits::default();
    // Experiments: REALSCAN_MAX_UNROLL / REALSCAN_MAX_PATHS override the limits.
    if let Some(n) = std::env::var("REALSCAN_MAX_UNROLL")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        limits.max_unroll = n;
    }
    if let Some(n) = std::env::var("REALSCAN_MAX_PATHS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        limits.max_paths = n;
    }
    let (mut matched, mut total) = (0, 0);
    for run in &runs_list {
        let id = format!("{}/{}", run.image, run.label);
        if !only.is_empty() && !only.iter().any(|o| *o == run.image || *o == id) {
            continue;
        }
        let Some(img) = images.get(&run.image) else {
            eprintln!("realscan: {id}: no image row");
            continue;
        };
        let fs = match build_fs(img, &base) {
            Ok(fs) => fs,
            Err(e) => {
                eprintln!("realscan: {id}: {e}");
                continue;
            }
        };
        let script_text = img
            .files
            .iter()
            .find(|(at, _)| *at == img.script)
            .and_then(|(_, local)| std::fs::read_to_string(base.join(local)).ok())
            .unwrap_or_default();
        let mut inv = invocation(img, run, &script_text);
        inv.env_complete = complete_env;
        let t0 = Instant::now();
        let a = analyze(&inv, &fs, &limits);
        let mut ms = t0.elapsed().as_secs_f64() * 1000.0;
        if runs > 1 {
            let mut times: Vec<f64> = (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    drop(analyze(&inv, &fs, &limits));
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            ms = times[runs / 2];
        }
        total += 1;
        let (got, user, conf) = match a.candidates.first() {
            Some(c) => (c.argv.join("|"), c.user.display(), c.confidence),
            None => ("(none)".to_string(), "-".to_string(), 0.0),
        };
        let same = got == run.expected_argv && user == run.expected_user;
        if same {
            matched += 1;
        }
        println!("== {id}  [{}; CMD {}]", img.source, img.cmd);
        println!(
            "   expected: {}  as {}",
            run.expected_argv, run.expected_user
        );
        println!(
            "   got:      {got}  as {user}  conf {conf:.2}  cands {}  steps {}  {ms:.1} ms  {}",
            a.candidates.len(),
            a.steps,
            if same { "MATCH" } else { "DIFF" }
        );
        if !run.note.is_empty() {
            println!("   note:     {}", run.note);
        }
        for d in &a.diagnostics {
            println!("   diag:     {d}");
        }
        if let Some(x) = a.exits.first() {
            println!(
                "   exits:    {:.0}% of path weight runs nothing; likeliest: status {:?} at {}",
                a.exit_share() * 100.0,
                x.status,
                x.location
                    .as_ref()
                    .map_or("(end of script)".to_string(), |l| l.to_string())
            );
        }
        if a.capped {
            println!("   capped");
        }
        if std::env::var_os("REALSCAN_EXITS").is_some() {
            // Every exit in full (`REALSCAN_EXITS=1`): share, status, place and evidence.
            for x in &a.exits {
                println!(
                    "   exit {:.4} {:?} {:?}",
                    x.share,
                    x.status,
                    x.location.as_ref().map(ToString::to_string)
                );
                for r in &x.reasons {
                    let at = r.location.as_ref().map(ToString::to_string);
                    println!("      reason {} @ {at:?}", r.message);
                }
                for s in &x.assumptions {
                    println!("      assumes {s}");
                }
            }
        }
        if verbose {
            for (i, c) in a.candidates.iter().enumerate() {
                println!(
                    "   cand {i}: {} as {} conf {:.3} {:?} inner {:?}",
                    c.argv.join("|"),
                    c.user.display(),
                    c.confidence,
                    c.how,
                    c.inner_argv
                );
                for r in &c.reasons {
                    let at = r
                        .location
                        .as_ref()
                        .map(|l| l.to_string())
                        .unwrap_or_default();
                    println!("       reason {at}: {}", r.message);
                }
                for s in &c.assumptions {
                    println!("       assume: {s}");
                }
            }
        }
    }
    println!("realscan: {matched}/{total} runs match exactly (argv and user)");
}
