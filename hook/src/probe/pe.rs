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
