//! User events: small application payloads spread to every member by the same piggybacked,
//! infection-style gossip as membership news, and delivered exactly once on each.
//!
//! Every member keeps a Lamport clock: it stamps its own events with it and moves it past
//! every event time it sees (`max(seen) + 1`, serf's rule), so `(origin, time)` names one event
//! cluster-wide and a repeat is recognised by it. A member remembers the last
//! `user_event_buffer` events in Lamport order; when one more arrives the oldest is forgotten,
//! and from then on anything at or before it is too old (dropped and counted), so a forgotten
//! event that comes round again is not delivered twice. Payloads are kept for
//! `user_event_max_age` only; the names and times stay, so that members agree on what was
//! seen after the payloads are gone.
//!
//! Gossip alone makes delivery likely; push-pull makes it complete. A sync carries every event
//! the sender remembers (with its payload while it has one), and the table digest that quiet
//! acks and anti-entropy compare covers those events too: a member that lost every copy of an
//! event to the network differs from the others once gossip is over, and is synced with at once
//! (see `sync::compare_tables`). The digest counts the remembered names and times, not the
//! payloads, because when each member drops a payload depends on when it heard the event; what
//! they remember is the same everywhere once they have seen the same events.
//!
//! A member that joins does not get events from before its join: it takes the clock of the
//! member whose sync answers it as the start, remembers the older events that sync carries (so
//! its digest agrees), and delivers only what is newer.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::gossip::Gossip;
use super::{Status, Swim, member_of};
use crate::error::BroadcastError;
use crate::event::{Event, EventKind, LamportTime, MAX_USER_EVENT_NAME, UserEvent};
use crate::hash::{FNV1A_64_BASIS, fnv1a_64, splitmix64};
use crate::member::{Incarnation, Member, MemberState, NodeName, Tags};
use crate::wire::{PacketWriter, UserBody, UserRecord, UserSection};

type EventKey = (LamportTime, NodeName);

/// How far a Lamport time heard (a section's clock or an event's time) may run past this
/// node's clock and still be believed. The cluster's clock moves by one per event broadcast
/// anywhere, and this node's is past every time it has seen, so a gap means events it never
/// heard of: this bound is about sixteen million of them, missed while cut off (far more than
/// a `user_event_buffer` of any sensible size could have handed on anyway). Anything further
/// is a forgery: one record at 2^64-1 used to pin every clock at the top, and every later
/// event was then stamped with a time already taken and delivered nowhere. Dropped and counted
/// (`Stats::dropped_implausible`); at this much per datagram, dragging a clock to the top would
/// take a million million datagrams.
pub(crate) const MAX_CLOCK_JUMP: u64 = 1 << 24;

/// One remembered event: when this node heard it, and its body until that ages out.
#[derive(Clone)]
struct Held {
    at: Instant,
    body: Option<Arc<UserBody>>,
}

/// What one event record did to the remembered set.
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    /// At or before the newest forgotten event: too old to tell whether it is a repeat.
    Stale,
    /// Already remembered.
    Repeat,
    /// New, and now remembered.
    New,
}

/// The user-event state of one member.
#[derive(Clone, Default)]
pub(crate) struct UserEvents {
    /// The time this node's next event gets; past every time it has seen.
    clock: LamportTime,
    /// The newest event forgotten for room: it and everything before it are too old.
    forgotten: Option<EventKey>,
    /// Events before this time happened before this node joined: remembered, not delivered.
    joined_at: LamportTime,
    /// Joined through seeds and no sync heard yet: the first one gives `joined_at`.
    awaiting_join_clock: bool,
    held: BTreeMap<EventKey, Held>,
    /// XOR of `event_hash` over `held`, part of the table digest.
    digest: u64,
    /// The earliest time a held payload ages out.
    next_expiry: Option<Instant>,
    pub(super) queue: Gossip<UserRecord>,
}

/// What one remembered event adds to the table digest. Its own prefix keeps it apart from the
/// member records' hashes, so an event can never cancel a member record out of the XOR.
fn event_hash(key: &EventKey) -> u64 {
    let h = fnv1a_64(FNV1A_64_BASIS, b"user event\0");
    splitmix64(fnv1a_64(h, key.1.as_str().as_bytes()) ^ key.0.0)
}

