//! The state of one path through a script: variables, positionals, functions, options,
//! identity, and the evidence gathered so far.
//!
//! A path forks by cloning its state, so everything that grows with the script is persistent
//! and shared between forks: variables are a trie indexed by name id and created files an
//! `imbl` B-tree (a change copies one root-to-leaf path, not the map), evidence is a
//! [`PList`], functions are reference-counted. What stays plain data is small. Nothing here evaluates shell code.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::names::{self, Name};
use super::plist::{OnceList, PList};

use crate::api::{Location, Reason, User};
use crate::parse::ast;
use crate::value::Val;

/// Value of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    /// A string.
    Scalar(Val),
    /// An indexed array (sparse indices are compacted).
    Array(Vec<Val>),
}

/// A shell variable. `Eq`, so that comparing two `Rc<Var>` (a diff of two maps does, for
/// every entry of the nodes they do not share) checks the address before the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// Its value.
    pub value: VarValue,
    /// Whether it is exported to commands.
    pub exported: bool,
}

impl Var {
    /// The scalar view borrowed: `None` for an empty array (whose scalar view is empty).
    pub fn scalar_ref(&self) -> Option<&Val> {
        match &self.value {
            VarValue::Scalar(v) => Some(v),
            VarValue::Array(a) => a.first(),
        }
    }

    /// The scalar view (`$arr` is `${arr[0]}`).
    pub fn scalar(&self) -> Val {
        self.scalar_ref().cloned().unwrap_or_default()
    }
}

/// Exit status of the last command.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Known status.
    Known(i32),
    /// Depends on the run; the reason says on what.
    Unknown(String),
}

impl Status {
    /// Success.
    pub const OK: Status = Status::Known(0);
    /// Failure.
    pub const FAIL: Status = Status::Known(1);

    /// From a known truth value.
    pub fn from_bool(b: bool) -> Status {
        if b {
            Status::OK
        } else {
            Status::FAIL
        }
    }
}

/// A function definition and the file it came from.
#[derive(Debug)]
pub struct Func {
    /// Its body (shared with the definition's other runs; see `take_bodies`).
    pub body: Rc<ast::FunctionBody>,
    /// Script it was defined in (for locations and `BASH_SOURCE`).
    pub file: Arc<str>,
}

/// A command the script would run (recorded, never run).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Its words.
    pub argv: Vec<Val>,
    /// Assignments given just for this command (`FOO=1 cmd`).
    pub env_extra: Vec<(String, Val)>,
    /// Where.
    pub location: Option<Location>,
    /// User it runs as.
    pub user: User,
    /// For a background command started through a privilege dropper: where the dropped
    /// command starts (`user` is then the dropper's target).
    pub inner_from: Option<usize>,
}

/// One entry of the call stack (`FUNCNAME`, `BASH_SOURCE`).
#[derive(Debug, Clone)]
pub struct Frame {
    /// Function name, or `source` for a sourced file.
    pub name: String,
    /// File the frame's code lives in.
    pub file: Arc<str>,
}

/// imbl's persistent ordered map with `Rc`-counted nodes, not its default `Arc`: paths
/// never leave the analysis thread, and `Arc`'s atomic counts are paid on every node a fork
/// shares, a write copies or a dropped path releases.
pub type OrdMap<K, V> = imbl::GenericOrdMap<K, V, imbl::shared_ptr::RcK>;

/// imbl's persistent ordered set with `Rc`-counted nodes (see [`OrdMap`]).
pub type OrdSet<A> = imbl::GenericOrdSet<A, imbl::shared_ptr::RcK>;

/// imbl's persistent hash set with `Rc`-counted nodes (see [`OrdMap`]).
pub type HashSet<A> = imbl::GenericHashSet<A, std::hash::RandomState, imbl::shared_ptr::RcK>;

/// Adds to `a` what `b` holds and `a` does not. imbl's `union` inserts every element of the
/// smaller set into the larger, copying a root-to-leaf path for each; the sets joined here
/// (files created, names unset) are forks of one another, and `diff` skips the nodes they
/// still share, so only the elements one path added since are looked at.
pub(crate) fn union_into(a: &mut OrdSet<String>, b: &OrdSet<String>) {
    if a.ptr_eq(b) || b.is_empty() {
        return;
    }
    if a.is_empty() {
        a.clone_from(b);
        return;
    }
    let added: Vec<String> = a
        .diff(b)
        .filter_map(|d| match d {
            imbl::ordset::DiffItem::Add(x) => Some(x.clone()),
            imbl::ordset::DiffItem::Remove(_) => None,
        })
        .collect();
    for x in added {
        a.insert(x);
    }
}

/// A 256-bit filter of names, a bit each by a fixed hash: beside a set of names, it answers
/// "not there" for most names at once, and "maybe" sends the question on to the set. A bit
/// may stay set when its name leaves the set; it must never be clear for a name the set
/// holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct NameFilter([u64; 4]);

impl NameFilter {
    /// The word and bit of `name`.
    fn bit(name: &str) -> (usize, u64) {
        use std::hash::BuildHasher;
        let h = foldhash::fast::FixedState::with_seed(0).hash_one(name);
        (((h >> 6) & 3) as usize, 1 << (h & 63))
    }

