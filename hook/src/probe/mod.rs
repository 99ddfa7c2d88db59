//! Probes: what a file in the image is, and how to find it — the low-level primitives of the
//! static reducer (static seed §3).
//!
//! [`path`] resolves a command word the way `execvp` and runc do (PATH walk, execute bit,
//! relative names against the working directory); [`probe_file`] classifies a file by its
//! first bytes — ELF ([`elf`], with [`go`] build info), PE ([`pe`]), a `#!` script
//! ([`shebang`]) — and [`runtime`] names the language family; [`detect`] and its detectors
//! ([`jvm`], [`dotnet`], [`python`], [`node`], [`ruby`], [`server`], over [`zip`]) find what
//! a language host or a server runs and where it listens. Every read is bounded by
//! `limits.max_probe_bytes` through [`reader::RangeReader`]; hostile or truncated files give
//! evidence such as "unparseable ELF: …", never a panic. Probes report findings; they do not
//! decide what the container runs (that is `reduce`).

pub mod detect;
pub mod dotnet;
pub mod elf;
pub mod go;
pub mod jvm;
pub mod node;
pub mod path;
pub mod pe;
pub mod python;
pub mod reader;
pub mod ruby;
pub mod runtime;
pub mod server;
pub mod shebang;
pub mod zip;

use entrytrace_config::Limits;

use crate::vfs::{Vfs, VfsError};
use elf::{ElfError, ElfInfo};
use pe::PeInfo;
use reader::RangeReader;
use shebang::{Shebang, ShebangError};

/// How much of a file's head is read to classify it (more than the kernel's 256-byte
/// `#!` buffer, so an over-long line is recognised as such).
const HEAD_BYTES: u64 = 512;

/// A file's executable format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// An ELF binary (possibly unparseable: see the probe's evidence).
    Elf(ElfInfo),
    Pe(PeInfo),
    /// A `#!` script.
    Script(Shebang),
    /// Starts with `#!` but the kernel would refuse it.
    BadScript(ShebangError),
    /// No format the kernel execs (ENOEXEC).
    Unknown,
}

/// The result of probing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The real path probed.
    pub path: String,
    pub format: Format,
    /// Findings, for the result's evidence.
    pub evidence: Vec<String>,
}

impl FileProbe {
    /// An ELF or PE binary (parseable or not).
    pub fn is_binary(&self) -> bool {
        matches!(self.format, Format::Elf(_) | Format::Pe(_))
    }

    /// An ELF whose headers parse, or a PE: something a loader would take.
    pub fn is_loadable(&self) -> bool {
        match &self.format {
            Format::Elf(e) => e.parse_error.is_none(),
            Format::Pe(_) => true,
            _ => false,
        }
    }
}

/// Classifies the regular file at the real path `path` (as resolved) of `size` bytes.
pub fn probe_file(
    vfs: &dyn Vfs,
    path: &str,
    size: u64,
    limits: &Limits,
) -> Result<FileProbe, VfsError> {
    let mut r = RangeReader::new(vfs, path, size, limits.max_probe_bytes);
    let head = r.read(0, HEAD_BYTES)?;
    let mut evidence = Vec::new();
    let format = if head.starts_with(b"\x7fELF") {
        match elf::probe_elf(&mut r) {
            Ok(info) => {
                evidence.extend(info.evidence.iter().cloned());
                Format::Elf(info)
            }
            Err(ElfError::Unparseable { reason, .. }) => {
                evidence.push(format!("unparseable ELF: {reason}"));
                Format::Elf(ElfInfo::unparsed(reason))
            }
            Err(ElfError::Read(e)) => return Err(e),
        }
    } else if head.starts_with(b"MZ") {
        let info = pe::probe_pe(&mut r)?;
        evidence.extend(info.evidence.iter().cloned());
        Format::Pe(info)
    } else {
        match shebang::parse_shebang(&head) {
            Ok(Some(s)) => {
                evidence.push(format!(
                    "#!{}{}",
                    s.interpreter,
                    s.arg.as_ref().map_or(String::new(), |a| format!(" {a}"))
                ));
                Format::Script(s)
            }
            Ok(None) => {
                evidence.push("no ELF, PE or #! header: exec format error".into());
                Format::Unknown
            }
            Err(e) => {
                evidence.push(format!("bad #! line: {e}"));
                Format::BadScript(e)
            }
        }
    };
    Ok(FileProbe {
        path: path.to_string(),
        format,
        evidence,
    })
}

