//! How the member table finds a row by name and by address.
//!
//! A lone table (every real agent) keeps two hash indexes of row positions, ~5 bytes a member
//! each. Thousands of tables in one process (the simulator) would hold the same names over and
//! over, so they may share a [`Directory`]: one immutable index from name and address to a
//! directory number, built once. A table that shares one keeps a plain array instead, directory
//! number to row position (4 bytes a member, one load instead of a hash probe into a table of
//! its own), and its own hash indexes only for what the directory does not cover: members
//! whose names it does not hold, and members no longer at the address it lists for them.
//!
//! Either way a lookup answers the same: the row holding that name, or the row whose address
//! that is. Nothing iterates an index, so how it is kept never shows in what the table does,
//! which is what lets the simulator prove the two alike by trace hash.

use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hashbrown::{DefaultHashBuilder, HashTable};

use super::members::{Entry, Identity};
use super::rows::{Base, Rows};
use crate::member::{NodeName, Tags};

/// Identities known before any table is filled, shared by many tables: each keeps an array
/// from directory number to row position (4 bytes a member) instead of hash indexes of its
/// own, and indexes by itself only what the directory does not cover. The simulator builds
/// one for all its nodes and hands it to each core with
/// [`Swim::share_directory`](super::Swim::share_directory).
pub struct Directory {
    ids: Vec<Arc<Identity>>,
    by_name: HashTable<u32>,
    by_addr: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// The rows a table bootstrapped with all of it starts from (`Members::fill_shared`).
    base: OnceLock<Arc<Base>>,
}

impl Directory {
    /// A directory of these identities, numbered in order; a repeated name or address keeps
    /// its first identity only.
    pub fn new(ids: impl IntoIterator<Item = Arc<Identity>>) -> Self {
        let mut dir = Directory {
            ids: Vec::new(),
            by_name: HashTable::new(),
            by_addr: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            base: OnceLock::new(),
        };
        for id in ids {
            if dir.find(id.name.as_str()).is_some() || dir.find_addr(id.addr).is_some() {
                continue;
            }
            let g = dir.ids.len() as u32;
            let (list, hasher) = (&dir.ids, &dir.hasher);
            let rehash_name = |&j: &u32| {
                list.get(j as usize)
                    .map_or(0, |e| hasher.hash_one(e.name.as_str()))
            };
            dir.by_name
                .insert_unique(hasher.hash_one(id.name.as_str()), g, rehash_name);
            let rehash_addr =
                |&j: &u32| list.get(j as usize).map_or(0, |e| hasher.hash_one(e.addr));
            dir.by_addr
                .insert_unique(hasher.hash_one(id.addr), g, rehash_addr);
            dir.ids.push(id);
        }
        dir
    }

    /// The identities held, by directory number.
    pub fn identities(&self) -> &[Arc<Identity>] {
        &self.ids
    }

    /// Identities held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The rows every table of this directory may start from, made by `make` the first time.
    pub(crate) fn base(&self, make: impl FnOnce() -> Base) -> Arc<Base> {
        Arc::clone(self.base.get_or_init(|| Arc::new(make())))
    }

    /// The directory number of `name`.
    pub(crate) fn number_of(&self, name: &str) -> Option<usize> {
        self.find(name)
    }

    fn find(&self, name: &str) -> Option<usize> {
        let ids = &self.ids;
        self.by_name
            .find(self.hasher.hash_one(name), |&j| {
                ids.get(j as usize).is_some_and(|e| e.name.as_str() == name)
            })
            .map(|&j| j as usize)
    }

    fn find_addr(&self, addr: SocketAddr) -> Option<usize> {
        let ids = &self.ids;
        self.by_addr
            .find(self.hasher.hash_one(addr), |&j| {
                ids.get(j as usize).is_some_and(|e| e.addr == addr)
            })
            .map(|&j| j as usize)
    }

    fn addr(&self, g: usize) -> Option<SocketAddr> {
        self.ids.get(g).map(|e| e.addr)
    }
}

/// A table's view of a shared directory: `slot.get(g)` is one more than the position of the
/// row of directory member `g`, 0 when the table holds no such row.
#[derive(Clone)]
struct Shared {
    dir: Arc<Directory>,
    slot: Slots,
}

/// Directory number to row position plus one. A table filled from a directory's shared base
/// holds member `g` at `g` (or `g - 1` past its own number) until rows move, so it keeps only
/// the numbers whose rows are elsewhere; other tables keep the whole array.
#[derive(Clone)]
enum Slots {
    Dense(Vec<u32>),
    Based {
        own: usize,
        covered: usize,
        moved: hashbrown::HashMap<u32, u32>,
    },
}

