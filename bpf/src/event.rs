//! Typed events: the Rust side of `struct et_event` (`src/bpf/exectrace.h`).
//!
//! A record is a fixed header followed by `argv_len` bytes of argv. [`Event::parse`] checks
//! every length against the record it is given and never trusts a count from the kernel to
//! index memory; argv words are split on NUL exactly as the kernel stores them, so empty
//! arguments survive. Strings that are not UTF-8 are converted lossily.

/// Size of the fixed part of a record (`sizeof(struct et_event)`), checked against the
/// compiled program's own `et_event_size` in the tests.
pub const EVENT_HEADER_SIZE: usize = std::mem::size_of::<RawEvent>();

const COMM_LEN: usize = 16;
const FILENAME_LEN: usize = 256;
const F_ARGV_TRUNCATED: u32 = 1;
const F_FILENAME_TRUNCATED: u32 = 2;
const F_ARGV_UNREADABLE: u32 = 4;

/// The C layout, field for field.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawEvent {
    kind: u32,
    flags: u32,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ns_pid: u32,
    ns_tgid: u32,
    pidns_ino: u32,
    uid: u32,
    gid: u32,
    exit_code: u32,
    argv_len: u32,
    start_ns: u64,
    start_boot_ns: u64,
    parent_start_ns: u64,
    cgroup_id: u64,
    ktime_ns: u64,
    comm: [u8; COMM_LEN],
    filename: [u8; FILENAME_LEN],
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A process replaced its image (`execve` succeeded).
    Exec,
    /// A new process (not a thread) was created.
    Fork,
    /// A process (its thread-group leader) exited.
    Exit,
}

/// One exec, fork or exit, as the kernel saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// Host thread id (equals `tgid`: only leaders are reported).
    pub pid: u32,
    /// Host process id.
    pub tgid: u32,
    /// Host tgid of the parent (for forks: the process that forked).
    pub ppid: u32,
    /// Pid in the process's own pid namespace.
    pub ns_pid: u32,
    /// Tgid in the process's own pid namespace (`NStgid`).
    pub ns_tgid: u32,
    /// Inode of that pid namespace.
    pub pidns_ino: u32,
    pub uid: u32,
    pub gid: u32,
    /// Raw wait status (`exit 5` is `0x500`); 0 unless `kind` is `Exit`.
    pub exit_code: u32,
    /// `task->start_time` of the process: with `tgid`, its identity.
    pub start_ns: u64,
    /// `task->start_boottime`: what `/proc/PID/stat`'s starttime counts, in ns.
    pub start_boot_ns: u64,
    /// `start_time` of the parent process.
    pub parent_start_ns: u64,
    /// cgroup v2 id of the task that triggered the event.
    pub cgroup_id: u64,
    /// `bpf_ktime_get_ns()` at the event.
    pub ktime_ns: u64,
    pub comm: String,
    /// The path given to execve (may be relative); empty unless `kind` is `Exec`.
    pub filename: String,
    pub filename_truncated: bool,
    /// The words of argv, empty ones kept.
    pub argv: Vec<String>,
    /// Argv was longer than the configured maximum; the last word may be cut.
    pub argv_truncated: bool,
    /// The argv memory could not be read (the page was not resident); `argv` is empty.
    pub argv_unreadable: bool,
}

/// A record that does not match `struct et_event`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("ring-buffer record of {len} bytes is shorter than the {EVENT_HEADER_SIZE}-byte event header")]
    Short { len: usize },
    #[error("ring-buffer record declares {argv_len} argv bytes but carries {available}")]
    ArgvOverrun { argv_len: usize, available: usize },
    #[error("ring-buffer record has unknown kind {kind}")]
    Kind { kind: u32 },
}

