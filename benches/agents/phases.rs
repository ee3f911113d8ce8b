//! The four phases measured on one cluster of N, each returning its figures.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Sender, channel};

use rumor::sim::report::proc_status_kib;

use crate::Args;
use crate::cluster::{Cluster, Counters, Line, Run, View, mono, name, spawn, spawn_one};
// The clock the agents stamp their lines with.
use crate::proc::{CpuSampler, clock_ticks_per_second, cpu_ns, cpu_ticks, load_1m, smaps_kib};
use rumor::json::unix_ms;

/// One row of the table: what each phase measured for one N.
pub(crate) struct Row {
    pub(crate) n: usize,
    pub(crate) converge_s: f64,
    pub(crate) seed: SeedLoad,
    pub(crate) steady: Steady,
    pub(crate) kills: Kills,
    pub(crate) leave_last_s: Option<f64>,
}

/// What the seed (agent 0, which every other joins through) did from the first start until
/// its first stats line after convergence (so up to one stats interval of steady traffic, ~2
/// datagrams, is included).
pub(crate) struct SeedLoad {
    pub(crate) packets_out: u64,
    pub(crate) packets_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) bytes_in: u64,
    /// The seed's CPU over that window, in % of one core.
    pub(crate) cpu_pct: f64,
    /// The seed's CPU in its busiest second of that window, in % of one core.
    pub(crate) peak_cpu_pct: f64,
}

/// The steady-state figures, per agent.
pub(crate) struct Steady {
    pub(crate) pkts_per_s: f64,
    pub(crate) bytes_per_s: f64,
    pub(crate) ip_bytes_per_s: f64,
    pub(crate) cpu_pct: f64,
    pub(crate) sched_pct: f64,
    pub(crate) rss_mean_mib: f64,
    pub(crate) rss_max_mib: f64,
    pub(crate) anon_mean_mib: f64,
    /// Proportional set size per agent: shared pages (the binary's text) divided among the
    /// processes that map them, so N agents' PSS adds up to what they cost the machine.
    pub(crate) pss_mean_mib: f64,
}

/// SIGKILL detection, in seconds from the kill; `None` where no kill was detected.
pub(crate) struct Kills {
    /// Mean over the kills of the first survivor's `failed`.
    pub(crate) first_s: Option<f64>,
    /// Mean over the kills of the last survivor's `failed` (None if any kill went undetected).
    pub(crate) last_s: Option<f64>,
    /// The slowest kill's last `failed`.
    pub(crate) last_max_s: Option<f64>,
    /// The median over the detected kills of the last survivor's `failed` (issue 12's
    /// targets are medians): the middle kill, or the mean of the two middle ones.
    pub(crate) last_median_s: Option<f64>,
}

/// The four phases on one cluster of N, in order; every agent is killed on the way out.
pub(crate) fn measure(args: &Args, n: usize, stop: &Arc<AtomicBool>) -> Result<Row, String> {
    let (tx, rx) = channel();
    let mut run = Run {
        args,
        stop: stop.clone(),
        rx,
        view: View::new(n),
    };
    let (mut cluster, converged, seed) = start(&mut run, n, &tx)?;
    let steady = steady_state(&mut run, &cluster, n)?;
    let converge_s = match converged {
        Ok(s) => s,
        // Not converged: what the cluster costs as it is still says something; the kill
        // phases need a whole cluster and are skipped.
        Err(e) => {
            return Err(format!(
                "{e}; seed during the join {} / {} datagrams, {:.0} / {:.0} KiB, CPU {:.2} % (peak {:.2} %); \
                 then CPU {:.3} % per agent (schedstat), RSS {:.1} MiB ({:.1} anonymous)",
                seed.packets_out,
                seed.packets_in,
                seed.bytes_out as f64 / 1024.0,
                seed.bytes_in as f64 / 1024.0,
                seed.cpu_pct,
                seed.peak_cpu_pct,
                steady.sched_pct,
                steady.rss_mean_mib,
                steady.anon_mean_mib
            ));
        }
    };
    let kills = kill_and_restart(&mut run, &mut cluster, n, &tx)?;
    // No agent starts after this: without our sender, a wait ends as soon as every reader has.
    drop(tx);
    let leave_last_s = leave(&mut run, &cluster, n);
    drop(cluster);
    Ok(Row {
        n,
        converge_s,
        seed,
        steady,
        kills,
        leave_last_s,
    })
}

