//! Membership and user events and once-a-second node samples, folded into the [`App`].

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use rumor::{Event, Snapshot};

use super::Action;
use super::state::{
    App, EVENT_LOG_LEN, FORGET_AFTER, Fault, HISTORY_LEN, HistoryEntry, MemberRow, Rate,
    TRAFFIC_LEN, push_bounded,
};
use crate::input::UiEvent;

impl App {
    /// Applies one input observed at `now`; returns what the node(s) should do, if anything.
    pub fn handle(&mut self, now: Instant, event: UiEvent) -> Option<Action> {
        self.advance(now);
        match event {
            UiEvent::Key(key) => self.handle_key(key),
            UiEvent::Node(event) => {
                self.handle_event(event);
                None
            }
            UiEvent::Resize(..) | UiEvent::Tick => None,
        }
    }

    /// Folds one membership event into the table, the member's history and the event log; a
    /// user event goes to the event log only (it changes nobody's state).
    pub fn handle_event(&mut self, event: Event) {
        if event.user.is_some() {
            push_bounded(&mut self.events, event, EVENT_LOG_LEN);
            return;
        }
        let name = event.member.name.clone();
        let entry = HistoryEntry {
            at: event.at,
            kind: event.kind,
            state: event.member.state,
            incarnation: event.member.incarnation,
        };
        let is_local = name == self.local_name;
        let row = self.members.entry(name).or_insert_with(|| MemberRow {
            member: event.member.clone(),
            history: VecDeque::new(),
            is_local,
            fault: None,
        });
        if !is_local {
            // The local row keeps its own RTT-less snapshot; others take the event's.
            row.member = event.member.clone();
        } else {
            row.member.incarnation = event.member.incarnation;
            row.member.state = event.member.state;
            row.member.since = event.member.since;
        }
        if row.fault == Some(Fault::Restarting) && event.member.state.is_active() {
            row.fault = None;
        }
        push_bounded(&mut row.history, entry, HISTORY_LEN);
        push_bounded(&mut self.events, event, EVENT_LOG_LEN);
    }

    /// Takes the once-a-second sample: traffic rates, RTTs, the local node, and anything the
    /// events did not say (the node's table is the truth; events only tell the story).
    pub fn handle_sample(&mut self, now: Instant, sample: Snapshot) {
        self.advance(now);
        if let Some((then, prev)) = &self.last_sample {
            let secs = now.saturating_duration_since(*then).as_secs_f64();
            if secs > 0.0 {
                let per_sec =
                    |cur: u64, old: u64| (cur.saturating_sub(old) as f64 / secs).round() as u64;
                let rate = Rate {
                    packets_in: per_sec(sample.stats.total_packets_in(), prev.total_packets_in()),
                    packets_out: per_sec(
                        sample.stats.total_packets_out(),
                        prev.total_packets_out(),
                    ),
                    bytes_in: per_sec(sample.stats.total_bytes_in(), prev.total_bytes_in()),
                    bytes_out: per_sec(sample.stats.total_bytes_out(), prev.total_bytes_out()),
                    packets_out_by_kind: std::array::from_fn(|i| {
                        per_sec(sample.stats.packets_out[i], prev.packets_out[i])
                    }),
                };
                push_bounded(&mut self.traffic, rate, TRAFFIC_LEN);
            }
        }
        super::spread::keep_heard(&mut self.heard, sample.heard);
        self.last_sample = Some((now, sample.stats.clone()));
        self.stats = sample.stats;
        self.health = sample.health;

        if let Some(row) = self.members.get_mut(&self.local_name) {
            row.member = sample.local;
        }
        let mut seen = BTreeSet::new();
        for member in sample.members {
            seen.insert(member.name.clone());
            match self.members.get_mut(&member.name) {
                Some(row) => row.member = member,
                None => {
                    let name = member.name.clone();
                    self.members.insert(
                        name,
                        MemberRow {
                            member,
                            history: VecDeque::new(),
                            is_local: false,
                            fault: None,
                        },
                    );
                }
            }
        }
        let now = self.now;
        self.members.retain(|name, row| {
            row.is_local
                || seen.contains(name)
                || row.member.state.is_active()
                || row.fault.is_some()
                || now.saturating_duration_since(row.member.since) < FORGET_AFTER
        });
    }
}
