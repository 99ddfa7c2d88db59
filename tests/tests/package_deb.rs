//! The Debian package: `packaging/build-deb.sh` builds it (`scripts/test.sh` runs it before
//! the tests, as cargo cannot nest a build inside its own test run; release binary, man page,
//! completions, hooks.d file, default config, journal catalog), `dpkg -i` installs it, and
//! Podman — with no `--hooks-dir` — picks the hook up from the standard
//! `/usr/share/containers/oci/hooks.d/` for an annotated container. The package is purged at
//! the end. Needs root, podman and dpkg; changes the machine while it runs (CI is a
//! throwaway machine; locally it restores what it touched).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use entrytrace_tests::podman::Podman;
use entrytrace_tests::runtime::{repo_root, wait_for_result};
use entrytrace_tests::{require_root, require_tool, run_ok};

struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "entrytrace"])
            .output();
    }
}

#[test]
fn the_deb_installs_and_podman_runs_the_hook_from_the_standard_hooks_dir() {
    if !require_root() || !require_tool("podman") || !require_tool("dpkg") {
        return;
    }
    if Path::new("/usr/bin/entrytrace").exists()
        && Command::new("dpkg")
            .args(["-s", "entrytrace"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
    {
        panic!("/usr/bin/entrytrace exists and is not from our package; refusing to overwrite it");
    }
    let root = repo_root();
    let out = run_ok(Command::new("bash").arg(root.join("packaging/build-deb.sh")))
        .expect("build-deb.sh");
    let deb = out.lines().last().expect("deb path").trim().to_string();
    let deb = if deb.starts_with('/') {
        deb
    } else {
        root.join(&deb).display().to_string()
    };
    let listing = run_ok(Command::new("dpkg-deb").args(["-c", &deb])).expect("dpkg-deb -c");
    for must in [
        "./usr/bin/entrytrace",
        "./usr/share/containers/oci/hooks.d/entrytrace.json",
        "./etc/entrytrace/config.toml",
        "./usr/lib/systemd/catalog/entrytrace.catalog",
        "./usr/share/man/man1/entrytrace.1",
        "./usr/share/bash-completion/completions/entrytrace",
    ] {
        assert!(
            listing.contains(must),
            "{must} missing from the package:\n{listing}"
        );
    }
    let _purge = Purge;
    // The postinst fills the minimised-BTF cache: start from none (it is only a cache).
    let cache = Path::new("/var/cache/entrytrace/btf");
    let _ = std::fs::remove_dir_all(cache);
    run_ok(Command::new("dpkg").args(["-i", &deb])).expect("dpkg -i");
    if require_tool("bpftool") {
        let cached: Vec<_> = std::fs::read_dir(cache)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            cached.iter().any(|n| n.to_string_lossy().ends_with(".btf")),
            "postinst left no BTF in {}: {cached:?}",
            cache.display()
        );
    }
    run_ok(Command::new("/usr/bin/entrytrace").arg("--version")).expect("installed binary runs");

    let pm = Podman::new().expect("podman");
    pm.import_demo("localhost/entrytrace-deb:test")
        .expect("import the demo");
    let id = run_ok(pm.cmd().args([
        "run",
        "-d",
        "--network",
        "none",
        "--annotation",
        "io.entrytrace.enabled=true",
        "localhost/entrytrace-deb:test",
    ]))
    .expect("podman run")
    .trim()
    .to_string();
    let file = Path::new("/run/entrytrace").join(format!("{id}.json"));
    let r = wait_for_result(&file, "merged", Duration::from_secs(20)).expect("merged result");
    let _ = std::fs::remove_file(&file);
    assert_eq!(r["terminals"][0]["user"], "www-data", "{r:#}");
    assert!(
        r["terminals"][0]["argv"].to_string().contains("httpd"),
        "{r:#}"
    );
}
