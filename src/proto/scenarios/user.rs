//! User events: a broadcast is delivered once here and gossiped on, repeats are dropped, the
//! Lamport clock moves past what is seen, the remembered window forgets by count and age,
//! syncs carry what is remembered, a late joiner is not told of older events, and over-size
//! events are refused.

use super::{SEC, me, probe_of_silent};
use crate::error::BroadcastError;
use crate::event::{LamportTime, MAX_USER_EVENT_NAME};
use crate::member::MemberState;
use crate::proto::Status;
use crate::proto::testing::*;
use crate::wire::Message;

fn gossip() -> Message {
    Message::Gossip
}

fn sync(reply: bool) -> Message {
    Message::Sync { reply, join: false }
}

#[test]
fn a_broadcast_is_delivered_here_at_once_and_gossiped_to_every_peer_in_time() {
    let mut h = Harness::with_peers(5);
    let t = h.swim.broadcast(h.now, "deploy", b"v2").unwrap();
    assert_eq!(t, LamportTime(0));
    h.flush();
    let here = h.take_user_events();
    assert_eq!(here.len(), 1, "the origin reports its own event, once");
    assert_eq!(
        (here[0].name.as_str(), here[0].payload.as_slice()),
        ("deploy", &b"v2"[..])
    );
    assert_eq!(here[0].origin, me());
    // Some members hear at once, not at the next gossip tick.
    assert_eq!(h.sent_events().len(), 3, "gossip_nodes datagrams at once");
    h.advance(10 * SEC);
    let sends = h.sent_events().len();
    // n = 6 members: the retransmit limit is 4 * ceil(log10(7)) = 4.
    assert_eq!(sends, 4, "sent as often as other news, no more");
    assert!(h.sent_events().iter().all(|&(_, t, body)| t == 0 && body));
    assert!(h.take_user_events().is_empty(), "never delivered again");
    assert_eq!(h.swim.stats().user_events, 1);
    assert!(h.swim.stats().user_bytes_out > 4 * 2);
}

#[test]
fn repeats_are_delivered_once_whoever_sends_them() {
    let mut h = Harness::with_peers(5);
    let ev = user_event(2, 9, Some(b"hello"));
    for from in [2, 3, 4, 2] {
        h.deliver_events(peer_addr(from), gossip(), 0, vec![ev.clone()]);
    }
    h.deliver_events(peer_addr(5), sync(false), 0, vec![ev.clone()]);
    let got = h.take_user_events();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].origin, peer_name(2));
    assert_eq!(got[0].ltime, LamportTime(9));
    // The same time from another origin is another event.
    h.deliver_events(peer_addr(3), gossip(), 0, vec![user_event(3, 9, Some(b""))]);
    assert_eq!(h.take_user_events().len(), 1);
    assert_eq!(h.swim.stats().user_events, 2);
}

#[test]
fn the_clock_moves_past_every_event_and_every_clock_it_sees() {
    let mut h = Harness::with_peers(3);
    assert_eq!(h.swim.broadcast(h.now, "a", b"").unwrap(), LamportTime(0));
    assert_eq!(h.swim.broadcast(h.now, "a", b"").unwrap(), LamportTime(1));
    h.deliver_events(
        peer_addr(1),
        gossip(),
        0,
        vec![user_event(1, 41, Some(b""))],
    );
    assert_eq!(h.swim.broadcast(h.now, "a", b"").unwrap(), LamportTime(42));
    // A sender's clock (in a sync, or beside its events) is caught up with too.
    h.deliver_events(peer_addr(2), sync(false), 100, vec![]);
    assert_eq!(h.swim.broadcast(h.now, "a", b"").unwrap(), LamportTime(100));
    // An older event does not move it back.
    h.deliver_events(peer_addr(2), gossip(), 0, vec![user_event(2, 7, Some(b""))]);
    assert_eq!(h.swim.broadcast(h.now, "a", b"").unwrap(), LamportTime(101));
}

#[test]
fn beyond_the_buffer_the_oldest_is_forgotten_and_never_delivered_again() {
    let mut h = Harness::with_config(|c| c.user_event_buffer = 3);
    h.add_peers(1..=3);
    for t in [10, 11, 12, 13] {
        h.deliver_events(
            peer_addr(1),
            gossip(),
            0,
            vec![user_event(1, t, Some(b"x"))],
        );
    }
    assert_eq!(h.take_user_events().len(), 4);
    assert_eq!(h.swim.user.remembered(), 3);
    // (p1, 10) was forgotten: it and anything older are too old now, new or not.
    h.deliver_events(
        peer_addr(2),
        gossip(),
        0,
        vec![user_event(1, 10, Some(b"x"))],
    );
    h.deliver_events(
        peer_addr(2),
        gossip(),
        0,
        vec![user_event(2, 9, Some(b"x"))],
    );
    assert!(h.take_user_events().is_empty());
    assert_eq!(h.swim.stats().user_events_stale, 2);
    // Still remembered: a repeat, silently.
    h.deliver_events(
        peer_addr(2),
        gossip(),
        0,
        vec![user_event(1, 11, Some(b"x"))],
    );
    assert!(h.take_user_events().is_empty());
    assert_eq!(h.swim.stats().user_events_stale, 2);
}

