//! The datagram format. This is the only module that names bincode.
//!
//! A datagram is:
//!
//! ```text
//! +--------+---------+-------+--------------------------+----------------------------------+
//! | "RM"   | version | flags | [label len u8, label]    | bincode 2 body (standard config) |
//! | 2 B    | 1 B     | 1 B   | only if flags & LABEL    | Message, then Vec<Update>        |
//! +--------+---------+-------+--------------------------+----------------------------------+
//! ```
//!
//! The body is one primary [`Message`] followed by a list of piggybacked [`Update`]s: as many as
//! fit under the packet budget, at most [`MAX_UPDATES`] so that the list's length is one byte.
//! Decoding is bounded (bincode's allocation limit is the datagram's own size), rejects trailing
//! bytes and never panics: a datagram that does not decode is a [`WireError`] for the caller to
//! count and drop. bincode 2.0.1 is pinned; the version byte makes a later codec a versioned
//! change.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use bincode::de::read::{Reader, SliceReader};
use bincode::de::{BorrowDecoder, Decoder, DecoderImpl};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};

use crate::event::MessageKind;
use crate::member::{Incarnation, MAX_TAGS_LEN, MemberState, NodeName, Tags};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"RM";
/// Wire protocol version this build speaks.
pub const VERSION: u8 = 1;
/// Header flag: a cluster label follows the fixed header.
pub const FLAG_LABEL: u8 = 0b0000_0001;
/// Most updates one datagram carries, so that the list length encodes in a single byte.
pub const MAX_UPDATES: usize = 250;
/// Largest datagram the decoder looks at; anything longer is oversize.
pub const MAX_DATAGRAM: usize = 65_507;
/// The most memory decoding one datagram may claim for its collections and strings, whatever
/// its length prefixes say: room for [`MAX_UPDATES`] updates of a full-size datagram, and no more.
pub const MAX_DECODE_ALLOC: usize = 256 * 1024;

fn config() -> impl bincode::config::Config {
    // The limit bounds what a hostile length prefix can make the decoder allocate.
    bincode::config::standard().with_limit::<MAX_DECODE_ALLOC>()
}

/// A primary protocol message: the reason a datagram was sent.
///
/// ```text
///  direct probe                          indirect probe (after probe_timeout)
///  A                B                    A              C                B
///  |--Ping(seq)---->|                    |--PingReq---->|                |
///  |<---Ack(seq)----|                    |  (seq, B)    |--Ping(seq')--->|
///                                        |              |<--Ack(seq')----|
///                                        |<--Ack(seq)---|                |
///                                        |   or, when B stays silent for |
///                                        |   80% of the timeout:         |
///                                        |<--Nack(seq)--|                |
/// ```
///
/// Every message, including acks, carries piggybacked gossip updates; `Gossip` carries nothing
/// else. `Sync` carries a chunk of the sender's full member table as its updates.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    /// Are you alive? `target` is the fingerprint ([`NodeName::id`]) of the member meant, so a
    /// different process that took over the address does not answer for it.
    Ping {
        /// Sequence number the ack echoes.
        seq: u32,
        /// Fingerprint of the member this ping is for.
        target: [u8; 4],
    },
    /// Please probe the member `target` at `addr` for me and forward its ack (or a nack).
    PingReq {
        /// The requester's sequence number, echoed in the forwarded ack or nack.
        seq: u32,
        /// Fingerprint of the member to probe.
        target: [u8; 4],
        /// Where to probe it.
        addr: SocketAddr,
    },
    /// I am alive (answer to `Ping`, or forwarded answer to `PingReq`).
    Ack {
        /// The sequence number of the ping or ping-req answered.
        seq: u32,
    },
    /// I asked the target for you and it did not answer in time.
    Nack {
        /// The ping-req's sequence number.
        seq: u32,
    },
    /// Nothing but the piggybacked updates.
    Gossip,
    /// Anti-entropy, first step: the digest of the sender's member table (itself included).
    /// A receiver whose table differs answers with a `Sync` of its own table asking for the
    /// sender's; one whose table is the same says nothing, so an agreeing cluster syncs for 8
    /// bytes. Counted with `Sync` in the statistics.
    Digest {
        /// XOR of one hash per member record (name, incarnation, state).
        digest: [u8; 8],
    },
    /// A chunk of the sender's full member table (its updates). `reply` asks the receiver to
    /// send its own table back (push-pull); `join` says the sender is joining through us.
    Sync {
        /// Send your table back.
        reply: bool,
        /// The sender is joining and has no table yet.
        join: bool,
    },
}

