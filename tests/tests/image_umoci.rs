//! Differential test: the merged view of generated multi-layer images agrees with what
//! `umoci raw unpack` extracts from the same OCI layout — paths, kinds, modes, symlink targets
//! and file contents. Images come from a seeded generator that keeps every layer valid
//! (parents exist, each path touched once per layer) while mixing files replaced across
//! layers, whiteouts, opaque dirs, hard links, symlinks and fifos/devices.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use entrytrace::image::{open, OpenOptions};
use entrytrace::vfs::{FileKind, Vfs};
use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use entrytrace_tests::{is_root, require_tool, run_ok};

/// path → (kind, mode, symlink target or file body).
type Snapshot = BTreeMap<String, (String, u32, Vec<u8>)>;

fn snapshot_vfs(v: &dyn Vfs, dir: &str, out: &mut Snapshot) {
    for name in v.read_dir(dir).expect("read_dir") {
        let p = if dir == "/" {
            format!("/{name}")
        } else {
            format!("{dir}/{name}")
        };
        let m = v.lstat(&p).expect("lstat").expect("listed entry exists");
        let (mode, data) = match m.kind {
            FileKind::Symlink => (0, v.read_link(&p).expect("readlink").into_bytes()),
            FileKind::File => (m.mode, v.read_range(&p, 0, 1 << 20).expect("read")),
            _ => (m.mode, Vec::new()),
        };
        out.insert(p.clone(), (format!("{:?}", m.kind), mode, data));
        if m.kind == FileKind::Dir {
            snapshot_vfs(v, &p, out);
        }
    }
}

fn snapshot_disk(root: &Path, dir: &Path, out: &mut Snapshot) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = e.path();
        let m = std::fs::symlink_metadata(&path).expect("lstat");
        let ft = m.file_type();
        let rel = format!(
            "/{}",
            path.strip_prefix(root).expect("under root").display()
        );
        let (kind, mode, data) = if ft.is_symlink() {
            (
                FileKind::Symlink,
                0,
                std::fs::read_link(&path)
                    .expect("readlink")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
        } else if ft.is_file() {
            (
                FileKind::File,
                m.mode() & 0o7777,
                std::fs::read(&path).expect("read"),
            )
        } else if ft.is_dir() {
            (FileKind::Dir, m.mode() & 0o7777, Vec::new())
        } else if ft.is_fifo() {
            (FileKind::Fifo, m.mode() & 0o7777, Vec::new())
        } else if ft.is_char_device() {
            (FileKind::CharDevice, m.mode() & 0o7777, Vec::new())
        } else {
            (FileKind::BlockDevice, m.mode() & 0o7777, Vec::new())
        };
        out.insert(rel, (format!("{kind:?}"), mode, data));
        if ft.is_dir() {
            snapshot_disk(root, &path, out);
        }
    }
}

/// Compares our merged view of `image` with umoci's extraction of it.
fn agree_with_umoci(image: &Image, what: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = tmp.path().join("layout");
    image.write_oci(&layout).expect("write oci");
    let rootfs = tmp.path().join("rootfs");
    let mut cmd = Command::new("umoci");
    cmd.args(["raw", "unpack"]);
    if !is_root() {
        cmd.arg("--rootless");
    }
    cmd.arg("--image")
        .arg(format!("{}:{}", layout.display(), image.tag))
        .arg(&rootfs);
    run_ok(&mut cmd).expect("umoci raw unpack");
    let mut theirs = Snapshot::new();
    snapshot_disk(&rootfs, &rootfs, &mut theirs);
    let img = open(
        &format!("oci:{}:{}", layout.display(), image.tag),
        &OpenOptions::default(),
    )
    .expect("open");
    let mut ours = Snapshot::new();
    snapshot_vfs(img.vfs.as_ref(), "/", &mut ours);
    let all: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let diff: Vec<String> = all
        .into_iter()
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| format!("{k}: ours {:?} umoci {:?}", ours.get(k), theirs.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "{what}: merged view differs from umoci:\n{}\nimage: {image:#?}",
        diff.join("\n")
    );
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        (!v.is_empty()).then(|| &v[(self.next() % v.len() as u64) as usize])
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Dir,
    Other,
}

fn under(p: &str, dir: &str) -> bool {
    p.starts_with(&format!("{dir}/"))
}

