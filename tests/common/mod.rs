//! Helpers shared by the integration tests: a seeded RNG that prints its seed, waiting on a
//! condition with a deadline, and free loopback addresses.
//!
//! Each test file compiles this module separately and uses only some of it.
#![allow(dead_code)]

pub(crate) mod cluster;
pub(crate) mod counting;
pub(crate) mod hostile;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;

/// The seed for a test's randomness. Fixed by default, so that the suite gives the same
/// verdict on every run and machine; `RUMOR_SEED=n` runs another seed (to replay a failure, or
/// to explore), and `RUMOR_SEED=random` a fresh one. It is printed either way, so a failing
/// run's output says how to replay it.
pub(crate) fn seed() -> u64 {
    const DEFAULT: u64 = 1;
    let seed = match std::env::var("RUMOR_SEED").as_deref() {
        Err(_) => DEFAULT,
        Ok("random") => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::hash::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.finish()
        }
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("RUMOR_SEED={text} is neither a u64 nor `random`")),
    };
    println!("seed={seed} (replay with RUMOR_SEED={seed})");
    seed
}

/// An RNG seeded by [`seed`], with the seed for messages.
pub(crate) fn rng() -> (u64, SmallRng) {
    let seed = seed();
    (seed, SmallRng::seed_from_u64(seed))
}

/// Wall-clock time, for measuring real-UDP runs.
///
/// clippy.toml forbids `Instant::now` so that protocol code takes time as an argument; a test
/// over real sockets lives in real time and has to read it.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Polls `pred` until it holds or `timeout` passes; returns how long it took, or `None` on
/// timeout. The polling interval (5 ms) is short next to the test profile's 50 ms period.
pub(crate) fn wait_for(timeout: Duration, mut pred: impl FnMut() -> bool) -> Option<Duration> {
    let start = now();
    let deadline = start + timeout;
    loop {
        if pred() {
            return Some(now() - start);
        }
        if now() >= deadline {
            return None;
        }
        pause_briefly();
    }
}

/// Polls `pred` until it holds (true) or `timeout` passes (false).
pub(crate) fn wait_until(timeout: Duration, pred: impl FnMut() -> bool) -> bool {
    wait_for(timeout, pred).is_some()
}

/// The one sleep of the test suite: a polling step inside [`wait_for`], never an assertion's
/// way of waiting.
#[allow(clippy::disallowed_methods)]
fn pause_briefly() {
    std::thread::sleep(Duration::from_millis(5));
}

/// A loopback UDP address that was free a moment ago. Another process may grab it before it is
/// used, so prefer binding port 0 and asking the node for its address where possible.
pub(crate) fn free_addr() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    socket.local_addr().expect("local_addr of a bound socket")
}
