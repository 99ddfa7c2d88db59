//! Ruby and PHP detectors: rack servers (`puma`, `unicorn`, `rackup`, `thin`, `falcon`) and
//! their `config.ru`, `rails server` and its `config/application.rb`, plain `ruby x.rb`;
//! `php-fpm` and its pools, `php script.php`, and PHP's built-in server (`php -S`).
//!
//! `bundle exec X` is collapsed by the wrapper catalogue before this runs, and a gem's
//! binstub (`#!/usr/local/bin/ruby`) is rewritten by the walk, so the terminal is `ruby
//! …/bin/puma …`: the server is the script's name. Config files are read bounded by
//! `limits.max_metadata_bytes`; the php-fpm pool's `listen` feeds the ports feature. It does
//! not evaluate Ruby (`config/puma.rb`) nor PHP ini includes beyond the pool directories.

use super::detect::{first_operand, option_value, Detection, Subject};
use super::node::script_detection;

/// Rack servers: they load `config.ru` from the working directory unless given another.
const RACK_SERVERS: &[&str] = &["puma", "unicorn", "rackup", "thin", "falcon", "passenger"];
/// `ruby` options that take the next word.
const RUBY_VALUE_OPTIONS: &[&str] = &["-I", "-r", "-C", "-E", "-e"];
/// Rack server options that take the next word.
const RACK_VALUE_OPTIONS: &[&str] = &[
    "-C",
    "--config",
    "-c",
    "-b",
    "--bind",
    "-p",
    "--port",
    "-e",
    "--environment",
    "-t",
    "--threads",
    "-w",
    "--workers",
    "-o",
    "--host",
    "-E",
    "--pidfile",
    "-P",
    "-s",
    "--server",
];
/// Where php-fpm's pools live in the official and Debian images.
const FPM_POOL_DIRS: &[&str] = &["/usr/local/etc/php-fpm.d"];

pub fn detect(s: &Subject<'_>) -> Option<Detection> {
    if s.family == "php" {
        return php(s);
    }
    if RACK_SERVERS.contains(&s.name()) {
        return Some(rack(s, s.name(), &s.argv[1..]));
    }
    let (i, script) = first_operand(s.argv, RUBY_VALUE_OPTIONS, &["-e"])?;
    let name = script.rsplit('/').next().unwrap_or(script);
    let rest = &s.argv[i + 1..];
    if let Some(server) = RACK_SERVERS.iter().find(|n| **n == name) {
        return Some(rack(s, server, rest));
    }
    if name == "rails" && matches!(rest.first().map(String::as_str), Some("server" | "s")) {
        return Some(rails(s));
    }
    Some(script_detection(s, script, "ruby"))
}

/// A rack server: `config.ru` (or the rackup file it is given).
fn rack(s: &Subject<'_>, server: &str, args: &[String]) -> Detection {
    let mut argv = vec![server.to_string()];
    argv.extend(args.iter().cloned());
    let config = option_value(&argv, &["-C", "--config", "-c"], RACK_VALUE_OPTIONS);
    let ru = first_operand(&argv, RACK_VALUE_OPTIONS, &[])
        .map(|(_, w)| w.clone())
        .filter(|w| w.ends_with(".ru"))
        .unwrap_or_else(|| "config.ru".into());
    let path = crate::vfs::normalize(&ru, s.cwd);
    if let Some(c) = config {
        let c = crate::vfs::normalize(c, s.cwd);
        let ev = match s.file(&c) {
            Some(_) => format!("{server} config {c}"),
            None => format!("{server} config {c} is missing from the image"),
        };
        if s.file(&path).is_none() {
            // The config file may name another rackup file: not called missing.
            return Detection {
                artefact: Some(format!("rack app {path}")),
                evidence: vec![ev, format!("no {path}; {c} may name the app")],
                ..Detection::default()
            };
        }
    }
    match s.file(&path) {
        Some(_) => {
            let mut d = Detection::found(
                format!("rack app {path}"),
                format!("{server} serves the rack app {path}"),
            );
            d.validated = Some(format!("{path} exists"));
            d
        }
        None => Detection::lacking(
            format!("rack app {path}"),
            format!("{server}: {path} is missing from the image"),
        ),
    }
}

