//! The evidence rule (issue 12): confirmations from healthy members buy a lower floor, an
//! unhealthy member's doubts stay its own, and a member that suspicions single out while its
//! health is bad stands down instead of flapping, then rejoins by itself.

use super::{MS, SEC, is_ping_to, me};
use crate::config::SuspicionRule;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState};
use crate::proto::merge::REJOIN_AFTER;
use crate::proto::testing::*;
use crate::wire::{Message, Update};

fn about_me(inc: u32, state: MemberState, from: usize) -> Update {
    Update {
        name: me(),
        addr: my_addr(),
        incarnation: Incarnation(inc),
        state,
        tags: Default::default(),
        from: Some(peer_name(from)),
    }
}

/// Each of `accusers` tells us, independently, that it suspects peer `suspect`.
fn accused_by(h: &mut Harness, suspect: usize, accusers: &[usize]) {
    for &from in accusers {
        h.deliver(
            peer_addr(from),
            Message::Gossip,
            vec![with_state(
                alive(suspect, 0),
                MemberState::Suspect,
                Some(from),
            )],
        );
    }
}

#[test]
fn two_confirmations_end_a_suspicion_at_the_lower_floor() {
    let mut h = Harness::with_peers(6);
    // p3 answers our own pings (so our health stays good) but never refutes.
    accused_by(&mut h, 3, &[1, 2, 4]);
    // n = 7: confirmed_suspicion_mult 2 * max(1, log10 7) * 1 s, where Lifeguard waits 4 s.
    h.advance(2 * SEC - 10 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    h.advance(20 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
}

#[test]
fn an_unhealthy_holder_waits_out_the_full_span_despite_confirmations() {
    let mut h = Harness::with_peers(6);
    accused_by(&mut h, 3, &[1, 2, 4]);
    h.swim.awareness.apply(5);
    // Confirmed twice, but this node's own health is bad: its verdict would rest on it.
    h.advance(4 * SEC);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    // n = 7: the full span is 6 * 4 s.
    h.advance(20 * SEC + 10 * MS);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Dead);
}

#[test]
fn an_unhealthy_members_doubt_stays_its_own_and_an_ack_ends_it() {
    let mut h = Harness::with_peers(6);
    h.swim.awareness.apply(5);
    h.responsive.remove(&peer_addr(3));
    h.advance_until_sent(60 * SEC, is_ping_to(&peer_name(3)));
    // Our scaled period (6 s) ends; the probe failed.
    h.advance(7 * SEC);
    assert_eq!(h.state_of(3).unwrap().0, MemberState::Suspect);
    assert_eq!(h.events_about(&peer_name(3)), [EventKind::Suspected]);
    assert_eq!(
        h.swim.stats().suspicions,
        0,
        "a private doubt is no accusation"
    );
    let told = h
        .sent_updates()
        .any(|u| u.name == peer_name(3) && u.state == MemberState::Suspect);
    assert!(!told, "nobody, p3 included, hears of the doubt");
    h.responsive.insert(peer_addr(3));
    h.advance(2 * SEC);
    assert_eq!(
        h.state_of(3).unwrap(),
        (MemberState::Alive, Incarnation(0)),
        "p3 answered: no refutation needed"
    );
    assert_eq!(h.events_about(&peer_name(3)), [EventKind::Alive]);
}

#[test]
fn singled_out_while_unhealthy_it_stands_down_then_rejoins_when_heard_again() {
    let mut h = Harness::with_peers(6);
    h.responsive.clear();
    h.swim.awareness.apply(5);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![about_me(0, MemberState::Suspect, 1)],
    );
    assert_eq!(
        h.swim.local().incarnation,
        Incarnation(1),
        "the first is refuted"
    );
    h.deliver(
        peer_addr(2),
        Message::Gossip,
        vec![about_me(1, MemberState::Suspect, 2)],
    );
    assert!(
        h.swim.standing_down(),
        "the second, with nobody else suspected, is not"
    );
    h.deliver(
        peer_addr(2),
        Message::Gossip,
        vec![about_me(1, MemberState::Dead, 2)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(1));
    h.sent.clear();
    // Silence: no prompt answers, so it stays down.
    h.advance(20 * SEC);
    assert!(h.swim.standing_down());
    for i in 1..=6 {
        h.responsive.insert(peer_addr(i));
    }
    // Probes at the base period, each answered at once: back after REJOIN_AFTER of them.
    h.advance(SEC * (REJOIN_AFTER + 1));
    assert!(!h.swim.standing_down());
    assert_eq!(h.swim.local().incarnation, Incarnation(2));
    let back = h.sent_updates().any(|u| {
        u.name == me() && u.state == MemberState::Alive && u.incarnation == Incarnation(2)
    });
    assert!(back, "its Alive at a new incarnation is gossiped");
}

#[test]
fn suspicions_of_others_all_around_keep_an_unhealthy_member_refuting() {
    let mut h = Harness::with_peers(6);
    h.swim.awareness.apply(5);
    // Uniform loss: everyone is suspected now and then.
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        [2, 3, 4]
            .map(|i| with_state(alive(i, 0), MemberState::Suspect, Some(1)))
            .to_vec(),
    );
    for (inc, from) in [(0, 5), (1, 6)] {
        h.deliver(
            peer_addr(from),
            Message::Gossip,
            vec![about_me(inc, MemberState::Suspect, from)],
        );
    }
    assert!(!h.swim.standing_down());
    assert_eq!(h.swim.local().incarnation, Incarnation(2));
}

