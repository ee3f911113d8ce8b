//! The datagram format. This is the only module that names bincode.
//!
//! A datagram is:
//!
//! ```text
//! +--------+---------+-------+--------------------------+----------------------------------+
//! | "RM"   | version | flags | [label len u8, label]    | bincode 2 body (standard config) |
//! | 2 B    | 1 B     | 1 B   | only if flags & LABEL    | Message, then Vec<Update>,       |
//! |        |         |       |                          | then if flags & EVENTS:          |
//! |        |         |       |                          | clock, Vec<UserRecord>           |
//! +--------+---------+-------+--------------------------+----------------------------------+
//! ```
//!
//! The body is one primary [`Message`] followed by a list of piggybacked [`Update`]s: as many as
//! fit under the packet budget, at most [`MAX_UPDATES`] so that the list's length is one byte.
//! A datagram that carries application events ([`UserRecord`]s, at most [`MAX_USER_RECORDS`])
//! sets [`FLAG_EVENTS`] and appends them with the sender's event clock; one that carries none
//! costs not a byte more. Version 2 added that section: a version 1 node would have dropped
//! the pings and acks that carry events, so the two do not mix.
//! Decoding is bounded (bincode's allocation limit is the datagram's own size), rejects trailing
//! bytes and never panics: a datagram that does not decode is a [`WireError`] for the caller to
//! count and drop. bincode 2.0.1 is pinned; the version byte makes a later codec a versioned
//! change.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode;
mod encode;
mod message;
#[cfg(feature = "encryption")]
pub mod seal;
#[cfg(test)]
mod tests;

use std::fmt;

pub use decode::{Known, decode, decode_into};
pub use encode::{PacketWriter, encode, max_event_payload};
pub use message::{Message, Packet, Update, UserBody, UserRecord, UserSection};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"RM";
/// Wire protocol version this build speaks.
pub const VERSION: u8 = 2;
/// Header flag: a cluster label follows the fixed header.
pub const FLAG_LABEL: u8 = 0b0000_0001;
/// Header flag: a user-event section follows the updates.
pub const FLAG_EVENTS: u8 = 0b0000_0010;
/// Header flag: the body is sealed with a keyring's key (see `seal`, feature `encryption`).
pub const FLAG_SEALED: u8 = 0b0000_0100;
/// Bytes sealing adds to a datagram: key id (4), nonce (24), the sender's stamp (16: boot id
/// and milliseconds since boot, sealed) and tag (16).
pub const SEAL_OVERHEAD: usize = 4 + 24 + 16 + 16;
/// Most updates one datagram carries, so that the list length encodes in a single byte.
pub const MAX_UPDATES: usize = 250;
/// Most user events one datagram carries (one length byte, like the updates).
pub const MAX_USER_RECORDS: usize = 250;
/// The largest user-event payload the decoder accepts: no more than a datagram can hold. A
/// node's own, smaller limit is its config's `max_user_payload`.
pub const MAX_USER_PAYLOAD: usize = MAX_DATAGRAM;
/// Largest datagram the decoder looks at; anything longer is oversize.
pub const MAX_DATAGRAM: usize = 65_507;
/// The most memory decoding one datagram may claim for its collections and strings, whatever
/// its length prefixes say: room for [`MAX_UPDATES`] updates of a full-size datagram, and no more.
pub const MAX_DECODE_ALLOC: usize = 256 * 1024;

fn config() -> impl bincode::config::Config {
    // The limit bounds what a hostile length prefix can make the decoder allocate.
    bincode::config::standard().with_limit::<MAX_DECODE_ALLOC>()
}

/// Why a datagram was not accepted. The datagram is dropped; nothing else changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Longer than any datagram we would send.
    Oversize(usize),
    /// Too short for a header, or not our magic bytes.
    BadHeader,
    /// Another protocol version.
    Version(u8),
    /// Another cluster's label (or a label where none is expected, or none where one is).
    WrongCluster,
    /// Sealed by a member with a keyring, read by a node without one: reaching the decoder
    /// means the runtime holds no keys, so this node is the one to configure.
    Sealed,
    /// The body did not decode.
    Malformed(String),
    /// The body decoded but bytes were left over.
    TrailingBytes(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Oversize(n) => write!(f, "datagram of {n} bytes is over the limit"),
            WireError::BadHeader => f.write_str("not a rumor datagram"),
            WireError::Version(v) => write!(f, "protocol version {v}, expected {VERSION}"),
            WireError::WrongCluster => f.write_str("cluster label does not match"),
            WireError::Sealed => f.write_str("sealed datagram, and this node has no keyring"),
            WireError::Malformed(e) => write!(f, "malformed body: {e}"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the body"),
        }
    }
}

impl std::error::Error for WireError {}
