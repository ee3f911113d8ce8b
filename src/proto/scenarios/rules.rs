//! Issue 26's rules about counters and identities: implausible jumps of an incarnation or an
//! event clock, names claimed at a second address, and what departures leave behind.

use super::{SEC, me};
use crate::error::BroadcastError;
use crate::event::LamportTime;
use crate::member::{Incarnation, MemberState};
use crate::proto::Status;
use crate::proto::merge::MAX_INCARNATION_JUMP;
use crate::proto::testing::*;
use crate::proto::user::MAX_CLOCK_JUMP;
use crate::wire::Message;

const TOP: u32 = u32::MAX;

fn join_reply() -> Message {
    Message::Sync {
        reply: false,
        join: true,
    }
}

#[test]
fn a_death_at_the_top_of_the_range_is_dropped_and_counted() {
    let mut h = Harness::with_peers(3);
    let forged = with_state(alive(2, TOP), MemberState::Dead, None);
    h.deliver(stranger(), Message::Gossip, vec![forged]);
    assert_eq!(h.state_of(2), Some((MemberState::Alive, Incarnation(0))));
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    // Honest news still moves p2: a suspicion, and its refutation one higher.
    let suspect = with_state(alive(2, 0), MemberState::Suspect, Some(1));
    h.deliver(peer_addr(1), Message::Gossip, vec![suspect]);
    assert_eq!(h.state_of(2), Some((MemberState::Suspect, Incarnation(0))));
    h.deliver(peer_addr(2), Message::Gossip, vec![alive(2, 1)]);
    assert_eq!(h.state_of(2), Some((MemberState::Alive, Incarnation(1))));
}

#[test]
fn an_alive_at_the_top_of_the_range_cannot_swallow_later_changes() {
    let mut h = Harness::with_peers(3);
    h.deliver(stranger(), Message::Gossip, vec![alive(2, TOP)]);
    assert_eq!(h.state_of(2), Some((MemberState::Alive, Incarnation(0))));
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    let mut tagged = alive(2, 1);
    tagged.tags = crate::member::Tags::new([("role", "db")]).unwrap();
    h.deliver(peer_addr(2), Message::Gossip, vec![tagged]);
    assert_eq!(h.state_of(2), Some((MemberState::Alive, Incarnation(1))));
    assert_eq!(
        h.events_about(&peer_name(2)),
        [crate::event::EventKind::Updated]
    );
}

#[test]
fn a_jump_of_exactly_the_bound_is_believed_one_more_is_not() {
    let mut h = Harness::with_peers(3);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![alive(2, MAX_INCARNATION_JUMP)],
    );
    assert_eq!(
        h.state_of(2),
        Some((MemberState::Alive, Incarnation(MAX_INCARNATION_JUMP)))
    );
    let next = 2 * MAX_INCARNATION_JUMP + 1;
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, next)]);
    assert_eq!(
        h.state_of(2),
        Some((MemberState::Alive, Incarnation(MAX_INCARNATION_JUMP)))
    );
    assert_eq!(h.swim.stats().dropped_implausible, 1);
}

fn about_me(inc: u32, state: MemberState) -> crate::wire::Update {
    let mut u = alive(0, inc);
    u.name = me();
    u.addr = my_addr();
    u.state = state;
    u
}

#[test]
fn news_about_us_far_past_our_incarnation_is_not_adopted_while_running() {
    let mut h = Harness::with_peers(3);
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![about_me(TOP, MemberState::Dead)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(0));
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    assert_eq!(h.swim.stats().refutations, 0);
    // An honest suspicion is still refuted, one higher.
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![about_me(0, MemberState::Suspect)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(1));
    assert_eq!(h.swim.stats().refutations, 1);
}

#[test]
fn a_joiner_takes_its_old_record_from_a_seed_but_not_from_a_stranger() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![about_me(50_000, MemberState::Dead)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(0));
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    // The seed's reply holds us from before a restart, far past 0: that is refuted.
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![alive(1, 0), about_me(50_000, MemberState::Dead)],
    );
    assert_eq!(h.status(), Status::Running);
    assert_eq!(h.swim.local().incarnation, Incarnation(50_001));
}

#[test]
fn an_incarnation_at_the_top_is_refused_and_counted_not_stuck_silently() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![alive(1, 0), about_me(TOP - 1, MemberState::Suspect)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(TOP));
    assert_eq!(h.swim.stats().incarnation_exhausted, 0);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![about_me(TOP, MemberState::Suspect)],
    );
    assert_eq!(h.swim.stats().incarnation_exhausted, 1);
    assert_eq!(h.swim.stats().refutations, 1, "only the first one");
    let tags = crate::member::Tags::new([("a", "b")]).unwrap();
    h.swim.set_tags(h.now, tags);
    assert_eq!(h.swim.stats().incarnation_exhausted, 2);
    assert!(h.swim.local().tags.is_empty(), "the change is refused");
    assert_eq!(h.swim.local().incarnation, Incarnation(TOP));
}

fn stranger() -> std::net::SocketAddr {
    "10.9.9.9:9".parse().unwrap()
}

