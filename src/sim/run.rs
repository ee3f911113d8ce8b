//! The event loop: the earlier of the next deadline and the next delivery, one at a time.

use std::cmp::Reverse;
use std::time::Duration;

use super::{
    Delivery, HOLD_LIMIT, MAX_STEPS_WITHOUT_PROGRESS, MAX_TRANSMITS_PER_INPUT, NodeState,
    PULSE_STEPS, Sim, SimError, SimEvent, Verdict, addr_of, index_of,
};

/// How much virtual time [`Sim::run_watching`] runs between two clearings of the event log.
/// At 10,000 members and 20 % loss the cores report ~14 million Suspected and Alive events a
/// virtual second, ~400 MB of log at one second a chunk; 10 ms keeps it to a few MB, and a
/// chunk costs one extra check of the condition.
const WATCH_CHUNK_NS: u64 = 10_000_000;

impl Sim {
    // ---- running ----
    /// Processes the earliest pending deadline or delivery; returns false when nothing is left
    /// to do.
    pub fn step(&mut self) -> bool {
        let next_timer = self.timers.peek().map(|Reverse((t, _))| *t);
        let next_delivery = self.deliveries.peek().map(|Reverse(d)| d.at);
        match (next_timer, next_delivery) {
            (None, None) => false,
            (Some(t), Some(d)) if d <= t => self.deliver_next(),
            (_, Some(_)) if next_timer.is_none() => self.deliver_next(),
            _ => self.fire_next_timer(),
        }
    }

    /// When the next step would happen, if anything is pending.
    pub fn next_at(&self) -> Option<Duration> {
        let t = self.timers.peek().map(|Reverse((t, _))| *t);
        let d = self.deliveries.peek().map(|Reverse(d)| d.at);
        let next = match (t, d) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(Duration::from_nanos)
    }

    /// Runs until `pred` holds (checked before the first step and after each one) or `max`
    /// of virtual time has passed; returns how long it took.
    pub fn run_until(
        &mut self,
        max: Duration,
        mut pred: impl FnMut(&Sim) -> bool,
    ) -> Result<Duration, SimError> {
        let start = self.now;
        let limit = start.saturating_add(max.as_nanos() as u64);
        let mut last_now = self.now;
        let mut still = 0u64;
        // A watched run's 10 ms chunks are each shorter than a pulse: its count runs on.
        if self.watch_limit.is_none() {
            self.next_pulse = self.steps + PULSE_STEPS;
        }
        loop {
            if pred(self) {
                return Ok(Duration::from_nanos(self.now - start));
            }
            let Some(next) = self.next_at() else {
                return Err(SimError::Idle { at: self.now() });
            };
            if next.as_nanos() as u64 > limit {
                self.now = limit;
                return Err(SimError::Timeout {
                    waited: max,
                    at: self.now(),
                });
            }
            self.step();
            if self.steps >= self.next_pulse {
                self.next_pulse = self.steps + PULSE_STEPS;
                self.pulse(self.watch_limit.unwrap_or(limit));
            }
            if self.now == last_now {
                still += 1;
                if still > MAX_STEPS_WITHOUT_PROGRESS {
                    return Err(SimError::Livelock { at: self.now() });
                }
            } else {
                last_now = self.now;
                still = 0;
            }
        }
    }

    /// Like [`run_until`](Self::run_until), but the condition reads events: `watch` is handed
    /// the events recorded since its last call (first: the whole log), and the log is forgotten
    /// every 10 ms of virtual time and on return, so a long run under loss (millions of
    /// Suspected and Alive events at 10,000 nodes) keeps it bounded. The run itself is the
    /// same as with `run_until`.
    pub fn run_watching(
        &mut self,
        max: Duration,
        mut watch: impl FnMut(&[SimEvent]) -> bool,
    ) -> Result<Duration, SimError> {
        let start = self.now;
        let limit = start.saturating_add(max.as_nanos() as u64);
        let mut cursor = 0;
        // Pulses report the watched run's bound, not the current second's.
        self.watch_limit = Some(limit);
        self.next_pulse = self.steps + PULSE_STEPS;
        let outcome = loop {
            let chunk = Duration::from_nanos(WATCH_CHUNK_NS.min(limit - self.now));
            let outcome = self.run_until(chunk, |s| {
                let new = s.events.get(cursor..).unwrap_or_default();
                cursor = s.events.len();
                watch(new)
            });
            self.events.clear();
            cursor = 0;
            match outcome {
                Ok(_) => break Ok(Duration::from_nanos(self.now - start)),
                Err(SimError::Timeout { .. }) if self.now < limit => continue,
                Err(SimError::Timeout { .. }) => {
                    break Err(SimError::Timeout {
                        waited: max,
                        at: self.now(),
                    });
                }
                Err(e) => break Err(e),
            }
        };
        self.watch_limit = None;
        outcome
    }

