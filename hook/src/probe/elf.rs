//! ELF probe: how a binary is linked and what it was written in, from a bounded read.
//!
//! Reads the file header, program headers and section headers with goblin's parsers, then
//! only the pieces it needs through a [`RangeReader`]: `PT_INTERP` (glibc's `ld-linux*` or
//! musl's `ld-musl*`), `PT_DYNAMIC` with its string table (`DT_NEEDED`), `.comment` (the
//! compiler), `.go.buildinfo` (see [`super::go`]), Rust markers (a `.rustc` section, `rustc`
//! in `.comment`, `/rustc/` or `library/core/src/` panic paths in `.rodata`,
//! `rust_begin_unwind` in `.strtab`) and the .NET single-file bundle signature in `.data`.
//! Headers that lie (offsets past the end, absurd counts) make the probe return an
//! [`ElfError`] or skip a piece, never panic. It does not read DWARF, relocate, or parse
//! symbol tables beyond a string search.

use goblin::container::{Container, Ctx};
use goblin::elf::program_header::{ProgramHeader, PT_DYNAMIC, PT_INTERP, PT_LOAD};
use goblin::elf::section_header::SectionHeader;
use goblin::elf::Elf;

use super::go::{parse_buildinfo, GoBuildInfo, BUILDINFO_MAGIC};
use super::reader::{find_bytes, RangeReader};
use crate::vfs::VfsError;

/// The signature the .NET host looks for to find a single-file bundle's manifest.
pub const DOTNET_BUNDLE_SIGNATURE: [u8; 32] = [
    0x8b, 0x12, 0x02, 0xb9, 0x6a, 0x61, 0x20, 0x38, 0x72, 0x7b, 0x93, 0x02, 0x14, 0xd7, 0xa0, 0x32,
    0x13, 0xf5, 0xb9, 0xe6, 0xef, 0xae, 0x33, 0x18, 0xee, 0x3b, 0x2d, 0xce, 0x24, 0xb3, 0x6a, 0xae,
];

/// The most header or table bytes read for one piece.
const MAX_TABLE: u64 = 1 << 20;

/// The most bytes of one section searched for a marker string (keeps the hook fast on
/// large binaries; markers sit early in `.rodata`/`.strtab` in practice).
const MAX_SCAN: u64 = 8 << 20;

/// Which C library a binary is linked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libc {
    Glibc,
    Musl,
    Unknown,
}

/// What the ELF probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `PT_INTERP`; `None` for a static binary.
    pub interpreter: Option<String>,
    pub libc: Libc,
    /// `DT_NEEDED` libraries, in order.
    pub needed: Vec<String>,
    pub go: Option<GoBuildInfo>,
    /// Which Rust markers were seen (empty: none).
    pub rust_markers: Vec<String>,
    pub dotnet_bundle: bool,
    /// Why the headers could not be parsed (the kernel would refuse it too).
    pub parse_error: Option<String>,
    /// Human-readable findings, in the order found.
    pub evidence: Vec<String>,
}

/// Why an ELF file could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("{path}: unparseable ELF: {reason}")]
    Unparseable { path: String, reason: String },
    #[error(transparent)]
    Read(#[from] VfsError),
}

struct Sections {
    headers: Vec<SectionHeader>,
    names: Vec<String>,
}

impl Sections {
    fn find(&self, name: &str) -> Option<&SectionHeader> {
        let i = self.names.iter().position(|n| n == name)?;
        self.headers.get(i)
    }
}

/// Probes the ELF file behind `r`.
pub fn probe_elf(r: &mut RangeReader<'_>) -> Result<ElfInfo, ElfError> {
    let (header, ctx, phdrs) = read_headers(r)?;
    let container = ctx.container;
    let mut info = ElfInfo {
        interpreter: None,
        libc: Libc::Unknown,
        needed: Vec::new(),
        go: None,
        rust_markers: Vec::new(),
        dotnet_bundle: false,
        parse_error: None,
        evidence: vec![format!(
            "ELF {}-bit",
            if container == Container::Big { 64 } else { 32 }
        )],
    };
    check_truncation(r.size(), &phdrs, &mut info);
    link_info(r, &phdrs, ctx, &mut info)?;
    let sections = read_sections(r, &header, ctx).unwrap_or_else(|reason| {
        info.evidence
            .push(format!("section headers unreadable: {reason}"));
        Sections {
            headers: Vec::new(),
            names: Vec::new(),
        }
    });
    if info.interpreter.is_none() && sections.find(".note.ABI-tag").is_some() {
        info.libc = Libc::Glibc;
        info.evidence.push("static, .note.ABI-tag (glibc)".into());
    }
    if let Some(c) = section_text(r, sections.find(".comment"), 4096)? {
        info.evidence
            .push(format!("compiler: {}", c.replace('\0', "; ")));
        if c.contains("rustc version") {
            info.rust_markers.push(".comment names rustc".into());
        }
    }
    info.go = go_buildinfo(r, &sections, &phdrs)?;
    if let Some(go) = &info.go {
        info.evidence.push(go_evidence(go));
    } else {
        rust_markers(r, &sections, &mut info)?;
    }
    if let Some(data) = sections.find(".data") {
        let (off, len) = (data.sh_offset, data.sh_size.min(MAX_SCAN));
        if r.find(&DOTNET_BUNDLE_SIGNATURE, off, len)?.is_some() {
            info.dotnet_bundle = true;
            info.evidence
                .push(".NET single-file bundle signature".into());
        }
    }
    if r.exhausted() {
        info.evidence
            .push("probe read budget exhausted: findings partial".into());
    }
    Ok(info)
}

