//! `#!` lines with the Linux kernel's semantics (`fs/binfmt_script.c`).
//!
//! The kernel reads the first `BINPRM_BUF_SIZE` (256) bytes; the interpreter is the first
//! word after `#!` (leading blanks skipped), and *the whole rest of the line*, blanks trimmed
//! at both ends, is one optional argument — `#!/usr/bin/env -S python3 -u` passes
//! `-S python3 -u` as a single word. The new argv is `interp [arg] SCRIPT ARGS...`, where
//! SCRIPT is the path given to execve. A line longer than the buffer is cut, unless the
//! interpreter name itself does not fit (ENOEXEC). Interpreters may themselves be scripts, up
//! to [`MAX_INTERPRETER_DEPTH`] levels. This module parses; it reads no file.

/// The kernel's `BINPRM_BUF_SIZE`: how much of a script's head it looks at.
pub const BINPRM_BUF_SIZE: usize = 256;

/// The kernel's `BINPRM_MAX_RECURSION`: nested interpreters allowed before ELOOP.
pub const MAX_INTERPRETER_DEPTH: usize = 4;

/// A parsed `#!` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    pub interpreter: String,
    /// The rest of the line, as one word, when not empty.
    pub arg: Option<String>,
    /// The line was longer than the kernel's buffer and was cut.
    pub truncated: bool,
}

/// Why a file starting with `#!` cannot be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShebangError {
    #[error("#! line names no interpreter")]
    NoInterpreter,
    #[error("#! interpreter name does not fit in the kernel's {BINPRM_BUF_SIZE}-byte buffer")]
    InterpreterTooLong,
}

impl Shebang {
    /// The argv the kernel execs for `script` run as `argv` (whose `argv[0]` it drops).
    pub fn rewrite(&self, script: &str, argv: &[String]) -> Vec<String> {
        let mut out = vec![self.interpreter.clone()];
        out.extend(self.arg.iter().cloned());
        out.push(script.to_string());
        out.extend(argv.iter().skip(1).cloned());
        out
    }
}

/// Parses the head of a file. `Ok(None)` when it does not start with `#!`.
pub fn parse_shebang(head: &[u8]) -> Result<Option<Shebang>, ShebangError> {
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let buf = &head[..head.len().min(BINPRM_BUF_SIZE)];
    let rest = &rest[..buf.len() - 2];
    let (line, truncated) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], false),
        None => (rest, head.len() > BINPRM_BUF_SIZE),
    };
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_blank(b)).unwrap_or(line.len());
    let line = &line[start..];
    let interp_end = line.iter().position(is_blank).unwrap_or(line.len());
    if interp_end == 0 {
        return Err(ShebangError::NoInterpreter);
    }
    if truncated && interp_end == line.len() {
        return Err(ShebangError::InterpreterTooLong);
    }
    let interpreter = String::from_utf8_lossy(&line[..interp_end]).into_owned();
    let arg = trim_blanks(&line[interp_end..]);
    Ok(Some(Shebang {
        interpreter,
        arg: (!arg.is_empty()).then(|| String::from_utf8_lossy(arg).into_owned()),
        truncated,
    }))
}

fn trim_blanks(s: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | 0);
    let start = s.iter().position(|b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(interp: &str, arg: Option<&str>) -> Result<Option<Shebang>, ShebangError> {
        Ok(Some(Shebang {
            interpreter: interp.into(),
            arg: arg.map(String::from),
            truncated: false,
        }))
    }

    #[test]
    fn parses_shebang_lines_as_the_kernel_does() {
        type Parsed = Result<Option<Shebang>, ShebangError>;
        let cases: &[(&[u8], Parsed)] = &[
            (b"#!/bin/sh\necho", ok("/bin/sh", None)),
            (b"#! /bin/sh\n", ok("/bin/sh", None)),
            (b"#!/bin/sh -e\n", ok("/bin/sh", Some("-e"))),
            (b"#!/bin/sh -e -x  \n", ok("/bin/sh", Some("-e -x"))),
            (
                b"#!\t/usr/bin/env\tpython3\r\n",
                ok("/usr/bin/env", Some("python3")),
            ),
            (
                b"#!/usr/bin/env -S python3 -u\n",
                ok("/usr/bin/env", Some("-S python3 -u")),
            ),
            (b"#!/bin/sh", ok("/bin/sh", None)),
            (b"#!\n", Err(ShebangError::NoInterpreter)),
            (b"#!   \n", Err(ShebangError::NoInterpreter)),
            (b"\x7fELF", Ok(None)),
            (b"echo hi\n", Ok(None)),
            (b"", Ok(None)),
        ];
        for (head, want) in cases {
            assert_eq!(
                &parse_shebang(head),
                want,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn a_long_line_is_cut_at_the_buffer_but_a_long_interpreter_is_refused() {
        let mut long_arg = b"#!/bin/sh ".to_vec();
        long_arg.extend([b'x'; 400]);
        let s = parse_shebang(&long_arg).expect("ok").expect("shebang");
        assert!(s.truncated);
        assert_eq!(
            s.arg.expect("arg").len(),
            BINPRM_BUF_SIZE - "#!/bin/sh ".len()
        );

        let mut long_interp = b"#!/".to_vec();
        long_interp.extend([b'y'; 400]);
        assert_eq!(
            parse_shebang(&long_interp),
            Err(ShebangError::InterpreterTooLong)
        );
    }

    #[test]
    fn rewrite_puts_the_script_path_in_place_of_argv0() {
        let s = Shebang {
            interpreter: "/bin/sh".into(),
            arg: Some("-e".into()),
            truncated: false,
        };
        let argv: Vec<String> = ["entry.sh", "postgres", "-c", "x"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            s.rewrite("/usr/local/bin/entry.sh", &argv),
            [
                "/bin/sh",
                "-e",
                "/usr/local/bin/entry.sh",
                "postgres",
                "-c",
                "x"
            ]
        );
    }
}
