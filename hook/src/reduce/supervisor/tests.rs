//! Supervisors through `reduce_argv` on in-memory images: one row per supervisor kind, and
//! the edge cases (collapse, include cycles, caps, missing run scripts, nesting).

use entrytrace_config::Config;

use super::shell_words;
use crate::model::{Level, StepKind, TerminalKind};
use crate::reduce::{reduce_argv, Launch, Reduction};
use crate::vfs::mem::MemVfs;
use shellflow::pattern_matches as wildcard;

const GLIBC: &str = "/lib64/ld-linux-x86-64.so.2";

/// `(path, body)`; a path ending in `/` is a directory.
type Files<'a> = &'a [(&'a str, &'a str)];

fn image(files: Files<'_>) -> MemVfs {
    let mut v = MemVfs::new();
    for p in [
        "/usr/bin/app",
        "/usr/bin/worker",
        "/usr/bin/python3",
        "/usr/bin/node",
        "/bin/dash",
        "/usr/bin/chpst",
        "/usr/bin/s6-setuidgid",
        "/command/s6-svscan",
        "/usr/bin/runsvdir",
        "/usr/bin/honcho",
        "/usr/local/bin/pm2-runtime",
    ] {
        v.add_tiny_elf(p, 0o755, Some(GLIBC));
    }
    v.add_symlink("/bin/sh", "dash");
    v.add_file(
        "/usr/bin/supervisord",
        0o755,
        b"#!/usr/bin/python3\nimport supervisor\n",
    );
    v.add_file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
    );
    for (path, body) in files {
        if let Some(dir) = path.strip_suffix('/') {
            v.add_dir(dir);
        } else {
            v.add_file(path, 0o755, body.as_bytes());
        }
    }
    v
}

fn reduce(files: &[(&str, &str)], argv: &str) -> Reduction {
    let launch = Launch {
        argv: argv.split(' ').map(String::from).collect(),
        env: vec!["PATH=/usr/local/bin:/usr/bin:/bin:/command".into()],
        workdir: "/".into(),
        ..Launch::default()
    };
    reduce_argv(&launch, &image(files), &Config::default())
}

const SUPERVISORD: &[(&str, &str)] = &[
    ("/etc/supervisor/supervisord.conf", "[supervisord]\nnodaemon=true\n[include]\nfiles = conf.d/*.conf\n"),
    ("/etc/supervisor/conf.d/a-web.conf", "[program:web]\ncommand=/usr/bin/app --port 80\nuser=www\n"),
    ("/etc/supervisor/conf.d/b-worker.conf", "[program:worker]\ndirectory=/srv\ncommand = worker -q ; queue\n[program:cron]\ncommand=app cron\nautostart=false\n"),
];

const S6_OVERLAY: &[(&str, &str)] = &[
    ("/init", "#!/bin/sh\nexec /command/s6-svscan /run/service\n"),
    ("/package/admin/s6-overlay/", ""),
    ("/etc/s6-overlay/s6-rc.d/user/type", "bundle\n"),
    ("/etc/s6-overlay/s6-rc.d/user/contents.d/web", ""),
    ("/etc/s6-overlay/s6-rc.d/user/contents.d/setup", ""),
    ("/etc/s6-overlay/s6-rc.d/web/type", "longrun\n"),
    (
        "/etc/s6-overlay/s6-rc.d/web/run",
        "#!/command/execlineb -P\nwith-contenv\ns6-setuidgid app\nexec /usr/bin/app --serve\n",
    ),
    ("/etc/s6-overlay/s6-rc.d/setup/type", "oneshot\n"),
    ("/etc/s6-overlay/s6-rc.d/setup/up", "echo hi\n"),
    (
        "/etc/services.d/worker/run",
        "#!/bin/sh\nexec s6-setuidgid www worker\n",
    ),
];

const S6_CLASSIC: &[(&str, &str)] = &[
    ("/etc/s6/web/run", "#!/bin/sh\nexec app --serve\n"),
    (
        "/etc/s6/worker/run",
        "#!/usr/bin/with-contenv sh\nexec s6-setuidgid www worker\n",
    ),
    ("/etc/s6/.s6-svscan/finish", "#!/bin/sh\n"),
];

