//! Issue 26, finding 4, over real UDP: one stranger's datagram naming 250 fake members at a
//! third party's addresses must not aim a cluster at that party, nor blind it to a real crash.
//!
//! A 5-member cluster on loopback (test profile: 50 ms periods) converges; a stranger sends one
//! member one datagram of 250 fake Alive records whose addresses are ten sockets of a "third
//! party" that never answers and counts what it receives. For 10 s the cluster runs on; then a
//! real member is killed and must be declared failed by every other within a bound.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use common::cluster::{Cluster, SLACK, converge};
use common::{now, wait_for};
use rumor::wire::{self, Message, Packet, Update};
use rumor::{Incarnation, MemberState, NodeName, Tags};

/// Fake members in the injected datagram (the attack).
const FAKES: usize = 250;
/// Sockets the third party listens on; the fakes are spread over them.
const THIRD_PARTY_PORTS: usize = 10;
/// How long the cluster runs with the injection before the crash: 200 probe periods, most of
/// a probe round of 250 fakes.
const AFTER_INJECTION: Duration = Duration::from_secs(10);

/// A party that never answers and counts every byte sent to it, on `n` sockets.
struct ThirdParty {
    addrs: Vec<SocketAddr>,
    bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ThirdParty {
    fn start(n: usize) -> Self {
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut addrs = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            addrs.push(socket.local_addr().unwrap());
            let (bytes, stop) = (Arc::clone(&bytes), Arc::clone(&stop));
            threads.push(thread::spawn(move || {
                let mut buf = [0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, _)) = socket.recv_from(&mut buf) {
                        bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }));
        }
        ThirdParty {
            addrs,
            bytes,
            stop,
            threads,
        }
    }

    fn received(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for ThirdParty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The stranger's datagram: `FAKES` Alive records at the third party's addresses.
fn injection(third: &[SocketAddr]) -> Vec<u8> {
    let updates = (0..FAKES)
        .map(|i| Update {
            name: NodeName::new(&format!("fake{i:03}")).unwrap(),
            addr: third[i % third.len()],
            incarnation: Incarnation(1),
            state: MemberState::Alive,
            tags: Tags::default(),
            from: None,
        })
        .collect();
    wire::encode(None, &Packet::new(Message::Gossip, updates))
}

/// Runs the attack against a converged 5-member cluster: the datagrams go to member 0 from one
/// stranger's socket. Returns (bytes injected, bytes the third party received, worst health
/// score seen, the fakes the fullest table held), and asserts that a member killed afterwards
/// is declared dead by every other within a bound.
fn attack(c: &mut Cluster, datagrams: &[Vec<u8>], third: &ThirdParty) -> (u64, u64, u32, usize) {
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in datagrams {
        stranger.send_to(d, c.addr(0)).unwrap();
    }
    let injected: u64 = datagrams.iter().map(|d| d.len() as u64).sum();
    let mut worst_health = 0;
    let mut fakes_held = 0;
    // Observe for the whole time (the predicate never holds), sampling every 100 ms.
    let mut next_sample = now();
    wait_for(AFTER_INJECTION, || {
        if now() < next_sample {
            return false;
        }
        next_sample = now() + Duration::from_millis(100);
        for i in c.live() {
            worst_health = worst_health.max(c.node(i).health());
            let fakes = c
                .node(i)
                .members()
                .iter()
                .filter(|m| m.name.as_str().starts_with("fake"))
                .count();
            fakes_held = fakes_held.max(fakes);
        }
        false
    });
    let received = third.received();
    // (The caller divides by what it sent itself, when it sent the datagrams.)
    println!(
        "the third party received {received} bytes in {AFTER_INJECTION:?}; worst health \
         score {worst_health}; at most {fakes_held} fakes in a table"
    );
    // A real crash after the injection is detected as fast as without it: within the
    // suspicion timeout's bound at 5 members plus slack (about 3.5 s unfixed without injection).
    c.kill(4);
    let bound = Duration::from_secs(6) + SLACK;
    let took = wait_for(bound, || {
        [0, 1, 2, 3]
            .iter()
            .all(|&v| c.state(v, 4) == Some(MemberState::Dead))
    });
    println!("the killed member was declared dead by all after {took:?}");
    assert!(
        took.is_some(),
        "the crash was not detected within {bound:?}"
    );
    (injected, received, worst_health, fakes_held)
}

/// The stranger's own record, from its own socket: after this datagram it is a member.
fn introduction(stranger: SocketAddr) -> Vec<u8> {
    let me = Update {
        name: NodeName::new("mallory").unwrap(),
        addr: stranger,
        incarnation: Incarnation(1),
        state: MemberState::Alive,
        tags: Tags::default(),
        from: None,
    };
    wire::encode(None, &Packet::new(Message::Gossip, vec![me]))
}

#[test]
fn fake_members_from_a_stranger_neither_aim_the_cluster_at_a_third_party_nor_blind_it() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(10));
    let third = ThirdParty::start(THIRD_PARTY_PORTS);
    let datagram = injection(&third.addrs);
    let (injected, received, worst_health, fakes_held) =
        attack(&mut c, std::slice::from_ref(&datagram), &third);
    println!(
        "one stranger's datagram: x{:.2} ({received} / {injected} bytes)",
        received as f64 / injected as f64
    );
    let ratio = received as f64 / injected as f64;
    assert!(
        ratio <= RATIO_BOUND,
        "the cluster sent the third party {received} bytes (x{ratio:.1} the datagram)"
    );
    assert!(worst_health <= 1, "health score reached {worst_health}");
    assert!(fakes_held <= 64, "{fakes_held} fakes in one table");
}

