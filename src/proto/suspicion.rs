//! Suspicion timeouts: the SWIM formula and Lifeguard's shrinking with confirmations.

use std::time::{Duration, Instant};

use super::Swim;
use super::timer::Timer;
use crate::config::SuspicionRule;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState, NodeName};
use crate::wire::{Message, Update};

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
    /// Raised by this node's own failed probe while its health was bad (evidence rule): a
    /// doubt it keeps to itself. It is not gossiped, not synced, not carried to the suspect;
    /// an ack from the suspect clears it, and it becomes an ordinary suspicion as soon as
    /// another member suspects the same incarnation.
    pub(crate) private: bool,
    /// When this node next pings the suspect about it (see `on_suspicion_check`); a check
    /// timer firing before it belongs to a chain that was moved earlier and is ignored.
    pub(crate) check_at: Instant,
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
    /// Marks member `i` Suspect at `inc` and starts its suspicion timer; `private` for a
    /// doubt this node keeps to itself (see [`Suspicion::private`]).
    pub(super) fn suspect(
        &mut self,
        now: Instant,
        i: usize,
        inc: Incarnation,
        from: Option<NodeName>,
        private: bool,
    ) {
        let Some(was) = self.members.get(i).map(|e| e.state) else {
            return;
        };
        self.members.set(i, MemberState::Suspect, inc, now);
        let Some(name) = self.members.get(i).map(|e| e.id.name.clone()) else {
            return;
        };
        let n = self.members.active() + 1;
        let (min, max) = self.suspicion_span(n);
        let mut s = Suspicion {
            incarnation: inc,
            start: now,
            origin: from,
            confirmed_by: Vec::new(),
            expected: expected_confirmations(self.config.suspicion_mult, n),
            min,
            max,
            private,
            check_at: now,
        };
        let deadline = now + s.timeout();
        // A private doubt costs one ping a period and no incarnation bump: checked at once.
        s.check_at = if private {
            now + self.config.probe_interval
        } else {
            now + s.timeout() / 4
        };
        let check = s.check_at;
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

    /// The shortest and the longest a suspicion lasts in a cluster of `n`. The longest, for a
    /// suspicion resting on one accuser, is Lifeguard's under either rule; the evidence rule
    /// lets confirmations from healthy members buy a lower floor.
    fn suspicion_span(&self, n: usize) -> (Duration, Duration) {
        let c = &self.config;
        let swim = min_timeout(c.suspicion_mult, n, c.probe_interval);
        let max = swim * c.suspicion_max_timeout_mult;
        let min = match c.suspicion_rule {
            SuspicionRule::Lifeguard => swim,
            SuspicionRule::Evidence => min_timeout(c.confirmed_suspicion_mult, n, c.probe_interval),
        };
        (min, max)
    }

    /// Whether this node's own failed probes may accuse or confirm: always under Lifeguard's
    /// rule; under the evidence rule only while its health is good.
    pub(super) fn may_accuse(&self) -> bool {
        self.config.suspicion_rule == SuspicionRule::Lifeguard || self.awareness.may_accuse()
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
        if s.incarnation != inc {
            return false;
        }
        // Someone else doubts it too: no longer ours alone.
        if s.origin.as_ref() != Some(from) {
            s.private = false;
        }
        if s.origin.as_ref() == Some(from)
            || s.confirmed_by.len() as u32 >= s.expected
            || s.confirmed_by.contains(from)
        {
            return false;
        }
        s.confirmed_by.push(from.clone());
        let deadline = (s.start + s.timeout()).max(now);
        // The suspicion may now end within a period or two: a live suspect must hear of it in
        // time, so the checks (buddy pings) start a quarter into the shorter span, not the
        // longer one (with 30 % loss, a suspect missed every copy of its gossip for 3.4 s).
        let check = (s.start + s.timeout() / 4).max(now);
        if check < s.check_at {
            s.check_at = check;
            self.timers.schedule(
                check,
                Timer::SuspicionCheck {
                    member: name.clone(),
                    incarnation: inc,
                },
            );
        }
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

    /// Member `i`'s record as others may hear it: a private doubt is not news, so the member
    /// is passed on as Alive at the incarnation we hold.
    pub(super) fn shared_update(&self, i: usize, from: Option<NodeName>) -> Option<Update> {
        let e = self.members.get(i)?;
        let mut u = Self::entry_update(e, from);
        if u.state == MemberState::Suspect && self.is_private(&e.id.name) {
            u.state = MemberState::Alive;
            u.tags = e.id.tags.clone();
        }
        Some(u)
    }

    /// Whether this node's suspicion of `name` is a private doubt.
    pub(super) fn is_private(&self, name: &NodeName) -> bool {
        self.suspicions
            .get(name.as_str())
            .is_some_and(|s| s.private)
    }

    /// An ack from `from`: if we privately doubt the member there, it answered, so the doubt
    /// ends (nobody else heard of it, so no refutation is needed).
    pub(super) fn clear_private_doubt(&mut self, now: Instant, from: std::net::SocketAddr) {
        // Every ack comes through here; most nodes suspect nobody, and then the address lookup
        // below is wasted.
        if self.suspicions.is_empty() {
            return;
        }
        let Some(i) = self.members.find_addr(from) else {
            return;
        };
        let Some((name, inc)) = self
            .members
            .get(i)
            .filter(|e| e.state == MemberState::Suspect)
            .map(|e| (e.id.name.clone(), e.incarnation))
        else {
            return;
        };
        if !self.is_private(&name) {
            return;
        }
        self.suspicions.remove(name.as_str());
        self.members.set(i, MemberState::Alive, inc, now);
        self.emit(now, EventKind::Alive, i);
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
        let next = now + self.config.probe_interval;
        match self.suspicions.get_mut(member.as_str()) {
            Some(s) if now >= s.check_at => s.check_at = next,
            _ => return,
        }
        let Some(addr) = self.members.get(i).map(|e| e.id.addr) else {
            return;
        };
        let seq = self.next_seq();
        if self.is_private(&member) {
            self.send(
                addr,
                Message::Ping {
                    seq,
                    target: member.id(),
                },
            );
        } else {
            self.send_ping(addr, seq, &member);
        }
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
        let private = self.is_private(&member);
        // A member standing down knows its own ears are the problem: its private doubts wait
        // until it hears properly again rather than end in a verdict.
        if private && self.stood_down.is_some() {
            self.timers.schedule(
                now + self.config.probe_interval,
                Timer::SuspicionTimeout {
                    member,
                    incarnation,
                },
            );
            return;
        }
        // The suspect never heard of a private doubt, so it never had the chance to refute:
        // no verdict may come of it for others. Healthy again, this node raises it as an
        // ordinary suspicion, which the suspect hears and others time for themselves; still
        // unhealthy, it concludes for itself alone.
        if private && self.may_accuse() {
            self.suspicions.remove(member.as_str());
            self.stats.suspicions += 1;
            let me = self.local.name.clone();
            self.suspect(now, i, incarnation, Some(me.clone()), false);
            if let Some(e) = self.members.get(i) {
                let update = Self::entry_update(e, Some(me));
                self.gossip.enqueue(update);
            }
            return;
        }
        // Nor does a node whose own health went bad meanwhile end a suspicion on the strength
        // of the confirmations it counted: it waits out the full span (as Lifeguard would
        // without any), and the healthy members that hold the suspicion reach their verdicts
        // by their own timers. (At 30 % loss one such node, health 7, declared a live member
        // dead 3.4 s into a suspicion the member never heard of, and all 48 others followed.)
        let full = self
            .suspicions
            .get(member.as_str())
            .map(|s| s.start + s.max);
        if !self.may_accuse()
            && let Some(full) = full
            && now < full
        {
            self.timers.schedule(
                full,
                Timer::SuspicionTimeout {
                    member,
                    incarnation,
                },
            );
            return;
        }
        self.depart(now, i, MemberState::Dead, incarnation);
        if !private && let Some(e) = self.members.get(i) {
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
