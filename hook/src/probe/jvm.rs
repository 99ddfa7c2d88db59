//! The JVM detector: what `java` runs — `-jar X.jar` (its manifest's `Main-Class`, and
//! Spring Boot's `Start-Class`), `-cp a.jar:lib/* a.b.Main`, `-m module/a.b.Main`, or a
//! single source file.
//!
//! The launcher's syntax is the JDK's `java` manual ("Synopsis"). A jar is opened with
//! [`super::zip::ZipIndex`] (directory only, plus the manifest capped at
//! [`MANIFEST_CAP`]); the main class is validated when `a/b/Main.class` is an entry of the
//! jar or a file under a classpath directory. Class-path entries of the command line are
//! image paths relative to the working directory; `Class-Path` lines of a manifest are not
//! followed. A classpath search stops once its jars' directories add up to
//! `limits.max_metadata_bytes`. It does not read module descriptors (`module-info.class`)
//! nor run the JVM.

use super::detect::{first_operand, option_value, Detection, Subject};
use super::zip::ZipIndex;

/// The most of a manifest read.
pub const MANIFEST_CAP: u64 = 64 << 10;
/// At most this many jars of a `dir/*` classpath entry are opened.
const MAX_WILDCARD_JARS: usize = 64;

/// Options of `java` that take the next word.
const VALUE_OPTIONS: &[&str] = &[
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--add-opens",
    "--add-exports",
    "--add-reads",
    "--enable-native-access",
    "--limit-modules",
    "--source",
];

/// The main attributes of a jar manifest that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub main_class: Option<String>,
    /// Spring Boot's application class behind its `JarLauncher`.
    pub start_class: Option<String>,
}

/// Parses the main section of a `MANIFEST.MF` (JAR File Specification: `Name: value` lines,
/// continuation lines start with one space, the main section ends at the first blank line).
pub fn parse_manifest(text: &str) -> Manifest {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            break;
        }
        match (line.strip_prefix(' '), lines.last_mut()) {
            (Some(more), Some(last)) => last.push_str(more),
            _ => lines.push(line.to_string()),
        }
    }
    let mut m = Manifest::default();
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match k.trim().to_ascii_lowercase().as_str() {
            "main-class" => m.main_class = Some(v.to_string()),
            "start-class" => m.start_class = Some(v.to_string()),
            _ => {}
        }
    }
    m
}

/// The entry name of a class: `a.b.Main` → `a/b/Main.class`.
pub fn class_entry(class: &str) -> String {
    format!("{}.class", class.replace('.', "/"))
}

pub fn detect(s: &Subject<'_>) -> Option<Detection> {
    let argv = s.argv;
    if let Some(jar) = option_value(argv, &["-jar"], VALUE_OPTIONS) {
        return Some(jar_detection(s, jar));
    }
    if let Some(module) = option_value(argv, &["-m", "--module"], VALUE_OPTIONS) {
        return Some(module_detection(s, module));
    }
    let (_, main) = first_operand(argv, VALUE_OPTIONS, &[])?;
    if main.ends_with(".java") {
        return Some(match s.file(main) {
            Some((p, _)) => Detection::found(
                format!("source {p}"),
                format!("java runs the source file {p}"),
            ),
            None => Detection::lacking(
                format!("source {main}"),
                format!("java source file {main} is missing from the image"),
            ),
        });
    }
    let cp = option_value(argv, &["-cp", "-classpath", "--class-path"], VALUE_OPTIONS)
        .map(str::to_string)
        .or_else(|| s.env("CLASSPATH").map(str::to_string))
        .unwrap_or_else(|| ".".into());
    Some(classpath_detection(s, &cp, main))
}

/// `-m module[/class]`: the class looked up in the module path's jars and exploded
/// modules. A module not found is not called missing: it may be linked into the runtime
/// image (`jlink`).
fn module_detection(s: &Subject<'_>, module: &str) -> Detection {
    let (name, class) = match module.split_once('/') {
        Some((m, c)) => (m, Some(c)),
        None => (module, None),
    };
    let path = option_value(s.argv, &["-p", "--module-path"], VALUE_OPTIONS);
    let mut d = Detection {
        artefact: Some(format!("module {module}")),
        evidence: vec![format!(
            "java runs module {module} (module path {})",
            path.unwrap_or("none")
        )],
        ..Detection::default()
    };
    let (Some(class), Some(path)) = (class, path) else {
        return d;
    };
    let items: Vec<String> = path
        .split(':')
        .filter(|i| !i.is_empty())
        .flat_map(|i| match s.is_dir(i) {
            true => vec![format!("{i}/*"), format!("{i}/{name}")],
            false => vec![i.to_string()],
        })
        .collect();
    let found = classpath_detection(s, &items.join(":"), class);
    match found.validated {
        Some(v) => {
            d.resolved = Some(format!("module {name} found on the module path {path}"));
            d.validated = Some(v);
        }
        None => d.evidence.extend(found.missing),
    }
    d
}

