//! Joining paths at the same point of the script (same flow, arguments, user, call stack,
//! options, status, output).
//!
//! The first kind of join is exact: the paths are kept as the members of one deferred path
//! ([`Deferred`]). The joined path runs on once, holding a placeholder for each variable the
//! members disagree on, and is split back into its members (each with its own values and
//! evidence, plus what the joined path did since) right before a command that may read one
//! of those variables, and where a path ends. A script that forks on twenty unrelated env
//! variables thus runs each later command once instead of once per combination, while the
//! candidates keep the values and assumptions of their own branches.
//!
//! Forks of one deferred path that differ only in variables it does not defer (the next
//! test on an unrelated env variable) make a join nested over it ([`nest`]): the earlier
//! join is kept as it is, not split and rebuilt with twice the members, so a script that
//! tests one env variable after another pays once per join. A command that reads a variable
//! of an older join, or may read any (`exec`), and the end of a path, join the chain again
//! as one before splitting it; past [`MAX_RUNS`] runs or [`MAX_NAMES`] variables, the
//! oldest nested join is given up (its variables widened on every path).
//!
//! A deferred path holds at most [`MAX_MEMBERS`] members (two independent two-way forks);
//! beyond, the heaviest member stays exact and in the others the variables deferred longest
//! are widened one by one: they become unknown ("differs between paths"), keeping the set
//! of known values for `case`. The likeliest run (most often the one the image makes, every
//! unset env variable left unset) thus keeps every value, and its candidate never shows a
//! widened word. The plain lossy join of abstract interpretation, where every differing
//! variable is widened, is left for members that differ in a variable the shell reads
//! implicitly (`PATH`, `IFS`…) or in an `unset` mark on a variable neither holds, and only
//! when many paths are alive.
//! Paths at different points (different positionals, user, or call depth) are never joined,
//! so the command words that decide the terminal stay exact whenever they can.

use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use crate::value::{Part, Val};

use super::state::{drop_alts, union_into, Deferred, State, Var, VarMap, VarValue, SET_AT_RUN};
use super::{Flow, Paths};

/// Most paths one deferred path holds; beyond, its oldest differing variables are widened.
const MAX_MEMBERS: usize = 4;

/// Most members a deferred path keeps when arrays (argvs being built) tell them apart: the
/// lightest beyond are dropped, since arrays are not widened.
const MAX_ARRAY_MEMBERS: usize = 8;

/// How many members widening leaves among the members it widens, once it has to happen.
/// With [`KEEP_EXACT`], measured on the 51 runs of the real-script scan (`realscan`): 1 and
/// 1 take 56.1k steps in all, 1 and 2 take 70.8k, 2 and 2 take 88.4k (more members alive
/// means more splits); widening every member down to 2, as before, took 57.5k but left
/// consul's and odoo's likeliest argv with a widened word.
const WIDEN_TO: usize = 1;

/// How many of the heaviest members widening leaves exact: the likeliest run keeps every
/// value (consul's `$CONSUL_BIND`, empty unless a run names an interface, stays empty on the
/// run the image makes), and the lighter ones are widened.
const KEEP_EXACT: usize = 1;

/// Variables the shell reads without naming them in the script's text: members that differ
/// in one of them are not deferred.
const IMPLICIT: &[&str] = &[
    "PATH",
    "IFS",
    "HOME",
    "CDPATH",
    "PWD",
    "OLDPWD",
    "OPTIND",
    "OPTARG",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PIPESTATUS",
    "BASH_REMATCH",
];

/// Joins paths that are at the same point, deferred where it can be, lossily when `lossy`
/// (else such paths stay apart); keeps the order of first appearance.
///
/// Runs after every command while several paths are alive, so the common case (no two paths
/// at the same point) returns the paths untouched after hashing each once; there are at
/// most `max_paths` of them, so pairs are compared directly.
pub(crate) fn merge_paths(paths: Paths, lossy: bool) -> (Paths, usize) {
    let keys: Vec<u64> = paths
        .iter()
        .map(|(st, flow)| point_key(st, *flow))
        .collect();
    let clash = keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k));
    if !clash {
        return (paths, 0);
    }
    let mut dropped = 0;
    let mut out: Paths = Vec::with_capacity(paths.len());
    let mut out_keys: Vec<u64> = Vec::with_capacity(paths.len());
    for ((st, flow), key) in paths.into_iter().zip(keys) {
        let hit = out_keys
            .iter()
            .zip(out.iter())
            .position(|(k, (o, f))| *k == key && *f == flow && same_point(o, &st));
        let st = match hit {
            Some(i) => match defer_into(&mut out[i].0, st, &mut dropped) {
                None => continue,
                Some(st) if lossy => {
                    join_into(&mut out[i].0, st);
                    continue;
                }
                Some(st) => st,
            },
            None => st,
        };
        out_keys.push(key);
        out.push((st, flow));
    }
    (out, dropped)
}

