//! 100,000 hostile datagrams leave a live core's memory flat: whatever a peer controls (members
//! in a sync, tags, names, user events, relays, replies) is bounded, so once the bounded tables
//! are full, more hostile input costs nothing that stays.
//!
//! Its own test binary, with one test: the counting allocator sees the whole process, and a
//! second test running beside it would be counted too.
//!
//! Seeded: `RUMOR_SEED=<n>` replays a failing run.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rumor::{Config, Profile, Swim};

use common::counting::{self, Counting};
use common::hostile::{self, corpus};
use common::seed;

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_hundred_thousand_hostile_datagrams_leave_memory_flat() {
    let mut rng = SmallRng::seed_from_u64(seed() ^ 2);
    #[allow(clippy::disallowed_methods)] // the fake clock's epoch; only offsets matter
    let mut now = Instant::now();
    let me: SocketAddr = "127.0.0.1:7946".parse().unwrap();
    let mut config = Config::new(Profile::Lan, "me", me);
    // A small table fills within the warm-up, so what is left to see is anything unbounded.
    config.max_members = 64;
    let mut swim = Swim::new(config, 1, now).unwrap();
    swim.join(now, &[]);
    let corpus = corpus(true);
    let mut buf = Vec::new();
    let total = 100_000u32;
    let warm_up = 20_000;
    let mut after_warm_up = 0;
    let mut peak_after = 0;
    for round in 0..total {
        let bytes = hostile::any(&mut rng, &corpus);
        let from = SocketAddr::from(([127, 0, 0, 1], 9000 + (round % 500) as u16));
        swim.handle_datagram(now, from, &bytes);
        // Ten datagrams a protocol tick, as a flood would arrive.
        if round % 10 == 0 {
            now += Duration::from_millis(10);
            swim.handle_timeout(now);
        }
        while swim.poll_transmit(&mut buf).is_some() {}
        while swim.poll_event().is_some() {}
        let live = counting::live();
        if round == warm_up {
            after_warm_up = live;
        } else if round > warm_up {
            peak_after = peak_after.max(live);
        }
    }
    let s = swim.stats();
    assert_eq!(
        s.total_packets_in() + s.total_dropped(),
        u64::from(total),
        "every datagram is accepted or counted as dropped"
    );
    assert!(swim.members().len() <= 64, "{}", swim.members().len());
    // Flat: 80,000 more datagrams (about 30 MB of input) may move live memory by what the
    // bounded tables and queues churn through, not by anything that grows with the count.
    let slack = 512 * 1024;
    assert!(
        peak_after <= after_warm_up + slack,
        "live heap {after_warm_up} B after {warm_up} datagrams, peaked at {peak_after} B \
         over the next {}",
        total - warm_up
    );
    eprintln!(
        "live heap {after_warm_up} B after {warm_up} hostile datagrams, peak {peak_after} B \
         over the next {}",
        total - warm_up
    );
}