fn jar_detection(s: &Subject<'_>, jar: &str) -> Detection {
    let (real, size) = match s.artefact_file(jar, "jar", "java -jar") {
        Ok(found) => found,
        Err(lacking) => return *lacking,
    };
    let mut zip = match ZipIndex::open(s.vfs, &real, size, s.limits) {
        Ok(z) => z,
        Err(e) => {
            return Detection::lacking(
                format!("jar {real}"),
                format!("java -jar {real}: cannot open it as a jar: {e}"),
            )
        }
    };
    let manifest = zip
        .read("META-INF/MANIFEST.MF", MANIFEST_CAP)
        .map(|b| parse_manifest(&String::from_utf8_lossy(&b)));
    let Ok(Manifest {
        main_class: Some(main),
        start_class,
    }) = manifest
    else {
        let why = match manifest {
            Err(e) => e.to_string(),
            Ok(_) => "no Main-Class in META-INF/MANIFEST.MF".into(),
        };
        return Detection::lacking(
            format!("jar {real}"),
            format!("java -jar {real}: no main class: {why}"),
        );
    };
    let mut d = Detection::found(
        format!("jar {real} (Main-Class {main})"),
        format!(
            "java -jar {real}: a jar of {} entries, Main-Class {main}",
            zip.len()
        ),
    );
    if let Some(start) = &start_class {
        d.evidence.push(format!("Spring Boot Start-Class {start}"));
        d.artefact = Some(format!(
            "jar {real} (Main-Class {main}, Start-Class {start})"
        ));
    }
    let entry = class_entry(start_class.as_deref().unwrap_or(&main));
    let boot_entry = format!("BOOT-INF/classes/{entry}");
    if zip.contains(&entry) || zip.contains(&boot_entry) {
        d.validated = Some(format!("{real} holds {entry}"));
    } else {
        d.evidence.push(format!("{real} has no entry {entry}"));
    }
    d
}

fn classpath_detection(s: &Subject<'_>, cp: &str, main: &str) -> Detection {
    let entry = class_entry(main);
    let mut looked = Vec::new();
    // The jars' directories read so far: a classpath of many huge jars stops here.
    let mut spent = 0u64;
    for item in cp.split(':').filter(|i| !i.is_empty()) {
        let jars: Vec<String> = match item.strip_suffix("/*").or((item == "*").then_some("")) {
            Some(dir) => {
                let jars = wildcard_jars(s, if dir.is_empty() { "." } else { dir });
                if jars.is_empty() {
                    looked.push(format!("{item} (no jars)"));
                }
                jars
            }
            None if item.ends_with(".jar") || item.ends_with(".zip") => vec![item.to_string()],
            None => {
                let file = format!("{}/{entry}", item.trim_end_matches('/'));
                if let Some((p, _)) = s.file(&file) {
                    return found_class(main, &p, cp);
                }
                looked.push(item.to_string());
                continue;
            }
        };
        for jar in jars {
            if spent > s.limits.max_metadata_bytes {
                looked.push(format!("{jar} (not read: classpath read budget spent)"));
                continue;
            }
            let Some((real, size)) = s.file(&jar) else {
                looked.push(format!("{jar} (missing)"));
                continue;
            };
            if let Ok(z) = ZipIndex::open(s.vfs, &real, size, s.limits) {
                spent += z.directory_bytes();
                if z.contains(&entry) {
                    return found_class(main, &format!("{real}!{entry}"), cp);
                }
            }
            looked.push(real);
        }
    }
    Detection::lacking(
        format!("class {main}"),
        format!(
            "java main class {main}: {entry} not found on the classpath {cp} (looked in {})",
            looked.join(", ")
        ),
    )
}

fn found_class(main: &str, at: &str, cp: &str) -> Detection {
    let mut d = Detection::found(
        format!("class {main} ({at})"),
        format!("java runs {main} from the classpath {cp}"),
    );
    d.validated = Some(format!("the class file {at} exists"));
    d
}