const RUNIT: &[(&str, &str)] = &[
    (
        "/etc/service/web/run",
        "#!/bin/sh\nexec chpst -u www /usr/bin/app\n",
    ),
    (
        "/etc/service/worker/run",
        "#!/bin/sh\nexec 2>&1\nexec worker\n",
    ),
    ("/etc/service/.hidden/run", "#!/bin/sh\nexec app\n"),
];

const PM2: &[(&str, &str)] = &[
    ("/srv/ecosystem.config.js", "module.exports = {\n  apps: [\n    { name: 'api', script: 'server.js', uid: 'app' },\n    { name: 'jobs', script: '/usr/bin/worker', interpreter: 'none', args: '-q high' },\n  ],\n};\n"),
    ("/srv/server.js", "console.log(1)\n"),
];

const PROCFILE: &[(&str, &str)] = &[
    (
        "/srv/Procfile",
        "web: exec app --port $PORT\nworker: worker -v\n",
    ),
    ("/srv/.env", "PORT=5000\n"),
];

type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn each_supervisor_kind_lists_its_services_with_their_users() {
    #[rustfmt::skip]
    let cases: &[Row] = &[
        ("supervisord", SUPERVISORD, "supervisord -n", &[("/usr/bin/app", "www"), ("/usr/bin/worker", "root"), ("/usr/bin/app", "root")]),
        ("s6-overlay", S6_OVERLAY, "/init", &[("/usr/bin/app", "app"), ("/usr/bin/worker", "www")]),
        ("s6-svscan", S6_CLASSIC, "s6-svscan /etc/s6", &[("/usr/bin/app", "root"), ("/usr/bin/worker", "www")]),
        ("runsvdir", RUNIT, "runsvdir -P /etc/service", &[("/usr/bin/app", "www"), ("/usr/bin/worker", "root")]),
        ("pm2-runtime", PM2, "pm2-runtime start /srv/ecosystem.config.js", &[("/usr/bin/node", "app"), ("/usr/bin/worker", "root")]),
        ("honcho", PROCFILE, "honcho -d /srv start", &[("/usr/bin/app", "root"), ("/usr/bin/worker", "root")]),
    ];
    for (what, files, argv, want) in cases {
        let red = reduce(files, argv);
        let ctx = format!(
            "{what}: {:#?}\n{:#?}\n{:#?}",
            red.terminals, red.chain, red.diagnostics
        );
        let t = red.terminals.first().expect("a terminal");
        assert_eq!(t.kind, TerminalKind::Supervisor, "{ctx}");
        let got: Vec<(&str, &str)> = t
            .services
            .iter()
            .map(|s| (s.path.as_deref().unwrap_or(""), s.user.as_str()))
            .collect();
        assert_eq!(got, *want, "{ctx}");
        assert!(
            t.services.iter().all(|s| s.kind == TerminalKind::Service),
            "{ctx}"
        );
        let forks = forks(&red);
        assert!(forks.iter().all(|l| l.contains(':')), "{ctx}");
    }
}

/// The locations of the `fork` steps, in order.
fn forks(red: &Reduction) -> Vec<&str> {
    red.chain
        .iter()
        .filter(|s| s.step == StepKind::Fork)
        .filter_map(|s| s.location.as_deref())
        .collect()
}

#[test]
fn fork_steps_name_the_config_line_that_defined_each_service() {
    #[rustfmt::skip]
    let cases: &[(Files, &str, &[&str])] = &[
        (SUPERVISORD, "supervisord -n", &["/etc/supervisor/conf.d/a-web.conf:2", "/etc/supervisor/conf.d/b-worker.conf:3", "/etc/supervisor/conf.d/b-worker.conf:5"]),
        (S6_OVERLAY, "/init", &["/etc/s6-overlay/s6-rc.d/web/run:4", "/etc/services.d/worker/run:1"]),
        (PM2, "pm2-runtime start /srv/ecosystem.config.js", &["/srv/ecosystem.config.js:3", "/srv/ecosystem.config.js:4"]),
        (PROCFILE, "honcho -d /srv start", &["/srv/Procfile:1", "/srv/Procfile:2"]),
    ];
    for (files, argv, want) in cases {
        let red = reduce(files, argv);
        assert_eq!(forks(&red), *want, "{argv}");
    }
    let red = reduce(S6_OVERLAY, "/init");
    assert!(
        red.evidence
            .iter()
            .any(|e| e.contains("setup is a oneshot")),
        "{:?}",
        red.evidence
    );
}

