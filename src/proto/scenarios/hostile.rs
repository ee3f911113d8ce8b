//! Hostile input: what a peer can send that must not hurt this node (bad datagrams, a flood of
//! members, a flood of sync requests).

use std::collections::HashSet;
use std::net::SocketAddr;

use super::SEC;
use crate::event::MessageKind;
use crate::member::{MemberState, NodeName};
use crate::proto::testing::*;
use crate::wire::{Message, Packet, Update, encode};

#[test]
fn malformed_datagrams_are_counted_and_dropped() {
    let mut h = Harness::with_peers(2);
    h.swim.handle_datagram(h.now, peer_addr(1), b"");
    h.swim.handle_datagram(
        h.now,
        peer_addr(1),
        &[b'R', b'M', crate::wire::VERSION, 0, 0xff, 0xff],
    );
    let mut other = encode(Some("other"), &Packet::new(Message::Gossip, vec![]));
    h.swim.handle_datagram(h.now, peer_addr(1), &other);
    other[2] = 99;
    h.swim.handle_datagram(h.now, peer_addr(1), &other);
    h.swim
        .handle_datagram(h.now, peer_addr(1), &vec![0u8; 70_000]);
    let s = h.swim.stats();
    assert_eq!(s.dropped_malformed, 2);
    assert_eq!(s.dropped_wrong_cluster, 1);
    assert_eq!(s.dropped_version, 1);
    assert_eq!(s.dropped_oversize, 1);
    h.flush();
    assert!(h.sent.is_empty());
}

#[test]
fn a_sealed_datagram_at_a_node_without_keys_is_counted_as_sealed_not_malformed() {
    let mut h = Harness::with_peers(2);
    let mut sealed = encode(None, &Packet::new(Message::Gossip, vec![alive(1, 1)]));
    // What a keyed member's datagram looks like to the decoder: the flag, then ciphertext.
    sealed[3] |= crate::wire::FLAG_SEALED;
    let read = h.swim.stats().total_packets_in();
    h.swim.handle_datagram(h.now, peer_addr(1), &sealed);
    let s = h.swim.stats();
    assert_eq!((s.dropped_sealed, s.dropped_malformed), (1, 0));
    assert_eq!(s.total_dropped(), 1);
    assert_eq!(s.total_packets_in(), read);
}

#[test]
fn the_member_table_never_grows_past_max_members() {
    let mut h = Harness::with_config(|c| c.max_members = 10);
    // Each from its own address: a stranger's datagram adds no one but its sender.
    for i in 1..=200 {
        let sync = Message::Sync {
            reply: false,
            join: false,
        };
        h.deliver(peer_addr(i), sync, vec![alive(i, 0)]);
    }
    assert_eq!(h.swim.members().len(), 10);
    assert_eq!(h.swim.stats().rejected_members, 190);
}

#[test]
fn a_flood_of_sync_requests_gets_a_bounded_number_of_answers() {
    let mut h = Harness::with_peers(5);
    let request = Message::Sync {
        reply: true,
        join: false,
    };
    for i in 0..100 {
        h.deliver(peer_addr(1 + i % 5), request.clone(), vec![]);
        h.deliver(peer_addr(100 + i), request.clone(), vec![]);
    }
    let answers: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Sync { .. }))
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(
        answers.len(),
        4,
        "at most four sync answers per protocol period"
    );
    assert!(
        answers.iter().all(|to| to.port() < 2100),
        "members only: an empty request from a stranger has no room for a table"
    );
}

/// A datagram of every kind, as a stranger at `from` might send it: each carries a suspicion
/// of us (so a refutation waits to be piggybacked) and a verdict about p3 (which members pass
/// on at once).
fn from_a_stranger() -> Vec<Packet> {
    let me = NodeName::new(ME).unwrap();
    let news = || {
        vec![
            with_state(
                Update {
                    name: me.clone(),
                    addr: my_addr(),
                    ..alive(0, 0)
                },
                MemberState::Suspect,
                Some(1),
            ),
            with_state(alive(3, 1), MemberState::Dead, Some(1)),
        ]
    };
    let stranger = Update {
        addr: stranger(),
        ..alive(77, 0)
    };
    let messages = [
        Message::Ping {
            seq: 1,
            target: me.id(),
        },
        Message::PingReq {
            seq: 2,
            target: peer_name(2).id(),
            addr: peer_addr(2),
        },
        Message::PingReq {
            seq: 3,
            target: peer_name(2).id(),
            addr: "127.0.0.1:53".parse().unwrap(),
        },
        Message::Ack {
            seq: 1,
            digest: Some([1, 2, 3, 4]),
        },
        Message::Nack { seq: 1 },
        Message::Gossip,
        Message::Digest { digest: [9; 8] },
        Message::Sync {
            reply: true,
            join: true,
        },
        Message::Sync {
            reply: true,
            join: false,
        },
    ];
    let mut packets: Vec<Packet> = messages
        .into_iter()
        .map(|message| Packet::new(message, news()))
        .collect();
    // Bare requests too: the smallest datagrams leave the least room for an answer.
    for p in packets.clone() {
        packets.push(Packet::new(p.message, vec![]));
    }
    packets.push(Packet {
        message: Message::Sync {
            reply: true,
            join: true,
        },
        updates: vec![stranger],
        user: None,
    });
    packets
}

fn stranger() -> SocketAddr {
    "127.0.0.1:6666".parse().unwrap()
}