/// `rails server`: the application in the working directory.
fn rails(s: &Subject<'_>) -> Detection {
    let app = crate::vfs::normalize("config/application.rb", s.cwd);
    match s.file(&app) {
        Some(_) => {
            let mut d = Detection::found(
                format!("rails app {}", s.cwd),
                format!("rails server runs the app of {app}"),
            );
            let ru = crate::vfs::normalize("config.ru", s.cwd);
            if s.file(&ru).is_some() {
                d.validated = Some(format!("{app} and {ru} exist"));
            }
            d
        }
        None => Detection::lacking(
            format!("rails app {}", s.cwd),
            format!("rails server: {app} is missing from the image"),
        ),
    }
}

fn php(s: &Subject<'_>) -> Option<Detection> {
    if s.name().starts_with("php-fpm") {
        return Some(fpm(s));
    }
    if let Some(addr) = option_value(s.argv, &["-S"], &["-t", "-c", "-d", "-S"]) {
        let root = option_value(s.argv, &["-t"], &["-c", "-d", "-S"]).unwrap_or(".");
        let root = crate::vfs::normalize(root, s.cwd);
        let mut d = Detection::found(
            format!("docroot {root}"),
            format!("php's built-in server on {addr} serves {root}"),
        );
        d.listens = port_of(addr).map(|p| (vec![p], format!("php -S {addr}")));
        return Some(d);
    }
    let (_, script) = first_operand(s.argv, &["-c", "-d", "-t", "-z"], &["-r", "-a"])?;
    Some(script_detection(s, script, "php"))
}

/// php-fpm: its pools and where they listen.
fn fpm(s: &Subject<'_>) -> Detection {
    let mut files: Vec<String> = Vec::new();
    if let Some(c) = option_value(s.argv, &["-y", "--fpm-config"], &["-c", "-d", "-p"]) {
        files.push(crate::vfs::normalize(c, s.cwd));
    }
    let mut dirs: Vec<String> = FPM_POOL_DIRS.iter().map(|d| d.to_string()).collect();
    if let Ok(versions) = s.vfs.read_dir("/etc/php") {
        dirs.extend(
            versions
                .iter()
                .take(8)
                .map(|v| format!("/etc/php/{v}/fpm/pool.d")),
        );
    }
    for d in dirs {
        if let Ok(names) = s.vfs.read_dir(&d) {
            files.extend(
                names
                    .iter()
                    .filter(|n| n.ends_with(".conf"))
                    .take(32)
                    .map(|n| format!("{d}/{n}")),
            );
        }
    }
    files.truncate(32);
    let mut pools = Vec::new();
    let mut ports = Vec::new();
    for f in &files {
        let Some(text) = s.read_text(f) else { continue };
        for (pool, listen) in parse_fpm_pools(&text) {
            pools.push(format!("pool {pool} listens on {listen} ({f})"));
            ports.extend(port_of(&listen));
        }
    }
    if pools.is_empty() {
        return Detection {
            evidence: vec!["php-fpm: no readable pool configuration".into()],
            ..Detection::default()
        };
    }
    let mut d = Detection::found(format!("php-fpm {}", pools.join("; ")), pools.join("; "));
    if !ports.is_empty() {
        d.listens = Some((ports, "php-fpm pool listen".into()));
    }
    d
}

/// `(pool, listen)` pairs of an fpm ini file (`[www]` … `listen = 9000`).
pub fn parse_fpm_pools(text: &str) -> Vec<(String, String)> {
    let mut pool = None;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            pool = Some(name.trim().to_string());
        } else if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "listen" && !line.starts_with(';') {
                if let Some(p) = &pool {
                    out.push((p.clone(), v.trim().trim_matches('"').to_string()));
                }
            }
        }
    }
    out
}

