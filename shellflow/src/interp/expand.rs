//! Word expansion (XCU 2.6): tilde, parameter, command substitution, arithmetic, field
//! splitting and quote removal, over abstract values.
//!
//! An environment-like name (no lowercase letters) that neither the image env nor the script
//! set is "unset in the image": a raw read is unknown (the user may pass `-e`), while a
//! default (`${VAR:-d}`, `${VAR:=d}`) is taken, with the assumption recorded. Pathname
//! expansion of command words is done against the image by `glob`.

use crate::parse::WordPieceWithSource;
use crate::parse::{self, Parameter, ParameterExpr, SpecialParameter, WordPiece};
use crate::pattern;
use std::rc::Rc;

use crate::value::{Fields, Part, Val};

use super::state::{State, VarValue};
use super::{arith, Flow, Interp};

/// How a word is expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Command words: field splitting applies.
    Split,
    /// Assignments, `case` subjects, `[[ ]]` operands: one string.
    Join,
    /// Patterns: like `Join`, but quoted glob characters are escaped.
    Pattern,
}

/// A parameter's value before the operator is applied.
#[derive(Debug, Clone)]
pub(super) enum PVal {
    Unset,
    /// An env-like variable the image does not set.
    UnsetEnv(String),
    One(Val),
    Many(Vec<Val>, bool),
}

const DEFAULT_IFS: &str = " \t\n";

