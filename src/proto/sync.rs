//! Full-state sync (push-pull): joining through seeds, periodic anti-entropy with a random
//! member, and reconnecting with members remembered as dead so that a healed partition merges.
//!
//! A sync sends the whole member table, itself included, as the updates of one or more `Sync`
//! datagrams (as many as the packet budget needs), then the user events it remembers, and its
//! event clock in every chunk. The receiver merges them by the usual rules (Dead records count
//! only as suspicions) and, when asked, answers with its own table.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use super::outbox::{Body, Outgoing};
use super::timer::Timer;
use super::{MAX_SYNC_REPLIES_PER_PERIOD, Status, Swim};
use crate::member::{MemberState, NodeName};
use crate::wire::Message;

/// Clusters up to this size sync at the configured interval.
const SCALE_THRESHOLD: usize = 32;

/// How many times a joiner pulls a table from a random member before it leaves the rest to
/// gossip and anti-entropy. With the waits below (0.5, 1, 2, then 4 probe intervals apart, on
/// average) they span about 40 probe intervals: a deploy that takes that long to start all its
/// agents is still covered.
const MAX_TABLE_PULLS: u32 = 12;

/// Pulls after a table double the wait this many times at most (to 4 probe intervals), so
/// that a member that joined late in a join storm is learned of within a few seconds.
const MAX_PULL_BACKOFF: u32 = 3;

/// "You are in" answers double the wait this many times at most (to 16 probe intervals).
const MAX_REFUSED_BACKOFF: u32 = 5;

/// A joiner whose table may still be missing members.
///
/// A seed answers at most `4 * MAX_SYNC_REPLIES_PER_PERIOD` pulls a period with its table; the
/// joiners past that hear only "you are in" (the seed's own record). Left to gossip, such a
/// joiner misses every member whose join was gossiped before its own (each update is sent only
/// `retransmit_mult * log10 N` times, and a join storm saturates the packets), and push-pull
/// comes only every few minutes at 1,000 members. A joiner that did get a table may be missing
/// the members that joined after the answerer's own join, for the same reason.
///
/// So a joiner pulls again, soon and with jitter, from a random member it has heard of (which
/// spreads the load off the seed): after "you are in", backing off each time; and, in a cluster
/// past `SCALE_THRESHOLD` members, while its table keeps growing, until a pull is answered and
/// nothing (neither that table nor gossip) taught it a member since it was sent, or
/// `MAX_TABLE_PULLS` are spent. Small clusters stop at the first table, as before (there gossip
/// carries every join), unless gossip has taught them a member since it came.
///
/// Small or large is judged when the next pull is due, not when a table's first datagram
/// arrives: a table comes in budget-sized chunks of a few dozen records, and judging by the
/// first chunk took every large cluster for a small one.
///
/// "Growing" counts gossip too because the table a pull brings is only as recent as the
/// member that sent it: while a deploy is still starting agents, an early joiner's table can
/// agree with a random member's and both still lack the agents started after them. Gossip
/// carries most of those joins, but in a join storm each is sent only a few times among
/// hundreds of others, and some member misses it; anti-entropy would repair that only after
/// gossip falls quiet (a minute or more at 500 agents). So the pulls go on, a few seconds
/// apart, for as long as new members keep appearing.
#[derive(Clone, Debug, Default)]
pub(crate) struct TablePull {
    /// Joining, or not yet sure its table is whole.
    wanted: bool,
    /// Pulls made from random members.
    pulls: u32,
    /// Answers that said only "you are in": each doubles the wait before the next pull.
    refused: u32,
    /// Since the last pull: whether a table came.
    tabled: bool,
    /// The table's length (members learned and not yet forgotten) when the last pull went out:
    /// more now means the cluster grew meanwhile.
    size_at_pull: usize,
    /// The table's length after the last table merged (a small cluster's measure of growth).
    size_at_table: usize,
    /// The member last pulled from. If it did not know us, it answers like a seed does a
    /// stranger ("you are in, now pull"), and that answer is followed at once, once.
    asked: Option<SocketAddr>,
    /// A `Timer::TablePull` is pending.
    scheduled: bool,
}

impl TablePull {
    /// How long to wait before the next pull: half a probe interval, doubled for every "you are
    /// in" so far and for every pull made (each less often), times a random factor in
    /// [0.5, 1.5) so that joiners turned away in the same period do not come back together.
    fn delay(&self, probe_interval: Duration, jitter: f64) -> Duration {
        let doublings = self
            .refused
            .min(MAX_REFUSED_BACKOFF)
            .max(self.pulls.min(MAX_PULL_BACKOFF));
        (probe_interval / 2 * (1u32 << doublings)).mul_f64(0.5 + jitter)
    }
}

