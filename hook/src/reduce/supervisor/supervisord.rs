//! supervisord: its INI configuration, `[include]`s and `[program:x]` sections.
//!
//! The file is the one named by `-c`/`--configuration`, else the first of supervisord's
//! search path that exists (`../etc/supervisord.conf` and `../supervisord.conf` from its own
//! directory, `$CWD/supervisord.conf`, `$CWD/etc/supervisord.conf`, `/etc/supervisord.conf`,
//! `/etc/supervisor/supervisord.conf`). `[include] files=` globs
//! are relative to the including file's directory, resolved in the image root, followed
//! `limits.max_include_depth` deep, each file once. Per program: `command=` (split as
//! `shlex.split` does), `user=`, `directory=`, `environment=`, `autostart=`; the
//! `[supervisord]` section's `user=` and `environment=` are inherited. `%(here)s`,
//! `%(program_name)s` and `%(ENV_X)s` are expanded. It ignores `numprocs`, event listeners,
//! `[fcgi-program:x]` and `[group:x]`.

use std::collections::BTreeSet;

use super::{shell_words, Reader, Service};
use crate::vfs::normalize;

/// Where supervisord looks when no `-c` is given (relative ones against its directory).
const SEARCH: &[&str] = &[
    "supervisord.conf",
    "etc/supervisord.conf",
    "/etc/supervisord.conf",
    "/etc/supervisor/supervisord.conf",
];

/// One `key = value` of a section, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// One `[name]` section of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }
}

/// Reads the configuration and lists its programs.
/// `word` is the program as exec'd: supervisord first looks next to it, in `../etc/` and
/// `../` of its directory.
pub(crate) fn discover(rd: &mut Reader<'_>, word: &str, args: &[String], cwd: &str) {
    let conf = match config_arg(args) {
        Some(c) => normalize(&c, cwd),
        None => {
            let beside: Vec<String> = if word.starts_with('/') {
                let here = normalize("../..", word);
                vec![
                    normalize("etc/supervisord.conf", &here),
                    normalize("supervisord.conf", &here),
                ]
            } else {
                Vec::new()
            };
            let hit = beside
                .into_iter()
                .chain(SEARCH.iter().map(|p| normalize(p, cwd)))
                .find(|p| matches!(rd.vfs.stat(p), Ok(Some(_))));
            match hit {
                Some(p) => p,
                None => {
                    rd.warn(format!(
                        "supervisord: no configuration file (looked in {})",
                        SEARCH.join(", ")
                    ));
                    return;
                }
            }
        }
    };
    rd.found.evidence.push(format!("supervisord reads {conf}"));
    let mut sections = Vec::new();
    let mut visited = BTreeSet::new();
    load(rd, &conf, 0, &mut visited, &mut sections);
    programs(rd, &sections);
}

/// The `-c FILE` / `--configuration[=]FILE` argument.
fn config_arg(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-c" || a == "--configuration" {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix("--configuration=") {
            return Some(v.to_string());
        }
        if let Some(v) = a
            .strip_prefix("-c")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            return Some(v.to_string());
        }
    }
    None
}

/// Parses `path` and, depth first, the files its `[include]` names.
fn load(
    rd: &mut Reader<'_>,
    path: &str,
    depth: u32,
    visited: &mut BTreeSet<String>,
    out: &mut Vec<Section>,
) {
    let real = rd
        .vfs
        .resolve(path, "/", true)
        .unwrap_or_else(|_| path.to_string());
    if !visited.insert(real) {
        rd.found
            .evidence
            .push(format!("supervisord: {path} already read (include cycle)"));
        return;
    }
    let Some(text) = rd.read(path) else { return };
    let sections = parse_ini(&text, path);
    let dir = parent(path);
    for s in &sections {
        if s.name != "include" {
            continue;
        }
        let Some(files) = s.get("files") else {
            continue;
        };
        if depth + 1 > rd.limits.max_include_depth {
            let max = rd.limits.max_include_depth;
            rd.warn(format!(
                "supervisord: [include] at {path}:{} is deeper than limits.max_include_depth = {max}: not followed",
                files.line
            ));
            continue;
        }
        for pattern in files.value.split_whitespace() {
            let pattern = expand(pattern, &dir, "", rd.env);
            for f in rd.glob(&pattern, &dir) {
                load(rd, &f, depth + 1, visited, out);
            }
        }
    }
    out.extend(sections);
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

/// `[program:x]` sections into services.
fn programs(rd: &mut Reader<'_>, sections: &[Section]) {
    let daemon = sections.iter().find(|s| s.name == "supervisord");
    let inherited_user = daemon.and_then(|d| d.get("user")).map(|e| e.value.clone());
    let inherited_env = daemon
        .and_then(|d| d.get("environment"))
        .map(|e| environment(&e.value))
        .unwrap_or_default();
    for s in sections {
        let Some(prog) = s.name.strip_prefix("program:") else {
            continue;
        };
        let here = parent(&s.file);
        let expand = |v: &str| expand(v, &here, prog, rd.env);
        let Some(cmd) = s.get("command") else {
            rd.warn(format!(
                "supervisord: [program:{prog}] at {}:{} has no command=",
                s.file, s.line
            ));
            continue;
        };
        let argv = match shell_words(&expand(&cmd.value)) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                rd.warn(format!(
                    "supervisord: {}:{}: empty command=",
                    s.file, cmd.line
                ));
                continue;
            }
            Err(why) => {
                rd.warn(format!(
                    "supervisord: {}:{}: command=: {why}",
                    s.file, cmd.line
                ));
                continue;
            }
        };
        let get = |k: &str| s.get(k).map(|e| expand(&e.value));
        let mut env = inherited_env.clone();
        env.extend(
            get("environment")
                .map(|v| environment(&v))
                .unwrap_or_default(),
        );
        let svc = Service {
            name: format!("program:{prog}"),
            argv,
            env,
            user: get("user").or_else(|| inherited_user.clone()),
            workdir: get("directory"),
            location: format!("{}:{}", s.file, cmd.line),
            autostart: !get("autostart").is_some_and(|v| is_false(&v)),
            notes: Vec::new(),
        };
        if !rd.push(svc) {
            return;
        }
    }
}

fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "0"
    )
}

/// `%(here)s`, `%(program_name)s`, `%(process_num)…` and `%(ENV_X)s` (from `env`; an
/// unset one is kept as `${X}` so the word stays recognisable).
fn expand(v: &str, here: &str, program: &str, env: &[String]) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(close) = after.find(')') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let key = &after[..close];
        let tail = &after[close + 1..];
        let flags = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(tail.len());
        let fmt_len = match tail[flags..].chars().next() {
            Some(c) if c.is_ascii_alphabetic() => flags + 1,
            _ => 0,
        };
        out.push_str(&match key {
            "here" => here.to_string(),
            "program_name" => program.to_string(),
            "process_num" => "0".to_string(),
            k if k.starts_with("ENV_") => crate::probe::path::env_value(env, &k[4..])
                .map_or_else(|| format!("${{{}}}", &k[4..]), String::from),
            k => format!("%({k})"),
        });
        rest = &tail[fmt_len..];
    }
    out.push_str(rest);
    out
}

/// `KEY="val",KEY2=val2` into `KEY=VALUE` words.
fn environment(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in v.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (',', None) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|kv| kv.trim().to_string())
        .filter(|kv| kv.contains('='))
        .collect()
}

/// An INI file as Python's `configparser` reads supervisord's: `[section]`, `key = value`
/// or `key: value`, `;`/`#` comment lines, ` ;` inline comments, indented continuations.
pub(crate) fn parse_ini(text: &str, file: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            if let Some(e) = out.last_mut().and_then(|s| s.entries.last_mut()) {
                e.value.push(' ');
                e.value.push_str(strip_comment(trimmed));
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            out.push(Section {
                name: name.trim().to_string(),
                file: file.to_string(),
                line,
                entries: Vec::new(),
            });
            continue;
        }
        let Some(sec) = out.last_mut() else { continue };
        let Some(i) = trimmed.find(['=', ':']) else {
            continue;
        };
        sec.entries.push(Entry {
            key: trimmed[..i].trim().to_ascii_lowercase(),
            value: strip_comment(trimmed[i + 1..].trim()).to_string(),
            line,
        });
    }
    out
}

fn strip_comment(v: &str) -> &str {
    match v.find(" ;").or_else(|| v.find("\t;")) {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ini_sections_entries_and_lines() {
        let text = "; comment\n[supervisord]\nnodaemon=true\n\n[program:web]\ncommand = /usr/bin/app --port 80 ; inline\n  --verbose\nuser: www\n[include]\nfiles = conf.d/*.conf other.ini\nstray line\n";
        let s = parse_ini(text, "/etc/supervisord.conf");
        let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["supervisord", "program:web", "include"]);
        let cmd = s[1].get("command").expect("command");
        assert_eq!(cmd.value, "/usr/bin/app --port 80 --verbose");
        assert_eq!(cmd.line, 6);
        assert_eq!(s[1].get("user").map(|e| e.value.as_str()), Some("www"));
        assert_eq!(s[2].get("files").map(|e| e.line), Some(10));
    }

    #[test]
    fn takes_the_config_file_from_every_spelling_of_dash_c() {
        #[rustfmt::skip]
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["-n", "-c", "/etc/s.conf"], Some("/etc/s.conf")),
            (&["-c/etc/s.conf"], Some("/etc/s.conf")),
            (&["--configuration=/x.conf", "-n"], Some("/x.conf")),
            (&["--configuration", "x.conf"], Some("x.conf")),
            (&["-n"], None),
            (&["-c"], None),
        ];
        for (args, want) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(config_arg(&args).as_deref(), *want, "{args:?}");
        }
    }

    #[test]
    fn expands_supervisord_percent_names_and_environment_lists() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("%(here)s/app", "/etc/supervisor/app"),
            ("run %(program_name)s-%(process_num)02d", "run web-0"),
            ("%(ENV_HOME)s/bin", "${HOME}/bin"),
            ("%(ENV_APP)s/bin", "/srv/bin"),
            ("%(unknown)s x", "%(unknown) x"),
            ("50%(", "50%("),
        ];
        let env = vec!["APP=/srv".to_string()];
        for (v, want) in cases {
            assert_eq!(expand(v, "/etc/supervisor", "web", &env), *want, "{v}");
        }
        assert_eq!(
            environment("A=1,B=\"x,y\", C='z' ,junk"),
            ["A=1", "B=x,y", "C=z"]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let sections = parse_ini(&text, "/f");
            for s in &sections {
                for e in &s.entries {
                    let _ = expand(&e.value, "/", "p", &[]);
                    let _ = environment(&e.value);
                    let _ = shell_words(&e.value);
                    proptest::prop_assert!(e.line >= s.line);
                }
            }
        }
    }
}
