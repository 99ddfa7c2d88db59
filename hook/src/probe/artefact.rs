//! Language artefacts of VM hosts (static seed §6 step 5): the JAR a `java -jar` runs, the
//! script `python app.py` or `node server.js` runs, the DLL `dotnet Api.dll` runs, and
//! whether that file is what it claims.
//!
//! The artefact is found from the argv alone (the first operand after the host's options,
//! or the value of `-jar`), looked up relative to the working directory, and validated by its
//! first bytes: a JAR/WAR is a zip (`PK\x03\x04`), a .NET DLL a PE (`MZ`), a script text with
//! no NUL byte. It does not open archives, import modules or resolve `python -m` packages.

use crate::vfs::{normalize, Vfs};

/// An artefact a VM host was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// The path inside the image (absolute).
    pub path: String,
    pub exists: bool,
    /// Why it looks genuine, when it does.
    pub validated: Option<String>,
}

/// Options of the hosts that consume the next word.
const VALUE_OPTIONS: &[&str] = &[
    "-X",
    "-W",
    "-r",
    "--require",
    "-cp",
    "-classpath",
    "-I",
    "-e",
];

/// The artefact `argv` (run by a host of `family`) names, if any.
pub fn find_artefact(vfs: &dyn Vfs, family: &str, argv: &[String], cwd: &str) -> Option<Artefact> {
    let word = match family {
        "java" => argv
            .iter()
            .position(|w| w == "-jar")
            .and_then(|i| argv.get(i + 1)),
        "python" | "node" | "ruby" | "php" | "perl" | "dotnet" => first_operand(argv),
        _ => None,
    }?;
    let path = normalize(word, cwd);
    let head = vfs.stat(&path).ok().flatten().and_then(|m| {
        (m.kind == crate::vfs::FileKind::File)
            .then(|| {
                vfs.read_range(&vfs.resolve(&path, "/", true).ok()?, 0, 512)
                    .ok()
            })
            .flatten()
    });
    let validated = head.as_deref().and_then(|h| validate(&path, h));
    Some(Artefact {
        exists: head.is_some(),
        path,
        validated,
    })
}

fn first_operand(argv: &[String]) -> Option<&String> {
    let mut i = 1;
    while let Some(w) = argv.get(i) {
        if w == "-m" || w == "-c" || (w == "-e" && argv[0].contains("ruby")) {
            return None;
        }
        if !w.starts_with('-') {
            return Some(w);
        }
        i += if VALUE_OPTIONS.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    None
}

fn validate(path: &str, head: &[u8]) -> Option<String> {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "jar" | "war" | "zip" | "pyz" => head
            .starts_with(b"PK\x03\x04")
            .then(|| format!("{path} is a zip archive")),
        "dll" | "exe" => head
            .starts_with(b"MZ")
            .then(|| format!("{path} is a PE file")),
        _ => (!head.contains(&0)).then(|| format!("{path} is a text script")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn finds_and_validates_artefacts_of_vm_hosts() {
        let mut v = MemVfs::new();
        v.add_file("/app/app.jar", 0o644, b"PK\x03\x04rest");
        v.add_file("/app/fake.jar", 0o644, b"not a zip");
        v.add_file("/app/main.py", 0o644, b"print('hi')\n");
        v.add_file("/srv/server.js", 0o644, b"require('http')\n");
        v.add_file("/app/Api.dll", 0o644, b"MZ\x90\0");
        type Found = Option<(&'static str, bool, bool)>;
        let cases: &[(&str, &str, &str, Found)] = &[
            (
                "java",
                "java -Xmx1g -jar app.jar",
                "/app",
                Some(("/app/app.jar", true, true)),
            ),
            (
                "java",
                "java -jar fake.jar",
                "/app",
                Some(("/app/fake.jar", true, false)),
            ),
            ("java", "java -cp x Main", "/app", None),
            (
                "python",
                "python3 -u main.py --port 80",
                "/app",
                Some(("/app/main.py", true, true)),
            ),
            (
                "python",
                "python3 -X dev /app/main.py",
                "/",
                Some(("/app/main.py", true, true)),
            ),
            ("python", "python3 -m http.server", "/", None),
            (
                "python",
                "python3 missing.py",
                "/app",
                Some(("/app/missing.py", false, false)),
            ),
            (
                "node",
                "node --enable-source-maps server.js",
                "/srv",
                Some(("/srv/server.js", true, true)),
            ),
            (
                "dotnet",
                "dotnet Api.dll",
                "/app",
                Some(("/app/Api.dll", true, true)),
            ),
            ("c", "nginx -g daemon", "/", None),
        ];
        for (family, line, cwd, want) in cases {
            let argv: Vec<String> = line.split(' ').map(String::from).collect();
            let got = find_artefact(&v, family, &argv, cwd)
                .map(|a| (a.path.clone(), a.exists, a.validated.is_some()));
            let want = want.map(|(p, e, ok)| (p.to_string(), e, ok));
            assert_eq!(got, want, "{line}");
        }
    }
}
