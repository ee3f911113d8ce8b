//! Sealing datagrams with a [`Keyring`]: XChaCha20-Poly1305, at the datagram boundary.
//!
//! A sealed datagram keeps the plaintext header (magic, version, flags with [`FLAG_SEALED`],
//! the optional label), then the key id, the nonce and the body encrypted with its tag:
//!
//! ```text
//! | header [label] | key id 4 B | nonce 24 B | ciphertext of stamp 16 B + body | tag 16 B |
//! ```
//!
//! The stamp is opaque here: the runtime puts the sender's boot id and its milliseconds since
//! boot there, so that a receiver can bound replays (see `runtime::seal`).
//!
//! Everything before the ciphertext is associated data, so a changed label, version, key id or
//! nonce fails to open like a changed body. The key id (4 bytes of a MAC the key computes over
//! a fixed string, so it says nothing about the key) lets a receiver try one key, not all.
//! XChaCha's 24-byte nonce is drawn at random for every datagram by the caller, from a
//! cryptographically secure generator: at 2^-96 odds of a repeat after 2^48 datagrams, random
//! nonces need no counter that survives restarts. Pure computation, no I/O.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

use super::{FLAG_LABEL, FLAG_SEALED, MAGIC};
use crate::keyring::{Key, Keyring};

/// Bytes of the key id.
pub const KEY_ID_LEN: usize = 4;
/// Bytes of the nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes of the sealed stamp in front of the body.
pub const STAMP_LEN: usize = 16;

/// The short id of a key, carried in every datagram sealed with it.
pub fn key_id(key: &Key) -> [u8; KEY_ID_LEN] {
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let mut empty = [0u8; 0];
    // A MAC of a fixed string under an all-zero nonce: a random datagram nonce equals it with
    // odds of 2^-192, and even then the two messages differ only in what both authenticate.
    let tag = cipher
        .encrypt_in_place_detached(&XNonce::default(), b"rumor key id", &mut empty)
        .unwrap_or_default();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(tag.get(..KEY_ID_LEN).unwrap_or(&[0; KEY_ID_LEN]));
    id
}

/// Why a datagram did not open. Each is counted apart in `Stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// A rumor header without [`FLAG_SEALED`]: a plaintext datagram.
    Plaintext,
    /// Not a rumor header at all (the core counts it as malformed).
    NotRumor,
    /// Sealed with a key id the ring does not hold.
    UnknownKey,
    /// Too short to hold its seal, or the tag did not verify: forged, corrupted or altered.
    Unauthenticated,
}

/// The ciphers of one keyring, built once (a key schedule per datagram would cost more than
/// the sealing itself).
pub struct Sealer {
    /// The primary first.
    keys: Vec<([u8; KEY_ID_LEN], XChaCha20Poly1305)>,
}

impl Sealer {
    /// The ciphers for `ring`'s keys.
    pub fn new(ring: &Keyring) -> Self {
        let keys = ring
            .keys()
            .iter()
            .map(|k| (key_id(k), XChaCha20Poly1305::new(k.as_bytes().into())))
            .collect();
        Sealer { keys }
    }

    /// Seals the plaintext datagram `plain` (as the core encoded it) into `out` with the
    /// primary key and `nonce`, which must be fresh random bytes. False, with `out` left
    /// empty, if `plain` has no rumor header (the core never produces one).
    pub fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        stamp: [u8; STAMP_LEN],
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let (Some(h), Some((id, cipher))) = (header_len(plain), self.keys.first()) else {
            return false;
        };
        let (header, body) = plain.split_at(h);
        out.reserve(plain.len() + super::SEAL_OVERHEAD);
        out.extend_from_slice(header);
        if let Some(flags) = out.get_mut(3) {
            *flags |= FLAG_SEALED;
        }
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        let ad_len = out.len();
        out.extend_from_slice(&stamp);
        out.extend_from_slice(body);
        let (ad, text) = out.split_at_mut(ad_len);
        match cipher.encrypt_in_place_detached(&XNonce::from(nonce), ad, text) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                true
            }
            Err(_) => {
                out.clear();
                false
            }
        }
    }

    /// Opens the sealed datagram `sealed` into `out` as the plaintext datagram it was made from,
    /// for the core to decode, and returns the stamp it was sealed with.
    pub fn open(&self, sealed: &[u8], out: &mut Vec<u8>) -> Result<[u8; STAMP_LEN], OpenError> {
        out.clear();
        let h = header_len(sealed).ok_or(OpenError::NotRumor)?;
        let flags = sealed.get(3).copied().unwrap_or(0);
        if flags & FLAG_SEALED == 0 {
            return Err(OpenError::Plaintext);
        }
        let ad_len = h + KEY_ID_LEN + NONCE_LEN;
        if sealed.len() < ad_len + STAMP_LEN + TAG_LEN {
            return Err(OpenError::Unauthenticated);
        }
        let (ad, rest) = sealed.split_at(ad_len);
        let (text, tag) = rest.split_at(rest.len() - TAG_LEN);
        let id = ad
            .get(h..h + KEY_ID_LEN)
            .ok_or(OpenError::Unauthenticated)?;
        let nonce = ad.get(h + KEY_ID_LEN..).ok_or(OpenError::Unauthenticated)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k.as_slice() == id)
            .ok_or(OpenError::UnknownKey)?;
        out.reserve(h + text.len());
        out.extend_from_slice(ad.get(..h).ok_or(OpenError::Unauthenticated)?);
        out.extend_from_slice(text);
        let (_, body) = out.split_at_mut(h);
        let verified = cipher.decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            ad,
            body,
            Tag::from_slice(tag),
        );
        if verified.is_err() {
            out.clear();
            return Err(OpenError::Unauthenticated);
        }
        if let Some(flags) = out.get_mut(3) {
            *flags &= !FLAG_SEALED;
        }
        let mut stamp = [0u8; STAMP_LEN];
        if let Some(s) = out.get(h..h + STAMP_LEN) {
            stamp.copy_from_slice(s);
        }
        out.drain(h..h + STAMP_LEN);
        Ok(stamp)
    }
}

