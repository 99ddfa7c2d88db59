//! The one place shellflow talks to its parser (`brush-parser`), so it can be swapped.
//!
//! Parses programs (POSIX sh plus the bash extensions entrypoint scripts use, POSIX XCU 2.10
//! grammar), words into pieces (XCU 2.6 expansions), and arithmetic. The AST types are
//! re-exported from here; the interpreter never names `brush_parser` directly. Parsing knows
//! nothing of evaluation.

mod fast;

use std::io::BufReader;
use std::time::Duration;

pub use brush_parser::ast;
pub use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTestType, ParameterTransformOp, SpecialParameter,
    SubstringMatchKind, TildeExpr, WordPiece, WordPieceWithSource,
};
pub use brush_parser::SourceSpan;

/// A script that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: syntax error: {cause}")]
pub struct ParseError {
    /// Script path or `<sh -c>`.
    pub file: String,
    /// The parser's message.
    pub cause: String,
}

fn options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        enable_extended_globbing: false,
        posix_mode: false,
        sh_mode: false,
        tilde_expansion_at_word_start: true,
        tilde_expansion_after_colon: false,
        parser_impl: brush_parser::ParserImpl::Peg,
    }
}

/// How long a parse may take unless told otherwise ([`crate::Limits::max_parse_ms`]).
pub const DEFAULT_PARSE_MS: u64 = 1_000;

/// Stack of the helper thread a risky parse runs on (nesting recurses).
const PARSE_STACK_BYTES: usize = 256 << 20;

/// Parses a whole script, giving up after [`DEFAULT_PARSE_MS`].
pub fn parse_program(file: &str, text: &str) -> Result<ast::Program, ParseError> {
    parse_program_within(file, text, Duration::from_millis(DEFAULT_PARSE_MS))
}

/// Parses a whole script, giving up after `budget`.
///
/// brush-parser's PEG grammar backtracks exponentially on some text that does not parse:
/// twenty unclosed `(` take 50 ms, twenty-four 0.8 s, the hundred a fuzzer found would take
/// years, and repeated unclosed `case x in x)` behave the same. An image author controls
/// the entrypoint script, so text with that many openers is parsed on a helper thread and
/// abandoned after `budget`, with an error that says so. The abandoned thread runs until
/// the process ends (the hook and the CLI end right after their scan); the parser offers no
/// way to stop it. Text with fewer openers, the common case, cannot blow up and is parsed
/// here.
pub fn parse_program_within(
    file: &str,
    text: &str,
    budget: Duration,
) -> Result<ast::Program, ParseError> {
    parse_program_traced(file, text, budget).map(|(p, _)| p)
}

/// [`parse_program_within`], and whether the fast path parsed the text (then every node
/// was made on this thread, with the arena serving if it is open: see
/// `crate::arena::discard`).
pub(crate) fn parse_program_traced(
    file: &str,
    text: &str,
    budget: Duration,
) -> Result<(ast::Program, bool), ParseError> {
    // The fast path is linear on any text; only brush-parser needs the helper thread.
    if let Some(program) = fast::parse(text) {
        return Ok((program, true));
    }
    slow_parse(file, text, budget).map(|p| (p, false))
}

/// brush-parser's parse, on a helper thread when the text could make it backtrack for long.
fn slow_parse(file: &str, text: &str, budget: Duration) -> Result<ast::Program, ParseError> {
    // The helper thread, the channel and the text it shares may outlive the analysis, and
    // brush-parser keeps caches: none of it comes from the arena.
    let _off = crate::arena::suspend();
    if openers(text) < 16 {
        return parse_brush(file, text);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (owned_file, owned_text) = (file.to_string(), text.to_string());
    let spawned = std::thread::Builder::new()
        .name("shellflow-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(parse_brush(&owned_file, &owned_text));
        });
    let Ok(handle) = spawned else {
        return parse_brush(file, text);
    };
    match rx.recv_timeout(budget) {
        Ok(parsed) => {
            // The thread has sent its result and is ending: wait for it, so nothing is left
            // running (LeakSanitizer saw the exiting thread's handle as a leak).
            let _ = handle.join();
            parsed
        }
        Err(_) => Err(ParseError {
            file: file.into(),
            cause: format!(
                "the parser gave up after {} ms (deeply nested or unclosed `(` or `case`)",
                budget.as_millis()
            ),
        }),
    }
}

