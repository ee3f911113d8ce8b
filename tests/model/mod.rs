//! The model: real `Swim` cores, a network of in-flight datagrams and a virtual clock, as a
//! `stateright::Model`. The checker explores every order of the actions below; the properties
//! look only at what a host sees of a core (`members()`, `local()`, events, datagrams), so the
//! model keeps working while the protocol's internals change.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumor::proto::Identity;
use rumor::{Config, MemberState, NodeName, Profile, Status, Swim};
use stateright::{Model, Property};

mod observe;
mod replay;
pub(crate) mod traces;

pub(crate) use observe::{bad, observe_event, observe_queues, observe_view};
pub(crate) use replay::{replay, rust_steps};

/// One step of virtual time. Every timer in the cluster's config is a small multiple of it, so
/// that a whole failure detection fits in a few dozen steps.
pub(crate) const QUANTUM: Duration = Duration::from_millis(100);

/// Which schedule the checker explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Anything goes within the bounds: delay, reorder, duplicate, drop, crash, pause, leave.
    /// Checked: the safety properties.
    Safety,
    /// Fair and loss-free: every datagram is delivered (in any order) before time advances,
    /// timers fire on time; at most one crash, at most one user event. Checked: the liveness
    /// properties, by the end of the time horizon.
    Liveness,
}

/// The bounds of one check.
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    /// Members in the cluster.
    pub members: usize,
    /// At most this many ticks (timer rounds).
    pub max_ticks: u32,
    /// Virtual time ends here: no tick goes past it.
    pub horizon: Duration,
    /// Datagrams in flight at once; more are lost (a flag in liveness mode, see [`bad::OVERFLOW`]).
    pub max_in_flight: usize,
    /// Datagrams the network may drop (safety mode).
    pub max_drops: u8,
    /// Datagrams the network may deliver twice (safety mode).
    pub max_dups: u8,
    /// Members that may crash.
    pub max_crashes: u8,
    /// Members that may leave (safety mode).
    pub max_leaves: u8,
    /// Members that may miss one tick's timers, i.e. pause (safety mode).
    pub max_pauses: u8,
    /// User events broadcast.
    pub max_broadcasts: u8,
    /// Crashes and broadcasts happen no later than this (liveness mode: room to detect).
    pub act_by: Duration,
    /// Steps a schedule may take, counted in the state (so that a state reached in fewer
    /// steps is a different state, explored again): a depth bound that a depth-first search
    /// honours exactly. `None` leaves depth to the checker (breadth-first).
    pub max_steps: Option<u8>,
}

/// What the checker may do next. A datagram is named by its channel and its place in it, not
/// by where it sits in the network, so that a schedule replays step by step ([`replay`]) and
/// its `Debug` form is Rust that a test can paste (`use Action::*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// Deliver the `n`th datagram `from` sent `to`.
    Deliver { from: usize, to: usize, n: u32 },
    /// Deliver it and keep a copy in flight.
    Duplicate { from: usize, to: usize, n: u32 },
    /// Lose it.
    Drop { from: usize, to: usize, n: u32 },
    /// Advance virtual time to the next deadline of any core, rounded up to a whole quantum
    /// (empty quanta are skipped); every core with a due timer handles it, except a paused
    /// one, which only wakes up.
    Tick,
    /// The member stops for good, silently.
    Crash(usize),
    /// The member misses the next tick's timers (they fire late, at the one after).
    Pause(usize),
    /// The member leaves gracefully.
    Leave(usize),
    /// The member broadcasts a user event.
    Broadcast(usize),
}

impl Action {
    /// The datagram this action moves, as (from, to, n).
    pub(crate) fn datagram(&self) -> Option<(usize, usize, u32)> {
        match *self {
            Action::Deliver { from, to, n }
            | Action::Duplicate { from, to, n }
            | Action::Drop { from, to, n } => Some((from, to, n)),
            _ => None,
        }
    }
}

