//! Realistic entrypoint scripts in the style of official images (tests/corpus/*.sh): the
//! command, user and evidence shellflow finds for the usual runs.

mod common;

use common::{as_user, check_in, image, inv, root, Row};
use shellflow::{analyze, EndKind, Limits};

const POSTGRES: &str = include_str!("corpus/postgres-entrypoint.sh");
const REDIS: &str = include_str!("corpus/redis-entrypoint.sh");
const NGINX: &str = include_str!("corpus/nginx-entrypoint.sh");
const MYSQL: &str = include_str!("corpus/mysql-entrypoint.sh");
const SUPERVISOR: &str = include_str!("corpus/supervisor-start.sh");
const APACHE: &str = include_str!("corpus/apache-foreground.sh");

const PGDATA: (&str, &str) = ("PGDATA", "/var/lib/postgresql/data");

#[test]
fn postgres_entrypoint_runs_postgres_as_postgres_after_re_exec() {
    let rows = [
        (vec!["postgres"], vec![PGDATA], vec!["postgres"]),
        (
            vec!["postgres"],
            vec![PGDATA, ("POSTGRES_PASSWORD", "secret")],
            vec!["postgres"],
        ),
        (
            vec!["-c", "shared_buffers=256MB"],
            vec![PGDATA, ("POSTGRES_PASSWORD", "pw")],
            vec!["postgres", "-c", "shared_buffers=256MB"],
        ),
    ];
    for (args, env, want) in rows {
        let a = check_in(
            image(),
            &Row {
                scripts: &[POSTGRES],
                args: &args,
                env: &env,
                user: root(),
                argv: &want,
                run_as: "postgres",
                how: EndKind::Exec,
            },
        );
        let best = &a[0].candidates[0];
        let reasons: Vec<String> = best
            .reasons
            .iter()
            .map(|r| format!("{:?} {}", r.location.as_ref().map(|l| l.line), r.message))
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains("second pass")),
            "{reasons:#?}"
        );
        assert!(best.reasons.iter().any(|r| r
            .location
            .as_ref()
            .is_some_and(|l| l.file.ends_with("docker-entrypoint.sh") && l.line > 1)));
        assert!(
            best.confidence >= 0.5,
            "confidence {} {:#?}",
            best.confidence,
            a[0]
        );
        assert!(!a[0].capped, "{:?}", a[0].diagnostics);
    }
}

#[test]
fn postgres_entrypoint_with_a_password_is_certain_and_without_one_assumes_it_is_passed() {
    let with = check_in(
        image(),
        &Row {
            scripts: &[POSTGRES],
            args: &["postgres"],
            env: &[PGDATA, ("POSTGRES_PASSWORD", "pw")],
            user: root(),
            argv: &["postgres"],
            run_as: "postgres",
            how: EndKind::Exec,
        },
    );
    assert!(
        with[0].candidates[0].confidence > 0.9,
        "{}",
        with[0].candidates[0].confidence
    );
    let without = check_in(
        image(),
        &Row {
            scripts: &[POSTGRES],
            args: &["postgres"],
            env: &[PGDATA],
            user: root(),
            argv: &["postgres"],
            run_as: "postgres",
            how: EndKind::Exec,
        },
    );
    let assumptions = without[0].candidates[0].assumptions.join("\n");
    assert!(assumptions.contains("POSTGRES_PASSWORD"), "{assumptions}");
    assert!(
        without[0]
            .diagnostics
            .iter()
            .any(|d| d.contains("end without running")),
        "{:?}",
        without[0].diagnostics
    );
}

#[test]
fn postgres_entrypoint_runs_other_commands_as_the_invoking_user() {
    check_in(
        image(),
        &Row {
            scripts: &[POSTGRES],
            args: &["bash"],
            env: &[PGDATA],
            user: root(),
            argv: &["bash"],
            run_as: "root",
            how: EndKind::Exec,
        },
    );
    check_in(
        image(),
        &Row {
            scripts: &[POSTGRES],
            args: &["postgres"],
            env: &[PGDATA, ("POSTGRES_PASSWORD", "pw")],
            user: as_user(999, "postgres"),
            argv: &["postgres"],
            run_as: "postgres",
            how: EndKind::Exec,
        },
    );
}

#[test]
fn redis_entrypoint_prepends_the_server_and_drops_to_redis() {
    for args in [
        vec!["--appendonly", "yes"],
        vec!["redis-server", "--appendonly", "yes"],
    ] {
        check_in(
            image(),
            &Row {
                scripts: &[REDIS],
                args: &args,
                env: &[],
                user: root(),
                argv: &["redis-server", "--appendonly", "yes"],
                run_as: "redis",
                how: EndKind::Exec,
            },
        );
    }
    check_in(
        image(),
        &Row {
            scripts: &[REDIS],
            args: &["/etc/redis.conf"],
            env: &[],
            user: root(),
            argv: &["redis-server", "/etc/redis.conf"],
            run_as: "redis",
            how: EndKind::Exec,
        },
    );
}

#[test]
fn nginx_entrypoint_passes_its_arguments_through() {
    check_in(
        image().dir("/docker-entrypoint.d"),
        &Row {
            scripts: &[NGINX],
            args: &["nginx", "-g", "daemon off;"],
            env: &[],
            user: root(),
            argv: &["nginx", "-g", "daemon off;"],
            run_as: "root",
            how: EndKind::Exec,
        },
    );
}

#[test]
fn mysql_entrypoint_runs_mysqld_as_mysql() {
    let a = check_in(
        image(),
        &Row {
            scripts: &[MYSQL],
            args: &["mysqld"],
            env: &[("MYSQL_ROOT_PASSWORD", "pw")],
            user: root(),
            argv: &["mysqld"],
            run_as: "mysql",
            how: EndKind::Exec,
        },
    );
    assert!(a[0].candidates[0].confidence > 0.3, "{:#?}", a[0]);
}

#[test]
fn background_daemons_form_a_supervisor_shape() {
    let fs = image().file(common::ENTRY, SUPERVISOR, 0o755);
    let a = analyze(&inv(&[], &[], &root()), &fs, &Limits::default());
    let bg: Vec<Vec<String>> = a
        .candidates
        .iter()
        .filter(|c| c.how == EndKind::Background)
        .map(|c| c.argv.clone())
        .collect();
    assert_eq!(
        bg,
        vec![
            vec!["crond".to_string(), "-f".into()],
            vec![
                "php-fpm".into(),
                "--nodaemonize".into(),
                "--pool-workers".into(),
                "2".into()
            ]
        ]
    );
    assert!(
        a.diagnostics.iter().any(|d| d.contains("supervisor shape")),
        "{:?}",
        a.diagnostics
    );
}

#[test]
fn apache_foreground_sources_envvars_and_execs_apache() {
    let fs = image().file(
        "/etc/apache2/envvars",
        "export APACHE_RUN_USER=www-data\nexport APACHE_LOG_DIR=/var/log/apache2\n",
        0o644,
    );
    let a = check_in(
        fs,
        &Row {
            scripts: &[APACHE],
            args: &[],
            env: &[],
            user: root(),
            argv: &["apache2", "-DFOREGROUND"],
            run_as: "root",
            how: EndKind::Exec,
        },
    );
    let env = &a[0].candidates[0].env;
    assert!(
        env.contains(&("APACHE_RUN_USER".to_string(), "www-data".to_string())),
        "{env:?}"
    );
    assert!(a[0].candidates[0]
        .env_delta
        .iter()
        .any(|(k, _)| k == "APACHE_RUN_USER"));
}
