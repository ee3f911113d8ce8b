//! Progress of a long run: every [`PULSE_STEPS`] steps of a bounded run
//! ([`Sim::run_until`], [`Sim::run_for`]) the simulator hands a [`Pulse`] to the callback set
//! with [`Sim::set_pulse`]. The simulator itself never reads the wall clock; the callback may
//! (`rumor sim` does, to print events per second and an ETA on stderr).

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::Sim;

/// Steps between two pulses: a fraction of a second of work even when every datagram is full.
pub const PULSE_STEPS: u64 = 1 << 14;

/// Where a bounded run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pulse {
    /// Virtual time reached.
    pub now: Duration,
    /// Virtual time at which the run gives up at the latest (it may end earlier, when its
    /// condition holds).
    pub until: Duration,
    /// Deadlines fired and datagrams delivered since the simulation started.
    pub steps: u64,
}

/// A pulse callback, shared by the runs of a suite.
#[derive(Clone)]
pub struct PulseFn(pub Rc<dyn Fn(&Pulse)>);

impl fmt::Debug for PulseFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PulseFn")
    }
}

impl Sim {
    /// Calls `pulse` every [`PULSE_STEPS`] steps of a bounded run (counted from its start);
    /// `None` stops it.
    pub fn set_pulse(&mut self, pulse: Option<PulseFn>) {
        self.pulse = pulse;
    }

    pub(super) fn pulse(&self, limit: u64) {
        if let Some(PulseFn(f)) = &self.pulse {
            f(&Pulse {
                now: self.now(),
                until: Duration::from_nanos(limit),
                steps: self.steps,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::sim::SimConfig;
    use std::cell::RefCell;

    #[test]
    fn a_long_run_pulses_with_its_bound_and_the_same_trace() {
        let run = |pulse: Option<PulseFn>| {
            let mut sim = Sim::formed(SimConfig::new(100, Profile::Lan, 3)).unwrap();
            sim.set_pulse(pulse);
            sim.run_for(Duration::from_secs(180)).unwrap();
            (sim.trace_hash(), sim.steps())
        };
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&seen);
        let with = run(Some(PulseFn(Rc::new(move |p: &Pulse| {
            log.borrow_mut().push(*p)
        }))));
        assert_eq!(with, run(None), "pulses do not change the run");
        let seen = seen.borrow();
        assert!(with.1 > 2 * PULSE_STEPS, "{} steps", with.1);
        assert_eq!(
            seen.len() as u64,
            with.1 / PULSE_STEPS,
            "one pulse per PULSE_STEPS steps"
        );
        assert!(
            seen.windows(2)
                .all(|w| w[0].now <= w[1].now && w[0].steps < w[1].steps)
        );
        assert!(
            seen.iter()
                .all(|p| p.until == Duration::from_secs(180) && p.now <= p.until)
        );
    }

    /// A watched run runs in 10 ms chunks, each fewer steps than a pulse: it still pulses
    /// every PULSE_STEPS steps of the whole run, with the whole run's bound.
    #[test]
    fn a_watched_run_pulses_across_its_chunks() {
        let mut sim = Sim::formed(SimConfig::new(100, Profile::Lan, 3)).unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&seen);
        sim.set_pulse(Some(PulseFn(Rc::new(move |p: &Pulse| {
            log.borrow_mut().push(*p)
        }))));
        let limit = Duration::from_secs(240);
        let _ = sim.run_watching(limit, |_| false);
        let seen = seen.borrow();
        assert!(sim.steps() > 2 * PULSE_STEPS, "{} steps", sim.steps());
        assert_eq!(seen.len() as u64, sim.steps() / PULSE_STEPS);
        assert!(seen.iter().all(|p| p.until == limit));
    }
}
