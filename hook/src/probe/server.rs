//! Server classes: nginx, httpd/apache2, haproxy, postgres, redis, mysqld/mariadbd, mongod,
//! memcached, caddy, traefik … recognised by program name and, where cheap, by a string the
//! binary carries (searched in its first [`MARKER_SCAN`] bytes), with the ports their
//! configuration says they listen on (the ports feature, static seed §7 f4).
//!
//! Ports come from what is readable without running anything: nginx `listen` in
//! `/etc/nginx/nginx.conf`, `conf.d/*.conf` and `sites-enabled/*`; the redis config file
//! named in argv (`port`) or `--port`; postgres `-p`/`-c port=`; httpd `Listen`; haproxy
//! `bind`; `--port`/`-p` of mysqld and memcached; else the well-known defaults. A server's
//! family stays what its binary is (`c`, `go`): the class is evidence. Includes are not
//! followed beyond those directories; `$variables` are not expanded.

use super::detect::{option_value, Subject};
use super::reader::RangeReader;

/// How much of a binary is searched for its marker string.
const MARKER_SCAN: u64 = 8 << 20;
/// At most this many config files are read per server.
const MAX_CONFIGS: usize = 32;

/// `(program names, marker string in the binary, default ports)`.
const SERVERS: &[(&[&str], &[u8], &[u16])] = &[
    (&["nginx"], b"nginx version: ", &[80, 443]),
    (&["httpd", "apache2"], b"Apache/", &[80, 443]),
    (&["haproxy"], b"HAProxy version", &[80, 443]),
    (&["postgres", "postmaster"], b"PostgreSQL", &[5432]),
    (&["redis-server"], b"Redis server v=", &[6379]),
    (&["mysqld", "mariadbd"], b"mysqld", &[3306]),
    (&["mongod"], b"MongoDB", &[27017]),
    (&["memcached"], b"memcached", &[11211]),
    (&["caddy"], b"caddyserver", &[80, 443, 2019]),
    (&["traefik"], b"traefik", &[80, 443, 8080]),
    (&["rabbitmq-server"], b"rabbit", &[5672]),
    (&["envoy"], b"envoy", &[10000]),
    (&["php-fpm"], b"php-fpm", &[9000]),
];

/// What a server detection adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerClass {
    pub evidence: Vec<String>,
    /// Configured ports and where they were read; the defaults when nothing was readable.
    pub listens: Option<(Vec<u16>, String)>,
}

/// The server class of `s`, if its name is a known server's.
pub fn detect(s: &Subject<'_>) -> Option<ServerClass> {
    let name = s.name();
    let (names, marker, defaults) = SERVERS.iter().find(|(names, _, _)| {
        names
            .iter()
            .any(|n| name == *n || (name.starts_with(n) && *n == "php-fpm"))
    })?;
    let class = names[0];
    let mut out = ServerClass::default();
    // A multi-call binary (busybox httpd) is not the server's own: only a file named like the
    // server is searched, which also keeps megabytes of busybox off the hook's critical path.
    let file = s.path.rsplit('/').next().unwrap_or(s.path);
    let own_binary = names.iter().any(|n| file.starts_with(n));
    out.evidence
        .push(match own_binary && has_marker(s, marker) {
            true => format!(
                "server class {class} ({} carries {:?})",
                s.path,
                String::from_utf8_lossy(marker).trim()
            ),
            false => format!("server class {class} (by name)"),
        });
    if class == "httpd" {
        out.evidence.extend(mod_php(s));
    }
    out.listens = configured_ports(s, class)
        .or_else(|| Some((defaults.to_vec(), format!("{class}'s default ports"))));
    Some(out)
}

/// `apache2 runs PHP through mod_php` when a php module is enabled (the `php:*-apache`
/// images, whose `apache2-foreground` execs apache2).
fn mod_php(s: &Subject<'_>) -> Option<String> {
    let dir = "/etc/apache2/mods-enabled";
    let names = s.vfs.read_dir(dir).ok()?;
    let php = names
        .iter()
        .find(|n| n.starts_with("php") && n.ends_with(".load"))?;
    Some(format!("apache2 runs PHP through mod_php ({dir}/{php})"))
}

