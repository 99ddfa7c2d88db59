//! The fast path's compound commands (`{ }`, `( )`, `(( ))`, `for`, `case`, `if`,
//! `while`, `until`) and `[[ ]]`, as brush-parser's `compound_command` and
//! `extended_test_command` rules build them, spans included (an `if`'s span is its `if`
//! keyword alone, as brush has it).

use brush_parser::ast::{self, SourceLocation};

use super::{lex, until, within, Parser};

impl Parser {
    /// `compound_command`, at a token that starts one.
    pub(super) fn compound_command(&mut self) -> Option<ast::CompoundCommand> {
        self.enter()?;
        let c = self.compound_inner();
        self.depth -= 1;
        c
    }

    fn compound_inner(&mut self) -> Option<ast::CompoundCommand> {
        let t = self.tok(self.i)?;
        if let Some(op) = t.op {
            if op != "(" {
                return None;
            }
            if self.is_op(self.i + 1, "(") {
                if let Some(a) = self.arithmetic_command() {
                    return Some(ast::CompoundCommand::Arithmetic(a));
                }
            }
            let start = self.i;
            self.i += 1;
            let list = self.compound_list()?;
            let end = self.expect_op(")")?;
            let loc = within(&self.toks[start], &self.toks[end]);
            return Some(ast::CompoundCommand::Subshell(ast::SubshellCommand {
                list,
                loc,
            }));
        }
        match t.text.as_str() {
            "{" => {
                let start = self.i;
                self.i += 1;
                let list = self.compound_list()?;
                let end = self.expect_word("}")?;
                let loc = within(&self.toks[start], &self.toks[end]);
                Some(ast::CompoundCommand::BraceGroup(ast::BraceGroupCommand {
                    list,
                    loc,
                }))
            }
            "for" => self.for_clause().map(ast::CompoundCommand::ForClause),
            "case" => self.case_clause().map(ast::CompoundCommand::CaseClause),
            "if" => self.if_clause().map(ast::CompoundCommand::IfClause),
            "while" | "until" => {
                let start = self.i;
                let is_until = t.text == "until";
                self.i += 1;
                let cond = self.compound_list()?;
                let body = self.do_group()?;
                let loc = until(&self.toks[start].start, &body.loc);
                let w = ast::WhileOrUntilClauseCommand(cond, body, loc);
                Some(if is_until {
                    ast::CompoundCommand::UntilClause(w)
                } else {
                    ast::CompoundCommand::WhileClause(w)
                })
            }
            _ => None,
        }
    }

    /// `arithmetic_command`: `((`, any tokens with balanced parentheses and no `;`, `))`;
    /// `None` when it is not one (brush then tries a subshell). The expression is the
    /// tokens' text, a space wherever the source had a gap (brush's `parse_slice`).
    fn arithmetic_command(&mut self) -> Option<ast::ArithmeticCommand> {
        let first = self.i + 2;
        let mut at = first;
        let mut depth = 0usize;
        loop {
            let t = self.tok(at)?;
            if t.op == Some(")") {
                if depth == 0 {
                    if !self.is_op(at + 1, ")") {
                        return None;
                    }
                    break;
                }
                depth -= 1;
            } else if t.op == Some(";") {
                return None;
            } else if t.op == Some("(") {
                depth += 1;
            }
            at += 1;
        }
        let mut value = String::new();
        let mut prev_end = None;
        for t in &self.toks[first..at] {
            if prev_end.is_some_and(|e| t.start.index > e) {
                value.push(' ');
            }
            value.push_str(t.as_str());
            prev_end = Some(t.end.index);
        }
        let loc = within(&self.toks[self.i], &self.toks[at + 1]);
        self.i = at + 2;
        Some(ast::ArithmeticCommand {
            expr: ast::UnexpandedArithmeticExpr { value },
            loc,
        })
    }

    fn do_group(&mut self) -> Option<ast::DoGroupCommand> {
        let start = self.expect_word("do")?;
        let list = self.compound_list()?;
        let end = self.expect_word("done")?;
        let loc = within(&self.toks[start], &self.toks[end]);
        Some(ast::DoGroupCommand { list, loc })
    }

