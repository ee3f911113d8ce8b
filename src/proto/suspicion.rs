//! Suspicion timeouts: the SWIM formula and Lifeguard's shrinking with confirmations.

use std::time::{Duration, Instant};

use super::Swim;
use super::timer::Timer;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState, NodeName};

/// SWIM's suspicion timeout, the shortest a suspicion may last:
/// `suspicion_mult * max(1, log10(n)) * probe_interval`, for a cluster of `n` members.
pub(crate) fn min_timeout(suspicion_mult: u32, n: usize, probe_interval: Duration) -> Duration {
    let scale = (n.max(1) as f64).log10().max(1.0);
    probe_interval.mul_f64(f64::from(suspicion_mult) * scale)
}

/// Lifeguard's dynamic timeout: starts at `max` and falls towards `min` logarithmically as
/// `confirmations` of the `expected` independent ones arrive (memberlist's
/// `remainingSuspicionTime`, in total time rather than time left).
pub(crate) fn timeout(confirmations: u32, expected: u32, min: Duration, max: Duration) -> Duration {
    if expected == 0 {
        return min;
    }
    let frac = (f64::from(confirmations) + 1.0).ln() / (f64::from(expected) + 1.0).ln();
    let span = max.saturating_sub(min).as_secs_f64();
    let raw = max.as_secs_f64() - frac * span;
    let raw = Duration::from_secs_f64(raw.max(0.0));
    raw.max(min)
}

/// Confirmations that bring a suspicion down to its minimum: `suspicion_mult - 2`, or none in a
/// cluster too small to produce that many independent suspicions (memberlist's choice).
pub(crate) fn expected_confirmations(suspicion_mult: u32, n: usize) -> u32 {
    let k = suspicion_mult.saturating_sub(2);
    if (n as u64).saturating_sub(2) < u64::from(k) {
        0
    } else {
        k
    }
}

/// A running suspicion about one member.
#[derive(Clone)]
pub(crate) struct Suspicion {
    pub(crate) incarnation: Incarnation,
    pub(crate) start: Instant,
    /// Who raised the suspicion we first heard; it is the suspicion, not a confirmation of it.
    pub(crate) origin: Option<NodeName>,
    /// Others who independently suspected it (Lifeguard's confirmations), at most `expected`.
    pub(crate) confirmed_by: Vec<NodeName>,
    pub(crate) expected: u32,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

impl Suspicion {
    pub(crate) fn timeout(&self) -> Duration {
        timeout(
            self.confirmed_by.len() as u32,
            self.expected,
            self.min,
            self.max,
        )
    }
}

impl Swim {
    /// Marks member `i` Suspect at `inc` and starts its suspicion timer.
    pub(super) fn suspect(
        &mut self,
        now: Instant,
        i: usize,
        inc: Incarnation,
        from: Option<NodeName>,
    ) {
        let Some(was) = self.members.get(i).map(|e| e.state) else {
            return;
        };
        self.members.set(i, MemberState::Suspect, inc, now);
        let Some(name) = self.members.get(i).map(|e| e.id.name.clone()) else {
            return;
        };
        let n = self.members.active() + 1;
        let min = min_timeout(self.config.suspicion_mult, n, self.config.probe_interval);
        let max = min * self.config.suspicion_max_timeout_mult;
        let s = Suspicion {
            incarnation: inc,
            start: now,
            origin: from,
            confirmed_by: Vec::new(),
            expected: expected_confirmations(self.config.suspicion_mult, n),
            min,
            max,
        };
        let deadline = now + s.timeout();
        let check = now + s.timeout() / 4;
        self.suspicions.insert(name.clone(), s);
        self.timers.schedule(
            check,
            Timer::SuspicionCheck {
                member: name.clone(),
                incarnation: inc,
            },
        );
        self.timers.schedule(
            deadline,
            Timer::SuspicionTimeout {
                member: name,
                incarnation: inc,
            },
        );
        if was != MemberState::Suspect {
            self.emit(now, EventKind::Suspected, i);
        }
    }

