//! Dissemination: how often each piece of news is sent, that datagrams stay in the packet
//! budget, and that verdicts go out at once.

use super::{MS, SEC};
use crate::member::{Incarnation, MemberState};
use crate::proto::testing::*;
use crate::proto::timer::Timer;
use crate::wire::Message;

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
fn datagrams_stay_within_the_packet_budget() {
    let mut h = Harness::with_config(|c| {
        c.packet_budget = 600;
        c.max_user_payload = 256;
    });
    // Members gossip about many members (a stranger may tell only of itself); the verified
    // ones answer, so gossip flows to them.
    let updates: Vec<_> = (1..=200).map(|i| alive(i, 0)).collect();
    h.add_peers(1..=20);
    h.deliver(peer_addr(1), Message::Gossip, updates);
    h.advance(5 * SEC);
    assert!(h.sent.len() > 5);
    assert!(h.sizes.iter().all(|&s| s <= 600), "{:?}", h.sizes);
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

/// Once every piece of news is spent, the gossip tick stops firing: a quiet member wakes for
/// its probes, not five times a second for nothing.
#[test]
fn a_quiet_member_sleeps_through_its_gossip_ticks() {
    let mut h = Harness::with_peers(5);
    h.advance(60 * SEC);
    assert!(h.swim.gossip.is_empty() && h.swim.user.queue.is_empty());
    assert_eq!(h.swim.timers.due(&Timer::GossipTick), None);
    assert!(h.swim.gossip_asleep.is_some());
    let sent = h.sent.len();
    h.advance(10 * SEC);
    assert!(
        h.sent[sent..]
            .iter()
            .all(|(_, p)| !matches!(p.message, Message::Gossip)),
        "nothing to gossip, so no gossip datagram"
    );
}

/// News wakes the tick on its old phase, at the first tick instant not yet past, and is
/// gossiped then to `gossip_nodes` members, as a tick that never slept would have.
#[test]
fn news_wakes_the_gossip_tick_on_its_phase() {
    let mut h = Harness::with_peers(5);
    h.advance(60 * SEC);
    let phase = h.swim.gossip_asleep.expect("asleep once the news is spent");
    let interval = h.swim.config.gossip_interval;
    h.advance(1234 * MS);
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 3)]);
    let due = h.swim.timers.due(&Timer::GossipTick).expect("awake");
    assert!(h.swim.gossip_asleep.is_none());
    assert!(
        due >= h.now && due - h.now < interval,
        "the next tick, not later"
    );
    assert_eq!(
        (due - phase).as_nanos() % interval.as_nanos(),
        0,
        "on the old phase"
    );
    let sent = h.sent.len();
    h.advance(due - h.now);
    let gossiped = h.sent[sent..]
        .iter()
        .filter(|(_, p)| matches!(p.message, Message::Gossip))
        .count();
    assert_eq!(gossiped, h.swim.config.gossip_nodes);
}

/// A member that tags itself or broadcasts while its tick sleeps wakes it too.
#[test]
fn own_news_wakes_the_gossip_tick() {
    let mut h = Harness::with_peers(5);
    h.advance(60 * SEC);
    assert_eq!(h.swim.timers.due(&Timer::GossipTick), None);
    let now = h.now;
    h.swim.set_tags(now, crate::member::Tags::default());
    assert!(h.swim.timers.due(&Timer::GossipTick).is_some());
    h.advance(60 * SEC);
    assert_eq!(h.swim.timers.due(&Timer::GossipTick), None);
    let now = h.now;
    h.swim.broadcast(now, "deploy", b"v2").unwrap();
    assert!(h.swim.timers.due(&Timer::GossipTick).is_some());
}

/// The backlog a host (and the model check) reads is the queue itself: one item per member
/// heard of, and no more than the cap however many members are heard of.
#[test]
fn the_update_backlog_is_visible_and_stays_within_its_bound() {
    use crate::proto::MAX_QUEUED;
    let mut h = Harness::new();
    // Members that introduce themselves, each from its own address (a stranger's datagram
    // adds only its sender).
    for i in 1..=3 {
        h.deliver(peer_addr(i), Message::Gossip, vec![alive(i, 0)]);
    }
    assert_eq!(h.swim.queued_updates(), 3);
    assert_eq!(h.swim.queued_user_events(), 0);
    for i in 4..=MAX_QUEUED + 100 {
        h.deliver(peer_addr(i), Message::Gossip, vec![alive(i, 0)]);
    }
    assert!(h.swim.members().len() > MAX_QUEUED);
    assert_eq!(h.swim.queued_updates(), MAX_QUEUED);
}