/// Starts the N agents and waits until each has seen every other join; returns them and the
/// seconds from the last start until then (or why not, the cluster kept running), and the
/// seed's load over the join.
type Started = (Cluster, Result<f64, String>, SeedLoad);

fn start(run: &mut Run, n: usize, tx: &Sender<Line>) -> Result<Started, String> {
    let start = mono();
    let mut sampler = None;
    let mut cluster = spawn(run.args, n, tx, |pid| {
        sampler = Some(CpuSampler::start(pid))
    })?;
    let spawned = mono();
    let spawned_ms = unix_ms();
    run.view.lag_ms = 0;
    let all: Vec<usize> = (0..n).collect();
    let mut outcome = Ok(());
    if let Err(e) = run.wait("convergence", |v| v.converged(&all)) {
        // Say who is missing whom, so a failed run can be understood.
        let missing: Vec<(usize, usize, String)> = all
            .iter()
            .map(|&a| {
                let m = &run.view.members[a];
                let gone: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&b| {
                        b != a
                            && !matches!(
                                m.get(&name(b)).map(String::as_str),
                                Some("joined" | "alive" | "updated")
                            )
                    })
                    .collect();
                let c = &run.view.stats[a];
                let about = gone.first().map_or_else(String::new, |&b| {
                    let last = m.get(&name(b)).map_or("nothing", String::as_str);
                    format!(
                        "first missing: agent {b}, last event about it: {last}; its table: \
                         {} active; dropped {}, send errors {}, syncs {}, repairs {}, pulls {}",
                        c.active, c.dropped, c.send_errors, c.syncs, c.repairs, c.table_pulls
                    )
                });
                (a, gone.len(), about)
            })
            .filter(|(_, k, _)| *k > 0)
            .collect();
        eprintln!(
            "  n={n}: {} agents incomplete; (agent, members missing, about the first): {:?}",
            missing.len(),
            missing.iter().take(8).collect::<Vec<_>>()
        );
        let exits = cluster.exits();
        if !exits.is_empty() {
            eprintln!(
                "  n={n}: exited (status: last line of stderr, all in {}): {:?}",
                crate::cluster::logs_dir().display(),
                exits.iter().take(8).collect::<Vec<_>>()
            );
        }
        let exited = exits.len();
        if e == "interrupted" || e == "all agents exited" || exited > 0 {
            return Err(format!("{e}; {exited} of {n} agents had exited"));
        }
        outcome = Err(format!("{e}, {} agents incomplete", missing.len()));
    }
    let converged = mono();
    let peak_cpu_pct = sampler.map_or(0.0, CpuSampler::peak_pct);
    let seen_s = converged.duration_since(spawned).as_secs_f64();
    // By the agents' own stamps: when the last view became whole (0 if all were whole by the
    // last start), not when the bench, behind on reading, noticed.
    let last_ms = run.view.completed_ms.iter().copied().max().unwrap_or(0);
    let converge_s = last_ms.saturating_sub(spawned_ms) as f64 / 1e3;
    eprintln!(
        "  n={n}: started in {:.1}s, {} {converge_s:.2}s after the last start by the agents' \
         clocks, seen by the bench after {seen_s:.2}s (its reading lagged up to {:.1}s; load {:.1})",
        spawned.duration_since(start).as_secs_f64(),
        if outcome.is_ok() {
            "converged"
        } else {
            "gave up"
        },
        run.view.lag_ms as f64 / 1e3,
        load_1m()
    );
    // The seed's counters start at zero with it: its next stats line covers the whole join.
    let seed_cpu_ns = cpu_ns(cluster.pids[0]).unwrap_or(0);
    let window = converged.duration_since(start).as_secs_f64();
    let converged_ms = unix_ms();
    run.wait("the seed's stats", |v| v.stats[0].ts_ms >= converged_ms)?;
    let s = &run.view.stats[0];
    let seed = SeedLoad {
        packets_out: s.packets_out,
        packets_in: s.packets_in,
        bytes_out: s.bytes_out,
        bytes_in: s.bytes_in,
        cpu_pct: seed_cpu_ns as f64 / 1e9 / window * 100.0,
        peak_cpu_pct,
    };
    eprintln!(
        "  n={n}: seed during the join ({window:.1}s): {} datagrams out ({} B), {} in ({} B), CPU {:.2} % (busiest second {:.2} %)",
        seed.packets_out,
        seed.bytes_out,
        seed.packets_in,
        seed.bytes_in,
        seed.cpu_pct,
        seed.peak_cpu_pct
    );
    Ok((cluster, outcome.map(|()| converge_s), seed))
}

