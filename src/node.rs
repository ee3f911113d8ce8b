//! The handle a program holds on a running node: start it, read its view of the cluster, hear
//! its membership changes, and stop it (gracefully or as a crash).
//!
//! A [`Node`] owns one loop thread (see the crate docs' diagram). Every method talks to that
//! thread through a command channel and a mio `Waker`; queries wait for a reply on a one-shot
//! channel. Once the loop has stopped (after [`Node::leave`], or if it ever died), queries answer
//! from the snapshot the loop left behind, so they never block or panic.
//!
//! The crate documentation opens with an example of two nodes.

mod join;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use mio::Waker;

use crate::config::Config;
use crate::error::{BroadcastError, StartError};
use crate::event::{Event, LamportTime, Stats};
use crate::keyring::{KeyChange, Keyring, KeyringError};
use crate::member::{Census, Member, Tags};
use crate::proto::{Heard, Status};
use crate::runtime::{Command, FaultCommand, Runtime, fresh_seed};

pub use join::JoinReport;

/// Extra time [`Node::start`] waits beyond `join_timeout` for the core's own verdict, so that a
/// loaded machine is not mistaken for an unreachable seed.
const JOIN_GRACE: Duration = Duration::from_millis(500);

/// Extra time [`Node::shutdown`] gives a leave beyond `leave_timeout`: the core itself stops
/// leaving at `leave_timeout`, this only covers a descheduled loop thread.
const LEAVE_GRACE: Duration = Duration::from_millis(500);

/// A running rumor node: one UDP socket and one loop thread driving the SWIM core.
///
/// Dropping a `Node` stops it abruptly, like [`Node::kill`]: a graceful leave can take up to
/// `leave_timeout`, and a destructor should not block that long by surprise. Call
/// [`Node::shutdown`] (or [`Node::leave`]) to leave gracefully.
pub struct Node {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    events: Receiver<Event>,
    /// Events the loop dropped on a full event channel.
    events_dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
    name: String,
    leave_timeout: Duration,
    last: Arc<Mutex<Option<Snapshot>>>,
    /// The background join, with `Config::retry_join`.
    joining: Option<join::Background>,
}

/// A node's view and counters at one instant, from [`Node::snapshot`].
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Every member the node knows, itself excluded (as [`Node::members`]).
    pub members: Vec<Member>,
    /// The node itself as it presents itself to the cluster (as [`Node::local`]).
    pub local: Member,
    /// The running counters (as [`Node::stats`]).
    pub stats: Stats,
    /// Lifeguard's local health score (as [`Node::health`]).
    pub health: u32,
    /// Where the node stands (as [`Node::status`]).
    pub status: Status,
    /// When, how and from whom it heard its latest changes, oldest first (as
    /// [`Swim::heard`](crate::Swim::heard)).
    pub heard: Vec<Heard>,
}

/// What a stats line shows, read together in one round trip to the loop like a [`Snapshot`],
/// but with the members counted rather than copied: its cost does not grow with their names,
/// tags and addresses ([`Node::summary`]).
#[derive(Clone, Debug)]
pub struct Summary {
    /// Members by state, and their round trips, itself excluded.
    pub census: Census,
    /// The running counters (as [`Node::stats`]).
    pub stats: Stats,
    /// Lifeguard's local health score (as [`Node::health`]).
    pub health: u32,
    /// Where the node stands (as [`Node::status`]).
    pub status: Status,
}

impl Snapshot {
    /// The same instant in counts (as [`Node::summary`] would have said then).
    pub fn summary(&self) -> Summary {
        Summary {
            census: Census::of(&self.members),
            stats: self.stats.clone(),
            health: self.health,
            status: self.status,
        }
    }
}

/// Why [`Node::leave`] did not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaveError {
    /// The core had not finished leaving when the wait ran out. The loop was stopped anyway, so
    /// some members may report this node Failed instead of Left.
    TimedOut {
        /// How long the caller waited.
        waited: Duration,
    },
    /// The loop had already stopped (killed, or a previous leave), before this leave began.
    NotRunning,
}