/// What `on_sync` needs to know of a `Sync` datagram.
pub(super) struct SyncIn {
    /// Its source.
    pub(super) from: SocketAddr,
    /// It asks for our table.
    pub(super) reply: bool,
    /// A join request or pull (with `reply`), or "you are in, now pull" (without).
    pub(super) join: bool,
    /// Set when its sender is a stranger (see `Swim::knows`): the most bytes we may answer.
    pub(super) limit: Option<usize>,
    /// A stranger's join request: the name in its first record.
    pub(super) joiner: Option<NodeName>,
    /// How many member records it carried.
    pub(super) records: usize,
}

/// The push-pull interval for a cluster of `n`: the configured one up to 32 members, then one
/// more multiple per doubling, so the cluster's total sync traffic grows like N log N rather than
/// N² (memberlist's `pushPullScale`).
pub(crate) fn scaled_interval(base: Duration, n: usize) -> Duration {
    if n <= SCALE_THRESHOLD {
        return base;
    }
    let extra = ((n as f64).log2() - (SCALE_THRESHOLD as f64).log2()).ceil() as u32;
    base * (extra + 1)
}

impl Swim {
    /// Whether a datagram from `from` answers our join: from a seed or the member we pulled
    /// the table from, while we are not yet sure our table is whole. Asked of the source
    /// address, never of the records the datagram carries, which could vouch for it. Such a
    /// table's records are taken as verified: a sender sends only the members it verified
    /// itself (see `push_table`), so this vouches for no name that nobody answered for.
    pub(super) fn answers_our_join(&self, from: SocketAddr) -> bool {
        self.table_pull.wanted
            && (self.seeds.contains(&from) || self.table_pull.asked == Some(from))
    }

    /// Sends a join request (our own record, asking for the table) to every seed.
    pub(super) fn send_join(&mut self, now: Instant) {
        self.table_pull.wanted = true;
        for i in 0..self.seeds.len() {
            if let Some(&seed) = self.seeds.get(i) {
                self.send_own_record(seed, true);
            }
        }
        let retry = self
            .config
            .probe_interval
            .max(self.config.join_timeout / 10);
        self.timers.schedule(now + retry, Timer::JoinRetry);
    }

    /// A member probed us while we waited for a seed's answer: the cluster already knows us
    /// (a seed merged our request and gossiped it, but its answers were lost, or it went
    /// down). We are in; ask that member for its table instead of waiting for a seed. The
    /// request carries no record: the member knows ours, and to a joiner everyone is a
    /// stranger, so this 8-byte pull (once: we are Running from here on) is all we add to
    /// the ack.
    pub(super) fn joined_via(&mut self, now: Instant, member: SocketAddr) {
        self.status = Status::Running;
        self.table_pull.asked = Some(member);
        // Should its answer be only "you are in", this is when we ask again.
        self.schedule_table_pull(now);
        self.outbox.push_back(Outgoing {
            to: member,
            message: Message::Sync {
                reply: true,
                join: true,
            },
            body: Body::Sync {
                records: VecDeque::new(),
                events: VecDeque::new(),
            },
            limit: None,
        });
    }

    /// A `Sync` carrying only our own record: a join request (`join`, asking for the table),
    /// or the short answer that tells a joiner it is in.
    fn send_own_record(&mut self, to: SocketAddr, join: bool) {
        let mine = VecDeque::from([self.local_update(MemberState::Alive)]);
        self.outbox.push_back(Outgoing {
            to,
            message: Message::Sync { reply: join, join },
            body: Body::Sync {
                records: mine,
                events: VecDeque::new(),
            },
            limit: None,
        });
    }

