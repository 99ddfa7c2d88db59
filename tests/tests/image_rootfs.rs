//! The on-disk rootfs VFS and `bundle:` sources against real hostile directory trees: links to
//! host files holding a marker, `..` chains, absolute targets, loops, symlinked parents,
//! fifos and devices. Nothing may read the host file, block, or resolve outside the root.

use std::collections::HashSet;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use entrytrace::image::{open, OpenOptions};
use entrytrace::vfs::rootfs::RootfsVfs;
use entrytrace::vfs::{FileKind, Vfs, VfsError};

const MARKER: &[u8] = b"HOST-SECRET-MARKER-7f3a";

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {}",
        p.display()
    );
}

/// A tree with a host secret beside the rootfs, and links aimed at it every way we know.
fn hostile_tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secret = tmp.path().join("host-secret");
    std::fs::write(&secret, MARKER).expect("secret");
    let root = tmp.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).expect("etc");
    std::fs::write(root.join("etc/passwd"), b"image passwd").expect("passwd");
    let links = [
        ("abs-host", secret.display().to_string()),
        ("dotdot", "../host-secret".to_string()),
        (
            "deep-dotdot",
            "../../../../../../../..".to_string() + &secret.display().to_string(),
        ),
        ("host-dir", tmp.path().display().to_string()),
        ("proc-root", format!("/proc/self/root{}", secret.display())),
        ("shadow", "/etc/shadow".to_string()),
        ("loop-a", "loop-b".to_string()),
        ("loop-b", "loop-a".to_string()),
        ("parent", "/etc".to_string()),
        ("up", "../../../etc/passwd".to_string()),
    ];
    for (name, target) in links {
        symlink(target, root.join(name)).expect("symlink");
    }
    mkfifo(&root.join("fifo"));
    (tmp, root)
}

#[test]
fn hostile_links_never_reach_the_host_file() {
    let (_tmp, root) = hostile_tree();
    let v = RootfsVfs::open(&root).expect("open rootfs");
    for link in [
        "/abs-host",
        "/dotdot",
        "/deep-dotdot",
        "/host-dir/host-secret",
        "/proc-root",
        "/shadow",
    ] {
        match v.read(link, 1 << 20) {
            Ok(body) => assert!(
                !body.windows(MARKER.len()).any(|w| w == MARKER),
                "{link} read the host file"
            ),
            Err(e) => assert!(
                matches!(
                    e,
                    VfsError::NotFound { .. } | VfsError::NotADirectory { .. }
                ),
                "{link}: {e}"
            ),
        }
    }
    assert_eq!(
        v.read("/up", 1024).expect("clamped at the root"),
        b"image passwd"
    );
    assert_eq!(
        v.read("/parent/passwd", 1024).expect("symlinked parent"),
        b"image passwd"
    );
    let err = v.read("/loop-a", 1024).expect_err("loop");
    assert!(
        matches!(err, VfsError::SymlinkLoop { limit: 40, .. }),
        "{err}"
    );
}

