//! `image::open` on generated images: layer merging (whiteouts, opaque dirs, hard links),
//! every source format and compression, config conversion, and hostile or broken input.

use entrytrace::image::{open, ImageError, LoadedImage, OpenOptions};
use entrytrace::vfs::{FileKind, VfsError};
use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use serde_json::json;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy)]
enum Format {
    Oci,
    OciArchive,
    DockerArchive,
    DockerOciArchive,
}

/// Writes `image` in `format` and opens it; the TempDir must outlive reads (they are lazy).
fn load(
    image: &Image,
    format: Format,
    opts: &OpenOptions,
) -> (TempDir, Result<LoadedImage, ImageError>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = match format {
        Format::Oci => {
            let dir = tmp.path().join("layout");
            image.write_oci(&dir).expect("write oci");
            format!("oci:{}:{}", dir.display(), image.tag)
        }
        Format::OciArchive => {
            let p = tmp.path().join("image.tar");
            image.write_oci_archive(&p).expect("write oci-archive");
            format!("oci-archive:{}", p.display())
        }
        Format::DockerArchive => {
            let p = tmp.path().join("docker.tar");
            image
                .write_docker_archive(&p)
                .expect("write docker-archive");
            format!("docker-archive:{}", p.display())
        }
        Format::DockerOciArchive => {
            let p = tmp.path().join("docker-oci.tar");
            image
                .write_docker_oci_archive(&p)
                .expect("write docker-archive (OCI form)");
            format!(
                "docker-archive:{}:localhost/test:{}",
                p.display(),
                image.tag
            )
        }
    };
    let loaded = open(&source, opts);
    (tmp, loaded)
}

fn merge_case(c: Compression) -> Image {
    let l1 = Layer::new(
        c,
        vec![
            Entry::dir("usr"),
            Entry::dir("usr/bin"),
            Entry::file("usr/bin/app", 0o755, b"v1"),
            Entry::file("entry.sh", 0o755, b"#!/bin/sh\nexec app\n"),
            Entry::dir("etc"),
            Entry::file("etc/a", 0o644, b"a"),
            Entry::file("etc/b", 0o644, b"b"),
            Entry::dir("data"),
            Entry::file("data/x", 0o644, b"x"),
            Entry::file("lib", 0o644, b"lib was a file"),
        ],
    );
    let l2 = Layer::new(
        c,
        vec![
            Entry::file("usr/bin/app", 0o700, b"v2"),
            Entry::whiteout("entry.sh"),
            Entry::opaque("etc"),
            Entry::dir("etc"),
            Entry::file("etc/c", 0o600, b"c"),
            Entry::hardlink("usr/bin/app-link", "usr/bin/app"),
            Entry::symlink("bin", "usr/bin"),
            Entry::whiteout("data"),
            Entry::dir("lib"),
            Entry::file("lib/libc.so", 0o755, b"ELF"),
        ],
    );
    Image::new(vec![l1, l2])
}

#[test]
fn merges_whiteouts_opaque_dirs_and_hard_links_in_every_format_and_compression() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        for f in [
            Format::Oci,
            Format::OciArchive,
            Format::DockerArchive,
            Format::DockerOciArchive,
        ] {
            let (_tmp, img) = load(&merge_case(c), f, &OpenOptions::default());
            let img = img.unwrap_or_else(|e| panic!("{c:?} {f:?}: {e:#}"));
            let v = &img.vfs;
            let ctx = format!("{c:?} {f:?}");
            assert_eq!(v.read("/usr/bin/app", 1024).expect("app"), b"v2", "{ctx}");
            assert_eq!(
                v.lstat("/usr/bin/app").expect("lstat").map(|m| m.mode),
                Some(0o700),
                "{ctx}"
            );
            assert_eq!(
                v.read("/usr/bin/app-link", 1024).expect("hard link"),
                b"v2",
                "{ctx}"
            );
            assert_eq!(
                v.read("/bin/app", 1024).expect("via symlink"),
                b"v2",
                "{ctx}"
            );
            assert_eq!(
                v.lstat("/entry.sh").expect("lstat"),
                None,
                "deleted script, {ctx}"
            );
            assert_eq!(
                v.read_dir("/etc").expect("etc"),
                vec!["c"],
                "opaque dir, {ctx}"
            );
            assert_eq!(
                v.lstat("/data").expect("lstat"),
                None,
                "whited-out dir, {ctx}"
            );
            assert_eq!(
                v.lstat("/data/x").expect("lstat"),
                None,
                "child of whited-out dir, {ctx}"
            );
            assert_eq!(
                v.read("/lib/libc.so", 1024).expect("file replaced by dir"),
                b"ELF",
                "{ctx}"
            );
            assert!(img.diagnostics.is_empty(), "{ctx}: {:?}", img.diagnostics);
        }
    }
}

