//! Who is in the cluster: names, incarnations, states, tags, and the member snapshot handed out
//! to programs.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest member name accepted, in bytes. Names ride in every gossip update, so they are
/// kept short; longer ones are refused by [`NodeName::new`] and dropped when decoded.
pub const MAX_NAME_LEN: usize = 128;

/// The most bytes of tags (keys plus values) a member may carry. Tags ride with every Alive
/// update, so a large set would crowd out the piggyback.
pub const MAX_TAGS_LEN: usize = 512;

/// A member's unique name, cheap to clone (shared, never copied per table entry).
///
/// Names are non-empty UTF-8 of at most [`MAX_NAME_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(Arc<str>);

impl NodeName {
    /// Makes a name, or says why the text cannot be one.
    pub fn new(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.len() > MAX_NAME_LEN {
            return Err(format!(
                "is {} bytes, at most {MAX_NAME_LEN} allowed",
                name.len()
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when both are handles to one shared allocation.
    #[cfg(test)]
    pub(crate) fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A 4-byte fingerprint of the name (32-bit FNV-1a), sent in pings instead of the name so
    /// that a ping stays tiny and decodes without allocating. It only guards against a different
    /// process answering at a member's old address, where a rare collision costs nothing worse
    /// than what SWIM without the check would do.
    pub fn id(&self) -> [u8; 4] {
        crate::hash::fnv1a_32(self.0.as_bytes()).to_le_bytes()
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for NodeName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A member's incarnation number: only the member itself raises it, to refute a suspicion or to
/// announce a restart or a change of tags. Higher incarnations override lower ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incarnation(pub u32);

impl Incarnation {
    /// The next incarnation, or `None` at the top of the range: a member must not go on at a
    /// number it can no longer raise, so its caller refuses and says so.
    pub fn checked_next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the cluster believes about a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberState {
    /// Answering probes (directly or through others).
    Alive,
    /// Failed a direct and an indirect probe; will be declared Dead unless it refutes in time.
    Suspect,
    /// Declared failed: it did not refute its suspicion in time.
    Dead,
    /// Left gracefully. Final for that incarnation; a restart rejoins with a higher one.
    Left,
}

impl MemberState {
    /// Every state, in order (the order of [`Census::by_state`]).
    pub const ALL: [MemberState; 4] = [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ];

    /// Lower-case name, as used in JSON output and on the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }

    /// Alive and Suspect members are still part of the cluster: probed, gossiped to, counted.
    pub fn is_active(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's metadata: small key/value strings (role, zone, version...), shared between copies.
/// Empty tags (the common case) hold no allocation at all.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tags(Option<Arc<BTreeMap<String, String>>>);

impl Tags {
    /// Builds tags from pairs, or says why they are refused (total size over [`MAX_TAGS_LEN`]).
    pub fn new<I, K, V>(pairs: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let tags = Self::from_map(map);
        let size = tags.encoded_len();
        if size > MAX_TAGS_LEN {
            return Err(format!("take {size} bytes, at most {MAX_TAGS_LEN} allowed"));
        }
        Ok(tags)
    }

    /// Parses `key=value` text, as given on the command line.
    pub fn parse_pair(text: &str) -> Result<(String, String), String> {
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("`{text}` is not key=value")),
        }
    }

    /// Bytes of keys and values together, the figure [`MAX_TAGS_LEN`] bounds.
    pub fn encoded_len(&self) -> usize {
        self.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// True when there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// True when both are handles to one shared allocation.
    #[cfg(test)]
    pub(crate) fn shares(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// One value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.as_ref()?.get(key).map(String::as_str)
    }

    pub(crate) fn map(&self) -> Option<&BTreeMap<String, String>> {
        self.0.as_deref()
    }

    pub(crate) fn from_map(map: BTreeMap<String, String>) -> Self {
        if map.is_empty() {
            Self(None)
        } else {
            Self(Some(Arc::new(map)))
        }
    }
}

impl fmt::Display for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A snapshot of one member, as the core knows it at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Unique name.
    pub name: NodeName,
    /// Where it receives protocol datagrams.
    pub addr: SocketAddr,
    /// Its incarnation as last heard.
    pub incarnation: Incarnation,
    /// What the cluster believes about it.
    pub state: MemberState,
    /// Its metadata.
    pub tags: Tags,
    /// When this node last saw the member's state change.
    pub since: Instant,
    /// Round trip of the last direct probe this node made of it, if any answered.
    pub rtt: Option<Duration>,
}

/// How many members a table holds in each state, and their round trips: what a stats line or
/// a metrics scrape shows, counted without copying the members.
/// [`Swim::members`](crate::Swim::members) copies every one, and a stats line each second at
/// 1,000 members spent about a third of an idle agent's CPU doing so (perf, 2026-12-03).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Members in each state, in the order of [`MemberState::ALL`].
    pub by_state: [usize; 4],
    /// Round trips of the members a direct probe of this node answered, in microseconds,
    /// ascending.
    pub rtts_us: Vec<u32>,
}

impl Census {
    /// Counts `members` (a list already taken, e.g. a [`Snapshot`](crate::Snapshot)'s).
    pub fn of(members: &[Member]) -> Census {
        let mut c = Census::default();
        for m in members {
            c.add(
                m.state,
                m.rtt
                    .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX)),
            );
        }
        c.rtts_us.sort_unstable();
        c
    }

    /// Counts one member; `rtts_us` is sorted by whoever adds the last one.
    pub(crate) fn add(&mut self, state: MemberState, rtt_us: Option<u32>) {
        self.by_state[state as usize] += 1;
        if let Some(us) = rtt_us {
            self.rtts_us.push(us);
        }
    }

    /// Members in `state`.
    pub fn count(&self, state: MemberState) -> usize {
        self.by_state[state as usize]
    }

    /// Every member counted, whatever its state.
    pub fn members(&self) -> usize {
        self.by_state.iter().sum()
    }

    /// Alive and Suspect members: those still taking part.
    pub fn active(&self) -> usize {
        self.count(MemberState::Alive) + self.count(MemberState::Suspect)
    }
}
