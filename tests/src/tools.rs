//! Images built by the real tools, for the tests that check we read what they write.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{is_root, run_ok};

/// Builds an OCI layout with `umoci` from `root`'s `bin` and `etc` (a layer each), with
/// ENTRYPOINT `/bin/start`, CMD `--serve` and `extra_config` (more `umoci config` flags), then
/// a `skopeo copy` of it. Returns both sources: `oci:LAYOUT:t` and `oci:COPY:copied`.
pub fn umoci_layout_and_copy(
    dir: &Path,
    root: &Path,
    extra_config: &[&str],
) -> Result<[String; 2]> {
    let layout = dir.join("layout");
    let image = format!("{}:t", layout.display());
    let rootless: &[&str] = if is_root() { &[] } else { &["--rootless"] };
    run_ok(
        Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout),
    )?;
    run_ok(Command::new("umoci").args(["new", "--image", &image]))?;
    for sub in ["bin", "etc"] {
        run_ok(
            Command::new("umoci")
                .arg("insert")
                .args(rootless)
                .args(["--image", &image])
                .arg(root.join(sub))
                .arg(format!("/{sub}")),
        )?;
    }
    run_ok(
        Command::new("umoci")
            .args(["config", "--image", &image])
            .args([
                "--config.entrypoint",
                "/bin/start",
                "--config.cmd",
                "--serve",
            ])
            .args(extra_config),
    )?;
    let copy = format!("oci:{}:copied", dir.join("copy").display());
    run_ok(Command::new("skopeo").args(["copy", &format!("oci:{image}"), &copy]))?;
    Ok([format!("oci:{image}"), copy])
}
