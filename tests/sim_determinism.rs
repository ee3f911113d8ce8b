//! The simulator replays: one seed and one sequence of inputs give one trace, bit for bit,
//! losses included; another seed gives another trace.

mod common;

use std::time::Duration;

use rumor::sim::{Sim, SimConfig};
use rumor::{EventKind, Profile};

/// A lossy run with a crash and a partition, summarised as (trace hash, events, net counters).
fn run(seed: u64) -> (u64, Vec<u64>, rumor::sim::NetStats) {
    run_with(seed, true)
}

fn run_with(seed: u64, shared_directory: bool) -> (u64, Vec<u64>, rumor::sim::NetStats) {
    let mut c = SimConfig::new(16, Profile::Lan, seed);
    c.shared_directory = shared_directory;
    c.loss = 0.1;
    c.latency = "1ms..5ms".parse().unwrap();
    let mut sim = Sim::formed(c).unwrap();
    sim.run_for(Duration::from_secs(5)).unwrap();
    sim.crash(3);
    sim.net_mut()
        .partition(16, &[&[0, 1, 2, 4, 5, 6, 7], &[8, 9, 10, 11]]);
    sim.run_for(Duration::from_secs(10)).unwrap();
    sim.net_mut().repair();
    sim.run_for(Duration::from_secs(10)).unwrap();
    sim.restart(3, &[0]).unwrap();
    sim.set_tags(5, rumor::Tags::new([("role", "db")]).unwrap());
    sim.run_for(Duration::from_secs(10)).unwrap();
    let counts = [
        EventKind::Suspected,
        EventKind::Alive,
        EventKind::Failed,
        EventKind::Joined,
    ]
    .iter()
    .map(|&k| sim.event_count(k))
    .collect();
    (sim.trace_hash(), counts, sim.net().stats().clone())
}

#[test]
fn same_seed_gives_the_same_trace() {
    let seed = common::seed();
    let a = run(seed);
    let b = run(seed);
    assert_eq!(a, b, "seed={seed}: two runs of one seed differ");
    assert!(
        a.2.delivered > 1000 && a.2.dropped_loss > 0,
        "seed={seed}: {:?}",
        a.2
    );
}

#[test]
fn another_seed_gives_another_trace() {
    let seed = common::seed();
    let (a, _, _) = run(seed);
    let (b, _, _) = run(seed.wrapping_add(1));
    assert_ne!(a, b, "seed={seed}: seeds {seed} and {} agree", seed + 1);
}

/// The memory model must not show: cores sharing one directory of identities and cores with
/// indexes of their own make the same run, bit for bit, through crashes, partitions, a restart,
/// a tag change, loss, and a cluster formed by joins (members arriving one by one).
#[test]
fn a_shared_directory_gives_the_trace_of_plain_tables() {
    let seed = common::seed();
    let shared = run_with(seed, true);
    assert_eq!(shared, run_with(seed, false), "seed={seed}");
    assert!(
        shared.1[1] > 0,
        "seed={seed}: refutations happened: {:?}",
        shared.1
    );
    let joined = |shared_directory: bool| {
        let mut c = SimConfig::new(60, Profile::Lan, seed);
        c.loss = 0.2;
        c.shared_directory = shared_directory;
        let mut sim = Sim::new(c).unwrap();
        sim.join_all();
        sim.run_for(Duration::from_secs(40)).unwrap();
        sim.crash(7);
        sim.run_for(Duration::from_secs(60)).unwrap();
        (
            sim.trace_hash(),
            sim.event_count(EventKind::Failed),
            sim.steps(),
        )
    };
    let a = joined(true);
    assert_eq!(a, joined(false), "seed={seed}");
    assert!(a.1 >= 50, "seed={seed}: the crash was seen: {a:?}");
}
