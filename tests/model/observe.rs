//! The safety checks: what a host sees of one core (its events and its table) compared with
//! what the same member showed before. Each returns the [`bad`] flags the observation breaks,
//! so that a test can feed one a breaking observation directly (`the_safety_checks_can_fail`).

use rumor::proto::MAX_QUEUED;
use rumor::{EventKind, MemberState, NodeName};

use super::Node;

/// Bit flags for the safety properties, set in [`State::bad`] by the step that broke one.
pub(crate) mod bad {
    /// A Dead or Left verdict was replaced by Alive/Suspect at the same or a lower incarnation.
    pub(crate) const OVERRIDE: u16 = 1;
    /// A member's own incarnation went down.
    pub(crate) const OWN_INCARNATION: u16 = 2;
    /// A member listed itself, or reported itself Suspected or Failed.
    pub(crate) const SELF_SUSPECT: u16 = 4;
    /// A member that saw another's Left later reported it Failed (Dead).
    pub(crate) const LEFT_THEN_FAILED: u16 = 8;
    /// A user event was delivered twice to one member.
    pub(crate) const DUPLICATE_EVENT: u16 = 16;
    /// A datagram was longer than the packet budget.
    pub(crate) const OVER_BUDGET: u16 = 32;
    /// A loss-free run had to drop a datagram because the network bound was too small: the
    /// liveness results would not be about a loss-free schedule.
    pub(crate) const OVERFLOW: u16 = 64;
    /// A piggyback queue held more than its bound (see [`super::observe_queues`]).
    pub(crate) const OVER_QUEUE: u16 = 128;
}

/// Checks one event from member `me` against what it saw before; returns the flags it breaks.
pub(crate) fn observe_event(
    node: &mut Node,
    me: &str,
    kind: EventKind,
    about: &NodeName,
    inc: u32,
    user: Option<(String, u64)>,
) -> u16 {
    let mut flags = 0;
    if about.as_str() == me && matches!(kind, EventKind::Suspected | EventKind::Failed) {
        flags |= bad::SELF_SUSPECT;
    }
    let seen = node.verdicts.get(about.as_str()).copied();
    match kind {
        EventKind::Failed => {
            if let Some((_, true)) = seen {
                flags |= bad::LEFT_THEN_FAILED;
            }
            record(node, about, inc, false);
        }
        EventKind::Left => record(node, about, inc, true),
        EventKind::Joined | EventKind::Alive | EventKind::Suspected | EventKind::Updated => {
            if let Some((v, _)) = seen
                && inc <= v
            {
                flags |= bad::OVERRIDE;
            }
        }
        EventKind::User => {
            if let Some(id) = user {
                if node.delivered.contains(&id) {
                    flags |= bad::DUPLICATE_EVENT;
                } else {
                    let at = node.delivered.binary_search(&id).unwrap_or_else(|e| e);
                    node.delivered.insert(at, id);
                }
            }
        }
    }
    flags
}

fn record(node: &mut Node, about: &NodeName, inc: u32, left: bool) {
    let e = node
        .verdicts
        .entry(about.as_str().to_owned())
        .or_insert((inc, left));
    if inc >= e.0 {
        e.0 = inc;
    }
    e.1 |= left;
}

/// Checks member `me`'s current table and own incarnation; returns the flags it breaks.
pub(crate) fn observe_view(node: &mut Node, me: &str) -> u16 {
    let mut flags = 0;
    let own = node.swim.local().incarnation.0;
    if own < node.incarnation {
        flags |= bad::OWN_INCARNATION;
    }
    node.incarnation = node.incarnation.max(own);
    let view = node.swim.members();
    for m in &view {
        if m.name.as_str() == me {
            flags |= bad::SELF_SUSPECT;
        }
        let seen = node.verdicts.get(m.name.as_str()).copied();
        match m.state {
            MemberState::Alive | MemberState::Suspect => {
                if let Some((v, _)) = seen
                    && m.incarnation.0 <= v
                {
                    flags |= bad::OVERRIDE;
                }
            }
            MemberState::Dead => {
                if let Some((_, true)) = seen {
                    flags |= bad::LEFT_THEN_FAILED;
                }
                record(node, &m.name, m.incarnation.0, false);
            }
            MemberState::Left => record(node, &m.name, m.incarnation.0, true),
        }
    }
    flags
}

/// Checks a core's piggyback queues against their bounds; returns the flags it breaks. The
/// core's own bound is [`MAX_QUEUED`] per queue; within it, a queue holds one item per key (a
/// newer update about a member replaces the older one), so in a model of `members` members and
/// `events` user events the update queue holds at most `members` and the event queue at most
/// `events`. The tighter bound is the one a model this small can break.
pub(crate) fn observe_queues(node: &Node, members: usize, events: usize) -> u16 {
    let updates = node.swim.queued_updates();
    let user = node.swim.queued_user_events();
    if updates > members.min(MAX_QUEUED) || user > events.min(MAX_QUEUED) {
        bad::OVER_QUEUE
    } else {
        0
    }
}
