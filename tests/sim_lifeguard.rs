//! Lifeguard and partition healing, in the simulator (issue 5): no live member is declared
//! Failed under heavy packet loss, and a partition that each side has declared dead merges back
//! into one cluster after the network heals, without a restart. Lan timings, 50 members, long
//! virtual runs (a simulated minute takes a fraction of a second). Seeds print; `RUMOR_SEED`
//! replays.

mod common;

use std::time::Duration;

use rumor::sim::{Sim, SimConfig};
use rumor::{EventKind, Profile};

const N: usize = 50;

fn lossy(loss: f64, seed: u64) -> Sim {
    let mut c = SimConfig::new(N, Profile::Lan, seed);
    c.loss = loss;
    Sim::formed(c).unwrap()
}

/// Nobody crashes, so every Failed event is a false one.
fn no_false_failures_at(loss: f64) {
    let seed = common::seed();
    let mut sim = lossy(loss, seed);
    sim.set_record_events(true);
    sim.run_for(Duration::from_secs(600)).unwrap();
    let failed = sim.event_count(EventKind::Failed);
    let suspected = sim.event_count(EventKind::Suspected);
    let raised: u64 = sim.cores().map(|c| c.stats().suspicions).sum();
    println!(
        "seed={seed} loss={loss}: {raised} suspicions raised ({suspected} Suspected events), \
         {failed} false Failed in 10 simulated minutes"
    );
    assert_eq!(
        failed, 0,
        "seed={seed} loss={loss}: a live member was declared dead"
    );
    assert!(
        raised > 0,
        "seed={seed}: loss {loss} should raise some suspicions"
    );
}

#[test]
fn no_false_failures_at_10_percent_loss() {
    no_false_failures_at(0.10);
}

#[test]
fn no_false_failures_at_20_percent_loss() {
    no_false_failures_at(0.20);
}

#[test]
fn no_false_failures_at_30_percent_loss() {
    no_false_failures_at(0.30);
}

#[test]
fn partition_of_30_and_20_heals_into_one_cluster() {
    let seed = common::seed();
    let mut sim = lossy(0.0, seed);
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..30).collect(), (30..N).collect());
    sim.run_for(Duration::from_secs(5)).unwrap();
    sim.net_mut().partition(N, &[&a, &b]);
    sim.run_for(Duration::from_secs(180)).unwrap();
    // Each side has declared the other dead and keeps its own.
    let active: Vec<usize> = sim.cores().map(|c| c.active_members()).collect();
    for &i in &a {
        assert_eq!(
            active[i],
            a.len() - 1,
            "seed={seed}: node {i} after 3 minutes apart"
        );
    }
    for &i in &b {
        assert_eq!(
            active[i],
            b.len() - 1,
            "seed={seed}: node {i} after 3 minutes apart"
        );
    }
    sim.net_mut().repair();
    // Two push-pull intervals, as scaled for 50 members (30 s doubled past 32 members).
    let two_intervals = 2 * 2 * Duration::from_secs(30);
    let took = sim
        .run_until(two_intervals, |s| {
            s.cores().all(|c| c.active_members() == N - 1)
        })
        .unwrap_or_else(|e| panic!("seed={seed}: halves did not merge: {e}"));
    println!("seed={seed}: 30|20 partition healed {took:?} after the network did");
}
