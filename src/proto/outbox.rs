//! The outbox: datagrams waiting to leave, and what fills them when they do.
//!
//! A queued datagram holds only its primary message; the room left under the packet budget is
//! filled when it is encoded. A ping first carries what we suspect about its target
//! (Lifeguard's buddy system), then queued gossip, then queued user events; a full-state sync
//! carries member records, then the user events this node remembers, and what does not fit
//! follows in the next datagram. Sending queued gossip at once (on a
//! gossip tick, a leave or a verdict) is here too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Swim;
use super::gossip::retransmit_limit;
use super::timer::Timer;
use crate::member::{MemberState, NodeName};
use crate::wire::{Message, PacketWriter, Update, UserRecord};

/// A datagram waiting to be encoded. Encoding happens at `poll_transmit`, so piggybacked gossip
/// is the freshest there is when the packet actually leaves.
#[derive(Clone)]
pub(super) struct Outgoing {
    pub(super) to: SocketAddr,
    pub(super) message: Message,
    pub(super) body: Body,
    /// The answer to a stranger: at most this many bytes (what it sent), in one datagram.
    /// `None`: the packet budget, and as many datagrams as the records need.
    pub(super) limit: Option<usize>,
}

impl Outgoing {
    fn piggyback(to: SocketAddr, message: Message) -> Self {
        Outgoing {
            to,
            message,
            body: Body::Piggyback {
                buddy: None,
                gossip: true,
            },
            limit: None,
        }
    }
}

#[derive(Clone)]
pub(super) enum Body {
    /// Fill the room left with queued gossip (unless `gossip` is false: a probe of an
    /// unverified member, which carries nothing it did not need); a ping first carries what we
    /// suspect about its target (`buddy`).
    Piggyback {
        buddy: Option<NodeName>,
        gossip: bool,
    },
    /// Member records, then user events, of a full-state sync; what does not fit goes in the
    /// next datagram. Every chunk carries our event clock.
    Sync {
        records: VecDeque<Update>,
        events: VecDeque<UserRecord>,
    },
}

impl Swim {
    /// Encodes the next queued datagram into `buf` and returns where to send it, or `None`
    /// when the outbox is empty. A gossip-only datagram left with nothing to carry is skipped.
    pub(super) fn encode_next(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let budget = self.config.packet_budget;
        let limit = retransmit_limit(self.config.retransmit_mult, self.members.active() + 1);
        loop {
            let out = self.outbox.pop_front()?;
            let label = self.config.cluster_label.as_deref();
            let budget = out.limit.map_or(budget, |l| l.min(budget));
            let mut w = PacketWriter::new(buf, label, &out.message, budget);
            let mut follow_up = None;
            match out.body {
                Body::Piggyback { buddy, gossip } => {
                    if let Some(target) = buddy
                        && let Some(update) = self.buddy_update(&target)
                    {
                        w.push(&update);
                    }
                    if gossip {
                        let n = self.gossip.fill(&mut w, limit);
                        self.count_told_members();
                        let e = self.fill_events(&mut w, limit);
                        if out.message == Message::Gossip && n + e == 0 {
                            // Someone else's packet already carried the last of the news.
                            continue;
                        }
                    }
                }
                Body::Sync {
                    mut records,
                    mut events,
                } => {
                    // Room for the clock, so that even a chunk full of members carries it.
                    w.reserve_for_events(self.user.clock());
                    while let Some(u) = records.front() {
                        if !w.push(u) {
                            break;
                        }
                        records.pop_front();
                    }
                    w.open_events(self.user.clock(), true);
                    if records.is_empty() {
                        while let Some(e) = events.front() {
                            if !w.push_event(e) {
                                break;
                            }
                            events.pop_front();
                        }
                    }
                    if w.count() + w.event_count() == 0 {
                        // What cannot fit even alone would loop forever.
                        if records.pop_front().is_none() {
                            events.pop_front();
                        }
                        // To a stranger, an empty table says something only to a joiner:
                        // that it is in, and may now pull the table (see `on_sync`).
                        if out.limit.is_some()
                            && !matches!(out.message, Message::Sync { join: true, .. })
                        {
                            continue;
                        }
                    }
                    if out.limit.is_none()
                        && !(records.is_empty() && events.is_empty())
                        && let Message::Sync { join, .. } = out.message
                    {
                        follow_up = Some(Outgoing {
                            to: out.to,
                            message: Message::Sync { reply: false, join },
                            body: Body::Sync { records, events },
                            limit: None,
                        });
                    }
                }
            }
            let count = w.count() as u64;
            let event_bytes = w.event_bytes() as u64;
            let len = w.finish();
            if out.limit.is_some_and(|limit| len > limit) {
                // Even the bare message is more than the stranger sent: say nothing.
                continue;
            }
            self.stats.user_bytes_out += event_bytes;
            let len = len as u64;
            let kind = out.message.kind().index();
            self.stats.packets_out[kind] += 1;
            self.stats.bytes_out[kind] += len;
            self.stats.updates_out += count;
            if let Some(next) = follow_up {
                self.outbox.push_front(next);
            }
            return Some(out.to);
        }
    }

