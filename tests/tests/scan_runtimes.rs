//! `entrytrace scan` on one image per runtime family, each with its artefact, built here as
//! real tar layers: a jar compiled with `javac` and packed with `zip`, a `package.json` run
//! by `npm start`, a Python package run with `-m`, a gunicorn `app:app`, a .NET `dotnet
//! Api.dll` with its runtimeconfig, `bundle exec puma`, php-fpm with a pool, nginx whose
//! `listen` matches `EXPOSE`, and a real Go binary (the host's `runc`). Each is checked for
//! its family, artefact and features; each missing-artefact variant must score lower and name
//! the missing path. Interpreters (`java`, `node`, `python3`, `ruby`, `dotnet`, `php-fpm`,
//! `nginx`) are the host's small `/bin/true` ELF under the interpreter's name: the walk only
//! needs a loadable ELF, and the family of a language host comes from its name.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use entrytrace_tests::{require, require_tool, scan_json};
use serde_json::{json, Value};

const PATH: &str =
    "PATH=/usr/local/bundle/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A file of the image: path (no leading `/`), mode, body.
type File = (String, u32, Vec<u8>);

fn host_elf() -> Option<Vec<u8>> {
    if !require("host file /bin/true", Path::new("/bin/true").exists()) {
        return None;
    }
    std::fs::read("/bin/true").ok()
}

fn text(path: &str, body: &str) -> File {
    (path.to_string(), 0o644, body.as_bytes().to_vec())
}

fn script(path: &str, body: &str) -> File {
    (path.to_string(), 0o755, body.as_bytes().to_vec())
}

/// Writes an image of `files` (with their parent directories, busybox as `/bin/sh`, and
/// `elves` as copies of the host ELF) and scans it; returns the JSON result.
fn scan(files: Vec<File>, elves: &[&str], config: Value) -> Option<Value> {
    let elf = host_elf()?;
    if !require("host file /bin/busybox", Path::new("/bin/busybox").exists()) {
        return None;
    }
    let busybox = std::fs::read("/bin/busybox").ok()?;
    let mut files = files;
    files.push(("bin/busybox".into(), 0o755, busybox));
    files.extend(elves.iter().map(|p| (p.to_string(), 0o755, elf.clone())));
    let mut dirs = BTreeSet::new();
    for (p, _, _) in &files {
        let mut d = Path::new(p).parent();
        while let Some(x) = d.filter(|x| !x.as_os_str().is_empty()) {
            dirs.insert(x.to_string_lossy().into_owned());
            d = x.parent();
        }
    }
    let mut entries: Vec<Entry> = dirs.iter().map(|d| Entry::dir(d)).collect();
    entries.extend(files.iter().map(|(p, m, b)| Entry::file(p, *m, b)));
    entries.push(Entry::symlink("bin/sh", "busybox"));
    let mut img = Image::new(vec![Layer::new(Compression::Gzip, entries)]);
    img.config = config;
    let dir = tempfile::tempdir().expect("tempdir");
    Some(scan_json(&img.oci_source(dir.path()), &[]))
}

fn config(cmd: &[&str], workdir: &str, ports: &[&str]) -> Value {
    let exposed: serde_json::Map<String, Value> =
        ports.iter().map(|p| (p.to_string(), json!({}))).collect();
    json!({"Cmd": cmd, "Env": [PATH], "WorkingDir": workdir, "ExposedPorts": exposed})
}

/// What the terminal of a scan must show.
struct Want<'a> {
    family: &'a str,
    /// The artefact must start with this.
    artefact: &'a str,
    /// Features that must be applied.
    features: &'a [&'a str],
    /// Evidence of the runtime that must contain this.
    evidence: &'a str,
}

fn check(r: &Value, w: &Want<'_>, what: &str) -> f64 {
    let t = &r["terminals"][0];
    let ctx = serde_json::to_string_pretty(r).unwrap_or_default();
    assert_eq!(t["runtime"]["family"], w.family, "{what}: {ctx}");
    let artefact = t["runtime"]["artefact"].as_str().unwrap_or("");
    assert!(
        artefact.starts_with(w.artefact),
        "{what}: artefact {artefact:?}: {ctx}"
    );
    let ids: Vec<&str> = t["features"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    for f in w.features {
        assert!(
            ids.contains(f),
            "{what}: feature {f} missing from {ids:?}: {ctx}"
        );
    }
    let evidence = t["runtime"]["evidence"].to_string();
    assert!(
        evidence.contains(w.evidence),
        "{what}: evidence lacks {:?}: {ctx}",
        w.evidence
    );
    t["confidence"].as_f64().expect("confidence")
}

/// The missing variant scores lower and its f9 evidence names `missing`.
fn check_missing(r: &Value, present: f64, missing: &str, what: &str) {
    let t = &r["terminals"][0];
    let ctx = serde_json::to_string_pretty(r).unwrap_or_default();
    let c = t["confidence"].as_f64().expect("confidence");
    assert!(
        c < present,
        "{what}: missing {c} >= present {present}: {ctx}"
    );
    let f9 = t["features"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == "f9"))
        .and_then(|f| f["evidence"].as_str())
        .unwrap_or("");
    assert!(
        f9.contains(missing),
        "{what}: f9 {f9:?} does not name {missing}: {ctx}"
    );
    for f in t["features"].as_array().into_iter().flatten() {
        assert!(f["id"] != "f3" && f["id"] != "f6", "{what}: {ctx}");
    }
}

