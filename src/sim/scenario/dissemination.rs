//! One update from one node: when each member hears of it.

use std::time::Duration;

use crate::config::Config;
use crate::member::Tags;

use super::{Params, Progress, run_seed, waited};
use crate::quantile::nearest_rank as quantile;
use crate::sim::report::{Cell, Chart, Series, Table};
use crate::sim::{SimConfig, SimEvent};

/// One update spreading through a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Dissemination {
    /// Cluster size.
    pub n: usize,
    /// The run's seed.
    pub seed: u64,
    /// Virtual time from the update until the last node had it, if all got it.
    pub time_to_all: Option<Duration>,
    /// When each node got it (the origin at zero); `None` for nodes that never did.
    pub received: Vec<Option<Duration>>,
}

impl Dissemination {
    /// Nodes that had the update by `t`.
    pub fn infected_by(&self, t: Duration) -> usize {
        self.received
            .iter()
            .filter(|r| r.is_some_and(|at| at <= t))
            .count()
    }

    /// Cumulative infected count at the end of each period of length `period`, until all.
    pub fn per_period(&self, period: Duration) -> Vec<usize> {
        let last = self.received.iter().flatten().max().copied();
        let Some(last) = last else {
            return Vec::new();
        };
        let periods = (last.as_nanos() / period.as_nanos().max(1)) as u32 + 1;
        (1..=periods)
            .map(|r| self.infected_by(period * r))
            .collect()
    }
}

/// Node 0 changes its tags (a new incarnation, gossiped); measures when each node hears of it
/// under uniform `loss`.
pub fn dissemination(
    params: &Params,
    n: usize,
    loss: f64,
    seed: u64,
) -> Result<Dissemination, String> {
    let mut sim = params.sim(n, loss, seed)?;
    sim.run_for(params.warmup).map_err(|e| e.to_string())?;
    sim.clear_events();
    let t0 = sim.now();
    let tags = Tags::new([("rev", "1")])?;
    sim.set_tags(0, tags);
    let mut spread = Spread::new(n, t0);
    // The origin has its own news from the start.
    spread.arrive(0, t0);
    let outcome = sim.run_watching(Duration::from_secs(120), |events| {
        spread.watch(events, |e| e.member == 0 && e.incarnation >= 1)
    });
    let time_to_all = waited(outcome, &format!("seed={seed} n={n}"))?;
    Ok(Dissemination {
        n,
        seed,
        time_to_all,
        received: spread.received,
    })
}

/// When each node first had one piece of news, read from a simulation's event log as it runs,
/// and how many times a node had it again.
pub(super) struct Spread {
    /// When each node had it, since `t0`.
    pub(super) received: Vec<Option<Duration>>,
    /// Arrivals at a node that already had it.
    pub(super) repeats: usize,
    have: usize,
    t0: Duration,
}

impl Spread {
    /// Nobody of `n` nodes has it yet; times count from `t0`.
    pub(super) fn new(n: usize, t0: Duration) -> Self {
        Spread {
            received: vec![None; n],
            repeats: 0,
            have: 0,
            t0,
        }
    }

    /// Node `node` has it at `at`.
    pub(super) fn arrive(&mut self, node: usize, at: Duration) {
        match self.received.get_mut(node) {
            Some(slot @ None) => {
                *slot = Some(at.saturating_sub(self.t0));
                self.have += 1;
            }
            Some(Some(_)) => self.repeats += 1,
            None => {}
        }
    }

    /// Reads new `events`, counting those `is_it` accepts; true once every node has it (a
    /// [`Sim::run_watching`](crate::sim::Sim::run_watching) condition).
    pub(super) fn watch(&mut self, events: &[SimEvent], is_it: impl Fn(&SimEvent) -> bool) -> bool {
        for e in events {
            if is_it(e) {
                self.arrive(e.node as usize, e.at);
            }
        }
        self.have == self.received.len()
    }
}

/// The fraction of the `n` nodes that had the news against protocol periods, sampled every
/// half gossip interval until all had it (or for 10 s).
pub(super) fn infected_series(d: &Dissemination, name: String, template: &Config) -> Series {
    let (period, gossip) = (template.probe_interval, template.gossip_interval);
    let end = d.time_to_all.unwrap_or(Duration::from_secs(10));
    let step = gossip / 2;
    let steps = (end.as_nanos() / step.as_nanos()) as u32 + 2;
    let points = (0..=steps)
        .map(|k| {
            let t = step * k;
            let x = t.as_secs_f64() / period.as_secs_f64();
            (x, d.infected_by(t) as f64 / d.n as f64)
        })
        .collect();
    Series { name, points }
}

/// The SWIM paper's dissemination bound in protocol periods, `lambda * log(N)`, taken as the
/// core's own retransmit limit: `retransmit_mult * ceil(log10(N + 1))` (memberlist's form of it,
/// lambda = 4 at the lan profile). An update that every holder passes on that many times has
/// reached everyone with high probability.
pub fn lambda_log_n(retransmit_mult: u32, n: usize) -> u32 {
    let scale = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    retransmit_mult * scale
}

