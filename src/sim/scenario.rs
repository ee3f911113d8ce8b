//! The measured scenarios behind `rumor sim`: one function per run (a cluster of N, one seed)
//! returning what was measured, and one suite per scenario turning runs over N (and loss) into
//! a [`Table`] and [`Chart`]s.
//!
//! Every run starts from a formed cluster ([`Sim::formed`]), lets it settle for a few protocol
//! periods, then does its one thing. Every wait is bounded in virtual time; a condition that
//! never held shows as a missing cell, not a hang.

use std::time::Duration;

use crate::config::Profile;
use crate::event::{EventKind, MessageKind, Stats};
use crate::member::Tags;

use super::report::{Cell, Chart, Series, Table};
use super::{Latency, Sim, SimConfig, SimError};

/// IPv4 (20 bytes) plus UDP (8 bytes) headers, added to payload bytes for wire-level figures.
pub const IP_UDP_HEADER: u64 = 28;

/// What every scenario run shares.
#[derive(Clone, Debug)]
pub struct Params {
    /// Node timings.
    pub profile: Profile,
    /// Packet latency.
    pub latency: Latency,
    /// Base seed; each run derives its own from it, N, the loss rate and the run number.
    pub seed: u64,
    /// Runs per (N, loss) point.
    pub runs: usize,
    /// Settling time before the scenario acts.
    pub warmup: Duration,
}

impl Params {
    /// The lan profile, default latency, 1 run, 5 s of settling.
    pub fn new(seed: u64) -> Self {
        Params {
            profile: Profile::Lan,
            latency: Latency::default(),
            seed,
            runs: 1,
            warmup: Duration::from_secs(5),
        }
    }

    fn sim(&self, n: usize, loss: f64, seed: u64) -> Result<Sim, String> {
        let mut c = SimConfig::new(n, self.profile, seed);
        c.latency = self.latency;
        c.loss = loss;
        Sim::formed(c).map_err(|e| e.to_string())
    }

    fn probe_interval(&self) -> Duration {
        SimConfig::new(1, self.profile, 0).template.probe_interval
    }
}