#[test]
fn an_event_clock_at_the_top_of_the_range_is_dropped_and_broadcasts_still_arrive() {
    let mut h = Harness::with_peers(3);
    // One record at 2^64-1 in a section whose clock is there too: both dropped.
    let forged = user_event(2, u64::MAX, Some(b"x"));
    h.deliver_events(stranger(), Message::Gossip, u64::MAX, vec![forged]);
    assert_eq!(h.swim.stats().dropped_implausible, 2);
    assert!(h.take_user_events().is_empty());
    // Honest events still move the clock, and our own broadcast is delivered here.
    h.deliver_events(
        peer_addr(1),
        Message::Gossip,
        6,
        vec![user_event(1, 5, Some(b"y"))],
    );
    assert_eq!(h.take_user_events().len(), 1);
    let t = h.swim.broadcast(h.now, "deploy", b"v2").unwrap();
    assert_eq!(t, LamportTime(6));
    h.flush();
    assert_eq!(h.take_user_events().len(), 1, "delivered here at once");
    assert!(h.sent_events().iter().any(|&(_, t, body)| t == 6 && body));
}

#[test]
fn a_jump_of_the_clock_up_to_the_bound_is_believed() {
    let mut h = Harness::with_peers(3);
    let far = MAX_CLOCK_JUMP;
    h.deliver_events(
        peer_addr(1),
        Message::Gossip,
        far,
        vec![user_event(1, far - 1, Some(b""))],
    );
    assert_eq!(h.swim.stats().dropped_implausible, 0);
    assert_eq!(h.take_user_events().len(), 1);
    assert_eq!(h.swim.broadcast(h.now, "e", b"").unwrap(), LamportTime(far));
}

#[test]
fn a_joiner_takes_its_start_clock_from_a_seed_but_not_from_a_stranger() {
    let far = 1u64 << 40;
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver_events(stranger(), join_reply(), u64::MAX, vec![]);
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    h.deliver(peer_addr(1), join_reply(), vec![alive(1, 0)]);
    assert_eq!(h.status(), Status::Running);
    h.deliver_events(peer_addr(1), join_reply(), far, vec![]);
    assert_eq!(h.swim.stats().dropped_implausible, 1);
    assert_eq!(h.swim.broadcast(h.now, "e", b"").unwrap(), LamportTime(far));
    h.flush();
    assert_eq!(h.take_user_events().len(), 1);
}

#[test]
fn a_broadcast_that_cannot_get_a_time_of_its_own_is_an_error() {
    // A cluster poisoned before the fix hands its joiner a clock at the top.
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver(peer_addr(1), join_reply(), vec![alive(1, 0)]);
    h.deliver_events(peer_addr(1), join_reply(), u64::MAX, vec![]);
    assert_eq!(
        h.swim.broadcast(h.now, "e", b""),
        Err(BroadcastError::ClockExhausted)
    );
    assert!(h.take_user_events().is_empty());
}

#[test]
fn flipping_a_member_between_alive_and_dead_keeps_the_timers_bounded() {
    let mut h = Harness::with_peers(3);
    let quiet = h.swim.timers.len();
    for inc in 1..=5_000u32 {
        let dead = with_state(alive(2, inc), MemberState::Dead, None);
        h.deliver(stranger(), Message::Gossip, vec![alive(2, inc), dead]);
    }
    assert_eq!(h.state_of(2), Some((MemberState::Dead, Incarnation(5_000))));
    // At most one live reclaim, plus what a sweep at twice the live count lets wait.
    let timers = h.swim.timers.len();
    assert!(
        timers <= 2 * (quiet + 1) + 64,
        "{timers} timers after 5,000 flips"
    );
    // The one that matters still fires: p2 is forgotten after dead_node_reclaim.
    h.responsive.remove(&peer_addr(2));
    h.advance(h.swim.config.dead_node_reclaim + SEC);
    assert_eq!(h.state_of(2), None);
}

fn at(mut u: crate::wire::Update, addr: std::net::SocketAddr) -> crate::wire::Update {
    u.addr = addr;
    u
}

#[test]
fn a_live_member_keeps_its_address_against_a_claim_from_elsewhere() {
    let mut h = Harness::with_peers(3);
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![at(alive(2, 1), stranger())],
    );
    let p2 = h
        .swim
        .members()
        .into_iter()
        .find(|m| m.name == peer_name(2));
    assert_eq!(
        p2.map(|m| (m.addr, m.incarnation)),
        Some((peer_addr(2), Incarnation(0)))
    );
    assert_eq!(h.swim.stats().name_conflicts, 1);
    // Suspected, it still holds the name.
    let suspect = with_state(alive(2, 0), MemberState::Suspect, Some(1));
    h.deliver(peer_addr(1), Message::Gossip, vec![suspect]);
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![at(alive(2, 1), stranger())],
    );
    assert_eq!(h.swim.stats().name_conflicts, 2);
    assert_eq!(h.state_of(2), Some((MemberState::Suspect, Incarnation(0))));
    // Once it is dead, a restart elsewhere takes the name.
    let dead = with_state(alive(2, 0), MemberState::Dead, Some(1));
    h.deliver(peer_addr(1), Message::Gossip, vec![dead]);
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![at(alive(2, 1), stranger())],
    );
    let p2 = h
        .swim
        .members()
        .into_iter()
        .find(|m| m.name == peer_name(2));
    assert_eq!(
        p2.map(|m| (m.addr, m.state)),
        Some((stranger(), MemberState::Alive))
    );
    assert_eq!(h.swim.stats().name_conflicts, 2);
}