/// A random valid image of `layers` layers from `seed`.
fn random_image(seed: u64, layers: usize, devices: bool) -> Image {
    let mut rng = Rng(seed | 1);
    let mut model: BTreeMap<String, Kind> = BTreeMap::new();
    let mut out = Vec::new();
    for n in 0..layers {
        let lower = model.clone();
        let mut touched: Vec<String> = Vec::new();
        let mut files_here: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        for _ in 0..(4 + rng.next() % 10) {
            let op = rng.next() % 12;
            let lower_paths: Vec<&String> =
                lower.keys().filter(|p| model.contains_key(*p)).collect();
            let free = |p: &str, touched: &[String]| {
                !touched.iter().any(|t| t == p || under(t, p) || under(p, t))
            };
            if n > 0 && op == 0 {
                if let Some(p) = rng
                    .pick(&lower_paths)
                    .map(|p| p.to_string())
                    .filter(|p| free(p, &touched))
                {
                    model.retain(|k, _| k != &p && !under(k, &p));
                    entries.push(Entry::whiteout(p.trim_start_matches('/')));
                    touched.push(p);
                }
                continue;
            }
            if n > 0 && op == 1 {
                let dirs: Vec<&&String> = lower_paths
                    .iter()
                    .filter(|p| lower[**p] == Kind::Dir)
                    .collect();
                if let Some(d) = rng
                    .pick(&dirs)
                    .map(|d| d.to_string())
                    .filter(|d| free(d, &touched))
                {
                    model.retain(|k, _| !under(k, &d));
                    entries.push(Entry::opaque(d.trim_start_matches('/')));
                    touched.push(d);
                }
                continue;
            }
            let dirs: Vec<String> = std::iter::once(String::new())
                .chain(
                    model
                        .iter()
                        .filter(|(_, k)| **k == Kind::Dir)
                        .map(|(p, _)| p.clone()),
                )
                .collect();
            let parent = rng.pick(&dirs).cloned().unwrap_or_default();
            let name = *rng.pick(&["a", "b", "c", "d", "bin"]).unwrap_or(&"a");
            let path = format!("{parent}/{name}");
            if touched.iter().any(|t| t == &path || under(t, &path)) {
                continue;
            }
            let rel = path.trim_start_matches('/').to_string();
            let mode = *rng
                .pick(&[0o644, 0o755, 0o600, 0o700, 0o4755])
                .unwrap_or(&0o644);
            let (entry, kind) = match rng.next() % 7 {
                0 | 1 => (
                    Entry::Dir {
                        path: rel.clone(),
                        mode: mode & 0o755 | 0o700,
                    },
                    Kind::Dir,
                ),
                2 | 3 => {
                    files_here.push(rel.clone());
                    (
                        Entry::file(
                            &rel,
                            mode,
                            format!("{rel} in layer {n} #{}", rng.next() % 1000).as_bytes(),
                        ),
                        Kind::Other,
                    )
                }
                4 => (
                    Entry::symlink(
                        &rel,
                        rng.pick(&["a", "../b", "/c/d", ".", "bin/sh"])
                            .unwrap_or(&"a"),
                    ),
                    Kind::Other,
                ),
                5 => match rng.pick(&files_here).cloned() {
                    Some(target) if target != rel => (Entry::hardlink(&rel, &target), Kind::Other),
                    _ => continue,
                },
                _ if devices => (
                    Entry::Device {
                        path: rel.clone(),
                        block: rng.next() & 1 == 0,
                    },
                    Kind::Other,
                ),
                _ => (Entry::Fifo { path: rel.clone() }, Kind::Other),
            };
            if kind == Kind::Other || model.get(&path) != Some(&Kind::Dir) {
                model.retain(|k, _| !under(k, &path));
            }
            model.insert(path.clone(), kind);
            touched.push(path);
            entries.push(entry);
        }
        let compression = if rng.next() & 1 == 0 {
            Compression::Gzip
        } else {
            Compression::None
        };
        out.push(Layer::new(compression, entries));
    }
    Image::new(out)
}

#[test]
fn merged_view_of_a_hand_written_image_agrees_with_umoci() {
    if !require_tool("umoci") {
        return;
    }
    let l1 = Layer::new(
        Compression::Gzip,
        vec![
            Entry::dir("usr"),
            Entry::dir("usr/bin"),
            Entry::file("usr/bin/app", 0o755, b"v1"),
            Entry::file("docker-entrypoint.sh", 0o755, b"#!/bin/sh\nexec \"$@\"\n"),
            Entry::dir("etc"),
            Entry::file("etc/a", 0o644, b"a"),
            Entry::dir("etc/sub"),
            Entry::file("etc/sub/x", 0o600, b"x"),
            Entry::symlink("bin", "usr/bin"),
        ],
    );
    let l2 = Layer::new(
        Compression::None,
        vec![
            Entry::file("usr/bin/app", 0o750, b"v2"),
            Entry::hardlink("usr/bin/app2", "usr/bin/app"),
            Entry::whiteout("docker-entrypoint.sh"),
            Entry::opaque("etc"),
            Entry::file("etc/b", 0o644, b"b"),
            Entry::Fifo {
                path: "etc/fifo".into(),
            },
        ],
    );
    agree_with_umoci(&Image::new(vec![l1, l2]), "hand-written image");
}

#[test]
fn merged_views_of_seeded_random_images_agree_with_umoci() {
    if !require_tool("umoci") {
        return;
    }
    let mut seen = BTreeSet::new();
    for seed in 1..=24u64 {
        let image = random_image(
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            2 + (seed % 3) as usize,
            is_root(),
        );
        for e in image.layers.iter().flat_map(|l| &l.entries) {
            seen.insert(
                format!("{e:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        agree_with_umoci(&image, &format!("seed {seed}"));
    }
    for kind in ["Whiteout", "Opaque", "HardLink", "Symlink", "File", "Dir"] {
        assert!(
            seen.contains(kind),
            "the generator never produced a {kind}: {seen:?}"
        );
    }
}
