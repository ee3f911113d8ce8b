//! Hostile input: random and mutated datagrams through the decoder and the core. Nothing may
//! panic, every datagram is either accepted or counted as dropped, and decoding never allocates
//! more than `wire::MAX_DECODE_ALLOC` however the length prefixes lie.
//!
//! Seeded: `RUMOR_SEED=<n>` replays a failing run.

// Counting allocations needs a GlobalAlloc, which is unsafe to implement; it only forwards.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

use rumor::wire::{self, MAX_DECODE_ALLOC, Message, Packet, Update, UserBody, UserRecord};
use rumor::wire::{UserSection, VERSION};
use rumor::{Config, Incarnation, LamportTime, MemberState, NodeName, Profile, Swim, Tags};

/// Counts live heap bytes so a test can see the peak one decode reaches.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn seed() -> u64 {
    let seed = std::env::var("RUMOR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    println!("seed={seed} (RUMOR_SEED={seed} replays)");
    seed
}

fn update(i: usize, state: MemberState) -> Update {
    Update {
        name: NodeName::new(&format!("member-{i}")).unwrap(),
        addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)),
        incarnation: Incarnation(i as u32),
        state,
        tags: Tags::new([("zone", "a")]).unwrap(),
        from: Some(NodeName::new("n0").unwrap()),
    }
}

/// User events of every shape: with a payload (empty or not), and remembered only.
fn user_section(k: usize) -> UserSection {
    let records = (0..k)
        .map(|i| UserRecord {
            origin: NodeName::new(&format!("member-{i}")).unwrap(),
            ltime: LamportTime(i as u64 * 1000),
            body: (i % 3 != 2).then(|| {
                Arc::new(UserBody {
                    addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)),
                    name: format!("deploy-{i}"),
                    payload: vec![i as u8; i * 40],
                })
            }),
        })
        .collect();
    UserSection {
        clock: LamportTime(k as u64 * 1000 + 1),
        records,
    }
}

/// Valid datagrams of every message kind, with and without user events, to mutate.
fn corpus() -> Vec<Vec<u8>> {
    let target = NodeName::new("me").unwrap();
    let messages = [
        Message::Ping {
            seq: 1,
            target: target.id(),
        },
        Message::PingReq {
            seq: 2,
            target: target.id(),
            addr: "127.0.0.1:9".parse().unwrap(),
        },
        Message::Ack {
            seq: 3,
            digest: None,
        },
        Message::Ack {
            seq: 4,
            digest: Some([1, 2, 3, 4]),
        },
        Message::Nack { seq: 4 },
        Message::Gossip,
        Message::Sync {
            reply: true,
            join: true,
        },
    ];
    let states = [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ];
    messages
        .into_iter()
        .enumerate()
        .flat_map(|(k, message)| {
            let updates: Vec<_> = (0..k * 3).map(|i| update(i, states[i % 4])).collect();
            let plain = Packet::new(message.clone(), updates.clone());
            let with_events = Packet {
                message,
                updates,
                user: Some(user_section(k)),
            };
            [wire::encode(None, &plain), wire::encode(None, &with_events)]
        })
        .collect()
}

fn mutate(rng: &mut SmallRng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
        }
        1 => b.truncate(rng.random_range(0..b.len())),
        2 => {
            let extra: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            b.extend(extra);
        }
        3 => {
            // A length prefix that claims the world: bincode's varint marker for a u64.
            let i = rng.random_range(4..b.len().max(5));
            let i = i.min(b.len());
            b.splice(i..i, [253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        }
        4 => {
            // A plausible but large length (1 to 16 MiB) where a length may stand.
            let i = rng.random_range(4..b.len().max(5)).min(b.len());
            let len: u32 = rng.random_range(1 << 20..1 << 24);
            let mut prefix = vec![252];
            prefix.extend_from_slice(&len.to_le_bytes());
            b.splice(i..i, prefix);
        }
        _ => {
            let i = rng.random_range(0..b.len());
            b.remove(i);
        }
    }
    b
}

