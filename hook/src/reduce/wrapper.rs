//! Seeing through one wrapper program with a rule of the catalogue
//! (`entrytrace_config::WrapperRule`, static seed §4).
//!
//! A rule says which options take a value, which carry the user, whether the first operand
//! is the user (`gosu USER CMD`), which subcommand must come first (`bundle exec`), whether
//! leading `NAME=VALUE` words are assignments (`env`), and how many operands to skip
//! (`taskset MASK`). Options end at the first operand or at `--`. `env` has semantics the data
//! cannot say and that are handled here: `-i`/`-` clears the environment, `-u NAME` unsets,
//! `-C DIR` changes directory, and `-S STRING` splits its string into words (which is how
//! `#!/usr/bin/env -S python3 -u` works, the kernel passing `-S python3 -u` as one word).
//! Shells are not collapsed here: their script decides what runs (see `script`).

use entrytrace_config::{WrapperKind, WrapperRule};

/// What applying a rule to an argv gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The wrapped command and what the wrapper changes for it.
    Collapsed(Collapse),
    /// The wrapper runs a `package.json` script of this name (`npm start`, `npm run web`).
    PackageScript(String),
    /// This call does not wrap a command (`yarn install`, `gosu` alone): the program runs
    /// as itself.
    NotWrapping(String),
}

/// The command a wrapper runs, and how it changes its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collapse {
    pub argv: Vec<String>,
    /// The user it switches to, as written.
    pub user: Option<String>,
    /// `env -i`.
    pub clear_env: bool,
    pub unset: Vec<String>,
    /// `NAME=VALUE` assignments, in order.
    pub set: Vec<String>,
    /// `env -C DIR`.
    pub chdir: Option<String>,
    /// `setpriv --bounding-set=SPEC`: the command's capability bounding set changes.
    pub bounding_set: Option<String>,
}

/// The rule for program `argv0` (matched by basename), if it is a wrapper.
pub fn find_rule<'a>(catalogue: &'a [WrapperRule], argv0: &str) -> Option<&'a WrapperRule> {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    catalogue.iter().find(|r| r.names.iter().any(|n| n == base))
}

/// Applies `rule` to `argv` (whose `argv[0]` is the wrapper).
pub fn apply(rule: &WrapperRule, argv: &[String]) -> Applied {
    let Some(wrapper) = argv.first() else {
        return Applied::NotWrapping("empty argv".into());
    };
    let mut words: Vec<String> = argv.iter().skip(1).cloned().collect();
    let mut out = Collapse::default();
    let i = parse_options(rule, &mut words, &mut out);
    let mut rest = words.split_off(i.min(words.len()));
    if rule.assignments {
        let n = rest.iter().take_while(|w| is_assignment(w)).count();
        out.set.extend(rest.drain(..n));
    }
    if rule.user_operand {
        if rest.is_empty() {
            return Applied::NotWrapping(format!("{} with no user and command", wrapper));
        }
        out.user = Some(rest.remove(0));
    }
    if !rule.subcommands.is_empty() {
        let sub = rest.first().cloned().unwrap_or_default();
        if !has(&rule.subcommands, &sub) {
            return Applied::NotWrapping(format!(
                "{} {sub}: not a command-running subcommand",
                wrapper
            ));
        }
        rest.remove(0);
        if has(&rule.script_subcommands, &sub) {
            let name = if rest.is_empty() { sub } else { rest.remove(0) };
            return Applied::PackageScript(name);
        }
    }
    let skip = usize::try_from(rule.skip_operands).unwrap_or(usize::MAX);
    rest.drain(..skip.min(rest.len()));
    if rest.is_empty() {
        return Applied::NotWrapping(format!("{} wraps no command here", wrapper));
    }
    out.argv = rest;
    Applied::Collapsed(out)
}

/// Walks the wrapper's options (up to the first operand or `--`), recording what they
/// change; returns the index of the first operand.
fn parse_options(rule: &WrapperRule, words: &mut Vec<String>, out: &mut Collapse) -> usize {
    let mut i = 0;
    while i < words.len() {
        let w = words[i].clone();
        if w == "--" {
            i += 1;
            break;
        }
        if rule.kind == WrapperKind::Env && (w == "-" || w == "-i" || w == "--ignore-environment") {
            out.clear_env = true;
            i += 1;
            continue;
        }
        if !w.starts_with('-') || w == "-" {
            break;
        }
        if rule.kind == WrapperKind::Env {
            if let Some(split) = split_string_option(&w, words.get(i + 1)) {
                let consumed = if split.1 { 2 } else { 1 };
                words.splice(i..i + consumed, split.0);
                continue;
            }
        }
        let (name, inline) = split_option(rule, &w);
        let takes_value = has(&rule.value_options, &name) || has(&rule.user_options, &name);
        let value = match (takes_value, inline) {
            (false, _) => None,
            (true, Some(v)) => Some(v),
            (true, None) => {
                i += 1;
                words.get(i).cloned()
            }
        };
        if let Some(v) = value {
            record_value(rule, &name, v, out);
        }
        i += 1;
    }
    i
}

