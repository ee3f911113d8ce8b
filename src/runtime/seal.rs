//! The datagram boundary with a keyring: every datagram the core produces is sealed before it
//! is sent, every one received is opened before the core decodes it. The core never sees a key.
//!
//! Replays are bounded without synchronised clocks: each datagram carries, sealed, the sender's
//! boot id (random per process) and its milliseconds since boot (a monotonic clock). A
//! receiver remembers the newest time of every boot it has heard from and drops a datagram of
//! that boot more than [`REPLAY_WINDOW_MS`] older than it. Each boot is compared only with its
//! own clock, so clock skew between hosts does not matter; a boot the receiver has never heard
//! from (or has forgotten, past [`MAX_BOOTS`]) is accepted whatever its age.

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::event::Stats;
use crate::keyring::Keyring;
use crate::wire::seal::{NONCE_LEN, OpenError, STAMP_LEN, Sealer};

/// How much older than the newest datagram of its sender's boot a datagram may be. Far above
/// any reordering a network does, far below `dead_node_reclaim` (a replay that matters is one
/// of old news).
pub(crate) const REPLAY_WINDOW_MS: u64 = 10_000;

/// Boots remembered; past this the least recently heard from is forgotten. Only datagrams
/// that authenticated add one, so only members (with a key) can fill it.
pub(crate) const MAX_BOOTS: usize = 16_384;

/// One node's keyring, its ciphers, and the drops it counts.
pub(crate) struct SealLayer {
    ring: Keyring,
    sealer: Sealer,
    /// Nonces only: a CSPRNG seeded from the OS, never the core's seeded protocol RNG, whose
    /// stream a seed (or a simulator) makes predictable.
    rng: StdRng,
    accept_plaintext: bool,
    send_plaintext: bool,
    out: Vec<u8>,
    /// This process's boot id, and the instant its milliseconds count from.
    boot: u64,
    started: Instant,
    /// Per sender boot: its newest milliseconds seen, and when (our clock) we last heard of it.
    boots: HashMap<u64, (u64, Instant)>,
    dropped_replayed: u64,
    dropped_plaintext: u64,
    dropped_unknown_key: u64,
    dropped_unauthenticated: u64,
}

/// What to do with a received datagram.
pub(crate) enum Opened<'a> {
    /// Hand these bytes to the core.
    Deliver(&'a [u8]),
    /// Dropped and counted.
    Dropped,
}

impl SealLayer {
    pub(crate) fn new(
        ring: Keyring,
        accept_plaintext: bool,
        send_plaintext: bool,
        now: Instant,
    ) -> std::io::Result<Self> {
        let mut rng = StdRng::try_from_os_rng()
            .map_err(|e| std::io::Error::other(format!("no OS randomness for nonces: {e}")))?;
        let boot = rng.next_u64();
        Ok(SealLayer {
            sealer: Sealer::new(&ring),
            ring,
            rng,
            accept_plaintext,
            send_plaintext,
            out: Vec::new(),
            boot,
            started: now,
            boots: HashMap::new(),
            dropped_replayed: 0,
            dropped_plaintext: 0,
            dropped_unknown_key: 0,
            dropped_unauthenticated: 0,
        })
    }

