//! Deferred joins: paths that forked on run-time values and meet again run on as one, and
//! are split back before a command that reads a variable they disagree on. These check that
//! the split gives back each branch's own values, pairing and evidence, whichever way the
//! variable is read (directly, through `${!name}`, in a function, in `eval`'d text), and
//! that a variable set again after the join is no longer split on.

mod common;

use common::{image, inv, root, run_in};
use shellflow::Analysis;

fn analyze(script: &str) -> Analysis {
    run_in(image(), script, &inv(&[], &[], &root()))
}

/// The candidates' argv, heaviest first.
fn argvs(a: &Analysis) -> Vec<Vec<String>> {
    a.candidates.iter().map(|c| c.argv.clone()).collect()
}

/// `n` forks, each on its own unset env variable, setting `V_i` to `yes` or `no`; with
/// `echo`, each followed by a command that reads none of them.
fn yes_no_forks(n: usize, echo: bool) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "if [ -n \"$IN_{i}\" ]; then V_{i}=yes; else V_{i}=no; fi\n"
        ));
        if echo {
            s.push_str(&format!("echo {i}\n"));
        }
    }
    s
}

fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_variable_set_in_two_branches_gives_one_candidate_per_branch_with_its_assumption() {
    // The second `if` forks and joins again on a variable nobody reads: it must not
    // multiply the candidates, nor rerun the commands after it once per branch.
    let a = analyze(
        "if [ -z \"$MODE\" ]; then CMD=serve; else CMD=\"$MODE\"; fi\n\
         if [ -n \"$VERBOSE\" ]; then LOG=debug; fi\n\
         exec node \"$CMD\"",
    );
    let got = argvs(&a);
    assert_eq!(got.len(), 2, "{a:#?}");
    assert_eq!(got[0], v(&["node", "serve"]), "{a:#?}");
    assert!(a.candidates[1].unknown[1], "{a:#?}");
    let serve = &a.candidates[0];
    assert!(
        serve
            .assumptions
            .iter()
            .any(|x| x.contains("MODE") && x.contains("succeeds")),
        "{:?}",
        serve.assumptions
    );
    assert!(
        !serve
            .assumptions
            .iter()
            .any(|x| x.contains("fails") && x.contains("MODE")),
        "{:?}",
        serve.assumptions
    );
    assert!(serve.confidence > a.candidates[1].confidence, "{a:#?}");
    assert!(
        a.steps <= 12,
        "the join ran commands once per branch: {} steps",
        a.steps
    );
}

#[test]
fn variables_set_together_stay_paired_after_the_split() {
    for script in [
        "if [ -n \"$DEBUG\" ]; then CMD=debug; ARG=-v; else CMD=run; ARG=-q; fi\n\
         : unrelated\n\
         exec app \"$CMD\" \"$ARG\"",
        "case \"$PROFILE\" in dev) CMD=debug; ARG=-v ;; *) CMD=run; ARG=-q ;; esac\n\
         exec app \"$CMD\" \"$ARG\"",
    ] {
        let a = analyze(script);
        let mut got = argvs(&a);
        got.sort();
        assert_eq!(
            got,
            vec![v(&["app", "debug", "-v"]), v(&["app", "run", "-q"])],
            "{script}\n{a:#?}"
        );
    }
}

#[test]
fn reads_through_indirection_functions_and_eval_split_too() {
    for script in [
        "if [ -n \"$A\" ]; then V=one; else V=two; fi\nn=V\nexec app \"${!n}\"",
        "start() { exec app \"$V\"; }\nif [ -n \"$A\" ]; then V=one; else V=two; fi\nstart",
        "if [ -n \"$A\" ]; then V=one; else V=two; fi\neval 'exec app \"$V\"'",
        "if [ -n \"$A\" ]; then V=one; else V=two; fi\nfor w in \"$V\"; do exec app \"$w\"; done",
        "if [ -n \"$A\" ]; then V=one; else V=two; fi\ncase \"$V\" in one) exec app one ;; *) exec app two ;; esac",
    ] {
        let a = analyze(script);
        let mut got = argvs(&a);
        got.sort();
        assert_eq!(got, vec![v(&["app", "one"]), v(&["app", "two"])], "{script}\n{a:#?}");
    }
}

