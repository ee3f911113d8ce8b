//! A harness for core scenarios: one [`Swim`] under a fake clock, with scripted peers.
//!
//! Peers are plain addresses; the harness decodes what the core sends, and can answer pings
//! for the peers marked responsive so that only the member under test looks silent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Status, Swim};
use crate::config::{Config, Profile};
use crate::event::{Event, EventKind, LamportTime, UserEvent};
use crate::member::{Incarnation, MemberState, NodeName, Tags};
use crate::wire::{self, Message, Packet, Update, UserBody, UserRecord, UserSection};

pub(crate) const ME: &str = "me";

pub(crate) fn my_addr() -> SocketAddr {
    "127.0.0.1:1000".parse().unwrap()
}

pub(crate) fn peer_name(i: usize) -> NodeName {
    NodeName::new(&format!("p{i}")).unwrap()
}

pub(crate) fn peer_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2000 + i as u16))
}

pub(crate) fn alive(i: usize, inc: u32) -> Update {
    Update {
        name: peer_name(i),
        addr: peer_addr(i),
        incarnation: Incarnation(inc),
        state: MemberState::Alive,
        tags: Tags::default(),
        from: None,
    }
}

/// A user event from peer `i` at Lamport time `t`, with `payload` (or remembered only).
pub(crate) fn user_event(i: usize, t: u64, payload: Option<&[u8]>) -> UserRecord {
    UserRecord {
        origin: peer_name(i),
        ltime: LamportTime(t),
        body: payload.map(|p| {
            Arc::new(UserBody {
                addr: peer_addr(i),
                name: format!("ev{t}"),
                payload: p.to_vec(),
            })
        }),
    }
}

pub(crate) fn with_state(mut u: Update, state: MemberState, from: Option<usize>) -> Update {
    u.state = state;
    u.from = from.map(peer_name);
    u
}

pub(crate) struct Harness {
    pub(crate) swim: Swim,
    pub(crate) now: Instant,
    /// Everything the core sent, decoded, oldest first.
    pub(crate) sent: Vec<(SocketAddr, Packet)>,
    /// Raw sizes of what the core sent.
    pub(crate) sizes: Vec<usize>,
    /// Peers that answer direct pings at once.
    pub(crate) responsive: HashSet<SocketAddr>,
    events: Vec<Event>,
}

impl Harness {
    /// A running node with the lan profile and no members.
    pub(crate) fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub(crate) fn with_config(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(Profile::Lan, ME, my_addr());
        tweak(&mut config);
        Self::started(config, 7, &[])
    }

    /// A node that has just asked `seeds` to let it join (lan profile).
    pub(crate) fn joining(seeds: &[SocketAddr]) -> Self {
        Self::started(Config::new(Profile::Lan, ME, my_addr()), 1, seeds)
    }

    fn started(config: Config, seed: u64, seeds: &[SocketAddr]) -> Self {
        let now = crate::test_epoch();
        let mut swim = Swim::new(config, seed, now).unwrap();
        swim.join(now, seeds);
        Harness {
            swim,
            now,
            sent: Vec::new(),
            sizes: Vec::new(),
            responsive: HashSet::new(),
            events: Vec::new(),
        }
    }

    /// A running node that knows peers 1..=n, all answering pings.
    pub(crate) fn with_peers(n: usize) -> Self {
        let mut h = Self::new();
        h.add_peers(1..=n);
        h
    }

    pub(crate) fn add_peers(&mut self, range: std::ops::RangeInclusive<usize>) {
        // Each peer introduces itself from its own address, so the table holds them verified
        // (a stranger's datagram may add only its sender).
        for i in range.clone() {
            self.deliver(peer_addr(i), Message::Gossip, vec![alive(i, 0)]);
        }
        for i in range {
            self.responsive.insert(peer_addr(i));
        }
        self.take_events();
        self.sent.clear();
    }

    pub(crate) fn deliver(&mut self, from: SocketAddr, message: Message, updates: Vec<Update>) {
        let bytes = wire::encode(None, &Packet::new(message, updates));
        self.swim.handle_datagram(self.now, from, &bytes);
        self.flush();
    }

    /// Delivers `records` from `from` in a datagram of `message`, with the sender's `clock`.
    pub(crate) fn deliver_events(
        &mut self,
        from: SocketAddr,
        message: Message,
        clock: u64,
        records: Vec<UserRecord>,
    ) {
        let packet = Packet {
            message,
            updates: vec![],
            user: Some(UserSection {
                clock: LamportTime(clock),
                records,
            }),
        };
        self.swim
            .handle_datagram(self.now, from, &wire::encode(None, &packet));
        self.flush();
    }