/// Joins `b` into `a` as members of one deferred path (see [`build`]); gives `b` back when
/// that cannot be done (a differing variable the shell reads implicitly, or an `unset` mark
/// on a variable neither path holds).
///
/// Forks of one deferred path that differ only in variables it does not defer (a test on an
/// env variable the join has nothing to do with) are joined as a new join nested over it
/// ([`nest`]): neither is split, so a script that forks on one env variable after another
/// pays for each join once, not for every member of every earlier one.
fn defer_into(a: &mut State, b: State, dropped: &mut usize) -> Option<State> {
    if a.unset != b.unset && !unset_differs_where_set(a, &b) {
        return Some(b);
    }
    let own = a.vars.differing_names(&b.vars);
    if own.iter().any(|n| IMPLICIT.contains(&&**n)) {
        return Some(b);
    }
    if let Some(common) = common_join(a, &b) {
        if !own.iter().any(|n| common.holds(n)) {
            let all: Vec<State> = open_to(a.clone(), &common)
                .into_iter()
                .chain(open_to(b, &common))
                .collect();
            *a = nest(all, dropped);
            return None;
        }
    }
    // Names already deferred, oldest first: they are the first widened (see `build`).
    let mut prior = chain_names(a);
    for n in chain_names(&b) {
        if !prior.contains(&n) {
            prior.push(n);
        }
    }
    let mut names = own;
    names.extend(prior.iter().cloned());
    if names.iter().any(|n| IMPLICIT.contains(&&**n)) {
        return Some(b);
    }
    if names.is_empty() {
        // Same variables: only the evidence differs, and the plain join keeps what both share.
        join_into(a, b);
        return None;
    }
    let all: Vec<State> = flatten(a.clone()).into_iter().chain(flatten(b)).collect();
    *a = build(all, &prior, dropped);
    None
}

/// Most runs the joins nested in one another stand for (the product of their members'
/// counts; see [`nest`]); beyond, the oldest join is given up. A command that may read any
/// variable, and the end of a path, split them all ([`split_all`]): this bounds that.
const MAX_RUNS: usize = 64;

/// The newest join both paths hold (the same `Rc`, somewhere in each one's chain), when
/// there is one.
fn common_join(a: &State, b: &State) -> Option<Rc<Deferred>> {
    let (x, y) = (a.deferred.as_ref()?, b.deferred.as_ref()?);
    if Rc::ptr_eq(x, y) {
        return Some(Rc::clone(x));
    }
    let theirs: Vec<&Rc<Deferred>> = y.chain().collect();
    x.chain()
        .find(|d| theirs.iter().any(|t| Rc::ptr_eq(d, t)))
        .cloned()
}

/// Splits the joins `st` holds above `common` (newer than it), so that each path returned
/// holds `common` itself.
fn open_to(st: State, common: &Rc<Deferred>) -> Vec<State> {
    match &st.deferred {
        Some(d) if !Rc::ptr_eq(d, common) => split(st)
            .into_iter()
            .flat_map(|s| open_to(s, common))
            .collect(),
        _ => vec![st],
    }
}

/// Splits a deferred path for a command that may read any variable (`exec`, whose
/// environment is the candidate's), or where it ends: one path per member. Nested joins are
/// first joined again as one ([`build`]), so that their members do not multiply past what
/// one join holds ([`MAX_MEMBERS`], beyond which the lighter ones are widened).
pub(crate) fn split_all(st: State) -> Vec<State> {
    let nested = st.deferred.as_ref().is_some_and(|d| d.inner().is_some());
    if !nested {
        return split(st);
    }
    split(rejoin(st))
}

/// The joins `st` holds, nested or not, joined again as one ([`build`]), the variables
/// deferred longest first to be widened.
fn rejoin(st: State) -> State {
    let prior = chain_names(&st);
    let mut dropped = 0;
    build(flatten(st), &prior, &mut dropped)
}

/// The names every join `st` holds defers, oldest first.
fn chain_names(st: &State) -> Vec<Rc<str>> {
    let mut prior: Vec<Rc<str>> = Vec::new();
    if let Some(d) = &st.deferred {
        let chain: Vec<&Rc<Deferred>> = d.chain().collect();
        for level in chain.into_iter().rev() {
            for (n, _) in &level.names {
                if !prior.contains(n) {
                    prior.push(Rc::clone(n));
                }
            }
        }
    }
    prior
}

/// Splits `st` through every join it holds: paths none of which is deferred.
fn flatten(st: State) -> Vec<State> {
    if st.deferred.is_none() {
        return vec![st];
    }
    split(st).into_iter().flat_map(flatten).collect()
}

