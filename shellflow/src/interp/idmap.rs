//! A persistent map keyed by the small dense ids of interned names ([`super::names`]): a
//! radix trie of 16-wide nodes, copied along one root-to-leaf path on write and shared
//! otherwise, as [`super::state::VarMap`]'s base.
//!
//! Hand-written: imbl's `OrdMap` (a B-tree of up to 16 keys a node) was the base before. It
//! searched the keys of every node on the way down for what the trie finds by indexing
//! (83 instructions a lookup on the long bench, against a few), and a write copied nodes
//! that hold keys and values on every level, each counted in again, where the trie's
//! branches hold only child pointers. The change cut the long bench from 24.85 to 24.13 M
//! instructions an analysis. Ids are dense (given in order from 0), so the trie stays
//! shallow: three levels hold 4,096 names.

use std::rc::Rc;

/// Bits of an id each level takes.
const BITS: u32 = 4;
/// Entries (or children) a node holds.
const WIDTH: usize = 1 << BITS;
/// The part of an id one level takes.
const MASK: u32 = WIDTH as u32 - 1;

/// A node: a branch of children or a leaf of entries.
#[derive(Debug, Clone)]
enum Node<T> {
    Branch(Rc<[Option<Node<T>>; WIDTH]>),
    Leaf(Rc<[Option<T>; WIDTH]>),
}

impl<T> Node<T> {
    fn ptr_eq(&self, other: &Node<T>) -> bool {
        match (self, other) {
            (Node::Branch(a), Node::Branch(b)) => Rc::ptr_eq(a, b),
            (Node::Leaf(a), Node::Leaf(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A persistent map from `u32` ids to entries, in id order (see the module doc). Clones
/// share every node.
#[derive(Debug, Clone)]
pub struct IdMap<T> {
    root: Option<Node<T>>,
    /// Levels of branches above the leaves: ids below `WIDTH << (BITS * levels)` fit.
    levels: u32,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        IdMap {
            root: None,
            levels: 0,
        }
    }
}

/// Whether `id` fits a trie of `levels` branch levels.
fn fits(id: u32, levels: u32) -> bool {
    u64::from(id) < (WIDTH as u64) << (BITS * levels)
}

/// The slot of `id` in a node `level` levels above the leaves.
fn slot(id: u32, level: u32) -> usize {
    ((u64::from(id) >> (BITS * level)) as u32 & MASK) as usize
}

impl<T: Clone> IdMap<T> {
    /// The entry of `id`.
    pub fn get(&self, id: u32) -> Option<&T> {
        if !fits(id, self.levels) {
            return None;
        }
        let mut node = self.root.as_ref()?;
        let mut level = self.levels;
        loop {
            match node {
                Node::Branch(children) => {
                    node = children[slot(id, level)].as_ref()?;
                    level -= 1;
                }
                Node::Leaf(entries) => return entries[slot(id, 0)].as_ref(),
            }
        }
    }

    /// Whether `id` has an entry.
    pub fn contains_key(&self, id: u32) -> bool {
        self.get(id).is_some()
    }

    /// The entry of `id` to change in place: the nodes on its path are copied first when
    /// shared.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        if !fits(id, self.levels) || !self.contains_key(id) {
            return None;
        }
        self.slot_mut(id).as_mut()
    }

    /// Sets the entry of `id`.
    pub fn insert(&mut self, id: u32, entry: T) {
        while !fits(id, self.levels) {
            // One more level: the trie so far becomes the first child of a new root.
            let old = self.root.take();
            let mut children: [Option<Node<T>>; WIDTH] = Default::default();
            children[0] = old;
            self.root = Some(Node::Branch(Rc::new(children)));
            self.levels += 1;
        }
        *self.slot_mut(id) = Some(entry);
    }

    /// Removes the entry of `id` (emptied nodes stay: they cost a lookup nothing).
    pub fn remove(&mut self, id: u32) {
        if self.contains_key(id) {
            *self.slot_mut(id) = None;
        }
    }

    /// The slot of `id` (which fits), the nodes on its path made (or copied when shared).
    fn slot_mut(&mut self, id: u32) -> &mut Option<T> {
        let levels = self.levels;
        let mut node = self.root.get_or_insert_with(|| empty(levels));
        let mut level = levels;
        loop {
            match node {
                Node::Branch(children) => {
                    let child = &mut Rc::make_mut(children)[slot(id, level)];
                    node = child.get_or_insert_with(|| empty(level - 1));
                    level -= 1;
                }
                Node::Leaf(entries) => return &mut Rc::make_mut(entries)[slot(id, 0)],
            }
        }
    }

    /// Whether both are the very same map (O(1)).
    pub fn ptr_eq(&self, other: &IdMap<T>) -> bool {
        self.levels == other.levels
            && match (&self.root, &other.root) {
                (Some(a), Some(b)) => a.ptr_eq(b),
                (None, None) => true,
                _ => false,
            }
    }

    /// The entries in id order.
    pub fn iter(&self) -> Iter<'_, T> {
        let mut stack = Vec::with_capacity(self.levels as usize + 1);
        if let Some(root) = &self.root {
            stack.push((root, 0));
        }
        Iter { stack }
    }

    /// Every entry that differs between the two maps, in either (each id once, in id order:
    /// this map's entry where it has one): in one only, or not `same`. Subtrees the two
    /// share are skipped.
    pub fn diff<'m>(
        &'m self,
        other: &'m IdMap<T>,
        same: &impl Fn(&T, &T) -> bool,
        out: &mut Vec<&'m T>,
    ) {
        // A shorter map is the first child (down its levels) of the taller's root.
        let (a, b) = (self.root.as_ref(), other.root.as_ref());
        match self.levels.cmp(&other.levels) {
            std::cmp::Ordering::Equal => diff_same(a, b, same, out),
            std::cmp::Ordering::Less => diff_above(other.levels - self.levels, a, b, same, out),
            std::cmp::Ordering::Greater => diff_above(self.levels - other.levels, b, a, same, out),
        }
    }
}

