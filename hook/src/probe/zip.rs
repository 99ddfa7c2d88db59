//! A bounded reader of zip archives (JAR, WAR) inside an image: the entry names from the
//! central directory, and the bytes of one small entry such as `META-INF/MANIFEST.MF`.
//!
//! It reads through [`RangeReader`] (APPNOTE 6.3, §4.3): the end-of-central-directory record
//! from the file's tail (with the zip64 locator when the 32-bit fields are saturated), then
//! the central directory, then one local header and its data, stored or deflated. A jar of
//! hundreds of megabytes costs only its directory and the entry asked for. Every size read
//! from the archive is checked against a cap before use: the directory against
//! `limits.max_metadata_bytes` and `limits.max_entries`, an entry's inflated bytes against the
//! caller's cap (a zip bomb stops at the cap and is reported). Entry names are compared as
//! strings and never become host or image paths. It does not handle encryption, multi-disk
//! archives or methods other than stored and deflate; it does not verify CRCs.
//!
//! Why not the `zip` crate: it reads through one `Read + Seek` handle and loads the whole
//! central directory into its own structures with no cap of ours; the jar checks need two
//! records of it, bounded by the image limits and read through the root-confined VFS.

use std::collections::HashMap;
use std::io::Read;

use entrytrace_config::Limits;

use super::reader::RangeReader;
use crate::vfs::{Vfs, VfsError};

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
/// The end record (22 bytes) plus the longest comment.
const TAIL: u64 = 22 + 0xffff;

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("{path}: not a zip archive: {reason}")]
    NotZip { path: String, reason: String },
    #[error("{path}: entry {entry}: {reason}")]
    Entry {
        path: String,
        entry: String,
        reason: String,
    },
    #[error(transparent)]
    Read(#[from] VfsError),
}

/// Where one entry's data lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntryInfo {
    method: u16,
    compressed: u64,
    size: u64,
    local_offset: u64,
}

/// The central directory of one archive.
#[derive(Debug)]
pub struct ZipIndex<'a> {
    reader: RangeReader<'a>,
    path: &'a str,
    entries: HashMap<String, EntryInfo>,
    /// Bytes of the central directory read.
    directory_bytes: u64,
}

impl<'a> ZipIndex<'a> {
    /// Reads the directory of the archive at the real path `path` of `size` bytes.
    pub fn open(
        vfs: &'a dyn Vfs,
        path: &'a str,
        size: u64,
        limits: &Limits,
    ) -> Result<Self, ZipError> {
        let budget = limits.max_metadata_bytes.saturating_mul(2) + TAIL;
        let mut reader = RangeReader::new(vfs, path, size, budget);
        let not_zip = |reason: &str| ZipError::NotZip {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let start = size.saturating_sub(TAIL);
        let tail = reader.read(start, TAIL)?;
        let at = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| u32_at(&tail, i) == Some(EOCD_SIG))
            .ok_or_else(|| not_zip("no end of central directory record"))?;
        let (mut count, mut cd_size, mut cd_offset) = (
            u64::from(u16_at(&tail, at + 10).unwrap_or(0)),
            u64::from(u32_at(&tail, at + 12).unwrap_or(0)),
            u64::from(u32_at(&tail, at + 16).unwrap_or(0)),
        );
        if cd_offset == 0xffff_ffff || cd_size == 0xffff_ffff || count == 0xffff {
            (count, cd_size, cd_offset) = zip64_directory(&mut reader, &tail, at, start)
                .ok_or_else(|| not_zip("saturated end record without a valid zip64 record"))?;
        }
        if cd_size > limits.max_metadata_bytes || count > limits.max_entries {
            return Err(not_zip(&format!(
                "central directory of {cd_size} bytes and {count} entries is over the limits"
            )));
        }
        let dir = reader.read(cd_offset, cd_size)?;
        if (dir.len() as u64) < cd_size {
            return Err(not_zip("central directory lies past the end of the file"));
        }
        let entries = parse_directory(&dir, count).ok_or_else(|| not_zip("bad directory"))?;
        Ok(Self {
            reader,
            path,
            entries,
            directory_bytes: cd_size,
        })
    }

