//! What the core reports: membership changes and application events ([`Event`]), and running
//! counters ([`Stats`]).

use std::fmt;
use std::time::Instant;

use crate::member::{Member, NodeName};

/// The longest user event name accepted by [`Swim::broadcast`](crate::Swim::broadcast), in
/// bytes. Names ride with every copy of an event, so they are kept short. Like member names
/// they hold no control characters: refused by `broadcast`, dropped (malformed) when decoded.
pub const MAX_USER_EVENT_NAME: usize = 64;

/// The kind of membership change an [`Event`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A member was seen for the first time, or came back after it had left.
    Joined,
    /// A member failed a direct and an indirect probe and is now suspected.
    Suspected,
    /// A suspected member refuted, or a failed one came back (restarted with a higher incarnation).
    Alive,
    /// A member did not refute its suspicion in time and is declared dead.
    Failed,
    /// A member left gracefully.
    Left,
    /// A member changed its tags or its address without changing state.
    Updated,
    /// An application event broadcast by a member (this one included) reached this node; the
    /// event's [`user`](Event::user) part says what it is.
    User,
}

impl EventKind {
    /// Lower-case name used in JSON output: joined, suspect, alive, failed, left, updated, user.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Joined => "joined",
            EventKind::Suspected => "suspect",
            EventKind::Alive => "alive",
            EventKind::Failed => "failed",
            EventKind::Left => "left",
            EventKind::Updated => "updated",
            EventKind::User => "user",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point in the cluster's Lamport time for user events. Each member keeps a clock that is
/// past every event time it has seen (`max(seen) + 1`, as in serf) and stamps its own events
/// with it, so an origin's events carry distinct, growing times and `(origin, time)` names
/// one event cluster-wide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LamportTime(pub u64);

impl fmt::Display for LamportTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An application event, as delivered: once on every member, the one that sent it included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEvent {
    /// What the application called it (1 to [`MAX_USER_EVENT_NAME`] bytes).
    pub name: String,
    /// The application's bytes, as broadcast.
    pub payload: Vec<u8>,
    /// The member that broadcast it.
    pub origin: NodeName,
    /// Its Lamport time; with `origin`, what makes it unique.
    pub ltime: LamportTime,
}

/// One change observed by this node: a membership change, or an application event.
// A kind plus the member snapshot, rather than one enum variant per kind: every kind would
// repeat the same fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The member it happened to, as it is after the change. For a [`EventKind::User`] event,
    /// the member that broadcast it, as this node knows it (one it has not heard of yet shows
    /// with its name and address at incarnation 0).
    pub member: Member,
    /// When this node observed it.
    pub at: Instant,
    /// The application event, for kind [`EventKind::User`]; `None` for every other kind.
    pub user: Option<UserEvent>,
}

