//! The mio event loop that drives one [`Swim`](crate::Swim) over a UDP socket; its fault layer
//! is in [`fault`], its control socket (with the `control` feature) in `control`.
//!
//! One thread per node owns the socket, the `Poll`, the core and the fault layer. Other threads
//! talk to it only through [`Command`]s on a crossbeam channel followed by a [`Waker::wake`], and
//! hear from it through the event channel and one-shot reply channels. Nothing here is shared
//! behind a lock except the final snapshot the loop leaves behind when it stops.
//!
//! Each iteration, in this order:
//!
//! 1. sleep in `Poll::poll` until a datagram, a command, or the core's next deadline;
//! 2. read the clock once, then drain the socket until `WouldBlock` into `handle_datagram`;
//! 3. call `handle_timeout` when the core's deadline has passed;
//! 4. serve commands (snapshots, tags, leave, stop, faults), then (after sending what the core
//!    has queued so far) control socket requests, for a bounded slice of time;
//! 5. send every datagram `poll_transmit` hands out;
//! 6. forward every `poll_event` into the event channel (bounded: on a full channel the event
//!    is dropped and counted, never waited for).
//!
//! The loop never spins: with no deadline and no input it blocks in `poll` indefinitely.

#[cfg(feature = "control")]
pub(crate) mod control;
mod fault;
#[cfg(feature = "encryption")]
mod seal;

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;
use crate::error::{BroadcastError, StartError};
use crate::event::{Event, LamportTime, Stats};
use crate::keyring::{KeyChange, Keyring, KeyringError};
use crate::member::{Member, Tags};
use crate::node::{Snapshot, Summary};
use crate::proto::{Status, Swim};

pub(crate) use fault::FaultCommand;
use fault::FaultLayer;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);

/// Kernel socket buffers asked for. A join or a full-state sync can burst dozens of datagrams at
/// once; the default ~200 KiB receive buffer overflows when the loop is briefly descheduled on a
/// busy machine. The kernel caps the request at `net.core.rmem_max`, which is fine.
const SOCKET_BUFFER: usize = 4 << 20;

/// Largest UDP payload: a receive buffer this size never truncates a datagram.
const MAX_DATAGRAM: usize = 65_536;

/// The one place the runtime reads the clock.
///
/// clippy.toml forbids `Instant::now` everywhere so that the protocol core stays testable under
/// a fake clock; the real-UDP runtime is the one component that must live in wall-clock time.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// A seed for a node that was started without one: OS randomness (via `RandomState`'s
/// per-process random keys), the process id and a per-process counter, so that nodes started in
/// one process, or in many processes at once, never share an RNG stream.
pub(crate) fn fresh_seed() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.finish()
}

/// A request from the handle to the loop. Queries carry a bounded(1) reply channel.
pub(crate) enum Command {
    Members(Sender<Vec<Member>>),
    Local(Sender<Member>),
    Stats(Sender<Stats>),
    Health(Sender<u32>),
    Status(Sender<Status>),
    Snapshot(Sender<Snapshot>),
    Summary(Sender<Summary>),
    SetTags(Tags),
    /// Spread a user event (name, payload); the sender hears its Lamport time or why not.
    Broadcast(String, Vec<u8>, Sender<Result<LamportTime, BroadcastError>>),
    /// Start a graceful leave; the sender hears `()` once the core reports `Left`, after which
    /// the loop stops.
    Leave(Sender<()>),
    /// Stop at once: no leave, no further datagrams (a crash, as seen from the network).
    Stop,
    /// Ask these seeds to let us in (a background join attempt, see `Config::retry_join`).
    Join(Vec<SocketAddr>),
    Fault(FaultCommand),
    /// Report the keyring, after applying a rotation step if one is given.
    Keys(
        Option<KeyChange>,
        Sender<Result<Option<Keyring>, KeyringError>>,
    ),
}

/// Creates the node's UDP socket. SO_REUSEADDR stays off on purpose: on Linux it lets a second
/// UDP socket bind the same address, and two nodes silently sharing a port must instead be
/// reported as [`StartError::AddrInUse`].
fn bind(addr: SocketAddr) -> Result<std::net::UdpSocket, StartError> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| StartError::Bind(addr, e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| StartError::Bind(addr, e))?;
    // Best effort: a smaller buffer than asked for only makes bursts likelier to drop.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into()).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => StartError::AddrInUse(addr),
        _ => StartError::Bind(addr, e),
    })?;
    Ok(socket.into())
}

/// Unread events the event channel holds at most (see `Node::EVENT_QUEUE`, which is this).
pub(crate) const EVENT_QUEUE: usize = 16_384;