    /// A sync arrived.
    ///
    /// Joining takes two round trips, so that a join request is never answered with more than
    /// it carried: the seed, not knowing the joiner yet, answers with what fits in the size of
    /// the request and `join` set ("you are in, now pull"); having merged the joiner's record
    /// it knows the joiner, and the joiner's second request is answered with the whole table.
    pub(super) fn on_sync(&mut self, now: Instant, sync: SyncIn) {
        let SyncIn {
            from,
            reply,
            join,
            limit,
            joiner,
            records,
        } = sync;
        // Only the answer of a seed, or of the member we pulled from, completes a join: a
        // stranger's sync must not make a joiner report "joined" through a seed that never
        // answered. Nor while the cluster holds our name for a live member elsewhere: the
        // join waits, retried at its own pace, not at once on every answer.
        let joining = self.status == Status::Joining && self.name_holder.is_none();
        if joining && self.answers_our_join(from) {
            self.status = Status::Running;
        }
        // Any table but a stranger's short answer (which leads with our own record) counts:
        // a join answer, a push-pull, a repair.
        if records > 1 && (reply || !join) && self.table_pull.wanted {
            self.table_pull.tabled = true;
            self.table_pull.size_at_table = self.members.len();
            self.schedule_table_pull(now);
        }
        if !reply {
            if join {
                let asked = self.table_pull.wanted && self.table_pull.asked == Some(from);
                if (joining && self.seeds.contains(&from)) || asked {
                    self.table_pull.asked = None;
                    self.send_own_record(from, true);
                }
            } else if records <= 1 && self.table_pull.wanted {
                // "You are in", and no more: the answerer had no table to spare.
                self.table_pull.refused += 1;
                self.schedule_table_pull(now);
            }
            return;
        }
        if let Some(limit) = limit {
            // No rate limit needed: what goes out is no more than what came in.
            self.push_table(from, false, join, Some(limit), joiner.as_ref());
            return;
        }
        // Replies are rate-limited so that a flood of requests (with forged source addresses)
        // cannot turn this node into an amplifier; joins get a larger share.
        let budget = if join {
            4 * MAX_SYNC_REPLIES_PER_PERIOD
        } else {
            MAX_SYNC_REPLIES_PER_PERIOD
        };
        let pulled_lately = join
            && self
                .join_pulls
                .iter()
                .any(|&(addr, at)| addr == from && now < at + self.config.probe_interval);
        if self.sync_replies < budget && !pulled_lately {
            self.sync_replies += 1;
            if join {
                self.remember_join_pull(now, from);
            }
            self.push_table(from, false, false, None, None);
        } else if join {
            // Over budget, a joiner still hears that it is in: our own record alone, one small
            // datagram (no amplification). It then pulls again from another member (see
            // `TablePull`) instead of giving up at join_timeout.
            self.send_own_record(from, false);
        }
    }

    /// Remembers that `from`'s join pull got our table, forgetting those older than a probe
    /// interval: a source gets the table for a join pull once a probe interval at most, and
    /// "you are in" (our own record) in between. A sealed pull, recorded and sent again from
    /// its member's forged address within the seal's replay window
    /// (`runtime::seal::REPLAY_WINDOW_MS`, 10 s), still opens; each replay got the whole table
    /// (x4.5 the pull at 9 members, growing with N), now one replay a period does. A whole
    /// window (a full 10 s of "you are in") cost lossy joins too much: in the simulator's
    /// 200-node join storm at 10 % loss, 35.6 s to converge instead of 10.3 s, since a joiner
    /// whose table was lost pulls again from the same seed. A joiner retries no sooner than a
    /// probe interval (`send_join`), so this costs it nothing. At most
    /// `4 * MAX_SYNC_REPLIES_PER_PERIOD` tables go out a period, so the list holds no more.
    fn remember_join_pull(&mut self, now: Instant, from: SocketAddr) {
        let memory = self.config.probe_interval;
        self.join_pulls.retain(|&(_, at)| now < at + memory);
        self.join_pulls.push_back((from, now));
    }

    fn schedule_table_pull(&mut self, now: Instant) {
        if self.table_pull.scheduled {
            return;
        }
        self.table_pull.scheduled = true;
        let jitter = self.rng.random::<f64>();
        let delay = self.table_pull.delay(self.config.probe_interval, jitter);
        self.timers.schedule(now + delay, Timer::TablePull);
    }

