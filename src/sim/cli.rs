//! `rumor sim <scenario>`: runs a scenario over several cluster sizes (and loss rates) and
//! prints a table, JSON, CSV or an SVG plot, then the run's wall time and peak memory.

use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::config::{Profile, SuspicionRule, parse_duration};

use super::report::{Chart, Table, peak_memory_mib, write_svg};
use super::scenario::{
    Knobs, Params, crash_suite, dissemination_suite, false_positives_suite, flaky_suite,
    join_suite, load_suite, side_by_side, tradeoff_suite, user_event_suite,
};
use super::{Latency, Pulse, PulseFn};

/// Which measurement to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// One update from one node: rounds until all N have it, against log2(N) and lambda*log(N)
    Dissemination,
    /// One member crashes: time to first suspicion and until every survivor reports it failed
    Crash,
    /// Packets and bytes sent per member per protocol period in a quiet cluster
    Load,
    /// No crashes under packet loss: false Failed events and suspicions
    FalsePositives,
    /// N nodes join through one seed at once: convergence time and failed joins
    Join,
    /// One user event from one node: time until all N deliver it, repeats, bytes it costs
    Events,
    /// One member loses --inbound-loss of what is sent to it for --duration, then heals: how
    /// often each observer's view of it changes, false verdicts about others, time to whole
    Flaky,
    /// Detection time against false alarms for each rule and --confirmed-mult / probe
    /// timeout: crash runs at each N, and --duration of false-positives at each --loss
    Tradeoff,
}

