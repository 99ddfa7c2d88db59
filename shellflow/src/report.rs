//! Turns finished paths into ranked [`Candidate`]s: merges paths that end in the same
//! command as the same user, weighs them, and keeps the evidence of the likeliest path.
//!
//! Confidence is the share of path weight (among paths that run something) times quality
//! factors: unknown words, no `exec`, and caps hit. It does not score the command itself
//! (that is the caller's job). Paths that run nothing are grouped by where they end into
//! [`Exit`]s, each with its share of the whole path weight.

use crate::api::{Analysis, Candidate, EndKind, Exit, Invocation, Reason};
use crate::interp::state::{Recorded, State, Status};
use crate::interp::{Ending, Terminal};
use crate::value::Val;

/// Builds the analysis from the interpreter's endings.
pub(crate) fn build(
    inv: &Invocation,
    endings: Vec<Ending>,
    mut diagnostics: Vec<String>,
    capped: bool,
    steps: usize,
) -> Analysis {
    let all_weight: f64 = endings
        .iter()
        .map(|e| e.state.weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    // Paths that end in the same command as the same user are one candidate: grouped by
    // those words first, and the candidate (env, evidence) built only for each group's
    // heaviest path. A script with many forks ends thousands of paths in a few commands.
    let mut groups: Vec<Group> = Vec::new();
    let mut silent = 0usize;
    let mut exits: Vec<(f64, f64, Exit)> = Vec::new();
    for (i, e) in endings.iter().enumerate() {
        let mut produced = false;
        if let Some(t) = &e.terminal {
            group(&mut groups, &e.state, &t.cmd, t.how, i, None);
            produced = true;
        }
        if e.terminal.as_ref().is_none_or(|t| t.how != EndKind::Exec) && !e.background.is_empty() {
            if e.background.len() > 1 {
                diagnostics.push(format!(
                    "supervisor shape: {} commands run in the background",
                    e.background.len()
                ));
            }
            for (j, b) in e.background.iter().enumerate() {
                group(&mut groups, &e.state, b, EndKind::Background, i, Some(j));
            }
            produced = true;
        }
        if !produced {
            silent += 1;
            add_exit(&mut exits, &e.state, e.state.weight / all_weight);
        }
    }
    if silent > 0 {
        diagnostics.push(format!(
            "{silent} path(s) end without running a command (exit or error)"
        ));
    }
    let services = services(inv, &endings);
    if !services.is_empty() {
        diagnostics.push(format!(
            "supervisor shape: the script keeps {} commands running",
            services.len()
        ));
    }
    let merged: Vec<(f64, Candidate)> = groups
        .into_iter()
        .filter_map(|g| {
            let e = &endings[g.ending];
            let c = match (g.background, &e.terminal) {
                (Some(j), _) => candidate(inv, &e.state, &in_background(&e.background[j])),
                (None, Some(t)) => candidate(inv, &e.state, t),
                // A group not of background commands came from a path's terminal.
                (None, None) => return None,
            };
            Some((g.weight, c))
        })
        .collect();
    let total: f64 = merged
        .iter()
        .map(|(w, _)| *w)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let mut out: Vec<Candidate> = merged
        .into_iter()
        .map(|(w, mut c)| {
            let mut q = 1.0;
            if c.unknown.iter().any(|u| *u) {
                q *= 0.6;
            }
            if c.how == EndKind::FellOffEnd {
                q *= 0.8;
            }
            if capped {
                q *= 0.7;
            }
            c.confidence = ((w / total) * q).clamp(0.0, 1.0);
            c
        })
        .collect();
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((a.how as u8).cmp(&(b.how as u8)))
    });
    diagnostics.dedup();
    let mut exits: Vec<Exit> = exits
        .into_iter()
        .map(|(share, _, mut x)| {
            x.share = share.clamp(0.0, 1.0);
            x
        })
        .collect();
    exits.sort_by(|a, b| b.share.total_cmp(&a.share));
    Analysis {
        candidates: out,
        diagnostics,
        capped,
        steps,
        services,
        exits,
    }
}

/// Adds a path that ran nothing to `exits` (share, heaviest share seen, exit), grouped by
/// where and with what status it ends; the heaviest path of a group gives its evidence.
fn add_exit(exits: &mut Vec<(f64, f64, Exit)>, st: &State, share: f64) {
    let status = match st.status {
        Status::Known(n) => Some(n),
        Status::Unknown(_) => None,
    };
    // The last step is the `exit` or the failing command under `set -e`, when there is one.
    let location = st
        .reasons
        .iter()
        .next()
        .filter(|r| r.message.starts_with("`exit`") || r.message.starts_with("set -e:"))
        .and_then(|r| r.location.clone());
    // The evidence is copied only from the heaviest path of each group.
    match exits
        .iter_mut()
        .find(|(_, _, x)| x.location == location && x.status == status)
    {
        Some((sum, best, x)) => {
            *sum += share;
            if share > *best {
                *best = share;
                x.reasons = evidence(st);
                x.assumptions = st.assumptions.to_vec();
            }
        }
        None => exits.push((
            share,
            share,
            Exit {
                share,
                status,
                location,
                reasons: evidence(st),
                assumptions: st.assumptions.to_vec(),
            },
        )),
    }
}

