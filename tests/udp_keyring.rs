//! Sealed gossip over real UDP on 127.0.0.1: a keyed cluster forms, plaintext and wrongly keyed
//! members are kept out and counted, keys rotate on a live cluster with no member suspected,
//! and a plaintext cluster moves to encryption by rolling replacement.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam_channel::Receiver;
use rumor::{
    Config, Event, EventKind, Key, KeyChange, Keyring, KeyringError, MemberState, Node, Profile,
    StartError,
};

use common::{seed, wait_until};

const CONVERGE: Duration = Duration::from_secs(10);

fn key(b: u8) -> Key {
    Key::new([b; 32])
}

fn config(name: &str, seeds: Vec<SocketAddr>, ring: Option<Keyring>) -> Config {
    let mut c = Config::new(Profile::Test, name, "127.0.0.1:0".parse().unwrap());
    c.seeds = seeds;
    c.keyring = ring;
    c
}

fn start(c: Config, i: u64) -> Node {
    let name = c.name.clone();
    Node::start_seeded(c, seed().wrapping_add(i)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// True once every node sees the `n - 1` others alive (`members` leaves itself out).
fn converged(nodes: &[&Node], n: usize) -> bool {
    nodes.iter().all(|node| {
        let m = node.members();
        m.len() == n - 1 && m.iter().all(|m| m.state == MemberState::Alive)
    })
}

fn suspicions(events: &Receiver<Event>) -> usize {
    events
        .try_iter()
        .filter(|e| matches!(e.kind, EventKind::Suspected | EventKind::Failed))
        .count()
}

#[test]
fn keyed_members_form_a_cluster_and_others_are_dropped_by_reason() {
    let ring = Keyring::new(key(1));
    let a = start(config("a", vec![], Some(ring.clone())), 0);
    let b = start(config("b", vec![a.addr()], Some(ring.clone())), 1);
    assert!(wait_until(CONVERGE, || converged(&[&a, &b], 2)));
    assert_eq!(a.stats().dropped_unauthenticated, 0);

    // Neither a plaintext member nor one with another key gets in, and each is counted.
    let join_timeout = Duration::from_millis(500);
    let mut plain = config("plain", vec![a.addr()], None);
    plain.join_timeout = join_timeout;
    let got = Node::start_seeded(plain, seed().wrapping_add(2));
    assert!(
        matches!(got, Err(StartError::JoinTimeout { .. })),
        "{got:?}"
    );
    assert!(a.stats().dropped_plaintext > 0);
    let mut other = config("other", vec![a.addr()], Some(Keyring::new(key(2))));
    other.join_timeout = join_timeout;
    let got = Node::start_seeded(other, seed().wrapping_add(3));
    assert!(
        matches!(got, Err(StartError::JoinTimeout { .. })),
        "{got:?}"
    );
    assert!(a.stats().dropped_unknown_key > 0);
    assert_eq!(a.members().len(), 1);
    a.kill();
    b.kill();
}

#[test]
fn keys_rotate_on_a_live_cluster_without_suspicion() {
    let ring = Keyring::new(key(1));
    let a = start(config("a", vec![], Some(ring.clone())), 10);
    let b = start(config("b", vec![a.addr()], Some(ring.clone())), 11);
    let c = start(config("c", vec![a.addr()], Some(ring.clone())), 12);
    let nodes = [&a, &b, &c];
    assert!(wait_until(CONVERGE, || converged(&nodes, 3)));
    let events: Vec<_> = nodes.iter().map(|n| n.events()).collect();

    // Removing the primary is refused with a reason, on any node.
    assert_eq!(
        a.change_keys(KeyChange::Remove(key(1))),
        Err(KeyringError::RemovePrimary)
    );
    let steps = [
        KeyChange::Install(key(2)),
        KeyChange::Use(key(2)),
        KeyChange::Remove(key(1)),
    ];
    for step in steps {
        for node in nodes {
            node.change_keys(step.clone()).unwrap();
            // Members change one after another, as an operator's loop would, with traffic
            // flowing in between: a few probe periods per member.
            let before = node.stats().total_packets_in();
            assert!(wait_until(CONVERGE, || node.stats().total_packets_in() > before + 3));
        }
    }
    for node in nodes {
        assert_eq!(node.keyring().unwrap(), Some(Keyring::new(key(2))));
        let s = node.stats();
        assert_eq!(
            s.dropped_unknown_key + s.dropped_unauthenticated,
            0,
            "{s:?}"
        );
    }
    assert!(converged(&nodes, 3));
    let suspected: usize = events.iter().map(suspicions).sum();
    assert_eq!(suspected, 0, "a member was suspected during the rotation");

    // The old key no longer gets in.
    let mut old = config("old", vec![a.addr()], Some(Keyring::new(key(1))));
    old.join_timeout = Duration::from_millis(500);
    assert!(Node::start_seeded(old, seed().wrapping_add(13)).is_err());
    a.kill();
    b.kill();
    c.kill();
}

/// The names each node holds alive, which must be `want` everywhere.
fn alive_everywhere(nodes: &[Node], want: &[String]) -> bool {
    nodes.iter().all(|node| {
        let mut alive: Vec<String> = node
            .members()
            .iter()
            .filter(|m| m.state == MemberState::Alive)
            .map(|m| m.name.to_string())
            .chain([node.name().to_string()])
            .collect();
        alive.sort();
        alive == want
    })
}

#[test]
fn a_plaintext_cluster_moves_to_encryption_by_rolling_replacement() {
    let ring = Keyring::new(key(7));
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..3 {
        let seeds = nodes.first().map(|n| vec![n.addr()]).unwrap_or_default();
        nodes.push(start(config(&format!("p{i}"), seeds, None), 20 + i));
    }
    let names = |nodes: &[Node]| {
        let mut v: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
        v.sort();
        v
    };
    assert!(wait_until(CONVERGE, || alive_everywhere(
        &nodes,
        &names(&nodes)
    )));
    // Stage 1 keys everyone but still speaks plaintext, stage 2 seals while accepting
    // plaintext, stage 3 refuses plaintext. Each member is replaced in turn; the cluster must
    // agree on who is alive after every replacement, i.e. old and new understand each other.
    let stages = [("k", true, true), ("s", true, false), ("e", false, false)];
    let mut n = 30;
    for (prefix, accept, send_plain) in stages {
        for i in 0..3 {
            let mut c = config(
                &format!("{prefix}{i}"),
                vec![nodes[1 - i.min(1)].addr()],
                None,
            );
            c.keyring = Some(ring.clone());
            c.accept_plaintext = accept || send_plain;
            c.send_plaintext = send_plain;
            let fresh = start(c, n);
            n += 1;
            let old = std::mem::replace(&mut nodes[i], fresh);
            old.leave(Duration::from_secs(2)).unwrap();
            let want = names(&nodes);
            assert!(
                wait_until(CONVERGE, || alive_everywhere(&nodes, &want)),
                "stage {prefix}, member {i}: the cluster did not agree on {want:?}"
            );
        }
    }
    for node in &nodes {
        let s = node.stats();
        assert_eq!(
            s.dropped_unknown_key + s.dropped_unauthenticated,
            0,
            "{s:?}"
        );
    }
    let mut plain = config("late", vec![nodes[0].addr()], None);
    plain.join_timeout = Duration::from_millis(500);
    assert!(Node::start_seeded(plain, seed()).is_err());
    assert!(nodes[0].stats().dropped_plaintext > 0);
    for node in nodes {
        node.kill();
    }
}

/// The first datagram `tap` receives from `from`, as it arrived (sealed). Others are skipped:
/// a joiner that got no answer from the tap retries it.
fn record(tap: &std::net::UdpSocket, from: SocketAddr) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    for _ in 0..1_000 {
        let (n, src) = tap.recv_from(&mut buf).expect("a datagram at the tap");
        if src == from {
            buf.truncate(n);
            return buf;
        }
    }
    panic!("nothing from {from} at the tap");
}

fn state_of(node: &Node, name: &str) -> Option<MemberState> {
    node.members()
        .iter()
        .find(|m| m.name.as_str() == name)
        .map(|m| m.state)
}

#[test]
fn a_recorded_sealed_datagram_replayed_later_revives_no_one() {
    let ring = Keyring::new(key(3));
    let a = start(config("a", vec![], Some(ring.clone())), 0);
    let b = start(config("b", vec![a.addr()], Some(ring.clone())), 1);
    assert!(wait_until(CONVERGE, || converged(&[&a, &b], 2)));
    // A tap the joiners also take for a seed records their sealed join requests.
    let tap = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tap.set_read_timeout(Some(CONVERGE)).unwrap();
    let seeds = vec![a.addr(), tap.local_addr().unwrap()];

    // Within the window: the replay of a dead member's Alive opens, and incarnations refuse it.
    let ghost = start(config("ghost", seeds.clone(), Some(ring.clone())), 2);
    let join = record(&tap, ghost.addr());
    assert!(wait_until(CONVERGE, || converged(&[&a, &b, &ghost], 3)));
    ghost.kill();
    assert!(wait_until(CONVERGE, || state_of(&a, "ghost")
        == Some(MemberState::Dead)));
    let events = a.events();
    // What was news before the replay (the ghost's join among it) is not the replay's doing.
    while events.try_recv().is_ok() {}
    let before = a.stats();
    tap.send_to(&join, a.addr()).unwrap();
    assert!(
        wait_until(CONVERGE, || a.stats().total_packets_in()
            > before.total_packets_in()),
        "the replay opened and was read"
    );
    assert_eq!(a.stats().dropped_replayed, before.dropped_replayed);
    assert_eq!(state_of(&a, "ghost"), Some(MemberState::Dead));
    assert!(
        events
            .try_iter()
            .all(|e| !(e.member.name.as_str() == "ghost" && e.member.state == MemberState::Alive)),
        "the replay revived the ghost"
    );

    // Past the window (10 s behind the newest datagram of the same boot): dropped as replayed.
    let late = start(config("late", seeds, Some(ring.clone())), 3);
    let join = record(&tap, late.addr());
    let recorded = common::now();
    assert!(wait_until(CONVERGE, || [&a, &b].iter().all(|n| state_of(
        n, "late"
    ) == Some(
        MemberState::Alive
    ))));
    // `late` keeps talking to `a` meanwhile, moving its boot's newest time on.
    let aged = || common::now().duration_since(recorded) > Duration::from_millis(10_500);
    assert!(wait_until(Duration::from_secs(20), || aged()
        && state_of(&a, "late") == Some(MemberState::Alive)));
    let replayed = a.stats().dropped_replayed;
    tap.send_to(&join, a.addr()).unwrap();
    assert!(
        wait_until(CONVERGE, || a.stats().dropped_replayed > replayed),
        "a datagram 10.5 s older than its boot's newest is dropped as replayed"
    );
    for node in [a, b, late] {
        node.kill();
    }
}
