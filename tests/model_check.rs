//! The membership rules, model-checked: real `Swim` cores under `stateright`, over every
//! interleaving of deliveries, losses, duplicates, crashes, pauses, leaves and timers within
//! the stated bounds (see docs/MODEL.md). The depth is the CI depth in release builds and a
//! shallow one in debug builds, so that `cargo test --workspace` stays quick.

mod model;

use std::time::{Duration, Instant};

use model::{Action, Bounds, Cluster, Mode, QUANTUM, State};
use stateright::{Checker, Expectation, Model};

/// Safety search depth: release (CI) and debug (the ordinary suite). `MODEL_DEPTH` overrides
/// it for a deeper run (docs/MODEL.md).
fn safety_depth() -> usize {
    let default = if cfg!(debug_assertions) { 6 } else { 7 };
    std::env::var("MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(default)
}

fn safety_bounds(members: usize) -> Bounds {
    Bounds {
        members,
        max_ticks: 12,
        horizon: Duration::from_secs(60),
        max_in_flight: 4,
        max_drops: 1,
        max_dups: 1,
        max_crashes: 1,
        max_leaves: 1,
        max_pauses: 1,
        max_broadcasts: 1,
        act_by: Duration::from_secs(60),
    }
}

/// Prints one schedule as a readable trace: each action, with the datagram it moved decoded.
fn trace(path: &[(State, Option<Action>)]) -> String {
    let mut out = String::new();
    for (i, (s, a)) in path.iter().enumerate() {
        let Some(a) = a else { continue };
        let what = match a {
            Action::Deliver(k) | Action::Duplicate(k) | Action::Drop(k) => {
                let d = &s.net[*k];
                match rumor::wire::decode(&d.bytes, None) {
                    Ok(p) => format!(
                        "{a:?}: n{} -> n{} {:?} {:?}",
                        d.from,
                        d.to,
                        p.message,
                        p.updates
                            .iter()
                            .map(|u| format!("{}:{:?}@{}", u.name, u.state, u.incarnation.0))
                            .collect::<Vec<_>>()
                    ),
                    Err(e) => format!("{a:?}: n{} -> n{} undecodable ({e:?})", d.from, d.to),
                }
            }
            other => format!("{other:?} (t={:?})", QUANTUM * s.at),
        };
        out.push_str(&format!("{i:3}. {what}\n"));
    }
    if let Some((last, _)) = path.last() {
        for n in &last.nodes {
            out.push_str(&format!("     {n:?}\n"));
        }
    }
    out
}

/// The wall clock, read only to report how long a check took.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}

/// What one check found.
struct Report {
    /// Safety or liveness properties with a counterexample.
    failed: Vec<&'static str>,
    /// Reachability properties whose state was reached.
    reached: Vec<&'static str>,
}

/// Runs the checker to `depth`, printing its figures and every counterexample's trace.
fn check(m: Cluster, depth: Option<usize>) -> Report {
    // One check at a time: each takes both cores and up to ~3.5 GiB at the CI depth.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let label = format!("{:?} n={} depth={depth:?}", m.mode, m.bounds.members);
    let start = wall_clock();
    let builder = m.clone().checker().threads(2);
    let builder = match depth {
        Some(d) => builder.target_max_depth(d),
        None => builder,
    };
    let checker = builder.spawn_bfs().join();
    println!(
        "model {label}: {} states ({} unique), max depth {}, {:.1?}",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    let mut report = Report {
        failed: Vec::new(),
        reached: Vec::new(),
    };
    let properties = m.properties();
    let mut found: Vec<_> = checker.discoveries().into_iter().collect();
    found.sort_by_key(|(name, _)| *name);
    for (name, path) in found {
        let Some(p) = properties.iter().find(|p| p.name == name) else {
            continue;
        };
        if p.expectation == Expectation::Sometimes {
            println!(
                "  reached: {name} (in {} steps)",
                path.clone().into_actions().len()
            );
            report.reached.push(name);
        } else {
            println!(
                "COUNTEREXAMPLE for \"{name}\":\n{}",
                trace(&path.clone().into_vec())
            );
            println!("replay: {:?}", path.into_actions());
            report.failed.push(name);
        }
    }
    report
}

#[test]
fn safety_three_members() {
    let report = check(
        Cluster {
            mode: Mode::Safety,
            bounds: safety_bounds(3),
            epoch: model::epoch(),
        },
        Some(safety_depth()),
    );
    assert!(
        report.failed.is_empty(),
        "properties violated: {:?}",
        report.failed
    );
}

/// The fair, loss-free schedule: n0 founds the cluster and the others join through it; once it
/// is formed, one member may crash and n0 may broadcast one user event, both within the first
/// `act_by`; the run ends at the horizon.
fn liveness_bounds(members: usize) -> Bounds {
    Bounds {
        members,
        max_ticks: 1000,
        horizon: Duration::from_millis(2200),
        max_in_flight: 16,
        max_drops: 0,
        max_dups: 0,
        max_crashes: 1,
        max_leaves: 0,
        max_pauses: 0,
        max_broadcasts: 1,
        act_by: Duration::from_millis(500),
    }
}

// 5 million states: ~100 s in a debug build, so only the release (CI) run does it.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release only: cargo test --release --test model_check"
)]
fn liveness_three_members() {
    let report = check(
        Cluster {
            mode: Mode::Liveness,
            bounds: liveness_bounds(3),
            epoch: model::epoch(),
        },
        std::env::var("MODEL_LIVE_DEPTH")
            .ok()
            .and_then(|d| d.parse().ok()),
    );
    assert!(
        report.failed.is_empty(),
        "properties violated: {:?}",
        report.failed
    );
}

