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
//! join, by the agents' own timestamps on their event lines: the bench reads 1,000 agents'
//! output behind, and prints how far), steady-state traffic per agent over `--steady` (packets/s and bytes/s from the agents'
//! own counters; IP-level bytes add 28 bytes of IPv4+UDP header per datagram), CPU (from
//! /proc/PID/task/*/schedstat in ns, and utime+stime from /proc/PID/stat in clock ticks, too
//! coarse for an idle agent over 30 s) and RSS (VmRSS), SIGKILL detection (one agent killed
//! `--kills` times, restarted and rejoined between kills so every kill happens in a cluster of
//! N: time until the first and the last survivor prints `failed`), and graceful leave (SIGTERM:
//! time until every survivor prints `left`). Prints one markdown row per N. Every wait is
//! bounded; every agent is killed on the way out, on Ctrl-C and SIGTERM too.

mod cluster;
mod phases;
mod proc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use rumor::parse_duration;

use crate::phases::measure;

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
        "| agents | converge s (agents' clocks) | seed during join: datagrams out / in | seed KiB out / in | seed CPU % mean (busiest second) | SIGKILL → first failed s (mean) | SIGKILL → all failed s (mean, median, max) | leave → all left s | packets/s per agent | payload B/s per agent | IP B/s per agent | CPU % per agent (schedstat) | CPU % per agent (utime+stime) | RSS MiB mean (max) | of it anonymous MiB | PSS MiB mean |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failures = 0;
    for &n in &args.nodes {
        if n < 3 {
            eprintln!("bench agents: N must be at least 3 (one killed, two to notice)");
            return std::process::ExitCode::from(2);
        }
        eprintln!("bench agents: {n} agents");
        match measure(&args, n, &stop) {
            Ok(r) => println!(
                "| {} | {:.2} | {} / {} | {:.0} / {:.0} | {:.2} ({:.1}) | {} | {}, {} ({}) | {} | {:.2} | {:.0} | {:.0} | {:.3} | {:.3} | {:.1} ({:.1}) | {:.1} | {:.2} |",
                r.n,
                r.converge_s,
                r.seed.packets_out,
                r.seed.packets_in,
                r.seed.bytes_out as f64 / 1024.0,
                r.seed.bytes_in as f64 / 1024.0,
                r.seed.cpu_pct,
                r.seed.peak_cpu_pct,
                opt(r.kills.first_s),
                opt(r.kills.last_s),
                opt(r.kills.last_median_s),
                opt(r.kills.last_max_s),
                opt(r.leave_last_s),
                r.steady.pkts_per_s,
                r.steady.bytes_per_s,
                r.steady.ip_bytes_per_s,
                r.steady.sched_pct,
                r.steady.cpu_pct,
                r.steady.rss_mean_mib,
                r.steady.rss_max_mib,
                r.steady.anon_mean_mib,
                r.steady.pss_mean_mib
            ),
            Err(e) => {
                // Record the failure as a row and go on with the other sizes.
                eprintln!("bench agents: n={n}: {e}");
                println!(
                    "| {n} | failed: {} | | | | | | | | | | | | | | |",
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