#[test]
fn converts_the_image_config_into_the_spec() {
    let mut image = Image::new(vec![Layer::new(Compression::Gzip, vec![Entry::dir("app")])]);
    image.config = json!({
        "Entrypoint": ["/usr/bin/tini", "--"], "Cmd": ["python", "app.py"],
        "Env": ["PATH=/usr/bin:/bin", "A=1"], "User": "app:app", "WorkingDir": "/app",
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}, "Labels": {"k": "v"},
        "Shell": ["/bin/bash", "-c"],
    });
    let (_tmp, img) = load(&image, Format::Oci, &OpenOptions::default());
    let spec = img.expect("opens").spec;
    assert_eq!(
        spec.entrypoint,
        Some(vec!["/usr/bin/tini".to_string(), "--".into()])
    );
    assert_eq!(spec.cmd, Some(vec!["python".to_string(), "app.py".into()]));
    assert_eq!(spec.env, vec!["PATH=/usr/bin:/bin", "A=1"]);
    assert_eq!(spec.user.as_deref(), Some("app:app"));
    assert_eq!(spec.workdir.as_deref(), Some("/app"));
    assert_eq!(spec.exposed_ports, vec!["53/udp", "8080/tcp"]);
    assert_eq!(spec.labels.get("k").map(String::as_str), Some("v"));
    assert_eq!(spec.shell, vec!["/bin/bash", "-c"]);
    assert_eq!((spec.os.as_str(), spec.arch.as_str()), ("linux", "amd64"));
}

