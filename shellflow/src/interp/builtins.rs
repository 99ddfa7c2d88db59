//! Simple commands (XCU 2.9.1) and the builtins that change the shell's own state: `set`,
//! `shift`, `export`, `local`/`declare`, `unset`, `source`/`.`, `eval`, `exec`, `exit`,
//! `return`, `cd`, `test`/`[`, `echo`/`printf`, `read`, `break`/`continue`, `command`.
//!
//! Builtins that only affect the terminal or signals (`trap`, `umask`, `ulimit`, `shopt`) succeed
//! and are otherwise ignored.

use std::rc::Rc;

use crate::parse::ast;
use crate::value::Val;

use super::simple::{cd, exit, let_arith, loop_control, read, ret, shift, umask, unset};
use super::state::{State, Status, VarValue};
use super::{Flow, Interp, Paths};

/// One expanded argument of a command.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// An ordinary field.
    Field(Val),
    /// `name=value` given to a declaration builtin.
    Assign(String, VarValue, bool),
}

/// A command that is not a builtin, handed back to run as an external command.
#[derive(Debug)]
pub(crate) struct NotBuiltin {
    st: State,
    env: Vec<(String, Val)>,
    location: Option<crate::api::Location>,
}

const DECLARATIONS: &[&str] = &["export", "local", "declare", "typeset", "readonly"];