#[test]
fn autostart_false_is_listed_diagnosed_and_scored_lower() {
    let red = reduce(SUPERVISORD, "supervisord -n");
    let t = &red.terminals[0];
    assert!(
        t.services[2].confidence < t.services[0].confidence,
        "{:#?}",
        t.services
    );
    let step = red
        .chain
        .iter()
        .find(|s| s.why.contains("program:cron"))
        .expect("cron step");
    assert!(step.why.contains("autostart=false"), "{step:?}");
    assert!(
        red.diagnostics.iter().any(|d| d
            .message
            .starts_with("supervisord service program:cron: not started at boot")),
        "{:?}",
        red.diagnostics
    );
    assert!(t.services[1].workdir == "/srv", "{:?}", t.services[1]);
}

#[test]
fn a_supervisor_with_one_service_collapses_into_it() {
    let files = [(
        "/etc/supervisord.conf",
        "[program:only]\ncommand=/usr/bin/app --one\nuser=app\n",
    )];
    let red = reduce(&files, "supervisord");
    let t = &red.terminals[0];
    assert_eq!(t.kind, TerminalKind::Process);
    assert_eq!(t.path.as_deref(), Some("/usr/bin/app"));
    assert_eq!(t.user, "app");
    assert!(
        red.evidence.iter().any(|e| e.contains("collapsed")),
        "{:?}",
        red.evidence
    );
    let steps: Vec<StepKind> = red.chain.iter().map(|s| s.step).collect();
    assert_eq!(steps.last(), Some(&StepKind::Resolve), "{steps:?}");
    assert!(steps.contains(&StepKind::Fork), "{steps:?}");
}

#[test]
fn include_cycles_are_read_once_and_escaping_globs_stay_in_the_image() {
    let files = [
        ("/etc/supervisord.conf", "[include]\nfiles=conf.d/*.conf ../../../../../../etc/supervisord.conf\n[program:a]\ncommand=app\n"),
        ("/etc/conf.d/b.conf", "[include]\nfiles=/etc/supervisord.conf ../../../etc/conf.d/*.conf\n[program:b]\ncommand=worker\n"),
    ];
    let red = reduce(&files, "supervisord");
    let t = &red.terminals[0];
    let names: Vec<&str> = t.services.iter().map(|s| s.argv[0].as_str()).collect();
    assert_eq!(names, ["worker", "app"], "{:#?}", red.chain);
    assert!(
        red.evidence.iter().any(|e| e.contains("include cycle")),
        "{:?}",
        red.evidence
    );
}

#[test]
fn caps_bound_services_and_include_depth_with_diagnostics() {
    let mut conf = String::new();
    for i in 0..70 {
        conf.push_str(&format!("[program:p{i}]\ncommand=app {i}\n"));
    }
    let mut deep: Vec<(String, String)> = (0..12)
        .map(|i| {
            (
                format!("/etc/d{i}.conf"),
                format!(
                    "[include]\nfiles=d{}.conf\n[program:d{i}]\ncommand=app\n",
                    i + 1
                ),
            )
        })
        .collect();
    deep.push(("/etc/many.conf".into(), conf));
    let files: Vec<(&str, &str)> = deep.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let red = reduce(&files, "supervisord -c /etc/many.conf");
    assert_eq!(red.terminals[0].services.len(), 64);
    assert!(
        red.diagnostics
            .iter()
            .any(|d| d.message.contains("max_services")),
        "{:?}",
        red.diagnostics
    );
    let red = reduce(&files, "supervisord -c /etc/d0.conf");
    assert_eq!(red.terminals[0].services.len(), 9);
    assert!(
        red.diagnostics
            .iter()
            .any(|d| d.message.contains("max_include_depth")),
        "{:?}",
        red.diagnostics
    );
}

