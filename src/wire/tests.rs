//! Round trips, budgets and hostile corners of the codec.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;

use super::*;
use crate::event::{LamportTime, MAX_USER_EVENT_NAME};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

fn update(n: &str, state: MemberState) -> Update {
    Update {
        name: name(n),
        addr: "127.0.0.1:7946".parse().unwrap(),
        incarnation: Incarnation(7),
        state,
        tags: Tags::new([("role", "db")]).unwrap(),
        from: Some(name("n0")),
    }
}

fn every_message() -> Vec<Message> {
    vec![
        Message::Ping {
            seq: 1,
            target: name("b").id(),
        },
        Message::PingReq {
            seq: u32::MAX,
            target: name("b").id(),
            addr: "[::1]:9000".parse().unwrap(),
        },
        Message::Ack {
            seq: 3,
            digest: None,
        },
        Message::Ack {
            seq: 4,
            digest: Some([9, 8, 7, 6]),
        },
        Message::Nack { seq: 4 },
        Message::Gossip,
        Message::Sync {
            reply: true,
            join: false,
        },
        Message::Digest { digest: [7; 8] },
    ]
}

fn record(origin: &str, t: u64, payload: Option<&[u8]>) -> UserRecord {
    UserRecord {
        origin: name(origin),
        ltime: LamportTime(t),
        body: payload.map(|p| {
            Arc::new(UserBody {
                addr: "[::1]:7946".parse().unwrap(),
                name: "deploy".into(),
                payload: p.to_vec(),
            })
        }),
    }
}

fn with_events(message: Message, records: Vec<UserRecord>) -> Packet {
    Packet {
        message,
        updates: vec![update("a", MemberState::Alive)],
        user: Some(UserSection {
            clock: LamportTime(u64::MAX),
            records,
        }),
    }
}

#[test]
fn every_message_round_trips_with_user_events() {
    for message in every_message() {
        for label in [None, Some("prod")] {
            let packet = with_events(
                message.clone(),
                vec![
                    record("a", 0, Some(b"")),
                    record("b", 300, Some(&[0xff; 600])),
                    record("c", u64::MAX, None),
                ],
            );
            let bytes = encode(label, &packet);
            assert_eq!(decode(&bytes, label), Ok(packet));
            // An empty section survives too: it carries the clock.
            let clock_only = with_events(message.clone(), vec![]);
            assert_eq!(decode(&encode(label, &clock_only), label), Ok(clock_only));
        }
    }
}

#[test]
fn a_datagram_without_events_costs_nothing_more() {
    let plain = Packet::new(Message::Gossip, vec![update("a", MemberState::Alive)]);
    let bytes = encode(None, &plain);
    assert_eq!(bytes[3] & FLAG_EVENTS, 0);
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, None, &Message::Gossip, 1400);
    w.push(&update("a", MemberState::Alive));
    assert!(w.open_events(LamportTime(7), false));
    assert_eq!(w.event_bytes(), 0, "an empty section is dropped");
    w.finish();
    assert_eq!(buf, bytes);
}

#[test]
fn events_come_after_updates_and_stay_in_the_budget() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, None, &Message::Gossip, 600);
    assert!(
        !w.push_event(&record("a", 1, Some(b"x"))),
        "section not open"
    );
    assert!(w.push(&update("a", MemberState::Alive)));
    assert!(w.open_events(LamportTime(2), false));
    assert!(
        !w.push(&update("b", MemberState::Alive)),
        "updates come first"
    );
    assert!(w.push_event(&record("a", 1, Some(&[1; 300]))));
    assert!(
        !w.push_event(&record("b", 2, Some(&[2; 300]))),
        "over budget"
    );
    assert!(w.push_event(&record("c", 3, None)));
    assert!(w.event_bytes() > 300);
    let len = w.finish();
    assert!(len <= 600);
    let p = decode(&buf, None).unwrap();
    assert_eq!(p.updates.len(), 1);
    let user = p.user.unwrap();
    assert_eq!(user.clock, LamportTime(2));
    let times: Vec<_> = user.records.iter().map(|r| r.ltime.0).collect();
    assert_eq!(times, [1, 3]);
}

#[test]
fn a_reserved_head_lets_the_clock_in_after_a_full_load_of_updates() {
    // Each boundary of bincode's varint widths, where an exact reservation would go wrong first.
    let clocks = [
        0,
        250,
        251,
        0xFFFF,
        0x1_0000,
        0xFFFF_FFFF,
        0x1_0000_0000,
        u64::MAX,
    ];
    for clock in clocks.map(LamportTime) {
        for budget in [200, 512, 513, 514] {
            let mut buf = Vec::new();
            let mut w = PacketWriter::new(&mut buf, None, &Message::Gossip, budget);
            w.reserve_for_events(clock);
            let mut i = 0;
            while w.push(&update(&format!("member-{i}"), MemberState::Alive)) {
                i += 1;
            }
            assert!(i > 0);
            assert!(
                w.open_events(clock, true),
                "clock {clock:?}, budget {budget}"
            );
            assert!(w.finish() <= budget);
            assert_eq!(decode(&buf, None).unwrap().user.unwrap().clock, clock);
        }
    }
}

