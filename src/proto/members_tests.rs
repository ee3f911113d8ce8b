//! The member table's own tests (a file of their own to keep members.rs short).
use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;

fn entry(name: &str, now: Instant) -> Entry {
    Members::new(now).entry(
        Arc::new(Identity {
            name: NodeName::new(name).unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            tags: Tags::default(),
        }),
        Incarnation(0),
        MemberState::Alive,
        now,
    )
}

fn epoch() -> Instant {
    crate::test_epoch()
}

#[test]
fn entries_stay_small() {
    assert!(
        std::mem::size_of::<Entry>() <= 24,
        "{}",
        std::mem::size_of::<Entry>()
    );
}

#[test]
fn every_member_is_probed_once_per_round() {
    let now = epoch();
    let mut rng = SmallRng::seed_from_u64(1);
    let mut m = Members::new(now);
    for i in 0..10 {
        m.insert(entry(&format!("n{i}"), now));
    }
    for _round in 0..3 {
        let seen: HashSet<usize> = (0..10).map(|_| m.next_probe(&mut rng).unwrap()).collect();
        assert_eq!(seen.len(), 10);
    }
}

#[test]
fn probe_order_skips_dead_and_inserted_members_come_within_the_round() {
    let now = epoch();
    let mut rng = SmallRng::seed_from_u64(2);
    let mut m = Members::new(now);
    for i in 0..5 {
        m.insert(entry(&format!("n{i}"), now));
    }
    let dead = m.find("n3").unwrap();
    m.set(dead, MemberState::Dead, Incarnation(0), now);
    assert_eq!(m.active(), 4);
    let first = m.next_probe(&mut rng).unwrap();
    let new = m.insert(entry("late", now));
    let mut seen = vec![first];
    for _ in 0..4 {
        seen.push(m.next_probe(&mut rng).unwrap());
    }
    assert!(!seen.contains(&dead));
    assert!(seen.contains(&new), "{seen:?}");
}

#[test]
fn remove_keeps_index_and_order_consistent() {
    let now = epoch();
    let mut rng = SmallRng::seed_from_u64(3);
    let mut m = Members::new(now);
    for i in 0..6 {
        m.insert(entry(&format!("n{i}"), now));
    }
    m.remove(m.find("n1").unwrap());
    assert_eq!(m.len(), 5);
    assert_eq!(m.active(), 5);
    assert!(m.find("n1").is_none());
    for name in ["n0", "n2", "n3", "n4", "n5"] {
        let i = m.find(name).unwrap();
        assert_eq!(m.get(i).unwrap().id.name.as_str(), name);
    }
    let seen: HashSet<usize> = (0..5).map(|_| m.next_probe(&mut rng).unwrap()).collect();
    assert_eq!(seen.len(), 5);
}

#[test]
fn the_address_index_follows_inserts_moves_and_removals() {
    let now = epoch();
    let mut m = Members::new(now);
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    for i in 0..6u16 {
        let mut e = entry(&format!("n{i}"), now);
        e.id = Arc::new(Identity {
            name: e.id.name.clone(),
            addr: at(100 + i),
            tags: Tags::default(),
        });
        m.insert(e);
    }
    m.check_consistent().unwrap();
    let n2 = m.find("n2").unwrap();
    assert_eq!(m.find_addr(at(102)), Some(n2));
    assert_eq!(m.find_addr(at(99)), None);
    // n2 restarts on another port; n0 is forgotten, so the last row moves into its place.
    let moved = Arc::new(Identity {
        name: NodeName::new("n2").unwrap(),
        addr: at(200),
        tags: Tags::default(),
    });
    m.set_identity(n2, moved);
    assert_eq!(m.find_addr(at(102)), None);
    assert_eq!(m.find_addr(at(200)), Some(n2));
    m.remove(m.find("n0").unwrap());
    m.check_consistent().unwrap();
    assert_eq!(m.find_addr(at(100)), None);
    for (name, port) in [("n1", 101), ("n2", 200), ("n5", 105)] {
        assert_eq!(m.find_addr(at(port)), m.find(name), "{name}");
    }
}

#[test]
fn digest_follows_the_records_not_the_history() {
    let now = epoch();
    let mut a = Members::new(now);
    let mut b = Members::new(now);
    for i in 0..5 {
        a.insert(entry(&format!("n{i}"), now));
    }
    for i in (0..5).rev() {
        b.insert(entry(&format!("n{i}"), now));
    }
    assert_eq!(a.digest(), b.digest(), "insertion order does not matter");
    let i = a.find("n2").unwrap();
    a.set(i, MemberState::Suspect, Incarnation(0), now);
    assert_ne!(a.digest(), b.digest());
    a.set(i, MemberState::Alive, Incarnation(0), now);
    assert_eq!(a.digest(), b.digest(), "back to the same records");
    a.remove(a.find("n4").unwrap());
    b.remove(b.find("n4").unwrap());
    assert_eq!(a.digest(), b.digest());
    // A departed member counts for nothing, whether still remembered or already forgotten.
    let j = a.find("n3").unwrap();
    a.set(j, MemberState::Dead, Incarnation(0), now);
    b.remove(b.find("n3").unwrap());
    assert_eq!(a.digest(), b.digest(), "remembered dead = forgotten");
    a.set(j, MemberState::Left, Incarnation(2), now);
    assert_eq!(a.digest(), b.digest());
    assert_ne!(
        record_hash("n1", Incarnation(1), MemberState::Alive),
        record_hash("n1", Incarnation(0), MemberState::Alive)
    );
}