/// Everything the loop thread owns. Built on the caller's thread so that every setup error is
/// returned from `Node::start` before any thread exists.
pub(crate) struct Runtime {
    poll: Poll,
    socket: UdpSocket,
    swim: Swim,
    faults: FaultLayer,
    /// Sends the kernel refused: counted here, where they happen, and merged into the core's
    /// counters in every snapshot.
    send_errors: u64,
    /// With a keyring: seals what the core sends and opens what it receives.
    #[cfg(feature = "encryption")]
    seal: Option<seal::SealLayer>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    /// False once every event receiver is gone: the core's events are then drained and dropped.
    events_open: bool,
    /// Events dropped on a full event channel; shared with the handle, which reads it without
    /// a round trip to this loop.
    events_dropped: Arc<AtomicU64>,
    /// The last drain stopped at its bound with datagrams possibly left in the socket.
    backlog: bool,
    /// Told the status once a join with seeds stops being `Joining`.
    join_waiter: Option<Sender<Status>>,
    leave_waiters: Vec<Sender<()>>,
    last: Arc<Mutex<Option<Snapshot>>>,
    /// The control socket, when the config names one. Declared last: it closes (and removes
    /// its file) after everything else has been dropped.
    #[cfg(feature = "control")]
    control: Option<control::Control>,
}

/// What `Runtime::new` hands back to the handle besides the runtime itself.
pub(crate) struct Handles {
    pub(crate) commands: Sender<Command>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) events: Receiver<Event>,
    pub(crate) events_dropped: Arc<AtomicU64>,
    pub(crate) joined: Option<Receiver<Status>>,
    pub(crate) bound: SocketAddr,
    pub(crate) last: Arc<Mutex<Option<Snapshot>>>,
}

impl Runtime {
    /// Binds the socket, builds the core and asks it to join. With a bind port of 0 the
    /// kernel's choice becomes the node's address (and the advertised one, unless an advertise
    /// address with a port was given).
    pub(crate) fn new(mut config: Config, seed: u64) -> Result<(Runtime, Handles), StartError> {
        config.validate()?;
        let std_socket = bind(config.bind_addr)?;
        let bound = std_socket.local_addr().map_err(StartError::Io)?;
        config.bind_addr = bound;
        if let Some(adv) = &mut config.advertise_addr
            && adv.port() == 0
        {
            adv.set_port(bound.port());
        }
        let mut socket = UdpSocket::from_std(std_socket);
        let poll = Poll::new().map_err(StartError::Io)?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)
            .map_err(StartError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(StartError::Io)?);
        #[cfg(feature = "control")]
        let control = match &config.control_socket {
            Some(path) => Some(control::Control::new(path, &config.name, poll.registry())?),
            None => None,
        };