impl fmt::Display for LeaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveError::TimedOut { waited } => {
                write!(f, "leave did not finish within {waited:?}; stopped anyway")
            }
            LeaveError::NotRunning => f.write_str("the node was not running"),
        }
    }
}

impl std::error::Error for LeaveError {}

impl Node {
    /// Validates `config`, binds its address, starts the loop thread and joins the cluster.
    ///
    /// With seeds, this blocks until the core reports it joined, or fails with
    /// [`StartError::JoinTimeout`] when no seed answered within `join_timeout`. Without seeds
    /// the node starts a new cluster at once. Seeds given by host name are resolved first, and
    /// one that does not resolve fails the start ([`StartError::Resolve`]).
    ///
    /// With `retry_join`, it returns at once instead: the node runs as a cluster of one while a
    /// thread of its own resolves the seeds and asks them, again and again with backoff, until
    /// one answers; [`Node::join_reports`] tells how that goes.
    ///
    /// On any error no thread is left running and the socket is closed. The core's RNG gets a
    /// fresh random seed; see [`Node::start_seeded`].
    pub fn start(config: Config) -> Result<Node, StartError> {
        Self::start_seeded(config, fresh_seed())
    }

    /// Like [`Node::start`], with the seed for the core's RNG and the fault layer's RNG given,
    /// so that a test can print it. Timing still comes from the real clock and network, so a
    /// seed does not replay a real-UDP run exactly; it only fixes the random choices.
    pub fn start_seeded(mut config: Config, seed: u64) -> Result<Node, StartError> {
        // Bad seed syntax is refused before any name lookup.
        config.validate()?;
        let background = config.retry_join.map(|policy| {
            // The core starts as a cluster of one; the join thread asks the seeds.
            let seeds = std::mem::take(&mut config.seeds);
            (policy, seeds, std::mem::take(&mut config.seed_hosts))
        });
        if !config.seed_hosts.is_empty() {
            let hosts = std::mem::take(&mut config.seed_hosts);
            let (addrs, failed) = join::resolve(&config.seeds, &hosts, config.bind_addr);
            if let Some((seed, error)) = failed.into_iter().next() {
                return Err(StartError::Resolve { seed, error });
            }
            config.seeds = addrs;
        }
        let name = config.name.clone();
        let probe_interval = config.probe_interval;
        let seeds = config.seeds.clone();
        let join_timeout = config.join_timeout;
        let leave_timeout = config.leave_timeout;
        let (runtime, handles) = Runtime::new(config, seed)?;
        let thread = std::thread::Builder::new()
            .name(format!("rumor {name}"))
            .spawn(move || runtime.run())
            .map_err(StartError::Io)?;
        let mut node = Node {
            commands: handles.commands,
            waker: handles.waker,
            events: handles.events,
            events_dropped: handles.events_dropped,
            thread: Some(thread),
            addr: handles.bound,
            name,
            leave_timeout,
            last: handles.last,
            joining: None,
        };
        if let Some(joined) = handles.joined {
            let verdict = joined.recv_timeout(join_timeout + JOIN_GRACE);
            if let Ok(Status::NameTaken(holder)) = verdict {
                let name = node.name.clone();
                node.stop_now();
                return Err(StartError::NameTaken { name, holder });
            }
            if verdict != Ok(Status::Running) {
                // JoinFailed, no verdict in time, or a loop that died: in each case the caller
                // gets the error and nothing keeps running behind its back.
                node.stop_now();
                return Err(StartError::JoinTimeout {
                    seeds,
                    waited: join_timeout,
                });
            }
        }
        if let Some((policy, seeds, hosts)) = background {
            let retry = join::Retry {
                commands: node.commands.clone(),
                waker: Arc::clone(&node.waker),
                seeds,
                hosts,
                bind: node.addr,
                period: probe_interval,
                policy,
            };
            match retry.spawn(&node.name) {
                Ok(background) => node.joining = Some(background),
                Err(e) => {
                    node.stop_now();
                    return Err(StartError::Io(e));
                }
            }
        }
        Ok(node)
    }

