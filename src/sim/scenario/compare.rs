//! Rules side by side: one suite run under each suspicion rule and merged into one table, and
//! the trade-off sweep (detection time against false alarms, per rule and floor).

use std::time::Duration;

use crate::config::SuspicionRule;
use crate::sim::report::{Cell, Chart, Series, Table};

use super::{Params, Progress, crash, false_positives, run_seed};
use crate::quantile::nearest_rank as quantile;

/// Runs `suite` once per rule and merges the results: a `rule` column first, notes and
/// curve names tagged with the rule. One rule gives the suite's own table unchanged.
pub fn side_by_side(
    params: &Params,
    rules: &[SuspicionRule],
    mut suite: impl FnMut(&Params) -> Result<(Table, Vec<Chart>), String>,
) -> Result<(Table, Vec<Chart>), String> {
    if let [rule] = rules {
        return suite(&params.with_rule(*rule));
    }
    let mut merged: Option<(Table, Vec<Chart>)> = None;
    for &rule in rules {
        let (table, charts) = suite(&params.with_rule(rule))?;
        let (out, out_charts) = merged.get_or_insert_with(|| {
            let mut cols = vec!["rule".to_string()];
            cols.extend(table.columns.iter().cloned());
            let t = Table {
                title: format!("{} (rules side by side)", table.title),
                columns: cols,
                rows: Vec::new(),
                notes: Vec::new(),
            };
            let c = charts
                .iter()
                .map(|c| Chart {
                    series: Vec::new(),
                    ..c.clone()
                })
                .collect();
            (t, c)
        });
        for row in table.rows {
            let mut r = vec![Cell::from(rule.as_str())];
            r.extend(row);
            out.push(r);
        }
        out.notes
            .extend(table.notes.into_iter().map(|n| format!("[{rule}] {n}")));
        for (dst, src) in out_charts.iter_mut().zip(charts) {
            dst.series.extend(src.series.into_iter().map(|mut s| {
                s.name = format!("{} ({rule} rule)", s.name);
                s
            }));
        }
    }
    merged.ok_or_else(|| "no suspicion rule to run".into())
}

/// One point of the trade-off: a rule, its floor (evidence only) and a probe timeout.
#[derive(Clone, Copy, Debug)]
struct Point {
    rule: SuspicionRule,
    mult: Option<u32>,
    probe_timeout: Option<Duration>,
}

