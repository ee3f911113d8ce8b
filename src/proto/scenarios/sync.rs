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

/// Whether `p` asks for the table the way a joiner does: a pull carrying our own record.
fn is_pull(p: &crate::wire::Packet) -> bool {
    p.message
        == Message::Sync {
            reply: true,
            join: true,
        }
        && p.updates.len() == 1
        && p.updates[0].name == super::me()
}

/// A joiner whose seed answered "you are in, now pull" and then, out of answers for that
/// period, only "you are in".
fn turned_away() -> Harness {
    let seed = peer_addr(1);
    let mut h = Harness::joining(&[seed]);
    h.flush();
    let limited = Message::Sync {
        reply: false,
        join: true,
    };
    h.deliver(seed, limited, vec![alive(1, 0)]);
    assert!(h.sent.iter().any(|(to, p)| *to == seed && is_pull(p)));
    let in_only = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(seed, in_only, vec![alive(1, 0)]);
    assert_eq!(h.status(), crate::proto::Status::Running);
    h.sent.clear();
    h
}

/// A whole table as member `from` would send it: itself, us, and peers `others`.
fn table_from(from: usize, others: std::ops::RangeInclusive<usize>) -> Vec<crate::wire::Update> {
    let mut records = vec![alive(from, 0)];
    records.push(crate::wire::Update {
        name: super::me(),
        addr: my_addr(),
        ..alive(0, 0)
    });
    records.extend(others.filter(|&i| i != from).map(|i| alive(i, 0)));
    records
}

#[test]
fn a_joiner_told_only_it_is_in_pulls_the_table_from_a_member_it_heard_of() {
    let mut h = turned_away();
    // Gossip from the seed tells of a few members, not the whole cluster, and they probe us
    // (which verifies them: a pull goes only to a member that answers for its address).
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        (2..=4).map(|i| alive(i, 0)).collect(),
    );
    for i in 2..=4 {
        let ping = Message::Ping {
            seq: 1,
            target: super::me().id(),
        };
        h.deliver(peer_addr(i), ping, vec![]);
    }
    h.sent.clear();
    // Once turned away, the next pull waits a probe interval, jittered by up to half of it.
    let (to, _) = h.advance_until_sent(3 * SEC / 2, |_, p| is_pull(p));
    assert!(
        (2..=4).any(|i| to == peer_addr(i)),
        "a member other than the seed is asked, not {to}"
    );
    assert_eq!(h.swim.stats().table_pulls, 1);
    // Its table fills ours long before the 30 s push-pull (lan) could have.
    let i = (2..=4).find(|&i| to == peer_addr(i)).unwrap();
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(to, answer, table_from(i, 1..=20));
    assert_eq!(h.swim.active_members(), 20);
    // A table of 21 (a small cluster) is taken as whole: no more pulls.
    h.sent.clear();
    h.advance(60 * SEC);
    assert!(!h.sent.iter().any(|(_, p)| is_pull(p)));
    assert_eq!(h.swim.stats().table_pulls, 1);
}

#[test]
fn in_a_large_cluster_a_joiner_pulls_until_a_table_teaches_it_nothing() {
    let mut h = turned_away();
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    // The first member asked knows 40 members, the next 60 (more joined meanwhile), the
    // third the same 60.
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, 0)]);
    let mut pulled_from = Vec::new();
    for known in [40, 60, 60] {
        h.sent.clear();
        let (to, _) = h.advance_until_sent(10 * SEC, |_, p| is_pull(p));
        let i = (1..=60).find(|&i| to == peer_addr(i)).unwrap();
        pulled_from.push(i);
        h.deliver(to, answer.clone(), table_from(i, 1..=known));
        assert_eq!(h.swim.active_members(), known);
    }
    h.sent.clear();
    h.advance(60 * SEC);
    assert!(
        !h.sent.iter().any(|(_, p)| is_pull(p)),
        "the third table taught nothing: stop"
    );
    assert_eq!(h.swim.stats().table_pulls, 3, "pulled from {pulled_from:?}");
}