/// After `--settle`, traffic and CPU over the `--steady` window and memory at its end.
fn steady_state(run: &mut Run, cluster: &Cluster, n: usize) -> Result<Steady, String> {
    run.soak(run.args.settle)?;
    let tck = clock_ticks_per_second() as f64;
    let before: Vec<Counters> = run.view.stats.clone();
    let cpu0: Vec<Option<u64>> = cluster.pids.iter().map(|&p| cpu_ticks(p)).collect();
    let ns0: Vec<Option<u64>> = cluster.pids.iter().map(|&p| cpu_ns(p)).collect();
    let t0 = mono();
    run.soak(run.args.steady)?;
    let wall = mono().duration_since(t0).as_secs_f64();
    let cpu1: Vec<Option<u64>> = cluster.pids.iter().map(|&p| cpu_ticks(p)).collect();
    let ns1: Vec<Option<u64>> = cluster.pids.iter().map(|&p| cpu_ns(p)).collect();
    let after = run.view.stats.clone();
    // VmRSS is the resident set; RssAnon the part of it not backed by a file (heap and stacks,
    // without the shared libraries and the binary's text).
    let mib = |field: &str| -> Vec<f64> {
        cluster
            .pids
            .iter()
            .filter_map(|&p| proc_status_kib(Some(p), field))
            .map(|k| k as f64 / 1024.0)
            .collect()
    };
    let rss = mib("VmRSS");
    let anon = mib("RssAnon");
    let pss_mib = |field: &str| -> f64 {
        let v: Vec<u64> = cluster
            .pids
            .iter()
            .filter_map(|&p| smaps_kib(p, field))
            .collect();
        v.iter().sum::<u64>() as f64 / 1024.0 / v.len().max(1) as f64
    };
    let pss_mean_mib = pss_mib("Pss");
    eprintln!(
        "  n={n}: steady: PSS {:.2} MiB per agent ({:.2} anonymous, {:.2} file-backed), load {:.1}",
        pss_mean_mib,
        pss_mib("Pss_Anon"),
        pss_mib("Pss_File"),
        load_1m()
    );
    let (mut pk, mut by, mut cpu, mut sched) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        let (b, a) = (&before[i], &after[i]);
        let dt = (a.ts_ms.saturating_sub(b.ts_ms)) as f64 / 1e3;
        if dt > 0.0 {
            pk += (a.packets_out - b.packets_out) as f64 / dt;
            by += (a.bytes_out - b.bytes_out) as f64 / dt;
        }
        if let (Some(c0), Some(c1)) = (cpu0[i], cpu1[i]) {
            cpu += (c1 - c0) as f64 / tck / wall * 100.0;
        }
        if let (Some(c0), Some(c1)) = (ns0[i], ns1[i]) {
            sched += (c1.saturating_sub(c0)) as f64 / 1e9 / wall * 100.0;
        }
    }
    let nf = n as f64;
    let (pkts_per_s, bytes_per_s) = (pk / nf, by / nf);
    Ok(Steady {
        pkts_per_s,
        bytes_per_s,
        ip_bytes_per_s: bytes_per_s + 28.0 * pkts_per_s,
        cpu_pct: cpu / nf,
        sched_pct: sched / nf,
        rss_mean_mib: rss.iter().sum::<f64>() / rss.len().max(1) as f64,
        rss_max_mib: rss.iter().copied().fold(0.0, f64::max),
        anon_mean_mib: anon.iter().sum::<f64>() / anon.len().max(1) as f64,
        pss_mean_mib,
    })
}

