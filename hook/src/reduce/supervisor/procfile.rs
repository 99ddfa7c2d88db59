//! Procfile runners: forego, foreman, overmind and honcho (`RUNNER start [NAME]`).
//!
//! They read `Procfile` in their directory (`-f`/`--procfile` names another, `-d`/`--root`
//! another directory) and run each `name: command` line with `sh -c`, in the Procfile's
//! directory, with the variables of `.env` there added. So each service is the argv
//! `/bin/sh -c command`, which the walk hands to shellflow. `start NAME` runs that line
//! only. It does not model `-m`/`--formation` process counts or port assignment.

use super::{Reader, Service};
use crate::vfs::normalize;

/// One `name: command` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub name: String,
    pub command: String,
    pub line: usize,
}

pub(crate) fn discover(rd: &mut Reader<'_>, runner: &str, args: &[String], cwd: &str) {
    let mut it = args.iter();
    let (mut file, mut root, mut only, mut started) = (None, None, None, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" | "--procfile" => file = it.next().cloned(),
            "-d" | "--root" | "--app-root" => root = it.next().cloned(),
            "-e" | "--env" | "-m" | "--formation" | "-p" | "--port" | "-t" | "--timeout" => {
                it.next();
            }
            "start" | "s" if !started => started = true,
            a if a.starts_with("--procfile=") => file = Some(a["--procfile=".len()..].to_string()),
            a if !a.starts_with('-') && started => only = Some(a.to_string()),
            _ => {}
        }
    }
    if !started {
        rd.warn(format!(
            "{runner} is not run with `start`: no Procfile services"
        ));
        return;
    }
    let root = normalize(root.as_deref().unwrap_or("."), cwd);
    let path = normalize(file.as_deref().unwrap_or("Procfile"), &root);
    let Some(text) = rd.read(&path) else {
        rd.warn(format!("{runner}: no Procfile at {path}"));
        return;
    };
    rd.found
        .evidence
        .push(format!("{runner} runs the lines of {path}"));
    let dir = normalize("..", &path);
    let env = rd
        .read_if_present(&normalize(".env", &dir))
        .map(|t| dotenv(&t))
        .unwrap_or_default();
    for l in parse(&text) {
        if only.as_deref().is_some_and(|o| o != l.name) {
            continue;
        }
        let svc = Service {
            name: l.name.clone(),
            argv: vec!["/bin/sh".into(), "-c".into(), l.command.clone()],
            env: env.clone(),
            user: None,
            workdir: Some(dir.clone()),
            location: format!("{path}:{}", l.line),
            autostart: true,
            notes: vec![format!("{runner} runs the line with sh -c")],
        };
        if !rd.push(svc) {
            return;
        }
    }
}

/// The `name: command` lines (names of letters, digits, `_` and `-`; `#` comments).
pub(crate) fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (name, cmd) = l.split_once(':')?;
            let name = name.trim();
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let cmd = cmd.trim();
            (ok && !cmd.is_empty()).then(|| Line {
                name: name.to_string(),
                command: cmd.to_string(),
                line: n + 1,
            })
        })
        .collect()
}

/// `KEY=VALUE` lines of a `.env` file (quotes around the value removed).
fn dotenv(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.strip_prefix("export ").unwrap_or(l))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            (!k.trim().is_empty()).then(|| format!("{}={v}", k.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_procfile_lines_with_their_line_numbers() {
        let text = "# comment\nweb: bundle exec puma -p $PORT\n\nworker:  sidekiq -C x.yml \nbad name: x\nrelease:\nhttp://x\n";
        let got: Vec<(String, String, usize)> = parse(text)
            .into_iter()
            .map(|l| (l.name, l.command, l.line))
            .collect();
        assert_eq!(
            got,
            [
                ("web".into(), "bundle exec puma -p $PORT".into(), 2),
                ("worker".into(), "sidekiq -C x.yml".into(), 4),
                ("http".into(), "//x".into(), 7),
            ]
        );
    }

    #[test]
    fn reads_dotenv_assignments() {
        #[rustfmt::skip]
        let cases: &[(&str, &[&str])] = &[
            ("A=1\nB=\"two words\"\n# x\nexport C='c'\n", &["A=1", "B=two words", "C=c"]),
            ("=x\nnoequals\n", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(dotenv(text), *want, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            for l in parse(&text) {
                proptest::prop_assert!(!l.name.is_empty() && !l.command.is_empty());
            }
            let _ = dotenv(&text);
        }
    }
}
