//! A hand-written fast path for parsing a whole script into exactly the
//! `brush_parser::ast::Program` brush-parser 0.4 builds (same words, same spans), for the
//! constructs entrypoint scripts use; on anything else it declines (`None`) and the caller
//! runs brush-parser.
//!
//! Why hand-written: brush-parser's PEG grammar costs about 24 million instructions for a
//! 1,000-line script, most of the 5 ms budget of a whole analysis, and no crate parses bash
//! faster into this AST. This parser is linear: a port of brush's tokenizer ([`lex`]) and a
//! predictive parser that takes, at each of the grammar's ordered choices, the branch the PEG
//! would take (`parser/peg.rs` in brush-parser, rule names kept in the comments).
//!
//! It declines, rather than guesses, on: `time`, `coproc`, `select`, `|&`, `for ((…))`,
//! process substitution, `=~` in `[[ ]]`, `name[index]=` assignments, here-documents inside
//! `$(…)` or two on a line, any token sequence where brush would backtrack out of a failed
//! branch, nesting deeper than [`MAX_DEPTH`], and everything brush rejects. It never
//! panics and never recurses without bound; `tests/fast_parse.rs` holds it to brush-parser
//! on the corpora, on generated scripts and (in `fuzz/`) on arbitrary bytes.

mod compound;
mod lex;

use brush_parser::ast;
use brush_parser::SourcePosition;

use lex::{span, Token};

/// How deeply commands, `[[ ]]` expressions and arithmetic parentheses may nest.
const MAX_DEPTH: u32 = 64;

