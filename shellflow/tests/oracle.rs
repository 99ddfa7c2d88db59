//! Differential oracle: each script is run for real under `bash` and `dash` in a throwaway
//! root with stub programs on PATH (droppers that record the user and exec the rest, an `id`
//! that reports the pretend user, servers that record their argv and exit 0), and shellflow's
//! best candidate must name the program, arguments and user that actually ran.
//!
//! Paths in the scripts are written `@R@/…` and point into the throwaway root; the in-memory
//! image mirrors the same absolute paths.

use std::path::Path;
use std::process::Command;

use shellflow::{analyze, Dialect, Invocation, Limits, MemFs, User};

/// Every analysis in this test binary runs in shellflow's arena, as in the shipped binary
/// (here in front of the system allocator).
#[global_allocator]
static ARENA: shellflow::arena::Arena<std::alloc::System> =
    shellflow::arena::Arena::new(std::alloc::System);

const PASSWD: &str = "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\nredis:x:998:998::/data:/bin/sh\n";

const DROPPER: &str = "#!/bin/sh\nPRETEND_USER=\"$1\"; export PRETEND_USER; shift\nexec \"$@\"\n";
const SETPRIV: &str = "#!/bin/sh\nfor a; do case \"$a\" in --reuid=*) PRETEND_USER=\"${a#--reuid=}\"; export PRETEND_USER; shift;; --*) shift;; *) break;; esac; done\nexec \"$@\"\n";
const ID: &str = "#!/bin/sh\nu=\"${PRETEND_USER:-root}\"\nline=$(grep \"^$u:\" \"$ROOT/etc/passwd\")\nuid=$(echo \"$line\" | cut -d: -f3)\ncase \"$1\" in -u) echo \"$uid\";; -un|-nu) echo \"$u\";; *) echo \"uid=$uid($u)\";; esac\n";
const WHOAMI: &str = "#!/bin/sh\necho \"${PRETEND_USER:-root}\"\n";
const SERVER: &str = "#!/bin/sh\n{ printf '%s\\n' \"${PRETEND_USER:-root}\" \"${0##*/}\"; for a; do printf '%s\\n' \"$a\"; done; } > \"$OUT\"\nexit 0\n";
const NOOP: &str = "#!/bin/sh\nexit 0\n";

/// A list file the image holds, read line by line by one of the cases.
const MODULES: &str = "# modules to load\nsearch  /opt/search.so\n\nbloom /opt/bloom.so extra\n";