fn has_marker(s: &Subject<'_>, marker: &[u8]) -> bool {
    let Ok(Some(m)) = s.vfs.lstat(s.path) else {
        return false;
    };
    let mut r = RangeReader::new(s.vfs, s.path, m.size, MARKER_SCAN);
    matches!(r.find(marker, 0, MARKER_SCAN), Ok(Some(_)))
}

fn configured_ports(s: &Subject<'_>, class: &str) -> Option<(Vec<u16>, String)> {
    let argv_port = option_value(s.argv, &["--port", "-p"], &[]).and_then(|p| p.parse().ok());
    match class {
        "nginx" => ports_in(s, &nginx_files(s), parse_nginx_listen),
        "redis-server" => {
            if let Some(p) = argv_port {
                return Some((vec![p], "redis-server --port".into()));
            }
            let conf = s.argv.get(1).filter(|a| !a.starts_with('-'))?;
            ports_in(s, &[crate::vfs::normalize(conf, s.cwd)], |t| {
                keyword_ports(t, "port")
            })
        }
        "postgres" => {
            let c = s.argv.iter().find_map(|w| w.strip_prefix("port="));
            let p = argv_port.or_else(|| c.and_then(|c| c.parse().ok()))?;
            Some((vec![p], "postgres -p / -c port=".into()))
        }
        "httpd" => {
            let files = [
                "/usr/local/apache2/conf/httpd.conf",
                "/etc/apache2/ports.conf",
                "/etc/httpd/conf/httpd.conf",
            ];
            ports_in(s, &files.map(String::from), |t| keyword_ports(t, "Listen"))
        }
        "haproxy" => {
            let f =
                option_value(s.argv, &["-f"], &[]).unwrap_or("/usr/local/etc/haproxy/haproxy.cfg");
            ports_in(s, &[crate::vfs::normalize(f, s.cwd)], |t| {
                keyword_ports(t, "bind")
            })
        }
        "mysqld" | "memcached" => argv_port.map(|p| (vec![p], format!("{class} --port"))),
        _ => None,
    }
}

fn nginx_files(s: &Subject<'_>) -> Vec<String> {
    let main = option_value(s.argv, &["-c"], &["-g", "-p", "-e"]).map_or_else(
        || "/etc/nginx/nginx.conf".to_string(),
        |c| crate::vfs::normalize(c, s.cwd),
    );
    let mut files = vec![main];
    for dir in [
        "/etc/nginx/conf.d",
        "/etc/nginx/sites-enabled",
        "/etc/nginx/http.d",
    ] {
        if let Ok(names) = s.vfs.read_dir(dir) {
            files.extend(names.iter().map(|n| format!("{dir}/{n}")));
        }
    }
    files.truncate(MAX_CONFIGS);
    files
}

/// The ports found by `parse` in those of `files` that can be read.
fn ports_in(
    s: &Subject<'_>,
    files: &[String],
    parse: impl Fn(&str) -> Vec<u16>,
) -> Option<(Vec<u16>, String)> {
    let mut ports = Vec::new();
    let mut from = Vec::new();
    for f in files {
        let Some(text) = s.read_text(f) else { continue };
        let found = parse(&text);
        if !found.is_empty() {
            from.push(f.clone());
            ports.extend(found);
        }
    }
    ports.sort_unstable();
    ports.dedup();
    (!ports.is_empty()).then(|| (ports, from.join(", ")))
}

/// Ports of nginx `listen` directives: `listen 80;`, `listen [::]:8080 default_server;`,
/// `listen 127.0.0.1:81 ssl;` (unix sockets skipped; comments stripped).
pub fn parse_nginx_listen(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for stmt in line.split([';', '{', '}']) {
            let mut words = stmt.split_whitespace();
            if words.next() != Some("listen") {
                continue;
            }
            if let Some(addr) = words.next().filter(|a| !a.starts_with("unix:")) {
                out.extend(super::ruby::port_of(addr));
            }
        }
    }
    out
}