#[test]
fn the_holder_hearing_its_name_claimed_elsewhere_reports_it_and_refutes_from_its_own_address() {
    let mut h = Harness::with_peers(3);
    h.deliver(
        stranger(),
        Message::Gossip,
        vec![at(about_me(1, MemberState::Alive), stranger())],
    );
    assert_eq!(h.swim.stats().name_conflicts, 1);
    assert_eq!(h.swim.local().incarnation, Incarnation(2));
    assert_eq!(h.swim.local().addr, my_addr());
    h.advance(SEC);
    assert!(
        h.sent_updates()
            .any(|u| u.name == me() && u.addr == my_addr() && u.incarnation == Incarnation(2)),
        "the refutation goes out with our own address"
    );
}

#[test]
fn a_joiner_whose_name_a_live_member_holds_is_refused_naming_the_holder() {
    let holder = stranger();
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![at(about_me(4, MemberState::Alive), holder), alive(1, 0)],
    );
    assert_eq!(h.status(), Status::Joining, "not in while the name is held");
    assert_eq!(h.swim.local().incarnation, Incarnation(0), "no refutation");
    assert_eq!(h.swim.stats().name_conflicts, 1);
    h.advance(h.swim.config.join_timeout);
    assert_eq!(h.status(), Status::NameTaken(holder));
    assert_eq!(h.swim.poll_timeout(), None);
}

#[test]
fn a_joiner_whose_earlier_run_was_declared_dead_takes_its_name_back() {
    let old = stranger();
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![at(about_me(4, MemberState::Alive), old), alive(1, 0)],
    );
    assert_eq!(h.status(), Status::Joining);
    // A later answer: the crashed earlier run was declared dead meanwhile.
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![at(about_me(4, MemberState::Dead), old), alive(1, 0)],
    );
    assert_eq!(h.status(), Status::Running);
    assert_eq!(h.swim.local().incarnation, Incarnation(5));
}

#[test]
fn user_event_names_with_control_characters_are_refused_and_dropped() {
    let mut h = Harness::with_peers(3);
    for name in ["a\0b", "two\nlines", "\u{1b}[2Jclear"] {
        assert_eq!(
            h.swim.broadcast(h.now, name, b""),
            Err(BroadcastError::NameControlCharacter),
            "{name:?}"
        );
    }
    h.flush();
    assert!(h.take_user_events().is_empty());
    assert!(h.sent_events().is_empty(), "nothing was sent");
    // One arriving from elsewhere is counted and dropped with its datagram.
    let mut bad = user_event(1, 3, Some(b"x"));
    if let Some(body) = &mut bad.body {
        std::sync::Arc::make_mut(body).name = "a\0b".into();
    }
    h.deliver_events(peer_addr(1), Message::Gossip, 4, vec![bad]);
    assert_eq!(h.swim.stats().dropped_malformed, 1);
    assert!(h.take_user_events().is_empty());
    assert_eq!(
        h.swim.broadcast(h.now, "fine-name", b"").unwrap(),
        LamportTime(0)
    );
}

#[test]
fn a_strangers_datagram_cannot_vouch_for_itself_while_we_join() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    h.flush();
    // A sync from a stranger whose first record names the stranger's own address.
    let vouch = at(alive(9, 0), stranger());
    let packet = crate::wire::Packet {
        message: join_reply(),
        updates: vec![vouch, about_me(50_000, MemberState::Dead)],
        user: Some(crate::wire::UserSection {
            clock: LamportTime(u64::MAX),
            records: vec![],
        }),
    };
    let now = h.now;
    h.swim
        .handle_datagram(now, stranger(), &crate::wire::encode(None, &packet));
    h.flush();
    assert_eq!(h.swim.local().incarnation, Incarnation(0));
    assert_eq!(
        h.swim.stats().dropped_implausible,
        2,
        "our record and the clock"
    );
}

#[test]
fn a_running_node_joining_in_the_background_takes_its_old_record_from_the_seed() {
    // retry_join: a cluster of one that asks seeds later.
    let mut h = Harness::new();
    h.swim.join(h.now, &[peer_addr(1)]);
    h.flush();
    assert_eq!(h.status(), Status::Running);
    h.deliver(
        peer_addr(1),
        join_reply(),
        vec![about_me(50_000, MemberState::Dead), alive(1, 0)],
    );
    assert_eq!(h.swim.local().incarnation, Incarnation(50_001));
    assert_eq!(h.swim.stats().dropped_implausible, 0);
}
