//! Reading datagrams: bounded, never panicking, sharing what the receiver already knows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bincode::de::read::{Reader, SliceReader};
use bincode::de::{BorrowDecoder, Decoder, DecoderImpl};
use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};

use super::{FLAG_EVENTS, FLAG_LABEL, FLAG_SEALED, MAX_USER_PAYLOAD, MAX_USER_RECORDS, config};
use super::{MAGIC, MAX_DATAGRAM, MAX_UPDATES, Message, Packet, Update, VERSION, WireError};
use super::{UserBody, UserRecord, UserSection};
use crate::event::{LamportTime, MAX_USER_EVENT_NAME};
use crate::member::{Incarnation, MAX_TAGS_LEN, MemberState, NodeName, Tags};

/// What the receiver already knows, so that decoding can share its names and tags instead of
/// allocating copies: almost every update a member receives is about a member it knows, so a
/// steady-state datagram decodes without touching the heap.
pub trait Known {
    /// The receiver's own copy of the name `text`, if it knows one.
    fn name(&self, text: &str) -> Option<NodeName>;
    /// The tags the receiver holds for member `name`, if any.
    fn tags(&self, name: &NodeName) -> Option<Tags>;
    /// True when the receiver already has the user event `(origin, ltime)`: its body is then
    /// skipped, not copied (most copies of an event a member receives are repeats).
    fn has_event(&self, origin: &NodeName, ltime: LamportTime) -> bool {
        let _ = (origin, ltime);
        false
    }
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
    let mut user = None;
    let message = decode_into(bytes, label, &(), &mut updates, &mut user)?;
    Ok(Packet {
        message,
        updates,
        user,
    })
}

/// Decodes one datagram into its primary message, putting its updates into `updates`
/// (cleared first, and left empty on error) so the caller can reuse one buffer, and its user
/// events, if it carries any, into `user` (`None` otherwise and on error). Names and tags that
/// `known` already has are shared, not copied.
pub fn decode_into(
    bytes: &[u8],
    label: Option<&str>,
    known: &dyn Known,
    updates: &mut Vec<Update>,
    user: &mut Option<UserSection>,
) -> Result<Message, WireError> {
    updates.clear();
    *user = None;
    let (flags, body) = body(bytes, label)?;
    let mut decoder = DecoderImpl::new(SliceReader::new(body), config(), known);
    let decoded = decode_body(&mut decoder, updates).and_then(|m| {
        if flags & FLAG_EVENTS != 0 {
            *user = Some(decode_user_section(&mut decoder)?);
        }
        Ok(m)
    });
    let message = match decoded {
        Ok(m) => m,
        Err(e) => {
            updates.clear();
            *user = None;
            return Err(WireError::Malformed(e.to_string()));
        }
    };
    let reader = decoder.reader();
    if reader.peek_read(1).is_some() {
        let left = (1..=body.len())
            .take_while(|&n| reader.peek_read(n).is_some())
            .count();
        updates.clear();
        *user = None;
        return Err(WireError::TrailingBytes(left));
    }
    Ok(message)
}

/// Checks the header; returns its flags and the body that follows it.
fn body<'b>(bytes: &'b [u8], label: Option<&str>) -> Result<(u8, &'b [u8]), WireError> {
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
    if flags & FLAG_SEALED != 0 {
        return Err(WireError::Sealed);
    }
    if flags & FLAG_LABEL != 0 {
        let (&len, rest) = rest.split_first().ok_or(WireError::BadHeader)?;
        let (got, body) = rest
            .split_at_checked(len as usize)
            .ok_or(WireError::BadHeader)?;
        if Some(got) != label.map(str::as_bytes) {
            return Err(WireError::WrongCluster);
        }
        Ok((flags, body))
    } else if label.is_some() {
        Err(WireError::WrongCluster)
    } else {
        Ok((flags, rest))
    }
}

type Ctx<'k> = &'k dyn Known;

fn decode_body<'de, 'k, D>(d: &mut D, updates: &mut Vec<Update>) -> Result<Message, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let message = Message::decode(d)?;
    let len = list_len::<Update, _>(d, MAX_UPDATES, "updates")?;
    updates.reserve(len);
    for _ in 0..len {
        updates.push(decode_update(d)?);
    }
    Ok(message)
}

/// A length prefix for a list of at most `max` items of type `T`, claimed against the
/// decoder's allocation limit.
fn list_len<'de, 'k, T, D>(d: &mut D, max: usize, what: &str) -> Result<usize, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let len = u64::decode(d)?;
    if len > max as u64 {
        return Err(DecodeError::OtherString(format!(
            "{len} {what}, at most {max}"
        )));
    }
    let len = len as usize;
    d.claim_container_read::<T>(len)?;
    Ok(len)
}

fn decode_user_section<'de, 'k, D>(d: &mut D) -> Result<UserSection, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let clock = LamportTime(u64::decode(d)?);
    let len = list_len::<UserRecord, _>(d, MAX_USER_RECORDS, "user events")?;
    let mut records = Vec::with_capacity(len);
    for _ in 0..len {
        records.push(decode_user_record(d)?);
    }
    Ok(UserSection { clock, records })
}

fn decode_user_record<'de, 'k, D>(d: &mut D) -> Result<UserRecord, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    let origin = decode_name(d)?;
    let ltime = LamportTime(u64::decode(d)?);
    let body = match decode_option_tag(d)? {
        false => None,
        true => {
            let addr = SocketAddr::decode(d)?;
            let name: &str = BorrowDecode::borrow_decode(d)?;
            if name.is_empty() || name.len() > MAX_USER_EVENT_NAME {
                return Err(DecodeError::OtherString(format!(
                    "user event name of {} bytes, 1 to {MAX_USER_EVENT_NAME} allowed",
                    name.len()
                )));
            }
            // As for member names: it reaches handlers, logs and terminals.
            if name.chars().any(char::is_control) {
                return Err(DecodeError::OtherString(
                    "user event name with a control character".into(),
                ));
            }
            let payload: &[u8] = BorrowDecode::borrow_decode(d)?;
            if payload.len() > MAX_USER_PAYLOAD {
                return Err(DecodeError::OtherString(
                    "user event payload too large".into(),
                ));
            }
            // A repeat (the common case) is checked and dropped without copying its bytes.
            (!d.context().has_event(&origin, ltime)).then(|| {
                Arc::new(UserBody {
                    addr,
                    name: name.to_string(),
                    payload: payload.to_vec(),
                })
            })
        }
    };
    Ok(UserRecord {
        origin,
        ltime,
        body,
    })
}

/// The tag of an `Option`: bincode writes 0 for `None` and 1 for `Some`.
fn decode_option_tag<'de, 'k, D>(d: &mut D) -> Result<bool, DecodeError>
where
    D: BorrowDecoder<'de, Context = Ctx<'k>>,
{
    match u8::decode(d)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(DecodeError::UnexpectedVariant {
            type_name: "Option",
            allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 1 },
            found: u32::from(other),
        }),
    }
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
    let from = match decode_option_tag(d)? {
        false => None,
        true => Some(decode_name(d)?),
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

impl<Context> Decode<Context> for Incarnation {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Incarnation(u32::decode(decoder)?))
    }
}
bincode::impl_borrow_decode!(Incarnation);

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
