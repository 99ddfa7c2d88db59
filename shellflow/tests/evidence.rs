//! The evidence a candidate carries says what its path rests on: a branch on an env variable
//! the image does not set prefers the image as it is (ranked first, its reasons kept where
//! both sides meet), a negated condition keeps its `!`, and every assumed outcome has a
//! `file:line`, the first command of an `&&` list included.

mod common;

use common::{image, inv, root, run_in};

#[test]
fn a_branch_on_an_unset_env_variable_prefers_the_image_as_it_is() {
    // Both sides end at the same command: the evidence kept is the unset side's.
    let a = run_in(
        image(),
        "if [ -n \"$EXTRA_CONF\" ]; then echo \"$EXTRA_CONF\" > /tmp/extra.json; fi\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    let best = &a.candidates[0];
    assert_eq!(best.argv, ["redis-server"]);
    let claims_set = |s: &str| s.contains("[ -n \"$EXTRA_CONF\" ]` succeeds");
    assert!(
        !best.reasons.iter().any(|r| claims_set(&r.message)),
        "{best:#?}"
    );
    assert!(!best.assumptions.iter().any(|s| claims_set(s)), "{best:#?}");

    // They end apart: the unset side ranks first, for each spelling of the test.
    for test in [
        "[ -n \"$MODE\" ]",
        "[ \"$MODE\" ]",
        "! [ -z \"$MODE\" ]",
        "[ \"$MODE\" = cluster ]",
    ] {
        let script =
            format!("if {test}; then exec redis-server --mode \"$MODE\"; fi\nexec redis-server");
        let a = run_in(image(), &script, &inv(&[], &[], &root()));
        let argvs: Vec<String> = a.candidates.iter().map(|c| c.argv.join(" ")).collect();
        assert_eq!(argvs.len(), 2, "{test}: {argvs:?}");
        assert_eq!(argvs[0], "redis-server", "{test}: {argvs:?}");
        assert!(
            a.candidates[0].confidence > a.candidates[1].confidence,
            "{test}: {:?}",
            a.candidates
        );
    }
}

#[test]
fn a_negated_condition_keeps_its_bang_in_the_evidence() {
    let a = run_in(
        image(),
        "if ! mysqladmin ping; then exit 1; fi\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    let best = &a.candidates[0];
    assert_eq!(best.argv, ["redis-server"]);
    assert!(
        best.assumptions
            .iter()
            .any(|s| s.starts_with("`! mysqladmin ping` fails")),
        "{:?}",
        best.assumptions
    );
    let a = run_in(
        image(),
        "[ -f /etc/redis.conf ] && ! mysqladmin ping && exit 1\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    let texts: Vec<&str> = a.candidates[0]
        .reasons
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("`! mysqladmin ping`")),
        "{texts:?}"
    );
}

#[test]
fn every_assumed_outcome_has_a_location() {
    let a = run_in(
        image(),
        "#!/bin/sh\nif [ -n \"$A\" ] && [ -n \"$B\" ]; then echo both; fi\ntrue && [ -n \"$C\" ] || echo none\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    for c in &a.candidates {
        for r in &c.reasons {
            let line = r.location.as_ref().map(|l| l.line);
            assert!(
                matches!(line, Some(2..=4)),
                "{}: {line:?}\n{:#?}",
                r.message,
                c.reasons
            );
        }
    }
}

/// An argv rebuilt through helpers that drop a given flag (mongo's `_mongod_hack_*`): each
/// one compares every word, the run-time address among them, with a specific flag. The
/// address is rarely that flag, so the likeliest argv keeps it, whole, however many forks
/// and joins the helpers make.
#[test]
fn a_run_time_word_compared_with_specific_flags_is_kept() {
    let helpers = "drop_arg() {\n\tlocal no=\"$1\"; shift\n\thacked=()\n\twhile [ \"$#\" -gt 0 ]; do\n\t\tlocal arg=\"$1\"; shift\n\t\tif [ \"$arg\" = \"$no\" ]; then continue; fi\n\t\thacked+=( \"$arg\" )\n\tdone\n}\ndrop_val() {\n\tlocal no=\"$1\"; shift\n\thacked=()\n\twhile [ \"$#\" -gt 0 ]; do\n\t\tlocal arg=\"$1\"; shift\n\t\tcase \"$arg\" in\n\t\t\t\"$no\") shift; continue ;;\n\t\t\t\"$no\"=*) continue ;;\n\t\tesac\n\t\thacked+=( \"$arg\" )\n\tdone\n}\nensure_val() {\n\tlocal a=\"$1\" v=\"$2\"; shift 2\n\tdrop_val \"$a\" \"$@\"\n\thacked+=( \"$a\" \"$v\" )\n}\n";
    let main = "ip=$(hostname -i)\nhacked=( \"$@\" )\nensure_val --bind_ip \"$ip\" \"${hacked[@]}\"\nensure_val --port 27017 \"${hacked[@]}\"\ndrop_arg --bind_ip_all \"${hacked[@]}\"\ndrop_arg --auth \"${hacked[@]}\"\nif [ -n \"$REPLICA_SET\" ]; then ensure_val --replSet \"$REPLICA_SET\" \"${hacked[@]}\"; fi\nensure_val --logpath /proc/1/fd/1 \"${hacked[@]}\"\nensure_val --pidfilepath /tmp/m.pid \"${hacked[@]}\"\nexec \"${hacked[@]}\" --fork\n";
    let script = format!("#!/bin/bash\n{helpers}{main}");
    let a = run_in(image(), &script, &inv(&["mysqld", "--auth"], &[], &root()));
    let best = &a.candidates[0];
    assert_eq!(best.argv.len(), 10, "{:?}", best.argv);
    assert_eq!(
        best.argv[..3],
        [
            "mysqld",
            "--bind_ip",
            "<$(hostname -i): output at run time>"
        ],
        "{:?}",
        best.argv
    );
    assert_eq!(best.argv[3..6], ["--port", "27017", "--logpath"]);
    assert_eq!(
        best.argv[6..],
        ["/proc/1/fd/1", "--pidfilepath", "/tmp/m.pid", "--fork"]
    );
    assert!(
        a.candidates[1..]
            .iter()
            .all(|c| c.confidence < best.confidence),
        "{:?}",
        a.candidates
            .iter()
            .map(|c| c.confidence)
            .collect::<Vec<_>>()
    );
}

/// Paths that run nothing are reported as exits, with their share of the path weight, the
/// status, where they end and why; with a complete environment (a bundle's) a variable
/// missing from it is unset for certain, so the exit is all there is.
#[test]
fn paths_that_run_nothing_are_reported_as_exits_with_their_share() {
    let script = "#!/bin/sh\nset -e\nif [ -z \"$DB_PASSWORD\" ]; then\n\techo 'DB_PASSWORD is required' >&2\n\texit 1\nfi\nexec redis-server --requirepass \"$DB_PASSWORD\"\n";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    assert_eq!(a.candidates.len(), 1, "{a:#?}");
    assert_eq!(a.exits.len(), 1, "{a:#?}");
    let x = &a.exits[0];
    assert_eq!(x.status, Some(1));
    assert_eq!(x.location.as_ref().map(|l| l.line), Some(5), "{x:#?}");
    // The image as it is (the variable unset) is the likelier side of the test.
    assert!(x.share > 0.5 && x.share < 1.0, "{x:#?}");
    assert!((a.exit_share() - x.share).abs() < 1e-9);
    assert!(
        x.reasons
            .iter()
            .any(|r| r.message.contains("[ -z \"$DB_PASSWORD\" ]")
                && r.location.as_ref().map(|l| l.line) == Some(3)),
        "{x:#?}"
    );

    let mut complete = inv(&[], &[], &root());
    complete.env_complete = true;
    let a = run_in(image(), script, &complete);
    assert!(a.candidates.is_empty(), "{a:#?}");
    assert_eq!(a.exits.len(), 1, "{a:#?}");
    assert!((a.exits[0].share - 1.0).abs() < 1e-9, "{a:#?}");
    assert!(a.exits[0].assumptions.is_empty(), "{a:#?}");
    // The runtime gives HOME from passwd when the env has none; PATH it leaves alone.
    let a = run_in(
        image(),
        "#!/bin/sh\nexec /usr/bin/env \"home=$HOME\" \"path=$PATH\" \"tz=$TZ\"\n",
        &complete,
    );
    let path = shellflow::DEFAULT_PATH;
    assert_eq!(
        a.candidates[0].argv,
        ["/usr/bin/env", "home=/root", &format!("path={path}"), "tz="],
        "{a:#?}"
    );

    // Given, it is used: one candidate, no exit.
    let mut given = inv(&[], &[("DB_PASSWORD", "pw")], &root());
    given.env_complete = true;
    let a = run_in(image(), script, &given);
    assert_eq!(
        a.candidates[0].argv,
        ["redis-server", "--requirepass", "pw"]
    );
    assert!(a.exits.is_empty(), "{a:#?}");

    // An error helper's `exit` is named, so the exit reads as the helper's.
    let a = run_in(
        image(),
        "#!/bin/sh\nfail() {\n\techo \"$*\" >&2\n\texit 2\n}\n[ -n \"$DB_PASSWORD\" ] || fail 'DB_PASSWORD is required'\nexec redis-server\n",
        &complete,
    );
    assert!(a.candidates.is_empty(), "{a:#?}");
    let x = &a.exits[0];
    assert_eq!(
        (x.status, x.location.as_ref().map(|l| l.line)),
        (Some(2), Some(4))
    );
    assert_eq!(
        x.reasons.last().map(|r| r.message.as_str()),
        Some("`exit` ends the script (status 2) in function fail"),
        "{x:#?}"
    );

    // `set -e` with a command known to fail is an exit at that command.
    let a = run_in(
        image(),
        "#!/bin/sh\nset -e\nfalse\nexec redis-server\n",
        &complete,
    );
    assert!(a.candidates.is_empty(), "{a:#?}");
    assert_eq!(
        a.exits[0].location.as_ref().map(|l| l.line),
        Some(3),
        "{a:#?}"
    );
}

/// A path that ends without running anything after forks were joined is one exit with
/// the whole weight, and its evidence is the likeliest run's (the image as it is: neither
/// env variable set), not a mix of the runs joined in it.
#[test]
fn an_exit_after_joined_forks_keeps_the_likeliest_runs_evidence() {
    let script = "#!/bin/sh\nif [ -n \"$A\" ]; then a=1; fi\nif [ -n \"$B\" ]; then b=1; fi\necho \"$a$b\"\nexit 3\n";
    let a = run_in(image(), script, &inv(&[], &[], &root()));
    assert!(a.candidates.is_empty(), "{a:#?}");
    assert_eq!(a.exits.len(), 1, "{a:#?}");
    let x = &a.exits[0];
    assert_eq!(x.status, Some(3));
    assert_eq!(x.location.as_ref().map(|l| l.line), Some(5), "{x:#?}");
    assert!((x.share - 1.0).abs() < 1e-9, "{x:#?}");
    // Recorded whole: one path, not one per run joined in it.
    assert!(
        a.diagnostics
            .iter()
            .any(|d| d.starts_with("1 path(s) end without running a command")),
        "{:?}",
        a.diagnostics
    );
    for test in ["[ -n \"$A\" ]", "[ -n \"$B\" ]"] {
        assert!(
            x.reasons
                .iter()
                .any(|r| r.message.starts_with(&format!("assumed `{test}` fails"))),
            "{x:#?}"
        );
        assert!(
            !x.reasons.iter().any(|r| r.message.contains("succeeds")),
            "{x:#?}"
        );
    }
}

/// `test !` turns over what each branch learns too, and `${V+x}` / `[[ -v V ]]` on an env
/// variable the image does not set prefer the run that leaves it unset.
#[test]
fn negated_and_set_tests_on_unset_env_prefer_the_image_as_it_is() {
    for test in [
        "[ ! -z \"$EXTRA\" ]",
        "[ -n \"${EXTRA+x}\" ]",
        "[ ! -z ${EXTRA+x} ]",
        "test ! -z \"${EXTRA:+set}\"",
        "[[ -v EXTRA ]]",
        "[[ ! ! -v EXTRA ]]",
    ] {
        let script = format!(
            "#!/bin/bash\nif {test}; then exec redis-server --extra; fi\nexec redis-server \"${{EXTRA:-unset}}\"\n"
        );
        let a = run_in(image(), &script, &inv(&[], &[], &root()));
        let argvs: Vec<String> = a.candidates.iter().map(|c| c.argv.join(" ")).collect();
        assert_eq!(
            argvs,
            ["redis-server unset", "redis-server --extra"],
            "{test}: {a:#?}"
        );
        assert!(
            a.candidates[0].confidence > a.candidates[1].confidence,
            "{test}: {argvs:?}"
        );
        // No variable named after the expansion's text leaks into the env.
        assert!(
            a.candidates
                .iter()
                .all(|c| c.env.iter().all(|(k, _)| !k.contains('{'))),
            "{test}: {a:#?}"
        );
    }
}

/// Joins add weights but keep one member's reasons: when many light runs are joined (past
/// what a deferred join holds, they are widened into one), their sum outweighs the likeliest
/// single run, yet the best candidate's reasons must still be that run's: every variable
/// unset, as the image is.
#[test]
fn the_reasons_shown_are_those_of_the_likeliest_single_run() {
    for n in [3, 5, 8] {
        let mut script = String::new();
        for i in 0..n {
            script.push_str(&format!("if [ -n \"$OPT_{i}\" ]; then v{i}=1; fi\n"));
        }
        script.push_str("exec redis-server\n");
        let a = run_in(image(), &script, &inv(&[], &[], &root()));
        let best = &a.candidates[0];
        assert_eq!(best.argv, ["redis-server"]);
        assert!((best.confidence - 1.0).abs() < 1e-9, "{best:#?}");
        let tests: Vec<&str> = best
            .reasons
            .iter()
            .map(|r| r.message.as_str())
            .filter(|m| m.contains("[ -n \"$OPT_"))
            .collect();
        assert_eq!(tests.len(), n, "{n} ifs: {tests:#?}");
        assert!(
            tests.iter().all(|m| m.contains("` fails")),
            "{n} ifs: the as-image run fails every test: {tests:#?}"
        );
    }
}

#[test]
fn condition_snippets_are_whole_after_non_ascii_text() {
    // brush-parser counts positions in characters: the `≥` (three bytes) before the test
    // once cut the snippet four bytes early (`lif [ "${!fileVar:-`).
    for before in [
        "",
        "# applies to versions ≥5.0 and ≥4.4.19\n",
        "echo 'née ≥ ü'\n",
    ] {
        let script = format!(
            "{before}if [ \"$A\" ]; then :\nelif [ \"${{B:-}}\" ]; then exec redis-server --b\nfi\nexec redis-server"
        );
        let a = run_in(image(), &script, &inv(&[], &[], &root()));
        let texts: Vec<&str> = a
            .candidates
            .iter()
            .flat_map(|c| c.reasons.iter().map(|r| r.message.as_str()))
            .collect();
        assert!(
            texts.iter().any(|t| t.contains("`[ \"${B:-}\" ]`")),
            "{before:?}: {texts:#?}"
        );
        assert!(
            texts.iter().all(|t| !t.contains("lif")),
            "{before:?}: {texts:#?}"
        );
    }
}
