//! Compound commands (XCU 2.9.4): `if`, `case`, loops, groups, subshells, `(( ))`, and
//! function calls with their own positionals and `local` frames.
//!
//! Loops run iteration by iteration. Iterations whose outcome is known (a `for` over known
//! words, a `while` over `$#`) run as far as they go (at most [`MAX_ITERATIONS`]); those that
//! fork count against `Limits::max_unroll`. When the paths starting an iteration are those
//! that started the one before, the loop repeats: a `while` keeps the ways out already seen
//! (a retry loop waiting for a server), a `for` whose body does not read its variable jumps
//! to its last word. A `while` that forks without repeating (a countdown) has the variables
//! that change widened to unknown once; a loop still running past the bound is summarised
//! (the path leaves it, with a diagnostic). Case patterns with unknown subjects fork.

use std::rc::Rc;

use crate::parse::{self, ast};
use crate::pattern;
use crate::value::Val;

use super::state::{Frame, State, Status};
use super::{arith, concat, merge, short, Flow, Interp, Paths};

impl Interp<'_> {
    pub(super) fn run_compound(&mut self, st: State, c: &ast::CompoundCommand) -> Paths {
        use ast::CompoundCommand as C;
        match c {
            C::BraceGroup(b) => self.run_list(st, &b.list),
            C::Subshell(sub) => {
                let mut st = st;
                let (status, out) = self.subshell(&mut st, |me, s| me.run_list(s, &sub.list));
                st.status = status;
                if let (Some(buf), Some(o)) = (st.stdout.as_mut(), out) {
                    *buf = o;
                }
                vec![(st, Flow::Normal)]
            }
            C::IfClause(i) => self.run_if(st, i),
            C::CaseClause(c) => self.run_case(st, c),
            C::ForClause(f) => self.run_for(st, f),
            C::WhileClause(w) => self.run_while(st, w, false),
            C::UntilClause(w) => self.run_while(st, w, true),
            C::Arithmetic(a) => {
                let mut st = st;
                st.status = match arith::eval_text(&mut st, &a.expr.value, 0) {
                    Some(v) => Status::from_bool(v != 0),
                    None => {
                        Status::Unknown(format!("(( {} )) depends on unknown values", a.expr.value))
                    }
                };
                vec![(st, Flow::Normal)]
            }
            C::ArithmeticForClause(_) | C::Coprocess(_) => {
                self.diag("arithmetic for loops and coprocesses are not followed".into());
                let mut st = st;
                st.status = Status::OK;
                vec![(st, Flow::Normal)]
            }
        }
    }

    /// Runs a condition list and splits its paths into (true, false), with reasons.
    fn run_cond(&mut self, st: State, cond: &ast::CompoundList) -> (Vec<State>, Vec<State>, Paths) {
        let (text, location) = self.cond_text(&st, cond);
        let mut st = st;
        st.cond_depth += 1;
        let paths = self.run_list(st, cond);
        let n = paths.len();
        let (mut yes, mut no, mut other) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
        for (mut s, flow) in paths {
            s.cond_depth = s.cond_depth.saturating_sub(1);
            if flow != Flow::Normal {
                other.push((s, flow));
                continue;
            }
            let decided = matches!(s.status, Status::Known(_));
            let (y, n) = self.branch(s, &|| text.to_string(), location.clone());
            for mut s in y {
                if decided {
                    s.reason(concat(&["`", &text, "` is true"]), location.clone());
                }
                yes.push(s);
            }
            for mut s in n {
                if decided {
                    s.reason(concat(&["`", &text, "` is false"]), location.clone());
                }
                no.push(s);
            }
        }
        (yes, no, other)
    }

    /// The text of a condition for reasons (one line, shortened, with its `!`) and its
    /// location, built once per condition and file (see [`Interp::cond_texts`]).
    fn cond_text(
        &mut self,
        st: &State,
        cond: &ast::CompoundList,
    ) -> (Rc<str>, Option<crate::Location>) {
        let key = (
            std::ptr::from_ref(cond) as usize,
            std::sync::Arc::clone(&st.file),
        );
        if let Some((text, location)) = self.cond_texts.get(&key) {
            return (Rc::clone(text), location.clone());
        }
        let span = ast::SourceLocation::location(cond);
        let text = self
            .snippet(&st.file, span.as_ref())
            .unwrap_or_else(|| cond.to_string());
        // The span of a negated condition starts after its `!`: the reasons must keep it.
        let bang = cond.0.first().is_some_and(|item| item.0.first.bang);
        let text: Rc<str> = Rc::from(short(&super::with_bang(text, bang)));
        let location = self.loc(st, span);
        if self.parsed.len() < 4096 && self.cond_texts.len() < 4096 {
            // Programs stay alive for the whole analysis (see `Interp::parsed`), so a node's
            // address names it; past the cap they may not, and nothing is cached.
            self.cond_texts
                .insert(key, (Rc::clone(&text), location.clone()));
        }
        (text, location)
    }

    fn run_if(&mut self, st: State, i: &ast::IfClauseCommand) -> Paths {
        let (yes, no, mut out) = self.run_cond(st, &i.condition);
        for s in yes {
            out.extend(self.run_list(s, &i.then));
        }
        let mut pending = no;
        for e in i.elses.iter().flatten() {
            let mut next = Vec::new();
            for s in pending {
                match &e.condition {
                    Some(c) => {
                        let (y, n, o) = self.run_cond(s, c);
                        out.extend(o);
                        for s in y {
                            out.extend(self.run_list(s, &e.body));
                        }
                        next.extend(n);
                    }
                    None => out.extend(self.run_list(s, &e.body)),
                }
            }
            pending = next;
        }
        for mut s in pending {
            s.status = Status::OK;
            out.push((s, Flow::Normal));
        }
        self.bound(out)
    }

    fn run_case(&mut self, st: State, c: &ast::CaseClauseCommand) -> Paths {
        let mut st = st;
        let subject = self.expand_str(&mut st, &c.value.value);
        let Some((name, values)) = value_set(&st, &subject) else {
            return self.run_case_on(st, subject, c);
        };
        // `case "$x"` on a value set: one path per value, each deciding the case itself.
        let location = self.loc(&st, Some(c.loc.clone()));
        let mut out = Vec::new();
        for mut s in fork_on_values(st, &name, &values, location) {
            let subject = self.expand_str(&mut s, &c.value.value);
            out.extend(self.run_case_on(s, subject, c));
        }
        self.bound(out)
    }

    fn run_case_on(&mut self, st: State, subject: Val, c: &ast::CaseClauseCommand) -> Paths {
        let location = self.loc(&st, Some(c.loc.clone()));
        let mut out = Vec::new();
        let mut pending = vec![st];
        for item in &c.cases {
            let mut next = Vec::new();
            for mut s in pending {
                let pats: Vec<Val> = item
                    .patterns
                    .iter()
                    .map(|p| self.expand_pattern(&mut s, &p.value))
                    .collect();
                let text = item
                    .patterns
                    .iter()
                    .map(|p| p.value.clone())
                    .collect::<Vec<_>>()
                    .join("|");
                match case_match(&subject, &pats) {
                    Some(true) => {
                        s.reason(
                            format!("case `{}` matches `{text})`", subject),
                            location.clone(),
                        );
                        out.extend(self.run_case_body(s, item));
                    }
                    Some(false) => next.push(s),
                    None => {
                        let why = subject
                            .why()
                            .or_else(|| pats.iter().find_map(Val::why))
                            .unwrap_or_default();
                        // An unknown value is rarely one given word, or a word with a given
                        // part (`--port=*`): an env variable the image leaves unset is empty,
                        // a command's output is anything. Such a pattern is the unlikely
                        // branch; a loose one (`*`, `-*`) an even one.
                        let share = if pats.iter().all(super::specific) {
                            super::state::SPECIFIC_MATCH_SHARE
                        } else {
                            0.5
                        };
                        let weight = s.weight;
                        s.weight = weight * share;
                        let mut miss = s.clone();
                        miss.weight = weight * (1.0 - share);
                        s.assume(format!("case `{subject}` matches `{text})` ({why})"));
                        s.reason(
                            format!("assumed case matches `{text})`: {why}"),
                            location.clone(),
                        );
                        miss.assume(format!("case `{subject}` does not match `{text})`"));
                        out.extend(self.run_case_body(s, item));
                        next.push(miss);
                    }
                }
            }
            pending = next;
        }
        for mut s in pending {
            s.status = Status::OK;
            out.push((s, Flow::Normal));
        }
        self.bound(out)
    }

    fn run_case_body(&mut self, mut s: State, item: &ast::CaseItem) -> Paths {
        s.status = Status::OK;
        match &item.cmd {
            Some(list) => self.run_list(s, list),
            None => vec![(s, Flow::Normal)],
        }
    }

    fn run_for(&mut self, st: State, f: &ast::ForClauseCommand) -> Paths {
        let mut st = st;
        let values: Vec<Val> = match &f.values {
            Some(words) => {
                let mut v = Vec::new();
                for w in words {
                    v.extend(self.expand_word(&mut st, &w.value));
                }
                v
            }
            None => st.positionals.to_vec(),
        };
        let file = st.file.clone();
        let line = parse::line_of(&f.loc);
        let mut live: Paths = vec![(st, Flow::Normal)];
        let mut done: Paths = Vec::new();
        let mut prev: Option<Vec<State>> = None;
        let mut blind: Option<bool> = None;
        let (mut i, mut forked) = (0, 0);
        let last = values.len().saturating_sub(1);
        while i < values.len() && !live.is_empty() {
            if forked >= self.limits.max_unroll || i >= MAX_ITERATIONS {
                self.cap(format!(
                    "{file}:{line}: for loop over {} words: {i} followed, the rest dropped",
                    values.len()
                ));
                break;
            }
            // Only an iteration before the last can be skipped to it, so only those keep
            // the paths they start with (for the next one to compare against).
            let starting: Option<Vec<State>> =
                (i < last).then(|| live.iter().map(|(s, _)| s.clone()).collect());
            if let (Some(p), Some(now)) = (&prev, &starting) {
                if merge::converged(p, now, Some(&f.variable_name))
                    && *blind.get_or_insert_with(|| !self.reads_loop_var(&now[0], f))
                {
                    // The paths repeat and the body does not read the loop variable: the
                    // words up to the last one would do what the ones before did.
                    i = last;
                }
            }
            prev = starting;
            let before = live.len() + done.len();
            let mut next = Vec::new();
            for (mut s, _) in live {
                s.set(&f.variable_name, values[i].clone());
                for (s, flow) in self.run_list(s, &f.body.list) {
                    loop_flow(s, flow, &mut next, &mut done);
                }
            }
            live = self.bound(next);
            forked += usize::from(live.len() + done.len() > before);
            i += 1;
        }
        done.extend(live);
        self.bound(done)
    }

    /// Whether a `for` body (or a function it names) may read the loop variable, so each
    /// word may take the body elsewhere; judged from the text (`$i`, `${i…}`, `${#i}`,
    /// `${!i}`, arithmetic `i`), which may say yes for nothing but never misses a read.
    fn reads_loop_var(&self, st: &State, f: &ast::ForClauseCommand) -> bool {
        let name = &f.variable_name;
        let body = f.body.to_string();
        if mentions_word(&body, name) {
            return true;
        }
        st.funcs.iter().any(|(fname, func)| {
            mentions_word(&body, fname) && mentions_word(&func.body.to_string(), name)
        })
    }

    /// `while`/`until`: iterations run while the condition is known; those that fork count
    /// against `max_unroll`. When the paths starting an iteration are those that started
    /// the one before, later iterations repeat it: the ways out already seen are all there
    /// are (a retry loop waiting for a server), and only a loop with none is summarised.
    fn run_while(&mut self, st: State, w: &ast::WhileOrUntilClauseCommand, until: bool) -> Paths {
        let mut live = vec![st];
        let mut done: Paths = Vec::new();
        let mut prev: Option<Vec<State>> = None;
        let (mut iterations, mut forked, mut widened) = (0, 0, false);
        loop {
            if live.is_empty() {
                return done;
            }
            if let Some(p) = &prev {
                if merge::converged(p, &live, None) {
                    if !done.is_empty() {
                        return self.bound(done);
                    }
                    break;
                }
                if forked >= 2 && !widened {
                    let at = format!("{}:{}", live[0].file, parse::line_of(&w.2));
                    widened = merge::widen_changing(p, &mut live, &at);
                }
            }
            if forked >= self.limits.max_unroll || iterations >= MAX_ITERATIONS {
                break;
            }
            prev = Some(live.clone());
            let before = live.len() + done.len();
            let mut next = Vec::new();
            for s in live {
                let (yes, no, other) = self.run_cond(s, &w.0);
                done.extend(other);
                let (body, leave) = if until { (no, yes) } else { (yes, no) };
                done.extend(leave.into_iter().map(|mut s| {
                    s.status = Status::OK;
                    (s, Flow::Normal)
                }));
                for s in body {
                    let mut cont = Vec::new();
                    for (s, flow) in self.run_list(s, &w.1.list) {
                        loop_flow(s, flow, &mut cont, &mut done);
                    }
                    next.extend(cont);
                }
            }
            live = self.bound(next).into_iter().map(|(s, _)| s).collect();
            forked += usize::from(live.len() + done.len() > before);
            iterations += 1;
        }
        let line = parse::line_of(&w.2);
        let file = live.first().map(|s| s.file.clone()).unwrap_or_default();
        self.cap(format!(
            "{file}:{line}: loop still running after {iterations} iterations: summarised"
        ));
        done.extend(live.into_iter().map(|mut s| {
            s.assume(format!("the loop at {file}:{line} ends"));
            s.weight *= 0.5;
            (s, Flow::Normal)
        }));
        done
    }

    /// Calls a shell function with its own positionals and `local` frame.
    pub(super) fn call_function(&mut self, st: State, name: &str, args: Vec<Val>) -> Paths {
        let Some(func) = st.funcs.get(name).cloned() else {
            return vec![(st, Flow::Normal)];
        };
        let mut st = st;
        if st.calls >= self.limits.max_call_depth {
            self.cap(format!(
                "function call depth {} reached calling {name}",
                self.limits.max_call_depth
            ));
            st.status = Status::Unknown(format!("{name}: call depth limit"));
            return vec![(st, Flow::Normal)];
        }
        let saved_pos = std::mem::replace(&mut st.positionals, Rc::new(args));
        let saved_file = std::mem::replace(&mut st.file, func.file.clone());
        Rc::make_mut(&mut st.frames).push(Frame {
            name: name.to_string(),
            file: std::sync::Arc::clone(&saved_file),
        });
        Rc::make_mut(&mut st.locals).push(Vec::new());
        st.calls += 1;
        let paths = self.run_compound(st, &func.body.0);
        let mut out = Vec::with_capacity(paths.len());
        for (mut s, flow) in paths {
            if flow == Flow::Exit {
                out.push((s, flow));
                continue;
            }
            s.positionals = saved_pos.clone();
            s.file = saved_file.clone();
            Rc::make_mut(&mut s.frames).pop();
            s.calls = s.calls.saturating_sub(1);
            for (n, old) in Rc::make_mut(&mut s.locals)
                .pop()
                .unwrap_or_default()
                .into_iter()
                .rev()
            {
                match old {
                    Some(v) => {
                        s.vars.insert(&n, v);
                    }
                    None => {
                        s.vars.remove(&n);
                    }
                }
            }
            out.push((s, Flow::Normal));
        }
        out
    }
}

