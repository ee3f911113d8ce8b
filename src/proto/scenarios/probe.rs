//! The probe cycle: acks to pings, one probe per member per round, ping-reqs after the probe
//! timeout, relaying someone else's ping-req, and how probe outcomes move the local health
//! score (Lifeguard).

use std::collections::HashSet;

use super::{MS, SEC, is_ping_to, me, probe_of_silent};
use crate::event::EventKind;
use crate::member::MemberState;
use crate::proto::testing::*;
use crate::proto::timer::Timer;
use crate::wire::Message;

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

/// An answered probe's timeout is dropped at once, so the host does not wake for it; an
/// unanswered one stays, to send the ping-reqs.
#[test]
fn an_answered_probe_leaves_no_timeout_to_wake_for() {
    let mut h = Harness::with_peers(3);
    h.advance(SEC);
    let p = h.swim.probe.clone().expect("a probe ran this period");
    assert!(p.acked);
    let timeout = Timer::ProbeTimeout { seq: p.seq };
    assert_eq!(h.swim.timers.due(&timeout), None);

    h.responsive.clear();
    h.advance_until_sent(2 * SEC, |_, p| matches!(p.message, Message::Ping { .. }));
    let p = h.swim.probe.clone().expect("a probe ran this period");
    assert!(!p.acked);
    assert!(
        h.swim
            .timers
            .due(&Timer::ProbeTimeout { seq: p.seq })
            .is_some()
    );
}