/// The file header, its parsing context and the program headers.
fn read_headers(
    r: &mut RangeReader<'_>,
) -> Result<(goblin::elf::Header, Ctx, Vec<ProgramHeader>), ElfError> {
    let bad = |r: &RangeReader<'_>, reason: String| ElfError::Unparseable {
        path: r.path().to_string(),
        reason,
    };
    let head = r.read(0, 64)?;
    let header = Elf::parse_header(&head).map_err(|e| bad(r, e.to_string()))?;
    let container = header.container().map_err(|e| bad(r, e.to_string()))?;
    let endian = header.endianness().map_err(|e| bad(r, e.to_string()))?;
    let ctx = Ctx::new(container, endian);
    let ph_len = u64::from(header.e_phnum) * u64::from(header.e_phentsize);
    let ph_bytes = r.read(header.e_phoff, ph_len.min(MAX_TABLE))?;
    let phdrs = ProgramHeader::parse(&ph_bytes, 0, usize::from(header.e_phnum), ctx)
        .map_err(|e| bad(r, format!("program headers: {e}")))?;
    Ok((header, ctx, phdrs))
}

/// A `PT_LOAD` segment past the end of the file: the kernel would map nothing there.
fn check_truncation(size: u64, phdrs: &[ProgramHeader], info: &mut ElfInfo) {
    if let Some(p) = phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.p_offset.saturating_add(p.p_filesz) > size)
    {
        let why = format!(
            "truncated: a PT_LOAD segment ends at byte {} of a {}-byte file",
            p.p_offset.saturating_add(p.p_filesz),
            size
        );
        info.evidence.push(why.clone());
        info.parse_error = Some(why);
    }
}

fn link_info(
    r: &mut RangeReader<'_>,
    phdrs: &[ProgramHeader],
    ctx: Ctx,
    info: &mut ElfInfo,
) -> Result<(), VfsError> {
    if let Some(p) = phdrs.iter().find(|p| p.p_type == PT_INTERP) {
        let bytes = r.read(p.p_offset, p.p_filesz.min(4096))?;
        let interp = String::from_utf8_lossy(bytes.split(|b| *b == 0).next().unwrap_or(&[]));
        info.libc = if interp.contains("ld-musl") {
            Libc::Musl
        } else if interp.contains("ld-linux") || interp.contains("ld64.so") {
            Libc::Glibc
        } else {
            Libc::Unknown
        };
        info.evidence.push(format!("dynamic, PT_INTERP {interp}"));
        info.interpreter = Some(interp.into_owned());
    }
    let Some(dynamic) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
        if info.interpreter.is_none() {
            info.evidence
                .push("static (no PT_INTERP, no PT_DYNAMIC)".into());
        }
        return Ok(());
    };
    if info.interpreter.is_none() {
        info.evidence
            .push("static-pie (PT_DYNAMIC, no PT_INTERP)".into());
    }
    let bytes = r.read(dynamic.p_offset, dynamic.p_filesz.min(MAX_TABLE))?;
    let entries = dynamic_entries(&bytes, ctx);
    let strtab = entries.iter().find(|(t, _)| *t == 5).map(|e| e.1);
    let strsz = entries.iter().find(|(t, _)| *t == 10).map_or(0, |e| e.1);
    let Some(off) = strtab.and_then(|va| vaddr_to_offset(phdrs, va)) else {
        return Ok(());
    };
    let strings = r.read(off, strsz.min(MAX_TABLE))?;
    for (_, val) in entries.iter().filter(|(t, _)| *t == 1) {
        if let Some(name) = cstr_at(&strings, *val) {
            info.needed.push(name);
        }
    }
    if !info.needed.is_empty() {
        info.evidence
            .push(format!("DT_NEEDED {}", info.needed.join(", ")));
    }
    Ok(())
}

/// `(d_tag, d_val)` pairs up to `DT_NULL`.
fn dynamic_entries(bytes: &[u8], ctx: Ctx) -> Vec<(u64, u64)> {
    let word = if ctx.container == Container::Big {
        8
    } else {
        4
    };
    let big = ctx.le == goblin::container::Endian::Big;
    let read = |b: &[u8]| -> u64 {
        let mut v = 0u64;
        let ordered: Vec<u8> = if big {
            b.to_vec()
        } else {
            b.iter().rev().copied().collect()
        };
        for byte in ordered {
            v = (v << 8) | u64::from(byte);
        }
        v
    };
    bytes
        .chunks_exact(2 * word)
        .map(|e| (read(&e[..word]), read(&e[word..])))
        .take_while(|(tag, _)| *tag != 0)
        .collect()
}

