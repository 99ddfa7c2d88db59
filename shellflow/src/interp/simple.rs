//! Small builtins that only change the path's own state: `shift`, `unset`, `exit`, `return`,
//! `break`/`continue`, `cd`, `read`, `let` (XCU 2.14 special built-ins and their bash kin).
//!
//! Each takes the expanded arguments and returns how control leaves; none of them records
//! anything or forks.

use std::rc::Rc;

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
        Rc::make_mut(&mut st.positionals).drain(..n);
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
            super::state::drop_alts(&mut st.alts, &n);
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
        let status = match &st.status {
            Status::Known(n) => n.to_string(),
            Status::Unknown(_) => "unknown".to_string(),
        };
        // An error helper (`mysql_error`) exits for its callers: name it.
        let within = st
            .frames
            .last()
            .filter(|f| f.name != "source")
            .map(|f| format!(" in function {}", f.name))
            .unwrap_or_default();
        st.reason(
            format!("`exit` ends the script (status {status}){within}"),
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
            st.cwd = Rc::from(d.as_str());
            st.set("PWD", Val::lit(d));
            true
        }
        Some(None) => false,
        None => true,
    }
}

/// `read [-r] [-p prompt] [names…]`: with known input (a pipe from `printf`, a here-doc, a
/// file of the image) it takes one line and splits it over the names; otherwise the names get
/// unknown values and whether a line comes depends on the run.
pub(super) fn read(st: &mut State, rest: &[Val], ifs: Option<Val>) -> Flow {
    let mut names: Vec<String> = Vec::new();
    let (mut raw, mut plain) = (false, true);
    // `-d DELIM` ends the line at DELIM's first character (NUL for `-d ''`).
    let mut delim = '\n';
    let mut i = 0;
    while i < rest.len() {
        let Some(a) = rest[i].known() else {
            plain = false;
            i += 1;
            continue;
        };
        i += 1;
        if !names.is_empty() || !a.starts_with('-') || a == "-" {
            names.push(a);
            continue;
        }
        if a == "--" {
            names.extend(rest[i..].iter().filter_map(Val::known));
            break;
        }
        for (j, c) in a.char_indices().skip(1) {
            match c {
                'r' => raw = true,
                's' | 'e' => {}
                // `-p prompt`, `-t secs`, `-i text`: no effect on what is read.
                'p' | 't' | 'i' => {
                    i += usize::from(j + 1 == a.len());
                    break;
                }
                'd' => {
                    let attached = &a[j + 1..];
                    let value = if attached.is_empty() {
                        i += 1;
                        rest.get(i - 1).and_then(Val::known)
                    } else {
                        Some(attached.to_string())
                    };
                    match value {
                        Some(d) => delim = d.chars().next().unwrap_or('\0'),
                        None => plain = false,
                    }
                    break;
                }
                // `-a`, `-n`, `-N`, `-u` change what is read: not modelled.
                _ => {
                    plain = false;
                    i += usize::from(j + 1 == a.len() && "adnNu".contains(c));
                    break;
                }
            }
        }
    }
    if names.is_empty() {
        names.push("REPLY".into());
    }
    let input = if plain {
        st.stdin.as_ref().and_then(Val::known)
    } else {
        None
    };
    let Some(input) = input else {
        for n in &names {
            st.set(
                n,
                Val::unknown(format!("${n}"), "read from input at run time"),
            );
        }
        st.status = Status::Unknown("whether `read` gets a line depends on the input".into());
        return Flow::Normal;
    };
    let (line, left, whole) = match input.find(delim) {
        Some(k) => (&input[..k], &input[k + delim.len_utf8()..], true),
        None => (input.as_str(), "", false),
    };
    let line = if raw {
        line.to_string()
    } else {
        unescape(line)
    };
    let ifs = ifs
        .or_else(|| st.get("IFS").map(|v| v.scalar()))
        .map_or_else(|| Some(" \t\n".to_string()), |v| v.known());
    let Some(ifs) = ifs else {
        for n in &names {
            st.set(n, Val::unknown(format!("${n}"), "IFS is not known"));
        }
        st.stdin = Some(Val::lit(left));
        st.status = Status::from_bool(whole);
        return Flow::Normal;
    };
    for (n, v) in names.iter().zip(split_read(&line, &ifs, names.len())) {
        st.set(n, Val::lit(v));
    }
    st.stdin = Some(Val::lit(left));
    // A last line without its newline is still assigned, but `read` fails (bash and dash).
    st.status = Status::from_bool(whole);
    Flow::Normal
}

