//! The policies a node follows that are more than a number: how it retries its seeds, and how
//! confirmations shorten a suspicion.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How a node keeps trying its seeds in the background ([`Config::retry_join`](super::Config::retry_join)).
///
/// The first attempt goes out when the node starts; the wait before the next one starts at one
/// probe interval and doubles up to `max_interval`. Host names are resolved again at each
/// attempt, so a seed whose DNS name appears later is still found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryJoin {
    /// Longest wait between two attempts. Default 30 s (serf's `retry_interval`). Shorter finds
    /// a late seed sooner, at one join request per seed per attempt.
    pub max_interval: Duration,
    /// Give up after this many attempts (the node then runs on as a cluster of one); `None`
    /// tries until a seed answers (serf's `retry_max` of 0). Default `None`.
    pub max_attempts: Option<u32>,
}

impl Default for RetryJoin {
    fn default() -> Self {
        RetryJoin {
            max_interval: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

/// How a suspicion's timeout shrinks as others confirm it ([`Config::suspicion_rule`](super::Config::suspicion_rule)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuspicionRule {
    /// Lifeguard as memberlist does it: from `suspicion_max_timeout_mult` times the SWIM timeout
    /// down to the SWIM timeout (`suspicion_mult`) with `suspicion_mult - 2` confirmations, from
    /// anyone.
    Lifeguard,
    /// The same curve down to a lower floor (`confirmed_suspicion_mult`), reached only with
    /// confirmations from members whose own health is good: an unhealthy member keeps its
    /// suspicions to itself and sends no confirmations, and one that is itself suspected while
    /// unhealthy, or while its own probes are seldom answered before the retry, stands down
    /// (see `Swim::standing_down`) instead of flapping.
    Evidence,
}

impl SuspicionRule {
    /// Both rules, for help texts and comparisons.
    pub const ALL: [SuspicionRule; 2] = [SuspicionRule::Lifeguard, SuspicionRule::Evidence];

    /// The rule's name as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SuspicionRule::Lifeguard => "lifeguard",
            SuspicionRule::Evidence => "evidence",
        }
    }
}

impl fmt::Display for SuspicionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SuspicionRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SuspicionRule::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown suspicion rule `{s}` (expected lifeguard or evidence)"))
    }
}
