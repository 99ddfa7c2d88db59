//! Feeds an observed process through the static reducer, so dynamic terminals get the same
//! path resolution, probes, runtime family and user names as static ones.
//!
//! The filesystem is the container's: the process's own root seen through `/proc/<pid>/root`
//! (opened confined like any rootfs, so a symlink in the container still cannot reach the
//! host), or the caller's filesystem (the bundle rootfs) when the process is gone. The observed argv and
//! effective uid are the launch; the reducer's chain is dropped (the dynamic chain is the
//! observed lineage) but its evidence is kept on the terminal's runtime.

use std::path::PathBuf;

use entrytrace_config::Config;

use crate::model::{ExecNode, Terminal};
use crate::reduce::{reduce_argv, Launch};
use crate::vfs::rootfs::RootfsVfs;
use crate::vfs::Vfs;

/// A classifier reading each process's `/proc/<pid>/root`, else `vfs`.
pub fn by_reducer<'a>(
    vfs: Option<&'a dyn Vfs>,
    cfg: &'a Config,
) -> impl Fn(&ExecNode, u32) -> Option<Terminal> + 'a {
    move |node, uid| {
        let own;
        let fs: &dyn Vfs = match vfs {
            Some(v) => v,
            None => {
                own = RootfsVfs::open(&PathBuf::from(format!("/proc/{}/root", node.host_pid)))
                    .ok()?;
                &own
            }
        };
        let mut argv = node.argv.clone();
        if argv.is_empty() {
            argv.push(node.exe.clone());
        }
        let launch = Launch {
            argv,
            env: Vec::new(),
            user: Some(uid.to_string()),
            workdir: "/".into(),
            exposed_ports: Vec::new(),
            env_complete: false,
            capabilities: None,
        };
        reduce_argv(&launch, fs, cfg).terminals.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn an_observed_process_gets_its_path_runtime_and_user_name_from_the_image() {
        let mut v = MemVfs::new();
        v.add_tiny_elf("/bin/busybox", 0o755, None);
        v.add_symlink("/bin/httpd", "busybox");
        v.add_file(
            "/etc/passwd",
            0o644,
            b"root:x:0:0::/:/bin/sh\nwww-data:x:33:33::/:/bin/false\n",
        );
        let cfg = Config::default();
        let classify = by_reducer(Some(&v), &cfg);
        let node = ExecNode {
            // No such process: the classifier falls back to the given filesystem.
            host_pid: u32::MAX,
            ns_pid: 7,
            ppid: 1,
            exe: "/bin/busybox".into(),
            argv: vec!["busybox".into(), "httpd".into(), "-f".into()],
            start_ns: 0,
            exit_code: None,
            exit_ns: None,
        };
        let t = classify(&node, 33).expect("classified");
        assert_eq!(t.user, "www-data");
        assert_eq!(t.path.as_deref(), Some("/bin/busybox"));
        assert_eq!(t.runtime.family, "c");
    }
}
