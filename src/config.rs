//! Node configuration: identity, addresses and the protocol's timing, with named profiles that
//! mirror memberlist's defaults and a [`Config::validate`] that names the field and the rule.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::keyring::Keyring;
use crate::member::{NodeName, Tags};

/// The largest packet budget accepted: an IPv4 UDP payload can be at most 65,507 bytes.
pub const MAX_PACKET_BUDGET: usize = 65_507;
/// The smallest packet budget accepted: below it a sync chunk could not hold one member.
pub const MIN_PACKET_BUDGET: usize = 512;
/// The longest control socket path accepted, in bytes: a Unix socket address holds at most
/// 108 bytes on Linux, the terminating NUL included.
const MAX_CONTROL_PATH: usize = 107;
/// The most user events a member may be configured to remember (`user_event_buffer`).
pub const MAX_USER_EVENT_BUFFER: usize = 65_536;

/// Everything a node needs to run. Build one from a [`Profile`] and override fields.
///
/// Field names follow hashicorp/memberlist so that its users feel at home.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// This node's unique name in the cluster.
    pub name: String,
    /// Local address the UDP socket binds to. Port 0 picks a free port.
    pub bind_addr: SocketAddr,
    /// Address announced to other members, when it differs from the bound one (NAT, 0.0.0.0).
    /// Default: the bound address.
    pub advertise_addr: Option<SocketAddr>,
    /// Members to contact when starting; empty starts a new cluster.
    pub seeds: Vec<SocketAddr>,
    /// Members to contact by host name and port (`seed.internal:7946`), for deployments where
    /// a seed is known by a DNS name rather than an address. [`Node::start`](crate::Node::start)
    /// resolves them with the system's resolver when it starts (and, with `retry_join`, again
    /// at every attempt) and contacts every address of the bind address's IP version they
    /// resolve to, together with `seeds`. Default: none.
    pub seed_hosts: Vec<String>,
    /// Keep trying the seeds in the background, with backoff, until one answers, instead of
    /// failing the start when none answers within `join_timeout` (serf's `retry_join`). The node
    /// then runs as a cluster of one meanwhile, so nodes started in any order find each other.
    /// Default: `None`, a start that fails with [`StartError::JoinTimeout`](crate::StartError).
    pub retry_join: Option<RetryJoin>,
    /// This node's metadata, gossiped with its Alive updates.
    pub tags: Tags,
    /// Optional cluster label: datagrams with another label are dropped and counted, so two
    /// clusters sharing ports never merge. memberlist: `Label`.
    pub cluster_label: Option<String>,
    /// Keys to seal every datagram with (the primary) and to open them with (any): with a
    /// keyring, plaintext and wrongly keyed datagrams are dropped and counted. Needs the
    /// `encryption` feature; [`validate`](Self::validate) refuses a keyring without it.
    /// Default: none, plaintext.
    pub keyring: Option<Keyring>,
    /// With a keyring, still accept plaintext datagrams. Moving a plaintext cluster to
    /// encryption one member at a time takes three rolling restarts (memberlist's
    /// `GossipVerifyIncoming`/`Outgoing`): with the keyring, `accept_plaintext` and
    /// `send_plaintext` (everyone still understands everyone); then without `send_plaintext`
    /// (sealed, while members not yet restarted still send plaintext); then without either.
    /// Default: false.
    pub accept_plaintext: bool,
    /// With a keyring and `accept_plaintext`, send plaintext: the first step of a migration,
    /// while some members have no keys yet. Default: false.
    pub send_plaintext: bool,
    /// Time between two direct probes (one protocol period). memberlist: `ProbeInterval`, lan 1 s.
    /// Shorter detects sooner and costs more packets.
    pub probe_interval: Duration,
    /// How long to wait for a direct ack before asking others to probe (ping-req). Must be below
    /// `probe_interval`. memberlist: `ProbeTimeout`, lan 500 ms. Set it near the p99 round trip:
    /// lower spends indirect probes on slow but live members.
    pub probe_timeout: Duration,
    /// Members asked to probe indirectly when a direct probe goes unanswered (k).
    /// memberlist: `IndirectChecks`, lan 3. More tolerates more loss, at k packets per failure.
    pub indirect_checks: usize,
    /// Suspicion timeout multiplier: a suspect is declared dead after
    /// `suspicion_mult * max(1, log10(N)) * probe_interval` (the minimum, once confirmed).
    /// memberlist: `SuspicionMult`, lan 4. Higher waits longer for a refutation.
    pub suspicion_mult: u32,
    /// Lifeguard: an unconfirmed suspicion lasts this many times the minimum timeout, shrinking
    /// towards the minimum as other members confirm it. memberlist: `SuspicionMaxTimeoutMult`, 6.
    pub suspicion_max_timeout_mult: u32,
    /// How a suspicion's timeout falls as evidence comes in. [`SuspicionRule::Evidence`]
    /// (default): confirmations from healthy members bring it down to
    /// `confirmed_suspicion_mult`, and a member that itself looks unhealthy neither spreads
    /// its accusations nor confirms others'. [`SuspicionRule::Lifeguard`]: memberlist's rule,
    /// down to `suspicion_mult`, kept for comparison (`rumor sim crash --compare`).
    pub suspicion_rule: SuspicionRule,
    /// With [`SuspicionRule::Evidence`]: a suspicion confirmed by `suspicion_mult - 2`
    /// independent healthy members ends after `confirmed_suspicion_mult * max(1, log10(N)) *
    /// probe_interval`; one resting on a single accuser still lasts the full
    /// `suspicion_max_timeout_mult` span. Lan 2 (no memberlist equivalent). Lower detects sooner
    /// and leaves a live suspect less time to refute; at most `suspicion_mult`.
    pub confirmed_suspicion_mult: u32,
    /// Each update is piggybacked at most `retransmit_mult * ceil(log10(N + 1))` times.
    /// memberlist: `RetransmitMult`, lan 4. Higher spreads more surely, at more bytes.
    pub retransmit_mult: u32,
    /// Time between dedicated gossip sends (only when there is something to gossip).
    /// memberlist: `GossipInterval`, lan 200 ms.
    pub gossip_interval: Duration,
    /// Random members each gossip send goes to. memberlist: `GossipNodes`, lan 3.
    pub gossip_nodes: usize,
    /// Time between full-state syncs with one random member (anti-entropy); zero turns them
    /// off. memberlist: `PushPullInterval`, lan 30 s.
    pub push_pull_interval: Duration,
    /// How long Dead and Left members are remembered before they are forgotten. While remembered,
    /// stale gossip about them is ignored and anti-entropy now and then syncs with one of them,
    /// which is how two halves of a healed partition find each other: a partition longer than
    /// this needs a rejoin. Lan 10 min (memberlist forgets after `GossipToTheDeadTime`, 30 s,
    /// and cannot heal a longer partition by itself). Longer costs one table row per departed
    /// member.
    pub dead_node_reclaim: Duration,
    /// Lifeguard: the local health multiplier's ceiling (probe interval and timeout scale up to
    /// this many times while this node itself looks unhealthy). memberlist:
    /// `AwarenessMaxMultiplier`, 8. 1 turns Lifeguard's awareness off.
    pub awareness_max_multiplier: u32,
    /// How long `join` waits for any seed to answer before it fails.
    pub join_timeout: Duration,
    /// How long a graceful leave keeps gossiping its Left update before it stops anyway.
    pub leave_timeout: Duration,
    /// Largest datagram sent, in bytes (UDP payload). The default, 1400, fits an Ethernet frame
    /// with room for tunnels. memberlist: `UDPBufferSize`.
    pub packet_budget: usize,
    /// Most members (alive, suspect, or remembered dead) the table holds. News of further
    /// members is dropped and counted (`Stats::rejected_members`), so a confused or hostile peer
    /// cannot make a node grow without bound through gossip or sync. Default 100,000.
    pub max_members: usize,
    /// Where to serve the control socket: a Unix socket, created 0600 (its folder 0700 when
    /// created), through which an operator lists members, reads counters, changes tags, makes
    /// the node leave and follows its events, one JSON request and one JSON response a line.
    /// Default `None`: no socket. Needs the `control` feature; [`Config::validate`] refuses a
    /// path in a build without it. A stale socket left by a dead node is replaced; one that a
    /// live process still serves makes the start fail.
    pub control_socket: Option<PathBuf>,
    /// Largest user event payload [`Node::broadcast`](crate::Node::broadcast) accepts, in bytes;
    /// larger ones are refused, never truncated. Default 512. An event must fit alone in one
    /// datagram, so this is at most `packet_budget` less the event's name, the origin's name and
    /// the headers (validated). Every member should use the same value: one drops, and counts,
    /// events larger than its own limit. Larger payloads crowd membership news out of the
    /// piggyback and grow every push-pull by up to `user_event_buffer` times this. serf:
    /// `UserEventSizeLimit`.
    pub max_user_payload: usize,
    /// How many recent user events a member remembers, by origin and Lamport time, to deliver
    /// each exactly once and to hand on in push-pulls. Default 256. When more arrive, the oldest
    /// in Lamport order is forgotten and anything at or before it is too old from then on
    /// (dropped and counted, not delivered): a member that has not heard an event before 256
    /// newer ones never will. More costs a name and a time per event, and more records in every
    /// push-pull. serf: `EventBuffer`, 512.
    pub user_event_buffer: usize,
    /// How long a member keeps a user event's payload to hand on to members that missed it
    /// (in a push-pull or a repair). Lan 5 min; it must outlast the push-pull interval (which
    /// grows past 32 members) for delivery to stay complete under loss. The event's name and
    /// time are remembered longer (see `user_event_buffer`), so it is still never delivered
    /// twice. Longer holds up to `user_event_buffer` payloads in memory and in push-pulls.
    pub user_event_max_age: Duration,
}