    /// Runs for `d` of virtual time (everything due by then happens); the clock ends at
    /// exactly `now + d`.
    pub fn run_for(&mut self, d: Duration) -> Result<(), SimError> {
        match self.run_until(d, |_| false) {
            Err(SimError::Timeout { .. }) | Ok(_) => Ok(()),
            Err(SimError::Idle { .. }) => {
                self.now = self.now.saturating_add(d.as_nanos() as u64);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn fire_next_timer(&mut self) -> bool {
        let Some(Reverse((t, i))) = self.timers.pop() else {
            return false;
        };
        let i = i as usize;
        let Some(slot) = self.slots.get_mut(i) else {
            return true;
        };
        if slot.deadline != Some(t) {
            return true; // stale: the node's deadline moved since this entry was pushed
        }
        slot.deadline = None;
        self.now = self.now.max(t);
        self.steps += 1;
        let now = self.epoch + Duration::from_nanos(self.now);
        match slot.state {
            NodeState::Crashed => return true,
            NodeState::Paused { until, .. } => {
                if (until.as_nanos() as u64) > self.now {
                    return true;
                }
                slot.state = NodeState::Up;
                let held = std::mem::take(&mut slot.held);
                for (from, bytes) in held {
                    if let Some(slot) = self.slots.get_mut(i) {
                        slot.swim
                            .handle_datagram(now, addr_of(from as usize), &bytes);
                    }
                    self.pool.push(bytes);
                    self.after_input(i);
                }
            }
            NodeState::Up => {}
        }
        if let Some(slot) = self.slots.get_mut(i) {
            slot.swim.handle_timeout(now);
        }
        self.after_input(i);
        true
    }

    fn deliver_next(&mut self) -> bool {
        let Some(Reverse(d)) = self.deliveries.pop() else {
            return false;
        };
        self.now = self.now.max(d.at);
        self.steps += 1;
        self.trace.delivery(&d);
        let to = d.to as usize;
        let Some(slot) = self.slots.get_mut(to) else {
            self.pool.push(d.bytes);
            return true;
        };
        match slot.state {
            NodeState::Crashed | NodeState::Paused { hold: false, .. } => {
                self.net.dropped_down();
                self.pool.push(d.bytes);
            }
            NodeState::Paused { hold: true, .. } => {
                if slot.held.len() < HOLD_LIMIT {
                    slot.held.push((d.from, d.bytes));
                } else {
                    self.net.dropped_down();
                    self.pool.push(d.bytes);
                }
            }
            NodeState::Up => {
                self.net.delivered();
                let now = self.epoch + Duration::from_nanos(self.now);
                slot.swim
                    .handle_datagram(now, addr_of(d.from as usize), &d.bytes);
                self.pool.push(d.bytes);
                self.after_input(to);
            }
        }
        true
    }

    /// After any input to node `i`: send what it wants sent, record what it observed, and
    /// put its next deadline in the heap if that changed.
    pub(super) fn after_input(&mut self, i: usize) {
        let n = self.slots.len();
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        for _ in 0..MAX_TRANSMITS_PER_INPUT {
            let mut buf = self.pool.pop().unwrap_or_default();
            let Some(to) = slot.swim.poll_transmit(&mut buf) else {
                self.pool.push(buf);
                break;
            };
            let Some(j) = index_of(to, n) else {
                self.pool.push(buf);
                continue;
            };
            match self.net.judge(i, j, buf.len()) {
                Verdict::Deliver(latency) => {
                    self.seq += 1;
                    self.deliveries.push(Reverse(Delivery {
                        at: self.now + latency.as_nanos() as u64,
                        seq: self.seq,
                        from: i as u32,
                        to: j as u32,
                        bytes: buf,
                    }));
                }
                Verdict::Lost | Verdict::Blocked => self.pool.push(buf),
            }
        }
        while let Some(e) = slot.swim.poll_event() {
            let Some(member) = index_of(e.member.addr, n) else {
                continue;
            };
            let ev = SimEvent {
                at: Duration::from_nanos(self.now),
                node: i as u32,
                kind: e.kind,
                member: member as u32,
                incarnation: e.member.incarnation.0,
            };
            self.trace.event(&ev);
            if self.record_events {
                self.events.push(ev);
            }
        }
        if slot.state == NodeState::Up {
            let deadline = slot
                .swim
                .poll_timeout()
                .map(|t| (t.saturating_duration_since(self.epoch).as_nanos() as u64).max(self.now));
            if deadline != slot.deadline {
                slot.deadline = deadline;
                if let Some(t) = deadline {
                    self.timers.push(Reverse((t, i as u32)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::sim::SimConfig;

    /// A watched run sees every event once, keeps at most 10 ms' worth of them, and runs
    /// exactly as `run_until` does.
    #[test]
    fn a_watched_run_forgets_its_log_and_runs_the_same() {
        let sim = || {
            let mut c = SimConfig::new(30, Profile::Lan, 9);
            c.loss = 0.3;
            Sim::formed(c).unwrap()
        };
        let limit = Duration::from_secs(30);
        let mut plain = sim();
        let _ = plain.run_until(limit, |_| false);
        let mut watched = sim();
        let (mut seen, mut most) = (0usize, 0usize);
        let outcome = watched.run_watching(limit, |events| {
            seen += events.len();
            false
        });
        most = most.max(watched.events().len());
        assert!(
            matches!(outcome, Err(SimError::Timeout { .. })),
            "{outcome:?}"
        );
        assert_eq!(watched.trace_hash(), plain.trace_hash());
        assert_eq!(watched.now(), plain.now());
        let total = plain.events().len();
        assert!(total > 100 && seen == total, "{seen} of {total}");
        assert_eq!(most, 0, "forgotten on return");
    }
}
