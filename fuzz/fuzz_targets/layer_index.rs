//! Feeds arbitrary bytes to the layer indexer as one layer (as stored: plain tar, gzip or
//! zstd, sniffed), then checks invariants of the merged view: every indexed path is absolute
//! and lexically normal, and every resolution — of every path, following symlinks — stays a
//! normal absolute path inside the image (or fails with a VFS error), and bounded reads never
//! return more than asked. Panics are findings, as are violated invariants.

#![no_main]

use std::io::Write;
use std::sync::Arc;

use entrytrace::vfs::layer_index::{LayerSource, Verify};
use entrytrace::vfs::layered::LayeredVfs;
use entrytrace::vfs::{normalize, Vfs};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write layer");
    let hex = hex::encode(Sha256::digest(data));
    let src = LayerSource {
        digest: format!("sha256:{hex}"),
        file: Arc::from(file.path()),
        offset: 0,
        size: data.len() as u64,
        verify: Verify::Blob(hex),
    };
    let Ok((vfs, _diagnostics)) = LayeredVfs::build(vec![src], 100_000) else {
        return;
    };
    let paths: Vec<String> = vfs.paths().map(str::to_string).collect();
    for p in &paths {
        assert!(p.starts_with('/'), "indexed path {p:?} is not absolute");
        assert_eq!(&normalize(p, "/"), p, "indexed path {p:?} is not normal");
        for target in [p.as_str(), &format!("{p}/../../..")] {
            if let Ok(r) = vfs.resolve(target, "/", true) {
                assert_eq!(normalize(&r, "/"), r, "{target:?} resolved to non-normal {r:?}");
                if let Ok(body) = vfs.read_range(&r, 0, 4096) {
                    assert!(body.len() <= 4096, "read_range returned more than asked");
                }
            }
        }
    }
});