    pub(super) fn send(&mut self, to: SocketAddr, message: Message) {
        self.outbox.push_back(Outgoing::piggyback(to, message));
    }

    /// Answers `to` with `message` and what gossip fits, within `limit` bytes when `to` is a
    /// stranger (see `Outgoing::limit`).
    pub(super) fn answer(&mut self, to: SocketAddr, message: Message, limit: Option<usize>) {
        let mut out = Outgoing::piggyback(to, message);
        out.limit = limit;
        self.outbox.push_back(out);
    }

    /// Lifeguard's buddy system: a ping to a member we suspect carries the suspicion, so the
    /// member learns of it at once and refutes in its ack.
    fn buddy_update(&self, target: &NodeName) -> Option<Update> {
        let i = self.members.find(target.as_str())?;
        let e = self.members.get(i)?;
        (e.state == MemberState::Suspect && !self.is_private(target))
            .then(|| Self::entry_update(e, Some(self.local.name.clone())))
    }

    /// Sends queued gossip right away to up to `fanout` random members.
    pub(super) fn gossip_now(&mut self, fanout: usize) {
        let mut picks = std::mem::take(&mut self.picks);
        self.members.random(
            &mut self.rng,
            fanout,
            None,
            MemberState::is_active,
            &mut picks,
        );
        for &i in &picks {
            if let Some(addr) = self.members.get(i).map(|e| e.id.addr) {
                self.send(addr, Message::Gossip);
            }
        }
        self.picks = picks;
    }

    /// A member failed or left since the last input: pass the verdict on now rather than at
    /// the next gossip tick, so it crosses the cluster in a few network round trips instead of
    /// a few gossip intervals. Verdicts are rare, so this costs a few packets per departure,
    /// and one burst however many arrived in one datagram.
    pub(super) fn pass_on_verdicts(&mut self) {
        if std::mem::take(&mut self.verdict_heard) {
            self.gossip_now(self.config.gossip_nodes);
        }
    }

    pub(super) fn on_gossip_tick(&mut self, now: Instant) {
        let next = now + self.config.gossip_interval;
        if self.nothing_to_gossip() {
            self.gossip_asleep = Some(next);
            return;
        }
        self.timers.schedule(next, Timer::GossipTick);
        self.gossip_now(self.config.gossip_nodes);
    }

    fn nothing_to_gossip(&self) -> bool {
        self.gossip.is_empty() && self.user.queue.is_empty()
    }

    /// Called after every input: news was queued while the gossip tick slept, so it is armed
    /// again at the first instant of its old phase that is not yet past. A tick that fires on
    /// an empty queue does nothing, so a member whose tick slept through a quiet hour sends
    /// exactly what one that ticked all along would have.
    pub(super) fn wake_gossip(&mut self, now: Instant) {
        let Some(asleep) = self.gossip_asleep else {
            return;
        };
        if self.nothing_to_gossip() {
            return;
        }
        let period = self.config.gossip_interval;
        // How far past its last tick instant the phase is at `now` (zero while not yet due).
        let late = now.saturating_duration_since(asleep).as_nanos() % period.as_nanos().max(1);
        let at = match late {
            0 => asleep.max(now),
            late => now + (period - Duration::from_nanos(late as u64)),
        };
        self.gossip_asleep = None;
        self.timers.schedule(at, Timer::GossipTick);
    }
}
