//! One structured journal entry per container, sent with journald's native protocol.
//!
//! The hook's own log lines go through `tracing-journald`; the result entry does not, because
//! it needs exact field names (`tracing-journald` prefixes or rewrites event fields) and a
//! send outcome we can report (the layer drops send errors). The native protocol is small: a
//! datagram of `NAME=value\n` fields, with a length-encoded form for values holding newlines
//! (systemd's "Native Journal Protocol"). Entries over the datagram size are cut to their
//! summary fields rather than passed by memfd.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::model::EntryTraceResult;

/// journald's native socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// The fixed `MESSAGE_ID` of EntryTrace result entries (documented in
/// `packaging/entrytrace.catalog`).
pub const MESSAGE_ID: &str = "5f1c3a0e8d2b4c7f9a6e1d0b3c8f2a47";

/// The fields of the result entry, in order.
pub fn result_fields(
    result: &EntryTraceResult,
    container_id: &str,
    result_path: &str,
) -> Vec<(&'static str, String)> {
    let top = result.terminals.first();
    let terminal = top
        .map(|t| t.argv.join(" "))
        .unwrap_or_else(|| "(none)".into());
    let user = top.map(|t| t.user.clone()).unwrap_or_default();
    let confidence = top
        .map(|t| format!("{:.2}", t.confidence))
        .unwrap_or_default();
    let mode = serde_json::to_value(result.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    vec![
        (
            "MESSAGE",
            format!("container {container_id} runs {terminal} as {user} ({mode}, confidence {confidence})"),
        ),
        ("MESSAGE_ID", MESSAGE_ID.to_string()),
        ("PRIORITY", "6".to_string()),
        ("SYSLOG_IDENTIFIER", "entrytrace".to_string()),
        ("ENTRYTRACE_CONTAINER_ID", container_id.to_string()),
        ("ENTRYTRACE_TERMINAL", terminal),
        ("ENTRYTRACE_USER", user),
        ("ENTRYTRACE_CONFIDENCE", confidence),
        ("ENTRYTRACE_MODE", mode),
        ("ENTRYTRACE_RESULT_PATH", result_path.to_string()),
    ]
}

/// Sends the result entry for `container_id` when the config asks for one.
pub fn send_result(
    result: &EntryTraceResult,
    container_id: &str,
    result_path: Option<&Path>,
    cfg: &entrytrace_config::Config,
) -> io::Result<()> {
    if !cfg.hook.journal {
        return Ok(());
    }
    let path = result_path
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    send(
        Path::new(&cfg.hook.journal_socket),
        &result_fields(result, container_id, &path),
    )
}

/// Encodes fields in the native protocol.
pub fn encode(fields: &[(&str, String)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (name, value) in fields {
        buf.extend_from_slice(name.as_bytes());
        if value.contains('\n') {
            buf.push(b'\n');
            buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        } else {
            buf.push(b'=');
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        }
    }
    buf
}

/// Sends one entry to the journal socket at `socket`.
pub fn send(socket: &Path, fields: &[(&str, String)]) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let buf = encode(fields);
    sock.send_to(&buf, socket)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", socket.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Target};

    #[test]
    fn encodes_plain_and_multiline_values_as_journald_expects() {
        let buf = encode(&[("A", "x".into()), ("B", "1\n2".into())]);
        let mut want = b"A=x\nB\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"1\n2\n");
        assert_eq!(buf, want);
    }

    #[test]
    fn result_entry_carries_every_contract_field() {
        let r = EntryTraceResult::new(Mode::Static, Target::default());
        let fields = result_fields(&r, "abc", "/run/entrytrace/abc.json");
        let names: Vec<_> = fields.iter().map(|(n, _)| *n).collect();
        for must in [
            "MESSAGE",
            "MESSAGE_ID",
            "ENTRYTRACE_CONTAINER_ID",
            "ENTRYTRACE_TERMINAL",
            "ENTRYTRACE_USER",
            "ENTRYTRACE_CONFIDENCE",
            "ENTRYTRACE_MODE",
            "ENTRYTRACE_RESULT_PATH",
        ] {
            assert!(names.contains(&must), "missing {must}");
        }
        assert!(fields
            .iter()
            .any(|(n, v)| *n == "ENTRYTRACE_MODE" && v == "static"));
    }

    #[test]
    fn sending_without_journald_is_an_error_naming_the_socket() {
        let err = send(Path::new("/nonexistent/journal.sock"), &[("A", "b".into())])
            .expect_err("no socket");
        assert!(
            err.to_string().contains("/nonexistent/journal.sock"),
            "{err}"
        );
    }
}
