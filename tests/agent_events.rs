//! The agent's events when nobody reads its stdout (issue 26, finding 7): remote peers drive
//! events, the reader is stalled, and the agent's memory stays bounded; the events it could
//! not keep are counted in its stats and reported on stdout once it can write again.
//!
//! A real agent process on loopback, fed user events by crafted datagrams from a plain UDP
//! socket (a stranger needs no key in the default, plaintext configuration).

mod agent;
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use agent::Agent;
use common::wait_until;
use rumor::wire::{self, Message, Packet, UserBody, UserRecord, UserSection};
use rumor::{LamportTime, Node, NodeName};
use serde_json::Value;

/// Datagrams this size or smaller fit every profile's packet budget (1400 bytes).
const DATAGRAM: usize = 1300;

/// The agent's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The agent's counters, through its control socket.
fn stats(agent: &Agent) -> Value {
    agent.ask(&["stats", "--format", "json"]).json()["stats"].clone()
}

/// Gossip datagrams from "stranger", carrying user events at Lamport times `from..`, each as
/// many as fit in [`DATAGRAM`] bytes; `count` events in all. Times go up by one, as a real
/// member's would: every event is new to the receiver.
fn user_event_datagrams(from: u64, count: u64) -> Vec<Vec<u8>> {
    let origin = NodeName::new("stranger").unwrap();
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut datagrams = Vec::new();
    let mut next = from;
    while next < from + count {
        let mut records = Vec::new();
        loop {
            records.push(UserRecord {
                origin: origin.clone(),
                ltime: LamportTime(next),
                body: Some(Arc::new(UserBody {
                    addr,
                    name: "flood".into(),
                    payload: b"0123456789abcdef".to_vec(),
                })),
            });
            next += 1;
            let packet = Packet {
                message: Message::Gossip,
                updates: Vec::new(),
                user: Some(UserSection {
                    clock: LamportTime(next),
                    records: records.clone(),
                }),
            };
            let bytes = wire::encode(None, &packet);
            if bytes.len() > DATAGRAM || records.len() == wire::MAX_USER_RECORDS {
                // One too many: send the ones before it, start the next datagram with it.
                records.pop();
                next -= 1;
                let packet = Packet {
                    message: Message::Gossip,
                    updates: Vec::new(),
                    user: Some(UserSection {
                        clock: LamportTime(next),
                        records,
                    }),
                };
                datagrams.push(wire::encode(None, &packet));
                break;
            }
            if next == from + count {
                datagrams.push(bytes);
                break;
            }
        }
    }
    datagrams
}

/// Sends `agent` `total` user events from a stranger, in rounds, each round waiting for the
/// agent to take it in (a burst larger than the kernel's socket buffer would be lost there
/// instead).
fn flood(agent: &Agent, total: u64) {
    const ROUND: u64 = 2_000;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0;
    while sent < total {
        for datagram in user_event_datagrams(1 + sent, ROUND) {
            socket.send_to(&datagram, agent.addr).unwrap();
        }
        sent += ROUND;
        let delivered = |a: &Agent| stats(a)["user_events"].as_u64().unwrap_or(0);
        wait_until(Duration::from_secs(5), || delivered(agent) >= sent);
    }
}

#[test]
fn a_stalled_stdout_keeps_the_agent_bounded_and_the_drops_are_counted_and_reported() {
    let mut a = Agent::start_stalled("a", Agent::command("a", &[]));
    let pid = a.child.id();
    let before = rss_kib(pid);
    // Far more events than the queue holds.
    flood(&a, 10 * Node::EVENT_QUEUE as u64);
    let s = stats(&a);
    let delivered = s["user_events"].as_u64().unwrap();
    let after = rss_kib(pid);
    println!(
        "delivered {delivered} user events to an agent nobody reads; RSS {before} KiB -> \
         {after} KiB; stats: events_dropped {}",
        s["events_dropped"]
    );
    assert!(
        delivered > 2 * Node::EVENT_QUEUE as u64,
        "the flood did not get through: {s}"
    );
    // The channel kept at most EVENT_QUEUE of them (and the pipe a few hundred lines): every
    // other one was dropped and counted.
    let dropped = s["events_dropped"].as_u64().unwrap_or(0);
    assert!(
        dropped >= delivered - Node::EVENT_QUEUE as u64 - 2_000,
        "delivered {delivered}, dropped {dropped}: {s}"
    );
    // Memory: at most EVENT_QUEUE events held, a few MB, where keeping them all took over
    // 300 bytes an event (50 MB here); a generous bound.
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );

    // The reader comes back: the agent prints what it kept, then says how many it dropped.
    a.read_stdout();
    let line = a.find_line(Duration::from_secs(20), |v| v["event"] == "events_dropped");
    let line = line.unwrap_or_else(|| panic!("no events_dropped line; log: {:?}", a.log));
    assert_eq!(line["node"], "a");
    assert_eq!(line["total"].as_u64(), Some(dropped), "{line}");
    assert!(line["count"].as_u64().unwrap() > 0, "{line}");
    a.must_log("events dropped", Duration::from_secs(5));
}

/// A stalled stdout blocks only the agent's writer: a SIGTERM still makes it leave and exit 0
/// (it used to hang in a blocked write, deaf to signals, until killed).
#[test]
fn a_stalled_stdout_does_not_keep_sigterm_from_leaving() {
    let mut a = Agent::start_stalled("a", Agent::command("a", &[]));
    flood(&a, 2 * Node::EVENT_QUEUE as u64);
    // The node dropped events: the agent has stopped taking them, its stdout full.
    let dropped = stats(&a)["events_dropped"].as_u64().unwrap_or(0);
    assert!(dropped > 0, "the agent never stalled: {}", stats(&a));
    let term = std::process::Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = a.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "status {status:?}; log: {:?}",
        a.log
    );
    assert!(a.log.iter().any(|l| l == "rumor: left"), "{:?}", a.log);
    assert!(
        a.log.iter().any(|l| l.contains("stdout is not being read")),
        "{:?}",
        a.log
    );
}
