//! The core's own deadline queue. Timers carry the data that tells whether they still matter
//! (a probe's sequence number, a suspicion's incarnation), so nothing is ever cancelled: a stale
//! timer fires and is ignored.
//!
//! Stale timers are not free, though: every suspicion leaves one at its longest timeout
//! (`suspicion_max_timeout_mult` times the minimum, 96 s at 10,000 members), and under heavy
//! loss a member hears of hundreds of suspicions a second, most refuted within a second. So
//! when the heap has doubled since it was last swept, [`Timers::prune`] drops the timers its
//! owner says can no longer act; the ones kept fire in the same order as before.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::Swim;
use crate::member::{Incarnation, NodeName};

/// What happens when a deadline passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// End the current protocol period (judge the running probe) and start the next probe.
    ProbeTick,
    /// The direct probe `seq` got no ack in time: ask others to probe (ping-req).
    ProbeTimeout { seq: u32 },
    /// Relaying a ping-req: send a nack if the target has not answered.
    RelayNack { seq: u32 },
    /// Relaying a ping-req: forget it.
    RelayExpire { seq: u32 },
    /// Still suspecting a member late in its suspicion: ping it ourselves, in case its
    /// refutation went around us.
    SuspicionCheck {
        member: NodeName,
        incarnation: Incarnation,
    },
    /// A suspected member did not refute in time (if still suspect at this incarnation).
    SuspicionTimeout {
        member: NodeName,
        incarnation: Incarnation,
    },
    /// Send queued gossip to a few random members.
    GossipTick,
    /// Full-state sync with a random member.
    PushPullTick,
    /// Resend the join request to the seeds.
    JoinRetry,
    /// Give up joining.
    JoinDeadline,
    /// A joiner that was told only "you are in" pulls the table again (see `sync::TablePull`).
    TablePull,
    /// Stop leaving even if the Left update has not been sent enough times.
    LeaveDeadline,
    /// Forget a Dead or Left member (if still so at this incarnation).
    Reclaim {
        member: NodeName,
        incarnation: Incarnation,
    },
}

#[derive(Clone)]
struct Entry {
    at: Instant,
    order: u64,
    timer: Timer,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.order == other.order
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed so the std max-heap pops the earliest deadline; ties fire in insertion order.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.order.cmp(&self.order))
    }
}

/// Below this many timers the heap is never swept (a quiet node holds about five).
const PRUNE_FLOOR: usize = 64;

/// Deadlines ordered by time, then by insertion. Push and pop are O(log n).
#[derive(Clone, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    order: u64,
    /// Sweep when the heap reaches this size: twice what the last sweep kept, so sweeping
    /// costs O(1) amortised per timer scheduled.
    prune_at: usize,
}

impl Timers {
    /// Timers waiting, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// When `timer` is next due, if it is waiting.
    #[cfg(test)]
    pub(crate) fn due(&self, timer: &Timer) -> Option<Instant> {
        self.heap
            .iter()
            .filter(|e| e.timer == *timer)
            .map(|e| e.at)
            .min()
    }

    /// True when the heap has grown enough since the last sweep to be worth sweeping.
    pub(crate) fn wants_prune(&self) -> bool {
        self.heap.len() >= self.prune_at.max(PRUNE_FLOOR)
    }

    /// Drops every timer for which `live` is false. Only for timers that would do nothing
    /// when they fire: the rest keep their deadlines and insertion order, so what fires, and
    /// when, is unchanged.
    pub(crate) fn prune(&mut self, live: impl Fn(&Timer) -> bool) {
        self.heap.retain(|e| live(&e.timer));
        self.prune_at = self.heap.len() * 2;
    }

    /// Pops timers from the head for as long as `live` is false for them.
    pub(crate) fn drop_dead_head(&mut self, live: impl Fn(&Timer) -> bool) {
        while self.heap.peek().is_some_and(|e| !live(&e.timer)) {
            self.heap.pop();
        }
    }

