//! What a datagram says: the primary message and the piggybacked updates.

use std::net::SocketAddr;
use std::sync::Arc;

use bincode::{Decode, Encode};

use crate::event::{LamportTime, MessageKind};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

/// A primary protocol message: the reason a datagram was sent.
///
/// ```text
///  direct probe                          indirect probe (after probe_timeout)
///  A                B                    A              C                B
///  |--Ping(seq)---->|                    |--PingReq---->|                |
///  |<---Ack(seq)----|                    |  (seq, B)    |--Ping(seq')--->|
///                                        |              |<--Ack(seq')----|
///                                        |<--Ack(seq)---|                |
///                                        |   or, when B stays silent for |
///                                        |   80% of the timeout:         |
///                                        |<--Nack(seq)--|                |
/// ```
///
/// Every message, including acks, carries piggybacked gossip updates; `Gossip` carries nothing
/// else. `Sync` carries a chunk of the sender's full member table as its updates.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    /// Are you alive? `target` is the fingerprint ([`NodeName::id`]) of the member meant, so a
    /// different process that took over the address does not answer for it.
    Ping {
        /// Sequence number the ack echoes.
        seq: u32,
        /// Fingerprint of the member this ping is for.
        target: [u8; 4],
    },
    /// Please probe the member `target` at `addr` for me and forward its ack (or a nack).
    PingReq {
        /// The requester's sequence number, echoed in the forwarded ack or nack.
        seq: u32,
        /// Fingerprint of the member to probe.
        target: [u8; 4],
        /// Where to probe it.
        addr: SocketAddr,
    },
    /// I am alive (answer to `Ping`, or forwarded answer to `PingReq`).
    Ack {
        /// The sequence number of the ping or ping-req answered.
        seq: u32,
        /// The first 4 bytes of the sender's table digest (see `Digest`), sent in a direct
        /// ack when the sender has no gossip left to spread: a prober that is quiet too and
        /// holds a different table has missed news (or the sender has), and they sync.
        digest: Option<[u8; 4]>,
    },
    /// I asked the target for you and it did not answer in time.
    Nack {
        /// The ping-req's sequence number.
        seq: u32,
    },
    /// Nothing but the piggybacked updates.
    Gossip,
    /// Anti-entropy, first step: the digest of the sender's member table (itself included).
    /// A receiver whose table differs answers with a `Sync` of its own table asking for the
    /// sender's; one whose table is the same says nothing, so an agreeing cluster syncs for 8
    /// bytes. Counted with `Sync` in the statistics.
    Digest {
        /// XOR of one hash per Alive or Suspect member record (name, incarnation, state).
        digest: [u8; 8],
    },
    /// A chunk of the sender's full member table (its updates). `reply` asks the receiver to
    /// send its own table back (push-pull); `join` says the sender is joining through us.
    Sync {
        /// Send your table back.
        reply: bool,
        /// The sender is joining and has no table yet.
        join: bool,
    },
}

impl Message {
    /// The counter slot this message is counted under.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Ping { .. } => MessageKind::Ping,
            Message::PingReq { .. } => MessageKind::PingReq,
            Message::Ack { .. } => MessageKind::Ack,
            Message::Nack { .. } => MessageKind::Nack,
            Message::Gossip => MessageKind::Gossip,
            Message::Sync { .. } | Message::Digest { .. } => MessageKind::Sync,
        }
    }
}

/// One piece of membership news: a member's state at an incarnation.
///
/// Tags are meaningful only in Alive updates (other states send none and receivers keep the
/// tags they had). `from` names who raised a suspicion or a death, so that independent
/// confirmations can be counted (Lifeguard).
#[derive(Clone, Debug, PartialEq, Eq, Encode)]
pub struct Update {
    /// The member the news is about.
    pub name: NodeName,
    /// Where it is reached.
    pub addr: SocketAddr,
    /// The incarnation the state holds for.
    pub incarnation: Incarnation,
    /// The state.
    pub state: MemberState,
    /// Its metadata (Alive updates only).
    pub tags: Tags,
    /// Who suspected or declared it dead, when known.
    pub from: Option<NodeName>,
}

/// One application event as it travels: who broadcast it, its Lamport time (the two name it),
/// and, unless the sender has forgotten it, what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The member that broadcast it.
    pub origin: NodeName,
    /// Its Lamport time at the origin.
    pub ltime: LamportTime,
    /// The event itself; `None` when the sender remembers that it happened but no longer holds
    /// its payload (it aged out), which is all a sync needs to agree on what was seen.
    pub body: Option<Arc<UserBody>>,
}

/// What a user event says, shared between the copies a node queues and holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserBody {
    /// Where the origin is reached, so that a member that has not heard of it yet can still
    /// say who sent the event.
    pub addr: SocketAddr,
    /// The application's name for it.
    pub name: String,
    /// The application's bytes.
    pub payload: Vec<u8>,
}

/// The user-event part of a datagram, after the updates (present when the header's
/// [`FLAG_EVENTS`](super::FLAG_EVENTS) is set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserSection {
    /// The sender's event clock (the next time it would stamp): a receiver's clock catches up
    /// with it, and a joiner takes its seed's as the start of the events it will be told of.
    pub clock: LamportTime,
    /// Events, at most [`MAX_USER_RECORDS`](super::MAX_USER_RECORDS).
    pub records: Vec<UserRecord>,
}

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The primary message.
    pub message: Message,
    /// Piggybacked updates.
    pub updates: Vec<Update>,
    /// Piggybacked user events (or, in a sync, the sender's recent ones), if any.
    pub user: Option<UserSection>,
}

impl Packet {
    /// A packet without user events.
    pub fn new(message: Message, updates: Vec<Update>) -> Self {
        Packet {
            message,
            updates,
            user: None,
        }
    }
}