/// Ports after a `keyword` at the start of a line (`port 6379`, `Listen 0.0.0.0:80`,
/// `bind *:80,*:81`).
pub fn keyword_ports(text: &str, keyword: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        if words.next() != Some(keyword) {
            continue;
        }
        if let Some(v) = words.next() {
            out.extend(v.split(',').filter_map(super::ruby::port_of));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::detect_line;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn servers_are_classed_and_their_configured_ports_read() {
        let mut v = MemVfs::new();
        let mut nginx = b"\x7fELF".to_vec();
        nginx.extend(vec![0u8; 5000]);
        nginx.extend(b"nginx version: nginx/1.25.3");
        v.add_file("/usr/sbin/nginx", 0o755, &nginx);
        v.add_file("/etc/nginx/nginx.conf", 0o644, b"events {}\n");
        v.add_file(
            "/etc/nginx/conf.d/app.conf",
            0o644,
            b"server { listen 8080; }\n",
        );
        v.add_file("/etc/redis/redis.conf", 0o644, b"bind 0.0.0.0\nport 6380\n");
        v.add_file(
            "/etc/apache2/mods-enabled/php8.2.load",
            0o644,
            b"LoadModule x\n",
        );
        v.add_file("/etc/apache2/ports.conf", 0o644, b"Listen 8081\n");
        v.add_file(
            "/usr/local/etc/haproxy/haproxy.cfg",
            0o644,
            b"frontend f\n  bind *:80,*:8443\n",
        );
        // (line, evidence, ports, where)
        let cases: &[(&str, &str, &[u16], &str)] = &[
            (
                "/usr/sbin/nginx -g daemon",
                "carries \"nginx version:\"",
                &[8080],
                "/etc/nginx/conf.d/app.conf",
            ),
            (
                "redis-server /etc/redis/redis.conf",
                "server class redis-server (by name)",
                &[6380],
                "/etc/redis/redis.conf",
            ),
            (
                "redis-server --port 7000",
                "redis-server",
                &[7000],
                "--port",
            ),
            ("postgres -p 5433", "postgres", &[5433], "-p"),
            ("postgres -c port=5434", "postgres", &[5434], "port="),
            ("postgres", "postgres", &[5432], "default ports"),
            (
                "apache2 -DFOREGROUND",
                "mod_php (/etc/apache2/mods-enabled/php8.2.load)",
                &[8081],
                "ports.conf",
            ),
            (
                "haproxy -f /usr/local/etc/haproxy/haproxy.cfg",
                "haproxy",
                &[80, 8443],
                "haproxy.cfg",
            ),
            ("memcached -p 11212", "memcached", &[11212], "--port"),
            (
                "php-fpm8.2",
                "server class php-fpm",
                &[9000],
                "default ports",
            ),
        ];
        for (line, evidence, ports, from) in cases {
            let path = line.split(' ').next().unwrap_or("");
            let d = detect_line(&v, line, "c", (path, "/", &[]));
            assert!(
                d.evidence.iter().any(|e| e.contains(evidence)),
                "{line}: {d:?}"
            );
            let (got, at) = d.listens.clone().expect("ports");
            assert_eq!(got, *ports, "{line}: {d:?}");
            assert!(at.contains(from), "{line}: {at}");
        }
        let plain = detect_line(&v, "myapp --port 1", "c", ("/usr/bin/myapp", "/", &[]));
        assert_eq!(plain.listens, None, "{plain:?}");
    }

    #[test]
    fn listen_directives_give_ports() {
        let nginx = "server {\n  listen 8080 default_server;\n  listen [::]:8443 ssl; # v6\n  # listen 9;\n  listen unix:/run/n.sock;\n  server_name x; listen 127.0.0.1:81;\n}\n";
        assert_eq!(parse_nginx_listen(nginx), [8080, 8443, 81]);
        assert_eq!(parse_nginx_listen("server { listen 82; }"), [82]);
        for (text, kw, want) in [
            ("# port 1\nport 6380\n", "port", vec![6380]),
            ("Listen 80\nListen 0.0.0.0:8080\n", "Listen", vec![80, 8080]),
            ("frontend f\n  bind *:80,*:81\n", "bind", vec![80, 81]),
            ("portx 1\n", "port", vec![]),
        ] {
            assert_eq!(keyword_ports(text, kw), want, "{text}");
        }
    }
}
