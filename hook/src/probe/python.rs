//! The Python detector: `python -m mod` (the module found on the image's `sys.path`), a
//! script path, and WSGI/ASGI servers (`gunicorn`/`uvicorn`/`hypercorn`/`daphne`
//! `pkg.mod:obj`, run as a program or as `python /usr/local/bin/gunicorn …`).
//!
//! `sys.path` is approximated from the image, as CPython builds it (`site` module docs): the
//! working directory for `-m` (the script's directory for a script), `PYTHONPATH`, the
//! standard library and `site-packages`/`dist-packages` under `/usr/lib/python3*`,
//! `/usr/local/lib/python3*` and the virtualenv of the interpreter (`VIRTUAL_ENV`, or the
//! prefix of an `…/bin/python`). A module is `a/b.py` or a package `a/b/__init__.py`; `-m
//! pkg` needs `pkg/__main__.py`. Extension modules (`.so`) and zip imports are not searched,
//! so an unresolved module lowers confidence but is not called missing.

use super::detect::{first_operand, option_value, Detection, Subject};

/// Interpreter options that take the next word.
const VALUE_OPTIONS: &[&str] = &["-X", "-W", "-Q"];
/// Servers that load an `app` object from a module.
const APP_SERVERS: &[&str] = &["gunicorn", "uvicorn", "hypercorn", "daphne", "granian"];
/// Their options that take the next word (enough of them to find the app operand).
const SERVER_VALUE_OPTIONS: &[&str] = &[
    "-b",
    "--bind",
    "-w",
    "--workers",
    "-k",
    "--worker-class",
    "-c",
    "--config",
    "--chdir",
    "-t",
    "--timeout",
    "--log-level",
    "--access-logfile",
    "--error-logfile",
    "-e",
    "--env",
    "--threads",
    "-u",
    "--user",
    "-g",
    "--group",
    "--host",
    "--port",
    "--app-dir",
    "--root-path",
    "--log-config",
    "--name",
    "-n",
    "--pid",
    "-p",
    "--forwarded-allow-ips",
    "--graceful-timeout",
    "--keep-alive",
    "--max-requests",
    "--worker-tmp-dir",
    "--loop",
    "--http",
    "--ws",
    "--interface",
    "--uds",
    "--fd",
    "--proxy-headers",
    "--workers-per-core",
];

pub fn detect(s: &Subject<'_>) -> Option<Detection> {
    if APP_SERVERS.contains(&s.name()) {
        return Some(app_server(s, s.name(), &s.argv[1..]));
    }
    if let Some(module) = option_value(s.argv, &["-m"], VALUE_OPTIONS) {
        let at = s
            .argv
            .iter()
            .position(|w| w == module || w.ends_with(module))?;
        if APP_SERVERS.contains(&module) {
            return Some(app_server(s, module, &s.argv[at + 1..]));
        }
        return Some(module_detection(s, module));
    }
    let (i, script) = first_operand(s.argv, VALUE_OPTIONS, &["-c"])?;
    let name = script.rsplit('/').next().unwrap_or(script);
    if let Some(server) = APP_SERVERS.iter().find(|n| **n == name) {
        return Some(app_server(s, server, &s.argv[i + 1..]));
    }
    Some(super::node::script_detection(s, script, "python"))
}

/// `python -m module`: the module's file on `sys.path`, and `__main__.py` for a package.
fn module_detection(s: &Subject<'_>, module: &str) -> Detection {
    let dirs = sys_path(s, s.cwd);
    match find_module(s, module, &dirs) {
        Some((file, true)) => {
            let main = format!("{}/__main__.py", file.trim_end_matches("/__init__.py"));
            let mut d = Detection::found(
                format!("module {module} ({file})"),
                format!("python -m {module}: package at {file}"),
            );
            if s.file(&main).is_some() {
                d.validated = Some(format!("{main} exists: the package is runnable"));
            } else {
                d.resolved = None;
                d.missing = Some(format!(
                    "python -m {module}: {main} is missing (a package without __main__ cannot be run)"
                ));
                d.evidence.push(d.missing.clone().unwrap_or_default());
            }
            d
        }
        Some((file, false)) => {
            let mut d = Detection::found(
                format!("module {module} ({file})"),
                format!("python -m {module}: module file {file}"),
            );
            d.validated = Some(format!("{file} resolves module {module}"));
            d
        }
        None => unresolved(module, &dirs, "python -m"),
    }
}

