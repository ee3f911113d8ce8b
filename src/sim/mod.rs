//! A deterministic discrete-event simulator of many SWIM nodes: the same sans-IO
//! [`Swim`] cores the runtime drives over UDP, here driven by a virtual clock and a virtual
//! network ([`network`]), in one thread, as fast as the CPU allows.
//!
//! ```text
//!   timers: BinaryHeap<(deadline, node)>      deliveries: BinaryHeap<(at, seq, packet)>
//!                     \                               /
//!                      `--- step(): the earlier one --'
//!                               |
//!        handle_timeout(now) / handle_datagram(now, from, bytes) on one core
//!                               |
//!        drain poll_transmit -> network.judge (loss, partition, latency) -> deliveries
//!        drain poll_event    -> the event log and the trace hash
//!        poll_timeout        -> re-push (deadline, node) if it changed
//! ```
//!
//! Each step is O(log N): a core's deadline sits in one global heap and stale entries (the
//! deadline moved) are skipped when they surface, never searched for. The clock jumps straight
//! to the next deadline or delivery. One seed drives every core's RNG and the network's, and
//! ties are broken by sequence numbers, so a seed replays a run exactly; [`Sim::trace_hash`]
//! digests every delivery and event to check that.
//!
//! Nodes are numbered `0..n` and live at virtual addresses `127.x.y.z:7946` (node `i` at
//! `127.0.0.1 + i`); nothing is ever sent to them. Faults: [`crash`](Sim::crash) (stop driving
//! a node), [`pause`](Sim::pause) (a node stops processing for a while; what arrives meanwhile
//! is held or dropped), [`restart`](Sim::restart), and the network's partitions and drop rates
//! through [`net_mut`](Sim::net_mut).
//!
//! # Memory
//!
//! N cores each hold a member table of N - 1 rows: N² rows is what a simulation of N would
//! cost if each kept its own, so what the tables share decides how large N can be:
//!
//! - **Identities** (name, address, tags): one `Arc<Identity>` per node, pointed to by every
//!   row about it (8 bytes a row). A member that changes its tags gets a new `Arc` in the tables
//!   that heard. A row learned from the wire (a join, a sync, gossip about a newcomer)
//!   points at the directory's `Arc` when its name, address and tags are equal, so a table
//!   filled by joins costs what a bootstrapped one does (it allocated ~100 bytes of identity a
//!   row before: ~10 GB at 10,000 joining nodes).
//! - **Lookups by name and by address**: one [`Directory`] of all nodes' identities, built once
//!   and shared by every core (`SimConfig::shared_directory`, on by default). A table filled
//!   row by row keeps an array from directory number to row position (4 bytes a row; a formed
//!   one less, below) instead of two hash indexes of its own (~10 bytes a row at 10,000:
//!   16,384 buckets of 5 bytes each, twice); it still
//!   indexes by itself what the directory does not cover (a stranger, a member at an address
//!   the directory does not list for it). The directory never changes, so nothing locks.
//! - **Rows**: a formed cluster's tables ([`Sim::formed`]) start alike, every node with every
//!   other Alive at incarnation 0 since time 0, so they read their rows from one immutable
//!   base held by the directory (one 24-byte row per node, once) and keep only the rows they
//!   changed (copy on write, ~40 bytes each in a hash map by position): the members they
//!   probed (their round trip), the members a change reached them about, the rows a departure
//!   moved. A table also finds a base row through the directory without a slot of its own,
//!   and keeps only the directory numbers whose rows moved.
//! - **Probe order**: the members not probed yet this round are a pool drawn from at random,
//!   kept as the few array slots that no longer hold their own position (~12 bytes per member
//!   probed this round) rather than all N.
//!
//! So a table costs what it changed, not N: at 0-5 % loss a few hundred rows per table in
//! ten virtual minutes. A table filled through joins holds every row itself (24 bytes, plus
//! the 4-byte directory slot), and a row that changes stays changed, so heavy loss (every
//! member suspected and refuted by every other) brings a table back to N rows at ~40 bytes.
//! Exactness is kept by construction: rows, positions and every random draw are the same
//! whichever way rows and lookups are kept, and nothing iterates an index or a hash map to
//! decide anything; `tests/sim_determinism.rs` checks that shared and plain tables give the
//! same trace hash, and the member table's tests drive a shared and a plain table through
//! the same thousands of random changes.
//!
//! What a run holds besides the tables is bounded whatever the loss: every core's gossip
//! queue (1,024 items, each an `Update` and its place in the send order, 104 bytes in a slab,
//! plus that place in an ordered map and its name in an index; at 20 % loss every queue is
//! full), its timer heap (swept of dead
//! suspicion timers when it doubles), the
//! datagrams in flight (what the cores send in a few milliseconds of latency), and the
//! scenarios' event logs ([`Sim::run_watching`] forgets them every 10 ms of virtual time). What is
//! not bounded below N per core is the running suspicions a core holds under heavy loss (at
//! most one per member): rules, not representation.