/// A datagram in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Datagram {
    /// Sender's index.
    pub from: usize,
    /// Receiver's index.
    pub to: usize,
    /// Its place among the datagrams `from` sent to `to` (a channel's FIFO order).
    pub n: u32,
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
}

/// One real core and what the model remembers about it.
#[derive(Clone)]
pub(crate) struct Node {
    /// The core under test.
    pub swim: Swim,
    /// A hash of every input given to this core so far. The core is deterministic (its seed is
    /// fixed), so equal input histories mean equal cores: this is its fingerprint for the
    /// checker's state hashing, exact without reading the core's internals.
    pub inputs: u64,
    /// Crashed: no more inputs.
    pub crashed: bool,
    /// Skips the next tick's timers.
    pub paused: bool,
    /// Per subject: the highest incarnation at which this member saw it Dead or Left, and
    /// whether it saw it Left.
    pub verdicts: BTreeMap<String, (u32, bool)>,
    /// The highest own incarnation seen.
    pub incarnation: u32,
    /// User events delivered, by (origin, Lamport time).
    pub delivered: Vec<(String, u64)>,
    /// Datagrams sent so far to each member, by index.
    pub sent_to: Vec<u32>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut view: Vec<String> = self
            .swim
            .members()
            .iter()
            .map(|m| format!("{}:{:?}@{}", m.name, m.state, m.incarnation.0))
            .collect();
        view.sort();
        write!(
            f,
            "{} {:?} inc={} crashed={} view=[{}] events={:?}",
            self.swim.local().name,
            self.swim.status(),
            self.swim.local().incarnation.0,
            self.crashed,
            view.join(" "),
            self.delivered
        )
    }
}

impl Hash for Node {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.inputs.hash(h);
        self.crashed.hash(h);
        self.paused.hash(h);
        self.verdicts.hash(h);
        self.incarnation.hash(h);
        self.delivered.hash(h);
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.inputs == other.inputs
            && self.crashed == other.crashed
            && self.paused == other.paused
            && self.verdicts == other.verdicts
            && self.incarnation == other.incarnation
            && self.delivered == other.delivered
    }
}

/// The faults and broadcasts a schedule has spent, against [`Bounds`].
#[derive(Clone, Debug, Default, PartialEq, Hash)]
pub(crate) struct Used {
    pub drops: u8,
    pub dups: u8,
    pub crashes: u8,
    pub leaves: u8,
    pub pauses: u8,
    pub broadcasts: u8,
}

/// The whole cluster at one point of one schedule.
#[derive(Clone, Debug, PartialEq, Hash)]
pub(crate) struct State {
    /// The members, by index.
    pub nodes: Vec<Node>,
    /// In flight, sorted (so that the order datagrams were sent in does not split states).
    pub net: Vec<Datagram>,
    /// Ticks taken.
    pub tick: u32,
    /// Virtual time since the epoch, in quanta.
    pub at: u32,
    /// How much of each fault budget the schedule has spent.
    pub used: Used,
    /// Safety flags raised so far (see [`bad`]).
    pub bad: u16,
    /// Steps taken, when [`Bounds::max_steps`] counts them (else always 0).
    pub steps: u8,
}

impl State {
    /// Where the datagram an action names sits in the network, if it is in flight.
    pub(crate) fn find(&self, action: &Action) -> Option<usize> {
        let (from, to, n) = action.datagram()?;
        self.net
            .iter()
            .position(|d| (d.from, d.to, d.n) == (from, to, n))
    }
}

/// The checked model.
#[derive(Clone)]
pub(crate) struct Cluster {
    /// What the checker explores.
    pub(crate) mode: Mode,
    /// Its limits.
    pub bounds: Bounds,
    /// The fixed start of virtual time.
    pub epoch: Instant,
    /// Where the search starts, if not from the mode's usual start: a loss-free schedule
    /// (replayed under these liveness bounds) whose end state becomes the initial state, with
    /// every fault budget unspent. A verdict takes a dozen ticks, too deep for the exhaustive
    /// search to reach by itself; starting next to one puts every fault around it in reach.
    pub start: Option<(Bounds, &'static [Action])>,
}

/// Member `i`'s address.
pub(crate) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16))
}

