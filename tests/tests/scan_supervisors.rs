//! `entrytrace scan` on images built here, one per supervisor kind — supervisord with
//! `[include]`s, s6-overlay v3 (`s6-rc.d` user bundle, execline run scripts), s6-overlay's
//! classic `/etc/services.d` (`with-contenv` run scripts), runit (`runsvdir` over
//! `/etc/service` symlinks), pm2-runtime (an ecosystem JSON) and honcho (a Procfile) — each
//! with two or more services, one of which drops privileges. The services are real host
//! ELF files (`/bin/true` copies, gosu, busybox) so the walk classifies them; supervisors
//! written in Python or Node are `#!` scripts over a copied interpreter. Also: a supervisor
//! with one service collapses into it, and an `[include]` cycle and an include glob that
//! climbs out of the root (`../../…` towards a real host directory) stay inside the image.
//! It checks only the binary's JSON output.

use std::collections::BTreeSet;

use entrytrace_tests::imagegen::{Compression, Entry, Image, Layer};
use entrytrace_tests::scan_ok;
use serde_json::{json, Value};

const PATH: &str = "PATH=/command:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The base layer: passwd with `www-data` and `app`, busybox as sh, `/bin/true` as the two
/// service programs, gosu and tini.
fn base() -> Option<Vec<Entry>> {
    let mut e = vec![
        Entry::file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
        ),
        Entry::file("etc/group", 0o644, b"root:x:0:\nwww-data:x:33:\napp:x:1000:\n"),
        Entry::from_host("bin/busybox", "/bin/busybox")?,
        Entry::symlink("bin/sh", "busybox"),
        Entry::symlink("usr/bin/env", "../../bin/busybox"),
        Entry::from_host("usr/bin/web-server", "/bin/true")?,
        Entry::from_host("usr/bin/queue-worker", "/bin/true")?,
        Entry::from_host("usr/local/bin/gosu", "/usr/sbin/gosu")?,
        Entry::from_host("usr/bin/tini", "/usr/bin/tini-static")?,
    ];
    let python = std::fs::canonicalize("/usr/bin/python3").ok()?;
    e.push(Entry::from_host(
        "usr/bin/python3",
        &python.to_string_lossy(),
    )?);
    Some(e)
}

/// Every parent directory of the entries' paths, first.
fn with_dirs(entries: Vec<Entry>) -> Vec<Entry> {
    let mut dirs = BTreeSet::new();
    for e in &entries {
        let p = match e {
            Entry::File { path, .. } | Entry::Symlink { path, .. } | Entry::Dir { path, .. } => {
                path
            }
            _ => continue,
        };
        let mut acc = String::new();
        for comp in p
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |x| x.1)
        {
            acc = if acc.is_empty() {
                comp.to_string()
            } else {
                format!("{acc}/{comp}")
            };
            dirs.insert(acc.clone());
        }
    }
    let mut out: Vec<Entry> = dirs.iter().map(|d| Entry::dir(d)).collect();
    out.extend(entries);
    out
}

fn file(path: &str, body: &str) -> Entry {
    Entry::file(path, 0o755, body.as_bytes())
}

/// Writes the image (base layer + `top`) as an OCI layout and runs `entrytrace scan` on it
/// with `extra` flags; its stdout. `None` when a host file the image needs is missing.
fn scan_with(top: Vec<Entry>, config: Value, extra: &[&str]) -> Option<Vec<u8>> {
    let mut img = Image::new(vec![
        Layer::new(Compression::None, with_dirs(base()?)),
        Layer::new(Compression::Gzip, with_dirs(top)),
    ]);
    img.config = config;
    let tmp = tempfile::tempdir().expect("tempdir");
    Some(scan_ok(&img.oci_source(tmp.path()), extra))
}

/// The JSON result of scanning the image.
fn scan(top: Vec<Entry>, config: Value) -> Option<Value> {
    let out = scan_with(top, config, &[])?;
    Some(serde_json::from_slice(&out).expect("json"))
}