fn has(list: &[String], w: &str) -> bool {
    list.iter().any(|o| o == w)
}

/// `--opt=value` → (`--opt`, value); `-p15` → (`-p`, `15`) when `-p` takes a value.
fn split_option(rule: &WrapperRule, w: &str) -> (String, Option<String>) {
    if let Some((name, v)) = w.split_once('=') {
        if name.starts_with("--") {
            return (name.to_string(), Some(v.to_string()));
        }
    }
    if !w.starts_with("--") && w.len() > 2 {
        let (short, v) = w.split_at(2);
        if has(&rule.value_options, short) || has(&rule.user_options, short) {
            return (short.to_string(), Some(v.to_string()));
        }
    }
    (w.to_string(), None)
}

fn record_value(rule: &WrapperRule, name: &str, v: String, out: &mut Collapse) {
    if has(&rule.user_options, name) {
        out.user = Some(v);
    } else if rule.kind == WrapperKind::Dropper && name == "--bounding-set" {
        out.bounding_set = Some(v);
    } else if rule.kind == WrapperKind::Env {
        match name {
            "-u" | "--unset" => out.unset.push(v),
            "-C" | "--chdir" => out.chdir = Some(v),
            _ => {}
        }
    }
}

/// `env -S STRING` / `-SSTRING` / `--split-string=STRING`: the words to splice in, and
/// whether the option's value was the next word.
fn split_string_option(w: &str, next: Option<&String>) -> Option<(Vec<String>, bool)> {
    let (inline, from_next) = if w == "-S" || w == "--split-string" {
        (next?.clone(), true)
    } else if let Some(v) = w.strip_prefix("--split-string=") {
        (v.to_string(), false)
    } else if let Some(v) = w.strip_prefix("-S") {
        (v.to_string(), false)
    } else {
        return None;
    };
    let words = inline.split_whitespace().map(str::to_string).collect();
    Some((words, from_next))
}

