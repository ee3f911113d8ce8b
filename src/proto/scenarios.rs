//! Core scenarios under a fake clock: one behaviour per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use super::Status;
use super::testing::*;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState, NodeName};
use crate::wire::{Message, Packet, encode};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn me() -> NodeName {
    NodeName::new(ME).unwrap()
}

/// Makes peer `i` stop answering and runs until we probe it; returns that probe's sequence.
fn probe_of_silent(h: &mut Harness, i: usize) -> u32 {
    h.responsive.remove(&peer_addr(i));
    let (_, ping) = h.advance_until_sent(10 * SEC, is_ping_to(&peer_name(i)));
    match ping.message {
        Message::Ping { seq, .. } => seq,
        other => panic!("not a ping: {other:?}"),
    }
}

fn is_ping_to(target: &NodeName) -> impl Fn(&std::net::SocketAddr, &Packet) -> bool + '_ {
    move |_, p| matches!(&p.message, Message::Ping { target: t, .. } if *t == target.id())
}

#[test]
fn ping_addressed_to_us_is_acked() {
    let mut h = Harness::new();
    h.deliver(
        peer_addr(1),
        Message::Ping {
            seq: 42,
            target: me().id(),
        },
        vec![],
    );
    assert_eq!(h.sent.len(), 1);
    assert_eq!(h.sent[0].0, peer_addr(1));
    assert!(matches!(h.sent[0].1.message, Message::Ack { seq: 42, .. }));
}

#[test]
fn ping_for_another_name_is_not_acked() {
    let mut h = Harness::new();
    h.deliver(
        peer_addr(1),
        Message::Ping {
            seq: 42,
            target: peer_name(9).id(),
        },
        vec![],
    );
    assert!(h.sent.is_empty());
}

#[test]
fn each_member_is_probed_once_per_round() {
    let mut h = Harness::with_peers(6);
    for _round in 0..3 {
        h.sent.clear();
        h.advance(6 * SEC);
        let targets: Vec<_> = h
            .sent
            .iter()
            .filter_map(|(_, p)| match &p.message {
                Message::Ping { target, .. } => Some(*target),
                _ => None,
            })
            .collect();
        let distinct: HashSet<_> = targets.iter().collect();
        // One probe per period; a round of six periods meets six distinct members, give or
        // take the period that straddles the round boundary.
        assert!((5..=7).contains(&targets.len()), "{targets:?}");
        assert!(distinct.len() >= 5, "{targets:?}");
    }
}

#[test]
fn ping_req_is_sent_to_k_members_after_probe_timeout() {
    let mut h = Harness::with_peers(6);
    let seq = probe_of_silent(&mut h, 3);
    let before = h.sent.len();
    h.advance(510 * MS);
    let reqs: Vec<_> = h.sent[before..]
        .iter()
        .filter(|(_, p)| matches!(&p.message, Message::PingReq { seq: s, target, .. } if *s == seq && *target == peer_name(3).id()))
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(reqs.len(), 3, "k = indirect_checks ping-reqs");
    let distinct: HashSet<_> = reqs.iter().collect();
    assert_eq!(distinct.len(), 3);
    assert!(!reqs.contains(&peer_addr(3)), "never ask the target itself");
}