/// Compiles `demo.Main` and packs it with a manifest into a jar with the `zip` tool.
fn build_jar() -> Option<Vec<u8>> {
    if !require_tool("javac") || !require_tool("zip") {
        return None;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let src = d.path().join("src/demo");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("Main.java"), "package demo;\npublic class Main {\n  public static void main(String[] a) { System.out.println(\"hi\"); }\n}\n").expect("write");
    let classes = d.path().join("classes");
    let ok = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(src.join("Main.java"))
        .status()
        .expect("run javac");
    assert!(ok.success(), "javac failed");
    std::fs::create_dir_all(classes.join("META-INF")).expect("mkdir");
    std::fs::write(
        classes.join("META-INF/MANIFEST.MF"),
        "Manifest-Version: 1.0\r\nMain-Class: demo.Main\r\n\r\n",
    )
    .expect("write");
    let jar = d.path().join("app.jar");
    let ok = Command::new("zip")
        .current_dir(&classes)
        .arg("-qr")
        .arg(&jar)
        .args(["META-INF", "demo"])
        .status()
        .expect("run zip");
    assert!(ok.success(), "zip failed");
    std::fs::read(&jar).ok()
}

/// Scans the image with its artefact (`files(true)`) and without it (`files(false)`): the
/// first must show `want`, the second must score lower and name `missing` in its f9.
/// Returns the first result; `None` when a host file is missing (after saying why).
fn with_and_without(
    files: impl Fn(bool) -> Vec<File>,
    elves: &[&str],
    cfg: Value,
    want: &Want<'_>,
    missing: &str,
) -> Option<Value> {
    let what = cfg["Cmd"].to_string();
    let r = scan(files(true), elves, cfg.clone())?;
    let present = check(&r, want, &what);
    let gone = scan(files(false), elves, cfg)?;
    check_missing(
        &gone,
        present,
        missing,
        &format!("{what} without {missing}"),
    );
    Some(r)
}

#[test]
fn a_java_jar_names_its_main_class_and_a_missing_jar_lowers_confidence() {
    let Some(jar) = build_jar() else { return };
    let java = ["usr/bin/java"];
    let jars = |with: bool| match with {
        true => vec![
            ("app/app.jar".to_string(), 0o644, jar.clone()),
            ("app/lib/dep.jar".to_string(), 0o644, jar.clone()),
        ],
        false => vec![],
    };
    let want = Want {
        family: "java",
        artefact: "jar /app/app.jar (Main-Class demo.Main)",
        features: &["f2", "f3", "f6"],
        evidence: "Main-Class demo.Main",
    };
    let cmd = config(&["java", "-Xmx256m", "-jar", "app.jar"], "/app", &[]);
    if with_and_without(jars, &java, cmd, &want, "/app/app.jar").is_none() {
        return;
    }
    let want = Want {
        family: "java",
        artefact: "class demo.Main (/app/lib/dep.jar!demo/Main.class)",
        features: &["f3", "f6"],
        evidence: "classpath",
    };
    let cmd = config(&["java", "-cp", "/app/lib/*", "demo.Main"], "/", &[]);
    with_and_without(jars, &java, cmd, &want, "demo/Main.class");
}

#[test]
fn npm_start_is_reduced_through_its_package_script_to_node_and_its_file() {
    let files = |manifest: &str, server: bool| {
        let mut f = vec![
            script("usr/bin/npm", "#!/usr/bin/node\nrequire('npm')\n"),
            script("usr/local/bin/yarn", "#!/usr/bin/node\nrequire('yarn')\n"),
            text("app/package.json", manifest),
        ];
        if server {
            f.push(text("app/server.js", "require('http').createServer()\n"));
        }
        f
    };
    let want = Want {
        family: "node",
        artefact: "script /app/server.js",
        features: &["f3", "f6"],
        evidence: "node runs /app/server.js",
    };
    let npm = r#"{"name":"web","scripts":{"start":"node server.js --port 3000"}}"#;
    let yarn = r#"{"scripts":{"web":"exec node server.js"}}"#;
    for (manifest, cmd) in [(npm, ["npm", "start"]), (yarn, ["yarn", "web"])] {
        let cfg = config(&cmd, "/app", &[]);
        let with = |server| files(manifest, server);
        let Some(r) = with_and_without(with, &["usr/bin/node"], cfg, &want, "/app/server.js")
        else {
            return;
        };
        let from_manifest = r["chain"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["location"] == "/app/package.json");
        assert!(
            from_manifest,
            "{cmd:?}: no chain step at package.json: {r:#}"
        );
    }
}