/// Bytes the third party may receive per byte injected: each member holds at most
/// `MIN_UNVERIFIED_ROOM` (64) of the 250 fakes (5 members here) and pings each bare (~40 bytes)
/// at most five times (up to three asks, one a period, when it hears of it; twice at its turn;
/// a suspect unverified member is not pinged again): 5 * 64 * 5 * 40 = 64 KB for a 5 KB
/// datagram, x13, at worst. Measured about x1 to x3 (most fakes are suspected by another
/// member's gossip before their turn). Unfixed: x44 in 10 s and still growing.
const RATIO_BOUND: f64 = 13.0;

#[test]
fn fake_members_from_a_self_introduced_stranger_are_capped_pinged_only_and_cost_no_health() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(10));
    let third = ThirdParty::start(THIRD_PARTY_PORTS);
    // The stranger's socket must be the one that sends both datagrams.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let intro = introduction(stranger.local_addr().unwrap());
    let fakes = injection(&third.addrs);
    stranger.send_to(&intro, c.addr(0)).unwrap();
    let took = wait_for(Duration::from_secs(2), || {
        c.node(0)
            .members()
            .iter()
            .any(|m| m.name.as_str() == "mallory")
    });
    assert!(took.is_some(), "the stranger's own record is taken");
    stranger.send_to(&fakes, c.addr(0)).unwrap();
    // It answers pings, as an attacker that wants to stay a member would: the health scores
    // then measure what the fakes do, not one more silent member.
    let stop = Arc::new(AtomicBool::new(false));
    let responder = {
        let stop = Arc::clone(&stop);
        stranger
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = stranger.recv_from(&mut buf) else {
                    continue;
                };
                if let Ok(Packet {
                    message: Message::Ping { seq, .. },
                    ..
                }) = wire::decode(&buf[..n], None)
                {
                    let ack = Message::Ack { seq, digest: None };
                    let _ = stranger.send_to(&wire::encode(None, &Packet::new(ack, vec![])), from);
                }
            }
        })
    };
    let (injected, received, worst_health, fakes_held) = attack(&mut c, &[], &third);
    let injected = injected + (intro.len() + fakes.len()) as u64;
    stop.store(true, Ordering::Relaxed);
    responder.join().unwrap();
    let ratio = received as f64 / injected as f64;
    println!("with self-introduction: x{ratio:.2} ({received} / {injected} bytes)");
    assert!(fakes_held <= 64, "{fakes_held} fakes in one table");
    assert!(worst_health <= 1, "health score reached {worst_health}");
    assert!(
        ratio <= RATIO_BOUND,
        "the third party received x{ratio:.2} the injected bytes"
    );
}