    /// `from` independently suspects member `i` at the incarnation we suspect it at (its own
    /// probe failed too): the timeout shrinks (Lifeguard), and the news is passed on so that
    /// others can count it as well. Returns whether it counted.
    pub(super) fn confirm(&mut self, now: Instant, i: usize, from: &NodeName) -> bool {
        let Some(e) = self.members.get(i) else {
            return false;
        };
        let (name, inc) = (e.id.name.clone(), e.incarnation);
        let Some(s) = self.suspicions.get_mut(name.as_str()) else {
            return false;
        };
        if s.incarnation != inc
            || s.origin.as_ref() == Some(from)
            || s.confirmed_by.len() as u32 >= s.expected
            || s.confirmed_by.contains(from)
        {
            return false;
        }
        s.confirmed_by.push(from.clone());
        let deadline = (s.start + s.timeout()).max(now);
        self.timers.schedule(
            deadline,
            Timer::SuspicionTimeout {
                member: name,
                incarnation: inc,
            },
        );
        if let Some(e) = self.members.get(i) {
            self.gossip
                .enqueue(Self::entry_update(e, Some(from.clone())));
        }
        true
    }

    /// The table position of `member` and its suspicion's deadline, if this node still
    /// suspects it at `incarnation` (otherwise a timer about it is stale).
    fn running_suspicion(
        &self,
        member: &NodeName,
        incarnation: Incarnation,
    ) -> Option<(usize, Instant)> {
        let s = self.suspicions.get(member.as_str())?;
        if s.incarnation != incarnation {
            return None;
        }
        let i = self.members.find(member.as_str())?;
        let e = self.members.get(i)?;
        (e.state == MemberState::Suspect && e.incarnation == incarnation)
            .then(|| (i, s.start + s.timeout()))
    }

    /// Gossip reaches almost every member, but "almost" times thousands of suspicions is a
    /// false death now and then: a member whose copies of the refutation were all lost would
    /// declare a live member dead. So a member still suspecting past a quarter of the timeout
    /// asks the suspect itself, once a protocol period: the ping carries the suspicion, and a
    /// live suspect answers with its refutation. Members that heard the refutation never send
    /// these, so in a healthy cluster they cost nothing.
    pub(super) fn on_suspicion_check(
        &mut self,
        now: Instant,
        member: NodeName,
        incarnation: Incarnation,
    ) {
        let Some((i, deadline)) = self.running_suspicion(&member, incarnation) else {
            return;
        };
        let Some(addr) = self.members.get(i).map(|e| e.id.addr) else {
            return;
        };
        let seq = self.next_seq();
        self.send_ping(addr, seq, &member);
        let next = now + self.config.probe_interval;
        if next < deadline {
            self.timers.schedule(
                next,
                Timer::SuspicionCheck {
                    member,
                    incarnation,
                },
            );
        }
    }

    pub(super) fn on_suspicion_timeout(
        &mut self,
        now: Instant,
        member: NodeName,
        incarnation: Incarnation,
    ) {
        let Some((i, deadline)) = self.running_suspicion(&member, incarnation) else {
            return;
        };
        if now < deadline {
            return;
        }
        self.depart(now, i, MemberState::Dead, incarnation);
        if let Some(e) = self.members.get(i) {
            let update = Self::entry_update(e, Some(self.local.name.clone()));
            self.gossip.enqueue(update);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_timeout_follows_the_swim_formula() {
        let p = Duration::from_secs(1);
        assert_eq!(min_timeout(4, 5, p), Duration::from_secs(4));
        assert_eq!(min_timeout(4, 10, p), Duration::from_secs(4));
        let t = min_timeout(4, 100, p);
        assert_eq!(t, Duration::from_secs(8));
        let t = min_timeout(4, 1000, p);
        assert!((t.as_secs_f64() - 12.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn timeout_shrinks_with_confirmations_to_the_minimum() {
        let min = Duration::from_secs(4);
        let max = Duration::from_secs(24);
        assert_eq!(timeout(0, 2, min, max), max);
        let one = timeout(1, 2, min, max);
        assert!(one < max && one > min, "{one:?}");
        assert_eq!(timeout(2, 2, min, max), min);
        assert_eq!(timeout(5, 2, min, max), min);
        assert_eq!(timeout(0, 0, min, max), min);
    }

    #[test]
    fn small_clusters_expect_no_confirmations() {
        assert_eq!(expected_confirmations(4, 3), 0);
        assert_eq!(expected_confirmations(4, 4), 2);
        assert_eq!(expected_confirmations(4, 50), 2);
        assert_eq!(expected_confirmations(1, 50), 0);
    }
}
