//! Hostile input: what a peer can send that must not hurt this node (bad datagrams, a flood of
//! members, a flood of sync requests).

use crate::proto::testing::*;
use crate::wire::{Message, Packet, encode};

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
fn the_member_table_never_grows_past_max_members() {
    let mut h = Harness::with_config(|c| c.max_members = 10);
    let flood: Vec<_> = (1..=200).map(|i| alive(i, 0)).collect();
    for chunk in flood.chunks(50) {
        h.deliver(
            peer_addr(0),
            Message::Sync {
                reply: false,
                join: false,
            },
            chunk.to_vec(),
        );
    }
    assert_eq!(h.swim.members().len(), 10);
    assert_eq!(h.swim.stats().rejected_members, 190);
}

#[test]
fn a_flood_of_sync_requests_gets_a_bounded_number_of_answers() {
    let mut h = Harness::with_peers(5);
    for i in 0..100 {
        h.deliver(
            peer_addr(100 + i),
            Message::Sync {
                reply: true,
                join: false,
            },
            vec![],
        );
    }
    let answers = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Sync { .. }))
        .count();
    assert_eq!(answers, 4, "at most four sync answers per protocol period");
}
