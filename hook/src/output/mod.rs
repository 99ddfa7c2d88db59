//! Where results go: the readable text rendering, result files written safely beside the
//! bundle and under `/run/entrytrace`, and the journal entry.

pub mod file;
pub mod journal;
pub mod text;