    /// `for_clause`: `for name [in words] sep do … done` (`for ((…))` is declined).
    fn for_clause(&mut self) -> Option<ast::ForClauseCommand> {
        let start = self.i;
        let variable_name = self.word_at(self.i + 1)?.text.clone();
        self.i += 2;
        let after_name = self.i;
        self.linebreak();
        let values = if self.expect_word("in").is_some() {
            let mut words = Vec::new();
            while self.word_at(self.i).is_some() {
                words.push(self.word(self.i));
                self.i += 1;
            }
            // `sequential_sep`: `;` and newlines, or newlines.
            if self.expect_op(";").is_none() && !self.is_op(self.i, "\n") {
                return None;
            }
            self.linebreak();
            (!words.is_empty()).then_some(words)
        } else {
            self.i = after_name;
            if self.expect_op(";").is_some() || self.is_op(self.i, "\n") {
                self.linebreak();
            }
            None
        };
        let body = self.do_group()?;
        let loc = until(&self.toks[start].start, &body.loc);
        Some(ast::ForClauseCommand {
            variable_name,
            values,
            body,
            loc,
        })
    }

    fn post_action(&self) -> Option<ast::CaseItemPostAction> {
        match self.tok(self.i)?.op? {
            ";;" => Some(ast::CaseItemPostAction::ExitCase),
            ";;&" => Some(ast::CaseItemPostAction::ContinueEvaluatingCases),
            ";&" => Some(ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem),
            _ => None,
        }
    }

    /// `case_clause`: `case word in items esac`.
    fn case_clause(&mut self) -> Option<ast::CaseClauseCommand> {
        let start = self.i;
        self.word_at(self.i + 1)?;
        let value = self.word(self.i + 1);
        self.i += 2;
        self.linebreak();
        self.expect_word("in")?;
        self.linebreak();
        let mut cases = Vec::new();
        loop {
            if self.is_word(self.i, "esac") {
                // `esac)` or `esac|` would be a pattern.
                if self.is_op(self.i + 1, ")") || self.is_op(self.i + 1, "|") {
                    return None;
                }
                break;
            }
            let (item, last) = self.case_item()?;
            cases.push(item);
            if last {
                break;
            }
        }
        let end = self.expect_word("esac")?;
        let loc = within(&self.toks[start], &self.toks[end]);
        Some(ast::CaseClauseCommand { value, cases, loc })
    }

    /// One `case_item` (ended by `;;`, `;&` or `;;&`), or a `case_item_ns` (not ended, so
    /// the last: `true`).
    fn case_item(&mut self) -> Option<(ast::CaseItem, bool)> {
        let open = self.expect_op("(");
        let mut patterns = vec![];
        loop {
            self.word_at(self.i)?;
            patterns.push(self.word(self.i));
            self.i += 1;
            if self.expect_op("|").is_none() {
                break;
            }
        }
        let close = self.expect_op(")")?;
        let start = match open {
            Some(o) => self.toks[o].start.clone(),
            None => patterns[0].loc.as_ref()?.start.as_ref().clone(),
        };
        let after_close = self.i;
        self.linebreak();
        let (cmd, post_action, end, last) = if let Some(post) = self.post_action() {
            // `pattern) ;;`
            (None, post, Some(self.i), false)
        } else {
            self.i = after_close;
            let mut probe = self.i;
            while self.is_op(probe, "\n") {
                probe += 1;
            }
            if !self.starts_command(probe) {
                // `case_item_ns` without commands: `pattern)` then `esac`.
                self.linebreak();
                let end = Some(&self.toks[close].end);
                let loc = end.map(|e| lex::span(&start, e));
                return Some((
                    case_item(patterns, None, ast::CaseItemPostAction::ExitCase, loc),
                    true,
                ));
            }
            let list = self.compound_list()?;
            match self.post_action() {
                Some(post) => (Some(list), post, Some(self.i), false),
                None => {
                    // `case_item_ns` with commands: brush's `maybe_location` gives no span
                    // when the commands have none.
                    let loc = list.location().map(|e| until(&start, &e));
                    let item =
                        case_item(patterns, Some(list), ast::CaseItemPostAction::ExitCase, loc);
                    return Some((item, true));
                }
            }
        };
        let loc = end.map(|e| lex::span(&start, &self.toks[e].end));
        if end.is_some() {
            self.i += 1;
            self.linebreak();
        }
        Some((case_item(patterns, cmd, post_action, loc), last))
    }

    /// `if_clause`: `if list then list [elif list then list]… [else list] fi`.
    fn if_clause(&mut self) -> Option<ast::IfClauseCommand> {
        let start = self.i;
        self.i += 1;
        let condition = self.compound_list()?;
        self.expect_word("then")?;
        let then = self.compound_list()?;
        let mut elses = Vec::new();
        while self.expect_word("elif").is_some() {
            let condition = self.compound_list()?;
            self.expect_word("then")?;
            let body = self.compound_list()?;
            elses.push(ast::ElseClause {
                condition: Some(condition),
                body,
            });
        }
        if self.expect_word("else").is_some() {
            let body = self.compound_list()?;
            elses.push(ast::ElseClause {
                condition: None,
                body,
            });
        }
        self.expect_word("fi")?;
        let s = &self.toks[start];
        Some(ast::IfClauseCommand {
            condition,
            then,
            elses: (!elses.is_empty()).then_some(elses),
            loc: within(s, s),
        })
    }