fn wildcard_jars(s: &Subject<'_>, dir: &str) -> Vec<String> {
    let real = crate::vfs::normalize(dir, s.cwd);
    let Ok(names) = s.vfs.read_dir(&real) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|n| n.ends_with(".jar") || n.ends_with(".JAR"))
        .take(MAX_WILDCARD_JARS)
        .map(|n| format!("{real}/{n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::{detect_line, facts};
    use crate::probe::zip::tests::build_zip;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn manifests_give_their_main_attributes() {
        for (text, main, start) in [
            ("Main-Class: a.Main\n", Some("a.Main"), None),
            ("Manifest-Version: 1.0\r\nMain-Class: org.exam\r\n ple.App\r\n", Some("org.example.App"), None),
            ("main-class:  x.Y  \n", Some("x.Y"), None),
            ("Main-Class: org.springframework.boot.loader.launch.JarLauncher\nStart-Class: com.acme.App\n", Some("org.springframework.boot.loader.launch.JarLauncher"), Some("com.acme.App")),
            ("Manifest-Version: 1.0\n\nName: x\nMain-Class: not.Main\n", None, None),
            ("Main-Class:\n", None, None),
            ("", None, None),
        ] {
            let m = parse_manifest(text);
            assert_eq!(m.main_class.as_deref(), main, "{text:?}");
            assert_eq!(m.start_class.as_deref(), start, "{text:?}");
        }
    }

    fn run(v: &MemVfs, line: &str, cwd: &str) -> Detection {
        detect_line(v, line, "java", ("/usr/bin/java", cwd, &[]))
    }

    #[test]
    fn java_command_lines_resolve_their_main_class() {
        let mut v = MemVfs::new();
        let manifest = b"Main-Class: a.b.Main\n".as_slice();
        let class = b"\xca\xfe\xba\xbe".as_slice();
        v.add_file(
            "/app/app.jar",
            0o644,
            &build_zip(&[
                ("META-INF/MANIFEST.MF", manifest, true),
                ("a/b/Main.class", class, true),
            ]),
        );
        v.add_file(
            "/app/noclass.jar",
            0o644,
            &build_zip(&[("META-INF/MANIFEST.MF", manifest, true)]),
        );
        v.add_file("/app/nomain.jar", 0o644, &build_zip(&[("x", b"y", false)]));
        v.add_file(
            "/app/lib/dep.jar",
            0o644,
            &build_zip(&[("a/b/Main.class", class, false)]),
        );
        v.add_file("/app/classes/c/Main.class", 0o644, class);
        v.add_file("/app/mods/web/w/Main.class", 0o644, class);
        v.add_file("/app/bad.jar", 0o644, b"PK\x03\x04 not really");
        // (line, artefact, f3, f6, missing)
        let cases: &[(&str, &str, bool, bool, bool)] = &[
            (
                "java -Xmx1g -jar app.jar --port 8080",
                "jar /app/app.jar (Main-Class a.b.Main)",
                true,
                true,
                false,
            ),
            (
                "java -jar /app/noclass.jar",
                "jar /app/noclass.jar (Main-Class a.b.Main)",
                true,
                false,
                false,
            ),
            (
                "java -jar nomain.jar",
                "jar /app/nomain.jar",
                false,
                false,
                true,
            ),
            ("java -jar bad.jar", "jar /app/bad.jar", false, false, true),
            (
                "java -jar gone.jar",
                "jar /app/gone.jar",
                false,
                false,
                true,
            ),
            (
                "java -cp lib/* a.b.Main",
                "class a.b.Main (/app/lib/dep.jar!a/b/Main.class)",
                true,
                true,
                false,
            ),
            (
                "java -cp classes:lib/dep.jar c.Main",
                "class c.Main (/app/classes/c/Main.class)",
                true,
                true,
                false,
            ),
            ("java -cp lib/* z.Main", "class z.Main", false, false, true),
            (
                "java -p mods -m app/a.Main",
                "module app/a.Main",
                false,
                false,
                false,
            ),
            (
                "java -p lib -m dep/a.b.Main",
                "module dep/a.b.Main",
                true,
                true,
                false,
            ),
            (
                "java --module-path mods --module web/w.Main",
                "module web/w.Main",
                true,
                true,
                false,
            ),
        ];
        for (line, artefact, f3, f6, missing) in cases {
            let d = run(&v, line, "/app");
            assert_eq!(d.artefact.as_deref(), Some(*artefact), "{line}: {d:?}");
            assert_eq!(facts(&d), (*f3, *f6, *missing), "{line}: {d:?}");
        }
        let gone = run(&v, "java -jar gone.jar", "/app");
        assert!(
            gone.missing
                .as_deref()
                .is_some_and(|m| m.contains("/app/gone.jar")),
            "{gone:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_manifests_never_panic(text in "\\PC*") {
            let m = parse_manifest(&text);
            if let Some(c) = m.main_class {
                proptest::prop_assert!(!c.is_empty());
            }
        }
    }
}