    /// Marks `name`.
    pub fn add(&mut self, name: &str) {
        let (word, mask) = Self::bit(name);
        self.0[word] |= mask;
    }

    /// Whether `name` may be marked (`false`: surely not).
    pub fn may_hold(&self, name: &str) -> bool {
        let (word, mask) = Self::bit(name);
        self.0[word] & mask != 0
    }

    /// Whether a name may be marked in both.
    pub fn meets(&self, other: &NameFilter) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    /// The filter of names marked in either.
    fn or(self, other: NameFilter) -> NameFilter {
        NameFilter(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }

    /// The filter of names marked in both.
    fn and(self, other: NameFilter) -> NameFilter {
        NameFilter(std::array::from_fn(|i| self.0[i] & other.0[i]))
    }
}

/// Names a path has explicitly `unset`: a persistent set with a [`NameFilter`] of its
/// names. Every assignment asks whether its name is in the set (to take it out), and a set
/// search compares name bytes at each level; the filter answers most of those questions,
/// for names never unset, at once.
#[derive(Debug, Clone, Default)]
pub struct NameSet {
    set: OrdSet<String>,
    filter: NameFilter,
}

impl NameSet {
    /// Whether `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.filter.may_hold(name) && self.set.contains(name)
    }

    /// Adds `name`.
    pub fn insert(&mut self, name: String) {
        self.filter.add(&name);
        self.set.insert(name);
    }

    /// Takes `name` out when present. imbl's `remove` copies the root-to-leaf path (and
    /// may rebalance it) even when the key is absent, which on a set shared with other
    /// paths copies nodes for nothing; most removals here find nothing.
    pub fn forget(&mut self, name: &str) {
        if self.contains(name) {
            self.set.remove(name);
        }
    }

    /// Whether both are the same shared set.
    pub fn ptr_eq(&self, other: &NameSet) -> bool {
        self.set.ptr_eq(&other.set)
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.set.iter()
    }

    /// Adds what `other` holds (see [`union_into`]).
    pub fn union_with(&mut self, other: &NameSet) {
        self.filter = self.filter.or(other.filter);
        union_into(&mut self.set, &other.set);
    }

    /// Keeps only what `other` holds too.
    pub fn intersect_with(&mut self, other: NameSet) {
        if self.ptr_eq(&other) {
            return;
        }
        self.filter = self.filter.and(other.filter);
        self.set = std::mem::take(&mut self.set).intersection(other.set);
    }
}

impl PartialEq for NameSet {
    fn eq(&self, other: &NameSet) -> bool {
        self.ptr_eq(other) || self.set == other.set
    }
}

/// The values a merged variable may hold (each known, or partly known: `--interleave=$NUMA`).
pub type ValueSet = Rc<Vec<Val>>;

/// Removes the value set of `name` when there is one (see [`NameSet::forget`]: imbl copies
/// nodes even to remove an absent key).
pub(crate) fn drop_alts(alts: &mut OrdMap<Rc<str>, ValueSet>, name: &str) {
    if alts.contains_key(name) {
        alts.remove(name);
    }
}

/// Most names a [`VarMap`]'s overlay holds before it is folded into the base.
const OVERLAY_MAX: usize = 16;

/// Variables by name: a persistent trie indexed by name id (the base, see
/// [`super::idmap`]) under a small sorted overlay of the latest writes (`None` for a
/// removal). Keys are interned names (see [`super::names`]), ordered by id; values are
/// reference-counted.
///
/// A fork shares both parts. Paths fork and join all the time, and between a fork and the
/// join that follows it they mostly write a few variables: those writes land in the overlay
/// (a copy of at most [`OVERLAY_MAX`] entries) instead of copying a root-to-leaf path of the
/// trie (three nodes of 16, every pointer in them counted again), and two paths that share a
/// base are compared by their overlays alone. When the overlay is full it is folded into
/// the base (16 measured best with the trie: 8, 12 and 24 gave the long bench 24.45, 24.30
/// and 24.28 M instructions an analysis against 24.13).
#[derive(Debug, Clone, Default)]
pub struct VarMap {
    base: super::idmap::IdMap<(Name, Rc<Var>)>,
    over: Rc<Vec<(Name, Option<Rc<Var>>)>>,
}

/// A name whose variables differ between two maps, with each map's value.
type Difference<'m> = (Rc<str>, Option<&'m Rc<Var>>, Option<&'m Rc<Var>>);

