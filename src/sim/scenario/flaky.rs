//! One flaky member: it loses a share of every datagram sent to it (it can still send) for a
//! while, then the network heals. How often each observer's view of it changes, whether its
//! own failed probes get healthy members declared dead, and how soon it is whole again.

use std::time::Duration;

use crate::event::EventKind;
use crate::member::MemberState;
use crate::sim::report::{Cell, Chart, Series, Table};
use crate::sim::{Sim, name_of};

use super::{Params, Progress, all_with_blocker, run_seed};
use crate::quantile::nearest_rank as quantile;

/// What a flaky run does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlakySpec {
    /// Cluster size (the flaky member included).
    pub n: usize,
    /// Share of the datagrams sent to the flaky member that are lost (0 to 1).
    pub inbound_loss: f64,
    /// How long the loss lasts.
    pub duration: Duration,
    /// Uniform loss on every link, before, during and after.
    pub background_loss: f64,
}

/// What one flaky run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Flaky {
    /// What was run.
    pub spec: FlakySpec,
    /// The run's seed.
    pub seed: u64,
    /// Per observer (every member but the flaky one), the events about the flaky member while
    /// the loss lasted: each one a change of that observer's view.
    pub changes: Vec<u32>,
    /// Observers that declared the flaky member Failed while the loss lasted.
    pub declared_dead: usize,
    /// Observers that took such a Failed back (Alive or Joined about it) before the loss ended.
    pub reversed: usize,
    /// Failed events about healthy members, at any member (the flaky one included).
    pub false_failed: u64,
    /// Of those, the ones the flaky member itself reported.
    pub false_failed_at_flaky: u64,
    /// Suspected events about healthy members, at any member, while the loss lasted.
    pub false_suspected: u64,
    /// From the end of the loss until every observer holds the flaky member Alive and it holds
    /// every other member Alive; `None` if that did not happen within a minute.
    pub whole_after: Option<Duration>,
}

/// The flaky member is the last one; observers are all the others.
pub fn flaky(params: &Params, spec: FlakySpec, seed: u64) -> Result<Flaky, String> {
    let n = spec.n;
    if n < 3 {
        return Err(format!("flaky: needs at least 3 members, not {n}"));
    }
    let f = n - 1;
    let run = format!("seed={seed} n={n} inbound_loss={}", spec.inbound_loss);
    let mut sim = params.sim(n, spec.background_loss, seed)?;
    sim.run_for(params.warmup)
        .map_err(|e| format!("{run}: {e}"))?;
    sim.clear_events();
    for j in 0..f {
        sim.net_mut().drop(j, f, spec.inbound_loss);
    }
    let mut changes = vec![0u32; f];
    let mut dead = vec![false; f];
    let mut reversed = vec![false; f];
    let (mut false_failed, mut false_failed_at_flaky, mut false_suspected) = (0, 0, 0);
    // In one-second steps, so the event log stays small.
    let secs = spec.duration.as_secs().max(1);
    for _ in 0..secs {
        sim.run_for(Duration::from_secs(1))
            .map_err(|e| format!("{run}: {e}"))?;
        for e in sim.events() {
            let (node, member) = (e.node as usize, e.member as usize);
            if member != f {
                match e.kind {
                    EventKind::Failed => {
                        false_failed += 1;
                        false_failed_at_flaky += u64::from(node == f);
                    }
                    EventKind::Suspected => false_suspected += 1,
                    _ => {}
                }
                continue;
            }
            let Some(c) = changes.get_mut(node) else {
                continue;
            };
            *c += 1;
            match e.kind {
                EventKind::Failed => {
                    if let Some(d) = dead.get_mut(node) {
                        *d = true;
                    }
                }
                EventKind::Alive | EventKind::Joined if dead.get(node) == Some(&true) => {
                    if let Some(r) = reversed.get_mut(node) {
                        *r = true;
                    }
                }
                _ => {}
            }
        }
        sim.clear_events();
    }
    for j in 0..f {
        sim.net_mut().drop(j, f, 0.0);
    }
    let (name, mut blocker) = (name_of(f), 0);
    let whole = sim.run_until(Duration::from_secs(60), |s| {
        whole(s, f, &name, &mut blocker)
    });
    for e in sim.events() {
        if e.member as usize != f && e.kind == EventKind::Failed {
            false_failed += 1;
            false_failed_at_flaky += u64::from(e.node as usize == f);
        }
    }
    sim.clear_events();
    Ok(Flaky {
        spec,
        seed,
        changes,
        declared_dead: dead.iter().filter(|d| **d).count(),
        reversed: reversed.iter().filter(|r| **r).count(),
        false_failed,
        false_failed_at_flaky,
        false_suspected,
        whole_after: whole.ok(),
    })
}