#[test]
fn unanswered_probe_makes_the_member_suspect_at_period_end() {
    let mut h = Harness::with_peers(6);
    h.responsive.remove(&peer_addr(3));
    h.advance_until_sent(10 * SEC, is_ping_to(&peer_name(3)));
    h.advance(900 * MS);
    assert_eq!(
        h.state_of(3).unwrap().0,
        MemberState::Alive,
        "not before the period ends"
    );
    h.advance(200 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    assert_eq!(h.events_about(&peer_name(3)), [EventKind::Suspected]);
    assert_eq!(h.swim.stats().suspicions, 1);
}

#[test]
fn late_indirect_ack_keeps_the_member_alive() {
    let mut h = Harness::with_peers(6);
    let seq = probe_of_silent(&mut h, 3);
    h.advance(700 * MS);
    // A helper forwards the target's ack just before the period ends.
    h.deliver(peer_addr(1), Message::Ack { seq, digest: None }, vec![]);
    h.advance(400 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Alive);
    assert!(h.events_about(&peer_name(3)).is_empty());
}

#[test]
fn unconfirmed_suspicion_fails_the_member_after_the_max_timeout() {
    let mut h = Harness::with_peers(6);
    // p3 still answers our pings (so we never confirm), but never refutes.
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(3, 0), MemberState::Suspect, Some(1))],
    );
    assert_eq!(h.events_about(&peer_name(3)), [EventKind::Suspected]);
    // n = 7: min = 4 * 1 s, max = 6 * min; the suspicion we heard is not its own confirmation.
    h.advance(24 * SEC - 10 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    h.advance(20 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
    assert_eq!(h.events_about(&peer_name(3)), [EventKind::Failed]);
}

#[test]
fn our_own_failed_probe_of_a_suspect_confirms_it() {
    let mut h = Harness::with_peers(6);
    let start = h.now;
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(3, 0), MemberState::Suspect, Some(1))],
    );
    h.responsive.remove(&peer_addr(3));
    h.advance_until_sent(10 * SEC, is_ping_to(&peer_name(3)));
    h.advance(SEC);
    let confirmation = h
        .sent_updates()
        .find(|u| u.name == peer_name(3) && u.from == Some(me()))
        .cloned();
    let c = confirmation.expect("our confirmation is gossiped");
    assert_eq!(c.state, MemberState::Suspect);
    // One of two confirmations: the timeout is now below the max.
    let deadline = start + timeout_after(1);
    assert!(h.now < deadline - 10 * MS);
    h.advance(deadline - 10 * MS - h.now);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    h.advance(20 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
}

fn timeout_after(confirmations: u32) -> Duration {
    super::suspicion::timeout(confirmations, 2, 4 * SEC, 24 * SEC)
}

#[test]
fn confirmations_shrink_the_suspicion_to_the_minimum() {
    let mut h = Harness::with_peers(6);
    h.responsive.remove(&peer_addr(3));
    for from in [1, 2] {
        h.deliver(
            peer_addr(from),
            Message::Gossip,
            vec![with_state(alive(3, 0), MemberState::Suspect, Some(from))],
        );
    }
    h.advance(4 * SEC - 10 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    h.advance(20 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
}

#[test]
fn refuted_suspicion_does_not_fail_the_member() {
    let mut h = Harness::with_peers(6);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(3, 0), MemberState::Suspect, Some(1))],
    );
    h.deliver(peer_addr(3), Message::Gossip, vec![alive(3, 1)]);
    assert_eq!(
        h.events_about(&peer_name(3)),
        [EventKind::Suspected, EventKind::Alive]
    );
    // The stale suspicion timer fires and is ignored.
    h.advance(60 * SEC);
    assert_eq!(h.state_of(3).unwrap(), (MemberState::Alive, Incarnation(1)));
    assert!(h.events_about(&peer_name(3)).is_empty());
}

#[test]
fn suspicion_about_self_is_refuted_with_a_higher_incarnation() {
    let mut h = Harness::with_peers(3);
    let about_me = crate::wire::Update {
        name: me(),
        addr: my_addr(),
        incarnation: Incarnation(0),
        state: MemberState::Suspect,
        tags: Default::default(),
        from: Some(peer_name(1)),
    };
    h.deliver(
        peer_addr(1),
        Message::Ping {
            seq: 9,
            target: me().id(),
        },
        vec![about_me],
    );
    // The ack answering the buddy ping carries the refutation.
    let (to, ack) = &h.sent[0];
    assert_eq!(*to, peer_addr(1));
    assert!(matches!(ack.message, Message::Ack { seq: 9, .. }));
    let refute = ack.updates.iter().find(|u| u.name == me()).unwrap();
    assert_eq!(refute.state, MemberState::Alive);
    assert_eq!(refute.incarnation, Incarnation(1));
    assert_eq!(h.swim.local().incarnation, Incarnation(1));
    assert_eq!(h.swim.stats().refutations, 1);
    assert_eq!(
        h.swim.health(),
        1,
        "being suspected raises the local health score"
    );
}

