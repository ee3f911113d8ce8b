//! Real-process benchmark: N `rumor agent` processes on 127.0.0.1, measured from their JSON
//! lines and from /proc.
//!
//! How to run: `scripts/bench.sh` (builds, runs this for N = 10, 50, 100 against the deployable
//! agent and writes docs/BENCHMARKS.md), or directly, against the release build of `rumor`
//! that cargo builds with it:
//!
//! ```text
//! cargo bench --bench agents -- --nodes 10,50 --steady 30s
//! ```
//!
//! It is declared `bench = false`, so a plain `cargo bench` does not start it.
//!
//! For each N it starts the agents (`--profile lan --stats-interval 1s`, all joining through
//! the first), then measures: convergence (last start until every agent has seen all others
//! join), steady-state traffic per agent over `--steady` (packets/s and bytes/s from the agents'
//! own counters; IP-level bytes add 28 bytes of IPv4+UDP header per datagram), CPU (from
//! /proc/PID/task/*/schedstat in ns, and utime+stime from /proc/PID/stat in clock ticks, too
//! coarse for an idle agent over 30 s) and RSS (VmRSS), SIGKILL detection (one agent killed
//! `--kills` times, restarted and rejoined between kills so every kill happens in a cluster of
//! N: time until the first and the last survivor prints `failed`), and graceful leave (SIGTERM:
//! time until every survivor prints `left`). Prints one markdown row per N. Every wait is
//! bounded; every agent is killed on the way out, on Ctrl-C and SIGTERM too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use clap::Parser;
use rumor::parse_duration;
use rumor::sim::report::proc_status_kib;
use serde_json::Value;

/// Measure N real agents on loopback.
#[derive(Parser, Debug)]
struct Args {
    /// Cluster sizes, comma separated
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 50, 100])]
    nodes: Vec<usize>,
    /// Steady-state measurement window
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    steady: Duration,
    /// Settling time after convergence before the steady window starts
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    settle: Duration,
    /// The rumor binary the agents run (by default the one cargo built with this benchmark)
    #[arg(long, default_value = env!("CARGO_BIN_EXE_rumor"))]
    binary: String,
    /// First UDP port; agent i binds base + i
    #[arg(long, default_value_t = 17946)]
    base_port: u16,
    /// Timing profile passed to the agents
    #[arg(long, default_value = "lan")]
    profile: String,
    /// Extra flags passed to every agent (e.g. "--probe-interval 200ms --probe-timeout 100ms")
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    agent_flags: String,
    /// Times one agent is SIGKILLed and restarted (detection times are averaged)
    #[arg(long, default_value_t = 3)]
    kills: usize,
    /// Longest wait for any one phase
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    phase_timeout: Duration,
    /// `cargo bench` passes this to every benchmark it runs; it changes nothing here.
    #[arg(long = "bench", hide = true)]
    _cargo_bench: bool,
}

/// One JSON line from one agent.
struct Line {
    agent: usize,
    json: Value,
}

/// The agents, killed when dropped (also on panic and early return).
struct Cluster {
    children: Vec<Option<Child>>,
    pids: Vec<u32>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Default, Clone)]
struct Counters {
    ts_ms: u64,
    packets_out: u64,
    bytes_out: u64,
}

/// What the reader threads have told us so far.
#[derive(Default)]
struct View {
    /// Per agent: member name -> last event kind about it.
    members: Vec<HashMap<String, String>>,
    /// Per agent: the latest stats line.
    stats: Vec<Counters>,
    /// (agent, event, member, ts_ms) of failed/left/suspect events.
    verdicts: Vec<(usize, String, String, u64)>,
}

impl View {
    fn new(n: usize) -> Self {
        View {
            members: vec![HashMap::new(); n],
            stats: vec![Counters::default(); n],
            verdicts: Vec::new(),
        }
    }

    fn apply(&mut self, line: Line) {
        let j = &line.json;
        let event = j["event"].as_str().unwrap_or_default().to_string();
        let ts = j["ts_ms"].as_u64().unwrap_or(0);
        if event == "stats" {
            if let Some(s) = self.stats.get_mut(line.agent) {
                *s = Counters {
                    ts_ms: ts,
                    packets_out: j["packets_out"].as_u64().unwrap_or(0),
                    bytes_out: j["bytes_out"].as_u64().unwrap_or(0),
                };
            }
            return;
        }
        let member = j["member"].as_str().unwrap_or_default().to_string();
        if matches!(event.as_str(), "failed" | "left" | "suspect") {
            self.verdicts
                .push((line.agent, event.clone(), member.clone(), ts));
        }
        if let Some(m) = self.members.get_mut(line.agent) {
            m.insert(member, event);
        }
    }