    /// How the background join of a node started with `retry_join` goes: one report per
    /// unanswered attempt, then `Joined` or `GaveUp`, after which the channel disconnects.
    /// Without `retry_join` the channel is empty and already disconnected. At most 64 unread
    /// reports are kept; later ones are dropped.
    pub fn join_reports(&self) -> Receiver<JoinReport> {
        match &self.joining {
            Some(background) => background.reports.clone(),
            None => crossbeam_channel::bounded(0).1,
        }
    }

    /// This node's membership changes and the user events it received, in the order it
    /// observed them.
    ///
    /// Every call returns a clone of the same receiver, so each event goes to exactly one of
    /// the clones that asks. The channel is filled from the start, whether or not anyone reads
    /// it, and holds at most [`Node::EVENT_QUEUE`] unread events: other members (and, without
    /// keys, anyone who can send UDP) decide how many events there are, so a reader that falls
    /// that far behind loses the newer ones rather than letting the process grow without end.
    /// Each lost event is counted in [`Node::events_dropped`] (and `Stats::events_dropped`); a
    /// reader compares it before and after to know that it missed some, and can read
    /// [`Node::members`] for the current view. The node never waits for a reader. The channel
    /// disconnects once the node has stopped and every event was read.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// Unread events [`Node::events`] holds at most. One event is a few hundred bytes (a
    /// member's name, address and tags, or a user event and its payload up to
    /// `max_user_payload`), so a full channel is a few MB; 16,384 is more than one push-pull's
    /// worth of news in any but the largest clusters, so a reader that keeps up loses nothing.
    pub const EVENT_QUEUE: usize = crate::runtime::EVENT_QUEUE;

    /// Events dropped so far because [`Node::events`] already held [`Node::EVENT_QUEUE`]
    /// unread ones. Cheap: it reads a counter, without a round trip to the node's loop.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    /// Every member this node knows, itself excluded, as the core sees them right now.
    pub fn members(&self) -> Vec<Member> {
        self.ask(Command::Members, |s| s.members.clone())
    }

    /// This node itself, as it presents itself to the cluster (incarnation, tags, state).
    pub fn local(&self) -> Member {
        self.ask(Command::Local, |s| s.local.clone())
    }

    /// A copy of the running counters.
    pub fn stats(&self) -> Stats {
        self.ask(Command::Stats, |s| s.stats.clone())
    }

    /// Lifeguard's local health score: 0 is healthy, higher means this node's own probes go
    /// unanswered and it is slowing down before accusing others.
    pub fn health(&self) -> u32 {
        self.ask(Command::Health, |s| s.health)
    }

    /// Where the node stands: joining, running, leaving, left...
    pub fn status(&self) -> Status {
        self.ask(Command::Status, |s| s.status)
    }

    /// Members, the local member, counters, health and status, read together in one round
    /// trip to the loop, so they describe the same instant (and cost one wake-up, not five).
    pub fn snapshot(&self) -> Snapshot {
        self.ask(Command::Snapshot, Snapshot::clone)
    }

    /// Counters, health, status and the members counted by state: what a periodic stats
    /// line needs, at a cost that does not grow with what the members carry (a [`snapshot`]
    /// copies every member).
    ///
    /// [`snapshot`]: Node::snapshot
    pub fn summary(&self) -> Summary {
        self.ask(Command::Summary, Snapshot::summary)
    }

    /// The address the socket is bound to, with the real port when the config asked for port 0.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node's name, as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces this node's tags; the change is gossiped with a higher incarnation and other
    /// members report it as `Updated`.
    pub fn set_tags(&self, tags: Tags) {
        self.send(Command::SetTags(tags));
    }