#[test]
fn ping_to_a_suspect_carries_its_suspicion() {
    let mut h = Harness::with_peers(4);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Suspect, Some(1))],
    );
    let (_, ping) = h.advance_until_sent(10 * SEC, is_ping_to(&peer_name(2)));
    let first = &ping.updates[0];
    assert_eq!(first.name, peer_name(2));
    assert_eq!(first.state, MemberState::Suspect);
}

/// SWIM's precedence rules, case by case: (current state and incarnation, incoming update,
/// expected state and incarnation afterwards).
#[test]
fn incarnation_precedence_follows_swim() {
    use MemberState::{Alive, Dead, Left, Suspect};
    let cases = [
        ((Alive, 1), (Alive, 2), (Alive, 2)),
        ((Alive, 2), (Alive, 1), (Alive, 2)),
        ((Suspect, 1), (Alive, 1), (Suspect, 1)),
        ((Suspect, 1), (Alive, 2), (Alive, 2)),
        ((Alive, 1), (Suspect, 1), (Suspect, 1)),
        ((Alive, 1), (Suspect, 0), (Alive, 1)),
        ((Alive, 1), (Suspect, 2), (Suspect, 2)),
        ((Suspect, 1), (Suspect, 2), (Suspect, 2)),
        ((Alive, 1), (Dead, 1), (Dead, 1)),
        ((Suspect, 2), (Dead, 1), (Suspect, 2)),
        ((Suspect, 1), (Dead, 2), (Dead, 2)),
        ((Dead, 1), (Alive, 1), (Dead, 1)),
        ((Dead, 1), (Alive, 2), (Alive, 2)),
        ((Dead, 1), (Suspect, 1), (Dead, 1)),
        ((Alive, 1), (Left, 1), (Left, 1)),
        ((Left, 1), (Alive, 1), (Left, 1)),
        ((Left, 1), (Dead, 1), (Left, 1)),
        ((Left, 1), (Alive, 2), (Alive, 2)),
    ];
    for (start, incoming, expected) in cases {
        let mut h = Harness::with_peers(4);
        // Reach the starting state through updates, as a real node would.
        h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, start.1)]);
        if start.0 != Alive {
            h.deliver(
                peer_addr(1),
                Message::Gossip,
                vec![with_state(alive(2, start.1), start.0, Some(1))],
            );
        }
        assert_eq!(
            h.state_of(2),
            Some((start.0, Incarnation(start.1))),
            "set up {start:?}"
        );
        h.deliver(
            peer_addr(3),
            Message::Gossip,
            vec![with_state(alive(2, incoming.1), incoming.0, Some(3))],
        );
        assert_eq!(
            h.state_of(2),
            Some((expected.0, Incarnation(expected.1))),
            "{start:?} + {incoming:?}"
        );
    }
}

#[test]
fn restarted_member_with_higher_incarnation_is_alive_again() {
    let mut h = Harness::with_peers(3);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 4), MemberState::Dead, Some(1))],
    );
    assert_eq!(h.events_about(&peer_name(2)), [EventKind::Failed]);
    h.deliver(peer_addr(2), Message::Gossip, vec![alive(2, 5)]);
    assert_eq!(h.events_about(&peer_name(2)), [EventKind::Alive]);
    assert_eq!(h.state_of(2), Some((MemberState::Alive, Incarnation(5))));
}

#[test]
fn each_update_is_sent_at_most_the_retransmit_limit() {
    let mut h = Harness::with_peers(5);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 3)]);
    h.advance(60 * SEC);
    let sends = h
        .sent_updates()
        .filter(|u| u.name == peer_name(9) && u.state == MemberState::Alive)
        .count();
    // n = 7 members: 4 * ceil(log10(8)) = 4.
    assert_eq!(sends, 4);
}

#[test]
fn datagrams_stay_within_the_packet_budget() {
    let mut h = Harness::with_config(|c| c.packet_budget = 600);
    let updates = (1..=200).map(|i| alive(i, 0)).collect();
    h.deliver(peer_addr(0), Message::Gossip, updates);
    h.advance(5 * SEC);
    assert!(h.sent.len() > 5);
    assert!(h.sizes.iter().all(|&s| s <= 600), "{:?}", h.sizes);
}

