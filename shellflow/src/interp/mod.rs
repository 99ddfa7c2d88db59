//! The abstract interpreter: walks the AST the way a shell would (XCU 2.9), but records
//! external commands instead of running them, in the shape of mvdan/sh's `interp` with an
//! exec handler.
//!
//! Every construct maps a path (a [`State`]) to the paths that leave it. A path forks only
//! where the outcome truly depends on the run (an unknown value in a test, a probe's exit
//! status); each fork halves the path weight and records the assumption it rests on. Paths
//! end by `exec` (a terminal), `exit`, or falling off the end. Paths that meet again at the
//! same point are joined after each command (see `merge`): exactly, as one deferred path
//! that splits back where a command reads a variable they disagree on, or lossily under
//! pressure. Bounds (paths, steps, unrolling, depth) come from [`Limits`]; hitting one is a
//! diagnostic, never a hang.
//!
//! Deliberately not modelled: signals and `trap`, job control (background children are
//! recorded, see `Analysis::services`), the contents of files written by the script (only
//! their existence is tracked).

pub mod arith;
mod brace;
mod builtins;
mod cond;
mod control;
pub(crate) mod expand;
mod external;
mod glob;
mod idmap;
pub(crate) mod merge;
pub(crate) mod names;
mod params;
pub(crate) mod plist;
mod printf;
mod sed;
mod simple;
mod source;
pub mod state;
mod textutil;

use std::collections::HashMap;

/// The interpreter's caches, keyed by words and names of the script and looked up on every
/// command: foldhash (seeded per process) instead of SipHash, which cost about 2 % of the
/// long bench. The keys come from an untrusted script, but its size, steps and paths are
/// bounded by [`Limits`], so colliding keys can only slow work that is already capped.
type FastMap<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// A condition's text for reasons and its location (see [`Interp::cond_texts`]).
pub(crate) type CondText = (Rc<str>, Option<Location>);
use std::rc::Rc;

use crate::api::{EndKind, ImageFs, Invocation, Limits, Location, User};
use crate::parse::{self, ast};
use crate::value::{concat, Val};

use state::{Recorded, State, Status};

/// How control leaves a construct on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Carry on.
    Normal,
    /// `return` from a function.
    Return,
    /// `break n`.
    Break(usize),
    /// `continue n`.
    Continue(usize),
    /// `exit` (or `exec` inside a subshell): the (sub)shell is done.
    Exit,
}

/// Paths leaving a construct.
pub type Paths = Vec<(State, Flow)>;

/// The variables whose join placeholders are in `cmd`'s words while the variables still
/// hold them (the very placeholder, not another unknown of the same name), each with its
/// value set and the placeholder piece, when no value would have been split into several
/// words or globbed; only as many as keep the forks within `budget`.
fn placeholders_in_argv(
    st: &State,
    cmd: &Recorded,
    budget: usize,
) -> Vec<(String, crate::value::Part, state::ValueSet)> {
    let mut out: Vec<(String, crate::value::Part, state::ValueSet)> = Vec::new();
    if st.alts.is_empty() {
        return out;
    }
    let mut product = 1;
    for p in cmd.argv.iter().flat_map(|w| w.0.iter()) {
        let crate::value::Part::Unknown { what, .. } = p else {
            continue;
        };
        let Some(name) = what.strip_prefix('$') else {
            continue;
        };
        if out.iter().any(|(n, ..)| n == name) {
            continue;
        }
        // The variable must still hold this very placeholder (which is what `held_values`
        // checks, and more: the same reason too), with more than one value.
        if st
            .get(name)
            .map(state::Var::scalar)
            .as_ref()
            .map(|v| v.0.as_slice())
            != Some(std::slice::from_ref(p))
        {
            continue;
        }
        let Some(values) = st.alts.get(name).filter(|v| v.len() > 1).cloned() else {
            continue;
        };
        let plain = |v: &Val| {
            v.0.iter().all(|p| match p {
                crate::value::Part::Lit(s) => {
                    !s.contains(|c: char| c.is_whitespace() || "*?[".contains(c))
                }
                crate::value::Part::Unknown { .. } => true,
            })
        };
        if values.iter().all(plain) && product * values.len() <= budget {
            product *= values.len();
            out.push((name.to_string(), p.clone(), values));
        }
    }
    out
}

/// One path per combination of the placeholders' values, each command word filled in.
fn fill_placeholders(
    st: State,
    cmd: &Recorded,
    found: &[(String, crate::value::Part, state::ValueSet)],
) -> Vec<(State, Recorded)> {
    let sets: Vec<(String, state::ValueSet)> = found
        .iter()
        .map(|(n, _, v)| (n.clone(), Rc::clone(v)))
        .collect();
    control::fork_on_all(st, &sets, cmd.location.clone())
        .into_iter()
        .map(|s| {
            let mut c = cmd.clone();
            for (name, piece, _) in found {
                let by = s.get(name).map(state::Var::scalar).unwrap_or_default();
                for w in &mut c.argv {
                    *w = w.substitute(piece, &by);
                }
            }
            (s, c)
        })
        .collect()
}

/// How one finished path ended.
#[derive(Debug, Clone)]
pub struct Ending {
    /// The final state.
    pub state: State,
    /// The terminal command, if any.
    pub terminal: Option<Terminal>,
    /// Background children at the end.
    pub background: Rc<Vec<Recorded>>,
}

/// A terminal command found on a path.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// The command.
    pub cmd: Recorded,
    /// How the path reached it.
    pub how: EndKind,
    /// Argument index where the dropped command starts, when a dropper runs it.
    pub inner_from: Option<usize>,
}

