//! Provenance of recent news: when this node heard each of its latest changes, from whom and by
//! which path, and how many times it has piggybacked news about it since.
//!
//! Only facts the core observes are kept: the datagram's source address (and the member at that
//! address, if the table holds one), whether the records came piggybacked or in a full-state
//! sync, and the transmissions counted as packets are filled. The log is per node and bounded
//! ([`HEARD_LEN`] records, one per change: a suspicion and its refutation are two), so it adds
//! nothing to a member-table entry: the simulator's N x N table is unchanged, and a node holds
//! at most 16 records of 120 bytes (plus a user event's name).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::Swim;
use crate::event::{EventKind, LamportTime};
use crate::member::{Incarnation, MemberState, NodeName};

/// How many recent changes a node remembers the provenance of.
pub const HEARD_LEN: usize = 16;

/// How a node came to know a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Its own probing: a probe that went unanswered, or a suspicion timer that ran out.
    Probe,
    /// An update piggybacked on a protocol packet (ping, ack, gossip...).
    Piggyback,
    /// A record of a full-state push-pull sync (a join, anti-entropy, a table repair).
    Sync,
    /// The node made the change itself (a user event it broadcast).
    Origin,
}

impl Via {
    /// Lower-case name, as shown on the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Probe => "own probe",
            Via::Piggyback => "piggyback",
            Via::Sync => "sync",
            Via::Origin => "origin",
        }
    }
}

/// What a change was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// A membership change of member `name`.
    Member {
        /// The member it is about.
        name: NodeName,
        /// The event this node reported for it.
        kind: EventKind,
        /// The state it led to.
        state: MemberState,
        /// The incarnation it carried.
        incarnation: Incarnation,
    },
    /// A user event, known by origin and Lamport time.
    User {
        /// Who broadcast it.
        origin: NodeName,
        /// Its Lamport time.
        ltime: LamportTime,
        /// Its name.
        name: String,
    },
}

impl News {
    /// True when `self` and `other` report the same change (the same member's state and
    /// incarnation, or one user event), whatever event kind each node named it by.
    fn same_change(&self, other: &News) -> bool {
        match (self, other) {
            (
                News::Member {
                    name: a,
                    state: s,
                    incarnation: i,
                    ..
                },
                News::Member {
                    name: b,
                    state: t,
                    incarnation: j,
                    ..
                },
            ) => a == b && s == t && i == j,
            (
                News::User {
                    origin: a,
                    ltime: x,
                    ..
                },
                News::User {
                    origin: b,
                    ltime: y,
                    ..
                },
            ) => a == b && x == y,
            _ => false,
        }
    }
}

/// When, how and from whom a node heard one change, and how often it passed it on since: the
/// provenance a real agent's dashboard shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    /// The change.
    pub news: News,
    /// When this node heard it (the `at` of the event it reported).
    pub at: Instant,
    /// By which path.
    pub via: Via,
    /// The datagram's source, for [`Via::Piggyback`] and [`Via::Sync`].
    pub from_addr: Option<SocketAddr>,
    /// The member this node knew at that address, if any (a joiner may not be known yet).
    pub from: Option<NodeName>,
    /// Times this node has piggybacked it from its gossip queue, until a newer change about
    /// the same member replaced it there (a ping's extra copy of its target's suspicion and push-pull syncs, which copy
    /// the whole table, are not counted).
    pub told: u32,
}

/// The bounded log of [`Heard`] records, oldest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeardLog {
    records: VecDeque<Heard>,
}

impl HeardLog {
    fn record(&mut self, heard: Heard) {
        if let Some(i) = self
            .records
            .iter()
            .position(|r| r.news.same_change(&heard.news))
        {
            self.records.remove(i);
        }
        if self.records.len() == HEARD_LEN {
            self.records.pop_front();
        }
        self.records.push_back(heard);
    }

    /// Counts one transmission of an update about member `name`: of the latest change heard
    /// about it, since the gossip queue holds only the newest news about each member.
    pub(crate) fn told_member(&mut self, name: &NodeName) {
        if let Some(r) = self
            .records
            .iter_mut()
            .rev()
            .find(|r| matches!(&r.news, News::Member { name: n, .. } if n == name))
        {
            r.told = r.told.saturating_add(1);
        }
    }

    /// Counts one transmission of user event `(ltime, origin)`.
    pub(crate) fn told_user(&mut self, key: &(LamportTime, NodeName)) {
        for r in &mut self.records {
            if matches!(&r.news, News::User { origin, ltime, .. } if *ltime == key.0 && *origin == key.1)
            {
                r.told = r.told.saturating_add(1);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Heard> {
        self.records.iter()
    }
}

impl Swim {
    /// Notes that `news` was just heard, by the path of the datagram being handled (if any).
    pub(super) fn record_heard(&mut self, now: Instant, news: News) {
        let (via, from_addr) = match self.heard_source {
            Some((addr, via)) => (via, Some(addr)),
            None if matches!(news, News::User { ref origin, .. } if *origin == self.local.name) => {
                (Via::Origin, None)
            }
            None => (Via::Probe, None),
        };
        let from = from_addr
            .and_then(|a| self.members.find_addr(a))
            .and_then(|i| self.members.get(i))
            .map(|e| e.id.name.clone());
        self.heard.record(Heard {
            news,
            at: now,
            via,
            from_addr,
            from,
            told: 0,
        });
    }

    /// Counts the membership updates the last gossip fill wrote as passed on; called right
    /// after each fill, while its list of written keys is current.
    pub(super) fn count_told_members(&mut self) {
        if self.heard.is_empty() {
            return;
        }
        for name in self.gossip.written() {
            self.heard.told_member(name);
        }
    }

    /// Counts the user events the last user-event fill wrote as passed on.
    pub(super) fn count_told_users(&mut self) {
        if self.heard.is_empty() {
            return;
        }
        for key in self.user.queue.written() {
            self.heard.told_user(key);
        }
    }

    /// The provenance of this node's latest changes, oldest first (at most [`HEARD_LEN`]).
    pub fn heard(&self) -> Vec<Heard> {
        self.heard.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_stays_small_per_node() {
        let size = std::mem::size_of::<Heard>();
        assert!(size <= 120, "{size} bytes a record");
        assert!(size * HEARD_LEN <= 2048);
    }
}
