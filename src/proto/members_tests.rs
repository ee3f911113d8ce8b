//! The member table's own tests (a file of their own to keep members.rs short).
use super::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
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
        m.insert(entry(&format!("n{i}"), now), &mut rng);
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
        m.insert(entry(&format!("n{i}"), now), &mut rng);
    }
    let dead = m.find("n3").unwrap();
    m.set(dead, MemberState::Dead, Incarnation(0), now);
    assert_eq!(m.active(), 4);
    let first = m.next_probe(&mut rng).unwrap();
    let new = m.insert(entry("late", now), &mut rng);
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
        m.insert(entry(&format!("n{i}"), now), &mut rng);
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
    let mut rng = SmallRng::seed_from_u64(6);
    let mut m = Members::new(now);
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    for i in 0..6u16 {
        let mut e = entry(&format!("n{i}"), now);
        e.id = Arc::new(Identity {
            name: e.id.name.clone(),
            addr: at(100 + i),
            tags: Tags::default(),
        });
        m.insert(e, &mut rng);
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
    let mut rng = SmallRng::seed_from_u64(5);
    let mut a = Members::new(now);
    let mut b = Members::new(now);
    for i in 0..5 {
        a.insert(entry(&format!("n{i}"), now), &mut rng);
    }
    for i in (0..5).rev() {
        b.insert(entry(&format!("n{i}"), now), &mut rng);
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
            m.insert(entry(&format!("n{i}"), now), &mut rng);
        }
        let mut out = Vec::new();
        m.random(&mut rng, 3, Some(0), MemberState::is_active, &mut out);
        assert_eq!(out.len(), 3);
        assert!(!out.contains(&0));
        let set: HashSet<_> = out.iter().collect();
        assert_eq!(set.len(), 3);
    }
}
