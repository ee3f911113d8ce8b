//! The runtime's fault layer: injected loss, blocked peers and pauses, for tests and demos,
//! reached through [`Node::faults`](crate::Node::faults). Off unless a command turned
//! something on, and then one branch per datagram.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Fault-injection commands (tests and demos only).
pub(crate) enum FaultCommand {
    /// Drop rates for outgoing and incoming datagrams, each in `0.0..=1.0`.
    Loss {
        send: f64,
        recv: f64,
    },
    Block(SocketAddr),
    Unblock(SocketAddr),
    UnblockAll,
    Pause(Duration),
}

/// The fault layer's state, and the count of what it dropped (the runtime's own counter, merged
/// into `Stats::dropped_fault` in every snapshot).
///
/// A pause models a stop-the-world stall (a GC pause, a frozen VM, SIGSTOP): the loop neither
/// reads the socket nor runs timers nor sends, so datagrams queue in the kernel buffer and are
/// processed, late, when the pause ends, and every overdue timer fires at once. This is the
/// realistic shape of Lifeguard's "slow node", unlike dropping everything, which would look
/// like packet loss. Local queries from the handle are still answered, so a dashboard stays live.
pub(crate) struct FaultLayer {
    active: bool,
    send_loss: f64,
    recv_loss: f64,
    blocked: HashSet<SocketAddr>,
    paused_until: Option<Instant>,
    rng: SmallRng,
    dropped: u64,
}

impl FaultLayer {
    /// An inactive layer whose random drops follow `seed` (the node's seed).
    pub(crate) fn new(seed: u64) -> Self {
        FaultLayer {
            active: false,
            send_loss: 0.0,
            recv_loss: 0.0,
            blocked: HashSet::new(),
            paused_until: None,
            // Its own stream, so that turning faults on does not shift the core's randomness.
            rng: SmallRng::seed_from_u64(seed ^ 0x5eed_fa17_5eed_fa17),
            dropped: 0,
        }
    }

    pub(crate) fn apply(&mut self, now: Instant, cmd: FaultCommand) {
        match cmd {
            FaultCommand::Loss { send, recv } => {
                self.send_loss = send;
                self.recv_loss = recv;
            }
            FaultCommand::Block(addr) => {
                self.blocked.insert(addr);
            }
            FaultCommand::Unblock(addr) => {
                self.blocked.remove(&addr);
            }
            FaultCommand::UnblockAll => self.blocked.clear(),
            FaultCommand::Pause(d) => {
                let until = now + d;
                self.paused_until = Some(self.paused_until.map_or(until, |u| u.max(until)));
            }
        }
        self.refresh_active();
    }

    /// True while paused; clears an expired pause.
    pub(crate) fn paused(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(until) if now < until => true,
            Some(_) => {
                self.paused_until = None;
                self.refresh_active();
                false
            }
            None => false,
        }
    }

    /// When the current pause ends, if one is on.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Whether to drop a datagram that arrived from `from`; counts it if so.
    pub(crate) fn drops_incoming(&mut self, from: SocketAddr) -> bool {
        self.drops(from, self.recv_loss)
    }

    /// Whether to drop a datagram about to go to `to`; counts it if so.
    pub(crate) fn drops_outgoing(&mut self, to: SocketAddr) -> bool {
        self.drops(to, self.send_loss)
    }

    /// Datagrams dropped so far, both ways.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    fn refresh_active(&mut self) {
        self.active = self.send_loss > 0.0
            || self.recv_loss > 0.0
            || !self.blocked.is_empty()
            || self.paused_until.is_some();
    }

    fn drops(&mut self, peer: SocketAddr, rate: f64) -> bool {
        if !self.active {
            return false;
        }
        let drop =
            self.blocked.contains(&peer) || (rate > 0.0 && self.rng.random_bool(rate.min(1.0)));
        self.dropped += u64::from(drop);
        drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn t0() -> Instant {
        crate::test_epoch()
    }

    #[test]
    fn faults_are_off_by_default() {
        let mut f = FaultLayer::new(1);
        assert!(!f.active);
        for _ in 0..1000 {
            assert!(!f.drops(addr(1), 1.0), "an inactive layer never drops");
        }
        assert_eq!(f.dropped(), 0);
    }

    #[test]
    fn blocked_peers_are_dropped_both_ways_until_unblocked() {
        let mut f = FaultLayer::new(1);
        f.apply(t0(), FaultCommand::Block(addr(1)));
        assert!(f.drops_incoming(addr(1)));
        assert!(f.drops_outgoing(addr(1)));
        assert!(!f.drops_outgoing(addr(2)));
        assert_eq!(f.dropped(), 2, "each drop is counted once");
        f.apply(t0(), FaultCommand::UnblockAll);
        assert!(!f.active);
        assert!(!f.drops_outgoing(addr(1)));
    }

    #[test]
    fn loss_drops_about_the_given_share() {
        let mut f = FaultLayer::new(7);
        let loss = |send, recv| FaultCommand::Loss { send, recv };
        f.apply(t0(), loss(0.3, 0.0));
        let dropped = (0..10_000).filter(|_| f.drops_outgoing(addr(1))).count();
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
        assert_eq!(f.dropped(), dropped as u64);
        assert!(!f.drops_incoming(addr(1)));
        f.apply(t0(), loss(0.0, 0.0));
        assert!(!f.active);
    }

    #[test]
    fn a_pause_ends_at_its_deadline_and_extends_to_the_later_one() {
        let t = t0();
        let mut f = FaultLayer::new(1);
        f.apply(t, FaultCommand::Pause(Duration::from_millis(100)));
        f.apply(t, FaultCommand::Pause(Duration::from_millis(50)));
        assert_eq!(f.paused_until(), Some(t + Duration::from_millis(100)));
        assert!(f.paused(t + Duration::from_millis(99)));
        assert!(!f.paused(t + Duration::from_millis(100)));
        assert!(!f.active, "an ended pause turns the layer off again");
    }
}