/// Whether `word` occurs in `text` with no identifier character on either side: for a
/// variable, `$name`, `${name…}`, `${#name}`, `${!name}` and the bare name (arithmetic,
/// `[[ -v name ]]`, `eval`).
pub(super) fn mentions_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Most iterations of one loop, forking or not (`max_steps` bounds the work as well).
const MAX_ITERATIONS: usize = 1024;

/// Routes a loop body's outcome: continue looping, leave the loop, or propagate.
fn loop_flow(s: State, flow: Flow, next: &mut Paths, done: &mut Paths) {
    match flow {
        Flow::Normal | Flow::Continue(1) => next.push((s, Flow::Normal)),
        Flow::Break(1) => done.push((s, Flow::Normal)),
        Flow::Break(n) => done.push((s, Flow::Break(n - 1))),
        Flow::Continue(n) => done.push((s, Flow::Continue(n - 1))),
        Flow::Return | Flow::Exit => done.push((s, flow)),
    }
}

/// The variable a `case` subject stands for when it is exactly a merged variable with a
/// value set (`"$x"` after paths that set `x` differently were joined), and its values.
fn value_set(st: &State, subject: &Val) -> Option<(String, super::state::ValueSet)> {
    let [crate::value::Part::Unknown { what, .. }] = subject.0.as_slice() else {
        return None;
    };
    let name = what.strip_prefix('$')?;
    held_values(st, name).map(|values| (name.to_string(), values))
}

