//! The simulator's faults do what they say, seen through the protocol: loss drops the
//! configured share, a partition makes each side fail the other and repairs merge them, an
//! isolated node loses everyone, a short pause is survived, a long one is refuted on resume,
//! and a crashed node that restarts is taken back. Every run is bounded in virtual time.

mod common;

use std::time::Duration;

use rumor::sim::{NodeState, Sim, SimConfig, SimEvent};
use rumor::{EventKind, MemberState, Profile};

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn formed(n: usize, seed: u64) -> Sim {
    Sim::formed(SimConfig::new(n, Profile::Lan, seed)).unwrap()
}

/// What node `observer` believes about node `member`.
fn state(sim: &Sim, observer: usize, member: usize) -> Option<MemberState> {
    let name = rumor::sim::name_of(member);
    sim.node(observer)?
        .members()
        .into_iter()
        .find(|m| m.name.as_str() == name)
        .map(|m| m.state)
}

fn failed_about(events: &[SimEvent], member: usize) -> Vec<u32> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Failed && e.member as usize == member)
        .map(|e| e.node)
        .collect()
}

#[test]
fn uniform_loss_drops_the_configured_share() {
    let seed = common::seed();
    let mut c = SimConfig::new(20, Profile::Lan, seed);
    c.loss = 0.2;
    let mut sim = Sim::formed(c).unwrap();
    sim.run_for(SECS(20)).unwrap();
    let s = sim.net().stats();
    let share = s.dropped_loss as f64 / s.sent as f64;
    assert!(s.sent > 1000, "seed={seed}: only {} sent", s.sent);
    assert!(
        (0.17..0.23).contains(&share),
        "seed={seed}: {share:.3} of datagrams lost, expected about 0.2 ({s:?})"
    );
    assert_eq!(s.dropped_partition, 0, "seed={seed}");
}

#[test]
fn partition_sides_fail_each_other_and_repair_merges_them() {
    let seed = common::seed();
    let n = 10;
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..6).collect(), (6..n).collect());
    let mut sim = formed(n, seed);
    sim.run_for(SECS(3)).unwrap();
    sim.net_mut().partition(n, &[&a, &b]);
    let sides_split = |s: &Sim| {
        a.iter()
            .all(|&x| b.iter().all(|&y| state(s, x, y) == Some(MemberState::Dead)))
            && b.iter()
                .all(|&y| a.iter().all(|&x| state(s, y, x) == Some(MemberState::Dead)))
    };
    sim.run_until(SECS(120), sides_split)
        .unwrap_or_else(|e| panic!("seed={seed}: sides did not fail each other: {e}"));
    assert!(sim.net().stats().dropped_partition > 0, "seed={seed}");
    for (x, y) in [(0, 5), (5, 0), (6, 9), (9, 6)] {
        assert_eq!(
            state(&sim, x, y),
            Some(MemberState::Alive),
            "seed={seed}: {x} lost {y} on its own side"
        );
    }
    sim.net_mut().repair();
    let merged = |s: &Sim| s.cores().all(|c| c.active_members() == n - 1);
    sim.run_until(SECS(180), merged)
        .unwrap_or_else(|e| panic!("seed={seed}: no merge after repair: {e}"));
}

#[test]
fn isolated_node_is_failed_by_all_and_fails_all() {
    let seed = common::seed();
    let n = 8;
    let mut sim = formed(n, seed);
    sim.run_for(SECS(2)).unwrap();
    sim.clear_events();
    sim.net_mut().isolate(n, 0);
    sim.run_until(SECS(120), |s| {
        failed_about(s.events(), 0).len() == n - 1
            && s.node(0).is_some_and(|c| c.active_members() == 0)
    })
    .unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    for j in 1..n {
        for k in 1..n {
            if j != k {
                assert_eq!(state(&sim, j, k), Some(MemberState::Alive), "seed={seed}");
            }
        }
    }
}

