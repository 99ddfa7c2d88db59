//! `image::open` on images real tools produced: `podman save` (docker-archive and
//! oci-archive) of an imported rootfs, and OCI layouts built by `umoci` and copied by
//! `skopeo`. Podman runs with its own containers.conf/storage.conf in a temp dir.

use std::path::Path;

use entrytrace::image::{open, OpenOptions};
use entrytrace_tests::podman::Podman;
use entrytrace_tests::{require_root, require_tool};

const APP: &[u8] = b"#!/bin/sh\nexec sleep 1\n";

fn rootfs(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).expect("bin");
    std::fs::create_dir_all(dir.join("etc")).expect("etc");
    std::fs::write(dir.join("bin/app"), APP).expect("app");
    std::fs::write(dir.join("etc/os-release"), b"ID=test\n").expect("os-release");
    std::os::unix::fs::symlink("app", dir.join("bin/start")).expect("symlink");
}

#[test]
fn opens_podman_saved_docker_and_oci_archives() {
    if !require_root() || !require_tool("podman") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("rootfs");
    rootfs(&root);
    let pm = Podman::new().expect("podman");
    pm.import(
        &root,
        "localhost/x:t",
        &["ENTRYPOINT [\"/bin/start\"]", "ENV A=1"],
    )
    .expect("podman import");
    for (format, transport) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
    ] {
        let out = tmp.path().join(format!("{format}.tar"));
        pm.save("localhost/x:t", format, &out).expect("podman save");
        let img = open(
            &format!("{transport}:{}", out.display()),
            &OpenOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{format}: {e:#}"));
        assert_eq!(
            img.spec.entrypoint,
            Some(vec!["/bin/start".to_string()]),
            "{format}"
        );
        assert!(
            img.spec.env.iter().any(|e| e == "A=1"),
            "{format}: {:?}",
            img.spec.env
        );
        assert_eq!(
            img.vfs.read("/bin/start", 1024).expect("read via symlink"),
            APP,
            "{format}"
        );
        assert_eq!(
            img.vfs.read("/etc/os-release", 1024).expect("read"),
            b"ID=test\n",
            "{format}"
        );
        assert!(
            img.diagnostics.is_empty(),
            "{format}: {:?}",
            img.diagnostics
        );
    }
}

#[test]
fn opens_umoci_built_layouts_and_their_skopeo_copies() {
    if !require_tool("umoci") || !require_tool("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("rootfs");
    rootfs(&root);
    let sources = entrytrace_tests::tools::umoci_layout_and_copy(
        tmp.path(),
        &root,
        &["--config.workingdir", "/srv"],
    )
    .expect("umoci layout and skopeo copy");
    for source in sources {
        let img =
            open(&source, &OpenOptions::default()).unwrap_or_else(|e| panic!("{source}: {e:#}"));
        assert_eq!(
            img.spec.entrypoint,
            Some(vec!["/bin/start".to_string()]),
            "{source}"
        );
        assert_eq!(img.spec.cmd, Some(vec!["--serve".to_string()]), "{source}");
        assert_eq!(img.spec.workdir.as_deref(), Some("/srv"), "{source}");
        assert_eq!(
            img.vfs.read("/bin/start", 1024).expect("read"),
            APP,
            "{source}"
        );
        assert_eq!(
            img.vfs.read("/etc/os-release", 1024).expect("read"),
            b"ID=test\n",
            "{source}"
        );
    }
}