/// `read` without `-r`: a backslash keeps the next character (a trailing one is dropped).
fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a line over `n` names the way `read` does (XCU `read`, field splitting): IFS
/// whitespace around fields is dropped, each other IFS character ends one field, and the
/// last name takes the rest of the line.
fn split_read(line: &str, ifs: &str, n: usize) -> Vec<String> {
    let is_ws = |c: char| ifs.contains(c) && c.is_whitespace();
    let is_delim = |c: char| ifs.contains(c);
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start_matches(is_ws);
    while out.len() + 1 < n {
        let end = rest.find(is_delim).unwrap_or(rest.len());
        out.push(rest[..end].to_string());
        rest = &rest[end..];
        // One delimiter: IFS whitespace, optionally one other IFS character, more whitespace.
        rest = rest.trim_start_matches(is_ws);
        if let Some(c) = rest.chars().next() {
            if is_delim(c) && !is_ws(c) {
                rest = rest[c.len_utf8()..].trim_start_matches(is_ws);
            }
        }
    }
    out.push(rest.trim_end_matches(is_ws).to_string());
    out.resize(n, String::new());
    out
}

/// `umask`: prints the mask (`-S`: symbolically, `-p`: as a command) when known, or sets it
/// from an octal mode; a symbolic mode makes it unknown.
pub(super) fn umask(st: &mut State, rest: &[Val]) -> Flow {
    st.status = Status::OK;
    let args: Option<Vec<String>> = rest.iter().map(Val::known).collect();
    let Some(args) = args else {
        st.umask = None;
        return Flow::Normal;
    };
    let symbolic = args.iter().any(|a| a == "-S");
    // `-p` prints the mask as a command that sets it again (`umask 0022`), for `$saved`.
    let reusable = args.iter().any(|a| a == "-p");
    let mode = args.iter().find(|a| *a != "-S" && *a != "-p");
    match mode {
        Some(m) => {
            // A symbolic mode (`u=rwx,g=rx`) leaves the mask unknown; a bad octal one fails.
            st.umask = u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o777);
            if st.umask.is_none() && m.chars().all(|c| c.is_ascii_digit()) {
                st.status = Status::FAIL;
            }
        }
        None => {
            let prefix = match (reusable, symbolic) {
                (true, true) => "umask -S ",
                (true, false) => "umask ",
                _ => "",
            };
            let text = match st.umask {
                Some(m) if symbolic => format!("{prefix}{}\n", symbolic_mask(m)),
                Some(m) => format!("{prefix}{m:04o}\n"),
                None => {
                    if let Some(buf) = st.stdout.as_mut() {
                        buf.push(&Val::unknown("$(umask)", "the mask was set symbolically"));
                    }
                    return Flow::Normal;
                }
            };
            if let Some(buf) = st.stdout.as_mut() {
                buf.push(&Val::lit(text));
            }
        }
    }
    Flow::Normal
}

/// `umask -S` text: the permissions the mask leaves (`u=rwx,g=rx,o=rx` for 022).
fn symbolic_mask(mask: u32) -> String {
    let part = |who: char, shift: u32| {
        let allowed = !(mask >> shift) & 7;
        let mut s = format!("{who}=");
        for (bit, c) in [(4, 'r'), (2, 'w'), (1, 'x')] {
            if allowed & bit != 0 {
                s.push(c);
            }
        }
        s
    };
    format!("{},{},{}", part('u', 6), part('g', 3), part('o', 0))
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

#[cfg(test)]
mod tests {
    use super::{split_read, symbolic_mask};

    #[test]
    fn read_splits_like_the_shell() {
        let f = |line, ifs, n| split_read(line, ifs, n);
        assert_eq!(f("  a  b  c d ", " \t\n", 2), ["a", "b  c d"]);
        assert_eq!(f("a:b::c", ":", 3), ["a", "b", ":c"]);
        assert_eq!(f("a : b", " :", 2), ["a", "b"]);
        assert_eq!(f("  keep  ", "", 1), ["  keep  "]);
        assert_eq!(f("one", " ", 3), ["one", "", ""]);
    }

    #[test]
    fn umask_s_shows_what_the_mask_leaves() {
        assert_eq!(symbolic_mask(0o022), "u=rwx,g=rx,o=rx");
        assert_eq!(symbolic_mask(0o027), "u=rwx,g=rx,o=");
        assert_eq!(symbolic_mask(0o777), "u=,g=,o=");
    }
}