/// An empty node `level` levels above the leaves.
fn empty<T>(level: u32) -> Node<T> {
    if level == 0 {
        Node::Leaf(Rc::new(std::array::from_fn(|_| None)))
    } else {
        Node::Branch(Rc::new(std::array::from_fn(|_| None)))
    }
}

/// `low`, `n` levels shorter than `high`, against it: only `high`'s first child (down
/// `n` levels) can match `low`; everything else in `high` differs.
fn diff_above<'m, T>(
    n: u32,
    low: Option<&'m Node<T>>,
    high: Option<&'m Node<T>>,
    same: &impl Fn(&T, &T) -> bool,
    out: &mut Vec<&'m T>,
) {
    let Some(Node::Branch(children)) = high else {
        // An empty (or, at a mismatch that cannot happen, leaf) node: all of `low`.
        all(low, out);
        all(high, out);
        return;
    };
    let first = children[0].as_ref();
    if n == 1 {
        diff_same(low, first, same, out);
    } else {
        diff_above(n - 1, low, first, same, out);
    }
    for c in &children[1..] {
        all(c.as_ref(), out);
    }
}

/// Two nodes of the same height.
fn diff_same<'m, T>(
    a: Option<&'m Node<T>>,
    b: Option<&'m Node<T>>,
    same: &impl Fn(&T, &T) -> bool,
    out: &mut Vec<&'m T>,
) {
    match (a, b) {
        (None, None) => {}
        (Some(x), Some(y)) if x.ptr_eq(y) => {}
        (Some(Node::Branch(x)), Some(Node::Branch(y))) => {
            for (cx, cy) in x.iter().zip(y.iter()) {
                diff_same(cx.as_ref(), cy.as_ref(), same, out);
            }
        }
        (Some(Node::Leaf(x)), Some(Node::Leaf(y))) => {
            for (ex, ey) in x.iter().zip(y.iter()) {
                match (ex, ey) {
                    (None, None) => {}
                    (Some(e), Some(f)) if same(e, f) => {}
                    (Some(e), _) | (None, Some(e)) => out.push(e),
                }
            }
        }
        (x, y) => {
            all(x, out);
            all(y, out);
        }
    }
}

/// Every entry under `node`.
fn all<'m, T>(node: Option<&'m Node<T>>, out: &mut Vec<&'m T>) {
    match node {
        None => {}
        Some(Node::Branch(children)) => {
            for c in children.iter() {
                all(c.as_ref(), out);
            }
        }
        Some(Node::Leaf(entries)) => out.extend(entries.iter().flatten()),
    }
}

/// The entries of an [`IdMap`] in id order.
pub struct Iter<'m, T> {
    /// The nodes being walked and the next slot of each.
    stack: Vec<(&'m Node<T>, usize)>,
}

impl<'m, T> Iterator for Iter<'m, T> {
    type Item = &'m T;