/// For each rule (and, under the evidence rule, each floor in `mults`) and each probe timeout:
/// the median and p90 time until every survivor reports a crash at each N (`params.runs`
/// crashes), and the false Failed events and suspicions of `duration` without crashes at each
/// loss rate (`params.runs` runs). Lifeguard's rule with the lan profile is memberlist's lan
/// configuration (1 s probes, 500 ms timeout, suspicion_mult 4, max-timeout mult 6, k = 3).
#[allow(clippy::too_many_arguments)]
pub fn tradeoff_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    duration: Duration,
    rules: &[SuspicionRule],
    mults: &[u32],
    probe_timeouts: &[Duration],
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let timeouts: Vec<Option<Duration>> = if probe_timeouts.is_empty() {
        vec![params.knobs.probe_timeout]
    } else {
        probe_timeouts.iter().copied().map(Some).collect()
    };
    let mut points = Vec::new();
    for &rule in rules {
        for &t in &timeouts {
            match rule {
                SuspicionRule::Lifeguard => points.push(Point {
                    rule,
                    mult: None,
                    probe_timeout: t,
                }),
                SuspicionRule::Evidence => points.extend(mults.iter().map(|&m| Point {
                    rule,
                    mult: Some(m),
                    probe_timeout: t,
                })),
            }
        }
    }
    let mut table = Table::new(
        format!(
            "tradeoff: crash detection against false alarms, {} profile, {:?} per loss rate",
            params.profile, duration
        ),
        &[
            "rule",
            "confirmed_mult",
            "probe_timeout_ms",
            "n",
            "detect_median_s",
            "detect_p90_s",
            "loss",
            "false_failed",
            "suspect_events_per_min",
            "suspicions_raised_per_min",
        ],
    );
    let minutes = duration.as_secs_f64() / 60.0;
    let worst_loss = losses.iter().copied().fold(0.0, f64::max);
    let mut detect_vs_false: Vec<Series> = Vec::new();
    let mut detect_vs_suspect: Vec<Series> = Vec::new();
    for point in points {
        let mut p = params.with_rule(point.rule);
        p.knobs.confirmed_mult = point.mult.or(params.knobs.confirmed_mult);
        p.knobs.probe_timeout = point.probe_timeout.or(params.knobs.probe_timeout);
        let t = p.sim_config(1, 0.0, 0).template;
        let label = match point.rule {
            SuspicionRule::Lifeguard => format!(
                "lifeguard rule (memberlist-like), probe timeout {} ms",
                t.probe_timeout.as_millis()
            ),
            SuspicionRule::Evidence => format!(
                "evidence rule, probe timeout {} ms",
                t.probe_timeout.as_millis()
            ),
        };
        for &n in sizes {
            let mut detect = Vec::new();
            for run in 0..p.runs {
                let seed = run_seed(p.seed, n, 0.0, run);
                progress(&format!(
                    "tradeoff {label} mult={:?} crash n={n} run={run}",
                    point.mult
                ));
                if let Some(d) = crash(&p, n, 0.0, seed)?.all_failed {
                    detect.push(d.as_secs_f64());
                }
            }
            detect.sort_by(f64::total_cmp);
            let median = quantile(&detect, 0.5);
            let p90 = quantile(&detect, 0.9);
            for &loss in losses {
                let (mut failed, mut suspect, mut raised) = (0, 0, 0);
                for run in 0..p.runs {
                    let seed = run_seed(p.seed, n, loss, run);
                    progress(&format!(
                        "tradeoff {label} false-positives n={n} loss={loss}"
                    ));
                    let f = false_positives(&p, n, loss, duration, seed)?;
                    failed += f.failed_events;
                    suspect += f.suspect_events;
                    raised += f.suspicions_raised;
                }
                let per_min = |x: u64| x as f64 / minutes / p.runs as f64;
                table.push(vec![
                    point.rule.as_str().into(),
                    point
                        .mult
                        .map_or(Cell::Text("-".into()), |m| u64::from(m).into()),
                    (t.probe_timeout.as_millis() as u64).into(),
                    n.into(),
                    Cell::opt(median, 2),
                    Cell::opt(p90, 2),
                    Cell::Float(loss, 2),
                    failed.into(),
                    Cell::Float(per_min(suspect), 1),
                    Cell::Float(per_min(raised), 1),
                ]);
                if loss == worst_loss && n == sizes.first().copied().unwrap_or(n) {
                    let find = |v: &mut Vec<Series>| -> usize {
                        match v.iter().position(|s| s.name == label) {
                            Some(i) => i,
                            None => {
                                v.push(Series {
                                    name: label.clone(),
                                    points: Vec::new(),
                                });
                                v.len() - 1
                            }
                        }
                    };
                    if let Some(m) = median {
                        let i = find(&mut detect_vs_false);
                        if let Some(s) = detect_vs_false.get_mut(i) {
                            s.points.push((m, failed as f64));
                        }
                        let i = find(&mut detect_vs_suspect);
                        if let Some(s) = detect_vs_suspect.get_mut(i) {
                            s.points.push((m, per_min(suspect)));
                        }
                    }
                }
            }
        }
    }
    table.notes.push(format!(
        "detect: seconds from a crash until every survivor reports it Failed, over {} crashes \
         at full N without loss. false_failed: Failed events in {} runs of {:?} without crashes \
         (every one is false); suspect_events and suspicions_raised are per minute and run. \
         confirmed_mult is the evidence rule's floor (suspicion_mult 4 is Lifeguard's). The \
         curves plot the first N at loss {worst_loss}.",
        params.runs, params.runs, duration
    ));
    let n0 = sizes.first().copied().unwrap_or(0);
    let charts = vec![
        Chart {
            title: format!(
                "N = {n0}: detection time against false Failed at {:.0} % loss",
                worst_loss * 100.0
            ),
            x_label: "median seconds from crash to every survivor's Failed".into(),
            y_label: format!("false Failed events ({} runs)", params.runs),
            x_log: false,
            series: detect_vs_false,
        },
        Chart {
            title: format!(
                "N = {n0}: detection time against suspicions at {:.0} % loss",
                worst_loss * 100.0
            ),
            x_label: "median seconds from crash to every survivor's Failed".into(),
            y_label: "Suspected events per minute (all members)".into(),
            x_log: false,
            series: detect_vs_suspect,
        },
    ];
    Ok((table, charts))
}