    /// What the node says about its table in its ack to a ping from peer 1 (the sent log is
    /// cleared first).
    pub(crate) fn ack_digest(&mut self) -> Option<[u8; 4]> {
        let target = self.swim.local_id;
        self.sent.clear();
        self.deliver(peer_addr(1), Message::Ping { seq: 7, target }, vec![]);
        match self.sent.first().map(|(_, p)| &p.message) {
            Some(Message::Ack { digest, .. }) => *digest,
            other => panic!("expected an ack, got {other:?}"),
        }
    }

    /// The user events reported since the last take, oldest first.
    pub(crate) fn take_user_events(&mut self) -> Vec<UserEvent> {
        self.take_events()
            .into_iter()
            .filter(|e| e.kind == EventKind::User)
            .filter_map(|e| e.user)
            .collect()
    }

    /// Every user event record sent since the start: (to, Lamport time, carried a payload).
    pub(crate) fn sent_events(&self) -> Vec<(SocketAddr, u64, bool)> {
        self.sent
            .iter()
            .flat_map(|(to, p)| {
                p.user
                    .iter()
                    .flat_map(|u| u.records.iter())
                    .map(move |r| (*to, r.ltime.0, r.body.is_some()))
            })
            .collect()
    }

    /// Moves the clock forward by `d`, firing every deadline on the way.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        let mut steps = 0;
        while let Some(next) = self.swim.poll_timeout() {
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            self.swim.handle_timeout(self.now);
            self.flush();
            steps += 1;
            assert!(steps < 1_000_000, "timers do not advance");
        }
        self.now = end;
        self.swim.handle_timeout(self.now);
        self.flush();
    }

    /// Advances until `pred` holds on a newly sent packet; returns it.
    pub(crate) fn advance_until_sent(
        &mut self,
        limit: Duration,
        pred: impl Fn(&SocketAddr, &Packet) -> bool,
    ) -> (SocketAddr, Packet) {
        let start = self.sent.len();
        let step = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        while waited <= limit {
            if let Some(hit) = self.sent[start..].iter().find(|(a, p)| pred(a, p)) {
                return hit.clone();
            }
            self.advance(step);
            waited += step;
        }
        panic!("nothing matching was sent within {limit:?}");
    }

    /// Drains the core's outputs; answers pings to responsive peers.
    pub(crate) fn flush(&mut self) {
        let mut buf = Vec::new();
        let mut answers = Vec::new();
        while let Some(to) = self.swim.poll_transmit(&mut buf) {
            assert!(
                buf.len() <= 1400 || buf.len() <= self.budget(),
                "datagram over budget"
            );
            let packet = wire::decode(&buf, None).expect("the core sends valid datagrams");
            if let Message::Ping { seq, .. } = packet.message
                && self.responsive.contains(&to)
            {
                answers.push((to, seq));
            }
            self.sizes.push(buf.len());
            self.sent.push((to, packet));
        }
        while let Some(e) = self.swim.poll_event() {
            self.events.push(e);
        }
        for (from, seq) in answers {
            self.deliver(from, Message::Ack { seq, digest: None }, vec![]);
        }
    }

    fn budget(&self) -> usize {
        self.swim.config.packet_budget
    }

    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub(crate) fn events_about(&mut self, name: &NodeName) -> Vec<EventKind> {
        self.take_events()
            .into_iter()
            .filter(|e| &e.member.name == name)
            .map(|e| e.kind)
            .collect()
    }

    pub(crate) fn state_of(&self, i: usize) -> Option<(MemberState, Incarnation)> {
        let name = peer_name(i);
        self.swim
            .members()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| (m.state, m.incarnation))
    }

    pub(crate) fn status(&self) -> Status {
        self.swim.status()
    }

    /// Gossip datagrams sent so far that carry `state` about peer `i`.
    pub(crate) fn gossip_about(&self, i: usize, state: MemberState) -> usize {
        self.sent
            .iter()
            .filter(|(_, p)| {
                p.message == Message::Gossip
                    && p.updates
                        .iter()
                        .any(|u| u.name == peer_name(i) && u.state == state)
            })
            .count()
    }

    /// Every update sent since the start, in order.
    pub(crate) fn sent_updates(&self) -> impl Iterator<Item = &Update> {
        self.sent.iter().flat_map(|(_, p)| p.updates.iter())
    }
}
