//! Interned variable names: maps of variables compare names by a small id, not their bytes.
//!
//! Looking a variable up is the most frequent thing an analysis does (every expansion,
//! test, assignment, join and split does it, in maps of hundreds of variables), and when
//! the maps were keyed by the names themselves, comparing name bytes (`memcmp` called from
//! B-tree searches) was the largest single cost after the allocator. Here each distinct
//! name gets a `u32` the first time a map stores it (ids are dense, from 0), and maps index
//! by that id (see [`super::idmap`]). A [`Name`] is the id alone; the table keeps its text.
//! A lookup of a name that no map ever stored is answered by the table alone. Hand-written:
//! interner crates hand out ids but not this per-analysis lifetime, and the table is a few
//! dozen lines.
//!
//! The table is per thread. The names an analysis added are dropped when the outermost
//! [`Scope`] ends (one per analysis), so that a long-lived process (the fuzzer) does not
//! gather names without end.
//! A map must therefore not outlive the analysis that filled it; maps live in the paths of
//! one analysis, so this holds. Ids only order keys inside maps: whatever the analysis
//! reports in name order (`${!prefix@}`, the environment of a command) is sorted by name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A variable name: its id in this thread's table, whose entry holds the text. Equal names
/// have equal ids, so names compare and order by id alone. Copying one counts nothing in:
/// maps copy their entries at every fork of a path (an overlay of up to 16, a trie node of
/// 16), and a shared text in each name was counted in and out each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    id: u32,
}

impl Name {
    /// Its id: maps keyed by `Name` are searched with it.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The name itself, from the table (empty for a name whose analysis has ended, which
    /// no map outlives).
    pub fn text(&self) -> Rc<str> {
        TABLE.with(|t| {
            t.borrow()
                .texts
                .get(self.id as usize)
                .cloned()
                .unwrap_or_else(|| Rc::from(""))
        })
    }
}

/// Most names whose room the table keeps once an analysis ends (a hostile script's many
/// names give theirs back).
const KEEP_ROOM: usize = 4096;

#[derive(Default)]
struct Table {
    ids: HashMap<Rc<str>, u32, foldhash::fast::FixedState>,
    /// Each id's text.
    texts: Vec<Rc<str>>,
    /// Analyses running on this thread (nested ones included).
    scopes: usize,
    /// How many names the table held when the outermost scope began: those stay (a map
    /// made outside any analysis keeps its names), the later ones go when it ends.
    kept: usize,
}

thread_local! {
    /// Made without code at first use (`const`): every lookup would otherwise check first
    /// whether the table is made.
    static TABLE: RefCell<Table> = const {
        RefCell::new(Table {
            ids: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0)),
            texts: Vec::new(),
            scopes: 0,
            kept: 0,
        })
    };
}

/// The name `text`, given an id if it has none yet.
pub fn intern(text: &str) -> Name {
    intern_with(text, || Rc::from(text))
}

/// [`intern`] for a name already shared (the table keeps `text` when the name is new).
pub fn intern_rc(text: Rc<str>) -> Name {
    intern_with(&Rc::clone(&text), || text)
}

/// The name `text` from the table, or with a new id, stored as `make()` gives it.
fn intern_with(text: &str, make: impl FnOnce() -> Rc<str>) -> Name {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(id) = t.ids.get(text) {
            return Name { id: *id };
        }
        // Past u32::MAX names (never, within the step and size caps) ids would repeat;
        // saturating keeps this total, and a repeated id only makes two names one variable.
        let id = u32::try_from(t.ids.len()).unwrap_or(u32::MAX);
        let text = make();
        if t.ids.len() == t.ids.capacity() {
            // The table's room outlives the analysis (see `KEEP_ROOM`): it comes from the
            // wrapped allocator, not the arena.
            let _off = crate::arena::suspend();
            let more = t.ids.len().max(64);
            t.ids.reserve(more);
        }
        if t.texts.len() == t.texts.capacity() {
            // As the map's room (above).
            let _off = crate::arena::suspend();
            let more = t.texts.len().max(64);
            t.texts.reserve(more);
        }
        if t.texts.len() == id as usize {
            t.texts.push(Rc::clone(&text));
        }
        t.ids.insert(text, id);
        Name { id }
    })
}

/// Makes this thread's table, so that it exists (and its destructor is registered) before an
/// analysis opens the arena.
pub fn warm() {
    TABLE.with(|_| ());
}

/// The id of `text` when some map may hold it; `None` when none can. Reads only (a lookup
/// takes no reference to the name).
pub fn id_of(text: &str) -> Option<u32> {
    TABLE.with(|t| t.borrow().ids.get(text).copied())
}

/// The name `text` when some map may hold it (it has an id); `None` when none can.
pub fn lookup(text: &str) -> Option<Name> {
    TABLE.with(|t| t.borrow().ids.get(text).map(|id| Name { id: *id }))
}

/// One analysis: the table is emptied when the outermost scope on the thread ends.
pub struct Scope(());

impl Scope {
    /// Starts an analysis on this thread.
    pub fn enter() -> Scope {
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            if t.scopes == 0 {
                t.kept = t.ids.len();
            }
            t.scopes += 1;
        });
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            t.scopes = t.scopes.saturating_sub(1);
            if t.scopes == 0 {
                let kept = t.kept;
                if kept == 0 && t.ids.capacity() <= KEEP_ROOM {
                    // The next analysis on this thread fills the room again.
                    t.ids.clear();
                    t.texts.clear();
                } else if kept == 0 {
                    t.ids = HashMap::default();
                    t.texts = Vec::new();
                } else {
                    t.ids.retain(|_, id| (*id as usize) < kept);
                    t.texts.truncate(kept);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_an_id_and_unknown_names_have_none() {
        let _scope = Scope::enter();
        let a = intern("PGDATA");
        let b = intern_rc(Rc::from("PGDATA"));
        assert_eq!(a, b);
        assert!(Rc::ptr_eq(&a.text(), &b.text()));
        assert_eq!(&*a.text(), "PGDATA");
        assert_ne!(intern("PGHOST"), a);
        assert_eq!(lookup("PGDATA"), Some(a));
        assert!(lookup("NEVER_STORED").is_none());
    }

    #[test]
    fn the_table_is_emptied_when_the_outermost_scope_ends() {
        {
            let _outer = Scope::enter();
            {
                let _inner = Scope::enter();
                intern("KEPT_WHILE_OUTER_RUNS");
            }
            assert!(lookup("KEPT_WHILE_OUTER_RUNS").is_some());
        }
        assert!(lookup("KEPT_WHILE_OUTER_RUNS").is_none());
    }
}
