//! Loops: iterations that do not fork run as far as the words or the condition go; forking
//! iterations count against the unroll bound; a loop whose paths repeat from one iteration to
//! the next (a retry loop waiting for a server) is left with the ways out already seen, not
//! summarised; a retry loop counting down is widened until it repeats. Paths an unmodelled
//! command is given may exist afterwards.

mod common;

use common::{check, image, inv, root, run_in, Row};
use shellflow::EndKind::Exec;

#[test]
fn loops_over_more_words_than_the_unroll_bound_run_them_all() {
    check(&Row {
        scripts: &[
            "for a in \"$@\"; do args+=(\"--opt=$a\"); done\nexec redis-server \"${args[@]}\"",
            "for a; do set -- \"$@\" \"--opt=$a\"; shift; done\nexec redis-server \"$@\"",
            "n=$#\nwhile [ \"$n\" -gt 0 ]; do set -- \"$@\" \"--opt=$1\"; shift; n=$((n - 1)); done\nexec redis-server \"$@\"",
        ],
        args: &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
        env: &[],
        user: root(),
        argv: &[
            "redis-server",
            "--opt=1",
            "--opt=2",
            "--opt=3",
            "--opt=4",
            "--opt=5",
            "--opt=6",
            "--opt=7",
            "--opt=8",
            "--opt=9",
            "--opt=10",
        ],
        run_as: "root",
        how: Exec,
    });
}

#[test]
fn a_retry_loop_waiting_for_a_server_is_not_summarised() {
    let scripts = [
        // mysql/mariadb: a countdown over words, breaking when the server answers.
        "mysqld --skip-networking &\nfor i in {30..0}; do\n\tif mysqladmin ping >/dev/null 2>&1; then break; fi\n\tsleep 1\ndone\nif [ \"$i\" = 0 ]; then echo 'Unable to start server.'; exit 1; fi\nexec mysqld",
        // mongo: `while true` with a counter, exiting when it runs out.
        "mysqld --skip-networking &\ntries=30\nwhile true; do\n\tif mysqladmin ping >/dev/null 2>&1; then break; fi\n\t(( tries-- ))\n\tif [ \"$tries\" -le 0 ]; then exit 1; fi\n\tsleep 1\ndone\nexec mysqld",
        // until, with the probe in the condition.
        "mysqld --skip-networking &\nuntil mysqladmin ping >/dev/null 2>&1; do sleep 1; done\nexec mysqld",
    ];
    for script in scripts {
        let a = run_in(image(), script, &inv(&[], &[], &root()));
        let best = a.candidates.first().expect("a candidate");
        assert_eq!(best.argv, ["mysqld"], "{script}\n{:?}", a.diagnostics);
        assert!(!a.capped, "{script}\n{:?}", a.diagnostics);
        assert!(a.steps < 200, "{script}: {} steps", a.steps);
    }
}

#[test]
fn a_loop_that_reads_its_variable_runs_every_word() {
    check(&Row {
        scripts: &[
            // The body reads `i`: no word is skipped, so the seventh one is seen.
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do\n\tif mysqladmin ping; then :; fi\n\tif [ \"$i\" = 7 ]; then seven=yes; fi\ndone\nexec mysqld \"${seven:-no}\" \"$i\"",
            // A function the body calls reads it.
            "mark() { if [ \"$i\" = 7 ]; then seven=yes; fi; }\nfor i in 1 2 3 4 5 6 7 8 9 10 11 12; do\n\tif mysqladmin ping; then :; fi\n\tmark\ndone\nexec mysqld \"${seven:-no}\" \"$i\"",
        ],
        args: &[],
        env: &[],
        user: root(),
        argv: &["mysqld", "yes", "12"],
        run_as: "root",
        how: Exec,
    });
    // It does not: once the paths repeat, the words jump to the last one.
    let script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do\n\tif mysqladmin ping; then :; fi\ndone\nexec mysqld \"$i\"";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    assert_eq!(
        a.candidates[0].argv,
        ["mysqld", "12"],
        "{:?}",
        a.diagnostics
    );
    assert!(a.steps < 30, "{} steps", a.steps);
}

#[test]
fn a_loop_that_forks_without_repeating_is_still_bounded() {
    // Each line read from input the image does not hold adds a word: nothing repeats.
    let script = "while read -r line; do set -- \"$@\" \"$line\"; done < /run/secrets/list\nexec mysqld \"$@\"";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    assert!(a.capped, "{:?}", a.diagnostics);
    assert!(
        a.diagnostics
            .iter()
            .any(|d| d.contains("loop still running after 8 iterations")),
        "{:?}",
        a.diagnostics
    );
    assert!(!a.candidates.is_empty());
}

#[test]
fn a_file_an_unmodelled_command_is_given_may_exist_afterwards() {
    let script = "pidfile=/tmp/app.pid\nmysqld --daemonize --pid-file=\"$pidfile\"\nif [ ! -s \"$pidfile\" ]; then echo 'did not start' >&2; exit 1; fi\nexec mysqld";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    let best = a.candidates.first().expect("a candidate");
    assert_eq!(best.argv, ["mysqld"], "{:?}", a.diagnostics);
    assert!(
        best.assumptions
            .iter()
            .any(|s| s.contains("/tmp/app.pid") && s.contains("may create it")),
        "{:?}",
        best.assumptions
    );
    // A path no command was given stays absent: the test is decided.
    let script = "if [ ! -s /tmp/other.pid ]; then exit 1; fi\nexec mysqld";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    assert!(a.candidates.is_empty(), "{:?}", a.candidates);
}