fn index_of(a: SocketAddr) -> Option<usize> {
    (a.port() as usize).checked_sub(7000)
}

/// Member `i`'s name.
pub(crate) fn name(i: usize) -> String {
    format!("n{i}")
}

/// The config every model member runs: every period a few quanta long, so that probe, suspicion,
/// verdict and refutation all fit in the horizon.
pub(crate) fn config(i: usize) -> Config {
    let mut c = Config::new(Profile::Lan, name(i), addr(i));
    c.probe_interval = 3 * QUANTUM;
    c.probe_timeout = QUANTUM;
    c.gossip_interval = QUANTUM;
    // Two gossip targets a round: every other member of a 3-member cluster. With one, the
    // checker found a schedule where a user event's every retransmission went to a member that
    // had just crashed, so the third never got it: with push-pull off (below, to keep the
    // space small) nothing repairs that. It is the known price of gossip without
    // anti-entropy, not a rule bug; docs/MODEL.md records it.
    c.gossip_nodes = 2;
    c.suspicion_mult = 1;
    // The evidence rule (issue 12) ends a confirmed suspicion after this many minimums; it may
    // not exceed suspicion_mult.
    c.confirmed_suspicion_mult = 1;
    c.suspicion_max_timeout_mult = 2;
    c.push_pull_interval = Duration::ZERO;
    c.join_timeout = 20 * QUANTUM;
    c.leave_timeout = 3 * QUANTUM;
    c
}

/// A fixed epoch for virtual time: only offsets from it matter, and it is read once.
pub(crate) fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

impl Cluster {
    fn now(&self, at: u32) -> Instant {
        self.epoch + QUANTUM * at
    }

    /// Where the next tick would take virtual time, in quanta: the earliest deadline of a
    /// running core, rounded up to a quantum.
    fn next_tick(&self, s: &State) -> Option<u32> {
        let next = s
            .nodes
            .iter()
            .filter(|n| !n.crashed)
            .filter_map(|n| n.swim.poll_timeout())
            .min()?;
        let since = next.saturating_duration_since(self.epoch);
        let q = since.as_nanos().div_ceil(QUANTUM.as_nanos());
        Some(u32::try_from(q).unwrap_or(u32::MAX).max(s.at))
    }

    /// Drains a core's outputs after an input: datagrams go in flight, events are checked.
    fn drain(&self, s: &mut State, i: usize) {
        let budget = config(i).packet_budget;
        let mut buf = Vec::new();
        while let Some(to) = s.nodes[i].swim.poll_transmit(&mut buf) {
            if buf.len() > budget {
                s.bad |= bad::OVER_BUDGET;
            }
            let Some(to) = index_of(to).filter(|t| *t < s.nodes.len()) else {
                continue;
            };
            if s.net.len() >= self.bounds.max_in_flight {
                if self.mode == Mode::Liveness {
                    s.bad |= bad::OVERFLOW;
                }
                continue;
            }
            s.nodes[i].sent_to[to] += 1;
            let d = Datagram {
                from: i,
                to,
                n: s.nodes[i].sent_to[to],
                bytes: buf.clone(),
            };
            let at = s.net.binary_search(&d).unwrap_or_else(|e| e);
            s.net.insert(at, d);
        }
        let me = name(i);
        let node = &mut s.nodes[i];
        while let Some(e) = node.swim.poll_event() {
            s.bad |= observe_event(
                node,
                &me,
                e.kind,
                &e.member.name,
                e.member.incarnation.0,
                e.user.as_ref().map(|u| (u.origin.to_string(), u.ltime.0)),
            );
        }
        s.bad |= observe_view(node, &me);
        s.bad |= observe_queues(
            node,
            self.bounds.members,
            usize::from(self.bounds.max_broadcasts),
        );
    }