    /// How many bytes of central directory were read to open it.
    pub fn directory_bytes(&self) -> u64 {
        self.directory_bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an entry of exactly this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The inflated bytes of entry `name`, refusing more than `cap` bytes.
    pub fn read(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, ZipError> {
        let err = |reason: String| ZipError::Entry {
            path: self.path.to_string(),
            entry: name.to_string(),
            reason,
        };
        let e = *self
            .entries
            .get(name)
            .ok_or_else(|| err("no such entry".into()))?;
        if e.size > cap {
            return Err(err(format!("{} bytes is over the cap of {cap}", e.size)));
        }
        let head = self.reader.read(e.local_offset, 30)?;
        if u32_at(&head, 0) != Some(LOCAL_SIG) {
            return Err(err("no local header at its offset".into()));
        }
        let skip = 30
            + u64::from(u16_at(&head, 26).unwrap_or(0))
            + u64::from(u16_at(&head, 28).unwrap_or(0));
        // Deflate never expands by more than about 1032:1; a larger claim is a lie, and the
        // compressed read itself is capped like the output.
        let raw = self.reader.read(
            e.local_offset + skip,
            e.compressed.min(cap.saturating_mul(2) + 1024),
        )?;
        let out = match e.method {
            0 => raw,
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(raw.as_slice())
                    .take(cap + 1)
                    .read_to_end(&mut out)
                    .map_err(|x| err(format!("cannot inflate: {x}")))?;
                out
            }
            m => return Err(err(format!("compression method {m} is not supported"))),
        };
        if out.len() as u64 > cap {
            return Err(err(format!("inflates past the cap of {cap} bytes")));
        }
        Ok(out)
    }
}

/// `(entries, directory size, directory offset)` from the zip64 end record.
fn zip64_directory(
    reader: &mut RangeReader<'_>,
    tail: &[u8],
    eocd_at: usize,
    tail_start: u64,
) -> Option<(u64, u64, u64)> {
    let loc = eocd_at.checked_sub(20)?;
    if u32_at(tail, loc)? != ZIP64_LOCATOR_SIG {
        return None;
    }
    let rec_offset = u64_at(tail, loc + 8)?;
    let rec = if rec_offset >= tail_start {
        tail.get(usize::try_from(rec_offset - tail_start).ok()?..)?
            .to_vec()
    } else {
        reader.read(rec_offset, 56).ok()?
    };
    if u32_at(&rec, 0)? != ZIP64_EOCD_SIG {
        return None;
    }
    Some((u64_at(&rec, 32)?, u64_at(&rec, 40)?, u64_at(&rec, 48)?))
}

fn parse_directory(dir: &[u8], count: u64) -> Option<HashMap<String, EntryInfo>> {
    let mut entries = HashMap::new();
    let mut at = 0usize;
    for _ in 0..count {
        if u32_at(dir, at)? != CENTRAL_SIG {
            return None;
        }
        let name_len = usize::from(u16_at(dir, at + 28)?);
        let extra_len = usize::from(u16_at(dir, at + 30)?);
        let comment_len = usize::from(u16_at(dir, at + 32)?);
        let name = dir.get(at + 46..at + 46 + name_len)?;
        let extra = dir.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
        let mut e = EntryInfo {
            method: u16_at(dir, at + 10)?,
            compressed: u64::from(u32_at(dir, at + 20)?),
            size: u64::from(u32_at(dir, at + 24)?),
            local_offset: u64::from(u32_at(dir, at + 42)?),
        };
        apply_zip64_extra(&mut e, extra);
        entries.insert(String::from_utf8_lossy(name).into_owned(), e);
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(entries)
}

/// Replaces saturated 32-bit fields with the zip64 extra field's values (APPNOTE 4.5.3).
fn apply_zip64_extra(e: &mut EntryInfo, extra: &[u8]) {
    let mut at = 0;
    while let (Some(id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let body = extra.get(at + 4..at + 4 + usize::from(len)).unwrap_or(&[]);
        if id == 1 {
            let mut i = 0;
            for field in [&mut e.size, &mut e.compressed, &mut e.local_offset] {
                if *field == 0xffff_ffff {
                    if let Some(v) = u64_at(body, i) {
                        *field = v;
                        i += 8;
                    }
                }
            }
        }
        at += 4 + usize::from(len);
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;
    use crate::vfs::mem::MemVfs;

    /// A zip of `(name, body, deflate)` entries, built by hand as APPNOTE lays it out.
    pub(crate) fn build_zip(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let (mut out, mut central) = (Vec::new(), Vec::new());
        for (name, body, deflate) in files {
            let data = if *deflate {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(body).expect("deflate");
                enc.finish().expect("deflate")
            } else {
                body.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            let fixed = |sig: u32, central: bool| {
                let mut h = sig.to_le_bytes().to_vec();
                if central {
                    h.extend(20u16.to_le_bytes());
                }
                h.extend(20u16.to_le_bytes());
                h.extend(0u16.to_le_bytes());
                h.extend(method.to_le_bytes());
                h.extend([0u8; 8]); // time, date, crc
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((body.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h.extend(0u16.to_le_bytes());
                if central {
                    h.extend([0u8; 10]); // comment, disk, internal and external attrs
                    h.extend(offset.to_le_bytes());
                }
                h.extend(name.as_bytes());
                h
            };
            let local = fixed(LOCAL_SIG, false);
            central.extend(fixed(CENTRAL_SIG, true));
            out.extend(local);
            out.extend(&data);
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn open_bytes(body: &[u8], f: impl FnOnce(Result<ZipIndex<'_>, ZipError>)) {
        let mut v = MemVfs::new();
        v.add_file("/a.jar", 0o644, body);
        f(ZipIndex::open(
            &v,
            "/a.jar",
            body.len() as u64,
            &Limits::default(),
        ));
    }

    #[test]
    fn lists_entries_and_reads_stored_and_deflated_ones() {
        let manifest = b"Manifest-Version: 1.0\r\nMain-Class: a.Main\r\n";
        let zip = build_zip(&[
            ("META-INF/MANIFEST.MF", manifest, true),
            ("a/Main.class", b"\xca\xfe\xba\xbe", false),
        ]);
        open_bytes(&zip, |z| {
            let mut z = z.expect("open");
            assert_eq!(z.len(), 2);
            assert!(z.contains("a/Main.class"));
            assert!(!z.contains("a/Other.class"));
            assert_eq!(
                z.read("META-INF/MANIFEST.MF", 1024).expect("read"),
                manifest
            );
            assert_eq!(
                z.read("a/Main.class", 4).expect("read"),
                b"\xca\xfe\xba\xbe"
            );
        });
    }

    #[test]
    fn a_zip_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 4 << 20];
        let zip = build_zip(&[("bomb", &zeros, true)]);
        assert!(zip.len() < 64 << 10, "compressed to {}", zip.len());
        // Lie about the inflated size so the cap must hold during inflation.
        let mut lying = zip.clone();
        let cd = lying.len() - 22 - (46 + 4);
        lying[cd + 24..cd + 28].copy_from_slice(&10u32.to_le_bytes());
        open_bytes(&lying, |z| {
            let err = z.expect("open").read("bomb", 4096).expect_err("capped");
            assert!(err.to_string().contains("past the cap"), "{err}");
        });
        open_bytes(&zip, |z| {
            let err = z.expect("open").read("bomb", 4096).expect_err("capped");
            assert!(err.to_string().contains("over the cap"), "{err}");
        });
    }

    #[test]
    fn files_that_are_not_zips_say_why() {
        for (body, why) in [
            (&b""[..], "no end of central directory"),
            (b"PK\x03\x04 truncated", "no end of central directory"),
            (
                b"PK\x05\x06\0\0\0\0\x01\0\x01\0\xff\0\0\0\0\0\0\0\0\0",
                "past the end",
            ),
            (
                b"PK\x05\x06\0\0\0\0\x01\0\x01\0\0\0\0\0\0\0\0\0\0\0",
                "bad directory",
            ),
        ] {
            open_bytes(body, |z| {
                let e = z.expect_err("not a zip").to_string();
                assert!(e.contains(why), "{e}");
                assert!(e.starts_with("/a.jar: "), "{e}");
            });
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_and_mutated_archives_never_panic(
            edits in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 0..16),
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let mut zip = build_zip(&[
                ("META-INF/MANIFEST.MF", b"Main-Class: a.Main\n", true),
                ("a/Main.class", b"\xca\xfe", false),
            ]);
            let n = zip.len();
            for (at, v) in edits {
                zip[at % n] = v;
            }
            for body in [zip, junk] {
                open_bytes(&body, |z| {
                    if let Ok(mut z) = z {
                        let _ = z.read("META-INF/MANIFEST.MF", 1 << 16);
                        let _ = z.read("a/Main.class", 1 << 16);
                    }
                });
            }
        }
    }
}