impl VarMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the name with id `id` is in the overlay, or where it would go.
    fn slot(&self, id: u32) -> Result<usize, usize> {
        self.over.binary_search_by(|(k, _)| k.id().cmp(&id))
    }

    /// The shared value under the name with id `id` ([`names::id_of`], looked up once for
    /// many maps).
    pub(crate) fn get_id(&self, id: u32) -> Option<&Rc<Var>> {
        match self.slot(id) {
            Ok(i) => self.over[i].1.as_ref(),
            Err(_) => self.base.get(id).map(|(_, v)| v),
        }
    }

    /// The shared value of a variable (to compare by address or move between maps).
    pub fn get_rc(&self, name: &str) -> Option<&Rc<Var>> {
        self.get_id(names::id_of(name)?)
    }

    /// Reads a variable.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.get_rc(name).map(|v| &**v)
    }

    /// Writes `value` (or removes, with `None`) in the overlay, folding it when full.
    fn write(&mut self, name: Name, value: Option<Rc<Var>>) {
        self.write_all(std::iter::once((name, value)));
    }

    /// Writes several names at once: the overlay is copied once and folded at most once.
    fn write_all(&mut self, writes: impl IntoIterator<Item = (Name, Option<Rc<Var>>)>) {
        if Rc::strong_count(&self.over) > 1 {
            // The copy gets room for a few writes: copied at its length (as `make_mut`
            // would), the first insert moved it straight to a bigger block.
            let mut own = Vec::with_capacity(self.over.len() + 4);
            own.extend(self.over.iter().cloned());
            self.over = Rc::new(own);
        }
        let over = Rc::make_mut(&mut self.over);
        for (name, value) in writes {
            let id = name.id();
            match over.binary_search_by(|(k, _)| k.id().cmp(&id)) {
                Ok(i) => over[i].1 = value,
                // Removing a name that is absent changes nothing.
                Err(_) if value.is_none() && !self.base.contains_key(id) => {}
                Err(i) => over.insert(i, (name, value)),
            }
        }
        if over.len() > OVERLAY_MAX {
            self.fold();
        }
    }

    /// Moves the overlay's writes into the base.
    fn fold(&mut self) {
        for (k, v) in std::mem::take(Rc::make_mut(&mut self.over)) {
            match v {
                Some(v) => self.base.insert(k.id(), (k, v)),
                None => self.base.remove(k.id()),
            }
        }
    }

    /// Sets (or, with `None`, removes) several variables at once, as a join's split gives
    /// each member its own values back: the overlay is copied once and folded at most once,
    /// after all of them. The names come interned (a split looks each up once for all its
    /// members, not once per member).
    pub fn restore(&mut self, writes: impl IntoIterator<Item = (Name, Option<Rc<Var>>)>) {
        self.write_all(writes);
    }

    /// Sets a variable to a shared value under a name already interned.
    pub(crate) fn insert_name(&mut self, name: Name, v: Rc<Var>) {
        self.write(name, Some(v));
    }

    /// A variable to change in place (copied first when shared).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Var> {
        let name = names::lookup(name)?;
        let id = name.id();
        if self.slot(id).is_err() {
            // Brought into the overlay, so that the base stays shared with other paths.
            let v = Rc::clone(&self.base.get(id)?.1);
            self.write(name, Some(v));
        }
        match self.slot(id) {
            Ok(i) => Rc::make_mut(&mut self.over)[i].1.as_mut().map(Rc::make_mut),
            // That write filled the overlay, which went into the base.
            Err(_) => self.base.get_mut(id).map(|(_, v)| Rc::make_mut(v)),
        }
    }

    /// Sets a variable.
    pub fn insert(&mut self, name: &str, v: Var) {
        self.write(names::intern(name), Some(Rc::new(v)));
    }

    /// Sets a variable to what `v` makes of the one it replaces (one lookup of the name).
    pub fn replace(&mut self, name: &str, v: impl FnOnce(Option<&Var>) -> Var) {
        let name = names::intern(name);
        let new = v(self.get_id(name.id()).map(|old| &**old));
        self.write(name, Some(Rc::new(new)));
    }

    /// Removes a variable.
    pub fn remove(&mut self, name: &str) {
        let Some(name) = names::lookup(name) else {
            return;
        };
        if self.get_id(name.id()).is_some() {
            self.write(name, None);
        }
    }

    /// Names and shared values in id order: the base merged with the overlay.
    fn entries(&self) -> impl Iterator<Item = (&Name, &Rc<Var>)> {
        let mut base = self.base.iter().map(|(k, v)| (k, v)).peekable();
        let mut over = self.over.iter().peekable();
        std::iter::from_fn(move || loop {
            let take_over = match (base.peek(), over.peek()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((bk, _)), Some((ok, _))) => ok <= bk,
            };
            if take_over {
                let (k, v) = over.next()?;
                if base.peek().is_some_and(|(bk, _)| *bk == k) {
                    base.next();
                }
                if let Some(v) = v {
                    return Some((k, v));
                }
            } else {
                return base.next();
            }
        })
    }

    /// Names and variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (Rc<str>, &Var)> {
        self.sorted_where(|_| true)
    }

    /// Exported names and variables, sorted by name (only they are sorted: a script's
    /// variables are mostly its own, not exported).
    pub fn exported(&self) -> impl Iterator<Item = (Rc<str>, &Var)> {
        self.sorted_where(|v| v.exported)
    }

    /// The names and variables `keep` takes, sorted by name (ids order the map, not names).
    fn sorted_where(&self, keep: impl Fn(&Var) -> bool) -> std::vec::IntoIter<(Rc<str>, &Var)> {
        let mut all: Vec<(Rc<str>, &Var)> = self
            .entries()
            .filter(|(_, v)| keep(v))
            .map(|(k, v)| (k.text(), &**v))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all.into_iter()
    }

    /// Names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = Rc<str>> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Each name whose variables differ between the two maps (present in one only, or
    /// different), sorted by name, with both sides. Maps that share their base are compared
    /// by their overlays; otherwise the bases' diff skips the subtrees they share.
    fn diff<'m>(&'m self, other: &'m VarMap) -> Vec<Difference<'m>> {
        let same_base = self.base.ptr_eq(&other.base);
        if same_base && Rc::ptr_eq(&self.over, &other.over) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if same_base {
            // One walk over the two overlays (both in id order); a name in one only is
            // compared with the shared base.
            let (mut i, mut j) = (0, 0);
            let (x, y) = (&*self.over, &*other.over);
            while i < x.len() || j < y.len() {
                let order = match (x.get(i), y.get(j)) {
                    (Some((a, _)), Some((b, _))) => a.cmp(b),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    _ => std::cmp::Ordering::Greater,
                };
                let (name, a, b) = match order {
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                        (&x[i - 1].0, x[i - 1].1.as_ref(), y[j - 1].1.as_ref())
                    }
                    std::cmp::Ordering::Less => {
                        i += 1;
                        (
                            &x[i - 1].0,
                            x[i - 1].1.as_ref(),
                            self.base.get(x[i - 1].0.id()).map(|(_, v)| v),
                        )
                    }
                    std::cmp::Ordering::Greater => {
                        j += 1;
                        (
                            &y[j - 1].0,
                            other.base.get(y[j - 1].0.id()).map(|(_, v)| v),
                            y[j - 1].1.as_ref(),
                        )
                    }
                };
                if !same_var(a, b) {
                    out.push((name.text(), a, b));
                }
            }
        } else {
            let mut names: Vec<&Name> = self.over.iter().map(|(k, _)| k).collect();
            names.extend(other.over.iter().map(|(k, _)| k));
            let mut differ = Vec::new();
            let same = |a: &(Name, Rc<Var>), b: &(Name, Rc<Var>)| a.1 == b.1;
            self.base.diff(&other.base, &same, &mut differ);
            names.extend(differ.into_iter().map(|(k, _)| k));
            names.sort_unstable();
            names.dedup_by(|a, b| a == b);
            out = names
                .into_iter()
                .filter_map(|n| {
                    let (a, b) = (self.get_id(n.id()), other.get_id(n.id()));
                    (!same_var(a, b)).then(|| (n.text(), a, b))
                })
                .collect();
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The names whose variables differ between the two maps (present in one only, or
    /// different), sorted.
    pub fn differing_names(&self, other: &VarMap) -> Vec<Rc<str>> {
        self.diff(other).into_iter().map(|(k, _, _)| k).collect()
    }

    /// [`VarMap::differing_names`], each with whether either side exports it.
    pub fn differing(&self, other: &VarMap) -> Vec<(String, bool)> {
        self.diff(other)
            .into_iter()
            .map(|(k, a, b)| {
                let exported = a.is_some_and(|v| v.exported) || b.is_some_and(|v| v.exported);
                (k.to_string(), exported)
            })
            .collect()
    }
}

/// Whether two maps hold the same variable under a name (by address first).
fn same_var(a: Option<&Rc<Var>>, b: Option<&Rc<Var>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => Rc::ptr_eq(x, y) || x == y,
        (None, None) => true,
        _ => false,
    }
}