#[test]
fn a_stranger_is_answered_with_no_more_than_it_sent_and_only_itself() {
    let packets = from_a_stranger();
    let kinds: HashSet<_> = packets.iter().map(|p| p.message.kind()).collect();
    assert_eq!(
        kinds.len(),
        MessageKind::COUNT,
        "every message kind is tried"
    );
    for packet in packets {
        let mut h = Harness::with_peers(5);
        // Plenty of news to piggyback, and a quiet table's digest would be offered too.
        let news = (20..60).map(|i| alive(i, 0)).collect();
        h.deliver(peer_addr(1), Message::Gossip, news);
        let known: HashSet<SocketAddr> = h.swim.members().iter().map(|m| m.addr).collect();
        h.sent.clear();
        h.sizes.clear();
        let bytes = encode(None, &packet);
        h.swim.handle_datagram(h.now, stranger(), &bytes);
        h.flush();
        let out: usize = h.sizes.iter().sum();
        assert!(
            out <= bytes.len(),
            "{:?}: {} bytes in, {out} out: {:?}",
            packet.message,
            bytes.len(),
            h.sent
        );
        for (to, p) in &h.sent {
            assert!(
                *to == stranger() || known.contains(to),
                "{:?} made us send {:?} to {to}",
                packet.message,
                p.message
            );
        }
        // Nothing deferred either: no nack or forwarded ack for a relay later on.
        h.sent.clear();
        h.advance(2 * SEC);
        let later: Vec<_> = h.sent.iter().filter(|(to, _)| *to == stranger()).collect();
        let joined = matches!(packet.message, Message::Sync { join: true, .. })
            && packet.updates.iter().any(|u| u.addr == stranger());
        assert!(
            joined || later.is_empty(),
            "{:?}: later {later:?}",
            packet.message
        );
    }
}

#[test]
fn a_ping_req_is_relayed_only_for_a_member_to_a_member_at_its_address() {
    let mut h = Harness::with_peers(3);
    let req = |addr| Message::PingReq {
        seq: 5,
        target: peer_name(2).id(),
        addr,
    };
    let pings_to = |h: &Harness, addr: SocketAddr| {
        h.sent
            .iter()
            .filter(|(to, p)| *to == addr && matches!(p.message, Message::Ping { .. }))
            .count()
    };
    let elsewhere: SocketAddr = "127.0.0.1:53".parse().unwrap();
    h.deliver(peer_addr(1), req(elsewhere), vec![]);
    assert_eq!(pings_to(&h, elsewhere), 0, "p2 is not at that address");
    h.deliver(stranger(), req(peer_addr(2)), vec![]);
    assert_eq!(
        pings_to(&h, peer_addr(2)),
        0,
        "a stranger is not relayed for"
    );
    h.deliver(peer_addr(1), req(peer_addr(2)), vec![]);
    assert_eq!(pings_to(&h, peer_addr(2)), 1, "a member is");
}

#[test]
fn a_joiner_is_answered_within_its_request_then_pulls_the_whole_table() {
    let mut h = Harness::with_peers(30);
    let joiner = alive(99, 0);
    let request = Packet {
        message: Message::Sync {
            reply: true,
            join: true,
        },
        updates: vec![joiner],
        user: None,
    };
    let bytes = encode(None, &request);
    h.swim.handle_datagram(h.now, peer_addr(99), &bytes);
    h.flush();
    assert_eq!(h.sizes.len(), 1);
    assert!(
        h.sizes[0] <= bytes.len(),
        "{} > {}",
        h.sizes[0],
        bytes.len()
    );
    assert_eq!(
        h.sent[0].1.message,
        Message::Sync {
            reply: false,
            join: true
        },
        "in, and told to pull"
    );
    // The joiner is a member now: its pull gets everything.
    h.sent.clear();
    h.swim.handle_datagram(h.now, peer_addr(99), &bytes);
    h.flush();
    let records: usize = h.sent.iter().map(|(_, p)| p.updates.len()).sum();
    assert_eq!(records, 32, "thirty peers, the joiner, and the seed itself");
}

#[test]
fn a_joiner_pulls_the_table_from_its_seed_and_from_no_one_else() {
    let told = Message::Sync {
        reply: false,
        join: true,
    };
    let pulls = |h: &Harness| {
        h.sent
            .iter()
            .filter(|(_, p)| matches!(p.message, Message::Sync { reply: true, .. }))
            .map(|(to, _)| *to)
            .collect::<Vec<_>>()
    };
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.sent.clear();
    h.deliver(peer_addr(1), told.clone(), vec![alive(1, 0)]);
    assert_eq!(h.status(), crate::proto::Status::Running);
    assert_eq!(pulls(&h), [peer_addr(1)]);

    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.sent.clear();
    h.deliver(stranger(), told, vec![]);
    assert!(pulls(&h).is_empty(), "{:?}", h.sent);
}

#[test]
fn a_member_restarted_at_a_new_address_hears_its_old_incarnation_first() {
    let mut h = Harness::with_peers(10);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, 3)]);
    h.sent.clear();
    // p2 is back on another port, at incarnation 0: a stranger whose record we ignore.
    let request = Message::Sync {
        reply: true,
        join: true,
    };
    // As a real joiner's request, it carries its (empty) user-event section and clock, the
    // room the answer's own section takes.
    let packet = crate::wire::Packet {
        message: request,
        updates: vec![Update {
            addr: stranger(),
            ..alive(2, 0)
        }],
        user: Some(crate::wire::UserSection {
            clock: crate::event::LamportTime(0),
            records: vec![],
        }),
    };
    let bytes = crate::wire::encode(None, &packet);
    let now = h.now;
    h.swim.handle_datagram(now, stranger(), &bytes);
    h.flush();
    let (to, answer) = &h.sent[0];
    assert_eq!(*to, stranger());
    let first = answer.updates.first().expect("room for one record");
    assert_eq!((first.name.clone(), first.incarnation.0), (peer_name(2), 3));
}
