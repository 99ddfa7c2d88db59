//! The fast path's tokenizer: a port of brush-parser 0.4's tokenizer (`tokenizer.rs`,
//! `next_token_until` and `consume_nested_construct`) for the text entrypoint scripts hold.
//!
//! It keeps brush's state machine branch for branch, so token text and positions come out
//! the same, quirks included: positions count characters, not bytes; a token's start skips
//! the blanks before it but not a line continuation; blanks inside `$(…)` become one space.
//! What it does not port it declines (`None`): here-documents inside `$(…)`/`${…}`/`$[…]` or
//! two on one line, a here-document that runs into the end of the text, anything brush
//! reports as an error (unterminated quotes, escapes, expansions), nesting past
//! [`MAX_DEPTH`]. Extended globbing is off in shellflow's options, so it is not ported.

use std::sync::Arc;

use brush_parser::{SourcePosition, SourceSpan};

/// How deep `$(`, `${` and `$[` may nest before the fast path declines.
const MAX_DEPTH: u32 = 24;

/// One token, as brush-parser's `Token` (word or operator) plus whether it is the body of a
/// here-document. Positions stay plain until a span goes into the AST (brush gives every
/// token two `Arc`s; most never reach the AST).
#[derive(Debug)]
pub(super) struct Token {
    /// A word's text (empty for an operator).
    pub text: String,
    pub op: Option<&'static str>,
    pub body: bool,
    pub start: SourcePosition,
    pub end: SourcePosition,
}

impl Token {
    pub fn as_str(&self) -> &str {
        self.op.unwrap_or(&self.text)
    }

    pub fn span(&self) -> SourceSpan {
        span(&self.start, &self.end)
    }
}

/// A span from two positions.
pub(super) fn span(start: &SourcePosition, end: &SourcePosition) -> SourceSpan {
    SourceSpan {
        start: Arc::new(start.clone()),
        end: Arc::new(end.clone()),
    }
}

/// A blank or operator byte: where [`Lexer::reserve`] expects a word to end.
const ENDS_WORD: u8 = 1;
/// Bytes that end a [`Lexer::plain_run`] outside quotes, in `"…"`, `'…'` and `$'…'`.
const STOPS_UNQUOTED: u8 = 2;
const STOPS_DOUBLE: u8 = 4;
const STOPS_SINGLE: u8 = 8;
const STOPS_ANSI_C: u8 = 16;

/// The classes of each byte, a bit each: the lexer's scans look a byte up once instead of
/// comparing it with every member of a set.
static CLASS: [u8; 256] = {
    use crate::parse::mark_bytes as mark;
    let t = mark([0; 256], b" \t\n;|&<>", ENDS_WORD);
    let t = mark(t, b"\\'\"$`&();\n|<> \t}]", STOPS_UNQUOTED);
    let t = mark(t, b"\\\"$`}])", STOPS_DOUBLE);
    let t = mark(t, b"'}])", STOPS_SINGLE);
    mark(t, b"\\'}])", STOPS_ANSI_C)
};

/// Why a token ended (brush's `TokenEndReason`, the cases that matter here).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reason {
    EndOfInput,
    Terminator,
    Blank,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Quote {
    None,
    AnsiC,
    Single,
    Double,
}

/// Here-document bookkeeping at the top level.
#[derive(Debug)]
enum Here {
    None,
    /// `<<` (or `<<-`) is the token being returned.
    Operator {
        remove_tabs: bool,
    },
    /// `<<` (or `<<-`) was just placed: the next token is the tag.
    NeedTag {
        remove_tabs: bool,
    },
    /// The tag is token `tag_at`; the body starts after the next newline.
    NeedNewline {
        tag_at: usize,
        tag: String,
        remove_tabs: bool,
    },
}

/// The token being read (brush's `TokenParseState`).
struct State {
    start: SourcePosition,
    text: String,
    op: Option<&'static str>,
    escaped: bool,
    quote: Quote,
}

impl State {
    fn new(start: &SourcePosition) -> Self {
        State {
            start: start.clone(),
            text: String::new(),
            op: None,
            escaped: false,
            quote: Quote::None,
        }
    }

    fn started(&self) -> bool {
        self.op.is_some() || !self.text.is_empty()
    }

    fn unquoted(&self) -> bool {
        !self.escaped && self.quote == Quote::None
    }

