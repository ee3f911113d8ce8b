//! Issue 26's rules over real UDP: what one stranger's datagram, sent from a plain socket on
//! loopback, can no longer do to a cluster's counters and identities.

mod common;

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use rumor::wire::{self, Message, Packet, Update, UserBody, UserRecord, UserSection};
use rumor::{Incarnation, LamportTime, MemberState, Node, NodeName, StartError, Tags};

use common::cluster::{Cluster, SLACK, config, converge};
use common::wait_until;

/// Long enough for a forged death to be gossiped to all and reported, many times over at the
/// test profile's 50 ms period.
const SETTLE: Duration = Duration::from_secs(3);

fn stranger() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a stranger's socket")
}

/// A gossip datagram carrying one record about node `about` of `c`.
fn forged(c: &Cluster, about: usize, state: MemberState, incarnation: u32) -> Vec<u8> {
    let update = Update {
        name: NodeName::new(&c.names[about]).unwrap(),
        addr: c.addr(about),
        incarnation: Incarnation(incarnation),
        state,
        tags: Tags::default(),
        from: None,
    };
    wire::encode(None, &Packet::new(Message::Gossip, vec![update]))
}

fn send_to_all(c: &Cluster, bytes: &[u8]) {
    let s = stranger();
    for i in c.live() {
        s.send_to(bytes, c.addr(i)).expect("send on loopback");
    }
}

fn implausible(c: &Cluster) -> u64 {
    c.live()
        .iter()
        .map(|&i| c.node(i).stats().dropped_implausible)
        .sum()
}

#[test]
fn a_death_at_the_top_of_the_range_is_dropped_and_the_member_stays_alive() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(10));
    send_to_all(&c, &forged(&c, 2, MemberState::Dead, u32::MAX));
    assert!(
        wait_until(SETTLE, || implausible(&c) >= 3),
        "every member counts the forgery: {}",
        implausible(&c)
    );
    // Nobody took it: nobody reports n2 failed, and n2 kept its incarnation.
    let failed = wait_until(SETTLE, || {
        c.collect();
        !c.failed_about(&[2]).is_empty()
    });
    assert!(!failed, "{:?}", c.failed_about(&[2]));
    assert!(c.all_see(&[0, 1], &[2], MemberState::Alive));
    assert!(c.node(2).local().incarnation.0 < 1024);
}

#[test]
fn an_alive_at_the_top_of_the_range_does_not_swallow_a_tag_change() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(10));
    send_to_all(&c, &forged(&c, 2, MemberState::Alive, u32::MAX));
    assert!(wait_until(SETTLE, || implausible(&c) >= 3));
    c.node(2).set_tags(Tags::new([("role", "db")]).unwrap());
    let seen = |c: &Cluster, v: usize| {
        c.node(v)
            .members()
            .into_iter()
            .any(|m| m.name.as_str() == "n2" && m.tags.get("role") == Some("db"))
    };
    assert!(
        wait_until(SETTLE + SLACK, || seen(&c, 0) && seen(&c, 1)),
        "n2's tag change reaches the others"
    );
}

#[test]
fn an_event_clock_at_the_top_of_the_range_is_dropped_and_a_broadcast_still_reaches_everyone() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(10));
    let poison = Packet {
        message: Message::Gossip,
        updates: vec![],
        user: Some(UserSection {
            clock: LamportTime(u64::MAX),
            records: vec![UserRecord {
                origin: NodeName::new("n1").unwrap(),
                ltime: LamportTime(u64::MAX),
                body: Some(Arc::new(UserBody {
                    addr: c.addr(1),
                    name: "poison".into(),
                    payload: vec![],
                })),
            }],
        }),
    };
    send_to_all(&c, &wire::encode(None, &poison));
    assert!(
        wait_until(SETTLE, || implausible(&c) >= 6),
        "every member counts the clock and the record: {}",
        implausible(&c)
    );
    let t = c.node(0).broadcast("deploy", b"v2").expect("broadcast");
    assert!(t.0 < 1 << 20, "the clock was not dragged: {t}");
    let delivered = |rx: &crossbeam_channel::Receiver<rumor::Event>| {
        wait_until(SETTLE, || {
            rx.try_iter().any(|e| {
                e.user
                    .as_ref()
                    .is_some_and(|u| u.name == "deploy" && u.ltime == t)
            })
        })
    };
    for (i, rx) in c.events.iter().enumerate() {
        assert!(delivered(rx), "n{i} got the broadcast");
    }
}

#[test]
fn a_second_node_with_a_live_members_name_is_refused_naming_the_holder() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(10));
    let holder = c.addr(1);
    let second = Node::start(config("n1", vec![c.addr(0)]));
    match second {
        Err(StartError::NameTaken { name, holder: at }) => {
            assert_eq!((name.as_str(), at), ("n1", holder));
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(n) => panic!("a second n1 joined at {}", n.addr()),
    }
    // The holder kept its name, its address and its state everywhere.
    assert!(c.all_see(&[0, 2], &[1], MemberState::Alive));
    for v in [0, 2] {
        let n1 = c
            .node(v)
            .members()
            .into_iter()
            .find(|m| m.name.as_str() == "n1");
        assert_eq!(n1.map(|m| m.addr), Some(holder));
    }
    assert_eq!(c.false_failures(), Vec::<String>::new());
}

#[test]
fn a_strangers_claim_on_a_live_name_is_dropped_and_the_holder_refutes_it() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(10));
    let thief = stranger();
    let holder = c.addr(2);
    let claim = Update {
        name: NodeName::new("n2").unwrap(),
        addr: thief.local_addr().unwrap(),
        incarnation: Incarnation(c.node(2).local().incarnation.0 + 1),
        state: MemberState::Alive,
        tags: Tags::default(),
        from: None,
    };
    let bytes = wire::encode(None, &Packet::new(Message::Gossip, vec![claim]));
    for i in c.live() {
        thief.send_to(&bytes, c.addr(i)).unwrap();
    }
    let conflicts = |c: &Cluster| -> Vec<u64> {
        c.live()
            .iter()
            .map(|&i| c.node(i).stats().name_conflicts)
            .collect()
    };
    assert!(
        wait_until(SETTLE, || conflicts(&c).iter().all(|&n| n >= 1)),
        "every member reports the claim: {:?}",
        conflicts(&c)
    );
    // n2 refuted it and is still probed at its own address: alive there everywhere.
    assert!(c.node(2).local().incarnation.0 >= 2);
    for v in [0, 1] {
        let n2 = c
            .node(v)
            .members()
            .into_iter()
            .find(|m| m.name.as_str() == "n2");
        assert_eq!(
            n2.map(|m| (m.addr, m.state)),
            Some((holder, MemberState::Alive))
        );
    }
    assert_eq!(c.false_failures(), Vec::<String>::new());
}