impl Message {
    /// The counter slot this message is counted under.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Ping { .. } => MessageKind::Ping,
            Message::PingReq { .. } => MessageKind::PingReq,
            Message::Ack { .. } => MessageKind::Ack,
            Message::Nack { .. } => MessageKind::Nack,
            Message::Gossip => MessageKind::Gossip,
            Message::Sync { .. } | Message::Digest { .. } => MessageKind::Sync,
        }
    }
}

/// One piece of membership news: a member's state at an incarnation.
///
/// Tags are meaningful only in Alive updates (other states send none and receivers keep the
/// tags they had). `from` names who raised a suspicion or a death, so that independent
/// confirmations can be counted (Lifeguard).
#[derive(Clone, Debug, PartialEq, Eq, Encode)]
pub struct Update {
    /// The member the news is about.
    pub name: NodeName,
    /// Where it is reached.
    pub addr: SocketAddr,
    /// The incarnation the state holds for.
    pub incarnation: Incarnation,
    /// The state.
    pub state: MemberState,
    /// Its metadata (Alive updates only).
    pub tags: Tags,
    /// Who suspected or declared it dead, when known.
    pub from: Option<NodeName>,
}

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq, Eq, Encode)]
pub struct Packet {
    /// The primary message.
    pub message: Message,
    /// Piggybacked updates.
    pub updates: Vec<Update>,
}

/// Why a datagram was not accepted. The datagram is dropped; nothing else changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Longer than any datagram we would send.
    Oversize(usize),
    /// Too short for a header, or not our magic bytes.
    BadHeader,
    /// Another protocol version.
    Version(u8),
    /// Another cluster's label (or a label where none is expected, or none where one is).
    WrongCluster,
    /// The body did not decode.
    Malformed(String),
    /// The body decoded but bytes were left over.
    TrailingBytes(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Oversize(n) => write!(f, "datagram of {n} bytes is over the limit"),
            WireError::BadHeader => f.write_str("not a rumor datagram"),
            WireError::Version(v) => write!(f, "protocol version {v}, expected {VERSION}"),
            WireError::WrongCluster => f.write_str("cluster label does not match"),
            WireError::Malformed(e) => write!(f, "malformed body: {e}"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the body"),
        }
    }
}

impl std::error::Error for WireError {}

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

/// What the receiver already knows, so that decoding can share its names and tags instead of
/// allocating copies: almost every update a member receives is about a member it knows, so a
/// steady-state datagram decodes without touching the heap.
pub trait Known {
    /// The receiver's own copy of the name `text`, if it knows one.
    fn name(&self, text: &str) -> Option<NodeName>;
    /// The tags the receiver holds for member `name`, if any.
    fn tags(&self, name: &NodeName) -> Option<Tags>;
}

/// Knows nothing: every name and tag is decoded afresh.
impl Known for () {
    fn name(&self, _: &str) -> Option<NodeName> {
        None
    }
    fn tags(&self, _: &NodeName) -> Option<Tags> {
        None
    }
}

/// Decodes one datagram, checking the header against our version and `label`.
pub fn decode(bytes: &[u8], label: Option<&str>) -> Result<Packet, WireError> {
    let mut updates = Vec::new();
    let message = decode_into(bytes, label, &(), &mut updates)?;
    Ok(Packet { message, updates })
}

