//! The Node detector: `node [options] file.js`, `node dir` (the `main` of `dir/package.json`,
//! else `dir/index.js`), and the script check every interpreter shares
//! ([`script_detection`]: the file exists and is text).
//!
//! Resolution follows Node's CommonJS "LOAD_AS_FILE / LOAD_AS_DIRECTORY" steps for the entry
//! point: the path as given, then with `.js`/`.mjs`/`.cjs`, then as a directory.
//! `package.json` is read bounded by `limits.max_metadata_bytes`; a malformed one is ignored
//! like Node ignores it. `npm start` is not here: the walk runs the script's text with `sh -c`
//! (`reduce::package`), so it ends at the `node` this detector sees. It does not follow
//! `require()`s.

use super::detect::{first_operand, Detection, Subject};

/// `node` options that take the next word.
const VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "--inspect-port",
    "--title",
    "--env-file",
    "-C",
    "--conditions",
];

/// The `main` of a `package.json`, if it names one.
pub fn parse_main(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let main = v.get("main")?.as_str()?.trim();
    (!main.is_empty()).then(|| main.to_string())
}

pub fn detect(s: &Subject<'_>) -> Option<Detection> {
    let (_, entry) = first_operand(s.argv, VALUE_OPTIONS, &["-e", "--eval", "-p", "--print"])?;
    for candidate in [
        entry.clone(),
        format!("{entry}.js"),
        format!("{entry}.mjs"),
        format!("{entry}.cjs"),
    ] {
        if s.file(&candidate).is_some() {
            return Some(script_detection(s, &candidate, "node"));
        }
    }
    if s.is_dir(entry) {
        let dir = crate::vfs::normalize(entry, s.cwd);
        let manifest = format!("{dir}/package.json");
        let main = s
            .read_text(&manifest)
            .and_then(|t| parse_main(t.as_bytes()));
        let target = match &main {
            Some(m) => crate::vfs::normalize(m, &dir),
            None => format!("{dir}/index.js"),
        };
        let mut d = script_detection(s, &target, "node");
        let how = match main {
            Some(m) => format!("node {dir}: {manifest} names main {m}"),
            None => format!("node {dir}: no main in {manifest}, so index.js"),
        };
        d.evidence.insert(0, how);
        return Some(d);
    }
    Some(script_detection(s, entry, "node"))
}

/// A script an interpreter runs: present (f3) and text (f6), or missing.
pub fn script_detection(s: &Subject<'_>, script: &str, host: &str) -> Detection {
    let path = crate::vfs::normalize(script, s.cwd);
    let (real, size) = match s.artefact_file(&path, "script", host) {
        Ok(found) => found,
        Err(lacking) => return *lacking,
    };
    let mut d = Detection::found(
        format!("script {path}"),
        format!("{host} runs {path}, present in the image"),
    );
    let head = s
        .vfs
        .read_range(&real, 0, usize::try_from(size.min(4096)).unwrap_or(4096))
        .unwrap_or_default();
    if head.contains(&0) {
        d.evidence
            .push(format!("{path} is binary, not a {host} script"));
    } else {
        d.validated = Some(format!("{path} is a text script"));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::detect_line;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn package_json_mains_are_read_and_hostile_ones_ignored() {
        for (body, want) in [
            (r#"{"main":"lib/server.js"}"#, Some("lib/server.js")),
            (r#"{"main":"  "}"#, None),
            (r#"{"main":1}"#, None),
            (r#"["main"]"#, None),
            ("\u{0}\u{1}", None),
        ] {
            assert_eq!(parse_main(body.as_bytes()).as_deref(), want, "{body}");
        }
    }

    #[test]
    fn node_entry_points_resolve_as_node_does() {
        let mut v = MemVfs::new();
        v.add_file("/srv/server.js", 0o644, b"require('http')\n");
        v.add_file(
            "/srv/api/package.json",
            0o644,
            br#"{"main":"lib/start.js"}"#,
        );
        v.add_file("/srv/api/lib/start.js", 0o644, b"1\n");
        v.add_file("/srv/plain/index.js", 0o644, b"1\n");
        v.add_file("/srv/blob.js", 0o644, b"\x7fELF\0\0");
        // (line, artefact, f6, missing)
        let cases: &[(&str, &str, bool, bool)] = &[
            ("node server.js", "script /srv/server.js", true, false),
            (
                "node --enable-source-maps -r dotenv/config server",
                "script /srv/server.js",
                true,
                false,
            ),
            ("node api", "script /srv/api/lib/start.js", true, false),
            ("node /srv/plain", "script /srv/plain/index.js", true, false),
            ("node blob.js", "script /srv/blob.js", false, false),
            ("node gone.js", "script /srv/gone.js", false, true),
        ];
        for (line, artefact, f6, missing) in cases {
            let d = detect_line(&v, line, "node", ("/usr/bin/node", "/srv", &[]));
            assert_eq!(d.artefact.as_deref(), Some(*artefact), "{line}: {d:?}");
            assert_eq!(
                (d.validated.is_some(), d.missing.is_some()),
                (*f6, *missing),
                "{line}: {d:?}"
            );
        }
        let eval = detect_line(&v, "node -e 1", "node", ("/usr/bin/node", "/srv", &[]));
        assert_eq!(eval, Detection::default());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_package_json_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_main(&body);
        }
    }
}
