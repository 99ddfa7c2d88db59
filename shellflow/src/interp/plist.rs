//! A persistent, append-only list (a cons list that shares its older entries): what the
//! evidence of a path (reasons, assumptions) needs, since paths fork often and each fork
//! then appends a little.
//!
//! Cloning and pushing are O(1); nothing is ever copied when paths fork. Reading the whole
//! list (`to_vec`) is O(n) and happens once per reported candidate. It deliberately offers no
//! removal: a join keeps one side's list or filters into a new one.

use std::hash::Hash;
use std::rc::Rc;

#[derive(Debug)]
struct Node<T> {
    item: T,
    len: usize,
    prev: Option<Rc<Node<T>>>,
}

/// The list; `Default` is empty.
#[derive(Debug)]
pub struct PList<T>(Option<Rc<Node<T>>>);

impl<T> Default for PList<T> {
    fn default() -> Self {
        PList(None)
    }
}

impl<T> Clone for PList<T> {
    fn clone(&self) -> Self {
        PList(self.0.clone())
    }
}

impl<T> Drop for PList<T> {
    /// Unlinks iteratively: a long unshared list must not recurse once per entry.
    fn drop(&mut self) {
        let mut cur = self.0.take();
        while let Some(node) = cur {
            match Rc::try_unwrap(node) {
                Ok(mut n) => cur = n.prev.take(),
                Err(_) => break,
            }
        }
    }
}

impl<T: PartialEq> PartialEq for PList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.same(other) || (self.len() == other.len() && self.iter().eq(other.iter()))
    }
}

impl<T> PList<T> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |n| n.len)
    }

    /// Whether both are the very same list (O(1)).
    pub fn same(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, item: T) {
        let len = self.len() + 1;
        let prev = self.0.take();
        self.0 = Some(Rc::new(Node { item, len, prev }));
    }

    /// Entries, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let mut cur = self.0.as_deref();
        std::iter::from_fn(move || {
            let n = cur?;
            cur = n.prev.as_deref();
            Some(&n.item)
        })
    }

    /// The entries pushed once the list had `len` entries, oldest first.
    pub fn since(&self, len: usize) -> Vec<T>
    where
        T: Clone,
    {
        let mut out: Vec<T> = self
            .iter()
            .take(self.len().saturating_sub(len))
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// How many of the oldest entries both lists share (by identity: the part they had
    /// before one forked from the other).
    pub fn common_len(&self, other: &Self) -> usize {
        let (mut a, mut b) = (self.0.as_ref(), other.0.as_ref());
        while let (Some(x), Some(y)) = (a, b) {
            if x.len > y.len {
                a = x.prev.as_ref();
            } else if y.len > x.len {
                b = y.prev.as_ref();
            } else if Rc::ptr_eq(x, y) {
                return x.len;
            } else {
                a = x.prev.as_ref();
                b = y.prev.as_ref();
            }
        }
        0
    }

    /// The list of its `n` oldest entries (shared, not copied).
    pub fn prefix(&self, n: usize) -> Self {
        let mut cur = self.0.as_ref();
        while let Some(x) = cur {
            if x.len <= n {
                break;
            }
            cur = x.prev.as_ref();
        }
        PList(cur.cloned())
    }

    /// Entries, oldest first.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        let mut v: Vec<T> = self.iter().cloned().collect();
        v.reverse();
        v
    }
}

/// A [`PList`] whose entries are distinct, with O(1) membership: a persistent set of the
/// entries' 64-bit hashes stands beside the list (two entries with equal hashes count as
/// one; with 64 bits that is never in practice).
#[derive(Debug, Clone)]
pub struct OnceList<T> {
    list: PList<T>,
    seen: super::state::HashSet<u64>,
}

impl<T> Default for OnceList<T> {
    fn default() -> Self {
        OnceList {
            list: PList::default(),
            seen: super::state::HashSet::new(),
        }
    }
}

fn hash_of<T: Hash>(x: &T) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5e11_f10e).hash_one(x)
}