/// Joins paths that all hold the same deferred join and differ only in variables it does
/// not defer: a join nested over it (see [`Deferred`]), built like any other ([`build`]).
/// Then the chain is bounded: past [`MAX_RUNS`] runs or [`MAX_NAMES`] variables in all, the
/// oldest join is given up ([`drop_oldest`]).
fn nest(all: Vec<State>, dropped: &mut usize) -> State {
    let mut st = build(all, &[], dropped);
    loop {
        let Some(d) = &st.deferred else {
            return st;
        };
        let (depth, runs, names) = d.chain().fold((0, 1, 0), |(k, r, n), level| {
            (k + 1, r * level.members.len(), n + level.names.len())
        });
        if depth == 1 || (runs <= MAX_RUNS && names <= MAX_NAMES) {
            return st;
        }
        drop_oldest(&mut st);
    }
}

/// Gives up the oldest join `st` holds: its variables are widened on every path of the
/// chain, the likeliest run's included (they keep the placeholder the join gave them, with
/// the set of values its members held, for `case`), as [`build`] widens the variables
/// deferred longest past [`MAX_NAMES`]. The joins above are rebuilt without it.
fn drop_oldest(st: &mut State) {
    let Some(top) = st.deferred.clone() else {
        return;
    };
    let Some(oldest) = top.chain().last().cloned() else {
        return;
    };
    let widened: Vec<Widened> = oldest
        .names
        .iter()
        .map(|(name, placeholder)| {
            let id = super::names::id_of(name);
            let mut values: Option<Vec<Val>> = Some(Vec::new());
            for m in &oldest.members {
                values = union_values(values, values_of_id(m, name, id));
            }
            (
                Rc::clone(name),
                id,
                placeholder.clone(),
                values.map(Rc::new),
            )
        })
        .collect();
    st.deferred = without(&top, &oldest, &widened);
    give_values(st, &widened);
}

/// A variable a dropped join widened: its name, its placeholder, its value set.
type Widened = (
    Rc<str>,
    Option<u32>,
    Option<Rc<Var>>,
    Option<super::state::ValueSet>,
);

/// The join `d` rebuilt without `oldest` (the last of its chain): `None` when it is that one.
fn without(d: &Rc<Deferred>, oldest: &Rc<Deferred>, widened: &[Widened]) -> Option<Rc<Deferred>> {
    if Rc::ptr_eq(d, oldest) {
        return None;
    }
    let inner = without(d.inner()?, oldest, widened);
    let members = d
        .members
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.deferred.clone_from(&inner);
            give_values(&mut m, widened);
            m
        })
        .collect();
    Some(Rc::new(Deferred::new(
        members,
        d.names.clone(),
        d.weight,
        d.reasons_len,
        d.assumptions_len,
    )))
}

/// Gives `st` the value sets of the widened variables it still holds the placeholder of.
fn give_values(st: &mut State, widened: &[Widened]) {
    for (name, id, placeholder, values) in widened {
        let held = match (id.and_then(|id| st.vars.get_id(id)), placeholder) {
            (Some(x), Some(y)) => Rc::ptr_eq(x, y),
            _ => false,
        };
        if held {
            match values {
                Some(v) => {
                    st.alts.insert(Rc::clone(name), Rc::clone(v));
                }
                None => drop_alts(&mut st.alts, name),
            }
        }
    }
}

/// Whether every name `unset` in one path and not the other is set in one of them (the
/// script's `unset _NOHUP` followed by an `if` that sets it on one branch): the variable then
/// differs between the paths and is deferred like any other, each member keeping its own
/// `unset` mark (see [`split`]). A name unset in one path and absent from both (unset
/// against "maybe set by the run") is a difference no placeholder carries: not deferred.
fn unset_differs_where_set(a: &State, b: &State) -> bool {
    let set_in_one = |n: &String| a.vars.get(n).is_some() || b.vars.get(n).is_some();
    a.unset
        .iter()
        .filter(|n| !b.unset.contains(n))
        .chain(b.unset.iter().filter(|n| !a.unset.contains(n)))
        .all(set_in_one)
}

