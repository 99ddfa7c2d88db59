//! One pass over one image layer: decompress it (sniffing gzip / zstd / plain tar by magic
//! bytes, not trusting media types), check its digest, and list its entries with where each
//! body starts in the decompressed stream.
//!
//! It exists so that [`super::layered::LayeredVfs`] can hold an index (path → layer, offset,
//! size, kind ...) instead of layer contents: memory stays bounded by the number of entries.
//! Entry names are normalised; absolute names and names with `..` are skipped with a
//! diagnostic (OCI image-spec, "Layer / File Types" and "Representing Changes"). Whiteouts are
//! recorded, not applied: the merge happens in layer order in `layered.rs`. It deliberately
//! keeps no file bodies and never allocates by a size a header claims.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::FileKind;

/// Most diagnostics kept per layer; further ones are only counted.
const MAX_LAYER_DIAGNOSTICS: usize = 16;

/// Where a layer blob lives: a file on disk, or a byte range inside an archive.
#[derive(Debug, Clone)]
pub struct LayerSource {
    /// The blob's name for messages: its digest (`sha256:…`) or its archive member name.
    pub digest: String,
    pub file: Arc<Path>,
    /// Start of the blob inside `file` (0 for a plain blob file).
    pub offset: u64,
    pub size: u64,
    pub verify: Verify,
}

/// Which digest a layer must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// sha256 (hex) of the blob as stored (OCI descriptor digest).
    Blob(String),
    /// sha256 (hex) of the decompressed tar stream (a docker-archive `diff_id`).
    Uncompressed(String),
}

/// How a layer's bytes are compressed, found from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// What one tar entry contributes to the merged view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawKind {
    /// A regular file, directory, device, fifo (its body, if any, at `RawEntry::offset`).
    Node(FileKind),
    /// A GNU sparse file: listed, but its body is never read.
    Sparse,
    Symlink(String),
    /// A hard link to the (normalised) path named.
    HardLink(String),
    /// `.wh.<name>`: the path named is deleted from lower layers.
    Whiteout,
    /// `.wh..wh..opq`: the directory's lower-layer children are hidden.
    Opaque,
}

/// One entry of a layer, with its normalised absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub path: String,
    pub kind: RawKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Offset of the body in the decompressed layer stream.
    pub offset: u64,
}

/// The result of indexing one layer.
#[derive(Debug)]
pub struct LayerIndex {
    pub compression: Compression,
    pub entries: Vec<RawEntry>,
    pub diagnostics: Vec<String>,
}

/// Why a layer could not be indexed.
#[derive(Debug)]
pub enum LayerFailure {
    /// Unreadable, truncated or not a tar: the layer is dropped with a diagnostic.
    Corrupt(String),
    /// The blob does not match its digest: the image is not what it claims.
    Digest { expected: String, actual: String },
    /// The image has more entries than the limit allows.
    TooManyEntries,
}

/// Indexes one layer. `counter` counts entries over all layers against `max_entries`.
pub fn index_layer(
    src: &LayerSource,
    counter: &AtomicU64,
    max_entries: u64,
) -> Result<LayerIndex, LayerFailure> {
    let corrupt = |e: io::Error| LayerFailure::Corrupt(e.to_string());
    let blob_hash = matches!(src.verify, Verify::Blob(_));
    let raw = Hashing::new(open_blob(src).map_err(corrupt)?, blob_hash);
    let raw_digest = raw.digest_cell();
    let (compression, decoder) =
        Decoder::sniff(BufReader::with_capacity(256 << 10, raw)).map_err(corrupt)?;
    let plain = Hashing::new(decoder, !blob_hash);
    let plain_digest = plain.digest_cell();
    let mut index = LayerIndex {
        compression,
        entries: Vec::new(),
        diagnostics: Vec::new(),
    };
    let consumed = Rc::clone(&plain.count);
    let mut archive = tar::Archive::new(plain);
    let listed = list_entries(&mut archive, counter, max_entries, &consumed);
    if let Err(LayerFailure::TooManyEntries) = listed {
        return Err(LayerFailure::TooManyEntries);
    }
    // Drain what follows the tar's end (or the point where it broke) so the whole blob is
    // hashed: a tampered blob is a digest mismatch even when it no longer decompresses.
    let mut plain = archive.into_inner();
    let plain_drained = listed.is_ok() && io::copy(&mut plain, &mut io::sink()).is_ok();
    let mut buffered = plain.inner.into_inner();
    io::copy(&mut buffered, &mut io::sink()).map_err(corrupt)?;
    let (expected, actual) = match &src.verify {
        Verify::Blob(hex) => (hex, finish(&raw_digest)),
        Verify::Uncompressed(_) if !plain_drained => {
            return Err(match listed {
                Err(e) => e,
                Ok(_) => LayerFailure::Corrupt("layer stream ends early".into()),
            });
        }
        Verify::Uncompressed(hex) => (hex, finish(&plain_digest)),
    };
    if !expected.eq_ignore_ascii_case(&actual) {
        return Err(LayerFailure::Digest {
            expected: format!("sha256:{expected}"),
            actual: format!("sha256:{actual}"),
        });
    }
    (index.entries, index.diagnostics) = listed?;
    Ok(index)
}