impl Slots {
    fn default_of(own: usize, covered: usize, g: usize) -> u32 {
        if g == own {
            return 0;
        }
        let p = if g > own { g - 1 } else { g };
        if p < covered { p as u32 + 1 } else { 0 }
    }

    fn get(&self, g: usize) -> u32 {
        match self {
            Slots::Dense(v) => v.get(g).copied().unwrap_or(0),
            Slots::Based {
                own,
                covered,
                moved,
            } => moved
                .get(&(g as u32))
                .copied()
                .unwrap_or_else(|| Self::default_of(*own, *covered, g)),
        }
    }

    fn set(&mut self, g: usize, value: u32) {
        match self {
            Slots::Dense(v) => {
                if g >= v.len() && value != 0 {
                    v.resize(g + 1, 0);
                }
                if let Some(s) = v.get_mut(g) {
                    *s = value;
                }
            }
            Slots::Based {
                own,
                covered,
                moved,
            } => {
                if value == Self::default_of(*own, *covered, g) {
                    moved.remove(&(g as u32));
                } else {
                    moved.insert(g as u32, value);
                }
            }
        }
    }
}

/// Both lookups of one member table. Its methods take the table's rows, which it indexes by
/// position.
#[derive(Clone)]
pub(crate) struct Index {
    hasher: DefaultHashBuilder,
    by_name: HashTable<u32>,
    by_addr: HashTable<u32>,
    shared: Option<Shared>,
}

impl Index {
    pub(crate) fn new() -> Self {
        Index {
            hasher: DefaultHashBuilder::default(),
            by_name: HashTable::new(),
            by_addr: HashTable::new(),
            shared: None,
        }
    }

    /// Indexes `entries` afresh through `dir` from now on.
    pub(crate) fn share(&mut self, dir: Arc<Directory>, entries: &Rows) {
        self.by_name = HashTable::new();
        self.by_addr = HashTable::new();
        // Grown as rows come: a table about to be filled from the shared base never needs it.
        let slot = Slots::Dense(Vec::new());
        self.shared = Some(Shared { dir, slot });
        for i in 0..entries.len() {
            self.insert_name(entries, i);
            self.insert_addr(entries, i);
        }
    }

    /// The shared directory, if the table has one.
    pub(crate) fn directory(&self) -> Option<&Arc<Directory>> {
        self.shared.as_ref().map(|s| &s.dir)
    }

    /// Indexes rows just read from the directory's shared base (`Rows::shared`): each is at
    /// home, found through the directory without a slot of its own.
    pub(crate) fn share_rows(&mut self, rows: &Rows, own: Option<usize>) {
        if let Some(s) = &mut self.shared {
            s.slot = Slots::Based {
                own: own.unwrap_or(usize::MAX),
                covered: rows.len(),
                moved: hashbrown::HashMap::new(),
            };
        }
    }

    /// The directory number of row `e`'s name, if a shared directory holds it.
    fn gid(&self, e: &Entry) -> Option<usize> {
        self.shared.as_ref()?.dir.find(e.id.name.as_str())
    }

    /// True when row `e` is at the address the directory lists for its name: then the slot
    /// array finds it by address too, and the address index holds no row for it.
    fn at_home(&self, e: &Entry) -> bool {
        let Some(s) = &self.shared else {
            return false;
        };
        s.dir
            .find(e.id.name.as_str())
            .is_some_and(|g| s.dir.addr(g) == Some(e.id.addr))
    }

    pub(crate) fn find(&self, entries: &Rows, name: &str) -> Option<usize> {
        if let Some(s) = &self.shared
            && let Some(g) = s.dir.find(name)
        {
            return s.slot.get(g).checked_sub(1).map(|p| p as usize);
        }
        if self.by_name.is_empty() {
            return None;
        }
        self.by_name
            .find(self.hasher.hash_one(name), |&i| {
                entries
                    .get(i as usize)
                    .is_some_and(|e| e.id.name.as_str() == name)
            })
            .map(|&i| i as usize)
    }

    /// The name held in row `find(name)`, taken from the directory when it holds the name
    /// (equal, and one cache miss fewer).
    pub(crate) fn known_name<'a>(&'a self, entries: &'a Rows, name: &str) -> Option<&'a NodeName> {
        if let Some(s) = &self.shared
            && let Some(g) = s.dir.find(name)
        {
            (s.slot.get(g) != 0).then_some(())?;
            return s.dir.ids.get(g).map(|id| &id.name);
        }
        let i = self.find(entries, name)?;
        entries.get(i).map(|e| &e.id.name)
    }

