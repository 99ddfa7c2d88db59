//! Joining paths under pressure: when too many paths are alive, paths at the same point of
//! the script (same flow, arguments, user, call stack, options) are merged into one whose
//! differing variables become unknown ("differs between paths"). This is the join of
//! abstract interpretation; it trades precision on later tests for bounded work.
//!
//! Paths at different points (different positionals, user, or call depth) are never merged,
//! so the command words that decide the terminal stay exact whenever they can.

use std::hash::{BuildHasher, Hash, Hasher};

use crate::value::Val;

use super::state::{State, Var, VarMap, VarValue};
use super::{Flow, Paths};

/// Merges paths that are at the same point; keeps the order of first appearance.
///
/// Runs after every command while many paths are alive, so the common case (no two paths
/// at the same point) returns the paths untouched after hashing each once; there are at
/// most `max_paths` of them, so pairs are compared directly.
pub(crate) fn merge_paths(paths: Paths) -> Paths {
    let keys: Vec<u64> = paths
        .iter()
        .map(|(st, flow)| point_key(st, *flow))
        .collect();
    let clash = keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k));
    if !clash {
        return paths;
    }
    let mut out: Paths = Vec::with_capacity(paths.len());
    let mut out_keys: Vec<u64> = Vec::with_capacity(paths.len());
    for ((st, flow), key) in paths.into_iter().zip(keys) {
        let hit = out_keys
            .iter()
            .zip(out.iter())
            .position(|(k, (o, f))| *k == key && *f == flow && same_point(o, &st));
        match hit {
            Some(i) => join_into(&mut out[i].0, st),
            None => {
                out_keys.push(key);
                out.push((st, flow));
            }
        }
    }
    out
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
        && a.reexecs == b.reexecs
        && a.frames.len() == b.frames.len()
        && a.locals.len() == b.locals.len()
        && a.stdout == b.stdout
        && a.stdin == b.stdin
        && a.status == b.status
        && a.background.len() == b.background.len()
        && a.last_fg.as_ref().map(|r| &r.argv) == b.last_fg.as_ref().map(|r| &r.argv)
        && same_funcs(a, b)
}

/// Whether both paths define the same function names (O(1) when they share the table).
fn same_funcs(a: &State, b: &State) -> bool {
    std::rc::Rc::ptr_eq(&a.funcs, &b.funcs)
        || (a.funcs.len() == b.funcs.len() && a.funcs.keys().all(|k| b.funcs.contains_key(k)))
}

fn join_into(a: &mut State, b: State) {
    let heavier_b = b.weight > a.weight;
    a.weight += b.weight;
    join_alts(a, &b);
    join_vars(&mut a.vars, &b.vars);
    if !a.assumptions.same(&b.assumptions) {
        a.assumptions = a.assumptions.intersect(&b.assumptions);
    }
    if heavier_b {
        a.reasons = b.reasons;
    }
    if !a.created.ptr_eq(&b.created) {
        a.created = std::mem::take(&mut a.created).union(b.created);
    }
    if !a.unset.ptr_eq(&b.unset) {
        a.unset = std::mem::take(&mut a.unset).intersection(b.unset);
    }
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
        let merged = values_of(a, &name)
            .zip(values_of(b, &name))
            .map(|(mut x, y)| {
                for v in y {
                    if !x.contains(&v) {
                        x.push(v);
                    }
                }
                x
            });
        match merged.filter(|m| m.len() <= MAX_ALTS) {
            Some(m) => {
                a.alts.insert(name, std::rc::Rc::new(m));
            }
            None => {
                a.alts.remove(&name);
            }
        }
    }
}

/// The known values a path's variable may hold: its value set, or its one known scalar.
fn values_of(st: &State, name: &str) -> Option<Vec<String>> {
    if let Some(set) = st.alts.get(name) {
        return Some(set.to_vec());
    }
    match st.get(name).map(|v| &v.value) {
        Some(VarValue::Scalar(v)) => v.known().map(|k| vec![k]),
        Some(VarValue::Array(_)) => None,
        None => Some(vec![String::new()]),
    }
}

/// Variables that differ become unknown; walks only the parts of the two maps that are not
/// shared (`diff` skips common subtrees), so joining two forks of one path is cheap.
fn join_vars(a: &mut VarMap, b: &VarMap) {
    for (name, exported) in a.differing(b) {
        let var = Var {
            value: VarValue::Scalar(Val::unknown(
                format!("${name}"),
                "differs between paths that were merged",
            )),
            exported,
        };
        a.insert(&name, var);
    }
}
