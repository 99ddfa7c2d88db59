//! The capability bounding set: `setpriv -d` prints it when the invocation gives it, so a
//! script that drops privileges only when it may (redis's `has_cap setuid && has_cap
//! setgid`) is decided; `setpriv --bounding-set` changes it for a second pass.

mod common;

use common::{image, inv, root, run_in};
use shellflow::{Analysis, Capabilities, Invocation};

/// The check redis's entrypoint makes, in several spellings.
const HAS_CAP: &[&str] = &[
    "has_cap() {\n\t/usr/bin/setpriv -d | grep -q 'Capability bounding set:.*\\b'\"$1\"'\\b'\n}\n",
    "has_cap() {\n\tsetpriv --dump | grep -qE \"^Capability bounding set:.*\\b$1\\b\"\n}\n",
    "has_cap() {\n\tlocal set\n\tset=\"$(setpriv -d | grep '^Capability bounding set:')\"\n\tcase \",${set#*: },\" in\n\t\t*\",$1,\"*) return 0 ;;\n\tesac\n\treturn 1\n}\n",
];

/// Drops to redis through a re-exec under setpriv when root may; the second pass keeps
/// `sys_resource` only if the first pass had it.
const BODY: &str = r#"
if [ "$(id -u)" = '0' ] && has_cap setuid && has_cap setgid; then
	KEEP=""
	if has_cap sys_resource; then KEEP=",+sys_resource"; fi
	exec setpriv --reuid redis --regid redis --clear-groups --bounding-set=-all$KEEP "$0" "$@"
fi
if [ "$(id -u)" != '0' ] && has_cap sys_resource; then
	exec "$@" --maxclients 100000
fi
exec "$@"
"#;

fn analyse(has_cap: &str, caps: Option<Capabilities>) -> Analysis {
    let mut i: Invocation = inv(&["redis-server"], &[], &root());
    i.capabilities = caps;
    run_in(image(), &format!("#!/bin/bash\n{has_cap}{BODY}"), &i)
}

fn best(a: &Analysis) -> (Vec<String>, String) {
    let c = a.candidates.first().expect("a candidate");
    (c.argv.clone(), c.user.display())
}

#[test]
fn the_default_set_lets_the_script_drop_privileges() {
    for (i, spelling) in HAS_CAP.iter().enumerate() {
        let a = analyse(spelling, Some(Capabilities::docker_default()));
        assert_eq!(
            best(&a),
            (vec!["redis-server".to_string()], "redis".to_string()),
            "spelling {i}: {:?}",
            a.candidates
        );
        assert_eq!(a.candidates.len(), 1, "spelling {i}: {:?}", a.candidates);
        let c = &a.candidates[0];
        assert!(
            c.assumptions
                .iter()
                .any(|s| s.contains("capability bounding set: Docker's default")),
            "spelling {i}: the assumed set is an assumption: {:?}",
            c.assumptions
        );
    }
}

#[test]
fn a_set_without_setuid_keeps_root() {
    let caps = Capabilities::from_names(&["CAP_CHOWN", "CAP_SETGID", "CAP_KILL"], None);
    for (i, spelling) in HAS_CAP.iter().enumerate() {
        let a = analyse(spelling, Some(caps.clone()));
        assert_eq!(
            best(&a),
            (vec!["redis-server".to_string()], "root".to_string()),
            "spelling {i}"
        );
        assert_eq!(a.candidates.len(), 1, "spelling {i}: {:?}", a.candidates);
        assert!(
            a.candidates[0]
                .assumptions
                .iter()
                .all(|s| !s.contains("capability")),
            "a set the runtime gives is no assumption: {:?}",
            a.candidates[0].assumptions
        );
    }
}

#[test]
fn bounding_set_changes_reach_the_second_pass() {
    // sys_resource kept through `--bounding-set=-all,+sys_resource`: the second pass sees it.
    let mut names: Vec<&str> = shellflow::DOCKER_DEFAULT_CAPS.to_vec();
    names.push("sys_resource");
    let a = analyse(HAS_CAP[0], Some(Capabilities::from_names(&names, None)));
    assert_eq!(
        best(&a),
        (
            vec![
                "redis-server".to_string(),
                "--maxclients".into(),
                "100000".into()
            ],
            "redis".to_string()
        )
    );
    // Without it in the first place, `+sys_resource` cannot add it.
    let a = analyse(HAS_CAP[0], Some(Capabilities::docker_default()));
    assert_eq!(best(&a).0, vec!["redis-server".to_string()]);
}