/// The seed of one run: a mix of the base seed, N, the loss rate and the run number, so one
/// row of a table replays alone with the same `--seed`.
pub fn run_seed(base: u64, n: usize, loss: f64, run: usize) -> u64 {
    let mut x = base
        ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ ((loss * 1e6) as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ (run as u64).wrapping_mul(0x94d0_49bb_1331_11eb);
    // splitmix64's finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A progress callback: (message). Suites call it before each run.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

// ---------------------------------------------------------------------------------------------
// dissemination

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
    let mut received = vec![None; n];
    if let Some(r) = received.first_mut() {
        *r = Some(Duration::ZERO);
    }
    let mut have = 1usize.min(n);
    let mut cursor = 0;
    let outcome = sim.run_until(Duration::from_secs(120), |s| {
        for e in s.events().get(cursor..).unwrap_or_default() {
            if e.member == 0
                && e.incarnation >= 1
                && let Some(slot) = received.get_mut(e.node as usize)
                && slot.is_none()
            {
                *slot = Some(e.at - t0);
                have += 1;
            }
        }
        cursor = s.events().len();
        have == n
    });
    let time_to_all = match outcome {
        Ok(d) => Some(d),
        Err(SimError::Timeout { .. }) => None,
        Err(e) => return Err(format!("seed={seed} n={n}: {e}")),
    };
    Ok(Dissemination {
        n,
        seed,
        time_to_all,
        received,
    })
}

/// The SWIM paper's dissemination bound in protocol periods, `lambda * log(N)`, taken as the
/// core's own retransmit limit: `retransmit_mult * ceil(log10(N + 1))` (memberlist's form of it,
/// lambda = 4 at the lan profile). An update that every holder passes on that many times has
/// reached everyone with high probability.
pub fn lambda_log_n(retransmit_mult: u32, n: usize) -> u32 {
    let scale = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    retransmit_mult * scale
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
    for &loss in losses {
        for &n in sizes {
            for run in 0..params.runs {
                let seed = run_seed(params.seed, n, loss, run);
                progress(&format!(
                    "dissemination n={n} loss={loss} run={run} seed={seed}"
                ));
                let d = dissemination(params, n, loss, seed)?;
                let periods = d
                    .time_to_all
                    .map(|t| t.as_nanos().div_ceil(period.as_nanos()) as u64);
                let rounds = d
                    .time_to_all
                    .map(|t| t.as_nanos().div_ceil(gossip.as_nanos()) as u64);
                let curve: Vec<String> =
                    d.per_period(gossip).iter().map(|c| c.to_string()).collect();
                table.push(vec![
                    n.into(),
                    Cell::Float(loss, 2),
                    run.into(),
                    Cell::opt(d.time_to_all.map(|t| t.as_secs_f64() * 1e3), 0),
                    periods.map_or(Cell::Missing, Cell::Int),
                    rounds.map_or(Cell::Missing, Cell::Int),
                    Cell::Float((n as f64).log2(), 1),
                    Cell::Int(u64::from(lambda_log_n(template.retransmit_mult, n))),
                    Cell::Text(curve.join(" ")),
                ]);
                if run == 0 {
                    let end = d.time_to_all.unwrap_or(Duration::from_secs(10));
                    let step = gossip / 2;
                    let steps = (end.as_nanos() / step.as_nanos()) as u32 + 2;
                    let points = (0..=steps)
                        .map(|k| {
                            let t = step * k;
                            let x = t.as_secs_f64() / period.as_secs_f64();
                            (x, d.infected_by(t) as f64 / n as f64)
                        })
                        .collect();
                    let name = if losses.len() > 1 {
                        format!("N = {n}, loss {:.0}%", loss * 100.0)
                    } else {
                        format!("N = {n}")
                    };
                    series.push(Series { name, points });
                }
            }
        }
    }
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

// ---------------------------------------------------------------------------------------------
// join

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
    sim.set_record_events(false);
    sim.join_all();
    let outcome = sim.run_until(Duration::from_secs(120), |s| {
        (0..s.len()).all(|i| s.is_running(i)) && s.cores().all(|c| c.active_members() + 1 >= n)
    });
    let converged = match outcome {
        Ok(d) => Some(d),
        Err(SimError::Timeout { .. } | SimError::Idle { .. }) => None,
        Err(e) => return Err(format!("seed={seed} n={n} loss={loss}: {e}")),
    };
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

// ---------------------------------------------------------------------------------------------
// crash

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
    let mut cursor = 0;
    let outcome = sim.run_until(Duration::from_secs(300), |s| {
        for e in s.events().get(cursor..).unwrap_or_default() {
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
        cursor = s.events().len();
        count + 1 >= n
    });
    let all_failed = match outcome {
        Ok(d) => Some(d),
        Err(SimError::Timeout { .. }) => None,
        Err(e) => return Err(format!("seed={seed} n={n} loss={loss}: {e}")),
    };
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
                let q = |f: f64| {
                    alls[((alls.len() as f64 * f).ceil() as usize).clamp(1, alls.len()) - 1]
                };
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
    let t = SimConfig::new(1, params.profile, 0).template;
    table.notes.push(format!(
        "Times from the crash. The suspicion timeout is suspicion_mult * max(1, log10 N) * probe \
         interval = {} * max(1, log10 N) * {:?} once confirmed by {} others (Lifeguard), up to \
         {}x that without confirmations. false_failed: Failed events about live members.",
        t.suspicion_mult,
        t.probe_interval,
        t.suspicion_mult.saturating_sub(2),
        t.suspicion_max_timeout_mult
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

// ---------------------------------------------------------------------------------------------
// load

/// Traffic per member in a quiet cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Cluster size.
    pub n: usize,
    /// The run's seed.
    pub seed: u64,
    /// Protocol periods measured.
    pub periods: f64,
    /// Seconds measured.
    pub seconds: f64,
    /// Datagrams sent per member over the window, one entry per member.
    pub packets: Vec<u64>,
    /// Payload bytes sent per member over the window.
    pub bytes: Vec<u64>,
    /// Datagrams sent by all members over the window, by message kind.
    pub packets_by_kind: [u64; MessageKind::COUNT],
    /// Payload bytes sent by all members over the window, by message kind.
    pub bytes_by_kind: [u64; MessageKind::COUNT],
}

fn mean_max(v: &[u64]) -> (f64, u64) {
    let sum: u64 = v.iter().sum();
    let max = v.iter().copied().max().unwrap_or(0);
    (sum as f64 / v.len().max(1) as f64, max)
}

impl Load {
    /// Mean and max datagrams sent per member per protocol period.
    pub fn packets_per_period(&self) -> (f64, f64) {
        let (mean, max) = mean_max(&self.packets);
        (mean / self.periods, max as f64 / self.periods)
    }

    /// Mean and max payload bytes sent per member per protocol period.
    pub fn bytes_per_period(&self) -> (f64, f64) {
        let (mean, max) = mean_max(&self.bytes);
        (mean / self.periods, max as f64 / self.periods)
    }

    /// Mean bytes per second per member at the IP level (payload plus IPv4 and UDP headers).
    pub fn ip_bytes_per_second(&self) -> f64 {
        let (bytes, _) = mean_max(&self.bytes);
        let (packets, _) = mean_max(&self.packets);
        (bytes + packets * IP_UDP_HEADER as f64) / self.seconds
    }

    /// Mean datagrams and payload bytes per member per protocol period leaving out full-state
    /// syncs: the SWIM part of the load (probes, acks, gossip), which should not grow with N.
    pub fn without_sync_per_period(&self) -> (f64, f64) {
        let sync = MessageKind::Sync.index();
        let per = |v: &[u64; MessageKind::COUNT]| {
            let total: u64 = v.iter().sum();
            (total - v[sync]) as f64 / self.packets.len().max(1) as f64 / self.periods
        };
        (per(&self.packets_by_kind), per(&self.bytes_by_kind))
    }

    /// The share of bytes carried by full-state syncs.
    pub fn sync_share(&self) -> f64 {
        let total: u64 = self.bytes_by_kind.iter().sum();
        let sync = self.bytes_by_kind[MessageKind::Sync.index()];
        sync as f64 / total.max(1) as f64
    }
}

/// Measures what each member sends over `window` in a cluster with no changes.
pub fn load(params: &Params, n: usize, window: Duration, seed: u64) -> Result<Load, String> {
    let mut sim = params.sim(n, 0.0, seed)?;
    sim.set_record_events(false);
    sim.run_for(params.warmup).map_err(|e| e.to_string())?;
    let before: Vec<Stats> = sim.cores().map(|c| c.stats().clone()).collect();
    sim.run_for(window).map_err(|e| e.to_string())?;
    let mut packets = Vec::with_capacity(n);
    let mut bytes = Vec::with_capacity(n);
    let mut packets_by_kind = [0; MessageKind::COUNT];
    let mut bytes_by_kind = [0; MessageKind::COUNT];
    for (core, b) in sim.cores().zip(&before) {
        let s = core.stats();
        packets.push(s.total_packets_out() - b.total_packets_out());
        bytes.push(s.total_bytes_out() - b.total_bytes_out());
        for k in 0..MessageKind::COUNT {
            packets_by_kind[k] += s.packets_out[k] - b.packets_out[k];
            bytes_by_kind[k] += s.bytes_out[k] - b.bytes_out[k];
        }
    }
    Ok(Load {
        n,
        seed,
        periods: window.as_secs_f64() / params.probe_interval().as_secs_f64(),
        seconds: window.as_secs_f64(),
        packets,
        bytes,
        packets_by_kind,
        bytes_by_kind,
    })
}

/// Per-member load for each N: a table and load against N.
pub fn load_suite(
    params: &Params,
    sizes: &[usize],
    window: Duration,
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let mut table = Table::new(
        format!(
            "load: traffic sent per member in a quiet cluster, {:?} window ({} profile)",
            window, params.profile
        ),
        &[
            "n",
            "pkts_per_period_mean",
            "pkts_per_period_max",
            "bytes_per_period_mean",
            "bytes_per_period_max",
            "pkts_per_period_no_sync",
            "bytes_per_period_no_sync",
            "ip_bytes_per_s_mean",
            "probe_pkts_share",
            "sync_bytes_share",
        ],
    );
    let (mut pk_mean, mut pk_max, mut by_mean, mut by_max) = (vec![], vec![], vec![], vec![]);
    let (mut pk_swim, mut by_swim) = (vec![], vec![]);
    for &n in sizes {
        let seed = run_seed(params.seed, n, 0.0, 0);
        progress(&format!("load n={n} seed={seed}"));
        let l = load(params, n, window, seed)?;
        let (pm, px) = l.packets_per_period();
        let (bm, bx) = l.bytes_per_period();
        let (ps, bs) = l.without_sync_per_period();
        let probe_kinds = [
            MessageKind::Ping,
            MessageKind::PingReq,
            MessageKind::Ack,
            MessageKind::Nack,
        ];
        let probe: u64 = probe_kinds
            .iter()
            .map(|k| l.packets_by_kind[k.index()])
            .sum();
        let total: u64 = l.packets_by_kind.iter().sum();
        table.push(vec![
            n.into(),
            Cell::Float(pm, 2),
            Cell::Float(px, 2),
            Cell::Float(bm, 0),
            Cell::Float(bx, 0),
            Cell::Float(ps, 2),
            Cell::Float(bs, 0),
            Cell::Float(l.ip_bytes_per_second(), 0),
            Cell::Float(probe as f64 / total.max(1) as f64, 2),
            Cell::Float(l.sync_share(), 2),
        ]);
        pk_mean.push((n as f64, pm));
        pk_max.push((n as f64, px));
        by_mean.push((n as f64, bm));
        by_max.push((n as f64, bx));
        pk_swim.push((n as f64, ps));
        by_swim.push((n as f64, bs));
    }
    table.notes.push(
        "A period is one probe interval. Bytes are UDP payload; ip_bytes_per_s adds 28 bytes of \
         IPv4+UDP header per datagram. *_no_sync: the mean leaving out full-state syncs (the SWIM \
         part: probes, acks, gossip). probe_pkts_share: ping, ping-req, ack and nack among all \
         datagrams; sync_bytes_share: bytes of full-state syncs (push-pull every \
         push_pull_interval, whose size grows with N) among all bytes."
            .into(),
    );
    let packets_chart = Chart {
        title: "datagrams sent per member per protocol period".into(),
        x_label: "N (log scale)".into(),
        y_label: "datagrams / period".into(),
        x_log: true,
        series: vec![
            Series {
                name: "mean".into(),
                points: pk_mean,
            },
            Series {
                name: "max".into(),
                points: pk_max,
            },
            Series {
                name: "mean without push-pull syncs".into(),
                points: pk_swim,
            },
        ],
    };
    let bytes_chart = Chart {
        title: "payload bytes sent per member per protocol period".into(),
        x_label: "N (log scale)".into(),
        y_label: "bytes / period".into(),
        x_log: true,
        series: vec![
            Series {
                name: "mean".into(),
                points: by_mean,
            },
            Series {
                name: "max".into(),
                points: by_max,
            },
            Series {
                name: "mean without push-pull syncs".into(),
                points: by_swim,
            },
        ],
    };
    Ok((table, vec![packets_chart, bytes_chart]))
}

// ---------------------------------------------------------------------------------------------
// false positives

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