    fn pop(&mut self, end: &SourcePosition) -> Token {
        let start = std::mem::replace(&mut self.start, end.clone());
        self.escaped = false;
        self.quote = Quote::None;
        Token {
            text: std::mem::take(&mut self.text),
            op: self.op.take(),
            body: false,
            start,
            end: end.clone(),
        }
    }
}

/// Splits `src` into brush-parser's tokens, or `None` if the fast path declines.
pub(super) fn tokenize(src: &str) -> Option<Vec<Token>> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        cur: SourcePosition {
            index: 0,
            line: 1,
            column: 1,
        },
        arith: false,
        depth: 0,
        here: Here::None,
        back_one: false,
    };
    // Scripts hold about a token every four bytes (the long bench script: 6,900 in 28 kB);
    // growing the vector would copy every token made so far.
    let mut tokens = Vec::with_capacity(src.len() / 4 + 16);
    loop {
        let (reason, tok) = lx.next_token(None, false)?;
        if let Some(tok) = tok {
            lx.place(tok, &mut tokens)?;
            // From a here-document's tag to the end of its line brush stays in one call of
            // its tokenizer, where a token ended by a blank leaves the next token's start
            // on that blank.
            lx.back_one = reason == Reason::Blank && matches!(lx.here, Here::NeedNewline { .. });
        }
        if reason == Reason::EndOfInput {
            break;
        }
    }
    matches!(lx.here, Here::None).then_some(tokens)
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    cur: SourcePosition,
    arith: bool,
    depth: u32,
    here: Here,
    /// The next token starts one character early (see [`tokenize`]).
    back_one: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        match self.b.get(self.pos) {
            None => None,
            Some(&c) if c < 0x80 => Some(c as char),
            Some(_) => self.src[self.pos..].chars().next(),
        }
    }

    /// Moves past `n` bytes (whole characters), keeping the character position.
    fn advance(&mut self, n: usize) {
        for &c in &self.b[self.pos..self.pos + n] {
            if c == b'\n' {
                self.cur.line += 1;
                self.cur.column = 1;
                self.cur.index += 1;
            } else if c & 0xC0 != 0x80 {
                self.cur.column += 1;
                self.cur.index += 1;
            }
        }
        self.pos += n;
    }

    /// Appends the next [`Lexer::plain_run`] to the word and moves past it. Outside quotes
    /// a run never holds a newline (it stops at one), so the position moves by its
    /// characters, counted at once.
    fn take_run(&mut self, st: &mut State) {
        self.reserve(st);
        let n = self.plain_run(st);
        st.text.push_str(&self.src[self.pos..self.pos + n]);
        if st.quote != Quote::None {
            return self.advance(n);
        }
        let run = &self.b[self.pos..self.pos + n];
        debug_assert!(!run.contains(&b'\n'));
        let chars = n - run.iter().filter(|&&c| c & 0xC0 == 0x80).count();
        self.cur.column += chars;
        self.cur.index += chars;
        self.pos += n;
    }

    fn consume(&mut self, c: char) {
        self.advance(c.len_utf8());
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.consume(c);
        Some(c)
    }

    /// Pushes a finished top-level token, doing the here-document bookkeeping brush does
    /// in `delimit_current_token`: the body and end tag go right after the tag, before the
    /// rest of the line.
    fn place(&mut self, tok: Token, tokens: &mut Vec<Token>) -> Option<()> {
        match std::mem::replace(&mut self.here, Here::None) {
            Here::None => tokens.push(tok),
            Here::Operator { remove_tabs } => {
                self.here = Here::NeedTag { remove_tabs };
                tokens.push(tok);
            }
            Here::NeedTag { remove_tabs } => {
                if tok.op.is_some() || tok.text.contains('\n') {
                    return None;
                }
                let mut tag = tok.text.trim_ascii_start().to_string();
                if tag.contains(['\\', '\'', '"']) {
                    tag = unquote(&tag);
                }
                self.here = Here::NeedNewline {
                    tag_at: tokens.len(),
                    tag,
                    remove_tabs,
                };
                tokens.push(tok);
            }
            Here::NeedNewline {
                tag_at,
                tag,
                remove_tabs,
            } => {
                if tok.op != Some("\n") {
                    self.here = Here::NeedNewline {
                        tag_at,
                        tag,
                        remove_tabs,
                    };
                    tokens.push(tok);
                    return Some(());
                }
                let (body, end) = self.here_body(&tag, remove_tabs)?;
                tokens.insert(tag_at + 1, body);
                tokens.insert(tag_at + 2, end);
                tokens.push(tok);
            }
        }
        Some(())
    }

    /// Reads a here-document body from the start of the line after its operator, up to and
    /// including the line that is the tag; the body token and brush's (empty-span) end-tag
    /// token.
    fn here_body(&mut self, tag: &str, remove_tabs: bool) -> Option<(Token, Token)> {
        let start = self.cur.clone();
        let mut body = String::new();
        loop {
            let rest = &self.src[self.pos..];
            // A last line without a newline is declined (brush has its own rule for it).
            let len = rest.find('\n')? + 1;
            let line = &rest[..len];
            let content = if remove_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            let done = content.len() == tag.len() + 1 && content.starts_with(tag);
            if !done {
                body.push_str(content);
            }
            self.advance(len);
            if done {
                break;
            }
        }
        let body = Token {
            text: body,
            op: None,
            body: true,
            start,
            end: self.cur.clone(),
        };
        let end = Token {
            text: tag.to_string(),
            op: None,
            body: false,
            start: self.cur.clone(),
            end: self.cur.clone(),
        };
        Some((body, end))
    }

    /// Ends the token in progress (brush's `delimit_current_token`, without the here
    /// states, which [`Lexer::place`] handles at the top level).
    fn delimit(&self, st: &mut State, reason: Reason) -> (Reason, Option<Token>) {
        if !st.started() {
            return (reason, None);
        }
        (reason, Some(st.pop(&self.cur)))
    }

    /// brush's `next_token_until`.
    fn next_token(
        &mut self,
        term: Option<char>,
        keep_space: bool,
    ) -> Option<(Reason, Option<Token>)> {
        let mut st = State::new(&self.cur);
        if std::mem::take(&mut self.back_one) {
            st.start.index -= 1;
            st.start.column -= 1;
        }
        loop {
            let Some(c) = self.peek() else {
                if st.escaped || st.quote != Quote::None || !matches!(self.here, Here::None) {
                    return None;
                }
                return Some(self.delimit(&mut st, Reason::EndOfInput));
            };
            if st.unquoted() && term == Some(c) {
                return Some(self.delimit(&mut st, Reason::Terminator));
            } else if let Some(op) = st.op {
                if let Some(longer) = extend_operator(op, c) {
                    self.consume(c);
                    st.op = Some(longer);
                    continue;
                }
                if self.arith {
                    if op == ")" && c == ')' {
                        self.arith = false;
                    }
                } else if op == "<<" || op == "<<-" {
                    if term == Some(')') {
                        st.pop(&self.cur);
                        return self.nested_here_doc(op);
                    }
                    if self.depth > 0 || !matches!(self.here, Here::None) {
                        return None;
                    }
                    self.here = Here::Operator {
                        remove_tabs: op == "<<-",
                    };
                } else if op == "(" && c == '(' {
                    self.arith = true;
                }
                return Some(self.delimit(&mut st, Reason::Other));
            } else if !st.escaped && affects_quoting(st.quote, c) {
                self.reserve(&mut st);
                self.consume(c);
                match c {
                    '\\' => {
                        if self.peek() == Some('\n') {
                            self.consume('\n');
                        } else {
                            st.escaped = true;
                            st.text.push(c);
                        }
                    }
                    '\'' => {
                        st.quote = if st.text.ends_with('$') {
                            Quote::AnsiC
                        } else {
                            Quote::Single
                        };
                        st.text.push(c);
                    }
                    _ => {
                        st.quote = Quote::Double;
                        st.text.push(c);
                    }
                }
            } else if !st.escaped
                && ((matches!(st.quote, Quote::Single | Quote::AnsiC) && c == '\'')
                    || (st.quote == Quote::Double && c == '"'))
            {
                st.quote = Quote::None;
                self.consume(c);
                st.text.push(c);
            } else if st.escaped {
                st.escaped = false;
                self.consume(c);
                st.text.push(c);
            } else if (st.quote == Quote::None || st.quote == Quote::Double)
                && (c == '$' || c == '`')
            {
                self.reserve(&mut st);
                self.dollar_or_backquote(&mut st, c)?;
            } else if let Some(op) = operator_start(c).filter(|_| st.unquoted()) {
                if !st.text.is_empty() {
                    return Some(self.delimit(&mut st, Reason::Other));
                }
                st.op = Some(op);
                self.consume(c);
            } else if st.unquoted() && (c == ' ' || c == '\t') {
                if !st.text.is_empty() {
                    let result = self.delimit(&mut st, Reason::Blank);
                    self.consume(c);
                    return Some(result);
                }
                if keep_space {
                    st.text.push(c);
                    self.consume(c);
                } else {
                    // A run of blanks before a token: each moves its start one character
                    // on, as brush does one at a time.
                    let n = self.b[self.pos..]
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    st.start.column += n;
                    st.start.index += n;
                    self.pos += n;
                    self.cur.column += n;
                    self.cur.index += n;
                }
            } else if st.op.is_none() && (!st.text.is_empty() || term == Some('}')) {
                self.take_run(&mut st);
            } else if c == '#' {
                let n = self.src[self.pos..]
                    .find('\n')
                    .unwrap_or(self.b.len() - self.pos);
                self.advance(n);
            } else if !st.text.is_empty() {
                return Some(self.delimit(&mut st, Reason::Other));
            } else {
                // The first character of a word, and the run after it that the branch
                // above would take next round (a `#` here starts no comment: the word has
                // begun).
                self.take_run(&mut st);
            }
        }
    }

    /// Gives a word about to start room for the text up to the next blank or operator, so
    /// it rarely grows.
    fn reserve(&self, st: &mut State) {
        if st.text.capacity() == 0 {
            let rest = &self.b[self.pos..self.b.len().min(self.pos + 256)];
            let n = rest
                .iter()
                .position(|&c| CLASS[usize::from(c)] & ENDS_WORD != 0)
                .unwrap_or(rest.len());
            // Made at its size (a `reserve` of an empty string goes through the growth
            // path of every vector, about a hundred instructions more per token).
            st.text = String::with_capacity(n.max(8));
        }
    }

    /// How many bytes from here, at least one character, would each go through the
    /// "append the character" branch of [`Lexer::next_token`] one by one.
    fn plain_run(&self, st: &State) -> usize {
        let rest = &self.b[self.pos..];
        let first = self.peek().map_or(1, char::len_utf8);
        let stop = match st.quote {
            Quote::None => STOPS_UNQUOTED,
            Quote::Double => STOPS_DOUBLE,
            Quote::Single => STOPS_SINGLE,
            Quote::AnsiC => STOPS_ANSI_C,
        };
        // Terminators (`}`, `]`, `)`) stop every run, so the next round sees them; only
        // shorter runs where there is no terminator.
        first
            + rest[first..]
                .iter()
                .take_while(|&&c| CLASS[usize::from(c)] & stop == 0)
                .count()
    }

    /// The `$` and backquote branch of brush's `next_token_until`.
    fn dollar_or_backquote(&mut self, st: &mut State, c: char) -> Option<()> {
        self.consume(c);
        if c == '`' {
            st.text.push('`');
            let mut escaping = false;
            loop {
                let d = self.next_char()?;
                st.text.push(d);
                if !escaping && d == '\\' {
                    escaping = true;
                } else {
                    if !escaping && d == '`' {
                        return Some(());
                    }
                    escaping = false;
                }
            }
        }
        match self.peek() {
            Some('(') => {
                self.enter()?;
                st.text.push('$');
                st.text.push(self.next_char()?);
                let arith = self.peek() == Some('(');
                if arith {
                    st.text.push(self.next_char()?);
                    self.arith = true;
                }
                self.nested(st, ')', "(", if arith { 2 } else { 1 })?;
                if arith {
                    self.arith = false;
                }
                self.depth -= 1;
            }
            Some('[') => {
                self.enter()?;
                st.text.push('$');
                st.text.push(self.next_char()?);
                self.arith = true;
                self.nested(st, ']', "[", 1)?;
                self.arith = false;
                self.depth -= 1;
            }
            Some('{') => {
                self.enter()?;
                st.text.push('$');
                st.text.push(self.next_char()?);
                loop {
                    let (reason, tok) = self.next_token(Some('}'), false)?;
                    if let Some(tok) = tok {
                        st.text.push_str(tok.as_str());
                    }
                    match reason {
                        Reason::Blank => st.text.push(' '),
                        Reason::Terminator => {
                            st.text.push(self.next_char()?);
                            break;
                        }
                        Reason::EndOfInput => return None,
                        Reason::Other => {}
                    }
                }
                self.depth -= 1;
            }
            _ => st.text.push('$'),
        }
        Some(())
    }

    /// A here-document directly inside `$(…)`, its operator `op` just read: the text brush's
    /// `consume_nested_construct` splices into the word, as one token (the operator, the tag
    /// as written, a newline, the body, the bare tag, a newline). Only the common shape: the
    /// tag ends its line, and no body line starts with `)`.
    fn nested_here_doc(&mut self, op: &str) -> Option<(Reason, Option<Token>)> {
        let (reason, tag) = self.next_token(Some(')'), true)?;
        let tag = tag?;
        if tag.op.is_some()
            || reason != Reason::Other
            || self.peek() != Some('\n')
            || tag.text.contains(['\n', '$', '`'])
        {
            return None;
        }
        self.consume('\n');
        let mut bare = tag.text.trim_ascii_start().to_string();
        if bare.contains(['\\', '\'', '"']) {
            bare = unquote(&bare);
        }
        let (body, end) = self.here_body(&bare, op == "<<-")?;
        if body.text.lines().any(|l| l.trim_start().starts_with(')')) {
            // brush may end the `$(` at a body line that starts with one (`$(f() <<EOF`,
            // `)`, `EOF`, `)` is a syntax error to it); left to brush.
            return None;
        }
        let mut text =
            String::with_capacity(op.len() + tag.text.len() + body.text.len() + 2 * end.text.len());
        for piece in [op, &tag.text, "\n", &body.text, &end.text, "\n"] {
            text.push_str(piece);
        }
        let token = Token {
            text,
            op: None,
            body: false,
            start: tag.start,
            end: tag.end,
        };
        Some((Reason::Other, Some(token)))
    }

    /// Enters a nested construct: declined while a here-document is pending (brush then
    /// files the nested tokens under the here-document) or past [`MAX_DEPTH`].
    fn enter(&mut self) -> Option<()> {
        if !matches!(self.here, Here::None) || self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        Some(())
    }

    /// brush's `consume_nested_construct`: `$(…)`, `$((…))`, `$[…]`.
    fn nested(&mut self, st: &mut State, term: char, open: &str, mut depth: u32) -> Option<()> {
        loop {
            let (reason, tok) = self.next_token(Some(term), true)?;
            if let Some(tok) = tok {
                st.text.push_str(tok.as_str());
                if tok.op == Some(open) {
                    depth += 1;
                }
            }
            match reason {
                Reason::Blank => st.text.push(' '),
                Reason::Terminator => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    st.text.push(self.next_char()?);
                }
                Reason::EndOfInput => return None,
                Reason::Other => {}
            }
        }
        st.text.push(self.next_char()?);
        Some(())
    }
}