#[test]
fn python_dash_m_finds_the_package_and_needs_its_main() {
    let files = |main: bool| {
        let mut f = vec![text("app/svc/__init__.py", "")];
        if main {
            f.push(text("app/svc/__main__.py", "print('svc')\n"));
        }
        f
    };
    let want = Want {
        family: "python",
        artefact: "module svc (/app/svc/__init__.py)",
        features: &["f3", "f6"],
        evidence: "package at /app/svc/__init__.py",
    };
    let cfg = config(&["python3", "-m", "svc"], "/app", &[]);
    let py = ["usr/local/bin/python3"];
    with_and_without(files, &py, cfg, &want, "/app/svc/__main__.py");
}

#[test]
fn gunicorn_loads_its_app_module_through_its_python_shebang() {
    let files = vec![
        script(
            "usr/local/bin/gunicorn",
            "#!/usr/local/bin/python3\nfrom gunicorn.app.wsgiapp import run\nrun()\n",
        ),
        text("app/app.py", "app = object()\n"),
    ];
    let Some(r) = scan(
        files,
        &["usr/local/bin/python3"],
        config(&["gunicorn", "-b", "0.0.0.0:8000", "app:app"], "/app", &[]),
    ) else {
        return;
    };
    let want = Want {
        family: "python",
        artefact: "gunicorn app app:app (/app/app.py)",
        features: &["f3", "f5", "f6"],
        evidence: "gunicorn loads app:app",
    };
    check(&r, &want, "gunicorn");
}

#[test]
fn dotnet_runs_its_dll_with_the_framework_of_its_runtimeconfig() {
    let mut dll = b"MZ".to_vec();
    dll.resize(512, 0);
    let runtimeconfig = r#"{"runtimeOptions":{"tfm":"net8.0","framework":{"name":"Microsoft.AspNetCore.App","version":"8.0.0"}}}"#;
    let files = |with_dll: bool| {
        let mut f = vec![text("app/Api.runtimeconfig.json", runtimeconfig)];
        if with_dll {
            f.push(("app/Api.dll".to_string(), 0o644, dll.clone()));
        }
        f
    };
    let want = Want {
        family: "dotnet",
        artefact: "assembly /app/Api.dll",
        features: &["f3", "f6"],
        evidence: "Microsoft.AspNetCore.App 8.0.0",
    };
    let cfg = config(&["dotnet", "Api.dll"], "/app", &[]);
    if with_and_without(files, &["usr/bin/dotnet"], cfg, &want, "/app/Api.dll").is_none() {
        return;
    }
    let Some(r) = scan(
        files(true),
        &["app/Api"],
        config(&["/app/Api"], "/app", &[]),
    ) else {
        return;
    };
    let want = Want {
        family: "dotnet",
        artefact: "assembly /app/Api.dll",
        features: &["f2", "f6"],
        evidence: "apphost of /app/Api.dll",
    };
    check(&r, &want, "apphost");
}

#[test]
fn bundle_exec_puma_serves_the_rack_app_of_the_workdir() {
    let files = |ru: bool| {
        let mut f = vec![
            script(
                "usr/local/bin/bundle",
                "#!/usr/local/bin/ruby\nload Gem.bin_path('bundler', 'bundle')\n",
            ),
            script(
                "usr/local/bundle/bin/puma",
                "#!/usr/local/bin/ruby\nload Gem.bin_path('puma', 'puma')\n",
            ),
            text("app/Gemfile", "gem 'puma'\n"),
        ];
        if ru {
            f.push(text("app/config.ru", "run ->(env) { [200, {}, ['ok']] }\n"));
        }
        f
    };
    let want = Want {
        family: "ruby",
        artefact: "rack app /app/config.ru",
        features: &["f3", "f5", "f6"],
        evidence: "puma serves the rack app /app/config.ru",
    };
    let cfg = config(&["bundle", "exec", "puma"], "/app", &[]);
    with_and_without(files, &["usr/local/bin/ruby"], cfg, &want, "/app/config.ru");
}

