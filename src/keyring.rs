//! The keys a node seals and opens datagrams with (see [`Config::keyring`](crate::Config)).
//!
//! Rotation works as memberlist's keyring: a datagram sealed with any key in the ring opens,
//! and every datagram is sealed with the primary, so a new key is installed everywhere before
//! any member sends with it, and an old one removed only once nobody does.
//!
//! This type holds keys only; the cipher lives in `wire::seal`, behind the `encryption`
//! feature, so that a config can name a keyring (and be refused clearly) in a lean build.

use std::fmt;

/// Bytes in a key.
pub const KEY_LEN: usize = 32;

/// One 32-byte secret key. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// A key from its bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// The key from a slice, which must be exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyringError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Key)
            .map_err(|_| KeyringError::KeyLength(bytes.len()))
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a keyring or a change to it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringError {
    /// A ring needs a primary key.
    Empty,
    /// A key of the wrong length (the length found).
    KeyLength(usize),
    /// The key is not in the ring.
    NotInstalled,
    /// The node was started without a keyring (plaintext); a running node cannot start
    /// sealing, since its peers would drop everything it sends.
    NoKeyring,
    /// The node is not running.
    NotRunning,
    /// The primary key cannot be removed: every datagram is sealed with it. Make another key
    /// primary first.
    RemovePrimary,
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Empty => f.write_str("a keyring needs at least one key"),
            KeyringError::KeyLength(n) => write!(f, "a key is {KEY_LEN} bytes, not {n}"),
            KeyringError::NotInstalled => f.write_str("the key is not in the keyring"),
            KeyringError::NoKeyring => f.write_str("the node runs without a keyring"),
            KeyringError::NotRunning => f.write_str("the node is not running"),
            KeyringError::RemovePrimary => f.write_str(
                "the primary key cannot be removed (every datagram is sealed with it); \
                 make another key primary first",
            ),
        }
    }
}

impl std::error::Error for KeyringError {}

/// One step of a key rotation (see [`Node::change_keys`](crate::Node::change_keys)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// Accept datagrams sealed with this key too ([`Keyring::install`]).
    Install(Key),
    /// Seal with this installed key from now on ([`Keyring::use_key`]).
    Use(Key),
    /// Stop accepting this key, which must not be the primary ([`Keyring::remove`]).
    Remove(Key),
    /// Replace the whole ring (a reloaded key file): its first key becomes the primary.
    Replace(Keyring),
}

/// An ordered set of keys; the first is the primary, the one datagrams are sealed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// A ring of one key, its primary.
    pub fn new(primary: Key) -> Self {
        Keyring {
            keys: vec![primary],
        }
    }

    /// A ring of `keys`, the first primary; a repeated key is kept once.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, KeyringError> {
        let mut ring: Option<Keyring> = None;
        for key in keys {
            match &mut ring {
                None => ring = Some(Keyring::new(key)),
                Some(r) => r.install(key),
            }
        }
        ring.ok_or(KeyringError::Empty)
    }

    /// The key datagrams are sealed with.
    pub fn primary(&self) -> &Key {
        // A ring is never empty: `new` starts it with a key and `remove` keeps the primary.
        &self.keys[0]
    }

    /// Every key, the primary first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Adds a key that datagrams may be opened with (nothing changes if it is there already).
    pub fn install(&mut self, key: Key) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// Makes an installed key the primary: datagrams are sealed with it from now on.
    pub fn use_key(&mut self, key: &Key) -> Result<(), KeyringError> {
        let at = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or(KeyringError::NotInstalled)?;
        let key = self.keys.remove(at);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Applies one rotation step.
    pub fn apply(&mut self, change: KeyChange) -> Result<(), KeyringError> {
        match change {
            KeyChange::Install(key) => {
                self.install(key);
                Ok(())
            }
            KeyChange::Use(key) => self.use_key(&key),
            KeyChange::Remove(key) => self.remove(&key),
            KeyChange::Replace(ring) => {
                *self = ring;
                Ok(())
            }
        }
    }

    /// Removes a key that is not the primary.
    pub fn remove(&mut self, key: &Key) -> Result<(), KeyringError> {
        match self.keys.iter().position(|k| k == key) {
            None => Err(KeyringError::NotInstalled),
            Some(0) => Err(KeyringError::RemovePrimary),
            Some(at) => {
                self.keys.remove(at);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::new([b; KEY_LEN])
    }

    #[test]
    fn rotation_keeps_a_primary_and_refuses_to_remove_it() {
        let mut ring = Keyring::new(key(1));
        ring.install(key(2));
        ring.install(key(2));
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.remove(&key(1)), Err(KeyringError::RemovePrimary));
        ring.use_key(&key(2)).unwrap();
        assert_eq!(ring.primary(), &key(2));
        ring.remove(&key(1)).unwrap();
        assert_eq!(ring.keys(), &[key(2)]);
        assert_eq!(ring.use_key(&key(1)), Err(KeyringError::NotInstalled));
        assert_eq!(ring.remove(&key(3)), Err(KeyringError::NotInstalled));
    }

    #[test]
    fn from_keys_needs_one_and_checks_lengths() {
        assert_eq!(Keyring::from_keys([]), Err(KeyringError::Empty));
        assert_eq!(Key::from_slice(&[0; 16]), Err(KeyringError::KeyLength(16)));
        let ring = Keyring::from_keys([key(3), key(4), key(3)]).unwrap();
        assert_eq!(ring.keys(), &[key(3), key(4)]);
        assert_eq!(format!("{:?}", key(9)), "Key(..)");
    }
}
