//! Shared fixtures for shellflow's integration tests: a small image with the usual users,
//! droppers and servers, and a table checker (several spellings → one expected result).

#![allow(dead_code)]

use shellflow::{analyze, Analysis, Dialect, EndKind, Invocation, Limits, MemFs, Script, User};

/// Every analysis in this test binary runs in shellflow's arena, as in the shipped binary
/// (here in front of the system allocator).
#[global_allocator]
static ARENA: shellflow::arena::Arena<std::alloc::System> =
    shellflow::arena::Arena::new(std::alloc::System);

pub const ENTRY: &str = "/usr/local/bin/docker-entrypoint.sh";

/// An image with root, postgres (999), redis (998), mysql (997), www-data (33), node (1000).
pub fn image() -> MemFs {
    let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                  www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
                  postgres:x:999:999::/var/lib/postgresql:/bin/bash\n\
                  redis:x:998:998::/data:/bin/sh\n\
                  mysql:x:997:997::/var/lib/mysql:/bin/false\n\
                  node:x:1000:1000::/home/node:/bin/bash\n";
    let mut fs = MemFs::new()
        .file("/etc/passwd", passwd, 0o644)
        .file(
            "/etc/group",
            "root:x:0:\npostgres:x:999:\nredis:x:998:\n",
            0o644,
        )
        .dir("/var/lib/postgresql/data")
        .dir("/docker-entrypoint-initdb.d")
        .file("/etc/redis.conf", "port 6379\n", 0o644)
        .file("/usr/local/etc/app.env", "APP_MODE=prod\n", 0o644);
    for exe in [
        "/usr/local/bin/gosu",
        "/sbin/su-exec",
        "/usr/bin/setpriv",
        "/usr/bin/chpst",
        "/usr/bin/s6-setuidgid",
        "/sbin/runuser",
        "/usr/sbin/chroot",
        "/bin/su",
        "/usr/lib/postgresql/17/bin/postgres",
        "/usr/local/bin/redis-server",
        "/usr/sbin/mysqld",
        "/usr/sbin/nginx",
        "/usr/local/bin/httpd-foreground",
        "/usr/local/bin/node",
        "/usr/local/bin/python3",
        "/usr/local/sbin/php-fpm",
        "/usr/bin/tini",
        "/bin/sh",
        "/bin/bash",
        "/usr/bin/id",
        "/usr/bin/find",
        "/bin/chown",
        "/bin/chmod",
        "/bin/rm",
        "/bin/ls",
        "/bin/date",
        "/usr/bin/sort",
        "/usr/bin/awk",
        "/usr/bin/getent",
        "/usr/bin/mysqladmin",
        "/usr/bin/readlink",
        "/usr/bin/realpath",
        "/bin/sleep",
        "/usr/bin/psql",
        "/usr/bin/initdb",
        "/bin/mkdir",
        "/bin/grep",
        "/usr/bin/env",
        "/bin/cat",
        "/usr/bin/basename",
        "/usr/bin/dirname",
        "/usr/bin/expr",
        "/usr/bin/whoami",
        "/usr/bin/supervisord",
        "/usr/bin/pg_ctl",
        "/usr/sbin/crond",
    ] {
        fs = fs.exe(exe);
    }
    fs.symlink(
        "/usr/local/bin/postgres",
        "/usr/lib/postgresql/17/bin/postgres",
    )
}

/// An invocation of the entrypoint with args, extra env and a user.
pub fn inv(args: &[&str], env: &[(&str, &str)], user: &User) -> Invocation {
    let mut i = Invocation::file(ENTRY, args);
    i.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    i.user = user.clone();
    i.volumes = vec!["/var/lib/postgresql/data".into()];
    i.shell = Dialect::Bash;
    let _ = Script::String {
        text: String::new(),
    };
    i
}

pub fn root() -> User {
    User::root()
}

pub fn as_user(uid: u32, name: &str) -> User {
    User {
        uid,
        gid: uid,
        name: Some(name.into()),
    }
}

/// Analyses `script` installed as the entrypoint of `fs`.
pub fn run_in(fs: MemFs, script: &str, inv: &Invocation) -> Analysis {
    let fs = fs.file(ENTRY, script, 0o755);
    analyze(inv, &fs, &Limits::default())
}

/// One row: several spellings of a script, the run, and the expected best candidate.
pub struct Row<'a> {
    pub scripts: &'a [&'a str],
    pub args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    pub user: User,
    pub argv: &'a [&'a str],
    pub run_as: &'a str,
    pub how: EndKind,
}

/// Checks every spelling of a row (`argv` may name the dropped command); returns the analyses for further checks.
pub fn check(row: &Row<'_>) -> Vec<Analysis> {
    check_in(image(), row)
}

pub fn check_in(fs: MemFs, row: &Row<'_>) -> Vec<Analysis> {
    let mut out = Vec::new();
    for (i, script) in row.scripts.iter().enumerate() {
        let a = run_in(fs.clone(), script, &inv(row.args, row.env, &row.user));
        let best = a.candidates.first().unwrap_or_else(|| {
            panic!(
                "spelling {i}: no candidate; diagnostics {:?}\n{script}",
                a.diagnostics
            )
        });
        let inner_matches = best.inner_argv.as_deref().is_some_and(|v| v == row.argv);
        assert!(
            best.argv == row.argv || inner_matches,
            "spelling {i}: argv {:?} (inner {:?}), want {:?}\n{script}\n{a:#?}",
            best.argv,
            best.inner_argv,
            row.argv
        );
        assert_eq!(
            best.user.display(),
            row.run_as,
            "spelling {i}: user\n{script}"
        );
        assert_eq!(best.how, row.how, "spelling {i}: how\n{script}");
        assert!(best.confidence > 0.0 && best.confidence <= 1.0);
        out.push(a);
    }
    out
}