#[test]
fn a_joiner_pulls_again_while_gossip_tells_of_new_members_though_the_last_table_taught_nothing() {
    let mut h = turned_away();
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, 0)]);
    // Two members' tables agree on 40: ours is as whole as theirs.
    for _ in 0..2 {
        h.sent.clear();
        let (to, _) = h.advance_until_sent(10 * SEC, |_, p| is_pull(p));
        let i = (1..=40).find(|&i| to == peer_addr(i)).unwrap();
        h.deliver(to, answer.clone(), table_from(i, 1..=40));
    }
    assert_eq!(h.swim.stats().table_pulls, 2);
    // But the deploy is still starting agents: gossip tells of five more before the next
    // pull is due, and neither of those tables had them. Some later agent may have reached
    // every member but us; only another table tells.
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        (41..=45).map(|i| alive(i, 0)).collect(),
    );
    h.sent.clear();
    let (to, _) = h.advance_until_sent(10 * SEC, |_, p| is_pull(p));
    let i = (1..=45).find(|&i| to == peer_addr(i)).unwrap();
    h.deliver(to, answer.clone(), table_from(i, 1..=46));
    assert_eq!(
        h.swim.active_members(),
        46,
        "the pull found the member gossip missed"
    );
    // The next table teaches nothing and gossip is silent: the cluster stopped growing.
    h.sent.clear();
    let (to, _) = h.advance_until_sent(10 * SEC, |_, p| is_pull(p));
    let i = (1..=46).find(|&i| to == peer_addr(i)).unwrap();
    h.deliver(to, answer, table_from(i, 1..=46));
    h.sent.clear();
    h.advance(60 * SEC);
    assert!(!h.sent.iter().any(|(_, p)| is_pull(p)));
    assert_eq!(h.swim.stats().table_pulls, 4);
}

#[test]
fn a_joiners_pulls_come_less_often_but_within_a_few_probe_intervals() {
    let mut h = turned_away();
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, 0)]);
    let mut waits = Vec::new();
    // Every table teaches one more member (a cluster still growing): all pulls are made.
    for known in 40.. {
        h.sent.clear();
        let start = h.now;
        let Some((to, _)) = (0..6_000).find_map(|_| {
            h.advance(10 * super::MS);
            h.sent.iter().find(|(_, p)| is_pull(p)).cloned()
        }) else {
            break;
        };
        waits.push(h.now - start);
        let i = (1..=known).find(|&i| to == peer_addr(i)).unwrap();
        h.deliver(to, answer.clone(), table_from(i, 1..=known));
    }
    assert_eq!(waits.len(), 12, "bounded: {waits:?}");
    // lan: probe interval 1 s; the wait doubles from 0.5 s to at most 4 s, jittered ×[0.5, 1.5).
    assert!(waits.iter().all(|&w| w < 6 * SEC), "{waits:?}");
    assert!(waits[5..].iter().all(|&w| w >= 2 * SEC), "{waits:?}");
}

#[test]
fn a_large_table_in_small_chunks_is_taken_for_a_large_cluster() {
    let seed = peer_addr(1);
    let mut h = Harness::joining(&[seed]);
    h.flush();
    let limited = Message::Sync {
        reply: false,
        join: true,
    };
    h.deliver(seed, limited, vec![alive(1, 0)]);
    // The seed's table of 60, in datagrams of 20 records (as a budget-sized chunk of long
    // names carries): the first alone looks like a small cluster's whole table.
    let table = table_from(1, 1..=60);
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    for chunk in table.chunks(20) {
        h.deliver(seed, answer.clone(), chunk.to_vec());
    }
    assert_eq!(h.swim.active_members(), 60);
    h.sent.clear();
    let (to, _) = h.advance_until_sent(5 * SEC, |_, p| is_pull(p));
    assert_ne!(to, seed, "a random member is asked, not the seed");
    assert_eq!(h.swim.stats().table_pulls, 1);
}

