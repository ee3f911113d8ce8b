//! The member table and the shuffled round-robin probe order.
//!
//! Entries live in a `Vec` and are found by name through an index map. The probe order is a
//! permutation of entry positions walked with a cursor; when it runs out it is reshuffled, and a
//! new member is inserted at a random position in the part not yet walked, which gives SWIM's
//! time-bounded completeness (every member is probed within one round of the permutation).
//! Random picks (ping-req helpers, gossip targets) index into the table and never scan it
//! unless it is small.

use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashTable};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::hash::{FNV1A_64_BASIS, fnv1a_64, splitmix64};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

/// Below this size, random picks scan the table (exact and cheap); above it they sample.
const SCAN_LIMIT: usize = 64;

/// What rarely changes about a member, shared between table copies (the simulator shares one
/// `Arc` across thousands of tables to keep entries small).
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// Unique name.
    pub name: NodeName,
    /// Where it is reached.
    pub addr: SocketAddr,
    /// Its metadata.
    pub tags: Tags,
}

/// One row of the member table: 24 bytes, so that a simulator holding 10,000 tables of
/// 10,000 members stays within a few GiB.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) id: Arc<Identity>,
    pub(crate) incarnation: Incarnation,
    /// Round trip of the last direct probe in microseconds; 0 before the first answer.
    pub(crate) rtt_us: u32,
    /// When the state last changed, in tenths of a second since the table's epoch (13 years fit).
    since_ds: u32,
    pub(crate) state: MemberState,
}

impl Entry {
    pub(crate) fn since(&self, epoch: Instant) -> Instant {
        epoch + std::time::Duration::from_millis(u64::from(self.since_ds) * 100)
    }
}

/// The member table. `index` holds positions into `entries`, hashed by name, so a lookup costs
/// one hash and a name comparison and the index costs ~5 bytes a member; `by_addr` holds the
/// same positions hashed by address, so that a datagram's source is told from a stranger's in
/// one lookup too (see `Swim::knows`): another ~5 bytes a member, the price of answering
/// strangers no more than they sent.
#[derive(Clone)]
pub(crate) struct Members {
    epoch: Instant,
    entries: Vec<Entry>,
    index: HashTable<u32>,
    by_addr: HashTable<u32>,
    hasher: DefaultHashBuilder,
    order: Vec<u32>,
    cursor: usize,
    active: usize,
    /// XOR of [`record_hash`] over the active (Alive and Suspect) entries: equal tables have
    /// equal digests, and keeping it costs one hash per state change.
    digest: u64,
}

/// What one record adds to the table digest. Departed members count for nothing: when each
/// node forgets them (`dead_node_reclaim`) depends on when it heard, and a node that joined
/// after a departure never holds the record at all, so counting them would make agreeing
/// tables look different for minutes. What matters is agreement about who is in.
fn digest_part(name: &str, inc: Incarnation, state: MemberState) -> u64 {
    if state.is_active() {
        record_hash(name, inc, state)
    } else {
        0
    }
}

/// A hash of one member record (name, incarnation, state) that every node computes alike, so
/// that two members can tell whether their tables agree by comparing 8 bytes.
pub(crate) fn record_hash(name: &str, inc: Incarnation, state: MemberState) -> u64 {
    let h = fnv1a_64(FNV1A_64_BASIS, name.as_bytes()) ^ (u64::from(inc.0) << 8 | state as u64);
    // The finaliser makes records that differ in one bit differ everywhere.
    splitmix64(h)
}

impl Members {
    pub(crate) fn new(epoch: Instant) -> Self {
        Members {
            epoch,
            entries: Vec::new(),
            index: HashTable::new(),
            by_addr: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            order: Vec::new(),
            cursor: 0,
            active: 0,
            digest: 0,
        }
    }

