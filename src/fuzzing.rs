//! The code each fuzz input runs, shared by the `cargo fuzz` targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs`, which replays the corpus the fuzzer kept so that CI catches a
//! regression without running the fuzzer. Not part of the API: it exists for those two.
//!
//! Each function panics when the input breaks a property (that is how a fuzzer hears of it);
//! a hostile input that is merely refused is not a failure.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::config::{Config, Profile};
use crate::member::{Incarnation, MemberState, NodeName, Tags};
use crate::proto::{Identity, Swim};
use crate::wire::{self, MAX_UPDATES, Message, Packet, Update};

/// The cluster label of the inputs that ask for one.
const LABEL: &str = "fuzz";
/// Members the fuzzed core knows before the input arrives.
const MEMBERS: u16 = 4;
/// Names a merge input can speak of: the known members, others, and (the last) the node itself.
const NAMES: u8 = 9;
/// The fuzzed core's table limit, low so that inputs reach it.
const MAX_MEMBERS: usize = 8;

/// Decodes `data` as a datagram, with and without a cluster label. Whatever decodes must
/// stay within the decoder's bounds and survive a round trip through the encoder unchanged.
pub fn decode(data: &[u8]) {
    for label in [None, Some(LABEL)] {
        let Ok(packet) = wire::decode(data, label) else {
            continue;
        };
        assert!(packet.updates.len() <= MAX_UPDATES);
        let again = wire::encode(label, &packet);
        assert_eq!(
            wire::decode(&again, label).as_ref(),
            Ok(&packet),
            "a decoded packet changes on its way through the encoder"
        );
    }
}

/// Hands `data[1..]` to a live core as one datagram, then drains it and runs its timers for
/// two seconds. `data[0]` picks the situation: bit 0 sends from a known member (else from a
/// stranger), bit 1 makes the core a joiner waiting for its seed (else a running member of
/// four), bit 2 gives the cluster a label. Every datagram is counted once, as accepted or as
/// dropped; what the core sends is well-formed and within its packet budget; its table stays
/// consistent. A running member answers a stranger with no more bytes than it sent, and
/// sends only to it or to members it knew before (a joiner, to whom everyone is a stranger,
/// may add one 8-byte pull: see `Swim::joined_via`).
pub fn datagram(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let joining = mode & 2 != 0;
    let mut core = Core::new(joining, mode & 4 != 0);
    let from = if mode & 1 != 0 {
        member_addr(0)
    } else {
        stranger()
    };
    let known: Vec<SocketAddr> = core.swim.members().iter().map(|m| m.addr).collect();
    core.swim.handle_datagram(core.now, from, bytes);
    let s = core.swim.stats();
    assert_eq!(
        s.total_packets_in() + s.total_dropped(),
        1,
        "the datagram is counted once, as accepted or dropped"
    );
    let (sent, to) = core.drain();
    if from == stranger() && !joining {
        assert!(
            sent <= bytes.len(),
            "a stranger's {} bytes were answered with {sent}",
            bytes.len()
        );
        if let Some(to) = to.iter().find(|a| **a != from && !known.contains(a)) {
            panic!("a stranger's datagram made the core send to {to}");
        }
    }
    core.run_for(Duration::from_secs(2));
    core.check();
}

/// Reads `data` as the records of a full-state sync (`data[0]`: bit 0 asks for a reply,
/// bit 1 marks a join, bit 2 sends from a stranger; then 5 bytes a record, read by `record`),
/// and merges them into a table of four members again and again. The table stays consistent
/// and within `max_members`, and the merges come to rest: a merge that changes nothing and
/// reports nothing comes within one merge per record, plus two. SWIM's precedence is a total
/// order on (incarnation, state), and every change moves a member up it (or, once its holder
/// departed, to the address a record names, once). It takes more than one merge because a
/// record can be refused on one merge and taken on a later one, once other records have moved
/// its member: news of strangers other than Alive before they are in the table, an implausible
/// jump of an incarnation, a claim on a live member's name at another address (issue 26).
/// Then the timers run for 30 s (suspicions end, departed members are forgotten) and the
/// table is still consistent.
pub fn merge(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let records: Vec<Update> = rest.chunks_exact(5).map(record).collect();
    let message = Message::Sync {
        reply: mode & 1 != 0,
        join: mode & 2 != 0,
    };
    let from = if mode & 4 != 0 {
        stranger()
    } else {
        member_addr(0)
    };
    let datagrams: Vec<Vec<u8>> = records
        .chunks(MAX_UPDATES)
        .map(|chunk| {
            let packet = Packet::new(message.clone(), chunk.to_vec());
            wire::encode(None, &packet)
        })
        .collect();
    let mut core = Core::new(false, false);
    let view = |core: &Core| {
        let mut table: Vec<_> = core
            .swim
            .members()
            .into_iter()
            .map(|m| (m.name, m.addr, m.incarnation, m.state))
            .collect();
        table.sort();
        (table, core.swim.local().incarnation)
    };
    let mut at_rest = false;
    for _ in 0..records.len() + 2 {
        let before = view(&core);
        core.events = 0;
        for d in &datagrams {
            core.swim.handle_datagram(core.now, from, d);
        }
        core.drain();
        core.check();
        if core.events == 0 && view(&core) == before {
            at_rest = true;
            break;
        }
    }
    assert!(
        at_rest,
        "merging the same records again and again never comes to rest"
    );
    core.run_for(Duration::from_secs(30));
    core.check();
}