#[test]
fn a_joiner_turned_away_again_and_again_backs_off_and_stops() {
    let mut h = turned_away();
    h.deliver(
        peer_addr(1),
        Message::Gossip,
        (2..=9).map(|i| alive(i, 0)).collect(),
    );
    let in_only = Message::Sync {
        reply: false,
        join: false,
    };
    let mut at = Vec::new();
    for _ in 0..20 {
        h.sent.clear();
        let start = h.now;
        let Some((to, _)) = (0..12_000).find_map(|_| {
            h.advance(10 * super::MS);
            h.sent.iter().find(|(_, p)| is_pull(p)).cloned()
        }) else {
            break;
        };
        at.push(h.now - start);
        let i = (1..=9).find(|&i| to == peer_addr(i)).unwrap();
        h.deliver(to, in_only.clone(), vec![alive(i, 0)]);
    }
    assert_eq!(at.len(), 12, "a bounded number of pulls: {at:?}");
    assert_eq!(h.swim.stats().table_pulls, 12);
    // Each wait is the previous doubled, within the jitter's [0.5, 1.5) factor.
    for w in at.windows(2).take(4) {
        assert!(w[1] > w[0] / 2, "backs off: {at:?}");
    }
    assert!(at[5] >= 8 * SEC, "backs off: {at:?}");
}

#[test]
fn a_member_pulled_from_by_a_stranger_is_asked_again_once_it_knows_it() {
    let mut h = turned_away();
    h.deliver(peer_addr(1), Message::Gossip, vec![alive(2, 0)]);
    // Once turned away, the next pull waits a probe interval, jittered by up to half of it.
    let (to, _) = h.advance_until_sent(3 * SEC / 2, |_, p| is_pull(p));
    // p2 had not heard of us: it answers as a seed answers a stranger.
    h.sent.clear();
    let limited = Message::Sync {
        reply: false,
        join: true,
    };
    h.deliver(to, limited.clone(), vec![alive(2, 0)]);
    assert_eq!(
        h.sent
            .iter()
            .filter(|(t, p)| *t == to && is_pull(p))
            .count(),
        1
    );
    // Once only: the same answer again is not followed.
    h.sent.clear();
    h.deliver(to, limited, vec![alive(2, 0)]);
    assert!(!h.sent.iter().any(|(_, p)| is_pull(p)));
}

#[test]
fn a_joiner_with_a_small_seeds_table_pulls_nothing_more() {
    let seed = peer_addr(1);
    let mut h = Harness::joining(&[seed]);
    h.flush();
    let limited = Message::Sync {
        reply: false,
        join: true,
    };
    h.deliver(seed, limited, vec![alive(1, 0)]);
    let answer = Message::Sync {
        reply: false,
        join: false,
    };
    h.deliver(seed, answer, table_from(1, 1..=8));
    h.sent.clear();
    h.advance(60 * SEC);
    assert!(!h.sent.iter().any(|(_, p)| is_pull(p)));
    assert_eq!(h.swim.stats().table_pulls, 0);
}

#[test]
fn a_seeds_whole_tables_stay_bounded_per_period_however_many_pull() {
    let mut h = Harness::with_peers(180);
    let pull = Message::Sync {
        reply: true,
        join: true,
    };
    let mut full_per_period = Vec::new();
    for period in 0..3 {
        h.sent.clear();
        // 60 members (already known) pull in this period, each once (a source that got the
        // table is answered "you are in" for a probe interval after).
        for i in 0..60 {
            h.deliver(peer_addr(1 + i + period * 60), pull.clone(), vec![]);
        }
        let full = h
            .sent
            .iter()
            .filter(|(_, p)| {
                p.message
                    == Message::Sync {
                        reply: false,
                        join: false,
                    }
                    && p.updates.len() > 1
                    && p.updates[0].name == super::me()
            })
            .count();
        full_per_period.push(full);
        h.advance(SEC);
    }
    assert_eq!(full_per_period, [16, 16, 16]);
}