/// How many constructs the parser may backtrack into: `(` and `case`.
fn openers(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'(').count() + text.matches("case").count()
}

/// The program the hand-written fast path parses `text` into (the very program
/// brush-parser would give), or `None` where it leaves the text to brush-parser; public for
/// the tests and the differential fuzz target, which hold the two to the same output.
pub fn parse_fast(text: &str) -> Option<ast::Program> {
    fast::parse(text)
}

/// Parses with brush-parser only, on this thread (what the fast path falls back to; no
/// time limit, so only for text that cannot make it backtrack for long).
pub fn parse_brush(file: &str, text: &str) -> Result<ast::Program, ParseError> {
    if let Some(fd) = oversized_fd(text) {
        return Err(ParseError {
            file: file.into(),
            cause: format!("file descriptor number `{fd}` is out of range"),
        });
    }
    let parsed = guarded(|| {
        let reader = BufReader::new(text.as_bytes());
        brush_parser::Parser::new(reader, &options())
            .parse_program()
            .map_err(|e| e.to_string())
    });
    parsed.map_err(|cause| ParseError {
        file: file.into(),
        cause,
    })
}

/// Runs a call into brush-parser, turning a panic of brush-parser's into an error.
///
/// brush-parser 0.4 panics on some text an image author can write: an unterminated `$(`
/// holding a here-document operator (`$(basename "$src"<< | …`) reaches an `unwrap` at
/// `tokenizer.rs:674` (found by the `shellflow_analyze` fuzz target). A broken script must
/// never stop an analysis, so the panic becomes "brush-parser failed on this text". The
/// first call installs a panic hook that keeps quiet about panics raised inside
/// brush-parser's own source (they are caught here) and hands every other panic to the hook
/// that was there before, so a panic of shellflow's own still reports (and, under the
/// fuzzer, still counts as a crash).
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    // brush-parser keeps global caches of what it parses, and the hook below lives on:
    // their memory must not come from the arena.
    let _off = crate::arena::suspend();
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_brush = info
                .location()
                .is_some_and(|l| l.file().contains("brush-parser"));
            if !in_brush {
                // What the hook keeps (std's backtrace caches) outlives an analysis.
                let _off = crate::arena::suspend();
                previous(info);
            }
        }));
    });
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err("brush-parser failed on this text (an internal error of brush-parser 0.4)".into())
    })
}

/// A redirection's file descriptor number too large for brush-parser (`99999999999>f`):
/// its grammar converts the number with `unwrap`, and would panic. Such a number has at
/// least ten digits, so texts without a run of ten digits are not tokenized for this.
fn oversized_fd(text: &str) -> Option<String> {
    let mut run = 0;
    let long_run = text.bytes().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= 10
    });
    if !long_run {
        return None;
    }
    let tokens = guarded(|| brush_parser::tokenize_str(text).map_err(|e| e.to_string())).ok()?;
    tokens.windows(2).find_map(|pair| match pair {
        [brush_parser::Token::Word(w, at), brush_parser::Token::Operator(op, next)]
            if op.starts_with(['<', '>'])
                && at.end.index == next.start.index
                && !w.is_empty()
                && w.bytes().all(|b| b.is_ascii_digit())
                && w.parse::<i32>().is_err() =>
        {
            Some(w.clone())
        }
        _ => None,
    })
}