/// `NAME=VALUE` with a shell-variable name.
pub fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    fn collapse(line: &str) -> Applied {
        let cat = entrytrace_config::wrappers::builtin();
        let argv = words(line);
        let rule = find_rule(&cat, &argv[0]).expect("a wrapper");
        apply(rule, &argv)
    }

    fn to(argv: &str) -> Collapse {
        Collapse {
            argv: words(argv),
            ..Collapse::default()
        }
    }

    #[test]
    fn collapses_init_shims_and_modifiers_to_their_command() {
        let cases = [
            ("tini -- app serve", "app serve"),
            ("/sbin/tini -s -g -p SIGTERM -- app", "app"),
            ("tini -vv app -- x", "app -- x"),
            ("tini -l app", "app"),
            ("dumb-init --single-child --rewrite 15:2 app", "app"),
            ("dumb-init -r=15:2 -c -- app -v", "app -v"),
            ("dumb-init --rewrite=15:2 app", "app"),
            ("catatonit -g -- app", "app"),
            ("nice -n 10 app", "app"),
            ("nice -n10 app", "app"),
            ("numactl --interleave=all app", "app"),
            ("numactl -N 0 -m 0 app", "app"),
            ("taskset 0x3 app x", "app x"),
            ("timeout -s KILL 30 app", "app"),
            ("stdbuf -oL app", "app"),
        ];
        for (line, want) in cases {
            assert_eq!(collapse(line), Applied::Collapsed(to(want)), "{line}");
        }
    }

    #[test]
    fn droppers_carry_the_user() {
        let cases = [
            (
                "gosu postgres postgres -D /data",
                "postgres",
                "postgres -D /data",
            ),
            (
                "su-exec app:app node server.js",
                "app:app",
                "node server.js",
            ),
            ("s6-setuidgid nobody app", "nobody", "app"),
            (
                "setpriv --reuid=1000 --regid=1000 --init-groups app",
                "1000",
                "app",
            ),
            ("setpriv --reuid 999 --clear-groups -- app", "999", "app"),
            (
                "chpst -u www-data:www-data -o 1024 app",
                "www-data:www-data",
                "app",
            ),
            ("runuser -u app -- app --flag", "app", "app --flag"),
            (
                "chroot --userspec=1000:0 / /usr/share/es/bin/es -Ex=1",
                "1000:0",
                "/usr/share/es/bin/es -Ex=1",
            ),
            ("chroot --userspec app --groups g / app", "app", "app"),
        ];
        for (line, user, cmd) in cases {
            let want = Collapse {
                user: Some(user.into()),
                ..to(cmd)
            };
            assert_eq!(collapse(line), Applied::Collapsed(want), "{line}");
        }
        // setpriv's bounding set reaches the walk, which narrows the container's set.
        for line in [
            "setpriv --reuid redis --bounding-set=-all,+sys_resource redis-server",
            "setpriv --bounding-set -all,+sys_resource --reuid redis redis-server",
        ] {
            let want = Collapse {
                user: Some("redis".into()),
                bounding_set: Some("-all,+sys_resource".into()),
                ..to("redis-server")
            };
            assert_eq!(collapse(line), Applied::Collapsed(want), "{line}");
        }
        let caps = shellflow::Capabilities::from_names(&["CAP_SETUID", "CAP_SYS_RESOURCE"], None);
        let after = |spec: &str| caps.after_bounding_spec(spec).map(|c| c.bounding);
        assert_eq!(
            after("-all,+sys_resource").as_deref(),
            Some(&["sys_resource".to_string()][..])
        );
        assert_eq!(after("-all,+net_admin").as_deref(), Some(&[][..]));
        assert_eq!(
            after("-setuid").as_deref(),
            Some(&["sys_resource".to_string()][..])
        );
        assert_eq!(after("+all").as_deref(), Some(&caps.bounding[..]));
        assert_eq!(after("-all,frobnicate"), None);
        assert_eq!(after(""), None);
        assert_eq!(after("é,-all"), None);
    }

    #[test]
    fn env_applies_assignments_unsets_clears_and_splits() {
        let want = Collapse {
            set: words("A=1 B=x=y"),
            ..to("app --flag")
        };
        assert_eq!(
            collapse("env A=1 B=x=y app --flag"),
            Applied::Collapsed(want)
        );
        let want = Collapse {
            clear_env: true,
            unset: words("HOME"),
            set: words("PATH=/opt/bin"),
            chdir: Some("/srv".into()),
            ..to("app")
        };
        assert_eq!(
            collapse("env -i -u HOME -C /srv PATH=/opt/bin app"),
            Applied::Collapsed(want)
        );
        let argv: Vec<String> = vec![
            "/usr/bin/env".into(),
            "-S python3 -u".into(),
            "/app/x.py".into(),
        ];
        let cat = entrytrace_config::wrappers::builtin();
        let rule = find_rule(&cat, &argv[0]).expect("env");
        assert_eq!(
            apply(rule, &argv),
            Applied::Collapsed(to("python3 -u /app/x.py"))
        );
        assert_eq!(
            collapse("env -S python3"),
            Applied::Collapsed(to("python3"))
        );
    }

    #[test]
    fn package_runners_run_commands_or_scripts() {
        assert_eq!(
            collapse("pipenv run gunicorn app:app"),
            Applied::Collapsed(to("gunicorn app:app"))
        );
        assert_eq!(
            collapse("bundle exec puma -C config.rb"),
            Applied::Collapsed(to("puma -C config.rb"))
        );
        assert_eq!(
            collapse("npm start"),
            Applied::PackageScript("start".into())
        );
        assert_eq!(
            collapse("npm run web"),
            Applied::PackageScript("web".into())
        );
        assert_eq!(collapse("npm exec serve"), Applied::Collapsed(to("serve")));
        let cat = entrytrace_config::wrappers::builtin();
        assert!(matches!(apply(&cat[0], &[]), Applied::NotWrapping(_)));
        for line in ["yarn install", "gosu", "env", "tini --", "nice"] {
            assert!(matches!(collapse(line), Applied::NotWrapping(_)), "{line}");
        }
    }

    #[test]
    fn assignments_need_a_variable_name() {
        for (w, want) in [
            ("A=1", true),
            ("_x9=", true),
            ("1A=2", false),
            ("=x", false),
            ("a-b=1", false),
            ("app", false),
        ] {
            assert_eq!(is_assignment(w), want, "{w}");
        }
    }
}