#[test]
fn join_asks_seeds_for_their_table_and_runs_once_answered() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    assert_eq!(h.status(), Status::Joining);
    let (to, req) = &h.sent[0];
    assert_eq!(*to, peer_addr(1));
    assert_eq!(
        req.message,
        Message::Sync {
            reply: true,
            join: true
        }
    );
    assert_eq!(req.updates[0].name, me());
    h.deliver(
        peer_addr(1),
        Message::Sync {
            reply: false,
            join: false,
        },
        vec![alive(1, 0), alive(2, 0), alive(3, 0)],
    );
    assert_eq!(h.status(), Status::Running);
    let joined: Vec<_> = h
        .take_events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Joined)
        .collect();
    assert_eq!(joined.len(), 3);
}

#[test]
fn join_with_no_answer_fails_after_join_timeout() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.advance(4900 * MS);
    assert_eq!(h.status(), Status::Joining);
    let retries = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Sync { join: true, .. }))
        .count();
    assert!(retries >= 2, "join is retried");
    h.advance(200 * MS);
    assert_eq!(h.status(), Status::JoinFailed);
    assert_eq!(h.swim.poll_timeout(), None);
}

#[test]
fn seed_answers_a_join_with_its_whole_table_in_budget_sized_chunks() {
    let mut h = Harness::with_config(|c| c.packet_budget = 512);
    h.add_peers(1..=60);
    let joiner = alive(99, 0);
    h.deliver(
        peer_addr(99),
        Message::Sync {
            reply: true,
            join: true,
        },
        vec![joiner],
    );
    let chunks: Vec<_> = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(99) && matches!(p.message, Message::Sync { .. }))
        .collect();
    assert!(chunks.len() > 1, "60 members do not fit in 512 bytes");
    let names: HashSet<_> = chunks
        .iter()
        .flat_map(|(_, p)| p.updates.iter().map(|u| u.name.clone()))
        .collect();
    assert_eq!(names.len(), 62, "60 peers, the joiner, and the seed itself");
    assert!(h.sizes.iter().all(|&s| s <= 512));
    assert_eq!(h.events_about(&peer_name(99)), [EventKind::Joined]);
}

#[test]
fn dead_record_in_a_sync_is_only_a_suspicion() {
    let mut h = Harness::with_peers(4);
    h.deliver(
        peer_addr(1),
        Message::Sync {
            reply: false,
            join: false,
        },
        vec![with_state(alive(2, 0), MemberState::Dead, None)],
    );
    assert_eq!(h.state_of(2).unwrap().0, MemberState::Suspect);
}

#[test]
fn leave_gossips_left_and_stops() {
    let mut h = Harness::with_peers(5);
    h.swim.leave(h.now);
    assert_eq!(h.status(), Status::Leaving);
    h.flush();
    let first: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, p)| p.message == Message::Gossip)
        .collect();
    assert!(
        first.len() >= 3,
        "the leave goes out at once to several members"
    );
    assert!(first.iter().all(|(_, p)| {
        p.updates
            .iter()
            .any(|u| u.name == me() && u.state == MemberState::Left)
    }));
    // Sent the retransmit limit's worth of times in that first burst: done.
    assert_eq!(first.len(), 4);
    assert_eq!(h.status(), Status::Left);
    assert_eq!(h.swim.poll_timeout(), None);
}

#[test]
fn leave_stops_at_the_leave_timeout_when_it_cannot_finish_spreading() {
    // 100 copies to send, to one member, one gossip packet per 200 ms: more than 2 s.
    let mut h = Harness::with_config(|c| c.retransmit_mult = 100);
    h.add_peers(1..=1);
    h.swim.leave(h.now);
    h.flush();
    h.advance(1900 * MS);
    assert_eq!(h.status(), Status::Leaving);
    h.advance(200 * MS);
    assert_eq!(h.status(), Status::Left);
}

#[test]
fn survivors_report_left_not_failed() {
    let mut h = Harness::with_peers(4);
    h.deliver(
        peer_addr(2),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Left, None)],
    );
    h.responsive.remove(&peer_addr(2));
    h.advance(60 * SEC);
    assert_eq!(h.events_about(&peer_name(2)), [EventKind::Left]);
}

