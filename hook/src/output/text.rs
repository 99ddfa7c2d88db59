//! The readable rendering of a result, used by `explain` and `scan --format text`.

use std::fmt::Write;

use crate::model::EntryTraceResult;

/// Renders `r` as a tree a person can read.
pub fn render(r: &EntryTraceResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "entrytrace result ({:?})", r.mode);
    for t in &r.terminals {
        let _ = writeln!(
            s,
            "terminal: {} (user {}, confidence {:.2})",
            t.argv.join(" "),
            t.user,
            t.confidence
        );
    }
    s
}
