//! Background jobs (`&`): a script that keeps several long-lived children running is a
//! supervisor shape, reported in `Analysis::services`; one that starts a single helper, or
//! exits without waiting, is not.

use shellflow::{analyze, Invocation, Limits, MemFs};

/// Every analysis in this test binary runs in shellflow's arena, as in the shipped binary
/// (here in front of the system allocator).
#[global_allocator]
static ARENA: shellflow::arena::Arena<std::alloc::System> =
    shellflow::arena::Arena::new(std::alloc::System);

fn services(script: &str) -> Vec<Vec<String>> {
    let fs = MemFs::new()
        .file(
            "/etc/passwd",
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
            0o644,
        )
        .file("/start.sh", script, 0o755)
        .exe("/usr/local/bin/gosu")
        .exe("/usr/sbin/crond")
        .exe("/usr/sbin/php-fpm")
        .exe("/usr/sbin/nginx")
        .exe("/usr/local/bin/worker");
    let a = analyze(&Invocation::file("/start.sh", &[]), &fs, &Limits::default());
    for s in &a.services {
        assert!(s.reasons.iter().any(|r| r.location.is_some()), "{s:?}");
        assert!((0.0..=1.0).contains(&s.confidence), "{s:?}");
    }
    a.services.iter().map(|s| s.argv.clone()).collect()
}

#[test]
fn several_background_children_then_wait_or_a_foreground_command_are_services() {
    let v = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: &[(&str, Vec<Vec<String>>)] = &[
        (
            "#!/bin/sh\ncrond -f &\nphp-fpm -F &\nwait -n\nexit $?\n",
            vec![v(&["crond", "-f"]), v(&["php-fpm", "-F"])],
        ),
        (
            "#!/bin/bash\nset -e\nfor d in crond php-fpm; do \"$d\" -f & done\nwait\n",
            vec![v(&["crond", "-f"]), v(&["php-fpm", "-f"])],
        ),
        (
            "#!/bin/sh\ncrond -f &\nphp-fpm -F &\nexec nginx -g 'daemon off;'\n",
            vec![
                v(&["crond", "-f"]),
                v(&["php-fpm", "-F"]),
                v(&["nginx", "-g", "daemon off;"]),
            ],
        ),
        (
            "#!/bin/sh\ngosu www worker --queue a &\ngosu www worker --queue b &\nnginx -g 'daemon off;'\n",
            vec![
                v(&["gosu", "www", "worker", "--queue", "a"]),
                v(&["gosu", "www", "worker", "--queue", "b"]),
                v(&["nginx", "-g", "daemon off;"]),
            ],
        ),
        // One helper in the background, then the server: the usual shape, not a supervisor.
        ("#!/bin/sh\ncrond &\nexec nginx\n", vec![]),
        // Started, then the shell exits: the children die with the container.
        ("#!/bin/sh\ncrond -f &\nphp-fpm -F &\nexit 0\n", vec![]),
        // No background at all.
        ("#!/bin/sh\nwait\nexec nginx\n", vec![]),
    ];
    for (script, want) in cases {
        assert_eq!(&services(script), want, "{script}");
    }
}

#[test]
fn a_service_runs_as_the_user_its_dropper_names() {
    let fs = MemFs::new()
        .file(
            "/etc/passwd",
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
            0o644,
        )
        .file(
            "/start.sh",
            "#!/bin/sh\ngosu www worker a &\ncrond -f &\nwait\n",
            0o755,
        )
        .exe("/usr/local/bin/gosu")
        .exe("/usr/sbin/crond")
        .exe("/usr/local/bin/worker");
    let a = analyze(&Invocation::file("/start.sh", &[]), &fs, &Limits::default());
    let users: Vec<String> = a.services.iter().map(|s| s.user.display()).collect();
    assert_eq!(users, ["www", "root"], "{:?}", a.services);
    assert!(
        a.diagnostics.iter().any(|d| d.contains("supervisor shape")),
        "{:?}",
        a.diagnostics
    );
}