/// The TCP port of `9000`, `127.0.0.1:9000`, `[::]:9000`; `None` for a socket path.
pub fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::{detect_line, facts};
    use crate::vfs::mem::MemVfs;

    #[test]
    fn ruby_and_php_command_lines_name_their_app() {
        let mut v = MemVfs::new();
        for f in [
            "/app/config.ru",
            "/app/config/application.rb",
            "/app/config/puma.rb",
            "/app/worker.rb",
            "/var/www/index.php",
            "/srv/other/config.ru",
        ] {
            v.add_file(f, 0o644, b"x\n");
        }
        // (line, family, cwd, artefact, f3, f6, missing)
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, bool, bool, bool);
        let cases: &[Case] = &[
            (
                "ruby /usr/local/bundle/bin/puma -C config/puma.rb",
                "ruby",
                "/app",
                "rack app /app/config.ru",
                true,
                true,
                false,
            ),
            (
                "ruby /usr/local/bundle/bin/unicorn -p 80 /srv/other/config.ru",
                "ruby",
                "/",
                "rack app /srv/other/config.ru",
                true,
                true,
                false,
            ),
            (
                "ruby /usr/local/bundle/bin/rackup",
                "ruby",
                "/",
                "rack app /config.ru",
                false,
                false,
                true,
            ),
            (
                "ruby /usr/local/bundle/bin/puma -C /x.rb",
                "ruby",
                "/",
                "rack app /config.ru",
                false,
                false,
                false,
            ),
            (
                "ruby bin/rails server -b 0.0.0.0",
                "ruby",
                "/app",
                "rails app /app",
                true,
                true,
                false,
            ),
            (
                "ruby bin/rails s",
                "ruby",
                "/",
                "rails app /",
                false,
                false,
                true,
            ),
            (
                "ruby -I lib worker.rb",
                "ruby",
                "/app",
                "script /app/worker.rb",
                true,
                true,
                false,
            ),
            (
                "php -S 0.0.0.0:8000 -t /var/www",
                "php",
                "/",
                "docroot /var/www",
                true,
                false,
                false,
            ),
            (
                "php index.php",
                "php",
                "/var/www",
                "script /var/www/index.php",
                true,
                true,
                false,
            ),
            (
                "php gone.php",
                "php",
                "/var/www",
                "script /var/www/gone.php",
                false,
                false,
                true,
            ),
        ];
        for (line, family, cwd, artefact, f3, f6, missing) in cases {
            let d = detect_line(&v, line, family, ("/usr/local/bin/x", cwd, &[]));
            assert_eq!(d.artefact.as_deref(), Some(*artefact), "{line}: {d:?}");
            assert_eq!(facts(&d), (*f3, *f6, *missing), "{line}: {d:?}");
        }
        let php_s = detect_line(&v, "php -S 0.0.0.0:8000", "php", ("/usr/bin/php", "/", &[]));
        assert_eq!(php_s.listens.map(|l| l.0), Some(vec![8000]));
    }

    #[test]
    fn fpm_pools_and_their_listen_addresses_are_read() {
        let conf = "[global]\nerror_log = x\n[www]\nuser = www-data\nlisten = 9000\n;listen = 1\n[api]\nlisten = \"127.0.0.1:9001\"\n[sock]\nlisten = /run/php.sock\n";
        assert_eq!(
            parse_fpm_pools(conf),
            [
                ("www", "9000"),
                ("api", "127.0.0.1:9001"),
                ("sock", "/run/php.sock")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        for (addr, want) in [
            ("9000", Some(9000)),
            ("[::]:80", Some(80)),
            ("/run/x.sock", None),
            ("x:99999", None),
        ] {
            assert_eq!(port_of(addr), want, "{addr}");
        }
    }
}