    /// Agents among `who` that see every other agent of `who` as joined or alive.
    fn converged(&self, who: &[usize]) -> bool {
        who.iter().all(|&a| {
            let m = &self.members[a];
            who.iter().filter(|&&b| b != a).all(|&b| {
                matches!(
                    m.get(&name(b)).map(String::as_str),
                    Some("joined" | "alive" | "updated")
                )
            })
        })
    }

    /// ts_ms of `event` about `member` by each agent of `who` that printed it.
    fn verdict_times(&self, who: &[usize], event: &str, member: &str, since: u64) -> Vec<u64> {
        who.iter()
            .filter_map(|&a| {
                self.verdicts
                    .iter()
                    .find(|(x, e, m, t)| *x == a && e == event && m == member && *t >= since)
                    .map(|v| v.3)
            })
            .collect()
    }
}

fn name(i: usize) -> String {
    format!("a{i}")
}

/// Wall-clock ms since the Unix epoch: the agents stamp their lines with the same clock.
#[allow(clippy::disallowed_methods)]
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A monotonic clock for deadlines (clippy.toml keeps it out of the protocol code).
#[allow(clippy::disallowed_methods)]
fn mono() -> Instant {
    Instant::now()
}

/// utime + stime of a process in clock ticks, from /proc/PID/stat.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of all of a process's threads in nanoseconds, from /proc/PID/task/*/schedstat
/// (nanosecond resolution: an idle agent uses well under one 10 ms clock tick per second).
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0;
    for t in tasks.flatten() {
        let s = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        sum += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(sum)
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

struct Run<'a> {
    args: &'a Args,
    stop: Arc<AtomicBool>,
    rx: Receiver<Line>,
    view: View,
}

impl Run<'_> {
    /// Applies lines until `done` holds, the deadline passes (Err) or we are told to stop.
    fn wait(&mut self, what: &str, mut done: impl FnMut(&View) -> bool) -> Result<(), String> {
        let deadline = mono() + self.args.phase_timeout;
        loop {
            if done(&self.view) {
                return Ok(());
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err("interrupted".into());
            }
            let left = deadline.saturating_duration_since(mono());
            if left.is_zero() {
                return Err(format!("{what}: not within {:?}", self.args.phase_timeout));
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => self.view.apply(line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("all agents exited".into()),
            }
        }
    }

    /// Applies lines for `d` of wall time.
    fn soak(&mut self, d: Duration) -> Result<(), String> {
        let until = mono() + d;
        self.wait("soak", |_| mono() >= until).or_else(|e| {
            if e.starts_with("soak") {
                Ok(())
            } else {
                Err(e)
            }
        })
    }
}

fn spawn(args: &Args, n: usize, tx: &Sender<Line>) -> Result<Cluster, String> {
    let mut cluster = Cluster {
        children: Vec::new(),
        pids: Vec::new(),
    };
    for i in 0..n {
        let child = spawn_one(args, i, tx)?;
        cluster.pids.push(child.id());
        cluster.children.push(Some(child));
    }
    Ok(cluster)
}

/// Starts agent `i` (the first is the seed the others join through), its JSON lines read
/// into `tx`.
fn spawn_one(args: &Args, i: usize, tx: &Sender<Line>) -> Result<Child, String> {
    let extra: Vec<&str> = args.agent_flags.split_whitespace().collect();
    let port = args.base_port as usize + i;
    let mut cmd = Command::new(&args.binary);
    cmd.arg("agent")
        .args(["--name", &name(i)])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--profile", &args.profile])
        .args(["--stats-interval", "1s"])
        .args(&extra);
    if i > 0 {
        cmd.args(["--join", &format!("127.0.0.1:{}", args.base_port)]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.binary))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(json) = serde_json::from_str(&line)
                && tx.send(Line { agent: i, json }).is_err()
            {
                break;
            }
        }
    });
    Ok(child)
}

/// One row of the table: what each phase measured for one N.
struct Row {
    n: usize,
    converge_s: f64,
    steady: Steady,
    kills: Kills,
    leave_last_s: Option<f64>,
}

/// The steady-state figures, per agent.
struct Steady {
    pkts_per_s: f64,
    bytes_per_s: f64,
    ip_bytes_per_s: f64,
    cpu_pct: f64,
    sched_pct: f64,
    rss_mean_mib: f64,
    rss_max_mib: f64,
    anon_mean_mib: f64,
}

