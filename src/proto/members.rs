//! The member table and the shuffled round-robin probe order.
//!
//! Entries live in [`Rows`] (a `Vec`, or a shared base with the rows this table changed) and
//! are found by name through an index map. The probe order is a pool of the positions not
//! probed yet this round, drawn at random one at a time; when it runs out it is every position
//! again, and a new member joins the pool, which gives SWIM's time-bounded completeness (every
//! member is probed within one round).
//! Random picks (ping-req helpers, gossip targets) index into the table and never scan it
//! unless it is small.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rand::seq::SliceRandom;

use super::index::{Directory, Index};
use super::rows::{Base, Pool, Rows};
use crate::hash::{FNV1A_64_BASIS, fnv1a_64, splitmix64};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

/// Below this size, random picks scan the table (exact and cheap); above it they sample.
const SCAN_LIMIT: usize = 64;

/// The fewest unverified members a table makes room for, however few verified ones it holds
/// (see [`Members::room_for_unverified`]). Honest news of new members comes in bursts (a deploy
/// starting agents, a healed partition), and a small cluster's table must still take them; 64
/// unverified rows lengthen a probe round by at most 64 periods of direct pings, one small
/// datagram each, and cost ~2 KB.
pub(crate) const MIN_UNVERIFIED_ROOM: usize = 64;

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

/// One row of the member table: 24 bytes (a table that joined its way into a simulated
/// cluster of 10,000 holds 10,000 of them).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) id: Arc<Identity>,
    pub(crate) incarnation: Incarnation,
    /// Round trip of the last direct probe in microseconds; 0 before the first answer.
    pub(crate) rtt_us: u32,
    /// When the state last changed, in tenths of a second since the table's epoch (13 years fit).
    since_ds: u32,
    pub(crate) state: MemberState,
    /// One of the member's own datagrams has come from `id.addr` (or it was bootstrapped, or
    /// vouched for by the table a joiner asked for). An unverified member was only named by
    /// someone else, perhaps at a third party's address: it is probed directly and nothing
    /// more (no gossip, ping-req or sync is sent to it; see `Swim::knows`). Fits in the row's
    /// padding: the row stays 24 bytes.
    pub(crate) verified: bool,
}

impl Entry {
    pub(crate) fn since(&self, epoch: Instant) -> Instant {
        epoch + std::time::Duration::from_millis(u64::from(self.since_ds) * 100)
    }
}