impl Interp<'_> {
    /// Expands a command word into fields, then pathnames against the image.
    pub(crate) fn expand_word(&mut self, st: &mut State, text: &str) -> Vec<Val> {
        if parse::plain_text_word(text) {
            return vec![Val::lit(text)];
        }
        if self.inv.shell == crate::api::Dialect::Bash && text.contains('{') {
            let words = super::brace::expand(text);
            if words.len() > 1 || words.first().is_some_and(|w| w != text) {
                return words.iter().flat_map(|w| self.expand_word(st, w)).collect();
            }
        }
        let fields = self.expand(st, text, Mode::Split);
        if !super::glob::has_unquoted_glob(text) {
            return fields;
        }
        let created: Vec<&str> = st.created.iter().map(String::as_str).collect();
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            match f
                .known()
                .and_then(|p| super::glob::expand(self.fs, &created, &st.cwd, &p))
            {
                Some(paths) => out.extend(paths.into_iter().map(Val::lit)),
                None => out.push(f),
            }
        }
        out
    }

    /// Expands a word into one string (no field splitting).
    pub(crate) fn expand_str(&mut self, st: &mut State, text: &str) -> Val {
        let fields = self.expand(st, text, Mode::Join);
        join(&fields, " ")
    }

    /// Expands a pattern word: quoted parts match literally.
    pub(crate) fn expand_pattern(&mut self, st: &mut State, text: &str) -> Val {
        let fields = self.expand(st, text, Mode::Pattern);
        join(&fields, " ")
    }

    fn expand(&mut self, st: &mut State, text: &str, mode: Mode) -> Vec<Val> {
        if parse::plain_text_word(text) {
            // One piece of text: the field it makes, in every mode.
            return vec![Val::lit(text)];
        }
        let parsed = match self.words.get(text) {
            Some((p, _)) => Ok(std::rc::Rc::clone(p)),
            None => parse::parse_word_traced(text).map(|(p, fast)| {
                let p = std::rc::Rc::new(p);
                if self.words.len() < 65_536 {
                    self.words
                        .insert(text.to_string(), (std::rc::Rc::clone(&p), fast));
                }
                p
            }),
        };
        match parsed {
            Ok(pieces) => {
                let mut out = Fields::default();
                self.pieces(st, &pieces, false, mode, &mut out);
                out.finish()
            }
            Err(e) => {
                self.diag(format!("{}: cannot parse word `{text}`: {e}", st.file));
                vec![Val::unknown(text, "unparsable word")]
            }
        }
    }

    fn pieces(
        &mut self,
        st: &mut State,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        mode: Mode,
        out: &mut Fields,
    ) {
        for p in pieces {
            self.piece(st, &p.piece, quoted, mode, out);
        }
    }

    fn piece(
        &mut self,
        st: &mut State,
        piece: &WordPiece,
        quoted: bool,
        mode: Mode,
        out: &mut Fields,
    ) {
        let lit = |out: &mut Fields, s: &str, q: bool| {
            if q && mode == Mode::Pattern {
                out.text(&pattern::escape(s), true, DEFAULT_IFS);
            } else {
                out.text(s, true, DEFAULT_IFS);
            }
        };
        match piece {
            WordPiece::Text(s) => lit(out, s, quoted),
            WordPiece::SingleQuotedText(s) => {
                out.mark();
                lit(out, s, true);
            }
            WordPiece::AnsiCQuotedText(s) => {
                out.mark();
                lit(out, &ansi_c(s), true);
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                let only_many = inner.len() == 1 && is_many(&inner[0].piece);
                if !only_many {
                    out.mark();
                }
                self.pieces(st, inner, true, mode, out);
            }
            WordPiece::EscapeSequence(s) => {
                let body = s.strip_prefix('\\').unwrap_or(s);
                let text = if quoted && !body.starts_with(['$', '`', '"', '\\', '\n']) {
                    s.as_str()
                } else {
                    body
                };
                out.mark();
                lit(out, text, true);
            }
            WordPiece::TildeExpansion(t) => {
                let v = self.tilde(st, t);
                out.val(&v, true, DEFAULT_IFS);
            }
            WordPiece::ParameterExpansion(expr) => {
                let pv = self.param_expr(st, expr, mode);
                self.push_pval(st, pv, quoted, mode, out);
            }
            WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                let v = self.command_subst(st, s);
                self.push_pval(st, PVal::One(v), quoted, mode, out);
            }
            WordPiece::ArithmeticExpression(e) => {
                let text = self.expand_str(st, &e.value);
                let v = match text.known().and_then(|t| arith::eval_text(st, &t, 0)) {
                    Some(n) => Val::lit(n.to_string()),
                    None => {
                        Val::unknown(format!("$(({}))", e.value), "arithmetic on unknown values")
                    }
                };
                self.push_pval(st, PVal::One(v), quoted, mode, out);
            }
        }
    }

    pub(super) fn push_pval(
        &mut self,
        st: &State,
        pv: PVal,
        quoted: bool,
        mode: Mode,
        out: &mut Fields,
    ) {
        let split = mode == Mode::Split && !quoted;
        // IFS is read only where it splits or joins: quoted text ignores it.
        let ifs = |st: &State| {
            st.get("IFS")
                .and_then(|v| v.scalar().known())
                .unwrap_or_else(|| DEFAULT_IFS.into())
        };
        match pv {
            PVal::Unset => {}
            PVal::UnsetEnv(n) if split => out.val(&unset_env(&n), false, &ifs(st)),
            PVal::UnsetEnv(n) => out.val(&unset_env(&n), true, DEFAULT_IFS),
            PVal::One(v) if split => out.val(&v, false, &ifs(st)),
            PVal::One(v) => out.val(&v, true, DEFAULT_IFS),
            PVal::Many(list, concat) => {
                let ifs = if split || concat {
                    ifs(st)
                } else {
                    DEFAULT_IFS.into()
                };
                if quoted && !concat && mode == Mode::Split {
                    for (i, v) in list.iter().enumerate() {
                        if i > 0 {
                            out.brk();
                        }
                        out.val(v, true, &ifs);
                    }
                } else if split {
                    for (i, v) in list.iter().enumerate() {
                        if i > 0 {
                            out.brk();
                        }
                        out.val(v, false, &ifs);
                    }
                } else {
                    let sep = if concat {
                        ifs.chars().next().map(String::from).unwrap_or_default()
                    } else {
                        " ".into()
                    };
                    out.val(&join(&list, &sep), true, &ifs);
                }
            }
        }
    }

    fn tilde(&mut self, st: &State, t: &parse::TildeExpr) -> Val {
        use parse::TildeExpr as T;
        match t {
            T::Home => st
                .get("HOME")
                .map(|v| v.scalar())
                .unwrap_or_else(|| Val::lit("/root")),
            T::UserHome(u) => match self.passwd_entry(u) {
                Some(e) => Val::lit(e.home),
                None => Val::lit(format!("~{u}")),
            },
            T::WorkingDir => Val::lit(&*st.cwd),
            _ => Val::unknown("~", "directory stack"),
        }
    }

    /// Runs `$( … )` in a subshell capturing what knowable commands print.
    pub(crate) fn command_subst(&mut self, st: &mut State, text: &str) -> Val {
        let trimmed = text.trim();
        if let Some(file) = trimmed.strip_prefix('<') {
            let path = self.expand_str(st, file.trim());
            return match path.known() {
                Some(p) => self.cat_file(st, &p).0,
                None => Val::unknown(format!("$({trimmed})"), "file name unknown"),
            };
        }
        if st.depth >= self.limits.max_source_depth {
            self.cap(format!(
                "{}: command substitution nested deeper than {}",
                st.file, self.limits.max_source_depth
            ));
            return Val::unknown(format!("$({})", super::short(text)), "nesting limit");
        }
        let prog = match self.parse_cached(&st.file.clone(), text) {
            Ok(p) => p,
            Err(_) => return Val::unknown(format!("$({})", super::short(text)), "unparsable"),
        };
        let (status, out) = self.subshell(st, |me, mut s| {
            s.stdout = Some(Val::default());
            s.depth += 1;
            let mut paths = vec![(s, Flow::Normal)];
            for cmd in &prog.complete_commands {
                paths = me.seq(paths, |me, s| me.run_list(s, cmd));
            }
            paths
        });
        st.status = status;
        let v = out.unwrap_or_else(|| {
            Val::unknown(format!("$({})", super::short(text)), "no output known")
        });
        trim_newlines(v)
    }

    pub(super) fn param(&mut self, st: &mut State, p: &Parameter, indirect: bool) -> PVal {
        let pv = self.param_direct(st, p);
        if !indirect {
            return pv;
        }
        match pv {
            PVal::One(v) => match v.known() {
                Some(name) if !name.is_empty() => {
                    let target = parse_param_name(&name);
                    self.param_direct(st, &target)
                }
                Some(_) => PVal::Unset,
                None => PVal::One(Val::unknown("${!…}", v.why().unwrap_or_default())),
            },
            PVal::UnsetEnv(n) => PVal::One(unset_env(&n)),
            other => other,
        }
    }

    fn param_direct(&mut self, st: &mut State, p: &Parameter) -> PVal {
        match p {
            Parameter::Positional(0) => PVal::One(st.arg0.clone()),
            Parameter::Positional(n) => match st.positionals.get(*n as usize - 1) {
                Some(v) => PVal::One(v.clone()),
                None => PVal::Unset,
            },
            Parameter::Special(s) => self.special(st, s),
            Parameter::Named(name) => self.named(st, name),
            Parameter::NamedWithIndex { name, index } => {
                let arr = self.array(st, name);
                let idx = self
                    .expand_str(st, index)
                    .known()
                    .and_then(|t| arith::eval_text(st, &t, 0));
                match (arr, idx) {
                    (Some(a), Some(i)) => {
                        let i = if i < 0 { a.len() as i64 + i } else { i };
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i).cloned())
                            .map_or(PVal::Unset, PVal::One)
                    }
                    (None, _) => self.named(st, name).unset_if_scalar_index(idx),
                    (_, None) => PVal::One(Val::unknown(
                        format!("${{{name}[{index}]}}"),
                        "index unknown",
                    )),
                }
            }
            Parameter::NamedWithAllIndices { name, concatenate } => match self.array(st, name) {
                Some(a) => PVal::Many(a, *concatenate),
                None => match self.named(st, name) {
                    PVal::One(v) => PVal::Many(vec![v], *concatenate),
                    other => other,
                },
            },
        }
    }

    /// Arrays, including the dynamic ones bash keeps.
    fn array(&self, st: &State, name: &str) -> Option<Vec<Val>> {
        match (name, self.inv.shell) {
            ("BASH_SOURCE", crate::api::Dialect::Bash) => Some(st.bash_source()),
            ("FUNCNAME", crate::api::Dialect::Bash) => Some(st.funcname()),
            _ => match st.get(name).map(|v| &v.value) {
                Some(VarValue::Array(a)) => Some(a.clone()),
                _ => None,
            },
        }
    }

    fn named(&mut self, st: &mut State, name: &str) -> PVal {
        if let Some(v) = st.get(name) {
            return PVal::One(v.scalar());
        }
        let bash = self.inv.shell == crate::api::Dialect::Bash;
        match name {
            "BASH_SOURCE" | "FUNCNAME" if bash => self
                .array(st, name)
                .and_then(|a| a.first().cloned())
                .map_or(PVal::Unset, PVal::One),
            "EUID" | "UID" if bash => PVal::One(Val::lit(st.user.uid.to_string())),
            "PWD" => PVal::One(Val::lit(&*st.cwd)),
            "IFS" => PVal::One(Val::lit(DEFAULT_IFS)),
            "RANDOM" | "HOSTNAME" | "PPID" | "SECONDS" | "BASHPID" => {
                PVal::One(Val::unknown(format!("${name}"), "differs per run"))
            }
            _ if is_env_like(name) && !st.unset.contains(name) && !self.inv.env_complete => {
                PVal::UnsetEnv(name.to_string())
            }
            _ => PVal::Unset,
        }
    }

    fn special(&mut self, st: &State, s: &SpecialParameter) -> PVal {
        match s {
            SpecialParameter::AllPositionalParameters { concatenate } => {
                PVal::Many(st.positionals.to_vec(), *concatenate)
            }
            SpecialParameter::PositionalParameterCount => {
                PVal::One(Val::lit(st.positionals.len().to_string()))
            }
            SpecialParameter::LastExitStatus => PVal::One(match &st.status {
                super::state::Status::Known(n) => Val::lit(n.to_string()),
                super::state::Status::Unknown(why) => Val::unknown("$?", why.clone()),
            }),
            SpecialParameter::CurrentOptionFlags => {
                PVal::One(Val::lit(if st.errexit { "e" } else { "" }))
            }
            SpecialParameter::ProcessId => PVal::One(if self.inv.pid1 {
                Val::lit("1")
            } else {
                Val::unknown("$$", "the shell is not PID 1")
            }),
            SpecialParameter::LastBackgroundProcessId => {
                PVal::One(Val::unknown("$!", "a process id"))
            }
            SpecialParameter::ShellName => PVal::One(st.arg0.clone()),
        }
    }
}