/// Decodes one datagram into its primary message, putting its updates into `updates`
/// (cleared first, and left empty on error) so the caller can reuse one buffer. Names and tags
/// that `known` already has are shared, not copied.
pub fn decode_into(
    bytes: &[u8],
    label: Option<&str>,
    known: &dyn Known,
    updates: &mut Vec<Update>,
) -> Result<Message, WireError> {
    updates.clear();
    let body = body(bytes, label)?;
    let mut decoder = DecoderImpl::new(SliceReader::new(body), config(), known);
    let message = match decode_body(&mut decoder, updates) {
        Ok(m) => m,
        Err(e) => {
            updates.clear();
            return Err(WireError::Malformed(e.to_string()));
        }
    };
    let reader = decoder.reader();
    if reader.peek_read(1).is_some() {
        let left = (1..=body.len())
            .take_while(|&n| reader.peek_read(n).is_some())
            .count();
        updates.clear();
        return Err(WireError::TrailingBytes(left));
    }
    Ok(message)
}

/// Checks the header; returns the body that follows it.
fn body<'b>(bytes: &'b [u8], label: Option<&str>) -> Result<&'b [u8], WireError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(WireError::Oversize(bytes.len()));
    }
    let (head, rest) = bytes.split_at_checked(4).ok_or(WireError::BadHeader)?;
    let [m0, m1, version, flags] = <[u8; 4]>::try_from(head).map_err(|_| WireError::BadHeader)?;
    if [m0, m1] != MAGIC {
        return Err(WireError::BadHeader);
    }
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    if flags & FLAG_LABEL != 0 {
        let (&len, rest) = rest.split_first().ok_or(WireError::BadHeader)?;
        let (got, body) = rest
            .split_at_checked(len as usize)
            .ok_or(WireError::BadHeader)?;
        if Some(got) != label.map(str::as_bytes) {
            return Err(WireError::WrongCluster);
        }
        Ok(body)
    } else if label.is_some() {
        Err(WireError::WrongCluster)
    } else {
        Ok(rest)
    }
}

type Ctx<'k> = &'k dyn Known;

fn decode_body<'de, 'k, D>(d: &mut D, updates: &mut Vec<Update>) -> Result<Message, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let message = Message::decode(d)?;
    let len = u64::decode(d)?;
    if len > MAX_UPDATES as u64 {
        return Err(DecodeError::OtherString(format!(
            "{len} updates, at most {MAX_UPDATES}"
        )));
    }
    let len = len as usize;
    d.claim_container_read::<Update>(len)?;
    updates.reserve(len);
    for _ in 0..len {
        updates.push(decode_update(d)?);
    }
    Ok(message)
}

fn decode_name<'de, 'k, D>(d: &mut D) -> Result<NodeName, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let text: &str = BorrowDecode::borrow_decode(d)?;
    if let Some(name) = d.context().name(text) {
        return Ok(name);
    }
    NodeName::new(text).map_err(|why| DecodeError::OtherString(format!("name {why}")))
}

fn decode_update<'de, 'k, D>(d: &mut D) -> Result<Update, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let name = decode_name(d)?;
    let addr = SocketAddr::decode(d)?;
    let incarnation = Incarnation::decode(d)?;
    let state = MemberState::decode(d)?;
    let tags = decode_tags(d, &name)?;
    let from = match u8::decode(d)? {
        0 => None,
        1 => Some(decode_name(d)?),
        other => {
            return Err(DecodeError::UnexpectedVariant {
                type_name: "Option<NodeName>",
                allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 1 },
                found: u32::from(other),
            });
        }
    };
    Ok(Update {
        name,
        addr,
        incarnation,
        state,
        tags,
        from,
    })
}