impl Interp<'_> {
    pub(super) fn run_simple(&mut self, st: State, sc: &ast::SimpleCommand) -> Paths {
        let sets = exec_reads_value_sets(&st, sc, self.value_fork_budget);
        if !sets.is_empty() {
            // `exec $NUMACTL server` after paths that set NUMACTL differently were joined
            // lossily: one exec per value, not one exec of an unknown word.
            let location = location_of(&st, sc);
            let forks = super::control::fork_on_all(st, &sets, location);
            let saved = self.value_fork_budget;
            self.value_fork_budget = (saved / forks.len().max(1)).max(1);
            let mut out = Vec::new();
            for s in forks {
                out.extend(self.run_simple_now(s, sc));
            }
            self.value_fork_budget = saved;
            return self.bound(out);
        }
        self.run_simple_now(st, sc)
    }

    fn run_simple_now(&mut self, mut st: State, sc: &ast::SimpleCommand) -> Paths {
        if !self.step() {
            return Vec::new();
        }
        let location = location_of(&st, sc);
        // On the stack for the usual command (a few words, an assignment or two).
        let mut assigns: smallvec::SmallVec<[&ast::Assignment; 2]> = smallvec::SmallVec::new();
        let mut redirects: smallvec::SmallVec<[&ast::IoRedirect; 2]> = smallvec::SmallVec::new();
        let mut items: smallvec::SmallVec<[Item<'_>; 8]> = smallvec::SmallVec::new();
        for it in sc.prefix.iter().flat_map(|p| p.0.iter()) {
            match it {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => assigns.push(a),
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r),
                other => items.push(Item::Node(other)),
            }
        }
        items.extend(sc.word_or_name.as_ref().map(Item::Name));
        for it in sc.suffix.iter().flat_map(|s| s.0.iter()) {
            match it {
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r),
                other => items.push(Item::Node(other)),
            }
        }
        st.status = Status::OK;
        st.pending = None;
        let args = self.expand_args(&mut st, &items);
        let mut env_extra = Vec::with_capacity(assigns.len());
        for a in &assigns {
            let (name, value) = self.assignment(&mut st, a);
            env_extra.push((name, value));
        }
        self.apply_redirects(&mut st, redirects);
        let Some(Arg::Field(first)) = args.first() else {
            for (name, value) in env_extra {
                st.set_value(&name, value);
            }
            return vec![(st, Flow::Normal)];
        };
        let env_extra: Vec<(String, Val)> = env_extra
            .into_iter()
            .map(|(n, v)| (n, scalar_of(&v)))
            .collect();
        let Some(name) = first.as_known() else {
            return self.run_external(st, into_fields(args), env_extra, location);
        };
        if st.funcs.contains_key(&*name) {
            for (n, v) in &env_extra {
                st.set(n, v.clone());
            }
            let name = name.into_owned();
            return self.call_function(st, &name, into_fields(args.into_iter().skip(1)));
        }
        match self.builtin(st, &name, &args, env_extra, location) {
            Ok(paths) => paths,
            Err(nb) => {
                let NotBuiltin { st, env, location } = *nb;
                self.run_external(st, into_fields(args), env, location)
            }
        }
    }

    fn expand_args(&mut self, st: &mut State, items: &[Item<'_>]) -> Vec<Arg> {
        // A field a word, as most words make.
        let mut args = Vec::with_capacity(items.len());
        let mut decl = false;
        for it in items {
            let it = match it {
                Item::Node(n) => *n,
                Item::Name(w) => {
                    self.expand_arg(st, &w.value, &mut args, &mut decl);
                    continue;
                }
            };
            match it {
                ast::CommandPrefixOrSuffixItem::Word(w) => {
                    self.expand_arg(st, &w.value, &mut args, &mut decl);
                }
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                    if decl {
                        let (name, value) = self.assignment(st, a);
                        args.push(Arg::Assign(name, value, a.append));
                    } else {
                        args.extend(self.expand_word(st, &w.value).into_iter().map(Arg::Field));
                    }
                }
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    args.push(Arg::Field(Val::unknown("<(…)", "process substitution")));
                }
                ast::CommandPrefixOrSuffixItem::IoRedirect(_) => {}
            }
        }
        args
    }

    /// Expands one word of a command into `args`; the first field says whether the command
    /// is a declaration (`decl`). A word of plain text is its own field, without the vector
    /// [`Interp::expand_word`] returns.
    fn expand_arg(&mut self, st: &mut State, text: &str, args: &mut Vec<Arg>, decl: &mut bool) {
        let mut push = |v: Val| {
            if args.is_empty() {
                *decl = v.as_known().is_some_and(|n| DECLARATIONS.contains(&&*n));
            }
            args.push(Arg::Field(v));
        };
        if crate::parse::plain_text_word(text) {
            push(Val::lit(text));
        } else {
            for v in self.expand_word(st, text) {
                push(v);
            }
        }
    }

    /// Evaluates `name=value` / `name=(a b)` / `name+=…`.
    pub(super) fn assignment(&mut self, st: &mut State, a: &ast::Assignment) -> (String, VarValue) {
        let (name, index) = match &a.name {
            ast::AssignmentName::VariableName(n) => (n.clone(), None),
            ast::AssignmentName::ArrayElementName(n, i) => (n.clone(), Some(i.clone())),
        };
        let value = match &a.value {
            ast::AssignmentValue::Scalar(w) => VarValue::Scalar(self.expand_str(st, &w.value)),
            ast::AssignmentValue::Array(items) => {
                let mut vals = Vec::new();
                for (_, w) in items {
                    vals.extend(self.expand_word(st, &w.value));
                }
                VarValue::Array(vals)
            }
        };
        // The current value matters only to `+=` and `a[i]=`.
        let current = if index.is_some() || a.append {
            st.get(&name).map(|v| v.value.clone())
        } else {
            None
        };
        let value = match (index, a.append, current, value) {
            (Some(i), _, cur, VarValue::Scalar(v)) => {
                let idx = self
                    .expand_str(st, &i)
                    .known()
                    .and_then(|t| super::arith::eval_text(st, &t, 0));
                let mut arr = match cur {
                    Some(VarValue::Array(a)) => a,
                    Some(VarValue::Scalar(s)) => vec![s],
                    None => Vec::new(),
                };
                match idx
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|i| *i < 4096)
                {
                    Some(i) => {
                        if arr.len() <= i {
                            arr.resize(i + 1, Val::default());
                        }
                        arr[i] = v;
                    }
                    None => arr.push(v),
                }
                VarValue::Array(arr)
            }
            (None, true, Some(VarValue::Array(mut a)), VarValue::Array(b)) => {
                a.extend(b);
                VarValue::Array(a)
            }
            (None, true, Some(VarValue::Scalar(mut s)), VarValue::Scalar(b)) => {
                s.push(&b);
                VarValue::Scalar(s)
            }
            (_, _, _, v) => v,
        };
        (name, value)
    }

    /// Runs a builtin; gives the state back when `name` is not one.
    fn builtin(
        &mut self,
        mut st: State,
        name: &str,
        args: &[Arg],
        env_extra: Vec<(String, Val)>,
        location: Option<crate::api::Location>,
    ) -> Result<Paths, Box<NotBuiltin>> {
        if !handles_builtin(name) {
            return Err(Box::new(NotBuiltin {
                st,
                env: env_extra,
                location,
            }));
        }
        let rest = fields(&args[1..]);
        let flow = match name {
            "wait" => {
                // The shell stays as the parent of its background children: a supervisor
                // shape when there are several (see `Analysis::services`).
                st.waited |= !st.background.is_empty();
                st.status = Status::OK;
                Flow::Normal
            }
            "umask" => umask(&mut st, &rest),
            ":" | "true" | "trap" | "ulimit" | "shopt" | "hash" | "alias" | "times" => {
                st.status = Status::OK;
                Flow::Normal
            }
            "false" => {
                st.status = Status::FAIL;
                Flow::Normal
            }
            "set" => self.builtin_set(&mut st, &rest, location),
            "shift" => shift(&mut st, &rest),
            "export" | "readonly" | "local" | "declare" | "typeset" => {
                self.builtin_declare(&mut st, name, &args[1..]);
                Flow::Normal
            }
            "unset" => unset(&mut st, &rest),
            "source" | "." => return Ok(self.builtin_source(st, &rest, location)),
            "eval" => return Ok(self.builtin_eval(st, &rest, location)),
            "exec" => return Ok(self.builtin_exec(st, rest, env_extra, location)),
            "exit" => exit(&mut st, &rest, location),
            "return" => ret(&mut st, &rest),
            "break" | "continue" => loop_control(name, &rest),
            "cd" => {
                if !cd(&mut st, &rest) {
                    self.diag(format!("{}: cd to an unknown directory", st.file));
                }
                Flow::Normal
            }
            "test" | "[" => {
                let mut a = rest;
                if name == "[" && a.last().and_then(Val::known).as_deref() == Some("]") {
                    a.pop();
                }
                st.status = self.eval_test_args(&mut st, &a).status();
                Flow::Normal
            }
            "echo" | "printf" | "pwd" => {
                self.builtin_print(&mut st, name, &rest);
                Flow::Normal
            }
            "read" => {
                let ifs = env_extra
                    .iter()
                    .rev()
                    .find(|(n, _)| n == "IFS")
                    .map(|(_, v)| v.clone());
                read(&mut st, &rest, ifs)
            }
            "let" => let_arith(&mut st, &rest),
            "command" | "type" => return self.builtin_command(st, name, rest, env_extra, location),
            "getopts" => {
                st.status = Status::Unknown("getopts".into());
                Flow::Normal
            }
            _ => {
                return Err(Box::new(NotBuiltin {
                    st,
                    env: env_extra,
                    location,
                }))
            }
        };
        Ok(vec![(st, flow)])
    }

    fn builtin_set(
        &mut self,
        st: &mut State,
        rest: &[Val],
        location: Option<crate::api::Location>,
    ) -> Flow {
        let mut i = 0;
        while i < rest.len() {
            let Some(a) = rest[i].known() else { break };
            if a == "--" {
                i += 1;
                return self.set_positionals(st, rest[i..].to_vec(), location);
            }
            let on = a.starts_with('-');
            if !(on || a.starts_with('+')) || a.len() < 2 {
                return self.set_positionals(st, rest[i..].to_vec(), location);
            }
            for c in a.chars().skip(1) {
                match c {
                    'e' => st.errexit = on,
                    'o' => {
                        i += 1;
                        if rest.get(i).and_then(Val::known).as_deref() == Some("errexit") {
                            st.errexit = on;
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        st.status = Status::OK;
        Flow::Normal
    }

    fn set_positionals(
        &mut self,
        st: &mut State,
        args: Vec<Val>,
        location: Option<crate::api::Location>,
    ) -> Flow {
        let shown: Vec<String> = args.iter().map(|v| v.to_string()).collect();
        st.reason(
            format!("`set --` makes the arguments: {}", shown.join(" ")),
            location,
        );
        st.positionals = Rc::new(args);
        st.status = Status::OK;
        Flow::Normal
    }

    fn builtin_declare(&mut self, st: &mut State, name: &str, args: &[Arg]) {
        let mut export = name == "export";
        let mut global = name != "local";
        let mut unexport = false;
        let mut array = false;
        let in_func = st.calls > 0;
        for a in args {
            match a {
                Arg::Field(v) => {
                    let Some(text) = v.known() else { continue };
                    if text.starts_with('-') || text.starts_with('+') {
                        export |= text.contains('x') && text.starts_with('-');
                        unexport |= text == "-n" && name == "export";
                        global |= text.contains('g');
                        array |= text.contains('a') || text.contains('A');
                        continue;
                    }
                    let (n, value) = match text.split_once('=') {
                        Some((n, rest)) => (
                            n.to_string(),
                            Some(VarValue::Scalar(self.value_after_eq(v, rest))),
                        ),
                        None => (text.clone(), None),
                    };
                    self.declare_one(st, &n, value, (export, unexport, array, in_func && !global));
                }
                Arg::Assign(n, value, append) => {
                    let value = match (append, st.get(n).map(|v| v.value.clone()), value) {
                        (true, Some(VarValue::Scalar(mut s)), VarValue::Scalar(b)) => {
                            s.push(b);
                            VarValue::Scalar(s)
                        }
                        (_, _, v) => v.clone(),
                    };
                    self.declare_one(
                        st,
                        n,
                        Some(value),
                        (export, unexport, array, in_func && !global),
                    );
                }
            }
        }
        st.status = Status::OK;
    }

    /// The value part of a `name=value` field that was not an assignment word.
    fn value_after_eq(&self, whole: &Val, after: &str) -> Val {
        match whole.known() {
            Some(_) => Val::lit(after),
            None => whole.clone(),
        }
    }

    fn declare_one(
        &mut self,
        st: &mut State,
        n: &str,
        value: Option<VarValue>,
        flags: (bool, bool, bool, bool),
    ) {
        let (export, unexport, array, local) = flags;
        if local {
            st.make_local(n);
        }
        match value {
            Some(v) => st.set_value(n, v),
            None if st.get(n).is_none() => {
                let empty = if array {
                    VarValue::Array(Vec::new())
                } else {
                    VarValue::Scalar(Val::default())
                };
                if local || array {
                    st.set_value(n, empty);
                }
            }
            None => {}
        }
        if export {
            st.export(n);
        }
        if unexport {
            if let Some(v) = st.vars.get_mut(n) {
                v.exported = false;
            }
        }
    }

    fn builtin_exec(
        &mut self,
        mut st: State,
        rest: Vec<Val>,
        env: Vec<(String, Val)>,
        location: Option<crate::api::Location>,
    ) -> Paths {
        let mut i = 0;
        while let Some(a) = rest.get(i).and_then(Val::known) {
            match a.as_str() {
                "-c" | "-l" => i += 1,
                "-a" => i += 2,
                "--" => {
                    i += 1;
                    break;
                }
                _ => break,
            }
        }
        let argv = rest.get(i..).map(<[Val]>::to_vec).unwrap_or_default();
        if argv.is_empty() {
            st.status = Status::OK;
            return vec![(st, Flow::Normal)];
        }
        self.do_exec(st, argv, env, location)
    }

    fn builtin_print(&mut self, st: &mut State, name: &str, rest: &[Val]) {
        st.status = Status::OK;
        let mut rest = rest;
        if name == "printf" {
            if rest.first().and_then(Val::known).as_deref() == Some("-v") {
                // `printf -v VAR …` prints nothing: it assigns.
                if let Some(var) = rest.get(1).and_then(Val::known) {
                    let out =
                        super::printf::printf(&rest[2.min(rest.len())..]).unwrap_or_else(|| {
                            Val::unknown(format!("${var}"), "printf format unknown")
                        });
                    st.set(&var, out);
                }
                return;
            }
            if rest.first().and_then(Val::known).as_deref() == Some("--") {
                rest = &rest[1..];
            }
        }
        if st.stdout.is_none() {
            return;
        }
        let out = match name {
            "pwd" => Val::lit(format!("{}\n", st.cwd)),
            "printf" => super::printf::printf(rest)
                .unwrap_or_else(|| Val::unknown("printf", "format unknown")),
            _ => echo(rest),
        };
        if let Some(buf) = st.stdout.as_mut() {
            buf.push(&out);
        }
    }

    fn builtin_command(
        &mut self,
        mut st: State,
        name: &str,
        rest: Vec<Val>,
        env: Vec<(String, Val)>,
        location: Option<crate::api::Location>,
    ) -> Result<Paths, Box<NotBuiltin>> {
        let query = name == "type"
            || rest
                .first()
                .and_then(Val::known)
                .is_some_and(|f| f == "-v" || f == "-V");
        if !query {
            // `command prog args`: bypass functions.
            let argv: Vec<Val> = rest
                .into_iter()
                .skip_while(|v| v.known().is_some_and(|s| s.starts_with('-')))
                .collect();
            if argv.is_empty() {
                st.status = Status::OK;
                return Ok(vec![(st, Flow::Normal)]);
            }
            return Ok(self.run_external(st, argv, env, location));
        }
        // Options come first and end at `--` or at the first other word: `type "$1"` with
        // `$1` = `--help` is an invalid option (status 2 in bash; dash looks the word up and
        // finds nothing), and `command -v -- --version` looks up `--version`, which no
        // program is called.
        let valid: &str = if name == "type" { "afptP" } else { "pvV" };
        let mut words = rest.into_iter().peekable();
        while let Some(w) = words.peek() {
            match w.known() {
                Some(o) if o == "--" => {
                    words.next();
                    break;
                }
                Some(o) if o.len() > 1 && o.starts_with('-') => {
                    if !o[1..].chars().all(|c| valid.contains(c)) {
                        st.status = Status::Known(2);
                        return Ok(vec![(st, Flow::Normal)]);
                    }
                    words.next();
                }
                _ => break,
            }
        }
        let names: Vec<Val> = words.collect();
        let mut ok = true;
        for n in names {
            let Some(n) = n.known() else {
                st.status = Status::Unknown(format!(
                    "`command -v` of an unknown name: {}",
                    n.why().unwrap_or_default()
                ));
                return Ok(vec![(st, Flow::Normal)]);
            };
            let found = self.resolve_command(&st, &n);
            if let (Some(p), Some(buf)) = (&found, st.stdout.as_mut()) {
                buf.push(&Val::lit(format!("{p}\n")));
            }
            ok &= found.is_some();
        }
        st.status = Status::from_bool(ok);
        Ok(vec![(st, Flow::Normal)])
    }
}

/// For an `exec` whose words read variables that still hold a join's value set: those
/// variables and their values, as many as keep the forks within `budget`.
fn exec_reads_value_sets(
    st: &State,
    sc: &ast::SimpleCommand,
    budget: usize,
) -> Vec<(String, super::state::ValueSet)> {
    let mut out = Vec::new();
    if st.alts.is_empty() || sc.word_or_name.as_ref().map(|w| w.value.as_str()) != Some("exec") {
        return out;
    }
    let text = sc.to_string();
    let mut product = 1;
    for name in st.alts.keys() {
        let Some(values) = super::control::held_values(st, name) else {
            continue;
        };
        if super::control::mentions_word(&text, name) && product * values.len() <= budget {
            product *= values.len();
            out.push((name.to_string(), values));
        }
    }
    out
}

/// Where a simple command is: its file and the line it starts on.
fn location_of(st: &State, sc: &ast::SimpleCommand) -> Option<crate::api::Location> {
    first_line(sc).map(|line| crate::api::Location {
        file: std::sync::Arc::clone(&st.file),
        line,
    })
}

/// The line a simple command starts on (cheaper than its full span).
fn first_line(sc: &ast::SimpleCommand) -> Option<usize> {
    if let Some(l) = sc.word_or_name.as_ref().and_then(|w| w.loc.as_ref()) {
        return Some(l.start.line);
    }
    sc.prefix
        .iter()
        .flat_map(|p| p.0.iter())
        .find_map(|it| match it {
            ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => Some(a.loc.start.line),
            ast::CommandPrefixOrSuffixItem::Word(w) => w.loc.as_ref().map(|l| l.start.line),
            _ => None,
        })
}

/// A word of a simple command: an item of its prefix or suffix, or its name.
enum Item<'a> {
    Node(&'a ast::CommandPrefixOrSuffixItem),
    Name(&'a ast::Word),
}

/// Whether [`Interp::builtin`] handles `name`; anything else is looked up on PATH. A
/// `match`, not a scan of a list: it runs for nearly every command.
pub(super) fn handles_builtin(name: &str) -> bool {
    matches!(
        name,
        "wait"
            | ":"
            | "true"
            | "trap"
            | "umask"
            | "ulimit"
            | "shopt"
            | "hash"
            | "alias"
            | "times"
            | "false"
            | "set"
            | "shift"
            | "export"
            | "readonly"
            | "local"
            | "declare"
            | "typeset"
            | "unset"
            | "source"
            | "."
            | "eval"
            | "exec"
            | "exit"
            | "return"
            | "break"
            | "continue"
            | "cd"
            | "test"
            | "["
            | "echo"
            | "printf"
            | "pwd"
            | "read"
            | "let"
            | "command"
            | "type"
            | "getopts"
    )
}

/// Expanded fields of arguments (assignments rendered as `name=value`), moved out of them.
fn into_fields(args: impl IntoIterator<Item = Arg>) -> Vec<Val> {
    args.into_iter()
        .map(|a| match a {
            Arg::Field(v) => v,
            Arg::Assign(n, v, _) => {
                let mut out = Val::lit(format!("{n}="));
                out.push(&scalar_of(&v));
                out
            }
        })
        .collect()
}

/// [`into_fields`] of copies, for a caller that keeps `args`.
pub(crate) fn fields(args: &[Arg]) -> Vec<Val> {
    into_fields(args.iter().cloned())
}

fn scalar_of(v: &VarValue) -> Val {
    match v {
        VarValue::Scalar(s) => s.clone(),
        VarValue::Array(a) => super::expand::join(a, " "),
    }
}

fn echo(rest: &[Val]) -> Val {
    let mut args = rest;
    let mut newline = true;
    while let Some(f) = args.first().and_then(Val::known) {
        if f == "-n" {
            newline = false;
        } else if f != "-e" && f != "-E" {
            break;
        }
        args = &args[1..];
    }
    let mut out = super::expand::join(args, " ");
    if newline {
        out.push(&Val::lit("\n"));
    }
    out
}
