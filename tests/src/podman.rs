//! Podman with a configuration and storage of the test's own (nothing global changes):
//! `CONTAINERS_CONF` / `CONTAINERS_STORAGE_CONF` point into a directory under `/var/tmp`,
//! cgroupfs, file events, crun, `--network none` (see shared/machine-notes.md, "Podman").

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::run_ok;

/// A private Podman installation.
#[derive(Debug)]
pub struct Podman {
    pub dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("et-podman-")
            .tempdir_in("/var/tmp")?;
        configure(dir.path())?;
        Ok(Self { dir })
    }

    /// A `podman` command with this installation's environment.
    pub fn cmd(&self) -> Command {
        command(self.dir.path())
    }

    /// Imports `rootfs` as `name` with the given Dockerfile-style changes.
    pub fn import(&self, rootfs: &Path, name: &str, changes: &[&str]) -> Result<()> {
        let tar = self.dir.path().join("rootfs.tar");
        run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        )?;
        let mut c = self.cmd();
        c.arg("import");
        for ch in changes {
            c.arg("--change").arg(ch);
        }
        run_ok(c.arg(&tar).arg(name))?;
        Ok(())
    }

    /// Saves image `name` as `format` (`docker-archive`, `oci-archive`) to `out`.
    pub fn save(&self, name: &str, format: &str, out: &Path) -> Result<()> {
        run_ok(
            self.cmd()
                .args(["save", "--format", format, "-o"])
                .arg(out)
                .arg(name),
        )?;
        Ok(())
    }

    /// Imports the built-in demo (tini → script → gosu → httpd) as image `name`.
    pub fn import_demo(&self, name: &str) -> Result<()> {
        let demo = self.dir.path().join("demo");
        run_ok(
            Command::new("bash")
                .arg(crate::runtime::repo_root().join("scripts/make-demo-bundle.sh"))
                .arg(&demo),
        )?;
        self.import(
            &demo.join("rootfs"),
            name,
            &[
                r#"ENTRYPOINT ["/usr/bin/tini","--","/docker-entrypoint.sh"]"#,
                r#"CMD ["httpd"]"#,
            ],
        )
    }

    /// Writes a hooks.d directory with our hook (gated on the annotation) and returns it.
    pub fn hooks_dir(&self, bin: &Path, config: &Path) -> Result<PathBuf> {
        let dir = self.dir.path().join("hooks.d");
        std::fs::create_dir_all(&dir)?;
        let packaged: serde_json::Value = serde_json::from_slice(&std::fs::read(
            crate::runtime::repo_root().join("packaging/hooks.d/entrytrace.json"),
        )?)?;
        let mut hook = packaged;
        hook["hook"]["path"] = serde_json::json!(bin);
        hook["hook"]["env"] =
            serde_json::json!([format!("ENTRYTRACE_CONFIG={}", config.display())]);
        std::fs::write(
            dir.join("entrytrace.json"),
            serde_json::to_vec_pretty(&hook)?,
        )?;
        Ok(dir)
    }
}

/// Writes a `containers.conf` and `storage.conf` into `dir` (once) for a private Podman.
pub fn configure(dir: &Path) -> Result<()> {
    if dir.join("containers.conf").exists() {
        return Ok(());
    }
    std::fs::write(
        dir.join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"crun\"\n",
    )?;
    std::fs::write(
        dir.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n",
            dir.display()
        ),
    )?;
    Ok(())
}

/// A `podman` command confined to the configuration and storage in `dir`.
pub fn command(dir: &Path) -> Command {
    configure(dir).expect("private podman configuration");
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"));
    c
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-af", "-t", "0"]).output();
        let _ = self.cmd().args(["system", "reset", "-f"]).output();
    }
}
