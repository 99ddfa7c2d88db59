//! `entrytrace scan` end to end on images built here from the shellflow corpus scripts
//! (postgres-, redis-like `docker-entrypoint.sh`) with real host ELF files as the servers,
//! gosu and tini: the terminal, its user and the chain (shellflow steps with script line
//! numbers, the gosu wrapper step), docker-run style overrides, the text format and
//! `explain`. It does not re-test the reducer's internals; only the binary's output.

use std::path::{Path, PathBuf};
use std::process::Command;

use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use entrytrace_tests::{entrytrace_bin, scan_json, scan_ok};
use serde_json::{json, Value};

const PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/17/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SCRIPT: &str = "/usr/local/bin/docker-entrypoint.sh";

fn corpus(name: &str) -> Vec<u8> {
    let p = entrytrace_tests::runtime::repo_root()
        .join("shellflow/tests/corpus")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The base layer: dirs, passwd/group with the service user, shells, env, gosu, tini.
fn base(user: &str) -> Option<Vec<Entry>> {
    let mut e: Vec<Entry> = [
        "bin",
        "etc",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/local",
        "usr/local/bin",
        "usr/lib",
        "usr/lib/postgresql",
        "usr/lib/postgresql/17",
        "usr/lib/postgresql/17/bin",
    ]
    .iter()
    .map(|d| Entry::dir(d))
    .collect();
    let passwd =
        format!("root:x:0:0:root:/root:/bin/bash\n{user}:x:999:999::/var/lib/{user}:/bin/sh\n");
    let group = format!("root:x:0:\n{user}:x:999:\n");
    e.push(Entry::file("etc/passwd", 0o644, passwd.as_bytes()));
    e.push(Entry::file("etc/group", 0o644, group.as_bytes()));
    e.push(Entry::from_host("bin/bash", "/bin/bash")?);
    e.push(Entry::from_host("bin/busybox", "/bin/busybox")?);
    e.push(Entry::symlink("bin/sh", "busybox"));
    e.push(Entry::symlink("usr/bin/env", "../../bin/busybox"));
    e.push(Entry::symlink("usr/bin/id", "../../bin/busybox"));
    e.push(Entry::from_host("usr/local/bin/gosu", "/usr/sbin/gosu")?);
    e.push(Entry::from_host("usr/bin/tini", "/usr/bin/tini-static")?);
    Some(e)
}

/// A postgres-like image: the corpus script, `/usr/lib/postgresql/17/bin/postgres`.
fn postgres(config: Value) -> Option<Image> {
    let mut top = vec![Entry::file(
        &SCRIPT[1..],
        0o755,
        &corpus("postgres-entrypoint.sh"),
    )];
    top.push(Entry::symlink("docker-entrypoint.sh", SCRIPT));
    top.push(Entry::from_host(
        "usr/lib/postgresql/17/bin/postgres",
        "/bin/true",
    )?);
    image(base("postgres")?, top, config)
}

/// A redis-like image: the corpus script, `/usr/local/bin/redis-server`.
fn redis(config: Value) -> Option<Image> {
    let top = vec![
        Entry::file(&SCRIPT[1..], 0o755, &corpus("redis-entrypoint.sh")),
        Entry::from_host("usr/local/bin/redis-server", "/bin/true")?,
    ];
    image(base("redis")?, top, config)
}

fn image(base: Vec<Entry>, top: Vec<Entry>, config: Value) -> Option<Image> {
    let mut img = Image::new(vec![
        Layer::new(Compression::Gzip, base),
        Layer::new(Compression::Zstd, top),
    ]);
    img.config = config;
    Some(img)
}

fn official(ep: &[&str], cmd: &str) -> Value {
    json!({"Entrypoint": ep, "Cmd": [cmd], "Env": [PATH]})
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What a scan must report.
struct Want<'a> {
    argv0: &'a str,
    path: &'a str,
    user: &'a str,
    /// The script's path as the chain names it (the path it was invoked by).
    script: &'a str,
    /// The user the script re-executes itself as through gosu, and the `exec gosu` line.
    reexec: Option<(&'a str, u32)>,
    /// The confidence band of the terminal.
    band: (f64, f64),
}

fn check(r: &Value, w: &Want, what: &str) {
    let t = &r["terminals"][0];
    let ctx = || {
        format!(
            "{what}: {}",
            serde_json::to_string_pretty(r).unwrap_or_default()
        )
    };
    assert_eq!(
        strs(&t["argv"]).first().map(String::as_str),
        Some(w.argv0),
        "{}",
        ctx()
    );
    assert_eq!(t["path"].as_str(), Some(w.path), "{}", ctx());
    assert_eq!(t["user"].as_str(), Some(w.user), "{}", ctx());
    let c = t["confidence"].as_f64().unwrap_or(-1.0);
    assert!(
        (w.band.0..=w.band.1).contains(&c),
        "confidence {c}: {}",
        ctx()
    );
    let chain = r["chain"].as_array().cloned().unwrap_or_default();
    let located = chain.iter().any(|s| {
        s["step"] == "shellflow"
            && s["location"].as_str().is_some_and(|l| {
                l.strip_prefix(w.script)
                    .and_then(|n| n.strip_prefix(':'))
                    .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0))
            })
    });
    assert!(located, "no shellflow step at {}:LINE: {}", w.script, ctx());
    let reexec = chain.iter().find_map(|s| {
        let why = s["why"].as_str()?;
        let (_, after) = why.split_once("the script re-executes itself")?;
        let user = after.rsplit_once(" as ")?.1;
        let line = s["location"]
            .as_str()?
            .strip_prefix(w.script)?
            .strip_prefix(':')?;
        Some((
            user.split(':').next()?.to_string(),
            line.parse::<u32>().ok()?,
        ))
    });
    let want = w.reexec.map(|(u, l)| (u.to_string(), l));
    assert_eq!(reexec, want, "gosu re-exec step: {}", ctx());
}