#[test]
fn dead_members_are_forgotten_after_the_reclaim_time() {
    let mut h = Harness::with_config(|c| c.dead_node_reclaim = Duration::from_secs(10));
    h.add_peers(1..=3);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Dead, Some(1))],
    );
    h.advance(9 * SEC);
    assert!(h.state_of(2).is_some());
    h.advance(2 * SEC);
    assert!(h.state_of(2).is_none());
}

#[test]
fn relayed_probe_forwards_the_ack_or_nacks_in_time() {
    let mut h = Harness::with_peers(3);
    let req = |seq| Message::PingReq {
        seq,
        target: peer_name(2).id(),
        addr: peer_addr(2),
    };
    // Target answers: the ack is forwarded with the requester's sequence number.
    h.deliver(peer_addr(1), req(77), vec![]);
    assert!(
        h.sent
            .iter()
            .any(|(to, p)| *to == peer_addr(1) && matches!(p.message, Message::Ack { seq: 77, .. }))
    );
    // Target silent: a nack before the requester's probe timeout.
    h.responsive.remove(&peer_addr(2));
    h.sent.clear();
    h.deliver(peer_addr(1), req(78), vec![]);
    h.advance(390 * MS);
    assert!(
        !h.sent
            .iter()
            .any(|(_, p)| p.message == Message::Nack { seq: 78 })
    );
    h.advance(20 * MS);
    assert!(
        h.sent
            .iter()
            .any(|(to, p)| *to == peer_addr(1) && p.message == Message::Nack { seq: 78 })
    );
}

#[test]
fn failed_probes_without_nacks_raise_health_and_answered_ones_lower_it() {
    let mut h = Harness::with_peers(4);
    h.responsive.clear();
    h.advance(3 * SEC);
    let raised = h.swim.health();
    assert!(raised >= 2, "health {raised}");
    for i in 1..=4 {
        h.responsive.insert(peer_addr(i));
    }
    // Members suspected meanwhile refute, so they are probed again and answer.
    for i in 1..=4 {
        h.deliver(peer_addr(i), Message::Gossip, vec![alive(i, 1)]);
    }
    h.advance(60 * SEC);
    assert_eq!(h.swim.health(), 0);
}

#[test]
fn probe_with_all_nacks_does_not_raise_health() {
    let mut h = Harness::with_peers(4);
    let seq = probe_of_silent(&mut h, 3);
    let before = h.swim.health();
    h.advance(510 * MS);
    let helpers: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::PingReq { .. }))
        .map(|(to, _)| *to)
        .collect();
    for helper in helpers {
        h.deliver(helper, Message::Nack { seq }, vec![]);
    }
    // All helpers answered "no": the verdict does not wait for the period to end.
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    assert_eq!(h.swim.health(), before);
}