#[test]
fn the_largest_allowed_payload_fits_alone_and_one_byte_more_does_not() {
    for budget in [512, 1400, 9000] {
        for label in [None, Some("a-cluster-label")] {
            let origin = name("some-member-name");
            let addr = "[2001:db8::1]:7946".parse().unwrap();
            let max = max_event_payload(budget, label, &origin, addr);
            let fits = |len: usize| {
                let mut r = record("x", u64::MAX, Some(&vec![0; len]));
                r.origin = origin.clone();
                if let Some(b) = &mut r.body {
                    let b = Arc::make_mut(b);
                    b.addr = addr;
                    b.name = "n".repeat(MAX_USER_EVENT_NAME);
                }
                let sync = Message::Sync {
                    reply: true,
                    join: true,
                };
                let mut buf = Vec::new();
                let mut w = PacketWriter::new(&mut buf, label, &sync, budget);
                w.open_events(LamportTime(u64::MAX), true) && w.push_event(&r)
            };
            assert!(fits(max), "budget {budget}: {max} must fit");
            assert!(!fits(max + 1), "budget {budget}: {} must not", max + 1);
        }
    }
}

#[test]
fn bad_user_event_names_and_lengths_are_malformed() {
    let mut long = record("a", 1, Some(b"x"));
    if let Some(b) = &mut long.body {
        Arc::make_mut(b).name = "n".repeat(MAX_USER_EVENT_NAME + 1);
    }
    let mut empty = record("a", 1, Some(b"x"));
    if let Some(b) = &mut empty.body {
        Arc::make_mut(b).name.clear();
    }
    let control = ["a\0b", "line\nbreak", "\u{1b}[31mred"].map(|name| {
        let mut r = record("a", 1, Some(b"x"));
        if let Some(b) = &mut r.body {
            Arc::make_mut(b).name = name.to_string();
        }
        r
    });
    for bad in [long, empty].into_iter().chain(control) {
        let bytes = encode(None, &with_events(Message::Gossip, vec![bad]));
        assert!(matches!(decode(&bytes, None), Err(WireError::Malformed(_))));
    }
    // A payload length that claims more than the datagram holds.
    let mut bytes = encode(
        None,
        &with_events(Message::Gossip, vec![record("a", 1, Some(b""))]),
    );
    let last = bytes.len() - 1;
    bytes[last] = 250;
    assert!(matches!(decode(&bytes, None), Err(WireError::Malformed(_))));
    // More records than a datagram may carry.
    let mut bytes = encode(None, &with_events(Message::Gossip, vec![]));
    let last = bytes.len() - 1;
    bytes[last] = (MAX_USER_RECORDS + 1) as u8;
    assert!(matches!(decode(&bytes, None), Err(WireError::Malformed(_))));
    // The flag without a section.
    let mut bytes = encode(None, &Packet::new(Message::Gossip, vec![]));
    bytes[3] |= FLAG_EVENTS;
    assert!(matches!(decode(&bytes, None), Err(WireError::Malformed(_))));
}

#[test]
fn repeats_of_known_events_decode_without_their_bodies() {
    struct HasIt;
    impl Known for HasIt {
        fn name(&self, _: &str) -> Option<NodeName> {
            None
        }
        fn tags(&self, _: &NodeName) -> Option<Tags> {
            None
        }
        fn has_event(&self, origin: &NodeName, ltime: LamportTime) -> bool {
            origin.as_str() == "a" && ltime == LamportTime(1)
        }
    }
    let packet = with_events(
        Message::Gossip,
        vec![record("a", 1, Some(b"seen")), record("a", 2, Some(b"new"))],
    );
    let bytes = encode(None, &packet);
    let (mut updates, mut user) = (Vec::new(), None);
    decode_into(&bytes, None, &HasIt, &mut updates, &mut user).unwrap();
    let records = user.unwrap().records;
    assert!(records[0].body.is_none());
    assert_eq!(records[1].body.as_ref().unwrap().payload, b"new");
}

#[test]
fn every_message_round_trips_with_updates() {
    for message in every_message() {
        for label in [None, Some("prod")] {
            let packet = Packet::new(
                message.clone(),
                vec![
                    update("a", MemberState::Alive),
                    update("b", MemberState::Suspect),
                    update("c", MemberState::Dead),
                    update("d", MemberState::Left),
                ],
            );
            let bytes = encode(label, &packet);
            assert_eq!(decode(&bytes, label), Ok(packet));
        }
    }
}