#[test]
fn php_fpm_pools_php_scripts_and_mod_php_apache_are_found() {
    let pool = text(
        "usr/local/etc/php-fpm.d/www.conf",
        "[www]\nuser = www-data\nlisten = 9000\n",
    );
    let cfg = config(&["php-fpm"], "/var/www/html", &["9000/tcp"]);
    let Some(r) = scan(vec![pool], &["usr/local/sbin/php-fpm"], cfg) else {
        return;
    };
    let want = Want {
        family: "php",
        artefact: "php-fpm pool www listens on 9000",
        features: &["f3", "f4"],
        evidence: "server class php-fpm",
    };
    check(&r, &want, "php-fpm");
    let apache = vec![
        script(
            "usr/local/bin/apache2-foreground",
            "#!/bin/sh\nset -e\nrm -f /var/run/apache2/apache2.pid\nexec apache2 -DFOREGROUND \"$@\"\n",
        ),
        text("etc/apache2/mods-enabled/php.load", "LoadModule php_module x.so\n"),
        text("etc/apache2/ports.conf", "Listen 8081\n"),
    ];
    let cfg = config(&["apache2-foreground"], "/var/www/html", &["8081/tcp"]);
    let Some(r) = scan(apache, &["usr/sbin/apache2"], cfg) else {
        return;
    };
    let want = Want {
        family: "c",
        artefact: "",
        features: &["f2", "f4"],
        evidence: "apache2 runs PHP through mod_php (/etc/apache2/mods-enabled/php.load)",
    };
    check(&r, &want, "apache2-foreground");
    assert_eq!(r["terminals"][0]["path"], "/usr/sbin/apache2", "{r:#}");
    let files = |with: bool| match with {
        true => vec![text("var/www/worker.php", "<?php echo 1;\n")],
        false => vec![],
    };
    let want = Want {
        family: "php",
        artefact: "script /var/www/worker.php",
        features: &["f3", "f6"],
        evidence: "php runs /var/www/worker.php",
    };
    let cfg = config(&["php", "worker.php"], "/var/www", &[]);
    with_and_without(
        files,
        &["usr/local/bin/php"],
        cfg,
        &want,
        "/var/www/worker.php",
    );
}

#[test]
fn nginx_listen_directives_decide_the_ports_feature() {
    let conf = |port: u16| {
        vec![
            text(
                "etc/nginx/nginx.conf",
                "events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n",
            ),
            text(
                "etc/nginx/conf.d/default.conf",
                &format!("server {{\n  listen {port};\n  root /srv;\n}}\n"),
            ),
        ]
    };
    let nginx = ["usr/sbin/nginx"];
    let cmd = ["nginx", "-g", "daemon off;"];
    let Some(r) = scan(conf(8080), &nginx, config(&cmd, "/", &["8080/tcp"])) else {
        return;
    };
    let want = Want {
        family: "c",
        artefact: "",
        features: &["f2", "f4"],
        evidence: "server class nginx",
    };
    check(&r, &want, "nginx on 8080");
    let f4 = r["terminals"][0]["features"].to_string();
    assert!(
        f4.contains("/etc/nginx/conf.d/default.conf"),
        "f4 names the config: {f4}"
    );
    let Some(r) = scan(conf(8080), &nginx, config(&cmd, "/", &["80/tcp"])) else {
        return;
    };
    let ids = r["terminals"][0]["features"].to_string();
    assert!(
        !ids.contains("\"f4\""),
        "nginx listens on 8080, the image exposes 80: {ids}"
    );
}

#[test]
fn a_real_go_binary_gives_its_version_and_main_package() {
    let runc = "/usr/sbin/runc";
    if !require(
        "host file /usr/sbin/runc (a Go binary)",
        Path::new(runc).exists(),
    ) {
        return;
    }
    let body = std::fs::read(runc).expect("read runc");
    let files = vec![("usr/local/bin/runc".to_string(), 0o755, body)];
    let Some(r) = scan(files, &[], config(&["runc", "--version"], "/", &[])) else {
        return;
    };
    let want = Want {
        family: "go",
        artefact: "github.com/opencontainers/runc",
        features: &["f1", "f2"],
        evidence: "Go build info go1.",
    };
    check(&r, &want, "runc");
}

#[test]
fn native_binaries_are_told_apart_by_their_build() {
    // (host binary, family, evidence): hyperfine is a Rust program (setup.sh installs it).
    let cases = [
        ("/usr/bin/hyperfine", "rust", "Rust markers"),
        ("/bin/true", "c", "linked against glibc"),
        ("/usr/bin/tini-static", "c", "statically linked"),
    ];
    for (host, family, evidence) in cases {
        if !require(&format!("host file {host}"), Path::new(host).exists()) {
            continue;
        }
        let body = std::fs::read(host).expect("read host binary");
        let files = vec![("usr/local/bin/app".to_string(), 0o755, body)];
        let Some(r) = scan(files, &[], config(&["app"], "/", &[])) else {
            return;
        };
        let want = Want {
            family,
            artefact: "",
            features: &["f1", "f2"],
            evidence,
        };
        check(&r, &want, host);
    }
}
