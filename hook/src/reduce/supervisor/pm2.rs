//! pm2-runtime (pm2's foreground mode for containers, also `pm2 start … --no-daemon`): its
//! ecosystem file's apps.
//!
//! `pm2-runtime [start] FILE`: a `.json` ecosystem file is read whole (`{"apps": […]}` or a
//! bare array of apps); a `.js`/`.cjs` one only when it is a plain `module.exports = { … }`
//! object literal (see [`super::json5ish`]), else a diagnostic says it is code. Each of `apps[]` gives `script`, `args` (string or
//! array), `interpreter` (`none` runs the script itself; unset picks by extension as pm2
//! does: `.js` → node, `.py` → python3, `.sh` → bash …), `cwd`, `env`, and `uid`/`user`.
//! Any other FILE is one app run by its interpreter. It does not read YAML ecosystem files,
//! `--only` filters or cluster `instances`.

use serde_json::Value;

use super::{json5ish, shell_words, Reader, Service};
use crate::vfs::normalize;

/// Interpreters pm2 picks by the script's extension.
const BY_EXTENSION: &[(&str, &str)] = &[
    ("js", "node"),
    ("mjs", "node"),
    ("cjs", "node"),
    ("ts", "ts-node"),
    ("py", "python3"),
    ("sh", "bash"),
    ("rb", "ruby"),
    ("php", "php"),
    ("pl", "perl"),
];

/// pm2 options that take a value (skipped when looking for FILE).
const VALUED: &[&str] = &[
    "--only",
    "-i",
    "--instances",
    "--env",
    "-n",
    "--name",
    "--node-args",
    "--interpreter",
    "--cwd",
];

pub(crate) fn discover(rd: &mut Reader<'_>, args: &[String], cwd: &str) {
    let mut it = args.iter();
    let mut file = None;
    while let Some(a) = it.next() {
        if VALUED.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') && a != "start" {
            file = Some(a.clone());
            break;
        }
    }
    let Some(file) = file else {
        rd.warn("pm2-runtime without an ecosystem file or script".into());
        return;
    };
    let path = normalize(&file, cwd);
    let is_ecosystem =
        file.ends_with(".json") || file.contains(".config.") || file.ends_with("ecosystem.js");
    if !is_ecosystem {
        let app = serde_json::json!({"name": file, "script": file});
        rd.found
            .evidence
            .push(format!("pm2-runtime runs the script {file}"));
        add_app(rd, &app, cwd, &format!("{path}:1"));
        return;
    }
    let Some(text) = rd.read(&path) else { return };
    let parsed = if file.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        json5ish::module_exports(&text)
    };
    let doc = match parsed {
        Ok(v) => v,
        Err(why) => {
            rd.warn(format!("pm2-runtime: {path} was not read as data: {why}"));
            return;
        }
    };
    rd.found.evidence.push(format!("pm2-runtime reads {path}"));
    let apps = match (doc.get("apps"), &doc) {
        (Some(Value::Array(a)), _) | (None, Value::Array(a)) => a.clone(),
        (Some(v @ Value::Object(_)), _) => vec![v.clone()],
        _ => {
            rd.warn(format!("pm2-runtime: {path} has no apps array"));
            return;
        }
    };
    let dir = normalize("..", &path);
    for app in &apps {
        let line = line_of(&text, app);
        if !add_app(rd, app, &dir, &format!("{path}:{line}")) {
            return;
        }
    }
}

/// One app into a service; false when the service cap is reached.
fn add_app(rd: &mut Reader<'_>, app: &Value, dir: &str, location: &str) -> bool {
    let s = |k: &str| app.get(k).and_then(Value::as_str).map(String::from);
    let Some(script) = s("script") else {
        rd.warn(format!("pm2-runtime: an app at {location} has no script"));
        return true;
    };
    let name = s("name").unwrap_or_else(|| script.clone());
    let args: Vec<String> = match app.get("args") {
        Some(Value::String(a)) => shell_words(a).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let interpreter = s("interpreter")
        .or_else(|| s("exec_interpreter"))
        .or_else(|| {
            let ext = script.rsplit_once('.').map(|(_, e)| e)?;
            BY_EXTENSION
                .iter()
                .find(|(e, _)| *e == ext)
                .map(|(_, i)| i.to_string())
        });
    let mut argv = match interpreter.as_deref() {
        None | Some("none") => vec![script.clone()],
        Some(i) => vec![i.to_string(), script.clone()],
    };
    argv.extend(args);
    let env = match app.get("env") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), String::from)
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let uid = app.get("uid").or_else(|| app.get("user"));
    rd.push(Service {
        name: format!("app {name}"),
        argv,
        env,
        user: uid.and_then(|u| {
            u.as_str()
                .map(String::from)
                .or_else(|| u.as_u64().map(|n| n.to_string()))
        }),
        workdir: Some(normalize(&s("cwd").unwrap_or_else(|| ".".into()), dir)),
        location: location.to_string(),
        autostart: app.get("autostart") != Some(&Value::Bool(false)),
        notes: Vec::new(),
    })
}

/// The line of the app's `script` value in the file (1 when it cannot be found).
fn line_of(text: &str, app: &Value) -> usize {
    let Some(script) = app.get("script").and_then(Value::as_str) else {
        return 1;
    };
    text.lines()
        .position(|l| l.contains("script") && l.contains(script))
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;
    use entrytrace_config::Limits;
    use serde_json::json;

    #[test]
    fn apps_become_argvs_the_way_pm2_starts_them() {
        #[rustfmt::skip]
        let cases: &[(Value, &[&str], Option<&str>, &str)] = &[
            (json!({"script": "server.js"}), &["node", "server.js"], None, "/srv"),
            (json!({"script": "app.py", "args": "--port 80", "uid": "app"}), &["python3", "app.py", "--port", "80"], Some("app"), "/srv"),
            (json!({"script": "/usr/bin/worker", "interpreter": "none", "args": ["-q"], "cwd": "/w"}), &["/usr/bin/worker", "-q"], None, "/w"),
            (json!({"script": "run.sh", "exec_interpreter": "/bin/sh", "user": 1000}), &["/bin/sh", "run.sh"], Some("1000"), "/srv"),
            (json!({"script": "bin/server", "cwd": "sub"}), &["bin/server"], None, "/srv/sub"),
        ];
        let vfs = MemVfs::new();
        let limits = Limits::default();
        for (app, argv, user, cwd) in cases {
            let mut rd = Reader::new(&vfs, &limits, &[]);
            assert!(add_app(&mut rd, app, "/srv", "/srv/e.json:1"));
            let s = &rd.found.services[0];
            assert_eq!(s.argv, *argv, "{app}");
            assert_eq!(s.user.as_deref(), *user, "{app}");
            assert_eq!(s.workdir.as_deref(), Some(*cwd), "{app}");
        }
    }

    #[test]
    fn finds_the_line_of_each_apps_script() {
        let text = "{\n \"apps\": [\n  {\"name\": \"a\",\n   \"script\": \"a.js\"},\n  {\"script\": \"b.js\"}\n ]\n}\n";
        assert_eq!(line_of(text, &json!({"script": "a.js"})), 4);
        assert_eq!(line_of(text, &json!({"script": "b.js"})), 5);
        assert_eq!(line_of(text, &json!({"name": "x"})), 1);
    }
}
