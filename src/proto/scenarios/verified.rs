//! Who may enter the member table, and what the cluster does for members nobody has answered
//! for yet (issue 26, findings 4 and 8): a stranger introduces only itself; a member only heard
//! of is unverified until one of its own datagrams arrives, is probed directly and sent nothing
//! else, costs no health, leaves the table when it never answers, and a table holds a bounded
//! number of them.

use super::{MS, SEC, me};
use crate::member::MemberState;
use crate::proto::Status;
use crate::proto::testing::*;
use crate::wire::{Message, Update};

/// Peer `i`'s own record at `addr`.
fn alive_at(i: usize, addr: std::net::SocketAddr) -> Update {
    Update {
        addr,
        ..alive(i, 0)
    }
}

#[test]
fn a_strangers_datagram_verifies_only_its_sender() {
    let mut h = Harness::with_peers(2);
    let stranger = peer_addr(50);
    // Its own record first, then 20 names at other addresses (a third party's, say).
    let mut records = vec![alive_at(50, stranger)];
    records.extend((100..120).map(|i| alive(i, 0)));
    h.deliver(stranger, Message::Gossip, records);
    assert_eq!(h.swim.members().len(), 2 + 1 + 20);
    assert_eq!(
        h.swim.unverified_members(),
        20,
        "only the sender answered for itself"
    );
    h.deliver(peer_addr(105), Message::Gossip, vec![]);
    assert_eq!(h.swim.unverified_members(), 19);
}

#[test]
fn a_joiner_behind_an_address_it_does_not_advertise_is_unverified_until_heard_from_it() {
    let mut h = Harness::with_peers(2);
    let join = Message::Sync {
        reply: true,
        join: true,
    };
    // A joiner behind a NAT: it advertises peer_addr(70) but sends from another port.
    h.deliver(peer_addr(71), join, vec![alive(70, 0)]);
    assert!(h.state_of(70).is_some());
    assert_eq!(h.swim.unverified_members(), 1);
    h.deliver(peer_addr(70), Message::Gossip, vec![]);
    assert_eq!(h.swim.unverified_members(), 0);
}

#[test]
fn a_member_heard_of_is_asked_once_at_once_and_its_answer_verifies_it() {
    let mut h = Harness::with_peers(3);
    h.responsive.insert(peer_addr(9));
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 0)]);
    let pings = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(9) && matches!(p.message, Message::Ping { .. }))
        .count();
    assert_eq!(pings, 1, "one bare ping, before its turn in the round");
    assert_eq!(h.swim.unverified_members(), 0, "its ack verified it");
}

#[test]
fn members_heard_of_are_unverified_until_their_own_datagram_arrives() {
    let mut h = Harness::with_peers(3);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 0)]);
    assert_eq!(h.swim.unverified_members(), 1);
    // Any datagram from its address verifies it: here, its gossip.
    h.deliver(peer_addr(9), Message::Gossip, vec![]);
    assert_eq!(h.swim.unverified_members(), 0);
}

#[test]
fn an_unverified_member_is_pinged_bare_never_sent_gossip_nor_asked_to_help() {
    let mut h = Harness::with_peers(3);
    let fake = peer_addr(9);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 0)]);
    h.sent.clear();
    // Two minutes: several probe rounds and gossip ticks, news of p9 and of its suspicion
    // spreading meanwhile.
    h.advance(120 * SEC);
    let to_fake: Vec<_> = h.sent.iter().filter(|(to, _)| *to == fake).collect();
    assert!(!to_fake.is_empty(), "it is probed directly");
    for (_, p) in &to_fake {
        assert!(
            matches!(p.message, Message::Ping { .. }),
            "only pings: {:?}",
            p.message
        );
        // The ping carries at most the buddy record: our suspicion of it.
        assert!(
            p.updates.iter().all(|u| u.name == peer_name(9)),
            "no gossip: {:?}",
            p.updates
        );
    }
    assert!(
        !h.sent.iter().any(|(_, p)| matches!(
            p.message,
            Message::PingReq { target, .. } if target == peer_name(9).id()
        )),
        "no one is asked to probe it for us"
    );
    assert_eq!(h.swim.health(), 0, "its silence costs us no health");
    // It never answered: suspected, then dead (then forgotten after dead_node_reclaim).
    assert_eq!(h.state_of(9).map(|s| s.0), Some(MemberState::Dead));
    // Asked up to VERIFY_ASKS times once a period when heard of, two pings at its turn;
    // suspected, it is not pinged again.
    let most = usize::from(crate::proto::probe::VERIFY_ASKS) + 2;
    assert!(to_fake.len() <= most, "{} pings", to_fake.len());
    h.sent.clear();
    h.advance(60 * SEC);
    assert!(
        h.sent.iter().all(|(to, _)| *to != fake),
        "nothing more once it is dead"
    );
    // Every real member was probed and gossiped to meanwhile.
    for i in 1..=3 {
        assert_eq!(h.state_of(i).map(|s| s.0), Some(MemberState::Alive));
    }
}