    /// `extended_test_command`: `[[ expression ]]`.
    pub(super) fn extended_test(&mut self) -> Option<ast::ExtendedTestExprCommand> {
        let start = self.i;
        self.i += 1;
        self.linebreak();
        let expr = self.test_expr(0)?;
        self.linebreak();
        let end = self.expect_word("]]")?;
        let loc = within(&self.toks[start], &self.toks[end]);
        Some(ast::ExtendedTestExprCommand { expr, loc })
    }

    /// brush's `extended_test_expression` (a `precedence!`): `||` binds loosest, then `&&`,
    /// then prefix `!`; operands of at least `min` precedence.
    fn test_expr(&mut self, min: u8) -> Option<ast::ExtendedTestExpr> {
        self.enter()?;
        let e = self.test_expr_inner(min);
        self.depth -= 1;
        e
    }

    fn test_expr_inner(&mut self, min: u8) -> Option<ast::ExtendedTestExpr> {
        let mut left = self.test_atom()?;
        loop {
            let save = self.i;
            self.linebreak();
            let (op, prec) = if min == 0 && self.is_op(self.i, "||") {
                ("||", 0)
            } else if min <= 1 && self.is_op(self.i, "&&") {
                ("&&", 1)
            } else {
                self.i = save;
                break;
            };
            self.i += 1;
            self.linebreak();
            let right = Box::new(self.test_expr(prec + 1)?);
            left = if op == "||" {
                ast::ExtendedTestExpr::Or(Box::new(left), right)
            } else {
                ast::ExtendedTestExpr::And(Box::new(left), right)
            };
        }
        Some(left)
    }

    /// The prefix and atom rules of the expression, in brush's order.
    fn test_atom(&mut self) -> Option<ast::ExtendedTestExpr> {
        use ast::ExtendedTestExpr as E;
        let t = self.tok(self.i)?;
        if let Some(op) = t.op {
            if op != "(" {
                return None;
            }
            self.i += 1;
            let e = self.test_expr(0)?;
            self.expect_op(")")?;
            return Some(E::Parenthesized(Box::new(e)));
        }
        if t.text == "!" {
            self.i += 1;
            return Some(E::Not(Box::new(self.test_expr(2)?)));
        }
        let left = self.i;
        if let (Some(op), Some(_)) = (self.tok(left + 1), self.word_at(left + 2)) {
            if let Some(p) = binary_predicate(op.as_str(), op.op.is_some()) {
                self.i += 3;
                return Some(E::BinaryTest(p?, self.word(left), self.word(left + 2)));
            }
        }
        if let (Some(p), Some(_)) = (unary_predicate(&t.text), self.word_at(left + 1)) {
            self.i += 2;
            return Some(E::UnaryTest(p, self.word(left + 1)));
        }
        self.i += 1;
        Some(E::UnaryTest(
            ast::UnaryPredicate::StringHasNonZeroLength,
            self.word(left),
        ))
    }
}

fn case_item(
    patterns: Vec<ast::Word>,
    cmd: Option<ast::CompoundList>,
    post_action: ast::CaseItemPostAction,
    loc: Option<brush_parser::SourceSpan>,
) -> ast::CaseItem {
    ast::CaseItem {
        patterns,
        cmd,
        post_action,
        loc,
    }
}

/// The binary operator `op` (an operator token when `is_op`): `None` if it is not one,
/// `Some(None)` for `=~`, which the fast path declines.
fn binary_predicate(op: &str, is_op: bool) -> Option<Option<ast::BinaryPredicate>> {
    use ast::BinaryPredicate as B;
    if is_op {
        return match op {
            "<" => Some(Some(B::LeftSortsBeforeRight)),
            ">" => Some(Some(B::LeftSortsAfterRight)),
            _ => None,
        };
    }
    Some(Some(match op {
        "==" | "=" => B::StringExactlyMatchesPattern,
        "!=" => B::StringDoesNotExactlyMatchPattern,
        "=~" => return Some(None),
        _ => return crate::parse::binary_test_operator(op).map(Some),
    }))
}

fn unary_predicate(w: &str) -> Option<ast::UnaryPredicate> {
    use ast::UnaryPredicate as U;
    Some(match w {
        "-o" => U::ShellOptionEnabled,
        "-N" => U::FileExistsAndModifiedSinceLastRead,
        "-R" => U::ShellVariableIsSetAndNameRef,
        _ => return crate::parse::unary_test_operator(w),
    })
}