    /// Time to pull again, unless a table came and nothing taught us a member since the last
    /// pull went out (ours is as whole as a random member's, and the cluster stopped growing;
    /// in a small cluster: since that table came), or the pulls are spent. The target is a random member we have
    /// heard of, a seed only when we know no one else.
    pub(super) fn on_table_pull(&mut self, now: Instant) {
        let pull = &mut self.table_pull;
        pull.scheduled = false;
        if !pull.wanted || self.status != Status::Running {
            return;
        }
        let small = self.members.active() < SCALE_THRESHOLD;
        // Before the first pull, only a small cluster's table can be taken as whole.
        let grew = match (small, pull.pulls) {
            (true, _) => self.members.len() > pull.size_at_table,
            (false, 0) => true,
            (false, _) => self.members.len() > pull.size_at_pull,
        };
        if pull.pulls >= MAX_TABLE_PULLS || (pull.tabled && !grew) {
            pull.wanted = false;
            return;
        }
        let mut picks = std::mem::take(&mut self.picks);
        self.members
            .random(&mut self.rng, 2, None, MemberState::is_active, &mut picks);
        let addrs = picks.iter().filter_map(|&i| self.members.get(i));
        let addrs: Vec<SocketAddr> = addrs.map(|e| e.id.addr).collect();
        self.picks = picks;
        let target = addrs
            .iter()
            .find(|a| !self.seeds.contains(a))
            .or(addrs.first())
            .or(self.seeds.first())
            .copied();
        let Some(to) = target else {
            return;
        };
        let pull = &mut self.table_pull;
        pull.pulls += 1;
        pull.asked = Some(to);
        pull.tabled = false;
        pull.size_at_pull = self.members.len();
        self.stats.table_pulls += 1;
        self.send_own_record(to, true);
        self.schedule_table_pull(now);
    }

    /// Anti-entropy: now and then sync with one random member; sometimes with one we believe
    /// dead, which is how two halves of a healed partition find each other again.
    pub(super) fn on_push_pull_tick(&mut self, now: Instant) {
        let every = scaled_interval(self.config.push_pull_interval, self.members.active() + 1);
        self.timers.schedule(now + every, Timer::PushPullTick);
        if self.status != Status::Running {
            return;
        }
        let mut picks = std::mem::take(&mut self.picks);
        let dead_first = self.members.len() > self.members.active() && self.rng.random_bool(0.5);
        if dead_first {
            self.members.random(
                &mut self.rng,
                1,
                None,
                |s| s == MemberState::Dead,
                &mut picks,
            );
        }
        if picks.is_empty() {
            self.members
                .random(&mut self.rng, 1, None, MemberState::is_active, &mut picks);
        }
        let target = picks
            .first()
            .and_then(|&i| self.members.get(i))
            .map(|e| e.id.addr);
        self.picks = picks;
        if let Some(addr) = target {
            self.stats.syncs += 1;
            let digest = self.table_digest().to_le_bytes();
            self.send(addr, Message::Digest { digest });
        }
    }

    /// A member offers its table's digest: when ours differs, start the exchange by sending
    /// ours and asking for theirs. Shares the sync answers' rate limit.
    pub(super) fn on_digest(&mut self, from: SocketAddr, digest: u64) {
        if digest == self.table_digest() || self.sync_replies >= MAX_SYNC_REPLIES_PER_PERIOD {
            return;
        }
        self.sync_replies += 1;
        self.push_table(from, true, false, None, None);
    }

    /// What a direct ack tells about our table: the first 4 bytes of its digest, but only
    /// when we have no gossip left to spread. While news is in flight tables differ for a
    /// moment anyway, and comparing them then would start syncs that gossip makes needless.
    pub(super) fn quiet_digest(&self) -> Option<[u8; 4]> {
        let quiet = self.status == Status::Running
            && self.gossip.is_empty()
            && self.user.queue.is_empty()
            && !self.config.push_pull_interval.is_zero();
        quiet.then(|| short_digest(self.table_digest()))
    }

    /// Once a probe period: if names were turned away for want of room for unverified members
    /// (see `Swim::admit`) and there is room again, pull a verified member's table, at most
    /// once per repair interval (shared with `compare_tables`). In a join storm a member
    /// holding few verified members turns away most of the news of others joining (1.6
    /// million names over 1,000 members in the simulator at 10 % loss), gossip does not bring
    /// it again, and suspicions under loss keep gossip from quieting down enough for the
    /// digest repair: tables then waited for the next push-pull (every 180 s at 1,000
    /// members). The pulled table holds only members its sender verified.
    pub(super) fn pull_what_was_turned_away(&mut self, now: Instant) {
        if !self.turned_away || now < self.repair_after || !self.members.room_for_unverified() {
            return;
        }
        let mut picks = std::mem::take(&mut self.picks);
        self.members
            .random(&mut self.rng, 1, None, MemberState::is_active, &mut picks);
        let target = picks
            .first()
            .and_then(|&i| self.members.get(i))
            .map(|e| e.id.addr);
        self.picks = picks;
        let Some(addr) = target else {
            return;
        };
        self.turned_away = false;
        // The digest repair's spacing: a bounded rate (one table every 22.5 s at 1,000 members
        // in lan) whatever a peer sends. A quarter of it was tried: in the 1,000-node join
        // storm at 10 % loss the pulls then crowded the members' answer budget
        // (`MAX_SYNC_REPLIES_PER_PERIOD`) and the tables never became whole within 120 s.
        let every = scaled_interval(self.config.push_pull_interval, self.members.active() + 1);
        self.repair_after = now + (every / 8).max(self.config.probe_interval);
        self.stats.repairs += 1;
        self.push_table(addr, true, false, None, None);
    }