impl Event {
    /// Parses one ring-buffer record.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        if data.len() < EVENT_HEADER_SIZE {
            return Err(ParseError::Short { len: data.len() });
        }
        // SAFETY: `data` holds at least size_of::<RawEvent>() bytes (checked above), RawEvent
        // is plain old data valid for any bit pattern, and read_unaligned needs no alignment.
        let raw: RawEvent = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
        let kind = match raw.kind {
            1 => EventKind::Exec,
            2 => EventKind::Fork,
            3 => EventKind::Exit,
            kind => return Err(ParseError::Kind { kind }),
        };
        let tail = &data[EVENT_HEADER_SIZE..];
        let argv_len = raw.argv_len as usize;
        let argv_bytes = tail.get(..argv_len).ok_or(ParseError::ArgvOverrun {
            argv_len,
            available: tail.len(),
        })?;
        Ok(Self {
            kind,
            pid: raw.pid,
            tgid: raw.tgid,
            ppid: raw.ppid,
            ns_pid: raw.ns_pid,
            ns_tgid: raw.ns_tgid,
            pidns_ino: raw.pidns_ino,
            uid: raw.uid,
            gid: raw.gid,
            exit_code: raw.exit_code,
            start_ns: raw.start_ns,
            start_boot_ns: raw.start_boot_ns,
            parent_start_ns: raw.parent_start_ns,
            cgroup_id: raw.cgroup_id,
            ktime_ns: raw.ktime_ns,
            comm: c_string(&raw.comm),
            filename: c_string(&raw.filename),
            filename_truncated: raw.flags & F_FILENAME_TRUNCATED != 0,
            argv: split_argv(argv_bytes),
            argv_truncated: raw.flags & F_ARGV_TRUNCATED != 0,
            argv_unreadable: raw.flags & F_ARGV_UNREADABLE != 0,
        })
    }

    /// The exit status when the process exited normally (`exit(N)`), else `None`.
    pub fn exit_status(&self) -> Option<i32> {
        (self.exit_code & 0x7f == 0).then_some(((self.exit_code >> 8) & 0xff) as i32)
    }

    /// The signal that killed the process, if one did.
    pub fn exit_signal(&self) -> Option<i32> {
        let sig = self.exit_code & 0x7f;
        (sig != 0).then_some(sig as i32)
    }
}

/// The bytes up to the first NUL.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `a\0\0b\0` is `["a", "", "b"]`: every NUL ends a word; a cut last word has no NUL.
fn split_argv(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    body.split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u32, argv: &[u8], declared: u32) -> Vec<u8> {
        let mut raw: RawEvent = unsafe_zeroed();
        raw.kind = kind;
        raw.tgid = 42;
        raw.argv_len = declared;
        raw.comm[..2].copy_from_slice(b"sh");
        let mut v = vec![0u8; EVENT_HEADER_SIZE];
        // SAFETY: `v` has exactly size_of::<RawEvent>() bytes; write_unaligned needs no alignment.
        unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast(), raw) };
        v.extend_from_slice(argv);
        v
    }

    fn unsafe_zeroed() -> RawEvent {
        // SAFETY: RawEvent is plain old data; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    }

    #[test]
    fn header_matches_the_c_layout() {
        assert_eq!(EVENT_HEADER_SIZE, 360);
    }

    #[test]
    fn argv_words_split_on_nul_keeping_empty_words() {
        let rows: &[(&[u8], &[&str])] = &[
            (b"", &[]),
            (b"sh\0", &["sh"]),
            (b"sh\0-c\0\0x\0", &["sh", "-c", "", "x"]),
            (b"a\0\0\0", &["a", "", ""]),
            (b"cut-sh", &["cut-sh"]),
            (b"\0", &[""]),
        ];
        for (bytes, want) in rows {
            let got = split_argv(bytes);
            assert_eq!(got, *want, "argv bytes {bytes:?}");
        }
    }

    #[test]
    fn records_parse_or_fail_with_a_reason() {
        let ok = Event::parse(&record(1, b"ls\0-l\0", 6)).expect("parses");
        assert_eq!(
            (ok.kind, ok.tgid, ok.comm.as_str()),
            (EventKind::Exec, 42, "sh")
        );
        assert_eq!(ok.argv, ["ls", "-l"]);
        let rows: Vec<(Vec<u8>, ParseError)> = vec![
            (vec![0; 10], ParseError::Short { len: 10 }),
            (record(9, b"", 0), ParseError::Kind { kind: 9 }),
            (
                record(1, b"ab", 100),
                ParseError::ArgvOverrun {
                    argv_len: 100,
                    available: 2,
                },
            ),
        ];
        for (data, want) in rows {
            assert_eq!(Event::parse(&data).expect_err("must fail"), want);
        }
    }

    #[test]
    fn wait_status_decodes_exit_codes_and_signals() {
        let mut e = Event::parse(&record(3, b"", 0)).expect("parses");
        for (raw, status, signal) in [
            (0x500, Some(5), None),
            (0, Some(0), None),
            (9, None, Some(9)),
        ] {
            e.exit_code = raw;
            assert_eq!(
                (e.exit_status(), e.exit_signal()),
                (status, signal),
                "{raw:#x}"
            );
        }
    }
}
