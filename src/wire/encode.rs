//! Writing datagrams: the header, the primary message, and updates while they fit.

use bincode::Encode;
use bincode::enc::Encoder;
use bincode::error::EncodeError;

use super::{FLAG_LABEL, MAGIC, MAX_UPDATES, Message, Packet, Update, VERSION};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

/// Writes the header and the primary message into `buf` (cleared first), leaving room for
/// updates. Use [`PacketWriter::push`] to add updates while they fit, then [`PacketWriter::finish`].
///
/// The writer never lets `buf` exceed the budget because of an update: one that does not fit is
/// rolled back. The primary message itself is always written (callers keep primaries small).
pub struct PacketWriter<'a> {
    buf: &'a mut Vec<u8>,
    budget: usize,
    count_at: usize,
    count: usize,
}

impl<'a> PacketWriter<'a> {
    /// Starts a datagram with `message` into `buf`.
    pub fn new(
        buf: &'a mut Vec<u8>,
        label: Option<&str>,
        message: &Message,
        budget: usize,
    ) -> Self {
        buf.clear();
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        match label {
            Some(l) => {
                buf.push(FLAG_LABEL);
                let bytes = l.as_bytes();
                let len = bytes.len().min(u8::MAX as usize);
                buf.push(len as u8);
                buf.extend_from_slice(bytes.get(..len).unwrap_or_default());
            }
            None => buf.push(0),
        }
        // Encoding into a Vec cannot fail for these types: there is no size limit on writes.
        let _ = bincode::encode_into_std_write(message, buf, bincode::config::standard());
        let count_at = buf.len();
        buf.push(0);
        Self {
            buf,
            budget,
            count_at,
            count: 0,
        }
    }

    /// Appends `update` if it fits under the budget; returns whether it did.
    pub fn push(&mut self, update: &Update) -> bool {
        if self.count >= MAX_UPDATES || self.buf.len() >= self.budget {
            return false;
        }
        let mark = self.buf.len();
        let ok =
            bincode::encode_into_std_write(update, self.buf, bincode::config::standard()).is_ok();
        if !ok || self.buf.len() > self.budget {
            self.buf.truncate(mark);
            return false;
        }
        self.count += 1;
        true
    }

    /// Updates written so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes left under the budget.
    pub fn remaining(&self) -> usize {
        self.budget.saturating_sub(self.buf.len())
    }

    /// Completes the datagram; returns its length.
    pub fn finish(self) -> usize {
        // MAX_UPDATES < 251, so bincode's varint length is this single byte.
        if let Some(slot) = self.buf.get_mut(self.count_at) {
            *slot = self.count as u8;
        }
        self.buf.len()
    }
}

/// Encodes a whole packet (all its updates, however large). For tests and tools; the core
/// uses [`PacketWriter`] to respect the budget.
pub fn encode(label: Option<&str>, packet: &Packet) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, label, &packet.message, usize::MAX);
    for u in &packet.updates {
        w.push(u);
    }
    w.finish();
    buf
}

impl Encode for NodeName {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.as_str().encode(encoder)
    }
}

impl Encode for Incarnation {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl Encode for MemberState {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        let tag: u8 = match self {
            MemberState::Alive => 0,
            MemberState::Suspect => 1,
            MemberState::Dead => 2,
            MemberState::Left => 3,
        };
        tag.encode(encoder)
    }
}

impl Encode for Tags {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        // The same bytes as a map: a length, then the pairs.
        match self.map() {
            Some(map) => map.encode(encoder),
            None => 0u64.encode(encoder),
        }
    }
}