/// (script, args, shells it runs under)
const CASES: &[(&str, &[&str], &[&str])] = &[
    ("#!/bin/sh\nset -e\nif [ \"${1#-}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nif [ \"$1\" = redis-server ] && [ \"$(id -u)\" = 0 ]; then\n  chown -R redis @R@/data\n  exec gosu redis \"$0\" \"$@\"\nfi\nexec \"$@\"\n", &["--port", "7000"], &["bash", "dash"]),
    ("#!/bin/sh\nset -e\nif [ \"${1#-}\" != \"$1\" ]; then set -- redis-server \"$@\"; fi\nexec \"$@\"\n", &["postgres", "-c", "x=1"], &["bash", "dash"]),
    ("#!/bin/bash\nset -Eeo pipefail\n_main() {\n  if [ \"${1:0:1}\" = '-' ]; then set -- postgres \"$@\"; fi\n  if [ \"$1\" = 'postgres' ] && [ \"$(id -u)\" = '0' ]; then\n    exec gosu postgres \"$BASH_SOURCE\" \"$@\"\n  fi\n  exec \"$@\"\n}\n_is_sourced() { [ \"${#FUNCNAME[@]}\" -ge 2 ] && [ \"${FUNCNAME[0]}\" = '_is_sourced' ] && [ \"${FUNCNAME[1]}\" = 'source' ]; }\nif ! _is_sourced; then _main \"$@\"; fi\n", &["-c", "shared_buffers=1GB"], &["bash"]),
    ("#!/bin/sh\nif [ \"$(id -u)\" = '0' ]; then exec su-exec postgres \"$0\" \"$@\"; fi\nif [ $# -eq 0 ]; then set -- postgres -D @R@/data; fi\nexec \"$@\"\n", &[], &["bash", "dash"]),
    ("#!/bin/sh\ncase \"$1\" in\n  server) shift; exec redis-server --appendonly yes \"$@\" ;;\n  *.conf) exec redis-server \"$@\" ;;\n  *) exec \"$@\" ;;\nesac\n", &["server", "--port", "1"], &["bash", "dash"]),
    ("#!/bin/sh\n: \"${PORT:=8080}\"\nMODE=${MODE:-prod}\nset -- redis-server --port \"$PORT\" --mode \"$MODE\"\nexec \"$@\"\n", &[], &["bash", "dash"]),
    ("#!/bin/bash\nargs=(redis-server)\nif [ -f @R@/etc/redis.conf ]; then args+=(@R@/etc/redis.conf); fi\nif [ -f @R@/etc/missing.conf ]; then args+=(--missing); fi\nargs+=(\"${@:2}\")\nexec \"${args[@]}\"\n", &["ignored", "--loglevel", "debug"], &["bash"]),
    // A flag is no command name, for `type` and for `command -v` with or without `--`.
    ("#!/bin/sh\nset --\nfor a in --help --version -x redis-server; do\n  if type \"$a\" >/dev/null 2>&1; then set -- \"$@\" \"t:$a\"; fi\n  if command -v -- \"$a\" >/dev/null 2>&1; then set -- \"$@\" \"c:$a\"; fi\n  if command -v \"$a\" >/dev/null 2>&1; then set -- \"$@\" \"v:$a\"; fi\ndone\nexec redis-server \"$@\"\n", &[], &["bash", "dash"]),
    // Slices of an array: one word per element left, none when nothing is left.
    ("#!/bin/bash\nargs=(\"$@\")\nrest=(\"${args[@]:1}\")\nnone=(\"${args[@]:9}\")\nexec redis-server \"${rest[@]}\" \"${none[@]}\" \"${args[@]:1:1}\" \"${#none[@]}\"\n", &["sub", "--port", "1"], &["bash"]),
    ("#!/bin/sh\nrun='gosu redis'\nif [ \"$(whoami)\" = root ]; then exec $run redis-server --from-var; fi\nexec redis-server --not-root\n", &[], &["bash", "dash"]),
    ("#!/bin/sh\nset -e\nstart() {\n  local_flag=\"--daemonize no\"\n  eval \"exec redis-server $local_flag \\\"\\$@\\\"\"\n}\nstart --port 6380\n", &[], &["bash", "dash"]),
    ("#!/bin/sh\nmkdir -p @R@/data/run\nredis-server --foreground\necho done\n", &[], &["bash", "dash"]),
    ("#!/bin/bash\nif [[ \"$*\" == *--help* ]]; then exec redis-server --help; fi\nif [ -x @R@/bin/postgres ]; then\n  exec setpriv --reuid=postgres --init-groups postgres \"$@\"\nfi\nexec redis-server\n", &["-p", "5433"], &["bash"]),
    ("#!/bin/sh\nset -e\nx=$(expr \"$1\" : '\\(--[a-z]*\\)')\nif [ -n \"$x\" ]; then set -- redis-server \"$@\"; fi\nshift 0\nexec \"$@\"\n", &["--save", "60"], &["bash", "dash"]),
    ("#!/bin/sh\nset --\nwhile read -r name path; do\n  case \"$name\" in ''|'#'*) continue ;; esac\n  set -- \"$@\" --loadmodule \"$path\"\ndone < @R@/etc/modules\nexec redis-server \"$@\"\n", &[], &["bash", "dash"]),
    ("#!/bin/sh\nset -- --port 1\nwhile IFS=: read -r key value; do\n  set -- \"$@\" \"--$key\" \"$value\"\ndone <<EOF\nsave:60 100\nappendonly:yes\nEOF\nprintf '%s\\n' a b | while read -r x; do set -- never; done\nexec redis-server \"$@\"\n", &[], &["bash", "dash"]),
    ("#!/bin/bash\nread -r first rest <<< \"postgres -D @R@/data\"\nIFS=, read -r a b c <<< 'x,y'\nexec \"$first\" $rest \"$a\" \"$b\" \"$c\"\n", &[], &["bash"]),
    // `umask` as the shells print it; a probe of a program that is nowhere fails (127).
    ("#!/bin/sh\numask 027\na=$(umask)\nb=$(umask -S)\nif entrytrace-no-such-tool --version >/dev/null 2>&1; then set -- --tool; fi\nexec redis-server \"$a\" \"$b\" \"$@\"\n", &[], &["bash", "dash"]),
    ("#!/bin/bash\numask 0027\nsaved=$(umask -p)\numask 0077\n$saved\nexec redis-server \"$saved\" \"$(umask)\"\n", &[], &["bash"]),
    // `which` as PATH finds programs, and fails for a missing one.
    ("#!/bin/sh\np=$(which redis-server)\nexec \"$p\" --via-which \"$(which entrytrace-no-such-tool || echo none)\" \"$(which ./bin/redis-server)\"\n", &[], &["bash", "dash"]),
    // The real `grep` over files of the root and over a pipe.
    ("#!/bin/sh\nset --\nif grep -q '^port' @R@/etc/redis.conf; then set -- --has-port; fi\nif grep -qE '^[[:space:]]*save\\b' @R@/etc/redis.conf; then set -- \"$@\" --has-save; fi\nn=$(grep -c . @R@/etc/modules)\nexec redis-server \"$@\" \"$n\" \"$(grep -v '^#' @R@/etc/modules | grep -w bloom)\" \"$(grep -i 'SEARCH  \\(/[a-z]*\\)' @R@/etc/modules)\"\n", &[], &["bash", "dash"]),
    // `printf` reuses its format while arguments remain, with widths, flags and escapes.
    ("#!/bin/sh\nset -- $(printf '%s-%s ' k v k2 v2 k3)\nexec redis-server \"$@\" \"$(printf '%5s|%-3s|%03d|%x|%c|%%' ab c 7 255 xyz)\" \"$(printf 'a\\tb\\101')\" \"$(printf '%s,' x y z)\"\n", &[], &["bash", "dash"]),
    // NUL-separated words read back from a process substitution; `printf -v` assigns.
    ("#!/bin/bash\nopts=()\nwhile IFS= read -r -d '' item; do opts+=( \"$item\" ); done < <(printf '%s\\0' --a 'b c')\nnone=()\nwhile IFS= read -r -d '' item; do none+=( \"$item\" ); done < <([[ $UNSET_OPTS ]] && printf '%s\\0' x)\nprintf -v joined '%s+' \"${opts[@]}\"\nexec redis-server \"${opts[@]}\" \"${#none[@]}\" \"$joined\"\n", &[], &["bash"]),
    // The real `sed`: substitutions over a pipe and over a file of the root.
    ("#!/bin/sh\nv=$(printf 'a.b\\n' | sed -e 's/\\./-/g')\nport=$(sed -n 's/^port *//p' @R@/etc/redis.conf)\nopts=$(sed -e 's/^ $//' <<EOF\n \nEOF\n)\nexec redis-server \"$v\" --port \"$port\" \"[$opts]\" \"$(echo x=1 | sed -E 's/([a-z])=([0-9])/\\2\\1/')\"\n", &[], &["bash", "dash"]),
    // The real `find` and `sort` over a directory of the root.
    ("#!/bin/sh\nset -e\nfiles=$(find @R@/init.d/ -maxdepth 1 -type f -name '*.sh' -print | sort -V)\nset -- $files\nif find @R@/init.d -mindepth 1 -type f -print -quit | read -r first; then set -- \"$@\" --nonempty; fi\nif find @R@/data -mindepth 1 -print -quit | read -r first; then set -- \"$@\" --data; fi\nn=$(find @R@/init.d -type f | sort -r | while read -r f; do echo \"${f##*/}\"; done)\nexec redis-server \"$@\" $n\n", &[], &["bash", "dash"]),
];