#[test]
fn unreadable_configs_and_missing_run_scripts_are_diagnosed_and_lower_confidence() {
    let clean = reduce(RUNIT, "runsvdir -P /etc/service").terminals[0].confidence;
    #[rustfmt::skip]
    let cases: &[(Files, &str, &str)] = &[
        (&[], "supervisord -n", "no configuration file"),
        (&[("/etc/service/web/", "")], "runsvdir /etc/service", "run script /etc/service/web/run is missing"),
        (&[("/srv/ecosystem.config.js", "module.exports = { apps: [{ script: __dirname }] }")], "pm2-runtime /srv/ecosystem.config.js", "is code, not data"),
        (&[("/etc/s6/x/run", "#!/command/execlineb -P\ns6-setuidgid\n")], "s6-svscan /etc/s6", "execline script"),
        (&[], "honcho start", "no Procfile at /Procfile"),
        (&[("/etc/supervisord.conf", "[program:a]\ncommand=/nope\n[program:b]\ncommand=/nope2\n")], "supervisord", "service program:a: /nope: not found"),
        (&[], "foreman run app", "not run with `start`"),
    ];
    for (files, argv, want) in cases {
        let red = reduce(files, argv);
        let t = &red.terminals[0];
        assert_eq!(t.kind, TerminalKind::Supervisor, "{argv}");
        assert!(t.confidence < clean, "{argv}: {} vs {clean}", t.confidence);
        assert!(
            red.diagnostics
                .iter()
                .any(|d| d.level == Level::Warning && d.message.contains(want)),
            "{argv}: {:?}",
            red.diagnostics
        );
    }
}

#[test]
fn a_supervisor_inside_a_service_is_not_expanded_again() {
    let files = [
        ("/etc/supervisord.conf", "[program:inner]\ncommand=/usr/bin/supervisord -c /etc/inner.conf\n[program:web]\ncommand=app\n"),
        ("/etc/inner.conf", "[program:x]\ncommand=worker\n[program:y]\ncommand=worker\n"),
    ];
    let red = reduce(&files, "supervisord");
    let t = &red.terminals[0];
    assert_eq!(t.services.len(), 2);
    assert!(
        t.services.iter().all(|s| s.services.is_empty()),
        "{:#?}",
        t.services
    );
    assert!(
        red.diagnostics
            .iter()
            .any(|d| d.message.contains("not expanded again")),
        "{:?}",
        red.diagnostics
    );
}

#[test]
fn include_globs_match_as_fnmatch_does() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, bool)] = &[
        ("*.conf", "web.conf", true), ("*.conf", "web.ini", false), ("*", "", true),
        ("a?c", "abc", true), ("a?c", "ac", false), ("[a-c]x", "bx", true), ("[!a-c]x", "bx", false),
        ("*a*b", "xaxxb", true), ("*a*b", "xaxxbc", false), ("[", "[", true), ("**", "x", true),
    ];
    for (p, n, want) in cases {
        assert_eq!(wildcard(p, n), *want, "{p} {n}");
    }
}

#[test]
fn splits_commands_as_shlex_does() {
    #[rustfmt::skip]
    let cases: &[(&str, Result<&[&str], ()>)] = &[
        ("a b  c", Ok(&["a", "b", "c"])),
        ("sh -c 'exec app --x'", Ok(&["sh", "-c", "exec app --x"])),
        ("a\\ b \"c \\\"d\\\"\"", Ok(&["a b", "c \"d\""])),
        ("''", Ok(&[""])),
        ("'open", Err(())),
        ("\"open", Err(())),
    ];
    for (s, want) in cases {
        let got = shell_words(s).ok();
        assert_eq!(
            got.as_ref()
                .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()),
            want.ok().map(<[&str]>::to_vec),
            "{s}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_config_bytes_never_panic_the_expansion(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        pick in 0usize..6,
    ) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (path, argv) = [
            ("/etc/supervisord.conf", "supervisord"),
            ("/etc/service/x/run", "runsvdir /etc/service"),
            ("/etc/s6-overlay/s6-rc.d/user/contents", "/init"),
            ("/srv/ecosystem.config.js", "pm2-runtime /srv/ecosystem.config.js"),
            ("/srv/p.json", "pm2-runtime /srv/p.json"),
            ("/Procfile", "forego start"),
        ][pick];
        let mut files = vec![(path, text.as_str()), ("/package/admin/s6-overlay/", "")];
        if pick == 2 {
            files.push(("/etc/s6-overlay/s6-rc.d/user/type", "bundle"));
        }
        let red = reduce(&files, argv);
        let t = &red.terminals[0];
        proptest::prop_assert!((0.0..=1.0).contains(&t.confidence));
        proptest::prop_assert!(t.services.len() <= 64);
    }
}

