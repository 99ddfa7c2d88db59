//! PE probe: Windows executables, managed (.NET) assemblies and .NET single-file bundles.
//!
//! Parses the DOS, COFF and optional headers with goblin from a bounded head of the file; a
//! non-empty CLI header data directory (index 14, `IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR`)
//! marks a managed assembly, and the bundle signature (see [`super::elf::DOTNET_BUNDLE_SIGNATURE`])
//! anywhere in the probe budget marks a single-file bundle. It does not read imports,
//! resources or metadata tables.

use goblin::pe::header::Header;

use super::elf::DOTNET_BUNDLE_SIGNATURE;
use super::reader::RangeReader;
use crate::vfs::VfsError;

/// What the PE probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeInfo {
    /// Has a CLI header: a managed .NET assembly.
    pub managed: bool,
    pub dotnet_bundle: bool,
    pub evidence: Vec<String>,
}

/// Probes the PE file behind `r`. Header errors become evidence, not failures.
pub fn probe_pe(r: &mut RangeReader<'_>) -> Result<PeInfo, VfsError> {
    let head = r.read(0, 64 << 10)?;
    let mut info = PeInfo::default();
    match Header::parse(&head) {
        Ok(h) => {
            info.evidence.push(format!(
                "PE machine 0x{:04x}, {} sections",
                h.coff_header.machine, h.coff_header.number_of_sections
            ));
            let clr = h
                .optional_header
                .as_ref()
                .and_then(|o| o.data_directories.get_clr_runtime_header().copied());
            if clr.is_some_and(|d| d.virtual_address != 0 && d.size != 0) {
                info.managed = true;
                info.evidence
                    .push("CLI header: managed .NET assembly".into());
            }
        }
        Err(e) => info.evidence.push(format!("unparseable PE: {e}")),
    }
    if r.find(&DOTNET_BUNDLE_SIGNATURE, 0, u64::MAX)?.is_some() {
        info.dotnet_bundle = true;
        info.evidence
            .push(".NET single-file bundle signature".into());
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    /// A minimal PE32+ header with no sections; `clr` sets the CLI header directory.
    fn tiny_pe(clr: Option<(u32, u32)>) -> Vec<u8> {
        let mut b = vec![0u8; 0x40];
        b[0] = b'M';
        b[1] = b'Z';
        b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b.extend(b"PE\0\0");
        b.extend(0x8664u16.to_le_bytes()); // machine: x86-64
        b.extend(0u16.to_le_bytes()); // sections
        b.extend([0u8; 12]); // timestamp, symbol table, symbol count
        b.extend(240u16.to_le_bytes()); // size of optional header
        b.extend(0x22u16.to_le_bytes()); // characteristics
        let opt_start = b.len();
        b.extend(0x20bu16.to_le_bytes()); // PE32+
        b.resize(opt_start + 108, 0);
        b.extend(16u32.to_le_bytes()); // number of data directories
        for i in 0..16 {
            let (va, size) = if i == 14 {
                clr.unwrap_or((0, 0))
            } else {
                (0, 0)
            };
            b.extend(va.to_le_bytes());
            b.extend(size.to_le_bytes());
        }
        b.resize(1024, 0);
        b
    }

    fn probe(body: &[u8]) -> PeInfo {
        let mut v = MemVfs::new();
        v.add_file("/app.exe", 0o755, body);
        let mut r = RangeReader::new(&v, "/app.exe", body.len() as u64, 1 << 20);
        probe_pe(&mut r).expect("probe")
    }

    #[test]
    fn a_cli_header_marks_a_managed_assembly() {
        let managed = probe(&tiny_pe(Some((0x2000, 0x48))));
        assert!(managed.managed, "{:?}", managed.evidence);
        assert!(
            managed.evidence[0].starts_with("PE machine 0x8664"),
            "{:?}",
            managed.evidence
        );
        let native = probe(&tiny_pe(None));
        assert!(!native.managed, "{:?}", native.evidence);
        assert!(!native.dotnet_bundle);
    }

    #[test]
    fn the_bundle_signature_marks_a_single_file_bundle() {
        let mut body = tiny_pe(None);
        body.extend(DOTNET_BUNDLE_SIGNATURE);
        let info = probe(&body);
        assert!(info.dotnet_bundle && !info.managed, "{:?}", info.evidence);
    }
}