/// One path for `all` (at one point of the script, at least one of them): members whose
/// variables agree are joined exactly; several distinct members make a deferred path. Beyond
/// [`MAX_MEMBERS`] the [`KEEP_EXACT`] heaviest members are kept as they are, and in the
/// others the variables that differ are widened one at a time, those deferred longest first
/// (`prior` lists them, oldest first; new ones come after), until they make at most
/// [`WIDEN_TO`] members: a widened variable becomes unknown ("differs between paths"), with
/// the set of known values it may hold for `case`. A fork the script just made is the
/// likeliest to be tested next, so it keeps its precision longest. Past [`FORGET_ABOVE`]
/// differing variables, what tests learned of env variables is forgotten; past
/// [`MAX_NAMES`], the variables deferred longest are widened in every member.
fn build(mut all: Vec<State>, prior: &[Rc<str>], dropped: &mut usize) -> State {
    // The variables that differ: against the first path only, then members are told apart
    // by those names alone.
    let mut names: Vec<Rc<str>> = Vec::with_capacity(8);
    for m in &all[1..] {
        for n in all[0].vars.differing_names(&m.vars) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    if names.len() > FORGET_ABOVE {
        forget_refinements(&mut all, &mut names);
    }
    // Arrays are widened last: they hold argvs being built (`args+=( … )`), and a widened
    // variable is one unknown word, where a widened scalar keeps its value set for `case`.
    // Which names are arrays is worked out once: widening below turns scalars into
    // placeholders and leaves arrays alone, so it does not change.
    let arrays: Vec<Rc<str>> = names
        .iter()
        .filter(|n| {
            super::names::id_of(n).is_some_and(|id| {
                all.iter().any(|m| {
                    matches!(
                        m.vars.get_id(id).map(|v| &v.value),
                        Some(VarValue::Array(_))
                    )
                })
            })
        })
        .cloned()
        .collect();
    let is_array = |n: &Rc<str>| arrays.iter().any(|a| Rc::ptr_eq(a, n) || a == n);
    names.sort_by_cached_key(|n| {
        (
            is_array(n),
            prior.iter().position(|p| p == n).unwrap_or(usize::MAX),
        )
    });
    if names.len() > MAX_NAMES {
        // Every member, the likeliest included, gives up the values deferred longest.
        let everyone: Vec<usize> = (0..all.len()).collect();
        let old: Vec<Rc<str>> = names[..names.len() - MAX_NAMES]
            .iter()
            .filter(|n| !is_array(n))
            .cloned()
            .collect();
        for n in &old {
            widen(&mut all, &everyone, n);
        }
        names.retain(|n| !old.contains(n));
    }
    // Each path's values of those names as small ids; widening the k oldest names leaves
    // the paths told apart by their ids from k on.
    let mut ids = value_ids(&all, &names);
    let distinct = |k: usize, only: &[usize]| {
        let mut seen: Vec<&[u32]> = Vec::with_capacity(only.len());
        for &i in only {
            if !seen.contains(&&ids[i][k..]) {
                seen.push(&ids[i][k..]);
            }
        }
        seen.len()
    };
    let everyone: Vec<usize> = (0..all.len()).collect();
    // Past MAX_MEMBERS, the heaviest KEEP_EXACT distinct members stay exact (the likeliest
    // runs keep every value, so the best candidate never shows a widened word), and the
    // others are widened among themselves, oldest names first, down to WIDEN_TO.
    let mut k = 0;
    let mut widened_members: Vec<usize> = Vec::new();
    if distinct(0, &everyone) > MAX_MEMBERS {
        let heavy = heaviest_distinct(&all, &ids, KEEP_EXACT);
        widened_members = everyone
            .iter()
            .copied()
            .filter(|i| !heavy.iter().any(|h| ids[*h] == ids[*i]))
            .collect();
        while k < names.len() && distinct(k, &widened_members) > WIDEN_TO {
            if is_array(&names[k]) {
                // Only arrays are left: they are not widened (see below).
                break;
            }
            k += 1;
        }
    }
    for n in &names[..k] {
        widen(&mut all, &widened_members, n);
    }
    // The widened members now agree on the first k names: give them one id there.
    for &i in &widened_members {
        ids[i][..k].fill(u32::MAX);
    }
    let mut members: Vec<State> = Vec::with_capacity(all.len());
    let mut member_ids: Vec<&[u32]> = Vec::with_capacity(all.len());
    for (m, id) in all.drain(..).zip(&ids) {
        match member_ids.iter().position(|x| *x == &id[..]) {
            Some(i) => join_evidence(&mut members[i], m),
            None => {
                member_ids.push(&id[..]);
                members.push(m);
            }
        }
    }
    if members.len() > MAX_ARRAY_MEMBERS {
        // Arrays that differ in more ways than a join holds: the likeliest argvs are kept
        // whole, the unlikeliest dropped (widening would make every one an unknown word).
        members.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        *dropped += members.len() - MAX_ARRAY_MEMBERS;
        members.truncate(MAX_ARRAY_MEMBERS);
    }
    if members.len() == 1 {
        return members.pop().expect("one member");
    }
    // The joined path is the likeliest member (by lead weight; the first on a tie) with the
    // members' total weight and created files. Its evidence is reported as the likeliest
    // run's when a nested join is given up before it splits (see `drop_oldest`); else each
    // member gets its own back.
    let base = (1..members.len()).fold(0, |best, i| {
        if members[i].lead_weight() > members[best].lead_weight() {
            i
        } else {
            best
        }
    });
    let mut rep = members[base].clone();
    let lead = members[base].lead_weight();
    for (_, m) in members.iter().enumerate().filter(|(i, _)| *i != base) {
        rep.weight += m.weight;
        union_into(&mut rep.created, &m.created);
        union_into(&mut rep.maybe_created, &m.maybe_created);
        rep.waited |= m.waited;
        // Members may differ in `unset` marks only on names they differ in (see
        // `unset_differs_where_set`); the joined path holds them all, and a split gives each
        // member its own back.
        rep.unset.union_with(&m.unset);
    }
    rep.pending = None;
    rep.set_lead_weight(lead);
    let names = names
        .into_iter()
        .map(|n| {
            let name = super::names::intern_rc(Rc::clone(&n));
            let id = name.id();
            let exported = members
                .iter()
                .any(|m| m.vars.get_id(id).is_some_and(|v| v.exported));
            let placeholder = Rc::new(differs(&n, exported));
            rep.vars.insert_name(name, Rc::clone(&placeholder));
            drop_alts(&mut rep.alts, &n);
            (n, Some(placeholder))
        })
        .collect();
    rep.deferred = Some(Rc::new(Deferred::new(
        members,
        names,
        rep.weight,
        rep.reasons.len(),
        rep.assumptions.len(),
    )));
    rep
}

/// Most variables a join keeps deferred: beyond, those deferred longest are widened in
/// every member, the likeliest run's included. Keeping the likeliest run exact while the
/// others are widened makes it differ from them in every variable they were widened in;
/// without a bound each later join and split costs as much as all of them (the long bench
/// script: 13.9 ms when the likeliest run was not kept exact, 26.6 ms with it kept and no
/// bound). The cost is not monotonic in the bound: callgrind gives the long bench 81.5 M
/// instructions an analysis with 8 and 88.2 M with 10, but the real-script scan takes
/// 125k steps (956 ms) with 8 against 75k (661 ms) with 10 (mariadb: 26k steps against
/// 9k), 74k (706 ms) with 12, 74k (807 ms) with 16 and 85k (681 ms) with 6; 4 lost a real
/// script's argv. Real scripts decide.
const MAX_NAMES: usize = 10;

/// How many differing variables a join carries before the env variables it differs in only
/// by what tests learned of them are forgotten (see [`forget_refinements`]).
const FORGET_ABOVE: usize = 24;

/// Forgets, in every member, what tests learned about env variables the image does not set
/// (`[ -n "$X" ]` makes `X` empty on one branch and "set at run time" on the other), where
/// that is all the members differ in for them: each such variable is again "not set in the
/// image", which stands for both (a later test on it forks again, the image's way first).
/// Without this, a loop testing hundreds of env variables (kibana's, over every setting
/// name) carries each of them as a differing variable of the join from then on, and every
/// later join costs as much as all of them; the likeliest run, kept exact, keeps its other
/// values (the options it builds). An empty value the script itself assigned is taken for
/// a test's too: the variable becomes "not set in the image", which still holds empty.
fn forget_refinements(all: &mut [State], names: &mut Vec<Rc<str>>) {
    let refined = |m: &State, n: &str| {
        !m.unset.contains(n)
            && match m.vars.get(n).map(|v| &v.value) {
                None => true,
                Some(VarValue::Scalar(v)) => {
                    v.is_known_empty()
                        || is_placeholder(v)
                        || matches!(v.0.as_slice(), [Part::Unknown { why, .. }] if why.starts_with(SET_AT_RUN))
                }
                Some(VarValue::Array(_)) => false,
            }
    };
    names.retain(|n| {
        let forget = !IMPLICIT.contains(&&**n)
            && super::expand::is_env_like(n)
            && all.iter().all(|m| refined(m, n));
        if forget {
            for m in all.iter_mut() {
                m.vars.remove(n);
                drop_alts(&mut m.alts, n);
            }
        }
        !forget
    });
}

/// The first path of each of the `n` groups of paths that agree on every name (`ids`) whose
/// likeliest run is likeliest, by lead weight (see [`State::lead`]), not by the group's
/// summed weight: a member that earlier joins widened stands for many unlikely runs, and
/// together they may outweigh the run the image makes, which must stay exact. Ties go to the
/// group seen first.
fn heaviest_distinct(all: &[State], ids: &[Vec<u32>], n: usize) -> Vec<usize> {
    let mut groups: Vec<(usize, f64)> = Vec::new();
    for (i, m) in all.iter().enumerate() {
        let lead = m.lead_weight();
        match groups.iter_mut().find(|(g, _)| ids[*g] == ids[i]) {
            Some((_, w)) => *w = w.max(lead),
            None => groups.push((i, lead)),
        }
    }
    // A stable sort: equal weights keep the order of first appearance.
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    groups.into_iter().take(n).map(|(i, _)| i).collect()
}

/// For each path, for each name, a small id of its value (equal values, equal ids).
fn value_ids(all: &[State], names: &[Rc<str>]) -> Vec<Vec<u32>> {
    let mut ids = vec![Vec::with_capacity(names.len()); all.len()];
    for n in names {
        let mut seen: Vec<Option<&Rc<Var>>> = Vec::new();
        // The name's id, looked up once for every path (a name no map holds is in none).
        let id = super::names::id_of(n);
        for (i, m) in all.iter().enumerate() {
            let v = id.and_then(|id| m.vars.get_id(id));
            let same = |s: &Option<&Rc<Var>>| match (s, v) {
                (Some(a), Some(b)) => Rc::ptr_eq(a, b) || a == &b,
                (a, b) => a.is_none() && b.is_none(),
            };
            let id = match seen.iter().position(same) {
                Some(id) => id,
                None => {
                    seen.push(v);
                    seen.len() - 1
                }
            };
            ids[i].push(u32::try_from(id).unwrap_or(u32::MAX));
        }
    }
    ids
}

/// Gives the members `only` the same unknown value for `name` (the lossy join of one
/// variable), with the set of known values they held, when small, for `case`.
fn widen(members: &mut [State], only: &[usize], name: &Rc<str>) {
    // Looked up once for every member.
    let interned = super::names::intern_rc(Rc::clone(name));
    let id = interned.id();
    let exported = only
        .iter()
        .any(|&i| members[i].vars.get_id(id).is_some_and(|v| v.exported));
    let placeholder = Rc::new(differs(name, exported));
    let mut values: Option<Vec<Val>> = Some(Vec::new());
    for &i in only {
        values = union_values(values, values_of_id(&members[i], name, Some(id)));
    }
    let values = values.map(Rc::new);
    for &i in only {
        let m = &mut members[i];
        m.vars.insert_name(interned, Rc::clone(&placeholder));
        match &values {
            Some(v) => {
                m.alts.insert(Rc::clone(name), Rc::clone(v));
            }
            None => {
                drop_alts(&mut m.alts, name);
            }
        }
    }
}

/// Splits a deferred path into groups of members that agree on `names`: one path per group,
/// still deferred where the group has several members. When none of `names` differs in
/// the newest join but only in one it nests over, the chain is first joined again as one.
pub(crate) fn split_on(st: State, names: &[Rc<str>]) -> Vec<State> {
    let prior: Vec<Rc<str>> = st
        .deferred
        .as_ref()
        .map(|d| d.names.iter().map(|(n, _)| Rc::clone(n)).collect())
        .unwrap_or_default();
    if !names.iter().any(|n| prior.contains(n)) {
        // Only older joins defer them: join the chain again as one, and split that.
        let flat = rejoin(st);
        let held = |d: &Rc<Deferred>| names.iter().any(|n| d.names.iter().any(|(m, _)| m == n));
        if !flat.deferred.as_ref().is_some_and(held) {
            // Widened by the join: nothing left to split on.
            return vec![flat];
        }
        return split_on(flat, names);
    }
    let mut groups: Vec<Vec<State>> = Vec::new();
    for m in split(st) {
        let same = |g: &Vec<State>| names.iter().all(|n| g[0].vars.get(n) == m.vars.get(n));
        match groups.iter().position(same) {
            Some(i) => groups[i].push(m),
            None => groups.push(vec![m]),
        }
    }
    // Groups of a join's members: never more than the join held, so none is dropped.
    let mut dropped = 0;
    groups
        .into_iter()
        .map(|g| build(g, &prior, &mut dropped))
        .collect()
}

/// Splits a deferred path back into its members, each with its own values of the differing
/// variables (unless the joined path has set them since), its own evidence followed by the
/// evidence gathered since the join, and its share of the joined path's weight.
pub(crate) fn split(mut rep: State) -> Vec<State> {
    let Some(d) = rep.deferred.take() else {
        return vec![rep];
    };
    let reasons = rep.reasons.since(d.reasons_len);
    let assumptions = rep.assumptions.since(d.assumptions_len);
    let scale = if d.weight > 0.0 {
        rep.weight / d.weight
    } else {
        1.0
    };
    // The names the joined path has not set since the join: each member gets its own value
    // of those back.
    let untouched: Vec<&Rc<str>> = d
        .names
        .iter()
        .filter(
            |(name, placeholder)| match (rep.vars.get_rc(name), placeholder) {
                (Some(x), Some(y)) => Rc::ptr_eq(x, y),
                (None, None) => true,
                _ => false,
            },
        )
        .map(|(name, _)| name)
        .collect();
    // Their interned names, looked up once for every member. A name with none is in no map:
    // no member holds a value of it to give back.
    let interned: Vec<super::names::Name> = untouched
        .iter()
        .filter_map(|name| super::names::lookup(name))
        .collect();
    d.members
        .iter()
        .map(|m| {
            let mut s = rep.clone();
            s.vars.restore(
                interned
                    .iter()
                    .map(|name| (*name, m.vars.get_id(name.id()).cloned())),
            );
            if !s.unset.ptr_eq(&m.unset) {
                for name in &untouched {
                    if m.unset.contains(name) {
                        s.unset.insert(name.to_string());
                    } else {
                        s.unset.forget(name);
                    }
                }
            }
            for name in &untouched {
                match m.alts.get(&***name) {
                    Some(a) => {
                        s.alts.insert(Rc::clone(name), Rc::clone(a));
                    }
                    None => {
                        drop_alts(&mut s.alts, name);
                    }
                }
            }
            s.deferred.clone_from(&m.deferred);
            s.weight = m.weight * scale;
            s.lead = m.lead;
            s.reasons = m.reasons.clone();
            for r in &reasons {
                s.reasons.push(r.clone());
            }
            s.assumptions = m.assumptions.clone();
            for a in &assumptions {
                s.assumptions.push(a.clone());
            }
            s
        })
        .collect()
}

/// Whether a loop has reached a fixed point: the paths starting an iteration are those that
/// started the one before (same point, same variables but `except`, the loop variable,
/// and nothing deferred that differs), so further iterations repeat what was seen.
pub(crate) fn converged(prev: &[State], next: &[State], except: Option<&str>) -> bool {
    prev.len() == next.len()
        && prev.iter().zip(next).all(|(a, b)| {
            same_point(a, b)
                && a.unset == b.unset
                && same_vars(&a.vars, &b.vars, except)
                && match (&a.deferred, &b.deferred) {
                    (None, None) => true,
                    (Some(x), Some(y)) => Rc::ptr_eq(x, y) || same_members(x, y, except),
                    _ => false,
                }
        })
}

/// Widening for a loop that forks every time round without repeating itself (a retry loop
/// counting down `tries`): in each path, the variables that changed since the path started
/// the previous iteration become unknown ("changes from one iteration to the next"), so the
/// next iterations repeat. Paths are matched by position; `false` when nothing was widened.
pub(crate) fn widen_changing(prev: &[State], live: &mut [State], at: &str) -> bool {
    if prev.len() != live.len() {
        return false;
    }
    let mut widened = false;
    for (p, s) in prev.iter().zip(live.iter_mut()) {
        if !same_point(p, s) {
            continue;
        }
        for name in p.vars.differing_names(&s.vars) {
            if IMPLICIT.contains(&&*name) {
                continue;
            }
            let exported = s.vars.get(&name).is_some_and(|v| v.exported);
            let why = "changes from one loop iteration to the next";
            s.vars.insert(
                &name,
                Var {
                    value: VarValue::Scalar(Val::unknown(format!("${name}"), why)),
                    exported,
                },
            );
            drop_alts(&mut s.alts, &name);
            s.reason(format!("{at}: `{name}` {why}: taken as unknown"), None);
            widened = true;
        }
    }
    widened
}

/// Whether two maps hold the same variables, but maybe `except`.
fn same_vars(a: &VarMap, b: &VarMap, except: Option<&str>) -> bool {
    a.differing_names(b).iter().all(|n| Some(&**n) == except)
}

/// Whether two deferred joins (rebuilt at every join) hold the same members, and nest over
/// the same joins.
fn same_members(x: &Deferred, y: &Deferred, except: Option<&str>) -> bool {
    x.members.len() == y.members.len()
        && x.names.len() == y.names.len()
        && x.names.iter().zip(&y.names).all(|(m, n)| m.0 == n.0)
        && x.members
            .iter()
            .zip(&y.members)
            .all(|(m, n)| same_point(m, n) && same_vars(&m.vars, &n.vars, except))
        && match (x.inner(), y.inner()) {
            (None, None) => true,
            (Some(i), Some(j)) => Rc::ptr_eq(i, j) || same_members(i, j, except),
            _ => false,
        }
}

/// A hash of what must be equal for two paths to merge (cheap pre-filter).
fn point_key(st: &State, flow: Flow) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    st.positionals.hash(&mut h);
    (
        st.user.uid,
        st.calls,
        st.depth,
        st.subshell,
        st.cond_depth,
        st.errexit,
        st.reexecs,
    )
        .hash(&mut h);
    (
        st.frames.len(),
        st.locals.len(),
        st.background.len(),
        st.funcs.len(),
    )
        .hash(&mut h);
    st.file.hash(&mut h);
    std::mem::discriminant(&flow).hash(&mut h);
    h.finish()
}