    /// Spreads an application event to every member, this one included: each reports it once
    /// as an [`EventKind::User`](crate::EventKind::User) event carrying `name`, `payload`, this
    /// node as the origin and the returned Lamport time. It rides piggybacked on the
    /// protocol's own packets, and push-pulls bring it to members that lost every copy; members
    /// that join later do not get it.
    ///
    /// `name` takes 1 to [`MAX_USER_EVENT_NAME`](crate::event::MAX_USER_EVENT_NAME) bytes and
    /// `payload` at most the config's `max_user_payload` (512 by default); anything larger is
    /// refused whole. A node that is not a running member (left, or stopped) refuses too.
    pub fn broadcast(&self, name: &str, payload: &[u8]) -> Result<LamportTime, BroadcastError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let cmd = Command::Broadcast(name.to_string(), payload.to_vec(), tx);
        if !self.send(cmd) {
            return Err(BroadcastError::NotRunning);
        }
        rx.recv().unwrap_or(Err(BroadcastError::NotRunning))
    }

    /// The keyring this node seals and opens datagrams with; `None` when it runs plaintext.
    pub fn keyring(&self) -> Result<Option<Keyring>, KeyringError> {
        self.keys(None)
    }

    /// Applies one key-rotation step and returns the keyring after it. A rotation without
    /// downtime takes three steps, each on every member before the next: install the new key,
    /// use it, remove the old one. A node started without a keyring refuses every change.
    pub fn change_keys(&self, change: KeyChange) -> Result<Keyring, KeyringError> {
        self.keys(Some(change))?.ok_or(KeyringError::NoKeyring)
    }

    fn keys(&self, change: Option<KeyChange>) -> Result<Option<Keyring>, KeyringError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if !self.send(Command::Keys(change, tx)) {
            return Err(KeyringError::NotRunning);
        }
        rx.recv().unwrap_or(Err(KeyringError::NotRunning))
    }

    /// Leaves the cluster gracefully: gossips Left about itself, waits until the core is done
    /// (at most `timeout`), then stops the loop and closes the socket. Members that heard the
    /// leave report this node `Left` rather than `Failed`.
    ///
    /// Queries keep answering afterwards, from the state at the moment the loop stopped.
    pub fn leave(&self, timeout: Duration) -> Result<(), LeaveError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if !self.send(Command::Leave(tx)) {
            return Err(LeaveError::NotRunning);
        }
        match rx.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                // The loop stopped before answering. If it stopped because the leave finished in
                // the same iteration the reply was dropped with it; the snapshot tells.
                match self.last_snapshot().map(|s| s.status) {
                    Some(Status::Left) => Ok(()),
                    _ => Err(LeaveError::NotRunning),
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                self.send(Command::Stop);
                Err(LeaveError::TimedOut { waited: timeout })
            }
        }
    }

    /// Leaves gracefully (waiting up to the config's `leave_timeout`, plus a little grace), then
    /// waits for the loop thread to end.
    pub fn shutdown(mut self) -> Result<(), LeaveError> {
        let result = self.leave(self.leave_timeout + LEAVE_GRACE);
        self.stop_now();
        match result {
            // A node that had already left (or was never running) has nothing left to do.
            Err(LeaveError::NotRunning) => Ok(()),
            other => other,
        }
    }

    /// Stops the node abruptly, as a crash would: no leave, no further datagrams; the socket is
    /// closed once the loop thread has ended, which this waits for. Other members will suspect
    /// it and declare it Failed.
    pub fn kill(mut self) {
        self.stop_now();
    }

    /// The fault-injection controls of this node (loss, blocked peers, pauses), for tests
    /// and demos that need a misbehaving network or a stalled node.
    pub fn faults(&self) -> Faults<'_> {
        Faults { node: self }
    }

    /// Sends a command and wakes the loop; false when the loop is gone.
    fn send(&self, cmd: Command) -> bool {
        if self.commands.send(cmd).is_err() {
            return false;
        }
        // A failed wake means the poll is gone, i.e. the loop is ending; the command then goes
        // unanswered and queries fall back to the final snapshot.
        self.waker.wake().is_ok()
    }

    /// Asks the loop a question; answers from the final snapshot once the loop is gone.
    fn ask<T>(
        &self,
        make: impl FnOnce(Sender<T>) -> Command,
        from_last: impl Fn(&Snapshot) -> T,
    ) -> T {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.send(make(tx))
            && let Ok(answer) = rx.recv()
        {
            return answer;
        }
        // The loop drops pending replies only after writing the snapshot, so it is there now.
        match self.last_snapshot() {
            Some(s) => from_last(&s),
            None => unreachable!("the rumor loop thread ended without leaving its final state"),
        }
    }

    fn last_snapshot(&self) -> Option<Snapshot> {
        self.last.lock().ok().and_then(|s| s.clone())
    }

    fn stop_now(&mut self) {
        if let Some(background) = &mut self.joining {
            background.stop.take();
        }
        if let Some(thread) = self.thread.take() {
            self.send(Command::Stop);
            // A panic in the loop thread has already been reported on stderr by the default
            // hook; re-raising it here, possibly inside Drop, would only abort the program.
            let _ = thread.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Fault injection on one node, from [`Node::faults`]: what a test or a demo uses to make the
/// network lossy, cut a link, or stall the node, without touching the real network.
///
/// Every datagram a fault drops counts in `Stats::dropped_fault`.
pub struct Faults<'a> {
    node: &'a Node,
}

impl Faults<'_> {
    /// Drops each outgoing and each incoming datagram with probability `rate` (0 turns loss
    /// off).
    ///
    /// # Panics
    ///
    /// If `rate` is not within `0.0..=1.0`.
    pub fn set_loss(&self, rate: f64) {
        self.set_loss_rates(rate, rate);
    }

    /// Separate drop probabilities for outgoing (`send`) and incoming (`recv`) datagrams.
    /// Giving every node of a cluster the same `recv` rate (and no `send` loss) models uniform
    /// loss `recv` on every link.
    ///
    /// # Panics
    ///
    /// If a rate is not within `0.0..=1.0`.
    pub fn set_loss_rates(&self, send: f64, recv: f64) {
        for (which, rate) in [("send", send), ("recv", recv)] {
            assert!(
                (0.0..=1.0).contains(&rate),
                "{which} loss rate must be within 0.0..=1.0, got {rate}"
            );
        }
        self.node
            .send(Command::Fault(FaultCommand::Loss { send, recv }));
    }

    /// Drops every datagram to or from `peer`, as a network partition would. Blocking on both
    /// sides of a cut makes it symmetric.
    pub fn block(&self, peer: SocketAddr) {
        self.node.send(Command::Fault(FaultCommand::Block(peer)));
    }

    /// Lifts a [`Faults::block`] of `peer`.
    pub fn unblock(&self, peer: SocketAddr) {
        self.node.send(Command::Fault(FaultCommand::Unblock(peer)));
    }

    /// Lifts every [`Faults::block`] (heals the partition on this side).
    pub fn unblock_all(&self) {
        self.node.send(Command::Fault(FaultCommand::UnblockAll));
    }

    /// Freezes the protocol for `duration`, like a GC pause or a stopped VM. The loop reads no
    /// datagrams (they queue in the kernel's socket buffer and are handled late), runs no
    /// timers and sends nothing; when the pause ends, every overdue timer fires at once.
    /// Queries from the node's handle are still answered. A pause during a pause extends it to
    /// the later end.
    pub fn pause(&self, duration: Duration) {
        self.node
            .send(Command::Fault(FaultCommand::Pause(duration)));
    }
}