/// Every observer holds member `f` Alive, `f` is not standing down and holds them all Alive.
/// Asked after every step, so in O(1) counts and lookups (see [`all_with_blocker`]).
fn whole(sim: &Sim, f: usize, name: &str, blocker: &mut usize) -> bool {
    let n = sim.len();
    // A table holds one row per other node at most, so n - 1 Alive rows are all of them.
    sim.node(f)
        .is_some_and(|c| !c.standing_down() && c.alive_members() + 1 == n)
        && all_with_blocker(n, blocker, |j| {
            j == f
                || sim
                    .node(j)
                    .is_some_and(|c| c.member_state(name) == Some(MemberState::Alive))
        })
}

/// Flaky runs for each N: one row per run with the per-observer change counts.
pub fn flaky_suite(
    params: &Params,
    sizes: &[usize],
    inbound_loss: f64,
    duration: Duration,
    background_loss: f64,
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let rule = params.knobs.rule_of(params.profile);
    let mut table = Table::new(
        format!(
            "flaky: one member loses {:.0} % of its inbound datagrams for {:?}, then heals \
             ({} profile, {rule} rule)",
            inbound_loss * 100.0,
            duration,
            params.profile
        ),
        &[
            "n",
            "run",
            "changes_median",
            "changes_max",
            "declared_dead",
            "reversed",
            "false_failed",
            "false_failed_at_flaky",
            "false_suspected",
            "whole_after_s",
        ],
    );
    let mut series = Vec::new();
    let mut points = Vec::new();
    for &n in sizes {
        let mut medians = Vec::new();
        let mut worst = 0;
        let mut wholes = Vec::new();
        let (mut ff, mut rev, mut missing) = (0, 0, 0);
        for run in 0..params.runs {
            let seed = run_seed(params.seed, n, inbound_loss, run);
            progress(&format!("flaky n={n} run={run} seed={seed}"));
            let spec = FlakySpec {
                n,
                inbound_loss,
                duration,
                background_loss,
            };
            let r = flaky(params, spec, seed)?;
            let mut c = r.changes.clone();
            c.sort_unstable();
            let median = quantile(&c, 0.5).unwrap_or(0);
            let max = c.last().copied().unwrap_or(0);
            medians.push(median);
            worst = worst.max(max);
            ff += r.false_failed;
            rev += r.reversed;
            match r.whole_after {
                Some(w) => wholes.push(w.as_secs_f64()),
                None => missing += 1,
            }
            table.push(vec![
                n.into(),
                run.into(),
                u64::from(median).into(),
                u64::from(max).into(),
                r.declared_dead.into(),
                r.reversed.into(),
                r.false_failed.into(),
                r.false_failed_at_flaky.into(),
                r.false_suspected.into(),
                Cell::opt(r.whole_after.map(|w| w.as_secs_f64()), 2),
            ]);
        }
        medians.sort_unstable();
        wholes.sort_by(f64::total_cmp);
        let med = quantile(&medians, 0.5).unwrap_or(0);
        table.notes.push(format!(
            "n={n}: over {} runs, the median observer's changes: median {med}, worst run {}; \
             worst observer {worst}; false Failed {ff}; reversed deaths {rev}; whole again \
             after median {:.2} s, max {:.2} s ({missing} runs not whole within 60 s).",
            params.runs,
            medians.last().copied().unwrap_or(0),
            quantile(&wholes, 0.5).unwrap_or(f64::NAN),
            wholes.last().copied().unwrap_or(f64::NAN),
        ));
        points.push((n as f64, f64::from(med)));
    }
    series.push(Series {
        name: format!("median changes per observer, {rule} rule"),
        points,
    });
    table.notes.push(
        "changes: events about the flaky member at one observer while the loss lasted \
         (Suspected, Alive, Failed, Joined). declared_dead: observers that declared it Failed; \
         reversed: of those, observers that took it back before the loss ended. false_failed: \
         Failed events about healthy members at any member, the flaky one included (and \
         false_failed_at_flaky: at the flaky one). whole_after: from the end of the loss until \
         everyone holds it Alive and it holds everyone Alive."
            .into(),
    );
    let chart = Chart {
        title: "view changes per observer of a flaky member".into(),
        x_label: "N".into(),
        y_label: "changes in the loss window (median observer)".into(),
        x_log: false,
        series,
    };
    Ok((table, vec![chart]))
}