#[test]
fn malformed_datagrams_are_counted_and_dropped() {
    let mut h = Harness::with_peers(2);
    h.swim.handle_datagram(h.now, peer_addr(1), b"");
    h.swim
        .handle_datagram(h.now, peer_addr(1), b"RM\x01\x00\xff\xff");
    let mut other = encode(
        Some("other"),
        &Packet {
            message: Message::Gossip,
            updates: vec![],
        },
    );
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
fn set_tags_gossips_a_new_incarnation() {
    let mut h = Harness::with_peers(3);
    let tags = crate::member::Tags::new([("role", "db")]).unwrap();
    h.swim.set_tags(h.now, tags.clone());
    h.advance(SEC);
    let u = h.sent_updates().find(|u| u.name == me()).unwrap();
    assert_eq!(u.incarnation, Incarnation(1));
    assert_eq!(u.tags, tags);
}

#[test]
fn tag_change_is_reported_as_updated() {
    let mut h = Harness::with_peers(3);
    let mut u = alive(2, 1);
    u.tags = crate::member::Tags::new([("zone", "b")]).unwrap();
    h.deliver(peer_addr(2), Message::Gossip, vec![u]);
    assert_eq!(h.events_about(&peer_name(2)), [EventKind::Updated]);
}

#[test]
fn probe_timeout_also_retries_the_target_directly() {
    let mut h = Harness::with_peers(6);
    let seq = probe_of_silent(&mut h, 3);
    let before = h.sent.len();
    h.advance(510 * MS);
    let direct = h.sent[before..]
        .iter()
        .filter(|(to, p)| {
            *to == peer_addr(3)
                && p.message
                    == Message::Ping {
                        seq,
                        target: peer_name(3).id(),
                    }
        })
        .count();
    assert_eq!(
        direct, 1,
        "one more direct ping with the same sequence number"
    );
}

#[test]
fn a_lingering_suspicion_makes_us_ask_the_suspect_ourselves() {
    let mut h = Harness::with_peers(6);
    // p3 answers pings (so the harness acks) but its refutation never reached us.
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(3, 0), MemberState::Suspect, Some(1))],
    );
    let start = h.now;
    // Unconfirmed: 24 s; checks start at a quarter of it.
    h.advance(6 * SEC - 100 * MS);
    let pings_before = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(3) && matches!(p.message, Message::Ping { .. }))
        .count();
    h.advance(200 * MS);
    let check = h
        .sent
        .iter()
        .rev()
        .find(|(to, p)| *to == peer_addr(3) && matches!(p.message, Message::Ping { .. }))
        .cloned();
    let pings_after = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(3) && matches!(p.message, Message::Ping { .. }))
        .count();
    assert!(
        pings_after > pings_before,
        "a check ping at start + timeout/4 ({:?})",
        h.now - start
    );
    let (_, check) = check.unwrap();
    assert_eq!(
        check.updates[0].state,
        MemberState::Suspect,
        "the check carries the suspicion"
    );
    // The suspect's answer carries its refutation: the checks stop.
    h.deliver(
        peer_addr(3),
        Message::Ack {
            seq: 0,
            digest: None,
        },
        vec![alive(3, 1)],
    );
    let count = |h: &Harness| {
        h.sent
            .iter()
            .filter(|(to, p)| *to == peer_addr(3) && matches!(p.message, Message::Ping { .. }))
            .count()
    };
    let settled = count(&h);
    h.advance(3 * SEC);
    assert!(count(&h) <= settled + 3, "only round-robin probes remain");
    assert_eq!(h.state_of(3), Some((MemberState::Alive, Incarnation(1))));
}

#[test]
fn stale_suspicion_about_us_gets_our_current_incarnation_back() {
    let mut h = Harness::with_peers(3);
    let about_me = |inc| crate::wire::Update {
        name: me(),
        addr: my_addr(),
        incarnation: Incarnation(inc),
        state: MemberState::Suspect,
        tags: Default::default(),
        from: Some(peer_name(1)),
    };
    h.deliver(peer_addr(1), Message::Gossip, vec![about_me(0)]);
    assert_eq!(h.swim.local().incarnation, Incarnation(1));
    // Let the refutation run out of retransmissions.
    h.advance(30 * SEC);
    h.sent.clear();
    // A member that missed it pings us with the old suspicion.
    h.deliver(
        peer_addr(2),
        Message::Ping {
            seq: 5,
            target: me().id(),
        },
        vec![about_me(0)],
    );
    let (_, ack) = h
        .sent
        .iter()
        .find(|(_, p)| matches!(p.message, Message::Ack { seq: 5, .. }))
        .unwrap();
    let mine = ack
        .updates
        .iter()
        .find(|u| u.name == me())
        .expect("the ack repeats our Alive");
    assert_eq!(
        (mine.state, mine.incarnation),
        (MemberState::Alive, Incarnation(1))
    );
    assert_eq!(
        h.swim.local().incarnation,
        Incarnation(1),
        "no needless bump"
    );
}

#[test]
fn refutations_are_sent_more_often_than_other_news() {
    let mut h = Harness::with_peers(5);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Suspect, Some(1))],
    );
    h.deliver(peer_addr(2), Message::Gossip, vec![alive(2, 1)]);
    h.advance(60 * SEC);
    let sends = h
        .sent
        .iter()
        .filter(|(_, p)| !matches!(p.message, Message::Sync { .. }))
        .flat_map(|(_, p)| p.updates.iter())
        .filter(|u| {
            u.name == peer_name(2)
                && u.state == MemberState::Alive
                && u.incarnation == Incarnation(1)
        })
        .count();
    // n = 6: the usual limit is 4 * ceil(log10(7)) = 4; a refutation gets three times that.
    assert_eq!(sends, 12);
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