const PG: Want = Want {
    argv0: "postgres",
    path: "/usr/lib/postgresql/17/bin/postgres",
    user: "postgres",
    script: SCRIPT,
    reexec: Some(("postgres", 195)),
    band: (0.6, 1.0),
};

#[test]
fn postgres_like_image_runs_postgres_as_postgres_for_every_entrypoint_spelling() {
    for ep in [
        &["docker-entrypoint.sh"][..],
        &[SCRIPT][..],
        &["/docker-entrypoint.sh"][..],
        &["tini", "--", "docker-entrypoint.sh"][..],
    ] {
        let Some(img) = postgres(official(ep, "postgres")) else {
            return;
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let script = if ep[0].starts_with("/docker") {
            ep[0]
        } else {
            SCRIPT
        };
        let want = Want { script, ..PG };
        check(
            &scan_json(&img.oci_source(tmp.path()), &[]),
            &want,
            &format!("{ep:?}"),
        );
    }
}

#[test]
fn flag_first_arguments_prepend_the_server() {
    let Some(img) = postgres(official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = img.oci_source(tmp.path());
    for args in [&["--", "-c", "fsync=off"][..], &["--", "--some-flag"][..]] {
        let r = scan_json(&src, args);
        check(&r, &PG, &format!("{args:?}"));
        let argv = strs(&r["terminals"][0]["argv"]);
        assert_eq!(argv[1..], args[1..], "{args:?}: {argv:?}");
    }
}

#[test]
fn a_non_server_command_runs_as_given_without_gosu() {
    let Some(img) = postgres(official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = scan_json(&img.oci_source(tmp.path()), &["--", "bash"]);
    let want = Want {
        argv0: "bash",
        path: "/bin/bash",
        user: "root",
        script: SCRIPT,
        reexec: None,
        band: (0.2, 0.6),
    };
    check(&r, &want, "-- bash");
}

#[test]
fn redis_like_image_under_tini_runs_redis_server_as_redis() {
    let want = Want {
        argv0: "redis-server",
        path: "/usr/local/bin/redis-server",
        user: "redis",
        script: SCRIPT,
        reexec: Some(("redis", 13)),
        band: (0.6, 1.0),
    };
    for (ep, cmd, args) in [
        (&["docker-entrypoint.sh"][..], "redis-server", &[][..]),
        (
            &["/usr/bin/tini", "--", SCRIPT][..],
            "redis-server",
            &[][..],
        ),
        (
            &["docker-entrypoint.sh"][..],
            "redis-server",
            &["--", "--appendonly", "yes"][..],
        ),
        (
            &["docker-entrypoint.sh"][..],
            "redis-server",
            &["--", "/etc/redis.conf"][..],
        ),
    ] {
        let Some(img) = redis(official(ep, cmd)) else {
            return;
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        check(
            &scan_json(&img.oci_source(tmp.path()), args),
            &want,
            &format!("{ep:?} {args:?}"),
        );
    }
}

#[test]
fn image_user_and_user_override_skip_the_gosu_branch() {
    let mut cfg = official(&["docker-entrypoint.sh"], "redis-server");
    cfg["User"] = json!("redis");
    let Some(img) = redis(cfg) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = img.oci_source(tmp.path());
    let want = Want {
        argv0: "redis-server",
        path: "/usr/local/bin/redis-server",
        user: "redis",
        script: SCRIPT,
        reexec: None,
        band: (0.6, 1.0),
    };
    check(&scan_json(&src, &[]), &want, "USER redis");
    check(
        &scan_json(&src, &["--user", "999"]),
        &Want {
            user: "redis",
            ..want
        },
        "--user 999",
    );
}

#[test]
fn env_and_user_overrides_behave_like_docker_run() {
    const PG16: &str = "/usr/lib/postgresql/16/bin/postgres";
    let pg17 = PG.path;
    let cfg = official(&["docker-entrypoint.sh"], "postgres");
    let Some(img) = scripted(
        "postgres",
        "postgres-entrypoint.sh",
        SCRIPT,
        &[pg17, PG16],
        cfg,
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = img.oci_source(tmp.path());
    let path16 = "PATH=/usr/local/bin:/usr/lib/postgresql/16/bin:/usr/bin:/bin";
    let no_gosu = Want {
        user: "postgres",
        reexec: None,
        ..PG
    };
    for (args, want) in [
        (vec![], Want { ..PG }),
        (vec!["--env", path16], Want { path: PG16, ..PG }),
        (vec!["-e", path16], Want { path: PG16, ..PG }),
        (vec![&*format!("--env={path16}")], Want { path: PG16, ..PG }),
        (vec!["--user", "postgres"], Want { ..no_gosu }),
        (vec!["-u", "999:999"], Want { ..no_gosu }),
        (
            vec!["--user", "999", "--env", path16],
            Want {
                path: PG16,
                ..no_gosu
            },
        ),
    ] {
        check(&scan_json(&src, &args), &want, &format!("{args:?}"));
    }
}

/// Writes an image archive at the path; which archive form it is.
type Writer = fn(&Image, &Path) -> anyhow::Result<()>;

#[test]
fn archive_sources_give_the_same_terminal_as_the_layout() {
    let Some(img) = postgres(official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let writers: [(&str, Writer); 3] = [
        ("docker-archive", |i, p| i.write_docker_archive(p)),
        ("docker-archive", |i, p| {
            i.write_docker_oci_archive(p).map(drop)
        }),
        ("oci-archive", |i, p| i.write_oci_archive(p).map(drop)),
    ];
    for (n, (transport, write)) in writers.into_iter().enumerate() {
        let tar = tmp.path().join(format!("pg{n}.tar"));
        write(&img, &tar).expect("write archive");
        let source = format!("{transport}:{}", tar.display());
        check(&scan_json(&source, &[]), &PG, &source);
    }
}

#[test]
fn text_format_and_explain_show_the_chain() {
    let Some(img) = postgres(official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = img.oci_source(tmp.path());
    let text = String::from_utf8_lossy(&scan_ok(&src, &["--format", "text"])).into_owned();
    let json: PathBuf = tmp.path().join("r.json");
    scan_ok(&src, &["--output", json.to_str().expect("utf-8 path")]);
    let out = Command::new(entrytrace_bin())
        .arg("explain")
        .arg(&json)
        .output()
        .expect("explain");
    assert!(
        out.status.success(),
        "explain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let explained = String::from_utf8_lossy(&out.stdout).into_owned();
    for (name, shown) in [("text", &text), ("explain", &explained)] {
        for want in [
            "/usr/lib/postgresql/17/bin/postgres",
            "re-executes itself under `gosu postgres` as postgres",
            &format!("{SCRIPT}:195"),
            &format!("{SCRIPT}:233"),
        ] {
            assert!(shown.contains(want), "{name} lacks {want}:\n{shown}");
        }
    }
}

#[test]
fn the_chain_names_gosu_as_a_wrapper_step() {
    let Some(img) = postgres(official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = scan_json(&img.oci_source(tmp.path()), &[]);
    let chain = r["chain"].as_array().cloned().unwrap_or_default();
    let gosu = chain.iter().any(|s| {
        s["step"] == "wrapper"
            && strs(&s["argv"])
                .first()
                .is_some_and(|a| a.ends_with("gosu"))
    });
    assert!(gosu, "no wrapper step for gosu: {r:#}");
}

/// An image with the corpus script `script` at `at`, the service user `user`, and a copy of
/// `/bin/true` at each of `servers`.
fn scripted(user: &str, script: &str, at: &str, servers: &[&str], config: Value) -> Option<Image> {
    let mut top = vec![
        Entry::dir("usr/local/sbin"),
        Entry::file(&at[1..], 0o755, &corpus(script)),
    ];
    for s in servers {
        top.push(Entry::from_host(&s[1..], "/bin/true")?);
    }
    image(base(user)?, top, config)
}

#[test]
fn other_official_style_images_end_in_their_server() {
    let nginx_cmd = json!(["nginx", "-g", "daemon off;"]);
    let cases = [
        (
            scripted(
                "mysql",
                "mysql-entrypoint.sh",
                SCRIPT,
                &["/usr/sbin/mysqld"],
                official(&["docker-entrypoint.sh"], "mysqld"),
            ),
            Want {
                argv0: "mysqld",
                path: "/usr/sbin/mysqld",
                user: "mysql",
                script: SCRIPT,
                reexec: Some(("mysql", 101)),
                band: (0.6, 1.0),
            },
        ),
        (
            scripted(
                "nginx",
                "nginx-entrypoint.sh",
                "/docker-entrypoint.sh",
                &["/usr/sbin/nginx"],
                json!({"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": nginx_cmd, "Env": [PATH]}),
            ),
            Want {
                argv0: "nginx",
                path: "/usr/sbin/nginx",
                user: "root",
                script: "/docker-entrypoint.sh",
                reexec: None,
                band: (0.6, 1.0),
            },
        ),
        (
            scripted(
                "www-data",
                "apache-foreground.sh",
                "/usr/local/bin/apache2-foreground",
                &["/usr/sbin/apache2"],
                json!({"Cmd": ["apache2-foreground"], "Env": [PATH]}),
            ),
            Want {
                argv0: "apache2",
                path: "/usr/sbin/apache2",
                user: "root",
                script: "/usr/local/bin/apache2-foreground",
                reexec: None,
                band: (0.6, 1.0),
            },
        ),
    ];
    for (img, want) in cases {
        let Some(img) = img else {
            return;
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let r = scan_json(&img.oci_source(tmp.path()), &[]);
        check(&r, &want, want.argv0);
        let full: &[&str] = match want.argv0 {
            "nginx" => &["nginx", "-g", "daemon off;"],
            "apache2" => &["apache2", "-DFOREGROUND"],
            other => &[other],
        };
        assert_eq!(strs(&r["terminals"][0]["argv"]), full, "{r:#}");
    }
}

/// An image whose CMD is the corpus `supervisor-start.sh` (crond and php-fpm backgrounded,
/// then `wait -n`), or `None` when a host file is missing.
fn backgrounding() -> Option<Image> {
    let servers = ["/usr/sbin/crond", "/usr/sbin/php-fpm"];
    let at = "/usr/local/bin/start.sh";
    let cfg = json!({"Cmd": [at], "Env": [PATH]});
    scripted("www-data", "supervisor-start.sh", at, &servers, cfg)
}

#[test]
fn a_script_that_backgrounds_two_daemons_keeps_the_script_as_a_low_confidence_supervisor() {
    let Some(img) = backgrounding() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = scan_json(&img.oci_source(tmp.path()), &[]);
    let t = &r["terminals"][0];
    assert_eq!(t["path"], "/usr/local/bin/start.sh", "{r:#}");
    // The shell stays as the parent of both: no exec, so the terminal is not confident.
    assert!(t["confidence"].as_f64().is_some_and(|c| c < 0.5), "{r:#}");
    let no_exec = t["features"].as_array().into_iter().flatten().any(|f| {
        f["contribution"].as_f64().is_some_and(|c| c < 0.0)
            && f["evidence"]
                .as_str()
                .is_some_and(|e| e.contains("instead of exec'ing one"))
    });
    assert!(no_exec, "no negative evidence for the shell staying: {r:#}");
    let step = r["chain"].as_array().into_iter().flatten().any(|s| {
        s["step"] == "shellflow"
            && s["location"] == "/usr/local/bin/start.sh"
            && s["why"].as_str().is_some_and(|w| w.contains("supervisor"))
    });
    assert!(step, "no shellflow step naming the supervisor: {r:#}");
    let services = t["services"].as_array().cloned().unwrap_or_default();
    let mut argv0s: Vec<String> = services
        .iter()
        .filter_map(|s| strs(&s["argv"]).first().cloned())
        .collect();
    argv0s.sort_unstable();
    assert_eq!(argv0s, ["crond", "php-fpm"], "{r:#}");
    for s in &services {
        assert_eq!(s["kind"], "service", "{s:#}");
        assert_eq!(s["user"], "root", "{s:#}");
    }
}

#[test]
fn a_script_that_backgrounds_two_daemons_is_a_supervisor_with_both_as_services() {
    let Some(img) = backgrounding() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = scan_json(&img.oci_source(tmp.path()), &[]);
    let t = &r["terminals"][0];
    assert_eq!(t["kind"], "supervisor", "{r:#}");
    let mut paths: Vec<&str> = t["services"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["path"].as_str()).collect())
        .unwrap_or_default();
    paths.sort_unstable();
    assert_eq!(paths, ["/usr/sbin/crond", "/usr/sbin/php-fpm"], "{r:#}");
}

/// An entrypoint the parser would backtrack on for years (a fuzzer's find: a hundred
/// unclosed `(`): the scan still ends, says why the script was not followed, and keeps
/// what it knows (the script itself is the terminal).
#[test]
fn a_script_the_parser_cannot_finish_is_reported_not_hung_on() {
    let text = format!("#!/bin/sh\n{}\nexec postgres\n", "(".repeat(110));
    let Some(base) = base("postgres") else {
        return;
    };
    let top = vec![Entry::file(&SCRIPT[1..], 0o755, text.as_bytes())];
    let Some(img) = image(base, top, official(&["docker-entrypoint.sh"], "postgres")) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = scan_json(&img.oci_source(tmp.path()), &[]);
    let evidence = r["evidence"].to_string();
    assert!(evidence.contains("the parser gave up after"), "{r:#}");
    assert_eq!(r["terminals"][0]["argv"][1], json!(SCRIPT), "{r:#}");
}

/// redis's current entrypoint drops privileges through setpriv only when the bounding set
/// has setuid and setgid. `scan` assumes Docker's default set for an image (and says so),
/// follows `--cap-add`/`--cap-drop` as `docker run` does, and refuses a word that is not a
/// capability with a one-line usage error.
#[test]
fn capability_flags_decide_redis_style_privilege_drops() {
    let script = "#!/bin/sh\nset -e\nhas_cap() {\n\t/usr/bin/setpriv -d | grep -q 'Capability bounding set:.*\\b'\"$1\"'\\b'\n}\nif [ \"$1\" = 'redis-server' ] && [ \"$(id -u)\" = '0' ] && has_cap setuid && has_cap setgid; then\n\tCAPS=''\n\tif has_cap sys_resource; then CAPS=',+sys_resource'; fi\n\texec /usr/bin/setpriv --reuid redis --regid redis --clear-groups --bounding-set=-all$CAPS \"$0\" \"$@\"\nfi\nexec \"$@\"\n";
    let Some(mut base) = base("redis") else {
        return;
    };
    base.push(Entry::symlink("usr/bin/setpriv", "../../bin/busybox"));
    base.push(Entry::symlink("bin/grep", "busybox"));
    let Some(server) = Entry::from_host("usr/local/bin/redis-server", "/bin/true") else {
        return;
    };
    let top = vec![Entry::file(&SCRIPT[1..], 0o755, script.as_bytes()), server];
    let Some(img) = image(
        base,
        top,
        official(&["docker-entrypoint.sh"], "redis-server"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = img.oci_source(tmp.path());
    let user_of = |extra: &[&str]| {
        let r = scan_json(&source, extra);
        let t = &r["terminals"][0];
        assert_eq!(t["argv"][0], "redis-server", "{extra:?}: {r:#}");
        (t["user"].as_str().unwrap_or("").to_string(), r)
    };
    let (user, r) = user_of(&[]);
    assert_eq!(user, "redis", "{r:#}");
    assert!(
        r.to_string()
            .contains("capability bounding set: Docker's default"),
        "the assumed set is named: {r:#}"
    );
    for (flags, want) in [
        (&["--cap-drop", "SETUID"][..], "root"),
        (&["--cap-drop", "ALL"][..], "root"),
        (
            &[
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "setgid",
            ][..],
            "redis",
        ),
        (&["--cap-add", "SYS_RESOURCE"][..], "redis"),
    ] {
        let (user, r) = user_of(flags);
        assert_eq!(user, want, "{flags:?}: {r:#}");
        assert!(
            !r.to_string()
                .contains("capability bounding set: Docker's default"),
            "{flags:?}: a set the flags give is no assumption: {r:#}"
        );
    }
    let out = std::process::Command::new(entrytrace_tests::entrytrace_bin())
        .args(["scan", &source, "--cap-add", "FLY"])
        .output()
        .expect("run entrytrace");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--cap-add \"FLY\": not a capability name") && err.lines().count() == 1,
        "{err}"
    );
}