fn same_point(a: &State, b: &State) -> bool {
    a.positionals == b.positionals
        && a.user == b.user
        && a.cwd == b.cwd
        && a.file == b.file
        && a.calls == b.calls
        && a.depth == b.depth
        && a.subshell == b.subshell
        && a.cond_depth == b.cond_depth
        && a.errexit == b.errexit
        && a.umask == b.umask
        && a.reexecs == b.reexecs
        && a.caps == b.caps
        && a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(b.frames.iter())
            .all(|(x, y)| x.name == y.name && x.file == y.file)
        && a.locals == b.locals
        && a.stdout == b.stdout
        && a.stdin == b.stdin
        && a.status == b.status
        && a.background.len() == b.background.len()
        && a.background
            .iter()
            .zip(b.background.iter())
            .all(|(x, y)| x.argv == y.argv && x.user == y.user)
        && a.last_fg.as_ref().map(|r| &r.argv) == b.last_fg.as_ref().map(|r| &r.argv)
        && same_funcs(a, b)
}

/// Whether both paths define the same function names (O(1) when they share the table).
fn same_funcs(a: &State, b: &State) -> bool {
    std::rc::Rc::ptr_eq(&a.funcs, &b.funcs)
        || (a.funcs.len() == b.funcs.len() && a.funcs.keys().all(|k| b.funcs.contains_key(k)))
}

