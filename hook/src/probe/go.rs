//! Go build information: the `.go.buildinfo` blob every Go binary since 1.13 carries.
//!
//! Layout (Go's `debug/buildinfo`): a 32-byte header — the magic `\xff Go buildinf:` (14
//! bytes), the pointer size (1 byte), flags (1 byte; bit 0 big-endian, bit 1 "inline
//! strings") — then, with inline strings (Go 1.18+), two varint-length-prefixed strings: the
//! Go version and the module info. Without it (older Go), two pointers at offset 16 point to
//! Go string headers (data pointer, length) that must be read at virtual addresses; the
//! caller supplies that read. The module info is framed by 16-byte sentinels and holds lines
//! `path\tPKG`, `mod\tPATH\tVERSION\tSUM`, `dep\t...`, `build\t...`. This module parses
//! bytes; it does not locate the blob nor read files.

/// The magic that starts the build-info blob.
pub const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// The largest string accepted from a pointer-format blob.
const MAX_STRING: u64 = 64 << 10;

/// What a Go binary says about how it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// `go1.21.5`.
    pub version: String,
    /// The main package path (`path` line), when present.
    pub path: Option<String>,
    /// The main module (`mod` line): path and version.
    pub main_module: Option<(String, String)>,
}

/// Parses the blob at `blob` (starting with the magic). `read_va(addr, len)` reads bytes at a
/// virtual address, for the pre-1.18 pointer format. `None` when it is not a valid blob.
pub fn parse_buildinfo(
    blob: &[u8],
    read_va: &mut dyn FnMut(u64, u64) -> Option<Vec<u8>>,
) -> Option<GoBuildInfo> {
    if blob.len() < 32 || !blob.starts_with(BUILDINFO_MAGIC) {
        return None;
    }
    let ptr_size = usize::from(blob[14]);
    let flags = blob[15];
    let big_endian = flags & 1 != 0;
    let (version, modinfo) = if flags & 2 != 0 {
        let mut at = 32;
        let version = read_varint_bytes(blob, &mut at)?;
        let modinfo = read_varint_bytes(blob, &mut at).unwrap_or_default();
        (version, modinfo)
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let word = |at: usize| read_word(blob.get(at..at + ptr_size)?, big_endian);
        let version = read_go_string(word(16)?, ptr_size, big_endian, read_va)?;
        let modinfo = word(16 + ptr_size)
            .and_then(|p| read_go_string(p, ptr_size, big_endian, read_va))
            .unwrap_or_default();
        (version, modinfo)
    };
    let version = String::from_utf8_lossy(&version).into_owned();
    if !version.starts_with("go") && !version.starts_with("devel") {
        return None;
    }
    let mut info = GoBuildInfo {
        version,
        ..GoBuildInfo::default()
    };
    for line in String::from_utf8_lossy(strip_sentinels(&modinfo)).lines() {
        let mut f = line.split('\t');
        match (f.next(), f.next(), f.next()) {
            (Some("path"), Some(p), _) => info.path = Some(p.to_string()),
            (Some("mod"), Some(p), v) => {
                info.main_module = Some((p.to_string(), v.unwrap_or("").to_string()))
            }
            _ => {}
        }
    }
    Some(info)
}

fn read_varint_bytes(b: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let mut len: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let len = usize::try_from(len).ok()?;
            let s = b.get(*at..at.checked_add(len)?)?;
            *at += len;
            return Some(s.to_vec());
        }
    }
    None
}

fn read_word(b: &[u8], big_endian: bool) -> Option<u64> {
    let mut v: u64 = 0;
    let bytes: Vec<u8> = if big_endian {
        b.to_vec()
    } else {
        b.iter().rev().copied().collect()
    };
    for byte in bytes {
        v = v.checked_shl(8)? | u64::from(byte);
    }
    Some(v)
}