/// The unary test operators `test`/`[` and `[[ ]]` share (file tests, `-z`, `-n`, `-v`,
/// `-t`), as brush-parser's AST names them. `[[ ]]` adds `-o`, `-N` and `-R`; in `test`,
/// `-o` is the binary "or".
pub fn unary_test_operator(op: &str) -> Option<ast::UnaryPredicate> {
    use ast::UnaryPredicate as U;
    Some(match op {
        "-e" | "-a" => U::FileExists,
        "-f" => U::FileExistsAndIsRegularFile,
        "-d" => U::FileExistsAndIsDir,
        "-x" => U::FileExistsAndIsExecutable,
        "-r" => U::FileExistsAndIsReadable,
        "-w" => U::FileExistsAndIsWritable,
        "-s" => U::FileExistsAndIsNotZeroLength,
        "-L" | "-h" => U::FileExistsAndIsSymlink,
        "-p" => U::FileExistsAndIsFifo,
        "-S" => U::FileExistsAndIsSocket,
        "-b" => U::FileExistsAndIsBlockSpecialFile,
        "-c" => U::FileExistsAndIsCharSpecialFile,
        "-u" => U::FileExistsAndIsSetuid,
        "-g" => U::FileExistsAndIsSetgid,
        "-k" => U::FileExistsAndHasStickyBit,
        "-O" => U::FileExistsAndOwnedByEffectiveUserId,
        "-G" => U::FileExistsAndOwnedByEffectiveGroupId,
        "-t" => U::FdIsOpenTerminal,
        "-z" => U::StringHasZeroLength,
        "-n" => U::StringHasNonZeroLength,
        "-v" => U::ShellVariableIsSetAndAssigned,
        _ => return None,
    })
}

/// The binary test operators that compare numbers or files, alike in `test`/`[` and
/// `[[ ]]`; the string operators (`=`, `==`, `!=`, `<`, `>`, `=~`) differ between the two
/// (a pattern in `[[ ]]`) and are each caller's.
pub fn binary_test_operator(op: &str) -> Option<ast::BinaryPredicate> {
    use ast::BinaryPredicate as B;
    Some(match op {
        "-eq" => B::ArithmeticEqualTo,
        "-ne" => B::ArithmeticNotEqualTo,
        "-lt" => B::ArithmeticLessThan,
        "-le" => B::ArithmeticLessThanOrEqualTo,
        "-gt" => B::ArithmeticGreaterThan,
        "-ge" => B::ArithmeticGreaterThanOrEqualTo,
        "-nt" => B::LeftFileIsNewerOrExistsWhenRightDoesNot,
        "-ot" => B::LeftFileIsOlderOrDoesNotExistWhenRightDoes,
        "-ef" => B::FilesReferToSameDeviceAndInodeNumbers,
        _ => return None,
    })
}

/// Whether a script parses (the analogue of `bash -n`).
pub fn accepts(text: &str) -> bool {
    parse_program("<check>", text).is_ok()
}

/// Splits a word into its pieces (quotes, expansions).
///
/// Most words of an entrypoint script are plain text, quotes and simple `$name` expansions;
/// [`simple_word`] splits those itself, giving exactly the pieces brush-parser gives, at a
/// small fraction of the cost of brush-parser's word grammar. Anything else goes to
/// brush-parser.
pub fn parse_word(text: &str) -> Result<Vec<WordPieceWithSource>, String> {
    parse_word_traced(text).map(|(pieces, _)| pieces)
}

/// [`parse_word`], and whether [`simple_word`] split the word (then its pieces were made
/// on this thread, with the arena serving if it is open; brush-parser runs with it
/// suspended: see `crate::arena::discard`).
pub(crate) fn parse_word_traced(text: &str) -> Result<(Vec<WordPieceWithSource>, bool), String> {
    if let Some(pieces) = simple_word(text) {
        return Ok((pieces, true));
    }
    parse_word_brush(text).map(|pieces| (pieces, false))
}

/// Whether `text` is one piece of plain text to the word grammar and stays itself through
/// every expansion (no parameter, command or arithmetic expansion, quote, escape or tilde)
/// and through brace and pathname expansion (no `{`, `*`, `?`, `[`): a word like `mkdir`,
/// `-p` or `/tmp/d1`, which then expands to itself without being split into pieces (most of
/// the words of a script; `tests::plain_words_are_one_piece_of_text_to_brush_parser`).
/// Field splitting does not apply to text written in the word itself, only to what
/// expansions give, so `IFS` does not matter here.
pub fn plain_text_word(text: &str) -> bool {
    !text.is_empty() && !text.bytes().any(|b| SPECIAL_IN_WORD[usize::from(b)] != 0)
}

/// The bytes [`plain_text_word`] looks for, as a table: it is asked of nearly every word a
/// command expands, and one lookup a byte beats comparing with each of ten.
static SPECIAL_IN_WORD: [u8; 256] = mark_bytes([0; 256], b"$'\"\\`~{*?[", 1);