/// SIGKILLs the last agent, waits until every survivor reports it failed, restarts it (same
/// name, so it rejoins at a higher incarnation) and waits for the cluster to be whole again;
/// `--kills` times. Each kill happens in a cluster of N, so the suspicion timeout, which grows
/// with log N, is the same for every sample (detection time is a random variable: one sample
/// says little).
fn kill_and_restart(
    run: &mut Run,
    cluster: &mut Cluster,
    n: usize,
    tx: &Sender<Line>,
) -> Result<Kills, String> {
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    let all: Vec<usize> = (0..n).collect();
    let victim = n - 1;
    let vname = name(victim);
    let survivors: Vec<usize> = (0..victim).collect();
    for _ in 0..run.args.kills {
        run.soak(run.args.settle)?;
        let kill_ms = unix_ms();
        if let Some(Some(c)) = cluster.children.get_mut(victim) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let killed = run.wait("failure detection", |v| {
            v.verdict_times(&survivors, "failed", &vname, kill_ms).len() == survivors.len()
        });
        let times = run
            .view
            .verdict_times(&survivors, "failed", &vname, kill_ms);
        let secs = |t: u64| t.saturating_sub(kill_ms) as f64 / 1e3;
        if let Some(&t) = times.iter().min() {
            firsts.push(secs(t));
        }
        match killed {
            Ok(()) => lasts.extend(times.iter().max().map(|&t| secs(t))),
            Err(e) => {
                eprintln!("  n={n}: {e}");
                lasts.push(f64::NAN);
            }
        }
        let child = spawn_one(run.args, victim, tx)?;
        if let Some(pid) = cluster.pids.get_mut(victim) {
            *pid = child.id();
        }
        if let Some(slot) = cluster.children.get_mut(victim) {
            *slot = Some(child);
        }
        if let Some(m) = run.view.members.get_mut(victim) {
            m.clear();
        }
        run.wait("rejoin after restart", |v| v.converged(&all))?;
    }
    eprintln!(
        "  n={n}: SIGKILL -> all failed, each kill: {lasts:.2?} (load {:.1})",
        load_1m()
    );
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let mut sorted: Vec<f64> = lasts.iter().copied().filter(|t| t.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let k = sorted.len();
    let last_median_s = match k {
        0 => None,
        _ if k % 2 == 1 => sorted.get(k / 2).copied(),
        _ => Some((sorted[k / 2 - 1] + sorted[k / 2]) / 2.0),
    };
    Ok(Kills {
        last_median_s,
        first_s: mean(&firsts),
        last_s: mean(&lasts).filter(|m| m.is_finite()),
        last_max_s: lasts
            .iter()
            .copied()
            .reduce(f64::max)
            .filter(|m| m.is_finite()),
    })
}

/// SIGTERMs the last agent (a graceful leave); the seconds until every other agent printed
/// `left`, or `None` (said on stderr) if they did not all print it.
fn leave(run: &mut Run, cluster: &Cluster, n: usize) -> Option<f64> {
    let leaver = n - 1;
    let rest: Vec<usize> = (0..leaver).collect();
    let lname = name(leaver);
    let leave_ms = unix_ms();
    let pid = cluster.pids[leaver].to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let left = run.wait("leave propagation", |v| {
        v.verdict_times(&rest, "left", &lname, leave_ms).len() == rest.len()
    });
    let leave_last_s = left
        .is_ok()
        .then(|| {
            run.view
                .verdict_times(&rest, "left", &lname, leave_ms)
                .iter()
                .max()
                .map(|&t| t.saturating_sub(leave_ms) as f64 / 1e3)
        })
        .flatten();
    if let Err(e) = left {
        eprintln!("  n={n}: {e}");
    }
    leave_last_s
}