impl FromIterator<(String, Var)> for VarMap {
    fn from_iter<I: IntoIterator<Item = (String, Var)>>(iter: I) -> Self {
        VarMap {
            base: iter
                .into_iter()
                .map(|(k, v)| {
                    let name = names::intern(&k);
                    (name.id(), (name, Rc::new(v)))
                })
                .collect(),
            over: Rc::default(),
        }
    }
}

/// The values `local` saved in one function call, restored when it returns.
pub type LocalFrame = Vec<(String, Option<Var>)>;

/// Everything one path knows, boxed: a path moves by value through every layer of the
/// interpreter (list, and-or, pipeline, command, builtin) and into and out of the `Paths`
/// each layer returns, so a move is a pointer, not the several hundred bytes of
/// [`PathState`]. Fields are reached through `Deref`; code that borrows two fields at once,
/// one mutably, takes `&mut *st` first.
#[derive(Debug, Clone)]
pub struct State(Box<PathState>);

impl State {
    /// Boxes `s`.
    pub fn new(s: PathState) -> Self {
        State(Box::new(s))
    }

    /// The fields, unboxed (to move several out).
    pub fn into_inner(self) -> PathState {
        *self.0
    }
}

impl std::ops::Deref for State {
    type Target = PathState;
    fn deref(&self) -> &PathState {
        &self.0
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut PathState {
        &mut self.0
    }
}

/// A path's functions by name (foldhash: looked up for every command word that runs).
pub type Funcs = HashMap<String, Rc<Func>, foldhash::quality::RandomState>;

/// The fields of a [`State`].
///
/// Paths fork at every unknown test and are copied again when joins split, so the fields
/// that grow (arguments, call stack, saved locals, background commands, the last command)
/// and the file names are shared behind `Rc` and copied only when a path changes them.
#[derive(Debug, Clone)]
pub struct PathState {
    /// Variables.
    pub vars: VarMap,
    /// `$1…`.
    pub positionals: Rc<Vec<Val>>,
    /// `$0`.
    pub arg0: Val,
    /// Functions.
    pub funcs: Rc<Funcs>,
    /// Saved values for `local`, one frame per active call.
    pub locals: Rc<Vec<LocalFrame>>,
    /// Call stack (innermost last).
    pub frames: Rc<Vec<Frame>>,
    /// File whose code runs now (an `Arc`, as in [`Location`], so a location shares it).
    pub file: Arc<str>,
    /// `$?`.
    pub status: Status,
    /// `set -e`.
    pub errexit: bool,
    /// The file mode creation mask, when known (`umask` prints it).
    pub umask: Option<u32>,
    /// Current identity (shared: a path is copied at every fork, and a copy of the user
    /// would copy its name).
    pub user: Rc<User>,
    /// Working directory.
    pub cwd: Rc<str>,
    /// Probability weight of the path.
    pub weight: f64,
    /// The share of `weight` that the one run whose evidence this state carries accounts
    /// for. A join adds weights but keeps one member's reasons; comparing these "lead"
    /// weights (not the sums) makes the reasons a candidate shows those of its likeliest
    /// run, not of a light run that happened to be joined with others. Forks scale the
    /// weight and leave the share as it is.
    pub lead: f64,
    /// Evidence.
    pub reasons: PList<Rc<Reason>>,
    /// Run-time assumptions.
    pub assumptions: OnceList<String>,
    /// Commands started with `&`.
    pub background: Rc<Vec<Recorded>>,
    /// Last foreground external command.
    pub last_fg: Option<Rc<Recorded>>,
    /// Files and directories created by the script (redirections, `mkdir`, `touch`).
    pub created: OrdSet<String>,
    /// Paths given to a command the analysis does not model (`mongod --pidfilepath P`): it
    /// may create them, so a test on one that the image lacks depends on the run.
    pub maybe_created: OrdSet<String>,
    /// Captured standard output inside `$( )`.
    pub stdout: Option<Val>,
    /// What standard input holds when it is known (a pipe from `printf`/`echo`, a here-doc,
    /// a here-string, a file of the image); `None` when it depends on the run.
    pub stdin: Option<Val>,
    /// Source/eval nesting depth.
    pub depth: usize,
    /// Times the script re-executed itself.
    pub reexecs: usize,
    /// Depth of subshells (`exit`/`exec` end the subshell, not the path).
    pub subshell: usize,
    /// Depth of condition contexts (`if`, `while`, `&&`, `!`): `set -e` is off inside.
    pub cond_depth: usize,
    /// Whether `wait` ran while background children were alive.
    pub waited: bool,
    /// Whether the command being run was started with `&`.
    pub in_background: bool,
    /// Depth of function calls.
    pub calls: usize,
    /// Names explicitly `unset` (no longer "unset in the image env", just unset).
    pub unset: NameSet,
    /// Value sets: for a variable that paths merged lossily with different values (now
    /// unknown, "differs between paths"), those values (known, or partly or wholly unknown
    /// when at least one is partly known); a `case` on it, an `exec` that reads it, and a
    /// terminal whose words still hold its placeholder fork per value (bounded).
    pub alts: OrdMap<Rc<str>, ValueSet>,
    /// What the last test learns about an unset env variable, applied when its outcome forks.
    pub pending: Option<Refine>,
    /// Paths merged into this one that differ only in some variables, kept to be split
    /// again before a command that may read one of them (see `merge`).
    pub deferred: Option<Rc<Deferred>>,
    /// The capability bounding set (see [`crate::Capabilities`]), `None` when unknown;
    /// `setpriv --bounding-set` changes it for the command it runs.
    pub caps: Option<Rc<[String]>>,
}

/// Paths joined at one point of the script whose variables differ: the joined path (the
/// representative) runs on, holding a placeholder for each differing variable, until a
/// command may read one; then it splits back into one path per member, each with the
/// member's own values and evidence plus whatever the representative did since.
///
/// Joins nest: the members of one join are either none of them deferred, or all forks of
/// one earlier join (the same `Rc`), which they keep (see `merge`). The joins a path holds
/// thus make a chain, newest first, each level differing in its own variables.
#[derive(Debug)]
pub struct Deferred {
    /// The joined paths as they were at the join: none of them deferred, or all holding
    /// the same earlier join.
    pub members: Vec<State>,
    /// The differing variables, each with the placeholder the representative got.
    pub names: Vec<(Rc<str>, Option<Rc<Var>>)>,
    /// Weight of the representative at the join (later forks scale the members).
    pub weight: f64,
    /// Length of the representative's reasons at the join.
    pub reasons_len: usize,
    /// Length of its assumptions at the join.
    pub assumptions_len: usize,
    /// Every differing variable of this join and those it nests over: [`Deferred::holds`]
    /// answers most names from it (every command a deferred path runs asks for each name it
    /// reads) without comparing them with each of the chain's.
    filter: NameFilter,
}

impl Deferred {
    /// A join of `members` differing in `names` (see the fields).
    pub fn new(
        members: Vec<State>,
        names: Vec<(Rc<str>, Option<Rc<Var>>)>,
        weight: f64,
        reasons_len: usize,
        assumptions_len: usize,
    ) -> Self {
        let mut filter = members
            .first()
            .and_then(|m| m.deferred.as_ref())
            .map_or_else(NameFilter::default, |inner| inner.filter);
        for (n, _) in &names {
            filter.add(n);
        }
        Deferred {
            members,
            names,
            weight,
            reasons_len,
            assumptions_len,
            filter,
        }
    }

