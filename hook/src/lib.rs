//! EntryTrace: what a container really runs.
//!
//! The library behind the `entrytrace` binary. Stages, in pipeline order (see
//! `shared/design.md`): [`image`] opens a source into an [`image::ImageSpec`] and a
//! [`vfs::Vfs`]; `reduce` composes ENTRYPOINT ++ CMD and collapses wrappers, shells and
//! scripts to the terminal; `probe` classifies files; `score` rates the answer; `dynamic`
//! watches a running container; `merge` joins both; `hook` runs it all inside a container's
//! lifecycle; [`output`] renders results. Everything a test needs is callable without a process.

pub mod cli;
pub mod dynamic;
pub mod hook;
pub mod image;
pub mod merge;
pub mod model;
pub mod output;
pub mod probe;
pub mod reduce;
pub mod score;
pub mod vfs;