/// The interpreter: world access, bounds, counters, and finished paths.
pub struct Interp<'a> {
    pub(crate) fs: &'a dyn ImageFs,
    pub(crate) limits: &'a Limits,
    pub(crate) inv: &'a Invocation,
    pub(crate) program: Rc<ast::Program>,
    pub(crate) script_path: String,
    pub(crate) steps: usize,
    pub(crate) capped: bool,
    pub(crate) diagnostics: Vec<String>,
    /// The diagnostics already given (paths repeat them: a command missing from the image
    /// is met once per path that runs it).
    diagnosed: std::collections::HashSet<String, foldhash::quality::RandomState>,
    /// The commands already diagnosed as missing from the image, by file and line: every
    /// path that runs one meets it again, and this answers before its message is written.
    pub(crate) missing_noted: FastMap<(std::sync::Arc<str>, usize), Vec<String>>,
    pub(crate) endings: Vec<Ending>,
    /// Source text of each parsed file, for condition snippets, with whether it is all
    /// ASCII (spans count characters; see [`Interp::snippet`]).
    pub(crate) texts: FastMap<String, (Rc<str>, bool)>,
    /// Parsed programs by text (sourced files, `eval`, `$( )`), kept alive so that function
    /// definitions inside them can be shared by address.
    parsed: FastMap<String, Rc<ast::Program>>,
    /// Parsed words by text, with whether the fast path split them (the others are
    /// brush-parser's, whose memory is not the arena's: see [`Interp::finish`]).
    pub(crate) words: FastMap<String, (Rc<Vec<parse::WordPieceWithSource>>, bool)>,
    /// Command resolution by PATH, then name (looked up without copying either).
    pub(crate) resolved: FastMap<String, FastMap<String, Option<String>>>,
    /// Function definitions shared between paths, by node address and file; only those of
    /// programs kept for the whole analysis (a node's address names it only while it lives).
    func_cache: FastMap<(usize, std::sync::Arc<str>), Rc<state::Func>>,
    /// Function bodies moved out of the programs kept for the whole analysis, by the address
    /// of their definition node (see [`take_bodies`]).
    bodies: FastMap<usize, Rc<ast::FunctionBody>>,
    /// Whether the fast parser made `program`, and every program `bodies` came from: then
    /// they are left to the arena when the analysis ends (see [`Interp::finish`]).
    program_fast: bool,
    bodies_fast: bool,
    /// The names each command mentions, by node address (for deferred joins).
    cmd_words: FastMap<usize, CmdWords>,
    /// The text and location of each condition, by node address and file (see
    /// `control::run_cond`): built once, not each time a path tests it.
    cond_texts: FastMap<(usize, std::sync::Arc<str>), CondText>,
    /// How many paths a terminal may still split into over value sets: lowered while the
    /// paths of an `exec` already split that way run, so the splits never multiply past
    /// [`control::MAX_VALUE_FORKS`].
    pub(crate) value_fork_budget: usize,
    /// Paths that re-executed the script, whose next pass runs once the current one is over
    /// (see [`Interp::run_toplevel`]). That pass starts with the whole
    /// [`Interp::value_fork_budget`]: an `exec` split per value has given its share back by
    /// then, and the passes of its values run joined, not one after the other.
    pub(crate) reexecuted: Vec<State>,
}

impl std::fmt::Debug for Interp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interp")
            .field("steps", &self.steps)
            .finish()
    }
}

impl<'a> Interp<'a> {
    /// A new interpreter for `program` (already parsed from `script_path`, whose text is
    /// `text_len` bytes long).
    pub fn new(
        fs: &'a dyn ImageFs,
        limits: &'a Limits,
        inv: &'a Invocation,
        (mut program, fast): (ast::Program, bool),
        script_path: String,
        text_len: usize,
    ) -> Self {
        let mut bodies = FastMap::default();
        take_bodies(&mut program, &mut bodies);
        // The caches keyed by node or word get about one entry for every 30 bytes of a
        // script's text: sized for it up front, they are not rehashed as they fill (a
        // quarter of a million instructions an analysis of the long bench script).
        let hint = (text_len / 32).min(4096);
        Interp {
            fs,
            limits,
            inv,
            program: Rc::new(program),
            script_path,
            steps: 0,
            capped: false,
            diagnostics: Vec::new(),
            diagnosed: Default::default(),
            missing_noted: FastMap::default(),
            endings: Vec::new(),
            texts: FastMap::default(),
            parsed: FastMap::default(),
            func_cache: FastMap::default(),
            bodies,
            program_fast: fast,
            bodies_fast: fast,
            cmd_words: FastMap::with_capacity_and_hasher(hint, Default::default()),
            cond_texts: FastMap::default(),
            words: FastMap::with_capacity_and_hasher(hint, Default::default()),
            resolved: FastMap::default(),
            value_fork_budget: control::MAX_VALUE_FORKS,
            reexecuted: Vec::new(),
        }
    }

    /// Ends the interpreter: its endings, diagnostics, whether a bound was hit, and steps.
    ///
    /// The script's AST, its function bodies and the words the fast path split (thousands
    /// of blocks) are left to the arena when they are all its own (see
    /// `crate::arena::discard`): walking them to free each block was 2.3 % of an analysis
    /// of the long bench script.
    pub fn finish(self) -> (Vec<Ending>, Vec<String>, bool, usize) {
        let Interp {
            endings,
            diagnostics,
            capped,
            steps,
            program,
            bodies,
            program_fast,
            bodies_fast,
            words,
            cmd_words,
            ..
        } = self;
        // Emptied first: its table may be larger than the arena's largest block, and a block
        // from outside the slot still held would stop `discard` below. The words it holds
        // are left to the arena where all their blocks are its own (freeing them one by one
        // was 0.8 % of an analysis's wall time, mostly cache misses on the blocks).
        for (_, w) in cmd_words {
            if w.arena_only {
                std::mem::forget(w);
            }
        }
        if program_fast {
            crate::arena::discard(program);
        }
        if bodies_fast {
            crate::arena::discard(bodies);
        }
        // The words of the script the fast path split are the arena's too; brush-parser
        // parsed the others (its parse runs with the arena suspended).
        if crate::arena::discarding() {
            let mut words = words;
            for (_, (pieces, fast)) in words.drain() {
                if fast {
                    crate::arena::discard(pieces);
                } else {
                    drop(pieces);
                }
            }
            crate::arena::discard(words);
        }
        (endings, diagnostics, capped, steps)
    }

    /// Notes a diagnostic once.
    pub(crate) fn diag(&mut self, msg: String) {
        if self.diagnostics.len() < 200 && !self.diagnosed.contains(&msg) {
            self.diagnosed.insert(msg.clone());
            self.diagnostics.push(msg);
        }
    }

    /// Notes that a bound was hit.
    pub(crate) fn cap(&mut self, msg: String) {
        self.capped = true;
        self.diag(msg);
    }

    /// Location of a span in the current file.
    pub(crate) fn loc(&self, st: &State, span: Option<parse::SourceSpan>) -> Option<Location> {
        span.map(|s| Location {
            file: std::sync::Arc::clone(&st.file),
            line: parse::line_of(&s),
        })
    }

    /// Runs the whole program from the top on `st` and records how each path ends; then the
    /// passes of the paths that re-executed the script ([`Interp::reexec`]), all together,
    /// and theirs in turn.
    pub fn run_toplevel(&mut self, st: State) {
        let mut batch = vec![st];
        while !batch.is_empty() {
            self.run_pass(batch);
            batch = std::mem::take(&mut self.reexecuted);
        }
    }