/// One record from 5 bytes: the name (one of [`NAMES`], the last being the node itself), the
/// address (one of eight, shared with the known members), the incarnation (small, or near
/// `u32::MAX` when its high byte is 0xff), then state, tags and who raised it, packed.
fn record(b: &[u8]) -> Update {
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    let member = name(byte(0) % NAMES);
    let inc = match u16::from_le_bytes([byte(2), byte(3)]) {
        x if x >> 8 == 0xff => u32::MAX - u32::from(x & 0xff),
        x => u32::from(x),
    };
    let packed = byte(4);
    let state = match packed & 3 {
        0 => MemberState::Alive,
        1 => MemberState::Suspect,
        2 => MemberState::Dead,
        _ => MemberState::Left,
    };
    let tags = match (packed >> 2) & 3 {
        0 => Tags::default(),
        1 => tags_of(&[("role", "a")]),
        2 => tags_of(&[("role", "b"), ("zone", "1")]),
        _ => tags_of(&[("blob", &"x".repeat(crate::member::MAX_TAGS_LEN - 4))]),
    };
    let from = match packed >> 4 {
        0 => None,
        k => Some(name((k - 1) % NAMES)),
    };
    Update {
        name: member,
        addr: SocketAddr::from(([127, 0, 0, 1], 7000 + u16::from(byte(1) % 8))),
        incarnation: Incarnation(inc),
        state,
        tags,
        from,
    }
}

fn name(i: u8) -> NodeName {
    let text = if i == NAMES - 1 {
        "me".to_string()
    } else {
        format!("m{i}")
    };
    NodeName::new(&text).unwrap_or_else(|e| unreachable!("{text}: {e}"))
}

fn tags_of(pairs: &[(&str, &str)]) -> Tags {
    Tags::new(pairs.iter().copied()).unwrap_or_else(|e| unreachable!("{pairs:?}: {e}"))
}

fn member_addr(i: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + i))
}

fn stranger() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9999))
}

/// One epoch for every input, so that an input replays the same way.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    // The fake clock's starting point: only offsets from it matter.
    #[allow(clippy::disallowed_methods)]
    *EPOCH.get_or_init(Instant::now)
}

/// A core under a fake clock, and what it has said so far.
struct Core {
    swim: Swim,
    now: Instant,
    label: Option<&'static str>,
    budget: usize,
    events: usize,
    buf: Vec<u8>,
}

impl Core {
    /// A running node ("me", lan profile, fixed seed) that knows members m0..m3, or a joiner
    /// whose seed is m0's address. Departed members are forgotten after 20 s, so that a run
    /// of a few hundred timers sees the whole life of a record.
    fn new(joining: bool, labelled: bool) -> Self {
        let now = epoch();
        let mut config = Config::new(Profile::Lan, "me", SocketAddr::from(([127, 0, 0, 1], 7946)));
        config.max_members = MAX_MEMBERS;
        config.dead_node_reclaim = Duration::from_secs(20);
        let label = labelled.then_some(LABEL);
        config.cluster_label = label.map(str::to_string);
        let budget = config.packet_budget;
        let mut swim = Swim::new(config, 0x5eed, now).unwrap_or_else(|e| unreachable!("{e}"));
        if joining {
            swim.join(now, &[member_addr(0)]);
        } else {
            let members = (0..MEMBERS).map(|i| {
                Arc::new(Identity {
                    name: name(i as u8),
                    addr: member_addr(i),
                    tags: Tags::default(),
                })
            });
            swim.bootstrap(now, members);
            swim.join(now, &[]);
        }
        let mut core = Core {
            swim,
            now,
            label,
            budget,
            events: 0,
            buf: Vec::new(),
        };
        // The join request (or nothing) goes out before the input arrives.
        core.drain();
        core
    }

    /// Takes every datagram and event the core has; checks each datagram. Returns the bytes
    /// sent and where they went.
    fn drain(&mut self) -> (usize, Vec<SocketAddr>) {
        let budget = self.budget;
        let mut bytes = 0;
        let mut sent = Vec::new();
        while let Some(to) = self.swim.poll_transmit(&mut self.buf) {
            assert!(
                self.buf.len() <= budget,
                "a datagram of {} bytes to {to}, budget {budget}",
                self.buf.len()
            );
            if let Err(e) = wire::decode(&self.buf, self.label) {
                panic!("the core sent a datagram it cannot read itself: {e}");
            }
            bytes += self.buf.len();
            sent.push(to);
            assert!(
                sent.len() <= 10_000,
                "one input makes the core send without end"
            );
        }
        while self.swim.poll_event().is_some() {
            self.events += 1;
        }
        (bytes, sent)
    }

    /// Runs the core's timers for `d` of virtual time, draining after each.
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..100_000 {
            match self.swim.poll_timeout() {
                Some(next) if next <= end => {
                    self.now = self.now.max(next);
                    self.swim.handle_timeout(self.now);
                    self.drain();
                }
                _ => return,
            }
        }
        panic!("the timers do not advance");
    }

    fn check(&self) {
        if let Err(e) = self.swim.check_invariants() {
            panic!("inconsistent core: {e}");
        }
    }
}