    /// The earlier join every member holds, when the joins nest.
    pub fn inner(&self) -> Option<&Rc<Deferred>> {
        self.members.first().and_then(|m| m.deferred.as_ref())
    }

    /// This join and the ones it nests over, newest first.
    pub fn chain(self: &Rc<Self>) -> impl Iterator<Item = &Rc<Deferred>> {
        std::iter::successors(Some(self), |d| d.inner())
    }

    /// The filter of the names of this join and those it nests over.
    pub fn filter(&self) -> &NameFilter {
        &self.filter
    }

    /// Whether `name` differs in this join or one it nests over.
    pub fn holds(self: &Rc<Self>, name: &str) -> bool {
        if !self.filter.may_hold(name) {
            return false;
        }
        self.chain()
            .any(|d| d.names.iter().any(|(n, _)| &**n == name))
    }
}

/// Share of a path's weight for the unlikely outcome of a test: an unknown value that is
/// exactly, or matches, a specific word (`[ "$arg" = --auth ]`, `case $x in --port=*)`).
pub(crate) const SPECIFIC_MATCH_SHARE: f64 = 0.02;

/// Share of a path's weight given to the branch of a test on an unset env variable that
/// holds as the image is (the variable unset); the other branch is a run that sets it.
const AS_IMAGE_SHARE: f64 = 0.75;

/// What a test on an env variable the image does not set tells each branch.
#[derive(Debug, Clone, PartialEq)]
pub enum Refine {
    /// `[ -z "$V" ]`-like: the variable is empty on the branch where the test has this outcome.
    Empty(String, bool),
    /// `[[ -v V ]]`, `[ -z "${V+x}" ]`-like: the variable is unset on the branch where the
    /// test has this outcome (taken as empty), set at run time on the other.
    Unset(String, bool),
    /// `[ "$V" = lit ]`-like: the variable equals `lit` on the branch with this outcome.
    Equals(String, String, bool),
    /// Nothing learnt, but this outcome is unlikely: an unknown value compared with a
    /// specific word (see [`crate::pattern::is_specific`]).
    Unlikely(bool),
}

/// Why an env variable the image does not set is unknown on the branch of a test where the
/// run sets it.
pub(crate) const SET_AT_RUN: &str = "set at run time";

impl Refine {
    /// Applies what a branch with `outcome` learns.
    pub fn apply(&self, st: &mut State, outcome: bool) {
        match self {
            Refine::Empty(name, when) => {
                if outcome == *when {
                    st.set(name, Val::default());
                } else {
                    let why = format!("{SET_AT_RUN} (assumed non-empty)");
                    st.set(name, Val::unknown(format!("${name}"), why));
                    st.export(name);
                }
            }
            Refine::Unset(name, when) => {
                if outcome == *when {
                    // Empty rather than unset: a path that knows it is unset would not join
                    // the other side's (see `merge`), and `${V-…}` is rare in entrypoints.
                    st.set(name, Val::default());
                } else {
                    st.set(name, Val::unknown(format!("${name}"), SET_AT_RUN));
                    st.export(name);
                }
            }
            Refine::Equals(name, lit, when) => {
                if outcome == *when {
                    st.set(name, Val::lit(lit.clone()));
                    st.export(name);
                }
            }
            Refine::Unlikely(_) => {}
        }
    }