/// The program brush-parser would parse `text` into, or `None` to leave it to brush-parser.
pub fn parse(text: &str) -> Option<ast::Program> {
    let toks = lex::tokenize(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    p.program()
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: u32,
}

/// Reserved words that end a list (brush's `reserved_word`, less those that start a
/// command): where one stands, `and_or` fails at once.
fn ends_list(w: &str) -> bool {
    matches!(
        w,
        "}" | "do" | "done" | "elif" | "else" | "esac" | "fi" | "in" | "then" | "]]" | "select"
    )
}

/// brush's `reserved_word` in bash mode.
fn reserved(w: &str) -> bool {
    matches!(
        w,
        "!" | "{"
            | "}"
            | "case"
            | "do"
            | "done"
            | "elif"
            | "else"
            | "esac"
            | "fi"
            | "for"
            | "if"
            | "in"
            | "then"
            | "until"
            | "while"
            | "[["
            | "]]"
            | "function"
            | "select"
            | "coproc"
    )
}

fn redirect_op(op: &str) -> bool {
    matches!(
        op,
        "<" | "<&" | ">" | ">&" | ">>" | "<>" | ">|" | "&>>" | "&>" | "<<<" | "<<" | "<<-"
    )
}

/// The span from the start of token `a` to the end of token `b` (brush's
/// `SourceSpan::within`).
fn within(a: &Token, b: &Token) -> brush_parser::SourceSpan {
    span(&a.start, &b.end)
}

/// The span from `start` to the end of `end`.
fn until(start: &SourcePosition, end: &brush_parser::SourceSpan) -> brush_parser::SourceSpan {
    span(start, &end.end)
}

impl Parser {
    fn tok(&self, at: usize) -> Option<&Token> {
        self.toks.get(at)
    }

    fn is_op(&self, at: usize, op: &str) -> bool {
        self.tok(at).is_some_and(|t| t.op == Some(op))
    }

    fn is_word(&self, at: usize, w: &str) -> bool {
        self.tok(at).is_some_and(|t| t.op.is_none() && t.text == w)
    }

    fn word_at(&self, at: usize) -> Option<&Token> {
        self.tok(at).filter(|t| t.op.is_none())
    }

    /// Token `at` as a word of the AST, its text moved out: each token becomes one word,
    /// and the parser never looks back at a token it has used.
    fn word(&mut self, at: usize) -> ast::Word {
        let t = &mut self.toks[at];
        ast::Word {
            value: std::mem::take(&mut t.text),
            loc: Some(t.span()),
        }
    }

    /// Takes the word `w` (or declines).
    fn expect_word(&mut self, w: &str) -> Option<usize> {
        self.is_word(self.i, w).then(|| {
            self.i += 1;
            self.i - 1
        })
    }

    fn expect_op(&mut self, op: &str) -> Option<usize> {
        self.is_op(self.i, op).then(|| {
            self.i += 1;
            self.i - 1
        })
    }

    /// `linebreak`: any newlines.
    fn linebreak(&mut self) {
        while self.is_op(self.i, "\n") {
            self.i += 1;
        }
    }

    /// Whether `and_or` can start at `at` (and fails at once where this says no).
    fn starts_command(&self, at: usize) -> bool {
        match self.tok(at) {
            None => false,
            Some(Token { op: Some(op), .. }) => *op == "(" || redirect_op(op),
            Some(t) => !ends_list(&t.text),
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn program(&mut self) -> Option<ast::Program> {
        self.linebreak();
        let mut complete_commands = Vec::new();
        while self.i < self.toks.len() {
            complete_commands.push(self.complete_command()?);
            if self.i < self.toks.len() && !self.is_op(self.i, "\n") {
                return None;
            }
            self.linebreak();
        }
        Some(ast::Program { complete_commands })
    }

    fn separator_op(&self) -> Option<ast::SeparatorOperator> {
        match self.tok(self.i)?.op? {
            "&" => Some(ast::SeparatorOperator::Async),
            ";" => Some(ast::SeparatorOperator::Sequence),
            _ => None,
        }
    }

    /// `complete_command`: and-or lists joined by `;` and `&` (not newlines).
    fn complete_command(&mut self) -> Option<ast::CompoundList> {
        let mut items = Vec::new();
        loop {
            let ao = self.and_or()?;
            let Some(sep) = self.separator_op() else {
                items.push(ast::CompoundListItem(ao, ast::SeparatorOperator::Sequence));
                break;
            };
            self.i += 1;
            items.push(ast::CompoundListItem(ao, sep));
            if !self.starts_command(self.i) {
                break;
            }
        }
        Some(ast::CompoundList(items))
    }

    /// `compound_list`: and-or lists joined by `;`, `&` or newlines, inside a compound
    /// command.
    fn compound_list(&mut self) -> Option<ast::CompoundList> {
        self.linebreak();
        if !self.starts_command(self.i) {
            return None;
        }
        let mut items = Vec::new();
        loop {
            let ao = self.and_or()?;
            let sep = if let Some(sep) = self.separator_op() {
                self.i += 1;
                self.linebreak();
                sep
            } else if self.is_op(self.i, "\n") {
                self.linebreak();
                ast::SeparatorOperator::Sequence
            } else {
                items.push(ast::CompoundListItem(ao, ast::SeparatorOperator::Sequence));
                break;
            };
            items.push(ast::CompoundListItem(ao, sep));
            if !self.starts_command(self.i) {
                break;
            }
        }
        Some(ast::CompoundList(items))
    }

    fn and_or(&mut self) -> Option<ast::AndOrList> {
        let first = self.pipeline()?;
        let mut additional = Vec::new();
        loop {
            let and = if self.is_op(self.i, "&&") {
                true
            } else if self.is_op(self.i, "||") {
                false
            } else {
                break;
            };
            self.i += 1;
            self.linebreak();
            let p = self.pipeline()?;
            additional.push(if and {
                ast::AndOr::And(p)
            } else {
                ast::AndOr::Or(p)
            });
        }
        Some(ast::AndOrList { first, additional })
    }

    fn pipeline(&mut self) -> Option<ast::Pipeline> {
        if self.is_word(self.i, "time") {
            return None;
        }
        let mut bangs = 0;
        while self.is_word(self.i, "!") {
            bangs += 1;
            self.i += 1;
        }
        let mut seq = vec![self.command()?];
        loop {
            if self.is_op(self.i, "|&") {
                return None;
            }
            if self.expect_op("|").is_none() {
                break;
            }
            self.linebreak();
            seq.push(self.command()?);
        }
        Some(ast::Pipeline {
            timed: None,
            bang: bangs % 2 == 1,
            seq,
        })
    }

    /// `command`: function definition, simple command, compound command or `[[ ]]`, tried
    /// in brush's order.
    fn command(&mut self) -> Option<ast::Command> {
        self.enter()?;
        let cmd = self.command_inner();
        self.depth -= 1;
        cmd
    }

    fn command_inner(&mut self) -> Option<ast::Command> {
        let t = self.tok(self.i)?;
        if let Some(op) = t.op {
            if op == "(" {
                let c = self.compound_command()?;
                let r = self.redirect_list()?;
                return Some(ast::Command::Compound(c, r));
            }
            return Some(ast::Command::Simple(self.simple_command()?));
        }
        match t.text.as_str() {
            "function" => self.function_keyword().map(ast::Command::Function),
            "{" | "for" | "case" | "if" | "while" | "until" => {
                let c = self.compound_command()?;
                let r = self.redirect_list()?;
                Some(ast::Command::Compound(c, r))
            }
            "[[" => {
                let c = self.extended_test()?;
                let r = self.redirect_list()?;
                Some(ast::Command::ExtendedTest(c, r))
            }
            w if reserved(w) => None,
            w if self.is_op(self.i + 1, "(") && !w.ends_with('=') => {
                // `name ( )`: a function; `name (` anything else fails in brush.
                if !self.is_op(self.i + 2, ")") {
                    return None;
                }
                let fname = self.word(self.i);
                self.i += 3;
                self.linebreak();
                let body = self.function_body()?;
                Some(ast::Command::Function(ast::FunctionDefinition {
                    fname,
                    body,
                }))
            }
            _ => Some(ast::Command::Simple(self.simple_command()?)),
        }
    }

    /// `function name [()] body`.
    fn function_keyword(&mut self) -> Option<ast::FunctionDefinition> {
        let name = self.word_at(self.i + 1)?;
        if name.text.ends_with('=') {
            return None;
        }
        let fname = self.word(self.i + 1);
        self.i += 2;
        if self.is_op(self.i, "(") {
            if !self.is_op(self.i + 1, ")") {
                return None;
            }
            self.i += 2;
        }
        self.linebreak();
        let body = self.function_body()?;
        Some(ast::FunctionDefinition { fname, body })
    }

    fn function_body(&mut self) -> Option<ast::FunctionBody> {
        let t = self.tok(self.i)?;
        let compound = if let Some(op) = t.op {
            op == "("
        } else {
            matches!(
                t.text.as_str(),
                "{" | "for" | "case" | "if" | "while" | "until"
            )
        };
        if !compound {
            return None;
        }
        let c = self.compound_command()?;
        let r = self.redirect_list()?;
        Some(ast::FunctionBody(c, r))
    }

    /// `redirect_list?` after a compound command: `Some(None)` when there is none.
    fn redirect_list(&mut self) -> Option<Option<ast::RedirectList>> {
        let mut list = Vec::new();
        while self.starts_redirect(self.i) {
            list.push(self.io_redirect()?);
        }
        Some((!list.is_empty()).then_some(ast::RedirectList(list)))
    }

    /// An `io_number`: digits directly followed by an operator starting with `<` or `>`.
    fn io_number(&self, at: usize) -> bool {
        let (Some(w), Some(op)) = (self.tok(at), self.tok(at + 1)) else {
            return false;
        };
        w.op.is_none()
            && w.text.bytes().all(|c| c.is_ascii_digit())
            && op.op.is_some_and(|o| o.starts_with(['<', '>']))
            && w.end.index == op.start.index
    }

    fn starts_redirect(&self, at: usize) -> bool {
        match self.tok(at) {
            Some(Token { op: Some(op), .. }) => redirect_op(op),
            Some(_) => self.io_number(at),
            None => false,
        }
    }

    /// A process substitution (`<(` or `>(`) at `at`: declined everywhere.
    fn process_substitution(&self, at: usize) -> bool {
        (self.is_op(at, "<") || self.is_op(at, ">")) && self.is_op(at + 1, "(")
    }

    /// `io_redirect`, where [`Parser::starts_redirect`] said one starts.
    fn io_redirect(&mut self) -> Option<ast::IoRedirect> {
        let fd = if self.io_number(self.i) {
            let n: i32 = self.toks[self.i].text.parse().ok()?;
            self.i += 1;
            Some(n)
        } else {
            None
        };
        let op = self.tok(self.i)?.op?;
        self.i += 1;
        let target = self.i;
        if self.io_number(target) && self.toks[target].text.parse::<i32>().is_err() {
            // Digits right before a redirection: brush reads them as a file descriptor
            // number even where they are this one's target, and rejects one out of range.
            return None;
        }
        let word = self.word_at(target).is_some();
        use ast::IoFileRedirectKind as K;
        let kind = match op {
            "<" => K::Read,
            ">" => K::Write,
            ">>" => K::Append,
            "<>" => K::ReadAndWrite,
            ">|" => K::Clobber,
            "<&" => K::DuplicateInput,
            ">&" => K::DuplicateOutput,
            "&>" | "&>>" if fd.is_none() && word => {
                self.i += 1;
                return Some(ast::IoRedirect::OutputAndError(
                    self.word(target),
                    op == "&>>",
                ));
            }
            "<<<" if word => {
                self.i += 1;
                return Some(ast::IoRedirect::HereString(fd, self.word(target)));
            }
            "<<" | "<<-" => return self.here_document(fd, op == "<<-"),
            _ => return None,
        };
        if !word {
            return None;
        }
        self.i += 1;
        let w = self.word(target);
        let target = if matches!(kind, K::DuplicateInput | K::DuplicateOutput) {
            ast::IoFileRedirectTarget::Duplicate(w)
        } else {
            ast::IoFileRedirectTarget::Filename(w)
        };
        Some(ast::IoRedirect::File(fd, kind, target))
    }

    /// `io_here`: the tag, the body the tokenizer put after it, the end tag.
    fn here_document(
        &mut self,
        fd: Option<ast::IoFd>,
        remove_tabs: bool,
    ) -> Option<ast::IoRedirect> {
        let tag = self.word_at(self.i)?;
        let requires_expansion = !tag.text.contains(['\'', '"', '\\']);
        if !self.tok(self.i + 1)?.body || self.word_at(self.i + 2).is_none() {
            return None;
        }
        let doc = ast::IoHereDocument {
            remove_tabs,
            requires_expansion,
            here_end: self.word(self.i),
            doc: self.word(self.i + 1),
        };
        self.i += 3;
        Some(ast::IoRedirect::HereDocument(fd, doc))
    }

    /// `simple_command`: assignments and redirections, then a name and its suffix.
    fn simple_command(&mut self) -> Option<ast::SimpleCommand> {
        let mut prefix = Vec::new();
        loop {
            if self.starts_redirect(self.i) {
                prefix.push(ast::CommandPrefixOrSuffixItem::IoRedirect(
                    self.io_redirect()?,
                ));
            } else if let Some((a, w)) = self.assignment()? {
                prefix.push(ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w));
            } else {
                break;
            }
        }
        let name = self.word_at(self.i).filter(|t| !reserved(&t.text));
        if prefix.is_empty() && name.is_none() {
            return None;
        }
        let prefix = (!prefix.is_empty()).then_some(ast::CommandPrefix(prefix));
        if name.is_none() {
            return Some(ast::SimpleCommand {
                prefix,
                word_or_name: None,
                suffix: None,
            });
        }
        let word_or_name = Some(self.word(self.i));
        self.i += 1;
        let suffix = self.suffix()?;
        Some(ast::SimpleCommand {
            prefix,
            word_or_name,
            suffix,
        })
    }

    /// `cmd_suffix?`: words, assignments and redirections after the command name.
    fn suffix(&mut self) -> Option<Option<ast::CommandSuffix>> {
        // Room for the words up to the next operator (a redirection's target among them),
        // so that the vector does not grow word by word.
        let words = self.toks[self.i.min(self.toks.len())..]
            .iter()
            .take_while(|t| t.op.is_none())
            .count();
        let mut items = Vec::with_capacity(words);
        while let Some(t) = self.tok(self.i) {
            let op = t.op.is_some();
            if self.process_substitution(self.i) {
                return None;
            }
            if self.starts_redirect(self.i) {
                items.push(ast::CommandPrefixOrSuffixItem::IoRedirect(
                    self.io_redirect()?,
                ));
            } else if op {
                break;
            } else if let Some((a, w)) = self.assignment()? {
                items.push(ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w));
            } else {
                items.push(ast::CommandPrefixOrSuffixItem::Word(self.word(self.i)));
                self.i += 1;
            }
        }
        Some((!items.is_empty()).then_some(ast::CommandSuffix(items)))
    }

    /// `assignment_word` at the current token: `Some(None)` when it is not one, `None` to
    /// decline (`name[index]=`, or an assignment followed by `(` that is not an array).
    fn assignment(&mut self) -> Option<Option<(ast::Assignment, ast::Word)>> {
        let Some(t) = self.word_at(self.i) else {
            return Some(None);
        };
        let b = t.text.as_bytes();
        if !b
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            return Some(None);
        }
        let end = b
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let (append, eq) = match b.get(end) {
            // `name[index]=` is declined; without a `]=` or `]+=` it is no assignment.
            Some(b'[') if t.text.contains("]=") || t.text.contains("]+=") => return None,
            Some(b'=') => (false, end),
            Some(b'+') if b.get(end + 1) == Some(&b'=') => (true, end + 1),
            _ => return Some(None),
        };
        let name = ast::AssignmentName::VariableName(t.text[..end].to_string());
        if self.is_op(self.i + 1, "(") {
            if eq + 1 != b.len() {
                return None;
            }
            return self.array_assignment(name, append).map(Some);
        }
        let value = ast::Word {
            value: t.text[eq + 1..].to_string(),
            loc: None,
        };
        let w = self.word(self.i);
        let a = ast::Assignment {
            name,
            value: ast::AssignmentValue::Scalar(value),
            append,
            loc: w.loc.clone()?,
        };
        self.i += 1;
        Some(Some((a, w)))
    }

    /// `name=( elements )`: the assignment and the word brush rebuilds for it.
    fn array_assignment(
        &mut self,
        name: ast::AssignmentName,
        append: bool,
    ) -> Option<(ast::Assignment, ast::Word)> {
        let start = self.i;
        let mut all = self.toks[start].text.clone();
        all.push('(');
        let mut values = Vec::new();
        let mut at = start + 2;
        loop {
            while self.is_op(at, "\n") {
                at += 1;
            }
            let t = self.tok(at)?;
            if let Some(op) = t.op {
                if op != ")" {
                    return None;
                }
                break;
            }
            if !values.is_empty() {
                all.push(' ');
            }
            all.push_str(&t.text);
            values.push(array_element(&t.text));
            at += 1;
        }
        all.push(')');
        let loc = within(&self.toks[start], &self.toks[at]);
        self.i = at + 1;
        let a = ast::Assignment {
            name,
            value: ast::AssignmentValue::Array(values),
            append,
            loc: loc.clone(),
        };
        Some((
            a,
            ast::Word {
                value: all,
                loc: Some(loc),
            },
        ))
    }
}

/// brush's `literal_array_element`: `[key]=value` or a value.
fn array_element(e: &str) -> (Option<ast::Word>, ast::Word) {
    if let Some(rest) = e.strip_prefix('[') {
        if let Some(close) = rest.find(']') {
            if let Some(value) = rest[close + 1..].strip_prefix('=') {
                return (Some(ast::Word::new(&rest[..close])), ast::Word::new(value));
            }
        }
    }
    (None, ast::Word::new(e))
}