/// The member table. `index` finds positions into `entries` by name, so a lookup costs one
/// hash and a name comparison, and by address, so that a datagram's source is told from a
/// stranger's in one lookup too (see `Swim::knows`, the price of answering strangers no more
/// than they sent). On its own it costs ~10 bytes a member; tables sharing a
/// [`Directory`] pay 4 (see [`super::index`]).
#[derive(Clone)]
pub(crate) struct Members {
    epoch: Instant,
    entries: Rows,
    index: Index,
    /// Positions not probed yet this round.
    pool: Pool,
    /// Rows in each state, in the order of [`MemberState::ALL`]: the active count (Alive and
    /// Suspect) and the Alive one, which hosts ask in O(1) instead of a walk through every row.
    by_state: [usize; 4],
    /// XOR of [`record_hash`] over the active (Alive and Suspect) entries: equal tables have
    /// equal digests, and keeping it costs one hash per state change.
    digest: u64,
    /// Rows not verified yet (see [`Entry::verified`]), in any state.
    unverified: usize,
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
            entries: Rows::default(),
            index: Index::new(),
            pool: Pool::dense(),
            by_state: [0; 4],
            digest: 0,
            unverified: 0,
        }
    }

    /// A new row, Alive or otherwise, whose state changed at `now`; verified (the caller
    /// clears `verified` for a member it only heard of).
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
            verified: true,
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
        self.alive() + self.by_state[MemberState::Suspect as usize]
    }

    /// Alive members (self not included).
    pub(crate) fn alive(&self) -> usize {
        self.by_state[MemberState::Alive as usize]
    }

    /// Rows not verified yet, in any state.
    pub(crate) fn unverified(&self) -> usize {
        self.unverified
    }

    /// Whether another unverified member may be added: the table holds fewer than
    /// max([`MIN_UNVERIFIED_ROOM`], its verified members). So names nobody answered for can at
    /// most double a probe round (plus 64 periods) however many a peer sends, while a joiner's
    /// or a growing cluster's honest news of new members still fits.
    pub(crate) fn room_for_unverified(&self) -> bool {
        let verified = self.entries.len() - self.unverified;
        self.unverified < MIN_UNVERIFIED_ROOM.max(verified)
    }

    /// Marks row `i` verified: one of its own datagrams came from its address. O(1), and
    /// nothing is written when it already is (a shared row stays shared).
    pub(crate) fn verify(&mut self, i: usize) {
        if self.entries.get(i).is_none_or(|e| e.verified) {
            return;
        }
        if let Some(e) = self.entries.get_mut(i) {
            e.verified = true;
            self.unverified -= 1;
        }
    }

    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.index.find(&self.entries, name)
    }

    /// The table's own copy of a name it holds, to share rather than allocate (a shared
    /// directory's copy when it has one: equal, and read without touching this table's rows).
    pub(crate) fn known_name(&self, name: &str) -> Option<&NodeName> {
        self.index.known_name(&self.entries, name)
    }

    /// An identity for a row: the shared directory's when it holds an equal one (see
    /// [`Index::shared_identity`]), else a new one.
    pub(crate) fn identity(&self, name: &NodeName, addr: SocketAddr, tags: &Tags) -> Arc<Identity> {
        self.index
            .shared_identity(name.as_str(), addr, tags)
            .unwrap_or_else(|| {
                Arc::new(Identity {
                    name: name.clone(),
                    addr,
                    tags: tags.clone(),
                })
            })
    }

    /// A member (in any state) reached at `addr`, if the table holds one.
    pub(crate) fn find_addr(&self, addr: SocketAddr) -> Option<usize> {
        self.index.find_addr(&self.entries, addr)
    }

    /// Finds members through `dir` from now on (see [`super::index`]); what the table holds
    /// and answers does not change.
    /// The directory the table shares, if any.
    pub(crate) fn directory(&self) -> Option<&Arc<Directory>> {
        self.index.directory()
    }

    pub(crate) fn share(&mut self, dir: Arc<Directory>) {
        self.index.share(dir, &self.entries);
        self.pool = self.pool.to_sparse();
    }

    /// Fills an empty table that shares a directory with every member of it but `own` (the
    /// table's own directory number), Alive at incarnation 0 since `now`, read from the
    /// directory's shared rows instead of copied (see [`super::rows`]). Returns false, doing
    /// nothing, when the table is not empty, shares no directory, or the directory's rows
    /// carry another time than `now` (then the caller fills it row by row, to the same end).
    pub(crate) fn fill_shared(&mut self, own: Option<usize>, now: Instant) -> bool {
        let since_ds = self.deciseconds(now);
        if !self.entries.is_empty() {
            return false;
        }
        let Some(dir) = self.index.directory() else {
            return false;
        };
        let base = dir.base(|| {
            let rows = dir
                .identities()
                .iter()
                .map(|id| self.entry(Arc::clone(id), Incarnation(0), MemberState::Alive, now))
                .collect();
            Base::new(rows, since_ds, |e| {
                digest_part(e.id.name.as_str(), e.incarnation, e.state)
            })
        });
        if base.since_ds() != since_ds {
            return false;
        }
        // The digest leaves the table's own row out: XOR takes it back out of the base's.
        let own_part = own.and_then(|g| base.row(g)).map_or(0, |e| {
            digest_part(e.id.name.as_str(), e.incarnation, e.state)
        });
        let digest = base.digest() ^ own_part;
        self.entries = Rows::shared(base, own);
        self.index.share_rows(&self.entries, own);
        self.by_state = [0; 4];
        self.by_state[MemberState::Alive as usize] = self.entries.len();
        self.digest = digest;
        self.pool.refill(self.entries.len(), true);
        true
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

    /// Changes a member's state and incarnation, keeping the counts by state right.
    pub(crate) fn set(&mut self, i: usize, state: MemberState, inc: Incarnation, now: Instant) {
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        self.by_state[e.state as usize] -= 1;
        self.by_state[state as usize] += 1;
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
            self.index.remove_addr(&self.entries, i);
        }
        let new = id.addr;
        if let Some(e) = self.entries.get_mut(i) {
            e.id = id;
        }
        if old != new {
            self.index.insert_addr(&self.entries, i);
        }
    }

    pub(crate) fn set_rtt(&mut self, i: usize, rtt_us: u32) {
        if let Some(e) = self.entries.get_mut(i) {
            e.rtt_us = rtt_us.max(1);
        }
    }

    /// Adds a member the table does not hold yet; returns its position.
    pub(crate) fn insert(&mut self, entry: Entry) -> usize {
        debug_assert!(self.find(entry.id.name.as_str()).is_none());
        self.push_unordered(entry);
        let i = self.entries.len() - 1;
        // push_unordered put it among those not probed yet this round: probed within it.
        i
    }

    /// Makes room for `more` members without reallocating as they come.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.entries.reserve(more);
        self.index.reserve(&self.entries, more);
    }

    /// Adds a member to the part of this round not probed yet.
    pub(crate) fn push_unordered(&mut self, entry: Entry) {
        let i = self.entries.len();
        self.by_state[entry.state as usize] += 1;
        self.unverified += usize::from(!entry.verified);
        self.digest ^= digest_part(entry.id.name.as_str(), entry.incarnation, entry.state);
        if let Some(dir) = self.index.directory() {
            self.entries.make_room_for(dir.len());
        }
        self.entries.push(entry);
        self.index.insert_name(&self.entries, i);
        self.index.insert_addr(&self.entries, i);
        self.pool.add(i);
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
        let Some(gone) = self.entries.swap_remove(i) else {
            return;
        };
        self.by_state[gone.state as usize] -= 1;
        self.unverified -= usize::from(!gone.verified);
        self.digest ^= digest_part(gone.id.name.as_str(), gone.incarnation, gone.state);
        if i < self.entries.len() {
            self.index.insert_name(&self.entries, i);
            self.index.insert_addr(&self.entries, i);
        }
        self.pool.remove(i, last);
    }

    /// Drops entry `i`'s rows from both lookups.
    fn unindex(&mut self, i: usize) {
        self.index.remove_name(&self.entries, i);
        self.index.remove_addr(&self.entries, i);
    }

    /// The next member to probe in the shuffled round-robin order, skipping Dead and Left.
    pub(crate) fn next_probe(&mut self, rng: &mut impl Rng) -> Option<usize> {
        if self.active() == 0 {
            return None;
        }
        // Two rounds at most: one that ends with inactive members, one that starts afresh.
        for _ in 0..=2 * self.entries.len() {
            if self.pool.left() == 0 {
                let sparse = self.index.directory().is_some();
                self.pool.refill(self.entries.len(), sparse);
            }
            let i = self.pool.draw(rng)?;
            if self.entries.get(i).is_some_and(|e| e.state.is_active()) {
                return Some(i);
            }
        }
        None
    }

    /// Checks what the table keeps in step by hand (index, probe order, counts by state, digest),
    /// so that a fuzzer or a test can see a merge leave it inconsistent long before a lookup
    /// goes wrong. O(N): never called by the protocol itself.
    pub(crate) fn check_consistent(&self) -> Result<(), String> {
        let mut by_state = [0; 4];
        let mut digest = 0;
        let mut unverified = 0;
        self.index.check(&self.entries)?;
        for e in self.entries.iter() {
            by_state[e.state as usize] += 1;
            unverified += usize::from(!e.verified);
            digest ^= digest_part(e.id.name.as_str(), e.incarnation, e.state);
        }
        let mut left = self.pool.positions();
        left.sort_unstable();
        let n = left.len();
        left.dedup();
        if left.len() != n
            || left
                .last()
                .is_some_and(|&x| x as usize >= self.entries.len())
        {
            return Err(format!("probe pool {left:?} repeats or is past the table"));
        }
        if by_state != self.by_state {
            return Err(format!(
                "{by_state:?} members by state counted as {:?}",
                self.by_state
            ));
        }
        if digest != self.digest {
            return Err("the digest does not match the records".into());
        }
        if unverified != self.unverified {
            return Err(format!(
                "{unverified} unverified rows counted as {}",
                self.unverified
            ));
        }
        Ok(())
    }

    /// Up to `count` distinct random verified members whose state passes `want`, none in
    /// `exclude`. Every pick is someone we send to on our own initiative (gossip, ping-req,
    /// sync, a table pull), which an unverified member, perhaps a third party's address, never
    /// gets.
    pub(crate) fn random(
        &self,
        rng: &mut impl Rng,
        count: usize,
        exclude: Option<usize>,
        want: impl Fn(MemberState) -> bool,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        let ok = |i: usize| {
            Some(i) != exclude
                && self
                    .entries
                    .get(i)
                    .is_some_and(|e| e.verified && want(e.state))
        };
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
#[path = "members_tests.rs"]
mod tests;