mod addr;
pub mod cli;
mod config;
pub mod network;
mod nodes;
mod pulse;
pub mod report;
mod run;
pub mod scenario;
mod trace;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::ConfigError;
use crate::event::EventKind;
use crate::member::NodeName;
use crate::proto::{Directory, Identity, Swim};

pub use addr::{MAX_NODES, PORT, addr_of, index_of, name_of};
pub use config::SimConfig;
pub use network::{Latency, NetStats, Network, Verdict};
pub use pulse::{PULSE_STEPS, Pulse, PulseFn};
use trace::Trace;

/// Datagrams a paused node holds for later; more are dropped (a real socket buffer is finite).
const HOLD_LIMIT: usize = 4096;
/// Datagrams taken from one core after one input before the rest wait for its next input; only
/// a core bug would reach it.
const MAX_TRANSMITS_PER_INPUT: usize = 1 << 20;
/// Steps allowed without the clock moving before a run is declared livelocked.
const MAX_STEPS_WITHOUT_PROGRESS: u64 = 1 << 22;

/// Whether a node is being driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Running normally.
    Up,
    /// Stopped for good (until [`Sim::restart`]): no timers, arriving datagrams dropped.
    Crashed,
    /// Not processing until the given virtual time; arriving datagrams are held (delivered
    /// on resume, up to a bound) or dropped.
    Paused {
        /// When it resumes, as time since the simulation started.
        until: Duration,
        /// Hold arriving datagrams (true) or drop them (false).
        hold: bool,
    },
}

/// One membership event as the simulator records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimEvent {
    /// Virtual time since the simulation started.
    pub at: Duration,
    /// The node that observed it.
    pub node: u32,
    /// What it observed.
    pub kind: EventKind,
    /// The node it is about.
    pub member: u32,
    /// The member's incarnation in the event.
    pub incarnation: u32,
}

/// Why a bounded run stopped without its condition holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The condition did not hold within the allowed virtual time.
    Timeout {
        /// Virtual time spent waiting.
        waited: Duration,
        /// Virtual time when it gave up.
        at: Duration,
    },
    /// Nothing is left to happen (every node crashed or left) and the condition does not hold.
    Idle {
        /// Virtual time when the simulation ran out of work.
        at: Duration,
    },
    /// Millions of steps without the clock moving: a core keeps asking to be woken in the past.
    Livelock {
        /// Virtual time where the clock got stuck.
        at: Duration,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Timeout { waited, at } => write!(
                f,
                "condition not met after {waited:?} of virtual time (at {at:?})"
            ),
            SimError::Idle { at } => {
                write!(f, "nothing left to simulate at {at:?}, condition not met")
            }
            SimError::Livelock { at } => write!(f, "virtual clock stuck at {at:?}: livelock"),
        }
    }
}

impl std::error::Error for SimError {}

struct Slot {
    swim: Swim,
    state: NodeState,
    /// The deadline this node has in the timer heap; other heap entries for it are stale.
    deadline: Option<u64>,
    held: Vec<(u32, Vec<u8>)>,
}

/// A datagram in flight. Ordered by arrival time, then by send order.
struct Delivery {
    at: u64,
    seq: u64,
    from: u32,
    to: u32,
    bytes: Vec<u8>,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Many SWIM cores, a virtual clock and a virtual network. See the [module docs](self).
pub struct Sim {
    config: SimConfig,
    epoch: Instant,
    /// Virtual nanoseconds since `epoch`.
    now: u64,
    slots: Vec<Slot>,
    timers: BinaryHeap<Reverse<(u64, u32)>>,
    deliveries: BinaryHeap<Reverse<Delivery>>,
    net: Network,
    /// Seeds the cores (at creation and restart); separate from the network's RNG.
    seeder: SmallRng,
    seq: u64,
    pool: Vec<Vec<u8>>,
    events: Vec<SimEvent>,
    record_events: bool,
    trace: Trace,
    steps: u64,
    pulse: Option<PulseFn>,
    /// The bound of the [`run_watching`](Sim::run_watching) under way, for pulses.
    watch_limit: Option<u64>,
    /// The step count at which the bounded run under way pulses next (kept across the
    /// 10 ms chunks of a watched run, each of them fewer steps than a pulse).
    next_pulse: u64,
    /// Every node's identity, shared by every core's member table (`shared_directory`).
    directory: Option<Arc<Directory>>,
}

impl Sim {
    /// Nodes that know nothing of each other yet: call [`join_all`](Self::join_all) (or
    /// [`join`](Self::join) per node) to form a cluster through the protocol.
    pub fn new(config: SimConfig) -> Result<Self, ConfigError> {
        let mut sim = Self::empty(config)?;
        for i in 0..sim.config.nodes {
            let swim = sim.make_core(i)?;
            sim.slots.push(Slot {
                swim,
                state: NodeState::Up,
                deadline: None,
                held: Vec::new(),
            });
        }
        Ok(sim)
    }

