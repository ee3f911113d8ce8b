//! Errors a program can get from rumor: bad configuration, and a node that could not start.
//!
//! Network input is never an error here: a bad datagram is dropped and counted in
//! [`Stats`](crate::Stats).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A configuration field breaks a rule. Nothing was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field, by its [`Config`](crate::Config) name.
    pub field: &'static str,
    /// The rule it breaks, with the value.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Why [`Node::start`](crate::Node::start) failed. In every case no thread is left running and
/// the socket, if it was bound, is closed again.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// Another process (or node) already holds the bind address.
    AddrInUse(SocketAddr),
    /// The socket could not be created or bound for another reason.
    Bind(SocketAddr, io::Error),
    /// Some other I/O setup step failed (poll, waker, thread spawn).
    Io(io::Error),
    /// A live process already serves the configured control socket (another node started
    /// with the same path). A stale socket of a dead one is replaced instead.
    ControlInUse(PathBuf),
    /// The control socket could not be created (its folder, the bind, its permissions), or its
    /// path holds something other than a socket, which is left alone.
    Control(PathBuf, io::Error),
    /// A seed given by host name (`Config::seed_hosts`) did not resolve to any address of the
    /// bind address's IP version (without `retry_join`, which tries again later instead).
    Resolve {
        /// The seed as given, `host:port`.
        seed: String,
        /// What the resolver said.
        error: io::Error,
    },
    /// No seed answered within `join_timeout`.
    JoinTimeout {
        /// The seeds that were tried.
        seeds: Vec<SocketAddr>,
        /// How long the node waited.
        waited: Duration,
    },
    /// The cluster holds this node's name for a live member at another address, and did so
    /// until `join_timeout`: two processes must not share a name (issue 26).
    NameTaken {
        /// The name asked for.
        name: String,
        /// Where the member holding it answers.
        holder: SocketAddr,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid config: {e}"),
            StartError::AddrInUse(a) => write!(f, "address {a} is already in use"),
            StartError::Bind(a, e) => write!(f, "cannot bind {a}: {e}"),
            StartError::Io(e) => write!(f, "cannot start the node: {e}"),
            StartError::ControlInUse(p) => write!(f, "another agent uses {}", p.display()),
            StartError::Control(p, e) => {
                write!(f, "cannot create the control socket {}: {e}", p.display())
            }
            StartError::Resolve { seed, error } => write!(f, "cannot resolve seed {seed}: {error}"),
            StartError::JoinTimeout { seeds, waited } => {
                let list: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
                write!(
                    f,
                    "no seed answered within {waited:?} (tried {})",
                    list.join(", ")
                )
            }
            StartError::NameTaken { name, holder } => write!(
                f,
                "the name {name} is held by a live member at {holder}: give this node another \
                 name, or stop that one (a crashed one is released once the cluster declares \
                 it failed)"
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Bind(_, e) | StartError::Io(e) | StartError::Control(_, e) => Some(e),
            StartError::Resolve { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        StartError::Config(e)
    }
}

/// Why [`Node::broadcast`](crate::Node::broadcast) (or
/// [`Swim::broadcast`](crate::Swim::broadcast)) refused a user event. Nothing was sent and the
/// event clock did not move: an over-size event is refused whole, never truncated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BroadcastError {
    /// The name is empty.
    EmptyName,
    /// The name is longer than [`MAX_USER_EVENT_NAME`](crate::event::MAX_USER_EVENT_NAME).
    NameTooLong {
        /// Its length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The payload is larger than the config's `max_user_payload`.
    PayloadTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The node is not a running member: still joining, leaving or gone.
    NotRunning,
    /// The user-event clock is at the top of its range, so the event could not get a time
    /// of its own and would be delivered nowhere (only a clock dragged there by a forged
    /// record from before issue 26's fix can be: restart the cluster's members).
    ClockExhausted,
    /// The name holds a control character (NUL, newline, escape...): names reach handlers'
    /// environments, logs and terminals, where such characters would forge or garble output.
    NameControlCharacter,
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::EmptyName => f.write_str("a user event needs a name"),
            BroadcastError::NameTooLong { len, max } => {
                write!(f, "user event name is {len} bytes, at most {max} allowed")
            }
            BroadcastError::PayloadTooLarge { len, max } => write!(
                f,
                "user event payload is {len} bytes, at most {max} allowed (max_user_payload)"
            ),
            BroadcastError::NotRunning => {
                f.write_str("the node is not a running member (joining, leaving or stopped)")
            }
            BroadcastError::ClockExhausted => f.write_str(
                "the user-event clock is at the top of its range: the event would reach nobody",
            ),
            BroadcastError::NameControlCharacter => {
                f.write_str("a user event name must not contain control characters")
            }
        }
    }
}

impl std::error::Error for BroadcastError {}
