//! Embedding rumor in a program: three nodes in one process form a cluster, one of them
//! crashes and the others hear of it on their event channels, then the rest leave.
//!
//! Run it with `cargo run --example embed`; `cargo test` runs it too.
//!
//! Each node here is what one process of a real service would hold: a `Node` started from a
//! `Config`, and a `Receiver<Event>` the service reads to learn who joined, failed or left.

use std::error::Error;
use std::time::Duration;

use crossbeam_channel::Receiver;
use rumor::{Config, Event, EventKind, MemberState, Node, Profile};

/// How long the example waits for any one event before it gives up, saying which.
const STEP: Duration = Duration::from_secs(15);

/// Events a wait may skip before it gives up: every wait is bounded in count as in time.
const MAX_SKIPPED: usize = 100;

fn main() -> Result<(), Box<dyn Error>> {
    // The test profile's 50 ms periods make the example finish in a second or two; a real
    // service on a LAN uses Profile::Lan (1 s periods, memberlist's defaults).
    let config = |name: &str| Config::new(Profile::Test, name, "127.0.0.1:0".parse().unwrap());

    // The first node starts the cluster; port 0 lets the kernel pick a free port.
    let a = Node::start(config("a"))?;
    let mut nodes = vec![a];
    for name in ["b", "c"] {
        let mut cfg = config(name);
        cfg.seeds = vec![nodes[0].addr()];
        // Returns once the seed has answered: the node is a member.
        nodes.push(Node::start(cfg)?);
    }
    let events: Vec<Receiver<Event>> = nodes.iter().map(Node::events).collect();

    // Gossip spreads each join to the node that did not take it: wait until every node has
    // reported the other two as Joined.
    for (node, rx) in nodes.iter().zip(&events) {
        let others: Vec<String> = nodes
            .iter()
            .filter(|n| n.name() != node.name())
            .map(|n| n.name().to_string())
            .collect();
        for other in &others {
            wait_for(rx, EventKind::Joined, other)?;
        }
        println!("{} sees {} alive peers", node.name(), alive_peers(node));
    }

    // Crash c: no leave, its socket just goes quiet, as a killed process's would.
    let c = nodes.pop().ok_or("no node to crash")?;
    let crashed = c.name().to_string();
    c.kill();
    for (node, rx) in nodes.iter().zip(&events) {
        let failed = wait_for(rx, EventKind::Failed, &crashed)?;
        println!(
            "{} heard that {} failed (incarnation {})",
            node.name(),
            failed.member.name,
            failed.member.incarnation.0
        );
    }

    // A graceful leave: the other node reports b as Left, not Failed.
    let b = nodes.pop().ok_or("no node to leave")?;
    let leaving = b.name().to_string();
    b.shutdown()?;
    let left = wait_for(&events[0], EventKind::Left, &leaving)?;
    println!("{} heard that {} left", nodes[0].name(), left.member.name);

    for n in nodes {
        n.shutdown()?;
    }
    Ok(())
}

/// Peers this node currently holds Alive.
fn alive_peers(node: &Node) -> usize {
    let members = node.members();
    members
        .iter()
        .filter(|m| m.state == MemberState::Alive)
        .count()
}

/// The first event of `kind` about `member` on `rx`, skipping others (events about members
/// already seen, say), each within [`STEP`].
fn wait_for(rx: &Receiver<Event>, kind: EventKind, member: &str) -> Result<Event, Box<dyn Error>> {
    for _ in 0..MAX_SKIPPED {
        let event = rx
            .recv_timeout(STEP)
            .map_err(|_| format!("no {kind:?} event about {member} within {STEP:?}"))?;
        if event.kind == kind && event.member.name.as_str() == member {
            return Ok(event);
        }
    }
    Err(format!("no {kind:?} event about {member} among {MAX_SKIPPED} events").into())
}

#[test]
fn the_example_runs_to_the_end() {
    main().unwrap();
}
