//! # rumor
//!
//! A SWIM failure detector and cluster membership service over UDP, with Lifeguard's
//! refinements. A program starts a [`Node`], and from then on knows who else is in the
//! cluster ([`Node::members`]) and hears every change ([`Node::events`]): members that join,
//! are suspected, fail, leave, come back or change their tags. It can also send small
//! application events to every member ([`Node::broadcast`]), delivered once on each.
//!
//! ```
//! use std::time::Duration;
//! use rumor::{Config, EventKind, Node, Profile};
//!
//! // A first node starts a cluster; port 0 lets the kernel pick a free port.
//! let first = Node::start(Config::new(Profile::Test, "n1", "127.0.0.1:0".parse()?))?;
//! let mut config = Config::new(Profile::Test, "n2", "127.0.0.1:0".parse()?);
//! config.seeds = vec![first.addr()];
//! let second = Node::start(config)?; // returns once it has joined
//!
//! let event = first.events().recv_timeout(Duration::from_secs(5))?;
//! assert_eq!((event.kind, event.member.name.as_str()), (EventKind::Joined, "n2"));
//!
//! second.shutdown()?; // graceful: `first` reports n2 Left, not Failed
//! let event = first.events().recv_timeout(Duration::from_secs(5))?;
//! assert_eq!(event.kind, EventKind::Left);
//! first.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Profile::Test`] suits loopback and tests (50 ms periods); a service on a LAN uses
//! [`Profile::Lan`], memberlist's defaults.
//!
//! ## Three layers, one rule
//!
//! ```text
//!   your program / rumor-tui / rumor agent
//!            │ Node (start, members, events, snapshot, leave)
//!            ▼
//!   the runtime: one thread, a mio Poll, one UDP socket
//!            │ handle_datagram(now, from, bytes) / handle_timeout(now)
//!            │ poll_transmit / poll_event / poll_timeout
//!            ▼
//!   proto::Swim: the protocol as a plain state machine
//!            └── wire: the datagram codec
//! ```
//!
//! The rule: [`proto`] never reads a clock, touches a socket, spawns a thread or sleeps. Time
//! is an argument and I/O is a return value, so the same core runs under a fake clock in unit
//! tests, under a virtual clock in the simulator (`sim`, with the `sim` feature), and over real
//! UDP in the runtime.
//!
//! ## Features
//!
//! With `default-features = false` this is the library alone: it depends on mio, socket2,
//! crossbeam-channel, rand, bincode and hashbrown. The default features add the tools:
//! `cli` (the `rumor` agent's command-line options, [`cli::NodeArgs`], which a dashboard or a
//! service can flatten into its own) and `sim` (the simulator, its scenarios and reports).
//! `cli` implies `control`: a node serves an operator's requests on a Unix socket
//! ([`Config::control_socket`]), and `rumor::json` renders its events, members and counters.

#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod error;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
mod hash;
#[cfg(feature = "control")]
pub mod json;
pub mod keyring;
pub mod member;
pub mod node;
pub mod proto;
#[cfg(any(feature = "control", feature = "sim"))]
mod quantile;
mod runtime;
#[cfg(feature = "sim")]
pub mod sim;
pub mod wire;

pub use config::{Config, Profile, RetryJoin, SuspicionRule, parse_duration};
pub use error::{BroadcastError, ConfigError, StartError};
pub use event::{Event, EventKind, LamportTime, MessageKind, Stats, UserEvent};
pub use keyring::{Key, KeyChange, Keyring, KeyringError};
pub use member::{Census, Incarnation, Member, MemberState, NodeName, Tags};
pub use node::{Faults, JoinReport, LeaveError, Node, Snapshot, Summary};
pub use proto::{HEARD_LEN, Heard, News, Status, Swim, Via};

/// The fake clock's starting point for unit tests. Read here, outside `proto`, so the core's
/// own files never name the real clock; only offsets from it matter.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)]
    std::time::Instant::now()
}