#[test]
fn a_verdict_is_passed_on_at_once_not_at_the_next_gossip_tick() {
    let mut h = Harness::with_peers(6);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Left, None)],
    );
    let forwarded = h.gossip_about(2, MemberState::Left);
    assert_eq!(
        forwarded, 3,
        "gossip_nodes members hear of the leave in the same instant"
    );
}

#[test]
fn anti_entropy_sends_a_digest_and_only_a_differing_table_answers() {
    let mut h = Harness::with_peers(3);
    h.advance(46 * SEC);
    let digests: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Digest { .. }))
        .cloned()
        .collect();
    assert!(!digests.is_empty(), "a push-pull tick within 1.5 intervals");
    assert!(
        !h.sent
            .iter()
            .any(|(_, p)| matches!(p.message, Message::Sync { .. })),
        "no table is pushed unasked"
    );
    // A peer whose table matches ours says nothing; a differing one gets our table.
    let Message::Digest { digest } = digests[0].1.message else {
        unreachable!()
    };
    h.sent.clear();
    h.deliver(peer_addr(1), Message::Digest { digest }, vec![]);
    assert!(h.sent.is_empty(), "same digest, nothing to say");
    let mut other = digest;
    other[0] ^= 1;
    h.deliver(peer_addr(1), Message::Digest { digest: other }, vec![]);
    let (to, answer) = &h.sent[0];
    assert_eq!(*to, peer_addr(1));
    assert_eq!(
        answer.message,
        Message::Sync {
            reply: true,
            join: false
        }
    );
    assert_eq!(answer.updates.len(), 4, "three peers and ourselves");
}

#[test]
fn a_joiner_that_is_probed_is_in_even_if_no_seed_answered() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.sent.clear();
    // The seed's answer never came, but another member already probes us.
    h.deliver(
        peer_addr(2),
        Message::Ping {
            seq: 3,
            target: me().id(),
        },
        vec![],
    );
    assert_eq!(h.status(), Status::Running);
    assert!(h.sent.iter().any(|(to, p)| *to == peer_addr(2)
        && p.message
            == Message::Sync {
                reply: true,
                join: true
            }));
    h.advance(10 * SEC);
    assert_eq!(h.status(), Status::Running, "no join timeout any more");
}

#[test]
fn joiners_past_the_answer_budget_still_hear_they_are_in() {
    let mut h = Harness::with_peers(5);
    for i in 0..40 {
        h.deliver(
            peer_addr(100 + i),
            Message::Sync {
                reply: true,
                join: true,
            },
            vec![alive(100 + i, 0)],
        );
    }
    let answers: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Sync { .. }))
        .map(|(_, p)| p.updates.len())
        .collect();
    assert_eq!(answers.len(), 40, "every joiner gets an answer");
    let full = answers.iter().filter(|&&n| n > 1).count();
    assert_eq!(full, 16, "sixteen whole tables a period");
    assert!(
        answers.iter().filter(|&&n| n == 1).count() == 24,
        "the rest: our record alone"
    );
}

#[test]
fn a_member_that_left_is_reported_left_once() {
    let mut h = Harness::with_peers(3);
    for inc in [0, 1] {
        h.deliver(
            peer_addr(2),
            Message::Gossip,
            vec![with_state(alive(2, inc), MemberState::Left, None)],
        );
    }
    assert_eq!(h.events_about(&peer_name(2)), [EventKind::Left]);
    assert_eq!(h.state_of(2), Some((MemberState::Left, Incarnation(1))));
}

#[test]
fn our_own_verdict_is_passed_on_at_once() {
    let mut h = Harness::with_peers(6);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(3, 0), MemberState::Suspect, Some(1))],
    );
    // p3 answers our pings but never refutes: our timer declares it dead after the maximum.
    h.advance(24 * SEC - 10 * MS);
    h.sent.clear();
    h.advance(20 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
    let told = h.gossip_about(3, MemberState::Dead);
    assert_eq!(
        told, 3,
        "gossip_nodes members hear the verdict in the same instant"
    );
}
