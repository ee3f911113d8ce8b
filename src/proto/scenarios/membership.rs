//! Who is in the table, and as what: joining through seeds, leaving, tags, SWIM's precedence
//! rules for incoming news, and forgetting departed members.

use std::time::Duration;

use super::{MS, SEC, me};
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState};
use crate::proto::Status;
use crate::proto::testing::*;
use crate::wire::Message;

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
fn a_joiner_that_is_probed_by_its_seed_is_in_even_if_the_answer_was_lost() {
    let mut h = Harness::joining(&[peer_addr(2)]);
    h.flush();
    h.sent.clear();
    // The seed's answer never came, but the seed already probes us.
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

/// The census a stats line reads counts what `members()` lists, state by state, and carries
/// the round trips of the members that answered, ascending.
#[test]
fn the_census_counts_what_the_member_list_shows() {
    let mut h = Harness::with_peers(6);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![
            with_state(alive(2, 0), MemberState::Suspect, Some(1)),
            with_state(alive(3, 0), MemberState::Dead, Some(1)),
            with_state(alive(4, 0), MemberState::Left, None),
        ],
    );
    h.advance(3 * SEC);
    let members = h.swim.members();
    let census = h.swim.census();
    assert_eq!(census, crate::member::Census::of(&members));
    assert_eq!(census.members(), members.len());
    assert_eq!(census.count(MemberState::Dead), 1);
    assert_eq!(census.count(MemberState::Left), 1);
    assert!(census.count(MemberState::Suspect) <= 1);
    assert_eq!(
        census.active(),
        members.iter().filter(|m| m.state.is_active()).count()
    );
    assert!(census.rtts_us.is_sorted());
}