fn join_into(a: &mut State, b: State) {
    join_alts(a, &b);
    join_vars(&mut a.vars, &b.vars);
    join_evidence(a, b);
}

/// Joins what is not variables: weight, assumptions (those both rest on), reasons (the
/// heavier path's), created files, `unset` names.
fn join_evidence(a: &mut State, b: State) {
    let b = b.into_inner();
    let (lead_a, lead_b) = (a.lead_weight(), b.lead_weight());
    let heavier_b = lead_b > lead_a;
    a.weight += b.weight;
    a.set_lead_weight(lead_a.max(lead_b));
    if !a.assumptions.same(&b.assumptions) {
        a.assumptions = a.assumptions.intersect(&b.assumptions);
    }
    if heavier_b {
        a.reasons = b.reasons;
    }
    union_into(&mut a.created, &b.created);
    union_into(&mut a.maybe_created, &b.maybe_created);
    a.unset.intersect_with(b.unset);
    a.pending = None;
    a.waited |= b.waited;
}

/// Most values a variable's value set holds; beyond, the variable is just unknown.
const MAX_ALTS: usize = 8;

/// For each scalar that differs, the union of the known values both sides may hold (their
/// own value sets, or their known values); absent when either side is not known.
fn join_alts(a: &mut State, b: &State) {
    let names: Vec<(String, bool)> = a.vars.differing(&b.vars);
    for (name, _) in names {
        match union_values(values_of(a, &name), values_of(b, &name)) {
            Some(m) => {
                a.alts.insert(Rc::from(name), std::rc::Rc::new(m));
            }
            None => {
                drop_alts(&mut a.alts, &name);
            }
        }
    }
}