/// `table` with `bit` set for each of `bytes`: byte-class tables built at compile time, so
/// that a scan looks each byte up once instead of comparing it with every member of a set.
pub(crate) const fn mark_bytes(mut table: [u8; 256], bytes: &[u8], bit: u8) -> [u8; 256] {
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] |= bit;
        i += 1;
    }
    table
}

/// Splits a word with brush-parser's word grammar only (what [`parse_word`] falls back to).
pub fn parse_word_brush(text: &str) -> Result<Vec<WordPieceWithSource>, String> {
    guarded(|| brush_parser::word::parse(text, &options()).map_err(|e| e.to_string()))
}

/// The pieces of a word made only of plain text, single quotes, double quotes, and
/// `$name`, `$1`…`$9` and the special parameters (`$@ $* $# $? $- $$ $!
/// $0`), as brush-parser splits it (`tests::simple_words_split_as_brush_parser_splits_them`
/// holds the two to the same output), and the `${…}` forms [`braced`] lists; `None` for any
/// other word: a backslash, a backquote, a tilde, `$(`, another `${…}`, a `$` that starts
/// nothing.
///
/// Hand-written because brush-parser's word grammar (a PEG) costs about 7,000 instructions
/// per word, a tenth of an analysis on a long script, and there is no crate for this.
pub fn simple_word(text: &str) -> Option<Vec<WordPieceWithSource>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut text_from = 0;
    while i < b.len() {
        match b[i] {
            b'\\' | b'`' | b'~' => return None,
            b'\'' => {
                flush_text(text, text_from, i, &mut out);
                let close = i + 1 + text[i + 1..].find('\'')?;
                out.push(piece(
                    WordPiece::SingleQuotedText(text[i + 1..close].to_string()),
                    i,
                    close + 1,
                ));
                i = close + 1;
                text_from = i;
            }
            b'"' => {
                flush_text(text, text_from, i, &mut out);
                let start = i;
                let mut inner = Vec::new();
                let mut from = i + 1;
                i += 1;
                loop {
                    match b.get(i)? {
                        b'"' => break,
                        b'\\' | b'`' => return None,
                        b'$' => {
                            flush_text(text, from, i, &mut inner);
                            let (p, end) = dollar(text, i)?;
                            inner.push(p);
                            i = end;
                            from = i;
                        }
                        _ => i += 1,
                    }
                }
                flush_text(text, from, i, &mut inner);
                out.push(piece(WordPiece::DoubleQuotedSequence(inner), start, i + 1));
                i += 1;
                text_from = i;
            }
            b'$' => {
                flush_text(text, text_from, i, &mut out);
                let (p, end) = dollar(text, i)?;
                out.push(p);
                i = end;
                text_from = i;
            }
            _ => i += 1,
        }
    }
    flush_text(text, text_from, b.len(), &mut out);
    Some(out)
}

fn piece(piece: WordPiece, start_index: usize, end_index: usize) -> WordPieceWithSource {
    WordPieceWithSource {
        piece,
        start_index,
        end_index,
    }
}

/// Ends a run of plain text (`from..to`), if any, as one `Text` piece.
fn flush_text(text: &str, from: usize, to: usize, out: &mut Vec<WordPieceWithSource>) {
    if to > from {
        out.push(piece(WordPiece::Text(text[from..to].to_string()), from, to));
    }
}