fn write_exe(path: &Path, body: &str) {
    std::fs::write(path, body).expect("write stub");
    let mut perm = std::fs::metadata(path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

/// Builds the throwaway root and the mirrored image.
fn build_root(root: &Path) -> MemFs {
    let r = root.display().to_string();
    let mut fs = MemFs::new().file("/etc/passwd", PASSWD, 0o644);
    std::fs::create_dir_all(root.join("bin")).expect("bin");
    std::fs::create_dir_all(root.join("etc")).expect("etc");
    std::fs::create_dir_all(root.join("data")).expect("data");
    std::fs::write(root.join("etc/passwd"), PASSWD).expect("passwd");
    std::fs::write(root.join("etc/redis.conf"), "port 1\n").expect("conf");
    std::fs::write(root.join("etc/modules"), MODULES).expect("modules");
    std::fs::create_dir_all(root.join("init.d")).expect("init.d");
    for name in ["10-a.sh", "9-b.sh", "README"] {
        std::fs::write(root.join("init.d").join(name), "").expect("init file");
        fs = fs.file(&format!("{r}/init.d/{name}"), "", 0o644);
    }
    fs = fs
        .file(&format!("{r}/etc/passwd"), PASSWD, 0o644)
        .file(&format!("{r}/etc/redis.conf"), "port 1\n", 0o644)
        .file(&format!("{r}/etc/modules"), MODULES, 0o644)
        .dir(&format!("{r}/data"));
    let stubs: &[(&str, &str)] = &[
        ("gosu", DROPPER),
        ("su-exec", DROPPER),
        ("setpriv", SETPRIV),
        ("id", ID),
        ("whoami", WHOAMI),
        ("redis-server", SERVER),
        ("postgres", SERVER),
        ("chown", NOOP),
        ("mkdir", NOOP),
    ];
    for (name, body) in stubs {
        write_exe(&root.join("bin").join(name), body);
        fs = fs.file(&format!("{r}/bin/{name}"), body, 0o755);
    }
    fs
}

/// Runs the script for real; returns (user, program, args) the server recorded.
fn run_real(shell: &str, root: &Path, script: &Path, args: &[&str]) -> Option<Vec<String>> {
    let out = root.join("out");
    let _ = std::fs::remove_file(&out);
    let path = format!("{}:/usr/bin:/bin", root.join("bin").display());
    let status = Command::new(shell)
        .arg(script)
        .args(args)
        .env_clear()
        .env("PATH", path)
        .env("OUT", &out)
        .env("ROOT", root)
        .current_dir(root)
        .status()
        .ok()?;
    assert!(
        status.success(),
        "{shell} {} failed: {status}",
        script.display()
    );
    let text = std::fs::read_to_string(&out).ok()?;
    Some(text.lines().map(str::to_string).collect())
}

fn predicted(fs: &MemFs, root: &Path, script: &Path, args: &[&str], shell: &str) -> Vec<String> {
    let mut inv = Invocation::file(&script.display().to_string(), args);
    inv.env = vec![
        (
            "PATH".into(),
            format!("{}:/usr/bin:/bin", root.join("bin").display()),
        ),
        ("OUT".into(), root.join("out").display().to_string()),
        ("ROOT".into(), root.display().to_string()),
    ];
    // The real run gets exactly this env (`env_clear`), as a container gets its bundle's.
    inv.env_complete = true;
    inv.cwd = root.display().to_string();
    inv.user = User::root();
    inv.shell = if shell == "bash" {
        Dialect::Bash
    } else {
        Dialect::Sh
    };
    let a = analyze(&inv, fs, &Limits::default());
    let best = a
        .candidates
        .first()
        .unwrap_or_else(|| panic!("no candidate: {:?}", a.diagnostics));
    let argv = best.inner_argv.clone().unwrap_or_else(|| best.argv.clone());
    let mut out = vec![best.user.display()];
    out.push(argv[0].rsplit('/').next().unwrap_or("").to_string());
    out.extend(argv[1..].iter().cloned());
    out
}

#[test]
fn shellflow_predicts_what_bash_and_dash_really_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let fs = build_root(root);
    let mut checked = 0;
    for (i, (script, args, shells)) in CASES.iter().enumerate() {
        let text = script.replace("@R@", &root.display().to_string());
        let path = root.join(format!("entry{i}.sh"));
        write_exe(&path, &text);
        let fs = fs.clone().file(&path.display().to_string(), &text, 0o755);
        for shell in *shells {
            if Command::new(shell).arg("-c").arg("true").status().is_err() {
                eprintln!("skipping {shell}: not installed");
                continue;
            }
            let real = run_real(shell, root, &path, args)
                .unwrap_or_else(|| panic!("case {i}: nothing recorded under {shell}"));
            let ours = predicted(&fs, root, &path, args, shell);
            assert_eq!(ours, real, "case {i} under {shell}:\n{text}");
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} runs checked");
}