/// A receiver that knows one member, `a`, with tags zone=1, role=db.
struct KnowsA {
    name: NodeName,
    tags: Tags,
}

impl Known for KnowsA {
    fn name(&self, text: &str) -> Option<NodeName> {
        (text == self.name.as_str()).then(|| self.name.clone())
    }
    fn tags(&self, name: &NodeName) -> Option<Tags> {
        (*name == self.name).then(|| self.tags.clone())
    }
}

fn decode_known(known: &KnowsA, tags: &[(&str, &str)]) -> Update {
    let mut u = update("a", MemberState::Alive);
    u.tags = Tags::new(tags.iter().copied()).unwrap();
    let bytes = encode(None, &Packet::new(Message::Gossip, vec![u]));
    let mut out = Vec::new();
    decode_into(&bytes, None, known, &mut out, &mut None).unwrap();
    out.pop().unwrap()
}

#[test]
fn known_names_and_tags_are_shared_not_copied() {
    let known = KnowsA {
        name: name("a"),
        tags: Tags::new([("role", "db"), ("zone", "1")]).unwrap(),
    };
    let same = decode_known(&known, &[("role", "db"), ("zone", "1")]);
    assert!(same.name.shares(&known.name));
    assert!(same.tags.shares(&known.tags));
    // Changed, shorter and longer tags decode to exactly what was sent.
    for sent in [
        &[("role", "db"), ("zone", "2")][..],
        &[("role", "db")][..],
        &[("role", "db"), ("zone", "1"), ("zz", "x")][..],
        &[("a", "b")][..],
        &[][..],
    ] {
        let got = decode_known(&known, sent);
        assert_eq!(
            got.tags,
            Tags::new(sent.iter().copied()).unwrap(),
            "{sent:?}"
        );
        assert!(!got.tags.shares(&known.tags));
    }
}

#[test]
fn ping_is_small() {
    let bytes = encode(
        None,
        &Packet::new(
            Message::Ping {
                seq: 1000,
                target: name("node-12").id(),
            },
            vec![],
        ),
    );
    assert!(bytes.len() <= 13, "ping is {} bytes", bytes.len());
}

#[test]
fn decode_rejects_trailing_bytes() {
    let mut bytes = encode(
        None,
        &Packet::new(
            Message::Ack {
                seq: 1,
                digest: None,
            },
            vec![],
        ),
    );
    bytes.push(0);
    assert_eq!(decode(&bytes, None), Err(WireError::TrailingBytes(1)));
}

#[test]
fn decode_rejects_wrong_version_magic_and_label() {
    let good = encode(Some("a"), &Packet::new(Message::Gossip, vec![]));
    assert_eq!(decode(&good, Some("b")), Err(WireError::WrongCluster));
    assert_eq!(decode(&good, None), Err(WireError::WrongCluster));
    let mut v = good.clone();
    v[2] = 9;
    assert_eq!(decode(&v, Some("a")), Err(WireError::Version(9)));
    let mut m = good.clone();
    m[0] = b'X';
    assert_eq!(decode(&m, Some("a")), Err(WireError::BadHeader));
    assert_eq!(decode(&good[..3], Some("a")), Err(WireError::BadHeader));
    let unlabeled = encode(None, &Packet::new(Message::Gossip, vec![]));
    assert_eq!(decode(&unlabeled, Some("a")), Err(WireError::WrongCluster));
}

#[test]
fn writer_never_exceeds_budget() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(
        &mut buf,
        None,
        &Message::Ack {
            seq: 1,
            digest: None,
        },
        600,
    );
    let mut pushed = 0;
    for i in 0..1000 {
        if w.push(&update(&format!("member-{i}"), MemberState::Alive)) {
            pushed += 1;
        }
    }
    let len = w.finish();
    assert!(len <= 600, "{len}");
    assert!(pushed > 10, "only {pushed} fit");
    let packet = decode(&buf, None).unwrap();
    assert_eq!(packet.updates.len(), pushed);
}

#[test]
fn decode_rejects_bad_names_and_states() {
    let mut bad = update("a", MemberState::Alive);
    bad.tags = Tags::default();
    let bytes = encode(None, &Packet::new(Message::Gossip, vec![bad]));
    // Corrupt the state byte: it sits right after the addr and incarnation.
    let mut found = false;
    for i in 4..bytes.len() {
        let mut m = bytes.clone();
        m[i] = 200;
        if decode(&m, None).is_err() {
            found = true;
        }
    }
    assert!(found);
    let empty_name = [b'R', b'M', VERSION, 0, 4, 1, 0];
    assert!(matches!(
        decode(&empty_name, None),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn huge_length_prefix_does_not_allocate() {
    // A Sync with an update count claiming u32::MAX entries.
    let mut bytes = vec![b'R', b'M', VERSION, 0, 5, 0, 0];
    bytes.pop();
    bytes.extend_from_slice(&[252, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode(&bytes, None).is_err());
}