impl UserEvents {
    pub(super) fn clock(&self) -> LamportTime {
        self.clock
    }

    pub(super) fn digest(&self) -> u64 {
        self.digest
    }

    pub(super) fn has(&self, origin: &NodeName, ltime: LamportTime) -> bool {
        self.held.contains_key(&(ltime, origin.clone()))
    }

    /// The next event has seeds to hear from: the first sync fixes where its events start.
    pub(super) fn expect_join_clock(&mut self) {
        self.awaiting_join_clock = true;
    }

    /// Whether `heard` runs implausibly far past this node's clock (see [`MAX_CLOCK_JUMP`]).
    fn implausible(&self, heard: LamportTime) -> bool {
        heard.0 > self.clock.0.saturating_add(MAX_CLOCK_JUMP)
    }

    /// Moves the clock past `seen` (serf's witness rule).
    fn witness(&mut self, seen: LamportTime) {
        self.clock = self.clock.max(LamportTime(seen.0.saturating_add(1)));
    }

    /// Remembers `(origin, ltime)` with `body`; forgets the oldest beyond `cap`.
    fn hear(
        &mut self,
        now: Instant,
        key: EventKey,
        body: Option<Arc<UserBody>>,
        cap: usize,
    ) -> Heard {
        if self.forgotten.as_ref().is_some_and(|f| key <= *f) {
            return Heard::Stale;
        }
        if self.held.contains_key(&key) {
            return Heard::Repeat;
        }
        self.digest ^= event_hash(&key);
        if body.is_some() && self.next_expiry.is_none() {
            self.next_expiry = Some(now);
        }
        self.held.insert(key, Held { at: now, body });
        while self.held.len() > cap {
            let Some((old, _)) = self.held.pop_first() else {
                break;
            };
            self.digest ^= event_hash(&old);
            self.forgotten = Some(old);
        }
        Heard::New
    }

    /// Drops the payloads held longer than `max_age` (the names and times stay). Scans only
    /// when one is due, so at most once per payload.
    fn expire(&mut self, now: Instant, max_age: std::time::Duration) {
        let Some(due) = self.next_expiry else {
            return;
        };
        if now < due + max_age {
            return;
        }
        let mut next: Option<Instant> = None;
        for held in self.held.values_mut() {
            if held.body.is_none() {
                continue;
            }
            if held.at + max_age <= now {
                held.body = None;
            } else {
                next = Some(next.map_or(held.at, |n| n.min(held.at)));
            }
        }
        self.next_expiry = next;
    }

    /// Every remembered event, oldest first, as a sync carries them.
    fn records(&self) -> VecDeque<UserRecord> {
        self.held
            .iter()
            .map(|((ltime, origin), held)| UserRecord {
                origin: origin.clone(),
                ltime: *ltime,
                body: held.body.clone(),
            })
            .collect()
    }

    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.held.len()
    }
}

