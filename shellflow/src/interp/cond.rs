//! Tests: the `test`/`[` utility (XCU `test`, decided by argument count) and bash's `[[ ]]`.
//!
//! File tests are answered from the image through [`crate::ImageFs`] plus what the script
//! created; paths under a declared volume are answered "absent" with the assumption that the
//! volume is fresh, and run-time paths (`/proc`, `/run`, `/dev`, `/sys`) stay unknown.
//! Group ownership and ACLs are not modelled.

use crate::api::FileKind;
use crate::memfs::normalize;
use crate::parse::ast::{self, BinaryPredicate as B, UnaryPredicate as U};
use crate::pattern;
use crate::value::Val;

use super::state::{unset_env_alt_name, unset_env_name, Refine, State, Status};
use super::Interp;

/// A truth value that may depend on the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Tri {
    /// Decided.
    Known(bool),
    /// Depends on the run, for this reason.
    Unknown(String),
}

impl Tri {
    /// As an exit status.
    pub fn status(&self) -> Status {
        match self {
            Tri::Known(b) => Status::from_bool(*b),
            Tri::Unknown(w) => Status::Unknown(w.clone()),
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Known(b) => Tri::Known(!b),
            u => u,
        }
    }

    fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::Known(false) => Tri::Known(false),
            Tri::Known(true) => other(),
            u => match other() {
                Tri::Known(false) => Tri::Known(false),
                _ => u,
            },
        }
    }

    fn or(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::Known(true) => Tri::Known(true),
            Tri::Known(false) => other(),
            u => match other() {
                Tri::Known(true) => Tri::Known(true),
                _ => u,
            },
        }
    }
}

fn unary_op(s: &str) -> Option<U> {
    crate::parse::unary_test_operator(s)
}

fn binary_op(s: &str) -> Option<B> {
    Some(match s {
        "=" | "==" => B::StringExactlyMatchesString,
        "!=" => B::StringDoesNotExactlyMatchString,
        "<" => B::LeftSortsBeforeRight,
        ">" => B::LeftSortsAfterRight,
        _ => return crate::parse::binary_test_operator(s),
    })
}