#[test]
fn payloads_age_out_but_what_was_seen_is_remembered() {
    let mut h = Harness::with_peers(3);
    h.deliver_events(
        peer_addr(1),
        gossip(),
        0,
        vec![user_event(1, 5, Some(b"x"))],
    );
    let max_age = h.swim.config.user_event_max_age;
    h.advance(10 * SEC);
    let before = h.ack_digest().expect("quiet");
    // A sync now carries the event with its payload...
    h.sent.clear();
    h.deliver(peer_addr(2), sync(true), vec![]);
    assert_eq!(h.sent_events(), [(peer_addr(2), 5, true)]);
    h.advance(max_age);
    // ...and after max_age only its name and time; the digest did not change.
    h.sent.clear();
    h.swim.sync_replies = 0;
    h.deliver(peer_addr(2), sync(true), vec![]);
    assert_eq!(h.sent_events(), [(peer_addr(2), 5, false)]);
    assert_eq!(h.ack_digest(), Some(before));
    // A repeat is still recognised.
    h.deliver_events(
        peer_addr(3),
        gossip(),
        0,
        vec![user_event(1, 5, Some(b"x"))],
    );
    assert_eq!(h.take_user_events().len(), 1, "the first delivery only");
}

#[test]
fn a_sync_brings_a_missed_event_and_passes_it_on() {
    let mut h = Harness::with_peers(4);
    h.advance(10 * SEC);
    h.sent.clear();
    h.deliver_events(
        peer_addr(2),
        sync(false),
        3,
        vec![user_event(3, 2, Some(b"late"))],
    );
    let got = h.take_user_events();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"late");
    h.advance(10 * SEC);
    assert!(
        !h.sent_events().is_empty(),
        "news from a sync is gossiped on, like member records"
    );
    // One that arrives without its payload (aged out where it came from) is counted, not
    // delivered.
    h.deliver_events(peer_addr(2), sync(false), 3, vec![user_event(3, 1, None)]);
    assert!(h.take_user_events().is_empty());
    assert_eq!(h.swim.stats().user_events_missed, 1);
}

#[test]
fn syncs_carry_what_is_remembered_after_the_members_with_the_clock_in_every_chunk() {
    let mut h = Harness::with_config(|c| {
        c.packet_budget = 512;
        c.max_user_payload = 300;
    });
    h.add_peers(1..=40);
    for t in 0..4 {
        h.deliver_events(
            peer_addr(1),
            gossip(),
            0,
            vec![user_event(1, t, Some(&[7; 300]))],
        );
    }
    h.advance(10 * SEC);
    h.sent.clear();
    h.deliver(peer_addr(2), sync(true), vec![]);
    let chunks: Vec<_> = h
        .sent
        .iter()
        .filter(|(to, p)| *to == peer_addr(2) && matches!(p.message, Message::Sync { .. }))
        .collect();
    assert!(
        chunks.len() > 4,
        "40 members and 4 large events need many chunks"
    );
    assert!(
        chunks
            .iter()
            .all(|(_, p)| p.user.as_ref().map(|u| u.clock) == Some(LamportTime(4))),
        "every chunk tells the clock"
    );
    let times: Vec<u64> = h.sent_events().iter().map(|&(_, t, _)| t).collect();
    assert_eq!(times, [0, 1, 2, 3]);
    assert!(h.sizes.iter().all(|&s| s <= 512));
}

#[test]
fn a_quiet_member_that_missed_an_event_is_repaired_at_once() {
    let mut h = Harness::with_peers(3);
    h.advance(10 * SEC);
    let without = h.ack_digest().unwrap();
    h.deliver_events(
        peer_addr(1),
        gossip(),
        0,
        vec![user_event(1, 0, Some(b"x"))],
    );
    assert_eq!(h.ack_digest(), None, "not quiet while the event spreads");
    h.advance(10 * SEC);
    let with = h.ack_digest().unwrap();
    assert_ne!(with, without, "the event is part of the digest");
    // A peer whose member table is the same but who lacks the event acks with `without`:
    // the difference is repaired with a push-pull that carries the event. Only the ack of a
    // member we probed may start a repair, so we probe it first.
    let seq = probe_of_silent(&mut h, 2);
    h.responsive.insert(peer_addr(2));
    h.sent.clear();
    let ack = Message::Ack {
        seq,
        digest: Some(without),
    };
    h.deliver(peer_addr(2), ack, vec![]);
    assert_eq!(h.swim.stats().repairs, 1);
    assert_eq!(h.sent_events(), [(peer_addr(2), 0, true)]);
}

