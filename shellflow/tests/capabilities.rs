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