/// How a node keeps trying its seeds in the background ([`Config::retry_join`]).
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

/// How a suspicion's timeout shrinks as others confirm it ([`Config::suspicion_rule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuspicionRule {
    /// Lifeguard as memberlist does it: from `suspicion_max_timeout_mult` times the SWIM timeout
    /// down to the SWIM timeout (`suspicion_mult`) with `suspicion_mult - 2` confirmations, from
    /// anyone.
    Lifeguard,
    /// The same curve down to a lower floor (`confirmed_suspicion_mult`), reached only with
    /// confirmations from members whose own health is good: an unhealthy member keeps its
    /// suspicions to itself and sends no confirmations, and one that is itself suspected while
    /// unhealthy stands down (see `Swim::health`) instead of flapping.
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

impl Config {
    /// A config for `name` bound to `bind_addr`, with a profile's timings.
    pub fn new(profile: Profile, name: impl Into<String>, bind_addr: SocketAddr) -> Self {
        let ms = Duration::from_millis;
        let mut c = Config {
            name: name.into(),
            bind_addr,
            advertise_addr: None,
            seeds: Vec::new(),
            seed_hosts: Vec::new(),
            retry_join: None,
            tags: Tags::default(),
            cluster_label: None,
            keyring: None,
            accept_plaintext: false,
            send_plaintext: false,
            probe_interval: ms(1000),
            probe_timeout: ms(500),
            indirect_checks: 3,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            suspicion_rule: SuspicionRule::Evidence,
            confirmed_suspicion_mult: 2,
            retransmit_mult: 4,
            gossip_interval: ms(200),
            gossip_nodes: 3,
            push_pull_interval: ms(30_000),
            dead_node_reclaim: ms(600_000),
            awareness_max_multiplier: 8,
            join_timeout: ms(5_000),
            leave_timeout: ms(2_000),
            packet_budget: 1400,
            max_members: 100_000,
            control_socket: None,
            max_user_payload: 512,
            user_event_buffer: 256,
            user_event_max_age: ms(300_000),
        };
        match profile {
            Profile::Lan => {}
            Profile::Wan => {
                c.probe_interval = ms(5000);
                c.probe_timeout = ms(3000);
                c.suspicion_mult = 6;
                c.gossip_interval = ms(500);
                c.gossip_nodes = 4;
                c.push_pull_interval = ms(60_000);
                c.dead_node_reclaim = ms(1_800_000);
                c.join_timeout = ms(15_000);
                c.leave_timeout = ms(5_000);
                c.user_event_max_age = ms(900_000);
            }
            Profile::Local => {
                c.probe_timeout = ms(200);
                c.suspicion_mult = 3;
                c.retransmit_mult = 2;
                c.gossip_interval = ms(100);
                c.push_pull_interval = ms(15_000);
                c.dead_node_reclaim = ms(300_000);
            }
            Profile::Test => {
                c.probe_interval = ms(50);
                c.probe_timeout = ms(25);
                c.gossip_interval = ms(20);
                // 50 ms periods leave a refutation 2.5 gossip rounds a period: a floor of 2
                // periods lost one live member in 20 simulated minutes at 20 % loss, 3 none.
                c.confirmed_suspicion_mult = 3;
                c.push_pull_interval = ms(2_000);
                c.dead_node_reclaim = ms(30_000);
                c.join_timeout = ms(2_000);
                c.leave_timeout = ms(500);
                c.user_event_max_age = ms(30_000);
            }
        }
        c
    }