#[test]
fn a_variable_set_again_after_the_join_is_not_split_on() {
    let a = analyze(
        "if [ -n \"$A\" ]; then V=one; else V=two; fi\n\
         V=three\n\
         exec app \"$V\"",
    );
    assert_eq!(argvs(&a), vec![v(&["app", "three"])], "{a:#?}");
    assert!((a.candidates[0].confidence - 1.0).abs() < 1e-9, "{a:#?}");
}

#[test]
fn an_exported_variable_keeps_its_branch_value_in_the_candidate_env() {
    let a = analyze(
        "if [ -n \"$PROD\" ]; then export APP_MODE=prod; else export APP_MODE=dev; fi\n\
         exec node server.js",
    );
    let c = &a.candidates[0];
    let mode = c
        .env
        .iter()
        .find(|(k, _)| k == "APP_MODE")
        .map(|(_, v)| v.as_str());
    assert!(matches!(mode, Some("prod" | "dev")), "{c:#?}");
}

#[test]
fn many_independent_forks_stay_linear_in_steps() {
    // Twenty blocks that each fork on an unset variable and set one of their own: without
    // joins the paths would multiply; with them each command runs a bounded number of times.
    let mut s = String::new();
    for i in 0..20 {
        s.push_str(&format!(
            "if [ -n \"$IN_{i}\" ]; then OUT_{i}=a; else OUT_{i}=b; fi\necho \"step {i}\"\n"
        ));
    }
    s.push_str("exec app \"$OUT_19\"\n");
    let a = analyze(&s);
    let mut got = argvs(&a);
    got.sort();
    assert_eq!(got, vec![v(&["app", "a"]), v(&["app", "b"])], "{a:#?}");
    // 20 tests, 40 assignments and 20 echos: each runs once (84 steps; 187 when paths
    // are only joined once more than four are alive).
    assert!(a.steps <= 90, "{} steps for 81 commands", a.steps);
    assert!(!a.capped, "{:?}", a.diagnostics);
}

#[test]
fn past_the_member_cap_the_heaviest_path_stays_exact_and_the_others_widen_oldest_first() {
    let a = analyze(
        "if [ -n \"$IN_A\" ]; then A=1; else A=2; fi\n\
         if [ -n \"$IN_B\" ]; then B=1; else B=2; fi\n\
         if [ -n \"$IN_C\" ]; then C=1; else C=2; fi\n\
         if [ -s /data/PG_VERSION ]; then EXISTS=true; fi\n\
         if [ -z \"$EXISTS\" ]; then exec app init; else exec app \"$A\"; fi",
    );
    let argv: Vec<String> = a.candidates.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(argv[0], "app init", "{a:#?}");
    // The run the image makes (no IN_* set) is the heaviest member: A keeps its value.
    assert!(argv.iter().any(|w| w == "app 2"), "{argv:?}");
    // The lighter members were widened, A (the oldest fork) first: A's value set is all
    // that is left of them, and the `exec` forks on it again (one candidate per value).
    let widened = a
        .candidates
        .iter()
        .find(|c| c.reasons.iter().any(|r| r.message.contains("$A is one of")))
        .expect("a widened member");
    assert!(
        widened
            .assumptions
            .iter()
            .any(|x| x.contains("(one of 2 values)")),
        "{widened:#?}"
    );
    assert!(
        widened.confidence < a.candidates[1].confidence,
        "the widened members are the lighter ones: {argv:?}"
    );
    // The newest fork (EXISTS) is still exact everywhere.
    for c in &a.candidates {
        assert!(
            !c.reasons
                .iter()
                .any(|r| r.message.contains("EXISTS: differs")),
            "{c:#?}"
        );
    }
}

