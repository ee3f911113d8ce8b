//! A healthy cluster under packet loss: false Failed events and suspicions.

use std::time::Duration;

use crate::event::EventKind;

use super::{Params, Progress, run_seed};
use crate::sim::report::{Cell, Chart, Series, Table};

/// A cluster with no failures under packet loss.
#[derive(Clone, Debug, PartialEq)]
pub struct FalsePositives {
    /// Cluster size.
    pub n: usize,
    /// Uniform loss rate.
    pub loss: f64,
    /// The run's seed.
    pub seed: u64,
    /// Virtual time simulated.
    pub duration: Duration,
    /// Failed events (every one is false: nobody crashed).
    pub failed_events: u64,
    /// Distinct members that some member declared Failed.
    pub members_failed: usize,
    /// Suspected events over all observers.
    pub suspect_events: u64,
    /// Suspicions raised by probers themselves (the sum of `Stats::suspicions`).
    pub suspicions_raised: u64,
    /// Refutations (the sum of `Stats::refutations`).
    pub refutations: u64,
}

/// Runs a healthy cluster under `loss` for `duration` and counts the false alarms.
pub fn false_positives(
    params: &Params,
    n: usize,
    loss: f64,
    duration: Duration,
    seed: u64,
) -> Result<FalsePositives, String> {
    let mut sim = params.sim(n, loss, seed)?;
    let mut accused = vec![false; n];
    let mut members_failed = 0;
    // In chunks, so the event log never holds more than a few seconds of events.
    let chunk = Duration::from_secs(5);
    let chunks = duration.as_nanos().div_ceil(chunk.as_nanos()) as u32;
    for k in 0..chunks {
        let left = duration.saturating_sub(chunk * k).min(chunk);
        sim.run_for(left)
            .map_err(|e| format!("seed={seed} n={n} loss={loss}: {e}"))?;
        for e in sim.events() {
            if e.kind == EventKind::Failed
                && let Some(a) = accused.get_mut(e.member as usize)
                && !*a
            {
                *a = true;
                members_failed += 1;
            }
        }
        sim.clear_events();
    }
    Ok(FalsePositives {
        n,
        loss,
        seed,
        duration,
        failed_events: sim.event_count(EventKind::Failed),
        members_failed,
        suspect_events: sim.event_count(EventKind::Suspected),
        suspicions_raised: sim.cores().map(|c| c.stats().suspicions).sum(),
        refutations: sim.cores().map(|c| c.stats().refutations).sum(),
    })
}

/// False positives for each N and loss rate: a table and suspicions against loss.
pub fn false_positives_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    duration: Duration,
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let mut table = Table::new(
        format!(
            "false positives: no crashes, {:?} simulated under packet loss, {} profile",
            duration, params.profile
        ),
        &[
            "n",
            "loss",
            "run",
            "failed_events",
            "members_failed",
            "suspicions_raised_per_min",
            "suspect_events_per_min",
            "refutations_per_min",
        ],
    );
    let minutes = duration.as_secs_f64() / 60.0;
    let mut series = Vec::new();
    for &n in sizes {
        let mut pts = Vec::new();
        for &loss in losses {
            let mut sum = 0.0;
            for run in 0..params.runs {
                let seed = run_seed(params.seed, n, loss, run);
                progress(&format!(
                    "false-positives n={n} loss={loss} run={run} seed={seed}"
                ));
                let f = false_positives(params, n, loss, duration, seed)?;
                let per_min = |x: u64| Cell::Float(x as f64 / minutes, 1);
                sum += f.suspicions_raised as f64 / minutes;
                table.push(vec![
                    n.into(),
                    Cell::Float(loss, 2),
                    run.into(),
                    f.failed_events.into(),
                    f.members_failed.into(),
                    per_min(f.suspicions_raised),
                    per_min(f.suspect_events),
                    per_min(f.refutations),
                ]);
            }
            pts.push((loss * 100.0, sum / params.runs.max(1) as f64));
        }
        series.push(Series {
            name: format!("N = {n}"),
            points: pts,
        });
    }
    table.notes.push(
        "Nobody crashes, so every Failed event is false. suspicions_raised: suspicions started \
         by a prober whose direct and indirect probes all went unanswered; suspect_events: \
         Suspected events seen by all members (one suspicion reaches many); refutations: a \
         suspected member answering with a higher incarnation."
            .into(),
    );
    let chart = Chart {
        title: "suspicions raised per minute against packet loss".into(),
        x_label: "uniform packet loss (%)".into(),
        y_label: "suspicions / minute (whole cluster)".into(),
        x_log: false,
        series,
    };
    Ok((table, vec![chart]))
}