#[test]
fn short_pause_is_not_a_failure() {
    let seed = common::seed();
    let n = 8;
    let mut sim = formed(n, seed);
    sim.run_for(SECS(2)).unwrap();
    sim.pause(2, SECS(2), true);
    assert!(matches!(sim.state(2), Some(NodeState::Paused { .. })));
    sim.run_for(SECS(40)).unwrap();
    assert_eq!(sim.state(2), Some(NodeState::Up), "seed={seed}");
    assert_eq!(
        sim.event_count(EventKind::Failed),
        0,
        "seed={seed}: a 2 s pause made someone fail"
    );
    assert!(sim.is_running(2));
}

#[test]
fn long_pause_is_failed_then_refuted_on_resume() {
    let seed = common::seed();
    let n = 8;
    let mut sim = formed(n, seed);
    sim.run_for(SECS(2)).unwrap();
    sim.clear_events();
    sim.pause(4, SECS(60), false);
    sim.run_for(SECS(60)).unwrap();
    let failed = failed_about(sim.events(), 4);
    assert!(
        !failed.is_empty(),
        "seed={seed}: nobody failed a node paused for 60 s"
    );
    // Back: it learns it was declared dead and comes back with a higher incarnation.
    sim.run_until(SECS(120), |s| {
        (0..n)
            .filter(|&j| j != 4)
            .all(|j| state(s, j, 4) == Some(MemberState::Alive))
    })
    .unwrap_or_else(|e| panic!("seed={seed}: resumed node not taken back: {e}"));
}

#[test]
fn crashed_node_is_failed_and_a_restart_is_taken_back() {
    let seed = common::seed();
    let n = 8;
    let mut sim = formed(n, seed);
    sim.run_for(SECS(2)).unwrap();
    sim.clear_events();
    sim.crash(7);
    sim.run_until(SECS(120), |s| failed_about(s.events(), 7).len() == n - 1)
        .unwrap_or_else(|e| panic!("seed={seed}: crash not detected by all: {e}"));
    assert!(sim.net().stats().dropped_down > 0, "seed={seed}");
    sim.restart(7, &[0]).unwrap();
    sim.run_until(SECS(120), |s| {
        (0..n - 1).all(|j| state(s, j, 7) == Some(MemberState::Alive))
            && s.node(7).is_some_and(|c| c.active_members() == n - 1)
    })
    .unwrap_or_else(|e| panic!("seed={seed}: restarted node not taken back: {e}"));
    let inc = sim.node(0).unwrap().members();
    let seven = inc.iter().find(|m| m.name.as_str() == "n7").unwrap();
    assert!(seven.incarnation.0 >= 1, "seed={seed}: {seven:?}");
}

#[test]
fn leave_is_reported_as_left_not_failed() {
    let seed = common::seed();
    let n = 8;
    let mut sim = formed(n, seed);
    sim.run_for(SECS(2)).unwrap();
    sim.clear_events();
    sim.leave(5);
    sim.run_until(SECS(30), |s| {
        s.events()
            .iter()
            .filter(|e| e.kind == EventKind::Left && e.member == 5)
            .count()
            == n - 1
    })
    .unwrap_or_else(|e| panic!("seed={seed}: leave not seen by all: {e}"));
    sim.run_for(SECS(30)).unwrap();
    assert!(
        failed_about(sim.events(), 5).is_empty(),
        "seed={seed}: a node that left was reported failed"
    );
}

#[test]
fn simultaneous_joins_through_one_seed_all_succeed() {
    let seed = common::seed();
    let params = rumor::sim::scenario::Params::new(seed);
    let j = rumor::sim::scenario::join(&params, 40, 0.0, seed).unwrap();
    assert_eq!(j.join_failed, 0, "seed={seed}: {j:?}");
    let took = j
        .converged
        .unwrap_or_else(|| panic!("seed={seed}: no convergence: {j:?}"));
    assert!(took <= SECS(10), "seed={seed}: converged after {took:?}");
}