/// Opens a decompressed stream of the layer, positioned at its start.
pub fn open_stream(src: &LayerSource, compression: Compression) -> io::Result<Box<dyn Read>> {
    let buf = BufReader::with_capacity(128 << 10, open_blob(src)?);
    Ok(match compression {
        Compression::None => Box::new(buf),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buf)?),
    })
}

/// Opens the raw blob bytes (`offset..offset+size` of its file); for a plain layer the
/// caller may seek instead of decompressing.
pub fn open_blob(src: &LayerSource) -> io::Result<io::Take<File>> {
    let mut f = File::open(&src.file)?;
    f.seek(SeekFrom::Start(src.offset))?;
    Ok(f.take(src.size))
}

/// Normalises a tar entry name to an absolute path; `Err` says why it is refused.
pub fn normalise_name(raw: &[u8]) -> Result<String, &'static str> {
    let name = String::from_utf8_lossy(raw);
    let mut rest: &str = &name;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    if rest.starts_with('/') {
        return Err("absolute name");
    }
    let mut out = String::with_capacity(rest.len() + 1);
    for comp in rest.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err("name contains `..`"),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

type Listed = (Vec<RawEntry>, Vec<String>);

fn list_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    counter: &AtomicU64,
    max_entries: u64,
    consumed: &Cell<u64>,
) -> Result<Listed, LayerFailure> {
    let corrupt = |e: io::Error| LayerFailure::Corrupt(e.to_string());
    let mut entries = Vec::new();
    let mut diags = Diags::default();
    let mut body_end = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let entry = match entry {
            Ok(e) => e,
            // Some writers (umoci 0.4) end the stream right after the last body, without
            // padding or the end-of-archive blocks; Go's archive/tar accepts that, so do we.
            Err(_) if body_end > 0 && consumed.get() == body_end => break,
            Err(e) => return Err(corrupt(e)),
        };
        body_end = entry.raw_file_position() + entry.size();
        if counter.fetch_add(1, Ordering::Relaxed) >= max_entries {
            return Err(LayerFailure::TooManyEntries);
        }
        if let Some(e) = convert(&entry, &mut diags) {
            entries.push(e);
        }
    }
    Ok((entries, diags.finish()))
}

fn convert<R: Read>(entry: &tar::Entry<'_, R>, diags: &mut Diags) -> Option<RawEntry> {
    let header = entry.header();
    let raw_name = entry.path_bytes();
    let path = match normalise_name(&raw_name) {
        Ok(p) => p,
        Err(why) => {
            diags.push(format!(
                "entry {:?} skipped: {why}",
                String::from_utf8_lossy(&raw_name)
            ));
            return None;
        }
    };
    let ty = header.entry_type();
    let link = || {
        entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    };
    let kind = match ty {
        tar::EntryType::Regular | tar::EntryType::Continuous => RawKind::Node(FileKind::File),
        tar::EntryType::GNUSparse => RawKind::Sparse,
        tar::EntryType::Directory => RawKind::Node(FileKind::Dir),
        tar::EntryType::Char => RawKind::Node(FileKind::CharDevice),
        tar::EntryType::Block => RawKind::Node(FileKind::BlockDevice),
        tar::EntryType::Fifo => RawKind::Node(FileKind::Fifo),
        tar::EntryType::Symlink => RawKind::Symlink(link().unwrap_or_default()),
        tar::EntryType::Link => match link().as_deref().map(|l| normalise_name(l.as_bytes())) {
            Some(Ok(target)) => RawKind::HardLink(target),
            Some(Err(why)) => {
                diags.push(format!("hard link {path} skipped: target {why}"));
                return None;
            }
            None => {
                diags.push(format!("hard link {path} skipped: no target"));
                return None;
            }
        },
        tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => return None,
        other => {
            diags.push(format!(
                "entry {path} skipped: unsupported tar type {:?}",
                other.as_byte() as char
            ));
            return None;
        }
    };
    let (path, kind) = match whiteout(&path, kind) {
        Ok(pk) => pk,
        Err(why) => {
            diags.push(format!("entry {path} skipped: {why}"));
            return None;
        }
    };
    Some(RawEntry {
        path,
        kind,
        mode: header.mode().unwrap_or(0o644) & 0o7777,
        uid: header
            .uid()
            .ok()
            .and_then(|u| u32::try_from(u).ok())
            .unwrap_or(0),
        gid: header
            .gid()
            .ok()
            .and_then(|g| u32::try_from(g).ok())
            .unwrap_or(0),
        size: entry.size(),
        offset: entry.raw_file_position(),
    })
}

