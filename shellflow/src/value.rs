//! Abstract shell values: strings made of known text and unknown pieces that carry the
//! reason they are unknown (the taint: "env POSTGRES_PASSWORD not set in image").
//!
//! A [`Val`] is one string; [`Fields`] builds the list of words a shell word expands to,
//! applying field splitting (XCU 2.6.5) to unquoted known text. Unknown pieces are never
//! split: where an unknown value would be split the result is one field marked unknown.
//! Pathname expansion happens after, on whole fields (`interp::glob`).

use std::fmt;
use std::rc::Rc;

use smallvec::{smallvec, SmallVec};

/// The most known text one piece of a value holds: the read limit of a file
/// ([`crate::Limits::max_file_bytes`]' default), so a value can hold any file the image
/// gives. Text that would grow past it (a loop doubling a variable: the fuzzer's
/// `x="$x…$x"` reached 650 MB in a few dozen iterations) becomes an unknown piece instead.
pub const MAX_TEXT: usize = 1 << 20;

/// The most pieces one value holds. Doubling a partly unknown value (`x="$x$x"` with an
/// unknown piece in `x`) doubles its pieces, not its text: 26 times made a 2 GiB vector.
/// A value that would hold more becomes one unknown piece.
pub const MAX_PARTS: usize = 64;

/// An unknown piece standing for text past a cap.
fn capped(why: &str) -> Part {
    Part::Unknown {
        what: Rc::from("…"),
        why: Rc::from(why),
    }
}

/// The piece text past [`MAX_TEXT`] becomes.
fn too_long() -> Part {
    capped("text longer than 1 MiB")
}

/// One piece of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// Known text (shared, as unknown pieces are: values are copied far more often than
    /// made, and a copy of a shared piece allocates nothing).
    Lit(Rc<str>),
    /// Unknown text: what it stands for (`$POSTGRES_PASSWORD`) and why it is unknown
    /// (shared: unknown values are copied far more often than made).
    Unknown {
        /// The expression it came from.
        what: Rc<str>,
        /// Why it is unknown.
        why: Rc<str>,
    },
}

/// A shell string, possibly partly unknown. Most values are one piece, kept inline.
#[derive(Debug, PartialEq, Eq, Default, Hash)]
pub struct Val(pub SmallVec<[Part; 1]>);

/// Values are copied for every path that holds them: the usual value, one piece, is copied
/// straight into place (`SmallVec`'s own `clone` goes through its general `extend`, about a
/// hundred instructions a copy).
impl Clone for Val {
    fn clone(&self) -> Self {
        match self.0.as_slice() {
            [] => Val(SmallVec::new()),
            [p] => Val(SmallVec::from_buf([p.clone()])),
            ps => Val(ps.iter().cloned().collect()),
        }
    }
}

/// The pieces one after the other, in a string made at its size: cheaper than `format!`
/// where evidence and reasons are written for every fork.
pub(crate) fn concat(pieces: &[&str]) -> String {
    let mut s = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        s.push_str(p);
    }
    s
}

impl Val {
    /// A known string.
    pub fn lit(s: impl AsRef<str>) -> Self {
        let s = s.as_ref();
        if s.is_empty() {
            Val(SmallVec::new())
        } else {
            Val(smallvec![Part::Lit(Rc::from(s))])
        }
    }

    /// An unknown string.
    pub fn unknown(what: impl Into<String>, why: impl Into<String>) -> Self {
        Val(smallvec![Part::Unknown {
            what: Rc::from(what.into()),
            why: Rc::from(why.into()),
        }])
    }

    /// The text when fully known.
    pub fn known(&self) -> Option<String> {
        if let [Part::Lit(s)] = self.0.as_slice() {
            // One allocation of the right size (the common case).
            return Some(String::from(&**s));
        }
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Unknown { .. } => return None,
            }
        }
        Some(out)
    }

    /// The text when fully known, borrowed when it is one piece (the common case).
    pub fn as_known(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.0.as_slice() {
            [] => Some("".into()),
            [Part::Lit(s)] => Some(std::borrow::Cow::Borrowed(s)),
            _ => self.known().map(Into::into),
        }
    }

    /// Whether any piece is unknown.
    pub fn is_unknown(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Unknown { .. }))
    }

    /// The first unknown piece's reason.
    pub fn why(&self) -> Option<String> {
        self.0.iter().find_map(|p| match p {
            Part::Unknown { what, why } => Some(concat(&[what, ": ", why])),
            Part::Lit(_) => None,
        })
    }

    /// Whether the value is known to be empty (unknown pieces may be empty or not).
    pub fn is_known_empty(&self) -> bool {
        self.0
            .iter()
            .all(|p| matches!(p, Part::Lit(s) if s.is_empty()))
    }

    /// Appends another value.
    pub fn push(&mut self, other: &Val) {
        for p in &other.0 {
            self.push_part(p.clone());
        }
    }

    /// Appends one piece, merging adjacent text.
    pub fn push_part(&mut self, p: Part) {
        let full = self.0.len() >= MAX_PARTS;
        match (self.0.last_mut(), p) {
            (_, Part::Lit(s)) if s.is_empty() => {}
            (Some(Part::Lit(a)), Part::Lit(b)) if a.len() + b.len() > MAX_TEXT => {
                self.0.pop();
                self.push_part(too_long());
            }
            (Some(Part::Lit(a)), Part::Lit(b)) => *a = Rc::from(concat(&[a, &b])),
            _ if full => {
                self.0.clear();
                self.0.push(capped("value of more than 64 pieces"));
            }
            (_, p) => self.0.push(p),
        }
    }

    /// The value with every piece equal to `piece` (an unknown one) replaced by `by`.
    pub fn substitute(&self, piece: &Part, by: &Val) -> Val {
        let mut out = Val::default();
        for p in &self.0 {
            if p == piece {
                out.push(by);
            } else {
                out.push_part(p.clone());
            }
        }
        out
    }

    /// Known text prefix (up to the first unknown piece).
    pub fn known_prefix(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Unknown { .. } => break,
            }
        }
        out
    }
}