#[test]
fn a_late_joiner_is_not_told_of_older_events_but_gets_newer_ones() {
    let seed = peer_addr(1);
    let mut h = Harness::joining(&[seed]);
    // The seed's answer: its table, its clock (20), and the events it remembers.
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver_events(
        seed,
        answer,
        20,
        vec![
            user_event(1, 4, Some(b"old")),
            user_event(2, 19, Some(b"old")),
        ],
    );
    assert_eq!(h.status(), Status::Running);
    assert!(h.take_user_events().is_empty(), "older than the join");
    assert_eq!(h.swim.user.remembered(), 2, "remembered, so digests agree");
    // Gossip of one of those, later, is a repeat; a newer event is delivered.
    h.deliver_events(seed, gossip(), 0, vec![user_event(2, 19, Some(b"old"))]);
    h.deliver_events(seed, gossip(), 0, vec![user_event(2, 20, Some(b"new"))]);
    let got = h.take_user_events();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"new");
    // Its own first event comes after everything it was told of.
    assert_eq!(h.swim.broadcast(h.now, "x", b"").unwrap(), LamportTime(21));
}

#[test]
fn over_size_events_are_refused_whole_and_nothing_is_sent() {
    let mut h = Harness::with_peers(3);
    let max = h.swim.config.max_user_payload;
    assert_eq!(max, 512);
    let long = "n".repeat(MAX_USER_EVENT_NAME + 1);
    let cases = [
        ("", 0, BroadcastError::EmptyName),
        (
            long.as_str(),
            0,
            BroadcastError::NameTooLong {
                len: 65,
                max: MAX_USER_EVENT_NAME,
            },
        ),
        (
            "ok",
            max + 1,
            BroadcastError::PayloadTooLarge { len: 513, max },
        ),
    ];
    for (name, len, want) in cases {
        assert_eq!(h.swim.broadcast(h.now, name, &vec![0; len]), Err(want));
    }
    h.flush();
    assert!(h.sent_events().is_empty());
    assert!(h.take_user_events().is_empty());
    // The clock did not move; the limits themselves are accepted.
    let name = "n".repeat(MAX_USER_EVENT_NAME);
    assert_eq!(
        h.swim.broadcast(h.now, &name, &vec![0; max]),
        Ok(LamportTime(0))
    );
    let err = BroadcastError::PayloadTooLarge { len: 513, max };
    assert!(err.to_string().contains("513") && err.to_string().contains("512"));
}

#[test]
fn a_member_that_is_not_running_does_not_broadcast() {
    let mut h = Harness::joining(&[peer_addr(1)]);
    assert_eq!(
        h.swim.broadcast(h.now, "x", b""),
        Err(BroadcastError::NotRunning)
    );
    let mut h = Harness::with_peers(2);
    h.swim.leave(h.now);
    assert_eq!(
        h.swim.broadcast(h.now, "x", b""),
        Err(BroadcastError::NotRunning)
    );
}

#[test]
fn an_event_larger_than_our_limit_is_remembered_not_delivered() {
    let mut h = Harness::with_config(|c| c.max_user_payload = 100);
    h.add_peers(1..=2);
    h.deliver_events(
        peer_addr(1),
        gossip(),
        0,
        vec![user_event(1, 3, Some(&[0; 200]))],
    );
    assert!(h.take_user_events().is_empty());
    assert_eq!(h.swim.stats().user_events_oversize, 1);
    assert_eq!(h.swim.user.remembered(), 1);
}

#[test]
fn an_event_names_its_origin_even_before_the_origin_is_known() {
    let mut h = Harness::with_peers(2);
    h.deliver_events(
        peer_addr(1),
        gossip(),
        0,
        vec![user_event(9, 1, Some(b"x"))],
    );
    let events = h.take_events();
    let e = &events[0];
    assert_eq!(e.member.name, peer_name(9));
    assert_eq!(e.member.addr, peer_addr(9));
    assert_eq!(e.member.state, MemberState::Alive);
    assert_eq!(
        e.user.as_ref().map(|u| u.origin.clone()),
        Some(peer_name(9))
    );
    assert_eq!(h.state_of(9), None, "an event does not add a member");
}