fn random_bytes(rng: &mut SmallRng) -> Vec<u8> {
    let len = rng.random_range(0..1500);
    let mut b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    // Half of them get a valid header so the body decoder is exercised, not just the magic.
    if rng.random_bool(0.5) && b.len() >= 4 {
        let flags = if rng.random_bool(0.5) {
            wire::FLAG_EVENTS
        } else {
            0
        };
        b[..4].copy_from_slice(&[b'R', b'M', VERSION, flags]);
    }
    b
}

#[test]
fn decoding_hostile_bytes_never_panics_or_overallocates() {
    let mut rng = SmallRng::seed_from_u64(seed());
    let corpus = corpus();
    for round in 0..20_000 {
        let bytes = if round % 2 == 0 {
            random_bytes(&mut rng)
        } else {
            let base = &corpus[rng.random_range(0..corpus.len())];
            mutate(&mut rng, base)
        };
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let result = wire::decode(&bytes, None);
        let peak = PEAK.load(Ordering::Relaxed) - before;
        // Slack covers what is not a collection claim: the error's message, the Arc headers.
        assert!(
            peak <= MAX_DECODE_ALLOC + 16 * 1024,
            "round {round}: decoding {} bytes took {peak} bytes: {bytes:?}",
            bytes.len()
        );
        if let Ok(packet) = result {
            assert!(packet.updates.len() <= wire::MAX_UPDATES);
            let records = packet.user.map_or(0, |u| u.records.len());
            assert!(records <= wire::MAX_USER_RECORDS);
        }
    }
}

#[test]
fn core_counts_every_hostile_datagram_and_keeps_working() {
    let mut rng = SmallRng::seed_from_u64(seed() ^ 1);
    #[allow(clippy::disallowed_methods)] // the fake clock's epoch; only offsets matter
    let mut now = Instant::now();
    let me: SocketAddr = "127.0.0.1:7946".parse().unwrap();
    let mut swim = Swim::new(Config::new(Profile::Lan, "me", me), 1, now).unwrap();
    swim.join(now, &[]);
    let corpus = corpus();
    let mut buf = Vec::new();
    let total = 5_000u64;
    for round in 0..total {
        let bytes = if round % 2 == 0 {
            random_bytes(&mut rng)
        } else {
            let pick = rng.random_range(0..corpus.len());
            mutate(&mut rng, &corpus[pick])
        };
        let from = SocketAddr::from(([127, 0, 0, 1], 9000 + (round % 50) as u16));
        swim.handle_datagram(now, from, &bytes);
        now += Duration::from_millis(10);
        swim.handle_timeout(now);
        let mut sent = 0;
        while swim.poll_transmit(&mut buf).is_some() {
            assert!(buf.len() <= 1400);
            sent += 1;
            assert!(
                sent < 10_000,
                "a datagram must not trigger unbounded output"
            );
        }
        while swim.poll_event().is_some() {}
    }
    let s = swim.stats();
    assert!(
        s.user_events <= total,
        "user events come only from datagrams that decoded: {s:?}"
    );
    let accounted = s.total_packets_in() + s.total_dropped();
    assert_eq!(
        accounted, total,
        "every datagram is either accepted or counted as dropped"
    );
    assert!(s.dropped_malformed > total / 4, "{s:?}");
    // Still a working node: it answers a well-formed ping.
    let ping = wire::encode(
        None,
        &Packet::new(
            Message::Ping {
                seq: 99,
                target: NodeName::new("me").unwrap().id(),
            },
            vec![],
        ),
    );
    swim.handle_datagram(now, "127.0.0.1:9999".parse().unwrap(), &ping);
    let mut acked = false;
    while let Some(to) = swim.poll_transmit(&mut buf) {
        if to == "127.0.0.1:9999".parse().unwrap() {
            acked = matches!(
                wire::decode(&buf, None).unwrap().message,
                Message::Ack { seq: 99, .. }
            );
        }
    }
    assert!(acked);
}