impl<T: Hash + Clone> OnceList<T> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether both are the very same list (O(1)).
    pub fn same(&self, other: &Self) -> bool {
        self.list.same(&other.list)
    }

    /// Whether an equal entry is present.
    pub fn contains(&self, x: &T) -> bool {
        self.seen.contains(&hash_of(x))
    }

    /// Appends `x` unless an equal entry is present.
    pub fn push(&mut self, x: T) {
        if self.seen.insert(hash_of(&x)).is_none() {
            self.list.push(x);
        }
    }

    /// Entries, oldest first.
    pub fn to_vec(&self) -> Vec<T> {
        self.list.to_vec()
    }

    /// The entries pushed once the list had `len` entries, oldest first.
    pub fn since(&self, len: usize) -> Vec<T> {
        self.list.since(len)
    }

    /// The entries also present in `other`, in this list's order. Paths that forked share
    /// their older entries, so only the entries after the shared part are looked at.
    pub fn intersect(&self, other: &Self) -> Self {
        if self.same(other) {
            return self.clone();
        }
        let shared = self.list.common_len(&other.list);
        let newer: Vec<&T> = self.list.iter().take(self.len() - shared).collect();
        if newer.iter().all(|x| other.contains(x)) {
            return self.clone();
        }
        let mut out = OnceList {
            list: self.list.prefix(shared),
            seen: self.seen.clone(),
        };
        for x in &newer {
            out.seen.remove(&hash_of(*x));
        }
        for x in newer.into_iter().rev() {
            if other.contains(x) {
                out.push(x.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_once_list_keeps_first_occurrences_and_intersects_in_order() {
        let mut a = OnceList::default();
        for x in ["u", "v", "u", "w"] {
            a.push(x.to_string());
        }
        assert_eq!(a.to_vec(), ["u", "v", "w"]);
        let mut b = a.clone();
        b.push("z".into());
        let mut c = OnceList::default();
        for x in ["w", "z", "u"] {
            c.push(x.to_string());
        }
        assert_eq!(b.intersect(&c).to_vec(), ["u", "w", "z"]);
        assert!(b.contains(&"z".to_string()) && !a.contains(&"z".to_string()));
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn intersecting_forks_keeps_the_shared_past_and_the_common_new_entries() {
        let mut base = OnceList::default();
        for x in ["a", "b", "c"] {
            base.push(x.to_string());
        }
        let (mut x, mut y) = (base.clone(), base.clone());
        for s in ["only-x", "both"] {
            x.push(s.to_string());
        }
        for s in ["both", "only-y"] {
            y.push(s.to_string());
        }
        let i = x.intersect(&y);
        assert_eq!(i.to_vec(), ["a", "b", "c", "both"]);
        assert!(!i.contains(&"only-x".to_string()) && i.contains(&"a".to_string()));
        assert_eq!(x.list.common_len(&y.list), 3);
        assert_eq!(base.intersect(&x).to_vec(), ["a", "b", "c"]);
        assert_eq!(x.intersect(&base).to_vec(), ["a", "b", "c"]);
        // Unrelated lists fall back to looking at every entry.
        let mut z = OnceList::default();
        for s in ["both", "c"] {
            z.push(s.to_string());
        }
        assert_eq!(x.intersect(&z).to_vec(), ["c", "both"]);
    }

    #[test]
    fn forks_share_their_past_and_diverge_after() {
        let mut a = PList::default();
        a.push(1);
        a.push(2);
        let mut b = a.clone();
        assert!(a.same(&b));
        b.push(3);
        a.push(4);
        assert_eq!(a.to_vec(), [1, 2, 4]);
        assert_eq!(b.to_vec(), [1, 2, 3]);
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().next(), Some(&3));
        assert_ne!(a, b);
    }

    #[test]
    fn a_long_list_drops_without_deep_recursion() {
        let mut a = PList::default();
        for i in 0..1_000_000 {
            a.push(i);
        }
        assert_eq!(a.len(), 1_000_000);
        drop(a);
    }
}