    /// The directory's identity when it equals `(name, addr, tags)`, to point a new row at
    /// instead of allocating a copy: a table filled from the wire (a join, a sync) would
    /// otherwise hold one fresh identity per row, ~100 bytes of heap each, ~10 GB across the
    /// simulator's 10,000 tables of 10,000. Equal by value, so nothing the table does changes.
    pub(crate) fn shared_identity(
        &self,
        name: &str,
        addr: SocketAddr,
        tags: &Tags,
    ) -> Option<Arc<Identity>> {
        let s = self.shared.as_ref()?;
        let id = s.dir.ids.get(s.dir.find(name)?)?;
        (id.addr == addr && id.tags == *tags).then(|| Arc::clone(id))
    }

    pub(crate) fn find_addr(&self, entries: &Rows, addr: SocketAddr) -> Option<usize> {
        if let Some(s) = &self.shared
            && let Some(g) = s.dir.find_addr(addr)
            && let Some(p) = s.slot.get(g).checked_sub(1)
            && entries.get(p as usize).is_some_and(|e| e.id.addr == addr)
        {
            return Some(p as usize);
        }
        if self.by_addr.is_empty() {
            return None;
        }
        self.by_addr
            .find(self.hasher.hash_one(addr), |&i| {
                entries.get(i as usize).is_some_and(|e| e.id.addr == addr)
            })
            .map(|&i| i as usize)
    }

    /// Makes room for `more` rows the table's own indexes may have to hold.
    pub(crate) fn reserve(&mut self, entries: &Rows, more: usize) {
        if self.shared.is_some() {
            return; // the slot array is sized once, by the directory
        }
        let hasher = &self.hasher;
        self.by_name.reserve(more, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.name.as_str()))
        });
        self.by_addr.reserve(more, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.addr))
        });
    }

    /// Adds row `i` to the name lookup.
    pub(crate) fn insert_name(&mut self, entries: &Rows, i: usize) {
        let Some(e) = entries.get(i) else {
            return;
        };
        if let Some(g) = self.gid(e)
            && let Some(s) = &mut self.shared
        {
            s.slot.set(g, i as u32 + 1);
            return;
        }
        let hasher = &self.hasher;
        let hash = hasher.hash_one(e.id.name.as_str());
        self.by_name.insert_unique(hash, i as u32, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.name.as_str()))
        });
    }

    /// Adds row `i` to the address lookup.
    pub(crate) fn insert_addr(&mut self, entries: &Rows, i: usize) {
        let Some(e) = entries.get(i) else {
            return;
        };
        if self.at_home(e) {
            return;
        }
        let hasher = &self.hasher;
        let hash = hasher.hash_one(e.id.addr);
        self.by_addr.insert_unique(hash, i as u32, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.addr))
        });
    }

    /// Drops row `i` from the name lookup.
    pub(crate) fn remove_name(&mut self, entries: &Rows, i: usize) {
        let Some(e) = entries.get(i) else {
            return;
        };
        if let Some(g) = self.gid(e)
            && let Some(s) = &mut self.shared
        {
            if s.slot.get(g) == i as u32 + 1 {
                s.slot.set(g, 0);
            }
            return;
        }
        let hash = self.hasher.hash_one(e.id.name.as_str());
        if let Ok(row) = self.by_name.find_entry(hash, |&j| j as usize == i) {
            row.remove();
        }
    }

    /// Drops row `i` from the address lookup.
    pub(crate) fn remove_addr(&mut self, entries: &Rows, i: usize) {
        let Some(e) = entries.get(i) else {
            return;
        };
        if self.at_home(e) {
            return;
        }
        let hash = self.hasher.hash_one(e.id.addr);
        if let Ok(row) = self.by_addr.find_entry(hash, |&j| j as usize == i) {
            row.remove();
        }
    }

    /// Checks that every row is found by name and by address, and that the lookups hold no
    /// row more (O(N), for tests and fuzzers).
    pub(crate) fn check(&self, entries: &Rows) -> Result<(), String> {
        let (mut names, mut addrs) = (0, 0);
        for (i, e) in entries.iter().enumerate() {
            let name = e.id.name.as_str();
            if self.find(entries, name) != Some(i) {
                return Err(format!(
                    "{name} at {i} is found at {:?}",
                    self.find(entries, name)
                ));
            }
            if self.at_home(e) {
                continue;
            }
            addrs += 1;
            names += usize::from(self.gid(e).is_none());
            let hash = self.hasher.hash_one(e.id.addr);
            if self.by_addr.find(hash, |&j| j as usize == i).is_none() {
                return Err(format!("{name} at {i} is not found at {}", e.id.addr));
            }
        }
        let slots = self.shared.as_ref().map_or(0, |s| {
            (0..s.dir.len()).filter(|&g| s.slot.get(g) != 0).count()
        });
        let named = entries.len() - names;
        if self.by_name.len() != names || self.by_addr.len() != addrs || slots != named {
            return Err(format!(
                "{} name rows, {} address rows and {slots} slots for {} entries",
                self.by_name.len(),
                self.by_addr.len(),
                entries.len()
            ));
        }
        Ok(())
    }
}