    /// The address other members reach this node at.
    pub fn advertised(&self) -> SocketAddr {
        self.advertise_addr.unwrap_or(self.bind_addr)
    }

    /// The packet budget the protocol core fills: `packet_budget` less what sealing adds
    /// when there is a keyring, so that a sealed datagram still fits `packet_budget`.
    pub fn core_budget(&self) -> usize {
        match self.keyring {
            Some(_) => self
                .packet_budget
                .saturating_sub(crate::wire::SEAL_OVERHEAD),
            None => self.packet_budget,
        }
    }

    /// Checks every field; the error names the first bad field and the rule it breaks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if let Err(why) = NodeName::new(&self.name) {
            return bad("name", format!("`{}` {why}", self.name));
        }
        if self.probe_interval.is_zero() {
            return bad("probe_interval", "must be greater than zero".into());
        }
        if self.probe_timeout.is_zero() || self.probe_timeout >= self.probe_interval {
            return bad(
                "probe_timeout",
                format!(
                    "({:?}) must be > 0 and < probe_interval ({:?})",
                    self.probe_timeout, self.probe_interval
                ),
            );
        }
        if self.indirect_checks > 16 {
            return bad(
                "indirect_checks",
                format!("({}) must be at most 16", self.indirect_checks),
            );
        }
        if self.suspicion_mult == 0 {
            return bad("suspicion_mult", "must be at least 1".into());
        }
        if self.suspicion_max_timeout_mult == 0 {
            return bad("suspicion_max_timeout_mult", "must be at least 1".into());
        }
        if self.confirmed_suspicion_mult == 0 || self.confirmed_suspicion_mult > self.suspicion_mult
        {
            return bad(
                "confirmed_suspicion_mult",
                format!(
                    "({}) must be between 1 and suspicion_mult ({})",
                    self.confirmed_suspicion_mult, self.suspicion_mult
                ),
            );
        }
        if self.retransmit_mult == 0 {
            return bad("retransmit_mult", "must be at least 1".into());
        }
        if self.gossip_interval.is_zero() {
            return bad("gossip_interval", "must be greater than zero".into());
        }
        if self.gossip_nodes == 0 || self.gossip_nodes > 64 {
            return bad(
                "gossip_nodes",
                format!("({}) must be between 1 and 64", self.gossip_nodes),
            );
        }
        if self.awareness_max_multiplier == 0 {
            return bad("awareness_max_multiplier", "must be at least 1".into());
        }
        if self.join_timeout.is_zero() {
            return bad("join_timeout", "must be greater than zero".into());
        }
        if !(MIN_PACKET_BUDGET..=MAX_PACKET_BUDGET).contains(&self.packet_budget) {
            return bad(
                "packet_budget",
                format!(
                    "({}) must be between {MIN_PACKET_BUDGET} and {MAX_PACKET_BUDGET} bytes",
                    self.packet_budget
                ),
            );
        }
        if self.max_members == 0 {
            return bad("max_members", "must be at least 1".into());
        }
        if let Some(label) = &self.cluster_label
            && (label.is_empty() || label.len() > 64)
        {
            return bad("cluster_label", format!("`{label}` must be 1 to 64 bytes"));
        }
        if !(1..=MAX_USER_EVENT_BUFFER).contains(&self.user_event_buffer) {
            return bad(
                "user_event_buffer",
                format!(
                    "({}) must be between 1 and {MAX_USER_EVENT_BUFFER}",
                    self.user_event_buffer
                ),
            );
        }
        if self.user_event_max_age.is_zero() {
            return bad("user_event_max_age", "must be greater than zero".into());
        }
        if self.keyring.is_some() && !cfg!(feature = "encryption") {
            return bad(
                "keyring",
                "needs the `encryption` feature, which this build of rumor lacks".into(),
            );
        }
        if self.keyring.is_some()
            && self.packet_budget < MIN_PACKET_BUDGET + crate::wire::SEAL_OVERHEAD
        {
            return bad(
                "packet_budget",
                format!(
                    "({}) must be at least {} bytes with a keyring (sealing adds {})",
                    self.packet_budget,
                    MIN_PACKET_BUDGET + crate::wire::SEAL_OVERHEAD,
                    crate::wire::SEAL_OVERHEAD
                ),
            );
        }
        if self.accept_plaintext && self.keyring.is_none() {
            return bad(
                "accept_plaintext",
                "only means something with a keyring (without one every datagram is plaintext)"
                    .into(),
            );
        }
        if self.send_plaintext && !self.accept_plaintext {
            return bad(
                "send_plaintext",
                "needs accept_plaintext (a member that sends plaintext must accept it)".into(),
            );
        }
        if let Ok(name) = NodeName::new(&self.name) {
            let room = crate::wire::max_event_payload(
                self.core_budget(),
                self.cluster_label.as_deref(),
                &name,
                self.advertised(),
            );
            if self.max_user_payload > room {
                return bad(
                    "max_user_payload",
                    format!(
                        "({} bytes) does not fit in packet_budget ({}) with the event's name \
                         and headers: at most {room} here; lower it or raise packet_budget",
                        self.max_user_payload, self.packet_budget
                    ),
                );
            }
        }
        if self.advertised().ip().is_unspecified() {
            return bad(
                "advertise_addr",
                format!(
                    "bind address {} is unspecified: give an address other members can reach",
                    self.bind_addr
                ),
            );
        }
        if self
            .seeds
            .iter()
            .any(|s| s.port() == 0 || s.ip().is_unspecified())
        {
            return bad(
                "seeds",
                "a seed needs a concrete address and a non-zero port".into(),
            );
        }
        for host in &self.seed_hosts {
            if let Err(why) = split_host_port(host) {
                return bad("seed_hosts", why);
            }
        }
        if let Some(retry) = &self.retry_join {
            if retry.max_interval.is_zero() {
                return bad(
                    "retry_join.max_interval",
                    "must be greater than zero".into(),
                );
            }
            if retry.max_attempts == Some(0) {
                return bad("retry_join.max_attempts", "must be at least 1".into());
            }
        }
        if let Some(path) = &self.control_socket {
            if !cfg!(feature = "control") {
                return bad(
                    "control_socket",
                    format!(
                        "`{}` is set, but this build has no control socket (the `control` \
                         feature is off)",
                        path.display()
                    ),
                );
            }
            let len = path.as_os_str().len();
            if len == 0 || len > MAX_CONTROL_PATH {
                return bad(
                    "control_socket",
                    format!(
                        "`{}` is {len} bytes; a Unix socket path takes 1 to {MAX_CONTROL_PATH}",
                        path.display()
                    ),
                );
            }
        }
        Ok(())
    }
}

