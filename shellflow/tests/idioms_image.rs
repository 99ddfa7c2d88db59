//! Image-level idioms of `shared/shellflow-idioms.md` (28–41), as far as they concern the
//! script: PATH lookup, shims injected by scripts, shebang options, cleared CMD, image USER,
//! scripts reached under another name, chains, shell-form CMD, supervisors, vendor launchers
//! and droppers around every command.

mod common;

use common::{as_user, check, check_in, image, inv, root, Row, ENTRY};
use shellflow::EndKind::{Background, Exec};
use shellflow::{analyze, lookup_path, Invocation, Limits, MemFs, Script, DEFAULT_PATH};

#[test]
fn idiom_28_a_bare_entrypoint_name_is_found_through_path() {
    let fs = image()
        .file(ENTRY, "exec \"$@\"", 0o755)
        .file("/usr/local/bin/notes.txt", "", 0o644);
    assert_eq!(
        lookup_path(&fs, DEFAULT_PATH, "docker-entrypoint.sh", true).as_deref(),
        Some(ENTRY)
    );
    assert_eq!(lookup_path(&fs, DEFAULT_PATH, "notes.txt", true), None);
    assert_eq!(
        lookup_path(&fs, "/usr/local/bin", "notes.txt", false).as_deref(),
        Some("/usr/local/bin/notes.txt")
    );
    check(&Row {
        scripts: &[
            "p=$(command -v redis-server)\nexec \"$p\" --save ''",
            "exec \"$(command -v redis-server)\" --save ''",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["/usr/local/bin/redis-server", "--save", ""],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_29_tini_injected_by_the_script_stays_in_the_argv() {
    check(&Row {
        scripts: &["exec tini -- \"$@\"", "set -- tini -- \"$@\"\nexec \"$@\""],
        args: &["node", "app.js"],
        env: &[],
        user: root(),
        argv: &["tini", "--", "node", "app.js"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_30_31_shebang_lines_with_shims_and_options() {
    check(&Row {
        scripts: &[
            "#!/usr/bin/dumb-init /bin/sh\nexec nginx -g 'daemon off;'",
            "#!/usr/bin/env bash\nexec nginx -g 'daemon off;'",
            "#!/bin/ash\nexec nginx -g 'daemon off;'",
            "#!/bin/bash -eu\nexec nginx -g 'daemon off;'",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx", "-g", "daemon off;"],
        run_as: "root",
        how: Exec,
    });
    // `-e` on the shebang line turns on errexit: a known failure ends the script.
    for script in [
        "#! /bin/bash -e\nfalse\nexec nginx",
        "#!/bin/sh -eu\nfalse\nexec nginx",
    ] {
        let a = common::run_in(image(), script, &inv(&[], &[], &root()));
        assert!(a.candidates.is_empty(), "{script}: {:?}", a.candidates);
    }
    check(&Row {
        scripts: &["#!/bin/bash\nfalse\nexec nginx"],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_32_33_a_cleared_cmd_gives_no_arguments_and_the_default_branch() {
    check(&Row {
        scripts: &[
            "if [ \"$#\" -eq 0 ] || [ \"${1#-}\" != \"$1\" ]; then set -- mongod \"$@\"; fi\nexec \"$@\"",
            "[ -n \"$1\" ] || set -- mongod\nexec \"$@\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["mongod"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_34_the_image_user_decides_root_checks() {
    check(&Row {
        scripts: &[
            "if [ \"$(id -u)\" = 0 ]; then exec gosu www-data \"$@\"; fi\nexec \"$@\"",
            "[ \"$(id -un)\" != root ] || exec gosu www-data \"$@\"\nexec \"$@\"",
        ],
        args: &["php-fpm"],
        env: &[],
        user: as_user(33, "www-data"),
        argv: &["php-fpm"],
        run_as: "www-data",
        how: Exec,
    });
}

#[test]
fn idiom_35_the_script_reached_under_another_name() {
    let script = "case \"$(basename \"$0\")\" in\n  worker-entrypoint.sh) exec python3 -m worker ;;\n  *) if [ \"$(id -u)\" = 0 ]; then exec gosu node \"$0\" \"$@\"; fi; exec node server.js ;;\nesac";
    for (called, argv, user) in [
        (
            "/worker-entrypoint.sh",
            vec!["python3", "-m", "worker"],
            "root",
        ),
        ("/docker-entrypoint.sh", vec!["node", "server.js"], "node"),
    ] {
        let fs = image().file(ENTRY, script, 0o755).symlink(called, ENTRY);
        let mut i = inv(&[], &[], &root());
        i.script = Script::File {
            path: ENTRY.into(),
            name_called_as: called.into(),
        };
        let a = analyze(&i, &fs, &Limits::default());
        let best = &a.candidates[0];
        assert_eq!(
            best.inner_argv.clone().unwrap_or(best.argv.clone()),
            argv,
            "{called}"
        );
        assert_eq!(best.user.display(), user);
    }
}

#[test]
fn idiom_36_the_script_read_is_the_one_the_image_holds() {
    let parent = image().file(ENTRY, "exec parent-server", 0o755);
    let child = parent.clone().file(ENTRY, "exec child-server", 0o755);
    let a = analyze(&inv(&[], &[], &root()), &child, &Limits::default());
    assert_eq!(a.candidates[0].argv, ["child-server"]);
}

#[test]
fn idiom_37_chains_source_another_entrypoint_without_running_its_main() {
    let lib = include_str!("corpus/postgres-entrypoint.sh");
    let fs = image().file("/usr/local/bin/postgres-entrypoint.sh", lib, 0o755);
    check_in(
        fs,
        &Row {
            scripts: &[
                "#!/bin/bash\nsource /usr/local/bin/postgres-entrypoint.sh\ndocker_setup_env\nexec apache2-foreground \"$@\"",
                "#!/bin/bash\n. postgres-entrypoint.sh\nfile_env APP_USER web\nexec apache2-foreground \"$@\"",
            ],
            args: &["-X"],
            env: &[("PGDATA", "/var/lib/postgresql/data")],
            user: root(),
            argv: &["apache2-foreground", "-X"],
            run_as: "root",
            how: Exec,
        },
    );
}

#[test]
fn idiom_38_shell_form_cmd_expands_the_image_env() {
    let fs = image();
    for text in [
        "exec node server.js --port $PORT",
        "exec node server.js --port \"${PORT:-80}\"",
    ] {
        let mut i = Invocation::file("/unused", &["/bin/sh"]);
        i.script = Script::String { text: text.into() };
        i.env.push(("PORT".into(), "8080".into()));
        let a = analyze(&i, &fs, &Limits::default());
        assert_eq!(
            a.candidates[0].argv,
            ["node", "server.js", "--port", "8080"],
            "{text}"
        );
        assert_eq!(a.candidates[0].how, Exec);
    }
}

#[test]
fn idiom_39_supervisors_are_terminals() {
    check(&Row {
        scripts: &[
            "exec supervisord -n -c /etc/supervisord.conf",
            "set -- supervisord -n -c /etc/supervisord.conf\nexec \"$@\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["supervisord", "-n", "-c", "/etc/supervisord.conf"],
        run_as: "root",
        how: Exec,
    });
    check(&Row {
        scripts: &["exec /init", "set -- /init\nexec \"$@\""],
        args: &[],
        env: &[],
        user: root(),
        argv: &["/init"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_40_vendor_launchers_are_followed_to_their_exec_or_reported() {
    let launcher = "#!/bin/sh\n_RUNJAVA=\"${JAVA_HOME:-/usr/lib/jvm/default}/bin/java\"\nif [ \"$1\" = run ]; then\n  shift\n  eval exec \"\\\"$_RUNJAVA\\\"\" $JAVA_OPTS -classpath /opt/app/lib org.app.Bootstrap \"$@\" start\nelif [ \"$1\" = start ]; then\n  \"$_RUNJAVA\" -classpath /opt/app/lib org.app.Bootstrap start &\n  echo started\nfi\n";
    let fs = image().file(ENTRY, launcher, 0o755);
    let a = analyze(
        &inv(&["run"], &[("JAVA_OPTS", "-Xmx1g")], &root()),
        &fs,
        &Limits::default(),
    );
    assert_eq!(
        a.candidates[0].argv,
        [
            "/usr/lib/jvm/default/bin/java",
            "-Xmx1g",
            "-classpath",
            "/opt/app/lib",
            "org.app.Bootstrap",
            "start"
        ]
    );
    assert_eq!(a.candidates[0].how, Exec);
    let a = analyze(&inv(&["start"], &[], &root()), &fs, &Limits::default());
    assert_eq!(a.candidates[0].how, Background, "{:#?}", a.candidates);
    assert_eq!(a.candidates[0].argv[0], "/usr/lib/jvm/default/bin/java");
}

#[test]
fn idiom_41_droppers_around_every_command_even_a_shell() {
    check(&Row {
        scripts: &[
            "exec gosu node \"$@\"",
            "if [ \"$(id -u)\" = 0 ]; then set -- gosu node \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["bash"],
        env: &[],
        user: root(),
        argv: &["bash"],
        run_as: "node",
        how: Exec,
    });
    let _ = MemFs::new();
}

#[test]
fn pathname_patterns_list_the_init_scripts_the_image_holds_in_order() {
    let fs = image()
        .file(ENTRY, "", 0o755)
        .file("/docker-entrypoint.d/20-port.sh", "PORT=9090\n", 0o755)
        .file(
            "/docker-entrypoint.d/10-port.sh",
            "PORT=8080\nWORKERS=4\n",
            0o755,
        )
        .file("/docker-entrypoint.d/README", "", 0o644)
        .exe("/usr/local/bin/server");
    let cases: &[(&str, &[&str])] = &[
        (
            "for f in /docker-entrypoint.d/*.sh; do . \"$f\"; done\nexec server \"${PORT:-80}\" \"${WORKERS:-1}\"",
            &["server", "9090", "4"],
        ),
        (
            "cd /docker-entrypoint.d\nset -- *.sh\nexec server \"$#\" \"$1\"",
            &["server", "2", "10-port.sh"],
        ),
        // Quoted, the pattern is a plain word: no such file, the defaults stay.
        (
            "for f in \"/docker-entrypoint.d/*.sh\"; do [ -f \"$f\" ] && . \"$f\"; done\nexec server \"${PORT:-80}\" \"${WORKERS:-1}\"",
            &["server", "80", "1"],
        ),
        // Matching nothing, the word stays as written.
        (
            "exec server /docker-entrypoint.d/*.py",
            &["server", "/docker-entrypoint.d/*.py"],
        ),
    ];
    for (script, argv) in cases {
        let fs = fs.clone().file(ENTRY, script, 0o755);
        let a = analyze(&Invocation::file(ENTRY, &[]), &fs, &Limits::default());
        let best = a
            .candidates
            .first()
            .map(|c| c.argv.clone())
            .unwrap_or_default();
        assert_eq!(best, *argv, "{script}: {:?}", a.diagnostics);
    }
}

/// `find DIR … | sort | while read` over an image directory: the lines are the image's
/// files, so the loop runs its real iterations (no summarised loop, no lowered confidence),
/// and a `find … -print -quit | read` test is decided. Forms `find` is not modelled for stay
/// side work.
#[test]
fn find_and_sort_pipelines_list_the_init_scripts_the_image_holds() {
    let fs = image()
        .file("/docker-entrypoint.d/20-port.sh", "PORT=9090\n", 0o755)
        .file("/docker-entrypoint.d/10-port.sh", "PORT=8080\n", 0o755)
        .file("/docker-entrypoint.d/README", "", 0o644)
        .dir("/empty.d")
        .exe("/usr/local/bin/server");
    let cases: &[(&str, &[&str])] = &[
        (
            "s=$(find /docker-entrypoint.d/ -maxdepth 1 -type f -name '*.sh' | sort -V)\nset -- $s\nexec server \"$#\" \"$1\"",
            &["server", "2", "/docker-entrypoint.d/10-port.sh"],
        ),
        (
            "s=$(find /docker-entrypoint.d -type f -print | sort -r)\nset -- $s\nexec server \"$#\" \"$1\"",
            &["server", "3", "/docker-entrypoint.d/README"],
        ),
        (
            "if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read v; then exec server on; else exec server off; fi",
            &["server", "on"],
        ),
        (
            "if find /empty.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read v; then exec server on; else exec server off; fi",
            &["server", "off"],
        ),
        // The loop runs in a subshell: what it sources does not reach the exec.
        (
            "find /docker-entrypoint.d/ -follow -type f -print | sort -V | while read -r f; do\n\tcase \"$f\" in *.sh) . \"$f\" ;; *) echo \"ignoring $f\" ;; esac\ndone\nexec server \"${PORT:-80}\"",
            &["server", "80"],
        ),
        (
            "find /docker-entrypoint.d \\! -user root -exec chown root '{}' +\nexec server",
            &["server"],
        ),
    ];
    for (script, argv) in cases {
        let fs = fs.clone().file(ENTRY, script, 0o755);
        let a = analyze(&Invocation::file(ENTRY, &[]), &fs, &Limits::default());
        let best = a.candidates.first().expect("a candidate");
        assert_eq!(best.argv, *argv, "{script}: {:?}", a.diagnostics);
        assert!(!a.capped, "{script}: {:?}", a.diagnostics);
        assert_eq!(a.candidates.len(), 1, "{script}: {:?}", a.candidates);
    }
}

#[test]
fn brace_words_expand_under_bash_and_stay_literal_under_sh() {
    let fs = image()
        .file(
            ENTRY,
            "#!/bin/bash\nmkdir -p /run/{a,b}\nfor d in /run/{a,b} {1..2}; do set -- \"$@\" \"$d\"; done\nexec server --{x,y} \"$@\"",
            0o755,
        )
        .exe("/usr/local/bin/server");
    let argv = |shell: shellflow::Dialect| {
        let mut inv = Invocation::file(ENTRY, &[]);
        inv.shell = shell;
        let a = analyze(&inv, &fs, &Limits::default());
        a.candidates
            .first()
            .map(|c| c.argv.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        argv(shellflow::Dialect::Bash),
        ["server", "--x", "--y", "/run/a", "/run/b", "1", "2"]
    );
    assert_eq!(
        argv(shellflow::Dialect::Sh),
        ["server", "--{x,y}", "/run/{a,b}", "{1..2}"]
    );
}

#[test]
fn readlink_f_and_realpath_answer_from_the_images_symlinks() {
    // redis: `[ "$(readlink -f "$CMD")" = '/usr/local/bin/redis-server' ]` decides whether
    // the script drops privileges. /usr/local/bin/postgres is a symlink in the test image.
    let runs = check_in(
        image(),
        &Row {
            scripts: &[
                "if [ \"$(readlink -f /usr/local/bin/postgres)\" = /usr/lib/postgresql/17/bin/postgres ]; then exec postgres; fi\nexec sleep 1",
                "p=$(realpath /usr/local/bin/postgres)\ncase \"$p\" in /usr/lib/postgresql/*) exec postgres ;; esac\nexec sleep 1",
                "cd /usr/local/bin\n[ \"$(readlink -f ./postgres)\" != /usr/local/bin/postgres ] && exec postgres\nexec sleep 1",
                "CMD=$(command -v redis-server)\n[ \"$(readlink -e \"$CMD\")\" = /usr/local/bin/redis-server ] || exec sleep 1\nexec postgres",
            ],
            args: &[],
            env: &[],
            user: root(),
            argv: &["postgres"],
            run_as: "root",
            how: Exec,
        },
    );
    for (i, a) in runs.iter().enumerate() {
        assert_eq!(a.candidates.len(), 1, "spelling {i} forked: {a:#?}");
    }
    // A volume (the image's directory may be replaced), or a run-time directory, is not the
    // image's to answer.
    for script in [
        "if [ \"$(readlink -f /var/lib/postgresql/data)\" = /var/lib/postgresql/data ]; then exec postgres; fi\nexec sleep 1",
        "if [ \"$(realpath /proc/self/exe)\" = /bin/sh ]; then exec postgres; fi\nexec sleep 1",
    ] {
        let mut i = inv(&[], &[], &root());
        i.volumes = vec!["/var/lib/postgresql/data".into()];
        let a = common::run_in(image(), script, &i);
        assert_eq!(a.candidates.len(), 2, "{script}: {a:#?}");
    }
}

/// `tr` on a known input (an `echo` or `printf` piped in, a here-string): env names built
/// from option names (kibana's `$(echo ${kibana_var^^} | tr . _)`), case folding, `tr -d`.
#[test]
fn tr_on_a_known_input_is_decided() {
    let fs = image().exe("/usr/local/bin/server");
    let cases: &[(&str, &[&str])] = &[
        (
            "v=server.name\nenv_var=$(echo ${v^^} | tr . _)\nexec server \"$env_var\"",
            &["server", "SERVER_NAME"],
        ),
        (
            "opt=$(printf '%s' 'log.level' | tr '[:lower:].' '[:upper:]_')\nexec server \"$opt\"",
            &["server", "LOG_LEVEL"],
        ),
        (
            "x=$(tr -d '\\r' <<< 'a-b')\nexec server \"$(echo \"$x\" | tr - ' ')\"",
            &["server", "a b"],
        ),
        // A test on the built name decides too: SERVER_NAME is set in the env.
        (
            "for v in server.name log.level; do\n\te=$(echo \"$v\" | tr 'a-z.' 'A-Z_')\n\tif [ -n \"${!e}\" ]; then set -- \"$@\" \"--$v=${!e}\"; fi\ndone\nexec server \"$@\"",
            &["server", "--server.name=kib"],
        ),
    ];
    for (script, argv) in cases {
        let fs = fs.clone().file(ENTRY, script, 0o755);
        let mut inv = Invocation::file(ENTRY, &[]);
        inv.env.push(("SERVER_NAME".into(), "kib".into()));
        inv.shell = shellflow::Dialect::Bash;
        let a = analyze(&inv, &fs, &Limits::default());
        let best = a.candidates.first().expect("a candidate");
        assert_eq!(best.argv, *argv, "{script}: {:?}", a.diagnostics);
    }
}