    /// A cluster that is already formed: every node starts with every other in its table as
    /// Alive (through [`Swim::bootstrap_directory`], which reads the rows from one shared
    /// copy, or [`Swim::bootstrap`] with plain tables, one shared `Arc<Identity>` per member) and starts
    /// probing at a random phase. This is how large simulations start; forming a 10,000-node
    /// cluster through joins would itself take minutes of virtual time.
    pub fn formed(config: SimConfig) -> Result<Self, ConfigError> {
        let mut sim = Self::new(config)?;
        let ids = match &sim.directory {
            Some(dir) => dir.identities().to_vec(),
            None => identities(&sim.config)?,
        };
        let now = sim.instant();
        for i in 0..sim.slots.len() {
            if let Some(slot) = sim.slots.get_mut(i) {
                if !slot.swim.bootstrap_directory(now) {
                    slot.swim.bootstrap(now, ids.iter().cloned());
                }
                slot.swim.join(now, &[]);
            }
            sim.after_input(i);
        }
        Ok(sim)
    }

    fn empty(config: SimConfig) -> Result<Self, ConfigError> {
        if config.nodes > MAX_NODES {
            return Err(ConfigError {
                field: "nodes",
                reason: format!("({}) must be at most {MAX_NODES}", config.nodes),
            });
        }
        config.template.validate()?;
        let mut seeder = SmallRng::seed_from_u64(config.seed);
        let net_rng = SmallRng::seed_from_u64(seeder.random());
        let net = Network::new(config.latency, config.loss, net_rng);
        let directory = match config.shared_directory {
            true => Some(Arc::new(Directory::new(identities(&config)?))),
            false => None,
        };
        Ok(Sim {
            directory,
            epoch: virtual_epoch(),
            now: 0,
            slots: Vec::with_capacity(config.nodes),
            timers: BinaryHeap::with_capacity(config.nodes * 2),
            deliveries: BinaryHeap::new(),
            net,
            seeder,
            seq: 0,
            pool: Vec::new(),
            events: Vec::new(),
            record_events: true,
            trace: Trace::new(),
            steps: 0,
            pulse: None,
            watch_limit: None,
            next_pulse: 0,
            config,
        })
    }

    fn make_core(&mut self, i: usize) -> Result<Swim, ConfigError> {
        let seed = self.seeder.random();
        let mut swim = Swim::new(self.config.node_config(i), seed, self.instant())?;
        if let Some(dir) = &self.directory {
            swim.share_directory(Arc::clone(dir));
        }
        Ok(swim)
    }

    // ---- time ----

    /// Virtual time since the simulation started.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// The current virtual time as the `Instant` the cores see.
    pub fn instant(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.now)
    }

    /// The `Instant` the cores saw when the simulation started.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }
}

/// Node `i`'s identity for each node, as it starts: its name, address and the template's tags.
fn identities(config: &SimConfig) -> Result<Vec<Arc<Identity>>, ConfigError> {
    (0..config.nodes)
        .map(|i| {
            let name = NodeName::new(&name_of(i)).map_err(|reason| ConfigError {
                field: "name",
                reason,
            })?;
            Ok(Arc::new(Identity {
                name,
                addr: addr_of(i),
                tags: config.template.tags.clone(),
            }))
        })
        .collect()
}

/// The one clock read of the simulator: a base `Instant` for the virtual clock (an `Instant`
/// cannot be made any other way). Virtual time is an offset from it and never reads the clock
/// again, so the value does not affect a run.
#[allow(clippy::disallowed_methods)]
fn virtual_epoch() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    #[test]
    fn a_formed_cluster_stays_quiet_and_alive() {
        let mut sim = Sim::formed(SimConfig::new(5, Profile::Lan, 1)).unwrap();
        sim.run_for(Duration::from_secs(30)).unwrap();
        assert_eq!(sim.now(), Duration::from_secs(30));
        assert_eq!(sim.event_count(EventKind::Failed), 0);
        assert!(sim.net().stats().delivered > 100);
        for core in sim.cores() {
            assert_eq!(core.active_members(), 4);
        }
    }

    #[test]
    fn nodes_join_through_one_seed() {
        let mut sim = Sim::new(SimConfig::new(8, Profile::Lan, 2)).unwrap();
        sim.join_all();
        let took = sim
            .run_until(Duration::from_secs(30), |s| {
                s.cores().all(|c| c.active_members() == 7)
            })
            .unwrap();
        assert!(took < Duration::from_secs(30));
    }
}