#[test]
fn an_unknown_set_leaves_both_outcomes() {
    let a = analyse(HAS_CAP[0], None);
    let users: Vec<String> = a.candidates.iter().map(|c| c.user.display()).collect();
    assert!(
        users.contains(&"redis".to_string()) && users.contains(&"root".to_string()),
        "{users:?}"
    );
}

#[test]
fn names_are_read_as_oci_configs_and_setpriv_write_them() {
    let c = Capabilities::from_names(&["CAP_SETUID", "cap_chown", "kill", "CAP_CHOWN", " "], None);
    assert_eq!(c.bounding, vec!["chown", "kill", "setuid"]);
    assert_eq!(Capabilities::docker_default().bounding.len(), 14);
}

/// Probes of `numactl` before prefixing the server with it (mongo's and arangodb's
/// spellings): the default seccomp profile refuses memory policies without CAP_SYS_NICE.
const NUMA_PROBES: &[&str] = &[
    "numa='numactl --interleave=all'\nif $numa true &> /dev/null; then\n\tset -- $numa \"$@\"\nfi\nexec \"$@\"\n",
    "NUMACTL=\"numactl --interleave=all\"\nif $NUMACTL echo > /dev/null 2>&1; then\n\techo \"using NUMA $NUMACTL\"\nelse\n\tNUMACTL=\"\"\nfi\nexec $NUMACTL \"$@\"\n",
    "if numactl -i all -- true >/dev/null 2>&1; then\n\texec numactl -i all -- \"$@\"\nfi\nexec \"$@\"\n",
];

fn numa(script: &str, caps: Option<Capabilities>) -> Analysis {
    let fs = image().exe("/usr/bin/numactl").exe("/usr/bin/mongod");
    let mut i: Invocation = inv(&["mongod"], &[], &root());
    i.capabilities = caps;
    run_in(fs, &format!("#!/bin/bash\n{script}"), &i)
}

#[test]
fn numactl_probes_fail_without_sys_nice_and_pass_with_it() {
    let with_nice = Capabilities::from_names(&["CAP_SETUID", "CAP_SYS_NICE"], None);
    for (i, probe) in NUMA_PROBES.iter().enumerate() {
        let a = numa(probe, Some(Capabilities::docker_default()));
        assert_eq!(
            best(&a).0,
            vec!["mongod".to_string()],
            "probe {i}, Docker's set: {:?}",
            a.candidates
        );
        assert_eq!(a.candidates.len(), 1, "probe {i}: {:?}", a.candidates);
        let c = &a.candidates[0];
        assert!(
            c.assumptions.iter().any(|s| s.starts_with("seccomp:"))
                && c.reasons.iter().any(|r| r.message.contains("CAP_SYS_NICE")),
            "probe {i}: the seccomp assumption and the failing probe are shown: {c:?}"
        );
        let a = numa(probe, Some(with_nice.clone()));
        let argv = best(&a).0;
        assert_eq!(
            argv[0], "numactl",
            "probe {i}, with SYS_NICE: {:?}",
            a.candidates
        );
        assert_eq!(argv.last().map(String::as_str), Some("mongod"), "probe {i}");
        assert_eq!(a.candidates.len(), 1, "probe {i}: {:?}", a.candidates);
    }
}

#[test]
fn an_unknown_set_leaves_the_numactl_probe_to_the_run() {
    for (i, probe) in NUMA_PROBES.iter().enumerate() {
        let a = numa(probe, None);
        let firsts: Vec<&str> = a.candidates.iter().map(|c| c.argv[0].as_str()).collect();
        assert!(
            firsts.contains(&"numactl") && firsts.contains(&"mongod"),
            "probe {i}: both outcomes stay candidates: {firsts:?}"
        );
        assert!(
            a.candidates
                .iter()
                .all(|c| c.assumptions.iter().all(|s| !s.starts_with("seccomp:"))),
            "probe {i}: no seccomp assumption when nothing was decided"
        );
    }
}

#[test]
fn numactl_without_a_memory_policy_is_not_decided_by_the_set() {
    let a = numa(
        "if numactl --cpunodebind=0 true; then exec numactl --cpunodebind=0 \"$@\"; fi\nexec \"$@\"\n",
        Some(Capabilities::docker_default()),
    );
    let firsts: Vec<&str> = a.candidates.iter().map(|c| c.argv[0].as_str()).collect();
    assert!(
        firsts.contains(&"numactl") && firsts.contains(&"mongod"),
        "CPU binding needs no capability: {firsts:?}"
    );
}
