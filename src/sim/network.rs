//! The simulated network: per-packet latency, uniform loss, per-link drop rates and partitions,
//! all decided by one seeded RNG so that a seed replays a run bit for bit.
//!
//! The vocabulary follows tikv/raft-rs's test harness and turmoil: [`Network::drop`] sets a
//! one-way link's drop rate, [`Network::cut`] severs a link both ways, [`Network::partition`]
//! splits the nodes into groups that cannot reach each other, [`Network::isolate`] cuts one node
//! off from everyone, and [`Network::repair`] undoes all of it.
//! Partitions and drops are judged when a packet is sent; a packet already in flight arrives.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::config::parse_duration;

/// How long a packet takes from sender to receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Every packet takes exactly this long.
    Fixed(Duration),
    /// Each packet takes a uniformly random time in `[min, max]` (packets may overtake each
    /// other, as on a real network).
    Uniform {
        /// Fastest delivery.
        min: Duration,
        /// Slowest delivery.
        max: Duration,
    },
}

impl Default for Latency {
    /// 0.2 to 1 ms: a quiet LAN.
    fn default() -> Self {
        Latency::Uniform {
            min: Duration::from_micros(200),
            max: Duration::from_millis(1),
        }
    }
}

impl Latency {
    /// Draws one packet's latency.
    pub fn sample(&self, rng: &mut SmallRng) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } if max <= min => min,
            Latency::Uniform { min, max } => {
                let ns = rng.random_range(min.as_nanos() as u64..=max.as_nanos() as u64);
                Duration::from_nanos(ns)
            }
        }
    }
}

impl fmt::Display for Latency {
    /// In the form [`FromStr`] reads back: `1ms`, `200us..1ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::Fixed(d) => f.write_str(&short(*d)),
            Latency::Uniform { min, max } => write!(f, "{}..{}", short(*min), short(*max)),
        }
    }
}

/// A duration in the command line's units: whole milliseconds as `ms`, else microseconds.
fn short(d: Duration) -> String {
    if d.subsec_micros().is_multiple_of(1000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_micros())
    }
}

impl FromStr for Latency {
    type Err = String;

    /// `1ms` (fixed) or `200us..1ms` (uniform range).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once("..") {
            Some((lo, hi)) => {
                let (min, max) = (parse_duration(lo)?, parse_duration(hi)?);
                if max < min {
                    return Err(format!("latency range `{s}` has max below min"));
                }
                Ok(Latency::Uniform { min, max })
            }
            None => Ok(Latency::Fixed(parse_duration(s)?)),
        }
    }
}

/// Packet counters of the whole simulated network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to the network by the nodes.
    pub sent: u64,
    /// Bytes (UDP payload) handed to the network.
    pub bytes_sent: u64,
    /// Datagrams delivered to a running node.
    pub delivered: u64,
    /// Datagrams lost to the uniform loss rate or a link's drop rate.
    pub dropped_loss: u64,
    /// Datagrams that crossed a partition or a cut link.
    pub dropped_partition: u64,
    /// Datagrams that reached a crashed node, a paused node that drops its input, or a paused
    /// node whose hold queue was full.
    pub dropped_down: u64,
}

/// What the network decided about one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It arrives after this long.
    Deliver(Duration),
    /// Lost to random loss.
    Lost,
    /// Blocked by a partition or a cut link.
    Blocked,
}

/// Links, loss and partitions between nodes numbered `0..n`.
#[derive(Debug)]
pub struct Network {
    latency: Latency,
    loss: f64,
    /// One-way drop rates set with [`Network::drop`] (1.0 = cut).
    links: HashMap<(u32, u32), f64>,
    /// Partition group of each node; packets only flow within a group. Empty: no partition.
    groups: Vec<u32>,
    next_group: u32,
    /// Extra delay on every datagram to a node, set with [`Network::slow`].
    slow: HashMap<u32, Duration>,
    rng: SmallRng,
    stats: NetStats,
}

impl Network {
    /// A network with this latency and uniform loss rate (0.0 to 1.0), its randomness drawn
    /// from `rng`.
    pub fn new(latency: Latency, loss: f64, rng: SmallRng) -> Self {
        Network {
            latency,
            loss: loss.clamp(0.0, 1.0),
            links: HashMap::new(),
            groups: Vec::new(),
            next_group: 1,
            slow: HashMap::new(),
            rng,
            stats: NetStats::default(),
        }
    }