/// Tags as a map (a length, then sorted pairs). When they equal the tags the receiver already
/// holds for `member`, its copy is shared; only a change allocates.
fn decode_tags<'de, 'k, D>(d: &mut D, member: &NodeName) -> Result<Tags, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let len = u64::decode(d)?;
    if len == 0 {
        return Ok(Tags::default());
    }
    if len > MAX_TAGS_LEN as u64 {
        return Err(DecodeError::OtherString("tags over the size limit".into()));
    }
    let len = len as usize;
    d.claim_container_read::<(String, String)>(len)?;
    let known = d.context().tags(member).unwrap_or_default();
    let mut same = known.iter();
    let mut matched = 0;
    let mut built: Option<BTreeMap<String, String>> = None;
    for _ in 0..len {
        let key: &str = BorrowDecode::borrow_decode(d)?;
        let value: &str = BorrowDecode::borrow_decode(d)?;
        if built.is_none() && same.next() == Some((key, value)) {
            matched += 1;
            continue;
        }
        let map = built.get_or_insert_with(|| {
            known
                .iter()
                .take(matched)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
        map.insert(key.to_string(), value.to_string());
    }
    let all_matched = built.is_none() && same.next().is_none();
    drop(same);
    let tags = match built {
        None if all_matched => return Ok(known),
        None => Tags::from_map(
            known
                .iter()
                .take(matched)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        Some(map) => Tags::from_map(map),
    };
    if tags.encoded_len() > MAX_TAGS_LEN {
        return Err(DecodeError::OtherString("tags over the size limit".into()));
    }
    Ok(tags)
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

impl<Context> Decode<Context> for Incarnation {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Incarnation(u32::decode(decoder)?))
    }
}
bincode::impl_borrow_decode!(Incarnation);

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

impl<Context> Decode<Context> for MemberState {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        match u8::decode(decoder)? {
            0 => Ok(MemberState::Alive),
            1 => Ok(MemberState::Suspect),
            2 => Ok(MemberState::Dead),
            3 => Ok(MemberState::Left),
            other => Err(DecodeError::OtherString(format!("member state {other}"))),
        }
    }
}
bincode::impl_borrow_decode!(MemberState);

