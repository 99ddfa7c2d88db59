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
    let mut cands: Vec<(f64, Candidate)> = Vec::new();
    let mut silent = 0usize;
    let mut exits: Vec<(f64, f64, Exit)> = Vec::new();
    let all_weight: f64 = endings
        .iter()
        .map(|e| e.state.weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    for e in &endings {
        let mut produced = false;
        if let Some(t) = &e.terminal {
            cands.push((e.state.weight, candidate(inv, &e.state, t)));
            produced = true;
        }
        if e.terminal.as_ref().is_none_or(|t| t.how != EndKind::Exec) && !e.background.is_empty() {
            if e.background.len() > 1 {
                diagnostics.push(format!(
                    "supervisor shape: {} commands run in the background",
                    e.background.len()
                ));
            }
            for b in e.background.iter() {
                let t = Terminal {
                    cmd: b.clone(),
                    how: EndKind::Background,
                    inner_from: b.inner_from,
                };
                cands.push((e.state.weight, candidate(inv, &e.state, &t)));
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
    let merged = merge(cands);
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
    let reasons = st.reasons.to_vec();
    let status = match st.status {
        Status::Known(n) => Some(n),
        Status::Unknown(_) => None,
    };
    // The last step is the `exit` or the failing command under `set -e`, when there is one.
    let location = reasons
        .last()
        .filter(|r| r.message.starts_with("`exit`") || r.message.starts_with("set -e:"))
        .and_then(|r| r.location.clone());
    match exits
        .iter_mut()
        .find(|(_, _, x)| x.location == location && x.status == status)
    {
        Some((sum, best, x)) => {
            *sum += share;
            if share > *best {
                *best = share;
                x.reasons = reasons;
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
                reasons,
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
        .map(|b| {
            let t = Terminal {
                cmd: b.clone(),
                how: EndKind::Background,
                inner_from: b.inner_from,
            };
            candidate(inv, &e.state, &t)
        })
        .collect();
    out.extend(e.terminal.as_ref().map(|t| candidate(inv, &e.state, t)));
    let total: f64 = endings.iter().map(|e| e.state.weight).sum();
    let share = (e.state.weight / total.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
    for c in &mut out {
        c.confidence = share;
    }
    out
}

fn merge(cands: Vec<(f64, Candidate)>) -> Vec<(f64, Candidate)> {
    let mut out: Vec<(f64, f64, Candidate)> = Vec::new();
    for (w, c) in cands {
        match out
            .iter_mut()
            .find(|(_, _, o)| o.argv == c.argv && o.user == c.user && o.how == c.how)
        {
            Some((sum, best, o)) => {
                *sum += w;
                if w > *best {
                    *best = w;
                    *o = c;
                }
            }
            None => out.push((w, w, c)),
        }
    }
    out.into_iter().map(|(sum, _, c)| (sum, c)).collect()
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
    let mut reasons = st.reasons.to_vec();
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
        cwd: st.cwd.to_string(),
        confidence: 0.0,
        how: t.how,
        reasons,
        assumptions: st.assumptions.to_vec(),
    }
}