#[test]
fn an_exec_of_a_widened_variable_forks_on_its_values_and_splits_each_into_words() {
    // NUMACTL and AUTH fork first, then three more forks push them past the member cap:
    // they are widened to value sets. The `exec` still gives one candidate per value, with
    // `$NUMACTL` split into words and the `"$AUTH"` carried in `"$@"` filled in; a value
    // that is partly unknown (`--interleave=$NUMA`) is kept as such.
    let a = analyze(
        "NUMACTL=\"\"\n\
         if [ -d /sys/devices/system/node/node1 ]; then\n\
           if [ -z \"$NUMA\" ]; then NUMACTL=\"numactl --interleave=all\"; else NUMACTL=\"numactl --interleave=$NUMA\"; fi\n\
         fi\n\
         AUTH=true\n\
         if [ -n \"$NO_AUTH\" ]; then AUTH=false; fi\n\
         set -- server --auth=\"$AUTH\"\n\
         if [ -n \"$IN_B\" ]; then B=1; else B=2; fi\n\
         if [ -n \"$IN_C\" ]; then C=1; else C=2; fi\n\
         if [ -s /data/PG_VERSION ]; then EXISTS=true; fi\n\
         if [ -z \"$EXISTS\" ]; then echo init \"$B\" \"$C\"; fi\n\
         exec $NUMACTL \"$@\"",
    );
    let argv: Vec<String> = a.candidates.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(argv[0], "server --auth=true", "{argv:?}");
    for want in [
        "server --auth=false",
        "numactl --interleave=all server --auth=true",
        "numactl --interleave=all server --auth=false",
    ] {
        assert!(argv.iter().any(|w| w == want), "{want} missing: {argv:?}");
    }
    assert!(
        !argv.iter().any(|w| w.contains("differs between paths")),
        "a widened word reached a candidate: {argv:?}"
    );
    let numa = a
        .candidates
        .iter()
        .find(|c| c.argv[1].starts_with("--interleave=") && c.argv[1] != "--interleave=all")
        .expect("the --interleave=$NUMA value");
    assert!(numa.unknown[1], "{numa:#?}");
    assert!(
        numa.assumptions
            .iter()
            .any(|x| x.starts_with("$NUMACTL is") && x.contains("(one of 3 values)")),
        "{numa:#?}"
    );
}

#[test]
fn a_last_command_reading_a_widened_variable_splits_per_value_even_a_run_time_one() {
    // tomcat's `catalina.sh version`: `_RUNJAVA` is "$JRE_HOME"/bin/java, where JRE_HOME may
    // come from the run or default to JAVA_HOME. Widened past the member cap, the value set
    // keeps the run's unknown value beside the known one, and the script's last command (it
    // falls off the end) gets one candidate per value.
    let a = analyze(
        "JAVA_HOME=/opt/java/openjdk\n\
         if [ -z \"$JRE_HOME\" ]; then JRE_HOME=\"$JAVA_HOME\"; fi\n\
         if [ -z \"$_RUNJAVA\" ]; then _RUNJAVA=\"$JRE_HOME\"/bin/java; fi\n\
         if [ -n \"$IN_B\" ]; then B=1; else B=2; fi\n\
         if [ -n \"$IN_C\" ]; then C=1; else C=2; fi\n\
         if [ -s /data/PG_VERSION ]; then EXISTS=true; fi\n\
         if [ -z \"$EXISTS\" ]; then echo init \"$B\" \"$C\"; fi\n\
         \"$_RUNJAVA\" -classpath /x.jar ServerInfo",
    );
    let argv: Vec<String> = a.candidates.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(
        argv[0], "/opt/java/openjdk/bin/java -classpath /x.jar ServerInfo",
        "{argv:?}"
    );
    assert!(
        !argv.iter().any(|w| w.contains("differs between paths")),
        "a widened word reached a candidate: {argv:?}"
    );
    assert!(
        a.candidates.iter().any(|c| c.unknown[0]),
        "the run's own _RUNJAVA or JRE_HOME is kept as a candidate: {argv:?}"
    );
}