fn read_go_string(
    header_addr: u64,
    ptr_size: usize,
    big_endian: bool,
    read_va: &mut dyn FnMut(u64, u64) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let hdr = read_va(header_addr, 2 * ptr_size as u64)?;
    let data = read_word(hdr.get(..ptr_size)?, big_endian)?;
    let len = read_word(hdr.get(ptr_size..2 * ptr_size)?, big_endian)?;
    if len > MAX_STRING {
        return None;
    }
    read_va(data, len)
}

/// Module info is framed by two 16-byte sentinels; newer linkers keep them.
fn strip_sentinels(b: &[u8]) -> &[u8] {
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        &b[16..b.len() - 16]
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline_blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = BUILDINFO_MAGIC.to_vec();
        b.extend([8u8, 2]);
        b.resize(32, 0);
        for s in [version, modinfo] {
            b.push(u8::try_from(s.len()).expect("short"));
            b.extend(s.as_bytes());
        }
        b
    }

    fn no_va(_: u64, _: u64) -> Option<Vec<u8>> {
        None
    }

    #[test]
    fn parses_the_inline_string_format_with_and_without_sentinels() {
        let sentinel = "0123456789abcdef";
        let framed = format!(
            "{sentinel}path\texample.com/app/cmd/app\nmod\texample.com/app\tv1.2.3\th1:x=\n{sentinel}"
        );
        for modinfo in [
            framed.as_str(),
            "path\texample.com/app/cmd/app\nmod\texample.com/app\tv1.2.3\th1:x=\n",
        ] {
            let info =
                parse_buildinfo(&inline_blob("go1.22.1", modinfo), &mut no_va).expect("parses");
            assert_eq!(info.version, "go1.22.1");
            assert_eq!(info.path.as_deref(), Some("example.com/app/cmd/app"));
            assert_eq!(
                info.main_module,
                Some(("example.com/app".into(), "v1.2.3".into()))
            );
        }
    }

    #[test]
    fn parses_the_pointer_format_through_virtual_addresses() {
        let mut blob = BUILDINFO_MAGIC.to_vec();
        blob.extend([8u8, 0]);
        blob.extend(0x1000u64.to_le_bytes());
        blob.extend(0x2000u64.to_le_bytes());
        let mut read_va = |addr: u64, len: u64| -> Option<Vec<u8>> {
            let mem: &[(u64, Vec<u8>)] = &[
                (
                    0x1000,
                    [0x3000u64.to_le_bytes(), 8u64.to_le_bytes()].concat(),
                ),
                (
                    0x2000,
                    [0x4000u64.to_le_bytes(), 12u64.to_le_bytes()].concat(),
                ),
                (0x3000, b"go1.16.3".to_vec()),
                (0x4000, b"path\tfoo/bar".to_vec()),
            ];
            let (_, bytes) = mem.iter().find(|(a, _)| *a == addr)?;
            Some(bytes[..usize::try_from(len).ok()?.min(bytes.len())].to_vec())
        };
        let info = parse_buildinfo(&blob, &mut read_va).expect("parses");
        assert_eq!(info.version, "go1.16.3");
        assert_eq!(info.path.as_deref(), Some("foo/bar"));
    }

    #[test]
    fn hostile_blobs_are_rejected_without_panicking() {
        let mut huge_len = BUILDINFO_MAGIC.to_vec();
        huge_len.extend([8u8, 2]);
        huge_len.resize(32, 0);
        huge_len.extend([0xff; 10]);
        let mut bad_ptr = BUILDINFO_MAGIC.to_vec();
        bad_ptr.extend([3u8, 0]);
        bad_ptr.resize(40, 0xff);
        for blob in [
            huge_len,
            bad_ptr,
            BUILDINFO_MAGIC.to_vec(),
            inline_blob("not-a-version", ""),
            b"\xff Go buildinf:\x08\x02".to_vec(),
        ] {
            assert_eq!(parse_buildinfo(&blob, &mut no_va), None);
        }
    }
}
