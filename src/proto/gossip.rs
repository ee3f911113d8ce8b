//! The piggyback queues: membership updates, and user events, waiting to ride on outgoing
//! packets.
//!
//! Ordering contract: fewest transmissions first, and among equals the newest first
//! (`[sent 0: newest .. oldest] [sent 1: newest .. oldest] ...`), so fresh news always has a
//! seat and old news fills what is left. One entry per key (a member, or a user event): a newer
//! update about the same member replaces the older one. An item is dropped once it has been
//! sent `limit` times (`retransmit_mult * ceil(log10(N + 1))`), or when the queue is full
//! ([`MAX_QUEUED`]): then the item at the back goes, the one sent most (and oldest among
//! those). Enqueue and each send are O(log n).

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::hash::Hash;

use hashbrown::HashMap;

use crate::event::LamportTime;
use crate::member::NodeName;
use crate::wire::{PacketWriter, Update, UserRecord};

type Key = (u32, Reverse<u64>);

/// Something that rides piggybacked: what makes it replace an older item, and how it is
/// written into a datagram.
pub(crate) trait Piggyback {
    /// Items with equal keys replace each other in the queue.
    type Key: Hash + Eq + Clone;
    fn key(&self) -> Self::Key;
    /// Writes it into `w` if it fits; returns whether it did.
    fn write(&self, w: &mut PacketWriter<'_>) -> bool;
}

impl Piggyback for Update {
    type Key = NodeName;
    fn key(&self) -> NodeName {
        self.name.clone()
    }
    fn write(&self, w: &mut PacketWriter<'_>) -> bool {
        w.push(self)
    }
}

impl Piggyback for UserRecord {
    type Key = (LamportTime, NodeName);
    fn key(&self) -> Self::Key {
        (self.ltime, self.origin.clone())
    }
    fn write(&self, w: &mut PacketWriter<'_>) -> bool {
        w.push_event(self)
    }
}

/// Items a piggyback queue (membership updates, or user events) holds at most; a host reads
/// the backlog with [`Swim::queued_updates`](crate::Swim::queued_updates). Without a bound a
/// queue holds one item per member, and under heavy loss it fills: every node hears of
/// suspicions and refutations faster than its packets can carry them (at 20 % loss and 2,000
/// members, ~5,600 update sends wanted a second against ~640 that fit), so news piles up
/// behind fresher news, N items on each of N members (at 10,000 members, ~25 GiB in the
/// simulator). What falls off the back is what has been sent most; full-state syncs repair
/// what gossip no longer carries. 1,024 items are ~256 KiB.
pub const MAX_QUEUED: usize = 1024;

/// Smallest room worth trying another update in (an update is at least this many bytes).
const MIN_UPDATE: usize = 12;
/// Consecutive updates that did not fit before we stop looking for a smaller one.
const MAX_MISFITS: usize = 4;

/// How many times each update is sent: `retransmit_mult * ceil(log10(n + 1))`, at least 1.
pub(crate) fn retransmit_limit(retransmit_mult: u32, n: usize) -> u32 {
    let scale = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    retransmit_mult.saturating_mul(scale).max(1)
}

/// Refutations are sent this many times the usual limit. Every member holding the suspicion
/// must hear its refutation before its timer fires, and the chance that one member misses all
/// copies falls exponentially with their number; other news can afford to be merely likely.
pub(crate) const REFUTATION_BOOST: u8 = 3;

/// The queue keeps its items in a slab and orders slot numbers, not items: a queue is
/// reordered on every send (an item moves to the next transmission count), and an ordered map
/// filled from one end keeps its nodes about half full, so holding the items in it cost ~190
/// bytes an `Update` against 104 in the slab (with its place in the order) and ~36 for the
/// ordered slot. The simulator holds up to 1,024 items on each of 10,000 members under loss,
/// so this is GBs there; the order, and so every packet, is the same.
///
/// The key index maps a key to its slot, which stays put while the item is queued, and the
/// slot remembers the item's place in the order: a send moves the item in the order without
/// touching the index. Re-keying the index on every send (a string hash and compare for each
/// update in each packet) was a tenth of the simulator's time under loss.
#[derive(Clone)]
pub(crate) struct Gossip<T: Piggyback = Update> {
    queue: BTreeMap<Key, u32>,
    /// Queued items by slot (see [`Queued`]); `None` in a free slot.
    items: Vec<Option<Queued<T>>>,
    /// Free slots of `items`.
    free: Vec<u32>,
    by_name: HashMap<T::Key, u32>,
    next_id: u64,
    sent: Vec<(Key, u32)>,
    /// The keys the last [`fill`](Self::fill) wrote, so that the node can count what it
    /// passed on (see `heard.rs`); reused between fills, so it allocates only while it grows.
    written: Vec<T::Key>,
}

/// One queued item: what it is, how many times the usual limit it is sent, and its place in
/// the queue's order.
#[derive(Clone)]
struct Queued<T> {
    item: T,
    boost: u8,
    key: Key,
}

/// Past this many slots an emptied queue gives its slab and name index back; below it they
/// are kept, so a quiet member's queue (a few items at a time) does not allocate.
const KEEP_SLOTS: usize = 64;

impl<T: Piggyback> Default for Gossip<T> {
    fn default() -> Self {
        Gossip {
            queue: BTreeMap::new(),
            items: Vec::new(),
            free: Vec::new(),
            by_name: HashMap::new(),
            next_id: 0,
            sent: Vec::new(),
            written: Vec::new(),
        }
    }
}

impl<T: Piggyback> Gossip<T> {
    /// Puts an item in a free slot; returns the slot.
    fn store(&mut self, item: Queued<T>) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                if let Some(place) = self.items.get_mut(slot as usize) {
                    *place = Some(item);
                }
                slot
            }
            None => {
                // Grown by doubling up to the cap and no further: a full queue briefly holds
                // one item more than the cap, which would otherwise double the slab.
                if self.items.len() == self.items.capacity() {
                    let want = (self.items.len() * 2).clamp(4, MAX_QUEUED + 1);
                    self.items
                        .reserve_exact(want.saturating_sub(self.items.len()).max(1));
                }
                self.items.push(Some(item));
                (self.items.len() - 1) as u32
            }
        }
    }

    /// Takes the item out of `slot` and frees the slot.
    fn take(&mut self, slot: u32) -> Option<Queued<T>> {
        let item = self.items.get_mut(slot as usize)?.take();
        if item.is_some() {
            self.free.push(slot);
        }
        item
    }

    /// Gives back a large slab once nothing is queued (a burst of news is over).
    fn shrink_if_empty(&mut self) {
        if self.queue.is_empty() && self.items.len() > KEEP_SLOTS {
            self.items = Vec::new();
            self.free = Vec::new();
            self.by_name = HashMap::new();
        }
    }

    /// Queues `update`, replacing any older news with the same key.
    pub(crate) fn enqueue(&mut self, update: T) {
        self.enqueue_boosted(update, 1);
    }

    /// Queues `update` to be sent `boost` times the usual limit.
    pub(crate) fn enqueue_boosted(&mut self, update: T, boost: u8) {
        let name = update.key();
        if let Some(old) = self.by_name.remove(&name)
            && let Some(q) = self.take(old)
        {
            self.queue.remove(&q.key);
        }
        self.next_id += 1;
        let key = (0, Reverse(self.next_id));
        let slot = self.store(Queued {
            item: update,
            boost: boost.max(1),
            key,
        });
        self.by_name.insert(name, slot);
        self.queue.insert(key, slot);
        while self.queue.len() > MAX_QUEUED {
            let Some((_, slot)) = self.queue.pop_last() else {
                break;
            };
            if let Some(gone) = self.take(slot) {
                self.by_name.remove(&gone.item.key());
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Times the queued item with key `name` has been sent, if it is still queued.
    pub(crate) fn transmits<Q>(&self, name: &Q) -> Option<u32>
    where
        T::Key: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let &slot = self.by_name.get(name)?;
        let q = self.items.get(slot as usize)?.as_ref()?;
        Some(q.key.0)
    }

    /// The keys of the items the last [`fill`](Self::fill) wrote.
    pub(crate) fn written(&self) -> &[T::Key] {
        &self.written
    }

    /// Piggybacks updates into `w` while they fit, in queue order, and counts a transmission
    /// for each; returns how many were written.
    pub(crate) fn fill(&mut self, w: &mut PacketWriter<'_>, limit: u32) -> usize {
        self.sent.clear();
        self.written.clear();
        let mut misfits = 0;
        for (key, &slot) in &self.queue {
            if w.remaining() < MIN_UPDATE || misfits >= MAX_MISFITS {
                break;
            }
            let Some(Some(q)) = self.items.get(slot as usize) else {
                continue;
            };
            if q.item.write(w) {
                self.sent.push((*key, slot));
                misfits = 0;
            } else {
                misfits += 1;
            }
        }
        let written = self.sent.len();
        let mut sent = std::mem::take(&mut self.sent);
        for &(key, slot) in &sent {
            self.queue.remove(&key);
            let Some(Some(q)) = self.items.get_mut(slot as usize) else {
                continue;
            };
            let transmits = key.0 + 1;
            if transmits >= limit.saturating_mul(u32::from(q.boost)) {
                let name = q.item.key();
                self.by_name.remove(&name);
                self.take(slot);
                self.written.push(name);
            } else {
                q.key = (transmits, key.1);
                self.queue.insert(q.key, slot);
                self.written.push(q.item.key());
            }
        }
        sent.clear();
        self.sent = sent;
        self.shrink_if_empty();
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Incarnation, MemberState, Tags};
    use crate::wire::{Message, decode};

    fn update(name: &str, inc: u32) -> Update {
        Update {
            name: NodeName::new(name).unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: Incarnation(inc),
            state: MemberState::Alive,
            tags: Tags::default(),
            from: None,
        }
    }

    fn send(g: &mut Gossip<Update>, budget: usize, limit: u32) -> Vec<String> {
        let mut buf = Vec::new();
        let mut w = PacketWriter::new(&mut buf, None, &Message::Gossip, budget);
        g.fill(&mut w, limit);
        w.finish();
        decode(&buf, None)
            .unwrap()
            .updates
            .into_iter()
            .map(|u| format!("{}@{}", u.name, u.incarnation))
            .collect()
    }

    #[test]
    fn retransmit_limit_grows_with_log_n() {
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 100), 12);
        assert_eq!(retransmit_limit(4, 10_000), 20);
    }

    #[test]
    fn fewest_sent_first_then_newest() {
        let mut g = Gossip::default();
        g.enqueue(update("a", 1));
        g.enqueue(update("b", 1));
        assert_eq!(send(&mut g, 1400, 10), ["b@1", "a@1"]);
        g.enqueue(update("c", 1));
        assert_eq!(send(&mut g, 1400, 10), ["c@1", "b@1", "a@1"]);
    }

    #[test]
    fn newer_update_replaces_older_about_the_same_member() {
        let mut g = Gossip::default();
        g.enqueue(update("a", 1));
        g.enqueue(update("a", 2));
        assert_eq!(g.len(), 1);
        assert_eq!(send(&mut g, 1400, 10), ["a@2"]);
    }

    #[test]
    fn update_is_dropped_after_the_limit() {
        let mut g = Gossip::default();
        g.enqueue(update("a", 1));
        for _ in 0..3 {
            assert_eq!(send(&mut g, 1400, 3), ["a@1"]);
        }
        assert!(g.is_empty());
        assert!(send(&mut g, 1400, 3).is_empty());
    }

    #[test]
    fn a_full_queue_drops_the_most_sent_then_the_oldest() {
        let mut g = Gossip::default();
        g.enqueue(update("sent-old", 1));
        g.enqueue(update("sent-new", 1));
        assert_eq!(send(&mut g, 1400, 10), ["sent-new@1", "sent-old@1"]);
        for i in 0..MAX_QUEUED - 2 {
            g.enqueue(update(&format!("m{i}"), 1));
        }
        assert_eq!(g.len(), MAX_QUEUED);
        g.enqueue(update("one-more", 1));
        assert_eq!(g.len(), MAX_QUEUED);
        assert_eq!(
            g.transmits("sent-old"),
            None,
            "sent once and oldest: dropped"
        );
        assert_eq!(g.transmits("sent-new"), Some(1));
        g.enqueue(update("and-another", 1));
        assert_eq!(g.transmits("sent-new"), None);
        assert_eq!(g.transmits("m0"), Some(0), "never sent: kept");
        assert_eq!(g.transmits("and-another"), Some(0));
    }

    /// The slab never holds more slots than the cap (freed ones are reused), and a queue
    /// emptied after a burst gives it back.
    #[test]
    fn the_slab_stays_within_the_cap_and_is_given_back_when_empty() {
        let mut g = Gossip::default();
        for round in 0..3 {
            for i in 0..MAX_QUEUED + 100 {
                g.enqueue(update(&format!("m{i}"), round + 1));
            }
            assert_eq!(g.len(), MAX_QUEUED);
            assert!(g.items.len() <= MAX_QUEUED + 1, "{}", g.items.len());
            assert!(
                g.items.capacity() <= MAX_QUEUED + 1,
                "{}",
                g.items.capacity()
            );
        }
        let mut sends = 0;
        while !g.is_empty() && sends < 10_000 {
            send(&mut g, 1400, 2);
            sends += 1;
        }
        assert!(g.is_empty());
        assert_eq!(g.items.len(), 0, "given back");
        g.enqueue(update("after", 1));
        assert_eq!(send(&mut g, 1400, 1), ["after@1"]);
        assert_eq!(g.items.len(), 1, "small slabs are kept");
    }

    #[test]
    fn what_does_not_fit_waits_for_the_next_packet() {
        let mut g = Gossip::default();
        for i in 0..200 {
            g.enqueue(update(&format!("member-{i:03}"), 1));
        }
        let first = send(&mut g, 512, 10);
        assert!(!first.is_empty() && first.len() < 200);
        let second = send(&mut g, 512, 10);
        assert!(
            second.iter().all(|u| !first.contains(u)),
            "unsent ones go first"
        );
    }
}
