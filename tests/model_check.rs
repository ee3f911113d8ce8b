//! The membership rules, model-checked: real `Swim` cores under `stateright`, over every
//! interleaving of deliveries, losses, duplicates, crashes, pauses, leaves and timers within
//! the stated bounds (see docs/MODEL.md). The depth is the CI depth in release builds and a
//! shallower one in debug builds, so that `cargo test --workspace` stays quick.

mod model;

use std::time::{Duration, Instant};

use model::{Action, Bounds, Cluster, Mode, QUANTUM, State};
use stateright::{Checker, Expectation, Model};

/// Safety search depth for 3 members, in steps (actions from the initial state; every
/// schedule of up to this many is checked): release (CI) and debug (the ordinary suite).
/// `MODEL_STEPS` overrides it for a deeper run (docs/MODEL.md).
fn safety_steps() -> usize {
    let default = if cfg!(debug_assertions) { 5 } else { 7 };
    env_number("MODEL_STEPS").unwrap_or(default)
}

fn env_number(var: &str) -> Option<usize> {
    std::env::var(var).ok().and_then(|d| d.parse().ok())
}

/// How the checker walks the space. BFS keeps whole cluster states in its queue (6 steps of
/// 3 members pass 4 GiB), and generates every state one step past its depth before it skips
/// them; DFS keeps only the current path and its siblings and remembers the rest as
/// fingerprints (7 steps of 3 members: 15 s, 60 MiB, against BFS's 5 steps in 12 s and
/// ~3.4 GiB). The safety runs use DFS; `MODEL_SEARCH=bfs` picks BFS.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Search {
    Bfs,
    Dfs,
}

fn search_from_env() -> Search {
    match std::env::var("MODEL_SEARCH").as_deref() {
        Ok("bfs") => Search::Bfs,
        _ => Search::Dfs,
    }
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
        max_steps: None,
    }
}