    /// The latency model.
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// Changes the latency model for packets sent from now on.
    pub fn set_latency(&mut self, latency: Latency) {
        self.latency = latency;
    }

    /// The uniform loss rate.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Changes the uniform loss rate (0.0 to 1.0) for packets sent from now on.
    pub fn set_loss(&mut self, loss: f64) {
        self.loss = loss.clamp(0.0, 1.0);
    }

    /// Drops packets from `from` to `to` (one way) with probability `p`, on top of the uniform
    /// loss. `p = 0` restores the link.
    pub fn drop(&mut self, from: usize, to: usize, p: f64) {
        let key = (from as u32, to as u32);
        if p <= 0.0 {
            self.links.remove(&key);
        } else {
            self.links.insert(key, p.min(1.0));
        }
    }

    /// Severs the link between `a` and `b` both ways.
    pub fn cut(&mut self, a: usize, b: usize) {
        self.drop(a, b, 1.0);
        self.drop(b, a, 1.0);
    }

    /// Splits the network: each slice of `sides` becomes a group whose members reach only each
    /// other. Nodes named in no side form one more group together. Replaces any earlier
    /// partition; link drop rates stay.
    pub fn partition(&mut self, node_count: usize, sides: &[&[usize]]) {
        self.groups = vec![0; node_count];
        for side in sides {
            let g = self.fresh_group();
            for &i in *side {
                if let Some(slot) = self.groups.get_mut(i) {
                    *slot = g;
                }
            }
        }
    }

    /// Cuts `node` off from every other node (keeping any partition among the others).
    pub fn isolate(&mut self, node_count: usize, node: usize) {
        if self.groups.len() < node_count {
            self.groups.resize(node_count, 0);
        }
        let g = self.fresh_group();
        if let Some(slot) = self.groups.get_mut(node) {
            *slot = g;
        }
    }

    /// Removes every partition, cut and per-link drop rate (the uniform loss stays).
    pub fn repair(&mut self) {
        self.groups.clear();
        self.links.clear();
    }

    /// Delays every datagram to `node` by `extra` on top of the latency (zero clears it): a
    /// member whose receive path lags (a starved or overloaded process, a full socket buffer)
    /// while its timers still fire on time, Lifeguard's "slow node". `repair` leaves it.
    pub fn slow(&mut self, node: usize, extra: Duration) {
        if extra.is_zero() {
            self.slow.remove(&(node as u32));
        } else {
            self.slow.insert(node as u32, extra);
        }
    }

    /// True when a packet from `from` to `to` would cross a partition or a cut link.
    pub fn blocked(&self, from: usize, to: usize) -> bool {
        let group = |i: usize| self.groups.get(i).copied().unwrap_or(0);
        group(from) != group(to)
            || self
                .links
                .get(&(from as u32, to as u32))
                .is_some_and(|&p| p >= 1.0)
    }

    /// Decides the fate of one datagram of `len` bytes and counts it.
    pub fn judge(&mut self, from: usize, to: usize, len: usize) -> Verdict {
        self.stats.sent += 1;
        self.stats.bytes_sent += len as u64;
        if self.blocked(from, to) {
            self.stats.dropped_partition += 1;
            return Verdict::Blocked;
        }
        let link = self
            .links
            .get(&(from as u32, to as u32))
            .copied()
            .unwrap_or(0.0);
        // Independent losses: survive both the uniform loss and the link's own drop rate.
        let p = 1.0 - (1.0 - self.loss) * (1.0 - link);
        if p > 0.0 && self.rng.random::<f64>() < p {
            self.stats.dropped_loss += 1;
            return Verdict::Lost;
        }
        let extra = self
            .slow
            .get(&(to as u32))
            .copied()
            .unwrap_or(Duration::ZERO);
        Verdict::Deliver(self.latency.sample(&mut self.rng) + extra)
    }

    /// Counts a datagram that reached a running node.
    pub(crate) fn delivered(&mut self) {
        self.stats.delivered += 1;
    }