/// `gunicorn [OPTIONS] pkg.mod:obj`: the module holding the application object.
fn app_server(s: &Subject<'_>, server: &str, args: &[String]) -> Detection {
    let mut argv = vec![server.to_string()];
    argv.extend(args.iter().cloned());
    let spec = first_operand(&argv, SERVER_VALUE_OPTIONS, &[])
        .map(|(_, w)| w.clone())
        .or_else(|| s.env("APP_MODULE").map(str::to_string));
    let Some(spec) = spec else {
        return Detection {
            evidence: vec![format!(
                "{server}: no application named on the command line"
            )],
            ..Detection::default()
        };
    };
    let module = spec.split(':').next().unwrap_or(&spec).to_string();
    let base = option_value(&argv, &["--chdir", "--app-dir"], SERVER_VALUE_OPTIONS)
        .map(|d| crate::vfs::normalize(d, s.cwd))
        .unwrap_or_else(|| s.cwd.to_string());
    let dirs = sys_path(s, &base);
    match find_module(s, &module, &dirs) {
        Some((file, _)) => {
            let mut d = Detection::found(
                format!("{server} app {spec} ({file})"),
                format!("{server} loads {spec} from {file}"),
            );
            d.validated = Some(format!("{file} resolves module {module}"));
            d
        }
        None => {
            let mut d = unresolved(&module, &dirs, server);
            d.artefact = Some(format!("{server} app {spec}"));
            d
        }
    }
}

fn unresolved(module: &str, dirs: &[String], who: &str) -> Detection {
    Detection {
        artefact: Some(format!("module {module}")),
        evidence: vec![format!(
            "{who} {module}: not found on sys.path (looked in {})",
            dirs.join(", ")
        )],
        ..Detection::default()
    }
}

/// `(file, is_package)` of `module` in the first of `dirs` that has it.
fn find_module(s: &Subject<'_>, module: &str, dirs: &[String]) -> Option<(String, bool)> {
    let valid = !module.is_empty()
        && module
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !valid {
        return None;
    }
    let rel = module.replace('.', "/");
    dirs.iter().find_map(|d| {
        let file = format!("{d}/{rel}.py");
        if let Some((p, _)) = s.file(&file) {
            return Some((p, false));
        }
        let init = format!("{d}/{rel}/__init__.py");
        if let Some((p, _)) = s.file(&init) {
            return Some((p, true));
        }
        // A namespace package (PEP 420): a directory with __main__.py and no __init__.py.
        let main = format!("{d}/{rel}/__main__.py");
        s.file(&main)
            .map(|(p, _)| (p.replace("/__main__.py", "/__init__.py"), true))
    })
}