/// Runs `one(n, loss, run, seed)` for every loss rate, size and run, in that order, after a
/// progress line naming `what`; `one` returns how long the news took to reach all. For each
/// (size, loss) point of several runs, returns the [`tail_summary`] of its times against the
/// lambda*log(N) bound, for the table's notes.
pub(super) fn each_run(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    what: &str,
    progress: Progress<'_>,
    mut one: impl FnMut(usize, f64, usize, u64) -> Result<Option<Duration>, String>,
) -> Result<Vec<String>, String> {
    let template = SimConfig::new(1, params.profile, 0).template;
    let mut notes = Vec::new();
    for &loss in losses {
        for &n in sizes {
            let mut times = Vec::with_capacity(params.runs);
            for run in 0..params.runs {
                let seed = run_seed(params.seed, n, loss, run);
                progress(&format!("{what} n={n} loss={loss} run={run} seed={seed}"));
                times.push(one(n, loss, run, seed)?);
            }
            if params.runs > 1 {
                let bound = template.probe_interval * lambda_log_n(template.retransmit_mult, n);
                notes.push(tail_summary(n, loss, bound, &mut times));
            }
        }
    }
    Ok(notes)
}

/// The cells a spread table's row starts with: n, loss, run, time_to_all_ms, periods.
pub(super) fn first_cells(
    n: usize,
    loss: f64,
    run: usize,
    time_to_all: Option<Duration>,
    period: Duration,
) -> Vec<Cell> {
    vec![
        n.into(),
        Cell::Float(loss, 2),
        run.into(),
        Cell::opt(time_to_all.map(|t| t.as_secs_f64() * 1e3), 0),
        in_units(time_to_all, period),
    ]
}

/// A time in whole `unit`s, rounded up; missing when it never happened.
pub(super) fn in_units(t: Option<Duration>, unit: Duration) -> Cell {
    t.map_or(Cell::Missing, |t| {
        Cell::Int(t.as_nanos().div_ceil(unit.as_nanos()) as u64)
    })
}

/// A curve's name: the size, and the loss rate when the suite has several.
pub(super) fn series_name(n: usize, loss: f64, losses: &[f64]) -> String {
    if losses.len() > 1 {
        format!("N = {n}, loss {:.0}%", loss * 100.0)
    } else {
        format!("N = {n}")
    }
}

/// One line on how the runs of one size and loss rate ended, for many runs: the median and
/// the tail of the time until all had the update, and how many runs went past the
/// lambda*log(N) bound (the tail that only anti-entropy closes).
fn tail_summary(n: usize, loss: f64, bound: Duration, times: &mut [Option<Duration>]) -> String {
    let runs = times.len();
    let never = times.iter().filter(|t| t.is_none()).count();
    let late = times.iter().filter(|t| t.is_none_or(|t| t > bound)).count();
    // None (never, within the scenario's limit) sorts last.
    times.sort_by_key(|t| t.unwrap_or(Duration::MAX));
    let q = |f: f64| {
        quantile(times, f).flatten().map_or_else(
            || "never".to_string(),
            |t| format!("{:.2} s", t.as_secs_f64()),
        )
    };
    format!(
        "n={n} loss={loss:.2}: time_to_all over {runs} runs: median {}, p90 {}, p99 {}, max {}; \
         {late} runs past lambda_log_n ({:.0} s), {never} never within the limit.",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0),
        bound.as_secs_f64()
    )
}

/// Dissemination for each N: a table and the infected-fraction curves.
pub fn dissemination_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let template = SimConfig::new(1, params.profile, 0).template;
    let period = template.probe_interval;
    let gossip = template.gossip_interval;
    let mut table = Table::new(
        format!(
            "dissemination: one update from one node ({} profile, probe {:?}, gossip {:?} to {})",
            params.profile, period, gossip, template.gossip_nodes
        ),
        &[
            "n",
            "loss",
            "run",
            "time_to_all_ms",
            "periods",
            "gossip_rounds",
            "log2_n",
            "lambda_log_n",
            "infected_per_gossip_round",
        ],
    );
    let mut series = Vec::new();
    let tails = each_run(
        params,
        sizes,
        losses,
        "dissemination",
        progress,
        |n, loss, run, seed| {
            let d = dissemination(params, n, loss, seed)?;
            let curve: Vec<String> = d.per_period(gossip).iter().map(|c| c.to_string()).collect();
            let mut row = first_cells(n, loss, run, d.time_to_all, period);
            row.extend([
                in_units(d.time_to_all, gossip),
                Cell::Float((n as f64).log2(), 1),
                Cell::Int(u64::from(lambda_log_n(template.retransmit_mult, n))),
                Cell::Text(curve.join(" ")),
            ]);
            table.push(row);
            if run == 0 {
                series.push(infected_series(&d, series_name(n, loss, losses), &template));
            }
            Ok(d.time_to_all)
        },
    )?;
    table.notes.extend(tails);
    table.notes.push(format!(
        "periods = time to all / probe interval, rounded up; gossip_rounds = the same in gossip \
         intervals. lambda_log_n = retransmit_mult * ceil(log10(N+1)) periods, the SWIM paper's \
         lambda*log(N) bound with memberlist's lambda = {}. infected_per_gossip_round: nodes that \
         have the update at the end of each gossip interval since it was made.",
        template.retransmit_mult
    ));
    let chart = Chart {
        title: "dissemination: fraction of nodes with the update".into(),
        x_label: "protocol periods since the update".into(),
        y_label: "fraction infected".into(),
        x_log: false,
        series,
    };
    Ok((table, vec![chart]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_summary_counts_late_and_missing_runs() {
        let s = Duration::from_secs;
        let mut times = vec![Some(s(1)), None, Some(s(3)), Some(s(9)), Some(s(2))];
        let line = tail_summary(60, 0.2, s(8), &mut times);
        assert!(line.contains("over 5 runs: median 3.00 s"), "{line}");
        assert!(line.contains("max never"), "{line}");
        assert!(
            line.contains("2 runs past lambda_log_n (8 s), 1 never"),
            "{line}"
        );
    }
}
