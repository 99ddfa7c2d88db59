//! `entrytrace scan` on images real tools produced — `podman save` as docker-archive and
//! oci-archive of an imported rootfs, an `oci:` layout built by `umoci` and its `skopeo`
//! copy — and the exit status contract: 1 with a one-line error naming the file for an
//! unreadable input, 2 for a usage error. Podman runs with a private containers.conf and
//! storage.conf in a temp dir, as in image_tools.rs. Image parsing itself is tested there.

use std::path::Path;
use std::process::{Command, Output};

use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use entrytrace_tests::podman::Podman;
use entrytrace_tests::{entrytrace_bin, require, require_root, require_tool, scan_json};
use serde_json::Value;

/// A rootfs with a real ELF server reached through a symlink; `None` when /bin/true is missing.
fn rootfs(dir: &Path) -> Option<()> {
    if !require("host file /bin/true", Path::new("/bin/true").exists()) {
        return None;
    }
    std::fs::create_dir_all(dir.join("bin")).expect("bin");
    std::fs::create_dir_all(dir.join("etc")).expect("etc");
    std::fs::copy("/bin/true", dir.join("bin/server")).expect("copy /bin/true");
    std::os::unix::fs::symlink("server", dir.join("bin/start")).expect("symlink");
    std::fs::write(
        dir.join("etc/passwd"),
        b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/srv:/bin/sh\n",
    )
    .expect("passwd");
    Some(())
}

fn scan(source: &str, extra: &[&str]) -> Output {
    Command::new(entrytrace_bin())
        .arg("scan")
        .arg(source)
        .args(extra)
        .output()
        .expect("run entrytrace")
}

/// The terminal must be the server behind `/bin/start`, run with `--serve`, as `user`.
fn assert_server(r: &Value, user: &str, what: &str) {
    let t = &r["terminals"][0];
    let argv: Vec<&str> = t["argv"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(argv.last(), Some(&"--serve"), "{what}: {r:#}");
    assert_eq!(
        t["path"], "/bin/server",
        "{what}: the symlink is resolved: {r:#}"
    );
    assert_eq!(t["runtime"]["family"], "c", "{what}: {r:#}");
    assert_eq!(t["user"].as_str(), Some(user), "{what}: {r:#}");
}

#[test]
fn scans_podman_saved_docker_and_oci_archives() {
    if !require_root() || !require_tool("podman") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("rootfs");
    if rootfs(&root).is_none() {
        return;
    }
    let pm = Podman::new().expect("podman");
    let changes = [
        "ENTRYPOINT [\"/bin/start\"]",
        "CMD [\"--serve\"]",
        "USER app",
    ];
    pm.import(&root, "localhost/scan:t", &changes)
        .expect("podman import");
    for format in ["docker-archive", "oci-archive"] {
        let out = tmp.path().join(format!("{format}.tar"));
        pm.save("localhost/scan:t", format, &out)
            .expect("podman save");
        let r = scan_json(&format!("{format}:{}", out.display()), &[]);
        assert_server(&r, "app", format);
    }
}

#[test]
fn scans_umoci_built_layouts_and_their_skopeo_copies() {
    if !require_tool("umoci") || !require_tool("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("rootfs");
    if rootfs(&root).is_none() {
        return;
    }
    let sources = entrytrace_tests::tools::umoci_layout_and_copy(tmp.path(), &root, &[])
        .expect("umoci layout and skopeo copy");
    for source in sources {
        assert_server(&scan_json(&source, &[]), "root", &source);
    }
}

/// Asserts exit status `code` and a single stderr line containing every one of `names`.
fn assert_fails(out: &Output, code: i32, names: &[&str], what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{what}: stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    if code == 1 {
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{what}: not one line: {err}"
        );
    }
    for n in names {
        assert!(err.contains(n), "{what}: error does not name {n}: {err}");
    }
}

#[test]
fn a_missing_input_exits_1_with_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for prefix in ["oci", "oci-archive", "docker-archive", "bundle"] {
        let missing = tmp.path().join(format!("no-such-{prefix}"));
        let missing = missing.display().to_string();
        let out = scan(&format!("{prefix}:{missing}"), &[]);
        assert_fails(&out, 1, &[&missing], prefix);
    }
}

#[test]
fn an_unknown_source_prefix_or_bad_flag_is_a_usage_error() {
    for args in [
        &["scan", "tarball:/tmp/x.tar"][..],
        &["scan", "nonsense"][..],
        &["scan", "oci:/tmp/x", "--format", "yaml"][..],
        &["scan"][..],
    ] {
        let out = Command::new(entrytrace_bin())
            .args(args)
            .output()
            .expect("run");
        assert_fails(&out, 2, &[], &format!("{args:?}"));
    }
}

#[test]
fn a_truncated_archive_exits_1_naming_the_file() {
    let img = Image::new(vec![Layer::new(
        Compression::Gzip,
        vec![
            Entry::dir("bin"),
            Entry::file("bin/sh", 0o755, &vec![0x7f; 64 * 1024]),
        ],
    )]);
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, cut) in [("docker", 0.5), ("docker-head", 0.01)] {
        let path = tmp.path().join(format!("{name}.tar"));
        img.write_docker_archive(&path).expect("write");
        let len = std::fs::metadata(&path).expect("stat").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.set_len((len as f64 * cut) as u64).expect("truncate");
        let shown = path.display().to_string();
        let out = scan(&format!("docker-archive:{shown}"), &[]);
        assert_fails(&out, 1, &[&shown], name);
    }
    let path = tmp.path().join("oci.tar");
    img.write_oci_archive(&path).expect("write");
    let len = std::fs::metadata(&path).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_len(len / 2).expect("truncate");
    let shown = path.display().to_string();
    assert_fails(
        &scan(&format!("oci-archive:{shown}"), &[]),
        1,
        &[&shown],
        "oci-archive",
    );
}