#[test]
fn fifos_and_devices_are_refused_without_blocking() {
    let (_tmp, root) = hostile_tree();
    if entrytrace_tests::is_root() {
        let dev =
            std::ffi::CString::new(root.join("null").as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: valid path; makedev(1, 3) is /dev/null's number.
        assert_eq!(
            unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
            0
        );
    }
    let v = RootfsVfs::open(&root).expect("open rootfs");
    let start = Instant::now();
    let err = v.read_range("/fifo", 0, 10).expect_err("fifo");
    assert!(
        matches!(
            err,
            VfsError::NotRegular {
                kind: FileKind::Fifo,
                ..
            }
        ),
        "{err}"
    );
    if entrytrace_tests::is_root() {
        let err = v.read("/null", 10).expect_err("device");
        assert!(
            matches!(
                err,
                VfsError::NotRegular {
                    kind: FileKind::CharDevice,
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a special file blocked"
    );
    assert_eq!(
        v.lstat("/fifo").expect("lstat").map(|m| m.kind),
        Some(FileKind::Fifo)
    );
}

#[test]
fn primitives_do_not_follow_symlinks() {
    let (_tmp, root) = hostile_tree();
    let v = RootfsVfs::open(&root).expect("open rootfs");
    assert_eq!(
        v.lstat("/parent").expect("lstat").map(|m| m.kind),
        Some(FileKind::Symlink)
    );
    assert_eq!(v.read_link("/parent").expect("readlink"), "/etc");
    assert!(
        v.read_range("/parent/passwd", 0, 10).is_err(),
        "read_range must not follow a symlinked parent"
    );
    assert!(
        v.read_dir("/host-dir").is_err(),
        "read_dir must not follow a symlink"
    );
    assert_eq!(v.lstat("/nope").expect("lstat"), None);
    assert_eq!(v.lstat("/etc/passwd/x").expect("lstat"), None);
}

#[test]
fn a_bundle_maps_process_args_to_the_entrypoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("rootfs/bin")).expect("rootfs");
    std::fs::write(tmp.path().join("rootfs/bin/app"), b"\x7fELF").expect("app");
    let cfg = serde_json::json!({
        "ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"user": {"uid": 1000, "gid": 100}, "args": ["/bin/app", "--serve"],
                    "env": ["PATH=/bin", "A=b"], "cwd": "/srv"},
    });
    std::fs::write(tmp.path().join("config.json"), cfg.to_string()).expect("config");
    let img = open(
        &format!("bundle:{}", tmp.path().display()),
        &OpenOptions::default(),
    )
    .expect("bundle");
    assert_eq!(
        img.spec.entrypoint,
        Some(vec!["/bin/app".to_string(), "--serve".into()])
    );
    assert_eq!(img.spec.cmd, None);
    assert_eq!(img.spec.env, vec!["PATH=/bin", "A=b"]);
    assert_eq!(img.spec.user.as_deref(), Some("1000:100"));
    assert_eq!(img.spec.workdir.as_deref(), Some("/srv"));
    assert_eq!(img.vfs.read("/bin/app", 64).expect("read"), b"\x7fELF");
    let missing = open(
        &format!("bundle:{}", tmp.path().join("nope").display()),
        &OpenOptions::default(),
    )
    .expect_err("no bundle");
    assert!(
        missing.to_string().contains("nope/config.json"),
        "{missing}"
    );
}

/// Every (dev, ino) under `root`, not following symlinks.
fn inodes(root: &Path, out: &mut HashSet<(u64, u64)>) {
    let m = std::fs::symlink_metadata(root).expect("lstat");
    out.insert((m.dev(), m.ino()));
    if m.is_dir() {
        for e in std::fs::read_dir(root).expect("read_dir").flatten() {
            inodes(&e.path(), out);
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn component() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".into()),
            Just("..".into()),
            Just(".".into()),
            Just("c".into())
        ]
    }

    fn target() -> impl Strategy<Value = String> {
        (any::<bool>(), proptest::collection::vec(component(), 1..6))
            .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
    }

    #[derive(Debug, Clone)]
    enum Node {
        Dir,
        File,
        Link(String),
    }

    fn tree() -> impl Strategy<Value = Vec<(Vec<String>, Node)>> {
        let name = prop_oneof![Just("a".to_string()), Just("b".into()), Just("c".into())];
        let node = prop_oneof![
            Just(Node::Dir),
            Just(Node::File),
            target().prop_map(Node::Link)
        ];
        proptest::collection::vec((proptest::collection::vec(name, 1..4), node), 1..25)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn resolution_never_leaves_the_rootfs(nodes in tree(), queries in proptest::collection::vec(target(), 1..12)) {
            let tmp = tempfile::tempdir().expect("tempdir");
            std::fs::write(tmp.path().join("a"), MARKER).expect("host decoy");
            std::fs::write(tmp.path().join("c"), MARKER).expect("host decoy");
            let root = tmp.path().join("root");
            std::fs::create_dir(&root).expect("root");
            for (parts, node) in &nodes {
                let p = root.join(parts.join("/"));
                if std::fs::symlink_metadata(&p).is_ok() || !p.parent().is_some_and(Path::is_dir) {
                    continue;
                }
                match node {
                    Node::Dir => std::fs::create_dir(&p).expect("dir"),
                    Node::File => std::fs::write(&p, b"inside").expect("file"),
                    Node::Link(t) => symlink(t, &p).expect("symlink"),
                }
            }
            let mut inside = HashSet::new();
            inodes(&root, &mut inside);
            let v = RootfsVfs::open(&root).expect("open");
            for q in &queries {
                match v.resolve(q, "/", true) {
                    Ok(p) => {
                        if let Some(id) = v.file_id(&p).expect("file_id") {
                            prop_assert!(inside.contains(&id), "{q} resolved to {p}, outside the root");
                        }
                        if let Ok(body) = v.read(&p, 1024) {
                            prop_assert_eq!(body, b"inside".to_vec());
                        }
                    }
                    Err(e) => prop_assert!(matches!(e, VfsError::NotFound { .. } | VfsError::NotADirectory { .. } | VfsError::SymlinkLoop { .. }), "{}: {}", q, e),
                }
            }
        }
    }
}