    /// Repair: a member we probed says, in its ack, what its table's digest is, and it was
    /// quiet when it said so. If we are quiet too and our tables still differ, gossip is over
    /// and one of us missed some of it (infection-style spread leaves a member out now and
    /// then, more often under loss), so push-pull with it now instead of waiting for the next
    /// anti-entropy round, which at lan timings can be a minute or more away. At most one
    /// repair per eighth of the push-pull interval, so a lasting difference costs no more
    /// than eight push-pulls.
    pub(super) fn compare_tables(&mut self, now: Instant, from: SocketAddr, theirs: [u8; 4]) {
        let Some(ours) = self.quiet_digest() else {
            return;
        };
        if ours == theirs || now < self.repair_after {
            return;
        }
        let every = scaled_interval(self.config.push_pull_interval, self.members.active() + 1);
        self.repair_after = now + (every / 8).max(self.config.probe_interval);
        self.stats.repairs += 1;
        self.push_table(from, true, false, None, None);
    }

    /// The digest of what `push_table` would send: the members, ourselves included (departed
    /// members count for nothing: see `members::digest_part`), and the user events we
    /// remember (by origin and time; see the `user` module). So a member that missed an event
    /// differs from the others, and is synced with, even when their member tables agree.
    fn table_digest(&self) -> u64 {
        self.members.digest()
            ^ super::members::record_hash(
                self.local.name.as_str(),
                self.incarnation,
                MemberState::Alive,
            )
            ^ self.user.digest()
    }

    /// Sends our table to `to`: all of it, or (to a stranger) what fits in `limit` bytes.
    /// `first`, a joiner's name, leads with what we hold about it: a node restarted on a new
    /// address with a lower incarnation than we remember is a stranger whose record we ignore;
    /// told its old incarnation, it refutes, and its pull then carries a record we take.
    fn push_table(
        &mut self,
        to: SocketAddr,
        reply: bool,
        join: bool,
        limit: Option<usize>,
        first: Option<&NodeName>,
    ) {
        let mut records = VecDeque::with_capacity(self.members.len() + 2);
        let theirs = first.and_then(|name| self.members.find(name.as_str()));
        records.extend(theirs.and_then(|i| self.shared_update(i, None)));
        records.push_back(self.local_update(MemberState::Alive));
        // Only verified members: a joiner takes this table as vouched for (see `answers_our_join`),
        // and names nobody answered for are not ours to spread in bulk. Departed ones cannot
        // add a member, and a verified member's name spreads by gossip anyway.
        let verified = |i: &usize| self.members.get(*i).is_some_and(|e| e.verified);
        records.extend(
            (0..self.members.len())
                .filter(verified)
                .filter_map(|i| self.shared_update(i, None)),
        );
        let events = self.user_records();
        self.outbox.push_back(Outgoing {
            to,
            message: Message::Sync { reply, join },
            body: Body::Sync { records, events },
            limit,
        });
    }
}

