//! The named parameter sets a [`Config`](super::Config) starts from.

use std::fmt;
use std::str::FromStr;

/// Named parameter sets. `lan`, `wan` and `local` carry memberlist's values; `test` is for
/// loopback tests and demos where things must happen in well under a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// memberlist's `DefaultLANConfig`: probe 1 s, timeout 500 ms, k 3, suspicion 4, gossip 200 ms to 3.
    Lan,
    /// memberlist's `DefaultWANConfig`: probe 5 s, timeout 3 s, suspicion 6, gossip 500 ms to 4.
    Wan,
    /// memberlist's `DefaultLocalConfig`: probe 1 s, timeout 200 ms, suspicion 3, gossip 100 ms.
    Local,
    /// Fast loopback timings for tests and demos: probe 50 ms, timeout 25 ms, gossip 20 ms,
    /// confirmed suspicions after 3 periods.
    Test,
}

impl Profile {
    /// Every profile, for help texts.
    pub const ALL: [Profile; 4] = [Profile::Lan, Profile::Wan, Profile::Local, Profile::Test];

    /// The profile's name as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Lan => "lan",
            Profile::Wan => "wan",
            Profile::Local => "local",
            Profile::Test => "test",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown profile `{s}` (expected lan, wan, local or test)"))
    }
}
