//! Issue 12's flaky member, in the simulator: one member of 20 (and of 50) loses 80 % of the
//! datagrams sent to it for two simulated minutes while it can still send. Each observer's
//! view of it must settle (at most 6 changes for the median observer, no death taken back
//! while the loss lasts), no healthy member may be declared Failed because of it, and once the
//! loss ends it must be Alive everywhere within a few periods. Lan timings; seeds print and
//! `RUMOR_SEED` replays one.

mod common;

use std::time::Duration;

use rumor::Profile;
use rumor::sim::scenario::{Flaky, FlakySpec, Params, flaky};

fn run(n: usize, seed: u64) -> Flaky {
    let mut params = Params::new(seed);
    params.profile = Profile::Lan;
    let spec = FlakySpec {
        n,
        inbound_loss: 0.8,
        duration: Duration::from_secs(120),
        background_loss: 0.0,
    };
    flaky(&params, spec, seed).unwrap_or_else(|e| panic!("seed={seed}: {e}"))
}

/// Checks one run; returns its median observer's change count.
fn check(r: &Flaky) -> u32 {
    let seed = r.seed;
    let mut changes = r.changes.clone();
    changes.sort_unstable();
    let median = changes[changes.len() / 2];
    println!(
        "seed={seed} n={}: changes per observer median {median}, max {:?}; {} declared it dead, \
         {} took that back; false Failed {} ({} at the flaky one); whole after {:?}",
        r.spec.n,
        changes.last(),
        r.declared_dead,
        r.reversed,
        r.false_failed,
        r.false_failed_at_flaky,
        r.whole_after
    );
    // The target holds for the median run (the callers); one run in about 60 refutes a
    // third time before it stands down (S A S A S A S F), so one run may reach twice it.
    assert!(
        median <= 12,
        "seed={seed}: the median observer changed its view {median} times"
    );
    assert_eq!(
        r.false_failed, 0,
        "seed={seed}: a healthy member was declared Failed"
    );
    assert_eq!(
        r.reversed, 0,
        "seed={seed}: a death was taken back before the loss ended"
    );
    let whole = r
        .whole_after
        .unwrap_or_else(|| panic!("seed={seed}: never whole again"));
    // Eight prompt answers in a row (one a period) bring it back; a few more for the news.
    assert!(
        whole <= Duration::from_secs(12),
        "seed={seed}: whole only after {whole:?}"
    );
    median
}

fn median_of(mut v: Vec<u32>) -> u32 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn a_flaky_member_of_20_gets_one_stable_verdict_over_many_seeds() {
    let base = common::seed();
    let medians: Vec<u32> = (0..12)
        .map(|k| check(&run(20, base.wrapping_add(k))))
        .collect();
    let m = median_of(medians.clone());
    assert!(m <= 6, "seed={base}: median over runs {m} ({medians:?})");
}

#[test]
fn a_flaky_member_of_50_gets_one_stable_verdict() {
    let base = common::seed();
    let medians: Vec<u32> = (0..5)
        .map(|k| check(&run(50, base.wrapping_add(k))))
        .collect();
    let m = median_of(medians.clone());
    assert!(m <= 6, "seed={base}: median over runs {m} ({medians:?})");
}

/// The comparison the issue starts from: under Lifeguard's rule alone the same member flaps.
#[test]
fn under_lifeguards_rule_alone_the_flaky_member_flaps() {
    let seed = common::seed();
    let params = Params::new(seed).with_rule(rumor::SuspicionRule::Lifeguard);
    let spec = FlakySpec {
        n: 20,
        inbound_loss: 0.8,
        duration: Duration::from_secs(120),
        background_loss: 0.0,
    };
    let r = flaky(&params, spec, seed).unwrap();
    let mut changes = r.changes.clone();
    changes.sort_unstable();
    let median = changes[changes.len() / 2];
    println!("seed={seed}: Lifeguard's rule, median observer {median} changes");
    assert!(
        median > 12,
        "seed={seed}: only {median} changes: the scenario lost its bite"
    );
}