/// Whether `c` may start a shell variable name (ASCII only, as brush-parser has it).
pub(crate) fn name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// Whether `c` may continue a shell variable name.
pub(crate) fn name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The expansion starting with the `$` at `at`, and where it ends; `None` unless it is one
/// [`simple_word`] handles.
fn dollar(text: &str, at: usize) -> Option<(WordPieceWithSource, usize)> {
    let b = text.as_bytes();
    let expansion = |parameter: Parameter, end: usize| {
        let p = WordPiece::ParameterExpansion(ParameterExpr::Parameter {
            parameter,
            indirect: false,
        });
        Some((piece(p, at, end), end))
    };
    let special = |sp: SpecialParameter| expansion(Parameter::Special(sp), at + 2);
    match *b.get(at + 1)? {
        c if name_start(c) => {
            let end = at + 1 + b[at + 1..].iter().take_while(|c| name_char(**c)).count();
            expansion(Parameter::Named(text[at + 1..end].to_string()), end)
        }
        c @ b'1'..=b'9' => expansion(Parameter::Positional(u32::from(c - b'0')), at + 2),
        b'0' => special(SpecialParameter::ShellName),
        b'@' => special(SpecialParameter::AllPositionalParameters { concatenate: false }),
        b'*' => special(SpecialParameter::AllPositionalParameters { concatenate: true }),
        b'#' => special(SpecialParameter::PositionalParameterCount),
        b'?' => special(SpecialParameter::LastExitStatus),
        b'-' => special(SpecialParameter::CurrentOptionFlags),
        b'$' => special(SpecialParameter::ProcessId),
        b'!' => special(SpecialParameter::LastBackgroundProcessId),
        b'(' => {
            let close = substitution_end(text, at + 2)?;
            Some((
                piece(
                    WordPiece::CommandSubstitution(text[at + 2..close].to_string()),
                    at,
                    close + 1,
                ),
                close + 1,
            ))
        }
        b'{' => {
            let close = at + 2 + text[at + 2..].find('}')?;
            let p = braced(&text[at + 2..close])?;
            Some((
                piece(WordPiece::ParameterExpansion(p), at, close + 1),
                close + 1,
            ))
        }
        _ => None,
    }
}

