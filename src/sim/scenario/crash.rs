//! One member crashing: first suspicion and detection by every survivor.

use std::time::Duration;

use crate::config::SuspicionRule;
use crate::event::EventKind;

use super::{Params, Progress, run_seed, waited};
use crate::quantile::nearest_rank as quantile;
use crate::sim::report::{Cell, Chart, Series, Table};

/// One member crashing without a word.
#[derive(Clone, Debug, PartialEq)]
pub struct Crash {
    /// Cluster size (the crashed member included).
    pub n: usize,
    /// Uniform loss rate.
    pub loss: f64,
    /// The run's seed.
    pub seed: u64,
    /// From the crash to the first Suspected event about it (any member).
    pub first_suspect: Option<Duration>,
    /// From the crash to the first Failed event about it.
    pub first_failed: Option<Duration>,
    /// From the crash until every survivor reported it Failed.
    pub all_failed: Option<Duration>,
    /// Failed events about live members during the run (false positives).
    pub false_failed: u64,
}

/// Node `n - 1` crashes after the warm-up; measures suspicion and detection by the survivors.
pub fn crash(params: &Params, n: usize, loss: f64, seed: u64) -> Result<Crash, String> {
    let mut sim = params.sim(n, loss, seed)?;
    sim.run_for(params.warmup).map_err(|e| e.to_string())?;
    sim.clear_events();
    let victim = n.saturating_sub(1);
    let t0 = sim.now();
    sim.crash(victim);
    let mut failed = vec![false; n];
    let (mut count, mut first_suspect, mut first_failed, mut false_failed) = (0, None, None, 0);
    let outcome = sim.run_watching(Duration::from_secs(300), |events| {
        for e in events {
            let about_victim = e.member as usize == victim;
            match e.kind {
                EventKind::Suspected if about_victim && first_suspect.is_none() => {
                    first_suspect = Some(e.at - t0);
                }
                EventKind::Failed if about_victim => {
                    first_failed.get_or_insert(e.at - t0);
                    if let Some(f) = failed.get_mut(e.node as usize)
                        && !*f
                    {
                        *f = true;
                        count += 1;
                    }
                }
                EventKind::Failed => false_failed += 1,
                _ => {}
            }
        }
        count + 1 >= n
    });
    let all_failed = waited(outcome, &format!("seed={seed} n={n} loss={loss}"))?;
    Ok(Crash {
        n,
        loss,
        seed,
        first_suspect,
        first_failed,
        all_failed,
        false_failed,
    })
}

/// Crash detection for each N and loss rate: a table and detection time against N.
pub fn crash_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let mut table = Table::new(
        format!(
            "crash: one member stops; survivors detect it ({} profile)",
            params.profile
        ),
        &[
            "n",
            "loss",
            "run",
            "first_suspect_s",
            "first_failed_s",
            "all_failed_s",
            "false_failed",
        ],
    );
    let mut all_series: Vec<Series> = Vec::new();
    let mut first_series: Vec<Series> = Vec::new();
    for &loss in losses {
        let mut all_pts = Vec::new();
        let mut first_pts = Vec::new();
        for &n in sizes {
            let mut sum_all = (0.0, 0usize);
            let mut sum_first = (0.0, 0usize);
            let mut alls = Vec::with_capacity(params.runs);
            for run in 0..params.runs {
                let seed = run_seed(params.seed, n, loss, run);
                progress(&format!("crash n={n} loss={loss} run={run} seed={seed}"));
                let c = crash(params, n, loss, seed)?;
                let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
                if let Some(a) = secs(c.all_failed) {
                    sum_all = (sum_all.0 + a, sum_all.1 + 1);
                    alls.push(a);
                }
                if let Some(f) = secs(c.first_suspect) {
                    sum_first = (sum_first.0 + f, sum_first.1 + 1);
                }
                table.push(vec![
                    n.into(),
                    Cell::Float(loss, 2),
                    run.into(),
                    Cell::opt(secs(c.first_suspect), 2),
                    Cell::opt(secs(c.first_failed), 2),
                    Cell::opt(secs(c.all_failed), 2),
                    c.false_failed.into(),
                ]);
            }
            if params.runs > 1 && !alls.is_empty() {
                alls.sort_by(f64::total_cmp);
                let q = |f: f64| quantile(&alls, f).unwrap_or(f64::NAN);
                table.notes.push(format!(
                    "n={n} loss={loss:.2}: all_failed over {} of {} runs: mean {:.2} s, median {:.2}, \
                     p90 {:.2}, max {:.2}; first_suspect mean {:.2} s.",
                    alls.len(),
                    params.runs,
                    sum_all.0 / sum_all.1 as f64,
                    q(0.5),
                    q(0.9),
                    q(1.0),
                    sum_first.0 / sum_first.1.max(1) as f64,
                ));
            }
            if sum_all.1 > 0 {
                all_pts.push((n as f64, sum_all.0 / sum_all.1 as f64));
            }
            if sum_first.1 > 0 {
                first_pts.push((n as f64, sum_first.0 / sum_first.1 as f64));
            }
        }
        all_series.push(Series {
            name: format!("all survivors report Failed, loss {:.0}%", loss * 100.0),
            points: all_pts,
        });
        first_series.push(Series {
            name: format!("first suspicion, loss {:.0}%", loss * 100.0),
            points: first_pts,
        });
    }
    let t = params.sim_config(1, 0.0, 0).template;
    let floor = match t.suspicion_rule {
        SuspicionRule::Lifeguard => t.suspicion_mult,
        SuspicionRule::Evidence => t.confirmed_suspicion_mult,
    };
    table.notes.push(format!(
        "Times from the crash. {} rule: the suspicion timeout is {floor} * max(1, log10 N) * \
         {:?} once confirmed by {} others{}, up to {}x suspicion_mult ({}) * max(1, log10 N) * \
         the interval without confirmations. false_failed: Failed events about live members.",
        t.suspicion_rule,
        t.probe_interval,
        t.suspicion_mult.saturating_sub(2),
        if t.suspicion_rule == SuspicionRule::Evidence {
            " whose own health is good"
        } else {
            ""
        },
        t.suspicion_max_timeout_mult,
        t.suspicion_mult,
    ));
    all_series.extend(first_series);
    let chart = Chart {
        title: "crash detection time against cluster size".into(),
        x_label: "N (log scale)".into(),
        y_label: "seconds after the crash".into(),
        x_log: true,
        series: all_series,
    };
    Ok((table, vec![chart]))
}
