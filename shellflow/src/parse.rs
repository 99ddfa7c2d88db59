//! The one place shellflow talks to its parser (`brush-parser`), so it can be swapped.
//!
//! Parses programs (POSIX sh plus the bash extensions entrypoint scripts use, POSIX XCU 2.10
//! grammar), words into pieces (XCU 2.6 expansions), and arithmetic. The AST types are
//! re-exported from here; the interpreter never names `brush_parser` directly. Parsing knows
//! nothing of evaluation.

use std::io::BufReader;

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

/// Parses a whole script.
pub fn parse_program(file: &str, text: &str) -> Result<ast::Program, ParseError> {
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
}
