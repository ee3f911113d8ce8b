//! The core's own deadline queue. Timers carry the data that tells whether they still matter
//! (a probe's sequence number, a suspicion's incarnation), so nothing is ever cancelled: a stale
//! timer fires and is ignored.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

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

/// Deadlines ordered by time, then by insertion. Push and pop are O(log n).
#[derive(Clone, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    order: u64,
}

impl Timers {
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
}
