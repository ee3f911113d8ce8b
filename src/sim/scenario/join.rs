//! N nodes joining through one seed at the same moment.

use std::time::Duration;

use super::{Params, Progress, all_with_blocker, run_seed, waited};
use crate::sim::report::{Cell, Chart, Series, Table};
use crate::sim::{Sim, SimConfig};

/// N nodes joining through one seed at the same moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    /// Cluster size.
    pub n: usize,
    /// Uniform loss rate.
    pub loss: f64,
    /// The run's seed.
    pub seed: u64,
    /// From the joins until every node is running and sees all the others active.
    pub converged: Option<Duration>,
    /// Nodes that gave up joining (no answer from the seed within `join_timeout`).
    pub join_failed: usize,
}

/// Node 0 starts a cluster and every other node joins through it at the same virtual instant
/// (a deploy starting N agents at once); measures convergence.
pub fn join(params: &Params, n: usize, loss: f64, seed: u64) -> Result<Join, String> {
    let mut c = SimConfig::new(n, params.profile, seed);
    c.latency = params.latency;
    c.loss = loss;
    let mut sim = Sim::new(c).map_err(|e| e.to_string())?;
    sim.set_pulse(params.pulse.clone());
    sim.set_record_events(false);
    sim.join_all();
    let mut blocker = 0;
    let outcome = sim.run_until(Duration::from_secs(120), |s| {
        all_with_blocker(s.len(), &mut blocker, |i| {
            s.is_running(i) && s.node(i).is_some_and(|c| c.active_members() + 1 >= n)
        })
    });
    let converged = waited(outcome, &format!("seed={seed} n={n} loss={loss}"))?;
    let join_failed = sim
        .cores()
        .filter(|c| c.status() == crate::proto::Status::JoinFailed)
        .count();
    Ok(Join {
        n,
        loss,
        seed,
        converged,
        join_failed,
    })
}

/// Simultaneous joins for each N and loss rate: a table of convergence times.
pub fn join_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let t = SimConfig::new(1, params.profile, 0).template;
    let mut table = Table::new(
        format!(
            "join: N nodes join through one seed at once ({} profile, join_timeout {:?})",
            params.profile, t.join_timeout
        ),
        &["n", "loss", "run", "converged_s", "join_failed"],
    );
    let mut series = Vec::new();
    for &loss in losses {
        let mut pts = Vec::new();
        for &n in sizes {
            for run in 0..params.runs {
                let seed = run_seed(params.seed, n, loss, run);
                progress(&format!("join n={n} loss={loss} run={run} seed={seed}"));
                let j = join(params, n, loss, seed)?;
                let secs = j.converged.map(|d| d.as_secs_f64());
                if run == 0
                    && let Some(s) = secs
                {
                    pts.push((n as f64, s));
                }
                table.push(vec![
                    n.into(),
                    Cell::Float(loss, 2),
                    run.into(),
                    Cell::opt(secs, 2),
                    j.join_failed.into(),
                ]);
            }
        }
        series.push(Series {
            name: format!("loss {:.0}%", loss * 100.0),
            points: pts,
        });
    }
    table.notes.push(
        "converged_s: from the joins until every node is running and counts all others active \
         (- when that never happened within 120 s). join_failed: nodes whose join timed out \
         (the agent exits with `no seed answered`)."
            .into(),
    );
    let chart = Chart {
        title: "simultaneous joins through one seed: convergence".into(),
        x_label: "N (log scale)".into(),
        y_label: "seconds".into(),
        x_log: true,
        series,
    };
    Ok((table, vec![chart]))
}
