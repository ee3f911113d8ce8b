//! Full-state sync (push-pull): joining through seeds, periodic anti-entropy with a random
//! member, and reconnecting with members remembered as dead so that a healed partition merges.
//!
//! A sync sends the whole member table, itself included, as the updates of one or more `Sync`
//! datagrams (as many as the packet budget needs). The receiver merges them by the usual rules
//! (Dead records count only as suspicions) and, when asked, answers with its own table.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use super::timer::Timer;
use super::{Body, MAX_SYNC_REPLIES_PER_PERIOD, Outgoing, Status, Swim};
use crate::member::MemberState;
use crate::wire::Message;

/// Clusters up to this size sync at the configured interval.
const SCALE_THRESHOLD: usize = 32;

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
    /// Sends a join request (our own record, asking for the table) to every seed.
    pub(super) fn send_join(&mut self, now: Instant) {
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
    /// (a seed merged our request and gossiped it, but its answers were rate-limited or lost).
    /// We are in; ask that member for its table instead of waiting for a seed.
    pub(super) fn joined_via(&mut self, member: SocketAddr) {
        self.status = Status::Running;
        self.send_own_record(member, true);
    }

    /// A `Sync` carrying only our own record: a join request (`join`, asking for the table),
    /// or the short answer that tells a joiner it is in.
    fn send_own_record(&mut self, to: SocketAddr, join: bool) {
        let mine = VecDeque::from([self.local_update(MemberState::Alive)]);
        self.outbox.push_back(Outgoing {
            to,
            message: Message::Sync { reply: join, join },
            body: Body::Records(mine),
        });
    }

    pub(super) fn on_sync(&mut self, from: SocketAddr, reply: bool, join: bool) {
        if self.status == Status::Joining {
            self.status = Status::Running;
        }
        if !reply {
            return;
        }
        // Replies are rate-limited so that a flood of requests (with forged source addresses)
        // cannot turn this node into an amplifier; joins get a larger share.
        let budget = if join {
            4 * MAX_SYNC_REPLIES_PER_PERIOD
        } else {
            MAX_SYNC_REPLIES_PER_PERIOD
        };
        if self.sync_replies < budget {
            self.sync_replies += 1;
            self.push_table(from, false, false);
        } else if join {
            // Over budget, a joiner still hears that it is in: our own record alone, one small
            // datagram (no amplification). Its table fills from gossip, which already carries
            // its join, and from anti-entropy, instead of it giving up at join_timeout.
            self.send_own_record(from, false);
        }
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
        self.push_table(from, true, false);
    }

    /// The digest of what `push_table` would send: every member record, ourselves included.
    fn table_digest(&self) -> u64 {
        self.members.digest()
            ^ super::members::record_hash(
                self.local.name.as_str(),
                self.incarnation,
                MemberState::Alive,
            )
    }

    fn push_table(&mut self, to: SocketAddr, reply: bool, join: bool) {
        let mut records = VecDeque::with_capacity(self.members.len() + 1);
        records.push_back(self.local_update(MemberState::Alive));
        records.extend(self.members.iter().map(|e| Self::entry_update(e, None)));
        self.outbox.push_back(Outgoing {
            to,
            message: Message::Sync { reply, join },
            body: Body::Records(records),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
