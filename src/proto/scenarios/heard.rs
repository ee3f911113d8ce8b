//! Provenance: each change is recorded with the path and the sender it came by, and the
//! transmissions that pass it on are counted, no more and no fewer than were sent.

use super::{SEC, me, probe_of_silent};
use crate::event::{EventKind, LamportTime};
use crate::member::{Incarnation, MemberState};
use crate::proto::testing::*;
use crate::proto::{Heard, News, Via};
use crate::wire::Message;

/// The latest record about member or user event `name`.
fn heard_about(h: &Harness, name: &str) -> Heard {
    h.swim
        .heard()
        .into_iter()
        .rev()
        .find(|r| match &r.news {
            News::Member { name: n, .. } => n.as_str() == name,
            News::User { name: n, .. } => n == name,
        })
        .unwrap_or_else(|| panic!("no record about {name}: {:?}", h.swim.heard()))
}

#[test]
fn piggybacked_news_names_its_sender_and_counts_every_retransmission() {
    let mut h = Harness::with_peers(5);
    let when = h.now;
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(9, 3)]);
    let r = heard_about(&h, "p9");
    assert_eq!(
        r.news,
        News::Member {
            name: peer_name(9),
            kind: EventKind::Joined,
            state: MemberState::Alive,
            incarnation: Incarnation(3),
        }
    );
    assert_eq!((r.via, r.at), (Via::Piggyback, when));
    assert_eq!(r.from, Some(peer_name(1)));
    assert_eq!(r.from_addr, Some(peer_addr(1)));
    h.advance(60 * SEC);
    let sent = h
        .sent_updates()
        .filter(|u| u.name == peer_name(9) && u.state == MemberState::Alive)
        .count();
    assert!(sent > 0);
    assert_eq!(heard_about(&h, "p9").told as usize, sent);
}

#[test]
fn sync_records_are_marked_as_sync_and_a_stranger_has_no_name() {
    let mut h = Harness::with_peers(2);
    let stranger = peer_addr(40);
    h.deliver(
        stranger,
        Message::Sync {
            reply: true,
            join: false,
        },
        // A stranger may add no one but itself: what it can say is news of members we hold.
        vec![with_state(alive(2, 0), MemberState::Suspect, None)],
    );
    let r = heard_about(&h, "p2");
    assert_eq!(r.via, Via::Sync);
    assert_eq!((r.from, r.from_addr), (None, Some(stranger)));
}

#[test]
fn a_suspicion_of_our_own_comes_from_our_probe() {
    let mut h = Harness::with_peers(3);
    probe_of_silent(&mut h, 2);
    h.advance(3 * SEC);
    assert!(
        h.events_about(&peer_name(2))
            .contains(&EventKind::Suspected)
    );
    let r = heard_about(&h, "p2");
    assert!(
        matches!(
            r.news,
            News::Member {
                state: MemberState::Suspect | MemberState::Dead,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!((r.via, r.from, r.from_addr), (Via::Probe, None, None));
}

#[test]
fn user_events_record_their_origin_and_their_sender() {
    let mut h = Harness::with_peers(5);
    h.swim.broadcast(h.now, "deploy", b"v2").unwrap();
    h.flush();
    let mine = heard_about(&h, "deploy");
    assert_eq!(mine.via, Via::Origin);
    assert!(matches!(&mine.news, News::User { origin, .. } if *origin == me()));
    assert_eq!(mine.told as usize, h.sent_events().len());

    h.deliver_events(
        peer_addr(3),
        Message::Gossip,
        0,
        vec![user_event(2, 9, Some(b"x"))],
    );
    let theirs = heard_about(&h, "ev9");
    assert_eq!(theirs.via, Via::Piggyback);
    assert_eq!(
        theirs.from,
        Some(peer_name(3)),
        "the sender, not the origin"
    );
    assert!(
        matches!(&theirs.news, News::User { origin, ltime, .. } if *origin == peer_name(2) && *ltime == LamportTime(9))
    );
    h.advance(10 * SEC);
    let sent = h.sent_events().iter().filter(|&&(_, t, _)| t == 9).count();
    assert!(sent > 0);
    assert_eq!(heard_about(&h, "ev9").told as usize, sent);
}

/// The records about peer `p`, leaving out the first (its join).
fn after_join(h: &Harness, p: usize) -> Vec<Heard> {
    h.swim
        .heard()
        .into_iter()
        .filter(|r| matches!(&r.news, News::Member { name, .. } if *name == peer_name(p)))
        .skip(1)
        .collect()
}

#[test]
fn a_suspicion_and_its_refutation_are_two_records_and_only_the_newer_is_passed_on() {
    let mut h = Harness::with_peers(5);
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        vec![with_state(alive(2, 0), MemberState::Suspect, Some(1))],
    );
    h.advance(SEC / 10);
    h.deliver(peer_addr(2), Message::Gossip, vec![alive(2, 1)]);
    // Its join, its suspicion, its refutation: one record each.
    let about = after_join(&h, 2);
    assert_eq!(about.len(), 2, "{about:?}");
    let told_then = about[0].told;
    assert!(matches!(
        about[0].news,
        News::Member {
            state: MemberState::Suspect,
            ..
        }
    ));
    assert!(matches!(
        about[1].news,
        News::Member {
            state: MemberState::Alive,
            incarnation: Incarnation(1),
            ..
        }
    ));
    assert_eq!(
        (about[1].via, about[1].from.clone()),
        (Via::Piggyback, Some(peer_name(2)))
    );
    h.advance(60 * SEC);
    let after = after_join(&h, 2);
    assert_eq!(
        after[0].told, told_then,
        "the replaced suspicion is no longer sent"
    );
    let refutations = h
        .sent_updates()
        .filter(|u| u.name == peer_name(2) && u.incarnation == Incarnation(1))
        .count();
    assert_eq!(after[1].told as usize, refutations);
}