    pub(crate) fn schedule(&mut self, at: Instant, timer: Timer) {
        self.order += 1;
        self.heap.push(Entry {
            at,
            order: self.order,
            timer,
        });
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek()?.at <= now {
            self.heap.pop().map(|e| e.timer)
        } else {
            None
        }
    }
}

impl Swim {
    /// Drops timers that can no longer act: at the head of the heap after every input, so
    /// that a host does not wake for them (an answered probe's timeout was a quarter of an
    /// idle member's wakeups), and everywhere once the heap has doubled.
    ///
    /// A probe timeout is dead once its probe was answered or another began: a probe's
    /// sequence number is never reused and an answer is never taken back. A suspicion timer
    /// about a member whose suspicion at that incarnation has ended (refuted, or the member
    /// departed) cannot act: a suspicion at an incarnation is only ever started again after
    /// the member has been forgotten (`dead_node_reclaim`), and its handlers look the
    /// suspicion up first. A reclaim timer is dead once its member is gone, back in the
    /// cluster or departed again at another incarnation (what `on_reclaim` checks): every
    /// departure schedules one, so news flipping a member between alive and dead would
    /// otherwise pile them up for `dead_node_reclaim` (issue 26: 76 MB in 30 s). Every other
    /// kind is kept: there are a few per protocol period.
    pub(super) fn prune_timers(&mut self) {
        let suspicions = &self.suspicions;
        let members = &self.members;
        let probe = self.probe.as_ref().filter(|p| !p.acked).map(|p| p.seq);
        let live = |timer: &Timer| match timer {
            Timer::ProbeTimeout { seq } => probe == Some(*seq),
            Timer::SuspicionCheck {
                member,
                incarnation,
            }
            | Timer::SuspicionTimeout {
                member,
                incarnation,
            } => suspicions
                .get(member.as_str())
                .is_some_and(|s| s.incarnation == *incarnation),
            Timer::Reclaim {
                member,
                incarnation,
            } => members
                .find(member.as_str())
                .and_then(|i| members.get(i))
                .is_some_and(|e| !e.state.is_active() && e.incarnation == *incarnation),
            _ => true,
        };
        self.timers.drop_dead_head(live);
        if self.timers.wants_prune() {
            self.timers.prune(live);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_then_insertion_order() {
        let t0 = crate::test_epoch();
        let mut t = Timers::default();
        t.schedule(t0 + Duration::from_millis(20), Timer::GossipTick);
        t.schedule(t0 + Duration::from_millis(10), Timer::ProbeTick);
        t.schedule(t0 + Duration::from_millis(10), Timer::JoinRetry);
        assert_eq!(t.next(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(t.pop_due(t0), None);
        let later = t0 + Duration::from_millis(30);
        assert_eq!(t.pop_due(later), Some(Timer::ProbeTick));
        assert_eq!(t.pop_due(later), Some(Timer::JoinRetry));
        assert_eq!(t.pop_due(later), Some(Timer::GossipTick));
        assert_eq!(t.pop_due(later), None);
    }

    #[test]
    fn prune_drops_only_the_dead_and_keeps_the_order() {
        let t0 = crate::test_epoch();
        let mut t = Timers::default();
        for i in 0..100u32 {
            let at = t0 + Duration::from_millis(u64::from(i % 7));
            t.schedule(at, Timer::RelayNack { seq: i });
        }
        assert!(t.wants_prune());
        t.prune(|timer| matches!(timer, Timer::RelayNack { seq } if seq % 3 == 0));
        assert_eq!(t.len(), 34);
        assert!(!t.wants_prune());
        let later = t0 + Duration::from_secs(1);
        let mut fired = Vec::new();
        while let Some(Timer::RelayNack { seq }) = t.pop_due(later) {
            fired.push(seq);
        }
        let mut want: Vec<u32> = (0..100).filter(|s| s % 3 == 0).collect();
        want.sort_by_key(|s| (s % 7, *s));
        assert_eq!(fired, want);
    }
}