/// The value set of `name` while the variable still holds the placeholder the join gave it
/// (not reassigned or restored since), when it has more than one value.
pub(super) fn held_values(st: &State, name: &str) -> Option<super::state::ValueSet> {
    let values = st.alts.get(name)?;
    let current = st.get(name).map(super::state::Var::scalar)?;
    let [crate::value::Part::Unknown { what, .. }] = current.0.as_slice() else {
        return None;
    };
    (what.strip_prefix('$') == Some(name) && values.len() > 1).then(|| std::rc::Rc::clone(values))
}

/// Most paths one command forks into over value sets (the product of their sizes).
pub(super) const MAX_VALUE_FORKS: usize = 16;

/// One path per combination of values of `sets` (see [`fork_on_values`]).
pub(super) fn fork_on_all(
    st: State,
    sets: &[(String, super::state::ValueSet)],
    location: Option<crate::api::Location>,
) -> Vec<State> {
    let mut out = vec![st];
    for (name, values) in sets {
        out = out
            .into_iter()
            .flat_map(|s| fork_on_values(s, name, values, location.clone()))
            .collect();
    }
    out
}

/// One path per value of a value set, each holding that value, sharing the weight equally
/// (the join kept no weights per value), with the choice as an assumption and a reason.
pub(super) fn fork_on_values(
    st: State,
    name: &str,
    values: &[Val],
    location: Option<crate::api::Location>,
) -> Vec<State> {
    let share = 1.0 / values.len() as f64;
    let all: Vec<String> = values.iter().map(Val::to_string).collect();
    values
        .iter()
        .map(|v| {
            let mut s = st.clone();
            s.weight *= share;
            s.set(name, v.clone());
            s.assume(format!("${name} is `{v}` (one of {} values)", values.len()));
            s.reason(
                format!("${name} is one of {}: taking `{v}`", all.join(" | ")),
                location.clone(),
            );
            s
        })
        .collect()
}

/// Whether a subject matches any of the patterns; `None` when it depends on unknowns.
fn case_match(subject: &Val, pats: &[Val]) -> Option<bool> {
    let mut unknown = false;
    let subject_text = subject.as_known();
    for p in pats {
        match (subject_text.as_deref(), p.as_known()) {
            (Some(s), Some(p)) => {
                if pattern::matches(&p, s) {
                    return Some(true);
                }
            }
            (None, Some(p)) if p == "*" => return Some(true),
            (None, Some(p)) => {
                // An unknown suffix cannot help a pattern whose known prefix already differs.
                let prefix = subject.known_prefix();
                let lit: String = p
                    .chars()
                    .take_while(|c| !matches!(c, '*' | '?' | '[' | '\\'))
                    .collect();
                if lit.chars().zip(prefix.chars()).all(|(a, b)| a == b) {
                    unknown = true;
                }
            }
            _ => unknown = true,
        }
    }
    if unknown {
        None
    } else {
        Some(false)
    }
}