fn config(ep: &[&str], cmd: &[&str], workdir: &str) -> Value {
    json!({"Entrypoint": ep, "Cmd": cmd, "Env": [PATH], "WorkingDir": workdir})
}

/// `(path, user, kind)` of one service.
type Svc = (String, String, String);

/// `(path, user, kind)` of each service of the first terminal.
fn services(r: &Value) -> Vec<Svc> {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    r["terminals"][0]["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| (s(t, "path"), s(t, "user"), s(t, "kind")))
                .collect()
        })
        .unwrap_or_default()
}

fn svc(path: &str, user: &str) -> Svc {
    (path.into(), user.into(), "service".into())
}

/// supervisord as Debian installs it: a Python script.
fn supervisord_script() -> Entry {
    file(
        "usr/bin/supervisord",
        "#!/usr/bin/python3\nimport sys\nfrom supervisor.supervisord import main\nsys.exit(main())\n",
    )
}

fn supervisord_image() -> Vec<Entry> {
    vec![
        supervisord_script(),
        file("etc/supervisor/supervisord.conf", "[supervisord]\nnodaemon=true\nuser=root\n\n[include]\nfiles = conf.d/*.conf\n"),
        file("etc/supervisor/conf.d/web.conf", "[program:web]\ncommand=/usr/bin/web-server --port 8080\nuser=www-data\ndirectory=/srv\n"),
        file("etc/supervisor/conf.d/worker.conf", "[program:worker]\ncommand=queue-worker -q default\n\n[program:reindex]\ncommand=queue-worker --reindex\nautostart=false\n"),
    ]
}

fn s6_overlay_image() -> Vec<Entry> {
    vec![
        file("init", "#!/bin/sh -e\n# s6-overlay v3 /init\nexec /package/admin/s6-overlay/libexec/preinit \"$@\"\n"),
        Entry::dir("package/admin/s6-overlay/libexec"),
        Entry::from_host("package/admin/s6-overlay/libexec/preinit", "/bin/true").expect("/bin/true"),
        file("etc/s6-overlay/s6-rc.d/user/type", "bundle\n"),
        file("etc/s6-overlay/s6-rc.d/user/contents.d/web", ""),
        file("etc/s6-overlay/s6-rc.d/user/contents.d/worker", ""),
        file("etc/s6-overlay/s6-rc.d/user/contents.d/migrate", ""),
        file("etc/s6-overlay/s6-rc.d/web/type", "longrun\n"),
        file("etc/s6-overlay/s6-rc.d/web/run", "#!/command/execlineb -P\nwith-contenv\nfdmove -c 2 1\ns6-setuidgid www-data\ncd /srv\nexec /usr/bin/web-server --port 8080\n"),
        file("etc/s6-overlay/s6-rc.d/worker/type", "longrun\n"),
        file("etc/s6-overlay/s6-rc.d/worker/run", "#!/bin/sh\nexec queue-worker -q default\n"),
        file("etc/s6-overlay/s6-rc.d/migrate/type", "oneshot\n"),
        file("etc/s6-overlay/s6-rc.d/migrate/up", "/usr/bin/queue-worker --migrate\n"),
    ]
}

fn s6_services_d_image() -> Vec<Entry> {
    vec![
        file(
            "init",
            "#!/bin/sh\n# s6-overlay v2 stage 1\nexec /bin/s6-svscan /var/run/s6/services\n",
        ),
        Entry::from_host("bin/s6-svscan", "/bin/true").expect("/bin/true"),
        Entry::from_host("usr/bin/s6-setuidgid", "/bin/true").expect("/bin/true"),
        Entry::from_host("usr/bin/with-contenv", "/bin/true").expect("/bin/true"),
        file(
            "etc/services.d/web/run",
            "#!/usr/bin/with-contenv sh\nexec s6-setuidgid app web-server --port 8080\n",
        ),
        file(
            "etc/services.d/worker/run",
            "#!/usr/bin/with-contenv sh\nexec queue-worker -q default\n",
        ),
        file("etc/services.d/worker/finish", "#!/bin/sh\n"),
    ]
}