    /// A new row, Alive or otherwise, whose state changed at `now`.
    pub(crate) fn entry(
        &self,
        id: Arc<Identity>,
        incarnation: Incarnation,
        state: MemberState,
        now: Instant,
    ) -> Entry {
        Entry {
            id,
            incarnation,
            rtt_us: 0,
            since_ds: self.deciseconds(now),
            state,
        }
    }

    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    fn deciseconds(&self, now: Instant) -> u32 {
        let ds = now.saturating_duration_since(self.epoch).as_millis() / 100;
        u32::try_from(ds).unwrap_or(u32::MAX)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Alive and Suspect members (self not included).
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        let entries = &self.entries;
        self.index
            .find(hash, |&i| {
                entries
                    .get(i as usize)
                    .is_some_and(|e| e.id.name.as_str() == name)
            })
            .map(|&i| i as usize)
    }

    /// A member (in any state) reached at `addr`, if the table holds one.
    pub(crate) fn find_addr(&self, addr: SocketAddr) -> Option<usize> {
        let hash = self.hasher.hash_one(addr);
        let entries = &self.entries;
        self.by_addr
            .find(hash, |&i| {
                entries.get(i as usize).is_some_and(|e| e.id.addr == addr)
            })
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Entry> {
        self.entries.get(i)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// The table's digest (self not included).
    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    /// Changes a member's state and incarnation, keeping the active count right.
    pub(crate) fn set(&mut self, i: usize, state: MemberState, inc: Incarnation, now: Instant) {
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        match (e.state.is_active(), state.is_active()) {
            (true, false) => self.active -= 1,
            (false, true) => self.active += 1,
            _ => {}
        }
        self.digest ^= digest_part(e.id.name.as_str(), e.incarnation, e.state)
            ^ digest_part(e.id.name.as_str(), inc, state);
        if e.state != state {
            e.since_ds = u32::try_from(now.saturating_duration_since(self.epoch).as_millis() / 100)
                .unwrap_or(u32::MAX);
        }
        e.state = state;
        e.incarnation = inc;
    }

    pub(crate) fn set_identity(&mut self, i: usize, id: Arc<Identity>) {
        let Some(old) = self.entries.get(i).map(|e| e.id.addr) else {
            return;
        };
        if old != id.addr {
            self.unindex_addr(i);
        }
        let new = id.addr;
        if let Some(e) = self.entries.get_mut(i) {
            e.id = id;
        }
        if old != new {
            self.index_addr(i);
        }
    }

    pub(crate) fn set_rtt(&mut self, i: usize, rtt_us: u32) {
        if let Some(e) = self.entries.get_mut(i) {
            e.rtt_us = rtt_us.max(1);
        }
    }

    /// Adds a member the table does not hold yet; returns its position.
    pub(crate) fn insert(&mut self, entry: Entry, rng: &mut impl Rng) -> usize {
        debug_assert!(self.find(entry.id.name.as_str()).is_none());
        self.push_unordered(entry);
        let i = self.entries.len() - 1;
        // Somewhere in the part of this round not walked yet: probed within the round.
        let pos = rng.random_range(self.cursor..self.order.len());
        if let Some(last) = self.order.pop() {
            self.order.insert(pos, last);
        }
        i
    }

    /// Makes room for `more` members without reallocating as they come.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.entries.reserve(more);
        self.order.reserve(more);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.reserve(more, |&j| {
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

    /// Adds a member at the end of the probe order; call [`reshuffle`](Self::reshuffle) after
    /// a batch of these.
    pub(crate) fn push_unordered(&mut self, entry: Entry) {
        let i = self.entries.len();
        if entry.state.is_active() {
            self.active += 1;
        }
        self.digest ^= digest_part(entry.id.name.as_str(), entry.incarnation, entry.state);
        self.entries.push(entry);
        self.index_name(i);
        self.index_addr(i);
        self.order.push(i as u32);
    }

    /// Shuffles the part of the probe order not yet walked this round.
    pub(crate) fn reshuffle(&mut self, rng: &mut impl Rng) {
        if let Some(rest) = self.order.get_mut(self.cursor..) {
            rest.shuffle(rng);
        }
    }

    /// Forgets a member. O(N) in the probe order, which is fine: it happens once per member
    /// departure, long after the fact (`dead_node_reclaim`).
    pub(crate) fn remove(&mut self, i: usize) {
        if i >= self.entries.len() {
            return;
        }
        let last = self.entries.len() - 1;
        self.unindex(i);
        if i != last {
            self.unindex(last);
        }
        let gone = self.entries.swap_remove(i);
        if gone.state.is_active() {
            self.active -= 1;
        }
        self.digest ^= digest_part(gone.id.name.as_str(), gone.incarnation, gone.state);
        if i < self.entries.len() {
            self.index_name(i);
            self.index_addr(i);
        }
        if let Some(p) = self.order.iter().position(|&x| x as usize == i) {
            self.order.remove(p);
            if p < self.cursor {
                self.cursor -= 1;
            }
        }
        if i != last
            && let Some(slot) = self.order.iter_mut().find(|x| **x as usize == last)
        {
            *slot = i as u32;
        }
    }

    /// Adds entry `i`'s row to the name index.
    fn index_name(&mut self, i: usize) {
        let Some(e) = self.entries.get(i) else {
            return;
        };
        let (entries, hasher) = (&self.entries, &self.hasher);
        let hash = hasher.hash_one(e.id.name.as_str());
        self.index.insert_unique(hash, i as u32, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.name.as_str()))
        });
    }

    /// Adds entry `i`'s row to the address index.
    fn index_addr(&mut self, i: usize) {
        let Some(e) = self.entries.get(i) else {
            return;
        };
        let (entries, hasher) = (&self.entries, &self.hasher);
        let hash = hasher.hash_one(e.id.addr);
        self.by_addr.insert_unique(hash, i as u32, |&j| {
            entries
                .get(j as usize)
                .map_or(0, |e| hasher.hash_one(e.id.addr))
        });
    }

    /// Drops entry `i`'s rows from both indexes.
    fn unindex(&mut self, i: usize) {
        let Some(name) = self.entries.get(i).map(|e| e.id.name.clone()) else {
            return;
        };
        let hash = self.hasher.hash_one(name.as_str());
        if let Ok(slot) = self.index.find_entry(hash, |&j| j as usize == i) {
            slot.remove();
        }
        self.unindex_addr(i);
    }

    /// Drops entry `i`'s row from the address index.
    fn unindex_addr(&mut self, i: usize) {
        let Some(addr) = self.entries.get(i).map(|e| e.id.addr) else {
            return;
        };
        let hash = self.hasher.hash_one(addr);
        if let Ok(slot) = self.by_addr.find_entry(hash, |&j| j as usize == i) {
            slot.remove();
        }
    }

    /// The next member to probe in the shuffled round-robin order, skipping Dead and Left.
    pub(crate) fn next_probe(&mut self, rng: &mut impl Rng) -> Option<usize> {
        if self.active == 0 {
            return None;
        }
        for _ in 0..=self.order.len() {
            if self.cursor >= self.order.len() {
                self.order.shuffle(rng);
                self.cursor = 0;
            }
            let i = *self.order.get(self.cursor)? as usize;
            self.cursor += 1;
            if self.entries.get(i).is_some_and(|e| e.state.is_active()) {
                return Some(i);
            }
        }
        None
    }

    /// Checks what the table keeps in step by hand (index, probe order, active count, digest),
    /// so that a fuzzer or a test can see a merge leave it inconsistent long before a lookup
    /// goes wrong. O(N): never called by the protocol itself.
    pub(crate) fn check_consistent(&self) -> Result<(), String> {
        let mut active = 0;
        let mut digest = 0;
        for (i, e) in self.entries.iter().enumerate() {
            let name = e.id.name.as_str();
            if self.find(name) != Some(i) {
                return Err(format!("{name} at {i} is found at {:?}", self.find(name)));
            }
            let hash = self.hasher.hash_one(e.id.addr);
            if self.by_addr.find(hash, |&j| j as usize == i).is_none() {
                return Err(format!("{name} at {i} is not found at {}", e.id.addr));
            }
            active += usize::from(e.state.is_active());
            digest ^= digest_part(name, e.incarnation, e.state);
        }
        if self.index.len() != self.entries.len() || self.by_addr.len() != self.entries.len() {
            return Err(format!(
                "{} name and {} address rows for {} entries",
                self.index.len(),
                self.by_addr.len(),
                self.entries.len()
            ));
        }
        let mut order: Vec<u32> = self.order.clone();
        order.sort_unstable();
        if !order.iter().copied().eq(0..self.entries.len() as u32) {
            return Err(format!("probe order {:?} is no permutation", self.order));
        }
        if self.cursor > self.order.len() {
            return Err(format!("cursor {} past {}", self.cursor, self.order.len()));
        }
        if active != self.active {
            return Err(format!(
                "{active} active members counted as {}",
                self.active
            ));
        }
        if digest != self.digest {
            return Err("the digest does not match the records".into());
        }
        Ok(())
    }

    /// Up to `count` distinct random members whose state passes `want`, none in `exclude`.
    pub(crate) fn random(
        &self,
        rng: &mut impl Rng,
        count: usize,
        exclude: Option<usize>,
        want: impl Fn(MemberState) -> bool,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        let ok =
            |i: usize| Some(i) != exclude && self.entries.get(i).is_some_and(|e| want(e.state));
        if count == 0 || self.entries.is_empty() {
            return;
        }
        if self.entries.len() <= SCAN_LIMIT {
            out.extend((0..self.entries.len()).filter(|&i| ok(i)));
            out.shuffle(rng);
            out.truncate(count);
            return;
        }
        // Sampling: a bounded number of tries, so a table of mostly dead members costs no more.
        for _ in 0..count * 8 {
            let i = rng.random_range(0..self.entries.len());
            if ok(i) && !out.contains(&i) {
                out.push(i);
                if out.len() == count {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use std::collections::HashSet;

    fn entry(name: &str, now: Instant) -> Entry {
        Members::new(now).entry(
            Arc::new(Identity {
                name: NodeName::new(name).unwrap(),
                addr: "127.0.0.1:1".parse().unwrap(),
                tags: Tags::default(),
            }),
            Incarnation(0),
            MemberState::Alive,
            now,
        )
    }

    fn epoch() -> Instant {
        crate::test_epoch()
    }

    #[test]
    fn entries_stay_small() {
        assert!(
            std::mem::size_of::<Entry>() <= 24,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

    #[test]
    fn every_member_is_probed_once_per_round() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut m = Members::new(now);
        for i in 0..10 {
            m.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        for _round in 0..3 {
            let seen: HashSet<usize> = (0..10).map(|_| m.next_probe(&mut rng).unwrap()).collect();
            assert_eq!(seen.len(), 10);
        }
    }

    #[test]
    fn probe_order_skips_dead_and_inserted_members_come_within_the_round() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(2);
        let mut m = Members::new(now);
        for i in 0..5 {
            m.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        let dead = m.find("n3").unwrap();
        m.set(dead, MemberState::Dead, Incarnation(0), now);
        assert_eq!(m.active(), 4);
        let first = m.next_probe(&mut rng).unwrap();
        let new = m.insert(entry("late", now), &mut rng);
        let mut seen = vec![first];
        for _ in 0..4 {
            seen.push(m.next_probe(&mut rng).unwrap());
        }
        assert!(!seen.contains(&dead));
        assert!(seen.contains(&new), "{seen:?}");
    }

    #[test]
    fn remove_keeps_index_and_order_consistent() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(3);
        let mut m = Members::new(now);
        for i in 0..6 {
            m.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        m.remove(m.find("n1").unwrap());
        assert_eq!(m.len(), 5);
        assert_eq!(m.active(), 5);
        assert!(m.find("n1").is_none());
        for name in ["n0", "n2", "n3", "n4", "n5"] {
            let i = m.find(name).unwrap();
            assert_eq!(m.get(i).unwrap().id.name.as_str(), name);
        }
        let seen: HashSet<usize> = (0..5).map(|_| m.next_probe(&mut rng).unwrap()).collect();
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn the_address_index_follows_inserts_moves_and_removals() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(6);
        let mut m = Members::new(now);
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        for i in 0..6u16 {
            let mut e = entry(&format!("n{i}"), now);
            e.id = Arc::new(Identity {
                name: e.id.name.clone(),
                addr: at(100 + i),
                tags: Tags::default(),
            });
            m.insert(e, &mut rng);
        }
        m.check_consistent().unwrap();
        let n2 = m.find("n2").unwrap();
        assert_eq!(m.find_addr(at(102)), Some(n2));
        assert_eq!(m.find_addr(at(99)), None);
        // n2 restarts on another port; n0 is forgotten, so the last row moves into its place.
        let moved = Arc::new(Identity {
            name: NodeName::new("n2").unwrap(),
            addr: at(200),
            tags: Tags::default(),
        });
        m.set_identity(n2, moved);
        assert_eq!(m.find_addr(at(102)), None);
        assert_eq!(m.find_addr(at(200)), Some(n2));
        m.remove(m.find("n0").unwrap());
        m.check_consistent().unwrap();
        assert_eq!(m.find_addr(at(100)), None);
        for (name, port) in [("n1", 101), ("n2", 200), ("n5", 105)] {
            assert_eq!(m.find_addr(at(port)), m.find(name), "{name}");
        }
    }

    #[test]
    fn digest_follows_the_records_not_the_history() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(5);
        let mut a = Members::new(now);
        let mut b = Members::new(now);
        for i in 0..5 {
            a.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        for i in (0..5).rev() {
            b.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        assert_eq!(a.digest(), b.digest(), "insertion order does not matter");
        let i = a.find("n2").unwrap();
        a.set(i, MemberState::Suspect, Incarnation(0), now);
        assert_ne!(a.digest(), b.digest());
        a.set(i, MemberState::Alive, Incarnation(0), now);
        assert_eq!(a.digest(), b.digest(), "back to the same records");
        a.remove(a.find("n4").unwrap());
        b.remove(b.find("n4").unwrap());
        assert_eq!(a.digest(), b.digest());
        // A departed member counts for nothing, whether still remembered or already forgotten.
        let j = a.find("n3").unwrap();
        a.set(j, MemberState::Dead, Incarnation(0), now);
        b.remove(b.find("n3").unwrap());
        assert_eq!(a.digest(), b.digest(), "remembered dead = forgotten");
        a.set(j, MemberState::Left, Incarnation(2), now);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(
            record_hash("n1", Incarnation(1), MemberState::Alive),
            record_hash("n1", Incarnation(0), MemberState::Alive)
        );
    }

    #[test]
    fn random_picks_are_distinct_and_filtered() {
        let now = epoch();
        let mut rng = SmallRng::seed_from_u64(4);
        for size in [5usize, 200] {
            let mut m = Members::new(now);
            for i in 0..size {
                m.insert(entry(&format!("n{i}"), now), &mut rng);
            }
            let mut out = Vec::new();
            m.random(&mut rng, 3, Some(0), MemberState::is_active, &mut out);
            assert_eq!(out.len(), 3);
            assert!(!out.contains(&0));
            let set: HashSet<_> = out.iter().collect();
            assert_eq!(set.len(), 3);
        }
    }
}
