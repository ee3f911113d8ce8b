//! What can be done to the simulated nodes (join, leave, tags, user events, crash, pause,
//! restart) and what can be seen of them.

use std::net::SocketAddr;
use std::time::Duration;

use super::network::Network;
use super::{NodeState, Sim, SimConfig, SimEvent, addr_of};
use crate::error::{BroadcastError, ConfigError};
use crate::event::LamportTime;
use crate::member::Tags;
use crate::proto::{Status, Swim};
use std::cmp::Reverse;

impl Sim {
    /// Node `i` joins the cluster through `seeds` (node indices).
    pub fn join(&mut self, i: usize, seeds: &[usize]) {
        let seeds: Vec<SocketAddr> = seeds.iter().map(|&s| addr_of(s)).collect();
        let now = self.instant();
        if let Some(slot) = self.slots.get_mut(i) {
            slot.swim.join(now, &seeds);
        }
        self.after_input(i);
    }

    /// Node 0 starts the cluster and every other node joins through it, all at the current
    /// virtual time. Run the simulation afterwards for the joins to happen.
    pub fn join_all(&mut self) {
        self.join(0, &[]);
        for i in 1..self.slots.len() {
            self.join(i, &[0]);
        }
    }

    /// Node `i` leaves gracefully (it keeps being driven until its core says `Left`).
    pub fn leave(&mut self, i: usize) {
        let now = self.instant();
        if let Some(slot) = self.slots.get_mut(i) {
            slot.swim.leave(now);
        }
        self.after_input(i);
    }

    /// Node `i` changes its tags (gossiped with a new incarnation).
    pub fn set_tags(&mut self, i: usize, tags: Tags) {
        let now = self.instant();
        if let Some(slot) = self.slots.get_mut(i) {
            slot.swim.set_tags(now, tags);
        }
        self.after_input(i);
    }

    /// Node `i` broadcasts a user event (see [`Swim::broadcast`]); every node that delivers it
    /// records one [`EventKind::User`](crate::EventKind::User) event whose `member` is `i`.
    pub fn broadcast(
        &mut self,
        i: usize,
        name: &str,
        payload: &[u8],
    ) -> Result<LamportTime, BroadcastError> {
        let now = self.instant();
        let result = match self.slots.get_mut(i) {
            Some(slot) => slot.swim.broadcast(now, name, payload),
            None => Err(BroadcastError::NotRunning),
        };
        self.after_input(i);
        result
    }

    /// Node `i` crashes: no more timers, datagrams to it are dropped. Nothing is said to anyone.
    pub fn crash(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.state = NodeState::Crashed;
            slot.deadline = None;
            for (_, bytes) in slot.held.drain(..) {
                self.pool.push(bytes);
            }
        }
    }

    /// Node `i` stops processing for `d` (a GC pause, a stopped VM): its timers wait, and what
    /// arrives meanwhile is held and delivered on resume (`hold`) or dropped. On resume it
    /// handles the held datagrams, then its overdue timers, as a real process would.
    pub fn pause(&mut self, i: usize, d: Duration, hold: bool) {
        let until = self.now.saturating_add(d.as_nanos() as u64);
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.state == NodeState::Crashed {
                return;
            }
            slot.state = NodeState::Paused {
                until: Duration::from_nanos(until),
                hold,
            };
            slot.deadline = Some(until);
            self.timers.push(Reverse((until, i as u32)));
        }
    }

    /// Node `i` starts again from scratch (a new core, same name and address, a fresh seed)
    /// and joins through `seeds`. Its incarnation starts at 0; the protocol makes it refute
    /// whatever the cluster remembers about its previous life.
    pub fn restart(&mut self, i: usize, seeds: &[usize]) -> Result<(), ConfigError> {
        if i >= self.slots.len() {
            return Ok(());
        }
        let swim = self.make_core(i)?;
        if let Some(slot) = self.slots.get_mut(i) {
            slot.swim = swim;
            slot.state = NodeState::Up;
            slot.deadline = None;
            for (_, bytes) in slot.held.drain(..) {
                self.pool.push(bytes);
            }
        }
        self.join(i, seeds);
        Ok(())
    }

    // ---- views ----

    /// Number of nodes (crashed ones included).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True for a simulation of no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Node `i`'s core.
    pub fn node(&self, i: usize) -> Option<&Swim> {
        self.slots.get(i).map(|s| &s.swim)
    }

    /// Node `i`'s state in the simulation.
    pub fn state(&self, i: usize) -> Option<NodeState> {
        self.slots.get(i).map(|s| s.state)
    }

    /// True when node `i` is up and its core is running (joined, not left).
    pub fn is_running(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| s.state == NodeState::Up && s.swim.status() == Status::Running)
    }

    /// Every core, in node order.
    pub fn cores(&self) -> impl Iterator<Item = &Swim> {
        self.slots.iter().map(|s| &s.swim)
    }

    /// The network, to read its counters.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// The network, to partition it, cut links or change loss and latency.
    pub fn net_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// The configuration the simulation was built from.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Events recorded since the last [`clear_events`](Self::clear_events), oldest first.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    /// Forgets the recorded events (the counts and the trace hash keep them).
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Whether to keep events in [`events`](Self::events) (on by default). Long runs that only
    /// need [`event_count`](Self::event_count) turn it off to save memory.
    pub fn set_record_events(&mut self, on: bool) {
        self.record_events = on;
    }

    /// Deadlines fired and datagrams delivered so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}