#[test]
fn random_picks_are_distinct_and_filtered() {
    let now = epoch();
    let mut rng = SmallRng::seed_from_u64(4);
    for size in [5usize, 200] {
        let mut m = Members::new(now);
        for i in 0..size {
            m.insert(entry(&format!("n{i}"), now));
        }
        let mut out = Vec::new();
        m.random(&mut rng, 3, Some(0), MemberState::is_active, &mut out);
        assert_eq!(out.len(), 3);
        assert!(!out.contains(&0));
        let set: HashSet<_> = out.iter().collect();
        assert_eq!(set.len(), 3);
    }
}

/// A table read from a directory's shared base, and one of its own filled row by row, answer
/// alike and draw the same probes through a long run of changes, moves, removals and inserts.
#[test]
fn a_table_on_a_shared_base_answers_as_one_of_its_own() {
    let now = epoch();
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let ids: Vec<Arc<Identity>> = (0..40u16)
        .map(|i| {
            Arc::new(Identity {
                name: NodeName::new(&format!("n{i}")).unwrap(),
                addr: at(1000 + i),
                tags: Tags::default(),
            })
        })
        .collect();
    let dir = Arc::new(Directory::new(ids.iter().cloned()));
    let own = 7;
    let mut plain = Members::new(now);
    for id in ids.iter().filter(|id| id.name.as_str() != "n7") {
        plain.push_unordered(plain.entry(Arc::clone(id), Incarnation(0), MemberState::Alive, now));
    }
    let mut shared = Members::new(now);
    shared.share(Arc::clone(&dir));
    assert!(shared.fill_shared(Some(own), now));
    // A second table shares the first one's base rows: what one changes the other keeps.
    let mut other = Members::new(now);
    other.share(dir);
    assert!(other.fill_shared(Some(0), now));
    let (mut r1, mut r2) = (SmallRng::seed_from_u64(9), SmallRng::seed_from_u64(9));
    let mut ops = SmallRng::seed_from_u64(10);
    let later = now + std::time::Duration::from_secs(3);
    let mut fresh = 0u16;
    for step in 0..3000 {
        let n = plain.len();
        let i = ops.random_range(0..n.max(1));
        match ops.random_range(0..10) {
            0..=3 => assert_eq!(plain.next_probe(&mut r1), shared.next_probe(&mut r2)),
            4 => {
                let inc = Incarnation(ops.random_range(0..4));
                let st = MemberState::ALL[ops.random_range(0..MemberState::ALL.len())];
                plain.set(i, st, inc, later);
                shared.set(i, st, inc, later);
            }
            5 => {
                let rtt = ops.random_range(1..5000);
                plain.set_rtt(i, rtt);
                shared.set_rtt(i, rtt);
            }
            6 if n > 2 => {
                plain.remove(i);
                shared.remove(i);
            }
            7 => {
                // A member back at another address, or a stranger, or a directory member
                // that was forgotten and comes back.
                let id = match ops.random_range(0..3) {
                    0 => {
                        fresh += 1;
                        Arc::new(Identity {
                            name: NodeName::new(&format!("x{fresh}")).unwrap(),
                            addr: at(3000 + fresh),
                            tags: Tags::default(),
                        })
                    }
                    1 if n > 0 => {
                        let e = plain.get(i).unwrap();
                        let moved = Arc::new(Identity {
                            name: e.id.name.clone(),
                            addr: at(5000 + step),
                            tags: Tags::default(),
                        });
                        plain.set_identity(i, Arc::clone(&moved));
                        shared.set_identity(i, moved);
                        continue;
                    }
                    _ => Arc::clone(&ids[ops.random_range(0..ids.len())]),
                };
                if id.name.as_str() == "n7" || plain.find(id.name.as_str()).is_some() {
                    continue;
                }
                let e = plain.entry(id, Incarnation(1), MemberState::Alive, later);
                assert_eq!(plain.insert(e.clone()), shared.insert(e));
            }
            _ => {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                plain.random(&mut r1, 3, None, MemberState::is_active, &mut a);
                shared.random(&mut r2, 3, None, MemberState::is_active, &mut b);
                assert_eq!(a, b);
            }
        }
        assert_eq!(plain.len(), shared.len());
        assert_eq!(plain.active(), shared.active());
        assert_eq!(plain.digest(), shared.digest(), "step {step}");
        if step % 100 == 0 {
            shared.check_consistent().unwrap();
            plain.check_consistent().unwrap();
            for j in 0..plain.len() {
                let (a, b) = (plain.get(j).unwrap(), shared.get(j).unwrap());
                assert_eq!(
                    (&a.id, a.incarnation, a.state, a.rtt_us, a.since(now)),
                    (&b.id, b.incarnation, b.state, b.rtt_us, b.since(now)),
                    "row {j} at step {step}"
                );
                let name = a.id.name.as_str();
                assert_eq!(plain.find(name), shared.find(name));
                assert_eq!(plain.find_addr(a.id.addr), shared.find_addr(a.id.addr));
            }
        }
    }
    shared.check_consistent().unwrap();
    other.check_consistent().unwrap();
    assert_eq!(other.len(), 39);
    assert!(
        other
            .iter()
            .all(|e| e.state == MemberState::Alive && e.rtt_us == 0)
    );
}