/// Prints one schedule as a readable trace: each action, with the datagram it moved decoded.
fn trace(path: &[(State, Option<Action>)]) -> String {
    let mut out = String::new();
    for (i, (s, a)) in path.iter().enumerate() {
        let Some(a) = a else { continue };
        let what = match a {
            Action::Deliver { .. } | Action::Duplicate { .. } | Action::Drop { .. } => {
                let Some(d) = s.find(a).map(|k| &s.net[k]) else {
                    out.push_str(&format!("{i:3}. {a:?}: not in flight\n"));
                    continue;
                };
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
    /// Every path found, as replayable steps (cut where a reached state is first reached).
    #[allow(dead_code)]
    paths: Vec<(&'static str, Vec<Action>)>,
}

/// Runs the checker over every schedule of up to `steps` actions (all of them with `None`),
/// printing its figures and every counterexample's trace, and
/// replays every path it found (counterexample or reached state) step by step from its
/// printed steps, which must end in the state the checker reached.
fn check(mut m: Cluster, steps: Option<usize>, search: Search) -> Report {
    // One check at a time: each takes both cores and up to ~3.5 GiB at the CI depth.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let label = format!(
        "{:?} n={} {search:?} steps<={steps:?}",
        m.mode, m.bounds.members
    );
    // stateright's depth counts states, the initial one as 1, and it neither checks nor
    // expands a state at the target depth: N steps are depth N + 2. Its DFS remembers a state
    // by fingerprint whatever depth it was first seen at, so a cut there would skip a state
    // seen first deep and later shallow; DFS counts steps in the state instead (exact).
    let target = match (search, steps) {
        (_, None) => None,
        (Search::Bfs, Some(n)) => Some(n + 2),
        (Search::Dfs, Some(n)) => {
            m.bounds.max_steps = Some(u8::try_from(n).expect("at most 255 steps"));
            None
        }
    };
    let start = wall_clock();
    let builder = m.clone().checker().threads(2);
    let builder = match target {
        Some(d) => builder.target_max_depth(d),
        None => builder,
    };
    match search {
        Search::Bfs => summarize(&m, builder.spawn_bfs().join(), &label, start),
        Search::Dfs => summarize(&m, builder.spawn_dfs().join(), &label, start),
    }
}

/// Prints a finished check's figures and paths, and replays each path (see [`check`]).
fn summarize(m: &Cluster, checker: impl Checker<Cluster>, label: &str, start: Instant) -> Report {
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
        paths: Vec::new(),
    };
    let properties = m.properties();
    let mut found: Vec<_> = checker.discoveries().into_iter().collect();
    found.sort_by_key(|(name, _)| *name);
    for (name, path) in found {
        let Some(p) = properties.iter().find(|p| p.name == name) else {
            continue;
        };
        let mut steps = path.clone().into_actions();
        let states = path.clone().into_states();
        if p.expectation == Expectation::Sometimes {
            // stateright keeps the last path it saw reach a state, not the first: cut it
            // where the state is first reached, so the printed steps are the short story.
            if let Some(first) = states.iter().position(|st| (p.condition)(m, st)) {
                steps.truncate(first);
            }
        }
        let replayed = model::replay(m, &steps);
        if p.expectation == Expectation::Sometimes {
            println!("  reached: {name} (in {} steps)", steps.len());
            report.reached.push(name);
        } else {
            println!(
                "COUNTEREXAMPLE for \"{name}\":\n{}",
                trace(&path.clone().into_vec())
            );
            report.failed.push(name);
        }
        println!(
            "  steps (replay with model::replay): {}",
            model::rust_steps(&steps)
        );
        let replayed = replayed.unwrap_or_else(|e| panic!("the path to \"{name}\": {e}"));
        assert!(
            (p.condition)(m, &replayed) == (p.expectation == Expectation::Sometimes),
            "the path to \"{name}\" does not replay to a state where the checker found it"
        );
        assert_eq!(
            replayed,
            states[steps.len()],
            "the path to \"{name}\" does not replay to the state the checker reached"
        );
        report.paths.push((name, steps));
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
            start: None,
        },
        Some(safety_steps()),
        search_from_env(),
    );
    assert!(
        report.failed.is_empty(),
        "properties violated: {:?}",
        report.failed
    );
}

/// Safety steps from next to a verdict (see [`safety_around_a_verdict`]); `MODEL_STEPS_VERDICT`
/// overrides it.
fn verdict_steps() -> usize {
    let default = if cfg!(debug_assertions) { 5 } else { 7 };
    env_number("MODEL_STEPS_VERDICT").unwrap_or(default)
}

/// Every fault within the safety bounds, from the state one tick short of the verdict in
/// `traces::N0_CRASHES_N1_SEES_IT_DEAD` (n0 crashed, n1 and n2 suspect it): the verdicts, the
/// gossip that spreads them and stale copies of suspicions, duplicated, dropped, reordered,
/// around a leave, a pause and a user event. From a formed cluster the search does not get
/// that far (a verdict takes a dozen ticks), so this is where "never overridden at the same
/// incarnation" and "a Left member is never reported Failed" meet real Dead verdicts.
#[test]
fn safety_around_a_verdict() {
    let steps = model::traces::N0_CRASHES_N1_SEES_IT_DEAD;
    let report = check(
        Cluster {
            mode: Mode::Safety,
            bounds: safety_bounds(3),
            epoch: model::epoch(),
            start: Some((liveness_bounds(3), &steps[..steps.len() - 1])),
        },
        Some(verdict_steps()),
        Search::Dfs,
    );
    assert!(
        report.failed.is_empty(),
        "properties violated: {:?}",
        report.failed
    );
    assert!(
        report.reached.contains(&"reach: a member is seen Dead"),
        "the search reached no verdict: {:?}",
        report.reached
    );
}

/// Safety depth for 4 members in steps, in release builds; `MODEL_STEPS4` overrides it.
fn four_member_steps() -> usize {
    env_number("MODEL_STEPS4").unwrap_or(6)
}

/// 4 members, the same faults and bounds: each member more multiplies the choices at every
/// step, so this runs shallower than the 3-member check.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release only: cargo test --release --test model_check"
)]
fn safety_four_members() {
    let report = check(
        Cluster {
            mode: Mode::Safety,
            bounds: safety_bounds(4),
            epoch: model::epoch(),
            start: None,
        },
        Some(four_member_steps()),
        search_from_env(),
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
        max_steps: None,
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
            start: None,
        },
        env_number("MODEL_LIVE_STEPS"),
        Search::Bfs,
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
        start: None,
    };
    m.init_states().remove(0).nodes.remove(0)
}