/// The file offset of virtual address `va`, through the `PT_LOAD` segments.
pub(crate) fn vaddr_to_offset(phdrs: &[ProgramHeader], va: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .find(|p| va >= p.p_vaddr && va - p.p_vaddr < p.p_filesz)
        .and_then(|p| p.p_offset.checked_add(va - p.p_vaddr))
}

fn cstr_at(strings: &[u8], at: u64) -> Option<String> {
    let rest = strings.get(usize::try_from(at).ok()?..)?;
    let s = rest.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(s).into_owned())
}

fn read_sections(
    r: &mut RangeReader<'_>,
    header: &goblin::elf::Header,
    ctx: Ctx,
) -> Result<Sections, String> {
    if header.e_shoff == 0 {
        return Ok(Sections {
            headers: Vec::new(),
            names: Vec::new(),
        });
    }
    let len = u64::from(header.e_shnum.max(1)) * u64::from(header.e_shentsize);
    let bytes = r
        .read(header.e_shoff, len.min(MAX_TABLE))
        .map_err(|e| e.to_string())?;
    let headers = SectionHeader::parse_from(&bytes, 0, usize::from(header.e_shnum), ctx)
        .map_err(|e| e.to_string())?;
    let strtab = match headers.get(usize::from(header.e_shstrndx)) {
        Some(s) => r
            .read(s.sh_offset, s.sh_size.min(MAX_TABLE))
            .map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let names = headers
        .iter()
        .map(|h| cstr_at(&strtab, h.sh_name as u64).unwrap_or_default())
        .collect();
    Ok(Sections { headers, names })
}

fn section_text(
    r: &mut RangeReader<'_>,
    section: Option<&SectionHeader>,
    max: u64,
) -> Result<Option<String>, VfsError> {
    let Some(s) = section else { return Ok(None) };
    let bytes = r.read(s.sh_offset, s.sh_size.min(max))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(text.trim_matches('\0').to_string()))
}

fn go_buildinfo(
    r: &mut RangeReader<'_>,
    sections: &Sections,
    phdrs: &[ProgramHeader],
) -> Result<Option<GoBuildInfo>, VfsError> {
    let at = match sections.find(".go.buildinfo") {
        Some(s) => Some(s.sh_offset),
        // No section headers: Go puts the blob at the start of the writable data segment.
        None if sections.headers.is_empty() => {
            let data = phdrs.iter().find(|p| p.p_type == PT_LOAD && p.is_write());
            match data {
                Some(p) => r.find(BUILDINFO_MAGIC, p.p_offset, p.p_filesz.min(MAX_TABLE))?,
                None => None,
            }
        }
        None => None,
    };
    let Some(at) = at else { return Ok(None) };
    let blob = r.read(at, 64 << 10)?;
    let mut read_va = |va: u64, len: u64| -> Option<Vec<u8>> {
        let off = vaddr_to_offset(phdrs, va)?;
        r.read(off, len).ok()
    };
    Ok(parse_buildinfo(&blob, &mut read_va))
}

fn go_evidence(go: &GoBuildInfo) -> String {
    let mut s = format!("Go build info: {}", go.version);
    if let Some((m, v)) = &go.main_module {
        s.push_str(&format!(", main module {m} {v}"));
    }
    if let Some(p) = &go.path {
        s.push_str(&format!(", path {p}"));
    }
    s
}

fn rust_markers(
    r: &mut RangeReader<'_>,
    sections: &Sections,
    info: &mut ElfInfo,
) -> Result<(), VfsError> {
    if sections.find(".rustc").is_some() {
        info.rust_markers.push(".rustc section".into());
    }
    // Stripped distribution builds remap `/rustc/<hash>/` away but keep the standard
    // library's panic locations (`library/core/src/…`) in `.rodata`.
    let probes: [(&str, &[u8]); 4] = [
        (".strtab", b"rust_begin_unwind"),
        (".dynstr", b"rust_begin_unwind"),
        (".rodata", b"/rustc/"),
        (".rodata", b"library/core/src/"),
    ];
    for (name, needle) in probes {
        if !info.rust_markers.is_empty() {
            break;
        }
        if let Some(s) = sections.find(name) {
            if r.find(needle, s.sh_offset, s.sh_size.min(MAX_SCAN))?
                .is_some()
            {
                let what = String::from_utf8_lossy(needle);
                info.rust_markers.push(format!("{what} in {name}"));
            }
        }
    }
    if !info.rust_markers.is_empty() {
        info.evidence
            .push(format!("Rust markers: {}", info.rust_markers.join(", ")));
    }
    Ok(())
}

/// True when `bytes` holds the .NET bundle signature (for callers holding a buffer).
pub fn has_bundle_signature(bytes: &[u8]) -> bool {
    find_bytes(bytes, &DOTNET_BUNDLE_SIGNATURE).is_some()
}
