//! # rumor
//!
//! A SWIM failure detector and cluster membership service over UDP, with Lifeguard's
//! refinements.
//!
//! Three layers, one rule:
//!
//! ```text
//!   your program / rumor-tui / rumor agent
//!            │ Node (start, members, events, leave)       node.rs
//!            ▼
//!   runtime: one thread, mio Poll, one UDP socket          runtime.rs
//!            │ handle_datagram(now, from, bytes) / handle_timeout(now)
//!            │ poll_transmit / poll_event / poll_timeout
//!            ▼
//!   proto::Swim: the protocol as a plain state machine     proto/
//!            └── wire: the datagram codec                  wire/
//! ```
//!
//! The rule: `proto` never reads a clock, touches a socket, spawns a thread or sleeps. Time is
//! an argument and I/O is a return value, so the same core runs under a fake clock in unit
//! tests, under a virtual clock in the simulator (`sim`), and over real UDP in the runtime.

#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod error;
pub mod event;
mod hash;
pub mod member;
pub mod node;
pub mod proto;
mod runtime;
#[cfg(feature = "sim")]
pub mod sim;
pub mod wire;

pub use config::{Config, Profile, parse_duration};
pub use error::{ConfigError, StartError};
pub use event::{Event, EventKind, MessageKind, Stats};
pub use member::{Incarnation, Member, MemberState, NodeName, Tags};
pub use node::{LeaveError, Node};
pub use proto::{Status, Swim};

/// The fake clock's starting point for unit tests. Read here, outside `proto`, so the core's
/// own files never name the real clock; only offsets from it matter.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)]
    std::time::Instant::now()
}
