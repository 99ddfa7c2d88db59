//! The one place shellflow talks to its parser (`brush-parser`), so it can be swapped.
//!
//! Parses programs (POSIX sh plus the bash extensions entrypoint scripts use, POSIX XCU 2.10
//! grammar), words into pieces (XCU 2.6 expansions), and arithmetic. The AST types are
//! re-exported from here; the interpreter never names `brush_parser` directly. Parsing knows
//! nothing of evaluation.

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
    if openers(text) < 16 {
        return parse_now(file, text);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (owned_file, owned_text) = (file.to_string(), text.to_string());
    let spawned = std::thread::Builder::new()
        .name("shellflow-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(parse_now(&owned_file, &owned_text));
        });
    if spawned.is_err() {
        return parse_now(file, text);
    }
    rx.recv_timeout(budget).unwrap_or_else(|_| {
        Err(ParseError {
            file: file.into(),
            cause: format!(
                "the parser gave up after {} ms (deeply nested or unclosed `(` or `case`)",
                budget.as_millis()
            ),
        })
    })
}

/// How many constructs the parser may backtrack into: `(` and `case`.
fn openers(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'(').count() + text.matches("case").count()
}

fn parse_now(file: &str, text: &str) -> Result<ast::Program, ParseError> {
    let reader = BufReader::new(text.as_bytes());
    let mut parser = brush_parser::Parser::new(reader, &options());
    parser.parse_program().map_err(|e| ParseError {
        file: file.into(),
        cause: e.to_string(),
    })
}

/// Whether a script parses (the analogue of `bash -n`).
pub fn accepts(text: &str) -> bool {
    parse_program("<check>", text).is_ok()
}

/// Splits a word into its pieces (quotes, expansions).
pub fn parse_word(text: &str) -> Result<Vec<WordPieceWithSource>, String> {
    brush_parser::word::parse(text, &options()).map_err(|e| e.to_string())
}

/// Parses an arithmetic expression (`$(( ))`, `(( ))`, array indices, substring offsets).
pub fn parse_arith(text: &str) -> Result<ast::ArithmeticExpr, String> {
    brush_parser::arithmetic::parse(text).map_err(|e| e.to_string())
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
}