impl Swim {
    /// Spreads an application event to every member: `name` (1 to 64 bytes) and `payload` (at
    /// most the config's `max_user_payload`) ride piggybacked on the protocol's packets, like
    /// membership news, and every member (this one included, at once) reports it as one
    /// [`EventKind::User`] event. Returns the event's Lamport time.
    ///
    /// Delivered exactly once per member: repeats are recognised by origin and Lamport time,
    /// and a member that missed every gossiped copy gets it from a push-pull. A member that
    /// joins later does not get it. Only a running member broadcasts; an over-size event is
    /// refused, never truncated, and nothing is sent.
    pub fn broadcast(
        &mut self,
        now: Instant,
        name: &str,
        payload: &[u8],
    ) -> Result<LamportTime, BroadcastError> {
        if self.status != Status::Running {
            return Err(BroadcastError::NotRunning);
        }
        if name.is_empty() {
            return Err(BroadcastError::EmptyName);
        }
        if name.len() > MAX_USER_EVENT_NAME {
            return Err(BroadcastError::NameTooLong {
                len: name.len(),
                max: MAX_USER_EVENT_NAME,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(BroadcastError::NameControlCharacter);
        }
        if payload.len() > self.config.max_user_payload {
            return Err(BroadcastError::PayloadTooLarge {
                len: payload.len(),
                max: self.config.max_user_payload,
            });
        }
        let ltime = self.user.clock;
        if ltime.0 == u64::MAX {
            return Err(BroadcastError::ClockExhausted);
        }
        let record = UserRecord {
            origin: self.local.name.clone(),
            ltime,
            body: Some(Arc::new(UserBody {
                addr: self.local.addr,
                name: name.to_string(),
                payload: payload.to_vec(),
            })),
        };
        // Below the top the clock is past every time seen, so our own event is new here:
        // not delivered means a broken clock, said as an error rather than a silent success.
        if !self.merge_user(now, record) {
            return Err(BroadcastError::ClockExhausted);
        }
        // Tell some members at once rather than at the next gossip tick.
        self.gossip_now(self.config.gossip_nodes);
        self.wake_gossip(now);
        Ok(ltime)
    }

    /// A datagram's user events: the sender's clock, then each event.
    ///
    /// A clock or event time implausibly far past ours (see [`MAX_CLOCK_JUMP`]) is dropped
    /// and counted; the rest of the section still counts. One exception: a joiner's first sync
    /// from a seed or the member it pulled the table from (`answers_our_join`) sets where its
    /// events start, whatever the cluster's clock (a new member's is 0); a stranger's datagram
    /// never does, even one carrying a record that names its own address.
    pub(super) fn on_user_section(&mut self, now: Instant, section: UserSection, from_sync: bool) {
        let join_clock = from_sync
            && self.user.awaiting_join_clock
            && self
                .heard_source
                .is_some_and(|(from, _)| self.answers_our_join(from));
        if join_clock {
            self.user.awaiting_join_clock = false;
            self.user.joined_at = self.user.joined_at.max(section.clock);
        } else if self.user.implausible(section.clock) {
            self.stats.dropped_implausible += 1;
        }
        if join_clock || !self.user.implausible(section.clock) {
            self.user.clock = self.user.clock.max(section.clock);
        }
        for record in section.records {
            if self.user.implausible(record.ltime) {
                self.stats.dropped_implausible += 1;
                continue;
            }
            self.merge_user(now, record);
        }
    }

    /// One event record, from gossip, a sync, or this node itself: remembered once, delivered
    /// if it is new, newer than our join and carries its payload, then passed on. Returns
    /// whether it was delivered here.
    fn merge_user(&mut self, now: Instant, mut record: UserRecord) -> bool {
        self.user.witness(record.ltime);
        let oversize = record
            .body
            .as_ref()
            .is_some_and(|b| b.payload.len() > self.config.max_user_payload);
        let body = if oversize { None } else { record.body.clone() };
        let key = (record.ltime, record.origin.clone());
        let cap = self.config.user_event_buffer;
        match self.user.hear(now, key, body, cap) {
            Heard::Stale => self.stats.user_events_stale += 1,
            Heard::Repeat => {}
            Heard::New if record.ltime < self.user.joined_at => {}
            Heard::New if oversize => self.stats.user_events_oversize += 1,
            Heard::New => match &record.body {
                None => self.stats.user_events_missed += 1,
                Some(body) => {
                    self.emit_user(now, &record, body);
                    record.body = Some(Arc::clone(body));
                    self.user.queue.enqueue(record);
                    return true;
                }
            },
        }
        false
    }

    fn emit_user(&mut self, now: Instant, record: &UserRecord, body: &UserBody) {
        self.stats.user_events += 1;
        self.record_heard(
            now,
            super::heard::News::User {
                origin: record.origin.clone(),
                ltime: record.ltime,
                name: body.name.clone(),
            },
        );
        let member = self.origin_member(&record.origin, body.addr, now);
        self.events.push_back(Event {
            kind: EventKind::User,
            member,
            at: now,
            user: Some(UserEvent {
                name: body.name.clone(),
                payload: body.payload.clone(),
                origin: record.origin.clone(),
                ltime: record.ltime,
            }),
        });
    }

    /// The origin of an event as this node knows it; one it has not heard of yet (its Alive
    /// news may come in a later datagram) shows with its name and address.
    fn origin_member(&self, origin: &NodeName, addr: SocketAddr, now: Instant) -> Member {
        if *origin == self.local.name {
            return self.local();
        }
        if let Some(e) = self
            .members
            .find(origin.as_str())
            .and_then(|i| self.members.get(i))
        {
            return member_of(e, self.members.epoch());
        }
        Member {
            name: origin.clone(),
            addr,
            incarnation: Incarnation(0),
            state: MemberState::Alive,
            tags: Tags::default(),
            since: now,
            rtt: None,
        }
    }

    /// Piggybacks queued user events into `w` after the membership news; returns how many.
    pub(super) fn fill_events(&mut self, w: &mut PacketWriter<'_>, limit: u32) -> usize {
        if self.user.queue.is_empty() || !w.open_events(self.user.clock, false) {
            return 0;
        }
        let n = self.user.queue.fill(w, limit);
        self.count_told_users();
        n
    }

    /// Every remembered event, for a sync.
    pub(super) fn user_records(&self) -> VecDeque<UserRecord> {
        self.user.records()
    }

    pub(super) fn expire_user_events(&mut self, now: Instant) {
        self.user.expire(now, self.config.user_event_max_age);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::Duration;

    fn key(t: u64, origin: &str) -> EventKey {
        (LamportTime(t), NodeName::new(origin).unwrap())
    }

    fn body() -> Option<Arc<UserBody>> {
        Some(Arc::new(UserBody {
            addr: "127.0.0.1:1".parse().unwrap(),
            name: "e".into(),
            payload: vec![1],
        }))
    }

    #[test]
    fn the_oldest_in_lamport_order_is_forgotten_and_stays_too_old() {
        let now = crate::test_epoch();
        let mut u = UserEvents::default();
        assert_eq!(u.hear(now, key(5, "a"), body(), 2), Heard::New);
        assert_eq!(u.hear(now, key(3, "b"), body(), 2), Heard::New);
        assert_eq!(u.hear(now, key(5, "a"), body(), 2), Heard::Repeat);
        // A third forgets (3, b), the oldest by time, not the first heard.
        assert_eq!(u.hear(now, key(9, "a"), body(), 2), Heard::New);
        assert_eq!(u.remembered(), 2);
        assert_eq!(u.hear(now, key(3, "b"), body(), 2), Heard::Stale);
        assert_eq!(u.hear(now, key(2, "z"), body(), 2), Heard::Stale);
        assert_eq!(u.hear(now, key(4, "a"), body(), 2), Heard::New);
    }

    #[test]
    fn the_digest_depends_on_what_was_seen_not_on_the_order_or_the_payloads() {
        let now = crate::test_epoch();
        let (mut a, mut b) = (UserEvents::default(), UserEvents::default());
        for k in [key(1, "x"), key(2, "y"), key(3, "x")] {
            a.hear(now, k, body(), 8);
        }
        for k in [key(3, "x"), key(1, "x"), key(2, "y")] {
            b.hear(now + Duration::from_secs(9), k, None, 8);
        }
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), 0);
        a.expire(now + Duration::from_secs(60), Duration::from_secs(30));
        assert!(a.records().iter().all(|r| r.body.is_none()));
        assert_eq!(a.digest(), b.digest(), "payloads aged out, names kept");
        b.hear(now, key(4, "y"), None, 8);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn payloads_age_out_one_by_one() {
        let now = crate::test_epoch();
        let s = Duration::from_secs;
        let mut u = UserEvents::default();
        u.hear(now, key(1, "x"), body(), 8);
        u.hear(now + s(10), key(2, "x"), body(), 8);
        u.expire(now + s(29), s(30));
        assert_eq!(u.records().iter().filter(|r| r.body.is_some()).count(), 2);
        u.expire(now + s(30), s(30));
        let kept: Vec<_> = u.records().iter().map(|r| r.body.is_some()).collect();
        assert_eq!(kept, [false, true]);
        u.expire(now + s(40), s(30));
        assert!(u.records().iter().all(|r| r.body.is_none()));
        assert_eq!(u.next_expiry, None);
    }
}