/// Where the `)` that closes a `$(` whose text starts at `from` is, for text whose
/// parentheses and quotes nest plainly; `None` (left to brush-parser) for `$((`
/// (arithmetic), and for text where finding the end takes a shell parser: a backslash, a
/// backquote, a `#` (a comment may hide a parenthesis), a here-document, a `case` (its
/// patterns end in an unmatched `)`), a `$(` inside double quotes, or a `${…}` with
/// quotes, parentheses or braces in it.
fn substitution_end(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(from) == Some(&b'(') {
        return None;
    }
    let inner = &text[from..];
    if inner.contains("<<") || inner.contains("case") {
        return None;
    }
    // The `}` that ends the `${` at `at`, when nothing in it can hide a quote or parenthesis.
    let braced_end = |at: usize| {
        let close = at + 2 + text[at + 2..].find('}')?;
        let plain = !text[at + 2..close].contains(['"', '\'', '(', ')', '{', '`', '\\']);
        plain.then_some(close)
    };
    let mut depth = 1usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' | b'`' | b'#' => return None,
            b'$' if b.get(i + 1) == Some(&b'{') => i = braced_end(i)?,
            b'\'' => i += 1 + text[i + 1..].find('\'')?,
            b'"' => {
                i += 1;
                loop {
                    match *b.get(i)? {
                        b'"' => break,
                        b'\\' | b'`' => return None,
                        b'$' if b.get(i + 1) == Some(&b'(') => return None,
                        b'$' if b.get(i + 1) == Some(&b'{') => i = braced_end(i)?,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The inside of `${…}` (no `}` in it) when it is `name`, `N`, `name[N]`, `name[@]`,
/// `name[*]`, any of those after `!` (indirection), `#name` or `#N` (length), or one of the
/// first four followed by `-`, `=`, `+` or `?` (each with or without `:`) and a word without
/// quotes, backslashes, backquotes, braces, parentheses or tildes (kept as text, as
/// brush-parser keeps it, to be expanded when used).
fn braced(inner: &str) -> Option<ParameterExpr> {
    let (indirect, length, rest) = match inner.as_bytes().first()? {
        b'!' => (true, false, &inner[1..]),
        b'#' => (false, true, &inner[1..]),
        _ => (false, false, inner),
    };
    let b = rest.as_bytes();
    let (parameter, after) = if b.first().is_some_and(|c| name_start(*c)) {
        let end = b.iter().take_while(|c| name_char(**c)).count();
        let name = rest[..end].to_string();
        match b.get(end) {
            Some(b'[') if !indirect => {
                let close = end + rest[end..].find(']')?;
                let index = &rest[end + 1..close];
                let p = match index {
                    "@" | "*" => Parameter::NamedWithAllIndices {
                        name,
                        concatenate: index == "*",
                    },
                    _ if !index.is_empty() && index.bytes().all(|c| c.is_ascii_digit()) => {
                        Parameter::NamedWithIndex {
                            name,
                            index: index.to_string(),
                        }
                    }
                    _ => return None,
                };
                (p, close + 1)
            }
            _ => (Parameter::Named(name), end),
        }
    } else {
        let end = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if end == 0 || end > 9 || b[0] == b'0' {
            return None;
        }
        (Parameter::Positional(rest[..end].parse().ok()?), end)
    };
    let op = &rest[after..];
    if op.is_empty() {
        return Some(if length {
            ParameterExpr::ParameterLength {
                parameter,
                indirect,
            }
        } else {
            ParameterExpr::Parameter {
                parameter,
                indirect,
            }
        });
    }
    if length || matches!(parameter, Parameter::NamedWithAllIndices { .. }) {
        return None;
    }
    let (test_type, op) = match op.strip_prefix(':') {
        Some(op) => (ParameterTestType::UnsetOrNull, op),
        None => (ParameterTestType::Unset, op),
    };
    let mut chars = op.chars();
    let kind = chars.next()?;
    let word = chars.as_str();
    if word
        .bytes()
        .any(|c| matches!(c, b'\'' | b'"' | b'\\' | b'`' | b'{' | b'(' | b')' | b'~'))
    {
        return None;
    }
    let value = Some(word.to_string());
    Some(match kind {
        '-' => ParameterExpr::UseDefaultValues {
            parameter,
            indirect,
            test_type,
            default_value: value,
        },
        '=' => ParameterExpr::AssignDefaultValues {
            parameter,
            indirect,
            test_type,
            default_value: value,
        },
        '+' => ParameterExpr::UseAlternativeValue {
            parameter,
            indirect,
            test_type,
            alternative_value: value,
        },
        '?' => ParameterExpr::IndicateErrorIfNullOrUnset {
            parameter,
            indirect,
            test_type,
            error_message: value,
        },
        _ => return None,
    })
}

/// Parses an arithmetic expression (`$(( ))`, `(( ))`, array indices, substring offsets).
pub fn parse_arith(text: &str) -> Result<ast::ArithmeticExpr, String> {
    guarded(|| brush_parser::arithmetic::parse(text).map_err(|e| e.to_string()))
}

/// 1-based line of a span's start.
pub fn line_of(span: &SourceSpan) -> usize {
    span.start.line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_extensions_parse_and_broken_scripts_do_not() {
        for ok in [
            "if [[ $1 == -* ]]; then set -- postgres \"$@\"; fi",
            "arr=(a b); arr+=(c); echo \"${arr[@]}\" ${!PREFIX@} ${v:1:2} $((1+2))",
            "f() { local x=${1:-d}; }; cat <<EOF\nhello $x\nEOF\n",
            "case \"$1\" in -*) set -- redis-server \"$@\";; esac",
        ] {
            assert!(accepts(ok), "{ok}");
        }
        for bad in ["if true; then", "case x in", "echo $(", "fi"] {
            assert!(!accepts(bad), "{bad}");
        }
    }

    /// The corpus scripts, whose words the word tests go through.
    const CORPUS: [&str; 6] = [
        include_str!("../../tests/corpus/apache-foreground.sh"),
        include_str!("../../tests/corpus/mysql-entrypoint.sh"),
        include_str!("../../tests/corpus/nginx-entrypoint.sh"),
        include_str!("../../tests/corpus/postgres-entrypoint.sh"),
        include_str!("../../tests/corpus/redis-entrypoint.sh"),
        include_str!("../../tests/corpus/supervisor-start.sh"),
    ];

    /// brush-parser's own split of a word, for comparison.
    fn brush_word(w: &str) -> String {
        format!("{:?}", parse_word_brush(w))
    }

    #[test]
    fn plain_words_are_one_piece_of_text_to_brush_parser() {
        let mut words: Vec<String> = Vec::new();
        for script in CORPUS {
            let tokens = brush_parser::tokenize_str(script).expect("corpus tokenizes");
            words.extend(tokens.iter().filter_map(|t| match t {
                brush_parser::Token::Word(w, _) => Some(w.clone()),
                brush_parser::Token::Operator(..) => None,
            }));
        }
        // Every printable ASCII character after a letter, and alone.
        for c in (0x20u8..0x7f).map(char::from) {
            words.push(format!("a{c}b"));
            words.push(c.to_string());
        }
        let plain = words.iter().filter(|w| plain_text_word(w)).count();
        assert!(plain * 2 >= words.len(), "{plain} of {} words", words.len());
        for w in words.iter().filter(|w| plain_text_word(w)) {
            let pieces = parse_word_brush(w).expect("a plain word parses");
            assert!(
                matches!(pieces.as_slice(), [p] if matches!(&p.piece, WordPiece::Text(t) if t == w)),
                "{w:?}: {pieces:?}"
            );
        }
        for w in [
            "", "~", "a~", "$x", "'a'", "\\a", "{a,b}", "*", "a?", "[ab]",
        ] {
            assert!(!plain_text_word(w), "{w:?}");
        }
    }

    #[test]
    fn simple_words_split_as_brush_parser_splits_them() {
        // Every word of the corpus scripts (and the benchmark's idioms), through both.
        let (mut words, mut simple) = (0, 0);
        for script in CORPUS {
            let tokens = brush_parser::tokenize_str(script).expect("corpus tokenizes");
            for t in &tokens {
                let brush_parser::Token::Word(w, _) = t else {
                    continue;
                };
                words += 1;
                if let Some(p) = simple_word(w) {
                    simple += 1;
                    assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(w), "{w}");
                }
            }
        }
        // The fast path must be the common one, or it is not worth having.
        assert!(simple * 10 >= words * 7, "{simple} of {words} words");
        // Command substitutions of the common shapes take the fast path.
        for w in [
            "$(id -u)",
            "\"$(cat \"${!f}\")\"",
            "x$(basename \"$0\")y",
            "$(a (b) c)",
        ] {
            assert!(simple_word(w).is_some(), "{w:?} left to brush-parser");
        }
        // Hand-picked edges, each either split the same or left to brush-parser.
        for w in [
            "",
            "''",
            "\"\"",
            "a",
            "a b",
            "'a b'",
            "\"a $b c\"",
            "$x$y",
            "\"$x\"\"$y\"",
            "x\"y\"z",
            "$",
            "a$",
            "\"$\"",
            "$1",
            "$10",
            "${10}",
            "${0}",
            "${01}",
            "$0",
            "$@",
            "\"$@\"",
            "$*",
            "$#",
            "$?",
            "$-",
            "$$",
            "$!",
            "${x}",
            "${x}y",
            "${x:-d}",
            "${!x}",
            "${}",
            "${",
            "$(id)",
            "`id`",
            "~",
            "~/a",
            "a~",
            "a\\b",
            "\"a\\\"b\"",
            "'",
            "\"",
            "\"a'b\"",
            "é$é",
            "$é",
            "\"$é\"",
            "${é}",
            "a=b",
            "$a-b",
            "$_",
            "${_x1}",
            "$'a'",
            "$\"a\"",
            "*.sh",
            "[ab]",
            "a{b,c}",
            "$[1]",
            "\"${x}\"",
            "\"\n\"",
            "${x:-}",
            "${x-d}",
            "${x:=$v}",
            "${x=d}",
            "${!x}",
            "${!x:-f}",
            "${1:-d}",
            "${x:+y}",
            "${x?}",
            "${#x}",
            "${#1}",
            "${!1}",
            "${a[1]}",
            "${a[01]}",
            "${a[@]}",
            "${a[*]}",
            "${#a[@]}",
            "${!a[@]}",
            "${x:1}",
            "${x#p}",
            "${x:-a b}",
            "${x:-~}",
            "${x:-[a]}",
            "${!}",
            "${#}",
            "${x:-\"a\"}",
            "${x:-${y}}",
            "${x[}",
            "${x[a]}",
            "${!x-d}",
            "\"${a[1]}\"",
            "${a[1]:-d}",
            "${!x[1]}",
            "${#x:-d}",
            "${10:-d}",
            "${x:-$}",
            "${x:}",
            "$(id)",
            "$(id -u)x",
            "\"$(id -u)\"",
            "$()",
            "$( )",
            "$(a)$(b)",
            "$(a (b) c)",
            "$(a \"$(b)\")",
            "$(a \"${b}\" 'c)')",
            "\"$(cat \"${!f}\")\"",
            "$(a ${b:-\")\"})",
            "$(a ${b%)})",
            "$((1+2))",
            "$( (a) )",
            "$(a #)\n)",
            "$(case x in x) y;; esac)",
            "$(a <<E\n)\nE\n)",
            "$(a",
            "$(a))",
            "$(a \")",
            "$(a ')",
            "$(echo \"a\" 'b' \"$c\" ${d})",
        ] {
            if let Some(p) = simple_word(w) {
                assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(w), "{w:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn random_words_split_as_brush_parser_splits_them(
            w in "[a-z0-9_ $\"'{}@#?*!.:=+/\\[\\]\\\\`~é()-]{0,14}"
        ) {
            if let Some(p) = simple_word(&w) {
                proptest::prop_assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(&w));
            }
        }

        /// Command substitutions with quotes, parentheses and expansions inside.
        #[test]
        fn random_command_substitutions_split_as_brush_parser_splits_them(
            pre in "[a-z\"]{0,2}",
            inner in "[a-z $\"'(){}:#!-]{0,16}",
            post in "[a-z\")]{0,2}",
        ) {
            let w = format!("{pre}$({inner}){post}");
            if let Some(p) = simple_word(&w) {
                proptest::prop_assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(&w));
            }
        }

        /// Any text at all: never a panic, and the same pieces whenever the fast path answers.
        #[test]
        fn arbitrary_text_splits_as_brush_parser_splits_it(w in "\\PC{0,24}") {
            if let Some(p) = simple_word(&w) {
                proptest::prop_assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(&w));
            }
        }

        /// Random `${…}` forms inside text and quotes, most of which the fast path takes.
        #[test]
        fn random_braced_expansions_split_as_brush_parser_splits_them(
            pre in "[a-z\"]{0,2}",
            flag in "[!#]?",
            param in "([a-z_][a-z0-9_]{0,3}|[0-9]{1,3})(\\[([0-9]{1,2}|@|\\*|a)?\\])?",
            op in "(:?[-=+?])?",
            word in "[a-z0-9 $:#!@\\[\\]~?=+-]{0,4}",
            post in "[a-z\"$]{0,2}",
        ) {
            let w = format!("{pre}${{{flag}{param}{op}{word}}}{post}");
            if let Some(p) = simple_word(&w) {
                proptest::prop_assert_eq!(format!("{:?}", Ok::<_, ()>(p)), brush_word(&w));
            }
        }
    }

    #[test]
    fn text_the_parser_would_backtrack_on_for_years_gives_up_in_time() {
        let budget = Duration::from_millis(200);
        for text in [
            format!("{}#!/bin/bash\necho hi\n", "(".repeat(110)),
            "case x in x) ".repeat(40),
        ] {
            let started = std::time::Instant::now();
            let err = parse_program_within("/entry.sh", &text, budget).expect_err("unparsable");
            assert!(err.cause.contains("gave up after 200 ms"), "{err}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
        }
        // Balanced nesting is quick, and many openers still parse normally on the helper.
        let deep = format!("{}echo hi{}\n", "( ".repeat(60), " )".repeat(60));
        assert!(parse_program_within("/entry.sh", &deep, budget).is_ok());
    }

    #[test]
    fn an_oversized_file_descriptor_is_an_error_not_a_panic() {
        for text in [
            "99999999999>f\n",
            "echo hi 2147483648>&2\n",
            "f() { cat 12345678901<x; }\n",
        ] {
            let e = parse_program("/e.sh", text).expect_err(text);
            assert!(e.cause.contains("out of range"), "{text}: {e}");
        }
        // In range, quoted, or apart from the operator: parsed as before.
        for text in [
            "exec 2147483647>f\n",
            "echo '99999999999>f'\n",
            "echo 99999999999 >f\n",
            "x=12345678901234\n",
        ] {
            assert!(parse_program("/e.sh", text).is_ok(), "{text}");
        }
    }

    #[test]
    fn a_panic_inside_brush_parser_is_an_error() {
        // Reduced from a fuzzer find: an unterminated `$(` with a here-document operator.
        let text = "echo \"$(basename \"$src\"<< | tar -xC \"$(dirname \"$t\")\"\n\tfi\n\td)\" | tar -xC \"$@\"\n";
        let e = parse_program("/e.sh", text).expect_err("brush-parser cannot parse it");
        assert!(e.cause.contains("brush-parser failed"), "{e}");
    }
}