    /// Runs the whole program from the top on each of `states`, joined where they can be
    /// (paths that re-executed the script from different runs of the first pass differ in
    /// what they export, and are deferred on it like any fork).
    fn run_pass(&mut self, states: Vec<State>) {
        let program = Rc::clone(&self.program);
        let mut paths: Paths = self.bound(states.into_iter().map(|s| (s, Flow::Normal)).collect());
        for cmd in &program.complete_commands {
            paths = self.seq(paths, |me, s| me.run_list(s, cmd));
        }
        for (st, flow) in paths {
            self.end_path(st, flow);
        }
    }

    /// Records the end of a path that did not exec.
    fn end_path(&mut self, st: State, flow: Flow) {
        if flow == Flow::Exit && st.background.is_empty() {
            // Nothing runs on this path: the report needs its weight, status, place and
            // the evidence of its likeliest run, which a joined path carries as it is (its
            // members share the place and status of its end). Splitting it first rebuilt
            // every join nested in it.
            self.end_path_now(st, flow);
            return;
        }
        if st.deferred.is_some() {
            for s in merge::split_all(st) {
                self.end_path(s, flow);
            }
            return;
        }
        if flow != Flow::Exit {
            if let Some(last) = st.last_fg.clone() {
                let found = placeholders_in_argv(&st, &last, self.value_fork_budget);
                if !found.is_empty() {
                    // The last command read variables with value sets: one per value.
                    for (mut s, c) in fill_placeholders(st, &last, &found) {
                        s.last_fg = Some(Rc::new(c));
                        self.end_path_now(s, flow);
                    }
                    return;
                }
            }
        }
        self.end_path_now(st, flow);
    }

    fn end_path_now(&mut self, st: State, flow: Flow) {
        let background = st.background.clone();
        let terminal = if flow == Flow::Exit {
            None
        } else {
            st.last_fg.as_deref().cloned().map(|cmd| Terminal {
                cmd,
                how: EndKind::FellOffEnd,
                inner_from: None,
            })
        };
        self.endings.push(Ending {
            state: st,
            terminal,
            background,
        });
    }

    /// Records a path that execs `cmd`.
    pub(crate) fn end_exec(&mut self, st: State, cmd: Recorded, inner_from: Option<usize>) {
        if st.deferred.is_some() {
            for s in merge::split_all(st) {
                self.end_exec(s, cmd.clone(), inner_from);
            }
            return;
        }
        let found = placeholders_in_argv(&st, &cmd, self.value_fork_budget);
        if !found.is_empty() {
            // Words that came through `set -- … "$AUTH"` still hold the placeholders of
            // variables with value sets: one terminal per value.
            for (s, c) in fill_placeholders(st, &cmd, &found) {
                self.end_exec_now(s, c, inner_from);
            }
            return;
        }
        self.end_exec_now(st, cmd, inner_from);
    }

    fn end_exec_now(&mut self, st: State, cmd: Recorded, inner_from: Option<usize>) {
        let background = st.background.clone();
        let terminal = Some(Terminal {
            cmd,
            how: EndKind::Exec,
            inner_from,
        });
        self.endings.push(Ending {
            state: st,
            terminal,
            background,
        });
    }

    /// Applies `f` to every path still flowing normally; caps the number of paths.
    pub(crate) fn seq(
        &mut self,
        mut paths: Paths,
        mut f: impl FnMut(&mut Self, State) -> Paths,
    ) -> Paths {
        if paths.len() == 1 && paths[0].1 == Flow::Normal {
            // The common case, one path: what `f` gives back is the result, not copied.
            let (st, _) = paths.pop().expect("one path");
            return self.seq_one(st, f);
        }
        let mut out = Vec::with_capacity(paths.len());
        for (st, flow) in paths {
            if flow == Flow::Normal {
                let next = f(self, st);
                self.carry(next, &mut out);
            } else {
                out.push((st, flow));
            }
        }
        self.bound(out)
    }

    /// [`Interp::seq`] for one path flowing normally.
    pub(crate) fn seq_one(
        &mut self,
        st: State,
        f: impl FnOnce(&mut Self, State) -> Paths,
    ) -> Paths {
        let mut out = f(self, st);
        if out.iter().any(|(s, fl)| ends_script(s, *fl)) {
            let mut kept = Vec::with_capacity(out.len());
            self.carry(out, &mut kept);
            out = kept;
        }
        self.bound(out)
    }

    /// Moves the paths of `from` on to `out`, but for those that ended the script (`exit`
    /// outside a subshell), which are recorded now rather than carried.
    fn carry(&mut self, from: Paths, out: &mut Paths) {
        for (s, fl) in from {
            if ends_script(&s, fl) {
                self.end_path(s, fl);
            } else {
                out.push((s, fl));
            }
        }
    }

    /// Keeps the number of paths bounded: merges paths at the same point under pressure,
    /// then drops the lightest beyond `max_paths`.
    pub(crate) fn bound(&mut self, mut paths: Paths) -> Paths {
        if paths.len() > 1 {
            let lossy = paths.len() > (self.limits.max_paths / 16).max(2);
            let (merged, dropped) = merge::merge_paths(paths, lossy);
            paths = merged;
            if dropped > 0 {
                self.diag(format!(
                    "arrays differing in many ways: {dropped} unlikely variants dropped"
                ));
            }
        }
        if paths.len() > self.limits.max_paths {
            self.cap(format!(
                "path cap of {} reached: {} paths dropped",
                self.limits.max_paths,
                paths.len() - self.limits.max_paths
            ));
            paths.sort_by(|a, b| b.0.weight.total_cmp(&a.0.weight));
            paths.truncate(self.limits.max_paths);
        }
        paths
    }

    /// The source text of a span, when the file's text is known. brush-parser counts
    /// positions in characters, not bytes: past a `≥` in a comment, slicing the bytes would
    /// cut the snippet short of its start.
    pub(crate) fn snippet(&self, file: &str, span: Option<&parse::SourceSpan>) -> Option<String> {
        let span = span?;
        let (text, ascii) = self.texts.get(file)?;
        let (from, to) = (span.start.index, span.end.index);
        if *ascii {
            return text.get(from..to).map(str::to_string);
        }
        (from <= to).then(|| text.chars().skip(from).take(to - from).collect())
    }