/// Turns `.wh.` names into whiteout records of the path they delete (OCI image-spec,
/// "Whiteouts").
fn whiteout(path: &str, kind: RawKind) -> Result<(String, RawKind), &'static str> {
    let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
    let Some(target) = base.strip_prefix(".wh.") else {
        return Ok((path.to_string(), kind));
    };
    let dir = if parent.is_empty() { "/" } else { parent };
    if target == ".wh..opq" {
        return Ok((dir.to_string(), RawKind::Opaque));
    }
    if target.is_empty() || target == "." || target == ".." {
        return Err("malformed whiteout name");
    }
    Ok((format!("{parent}/{target}"), RawKind::Whiteout))
}

#[derive(Default)]
struct Diags {
    kept: Vec<String>,
    more: usize,
}

impl Diags {
    fn push(&mut self, msg: String) {
        if self.kept.len() < MAX_LAYER_DIAGNOSTICS {
            self.kept.push(msg);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept
                .push(format!("{} more entries skipped", self.more));
        }
        self.kept
    }
}

type DigestCell = Rc<RefCell<Option<Sha256>>>;

fn finish(cell: &DigestCell) -> String {
    cell.borrow_mut()
        .take()
        .map(|h| hex::encode(h.finalize()))
        .unwrap_or_default()
}

/// A reader that hashes what passes through it (when asked to).
struct Hashing<R> {
    inner: R,
    hasher: DigestCell,
    /// Bytes passed through so far.
    count: Rc<Cell<u64>>,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R, on: bool) -> Self {
        Self {
            inner,
            hasher: Rc::new(RefCell::new(on.then(Sha256::new))),
            count: Rc::new(Cell::new(0)),
        }
    }

    fn digest_cell(&self) -> DigestCell {
        Rc::clone(&self.hasher)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        if let Some(h) = self.hasher.borrow_mut().as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A decompressor chosen by the stream's magic bytes, that gives its input back when done.
enum Decoder<R: BufRead> {
    Plain(R),
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Decoder<R> {
    fn sniff(mut input: R) -> io::Result<(Compression, Self)> {
        let head = input.fill_buf()?;
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            (
                Compression::Gzip,
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(input))),
            )
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            (
                Compression::Zstd,
                Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(input)?),
            )
        } else {
            (Compression::None, Decoder::Plain(input))
        })
    }

    fn into_inner(self) -> R {
        match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_entry_names_and_refuses_escapes() {
        for (raw, want) in [
            ("etc/passwd", Ok("/etc/passwd")),
            ("./etc/passwd", Ok("/etc/passwd")),
            ("././usr//bin/./sh", Ok("/usr/bin/sh")),
            ("usr/", Ok("/usr")),
            ("./", Ok("/")),
            (".", Ok("/")),
            ("/etc/passwd", Err("absolute name")),
            ("./../x", Err("name contains `..`")),
            ("a/../b", Err("name contains `..`")),
        ] {
            let got = normalise_name(raw.as_bytes());
            assert_eq!(got.as_deref().map_err(|e| *e), want, "{raw}");
        }
    }

    #[test]
    fn turns_whiteout_names_into_records_of_what_they_delete() {
        let file = RawKind::Node(FileKind::File);
        for (path, want) in [
            ("/etc/.wh.passwd", Ok(("/etc/passwd", RawKind::Whiteout))),
            ("/.wh.entry.sh", Ok(("/entry.sh", RawKind::Whiteout))),
            ("/etc/.wh..wh..opq", Ok(("/etc", RawKind::Opaque))),
            ("/.wh..wh..opq", Ok(("/", RawKind::Opaque))),
            ("/etc/passwd", Ok(("/etc/passwd", file.clone()))),
            ("/etc/.wh.", Err("malformed whiteout name")),
            ("/etc/.wh...", Err("malformed whiteout name")),
        ] {
            let got = whiteout(path, file.clone());
            let got = got
                .as_ref()
                .map(|(p, k)| (p.as_str(), k.clone()))
                .map_err(|e| *e);
            assert_eq!(got, want, "{path}");
        }
    }
}
