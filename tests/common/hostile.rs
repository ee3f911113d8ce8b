//! Hostile datagrams, generated from a seeded RNG: random bytes, valid datagrams truncated,
//! bit-flipped or with lying length prefixes, and validly framed datagrams whose fields are
//! absurd. Shared by the in-process tests (tests/wire_hostile.rs) and the real-UDP flood
//! (tests/udp_cluster.rs).

use std::net::SocketAddr;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::SmallRng;
use rumor::wire::{self, Message, Packet, Update, UserBody, UserRecord, UserSection};
use rumor::{Incarnation, LamportTime, MemberState, NodeName, Tags};

fn update(i: usize, state: MemberState) -> Update {
    Update {
        name: NodeName::new(&format!("member-{i}")).unwrap(),
        addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)),
        incarnation: Incarnation(i as u32),
        state,
        tags: Tags::new([("zone", "a")]).unwrap(),
        from: Some(NodeName::new("n0").unwrap()),
    }
}

/// User events of every shape: with a payload (empty or not), and remembered only.
fn user_section(k: usize) -> UserSection {
    let records = (0..k)
        .map(|i| UserRecord {
            origin: NodeName::new(&format!("member-{i}")).unwrap(),
            ltime: LamportTime(i as u64 * 1000),
            body: (i % 3 != 2).then(|| {
                Arc::new(UserBody {
                    addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)),
                    name: format!("deploy-{i}"),
                    payload: vec![i as u8; i * 40],
                })
            }),
        })
        .collect();
    UserSection {
        clock: LamportTime(k as u64 * 1000 + 1),
        records,
    }
}

fn every_kind() -> [Message; 8] {
    let target = NodeName::new("me").unwrap();
    [
        Message::Ping {
            seq: 1,
            target: target.id(),
        },
        Message::PingReq {
            seq: 2,
            target: target.id(),
            addr: "127.0.0.1:9".parse().unwrap(),
        },
        Message::Ack {
            seq: 3,
            digest: None,
        },
        Message::Ack {
            seq: 4,
            digest: Some([1, 2, 3, 4]),
        },
        Message::Nack { seq: 4 },
        Message::Gossip,
        Message::Sync {
            reply: true,
            join: true,
        },
        Message::Digest { digest: [5; 8] },
    ]
}

/// Valid datagrams of every message kind, to mutate. With `updates`, each also with user
/// events, and the k-th carries 3k updates about members named `member-i` at 127.0.0.1, in
/// every state. Without, a mutation cannot make up a member (whose address a flipped bit could
/// take off loopback).
pub(crate) fn corpus(updates: bool) -> Vec<Vec<u8>> {
    let states = [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ];
    every_kind()
        .into_iter()
        .enumerate()
        .flat_map(|(k, message)| {
            let n = if updates { k * 3 } else { 0 };
            let updates: Vec<_> = (0..n).map(|i| update(i, states[i % 4])).collect();
            let plain = Packet::new(message.clone(), updates.clone());
            let with_events = Packet {
                message,
                updates,
                user: Some(user_section(k)),
            };
            // Events name an origin's address too: only where updates may make up members.
            let mut datagrams = vec![wire::encode(None, &plain)];
            if n > 0 {
                datagrams.push(wire::encode(None, &with_events));
            }
            datagrams
        })
        .collect()
}

/// `base` with one mutation: bytes changed, cut short, extended, a huge or a plausible but
/// large length prefix inserted, or a byte removed.
pub(crate) fn mutate(rng: &mut SmallRng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => b.truncate(rng.random_range(0..b.len())),
        2 => {
            let extra: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            b.extend(extra);
        }
        3 => {
            // A length prefix that claims the world: bincode's varint marker for a u64.
            let i = rng.random_range(4..b.len().max(5)).min(b.len());
            b.splice(i..i, [253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        }
        4 => {
            // A plausible but large length (1 to 16 MiB) where a length may stand.
            let i = rng.random_range(4..b.len().max(5)).min(b.len());
            let len: u32 = rng.random_range(1 << 20..1 << 24);
            let mut prefix = vec![252];
            prefix.extend_from_slice(&len.to_le_bytes());
            b.splice(i..i, prefix);
        }
        _ => {
            let i = rng.random_range(0..b.len());
            b.remove(i);
        }
    }
    b
}

/// Up to 1500 random bytes; half of them behind a valid header, so that the body decoder is
/// reached and not just the magic check.
pub(crate) fn random_bytes(rng: &mut SmallRng) -> Vec<u8> {
    let len = rng.random_range(0..1500);
    let mut b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    if rng.random_bool(0.5) && b.len() >= 4 {
        b[..4].copy_from_slice(&[b'R', b'M', wire::VERSION, 0]);
    }
    b
}

/// A datagram that decodes, saying something absurd: random sequence numbers and
/// fingerprints, ping-reqs for members nobody has at ports nobody uses, acks for probes never
/// sent, joins with no record, and up to 250 suspicions, deaths and leaves of members nobody
/// knows at incarnations up to `u32::MAX`. It names no member in a state that would add it,
/// so a receiver's table stays as it was.
pub(crate) fn absurd(rng: &mut SmallRng) -> Vec<u8> {
    let message = match rng.random_range(0..8) {
        0 => Message::Ping {
            seq: rng.random(),
            target: rng.random(),
        },
        1 => Message::PingReq {
            seq: rng.random(),
            target: rng.random(),
            addr: SocketAddr::from(([127, 0, 0, 1], rng.random_range(1..1024))),
        },
        2 => Message::Ack {
            seq: rng.random(),
            digest: rng.random_bool(0.5).then(|| rng.random()),
        },
        3 => Message::Nack { seq: rng.random() },
        4 => Message::Gossip,
        5 => Message::Digest {
            digest: rng.random(),
        },
        _ => Message::Sync {
            reply: rng.random(),
            join: rng.random(),
        },
    };
    let states = [MemberState::Suspect, MemberState::Dead, MemberState::Left];
    let n = match rng.random_range(0..16) {
        0..4 => 0,
        4 => wire::MAX_UPDATES,
        _ => rng.random_range(1..20),
    };
    let updates = (0..n)
        .map(|_| Update {
            name: NodeName::new(&format!("ghost-{}", rng.random::<u32>())).unwrap(),
            addr: SocketAddr::from(([127, 0, 0, 1], rng.random_range(1..1024))),
            incarnation: Incarnation(rng.random()),
            state: states[rng.random_range(0..states.len())],
            tags: Tags::default(),
            from: rng
                .random_bool(0.5)
                .then(|| NodeName::new(&"x".repeat(rng.random_range(1..=128))).unwrap()),
        })
        .collect();
    wire::encode(None, &Packet::new(message, updates))
}

/// One hostile datagram of any of the kinds above, in equal shares.
pub(crate) fn any(rng: &mut SmallRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.random_range(0..3) {
        0 => random_bytes(rng),
        1 => {
            let base = &corpus[rng.random_range(0..corpus.len())];
            mutate(rng, base)
        }
        _ => absurd(rng),
    }
}