    /// Keeps a file's text for [`Interp::snippet`].
    pub(crate) fn keep_text(&mut self, file: &str, text: Rc<str>) {
        let ascii = text.is_ascii();
        self.texts.insert(file.to_string(), (text, ascii));
    }

    /// Parses `text` once per analysis (programs stay alive for the whole analysis).
    pub(crate) fn parse_cached(
        &mut self,
        file: &str,
        text: &str,
    ) -> Result<Rc<ast::Program>, parse::ParseError> {
        if let Some(p) = self.parsed.get(text) {
            return Ok(Rc::clone(p));
        }
        let budget = std::time::Duration::from_millis(self.limits.max_parse_ms);
        let (mut p, fast) = parse::parse_program_traced(file, text, budget)?;
        if self.parsed.len() >= 4096 {
            return Ok(Rc::new(p));
        }
        let before = self.bodies.len();
        take_bodies(&mut p, &mut self.bodies);
        self.bodies_fast &= fast || self.bodies.len() == before;
        let p = Rc::new(p);
        self.parsed.insert(text.to_string(), Rc::clone(&p));
        Ok(p)
    }

    /// Counts one step; false once the step cap is exceeded.
    /// Once the cap is hit every later call fails too (the paths still alive each end at
    /// their next command), and the count stays at `max_steps + 1`.
    pub(crate) fn step(&mut self) -> bool {
        self.steps = (self.steps + 1).min(self.limits.max_steps + 1);
        if self.steps > self.limits.max_steps {
            let msg = format!(
                "step cap of {} reached: analysis stopped",
                self.limits.max_steps
            );
            self.cap(msg);
            return false;
        }
        true
    }

    /// Runs a compound list.
    pub(crate) fn run_list(&mut self, st: State, list: &ast::CompoundList) -> Paths {
        let Some((first, rest)) = list.0.split_first() else {
            return vec![(st, Flow::Normal)];
        };
        let mut paths = self.seq_one(st, |me, s| me.run_item(s, first));
        for item in rest {
            paths = self.seq(paths, |me, s| me.run_item(s, item));
        }
        paths
    }

    fn run_item(&mut self, st: State, item: &ast::CompoundListItem) -> Paths {
        match item.1 {
            ast::SeparatorOperator::Async => self.run_background(st, &item.0),
            ast::SeparatorOperator::Sequence => self.run_andor(st, &item.0),
        }
    }

    /// `a && b || c`, with `set -e` applied to the last pipeline only.
    fn run_andor(&mut self, st: State, list: &ast::AndOrList) -> Paths {
        let n = list.additional.len();
        let mut paths = self.run_pipe_in(st, &list.first, n > 0);
        let mut prev = &list.first;
        for (i, next) in list.additional.iter().enumerate() {
            let (want_ok, pipe) = match next {
                ast::AndOr::And(p) => (true, p),
                ast::AndOr::Or(p) => (false, p),
            };
            let mut out = Vec::new();
            for (s, flow) in paths {
                if flow != Flow::Normal {
                    out.push((s, flow));
                    continue;
                }
                let location = self.loc(&s, ast::SourceLocation::location(prev));
                let (yes, no) = self.branch(s, &|| short(&pipeline_text(prev)), location);
                let (run, skip) = if want_ok { (yes, no) } else { (no, yes) };
                out.extend(skip.into_iter().map(|s| (s, Flow::Normal)));
                for s in run {
                    out.extend(self.run_pipe_in(s, pipe, i + 1 < n));
                }
            }
            prev = pipe;
            paths = self.bound(out);
        }
        paths
    }

    /// Runs a pipeline, in a condition context (where `set -e` does not apply) when `cond`.
    pub(crate) fn run_pipe_in(&mut self, mut st: State, pipe: &ast::Pipeline, cond: bool) -> Paths {
        if cond {
            st.cond_depth += 1;
        }
        let mut paths = self.run_pipeline(st, pipe);
        if cond {
            for (s, _) in paths.iter_mut() {
                s.cond_depth = s.cond_depth.saturating_sub(1);
            }
        }
        paths
    }

    /// Splits a path on its last status: (succeeded, failed). Unknown statuses fork, with
    /// evidence naming the test by `what` (already shortened, see [`short`]).
    pub(crate) fn branch(
        &mut self,
        mut st: State,
        what: &dyn Fn() -> String,
        location: Option<Location>,
    ) -> (Vec<State>, Vec<State>) {
        // Taken out (not cloned): the known arms put it back.
        match std::mem::replace(&mut st.status, Status::OK) {
            Status::Known(0) => {
                st.pending = None;
                (vec![st], vec![])
            }
            Status::Known(n) => {
                st.status = Status::Known(n);
                st.pending = None;
                (vec![], vec![st])
            }
            Status::Unknown(why) => {
                let what = what();
                let what = what.as_str();
                let refine = st.pending.take();
                // What the test is about may make one side likelier: it ranks first and its
                // evidence is kept when both sides meet again.
                let yes_share = refine.as_ref().map_or(0.5, state::Refine::share_of_true);
                let weight = st.weight;
                st.weight = weight * yes_share;
                let mut no = st.clone();
                no.weight = weight * (1.0 - yes_share);
                if let Some(r) = refine {
                    r.apply(&mut st, true);
                    r.apply(&mut no, false);
                }
                let why = why.as_str();
                st.assume(concat(&["`", what, "` succeeds (", why, ")"]));
                st.reason(
                    concat(&["assumed `", what, "` succeeds: ", why]),
                    location.clone(),
                );
                st.status = Status::OK;
                no.assume(concat(&["`", what, "` fails (", why, ")"]));
                no.reason(concat(&["assumed `", what, "` fails: ", why]), location);
                no.status = Status::FAIL;
                (vec![st], vec![no])
            }
        }
    }

    fn run_pipeline(&mut self, mut st: State, pipe: &ast::Pipeline) -> Paths {
        if pipe.bang {
            st.cond_depth += 1;
        }
        let mut paths = if pipe.seq.len() == 1 {
            self.run_command(st, &pipe.seq[0])
        } else {
            // Each command runs in a subshell; what one writes (when the interpreter knows
            // it) is the next one's standard input, so `printf … | while read` reads lines.
            let mut status = Status::OK;
            let mut input = st.stdin.clone();
            let last = pipe.seq.len().saturating_sub(1);
            for (i, cmd) in pipe.seq.iter().enumerate() {
                let feed = input.take();
                let capture = i < last || st.stdout.is_some();
                let (s, out) = self.subshell(&mut st, |me, mut s| {
                    s.stdin = feed;
                    if capture {
                        s.stdout = Some(Val::default());
                    }
                    me.run_command(s, cmd)
                });
                status = s;
                if i < last {
                    input = out;
                } else if let (Some(buf), Some(out)) = (st.stdout.as_mut(), out) {
                    buf.push(&out);
                }
            }
            st.status = status;
            vec![(st, Flow::Normal)]
        };
        for (s, flow) in paths.iter_mut() {
            if pipe.bang {
                s.pending = s.pending.take().map(state::Refine::negate);
                s.cond_depth = s.cond_depth.saturating_sub(1);
                s.status = match &s.status {
                    Status::Known(0) => Status::FAIL,
                    Status::Known(_) => Status::OK,
                    u => u.clone(),
                };
            } else if *flow == Flow::Normal {
                self.errexit(s, flow, pipe);
            }
        }
        paths
    }