    /// Counts a datagram that reached a node that is down or not listening.
    pub(crate) fn dropped_down(&mut self) {
        self.stats.dropped_down += 1;
    }

    /// The counters so far.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    fn fresh_group(&mut self) -> u32 {
        self.next_group += 1;
        self.next_group
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn net(loss: f64) -> Network {
        Network::new(
            Latency::Fixed(Duration::from_millis(1)),
            loss,
            SmallRng::seed_from_u64(7),
        )
    }

    #[test]
    fn latency_parses_fixed_and_ranges() {
        assert_eq!(
            "2ms".parse::<Latency>(),
            Ok(Latency::Fixed(Duration::from_millis(2)))
        );
        assert_eq!(
            "200us..1ms".parse::<Latency>(),
            Ok(Latency::Uniform {
                min: Duration::from_micros(200),
                max: Duration::from_millis(1)
            })
        );
        assert!("2ms..1ms".parse::<Latency>().is_err());
        for text in ["200us..1ms", "3ms", "1500us"] {
            assert_eq!(text.parse::<Latency>().unwrap().to_string(), text);
        }
        assert!("fast".parse::<Latency>().is_err());
    }

    #[test]
    fn uniform_latency_stays_in_its_range() {
        let mut rng = SmallRng::seed_from_u64(1);
        let l = Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(3),
        };
        for _ in 0..1000 {
            let d = l.sample(&mut rng);
            assert!(d >= Duration::from_millis(1) && d <= Duration::from_millis(3));
        }
    }

    #[test]
    fn slow_node_hears_everything_late_and_sends_on_time() {
        let mut n = net(0.0);
        n.slow(1, Duration::from_millis(700));
        let delay = |v| match v {
            Verdict::Deliver(d) => d,
            other => panic!("{other:?}"),
        };
        assert!(delay(n.judge(0, 1, 10)) >= Duration::from_millis(700));
        assert!(delay(n.judge(1, 0, 10)) < Duration::from_millis(700));
        n.slow(1, Duration::ZERO);
        assert!(delay(n.judge(0, 1, 10)) < Duration::from_millis(700));
    }

    #[test]
    fn partition_blocks_across_sides_only() {
        let mut n = net(0.0);
        n.partition(5, &[&[0, 1], &[2, 3]]);
        assert!(!n.blocked(0, 1));
        assert!(!n.blocked(3, 2));
        assert!(n.blocked(1, 2));
        assert!(n.blocked(2, 0));
        assert!(
            n.blocked(4, 0),
            "a node in no side is in a group of its own"
        );
        n.repair();
        assert!(!n.blocked(1, 2));
    }

    #[test]
    fn isolate_and_cut_block_the_right_links() {
        let mut n = net(0.0);
        n.isolate(4, 2);
        assert!(n.blocked(2, 0) && n.blocked(0, 2));
        assert!(!n.blocked(0, 1));
        n.repair();
        assert!(!n.blocked(2, 0) && !n.blocked(0, 2));
        n.cut(0, 1);
        assert!(n.blocked(0, 1) && n.blocked(1, 0));
        assert!(!n.blocked(0, 2));
        n.drop(0, 1, 0.0);
        assert!(!n.blocked(0, 1) && n.blocked(1, 0));
    }

    #[test]
    fn loss_rate_is_close_to_the_configured_one() {
        let mut n = net(0.2);
        let lost = (0..10_000)
            .filter(|_| n.judge(0, 1, 100) == Verdict::Lost)
            .count();
        assert!((1_700..2_300).contains(&lost), "lost {lost} of 10000");
        assert_eq!(n.stats().sent, 10_000);
        assert_eq!(n.stats().dropped_loss, lost as u64);
    }

    #[test]
    fn link_drop_adds_to_uniform_loss() {
        let mut n = net(0.0);
        n.drop(0, 1, 0.5);
        let lost = (0..10_000)
            .filter(|_| n.judge(0, 1, 100) == Verdict::Lost)
            .count();
        assert!((4_500..5_500).contains(&lost), "lost {lost} of 10000");
        assert!((0..100).all(|_| n.judge(1, 0, 100) != Verdict::Lost));
    }
}