        #[cfg(feature = "encryption")]
        let seal = match config.keyring.take() {
            Some(ring) => Some(
                seal::SealLayer::new(ring, config.accept_plaintext, config.send_plaintext, now())
                    .map_err(StartError::Io)?,
            ),
            None => None,
        };
        // The core never sees the keys; it fills datagrams small enough to stay within
        // `packet_budget` once sealed.
        config.packet_budget = config.core_budget();
        config.keyring = None;
        config.accept_plaintext = false;
        config.send_plaintext = false;
        let seeds = config.seeds.clone();
        let mut swim = Swim::new(config, seed, now())?;
        swim.join(now(), &seeds);

        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        // Bounded: remote peers drive events (user events, membership churn), so a reader that
        // stalls (an agent whose stdout nobody reads) must not let them grow the process
        // without end (issue 26, finding 7). Past the bound the loop drops and counts rather
        // than block, which would stall the protocol; see `Node::events`.
        let (ev_tx, ev_rx) = crossbeam_channel::bounded(EVENT_QUEUE);
        let events_dropped = Arc::new(AtomicU64::new(0));
        let (join_waiter, joined) = if seeds.is_empty() {
            (None, None)
        } else {
            let (tx, rx) = crossbeam_channel::bounded(1);
            (Some(tx), Some(rx))
        };
        let last = Arc::new(Mutex::new(None));
        let runtime = Runtime {
            poll,
            socket,
            swim,
            faults: FaultLayer::new(seed),
            send_errors: 0,
            #[cfg(feature = "encryption")]
            seal,
            commands: cmd_rx,
            events: ev_tx,
            events_open: true,
            events_dropped: Arc::clone(&events_dropped),
            backlog: false,
            join_waiter,
            leave_waiters: Vec::new(),
            last: Arc::clone(&last),
            #[cfg(feature = "control")]
            control,
        };
        let handles = Handles {
            commands: cmd_tx,
            waker,
            events: ev_rx,
            events_dropped,
            joined,
            bound,
            last,
        };
        Ok((runtime, handles))
    }

    /// Runs until a `Stop` command, a finished leave, or the handle disappearing. Never panics
    /// on network or channel trouble: socket errors are counted, closed channels end quietly.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut recv_buf = vec![0u8; MAX_DATAGRAM];
        let mut send_buf = Vec::with_capacity(MAX_DATAGRAM);
        loop {
            let before = now();
            let paused = self.faults.paused(before);
            let deadline = if paused {
                self.faults.paused_until()
            } else {
                self.swim.poll_timeout()
            };
            #[cfg(feature = "control")]
            let (deadline, busy) = match &self.control {
                Some(c) => (earliest(deadline, c.next_deadline()), c.busy()),
                None => (deadline, false),
            };
            #[cfg(not(feature = "control"))]
            let busy = false;
            let timeout = if (self.backlog && !paused) || busy {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(before))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                // epoll_wait only fails on programming errors (bad fd); stopping beats spinning.
                break;
            }
            // mio may wake early (a datagram) or late (a loaded machine): the deadline checks
            // below use a fresh reading, never the timeout that was asked for.
            let now = now();
            let paused = self.faults.paused(now);
            if !paused {
                // Always drain, not only on a readable event: readiness is edge-triggered, and a
                // pause leaves datagrams queued without a new edge to announce them.
                self.drain_socket(now, &mut recv_buf);
                if self.swim.poll_timeout().is_some_and(|d| d <= now) {
                    self.swim.handle_timeout(now);
                }
            }
            if self.serve_commands(now) {
                // A stop is a crash as the network sees it: nothing queued goes out.
                break;
            }
            #[cfg(feature = "control")]
            {
                // The protocol's datagrams (acks above all) go out before any request is
                // served, so a busy control socket never delays them.
                if !paused {
                    self.flush_transmits(now, &mut send_buf);
                }
                self.serve_control(now, &events);
            }
            if !paused {
                self.flush_transmits(now, &mut send_buf);
                self.forward_events(now);
            }
            self.notify_waiters();
            if self.swim.status() == Status::Left {
                break;
            }
        }
    }

    fn drain_socket(&mut self, now: Instant, buf: &mut [u8]) {
        self.backlog = false;
        // Bounded so that a flood cannot starve timers and commands forever; the rest is read
        // next iteration (the loop does not sleep while datagrams remain, see below).
        for _ in 0..4096 {
            match self.socket.recv_from(buf) {
                Ok((len, from)) => {
                    if self.faults.drops_incoming(from) {
                        continue;
                    }
                    #[cfg(feature = "encryption")]
                    if let Some(seal) = &mut self.seal {
                        if let seal::Opened::Deliver(bytes) = seal.open(now, &buf[..len]) {
                            self.swim.handle_datagram(now, from, bytes);
                        }
                        continue;
                    }
                    self.swim.handle_datagram(now, from, &buf[..len]);
                }
                // No more datagrams queued: the next readable edge will wake the poll.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP port-unreachable from an earlier send surfaces here as ConnectionRefused
                // on some systems; it says nothing about this datagram, so keep reading.
                Err(_) => {}
            }
        }
        // Datagrams may remain, and no new readiness edge will announce them: poll without
        // sleeping next time.
        self.backlog = true;
    }

    fn serve_commands(&mut self, now: Instant) -> bool {
        loop {
            let cmd = match self.commands.try_recv() {
                Ok(cmd) => cmd,
                Err(crossbeam_channel::TryRecvError::Empty) => return false,
                // The handle is gone (dropped without stopping us): nobody can ever talk to
                // this node again, so stop rather than run ownerless forever.
                Err(crossbeam_channel::TryRecvError::Disconnected) => return true,
            };
            // A reply whose receiver is gone (the caller gave up) is simply dropped.
            match cmd {
                Command::Members(tx) => drop(tx.try_send(self.swim.members())),
                Command::Local(tx) => drop(tx.try_send(self.swim.local())),
                Command::Stats(tx) => drop(tx.try_send(self.stats())),
                Command::Health(tx) => drop(tx.try_send(self.swim.health())),
                Command::Status(tx) => drop(tx.try_send(self.swim.status())),
                Command::Snapshot(tx) => drop(tx.try_send(self.snapshot())),
                Command::Summary(tx) => drop(tx.try_send(self.summary())),
                Command::SetTags(tags) => self.swim.set_tags(now, tags),
                Command::Broadcast(name, payload, tx) => {
                    drop(tx.try_send(self.swim.broadcast(now, &name, &payload)));
                }
                Command::Leave(tx) => {
                    if !matches!(self.swim.status(), Status::Leaving | Status::Left) {
                        self.swim.leave(now);
                    }
                    self.leave_waiters.push(tx);
                }
                Command::Stop => return true,
                Command::Join(seeds) => self.swim.join(now, &seeds),
                Command::Fault(f) => self.faults.apply(now, f),
                Command::Keys(change, tx) => drop(tx.try_send(self.change_keys(change))),
            }
        }
    }

    /// Sends what the core has queued; `now` is the iteration's one clock reading, which also
    /// stamps sealed datagrams (a reading per datagram would buy nothing at the stamp's
    /// millisecond resolution).
    #[cfg_attr(not(feature = "encryption"), allow(unused_variables))]
    fn flush_transmits(&mut self, now: Instant, buf: &mut Vec<u8>) {
        loop {
            buf.clear();
            let Some(to) = self.swim.poll_transmit(buf) else {
                return;
            };
            if self.faults.drops_outgoing(to) {
                continue;
            }
            #[cfg(feature = "encryption")]
            let datagram = match &mut self.seal {
                Some(seal) => match seal.seal(now, buf) {
                    Some(sealed) => sealed,
                    None => continue,
                },
                None => buf.as_slice(),
            };
            #[cfg(not(feature = "encryption"))]
            let datagram = buf.as_slice();
            let mut attempts = 0;
            loop {
                attempts += 1;
                match self.socket.send_to(datagram, to) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted && attempts < 3 => {}
                    // WouldBlock means the send buffer is full: the datagram is lost, exactly as
                    // a congested network would lose it; the protocol tolerates loss.
                    Err(_) => {
                        self.send_errors += 1;
                        break;
                    }
                }
            }
        }
    }

    /// The keyring after `change`; `None` for a node without one, which refuses any change.
    fn change_keys(&mut self, change: Option<KeyChange>) -> Result<Option<Keyring>, KeyringError> {
        #[cfg(feature = "encryption")]
        if let Some(seal) = &mut self.seal {
            let mut ring = seal.keyring().clone();
            if let Some(change) = change {
                ring.apply(change)?;
                seal.set_keyring(ring.clone());
            }
            return Ok(Some(ring));
        }
        match change {
            Some(_) => Err(KeyringError::NoKeyring),
            None => Ok(None),
        }
    }

    /// The core's counters with the runtime's own (fault drops, send errors) merged in.
    fn stats(&self) -> Stats {
        let mut stats = self.swim.stats().clone();
        stats.dropped_fault += self.faults.dropped();
        stats.send_errors += self.send_errors;
        stats.events_dropped += self.events_dropped.load(Ordering::Relaxed);
        #[cfg(feature = "encryption")]
        if let Some(seal) = &self.seal {
            seal.count_into(&mut stats);
        }
        stats
    }

    fn summary(&self) -> Summary {
        Summary {
            census: self.swim.census(),
            stats: self.stats(),
            health: self.swim.health(),
            status: self.swim.status(),
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            members: self.swim.members(),
            local: self.swim.local(),
            stats: self.stats(),
            health: self.swim.health(),
            status: self.swim.status(),
            heard: self.swim.heard(),
        }
    }

    // `now` dates a slow monitor's drop; without the control socket there is none.
    #[cfg_attr(not(feature = "control"), allow(unused_variables))]
    fn forward_events(&mut self, now: Instant) {
        while let Some(event) = self.swim.poll_event() {
            #[cfg(feature = "control")]
            if let Some(control) = &mut self.control {
                control.publish(now, &event);
            }
            if !self.events_open {
                continue;
            }
            match self.events.try_send(event) {
                Ok(()) => {}
                // The reader is behind by a whole queue: this event is lost to it, and counted
                // where it (and the stats) can see.
                Err(TrySendError::Full(_)) => {
                    self.events_dropped.fetch_add(1, Ordering::Relaxed);
                }
                // Every receiver is gone (the program stopped listening): keep running the
                // protocol, just stop reporting.
                Err(TrySendError::Disconnected(_)) => self.events_open = false,
            }
        }
    }

    fn notify_waiters(&mut self) {
        let status = self.swim.status();
        if status != Status::Joining
            && let Some(tx) = self.join_waiter.take()
        {
            let _ = tx.try_send(status);
        }
        if status == Status::Left {
            for tx in self.leave_waiters.drain(..) {
                let _ = tx.try_send(());
            }
        }
    }
}

impl Drop for Runtime {
    /// Leaves the final snapshot for the handle, on every way out of the loop (a panic in the
    /// core included), so that `Node` queries always have an answer. The socket closes right
    /// after, and the event sender with it, so readers of the event channel see it disconnect.
    fn drop(&mut self) {
        let snapshot = self.snapshot();
        if let Ok(mut last) = self.last.lock() {
            *last = Some(snapshot);
        }
        #[cfg(feature = "control")]
        if let Some(control) = &mut self.control {
            control.finish(self.swim.status() == Status::Left);
        }
    }
}

/// The earlier of two optional deadlines.
#[cfg(feature = "control")]
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