#[test]
fn splitting_a_command_on_many_widened_variables_is_bounded() {
    // Ten variables widened to two values each, all read by the exec: 1,024 combinations.
    // Each path the join left splits into at most 16 (four variables); the others stay
    // unknown words, and the path cap (64) holds.
    let mut s = String::new();
    for i in 0..10 {
        s.push_str(&format!(
            "if [ -n \"$IN_{i}\" ]; then V{i}=a{i}; else V{i}=b{i}; fi\n"
        ));
    }
    s.push_str("exec app");
    for i in 0..10 {
        s.push_str(&format!(" \"$V{i}\""));
    }
    let a = analyze(&s);
    assert!(!a.candidates.is_empty(), "{a:#?}");
    assert!(
        a.candidates.len() <= 64,
        "{} candidates",
        a.candidates.len()
    );
    let widened = |c: &&shellflow::Candidate| c.argv.iter().any(|w| w.contains("differs"));
    assert!(
        a.candidates.iter().any(|c| widened(&c)),
        "past the budget, words stay unknown"
    );
    assert!(a.steps < 1_000, "{} steps", a.steps);
}

/// Five independent defaults, then an exec (or an `eval exec`, as catalina.sh does) of all
/// of them: 32 runs meet, more than a join keeps apart, so most are widened. The run the
/// image makes (every variable left to its default) must stay exact and rank first,
/// although the widened runs together weigh more than it does.
#[test]
fn the_run_the_image_makes_stays_exact_when_many_defaults_join() {
    let defaults = "if [ -z \"$A\" ]; then A=node; fi\n\
                    if [ -z \"$B\" ]; then B=-b; fi\n\
                    if [ -z \"$C\" ]; then C=-c; fi\n\
                    if [ -z \"$D\" ]; then D=-d; fi\n\
                    if [ -z \"$E\" ]; then E=-e; fi\n";
    for exec in [
        "exec \"$A\" \"$B\" $C \"$D\" \"$E\" run",
        "eval exec \"\\\"$A\\\"\" \"\\\"$B\\\"\" $C \"$D\" \"$E\" run",
    ] {
        let a = analyze(&format!("{defaults}{exec}"));
        let best = &a.candidates[0];
        assert_eq!(
            best.argv,
            v(&["node", "-b", "-c", "-d", "-e", "run"]),
            "{exec}: {a:#?}"
        );
        assert!(best.unknown.iter().all(|u| !u), "{exec}: {best:#?}");
        assert!(
            a.candidates[1..]
                .iter()
                .all(|c| c.confidence < best.confidence),
            "{exec}: {a:#?}"
        );
    }
}

/// catalina.sh: `unset _NOHUP`, then an `if` that sets it on one branch. The two branches
/// differ in an `unset` mark only because one of them set the variable again; they must
/// still be joined like any other fork, not lossily (which widened every value the later
/// `exec` reads, the run the image makes included).
#[test]
fn a_variable_unset_then_set_on_one_branch_joins_without_widening() {
    let a = analyze(
        "unset _NOHUP\n\
         if [ \"$USE_NOHUP\" = true ]; then _NOHUP=nohup; fi\n\
         if [ -z \"$A\" ]; then A=node; fi\n\
         case \"$OS\" in\n\
         CYGWIN*) cygwin=true ;;\n\
         Darwin*) darwin=true ;;\n\
         OS400*) os400=true ;;\n\
         HP-UX*) hpux=true ;;\n\
         esac\n\
         if [ -z \"$B\" ]; then B=-b; fi\n\
         exec $_NOHUP \"$A\" \"$B\" run",
    );
    let best = &a.candidates[0];
    assert_eq!(best.argv, v(&["node", "-b", "run"]), "{a:#?}");
    assert!(best.unknown.iter().all(|u| !u), "{best:#?}");
    // Eight runs (`nohup` or not, `A` and `B` each defaulted or set): each keeps its words.
    assert_eq!(a.candidates.len(), 8, "{a:#?}");
    for c in &a.candidates {
        assert!(
            !c.argv.iter().any(|w| w.contains("differs between paths")),
            "{c:#?}"
        );
    }
}

