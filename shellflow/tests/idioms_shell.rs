//! One test per shell-level idiom of `shared/shellflow-idioms.md` (1–27): several spellings of
//! each idiom, each expected to end in the same command as the same user.

mod common;

use common::{as_user, check, root, Row};
use shellflow::EndKind::{Exec, FellOffEnd};

#[test]
fn idiom_01_final_pass_through_execs_the_arguments() {
    check(&Row {
        scripts: &[
            "#!/bin/sh\nexec \"$@\"\n",
            "#!/bin/sh\nset -e\necho starting\nexec \"$@\"\n",
            "#!/bin/bash\nexec \"${@}\"\n",
            "#!/bin/sh\nexec -- \"$@\"",
        ],
        args: &["node", "server.js"],
        env: &[],
        user: root(),
        argv: &["node", "server.js"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_02_set_rewrites_the_arguments() {
    check(&Row {
        scripts: &[
            "set -- nginx -g 'daemon off;'\nexec \"$@\"",
            "args='nginx'\nset -- \"$args\" -g 'daemon off;'\nexec \"$@\"",
            "set -- x y\nshift 2\nset -- \"$@\" nginx -g \"daemon off;\"\nexec \"$@\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx", "-g", "daemon off;"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_03_a_leading_flag_prepends_the_server() {
    let scripts = [
        "if [ \"${1:0:1}\" = '-' ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
        "if [ \"${1#-}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
        "case \"$1\" in -*) set -- redis-server \"$@\" ;; esac\nexec \"$@\"",
        "if [[ \"$1\" == -* ]]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
        "if [ \"${1#[-+]}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
    ];
    check(&Row {
        scripts: &scripts,
        args: &["--port", "7000"],
        env: &[],
        user: root(),
        argv: &["redis-server", "--port", "7000"],
        run_as: "root",
        how: Exec,
    });
    check(&Row {
        scripts: &scripts,
        args: &["bash"],
        env: &[],
        user: root(),
        argv: &["bash"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_04_a_config_file_argument_prepends_the_server() {
    check(&Row {
        scripts: &[
            "if [ \"${1%.conf}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
            "case \"$1\" in *.conf) set -- redis-server \"$@\";; esac\nexec \"$@\"",
            "if [[ $1 == *.conf ]]; then set -- redis-server \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["/etc/redis.conf"],
        env: &[],
        user: root(),
        argv: &["redis-server", "/etc/redis.conf"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_05_tests_on_the_argument_count_pick_the_default_command() {
    check(&Row {
        scripts: &[
            "if [ $# -eq 0 ]; then set -- php-fpm; fi\nexec \"$@\"",
            "if [ \"$#\" = 0 ]; then exec php-fpm; fi\nexec \"$@\"",
            "[ $# -gt 0 ] || set -- php-fpm\nexec \"$@\"",
            "if (( $# == 0 )); then set -- php-fpm; fi\nexec \"$@\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["php-fpm"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_06_root_checks_decide_from_the_invocation_user() {
    let scripts = [
        "if [ \"$(id -u)\" = '0' ]; then exec gosu redis \"$@\"; fi\nexec \"$@\"",
        "if [ \"$EUID\" -eq 0 ]; then exec gosu redis \"$@\"; fi\nexec \"$@\"",
        "is_root() { [ \"$(id -u)\" = 0 ]; }\nif is_root; then exec gosu redis \"$@\"; fi\nexec \"$@\"",
        "if [ `whoami` = root ]; then exec gosu redis \"$@\"; fi\nexec \"$@\"",
    ];
    let a = check(&Row {
        scripts: &scripts,
        args: &["redis-server"],
        env: &[],
        user: root(),
        argv: &["gosu", "redis", "redis-server"],
        run_as: "redis",
        how: Exec,
    });
    assert_eq!(
        a[0].candidates[0].inner_argv.as_deref(),
        Some(&["redis-server".to_string()][..])
    );
    check(&Row {
        scripts: &scripts,
        args: &["redis-server"],
        env: &[],
        user: as_user(998, "redis"),
        argv: &["redis-server"],
        run_as: "redis",
        how: Exec,
    });
}

#[test]
fn idiom_07_privilege_droppers_set_the_user() {
    check(&Row {
        scripts: &[
            "exec gosu postgres postgres",
            "exec su-exec postgres postgres",
            "exec setpriv --reuid=postgres --regid=postgres --init-groups postgres",
            "exec setpriv --reuid postgres --clear-groups postgres",
            "exec chpst -u postgres:postgres postgres",
            "exec s6-setuidgid postgres postgres",
            "exec runuser -u postgres -- postgres",
            "exec gosu 999:999 postgres",
            "exec chroot --userspec=postgres / postgres",
            "exec chroot --userspec 999:999 --skip-chdir -- / postgres",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["postgres"],
        run_as: "postgres",
        how: Exec,
    });
}

#[test]
fn idiom_07_su_runs_a_command_line_for_child_commands() {
    let a = common::run_in(
        common::image(),
        "su -p postgres -c 'pg_ctl start'\nexec su postgres -s /bin/sh -c 'exec postgres -D /data'",
        &common::inv(&[], &[], &root()),
    );
    let best = &a.candidates[0];
    assert_eq!(best.user.display(), "postgres");
    assert_eq!(
        best.inner_argv.as_deref(),
        Some(&["exec postgres -D /data".to_string()][..])
    );
}

#[test]
fn idiom_08_re_executing_the_script_under_a_dropper_runs_a_second_pass() {
    let scripts = [
        "#!/bin/bash\nset -e\nif [ \"$1\" = 'postgres' ] && [ \"$(id -u)\" = '0' ]; then\n  chown -R postgres /var/lib/postgresql/data\n  exec gosu postgres \"$BASH_SOURCE\" \"$@\"\nfi\nexec \"$@\"",
        "#!/bin/bash\nif [ \"$(id -u)\" = '0' ]; then exec gosu postgres \"${BASH_SOURCE[0]}\" \"$@\"; fi\nexec \"$@\"",
        "#!/bin/sh\nif [ \"$(id -u)\" = '0' ]; then exec su-exec postgres \"$0\" \"$@\"; fi\nexec \"$@\"",
        "#!/bin/bash\nif [ \"$(id -u)\" = '0' ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups \"$0\" \"$@\"; fi\nexec \"$@\"",
    ];
    let a = check(&Row {
        scripts: &scripts,
        args: &["postgres"],
        env: &[],
        user: root(),
        argv: &["postgres"],
        run_as: "postgres",
        how: Exec,
    });
    let reasons: Vec<&str> = a[0].candidates[0]
        .reasons
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("second pass")),
        "{reasons:?}"
    );
    // After `shift`, with zero arguments left.
    check(&Row {
        scripts: &["#!/bin/bash\nif [ \"$(id -u)\" = 0 ]; then shift; exec gosu node \"$0\" \"$@\"; fi\nif [ $# -eq 0 ]; then set -- node index.js; fi\nexec \"$@\""],
        args: &["ignored"],
        env: &[],
        user: root(),
        argv: &["node", "index.js"],
        run_as: "node",
        how: Exec,
    });
}

#[test]
fn idiom_09_a_main_function_guarded_by_a_sourced_check_runs() {
    check(&Row {
        scripts: &[
            "#!/bin/bash\n_is_sourced() {\n  [ \"${#FUNCNAME[@]}\" -ge 2 ] && [ \"${FUNCNAME[0]}\" = '_is_sourced' ] && [ \"${FUNCNAME[1]}\" = 'source' ]\n}\n_main() {\n  if [ \"${1:0:1}\" = '-' ]; then set -- mysqld \"$@\"; fi\n  exec \"$@\"\n}\nif ! _is_sourced; then\n  _main \"$@\"\nfi\n",
            "#!/bin/bash\n_main() { exec mysqld \"$@\"; }\nif [ \"${BASH_SOURCE[0]}\" = \"$0\" ]; then _main \"$@\"; fi\n",
            "#!/bin/bash\nmain() { local a=(\"$@\"); exec mysqld \"${a[@]}\"; }\n[[ \"${BASH_SOURCE[0]}\" != \"${0}\" ]] || main \"$@\"\n",
        ],
        args: &["--user=mysql"],
        env: &[],
        user: root(),
        argv: &["mysqld", "--user=mysql"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_10_sourced_files_define_what_runs() {
    let fs = common::image()
        .file(
            "/usr/local/lib/lib.sh",
            "start_server() { exec httpd-foreground \"$@\"; }\nSERVER_MODE=fg\n",
            0o644,
        )
        .file("/etc/entry.d/10-env.sh", "export APP_PORT=8080\n", 0o644);
    common::check_in(
        fs,
        &Row {
            scripts: &[
                ". /usr/local/lib/lib.sh\nstart_server -k start",
                "source /usr/local/lib/lib.sh\n[ \"$SERVER_MODE\" = fg ] && start_server -k start\nexit 1",
                "for f in /etc/entry.d/*.sh; do :; done\n. /etc/entry.d/10-env.sh\n. /usr/local/lib/lib.sh\n[ \"$APP_PORT\" = 8080 ] && start_server -k start",
            ],
            args: &[],
            env: &[],
            user: root(),
            argv: &["httpd-foreground", "-k", "start"],
            run_as: "root",
            how: Exec,
        },
    );
}

#[test]
fn idiom_11_side_work_before_the_exec_is_not_the_terminal() {
    check(&Row {
        scripts: &[
            "find /var/lib/postgresql \\! -user postgres -exec chown postgres '{}' +\nexec gosu postgres postgres",
            "set -e\nmkdir -p /run/postgresql\nchown -R postgres /run/postgresql\nchmod 2777 /run/postgresql\nexec gosu postgres postgres",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["postgres"],
        run_as: "postgres",
        how: Exec,
    });
}

#[test]
fn idiom_12_defaults_fill_unset_variables() {
    let a = check(&Row {
        scripts: &[
            ": \"${PORT:=8080}\"\nexec node server.js --port \"$PORT\"",
            "exec node server.js --port \"${PORT:-8080}\"",
            "PORT=${PORT:-${FALLBACK_PORT:-8080}}\nexec node server.js --port $PORT",
            "if [ -z \"${PORT+x}\" ]; then PORT=8080; fi\nexec node server.js --port \"${PORT:-8080}\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["node", "server.js", "--port", "8080"],
        run_as: "root",
        how: Exec,
    });
    assert!(a[0].candidates[0]
        .assumptions
        .iter()
        .any(|x| x.contains("PORT is not set")));
    check(&Row {
        scripts: &[
            ": \"${PORT:=8080}\"\nexec node server.js --port \"$PORT\"",
            "exec node server.js --port \"${PORT:-8080}\"",
            "[[ -v PORT ]] || PORT=8080\nexec node server.js --port \"$PORT\"",
        ],
        args: &[],
        env: &[("PORT", "9000")],
        user: root(),
        argv: &["node", "server.js", "--port", "9000"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_13_case_dispatch_on_the_first_argument() {
    check(&Row {
        scripts: &[
            "case \"$1\" in\n  server) shift; exec python3 -m app.server \"$@\" ;;\n  worker) exec python3 -m app.worker ;;\n  *) exec \"$@\" ;;\nesac",
            "case $1 in\n  worker|beat) exec python3 -m app.$1 ;;\n  server) shift; set -- python3 -m app.server \"$@\";;\nesac\nexec \"$@\"",
        ],
        args: &["server", "--debug"],
        env: &[],
        user: root(),
        argv: &["python3", "-m", "app.server", "--debug"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_14_double_bracket_globs_including_all_arguments() {
    check(&Row {
        scripts: &[
            "if [[ \"$1\" == mongo* ]]; then exec gosu node \"$@\"; fi\nexec \"$@\"",
            "if [[ \"$*\" == *--help* ]]; then exec \"$@\"; fi\nexec gosu node \"$@\"",
            "if [[ $1 = mongo* && $# -ge 1 ]]; then exec gosu node \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["mongod", "--bind_ip_all"],
        env: &[],
        user: root(),
        argv: &["mongod", "--bind_ip_all"],
        run_as: "node",
        how: Exec,
    });
}

#[test]
fn idiom_15_indirection_reads_file_variants() {
    let file_env = "file_env() {\n  local var=\"$1\"\n  local fileVar=\"${var}_FILE\"\n  local def=\"${2:-}\"\n  if [ \"${!var:-}\" ] && [ \"${!fileVar:-}\" ]; then\n    echo >&2 \"both set\"; exit 1\n  fi\n  local val=\"$def\"\n  if [ \"${!var:-}\" ]; then\n    val=\"${!var}\"\n  elif [ \"${!fileVar:-}\" ]; then\n    val=\"$(< \"${!fileVar}\")\"\n  fi\n  export \"$var\"=\"$val\"\n  unset \"$fileVar\"\n}\n";
    let s1 = format!("{file_env}file_env DB_USER app\nexec node server.js --user \"$DB_USER\"");
    let s2 =
        "for v in \"${!DB_@}\"; do :; done\nname=DB_USER\nexec node server.js --user \"${!name}\""
            .to_string();
    check(&Row {
        scripts: &[&s1, &s2],
        args: &[],
        env: &[("DB_USER", "alice")],
        user: root(),
        argv: &["node", "server.js", "--user", "alice"],
        run_as: "root",
        how: Exec,
    });
    let a = check(&Row {
        scripts: &[&s1],
        args: &[],
        env: &[],
        user: root(),
        argv: &["node", "server.js", "--user", "app"],
        run_as: "root",
        how: Exec,
    });
    // The other paths (user passes DB_USER or DB_USER_FILE) are alternates with unknown words.
    assert!(
        a[0].candidates
            .iter()
            .skip(1)
            .any(|c| c.unknown.iter().any(|u| *u)),
        "{:#?}",
        a[0].candidates
    );
}

#[test]
fn idiom_16_shift_then_rebuild_with_default_flags() {
    check(&Row {
        scripts: &[
            "if [ \"$1\" = 'mysqld' ]; then shift; set -- mysqld --user=mysql --datadir=/var/lib/mysql \"$@\"; fi\nexec \"$@\"",
            "prog=$1; shift\nexec \"$prog\" --user=mysql --datadir=/var/lib/mysql \"$@\"",
        ],
        args: &["mysqld", "--port=3307"],
        env: &[],
        user: root(),
        argv: &["mysqld", "--user=mysql", "--datadir=/var/lib/mysql", "--port=3307"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_17_probing_the_first_argument_decides_or_forks() {
    check(&Row {
        scripts: &[
            "if ! command -v \"$1\" >/dev/null 2>&1; then set -- node \"$@\"; fi\nexec \"$@\"",
            "if ! type \"$1\" >/dev/null 2>&1; then set -- node \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["app.js"],
        env: &[],
        user: root(),
        argv: &["node", "app.js"],
        run_as: "root",
        how: Exec,
    });
    // A flag as the first argument is no command: `type --help` is an invalid option
    // (bash: status 2), and after `--` the flag is looked up as a name and not found.
    check(&Row {
        scripts: &[
            "if type \"$1\" >/dev/null 2>&1; then exec \"$@\"; fi\nexec node \"$@\"",
            "if ! command -v -- \"$1\" >/dev/null 2>&1; then set -- node \"$@\"; fi\nexec \"$@\"",
            "if command -v \"$1\" >/dev/null 2>&1; then exec \"$@\"; fi\nexec node \"$@\"",
            "if type -- \"$1\" >/dev/null 2>&1; then exec \"$@\"; fi\nexec node \"$@\"",
        ],
        args: &["--version"],
        env: &[],
        user: root(),
        argv: &["node", "--version"],
        run_as: "root",
        how: Exec,
    });
    // Running the binary to probe it depends on the run: both branches are reported.
    let a = common::run_in(
        common::image(),
        "if mysqld \"$@\" --help >/dev/null 2>&1; then set -- mysqld \"$@\"; fi\nexec \"$@\"",
        &common::inv(&["--verbose"], &[], &root()),
    );
    let argvs: Vec<Vec<String>> = a.candidates.iter().map(|c| c.argv.clone()).collect();
    assert!(
        argvs.contains(&vec!["mysqld".into(), "--verbose".into()]),
        "{argvs:?}"
    );
    assert!(argvs.contains(&vec!["--verbose".into()]), "{argvs:?}");
    assert!(a.candidates.iter().all(|c| !c.assumptions.is_empty()));
    // A probe of a program the image lacks fails (127): no fork, and a reason says why.
    let rows = check(&Row {
        scripts: &[
            "if numactl --interleave=all true >/dev/null 2>&1; then set -- numactl --interleave=all \"$@\"; fi\nexec \"$@\"",
            "numa='numactl --interleave=all'\nif $numa true &> /dev/null; then set -- $numa \"$@\"; fi\nexec \"$@\"",
            "numactl --interleave=all true 2>/dev/null && set -- numactl --interleave=all \"$@\"\nexec \"$@\"",
        ],
        args: &["mysqld"],
        env: &[],
        user: root(),
        argv: &["mysqld"],
        run_as: "root",
        how: Exec,
    });
    for a in rows {
        assert_eq!(a.candidates.len(), 1, "{:?}", a.candidates);
        let reasons = &a.candidates[0].reasons;
        assert!(
            reasons
                .iter()
                .any(|r| r.message.contains("`numactl` is not in the image")),
            "{reasons:?}"
        );
    }
    // Outside a test, a command the image lacks is more likely one the analysis cannot
    // see: under `set -e` the path is not ended for it.
    let a = common::run_in(
        common::image(),
        "set -e\nnumactl --show\nexec \"$@\"",
        &common::inv(&["mysqld"], &[], &root()),
    );
    let best = a.candidates.first().expect("a candidate");
    assert_eq!(best.argv, ["mysqld"], "{:?}", a.diagnostics);
}

/// A fresh container's mask is 0022 (Docker, Podman, runc): scripts that tighten it only
/// when it is the default decide that test.
#[test]
fn the_fresh_container_umask_is_known() {
    check(&Row {
        scripts: &[
            "um=\"$(umask)\"\nif [ \"$um\" = '0022' ]; then umask 0077; fi\nexec redis-server \"$(umask)\"",
            "[ \"$(umask -S)\" = u=rwx,g=rx,o=rx ] && umask 077\nexec redis-server \"$(umask)\"",
            "saved=$(umask -p)\numask 0077\n: > /tmp/secret\n$saved\n[ \"$(umask)\" = 0022 ] && umask 0077\nexec redis-server \"$(umask)\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["redis-server", "0077"],
        run_as: "root",
        how: Exec,
    });
}

/// `id -G`/`-Gn`: the primary group, then the groups /etc/group lists the user in (what
/// setpriv's `--groups` is often given).
#[test]
fn the_groups_of_a_user_come_from_the_image() {
    let fs = common::image().file(
        "/etc/group",
        "root:x:0:\npostgres:x:999:\nssl-cert:x:101:postgres,redis\ndocker:x:998:redis\n",
        0o644,
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "exec redis-server $(id -Gn postgres)",
            &["redis-server", "postgres", "ssl-cert"],
        ),
        (
            "exec redis-server $(id -G postgres)",
            &["redis-server", "999", "101"],
        ),
        ("exec redis-server $(id -Gn)", &["redis-server", "root"]),
    ];
    for (script, argv) in cases {
        let a = common::run_in(fs.clone(), script, &common::inv(&[], &[], &root()));
        assert_eq!(a.candidates[0].argv, *argv, "{script}");
    }
}

#[test]
fn idiom_18_expr_regex_matches() {
    check(&Row {
        scripts: &[
            "if expr \"$1\" : '-' >/dev/null; then set -- nginx \"$@\"; fi\nexec \"$@\"",
            "if [ \"$(expr \"$1\" : '\\(.\\)')\" = - ]; then set -- nginx \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["-g", "daemon off;"],
        env: &[],
        user: root(),
        argv: &["nginx", "-g", "daemon off;"],
        run_as: "root",
        how: Exec,
    });
}

/// `eval` of a string with unknown pieces (a command printed at run time, an option
/// variable the image does not set) runs its known words; each unknown piece is an unknown
/// word of the candidate, and says why. A wholly unknown string is not guessed at.
#[test]
fn idiom_19_eval_of_a_partly_unknown_string_keeps_its_known_words() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "cmd=\"$(java-launcher --dry-run)\"\nexec_cmd='exec gosu redis'\neval ${exec_cmd} ${cmd}",
            &["gosu", "redis", "?"],
            "redis",
        ),
        (
            "eval exec java $JAVA_OPTS -jar app.jar '\"$@\"'",
            &["java", "?", "-jar", "app.jar", "serve"],
            "root",
        ),
        (
            "eval \"exec java --name=${NAME}x\"\nexec never",
            &["java", "?"],
            "root",
        ),
    ];
    for (script, argv, user) in cases {
        let a = common::run_in(
            common::image(),
            script,
            &common::inv(&["serve"], &[], &root()),
        );
        let best = a
            .candidates
            .first()
            .unwrap_or_else(|| panic!("{script}: {a:#?}"));
        let shown: Vec<&str> = best
            .argv
            .iter()
            .zip(&best.unknown)
            .map(|(w, u)| if *u { "?" } else { w.as_str() })
            .collect();
        assert_eq!(shown, *argv, "{script}");
        assert_eq!(best.user.display(), *user, "{script}");
        assert!(
            best.reasons
                .iter()
                .any(|r| r.message.contains("partly unknown")
                    && r.location.as_ref().is_some_and(|l| l.line >= 1)),
            "{script}: {:?}",
            best.reasons
        );
        // The pieces' stand-in variables do not outlive the eval.
        assert!(
            best.env_delta
                .iter()
                .all(|(k, _)| !k.starts_with("__shellflow")),
            "{:?}",
            best.env_delta
        );
    }
    // Nothing known to run: the string is not guessed at, and the script goes on.
    check(&Row {
        scripts: &["eval \"$UNSET_CODE\"\nexec redis-server"],
        args: &[],
        env: &[],
        user: root(),
        argv: &["redis-server"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_19_eval_and_a_dropper_kept_in_a_variable() {
    check(&Row {
        scripts: &[
            "run='gosu redis'\nexec $run redis-server",
            "eval \"exec gosu redis redis-server\"",
            "cmd='exec gosu redis'\neval \"$cmd redis-server\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["redis-server"],
        run_as: "redis",
        how: Exec,
    });
}

#[test]
fn idiom_20_arrays_build_the_argv() {
    check(&Row {
        scripts: &[
            "args=(node server.js)\nargs+=(--port 80)\nexec \"${args[@]}\"",
            "declare -a args\nargs=(node)\nargs+=(\"server.js\")\nargs[2]=--port\nargs+=(80)\nexec \"${args[@]}\"",
            "local_args() { local -a a=(node server.js --port 80); exec \"${a[@]}\"; }\nlocal_args",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["node", "server.js", "--port", "80"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_21_slices_of_the_arguments() {
    check(&Row {
        scripts: &[
            "exec python3 \"${@:2}\"",
            "set -- \"${@:2:2}\"\nexec python3 \"$@\"",
        ],
        args: &["run", "app.py", "--reload"],
        env: &[],
        user: root(),
        argv: &["python3", "app.py", "--reload"],
        run_as: "root",
        how: Exec,
    });
}

/// A slice of an array that leaves nothing makes no word (`args=("${args[@]:1}")` after the
/// sub-command is taken off, as flink's entrypoint does), like `"${@:2}"` does.
#[test]
fn idiom_21_slices_that_leave_nothing_make_no_word() {
    check(&Row {
        scripts: &[
            "args=(\"$@\")\nargs=(\"${args[@]:1}\")\nexec python3 app.py \"${args[@]}\"",
            "args=(\"$@\")\nexec python3 app.py \"${args[@]:1}\"",
            "args=(\"$@\")\nexec python3 app.py \"${args[@]:1:3}\"",
            "exec python3 app.py \"${@:2}\"",
        ],
        args: &["run"],
        env: &[],
        user: root(),
        argv: &["python3", "app.py"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_22_heredocs_write_config_then_exec() {
    check(&Row {
        scripts: &[
            "cat > /etc/app.conf <<EOF\nport=$PORT\nEOF\nif [ -f /etc/app.conf ]; then exec nginx -c /etc/app.conf; fi\nexit 1",
            "cat <<-'EOT' > /etc/app.conf\n\tliteral $x\n\tEOT\nexec nginx -c /etc/app.conf",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx", "-c", "/etc/app.conf"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_23_pipelines_and_while_read_do_not_leak_assignments() {
    check(&Row {
        scripts: &[
            "mode=server\necho x | while read -r line; do mode=worker; done\nexec python3 -m \"app.$mode\"",
            "mode=server\nprintf 'a\\n' | { read -r mode; }\nexec python3 -m app.$mode",
            "mode=server\n( mode=worker )\nexec python3 -m app.$mode",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["python3", "-m", "app.server"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_23_while_read_over_known_input_reads_its_lines() {
    check(&Row {
        scripts: &[
            "set --\nwhile read -r w; do set -- \"$@\" \"$w\"; done <<EOF\n-m\napp.web\nEOF\nexec python3 \"$@\"",
            "mods='-m app.web'\nread -r a b <<< \"$mods\"\nexec python3 \"$a\" \"$b\"",
            "set --\nwhile IFS=: read -r k v; do set -- \"$@\" \"$k\" \"$v\"; done << 'EOF'\n-m:app.web\nEOF\nexec python3 \"$@\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["python3", "-m", "app.web"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_24_set_e_ends_the_script_at_a_known_failure() {
    let a = common::run_in(
        common::image(),
        "#!/bin/bash\nset -Eeuo pipefail\nfalse\nexec nginx",
        &common::inv(&[], &[], &root()),
    );
    assert!(a.candidates.is_empty(), "{:#?}", a.candidates);
    check(&Row {
        scripts: &[
            "set -e\nfalse || true\nexec nginx",
            "set -e\nif false; then exit 1; fi\nexec nginx",
            "set -e\n! false\nexec nginx",
            "set +e\nfalse\nexec nginx",
            "set -e\nno-such-tool || :\nexec nginx",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_25_executable_guards_are_answered_from_the_image() {
    check(&Row {
        scripts: &[
            "if [ -x /usr/sbin/nginx ]; then exec nginx -g 'daemon off;'; fi\nexec \"$@\"",
            "[ -x /usr/local/bin/missing ] && exec missing\n[ -f /usr/sbin/nginx ] && exec nginx -g 'daemon off;'\nexit 1",
            "if test ! -e /usr/sbin/nginx; then exit 1; else exec nginx -g 'daemon off;'; fi",
        ],
        args: &["sh"],
        env: &[],
        user: root(),
        argv: &["nginx", "-g", "daemon off;"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_26_fixed_argv_ignores_or_appends_the_arguments() {
    check(&Row {
        scripts: &[
            "exec httpd-foreground -DFOREGROUND \"$@\"",
            "set -- -DFOREGROUND \"$@\"\nexec httpd-foreground \"$@\"",
        ],
        args: &["-X"],
        env: &[],
        user: root(),
        argv: &["httpd-foreground", "-DFOREGROUND", "-X"],
        run_as: "root",
        how: Exec,
    });
    check(&Row {
        scripts: &[
            "exec httpd-foreground",
            "shift $#\nexec httpd-foreground \"$@\"",
        ],
        args: &["ignored", "words"],
        env: &[],
        user: root(),
        argv: &["httpd-foreground"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn idiom_27_pid_1_check_injects_an_init_shim() {
    check(&Row {
        scripts: &[
            "if [ \"$$\" = 1 ]; then set -- tini -- \"$@\"; fi\nexec \"$@\"",
            "if [[ $$ -eq 1 ]]; then exec tini -- \"$@\"; fi\nexec \"$@\"",
        ],
        args: &["node", "app.js"],
        env: &[],
        user: root(),
        argv: &["tini", "--", "node", "app.js"],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn falling_off_the_end_makes_the_last_foreground_command_the_terminal() {
    check(&Row {
        scripts: &[
            "chown -R www-data /var/www\nnginx -g 'daemon off;'\n",
            "nginx -g 'daemon off;'\necho done\n",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["nginx", "-g", "daemon off;"],
        run_as: "root",
        how: FellOffEnd,
    });
}

#[test]
fn a_case_on_a_variable_merged_from_several_branches_is_decided_per_value() {
    // Five unknown tests keep more paths alive than the interpreter keeps apart, so the
    // paths are joined and `$mode` holds a set of values rather than one.
    let mut script = String::from("#!/bin/sh\n");
    for i in 0..5 {
        script.push_str(&format!("if [ -n \"$UNSET_{i}\" ]; then echo {i}; fi\n"));
    }
    script.push_str(
        "if [ -f /run/secrets/x ]; then mode=server; elif [ -n \"$WORKER\" ]; then mode=worker; else mode=server; fi\n",
    );
    for i in 5..8 {
        script.push_str(&format!("if [ -n \"$UNSET_{i}\" ]; then echo {i}; fi\n"));
    }
    script.push_str(
        "case \"$mode\" in\n  server) exec server --http ;;\n  worker) exec worker --queue ;;\n  *) exec fallback ;;\nesac\n",
    );
    let fs = shellflow::MemFs::new()
        .file("/entry.sh", &script, 0o755)
        .exe("/usr/local/bin/server")
        .exe("/usr/local/bin/worker")
        .exe("/usr/local/bin/fallback");
    let inv = shellflow::Invocation::file("/entry.sh", &[]);
    let a = shellflow::analyze(&inv, &fs, &shellflow::Limits::default());
    let mut argv0s: Vec<&str> = a.candidates.iter().map(|c| c.argv[0].as_str()).collect();
    argv0s.sort_unstable();
    argv0s.dedup();
    // Never the fallback: every value the variable can hold is a known one.
    assert_eq!(argv0s, ["server", "worker"], "{:?}", a.candidates);
    assert!(a.candidates.iter().all(|c| !c.unknown.iter().any(|u| *u)));
}