/// The values a path's variable may hold: its value set, or its one scalar, known or not
/// (`numactl --interleave=$NUMA`, or `$JRE_HOME` as the run may set it, are values worth
/// keeping beside the known ones), unless it is itself what an earlier lossy join left.
fn values_of(st: &State, name: &str) -> Option<Vec<Val>> {
    values_of_id(st, name, super::names::id_of(name))
}

/// [`values_of`], the name's id ([`super::names::id_of`]) looked up once for many paths.
fn values_of_id(st: &State, name: &str, id: Option<u32>) -> Option<Vec<Val>> {
    if let Some(set) = st.alts.get(name) {
        return Some(set.to_vec());
    }
    match id.and_then(|id| st.vars.get_id(id)).map(|v| &v.value) {
        Some(VarValue::Scalar(v)) => (!is_placeholder(v)).then(|| vec![v.clone()]),
        Some(VarValue::Array(_)) => None,
        None => Some(vec![Val::default()]),
    }
}

/// Why a variable whose paths disagree is unknown after a join.
const DIFFERS: &str = "differs between paths that were merged";

/// Whether `p` is a join's placeholder (see [`differs`]).
fn is_differs(p: &Part) -> bool {
    matches!(p, Part::Unknown { why, .. } if &**why == DIFFERS)
}