impl Interp<'_> {
    /// `test ! ARGS`: the outcome and what each branch learns, both turned over.
    fn negated(&mut self, st: &mut State, args: &[Val]) -> Tri {
        let t = self.eval_test_args(st, args).not();
        st.pending = st.pending.take().map(Refine::negate);
        t
    }

    /// `test ARGS` / `[ ARGS ]`.
    pub(crate) fn eval_test_args(&mut self, st: &mut State, args: &[Val]) -> Tri {
        fn text(v: &Val) -> Option<std::borrow::Cow<'_, str>> {
            v.as_known()
        }
        // -o binds loosest, then -a (XSI).
        for (op, is_or) in [("-o", true), ("-a", false)] {
            if args.len() > 3 {
                if let Some(i) = args.iter().rposition(|a| text(a).as_deref() == Some(op)) {
                    if i > 0 && i + 1 < args.len() {
                        let (l, r) = (args[..i].to_vec(), args[i + 1..].to_vec());
                        let left = self.eval_test_args(st, &l);
                        return if is_or {
                            left.or(|| self.eval_test_args(st, &r))
                        } else {
                            left.and(|| self.eval_test_args(st, &r))
                        };
                    }
                }
            }
        }
        match args.len() {
            0 => Tri::Known(false),
            1 => {
                if let Some(n) = unset_env_name(&args[0]) {
                    st.pending = Some(Refine::Empty(n, false));
                } else if let Some(n) = unset_env_alt_name(&args[0]) {
                    st.pending = Some(Refine::Unset(n, false));
                }
                non_empty(&args[0])
            }
            2 => match text(&args[0]).as_deref() {
                Some("!") => self.negated(st, &args[1..]),
                Some(op) => match unary_op(op) {
                    Some(u) => self.unary(st, &u, &args[1]),
                    None => Tri::Unknown(format!("test: unknown operator {op}")),
                },
                None => Tri::Unknown(args[0].why().unwrap_or_default()),
            },
            3 => {
                if let Some(b) = text(&args[1]).as_deref().and_then(binary_op) {
                    return self.binary(st, &b, &args[0], &args[2], false);
                }
                match text(&args[0]).as_deref() {
                    Some("!") => self.negated(st, &args[1..]),
                    Some("(") => self.eval_test_args(st, &args[1..2]),
                    _ => Tri::Unknown("test: unsupported expression".into()),
                }
            }
            _ => match text(&args[0]).as_deref() {
                Some("!") => self.negated(st, &args[1..]),
                Some("(") if text(&args[args.len() - 1]).as_deref() == Some(")") => {
                    self.eval_test_args(st, &args[1..args.len() - 1])
                }
                _ => Tri::Unknown("test: unsupported expression".into()),
            },
        }
    }

    /// `[[ EXPR ]]`.
    pub(crate) fn eval_ext_test(&mut self, st: &mut State, e: &ast::ExtendedTestExpr) -> Tri {
        use ast::ExtendedTestExpr as X;
        match e {
            X::And(a, b) => {
                let l = self.eval_ext_test(st, a);
                l.and(|| self.eval_ext_test(st, b))
            }
            X::Or(a, b) => {
                let l = self.eval_ext_test(st, a);
                l.or(|| self.eval_ext_test(st, b))
            }
            X::Not(a) => {
                let t = self.eval_ext_test(st, a).not();
                st.pending = st.pending.take().map(Refine::negate);
                t
            }
            X::Parenthesized(a) => self.eval_ext_test(st, a),
            X::UnaryTest(op, w) => {
                let v = self.expand_str(st, &w.value);
                self.unary(st, op, &v)
            }
            X::BinaryTest(op, l, r) => {
                let lv = self.expand_str(st, &l.value);
                let rv = match op {
                    B::StringExactlyMatchesPattern | B::StringDoesNotExactlyMatchPattern => {
                        self.expand_pattern(st, &r.value)
                    }
                    _ => self.expand_str(st, &r.value),
                };
                self.binary(st, op, &lv, &rv, true)
            }
        }
    }

    fn unary(&mut self, st: &mut State, op: &U, v: &Val) -> Tri {
        if let Some(n) = unset_env_name(v) {
            match op {
                U::StringHasZeroLength => st.pending = Some(Refine::Empty(n, true)),
                U::StringHasNonZeroLength => st.pending = Some(Refine::Empty(n, false)),
                _ => {}
            }
        } else if let Some(n) = unset_env_alt_name(v) {
            match op {
                U::StringHasZeroLength => st.pending = Some(Refine::Unset(n, true)),
                U::StringHasNonZeroLength => st.pending = Some(Refine::Unset(n, false)),
                _ => {}
            }
        }
        match op {
            U::StringHasZeroLength => non_empty(v).not(),
            U::StringHasNonZeroLength => non_empty(v),
            U::ShellVariableIsSetAndAssigned => match v.known() {
                Some(n) if st.get(&n).is_some() => Tri::Known(true),
                Some(n)
                    if super::expand::is_env_like(&n)
                        && !st.unset.contains(&n)
                        && !self.inv.env_complete =>
                {
                    // Unset as the image is: the empty branch is the likelier one.
                    st.pending = Some(Refine::Unset(n.clone(), false));
                    Tri::Unknown(super::concat(&["env ", &n, " not set in image"]))
                }
                Some(_) => Tri::Known(false),
                None => Tri::Unknown(v.why().unwrap_or_default()),
            },
            U::FdIsOpenTerminal => Tri::Known(false),
            U::ShellOptionEnabled | U::ShellVariableIsSetAndNameRef => Tri::Known(false),
            _ => match v.known() {
                Some(p) => self.file_test(st, op, &p),
                None => Tri::Unknown(v.why().unwrap_or_default()),
            },
        }
    }

    fn binary(&mut self, st: &mut State, op: &B, l: &Val, r: &Val, ext: bool) -> Tri {
        let (Some(a), Some(b)) = (l.as_known(), r.as_known()) else {
            let eq = matches!(
                op,
                B::StringExactlyMatchesString | B::StringExactlyMatchesPattern
            );
            let ne = matches!(
                op,
                B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern
            );
            let pair = match (unset_env_name(l), unset_env_name(r), l.known(), r.known()) {
                (Some(n), _, _, Some(lit)) | (_, Some(n), Some(lit), _) => Some((n, lit)),
                _ => None,
            };
            match (pair, eq || ne) {
                (Some((n, lit)), true) if !lit.contains(['*', '?', '[', '\\']) => {
                    st.pending = Some(Refine::Equals(n, lit, eq));
                }
                (None, true) => {
                    // A run-time value compared with a specific word: rarely equal.
                    let unknown_whole = |v: &Val| v.0.len() == 1 && v.is_unknown();
                    let specific = super::specific;
                    if (unknown_whole(l) && specific(r)) || (unknown_whole(r) && specific(l)) {
                        st.pending = Some(Refine::Unlikely(eq));
                    }
                }
                _ => {}
            }
            let why = l.why().or_else(|| r.why()).unwrap_or_default();
            if matches!(
                op,
                B::StringExactlyMatchesString
                    | B::StringDoesNotExactlyMatchString
                    | B::StringExactlyMatchesPattern
                    | B::StringDoesNotExactlyMatchPattern
            ) {
                if let Some(t) = prefix_mismatch(l, r) {
                    let eq = matches!(
                        op,
                        B::StringExactlyMatchesString | B::StringExactlyMatchesPattern
                    );
                    return Tri::Known(t != eq);
                }
            }
            return Tri::Unknown(why);
        };
        let num = |s: &str| s.trim().parse::<i64>().ok();
        let arith = |f: fn(i64, i64) -> bool| match (num(&a), num(&b)) {
            (Some(x), Some(y)) => Tri::Known(f(x, y)),
            _ => Tri::Unknown(format!("not numbers: {a} {b}")),
        };
        match op {
            B::StringExactlyMatchesString if ext => Tri::Known(pattern::matches(&b, &a)),
            B::StringDoesNotExactlyMatchString if ext => Tri::Known(!pattern::matches(&b, &a)),
            B::StringExactlyMatchesString => Tri::Known(a == b),
            B::StringDoesNotExactlyMatchString => Tri::Known(a != b),
            B::StringExactlyMatchesPattern => Tri::Known(pattern::matches(&b, &a)),
            B::StringDoesNotExactlyMatchPattern => Tri::Known(!pattern::matches(&b, &a)),
            B::StringMatchesRegex => match regex::Regex::new(&b) {
                Ok(re) => {
                    let caps = re.captures(&a);
                    let groups: Vec<Val> = caps
                        .iter()
                        .flat_map(|c| {
                            c.iter()
                                .map(|m| Val::lit(m.map(|m| m.as_str()).unwrap_or("")))
                        })
                        .collect();
                    st.set_value("BASH_REMATCH", super::state::VarValue::Array(groups));
                    Tri::Known(caps.is_some())
                }
                Err(_) => Tri::Unknown(format!("regex {b} not understood")),
            },
            B::StringContainsSubstring => Tri::Known(a.contains(&*b)),
            B::LeftSortsBeforeRight => Tri::Known(a < b),
            B::LeftSortsAfterRight => Tri::Known(a > b),
            B::ArithmeticEqualTo => arith(|x, y| x == y),
            B::ArithmeticNotEqualTo => arith(|x, y| x != y),
            B::ArithmeticLessThan => arith(|x, y| x < y),
            B::ArithmeticLessThanOrEqualTo => arith(|x, y| x <= y),
            B::ArithmeticGreaterThan => arith(|x, y| x > y),
            B::ArithmeticGreaterThanOrEqualTo => arith(|x, y| x >= y),
            _ => Tri::Unknown("file timestamps are not known".into()),
        }
    }

    /// Answers a file test from the image (and what the script created).
    fn file_test(&mut self, st: &mut State, op: &U, path: &str) -> Tri {
        if path.is_empty() {
            return Tri::Known(false);
        }
        let abs = if path.starts_with('/') {
            normalize(path)
        } else {
            normalize(&format!("{}/{}", st.cwd, path))
        };
        // `abs` is `dir` or below it.
        let at_or_under = |dir: &str| {
            abs.strip_prefix(dir)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        for runtime in ["/proc", "/sys", "/dev", "/run", "/var/run"] {
            if at_or_under(runtime) {
                return Tri::Unknown(format!("{abs} exists only at run time"));
            }
        }
        if let Some(vol) = self.inv.volumes.iter().find(|v| {
            abs == **v
                || abs
                    .strip_prefix(v.trim_end_matches('/'))
                    .is_some_and(|rest| rest.starts_with('/'))
        }) {
            st.assume(format!("volume {vol} is empty (fresh container)"));
        }
        if st.created.contains(&abs) {
            return Tri::Known(!matches!(op, U::FileExistsAndIsSymlink));
        }
        let Some(meta) = self.fs.stat(&abs) else {
            if st.maybe_created.contains(&abs) {
                return Tri::Unknown(format!(
                    "{abs} is not in the image but a command the script runs may create it"
                ));
            }
            return Tri::Known(false);
        };
        let root = st.user.uid == 0;
        let bits = |shift: u32| {
            if meta.uid == st.user.uid {
                (meta.mode >> 6) & 7 & shift != 0
            } else {
                (meta.mode & 7) & shift != 0 || (meta.mode >> 3) & 7 & shift != 0
            }
        };
        Tri::Known(match op {
            U::FileExists => true,
            U::FileExistsAndIsRegularFile => meta.kind == FileKind::File,
            U::FileExistsAndIsDir => meta.kind == FileKind::Dir,
            U::FileExistsAndIsSymlink => meta.is_symlink,
            U::FileExistsAndIsNotZeroLength => meta.size > 0,
            U::FileExistsAndIsExecutable => {
                (root && meta.mode & 0o111 != 0) || bits(1) || (root && meta.kind == FileKind::Dir)
            }
            U::FileExistsAndIsReadable => root || bits(4),
            U::FileExistsAndIsWritable => root || bits(2),
            U::FileExistsAndIsSetuid => meta.mode & 0o4000 != 0,
            U::FileExistsAndIsSetgid => meta.mode & 0o2000 != 0,
            U::FileExistsAndHasStickyBit => meta.mode & 0o1000 != 0,
            U::FileExistsAndOwnedByEffectiveUserId => meta.uid == st.user.uid,
            U::FileExistsAndIsFifo | U::FileExistsAndIsSocket => false,
            U::FileExistsAndIsBlockSpecialFile | U::FileExistsAndIsCharSpecialFile => {
                meta.kind == FileKind::Other
            }
            _ => return Tri::Unknown(format!("test on {abs} not modelled")),
        })
    }
}

fn non_empty(v: &Val) -> Tri {
    if !v.known_prefix().is_empty() {
        return Tri::Known(true);
    }
    match v.known() {
        Some(s) => Tri::Known(!s.is_empty()),
        None => Tri::Unknown(v.why().unwrap_or_default()),
    }
}

/// Two strings whose known prefixes already differ are unequal whatever the unknown rest.
fn prefix_mismatch(l: &Val, r: &Val) -> Option<bool> {
    let (a, b) = (l.known_prefix(), r.known_prefix());
    let differ = a
        .chars()
        .zip(b.chars())
        .any(|(x, y)| x != y && !matches!(y, '*' | '?' | '[' | '\\'));
    differ.then_some(true)
}