impl PVal {
    pub(super) fn tap_mode(self, _mode: Mode) -> PVal {
        self
    }

    fn unset_if_scalar_index(self, idx: Option<i64>) -> PVal {
        match (self, idx) {
            (PVal::One(v), Some(0)) => PVal::One(v),
            (PVal::UnsetEnv(n), Some(0)) => PVal::UnsetEnv(n),
            _ => PVal::Unset,
        }
    }
}

fn is_many(p: &WordPiece) -> bool {
    // `"$@"`, `"${a[@]}"` and their slices (`"${@:2}"`, `"${a[@]:1}"`) make one field per
    // element, and none when there are none.
    let parameter = match p {
        WordPiece::ParameterExpansion(
            ParameterExpr::Parameter { parameter, .. } | ParameterExpr::Substring { parameter, .. },
        ) => parameter,
        _ => return false,
    };
    matches!(
        parameter,
        Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate: false })
            | Parameter::NamedWithAllIndices {
                concatenate: false,
                ..
            }
    )
}

/// Whether a variable name looks like configuration passed through the environment.
pub(crate) fn is_env_like(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn unset_env(n: &str) -> Val {
    Val::unknown(format!("${n}"), format!("env {n} not set in image"))
}

fn parse_param_name(name: &str) -> Parameter {
    if let Ok(n) = name.parse::<u32>() {
        return Parameter::Positional(n);
    }
    match name.split_once('[') {
        Some((base, rest)) => {
            let idx = rest.trim_end_matches(']');
            if idx == "@" || idx == "*" {
                Parameter::NamedWithAllIndices {
                    name: base.into(),
                    concatenate: idx == "*",
                }
            } else {
                Parameter::NamedWithIndex {
                    name: base.into(),
                    index: idx.into(),
                }
            }
        }
        None => Parameter::Named(name.into()),
    }
}

pub(super) fn map_known(pv: PVal, f: impl Fn(&str) -> String) -> PVal {
    let one = |v: Val| match v.known() {
        Some(s) => Val::lit(f(&s)),
        None => v,
    };
    match pv {
        PVal::Unset => PVal::One(Val::default()),
        PVal::UnsetEnv(n) => PVal::One(unset_env(&n)),
        PVal::One(v) => PVal::One(one(v)),
        PVal::Many(l, c) => PVal::Many(l.into_iter().map(one).collect(), c),
    }
}

pub(super) fn slice<T: Clone>(all: &[T], off: i64, len: Option<i64>) -> Vec<T> {
    let n = all.len() as i64;
    let start = if off < 0 {
        (n + off).max(0)
    } else {
        off.min(n)
    };
    let end = match len {
        None => n,
        Some(l) if l < 0 => (n + l).max(start),
        Some(l) => (start + l).min(n),
    };
    if end <= start {
        return Vec::new();
    }
    all[start as usize..end as usize].to_vec()
}

pub(super) fn first_char(s: &str, upper: bool) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if upper => f.to_uppercase().chain(c).collect(),
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Joins values with a separator.
pub(crate) fn join(list: &[Val], sep: &str) -> Val {
    let mut out = Val::default();
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            out.push_part(Part::Lit(sep.into()));
        }
        out.push(v);
    }
    out
}

fn trim_newlines(mut v: Val) -> Val {
    while let Some(Part::Lit(s)) = v.0.last_mut() {
        let t = s.trim_end_matches('\n').len();
        if t < s.len() {
            *s = Rc::from(&s[..t]);
        }
        if s.is_empty() {
            v.0.pop();
        } else {
            break;
        }
    }
    v
}

fn ansi_c(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('e') | Some('E') => out.push('\u{1b}'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}