/// A model member with a fresh core, for showing that each safety check can fail.
fn lone_node() -> model::Node {
    let m = Cluster {
        mode: Mode::Safety,
        bounds: safety_bounds(3),
        epoch: model::epoch(),
    };
    m.init_states().remove(0).nodes.remove(0)
}

fn named(n: &str) -> rumor::NodeName {
    rumor::NodeName::new(n).expect("a valid name")
}

#[test]
fn the_safety_checks_can_fail() {
    use model::{bad, observe_event, observe_view};
    use rumor::EventKind::*;
    let mut n = lone_node();
    assert_eq!(
        observe_event(&mut n, "n0", Failed, &named("n1"), 2, None),
        0
    );
    assert_eq!(
        observe_event(&mut n, "n0", Alive, &named("n1"), 2, None),
        bad::OVERRIDE
    );
    assert_eq!(observe_event(&mut n, "n0", Alive, &named("n1"), 3, None), 0);

    let mut n = lone_node();
    assert_eq!(observe_event(&mut n, "n0", Left, &named("n2"), 0, None), 0);
    assert_eq!(
        observe_event(&mut n, "n0", Failed, &named("n2"), 1, None),
        bad::LEFT_THEN_FAILED
    );

    let mut n = lone_node();
    assert_eq!(
        observe_event(&mut n, "n0", Suspected, &named("n0"), 0, None),
        bad::SELF_SUSPECT
    );

    let mut n = lone_node();
    let ev = || Some(("n1".to_string(), 1));
    assert_eq!(observe_event(&mut n, "n0", User, &named("n1"), 0, ev()), 0);
    assert_eq!(
        observe_event(&mut n, "n0", User, &named("n1"), 0, ev()),
        bad::DUPLICATE_EVENT
    );

    let mut n = lone_node();
    assert_eq!(observe_view(&mut n, "n0"), 0);
    n.incarnation = 5;
    assert_eq!(observe_view(&mut n, "n0"), bad::OWN_INCARNATION);
    // The bootstrapped table lists n1 Alive at 0: a verdict at 0 makes that an override.
    n.verdicts.insert("n1".into(), (0, false));
    assert_ne!(observe_view(&mut n, "n0") & bad::OVERRIDE, 0);
}