/// The services of the heaviest ending when it has the supervisor shape: two or more
/// background children, and the shell either waits for them or runs a foreground command.
fn services(inv: &Invocation, endings: &[Ending]) -> Vec<Candidate> {
    let Some(e) = endings
        .iter()
        .max_by(|a, b| a.state.weight.total_cmp(&b.state.weight))
    else {
        return Vec::new();
    };
    if e.background.len() < 2 || !(e.state.waited || e.terminal.is_some()) {
        return Vec::new();
    }
    let mut out: Vec<Candidate> = e
        .background
        .iter()
        .map(|b| candidate(inv, &e.state, &in_background(b)))
        .collect();
    out.extend(e.terminal.as_ref().map(|t| candidate(inv, &e.state, t)));
    let total: f64 = endings.iter().map(|e| e.state.weight).sum();
    let share = (e.state.weight / total.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
    for c in &mut out {
        c.confidence = share;
    }
    out
}

/// A command started with `&`, as a terminal of its path.
fn in_background(b: &Recorded) -> Terminal {
    Terminal {
        cmd: b.clone(),
        how: EndKind::Background,
        inner_from: b.inner_from,
    }
}

/// Paths that end in one command (same words, user and way of running it): their total
/// weight, and the one whose own run is likeliest, whose evidence the candidate shows.
struct Group {
    words: Vec<String>,
    user: crate::api::User,
    how: EndKind,
    weight: f64,
    /// Lead weight (see [`State::lead`]) of the path giving the evidence.
    best: f64,
    /// Index of that path's ending.
    ending: usize,
    /// Which of its background commands, when the group is of background commands.
    background: Option<usize>,
}

/// Adds one path's command to its group (kept in order of first appearance). The path
/// whose own run is likeliest (its lead weight, see [`State::lead`]) gives the evidence; on
/// equal weights the first path seen.
fn group(
    groups: &mut Vec<Group>,
    st: &State,
    cmd: &Recorded,
    how: EndKind,
    ending: usize,
    background: Option<usize>,
) {
    let (weight, lead) = (st.weight, st.lead_weight());
    // A command whose words hold a join's placeholder is not one command: the runs joined
    // into the path ran different words there (kibana's `${longopts}` after a loop over
    // 420 env variables). Their summed weight belongs to no single command, so the group
    // counts only its likeliest run; else hundreds of unlikely runs, widened together,
    // would outrank the run the image makes.
    let weight = if cmd.argv.iter().any(crate::interp::merge::holds_placeholder) {
        lead
    } else {
        weight
    };
    let words: Vec<String> = cmd.argv.iter().map(Val::to_string).collect();
    match groups
        .iter_mut()
        .find(|g| g.words == words && g.user == cmd.user && g.how == how)
    {
        Some(g) => {
            g.weight += weight;
            if lead > g.best {
                g.best = lead;
                g.ending = ending;
                g.background = background;
            }
        }
        None => groups.push(Group {
            words,
            user: cmd.user.clone(),
            how,
            weight,
            best: lead,
            ending,
            background,
        }),
    }
}

fn candidate(inv: &Invocation, st: &State, t: &Terminal) -> Candidate {
    let Recorded {
        argv,
        env_extra,
        location,
        user,
        ..
    } = &t.cmd;
    let words: Vec<String> = argv.iter().map(Val::to_string).collect();
    let unknown: Vec<bool> = argv.iter().map(Val::is_unknown).collect();
    let mut env = st.exported_env();
    for (k, v) in env_extra {
        env.retain(|(n, _)| n != k);
        env.push((k.clone(), v.to_string()));
    }
    env.sort();
    let env_delta = env
        .iter()
        .filter(|(k, v)| !inv.env.iter().any(|(ik, iv)| ik == k && iv == v))
        .cloned()
        .collect();
    let mut reasons = evidence(st);
    let how = match t.how {
        EndKind::Exec => "execs",
        EndKind::FellOffEnd => "runs in the foreground, then the script ends without exec:",
        EndKind::Background => "starts in the background:",
    };
    if t.how != EndKind::Exec {
        reasons.push(Reason {
            message: format!("{how} {}", words.join(" ")),
            location: location.clone(),
        });
    }
    Candidate {
        argv: words.clone(),
        unknown,
        inner_argv: t
            .inner_from
            .map(|i| words.get(i..).map(<[String]>::to_vec).unwrap_or_default()),
        user: user.clone(),
        env,
        env_delta,
        cwd: String::from(&*st.cwd),
        confidence: 0.0,
        how: t.how,
        reasons,
        assumptions: st.assumptions.to_vec(),
    }
}

/// A path's evidence, oldest first.
fn evidence(st: &State) -> Vec<Reason> {
    let mut v: Vec<Reason> = st.reasons.iter().map(|r| Reason::clone(r)).collect();
    v.reverse();
    v
}