    /// The sealed form of the core's datagram `plain`, or `None` if it has no rumor header.
    pub(crate) fn seal<'a>(&'a mut self, now: Instant, plain: &'a [u8]) -> Option<&'a [u8]> {
        if self.send_plaintext {
            return Some(plain);
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        let mut stamp = [0u8; STAMP_LEN];
        stamp[..8].copy_from_slice(&self.boot.to_le_bytes());
        stamp[8..].copy_from_slice(&ms.to_le_bytes());
        self.sealer
            .seal(nonce, stamp, plain, &mut self.out)
            .then_some(self.out.as_slice())
    }

    /// Opens a received datagram, or counts why not.
    pub(crate) fn open<'a>(&'a mut self, now: Instant, bytes: &'a [u8]) -> Opened<'a> {
        match self.sealer.open(bytes, &mut self.out) {
            Ok(stamp) => {
                if self.fresh(now, stamp) {
                    Opened::Deliver(&self.out)
                } else {
                    self.dropped_replayed += 1;
                    Opened::Dropped
                }
            }
            // Not ours at all: the core counts it as malformed, as it would without a keyring.
            Err(OpenError::NotRumor) => Opened::Deliver(bytes),
            Err(OpenError::Plaintext) if self.accept_plaintext => Opened::Deliver(bytes),
            Err(why) => {
                match why {
                    OpenError::Plaintext => self.dropped_plaintext += 1,
                    OpenError::UnknownKey => self.dropped_unknown_key += 1,
                    OpenError::Unauthenticated | OpenError::NotRumor => {
                        self.dropped_unauthenticated += 1
                    }
                }
                Opened::Dropped
            }
        }
    }

    /// False for a datagram more than the window older than its boot's newest; remembers the
    /// boot's newest time otherwise.
    fn fresh(&mut self, now: Instant, stamp: [u8; STAMP_LEN]) -> bool {
        let mut boot = [0u8; 8];
        let mut ms = [0u8; 8];
        boot.copy_from_slice(&stamp[..8]);
        ms.copy_from_slice(&stamp[8..]);
        let (boot, ms) = (u64::from_le_bytes(boot), u64::from_le_bytes(ms));
        if let Some((newest, heard)) = self.boots.get_mut(&boot) {
            if ms.saturating_add(REPLAY_WINDOW_MS) < *newest {
                return false;
            }
            *newest = (*newest).max(ms);
            *heard = now;
            return true;
        }
        if self.boots.len() >= MAX_BOOTS {
            // Rare (more boots than any cluster has members, over a long life): one scan.
            let oldest = self
                .boots
                .iter()
                .min_by_key(|(_, (_, heard))| *heard)
                .map(|(b, _)| *b);
            if let Some(oldest) = oldest {
                self.boots.remove(&oldest);
            }
        }
        self.boots.insert(boot, (ms, now));
        true
    }

    /// The keyring in use.
    pub(crate) fn keyring(&self) -> &Keyring {
        &self.ring
    }

    /// Replaces the keyring (a rotation step or a reloaded key file).
    pub(crate) fn set_keyring(&mut self, ring: Keyring) {
        self.sealer = Sealer::new(&ring);
        self.ring = ring;
    }

    /// Adds this layer's drops to `stats`.
    pub(crate) fn count_into(&self, stats: &mut Stats) {
        stats.dropped_replayed += self.dropped_replayed;
        stats.dropped_plaintext += self.dropped_plaintext;
        stats.dropped_unknown_key += self.dropped_unknown_key;
        stats.dropped_unauthenticated += self.dropped_unauthenticated;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::keyring::Key;
    use crate::wire::{Message, Packet, encode};

    fn layer(now: Instant) -> SealLayer {
        SealLayer::new(Keyring::new(Key::new([5; 32])), false, false, now).unwrap()
    }

    fn delivered(rx: &mut SealLayer, now: Instant, sealed: &[u8]) -> bool {
        matches!(rx.open(now, sealed), Opened::Deliver(_))
    }

    #[test]
    fn a_datagram_older_than_the_window_is_dropped_as_replayed() {
        let t0 = crate::test_epoch();
        let plain = encode(None, &Packet::new(Message::Nack { seq: 1 }, Vec::new()));
        let mut tx = layer(t0);
        let mut rx = layer(t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let old = tx.seal(at(1), &plain).unwrap().to_vec();
        let recent = tx.seal(at(15), &plain).unwrap().to_vec();
        let newest = tx.seal(at(20), &plain).unwrap().to_vec();
        // The receiver's clock is not the sender's: only the sender's own times are compared.
        let late = at(3600);
        assert!(delivered(&mut rx, late, &newest));
        assert!(
            delivered(&mut rx, late, &recent),
            "reordered within the window"
        );
        assert!(!delivered(&mut rx, late, &old));
        assert!(
            delivered(&mut rx, late, &newest),
            "a duplicate within the window is the core's"
        );
        let mut stats = Stats::default();
        rx.count_into(&mut stats);
        assert_eq!(stats.dropped_replayed, 1);
        // A restarted sender is a new boot, its clock starting again at 0.
        let mut restarted = layer(at(30));
        let first = restarted.seal(at(30), &plain).unwrap().to_vec();
        assert!(delivered(&mut rx, late, &first));
        // Every boot is remembered apart: the old one's replay is still refused.
        assert!(!delivered(&mut rx, late, &old));
    }
}
