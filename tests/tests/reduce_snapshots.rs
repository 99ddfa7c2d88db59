//! Whole static results, as JSON and as the readable tree, for a few typical images built in
//! memory from deterministic tiny ELF files (no host binaries, so the snapshots hold on any
//! machine). Static results carry no timestamps or other unstable data: nothing is redacted.

use entrytrace::image::ImageSpec;
use entrytrace::model::{EntryTraceResult, Target};
use entrytrace::output::text::render;
use entrytrace::reduce::{analyze, Overrides};
use entrytrace::vfs::mem::MemVfs;
use entrytrace_config::Config;

const GLIBC: &str = "/lib64/ld-linux-x86-64.so.2";

fn image() -> MemVfs {
    let mut v = MemVfs::new();
    v.add_tiny_elf("/usr/bin/tini", 0o755, Some(GLIBC));
    v.add_tiny_elf("/usr/local/bin/gosu", 0o755, None);
    v.add_tiny_elf("/usr/lib/postgresql/17/bin/postgres", 0o755, Some(GLIBC));
    v.add_symlink(
        "/usr/local/bin/postgres",
        "/usr/lib/postgresql/17/bin/postgres",
    );
    v.add_tiny_elf("/usr/bin/env", 0o755, Some(GLIBC));
    v.add_tiny_elf("/usr/bin/python3.12", 0o755, Some(GLIBC));
    v.add_symlink("/usr/bin/python3", "python3.12");
    v.add_tiny_elf("/bin/dash", 0o755, Some(GLIBC));
    v.add_symlink("/bin/sh", "dash");
    v.add_file(
        "/srv/app.py",
        0o755,
        b"#!/usr/bin/env python3\nprint('hi')\n",
    );
    v.add_file(
        "/usr/local/bin/docker-entrypoint.sh",
        0o755,
        b"#!/bin/sh\nset -e\nif [ \"$1\" = postgres ]; then exec gosu postgres \"$@\"; fi\nexec \"$@\"\n",
    );
    v.add_file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n",
    );
    v
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(String::from).collect()
}

fn result(entrypoint: Option<&str>, cmd: Option<&str>, workdir: Option<&str>) -> EntryTraceResult {
    let spec = ImageSpec {
        entrypoint: entrypoint.map(words),
        cmd: cmd.map(words),
        env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
        workdir: workdir.map(String::from),
        exposed_ports: vec!["5432/tcp".into()],
        ..ImageSpec::default()
    };
    let target = Target {
        source: Some("oci:/images/example:latest".into()),
        ..Target::default()
    };
    analyze(
        &spec,
        &image(),
        &Overrides::default(),
        &Config::default(),
        target,
    )
}

#[test]
fn tini_then_gosu_then_postgres() {
    let r = result(
        Some("tini -- gosu postgres"),
        Some("postgres -D /data"),
        None,
    );
    insta::assert_json_snapshot!("tini_gosu_postgres_json", r);
    insta::assert_snapshot!("tini_gosu_postgres_text", render(&r));
}

#[test]
fn an_entrypoint_script_followed_to_its_exec() {
    let r = result(Some("docker-entrypoint.sh"), Some("postgres"), None);
    insta::assert_json_snapshot!("entrypoint_script_json", r);
    insta::assert_snapshot!("entrypoint_script_text", render(&r));
}

#[test]
fn a_python_script_run_through_env() {
    let r = result(None, Some("./app.py --port 8000"), Some("/srv"));
    insta::assert_snapshot!("python_env_shebang_text", render(&r));
}

#[test]
fn a_missing_target() {
    let r = result(
        None,
        Some("/opt/app/bin/server --config /etc/app.toml"),
        None,
    );
    insta::assert_json_snapshot!("missing_target_json", r);
    insta::assert_snapshot!("missing_target_text", render(&r));
}