fn runit_image() -> Vec<Entry> {
    vec![
        Entry::from_host("usr/bin/runsvdir", "/bin/true").expect("/bin/true"),
        Entry::from_host("usr/bin/chpst", "/bin/true").expect("/bin/true"),
        file(
            "etc/sv/web/run",
            "#!/bin/sh\nexec 2>&1\nexec chpst -u www-data /usr/bin/web-server --port 8080\n",
        ),
        file(
            "etc/sv/worker/run",
            "#!/bin/sh\ncd /srv\nexec queue-worker -q default\n",
        ),
        Entry::symlink("etc/service/web", "/etc/sv/web"),
        Entry::symlink("etc/service/worker", "../sv/worker"),
    ]
}

fn pm2_image() -> Vec<Entry> {
    vec![
        Entry::from_host("usr/local/bin/node", "/bin/true").expect("/bin/true"),
        file("usr/local/bin/pm2-runtime", "#!/usr/bin/env node\nrequire('../lib/binaries/Runtime4Docker.js');\n"),
        file("app/ecosystem.config.json", "{\n  \"apps\": [\n    {\"name\": \"api\", \"script\": \"server.js\", \"uid\": \"app\"},\n    {\"name\": \"jobs\", \"script\": \"/usr/bin/queue-worker\", \"interpreter\": \"none\", \"args\": [\"-q\", \"default\"]}\n  ]\n}\n"),
        file("app/server.js", "require('http').createServer().listen(3000)\n"),
    ]
}

fn honcho_image() -> Vec<Entry> {
    vec![
        file("usr/local/bin/honcho", "#!/usr/bin/python3\nimport sys\nfrom honcho.command import main\nsys.exit(main())\n"),
        file("app/Procfile", "# processes\nweb: exec gosu app web-server --port $PORT\nworker: queue-worker -q default\n"),
        file("app/.env", "PORT=5000\n"),
    ]
}

type Build = fn() -> Vec<Entry>;

