//! The measured scenarios behind `rumor sim`: one function per run (a cluster of N, one seed)
//! returning what was measured, and one suite per scenario turning runs over N (and loss) into
//! a [`Table`](super::report::Table) and [`Chart`](super::report::Chart)s.
//!
//! Every run starts from a formed cluster ([`Sim::formed`]), lets it settle for a few protocol
//! periods, then does its one thing. Every wait is bounded in virtual time; a condition that
//! never held shows as a missing cell, not a hang.

mod compare;
mod crash;
mod dissemination;
mod events;
mod false_positives;
mod flaky;
mod join;
mod load;

use std::time::Duration;

use crate::config::{Config, Profile, SuspicionRule};
use crate::hash::splitmix64;

use super::{Latency, PulseFn, Sim, SimConfig, SimError};

pub use compare::{side_by_side, tradeoff_suite};
pub use crash::{Crash, crash, crash_suite};
pub use dissemination::{Dissemination, dissemination, dissemination_suite, lambda_log_n};
pub use events::{UserEventSpread, user_event, user_event_suite};
pub use false_positives::{FalsePositives, false_positives, false_positives_suite};
pub use flaky::{Flaky, FlakySpec, flaky, flaky_suite};
pub use join::{Join, join, join_suite};
pub use load::{Load, load, load_suite};

/// How long a bounded wait took, or `None` when its condition never held in time (a missing
/// cell in the table); a livelock is an error, reported with `run` (the run's seed and size).
fn waited(outcome: Result<Duration, SimError>, run: &str) -> Result<Option<Duration>, String> {
    match outcome {
        Ok(d) => Ok(Some(d)),
        Err(SimError::Timeout { .. } | SimError::Idle { .. }) => Ok(None),
        Err(e) => Err(format!("{run}: {e}")),
    }
}

/// Whether `ok` holds for every one of `0..n`, asked after every step of a run: the member
/// that failed last time (`blocker`) is asked first, and only when it now passes are all
/// asked again (from the start, so the answer is exactly that of asking all). A condition
/// over N members asked after each of millions of steps would otherwise cost O(N) a step:
/// the flaky scenario's did, ~10^9 lookups per virtual second at 10,000 members.
fn all_with_blocker(n: usize, blocker: &mut usize, ok: impl Fn(usize) -> bool) -> bool {
    if *blocker < n && !ok(*blocker) {
        return false;
    }
    match (0..n).find(|&i| !ok(i)) {
        Some(i) => {
            *blocker = i;
            false
        }
        None => true,
    }
}

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
    /// Changes to the profile's timings, for comparing rules and sweeping parameters.
    pub knobs: Knobs,
    /// Called now and then during each run (see [`Sim::set_pulse`]).
    pub pulse: Option<PulseFn>,
}

/// Changes to a profile's node config that a sweep varies; `None` keeps the profile's value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Knobs {
    /// `Config::suspicion_rule`.
    pub rule: Option<SuspicionRule>,
    /// `Config::confirmed_suspicion_mult`.
    pub confirmed_mult: Option<u32>,
    /// `Config::probe_timeout`.
    pub probe_timeout: Option<Duration>,
    /// `Config::probe_interval`.
    pub probe_interval: Option<Duration>,
}

impl Knobs {
    /// Applies the changes to `c`.
    pub fn apply(&self, c: &mut Config) {
        if let Some(r) = self.rule {
            c.suspicion_rule = r;
        }
        if let Some(m) = self.confirmed_mult {
            c.confirmed_suspicion_mult = m.min(c.suspicion_mult);
        }
        if let Some(p) = self.probe_interval {
            c.probe_interval = p;
        }
        if let Some(t) = self.probe_timeout {
            c.probe_timeout = t;
        }
    }

    /// The rule these knobs give on top of `profile`.
    pub fn rule_of(&self, profile: Profile) -> SuspicionRule {
        self.rule
            .unwrap_or_else(|| SimConfig::new(1, profile, 0).template.suspicion_rule)
    }
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
            knobs: Knobs::default(),
            pulse: None,
        }
    }

    /// The same parameters under another suspicion rule.
    pub fn with_rule(&self, rule: SuspicionRule) -> Self {
        let mut p = self.clone();
        p.knobs.rule = Some(rule);
        p
    }

    /// The simulation config of one run: the profile with the knobs applied.
    pub fn sim_config(&self, n: usize, loss: f64, seed: u64) -> SimConfig {
        let mut c = SimConfig::new(n, self.profile, seed);
        self.knobs.apply(&mut c.template);
        c.latency = self.latency;
        c.loss = loss;
        c
    }

    pub(super) fn sim(&self, n: usize, loss: f64, seed: u64) -> Result<Sim, String> {
        let mut c = SimConfig::new(n, self.profile, seed);
        self.knobs.apply(&mut c.template);
        c.latency = self.latency;
        c.loss = loss;
        let mut sim = Sim::formed(c).map_err(|e| e.to_string())?;
        sim.set_pulse(self.pulse.clone());
        Ok(sim)
    }

    pub(super) fn probe_interval(&self) -> Duration {
        self.sim_config(1, 0.0, 0).template.probe_interval
    }
}

/// The seed of one run: a mix of the base seed, N, the loss rate and the run number, so one
/// row of a table replays alone with the same `--seed`.
pub fn run_seed(base: u64, n: usize, loss: f64, run: usize) -> u64 {
    splitmix64(
        base ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ ((loss * 1e6) as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)
            ^ (run as u64).wrapping_mul(0x94d0_49bb_1331_11eb),
    )
}

/// A progress callback: (message). Suites call it before each run.
pub type Progress<'a> = &'a mut dyn FnMut(&str);