#[test]
fn a_table_holds_a_bounded_number_of_unverified_members() {
    let mut h = Harness::with_peers(3);
    for chunk in (100..400).collect::<Vec<_>>().chunks(50) {
        let records = chunk.iter().map(|&i| alive(i, 0)).collect();
        h.deliver(peer_addr(1), Message::Gossip, records);
    }
    assert_eq!(h.swim.unverified_members(), 64);
    assert_eq!(h.swim.stats().rejected_unverified, 300 - 64);
    assert_eq!(h.swim.members().len(), 3 + 64);
}

#[test]
fn sync_replies_carry_only_verified_members() {
    let mut h = Harness::with_peers(3);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 0)]);
    h.sent.clear();
    let request = Message::Sync {
        reply: true,
        join: false,
    };
    h.deliver(peer_addr(2), request, vec![alive(2, 0)]);
    let names: Vec<_> = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(2) && matches!(p.message, Message::Sync { .. }))
        .flat_map(|(_, p)| p.updates.iter().map(|u| u.name.clone()))
        .collect();
    assert!(names.contains(&peer_name(3)), "{names:?}");
    assert!(!names.contains(&peer_name(9)), "{names:?}");
}

#[test]
fn a_joiner_takes_its_seeds_table_as_verified() {
    let seed = peer_addr(1);
    let mut h = Harness::joining(&[seed]);
    h.flush();
    let table = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(seed, table, (1..=100).map(|i| alive(i, 0)).collect());
    assert_eq!(h.status(), Status::Running);
    assert_eq!(h.swim.members().len(), 100);
    assert_eq!(h.swim.unverified_members(), 0);
}

#[test]
fn a_strangers_ping_or_table_does_not_complete_a_join() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.sent.clear();
    let stranger = peer_addr(40);
    let ping = Message::Ping {
        seq: 3,
        target: me().id(),
    };
    h.deliver(stranger, ping, vec![]);
    assert_eq!(h.status(), Status::Joining);
    assert!(
        !h.sent
            .iter()
            .any(|(to, p)| *to == stranger && matches!(p.message, Message::Sync { .. })),
        "no table is pulled from a stranger"
    );
    let table = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(stranger, table, (40..=60).map(|i| alive(i, 0)).collect());
    assert_eq!(h.status(), Status::Joining);
    // Its table is not the one we asked for: only its own record is verified.
    assert_eq!(h.swim.unverified_members(), h.swim.members().len() - 1);
    // The seed never answers: the join fails instead of reporting "joined".
    h.advance(10 * SEC + MS);
    assert_eq!(h.status(), Status::JoinFailed);
}

/// Finding 8: a flood of datagrams naming many members leaves the table bounded: it grows by
/// the sender and at most `MIN_UNVERIFIED_ROOM` names nobody answered for. What remains
/// possible is one verified member per source address the attacker answers from.
#[test]
fn a_flood_of_datagrams_naming_many_members_leaves_the_table_bounded() {
    let mut h = Harness::with_peers(3);
    let attacker = peer_addr(500);
    for round in 0..200 {
        let mut records = vec![alive_at(500, attacker)];
        records.extend((0..50).map(|k| alive(1000 + round * 50 + k, 0)));
        h.deliver(attacker, Message::Gossip, records);
    }
    // 10,000 names sent: the attacker itself and 64 unverified names entered.
    assert_eq!(h.swim.members().len(), 3 + 1 + 64);
    assert_eq!(h.swim.unverified_members(), 64);
    assert_eq!(h.swim.stats().rejected_unverified, 200 * 50 - 64);

    // From many source ports, each adds itself: one row per address it answers from.
    for port in 0..100 {
        let from = peer_addr(3000 + port);
        let mut records = vec![alive_at(3000 + port, from)];
        records.extend((0..50).map(|k| alive(20_000 + port * 50 + k, 0)));
        h.deliver(from, Message::Gossip, records);
    }
    // Room for unverified names grows with the verified members: max(64, 104).
    assert_eq!(h.swim.unverified_members(), 104);
    assert_eq!(h.swim.members().len(), 3 + 1 + 100 + 104);
}

/// Low finding: a sealed join pull replayed within the seal's replay window from a member's
/// forged source got our whole table each time. Now a source gets the table for a join pull
/// once a probe interval (lan: 1 s); in between, "you are in" (our own record) only.
#[test]
fn a_join_pull_replayed_from_a_members_address_gets_one_table_a_period() {
    let mut h = Harness::with_peers(8);
    let pull = Message::Sync {
        reply: true,
        join: true,
    };
    let tables = |h: &mut Harness| {
        let records: usize = h
            .sent
            .iter()
            .filter(|(to, p)| *to == peer_addr(1) && matches!(p.message, Message::Sync { .. }))
            .map(|(_, p)| p.updates.len())
            .sum();
        h.sent.clear();
        records
    };
    h.sent.clear();
    h.deliver(peer_addr(1), pull.clone(), vec![alive(1, 0)]);
    assert_eq!(
        tables(&mut h),
        9,
        "the first pull gets the table: us and 8 members"
    );
    // Replayed ten times within the period: one record each.
    for _ in 0..10 {
        h.advance(SEC / 20);
        h.deliver(peer_addr(1), pull.clone(), vec![alive(1, 0)]);
        assert_eq!(tables(&mut h), 1, "a replay gets our own record only");
    }
    h.advance(SEC);
    h.deliver(peer_addr(1), pull, vec![alive(1, 0)]);
    assert_eq!(tables(&mut h), 9, "a period later it is a new pull");
}