    /// The share of a path's weight the branch where the test is true gets: the side that
    /// holds as the image is (the variable unset, so empty) is the likelier one, and an
    /// unknown value is rarely a specific word.
    pub fn share_of_true(&self) -> f64 {
        let (likely_outcome, share) = match self {
            Refine::Empty(_, when) | Refine::Unset(_, when) => (*when, AS_IMAGE_SHARE),
            Refine::Equals(_, lit, when) => (*when == lit.is_empty(), AS_IMAGE_SHARE),
            Refine::Unlikely(when) => (!*when, 1.0 - SPECIFIC_MATCH_SHARE),
        };
        if likely_outcome {
            share
        } else {
            1.0 - share
        }
    }

    /// The same knowledge for the negated test.
    pub fn negate(self) -> Refine {
        match self {
            Refine::Empty(n, w) => Refine::Empty(n, !w),
            Refine::Unset(n, w) => Refine::Unset(n, !w),
            Refine::Equals(n, l, w) => Refine::Equals(n, l, !w),
            Refine::Unlikely(w) => Refine::Unlikely(!w),
        }
    }
}

/// The env variable a value stands for, when it is exactly an unset one.
pub fn unset_env_name(v: &Val) -> Option<String> {
    match v.0.as_slice() {
        [crate::value::Part::Unknown { what, why }] if why.starts_with("env ") => what
            .strip_prefix('$')
            .filter(|n| is_name(n))
            .map(str::to_string),
        _ => None,
    }
}

/// The env variable of a `${V+…}` (or `${V:+…}`) value, when `V` is an unset one: the value
/// is empty exactly when `V` stays unset.
pub fn unset_env_alt_name(v: &Val) -> Option<String> {
    match v.0.as_slice() {
        [crate::value::Part::Unknown { what, why }] if why.starts_with("env ") => what
            .strip_prefix("${")
            .and_then(|w| w.strip_suffix("+…}"))
            .filter(|n| is_name(n))
            .map(str::to_string),
        _ => None,
    }
}

fn is_name(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && n.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl PathState {
    /// Reads a variable.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }

    /// Sets a scalar, keeping the export flag.
    pub fn set(&mut self, name: &str, v: Val) {
        self.set_value(name, VarValue::Scalar(v));
    }

    /// Sets any value, keeping the export flag.
    pub fn set_value(&mut self, name: &str, value: VarValue) {
        self.unset.forget(name);
        drop_alts(&mut self.alts, name);
        self.vars.replace(name, |old| Var {
            value,
            exported: old.is_some_and(|v| v.exported),
        });
    }

    /// Marks a variable exported (creating it empty-unset when missing).
    pub fn export(&mut self, name: &str) {
        if let Some(v) = self.vars.get_mut(name) {
            v.exported = true;
        } else {
            self.vars.insert(
                name,
                Var {
                    value: VarValue::Scalar(Val::default()),
                    exported: true,
                },
            );
        }
    }

    /// Makes `name` local to the innermost function frame.
    pub fn make_local(&mut self, name: &str) {
        let saved = self.vars.get(name).cloned();
        if let Some(frame) = Rc::make_mut(&mut self.locals).last_mut() {
            if !frame.iter().any(|(n, _)| n == name) {
                frame.push((name.to_string(), saved));
            }
        }
    }

    /// Adds a reason.
    pub fn reason(&mut self, message: String, location: Option<Location>) {
        if self.reasons.len() < 200 {
            self.reasons.push(Rc::new(Reason { message, location }));
        }
    }

    /// Adds an assumption once.
    pub fn assume(&mut self, a: String) {
        if self.assumptions.len() < 100 {
            self.assumptions.push(a);
        }
    }

    /// The weight of the one run whose evidence this state carries (see [`State::lead`]).
    pub fn lead_weight(&self) -> f64 {
        self.weight * self.lead
    }

    /// Makes `lead` (a weight, at most [`State::weight`]) the weight of the run whose
    /// evidence this state carries.
    pub fn set_lead_weight(&mut self, lead: f64) {
        self.lead = if self.weight > 0.0 {
            (lead / self.weight).clamp(0.0, 1.0)
        } else {
            1.0
        };
    }

    /// Exported variables with known values (unknown ones rendered).
    pub fn exported_env(&self) -> Vec<(String, String)> {
        self.vars
            .exported()
            .map(|(k, v)| (k.to_string(), v.scalar().to_string()))
            .collect()
    }

    /// `FUNCNAME` as bash shows it (innermost first, `main` at the bottom when in a function).
    pub fn funcname(&self) -> Vec<Val> {
        let mut out: Vec<Val> = self
            .frames
            .iter()
            .rev()
            .map(|f| Val::lit(&f.name))
            .collect();
        if !out.is_empty() && self.frames.first().is_some_and(|f| f.name != "source") {
            out.push(Val::lit("main"));
        }
        out
    }

    /// `BASH_SOURCE` (innermost first).
    pub fn bash_source(&self) -> Vec<Val> {
        let mut out = vec![Val::lit(&*self.file)];
        out.extend(self.frames.iter().rev().map(|f| Val::lit(&*f.file)));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn var(v: u8, exported: bool) -> Var {
        Var {
            value: VarValue::Scalar(Val::lit(format!("v{v}"))),
            exported,
        }
    }

    /// One write to a map: set, export-set, remove, or change in place.
    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Export(u8, u8),
        Remove(u8),
        Append(u8),
        /// Several writes at once (`None` removes), as a join's split makes them.
        Restore(Vec<(u8, Option<u8>)>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..40, 0u8..4).prop_map(|(n, v)| Op::Set(n, v)),
            (0u8..40, 0u8..4).prop_map(|(n, v)| Op::Export(n, v)),
            (0u8..40).prop_map(Op::Remove),
            (0u8..40).prop_map(Op::Append),
            proptest::collection::vec((0u8..40, proptest::option::of(0u8..4)), 0..24)
                .prop_map(Op::Restore),
        ]
    }

    fn apply(m: &mut VarMap, model: &mut BTreeMap<String, Var>, op: &Op) {
        let name = |n: &u8| format!("n{n:02}");
        match op {
            Op::Set(n, v) | Op::Export(n, v) => {
                let x = var(*v, matches!(op, Op::Export(..)));
                m.insert(&name(n), x.clone());
                model.insert(name(n), x);
            }
            Op::Remove(n) => {
                m.remove(&name(n));
                model.remove(&name(n));
            }
            Op::Restore(writes) => {
                m.restore(
                    writes
                        .iter()
                        .map(|(n, v)| (names::intern(&name(n)), v.map(|v| Rc::new(var(v, false))))),
                );
                for (n, v) in writes {
                    match v {
                        Some(v) => model.insert(name(n), var(*v, false)),
                        None => model.remove(&name(n)),
                    };
                }
            }
            Op::Append(n) => {
                if let Some(v) = m.get_mut(&name(n)) {
                    v.value = VarValue::Array(vec![Val::lit("x")]);
                }
                if let Some(v) = model.get_mut(&name(n)) {
                    v.value = VarValue::Array(vec![Val::lit("x")]);
                }
            }
        }
    }

    fn model_diff(a: &BTreeMap<String, Var>, b: &BTreeMap<String, Var>) -> Vec<(String, bool)> {
        let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|n| a.get(*n) != b.get(*n))
            .map(|n| {
                let ex =
                    a.get(n).is_some_and(|v| v.exported) || b.get(n).is_some_and(|v| v.exported);
                (n.clone(), ex)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// A common past, then two forks written apart: every read, the sorted iteration and
        /// the differences between the forks are those of plain sorted maps.
        #[test]
        fn var_maps_read_and_differ_as_plain_maps_do(
            past in proptest::collection::vec(op(), 0..80),
            left in proptest::collection::vec(op(), 0..40),
            right in proptest::collection::vec(op(), 0..40),
        ) {
            let (mut m, mut model) = (VarMap::new(), BTreeMap::new());
            for o in &past {
                apply(&mut m, &mut model, o);
            }
            let (mut a, mut ma) = (m.clone(), model.clone());
            let (mut b, mut mb) = (m, model);
            for o in &left {
                apply(&mut a, &mut ma, o);
            }
            for o in &right {
                apply(&mut b, &mut mb, o);
            }
            for (m, model) in [(&a, &ma), (&b, &mb)] {
                let got: Vec<(String, Var)> = m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                let want: Vec<(String, Var)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                prop_assert_eq!(&got, &want);
                for n in 0..40u8 {
                    let k = format!("n{n:02}");
                    prop_assert_eq!(m.get(&k), model.get(&k));
                }
                prop_assert_eq!(m.keys().count(), model.len());
            }
            prop_assert_eq!(a.differing(&b), model_diff(&ma, &mb));
            let names: Vec<String> = a.differing_names(&b).iter().map(|n| n.to_string()).collect();
            let want: Vec<String> = model_diff(&ma, &mb).into_iter().map(|(n, _)| n).collect();
            prop_assert_eq!(names, want);
        }

        /// Name sets forked, unset into, taken from and joined (both ways) answer as plain
        /// sets do: the filter never hides a name the set holds.
        #[test]
        fn name_sets_answer_as_plain_sets_do(
            past in proptest::collection::vec((any::<bool>(), 0..40u8), 0..60),
            left in proptest::collection::vec((any::<bool>(), 0..40u8), 0..30),
            right in proptest::collection::vec((any::<bool>(), 0..40u8), 0..30),
        ) {
            use std::collections::BTreeSet;
            let run = |s: &mut NameSet, model: &mut BTreeSet<String>, ops: &[(bool, u8)]| {
                for (add, n) in ops {
                    let k = format!("n{n:02}");
                    if *add {
                        s.insert(k.clone());
                        model.insert(k);
                    } else {
                        s.forget(&k);
                        model.remove(&k);
                    }
                }
            };
            let (mut s, mut model) = (NameSet::default(), BTreeSet::new());
            run(&mut s, &mut model, &past);
            let (mut a, mut ma) = (s.clone(), model.clone());
            let (mut b, mut mb) = (s, model);
            run(&mut a, &mut ma, &left);
            run(&mut b, &mut mb, &right);
            let mut union = a.clone();
            union.union_with(&b);
            let mut inter = a.clone();
            inter.intersect_with(b.clone());
            let mu: BTreeSet<String> = ma.union(&mb).cloned().collect();
            let mi: BTreeSet<String> = ma.intersection(&mb).cloned().collect();
            for (set, model) in [(&a, &ma), (&b, &mb), (&union, &mu), (&inter, &mi)] {
                prop_assert_eq!(set.iter().cloned().collect::<BTreeSet<_>>(), model.clone());
                for n in 0..40u8 {
                    let k = format!("n{n:02}");
                    prop_assert_eq!(set.contains(&k), model.contains(&k));
                }
            }
            prop_assert_eq!(a == b, ma == mb);
        }
    }
}