/// Splits `host:port` (a seed given by name) into its parts, or says what is wrong with it.
/// Only the syntax is checked here; whether the name resolves is found out when joining.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, u16), String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` needs a port, like `{text}:7946`"));
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!(
            "`{text}` needs a host name or address before the port"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok((host, p)),
        _ => Err(format!(
            "`{text}` needs a port from 1 to 65535 after the last `:`"
        )),
    }
}

/// Parses durations as written on the command line: `250ms`, `1s`, `1.5s`, `2m`, `500us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 200ms, 1s or 1.5s"))?;
    let secs = match unit {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => {
            return Err(format!(
                "`{text}` needs a unit: us, ms, s or m (like 200ms or 1s)"
            ));
        }
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Config {
        Config::new(Profile::Lan, "n1", "127.0.0.1:7946".parse().unwrap())
    }

    #[test]
    fn profiles_validate() {
        for p in Profile::ALL {
            let c = Config::new(p, "n1", "127.0.0.1:0".parse().unwrap());
            assert_eq!(c.validate(), Ok(()), "profile {p}");
        }
    }

    #[test]
    fn a_keyring_needs_the_feature_and_room_in_the_budget() {
        let mut c = lan();
        c.accept_plaintext = true;
        assert_eq!(c.validate().unwrap_err().field, "accept_plaintext");
        c.accept_plaintext = false;
        c.keyring = Some(Keyring::new(crate::keyring::Key::new([1; 32])));
        if cfg!(feature = "encryption") {
            assert_eq!(c.validate(), Ok(()));
            assert_eq!(
                c.core_budget(),
                c.packet_budget - crate::wire::SEAL_OVERHEAD
            );
            c.packet_budget = MIN_PACKET_BUDGET;
            assert_eq!(c.validate().unwrap_err().field, "packet_budget");
            c.packet_budget = 1400;
            c.send_plaintext = true;
            assert_eq!(c.validate().unwrap_err().field, "send_plaintext");
        } else {
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, "keyring");
            assert!(e.reason.contains("encryption"), "{e}");
        }
    }

    #[test]
    fn lan_profile_has_memberlist_values() {
        let c = lan();
        assert_eq!(c.probe_interval, Duration::from_secs(1));
        assert_eq!(c.probe_timeout, Duration::from_millis(500));
        assert_eq!(c.indirect_checks, 3);
        assert_eq!(c.suspicion_mult, 4);
        assert_eq!(c.retransmit_mult, 4);
        assert_eq!(c.gossip_interval, Duration::from_millis(200));
        assert_eq!(c.gossip_nodes, 3);
    }

    #[test]
    fn probe_timeout_must_be_below_interval() {
        let mut c = lan();
        c.probe_timeout = Duration::from_millis(1500);
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "probe_timeout");
        assert!(err.to_string().contains("probe_interval"), "{err}");
    }

    #[test]
    fn each_bad_field_is_named() {
        type Breaker = fn(&mut Config);
        let cases: [(&str, Breaker); 20] = [
            ("name", |c| c.name.clear()),
            ("probe_interval", |c| c.probe_interval = Duration::ZERO),
            ("probe_timeout", |c| c.probe_timeout = Duration::ZERO),
            ("indirect_checks", |c| c.indirect_checks = 99),
            ("suspicion_mult", |c| c.suspicion_mult = 0),
            ("suspicion_max_timeout_mult", |c| {
                c.suspicion_max_timeout_mult = 0
            }),
            ("confirmed_suspicion_mult", |c| {
                c.confirmed_suspicion_mult = 5
            }),
            ("retransmit_mult", |c| c.retransmit_mult = 0),
            ("gossip_interval", |c| c.gossip_interval = Duration::ZERO),
            ("gossip_nodes", |c| c.gossip_nodes = 0),
            ("packet_budget", |c| c.packet_budget = 100),
            ("max_members", |c| c.max_members = 0),
            ("advertise_addr", |c| {
                c.bind_addr = "0.0.0.0:1".parse().unwrap()
            }),
            ("seeds", |c| c.seeds = vec!["127.0.0.1:0".parse().unwrap()]),
            ("seed_hosts", |c| c.seed_hosts = vec!["localhost".into()]),
            ("retry_join.max_interval", |c| {
                c.retry_join = Some(RetryJoin {
                    max_interval: Duration::ZERO,
                    max_attempts: None,
                })
            }),
            ("retry_join.max_attempts", |c| {
                c.retry_join = Some(RetryJoin {
                    max_attempts: Some(0),
                    ..RetryJoin::default()
                })
            }),
            ("user_event_buffer", |c| c.user_event_buffer = 0),
            ("user_event_max_age", |c| {
                c.user_event_max_age = Duration::ZERO
            }),
            ("max_user_payload", |c| c.max_user_payload = 1400),
        ];
        for (field, brk) in cases {
            let mut c = lan();
            brk(&mut c);
            assert_eq!(c.validate().map_err(|e| e.field), Err(field));
        }
    }

    #[test]
    fn seed_hosts_need_a_host_and_a_port() {
        assert_eq!(
            split_host_port("seed.internal:7946"),
            Ok(("seed.internal", 7946))
        );
        assert_eq!(split_host_port("localhost:1"), Ok(("localhost", 1)));
        for bad in [
            "localhost",
            ":7946",
            "seed:0",
            "seed:http",
            "se ed:7946",
            "a/b:1",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
        assert!(
            split_host_port("seed")
                .unwrap_err()
                .contains("needs a port")
        );
    }

    #[test]
    fn a_control_socket_path_is_checked() {
        let mut c = lan();
        c.control_socket = Some(PathBuf::from("/run/user/1000/rumor/n1.sock"));
        let verdict = c.validate().map_err(|e| e.field);
        if cfg!(feature = "control") {
            assert_eq!(verdict, Ok(()));
        } else {
            // The lean library cannot serve it, and says so rather than ignoring the path.
            assert_eq!(verdict, Err("control_socket"));
        }
        c.control_socket = Some(PathBuf::from(format!("/tmp/{}.sock", "x".repeat(200))));
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "control_socket");
        if cfg!(feature = "control") {
            assert!(err.reason.contains("bytes"), "{err}");
        } else {
            assert!(err.reason.contains("`control` feature"), "{err}");
        }
    }

    #[test]
    fn user_payload_limit_leaves_room_for_the_event_in_one_datagram() {
        let mut c = lan();
        let room = crate::wire::max_event_payload(
            c.packet_budget,
            None,
            &NodeName::new("n1").unwrap(),
            c.advertised(),
        );
        assert!((512..1400).contains(&room), "{room}");
        c.max_user_payload = room;
        assert_eq!(c.validate(), Ok(()));
        c.max_user_payload = room + 1;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "max_user_payload");
        assert!(err.reason.contains(&format!("at most {room}")), "{err}");
        // The smallest budget takes a smaller payload limit, and says so.
        c.packet_budget = MIN_PACKET_BUDGET;
        c.max_user_payload = 512;
        assert_eq!(c.validate().map_err(|e| e.field), Err("max_user_payload"));
        c.max_user_payload = 256;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("200").unwrap_err().contains("unit"));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