/// Running counters of one node: traffic by message kind, drops by reason, protocol actions.
///
/// All counters only grow; a reader takes two snapshots and subtracts to get rates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent, by message kind (index with [`MessageKind::index`]).
    pub packets_out: [u64; MessageKind::COUNT],
    /// Bytes sent (UDP payload), by message kind. With a keyring these are the core's
    /// datagrams before sealing: each goes out `wire::SEAL_OVERHEAD` (60) bytes larger.
    pub bytes_out: [u64; MessageKind::COUNT],
    /// Datagrams received and decoded, by message kind.
    pub packets_in: [u64; MessageKind::COUNT],
    /// Bytes received (UDP payload) of decoded datagrams, by message kind (with a keyring,
    /// after opening: each arrived `wire::SEAL_OVERHEAD` bytes larger).
    pub bytes_in: [u64; MessageKind::COUNT],
    /// Gossip updates sent piggybacked or in gossip packets.
    pub updates_out: u64,
    /// Gossip updates received.
    pub updates_in: u64,
    /// Datagrams dropped because they did not decode (bad header, bad body, trailing bytes).
    pub dropped_malformed: u64,
    /// Datagrams dropped because they were larger than the packet budget allows.
    pub dropped_oversize: u64,
    /// Datagrams dropped because they carried another protocol version.
    pub dropped_version: u64,
    /// Datagrams dropped because they carried another cluster's label.
    pub dropped_wrong_cluster: u64,
    /// Without a keyring: sealed datagrams dropped, which a member with keys sent (give this
    /// node the cluster's keys, or that member `--send-plaintext` while migrating).
    pub dropped_sealed: u64,
    /// With a keyring: plaintext datagrams dropped (not counted with `accept_plaintext`).
    /// Counted by the runtime, which opens sealed datagrams before the core sees them.
    pub dropped_plaintext: u64,
    /// With a keyring: authentic datagrams more than 10 s older than the newest one of the
    /// same sender process, i.e. replayed (see the README's threat model).
    pub dropped_replayed: u64,
    /// With a keyring: datagrams sealed with a key id the ring does not hold.
    pub dropped_unknown_key: u64,
    /// With a keyring: sealed datagrams whose tag did not verify (forged, altered, or sealed
    /// with another key that has the same id).
    pub dropped_unauthenticated: u64,
    /// Datagrams dropped by the runtime's fault layer (tests and demos only). Counted by the
    /// runtime, not the core: the core's own counters leave it at 0.
    pub dropped_fault: u64,
    /// Datagrams the socket refused to send (counted by the runtime, like `dropped_fault`).
    pub send_errors: u64,
    /// Direct probes started.
    pub probes: u64,
    /// Direct probes that ended without any ack.
    pub probes_failed: u64,
    /// Ping-req messages sent (each indirect probe sends up to `indirect_checks`).
    pub indirect_probes: u64,
    /// Nacks received from members asked to probe indirectly.
    pub nacks_in: u64,
    /// Suspicions this node raised itself that others hear of. Under the evidence rule an
    /// unhealthy node's failed probe is a private doubt, not counted here until (and unless)
    /// it is raised as an ordinary suspicion.
    pub suspicions: u64,
    /// Times this node refuted a suspicion (or stale death) about itself.
    pub refutations: u64,
    /// Full-state syncs started by this node.
    pub syncs: u64,
    /// Push-pulls started early because a member's ack showed, once gossip had died down on
    /// both sides, that its table differs from ours (one of us missed some news).
    pub repairs: u64,
    /// Pulls this joiner sent after an answer said only "you are in" (its seed had no table to
    /// spare that period): each asks a random member for its table.
    pub table_pulls: u64,
    /// News of new members dropped because the table was full (`max_members`).
    pub rejected_members: u64,
    /// Round trip of the last answered direct probe, in microseconds (0 before the first).
    pub last_rtt_us: u64,
    /// User events delivered here (this node's own broadcasts included), each once.
    pub user_events: u64,
    /// User events heard of again, or for the first time, after this node had forgotten
    /// everything up to their Lamport time (see `Config::user_event_buffer`): not delivered.
    pub user_events_stale: u64,
    /// User events whose payload is larger than this node's `max_user_payload` (a member
    /// configured differently): remembered as seen, not delivered.
    pub user_events_oversize: u64,
    /// User events learned of only from members that no longer held their payload (older than
    /// `user_event_max_age` there): remembered as seen, never delivered here.
    pub user_events_missed: u64,
    /// Bytes of user-event sections in the datagrams sent (piggybacked and in syncs).
    pub user_bytes_out: u64,
    /// Events not handed to [`Node::events`](crate::Node::events) because its channel already
    /// held [`Node::EVENT_QUEUE`](crate::Node::EVENT_QUEUE) unread ones (a reader that
    /// stalled). Counted by the runtime, like `send_errors`; the same number as
    /// [`Node::events_dropped`](crate::Node::events_dropped).
    pub events_dropped: u64,
    /// Records dropped as implausible jumps: news about a member (this one included) whose
    /// incarnation runs more than `MAX_INCARNATION_JUMP` past the one held here. One forged
    /// record at the top of the range would otherwise pin that member's state for good.
    pub dropped_implausible: u64,
    /// Times this node had to raise its own incarnation (to refute, rejoin or change tags)
    /// and could not because it was at the top of its range: the refutation or tag change was
    /// refused, not sent at a stuck number. Any count here needs an operator (restart the
    /// member under a new name or after the cluster forgot it).
    pub incarnation_exhausted: u64,
    /// News that would move a member held Alive or Suspect (this node included) to another
    /// address: two processes with one name, or a stranger claiming it. Dropped; the holder
    /// keeps the name (and refutes when the claim is about itself), and a joiner that finds
    /// its name so held is refused ([`Status::NameTaken`](crate::Status::NameTaken)).
    pub name_conflicts: u64,
    /// News of new, unverified members dropped because the table already holds as many
    /// unverified members as it makes room for (see `Swim::unverified_members`).
    pub rejected_unverified: u64,
}

impl Stats {
    /// Total datagrams sent.
    pub fn total_packets_out(&self) -> u64 {
        self.packets_out.iter().sum()
    }
    /// Total bytes sent.
    pub fn total_bytes_out(&self) -> u64 {
        self.bytes_out.iter().sum()
    }
    /// Total datagrams received and decoded.
    pub fn total_packets_in(&self) -> u64 {
        self.packets_in.iter().sum()
    }
    /// Total bytes received in decoded datagrams.
    pub fn total_bytes_in(&self) -> u64 {
        self.bytes_in.iter().sum()
    }
    /// Total datagrams dropped for any reason.
    pub fn total_dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_oversize
            + self.dropped_version
            + self.dropped_wrong_cluster
            + self.dropped_fault
            + self.dropped_plaintext
            + self.dropped_sealed
            + self.dropped_replayed
            + self.dropped_unknown_key
            + self.dropped_unauthenticated
    }
}

/// The kinds of primary message a datagram carries, for per-kind counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Direct probe.
    Ping,
    /// Request to probe a member on the sender's behalf.
    PingReq,
    /// Probe answered.
    Ack,
    /// Indirect probe not answered in time (Lifeguard).
    Nack,
    /// Gossip updates only.
    Gossip,
    /// Full-state exchange (join, anti-entropy).
    Sync,
}

impl MessageKind {
    /// Number of kinds.
    pub const COUNT: usize = 6;
    /// Every kind, in index order.
    pub const ALL: [MessageKind; Self::COUNT] = [
        MessageKind::Ping,
        MessageKind::PingReq,
        MessageKind::Ack,
        MessageKind::Nack,
        MessageKind::Gossip,
        MessageKind::Sync,
    ];

    /// Position in the per-kind counter arrays of [`Stats`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Ping => "ping",
            MessageKind::PingReq => "ping-req",
            MessageKind::Ack => "ack",
            MessageKind::Nack => "nack",
            MessageKind::Gossip => "gossip",
            MessageKind::Sync => "sync",
        }
    }
}