const _: () = assert!(super::SEAL_OVERHEAD == KEY_ID_LEN + NONCE_LEN + STAMP_LEN + TAG_LEN);

/// The length of the plaintext header (fixed part and label), if `bytes` starts with one.
fn header_len(bytes: &[u8]) -> Option<usize> {
    if bytes.get(..2)? != MAGIC {
        return None;
    }
    let flags = *bytes.get(3)?;
    if flags & FLAG_LABEL == 0 {
        return Some(4);
    }
    let len = usize::from(*bytes.get(4)?);
    (bytes.len() >= 5 + len).then_some(5 + len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::wire::{Message, Packet, decode, encode};

    fn ring(b: u8) -> Keyring {
        Keyring::new(Key::new([b; 32]))
    }

    fn datagram(label: Option<&str>) -> Vec<u8> {
        encode(label, &Packet::new(Message::Nack { seq: 7 }, Vec::new()))
    }

    #[test]
    fn sealed_datagrams_open_to_what_was_sealed_and_hide_the_body() {
        for label in [None, Some("prod")] {
            let plain = datagram(label);
            let sealer = Sealer::new(&ring(1));
            let mut sealed = Vec::new();
            assert!(sealer.seal([9; NONCE_LEN], [4; STAMP_LEN], &plain, &mut sealed));
            assert_eq!(sealed.len(), plain.len() + crate::wire::SEAL_OVERHEAD);
            assert_ne!(decode(&sealed, label).ok(), decode(&plain, label).ok());
            let mut opened = Vec::new();
            assert_eq!(sealer.open(&sealed, &mut opened), Ok([4; STAMP_LEN]));
            assert_eq!(opened, plain);
            assert_eq!(
                decode(&opened, label).unwrap().message,
                Message::Nack { seq: 7 }
            );
        }
    }

    #[test]
    fn a_ring_opens_with_any_key_and_seals_with_the_primary() {
        let old = Key::new([1; 32]);
        let new = Key::new([2; 32]);
        let mut both = Keyring::new(old.clone());
        both.install(new.clone());
        let mut sealed = Vec::new();
        let mut opened = Vec::new();
        Sealer::new(&ring(2)).seal([3; NONCE_LEN], [0; STAMP_LEN], &datagram(None), &mut sealed);
        Sealer::new(&both).open(&sealed, &mut opened).unwrap();
        Sealer::new(&both).seal([3; NONCE_LEN], [0; STAMP_LEN], &datagram(None), &mut sealed);
        assert_eq!(&sealed[4..8], &key_id(&old));
        assert_ne!(key_id(&old), key_id(&new));
    }

    #[test]
    fn every_altered_byte_wrong_key_and_plaintext_are_refused() {
        let plain = datagram(Some("prod"));
        let sealer = Sealer::new(&ring(1));
        let mut sealed = Vec::new();
        sealer.seal([5; NONCE_LEN], [0; STAMP_LEN], &plain, &mut sealed);
        let mut out = Vec::new();
        // The header and label are associated data: changing any byte fails like the body.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let got = sealer.open(&bad, &mut out);
            assert!(got.is_err(), "byte {i} altered yet opened");
            assert!(out.is_empty());
        }
        assert_eq!(
            Sealer::new(&ring(2)).open(&sealed, &mut out),
            Err(OpenError::UnknownKey)
        );
        assert_eq!(sealer.open(&plain, &mut out), Err(OpenError::Plaintext));
        assert_eq!(sealer.open(b"GET /", &mut out), Err(OpenError::NotRumor));
        for n in 0..sealed.len() {
            assert!(
                sealer.open(&sealed[..n], &mut out).is_err(),
                "truncated to {n}"
            );
        }
    }
}
