//! The datagram boundary with a keyring: every datagram the core produces is sealed before it
//! is sent, every one received is opened before the core decodes it. The core never sees a key.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::event::Stats;
use crate::keyring::Keyring;
use crate::wire::seal::{NONCE_LEN, OpenError, Sealer};

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
    ) -> std::io::Result<Self> {
        let rng = StdRng::try_from_os_rng()
            .map_err(|e| std::io::Error::other(format!("no OS randomness for nonces: {e}")))?;
        Ok(SealLayer {
            sealer: Sealer::new(&ring),
            ring,
            rng,
            accept_plaintext,
            send_plaintext,
            out: Vec::new(),
            dropped_plaintext: 0,
            dropped_unknown_key: 0,
            dropped_unauthenticated: 0,
        })
    }

    /// The sealed form of the core's datagram `plain`, or `None` if it has no rumor header.
    pub(crate) fn seal<'a>(&'a mut self, plain: &'a [u8]) -> Option<&'a [u8]> {
        if self.send_plaintext {
            return Some(plain);
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        self.sealer
            .seal(nonce, plain, &mut self.out)
            .then_some(self.out.as_slice())
    }

    /// Opens a received datagram, or counts why not.
    pub(crate) fn open<'a>(&'a mut self, bytes: &'a [u8]) -> Opened<'a> {
        match self.sealer.open(bytes, &mut self.out) {
            Ok(()) => Opened::Deliver(&self.out),
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
        stats.dropped_plaintext += self.dropped_plaintext;
        stats.dropped_unknown_key += self.dropped_unknown_key;
        stats.dropped_unauthenticated += self.dropped_unauthenticated;
    }
}
