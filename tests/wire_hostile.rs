//! Hostile input: random, mutated and absurd datagrams through the decoder and the core.
//! Nothing may panic, every datagram is either accepted or counted as dropped, a stranger is
//! never answered with more than it sent, and decoding never allocates more than
//! `wire::MAX_DECODE_ALLOC` however the length prefixes lie.
//!
//! Seeded: `RUMOR_SEED=<n>` replays a failing run.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rumor::wire::{self, MAX_DECODE_ALLOC, Message, Packet};
use rumor::{Config, NodeName, Profile, Swim};

use common::counting::{self, Counting};
use common::hostile::{self, corpus, mutate, random_bytes};
use common::seed;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn decoding_hostile_bytes_never_panics_or_overallocates() {
    let mut rng = SmallRng::seed_from_u64(seed());
    let corpus = corpus(true);
    for round in 0..20_000 {
        let bytes = if round % 2 == 0 {
            random_bytes(&mut rng)
        } else {
            let base = &corpus[rng.random_range(0..corpus.len())];
            mutate(&mut rng, base)
        };
        let before = counting::reset_peak();
        let result = wire::decode(&bytes, None);
        let peak = counting::peak() - before;
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
    let corpus = corpus(true);
    let mut buf = Vec::new();
    let total = 5_000u64;
    for round in 0..total {
        let bytes = hostile::any(&mut rng, &corpus);
        let from = SocketAddr::from(([127, 0, 0, 1], 9000 + (round % 50) as u16));
        let known: Vec<SocketAddr> = swim.members().iter().map(|m| m.addr).collect();
        swim.handle_datagram(now, from, &bytes);
        // A stranger's datagram is answered only to it, and with no more than it carried.
        if !known.contains(&from) {
            let mut answered = 0;
            while let Some(to) = swim.poll_transmit(&mut buf) {
                assert!(
                    to == from || known.contains(&to),
                    "round {round}: sent to {to}"
                );
                answered += buf.len();
            }
            assert!(
                answered <= bytes.len(),
                "round {round}: {} bytes answered with {answered}",
                bytes.len()
            );
        }
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
    assert!(
        s.total_packets_in() > total / 4,
        "absurd but valid datagrams are read: {s:?}"
    );
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
