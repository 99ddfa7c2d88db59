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
        "if ! grep -q '^admin' /etc/redis.conf; then exit 1; fi\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    let best = &a.candidates[0];
    assert_eq!(best.argv, ["redis-server"]);
    assert!(
        best.assumptions
            .iter()
            .any(|s| s.starts_with("`! grep -q '^admin' /etc/redis.conf` fails")),
        "{:?}",
        best.assumptions
    );
    let a = run_in(
        image(),
        "[ -f /etc/redis.conf ] && ! grep -q '^admin' /etc/redis.conf && exit 1\nexec redis-server",
        &inv(&[], &[], &root()),
    );
    let texts: Vec<&str> = a.candidates[0]
        .reasons
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("`! grep -q '^admin'")),
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
