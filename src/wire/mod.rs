//! The datagram format. This is the only module that names bincode.
//!
//! A datagram is:
//!
//! ```text
//! +--------+---------+-------+--------------------------+----------------------------------+
//! | "RM"   | version | flags | [label len u8, label]    | bincode 2 body (standard config) |
//! | 2 B    | 1 B     | 1 B   | only if flags & LABEL    | Message, then Vec<Update>        |
//! +--------+---------+-------+--------------------------+----------------------------------+
//! ```
//!
//! The body is one primary [`Message`] followed by a list of piggybacked [`Update`]s: as many as
//! fit under the packet budget, at most [`MAX_UPDATES`] so that the list's length is one byte.
//! Decoding is bounded (bincode's allocation limit is the datagram's own size), rejects trailing
//! bytes and never panics: a datagram that does not decode is a [`WireError`] for the caller to
//! count and drop. bincode 2.0.1 is pinned; the version byte makes a later codec a versioned
//! change.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode;
mod encode;
mod message;
#[cfg(test)]
mod tests;

use std::fmt;

pub use decode::{Known, decode, decode_into};
pub use encode::{PacketWriter, encode};
pub use message::{Message, Packet, Update};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"RM";
/// Wire protocol version this build speaks.
pub const VERSION: u8 = 1;
/// Header flag: a cluster label follows the fixed header.
pub const FLAG_LABEL: u8 = 0b0000_0001;
/// Most updates one datagram carries, so that the list length encodes in a single byte.
pub const MAX_UPDATES: usize = 250;
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
            WireError::Malformed(e) => write!(f, "malformed body: {e}"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the body"),
        }
    }
}

impl std::error::Error for WireError {}