/// The image's `sys.path` for an interpreter started in `first`.
pub fn sys_path(s: &Subject<'_>, first: &str) -> Vec<String> {
    let mut dirs = vec![first.to_string()];
    if let Some(pp) = s.env("PYTHONPATH") {
        dirs.extend(
            pp.split(':')
                .filter(|p| !p.is_empty())
                .map(|p| crate::vfs::normalize(p, s.cwd)),
        );
    }
    let mut prefixes = vec!["/usr".to_string(), "/usr/local".to_string()];
    let venv = s.env("VIRTUAL_ENV").map(str::to_string).or_else(|| {
        let a0 = s.argv.first()?;
        a0.strip_suffix(a0.rsplit('/').next()?)?
            .strip_suffix("/bin/")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    });
    prefixes.extend(venv);
    for prefix in prefixes {
        let lib = format!("{prefix}/lib");
        let Ok(names) = s.vfs.read_dir(&lib) else {
            continue;
        };
        for n in names.iter().filter(|n| n.starts_with("python3")).take(8) {
            dirs.push(format!("{lib}/{n}"));
            dirs.push(format!("{lib}/{n}/site-packages"));
            dirs.push(format!("{lib}/{n}/dist-packages"));
        }
        dirs.push(format!("{lib}/python3/dist-packages"));
    }
    dirs.dedup();
    dirs.retain(|d| s.is_dir(d));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::{detect_line, facts};
    use crate::vfs::mem::MemVfs;

    fn run(v: &MemVfs, line: &str, env: &[&str]) -> Detection {
        detect_line(v, line, "python", ("/usr/bin/python3", "/app", env))
    }

    #[test]
    fn modules_scripts_and_apps_resolve_on_the_image_sys_path() {
        let mut v = MemVfs::new();
        for f in [
            "/app/svc/__init__.py",
            "/app/svc/__main__.py",
            "/app/lib/__init__.py",
            "/app/main.py",
            "/app/web/wsgi.py",
            "/src/extra/tool.py",
            "/usr/local/lib/python3.12/site-packages/celery/__init__.py",
            "/usr/local/lib/python3.12/site-packages/celery/__main__.py",
            "/opt/venv/lib/python3.11/site-packages/flask/__init__.py",
            "/opt/venv/lib/python3.11/site-packages/flask/__main__.py",
            "/usr/lib/python3.11/http/server.py",
        ] {
            v.add_file(f, 0o644, b"x = 1\n");
        }
        /// (line, env, artefact, f3, f6, missing)
        type Case<'a> = (&'a str, &'a [&'a str], &'a str, bool, bool, bool);
        let cases: &[Case] = &[
            (
                "python3 -m svc",
                &[],
                "module svc (/app/svc/__init__.py)",
                true,
                true,
                false,
            ),
            (
                "python3 -u -m lib",
                &[],
                "module lib (/app/lib/__init__.py)",
                false,
                false,
                true,
            ),
            (
                "python3 -m tool",
                &["PYTHONPATH=/src/extra"],
                "module tool (/src/extra/tool.py)",
                true,
                true,
                false,
            ),
            (
                "python3 -m celery worker",
                &[],
                "module celery (/usr/local/lib/python3.12/site-packages/celery/__init__.py)",
                true,
                true,
                false,
            ),
            (
                "/opt/venv/bin/python -m flask run",
                &[],
                "module flask (/opt/venv/lib/python3.11/site-packages/flask/__init__.py)",
                true,
                true,
                false,
            ),
            (
                "python3 -m http.server 80",
                &[],
                "module http.server (/usr/lib/python3.11/http/server.py)",
                true,
                true,
                false,
            ),
            (
                "python3 -m nothere",
                &[],
                "module nothere",
                false,
                false,
                false,
            ),
            (
                "python3 main.py --port 80",
                &[],
                "script /app/main.py",
                true,
                true,
                false,
            ),
            (
                "python3 gone.py",
                &[],
                "script /app/gone.py",
                false,
                false,
                true,
            ),
            (
                "gunicorn -b 0.0.0.0:80 -w 4 web.wsgi:application",
                &[],
                "gunicorn app web.wsgi:application (/app/web/wsgi.py)",
                true,
                true,
                false,
            ),
            (
                "python3 /usr/local/bin/uvicorn main:app --host 0.0.0.0",
                &[],
                "uvicorn app main:app (/app/main.py)",
                true,
                true,
                false,
            ),
            (
                "python3 -m gunicorn --chdir /app/web wsgi:app",
                &[],
                "gunicorn app wsgi:app (/app/web/wsgi.py)",
                true,
                true,
                false,
            ),
            (
                "gunicorn nope:app",
                &[],
                "gunicorn app nope:app",
                false,
                false,
                false,
            ),
        ];
        for (line, env, artefact, f3, f6, missing) in cases {
            let d = run(&v, line, env);
            assert_eq!(d.artefact.as_deref(), Some(*artefact), "{line}: {d:?}");
            assert_eq!(facts(&d), (*f3, *f6, *missing), "{line}: {d:?}");
        }
        let lib = run(&v, "python3 -m lib", &[]);
        assert!(
            lib.missing
                .as_deref()
                .is_some_and(|m| m.contains("/app/lib/__main__.py")),
            "{lib:?}"
        );
    }
}