    /// `set -e`: a command known to fail outside a condition ends the path.
    fn errexit(&mut self, s: &mut State, flow: &mut Flow, pipe: &ast::Pipeline) {
        if s.errexit && s.cond_depth == 0 {
            if let Status::Known(n) = s.status {
                if n != 0 {
                    let loc = self.loc(s, ast::SourceLocation::location(pipe));
                    s.reason(
                        format!(
                            "set -e: `{}` fails (status {n}): the script ends",
                            short(&pipe.to_string())
                        ),
                        loc,
                    );
                    *flow = Flow::Exit;
                }
            }
        }
    }

    /// Runs `f` in a subshell of `st`: its changes do not reach `st`. Returns the status and
    /// the captured output (when capturing) over all the subshell's paths.
    pub(crate) fn subshell(
        &mut self,
        st: &mut State,
        f: impl FnOnce(&mut Self, State) -> Paths,
    ) -> (Status, Option<Val>) {
        let mut sub = st.clone();
        sub.subshell += 1;
        sub.reasons = Default::default();
        let paths = f(self, sub);
        // What the subshell's outcome rests on (an assumed capability set read by
        // `setpriv -d | grep`), the parent rests on too.
        let base = st.assumptions.len();
        for (s, _) in &paths {
            if s.assumptions.len() > base {
                for a in s.assumptions.since(base) {
                    st.assume(a);
                }
            }
        }
        merge_outcomes(&paths)
    }

    fn run_command(&mut self, st: State, cmd: &ast::Command) -> Paths {
        if let Some(read) = self.split_needed(&st, cmd) {
            let parts = match read {
                None => merge::split_all(st),
                Some(names) => merge::split_on(st, &names),
            };
            let mut out = Vec::new();
            for s in parts {
                out.extend(self.run_command(s, cmd));
            }
            return out;
        }
        match cmd {
            ast::Command::Simple(sc) if redirects_input(sc) => {
                // `read x < file` reads from the file for this command only.
                let saved = st.stdin.clone();
                let mut paths = self.run_simple(st, sc);
                for (s, _) in paths.iter_mut() {
                    s.stdin.clone_from(&saved);
                }
                paths
            }
            ast::Command::Simple(sc) => self.run_simple(st, sc),
            ast::Command::Compound(c, redirects) => {
                let mut st = st;
                let Some(r) = redirects else {
                    return self.run_compound(st, c);
                };
                // Input redirected for the compound (`while read …; done < file`) lasts as
                // long as it runs.
                let saved = st.stdin.clone();
                self.apply_redirects(&mut st, &r.0);
                let mut paths = self.run_compound(st, c);
                for (s, _) in paths.iter_mut() {
                    s.stdin.clone_from(&saved);
                }
                paths
            }
            ast::Command::Function(def) => {
                let mut st = st;
                let key = (std::ptr::from_ref(def) as usize, st.file.clone());
                let func = match self.func_cache.get(&key) {
                    Some(f) => Rc::clone(f),
                    None => {
                        let kept = self.bodies.get(&key.0).cloned();
                        let func = Rc::new(state::Func {
                            body: kept.clone().unwrap_or_else(|| Rc::new(def.body.clone())),
                            file: std::sync::Arc::clone(&st.file),
                        });
                        if kept.is_some() {
                            self.func_cache.insert(key, Rc::clone(&func));
                        }
                        func
                    }
                };
                Rc::make_mut(&mut st.funcs).insert(def.fname.value.clone(), func);
                st.status = Status::OK;
                vec![(st, Flow::Normal)]
            }
            ast::Command::ExtendedTest(t, _) => {
                let mut st = st;
                if !self.step() {
                    return Vec::new();
                }
                let r = self.eval_ext_test(&mut st, &t.expr);
                st.status = r.status();
                vec![(st, Flow::Normal)]
            }
        }
    }

    /// The names `cmd`'s own words mention (see [`Interp::split_needed`]), worked out once
    /// per node. Given by reference: the entries' filters are read on every command a join
    /// passes, and counting a shared copy in and out cost a cache miss each (`perf`).
    fn cmd_words_of<'w>(
        &'w mut self,
        cmd: &ast::Command,
        owned: &'w mut Option<CmdWords>,
    ) -> &'w CmdWords {
        if self.parsed.len() >= 4096 {
            // Programs stay alive for the whole analysis (see `parsed`), so a node's
            // address names it; past the cap they may not, and nothing is cached.
            return owned.insert(CmdWords::of_command(cmd));
        }
        let key = std::ptr::from_ref(cmd) as usize;
        self.cmd_words
            .entry(key)
            .or_insert_with(|| CmdWords::of_command(cmd))
    }

    /// Whether `st`'s deferred join must split before `cmd`: `None` when `cmd` reads none of
    /// the variables its members (or those of a join it nests over) disagree on; else the
    /// ones it reads (`Some(None)`: any).
    ///
    /// What `cmd` may read before any command nested in it runs: the words of a simple
    /// command or a `[[ ]]` test; the header of a compound command (`case` word and patterns,
    /// `for` words, arithmetic); redirections. It may read any variable when that cannot be
    /// told from its words: `exec`, whose environment is the candidate's; `${!prefix@}`;
    /// `env`/`printenv`; an indirection through a variable that is not known. Nested
    /// commands, function bodies, sourced files and `eval`'d text are judged when they run.
    fn split_needed(&mut self, st: &State, cmd: &ast::Command) -> Option<Option<Vec<Rc<str>>>> {
        let d = st.deferred.as_ref()?;
        // The names it reads, kept only where the join differs.
        let mut owned = None;
        let words = self.cmd_words_of(cmd, &mut owned);
        if words.all {
            return Some(None);
        }
        let meets = d.filter().meets(&words.filter);
        if !meets && !words.indirect {
            return None;
        }
        let mut hit: Vec<Rc<str>> = if meets {
            words.names().filter(|n| d.holds(n)).map(Rc::from).collect()
        } else {
            Vec::new()
        };
        for n in words.indirect() {
            if let Some(v) = st.get(n) {
                let Some(target) = v.scalar().known() else {
                    return Some(None);
                };
                if !target.is_empty() && d.holds(&target) {
                    hit.push(Rc::from(target.as_str()));
                }
            }
        }
        (!hit.is_empty()).then_some(Some(hit))
    }

    fn run_background(&mut self, st: State, list: &ast::AndOrList) -> Paths {
        if st.deferred.is_some() {
            let mut out = Vec::new();
            for s in merge::split_all(st) {
                out.extend(self.run_background(s, list));
            }
            return out;
        }
        let mut st = st;
        let single = list.additional.is_empty() && list.first.seq.len() == 1;
        if let (true, Some(ast::Command::Simple(sc))) = (single, list.first.seq.first()) {
            let before = st.last_fg.take();
            let mut out = Vec::new();
            st.in_background = true;
            for (mut s, flow) in self.run_simple(st, sc) {
                s.in_background = false;
                if let Some(rec) = s.last_fg.take() {
                    Rc::make_mut(&mut s.background).push(Rc::unwrap_or_clone(rec));
                }
                s.last_fg = before.clone();
                s.status = Status::OK;
                out.push((
                    s,
                    if flow == Flow::Exit {
                        Flow::Normal
                    } else {
                        flow
                    },
                ));
            }
            return out;
        }
        let _ = self.subshell(&mut st, |me, s| me.run_andor(s, list));
        self.diag(
            "a compound command runs in the background; its children are not followed".into(),
        );
        st.status = Status::OK;
        vec![(st, Flow::Normal)]
    }
}