/// `rumor sim`: a deterministic simulation of N nodes in virtual time (no sockets, no sleeping).
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// What to measure
    #[arg(value_enum)]
    pub scenario: Scenario,

    /// Cluster sizes, comma separated
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000])]
    pub nodes: Vec<usize>,

    /// Uniform packet loss rates (0 to 1), comma separated [default: crash 0,0.05,0.2;
    /// false-positives 0,0.1,0.2,0.3; events 0,0.1,0.2; others 0]
    #[arg(long, value_delimiter = ',')]
    pub loss: Vec<f64>,

    /// Seed for everything random, the network's loss included; one seed gives one run
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Runs per cluster size (and loss rate), each with its own derived seed
    #[arg(long, default_value_t = 1)]
    pub runs: usize,

    /// Node timings
    #[arg(long, default_value_t = Profile::Lan)]
    pub profile: Profile,

    /// Packet latency: fixed (`1ms`) or a uniform range (`200us..1ms`)
    #[arg(long, default_value = "200us..1ms")]
    pub latency: Latency,

    /// Virtual time simulated [default: false-positives 10m, load 60s; events: bytes counted
    /// over 60s]
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Settling time before the scenario acts
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Suspicion rules to run side by side (crash, false-positives, flaky, tradeoff), comma
    /// separated [default: the profile's, evidence; tradeoff: both]
    #[arg(long, value_delimiter = ',')]
    pub rules: Vec<SuspicionRule>,

    /// Evidence rule: the confirmed suspicion's floor multiplier (tradeoff: a comma list to
    /// sweep) [default: the profile's, 2; tradeoff 1,2,3,4]
    #[arg(long, value_delimiter = ',')]
    pub confirmed_mult: Vec<u32>,

    /// Override the profile's probe interval
    #[arg(long, value_parser = parse_duration)]
    pub probe_interval: Option<Duration>,

    /// Override the profile's probe timeout (tradeoff: a comma list to sweep)
    #[arg(long, value_delimiter = ',', value_parser = parse_duration)]
    pub probe_timeout: Vec<Duration>,

    /// Flaky: the share of datagrams to the flaky member that are lost
    #[arg(long, default_value_t = 0.8)]
    pub inbound_loss: f64,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,

    /// Also write the table as CSV to this file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Also draw the scenario's curves to this SVG file
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print the title and the summary lines only, not one row per run (for many --runs;
    /// --json and --csv still get every row)
    #[arg(long)]
    pub summary: bool,

    /// Say nothing on stderr while running
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `rumor sim`: 0 on success, 1 when a run failed, 2 for bad arguments.
pub fn run(args: SimArgs) -> ExitCode {
    let start = wall_clock();
    if args.nodes.is_empty() || args.nodes.contains(&0) {
        eprintln!("rumor sim: --nodes needs sizes of at least 1");
        return ExitCode::from(2);
    }
    if args.loss.iter().any(|l| !(0.0..=1.0).contains(l)) {
        eprintln!("rumor sim: --loss rates must be between 0 and 1");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&args.inbound_loss) {
        eprintln!("rumor sim: --inbound-loss must be between 0 and 1");
        return ExitCode::from(2);
    }
    if args.confirmed_mult.contains(&0) {
        eprintln!("rumor sim: --confirmed-mult must be at least 1");
        return ExitCode::from(2);
    }
    if args.runs == 0 {
        eprintln!("rumor sim: --runs must be at least 1");
        return ExitCode::from(2);
    }
    let params = Params {
        profile: args.profile,
        latency: args.latency,
        seed: args.seed,
        runs: args.runs,
        warmup: args.warmup,
        knobs: Knobs {
            rule: None,
            confirmed_mult: args.confirmed_mult.first().copied(),
            probe_timeout: args.probe_timeout.first().copied(),
            probe_interval: args.probe_interval,
        },
        pulse: (!args.quiet).then(|| pulse_printer(start)),
    };
    if let Err(e) = params.sim_config(1, 0.0, 0).template.validate() {
        eprintln!("rumor sim: {e}");
        return ExitCode::from(2);
    }
    let rules = if args.rules.is_empty() {
        vec![params.knobs.rule_of(params.profile)]
    } else {
        args.rules.clone()
    };
    let quiet = args.quiet;
    let mut progress = |msg: &str| {
        if !quiet {
            eprintln!("[{:>7.1}s] {msg}", start.elapsed().as_secs_f64());
        }
    };
    let losses = |default: &[f64]| {
        if args.loss.is_empty() {
            default.to_vec()
        } else {
            args.loss.clone()
        }
    };
    let result: Result<(Table, Vec<Chart>), String> = match args.scenario {
        Scenario::Dissemination => {
            dissemination_suite(&params, &args.nodes, &losses(&[0.0]), &mut progress)
        }
        Scenario::Crash => side_by_side(&params, &rules, |p| {
            crash_suite(p, &args.nodes, &losses(&[0.0, 0.05, 0.2]), &mut progress)
        }),
        Scenario::Flaky => side_by_side(&params, &rules, |p| {
            flaky_suite(
                p,
                &args.nodes,
                args.inbound_loss,
                args.duration.unwrap_or(Duration::from_secs(120)),
                losses(&[0.0]).first().copied().unwrap_or(0.0),
                &mut progress,
            )
        }),
        Scenario::Tradeoff => tradeoff_suite(
            &params,
            &args.nodes,
            &losses(&[0.3]),
            args.duration.unwrap_or(Duration::from_secs(600)),
            &if args.rules.is_empty() {
                SuspicionRule::ALL.to_vec()
            } else {
                args.rules.clone()
            },
            &if args.confirmed_mult.is_empty() {
                vec![1, 2, 3, 4]
            } else {
                args.confirmed_mult.clone()
            },
            &args.probe_timeout,
            &mut progress,
        ),
        Scenario::Load => load_suite(
            &params,
            &args.nodes,
            args.duration.unwrap_or(Duration::from_secs(60)),
            &mut progress,
        ),
        Scenario::Join => join_suite(&params, &args.nodes, &losses(&[0.0]), &mut progress),
        Scenario::Events => user_event_suite(
            &params,
            &args.nodes,
            &losses(&[0.0, 0.1, 0.2]),
            args.duration.unwrap_or(Duration::from_secs(60)),
            &mut progress,
        ),
        Scenario::FalsePositives => side_by_side(&params, &rules, |p| {
            false_positives_suite(
                p,
                &args.nodes,
                &losses(&[0.0, 0.1, 0.2, 0.3]),
                args.duration.unwrap_or(Duration::from_secs(600)),
                &mut progress,
            )
        }),
    };
    let (mut table, charts) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rumor sim: {e}");
            return ExitCode::from(1);
        }
    };
    let mut extra = String::new();
    if !args.rules.is_empty() {
        extra += &format!(" --rules {}", join(&args.rules));
    }
    if !args.confirmed_mult.is_empty() {
        extra += &format!(" --confirmed-mult {}", join(&args.confirmed_mult));
    }
    if let Some(p) = args.probe_interval {
        extra += &format!(" --probe-interval {}ms", p.as_millis());
    }
    if !args.probe_timeout.is_empty() {
        let t: Vec<String> = args
            .probe_timeout
            .iter()
            .map(|t| format!("{}ms", t.as_millis()))
            .collect();
        extra += &format!(" --probe-timeout {}", t.join(","));
    }
    if args.scenario == Scenario::Flaky {
        extra += &format!(" --inbound-loss {}", args.inbound_loss);
    }
    if let Some(d) = args.duration {
        extra += &format!(" --duration {}s", d.as_secs_f64());
    }
    table.notes.push(format!(
        "rumor sim {} --nodes {} --seed {} --runs {} --profile {} --latency {}{}{extra}",
        args.scenario
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string()),
        join(&args.nodes),
        args.seed,
        args.runs,
        args.profile,
        args.latency,
        if args.loss.is_empty() {
            String::new()
        } else {
            format!(" --loss {}", join(&args.loss))
        }
    ));
    if let Some(path) = &args.csv
        && let Err(e) = std::fs::write(path, table.to_csv())
    {
        eprintln!("rumor sim: cannot write {}: {e}", path.display());
        return ExitCode::from(1);
    }
    if let Some(path) = &args.plot
        && let Err(e) = write_svg(path, &charts)
    {
        eprintln!("rumor sim: cannot draw {}: {e}", path.display());
        return ExitCode::from(1);
    }
    let wall = start.elapsed().as_secs_f64();
    let peak = peak_memory_mib();
    let text = if args.json {
        let mut j = table.to_json();
        j["wall_s"] = json!(wall);
        j["peak_memory_mib"] = json!(peak);
        j.to_string()
    } else {
        let cost = match peak {
            Some(p) => format!("wall time {wall:.2} s, peak memory (VmHWM) {p:.1} MiB"),
            None => format!("wall time {wall:.2} s, peak memory unknown (no /proc)"),
        };
        let body = if args.summary {
            format!("{}\n\n{}\n", table.title, table.notes.join("\n\n"))
        } else {
            table.to_markdown()
        };
        format!("{body}\n{cost}")
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    ExitCode::SUCCESS
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Wall seconds between two progress lines of one long run.
const PULSE_EVERY_S: f64 = 5.0;

/// A pulse callback printing, every few seconds of wall time, how far the run is in virtual
/// time, how many events (deadlines and deliveries) it processes per second, and when it ends
/// at the latest at the current pace (a run whose condition holds earlier ends earlier).
fn pulse_printer(start: Instant) -> PulseFn {
    let last = Cell::new((start.elapsed().as_secs_f64(), 0u64, Duration::ZERO));
    PulseFn(Rc::new(move |p: &Pulse| {
        let wall = start.elapsed().as_secs_f64();
        let (then, steps, virt) = last.get();
        if p.steps < steps || p.now < virt {
            // A new run started since the last line: measure from here.
            last.set((wall, p.steps, p.now));
            return;
        }
        let dt = wall - then;
        if dt < PULSE_EVERY_S {
            return;
        }
        let rate = (p.steps - steps) as f64 / dt;
        let pace = (p.now - virt).as_secs_f64() / dt;
        let left = p.until.saturating_sub(p.now).as_secs_f64();
        let eta = if pace > 0.0 {
            format!("ETA at most {}", short_duration(left / pace))
        } else {
            "no ETA yet".to_string()
        };
        eprintln!(
            "[{wall:>7.1}s]   virtual {:.1} s of at most {:.1} s, {:.0}k events/s, {pace:.2} virtual s per s, {eta}",
            p.now.as_secs_f64(),
            p.until.as_secs_f64(),
            rate / 1e3,
        );
        last.set((wall, p.steps, p.now));
    }))
}

/// Seconds as `42s`, `13m05s` or `2h10m`.
fn short_duration(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The wall clock, only to report how long a run took; virtual time never reads it.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}