/// SIGKILL detection, in seconds from the kill; `None` where no kill was detected.
struct Kills {
    /// Mean over the kills of the first survivor's `failed`.
    first_s: Option<f64>,
    /// Mean over the kills of the last survivor's `failed` (None if any kill went undetected).
    last_s: Option<f64>,
    /// The slowest kill's last `failed`.
    last_max_s: Option<f64>,
}

/// The four phases on one cluster of N, in order; every agent is killed on the way out.
fn measure(args: &Args, n: usize, stop: &Arc<AtomicBool>) -> Result<Row, String> {
    let (tx, rx) = channel();
    let mut run = Run {
        args,
        stop: stop.clone(),
        rx,
        view: View::new(n),
    };
    let (mut cluster, converge_s) = start(&mut run, n, &tx)?;
    let steady = steady_state(&mut run, &cluster, n)?;
    let kills = kill_and_restart(&mut run, &mut cluster, n, &tx)?;
    // No agent starts after this: without our sender, a wait ends as soon as every reader has.
    drop(tx);
    let leave_last_s = leave(&mut run, &cluster, n);
    drop(cluster);
    Ok(Row {
        n,
        converge_s,
        steady,
        kills,
        leave_last_s,
    })
}

/// Starts the N agents and waits until each has seen every other join; returns them and the
/// seconds from the last start until then.
fn start(run: &mut Run, n: usize, tx: &Sender<Line>) -> Result<(Cluster, f64), String> {
    let start = mono();
    let mut cluster = spawn(run.args, n, tx)?;
    let spawned = mono();
    let all: Vec<usize> = (0..n).collect();
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
                let last = gone
                    .first()
                    .and_then(|&b| m.get(&name(b)).cloned())
                    .unwrap_or_else(|| "nothing".into());
                (a, gone.len(), last)
            })
            .filter(|(_, k, _)| *k > 0)
            .collect();
        eprintln!(
            "  n={n}: {} agents incomplete; (agent, members missing, last event about the first): {:?}",
            missing.len(),
            missing.iter().take(8).collect::<Vec<_>>()
        );
        let exited = cluster
            .children
            .iter_mut()
            .flatten()
            .filter_map(|c| c.try_wait().ok().flatten())
            .count();
        return Err(format!("{e}; {exited} of {n} agents had exited"));
    }
    let converge_s = mono().duration_since(spawned).as_secs_f64();
    eprintln!(
        "  n={n}: started in {:.1}s, converged {converge_s:.2}s after the last start",
        spawned.duration_since(start).as_secs_f64()
    );
    Ok((cluster, converge_s))
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
    eprintln!("  n={n}: SIGKILL -> all failed, each kill: {lasts:.2?}");
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(Kills {
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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            eprintln!("bench agents: cannot handle signals: {e}");
            return std::process::ExitCode::from(1);
        }
    }
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    println!(
        "| agents | converge s | SIGKILL → first failed s (mean) | SIGKILL → all failed s (mean, max) | leave → all left s | packets/s per agent | payload B/s per agent | IP B/s per agent | CPU % per agent (schedstat) | CPU % per agent (utime+stime) | RSS MiB mean (max) | of it anonymous MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failures = 0;
    for &n in &args.nodes {
        if n < 3 {
            eprintln!("bench agents: N must be at least 3 (one killed, two to notice)");
            return std::process::ExitCode::from(2);
        }
        eprintln!("bench agents: {n} agents");
        match measure(&args, n, &stop) {
            Ok(r) => println!(
                "| {} | {:.2} | {} | {} ({}) | {} | {:.2} | {:.0} | {:.0} | {:.3} | {:.3} | {:.1} ({:.1}) | {:.1} |",
                r.n,
                r.converge_s,
                opt(r.kills.first_s),
                opt(r.kills.last_s),
                opt(r.kills.last_max_s),
                opt(r.leave_last_s),
                r.steady.pkts_per_s,
                r.steady.bytes_per_s,
                r.steady.ip_bytes_per_s,
                r.steady.sched_pct,
                r.steady.cpu_pct,
                r.steady.rss_mean_mib,
                r.steady.rss_max_mib,
                r.steady.anon_mean_mib
            ),
            Err(e) => {
                // Record the failure as a row and go on with the other sizes.
                eprintln!("bench agents: n={n}: {e}");
                println!(
                    "| {n} | failed: {} | | | | | | | | | | |",
                    e.replace('|', "/")
                );
                failures += 1;
            }
        }
        if stop.load(Ordering::Relaxed) {
            return std::process::ExitCode::from(130);
        }
    }
    if failures > 0 {
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}