impl Val {
    /// Appends the text [`fmt::Display`] gives, without the formatting machinery: commands'
    /// words are written out for every command a path records.
    pub fn render_into(&self, out: &mut String) {
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Unknown { what, why } => {
                    for piece in ["<", what, ": ", why, ">"] {
                        out.push_str(piece);
                    }
                }
            }
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Part::Lit(s) => write!(f, "{s}")?,
                Part::Unknown { what, why } => write!(f, "<{what}: {why}>")?,
            }
        }
        Ok(())
    }
}

/// Builds the fields one word expands to. A field's known text that comes in one piece is
/// kept as it came (a value's shared piece is not copied); where pieces meet they gather in
/// a buffer, which becomes one piece when the field ends or an unknown piece comes.
#[derive(Debug, Default)]
pub struct Fields {
    done: Vec<Val>,
    cur: Val,
    /// Known text after `cur`'s pieces, gathered once two pieces of text meet.
    text: String,
    /// Whether the current field exists even if empty (quotes seen).
    started: bool,
}

impl Fields {
    /// Appends text; unquoted text is split on IFS whitespace.
    pub fn text(&mut self, s: &str, quoted: bool, ifs: &str) {
        if quoted {
            self.lit(s, None);
            self.started = true;
            return;
        }
        for (i, piece) in s.split(|c| ifs.contains(c)).enumerate() {
            if i > 0 {
                self.brk();
            }
            if !piece.is_empty() {
                self.lit(piece, None);
                self.started = true;
            }
        }
    }

    /// Appends a whole value (known parts split when unquoted).
    pub fn val(&mut self, v: &Val, quoted: bool, ifs: &str) {
        if quoted {
            self.started = true;
        }
        for p in &v.0 {
            match p {
                Part::Lit(s) if s.is_empty() => {}
                Part::Lit(s) if quoted || !s.contains(|c| ifs.contains(c)) => {
                    self.lit(s, Some(s));
                    self.started = true;
                }
                Part::Lit(s) => self.text(s, quoted, ifs),
                Part::Unknown { .. } => {
                    self.flush();
                    self.cur.push_part(p.clone());
                    self.started = true;
                }
            }
        }
    }

    /// Appends known text to the current field: as its own piece (`shared`, when it is one
    /// already) after an unknown piece or none, else gathered with the text before it.
    fn lit(&mut self, s: &str, shared: Option<&Rc<str>>) {
        if s.is_empty() {
            return;
        }
        let before = match self.cur.0.last() {
            _ if !self.text.is_empty() => self.text.len(),
            Some(Part::Lit(last)) => last.len(),
            _ => 0,
        };
        if before + s.len() > MAX_TEXT {
            self.text.clear();
            if let Some(Part::Lit(_)) = self.cur.0.last() {
                self.cur.0.pop();
            }
            self.cur.push_part(too_long());
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str(s);
            return;
        }
        if let Some(Part::Lit(last)) = self.cur.0.last() {
            self.text.reserve(last.len() + s.len());
            self.text.push_str(last);
            self.text.push_str(s);
            self.cur.0.pop();
            return;
        }
        let piece = shared.map_or_else(|| Rc::from(s), Rc::clone);
        self.cur.push_part(Part::Lit(piece));
    }

    /// Makes the gathered text a piece of the current field.
    fn flush(&mut self) {
        if !self.text.is_empty() {
            self.cur.push_part(Part::Lit(Rc::from(self.text.as_str())));
            self.text.clear();
        }
    }

    /// Marks that a (possibly empty) quoted field exists.
    pub fn mark(&mut self) {
        self.started = true;
    }

    /// Ends the current field (if any).
    pub fn brk(&mut self) {
        self.flush();
        if self.has_field() {
            self.done.push(std::mem::take(&mut self.cur));
        }
        self.started = false;
    }

    /// Whether the field being built makes a field (it has text, or a quote started it).
    fn has_field(&self) -> bool {
        self.started || !self.cur.0.is_empty() || !self.text.is_empty()
    }

    /// The fields.
    pub fn finish(mut self) -> Vec<Val> {
        if self.done.is_empty() {
            self.flush();
            // At most one field, the usual case: made at its size, not grown into.
            return if self.has_field() {
                vec![self.cur]
            } else {
                Vec::new()
            };
        }
        self.brk();
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_into_writes_what_display_writes() {
        let mut v = Val::lit("exec ");
        v.push(&Val::unknown("$X", "unset"));
        v.push(&Val::lit(" --x"));
        for v in [v, Val::default(), Val::lit("a b")] {
            let mut out = String::from("> ");
            v.render_into(&mut out);
            assert_eq!(out, format!("> {v}"));
        }
    }

    #[test]
    fn unquoted_text_splits_and_quoted_text_does_not() {
        let ifs = " \t\n";
        let mut f = Fields::default();
        f.text("a b", false, ifs);
        f.text(" c d", true, ifs);
        let out: Vec<String> = f.finish().iter().map(|v| v.to_string()).collect();
        assert_eq!(out, vec!["a", "b c d"]);

        let mut f = Fields::default();
        f.mark();
        assert_eq!(f.finish(), vec![Val::default()]);

        let mut f = Fields::default();
        f.val(&Val::unknown("$X", "unset"), false, ifs);
        let out = f.finish();
        assert_eq!(out.len(), 1);
        assert!(out[0].is_unknown());
    }
}