fn named(n: &str) -> rumor::NodeName {
    rumor::NodeName::new(n).expect("a valid name")
}

#[test]
fn the_safety_checks_can_fail() {
    use model::{bad, observe_event, observe_queues, observe_view};
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

    // A real core over the model's queue bound: two user events where the bound allows one.
    let mut n = lone_node();
    let now = model::epoch();
    n.swim.broadcast(now, "ev", b"x").expect("a broadcast");
    assert_eq!(observe_queues(&n, 3, 1), 0);
    n.swim.broadcast(now, "ev", b"y").expect("a broadcast");
    assert_eq!(observe_queues(&n, 3, 1), bad::OVER_QUEUE);
    assert_eq!(observe_queues(&n, 3, 2), 0);
    // Leaving queues its own Left: one update, over a bound of none.
    n.swim.leave(now);
    assert_eq!(observe_queues(&n, 1, 2), 0);
    assert_eq!(observe_queues(&n, 0, 2), bad::OVER_QUEUE);
}

/// What member `i`'s table says of member `j`.
fn view_of(s: &State, i: usize, j: usize) -> Option<rumor::MemberState> {
    let name = model::name(j);
    s.nodes[i]
        .swim
        .members()
        .into_iter()
        .find(|m| m.name.as_str() == name)
        .map(|m| m.state)
}

/// A schedule the checker printed, pasted (tests/model/traces.rs) and replayed step by step on
/// fresh cores: it ends where the checker said, and only that schedule does.
#[test]
fn a_printed_trace_replays_as_a_unit_test() {
    use rumor::MemberState::{Alive, Dead, Suspect};
    let m = Cluster {
        mode: Mode::Liveness,
        bounds: liveness_bounds(3),
        epoch: model::epoch(),
        start: None,
    };
    let steps = model::traces::N0_CRASHES_N1_SEES_IT_DEAD;
    let end = model::replay(&m, steps).expect("the printed steps replay");
    assert!(end.nodes[0].crashed);
    assert_eq!(view_of(&end, 1, 0), Some(Dead));
    assert_eq!(view_of(&end, 2, 0), Some(Dead));
    assert_eq!(view_of(&end, 1, 2), Some(Alive));
    assert_eq!(end.bad, 0, "no safety flag on the way");
    for i in 0..3 {
        assert_eq!(end.nodes[i].delivered, [("n0".to_string(), 0)], "n{i}");
    }

    // One step short, the verdict has not come yet.
    let before = model::replay(&m, &steps[..steps.len() - 1]).expect("a prefix replays");
    assert_eq!(view_of(&before, 1, 0), Some(Suspect));
    assert_eq!(view_of(&before, 2, 0), Some(Suspect));

    // The same deliveries to n0 in the other order make other cores (their input histories
    // differ), so the replay does not end in the same state.
    let mut swapped = steps.to_vec();
    swapped.swap(0, 1);
    assert_ne!(model::replay(&m, &swapped).as_ref(), Ok(&end));

    // A step the model does not offer there is refused, by its index.
    let mut wrong = steps.to_vec();
    wrong.insert(
        3,
        Action::Deliver {
            from: 0,
            to: 1,
            n: 99,
        },
    );
    let err = model::replay(&m, &wrong).expect_err("no such datagram in flight");
    assert!(err.starts_with("step 3 "), "{err}");
}
