//! Composing the process a container starts: `ENTRYPOINT ++ CMD`, with `docker run`'s
//! overrides (static seed §2.3, §6 step 1).
//!
//! Exec form is taken as is. Shell form needs nothing at run time: the builder already
//! serialised it as `["/bin/sh", "-c", "…"]` (or the `SHELL` override), so it is recognised
//! later as a shell with `-c`. The overrides follow `docker run`: `--entrypoint` replaces
//! ENTRYPOINT *and clears CMD*; `-- ARGS` replaces CMD; `--env KEY=VALUE` adds or overrides
//! (a bare `KEY`, which Docker fills from the caller's environment, is ignored here: the
//! analysis has no caller environment); `--user` replaces USER. WorkingDir defaults to `/`.
//! Nothing here touches the filesystem.

use crate::image::ImageSpec;

/// `docker run`'s overrides of the image's run settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--entrypoint WORD`: replaces ENTRYPOINT and clears CMD. An empty word clears both.
    pub entrypoint: Option<String>,
    /// `--env KEY=VALUE`, in order.
    pub env: Vec<String>,
    /// `--user USER`.
    pub user: Option<String>,
    /// `-- ARGS`: replaces CMD when not empty.
    pub args: Vec<String>,
    /// `--cap-add CAP` (or `ALL`), in order.
    pub cap_add: Vec<String>,
    /// `--cap-drop CAP` (or `ALL`), in order.
    pub cap_drop: Vec<String>,
}

/// The bounding set `docker run --cap-add/--cap-drop` gives, applied to the source's set:
/// drops first (`ALL` clears), then adds (`ALL` adds every capability), as Docker does.
/// With no flags the source's set is kept as it is (Docker's default for an image, an
/// assumption; a bundle's own). With flags the set is what the flags say, no longer an
/// assumption. `Err` names a word that is not a capability.
pub fn capabilities(
    base: Option<&shellflow::Capabilities>,
    ov: &Overrides,
) -> Result<Option<shellflow::Capabilities>, String> {
    if ov.cap_add.is_empty() && ov.cap_drop.is_empty() {
        return Ok(base.cloned());
    }
    let name = |flag: &str, w: &str| {
        shellflow::Capabilities::name_of(w)
            .ok_or_else(|| format!("{flag} {w:?}: not a capability name (e.g. NET_ADMIN, ALL)"))
    };
    let mut set: Vec<String> = base.map(|c| c.bounding.clone()).unwrap_or_default();
    for w in &ov.cap_drop {
        if w.eq_ignore_ascii_case("all") {
            set.clear();
        } else {
            let n = name("--cap-drop", w)?;
            set.retain(|c| *c != n);
        }
    }
    for w in &ov.cap_add {
        if w.eq_ignore_ascii_case("all") {
            set = shellflow::Capabilities::all_names();
        } else {
            set.push(name("--cap-add", w)?);
        }
    }
    Ok(Some(shellflow::Capabilities::from_names(&set, None)))
}

/// The process the runtime will start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// As written (`name`, `uid`, `uid:gid`); `None` is root.
    pub user: Option<String>,
    pub workdir: String,
    /// How the argv was put together, for the chain.
    pub why: String,
}

/// Composes `spec` with `overrides`.
pub fn compose(spec: &ImageSpec, overrides: &Overrides) -> Composed {
    let mut why = Vec::new();
    let (entrypoint, cmd) = match &overrides.entrypoint {
        Some(word) => {
            why.push(format!(
                "--entrypoint {word:?} replaces ENTRYPOINT and clears CMD"
            ));
            let ep = if word.is_empty() {
                Vec::new()
            } else {
                vec![word.clone()]
            };
            (ep, Vec::new())
        }
        None => (
            spec.entrypoint.clone().unwrap_or_default(),
            spec.cmd.clone().unwrap_or_default(),
        ),
    };
    let cmd = if overrides.args.is_empty() {
        cmd
    } else {
        why.push("arguments replace CMD".to_string());
        overrides.args.clone()
    };
    why.insert(0, format!("ENTRYPOINT {entrypoint:?} ++ CMD {cmd:?}"));
    let mut argv = entrypoint;
    argv.extend(cmd);
    if is_shell_form(&argv, &spec.shell) {
        why.push("shell form (the builder wrote it as a shell -c)".to_string());
    }
    let mut env = spec.env.clone();
    for kv in &overrides.env {
        set_env(&mut env, kv);
    }
    let workdir = match spec.workdir.as_deref() {
        Some(w) if !w.is_empty() => crate::vfs::normalize(w, "/"),
        _ => "/".to_string(),
    };
    Composed {
        argv,
        env,
        user: overrides.user.clone().or_else(|| spec.user.clone()),
        workdir,
        why: why.join("; "),
    }
}

