//! Podman runs the hook from a hooks.d directory (the packaged file, schema 1.0.0), only for
//! containers annotated `io.entrytrace.enabled=true`, and the merged result names the demo's
//! server and user. Needs root.

use std::time::Duration;

use entrytrace_tests::podman::Podman;
use entrytrace_tests::runtime::{ensure_journald, journal_entries, wait_for_result};
use entrytrace_tests::{entrytrace_bin, require_root, require_tool, run_ok};

#[test]
fn podman_runs_the_hook_only_for_annotated_containers() {
    if !require_root() || !require_tool("podman") {
        return;
    }
    ensure_journald().expect("journald");
    let pm = Podman::new().expect("podman setup");
    let work = pm.dir.path();
    pm.import_demo("localhost/entrytrace-demo:test")
        .expect("import the demo");
    let results = work.join("results");
    let config = work.join("entrytrace.toml");
    std::fs::write(
        &config,
        format!("[hook]\nresult_dir = \"{}\"\n", results.display()),
    )
    .expect("config");
    let hooks = pm.hooks_dir(&entrytrace_bin(), &config).expect("hooks dir");

    let run = |annotate: bool| -> String {
        let mut c = pm.cmd();
        c.arg("--hooks-dir")
            .arg(&hooks)
            .args(["run", "-d", "--network", "none"]);
        if annotate {
            c.args(["--annotation", "io.entrytrace.enabled=true"]);
        }
        run_ok(c.arg("localhost/entrytrace-demo:test"))
            .expect("podman run")
            .trim()
            .to_string()
    };
    let plain = run(false);
    let traced = run(true);

    let file = results.join(format!("{traced}.json"));
    let r = wait_for_result(&file, "merged", Duration::from_secs(20)).expect("merged result");
    let top = &r["terminals"][0];
    assert!(top["argv"].to_string().contains("httpd"), "{r:#}");
    assert_eq!(top["user"], "www-data", "{r:#}");
    assert!(
        !results.join(format!("{plain}.json")).exists(),
        "the hook ran for a container without the annotation"
    );
    assert_eq!(journal_entries(&traced).expect("journal").len(), 1);
    assert!(journal_entries(&plain).expect("journal").is_empty());
}