/// Whether `v` is a join's placeholder and nothing else.
fn is_placeholder(v: &Val) -> bool {
    matches!(v.0.as_slice(), [p] if is_differs(p))
}

/// Whether `v` holds a join's placeholder anywhere (`-Dbase=<$BASE: differs …>`): a word
/// that stands for different words on the runs that were joined.
pub(crate) fn holds_placeholder(v: &Val) -> bool {
    v.0.iter().any(is_differs)
}

/// Variables that differ become unknown; walks only the parts of the two maps that are not
/// shared (`diff` skips common subtrees), so joining two forks of one path is cheap.
fn join_vars(a: &mut VarMap, b: &VarMap) {
    for (name, exported) in a.differing(b) {
        a.insert(&name, differs(&name, exported));
    }
}

/// The value a joined variable gets where its paths disagree.
fn differs(name: &str, exported: bool) -> Var {
    Var {
        value: VarValue::Scalar(Val::unknown(super::concat(&["$", name]), DIFFERS)),
        exported,
    }
}

/// The union of two value sets (absent when either is), absent past [`MAX_ALTS`] or when no
/// value has a known part: a set of values all wholly unknown tells nothing, and keeping it
/// on every path cost the long bench about 12 % (callgrind, `analyze_here`).
fn union_values(a: Option<Vec<Val>>, b: Option<Vec<Val>>) -> Option<Vec<Val>> {
    let (mut x, y) = a.zip(b)?;
    for v in y {
        if !x.contains(&v) {
            x.push(v);
        }
    }
    let known = |v: &Val| v.is_known_empty() || v.0.iter().any(|p| matches!(p, Part::Lit(_)));
    (x.len() <= MAX_ALTS && x.iter().any(known)).then_some(x)
}
