//! Where results go: the readable text rendering (here), the bundle file and the journal
//! (added with the hook).

pub mod text;
