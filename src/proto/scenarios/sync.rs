//! Full-state sync: a seed's answer to a joiner, Dead records in a sync, anti-entropy by
//! digest, and the answer budget under many joiners.

use std::collections::HashSet;

use super::SEC;
use crate::event::EventKind;
use crate::member::MemberState;
use crate::proto::testing::*;
use crate::wire::Message;

#[test]
fn seed_answers_a_join_with_its_whole_table_in_budget_sized_chunks() {
    let mut h = Harness::with_config(|c| {
        c.packet_budget = 512;
        c.max_user_payload = 256;
    });
    h.add_peers(1..=60);
    // The join request, then (a member now) the pull: see hostile.rs for the first answer.
    for _ in 0..2 {
        h.deliver(
            peer_addr(99),
            Message::Sync {
                reply: true,
                join: true,
            },
            vec![alive(99, 0)],
        );
    }
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
    assert!(chunks.len() > 2, "the pull is answered in full");
    assert!(h.sizes.iter().all(|&s| s <= 512));
    assert_eq!(h.events_about(&peer_name(99)), [EventKind::Joined]);
}

#[test]
fn joiners_past_the_answer_budget_still_hear_they_are_in() {
    let mut h = Harness::with_peers(5);
    // Forty join at once, then each pulls the table.
    let join_all = |h: &mut Harness| {
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
    };
    join_all(&mut h);
    // Each was answered within its request's size, with no share of the budget taken.
    assert_eq!(h.sent.len(), 40);
    h.sent.clear();
    join_all(&mut h);
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
