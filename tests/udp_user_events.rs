//! User events over real UDP: twenty nodes in one process on 127.0.0.1, 20 % of every datagram
//! lost on receipt, and one broadcast reaches every member exactly once. This proves the wiring
//! (the command, the reply, the wire section, the event channel); the simulator measures the
//! spread itself.

mod common;

use std::time::Duration;

use crossbeam_channel::Receiver;
use rumor::{Config, Event, EventKind, Node, Profile};

use common::{seed, wait_for};

const NODES: usize = 20;

fn start(seed: u64) -> (Vec<Node>, Vec<Receiver<Event>>) {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..NODES {
        let mut c = Config::new(
            Profile::Test,
            format!("n{i}"),
            "127.0.0.1:0".parse().unwrap(),
        );
        if let Some(first) = nodes.first() {
            c.seeds = vec![first.addr()];
        }
        let node = Node::start_seeded(c, seed.wrapping_add(i as u64))
            .unwrap_or_else(|e| panic!("seed={seed}: n{i} did not start: {e}"));
        nodes.push(node);
    }
    let events = nodes.iter().map(Node::events).collect();
    (nodes, events)
}

#[test]
fn one_broadcast_reaches_all_twenty_exactly_once_under_20_percent_loss() {
    let seed = seed();
    let (nodes, events) = start(seed);
    let formed = wait_for(Duration::from_secs(20), || {
        nodes
            .iter()
            .all(|n| n.members().iter().filter(|m| m.state.is_active()).count() == NODES - 1)
    });
    assert!(formed.is_some(), "seed={seed}: the cluster did not form");
    for n in &nodes {
        n.faults().set_loss_rates(0.0, 0.2);
    }

    let origin = &nodes[7];
    let ltime = origin.broadcast("deploy", b"release 42").unwrap();
    let mut got = vec![0usize; NODES];
    let collect = |got: &mut Vec<usize>| {
        for (i, rx) in events.iter().enumerate() {
            for e in rx.try_iter() {
                if e.kind == EventKind::User {
                    let user = e.user.expect("a user event carries its part");
                    assert_eq!(user.origin.as_str(), "n7");
                    assert_eq!((user.name.as_str(), user.ltime), ("deploy", ltime));
                    assert_eq!(user.payload, b"release 42");
                    got[i] += 1;
                }
            }
        }
    };
    // Gossip reaches most within a few gossip rounds; a member that lost every copy is
    // repaired by a push-pull (2 s at the test profile), so a few intervals bound it.
    let all = wait_for(Duration::from_secs(15), || {
        collect(&mut got);
        got.iter().all(|&c| c >= 1)
    });
    println!("seed={seed}: all {NODES} had the event after {all:?}");
    assert!(
        all.is_some(),
        "seed={seed}: not delivered everywhere: {got:?}"
    );
    // Repeats keep arriving for a while (retransmits, syncs): none may be delivered again.
    let _ = wait_for(Duration::from_secs(3), || {
        collect(&mut got);
        false
    });
    assert!(got.iter().all(|&c| c == 1), "seed={seed}: {got:?}");
    let stats: u64 = nodes.iter().map(|n| n.stats().user_events).sum();
    assert_eq!(stats, NODES as u64);
    // Each node's own stats say the same, the origin's included.
    assert_eq!(origin.stats().user_events, 1);
}

#[test]
fn a_node_refuses_an_over_size_event_and_one_that_has_left() {
    let c = Config::new(Profile::Test, "solo", "127.0.0.1:0".parse().unwrap());
    let max = c.max_user_payload;
    let node = Node::start(c).unwrap();
    let err = node.broadcast("big", &vec![0; max + 1]).unwrap_err();
    assert!(err.to_string().contains("max_user_payload"), "{err}");
    assert!(node.broadcast("ok", &vec![0; max]).is_ok());
    node.leave(Duration::from_secs(2)).unwrap();
    assert_eq!(
        node.broadcast("late", b""),
        Err(rumor::BroadcastError::NotRunning)
    );
}