    fn live(&self, s: &State, i: usize) -> bool {
        let n = &s.nodes[i];
        !n.crashed && !matches!(n.swim.status(), Status::Left | Status::Leaving)
    }
}

/// One input to a core, at a virtual time in quanta: what its fingerprint is made of.
#[derive(Hash)]
enum Input<'a> {
    /// A datagram from member `.1`.
    Datagram(u32, usize, &'a [u8]),
    /// Its due timers.
    Timers(u32),
    Leave(u32),
    Broadcast(u32),
}

/// Folds one input into the core's input-history fingerprint.
fn input(node: &mut Node, what: Input<'_>) {
    let mut h = DefaultHasher::new();
    node.inputs.hash(&mut h);
    what.hash(&mut h);
    node.inputs = h.finish();
}

impl Model for Cluster {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        if let Some((bounds, steps)) = &self.start {
            let fair = Cluster {
                mode: Mode::Liveness,
                bounds: bounds.clone(),
                epoch: self.epoch,
                start: None,
            };
            let mut s = replay(&fair, steps).expect("the starting schedule replays");
            s.used = Used::default();
            s.tick = 0;
            s.steps = 0;
            return vec![s];
        }
        let n = self.bounds.members;
        let now = self.now(0);
        let ids: Vec<Arc<Identity>> = (0..n)
            .map(|i| {
                Arc::new(Identity {
                    name: NodeName::new(&name(i)).expect("a valid name"),
                    addr: addr(i),
                    tags: Default::default(),
                })
            })
            .collect();
        let mut s = State {
            nodes: Vec::new(),
            net: Vec::new(),
            tick: 0,
            at: 0,
            used: Used::default(),
            bad: 0,
            steps: 0,
        };
        for i in 0..n {
            let mut swim = Swim::new(config(i), i as u64 + 1, now).expect("a valid config");
            match self.mode {
                // Safety starts from a formed cluster: the budget of steps goes to faults.
                Mode::Safety => {
                    swim.join(now, &[]);
                    swim.bootstrap(now, ids.iter().cloned());
                }
                // Liveness starts from nothing: n0 founds the cluster, the others join via it.
                Mode::Liveness => {
                    let seeds = if i == 0 { vec![] } else { vec![addr(0)] };
                    swim.join(now, &seeds);
                }
            }
            s.nodes.push(Node {
                swim,
                inputs: 0,
                crashed: false,
                paused: false,
                verdicts: BTreeMap::new(),
                incarnation: 0,
                delivered: Vec::new(),
                sent_to: vec![0; n],
            });
        }
        for i in 0..n {
            self.drain(&mut s, i);
        }
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let b = &self.bounds;
        if b.max_steps.is_some_and(|m| s.steps >= m) {
            return;
        }
        let safety = self.mode == Mode::Safety;
        // Loss-free mode reduces by partial order: deliveries to different members commute
        // exactly here (time stands still between ticks, and each core sees only its own
        // inputs), and every datagram is delivered before the next tick, so delivering to the
        // lowest-numbered receiver first loses no reachable state at a tick. Channels are
        // FIFO in this mode (a fair network need not reorder), so a receiver takes the oldest
        // datagram of any sender, in every order of senders.
        let first_to = s.net.iter().map(|d| d.to).min();
        for (k, d) in s.net.iter().enumerate() {
            // Equal datagrams are one choice, not several.
            if k > 0 && s.net[k - 1] == *d {
                continue;
            }
            if !safety && Some(d.to) != first_to {
                continue;
            }
            if !safety && k > 0 && (s.net[k - 1].from, s.net[k - 1].to) == (d.from, d.to) {
                continue;
            }
            let (from, to, n) = (d.from, d.to, d.n);
            actions.push(Action::Deliver { from, to, n });
            if safety && s.used.dups < b.max_dups {
                actions.push(Action::Duplicate { from, to, n });
            }
            if safety && s.used.drops < b.max_drops {
                actions.push(Action::Drop { from, to, n });
            }
        }
        let fair_ok = safety || s.net.is_empty();
        if s.tick < b.max_ticks
            && fair_ok
            && self.next_tick(s).is_some_and(|t| QUANTUM * t <= b.horizon)
        {
            actions.push(Action::Tick);
        }
        let early = safety || QUANTUM * s.at <= b.act_by;
        let formed = safety || self.formed(s);
        for i in 0..s.nodes.len() {
            if !self.live(s, i) {
                continue;
            }
            if s.used.crashes < b.max_crashes && early && formed && fair_ok {
                actions.push(Action::Crash(i));
            }
            if safety && s.used.leaves < b.max_leaves {
                actions.push(Action::Leave(i));
            }
            if safety && s.used.pauses < b.max_pauses && !s.nodes[i].paused {
                actions.push(Action::Pause(i));
            }
            if s.used.broadcasts < b.max_broadcasts
                && early
                && formed
                && fair_ok
                && s.nodes[i].swim.status() == Status::Running
                && (safety || i == 0)
            {
                actions.push(Action::Broadcast(i));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        if self.bounds.max_steps.is_some() {
            s.steps += 1;
        }
        let now = self.now(s.at);
        match action {
            Action::Deliver { .. } | Action::Duplicate { .. } => {
                let k = s.find(&action)?;
                let d = if matches!(action, Action::Deliver { .. }) {
                    s.net.remove(k)
                } else {
                    s.used.dups += 1;
                    s.net[k].clone()
                };
                if !s.nodes[d.to].crashed {
                    let t = s.at;
                    input(&mut s.nodes[d.to], Input::Datagram(t, d.from, &d.bytes));
                    s.nodes[d.to]
                        .swim
                        .handle_datagram(now, addr(d.from), &d.bytes);
                    self.drain(&mut s, d.to);
                }
            }
            Action::Drop { .. } => {
                let k = s.find(&action)?;
                s.used.drops += 1;
                s.net.remove(k);
            }
            Action::Tick => {
                s.tick += 1;
                s.at = self.next_tick(&s)?;
                let now = self.now(s.at);
                for i in 0..s.nodes.len() {
                    if s.nodes[i].crashed {
                        continue;
                    }
                    let due = s.nodes[i].swim.poll_timeout().is_some_and(|t| t <= now);
                    if due && s.nodes[i].paused {
                        s.nodes[i].paused = false;
                        continue;
                    }
                    if due {
                        let t = s.at;
                        input(&mut s.nodes[i], Input::Timers(t));
                        s.nodes[i].swim.handle_timeout(now);
                        self.drain(&mut s, i);
                    }
                }
            }
            Action::Crash(i) => {
                s.used.crashes += 1;
                s.nodes[i].crashed = true;
            }
            Action::Pause(i) => {
                s.used.pauses += 1;
                s.nodes[i].paused = true;
            }
            Action::Leave(i) => {
                s.used.leaves += 1;
                let t = s.at;
                input(&mut s.nodes[i], Input::Leave(t));
                s.nodes[i].swim.leave(now);
                self.drain(&mut s, i);
            }
            Action::Broadcast(i) => {
                s.used.broadcasts += 1;
                let t = s.at;
                input(&mut s.nodes[i], Input::Broadcast(t));
                s.nodes[i].swim.broadcast(now, "ev", b"x").ok()?;
                self.drain(&mut s, i);
            }
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut p = vec![
            Property::always(
                "verdicts are not overridden at the same incarnation",
                |_, s: &State| s.bad & bad::OVERRIDE == 0,
            ),
            Property::always("own incarnation never decreases", |_, s: &State| {
                s.bad & bad::OWN_INCARNATION == 0
            }),
            Property::always("never suspects itself", |_, s: &State| {
                s.bad & bad::SELF_SUSPECT == 0
            }),
            Property::always("a Left member is never reported Failed", |_, s: &State| {
                s.bad & bad::LEFT_THEN_FAILED == 0
            }),
            Property::always("a user event is delivered at most once", |_, s: &State| {
                s.bad & bad::DUPLICATE_EVENT == 0
            }),
            Property::always("datagrams stay within the packet budget", |_, s: &State| {
                s.bad & bad::OVER_BUDGET == 0
            }),
            Property::always(
                "the piggyback queues stay within their bounds",
                |_, s: &State| s.bad & bad::OVER_QUEUE == 0,
            ),
        ];
        // Reachability, not correctness: a discovery here shows the search got as far as the
        // rules the safety properties are about (a verdict, a Left, a delivered user event).
        p.push(Property::sometimes(
            "reach: a member is seen Dead",
            |_, s: &State| {
                s.nodes
                    .iter()
                    .any(|n| n.verdicts.values().any(|(_, left)| !left))
            },
        ));
        p.push(Property::sometimes(
            "reach: a member is seen Left",
            |_, s: &State| {
                s.nodes
                    .iter()
                    .any(|n| n.verdicts.values().any(|(_, left)| *left))
            },
        ));
        p.push(Property::sometimes(
            "reach: a user event is delivered to another member",
            |_, s: &State| s.nodes.iter().filter(|n| !n.delivered.is_empty()).count() > 1,
        ));
        if self.mode == Mode::Liveness {
            p.push(Property::always(
                "the loss-free network never overflows",
                |_, s: &State| s.bad & bad::OVERFLOW == 0,
            ));
            p.push(Property::eventually(
                "every live member is Alive in every live view",
                |m: &Cluster, s: &State| m.all_alive(s),
            ));
            p.push(Property::eventually(
                "a crashed member is Dead in every live view",
                |m: &Cluster, s: &State| m.crashed_dead(s),
            ));
            p.push(Property::eventually(
                "a user event reaches every live member",
                |m: &Cluster, s: &State| m.event_everywhere(s),
            ));
        }
        p
    }
}

impl Cluster {
    /// Every live member's table lists every other live member as Alive.
    pub(crate) fn all_alive(&self, s: &State) -> bool {
        (0..s.nodes.len()).filter(|&i| self.live(s, i)).all(|i| {
            let view = s.nodes[i].swim.members();
            (0..s.nodes.len())
                .filter(|&j| j != i && self.live(s, j))
                .all(|j| {
                    view.iter()
                        .any(|m| m.name.as_str() == name(j) && m.state == MemberState::Alive)
                })
        })
    }

    /// All members Running and each knowing every other: faults start from a formed cluster.
    fn formed(&self, s: &State) -> bool {
        s.nodes.iter().all(|n| n.swim.status() == Status::Running) && self.all_alive(s)
    }

    /// A crash happened and every live member's table has the crashed one Dead. True at once
    /// when the schedule had no crash, so that schedules without one satisfy it.
    pub(crate) fn crashed_dead(&self, s: &State) -> bool {
        if s.used.crashes == 0 && QUANTUM * s.at <= self.bounds.act_by {
            // A crash may still come: not satisfied yet, or the property would hold vacuously
            // at the start of every path.
            return false;
        }
        (0..s.nodes.len()).filter(|&c| s.nodes[c].crashed).all(|c| {
            (0..s.nodes.len()).filter(|&i| self.live(s, i)).all(|i| {
                s.nodes[i]
                    .swim
                    .members()
                    .iter()
                    .any(|m| m.name.as_str() == name(c) && m.state == MemberState::Dead)
            })
        })
    }

    /// The user event (once broadcast) has been delivered to every live member.
    pub(crate) fn event_everywhere(&self, s: &State) -> bool {
        if s.used.broadcasts == 0 {
            return QUANTUM * s.at > self.bounds.act_by;
        }
        (0..s.nodes.len())
            .filter(|&i| self.live(s, i))
            .all(|i| !s.nodes[i].delivered.is_empty())
    }
}