/// A pipeline as written, with its `!` (which brush keeps outside the pipeline's text).
pub(crate) fn pipeline_text(pipe: &ast::Pipeline) -> String {
    with_bang(pipe.to_string(), pipe.bang)
}

/// The text of a command or condition, with the `!` its span leaves out when `bang`.
pub(crate) fn with_bang(text: String, bang: bool) -> String {
    if bang && !text.trim_start().starts_with('!') {
        format!("! {text}")
    } else {
        text
    }
}

/// Whether a value names a specific word or part of one (see [`crate::pattern::is_specific`]):
/// an unknown value compared with it is rarely equal.
pub(crate) fn specific(v: &Val) -> bool {
    v.as_known()
        .is_some_and(|t| crate::pattern::is_specific(&t))
}

/// Whether a simple command redirects its standard input.
fn redirects_input(sc: &ast::SimpleCommand) -> bool {
    let prefix = sc.prefix.iter().flat_map(|p| p.0.iter());
    let suffix = sc.suffix.iter().flat_map(|p| p.0.iter());
    prefix.chain(suffix).any(|it| match it {
        ast::CommandPrefixOrSuffixItem::IoRedirect(r) => external::reads_stdin(r),
        _ => false,
    })
}

/// Calls `f` with the text of what a command evaluates itself (see
/// [`Interp::split_needed`]): a simple command's words one by one, where they are.
fn own_words(cmd: &ast::Command, f: &mut impl FnMut(&str)) {
    use ast::CompoundCommand as C;
    match cmd {
        ast::Command::Simple(sc) => each_simple_word(sc, f),
        ast::Command::ExtendedTest(..) => f(&cmd.to_string()),
        ast::Command::Function(_) => {}
        ast::Command::Compound(c, redirects) => {
            let mut t = match c {
                C::Arithmetic(a) => a.expr.value.clone(),
                C::ArithmeticForClause(f) => [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                    .map(|e| e.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" ; "),
                C::ForClause(f) => f
                    .values
                    .iter()
                    .flatten()
                    .map(|w| w.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                C::CaseClause(c) => {
                    let mut t = c.value.value.clone();
                    for p in c.cases.iter().flat_map(|i| i.patterns.iter()) {
                        t.push(' ');
                        t.push_str(&p.value);
                    }
                    t
                }
                C::Coprocess(_) => "exec".into(),
                C::BraceGroup(_)
                | C::Subshell(_)
                | C::IfClause(_)
                | C::WhileClause(_)
                | C::UntilClause(_) => String::new(),
            };
            if let Some(r) = redirects {
                t.push(' ');
                t.push_str(&r.to_string());
            }
            f(&t);
        }
    }
}

/// The source text of a simple command's words, one space between each: the names in it
/// are those of its `Display` text (which [`CmdWords::of`] used to read), at a fraction of
/// the cost (`Display` goes through the formatting machinery once per word, about 1,300
/// instructions a command). Operators (`>`, `<<`) are left out: they hold no names. Kept for
/// the test that holds it and [`CmdWords::of_command`] against the `Display` text.
#[cfg(test)]
fn simple_words(sc: &ast::SimpleCommand) -> String {
    let mut t = String::with_capacity(128);
    each_simple_word(sc, &mut |s| {
        t.push_str(s);
        t.push(' ');
    });
    t
}

/// Calls `f` with each word of a simple command that it evaluates itself (see
/// [`own_words`]), in order.
fn each_simple_word(sc: &ast::SimpleCommand, f: &mut impl FnMut(&str)) {
    use ast::CommandPrefixOrSuffixItem as I;
    use ast::IoFileRedirectTarget as T;
    use ast::IoRedirect as R;
    fn item(it: &I, f: &mut impl FnMut(&str)) {
        match it {
            I::Word(w) | I::AssignmentWord(_, w) => f(&w.value),
            I::IoRedirect(R::File(_, _, T::Filename(w) | T::Duplicate(w)))
            | I::IoRedirect(R::HereString(_, w))
            | I::IoRedirect(R::OutputAndError(w, _)) => f(&w.value),
            I::IoRedirect(R::File(_, _, T::Fd(_))) => {}
            I::IoRedirect(R::HereDocument(_, h)) => {
                f(&h.here_end.value);
                f(&h.doc.value);
            }
            other => f(&other.to_string()),
        }
    }
    for it in sc.prefix.iter().flat_map(|p| p.0.iter()) {
        item(it, f);
    }
    if let Some(w) = &sc.word_or_name {
        f(&w.value);
    }
    for it in sc.suffix.iter().flat_map(|p| p.0.iter()) {
        item(it, f);
    }
}

/// Moves the bodies of `program`'s function definitions into `out`, by the address of
/// their definition node, leaving an empty brace group in their place: a definition then
/// shares its body rather than copying it (about 1,400 allocations an analysis of the long
/// bench script, and as many frees). Only for programs kept for the whole analysis: their
/// nodes sit in the heap buffers of the `Vec`s that hold them, so the addresses stay put
/// and are not reused while the analysis runs.
///
/// Definitions are taken where the interpreter never prints the text around them: not in
/// `for` bodies (read back as text for the loop variable), in conditions (the reasons'
/// fallback text), or in other function bodies (read back as text in `for` loops that call
/// them). Those are copied when they run, as before.
fn take_bodies(program: &mut ast::Program, out: &mut FastMap<usize, Rc<ast::FunctionBody>>) {
    for list in &mut program.complete_commands {
        take_bodies_in(list, out);
    }
}

fn take_bodies_in(list: &mut ast::CompoundList, out: &mut FastMap<usize, Rc<ast::FunctionBody>>) {
    use ast::CompoundCommand as C;
    for ast::CompoundListItem(ao, _) in &mut list.0 {
        let rest = ao.additional.iter_mut().map(|a| match a {
            ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
        });
        for pipeline in std::iter::once(&mut ao.first).chain(rest) {
            for cmd in &mut pipeline.seq {
                match cmd {
                    ast::Command::Function(def) => {
                        let key = std::ptr::from_ref::<ast::FunctionDefinition>(def) as usize;
                        let loc = match &def.body.0 {
                            C::BraceGroup(b) => b.loc.clone(),
                            _ => continue,
                        };
                        let empty = ast::FunctionBody(
                            C::BraceGroup(ast::BraceGroupCommand {
                                list: ast::CompoundList(Vec::new()),
                                loc,
                            }),
                            None,
                        );
                        out.insert(key, Rc::new(std::mem::replace(&mut def.body, empty)));
                    }
                    ast::Command::Compound(c, _) => match c {
                        C::BraceGroup(b) => take_bodies_in(&mut b.list, out),
                        C::Subshell(s) => take_bodies_in(&mut s.list, out),
                        C::IfClause(i) => {
                            take_bodies_in(&mut i.then, out);
                            for e in i.elses.iter_mut().flatten() {
                                take_bodies_in(&mut e.body, out);
                            }
                        }
                        C::WhileClause(w) | C::UntilClause(w) => take_bodies_in(&mut w.1.list, out),
                        C::CaseClause(c) => {
                            for item in &mut c.cases {
                                if let Some(l) = &mut item.cmd {
                                    take_bodies_in(l, out);
                                }
                            }
                        }
                        C::ForClause(_)
                        | C::ArithmeticForClause(_)
                        | C::Arithmetic(_)
                        | C::Coprocess(_) => {}
                    },
                    ast::Command::Simple(_) | ast::Command::ExtendedTest(..) => {}
                }
            }
        }
    }
}

/// The names a command's own words mention, for [`Interp::split_needed`]: ranges of one
/// text holding each distinct name once, rather than a string each (about 2,500 allocations
/// an analysis of the long bench script), and a filter of them all, so that a command whose
/// names miss a join's filter is passed without looking at each.
#[derive(Debug)]
pub(crate) struct CmdWords {
    /// The filter of the names.
    filter: state::NameFilter,
    /// What it reads cannot be told from its words.
    all: bool,
    /// Whether it reads a name through another (`${!name}`).
    indirect: bool,
    /// The names and where they are, read only when the filter meets a join's or a name
    /// is read through: kept out of line, so that the map holding these stays small.
    spans: Box<WordSpans>,
    /// Whether every block of `spans` was carved by the arena's open scope (see
    /// [`Interp::finish`]).
    arena_only: bool,
}

/// The words' text and the ranges of the names in it.
#[derive(Debug)]
struct WordSpans {
    text: String,
    /// Every name-like word (`[A-Za-z_][A-Za-z0-9_]*`), once each.
    names: Vec<(u32, u32)>,
    /// Names read through (`${!name}`).
    indirect: Vec<(u32, u32)>,
}

impl CmdWords {
    /// The names in one text.
    #[cfg(test)]
    fn of(text: String) -> Self {
        let mut b = WordsBuilder::new();
        b.add(&text);
        b.finish()
    }

    /// The names `cmd`'s own words mention (see [`own_words`]).
    fn of_command(cmd: &ast::Command) -> Self {
        let mut b = WordsBuilder::new();
        own_words(cmd, &mut |w| b.add(w));
        b.finish()
    }

    /// The names, once each.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.spans.names.iter().map(|r| self.spans.at(r))
    }

    /// The names read through.
    fn indirect(&self) -> impl Iterator<Item = &str> {
        self.spans.indirect.iter().map(|r| self.spans.at(r))
    }
}

/// Gathers the names of a command's words for [`CmdWords`]: `text` holds each distinct
/// name once, back to back, and the ranges point into it.
struct WordsBuilder {
    text: String,
    names: Vec<(u32, u32)>,
    indirect: Vec<(u32, u32)>,
    filter: state::NameFilter,
    all: bool,
}

impl WordsBuilder {
    /// Room for the few names most commands mention, so that they rarely grow.
    fn new() -> Self {
        WordsBuilder {
            text: String::with_capacity(48),
            names: Vec::with_capacity(8),
            indirect: Vec::new(),
            filter: state::NameFilter::default(),
            all: false,
        }
    }

    /// Every name-like run (`[A-Za-z_][A-Za-z0-9_]*`) of `word`.
    fn add(&mut self, word: &str) {
        let b = word.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !parse::name_start(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && parse::name_char(b[i]) {
                i += 1;
            }
            let w = &word[start..i];
            self.all |= matches!(w, "exec" | "env" | "printenv" | "compgen");
            let through = word[..start].ends_with("${!");
            // `${!prefix@}` / `${!prefix*}` list every variable with the prefix.
            self.all |= through && matches!(b.get(i), Some(b'@' | b'*'));
            let text = &self.text;
            let r = match self
                .names
                .iter()
                .find(|r| &text[r.0 as usize..r.1 as usize] == w)
            {
                Some(r) => *r,
                None => {
                    // The names are cut from a command's words: past 4 GiB of them, the
                    // command is not read.
                    let (Ok(from), Ok(to)) = (
                        u32::try_from(self.text.len()),
                        u32::try_from(self.text.len() + w.len()),
                    ) else {
                        self.all = true;
                        return;
                    };
                    self.text.push_str(w);
                    self.names.push((from, to));
                    self.filter.add(w);
                    (from, to)
                }
            };
            if through && !self.indirect.contains(&r) {
                self.indirect.push(r);
            }
        }
    }

    fn finish(self) -> CmdWords {
        let WordsBuilder {
            text,
            names,
            indirect,
            filter,
            all,
        } = self;
        let ours = |p: *const u8, cap: usize| cap == 0 || crate::arena::ours(p);
        let arena_only = ours(text.as_ptr(), text.capacity())
            && ours(names.as_ptr().cast(), names.capacity())
            && ours(indirect.as_ptr().cast(), indirect.capacity());
        let spans = Box::new(WordSpans {
            text,
            names,
            indirect,
        });
        CmdWords {
            filter,
            all,
            indirect: !spans.indirect.is_empty(),
            arena_only: arena_only && crate::arena::ours(std::ptr::from_ref(&*spans).cast()),
            spans,
        }
    }
}

impl WordSpans {
    fn at(&self, r: &(u32, u32)) -> &str {
        &self.text[r.0 as usize..r.1 as usize]
    }
}

/// Combines the outcomes of a subshell's paths.
fn merge_outcomes(paths: &Paths) -> (Status, Option<Val>) {
    let mut status: Option<Status> = None;
    let mut out: Option<Option<Val>> = None;
    for (s, _) in paths {
        status = Some(match status {
            None => s.status.clone(),
            Some(prev) if prev == s.status => prev,
            Some(_) => Status::Unknown("the outcome of a subshell varies".into()),
        });
        out = Some(match out {
            None => s.stdout.clone(),
            Some(prev) if prev == s.stdout => prev,
            Some(_) => Some(Val::unknown("$(…)", "output differs between paths")),
        });
    }
    let status = status.unwrap_or(Status::Unknown("no path leaves the subshell".into()));
    (status, out.flatten())
}

/// Whether a path that left a command with `flow` has ended the script.
fn ends_script(st: &State, flow: Flow) -> bool {
    flow == Flow::Exit && st.subshell == 0
}

/// Shortens command text for messages.
pub(crate) fn short(s: &str) -> String {
    // The words joined by single spaces; past 80 characters, the first 79 and an ellipsis.
    if s.is_ascii() {
        // A character a byte: words copied whole, split where `split_whitespace` splits
        // ASCII text (tab to carriage return, and space).
        let mut one = String::with_capacity(s.len().min(84));
        let words = s.split(|c| matches!(c, '\t'..='\r' | ' '));
        for w in words.filter(|w| !w.is_empty()) {
            if !one.is_empty() {
                one.push(' ');
            }
            one.push_str(w);
            // ASCII, so the cut is at a character boundary.
            if one.len() > 80 {
                one.truncate(79);
                one.push('…');
                break;
            }
        }
        return one;
    }
    let chars = s
        .split_whitespace()
        .enumerate()
        .flat_map(|(i, w)| (i > 0).then_some(' ').into_iter().chain(w.chars()));
    let mut one = String::with_capacity(s.len().min(84));
    for (n, c) in chars.enumerate() {
        if n == 80 {
            one.pop();
            one.push('…');
            break;
        }
        one.push(c);
    }
    one
}

/// A user name or uid for messages.
pub(crate) fn who(u: &User) -> String {
    u.display()
}

/// The bench's 1,000-line script, whose commands a test reads.
#[cfg(test)]
#[path = "../../tests/common/long_script.rs"]
mod long_script;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::long_script;

    /// The simple commands of one line, when it parses alone.
    fn simple_commands(line: &str) -> Vec<crate::parse::ast::SimpleCommand> {
        use crate::parse::ast;
        let Ok(p) = crate::parse::parse_program("t.sh", line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for cc in &p.complete_commands {
            for ast::CompoundListItem(ao, _) in &cc.0 {
                for pl in std::iter::once(&ao.first).chain(ao.additional.iter().map(|a| match a {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
                })) {
                    for c in &pl.seq {
                        if let ast::Command::Simple(sc) = c {
                            out.push(sc.clone());
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_simple_commands_words_name_what_its_display_text_names() {
        // Every line of the corpus scripts and of the bench script that parses alone, and
        // commands with every kind of redirection.
        let mut text = long_script::long_script(1000);
        for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus")).unwrap() {
            text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
        let mut units: Vec<&str> = text.lines().collect();
        units.push("cat > \"/tmp/c.$N\" <<EOF\nlisten ${L:-0}\nEOF\n");
        units.push("cat <<-'EOF' 3<&0 4>&-\n\t$Q\n\tEOF\n");
        units.push("x=1 y=\"${!ref}\" cmd 2>&1 >>\"$LOG\" <<< \"$IN\" &> \"$ALL\" <(a \"$P\")");
        units.push("a=( \"$A\" b ) exec env \"${!PRE@}\" >& \"$D\"");
        let mut seen = 0;
        for line in units {
            for sc in simple_commands(line) {
                let by_display = super::CmdWords::of(sc.to_string());
                let by_words = super::CmdWords::of(super::simple_words(&sc));
                let by_command =
                    super::CmdWords::of_command(&crate::parse::ast::Command::Simple(sc.clone()));
                let sorted = |w: &super::CmdWords| {
                    let mut n: Vec<String> = w.names().map(str::to_string).collect();
                    n.sort();
                    let mut i: Vec<String> = w.indirect().map(str::to_string).collect();
                    i.sort();
                    (n, i, w.all)
                };
                assert_eq!(sorted(&by_display), sorted(&by_words), "{line}");
                assert_eq!(sorted(&by_display), sorted(&by_command), "{line}");
                seen += 1;
            }
        }
        assert!(seen > 700, "only {seen} simple commands checked");
    }

    /// The plain statement of [`super::short`]: join, then cut.
    fn short_spec(s: &str) -> String {
        let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > 80 {
            format!("{}…", one.chars().take(79).collect::<String>())
        } else {
            one
        }
    }

    #[test]
    fn short_joins_words_and_cuts_at_eighty_characters() {
        assert_eq!(super::short("  a \n\tb  "), "a b");
        let long = "x".repeat(79) + " y";
        assert_eq!(super::short(&long), "x".repeat(79) + "…");
        let exact = "é".repeat(80);
        assert_eq!(super::short(&exact), exact);
    }

    proptest! {
        #[test]
        fn short_agrees_with_its_statement(s in "[a-zé \\t\\n]{0,200}") {
            prop_assert_eq!(super::short(&s), short_spec(&s));
        }
    }
}