/// brush's `does_char_newly_affect_quoting`, for a state that is not escaped.
fn affects_quoting(quote: Quote, c: char) -> bool {
    match quote {
        Quote::Double | Quote::AnsiC => c == '\\',
        Quote::Single => false,
        Quote::None => matches!(c, '\\' | '\'' | '"'),
    }
}

/// The operator a character starts, if any (brush's `can_start_operator`).
fn operator_start(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&",
        '(' => "(",
        ')' => ")",
        ';' => ";",
        '\n' => "\n",
        '|' => "|",
        '<' => "<",
        '>' => ">",
        _ => return None,
    })
}

/// The operator `op` followed by `c` makes, if that is one (brush's `is_operator` in bash
/// mode, on `op` plus `c`).
fn extend_operator(op: &str, c: char) -> Option<&'static str> {
    Some(match (op, c) {
        ("&", '&') => "&&",
        ("&", '>') => "&>",
        ("&>", '>') => "&>>",
        (";", ';') => ";;",
        (";", '&') => ";&",
        (";;", '&') => ";;&",
        ("|", '|') => "||",
        ("|", '&') => "|&",
        ("<", '<') => "<<",
        ("<", '&') => "<&",
        ("<", '>') => "<>",
        ("<<", '<') => "<<<",
        ("<<", '-') => "<<-",
        (">", '>') => ">>",
        (">", '&') => ">&",
        (">", '|') => ">|",
        _ => return None,
    })
}

/// brush's `unquote_str`: the text with backslash escapes and quote characters removed.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        match c {
            c if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '\'' | '"' => {}
            c => out.push(c),
        }
    }
    out
}
