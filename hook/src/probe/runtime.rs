//! The runtime family of a terminal: what it is written in, from the probes' findings and,
//! for language hosts (python, node, java ...), from the program's name.
//!
//! A binary's own markers win (Go build info, Rust markers, a .NET bundle); a well-known
//! interpreter name (`python3.11`, `node`, `java`) makes the family that of the language it
//! hosts, since a CPython ELF is "python" to a reader, not "c". Anything else that is a
//! native binary is `c`. It does not look inside language artefacts (JARs, wheels).

use super::{FileProbe, Format};

/// Families of language hosts, by program basename prefix. Order matters: longer first.
const HOSTS: &[(&str, &str)] = &[
    ("python", "python"),
    ("pypy", "python"),
    ("gunicorn", "python"),
    ("uvicorn", "python"),
    ("nodejs", "node"),
    ("node", "node"),
    ("bun", "node"),
    ("deno", "node"),
    ("java", "java"),
    ("ruby", "ruby"),
    ("php-fpm", "php"),
    ("php", "php"),
    ("perl", "perl"),
    ("dotnet", "dotnet"),
    ("erl", "erlang"),
    ("beam.smp", "erlang"),
    ("bash", "shell"),
    ("dash", "shell"),
    ("ash", "shell"),
    ("zsh", "shell"),
    ("ksh", "shell"),
    ("mksh", "shell"),
    ("sh", "shell"),
];

/// The family a program name implies (`python3.11` → `python`), if any.
pub fn family_by_name(name: &str) -> Option<&'static str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    HOSTS.iter().find_map(|(prefix, family)| {
        let rest = base.strip_prefix(prefix)?;
        let version_like = rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
        (version_like || (*prefix == "php-fpm")).then_some(*family)
    })
}

/// The family of a probed file run under the name `argv0`, with the evidence for it.
pub fn family(probe: &FileProbe, argv0: &str) -> (String, Vec<String>) {
    let named = |f: &str, why: String| (f.to_string(), vec![why]);
    let named_all = |f: &str, why: Vec<String>| (f.to_string(), why);
    match &probe.format {
        Format::Elf(e) if e.go.is_some() => named(
            "go",
            e.go.as_ref()
                .map_or_else(String::new, |g| format!("Go build info {}", g.version)),
        ),
        Format::Elf(e) if !e.rust_markers.is_empty() => named_all("rust", e.rust_markers.clone()),
        Format::Elf(e) if e.dotnet_bundle => {
            named("dotnet", ".NET single-file bundle signature".into())
        }
        Format::Pe(p) if p.managed || p.dotnet_bundle => (
            "dotnet".into(),
            p.evidence
                .iter()
                .filter(|e| e.contains(".NET"))
                .cloned()
                .collect(),
        ),
        Format::Elf(_) | Format::Pe(_) => match family_by_name(argv0) {
            Some(f) => named(f, format!("language host named {argv0}")),
            None => named("c", native_evidence(probe)),
        },
        Format::Script(s) => match family_by_name(&s.interpreter) {
            Some(f) => named(f, format!("#! interpreter {}", s.interpreter)),
            None => named("unknown", format!("#! interpreter {}", s.interpreter)),
        },
        Format::BadScript(_) | Format::Unknown => {
            named("unknown", "not an executable format".into())
        }
    }
}

fn native_evidence(probe: &FileProbe) -> String {
    match &probe.format {
        Format::Elf(e) => match e.libc {
            super::elf::Libc::Glibc => "native ELF linked against glibc".into(),
            super::elf::Libc::Musl => "native ELF linked against musl".into(),
            super::elf::Libc::Unknown => "native ELF".into(),
        },
        _ => "native PE".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_language_hosts_give_their_family() {
        for (name, want) in [
            ("python3", Some("python")),
            ("/usr/bin/python3.11", Some("python")),
            ("python", Some("python")),
            ("node", Some("node")),
            ("nodejs", Some("node")),
            ("java", Some("java")),
            ("php-fpm8.2", Some("php")),
            ("bash", Some("shell")),
            ("sh", Some("shell")),
            ("nginx", None),
            ("shellcheck", None),
            ("pythonista", None),
            ("javac", None),
        ] {
            assert_eq!(family_by_name(name), want, "{name}");
        }
    }
}