#[test]
fn picks_the_image_by_tag_and_names_the_tags_it_has() {
    let image = Image {
        tag: "v1".into(),
        ..merge_case(Compression::Gzip)
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    image.write_oci(tmp.path()).expect("write");
    let opts = OpenOptions::default();
    assert!(open(&format!("oci:{}:v1", tmp.path().display()), &opts).is_ok());
    assert!(
        open(&format!("oci:{}", tmp.path().display()), &opts).is_ok(),
        "the only image"
    );
    let err = open(&format!("oci:{}:v2", tmp.path().display()), &opts).expect_err("no such tag");
    assert!(
        err.to_string()
            .contains("no image tagged \"v2\" (tags: v1)"),
        "{err}"
    );
}

#[test]
fn hostile_entries_are_skipped_with_diagnostics_and_links_stay_in_the_image() {
    let layer = Layer::new(
        Compression::Gzip,
        vec![
            Entry::Raw {
                name: b"../../escape".to_vec(),
                claimed_size: 1,
                body: b"x".to_vec(),
            },
            Entry::Raw {
                name: b"/abs".to_vec(),
                claimed_size: 1,
                body: b"y".to_vec(),
            },
            Entry::Raw {
                name: b"ok/../../up".to_vec(),
                claimed_size: 1,
                body: b"z".to_vec(),
            },
            Entry::dir("etc"),
            Entry::symlink("shadow", "/etc/shadow"),
            Entry::symlink("up", "../../../../etc/passwd"),
            Entry::file("etc/passwd", 0o644, b"image passwd"),
            Entry::symlink("loop1", "loop2"),
            Entry::symlink("loop2", "loop1"),
            Entry::symlink("parent", "/etc"),
            Entry::Device {
                path: "dev-null".into(),
                block: false,
            },
            Entry::Device {
                path: "disk".into(),
                block: true,
            },
            Entry::Fifo {
                path: "fifo".into(),
            },
        ],
    );
    let (_tmp, img) = load(
        &Image::new(vec![layer]),
        Format::Oci,
        &OpenOptions::default(),
    );
    let img = img.expect("opens");
    let v = &img.vfs;
    let diags = img
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "\"../../escape\" skipped: name contains `..`",
        "\"/abs\" skipped: absolute name",
        "\"ok/../../up\" skipped",
    ] {
        assert!(diags.contains(needle), "missing {needle:?} in {diags}");
    }
    assert_eq!(
        v.read_dir("/").expect("root"),
        vec!["dev-null", "disk", "etc", "fifo", "loop1", "loop2", "parent", "shadow", "up"]
    );
    assert!(
        matches!(v.read("/shadow", 1024), Err(VfsError::NotFound { .. })),
        "image has no /etc/shadow"
    );
    assert_eq!(
        v.read("/up", 1024).expect("clamped at root"),
        b"image passwd"
    );
    assert_eq!(
        v.read("/parent/passwd", 1024).expect("symlinked parent"),
        b"image passwd"
    );
    assert!(matches!(
        v.read("/loop1", 1024),
        Err(VfsError::SymlinkLoop { limit: 40, .. })
    ));
    for (path, kind) in [
        ("/dev-null", FileKind::CharDevice),
        ("/disk", FileKind::BlockDevice),
        ("/fifo", FileKind::Fifo),
    ] {
        let err = v
            .read(path, 1024)
            .expect_err("special files are never read");
        assert!(
            matches!(err, VfsError::NotRegular { kind: k, .. } if k == kind),
            "{path}: {err}"
        );
    }
}

#[test]
fn a_broken_layer_is_a_diagnostic_naming_it_and_the_rest_stays_usable() {
    let big = Entry::Raw {
        name: b"huge".to_vec(),
        claimed_size: 10 << 30,
        body: b"tiny".to_vec(),
    };
    let good = Layer::new(Compression::Gzip, vec![Entry::file("good", 0o644, b"fine")]);
    let truncated = Layer {
        truncate_to: Some(40),
        ..Layer::new(
            Compression::Gzip,
            vec![Entry::file("t", 0o644, &[7u8; 4096])],
        )
    };
    let claims_10_gib = Layer::new(Compression::None, vec![big]);
    for (bad, why) in [
        (truncated, "truncated gzip"),
        (claims_10_gib, "10 GiB size claim"),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let written = Image::new(vec![good.clone(), bad.clone()])
            .write_oci(tmp.path())
            .expect("write");
        let img = open(
            &format!("oci:{}", tmp.path().display()),
            &OpenOptions::default(),
        )
        .expect(why);
        let bad_digest = &written.layer_digests[1];
        assert!(
            img.diagnostics
                .iter()
                .any(|d| d.message.contains(&format!("layer {bad_digest} skipped"))),
            "{why}: {:?}",
            img.diagnostics
        );
        assert_eq!(
            img.vfs.read("/good", 64).expect("good layer"),
            b"fine",
            "{why}"
        );
        let only_bad = tempfile::tempdir().expect("tempdir");
        Image::new(vec![bad])
            .write_oci(only_bad.path())
            .expect("write");
        let err = open(
            &format!("oci:{}", only_bad.path().display()),
            &OpenOptions::default(),
        )
        .expect_err(why);
        assert!(
            err.to_string()
                .starts_with("no usable layer: layer sha256:"),
            "{why}: {err}"
        );
    }
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let written = merge_case(Compression::Gzip)
        .write_oci(tmp.path())
        .expect("write");
    for (digest, what) in [
        (&written.layer_digests[0], "layer"),
        (&written.config_digest, "config"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        merge_case(Compression::Gzip)
            .write_oci(dir.path())
            .expect("write");
        let blob = dir.path().join("blobs/sha256").join(&digest[7..]);
        let mut bytes = std::fs::read(&blob).expect("blob");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&blob, bytes).expect("tamper");
        let err = open(
            &format!("oci:{}", dir.path().display()),
            &OpenOptions::default(),
        )
        .expect_err(what);
        let msg = err.to_string();
        assert!(
            msg.contains(&digest[7..]) && msg.contains("digest mismatch"),
            "{what}: {msg}"
        );
    }
}