impl ElfInfo {
    /// An ELF whose headers could not be read, and why.
    pub fn unparsed(reason: String) -> Self {
        Self {
            interpreter: None,
            libc: elf::Libc::Unknown,
            needed: Vec::new(),
            go: None,
            rust_markers: Vec::new(),
            dotnet_bundle: false,
            parse_error: Some(reason),
            evidence: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::vfs::mem::MemVfs;

    fn probe_host(host: &str) -> Option<FileProbe> {
        if !Path::new(host).exists() {
            eprintln!("skipped: host file {host} missing (scripts/setup.sh installs it)");
            return None;
        }
        let mut v = MemVfs::new();
        v.add_host_file("/bin/x", Path::new(host), 0o755)
            .expect("read host file");
        Some(probe_bytes_of(&v))
    }

    fn probe_bytes_of(v: &MemVfs) -> FileProbe {
        let size = v.lstat("/bin/x").expect("lstat").expect("exists").size;
        probe_file(v, "/bin/x", size, &Limits::default()).expect("probe")
    }

    fn probe_bytes(body: &[u8]) -> FileProbe {
        let mut v = MemVfs::new();
        v.add_file("/bin/x", 0o755, body);
        probe_bytes_of(&v)
    }

    fn elf(p: &FileProbe) -> &ElfInfo {
        match &p.format {
            Format::Elf(e) => e,
            other => panic!("expected ELF, got {other:?}"),
        }
    }

    #[test]
    fn a_glibc_dynamic_binary_names_its_loader_and_libraries() {
        let Some(p) = probe_host("/bin/true") else {
            return;
        };
        let e = elf(&p);
        assert_eq!(e.libc, elf::Libc::Glibc, "{:?}", p.evidence);
        assert!(e
            .interpreter
            .as_deref()
            .is_some_and(|i| i.contains("ld-linux")));
        assert!(e.needed.iter().any(|n| n == "libc.so.6"), "{:?}", e.needed);
        assert_eq!(runtime::family(&p, "true").0, "c");
    }

    #[test]
    fn a_static_busybox_is_static_glibc_c() {
        let Some(p) = probe_host("/bin/busybox") else {
            return;
        };
        let e = elf(&p);
        assert_eq!(e.interpreter, None);
        assert!(e.needed.is_empty());
        assert!(
            p.evidence.iter().any(|s| s.starts_with("static")),
            "{:?}",
            p.evidence
        );
        assert_eq!(runtime::family(&p, "sh").0, "shell");
        assert_eq!(runtime::family(&p, "busybox").0, "c");
    }

    #[test]
    fn go_binaries_give_their_go_version_and_main_package() {
        for host in ["/usr/sbin/runc", "/usr/bin/umoci"] {
            let Some(p) = probe_host(host) else { continue };
            let go = elf(&p).go.clone().expect("go build info");
            assert!(go.version.starts_with("go1."), "{host}: {}", go.version);
            let main = go
                .main_module
                .map(|m| m.0)
                .or(go.path)
                .expect("main module or path");
            assert!(
                main.starts_with("github.com/opencontainers/"),
                "{host}: {main}"
            );
            assert_eq!(runtime::family(&p, host).0, "go");
        }
    }

    #[test]
    fn go_build_info_is_found_without_section_headers() {
        let Ok(mut body) = std::fs::read("/usr/sbin/runc") else {
            eprintln!("skipped: /usr/sbin/runc missing (scripts/setup.sh installs runc)");
            return;
        };
        body[0x28..0x30].fill(0); // e_shoff
        body[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
        let p = probe_bytes(&body);
        let go = elf(&p)
            .go
            .clone()
            .expect("go build info from the data segment");
        assert!(go.version.starts_with("go1."), "{}", go.version);
    }

    #[test]
    fn a_rust_binary_shows_rust_markers() {
        let me = std::env::current_exe().expect("test binary");
        let Some(p) = probe_host(&me.to_string_lossy()) else {
            return;
        };
        assert!(!elf(&p).rust_markers.is_empty(), "{:?}", p.evidence);
        assert_eq!(runtime::family(&p, "x").0, "rust");
    }

    #[test]
    fn musl_binaries_are_told_from_glibc_ones() {
        let Some(dir) = compile_with_musl() else {
            return;
        };
        let Some(p) = probe_host(&dir.path().join("hello").to_string_lossy()) else {
            return;
        };
        assert_eq!(elf(&p).libc, elf::Libc::Musl, "{:?}", p.evidence);
        assert!(
            p.evidence.iter().any(|e| e.contains("ld-musl")),
            "{:?}",
            p.evidence
        );
        let Some(p) = probe_host(&dir.path().join("hello-static").to_string_lossy()) else {
            return;
        };
        assert_eq!(elf(&p).interpreter, None);
        assert_ne!(elf(&p).libc, elf::Libc::Glibc, "{:?}", p.evidence);
    }

    fn compile_with_musl() -> Option<tempfile::TempDir> {
        let have = std::process::Command::new("musl-gcc")
            .arg("--version")
            .output();
        if have.is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI requires musl-gcc (musl-tools)"
            );
            eprintln!("skipped: needs musl-gcc (apt-get install musl-tools)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("hello.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").expect("write source");
        for (out, extra) in [("hello", None), ("hello-static", Some("-static"))] {
            let mut cmd = std::process::Command::new("musl-gcc");
            cmd.arg("-o")
                .arg(dir.path().join(out))
                .arg(&src)
                .args(extra);
            let status = cmd.status().expect("run musl-gcc");
            assert!(status.success(), "musl-gcc {out} failed");
        }
        Some(dir)
    }

    #[test]
    fn truncated_and_corrupt_elf_files_never_panic() {
        let Ok(body) = std::fs::read("/bin/true") else {
            eprintln!("skipped: /bin/true missing");
            return;
        };
        for len in [4, 16, 40, 63, 64, 65, 100, 200, 1000, 4096, body.len() / 2] {
            let p = probe_bytes(&body[..len.min(body.len())]);
            assert!(p.is_binary(), "{len}");
            assert!(!p.is_loadable(), "{len}: {:?}", p.evidence);
            if len < 64 {
                assert!(
                    p.evidence.iter().any(|e| e.starts_with("unparseable ELF")),
                    "{len}: {:?}",
                    p.evidence
                );
            }
        }
        for at in (4..64).chain([0x40, 0x48, 0x50, 0x1000]) {
            for value in [0x00, 0x7f, 0xff] {
                let mut bad = body.clone();
                if let Some(b) = bad.get_mut(at) {
                    *b = value;
                }
                assert!(probe_bytes(&bad).is_binary(), "byte {at} = {value}");
            }
        }
    }

    #[test]
    fn scripts_pe_and_unknown_files_are_classified_by_their_head() {
        let script = probe_bytes(b"#!/usr/bin/env python3\nprint(1)\n");
        assert!(matches!(&script.format, Format::Script(s) if s.interpreter == "/usr/bin/env"));
        let bad = probe_bytes(b"#!\n");
        assert!(matches!(
            bad.format,
            Format::BadScript(ShebangError::NoInterpreter)
        ));
        let text = probe_bytes(b"just text\n");
        assert_eq!(text.format, Format::Unknown);
        let mut pe = b"MZ".to_vec();
        pe.resize(256, 0);
        pe.extend(elf::DOTNET_BUNDLE_SIGNATURE);
        let p = probe_bytes(&pe);
        match &p.format {
            Format::Pe(info) => {
                assert!(info.dotnet_bundle);
                assert!(info
                    .evidence
                    .iter()
                    .any(|e| e.starts_with("unparseable PE")));
            }
            other => panic!("expected PE, got {other:?}"),
        }
        assert_eq!(runtime::family(&p, "app.exe").0, "dotnet");
    }

    proptest::proptest! {
        #[test]
        fn probing_arbitrary_bytes_never_panics_and_classifies_by_magic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            prefix in 0usize..3,
        ) {
            let mut b = [&b""[..], b"\x7fELF\x02\x01\x01", b"MZ"][prefix].to_vec();
            b.extend(body);
            let p = probe_bytes(&b);
            proptest::prop_assert_eq!(
                p.is_binary(),
                b.starts_with(b"\x7fELF") || b.starts_with(b"MZ")
            );
        }

        #[test]
        fn lying_elf_headers_never_panic(
            edits in proptest::collection::vec((0usize..184, proptest::num::u8::ANY), 1..12),
        ) {
            let mut v = MemVfs::new();
            v.add_tiny_elf("/t", 0o755, Some("/lib/ld-musl-x86_64.so.1"));
            let mut body = v.read("/t", 1 << 20).expect("read");
            for (at, value) in edits {
                if let Some(b) = body.get_mut(at.max(4)) {
                    *b = value;
                }
            }
            proptest::prop_assert!(probe_bytes(&body).is_binary());
        }
    }
}