impl Encode for Tags {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        // The same bytes as a map: a length, then the pairs.
        match self.map() {
            Some(map) => map.encode(encoder),
            None => 0u64.encode(encoder),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn name(s: &str) -> NodeName {
        NodeName::new(s).unwrap()
    }

    fn update(n: &str, state: MemberState) -> Update {
        Update {
            name: name(n),
            addr: "127.0.0.1:7946".parse().unwrap(),
            incarnation: Incarnation(7),
            state,
            tags: Tags::new([("role", "db")]).unwrap(),
            from: Some(name("n0")),
        }
    }

    fn every_message() -> Vec<Message> {
        vec![
            Message::Ping {
                seq: 1,
                target: name("b").id(),
            },
            Message::PingReq {
                seq: u32::MAX,
                target: name("b").id(),
                addr: "[::1]:9000".parse().unwrap(),
            },
            Message::Ack { seq: 3 },
            Message::Nack { seq: 4 },
            Message::Gossip,
            Message::Sync {
                reply: true,
                join: false,
            },
            Message::Digest { digest: [7; 8] },
        ]
    }

    #[test]
    fn every_message_round_trips_with_updates() {
        for message in every_message() {
            for label in [None, Some("prod")] {
                let packet = Packet {
                    message: message.clone(),
                    updates: vec![
                        update("a", MemberState::Alive),
                        update("b", MemberState::Suspect),
                        update("c", MemberState::Dead),
                        update("d", MemberState::Left),
                    ],
                };
                let bytes = encode(label, &packet);
                assert_eq!(decode(&bytes, label), Ok(packet));
            }
        }
    }

    /// A receiver that knows one member, `a`, with tags zone=1, role=db.
    struct KnowsA {
        name: NodeName,
        tags: Tags,
    }

    impl Known for KnowsA {
        fn name(&self, text: &str) -> Option<NodeName> {
            (text == self.name.as_str()).then(|| self.name.clone())
        }
        fn tags(&self, name: &NodeName) -> Option<Tags> {
            (*name == self.name).then(|| self.tags.clone())
        }
    }

    fn decode_known(known: &KnowsA, tags: &[(&str, &str)]) -> Update {
        let mut u = update("a", MemberState::Alive);
        u.tags = Tags::new(tags.iter().copied()).unwrap();
        let bytes = encode(
            None,
            &Packet {
                message: Message::Gossip,
                updates: vec![u],
            },
        );
        let mut out = Vec::new();
        decode_into(&bytes, None, known, &mut out).unwrap();
        out.pop().unwrap()
    }

    #[test]
    fn known_names_and_tags_are_shared_not_copied() {
        let known = KnowsA {
            name: name("a"),
            tags: Tags::new([("role", "db"), ("zone", "1")]).unwrap(),
        };
        let same = decode_known(&known, &[("role", "db"), ("zone", "1")]);
        assert!(same.name.shares(&known.name));
        assert!(same.tags.shares(&known.tags));
        // Changed, shorter and longer tags decode to exactly what was sent.
        for sent in [
            &[("role", "db"), ("zone", "2")][..],
            &[("role", "db")][..],
            &[("role", "db"), ("zone", "1"), ("zz", "x")][..],
            &[("a", "b")][..],
            &[][..],
        ] {
            let got = decode_known(&known, sent);
            assert_eq!(
                got.tags,
                Tags::new(sent.iter().copied()).unwrap(),
                "{sent:?}"
            );
            assert!(!got.tags.shares(&known.tags));
        }
    }

    #[test]
    fn ping_is_small() {
        let bytes = encode(
            None,
            &Packet {
                message: Message::Ping {
                    seq: 1000,
                    target: name("node-12").id(),
                },
                updates: vec![],
            },
        );
        assert!(bytes.len() <= 13, "ping is {} bytes", bytes.len());
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        let mut bytes = encode(
            None,
            &Packet {
                message: Message::Ack { seq: 1 },
                updates: vec![],
            },
        );
        bytes.push(0);
        assert_eq!(decode(&bytes, None), Err(WireError::TrailingBytes(1)));
    }

    #[test]
    fn decode_rejects_wrong_version_magic_and_label() {
        let good = encode(
            Some("a"),
            &Packet {
                message: Message::Gossip,
                updates: vec![],
            },
        );
        assert_eq!(decode(&good, Some("b")), Err(WireError::WrongCluster));
        assert_eq!(decode(&good, None), Err(WireError::WrongCluster));
        let mut v = good.clone();
        v[2] = 9;
        assert_eq!(decode(&v, Some("a")), Err(WireError::Version(9)));
        let mut m = good.clone();
        m[0] = b'X';
        assert_eq!(decode(&m, Some("a")), Err(WireError::BadHeader));
        assert_eq!(decode(&good[..3], Some("a")), Err(WireError::BadHeader));
        let unlabeled = encode(
            None,
            &Packet {
                message: Message::Gossip,
                updates: vec![],
            },
        );
        assert_eq!(decode(&unlabeled, Some("a")), Err(WireError::WrongCluster));
    }

    #[test]
    fn writer_never_exceeds_budget() {
        let mut buf = Vec::new();
        let mut w = PacketWriter::new(&mut buf, None, &Message::Ack { seq: 1 }, 600);
        let mut pushed = 0;
        for i in 0..1000 {
            if w.push(&update(&format!("member-{i}"), MemberState::Alive)) {
                pushed += 1;
            }
        }
        let len = w.finish();
        assert!(len <= 600, "{len}");
        assert!(pushed > 10, "only {pushed} fit");
        let packet = decode(&buf, None).unwrap();
        assert_eq!(packet.updates.len(), pushed);
    }

    #[test]
    fn decode_rejects_bad_names_and_states() {
        let mut bad = update("a", MemberState::Alive);
        bad.tags = Tags::default();
        let bytes = encode(
            None,
            &Packet {
                message: Message::Gossip,
                updates: vec![bad],
            },
        );
        // Corrupt the state byte: it sits right after the addr and incarnation.
        let mut found = false;
        for i in 4..bytes.len() {
            let mut m = bytes.clone();
            m[i] = 200;
            if decode(&m, None).is_err() {
                found = true;
            }
        }
        assert!(found);
        let empty_name = [b'R', b'M', VERSION, 0, 4, 1, 0];
        assert!(matches!(
            decode(&empty_name, None),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A Sync with an update count claiming u32::MAX entries.
        let mut bytes = vec![b'R', b'M', VERSION, 0, 5, 0, 0];
        bytes.pop();
        bytes.extend_from_slice(&[252, 0xff, 0xff, 0xff, 0xff]);
        assert!(decode(&bytes, None).is_err());
    }
}