#[test]
fn lifeguards_rule_never_stands_down() {
    let mut h = Harness::with_config(|c| c.suspicion_rule = SuspicionRule::Lifeguard);
    h.add_peers(1..=6);
    h.swim.awareness.apply(5);
    for (inc, from) in [(0, 1), (1, 2)] {
        h.deliver(
            peer_addr(from),
            Message::Gossip,
            vec![about_me(inc, MemberState::Suspect, from)],
        );
    }
    assert!(!h.swim.standing_down());
    assert_eq!(h.swim.local().incarnation, Incarnation(2));
}

/// Our next probe is answered, but only its second ping (the retry after `probe_timeout`)
/// gets through: what a member losing most of its inbound packets sees.
fn next_probe_answered_late(h: &mut Harness) {
    let (to, first) =
        h.advance_until_sent(10 * SEC, |_, p| matches!(p.message, Message::Ping { .. }));
    let Message::Ping { seq, .. } = first.message else {
        unreachable!("matched a ping")
    };
    h.advance_until_sent(10 * SEC, move |a, p| {
        *a == to && matches!(p.message, Message::Ping { seq: s, .. } if s == seq)
    });
    h.deliver(to, Message::Ack { seq, digest: None }, vec![]);
}

/// Two suspicions about us at once, from p1 then p2, nobody else suspected.
fn singled_out(h: &mut Harness) {
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![about_me(0, MemberState::Suspect, 1)],
    );
    h.deliver(
        peer_addr(2),
        Message::Gossip,
        vec![about_me(1, MemberState::Suspect, 2)],
    );
}

#[test]
fn probes_answered_only_late_make_a_singled_out_member_stand_down_despite_good_health() {
    let mut h = Harness::with_peers(6);
    h.responsive.clear();
    for _ in 0..2 {
        next_probe_answered_late(&mut h);
    }
    // Each answer, late or not, lowered the score: health alone would have it refute.
    h.advance(SEC);
    assert!(!h.swim.awareness.unhealthy());
    singled_out(&mut h);
    assert!(
        h.swim.standing_down(),
        "its probes keep needing the retry: its ears are the problem"
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(1));
}

#[test]
fn probes_answered_at_once_keep_a_singled_out_healthy_member_refuting() {
    let mut h = Harness::with_peers(6);
    // Every ping is answered at once.
    h.advance(3 * SEC);
    assert!(h.swim.stats().probes >= 2);
    singled_out(&mut h);
    assert!(!h.swim.standing_down());
    assert_eq!(h.swim.local().incarnation, Incarnation(2));
}

/// What a host reads in O(1) (`alive_members`, `member_state`) says what a walk through the
/// table says, as a member goes from Alive to Suspect to Dead.
#[test]
fn the_o1_counts_follow_the_table() {
    let mut h = Harness::with_peers(6);
    let name = peer_name(3);
    let agree = |h: &Harness| {
        let census = h.swim.census();
        assert_eq!(h.swim.alive_members(), census.by_state[0]);
        assert_eq!(
            h.swim.member_state(name.as_str()),
            h.state_of(3).map(|s| s.0)
        );
    };
    assert_eq!(h.swim.alive_members(), 6);
    assert_eq!(h.swim.member_state(name.as_str()), Some(MemberState::Alive));
    assert_eq!(h.swim.member_state("nobody"), None);
    agree(&h);
    accused_by(&mut h, 3, &[1, 2, 4]);
    assert_eq!(
        h.swim.member_state(name.as_str()),
        Some(MemberState::Suspect)
    );
    assert_eq!((h.swim.alive_members(), h.swim.active_members()), (5, 6));
    agree(&h);
    h.advance(2 * SEC + 10 * MS);
    assert_eq!(h.swim.member_state(name.as_str()), Some(MemberState::Dead));
    assert_eq!((h.swim.alive_members(), h.swim.active_members()), (5, 5));
    agree(&h);
}