    fn next(&mut self) -> Option<&'m T> {
        loop {
            let (node, i) = self.stack.last_mut()?;
            if *i == WIDTH {
                self.stack.pop();
                continue;
            }
            let at = *i;
            *i += 1;
            match node {
                Node::Leaf(entries) => {
                    if let Some(e) = &entries[at] {
                        return Some(e);
                    }
                }
                Node::Branch(children) => {
                    if let Some(c) = &children[at] {
                        self.stack.push((c, 0));
                    }
                }
            }
        }
    }
}

impl<T: Clone> FromIterator<(u32, T)> for IdMap<T> {
    fn from_iter<I: IntoIterator<Item = (u32, T)>>(iter: I) -> Self {
        let mut m = IdMap::default();
        for (id, e) in iter {
            m.insert(id, e);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A trie of test entries (an id and a counted value).
    type Trie = IdMap<(u32, Rc<u32>)>;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32, u32),
        Remove(u32),
        Change(u32, u32),
        Fork,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Ids mostly small (as interned ids are), sometimes past a few levels.
        let id = prop_oneof![0u32..40, 0u32..5000, Just(u32::MAX), Just(65_536)];
        prop_oneof![
            (id.clone(), any::<u32>()).prop_map(|(i, v)| Op::Insert(i, v)),
            id.clone().prop_map(Op::Remove),
            (id, any::<u32>()).prop_map(|(i, v)| Op::Change(i, v)),
            Just(Op::Fork),
        ]
    }

    proptest! {
        /// The trie answers as a `BTreeMap` does, through forks (clones written apart), and
        /// its diff against a fork holds every id whose entries differ.
        #[test]
        fn behaves_as_an_ordered_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut m: Trie = IdMap::default();
            let mut model: BTreeMap<u32, u32> = BTreeMap::new();
            let mut forks: Vec<(Trie, BTreeMap<u32, u32>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(i, v) => {
                        m.insert(i, (i, Rc::new(v)));
                        model.insert(i, v);
                    }
                    Op::Remove(i) => {
                        m.remove(i);
                        model.remove(&i);
                    }
                    Op::Change(i, v) => {
                        if let Some(e) = m.get_mut(i) {
                            e.1 = Rc::new(v);
                        }
                        if let Some(x) = model.get_mut(&i) {
                            *x = v;
                        }
                    }
                    Op::Fork => forks.push((m.clone(), model.clone())),
                }
                for (k, v) in &model {
                    prop_assert_eq!(m.get(*k).map(|e| *e.1), Some(*v));
                }
                let got: Vec<(u32, u32)> = m.iter().map(|e| (e.0, *e.1)).collect();
                let want: Vec<(u32, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want);
            }
            for (f, fm) in &forks {
                let got: Vec<(u32, u32)> = f.iter().map(|e| (e.0, *e.1)).collect();
                let want: Vec<(u32, u32)> = fm.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want, "a fork is not changed by later writes");
                let same = |x: &(u32, Rc<u32>), y: &(u32, Rc<u32>)| x.1 == y.1;
                let mut d = Vec::new();
                m.diff(f, &same, &mut d);
                let ids: std::collections::BTreeSet<u32> = d.iter().map(|e| e.0).collect();
                for k in model.keys().chain(fm.keys()) {
                    if model.get(k) != fm.get(k) {
                        prop_assert!(ids.contains(k), "id {} differs but is not in the diff", k);
                    }
                }
                let mut back = Vec::new();
                f.diff(&m, &same, &mut back);
                let back: std::collections::BTreeSet<u32> = back.iter().map(|e| e.0).collect();
                prop_assert_eq!(ids, back, "the diff is symmetric in its ids");
            }
        }
    }

    #[test]
    fn a_map_shares_everything_with_its_clone_until_written() {
        let mut m: Trie = (0..300).map(|i| (i, (i, Rc::new(i)))).collect();
        let c = m.clone();
        assert!(m.ptr_eq(&c));
        let same = |x: &(u32, Rc<u32>), y: &(u32, Rc<u32>)| Rc::ptr_eq(&x.1, &y.1);
        let differ = |a: &Trie, b: &Trie| {
            let mut d = Vec::new();
            a.diff(b, &same, &mut d);
            d.iter().map(|e| e.0).collect::<Vec<_>>()
        };
        assert!(differ(&m, &c).is_empty());
        m.insert(7, (7, Rc::new(70)));
        assert!(!m.ptr_eq(&c));
        assert_eq!(differ(&m, &c), vec![7]);
        assert_eq!(differ(&c, &m), vec![7]);
        assert_eq!(c.get(7).map(|e| *e.1), Some(7));
    }
}