#[test]
fn refuses_registry_sources_unknown_transports_and_too_many_entries() {
    let err = open(
        "docker://docker.io/library/alpine:3",
        &OpenOptions::default(),
    )
    .expect_err("registry");
    assert!(
        err.to_string()
            .contains("skopeo copy docker://docker.io/library/alpine:3 oci:DIR:tag"),
        "{err}"
    );
    let err = open("ftp:/x", &OpenOptions::default()).expect_err("unknown");
    assert!(matches!(err, ImageError::UnknownSource { .. }), "{err}");
    let mut opts = OpenOptions::default();
    opts.limits.max_entries = 5;
    let (_tmp, r) = load(&merge_case(Compression::Zstd), Format::Oci, &opts);
    let err = r.expect_err("over the entry limit");
    assert!(err.to_string().contains("more than 5 entries"), "{err}");
}

#[test]
fn reads_are_capped_and_ranges_are_exact() {
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let layer = Layer::new(Compression::Zstd, vec![Entry::file("big", 0o644, &body)]);
    let (_tmp, img) = load(
        &Image::new(vec![layer]),
        Format::OciArchive,
        &OpenOptions::default(),
    );
    let v = img.expect("opens").vfs;
    assert!(matches!(
        v.read("/big", 1000),
        Err(VfsError::TooLarge { size: 100_000, .. })
    ));
    assert_eq!(
        v.read_range("/big", 99_990, 1 << 20).expect("tail"),
        &body[99_990..]
    );
    assert_eq!(v.read_range("/big", 5, 10).expect("middle"), &body[5..15]);
    assert!(v
        .read_range("/big", 200_000, 10)
        .expect("past the end")
        .is_empty());
}

mod properties {
    use super::*;
    use entrytrace::vfs::normalize;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = String> {
        let comp = prop_oneof![Just("a"), Just("b"), Just(".."), Just("."), Just("c")];
        (any::<bool>(), proptest::collection::vec(comp, 1..6))
            .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
    }

    fn entry() -> impl Strategy<Value = Entry> {
        let path = proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 1..4)
            .prop_map(|p| p.join("/"));
        prop_oneof![
            path.clone().prop_map(|p| Entry::dir(&p)),
            path.clone().prop_map(|p| Entry::file(&p, 0o644, b"inside")),
            (path, target()).prop_map(|(p, t)| Entry::symlink(&p, &t)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn layered_resolution_stays_normal_and_inside_the_image(
            layers in proptest::collection::vec(proptest::collection::vec(entry(), 1..12), 1..3),
            queries in proptest::collection::vec(target(), 1..10),
        ) {
            let image = Image::new(layers.into_iter().map(|e| Layer::new(Compression::Gzip, e)).collect());
            let (_tmp, img) = load(&image, Format::Oci, &OpenOptions::default());
            let img = img.expect("opens");
            for q in &queries {
                match img.vfs.resolve(q, "/", true) {
                    Ok(p) => {
                        prop_assert_eq!(normalize(&p, "/"), p.clone(), "{} resolved to a non-normal path", q);
                        let parent = p.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
                        let pm = img.vfs.lstat(parent).expect("lstat parent");
                        prop_assert_eq!(pm.map(|m| m.kind), Some(FileKind::Dir), "{} -> {}: parent is not a directory", q, p);
                        if let Ok(body) = img.vfs.read(&p, 1024) {
                            prop_assert_eq!(body, b"inside".to_vec());
                        }
                    }
                    Err(e) => prop_assert!(matches!(e, VfsError::NotFound { .. } | VfsError::NotADirectory { .. } | VfsError::SymlinkLoop { .. }), "{}: {}", q, e),
                }
            }
        }
    }
}
