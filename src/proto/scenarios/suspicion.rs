//! Suspicion: its timeout and how confirmations shrink it (Lifeguard), refutation with a higher
//! incarnation, the suspicion a ping to a suspect carries, and the checks a lingering
//! suspicion makes.

use std::time::Duration;

use super::{MS, SEC, is_ping_to, me};
use crate::config::SuspicionRule;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState};
use crate::proto::testing::*;
use crate::wire::Message;

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
    let mut h = lifeguard(6);
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

/// A harness under Lifeguard's rule (memberlist's), which these tests pin down; the evidence
/// rule's own floor is tested in `scenarios::evidence`.
fn lifeguard(peers: usize) -> Harness {
    let mut h = Harness::with_config(|c| c.suspicion_rule = SuspicionRule::Lifeguard);
    h.add_peers(1..=peers);
    h
}

fn timeout_after(confirmations: u32) -> Duration {
    crate::proto::suspicion::timeout(confirmations, 2, 4 * SEC, 24 * SEC)
}

#[test]
fn confirmations_shrink_the_suspicion_to_the_minimum() {
    let mut h = lifeguard(6);
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
