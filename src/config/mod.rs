//! Node configuration: identity, addresses and the protocol's timing, with named profiles that
//! mirror memberlist's defaults and a [`Config::validate`] that names the field and the rule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::keyring::Keyring;
use crate::member::{NodeName, Tags};

mod parse;
mod policy;
mod profile;
#[cfg(test)]
mod tests;

pub use parse::parse_duration;
pub(crate) use parse::split_host_port;
pub use policy::{RetryJoin, SuspicionRule};
pub use profile::Profile;

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
