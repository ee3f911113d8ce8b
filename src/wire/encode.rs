//! Writing datagrams: the header, the primary message, and updates while they fit.

use std::net::SocketAddr;
use std::sync::Arc;

use bincode::Encode;
use bincode::enc::Encoder;
use bincode::error::EncodeError;

use super::{
    FLAG_EVENTS, FLAG_LABEL, MAGIC, MAX_UPDATES, MAX_USER_RECORDS, Message, Packet, Update,
    UserBody, UserRecord, VERSION,
};
use crate::event::{LamportTime, MAX_USER_EVENT_NAME};
use crate::member::{Incarnation, MemberState, NodeName, Tags};

/// Offset of the flags byte in the header.
const FLAGS_AT: usize = 3;

/// Writes the header and the primary message into `buf` (cleared first), leaving room for
/// updates. Use [`PacketWriter::push`] to add updates while they fit, then optionally
/// [`PacketWriter::open_events`] and [`PacketWriter::push_event`], then [`PacketWriter::finish`].
///
/// The writer never lets `buf` exceed the budget because of an update or an event: one that
/// does not fit is rolled back. The primary message itself is always written (callers keep
/// primaries small).
pub struct PacketWriter<'a> {
    buf: &'a mut Vec<u8>,
    budget: usize,
    count_at: usize,
    count: usize,
    events: Option<EventSection>,
    /// Bytes updates must leave free for the event section's head (see `reserve_for_events`).
    reserved: usize,
}

/// What an event section's head takes for `clock`: bincode's varint of the clock (1, 3, 5 or 9
/// bytes) and the one-byte count.
fn event_head(clock: LamportTime) -> usize {
    let varint = match clock.0 {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    };
    varint + 1
}

/// Where the user-event section starts and how many events it holds so far.
struct EventSection {
    start: usize,
    count_at: usize,
    count: usize,
    keep_empty: bool,
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
            events: None,
            reserved: 0,
        }
    }

    /// Makes updates leave room for the head of an event section carrying `clock`, so that
    /// [`open_events`](Self::open_events) with that clock fits however many updates are pushed
    /// first. Exact rather than worst-case: a stranger's answer may be no larger than its
    /// request, and a worst-case head would crowd out the one record it must carry.
    pub fn reserve_for_events(&mut self, clock: LamportTime) {
        self.reserved = event_head(clock);
    }

    /// Appends `update` if it fits under the budget; returns whether it did. Refused once the
    /// event section is open: updates come first.
    pub fn push(&mut self, update: &Update) -> bool {
        if self.count >= MAX_UPDATES || self.events.is_some() {
            return false;
        }
        let mark = self.buf.len();
        if !self.append(update) {
            return false;
        }
        if self.buf.len() + self.reserved > self.budget {
            self.buf.truncate(mark);
            return false;
        }
        self.count += 1;
        true
    }

    /// Opens the user-event section, carrying the sender's event `clock`; returns whether it
    /// fit. An empty section is dropped again at [`finish`](Self::finish) unless `keep_empty`
    /// (a sync keeps it: the clock is what a joiner needs).
    pub fn open_events(&mut self, clock: LamportTime, keep_empty: bool) -> bool {
        if self.events.is_some() {
            return true;
        }
        self.reserved = 0;
        let start = self.buf.len();
        if !self.append(&clock.0) {
            return false;
        }
        let count_at = self.buf.len();
        self.buf.push(0);
        if self.buf.len() > self.budget {
            self.buf.truncate(start);
            return false;
        }
        self.events = Some(EventSection {
            start,
            count_at,
            count: 0,
            keep_empty,
        });
        true
    }

    /// Appends a user event if the section is open and the event fits; returns whether it did.
    pub fn push_event(&mut self, record: &UserRecord) -> bool {
        match &self.events {
            Some(section) if section.count < MAX_USER_RECORDS => {}
            _ => return false,
        }
        if !self.append(record) {
            return false;
        }
        if let Some(section) = &mut self.events {
            section.count += 1;
        }
        true
    }

    /// Events written so far.
    pub fn event_count(&self) -> usize {
        self.events.as_ref().map_or(0, |s| s.count)
    }

    /// Bytes the user-event section takes (0 when there is none, or it is empty and will be
    /// dropped).
    pub fn event_bytes(&self) -> usize {
        match &self.events {
            Some(s) if s.count > 0 || s.keep_empty => self.buf.len() - s.start,
            _ => 0,
        }
    }

    /// Encodes `value` at the end if it fits under the budget, else leaves `buf` as it was.
    fn append(&mut self, value: &impl Encode) -> bool {
        if self.buf.len() >= self.budget {
            return false;
        }
        let mark = self.buf.len();
        let ok =
            bincode::encode_into_std_write(value, self.buf, bincode::config::standard()).is_ok();
        if !ok || self.buf.len() > self.budget {
            self.buf.truncate(mark);
            return false;
        }
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
        // MAX_UPDATES and MAX_USER_RECORDS < 251, so bincode's varint lengths are single bytes.
        if let Some(slot) = self.buf.get_mut(self.count_at) {
            *slot = self.count as u8;
        }
        match self.events {
            Some(s) if s.count == 0 && !s.keep_empty => self.buf.truncate(s.start),
            Some(s) => {
                if let Some(slot) = self.buf.get_mut(s.count_at) {
                    *slot = s.count as u8;
                }
                if let Some(flags) = self.buf.get_mut(FLAGS_AT) {
                    *flags |= FLAG_EVENTS;
                }
            }
            None => {}
        }
        self.buf.len()
    }
}

/// Encodes a whole packet (all its updates and events, however large). For tests and tools;
/// the core uses [`PacketWriter`] to respect the budget.
pub fn encode(label: Option<&str>, packet: &Packet) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, label, &packet.message, usize::MAX);
    for u in &packet.updates {
        w.push(u);
    }
    if let Some(user) = &packet.user {
        w.open_events(user.clock, true);
        for r in &user.records {
            w.push_event(r);
        }
    }
    w.finish();
    buf
}

/// The largest user-event payload that `origin` (advertised at `addr`) can broadcast so that
/// the event fits, alone, in a datagram of `budget` bytes under `label`, whatever its name
/// and Lamport time: what a config's `max_user_payload` may be at most.
pub fn max_event_payload(
    budget: usize,
    label: Option<&str>,
    origin: &NodeName,
    addr: SocketAddr,
) -> usize {
    let record = UserRecord {
        origin: origin.clone(),
        ltime: LamportTime(u64::MAX),
        body: Some(Arc::new(UserBody {
            addr,
            name: "n".repeat(MAX_USER_EVENT_NAME),
            payload: Vec::new(),
        })),
    };
    let mut buf = Vec::new();
    let sync = Message::Sync {
        reply: true,
        join: true,
    };
    let mut w = PacketWriter::new(&mut buf, label, &sync, usize::MAX);
    w.open_events(LamportTime(u64::MAX), true);
    w.push_event(&record);
    let bare = w.finish();
    let room = budget.saturating_sub(bare);
    // The empty payload's length took one byte; one of 251 bytes or more takes three.
    if room <= 250 {
        room
    } else {
        (room - 2).max(250)
    }
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

impl Encode for LamportTime {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl Encode for UserRecord {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.origin.encode(encoder)?;
        self.ltime.encode(encoder)?;
        match &self.body {
            None => 0u8.encode(encoder),
            Some(body) => {
                1u8.encode(encoder)?;
                body.addr.encode(encoder)?;
                body.name.encode(encoder)?;
                body.payload.as_slice().encode(encoder)
            }
        }
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