/// Sets `KEY=VALUE` in `env`, replacing an earlier value of `KEY`; words without `=` are
/// ignored.
pub fn set_env(env: &mut Vec<String>, kv: &str) {
    let Some((key, _)) = kv.split_once('=') else {
        return;
    };
    if key.is_empty() {
        return;
    }
    let prefix = format!("{key}=");
    match env.iter_mut().find(|e| e.starts_with(&prefix)) {
        Some(slot) => *slot = kv.to_string(),
        None => env.push(kv.to_string()),
    }
}

/// Removes `KEY` from `env`.
pub fn unset_env(env: &mut Vec<String>, key: &str) {
    let prefix = format!("{key}=");
    env.retain(|e| !e.starts_with(&prefix));
}

fn is_shell_form(argv: &[String], shell: &[String]) -> bool {
    let default = ["/bin/sh".to_string(), "-c".to_string()];
    let shell = if shell.is_empty() {
        &default[..]
    } else {
        shell
    };
    argv.len() > shell.len() && argv.starts_with(shell)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|s| s.to_string()).collect()
    }

    fn spec(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageSpec {
        ImageSpec {
            entrypoint: ep.map(words),
            cmd: cmd.map(words),
            env: words(&["PATH=/usr/bin:/bin", "LANG=C"]),
            ..ImageSpec::default()
        }
    }

    #[test]
    fn composes_argv_with_docker_run_semantics() {
        let tini: &[&str] = &["tini", "--", "app"];
        let serve: &[&str] = &["serve", "--port", "80"];
        let cases: Vec<(ImageSpec, Overrides, Vec<String>)> = vec![
            (
                spec(Some(tini), Some(serve)),
                Overrides::default(),
                words(&["tini", "--", "app", "serve", "--port", "80"]),
            ),
            (
                spec(None, Some(&["/bin/sh", "-c", "python app.py"])),
                Overrides::default(),
                words(&["/bin/sh", "-c", "python app.py"]),
            ),
            (
                spec(Some(tini), None),
                Overrides::default(),
                words(&["tini", "--", "app"]),
            ),
            (
                spec(Some(&[]), Some(&["x"])),
                Overrides::default(),
                words(&["x"]),
            ),
            (spec(None, None), Overrides::default(), Vec::new()),
            (
                spec(Some(tini), Some(serve)),
                Overrides {
                    args: words(&["debug"]),
                    ..Overrides::default()
                },
                words(&["tini", "--", "app", "debug"]),
            ),
            (
                spec(Some(tini), Some(serve)),
                Overrides {
                    entrypoint: Some("bash".into()),
                    ..Overrides::default()
                },
                words(&["bash"]),
            ),
            (
                spec(Some(tini), Some(serve)),
                Overrides {
                    entrypoint: Some("bash".into()),
                    args: words(&["-c", "id"]),
                    ..Overrides::default()
                },
                words(&["bash", "-c", "id"]),
            ),
            (
                spec(Some(tini), Some(serve)),
                Overrides {
                    entrypoint: Some(String::new()),
                    args: words(&["ls"]),
                    ..Overrides::default()
                },
                words(&["ls"]),
            ),
        ];
        for (spec, ov, want) in cases {
            assert_eq!(compose(&spec, &ov).argv, want, "{spec:?} {ov:?}");
        }
    }

    #[test]
    fn overrides_set_env_user_and_the_workdir_defaults_to_root() {
        let mut s = spec(None, Some(&["app"]));
        s.user = Some("1000".into());
        let ov = Overrides {
            env: words(&["LANG=en_US.UTF-8", "NEW=1", "BARE"]),
            user: Some("postgres".into()),
            ..Overrides::default()
        };
        let c = compose(&s, &ov);
        assert_eq!(
            c.env,
            words(&["PATH=/usr/bin:/bin", "LANG=en_US.UTF-8", "NEW=1"])
        );
        assert_eq!(c.user.as_deref(), Some("postgres"));
        assert_eq!(c.workdir, "/");
        s.workdir = Some("/srv/app/".into());
        assert_eq!(compose(&s, &Overrides::default()).workdir, "/srv/app");
        assert_eq!(
            compose(&s, &Overrides::default()).user.as_deref(),
            Some("1000")
        );
    }

    #[test]
    fn shell_form_is_recognised_in_the_explanation() {
        let c = compose(
            &spec(None, Some(&["/bin/sh", "-c", "exec app"])),
            &Overrides::default(),
        );
        assert!(c.why.contains("shell form"), "{}", c.why);
        let c = compose(&spec(None, Some(&["app"])), &Overrides::default());
        assert!(!c.why.contains("shell form"), "{}", c.why);
    }
}