#[test]
fn each_supervisor_kind_reports_its_services_users_and_kinds() {
    let web = "/usr/bin/web-server";
    let worker = "/usr/bin/queue-worker";
    #[rustfmt::skip]
    let cases: Vec<(&str, Build, Value, Vec<Svc>)> = vec![
        ("supervisord", supervisord_image, config(&["/usr/bin/tini", "--"], &["/usr/bin/supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"], "/"),
         vec![svc(web, "www-data"), svc(worker, "root"), svc(worker, "root")]),
        ("s6-overlay v3", s6_overlay_image, config(&["/init"], &[], "/"),
         vec![svc(web, "www-data"), svc(worker, "root")]),
        ("s6 services.d", s6_services_d_image, config(&["/init"], &[], "/"),
         vec![svc(web, "app"), svc(worker, "root")]),
        ("runit", runit_image, config(&[], &["runsvdir", "-P", "/etc/service"], "/"),
         vec![svc(web, "www-data"), svc(worker, "root")]),
        ("pm2-runtime", pm2_image, config(&[], &["pm2-runtime", "ecosystem.config.json"], "/app"),
         vec![svc("/usr/local/bin/node", "app"), svc(worker, "root")]),
        ("honcho", honcho_image, config(&[], &["honcho", "start"], "/app"),
         vec![svc(web, "app"), svc(worker, "root")]),
    ];
    for (what, build, cfg, want) in cases {
        let Some(r) = scan(build(), cfg) else { return };
        let ctx = format!("{what}: {:#}", r);
        let t = &r["terminals"][0];
        assert_eq!(t["kind"], "supervisor", "{ctx}");
        assert_eq!(services(&r), want, "{ctx}");
        let forks: Vec<&Value> = r["chain"]
            .as_array()
            .expect("chain")
            .iter()
            .filter(|s| s["step"] == "fork")
            .collect();
        assert_eq!(forks.len(), want.len(), "{ctx}");
        for f in forks {
            let loc = f["location"].as_str().unwrap_or("");
            let line = loc.rsplit(':').next().and_then(|n| n.parse::<usize>().ok());
            assert!(
                loc.starts_with('/') && line.is_some_and(|n| n >= 1),
                "{what}: {loc}"
            );
        }
        let conf = t["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&conf), "{ctx}");
    }
}

#[test]
fn s6_overlay_names_the_execline_line_and_skips_the_oneshot() {
    let Some(r) = scan(s6_overlay_image(), config(&["/init"], &[], "/")) else {
        return;
    };
    let chain = r["chain"].as_array().expect("chain");
    let web = chain
        .iter()
        .find(|s| s["step"] == "fork" && s["why"].as_str().is_some_and(|w| w.contains("web")))
        .expect("web fork step");
    assert_eq!(
        web["location"], "/etc/s6-overlay/s6-rc.d/web/run:6",
        "{web:#}"
    );
    assert_eq!(r["terminals"][0]["services"][0]["workdir"], "/srv");
    let ev = r["evidence"].to_string();
    assert!(ev.contains("migrate is a oneshot"), "{ev}");
}

#[test]
fn a_supervisor_with_one_service_collapses_into_that_service() {
    let top = vec![
        supervisord_script(),
        file("etc/supervisord.conf", "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=web-server --port 80\nuser=www-data\n"),
    ];
    let Some(r) = scan(top, config(&[], &["supervisord"], "/")) else {
        return;
    };
    let t = &r["terminals"][0];
    assert_eq!(t["kind"], "process", "{r:#}");
    assert_eq!(t["path"], "/usr/bin/web-server", "{r:#}");
    assert_eq!(t["user"], "www-data", "{r:#}");
    let chain = r["chain"].as_array().expect("chain");
    let fork = chain
        .iter()
        .position(|s| s["step"] == "fork")
        .expect("fork step");
    assert_eq!(chain[fork]["location"], "/etc/supervisord.conf:5");
    assert_eq!(chain.last().map(|s| &s["step"]), Some(&json!("resolve")));
    assert!(
        r["evidence"].to_string().contains("collapsed into"),
        "{r:#}"
    );
}

#[test]
fn include_cycles_and_globs_climbing_out_of_the_root_stay_in_the_image() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("evil.conf"),
        "[program:evil]\ncommand=/usr/bin/web-server --evil\n",
    )
    .expect("write host conf");
    let climb = format!(
        "../../../../../../../../..{}/*.conf",
        outside.path().display()
    );
    let top = vec![
        supervisord_script(),
        file("etc/supervisor/supervisord.conf", &format!("[include]\nfiles = conf.d/*.conf {climb}\n\n[program:web]\ncommand=web-server\n")),
        file("etc/supervisor/conf.d/a.conf", "[include]\nfiles = ../supervisord.conf ../conf.d/*.conf\n\n[program:worker]\ncommand=queue-worker\nuser=app\n"),
    ];
    let Some(r) = scan(top, config(&[], &["supervisord"], "/")) else {
        return;
    };
    let got = services(&r);
    assert_eq!(
        got,
        [
            svc("/usr/bin/queue-worker", "app"),
            svc("/usr/bin/web-server", "root")
        ],
        "{r:#}"
    );
    assert!(!r.to_string().contains("--evil"), "{r:#}");
    assert!(r["evidence"].to_string().contains("include cycle"), "{r:#}");
}

#[test]
fn the_text_format_lists_each_service_under_the_supervisor() {
    let cfg = config(&[], &["runsvdir", "-P", "/etc/service"], "/");
    let Some(out) = scan_with(runit_image(), cfg, &["--format", "text"]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out);
    #[rustfmt::skip]
    let wants = ["service 1", "service 2", "/usr/bin/web-server", "www-data", "/usr/bin/queue-worker", "/etc/service/web/run:1"];
    for want in wants {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}