impl super::Swim {
    /// Finds members through `dir`, a directory shared with other cores in this process, from
    /// now on: a table then costs 4 bytes a member for its lookups instead of ~10, and a lookup
    /// reads one shared, cache-warm index instead of one of its own. What the core does does
    /// not change. For hosts of many cores (the simulator); a lone agent gains nothing by it.
    pub fn share_directory(&mut self, dir: Arc<Directory>) {
        self.members.share(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::super::members::Members;
    use super::*;
    use crate::member::{Incarnation, MemberState, Tags};

    fn id(name: &str, port: u16) -> Arc<Identity> {
        Arc::new(Identity {
            name: NodeName::new(name).unwrap(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tags: Tags::default(),
        })
    }

    /// The same inserts, moves and removals on a plain table and on one sharing a directory
    /// that holds some of the members (and one at an address it no longer has).
    #[test]
    fn a_shared_table_answers_as_a_plain_one() {
        let now = crate::test_epoch();
        let dir = Arc::new(Directory::new(
            (0..6u16).map(|i| id(&format!("n{i}"), 100 + i)),
        ));
        assert_eq!(dir.len(), 6);
        let mut plain = Members::new(now);
        let mut shared = Members::new(now);
        shared.share(dir);
        for (name, port) in [
            ("n0", 100),
            ("n1", 101),
            ("x", 300),
            ("n3", 103),
            ("n4", 500),
        ] {
            let e = plain.entry(id(name, port), Incarnation(0), MemberState::Alive, now);
            plain.insert(e.clone());
            shared.insert(e);
        }
        let moves = |m: &mut Members| {
            let i = m.find("n1").unwrap();
            m.set_identity(i, id("n1", 201));
            let i = m.find("n4").unwrap();
            m.set_identity(i, id("n4", 104));
            m.remove(m.find("n0").unwrap());
        };
        moves(&mut plain);
        moves(&mut shared);
        plain.check_consistent().unwrap();
        shared.check_consistent().unwrap();
        for name in ["n0", "n1", "n2", "n3", "n4", "n5", "x"] {
            assert_eq!(plain.find(name), shared.find(name), "{name}");
            assert_eq!(
                plain.known_name(name).map(NodeName::as_str),
                shared.known_name(name).map(NodeName::as_str)
            );
        }
        for port in [100, 101, 102, 103, 104, 201, 300, 500] {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            assert_eq!(plain.find_addr(addr), shared.find_addr(addr), "{port}");
        }
        assert_eq!(
            shared.find_addr(SocketAddr::from(([127, 0, 0, 1], 101))),
            None
        );
        assert!(
            shared
                .find_addr(SocketAddr::from(([127, 0, 0, 1], 201)))
                .is_some()
        );
    }

    /// A row learned from the wire points at the directory's identity when it is equal, and
    /// gets its own when the address or tags differ or the directory does not hold the name.
    #[test]
    fn a_shared_table_takes_the_directorys_identity_when_equal() {
        let now = crate::test_epoch();
        let ids: Vec<_> = (0..3u16).map(|i| id(&format!("n{i}"), 100 + i)).collect();
        let dir = Arc::new(Directory::new(ids.iter().cloned()));
        let mut shared = Members::new(now);
        shared.share(dir);
        let name = |s: &str| NodeName::new(s).unwrap();
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let same = shared.identity(&name("n1"), addr(101), &Tags::default());
        assert!(Arc::ptr_eq(&same, &ids[1]));
        let moved = shared.identity(&name("n1"), addr(201), &Tags::default());
        assert!(!Arc::ptr_eq(&moved, &ids[1]));
        assert_eq!(moved.addr, addr(201));
        let tagged = Tags::new([("role", "db")]).unwrap();
        let retagged = shared.identity(&name("n2"), addr(102), &tagged);
        assert!(!Arc::ptr_eq(&retagged, &ids[2]));
        assert_eq!(retagged.tags, tagged);
        let stranger = shared.identity(&name("x"), addr(300), &Tags::default());
        assert_eq!(stranger.name.as_str(), "x");
        let plain = Members::new(now);
        let own = plain.identity(&name("n1"), addr(101), &Tags::default());
        assert!(!Arc::ptr_eq(&own, &ids[1]));
        assert_eq!(*own, *ids[1]);
    }
}
