//! Round trips, budgets and hostile corners of the codec.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
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

#[test]
fn every_message_round_trips_with_updates() {
    for message in every_message() {
        for label in [None, Some("prod")] {
            let packet = Packet {
                message: message.clone(),
                updates: vec![
                    update("a", MemberState::Alive),
                    update("b", MemberState::Suspect),
                    update("c", MemberState::Dead),
                    update("d", MemberState::Left),
                ],
            };
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
    let bytes = encode(
        None,
        &Packet {
            message: Message::Gossip,
            updates: vec![u],
        },
    );
    let mut out = Vec::new();
    decode_into(&bytes, None, known, &mut out).unwrap();
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
        &Packet {
            message: Message::Ping {
                seq: 1000,
                target: name("node-12").id(),
            },
            updates: vec![],
        },
    );
    assert!(bytes.len() <= 13, "ping is {} bytes", bytes.len());
}

#[test]
fn decode_rejects_trailing_bytes() {
    let mut bytes = encode(
        None,
        &Packet {
            message: Message::Ack {
                seq: 1,
                digest: None,
            },
            updates: vec![],
        },
    );
    bytes.push(0);
    assert_eq!(decode(&bytes, None), Err(WireError::TrailingBytes(1)));
}

#[test]
fn decode_rejects_wrong_version_magic_and_label() {
    let good = encode(
        Some("a"),
        &Packet {
            message: Message::Gossip,
            updates: vec![],
        },
    );
    assert_eq!(decode(&good, Some("b")), Err(WireError::WrongCluster));
    assert_eq!(decode(&good, None), Err(WireError::WrongCluster));
    let mut v = good.clone();
    v[2] = 9;
    assert_eq!(decode(&v, Some("a")), Err(WireError::Version(9)));
    let mut m = good.clone();
    m[0] = b'X';
    assert_eq!(decode(&m, Some("a")), Err(WireError::BadHeader));
    assert_eq!(decode(&good[..3], Some("a")), Err(WireError::BadHeader));
    let unlabeled = encode(
        None,
        &Packet {
            message: Message::Gossip,
            updates: vec![],
        },
    );
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
    let bytes = encode(
        None,
        &Packet {
            message: Message::Gossip,
            updates: vec![bad],
        },
    );
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
