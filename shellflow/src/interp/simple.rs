//! Small builtins that only change the path's own state: `shift`, `unset`, `exit`, `return`,
//! `break`/`continue`, `cd`, `read`, `let` (XCU 2.14 special built-ins and their bash kin).
//!
//! Each takes the expanded arguments and returns how control leaves; none of them records
//! anything or forks.

use crate::api::Location;
use crate::memfs::normalize;
use crate::value::Val;

use super::state::{State, Status};
use super::Flow;

fn number<T: std::str::FromStr>(rest: &[Val]) -> Option<T> {
    rest.first()
        .and_then(Val::known)
        .and_then(|s| s.parse::<T>().ok())
}

/// `shift [n]`: fails (and shifts nothing) when there are fewer than n arguments.
pub(super) fn shift(st: &mut State, rest: &[Val]) -> Flow {
    let n = number::<usize>(rest).unwrap_or(1);
    if n > st.positionals.len() {
        st.status = Status::FAIL;
    } else {
        st.positionals.drain(..n);
        st.status = Status::OK;
    }
    Flow::Normal
}

/// `unset [-f|-v] names`: an unset name is no longer "unset in the image env".
pub(super) fn unset(st: &mut State, rest: &[Val]) -> Flow {
    let funcs = rest.iter().any(|v| v.known().as_deref() == Some("-f"));
    for n in rest
        .iter()
        .filter_map(Val::known)
        .filter(|n| !n.starts_with('-'))
    {
        if funcs {
            std::rc::Rc::make_mut(&mut st.funcs).remove(&n);
        } else {
            st.vars.remove(&n);
            st.alts.remove(&n);
            st.unset.insert(n);
        }
    }
    st.status = Status::OK;
    Flow::Normal
}

/// `exit [n]`.
pub(super) fn exit(st: &mut State, rest: &[Val], location: Option<Location>) -> Flow {
    st.status = match rest
        .first()
        .map(|v| v.known().and_then(|s| s.parse::<i32>().ok()))
    {
        Some(Some(n)) => Status::Known(n),
        Some(None) => Status::Unknown("exit status unknown".into()),
        None => st.status.clone(),
    };
    if st.subshell == 0 {
        st.reason(
            format!("`exit` ends the script (status {:?})", st.status),
            location,
        );
    }
    Flow::Exit
}

/// `return [n]`: outside a function or sourced file it ends the script.
pub(super) fn ret(st: &mut State, rest: &[Val]) -> Flow {
    if let Some(n) = number::<i32>(rest) {
        st.status = Status::Known(n);
    }
    if st.calls == 0 && !st.frames.iter().any(|f| f.name == "source") {
        Flow::Exit
    } else {
        Flow::Return
    }
}

/// `break [n]` / `continue [n]`.
pub(super) fn loop_control(name: &str, rest: &[Val]) -> Flow {
    let n = number::<usize>(rest).unwrap_or(1).max(1);
    if name == "break" {
        Flow::Break(n)
    } else {
        Flow::Continue(n)
    }
}

/// `cd dir`; false when the directory is unknown (the cwd is then kept).
pub(super) fn cd(st: &mut State, rest: &[Val]) -> bool {
    st.status = Status::OK;
    match rest.first().map(Val::known) {
        Some(Some(d)) => {
            let d = if d.starts_with('/') {
                normalize(&d)
            } else {
                normalize(&format!("{}/{d}", st.cwd))
            };
            st.cwd = d.clone();
            st.set("PWD", Val::lit(d));
            true
        }
        Some(None) => false,
        None => true,
    }
}

/// `read names`: the names get unknown values; whether a line comes depends on the input.
pub(super) fn read(st: &mut State, rest: &[Val]) -> Flow {
    for n in rest
        .iter()
        .filter_map(Val::known)
        .filter(|n| !n.starts_with('-'))
    {
        st.set(
            &n,
            Val::unknown(format!("${n}"), "read from input at run time"),
        );
    }
    st.status = Status::Unknown("whether `read` gets a line depends on the input".into());
    Flow::Normal
}

/// `let expr…`.
pub(super) fn let_arith(st: &mut State, rest: &[Val]) -> Flow {
    let mut last = None;
    for v in rest {
        last = v.known().and_then(|t| super::arith::eval_text(st, &t, 0));
    }
    st.status = last.map_or(Status::Unknown("let on unknown values".into()), |n| {
        Status::from_bool(n != 0)
    });
    Flow::Normal
}