/// The part of a table digest that acks carry. A collision (2^-32) only delays a repair until
/// the next anti-entropy round.
fn short_digest(digest: u64) -> [u8; 4] {
    (digest as u32).to_le_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::proto::testing::{Harness, alive, peer_addr};
    use crate::wire::Packet;

    const SEC: Duration = Duration::from_secs(1);

    /// Runs until we probe peer `from`; returns the probe's sequence number.
    fn probe_of(h: &mut Harness, from: usize) -> u32 {
        h.responsive.remove(&peer_addr(from));
        let (_, ping) = h.advance_until_sent(10 * SEC, |to, p| {
            *to == peer_addr(from) && matches!(p.message, Message::Ping { .. })
        });
        h.responsive.insert(peer_addr(from));
        match ping.message {
            Message::Ping { seq, .. } => seq,
            other => panic!("not a ping: {other:?}"),
        }
    }

    /// Peer `from` acks our probe `seq` with `digest`; returns the syncs the node then sent.
    fn ack_with(
        h: &mut Harness,
        from: usize,
        seq: u32,
        digest: [u8; 4],
    ) -> Vec<(SocketAddr, Packet)> {
        h.sent.clear();
        let ack = Message::Ack {
            seq,
            digest: Some(digest),
        };
        h.deliver(peer_addr(from), ack, vec![]);
        h.sent
            .iter()
            .filter(|(_, p)| matches!(p.message, Message::Sync { .. }))
            .cloned()
            .collect()
    }

    /// We probe peer `from` and it acks with `digest` (only the member probed is asked to
    /// sync); returns the syncs the node then sent.
    fn acked_with(h: &mut Harness, from: usize, digest: [u8; 4]) -> Vec<(SocketAddr, Packet)> {
        let seq = probe_of(h, from);
        ack_with(h, from, seq, digest)
    }

    #[test]
    fn an_ack_from_a_member_not_probed_asks_for_no_sync() {
        let mut h = Harness::with_peers(3);
        h.advance(10 * SEC);
        let ours = h.ack_digest().unwrap();
        let other = [ours[0] ^ 1, ours[1], ours[2], ours[3]];
        let seq = probe_of(&mut h, 2);
        assert!(
            ack_with(&mut h, 3, seq, other).is_empty(),
            "p3 was not probed"
        );
        assert!(ack_with(&mut h, 2, seq.wrapping_add(9), other).is_empty());
        assert_eq!(h.swim.stats().repairs, 0);
    }

    #[test]
    fn acks_carry_the_digest_only_when_gossip_is_over() {
        let mut h = Harness::with_peers(3);
        h.advance(10 * SEC);
        let quiet = h.ack_digest();
        assert!(
            quiet.is_some(),
            "nothing left to gossip: the ack tells the digest"
        );
        h.deliver(peer_addr(2), Message::Gossip, vec![alive(4, 0)]);
        assert_eq!(h.ack_digest(), None, "news about p4 is still spreading");
        h.advance(10 * SEC);
        let after = h.ack_digest();
        assert!(after.is_some());
        assert_ne!(after, quiet, "p4 joined the table, so the digest changed");
    }

    #[test]
    fn a_quiet_member_with_another_table_is_synced_with_at_once_then_not_too_often() {
        let mut h = Harness::with_peers(3);
        h.advance(10 * SEC);
        let ours = h.ack_digest().unwrap();
        assert!(
            acked_with(&mut h, 2, ours).is_empty(),
            "same table: no sync"
        );

        let other = [ours[0] ^ 1, ours[1], ours[2], ours[3]];
        let syncs = acked_with(&mut h, 2, other);
        assert_eq!(h.swim.stats().repairs, 1);
        let (to, first) = syncs
            .first()
            .expect("a differing table is repaired at once");
        assert_eq!(*to, peer_addr(2));
        assert!(matches!(
            first.message,
            Message::Sync {
                reply: true,
                join: false
            }
        ));
        let sent: usize = syncs.iter().map(|(_, p)| p.updates.len()).sum();
        assert_eq!(sent, 4, "our whole table: ourselves and three peers");

        assert!(
            acked_with(&mut h, 3, other).is_empty(),
            "one repair per gap"
        );
        // lan profile, 4 members: the gap is an eighth of the 30 s push-pull interval.
        h.advance(4 * SEC);
        assert_eq!(acked_with(&mut h, 3, other).len(), 1);
        assert_eq!(h.swim.stats().repairs, 2);
    }

    #[test]
    fn no_repair_while_our_own_news_is_spreading() {
        let mut h = Harness::with_peers(3);
        h.advance(10 * SEC);
        let ours = h.ack_digest().unwrap();
        let seq = probe_of(&mut h, 2);
        h.deliver(peer_addr(2), Message::Gossip, vec![alive(4, 0)]);
        let other = [ours[0] ^ 1, ours[1], ours[2], ours[3]];
        assert!(ack_with(&mut h, 2, seq, other).is_empty());
        assert_eq!(h.swim.stats().repairs, 0);
    }

    #[test]
    fn push_pull_slows_down_past_32_members() {
        let base = Duration::from_secs(30);
        assert_eq!(scaled_interval(base, 1), base);
        assert_eq!(scaled_interval(base, 32), base);
        assert_eq!(scaled_interval(base, 33), base * 2);
        assert_eq!(scaled_interval(base, 64), base * 2);
        assert_eq!(scaled_interval(base, 65), base * 3);
        assert_eq!(scaled_interval(base, 10_000), base * 10);
    }
}
