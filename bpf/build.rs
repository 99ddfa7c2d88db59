//! Compiles `src/bpf/exectrace.bpf.c` with clang (CO-RE, `-target bpf`) and generates its
//! libbpf-rs skeleton into `OUT_DIR` (the object is kept there too: `btfcache` hands it to
//! `bpftool gen min_core_btf`), where `src/skel.rs` `include!`s it. Nothing generated is
//! committed. Needs `clang` (14 or later) on PATH, or `CLANG` naming one.

use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/exectrace.bpf.c";

fn main() {
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = dir.join("exectrace.skel.rs");
    let mut builder = SkeletonBuilder::new();
    builder
        .source(SRC)
        .obj(dir.join("exectrace.bpf.o"))
        .clang_args(["-Wall", "-Wno-unused-function", "-Isrc/bpf"]);
    if let Some(clang) = std::env::var_os("CLANG") {
        builder.clang(clang);
    }
    if let Err(err) = builder.build_and_generate(&out) {
        panic!("building {SRC} failed (is clang installed? scripts/setup.sh installs it): {err:#}");
    }
    for f in ["exectrace.bpf.c", "exectrace.h", "vmlinux.h"] {
        println!("cargo:rerun-if-changed=src/bpf/{f}");
    }
    println!("cargo:rerun-if-env-changed=CLANG");
}