/// kibana's loop: one test per setting name on the env variable of that name, appending
/// an option when it is set. Hundreds of unlikely runs, each setting one more variable, are
/// widened together; the run the image makes (no option added) must come first: the widened
/// runs ran different words, so their summed weight is no one command's.
#[test]
fn a_loop_over_many_env_variables_keeps_the_run_the_image_makes_first() {
    let names: Vec<String> = (0..60).map(|i| format!("opt.n{i}")).collect();
    let script = format!(
        "#!/bin/bash\n\
         kv=(\n{}\n)\n\
         longopts=''\n\
         for k in ${{kv[*]}}; do\n\
           env_var=$(echo ${{k^^}} | tr . _)\n\
           value=${{!env_var}}\n\
           if [[ -n $value ]]; then\n\
             longopt=\"--${{k}}=${{value}}\"\n\
             longopts+=\" ${{longopt}}\"\n\
           fi\n\
         done\n\
         exec node --a ${{longopts}} \"$@\"\n",
        names.join("\n")
    );
    let a = analyze(&script);
    let best = &a.candidates[0];
    assert_eq!(best.argv, v(&["node", "--a"]), "{a:#?}");
    assert!(
        a.candidates[1..]
            .iter()
            .all(|c| c.confidence < best.confidence),
        "{a:#?}"
    );
}

#[test]
fn paths_that_re_execute_the_script_share_one_second_pass() {
    // Three forks on unset variables, each exporting a value of its own, then a re-exec
    // under gosu: the four runs (after the joins) that re-execute differ only in what they
    // export, so the second pass starts them as one deferred path instead of running the
    // script once per run.
    let mut s = String::from(
        "if [ \"$(id -u)\" = '0' ]; then\n\
         \t[ -n \"$A\" ] && export A_SET=1\n\
         \t[ -n \"$B\" ] && export B_SET=1\n\
         \t[ -n \"$C\" ] && export C_SET=1\n\
         \texec gosu node \"$BASH_SOURCE\" \"$@\"\n\
         fi\n",
    );
    for i in 0..40 {
        s.push_str(&format!("echo \"line {i}\"\n"));
    }
    s.push_str("exec app \"${A_SET:-none}\"\n");
    let a = analyze(&s);
    let mut got: Vec<(Vec<String>, String)> = a
        .candidates
        .iter()
        .map(|c| (c.argv.clone(), c.user.display()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (v(&["app", "1"]), "node".to_string()),
            (v(&["app", "none"]), "node".to_string()),
        ],
        "{a:#?}"
    );
    // The second pass's 40 echos run once: 65 steps (364 when every run that re-executed
    // had a pass of its own).
    assert!(a.steps <= 80, "{} steps", a.steps);
}

#[test]
fn forks_on_unrelated_variables_nest_and_a_read_of_the_oldest_keeps_its_pairing() {
    // Four forks, each on its own env variable: each join nests over the one before instead
    // of rebuilding it. A `case` on the oldest variable then splits back through the newer
    // joins: every candidate pairs `M` with the `V_0` it was computed from.
    let mut s = yes_no_forks(4, true);
    s.push_str(
        "case \"$V_0\" in yes) M=a ;; *) M=b ;; esac\n\
         echo \"$V_2\"\n\
         exec app \"$V_0\" \"$V_3\" \"$M\"\n",
    );
    let a = analyze(&s);
    let got = argvs(&a);
    assert_eq!(got[0], v(&["app", "no", "no", "b"]), "{a:#?}");
    for c in &a.candidates {
        let paired = matches!(
            (c.argv[1].as_str(), c.argv[3].as_str()),
            ("yes", "a") | ("no", "b")
        );
        assert!(paired, "V_0 and M disagree: {:?}", c.argv);
        assert!(!c.unknown.iter().any(|u| *u), "{:?}", c.argv);
    }
}

#[test]
fn a_nested_join_given_up_keeps_the_values_its_variables_may_hold() {
    // Eight forks, each on its own env variable: past the bound on deferred variables the
    // oldest nested join is given up and `V_0` widened on every path, the likeliest run's
    // included; it keeps its two values, so the `case` on it still forks on them and never
    // falls through to `app-other`.
    let mut s = yes_no_forks(8, false);
    s.push_str(
        "case \"$V_0\" in yes) exec app-yes ;; no) exec app-no ;; esac\n\
         exec app-other\n",
    );
    let a = analyze(&s);
    let mut got = argvs(&a);
    got.sort();
    assert_eq!(got, vec![v(&["app-no"]), v(&["app-yes"])], "{a:#?}");
}
