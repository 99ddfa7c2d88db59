//! A budgeted reader over one file of a [`Vfs`]: every probe reads through it, so the bytes
//! read from an untrusted binary never exceed `limits.max_probe_bytes` in total, however its
//! headers lie about offsets and sizes.
//!
//! It reads ranges ([`Vfs::read_range`]), never the whole file; a request past the budget is
//! cut short and remembered, so a probe can say its answer is partial. It does not cache.

use crate::vfs::{Vfs, VfsError};

/// Reads ranges of one file, charging each read to a byte budget.
#[derive(Debug)]
pub struct RangeReader<'a> {
    vfs: &'a dyn Vfs,
    path: &'a str,
    size: u64,
    left: u64,
    exhausted: bool,
}

impl<'a> RangeReader<'a> {
    /// A reader of the regular file at the real path `path` (as [`Vfs::resolve`] returns) of
    /// `size` bytes, allowed `budget` bytes in all.
    pub fn new(vfs: &'a dyn Vfs, path: &'a str, size: u64, budget: u64) -> Self {
        Self {
            vfs,
            path,
            size,
            left: budget,
            exhausted: false,
        }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    /// The file's size as the filesystem claims it.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True once a read was cut short by the budget.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Up to `len` bytes from `offset`; fewer at the end of the file or of the budget.
    pub fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, VfsError> {
        if offset >= self.size || len == 0 {
            return Ok(Vec::new());
        }
        let want = len.min(self.size - offset);
        let granted = want.min(self.left);
        if granted < want {
            self.exhausted = true;
        }
        if granted == 0 {
            return Ok(Vec::new());
        }
        let n = usize::try_from(granted).unwrap_or(usize::MAX);
        let bytes = self.vfs.read_range(self.path, offset, n)?;
        self.left = self.left.saturating_sub(bytes.len() as u64);
        Ok(bytes)
    }

    /// Finds the first occurrence of `needle` in `[offset, offset + len)`, reading in chunks
    /// that overlap by `needle.len() - 1` bytes; returns its absolute offset.
    pub fn find(&mut self, needle: &[u8], offset: u64, len: u64) -> Result<Option<u64>, VfsError> {
        const CHUNK: u64 = 1 << 20;
        if needle.is_empty() {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(self.size);
        let overlap = needle.len() as u64 - 1;
        let mut at = offset;
        while at < end {
            let chunk = self.read(at, CHUNK.min(end - at))?;
            if let Some(i) = find_bytes(&chunk, needle) {
                return Ok(Some(at + i as u64));
            }
            if (chunk.len() as u64) <= overlap || self.left == 0 {
                return Ok(None);
            }
            at += chunk.len() as u64 - overlap;
        }
        Ok(None)
    }
}

/// The index of the first occurrence of `needle` in `hay` (`memchr`'s SIMD substring search:
/// marker strings are looked for in megabytes of binary on the hook's critical path).
pub fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    fn vfs_with(body: &[u8]) -> MemVfs {
        let mut v = MemVfs::new();
        v.add_file("/f", 0o755, body);
        v
    }

    #[test]
    fn reads_are_cut_at_the_budget_and_remembered() {
        let v = vfs_with(&[7u8; 100]);
        let mut r = RangeReader::new(&v, "/f", 100, 30);
        assert_eq!(r.read(0, 20).expect("read").len(), 20);
        assert!(!r.exhausted());
        assert_eq!(r.read(20, 20).expect("read").len(), 10);
        assert!(r.exhausted());
        assert!(r.read(40, 10).expect("read").is_empty());
    }

    #[test]
    fn lying_offsets_past_the_end_read_nothing() {
        let v = vfs_with(b"abc");
        let mut r = RangeReader::new(&v, "/f", 3, 1 << 20);
        for (offset, len) in [(3, 10), (u64::MAX, u64::MAX), (1, 0)] {
            assert!(r.read(offset, len).expect("read").is_empty(), "{offset}");
        }
        assert_eq!(r.read(1, u64::MAX).expect("read"), b"bc");
    }

    #[test]
    fn find_bytes_finds_first_occurrences_only() {
        for (hay, needle, want) in [
            (&b"abcabc"[..], &b"bc"[..], Some(1)),
            (b"aab", b"ab", Some(1)),
            (b"ab", b"abc", None),
            (b"", b"a", None),
            (b"abc", b"", None),
            (b"xxxy", b"xy", Some(2)),
        ] {
            assert_eq!(find_bytes(hay, needle), want, "{hay:?} {needle:?}");
        }
    }

    #[test]
    fn finds_a_needle_across_chunk_boundaries() {
        let mut body = vec![0u8; (1 << 20) + 10];
        let at = (1 << 20) - 3;
        body[at..at + 6].copy_from_slice(b"needle");
        let v = vfs_with(&body);
        let mut r = RangeReader::new(&v, "/f", body.len() as u64, 8 << 20);
        assert_eq!(
            r.find(b"needle", 0, u64::MAX).expect("find"),
            Some(at as u64)
        );
        assert_eq!(r.find(b"absent", 0, u64::MAX).expect("find"), None);
    }
}