#[test]
fn wildcard_never_panics_on_odd_patterns() {
    for p in ["[", "[]", "[!]", "[a-", "*[", "?*[z-a]"] {
        let _ = wildcard(p, "abc");
    }
    assert!(!wildcard("[z-a]", "b"));
}

#[test]
fn run_scripts_start_in_their_service_directory_unless_they_cd() {
    #[rustfmt::skip]
    let cases: &[(Files, &str, &[&str])] = &[
        (RUNIT, "runsvdir -P /etc/service", &["/etc/service/web", "/etc/service/worker"]),
        (S6_OVERLAY, "/init", &["/etc/s6-overlay/s6-rc.d/web", "/etc/services.d/worker"]),
        (&[("/etc/s6/a/run", "#!/bin/execlineb -P\ncd /srv\napp\n"), ("/etc/s6/b/run", "#!/bin/sh\nexec worker\n")], "s6-svscan /etc/s6", &["/srv", "/etc/s6/b"]),
    ];
    for (files, argv, want) in cases {
        let red = reduce(files, argv);
        let dirs: Vec<&str> = red.terminals[0]
            .services
            .iter()
            .map(|s| s.workdir.as_str())
            .collect();
        assert_eq!(dirs, *want, "{argv}");
    }
}

#[test]
fn a_bare_json_array_of_apps_is_an_ecosystem_file_too() {
    let files = [(
        "/srv/process.json",
        "[{\"script\": \"/usr/bin/app\", \"interpreter\": \"none\"}, {\"script\": \"/usr/bin/worker\", \"interpreter\": \"none\", \"autostart\": false}]",
    )];
    let red = reduce(&files, "pm2-runtime /srv/process.json");
    let t = &red.terminals[0];
    let paths: Vec<&str> = t
        .services
        .iter()
        .filter_map(|s| s.path.as_deref())
        .collect();
    assert_eq!(
        paths,
        ["/usr/bin/app", "/usr/bin/worker"],
        "{:#?}",
        red.diagnostics
    );
    assert!(
        red.chain.iter().any(|s| s.why.contains("autostart=false")),
        "{:#?}",
        red.chain
    );
}

#[test]
fn a_single_service_not_started_at_boot_does_not_collapse() {
    let files = [(
        "/etc/supervisord.conf",
        "[program:only]\ncommand=app\nautostart=false\n",
    )];
    let red = reduce(&files, "supervisord");
    let t = &red.terminals[0];
    assert_eq!(t.kind, TerminalKind::Supervisor);
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.services[0].kind, TerminalKind::Service);
    let clean = reduce(SUPERVISORD, "supervisord").terminals[0].confidence;
    assert!(t.confidence < clean, "{} vs {clean}", t.confidence);
}

#[test]
fn supervisord_finds_its_config_beside_itself_and_pm2_no_daemon_supervises() {
    #[rustfmt::skip]
    let cases: &[(Files, &str, &[&str])] = &[
        (&[("/opt/sv/etc/supervisord.conf", "[program:a]\ncommand=app\n[program:b]\ncommand=worker\n"), ("/opt/sv/bin/supervisord", "#!/usr/bin/python3\n")], "/opt/sv/bin/supervisord -n", &["/opt/sv/etc/supervisord.conf:2", "/opt/sv/etc/supervisord.conf:4"]),
        (&[("/usr/etc/supervisord.conf", "[program:a]\ncommand=app\n[program:b]\ncommand=worker\n")], "supervisord", &["/usr/etc/supervisord.conf:2", "/usr/etc/supervisord.conf:4"]),
        (&[("/srv/process.json", "{\"apps\": [{\"script\": \"/usr/bin/app\", \"interpreter\": \"none\"}, {\"script\": \"w.py\"}]}"), ("/usr/bin/pm2", "#!/usr/bin/node\n")], "pm2 start /srv/process.json --no-daemon", &["/srv/process.json:1", "/srv/process.json:1"]),
    ];
    for (files, argv, want) in cases {
        let red = reduce(files, argv);
        assert_eq!(red.terminals[0].kind, TerminalKind::Supervisor, "{argv}");
        assert_eq!(forks(&red), *want, "{argv}: {:#?}", red.diagnostics);
    }
}
