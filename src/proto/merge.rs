//! SWIM's precedence rules: what a piece of news does to the member table, and how this node
//! answers news about itself (refutation). Also forgetting departed members.

use std::time::Instant;

use super::gossip::REFUTATION_BOOST;
use super::timer::Timer;
use super::{Status, Swim};
use crate::config::SuspicionRule;
use crate::event::EventKind;
use crate::member::{Incarnation, MemberState, NodeName};
use crate::wire::Update;

/// Probes in a row answered at once that bring back a member that stood down. What counts
/// is the chance of such a run somewhere in the whole loss, not in one try: at 80 % inbound
/// loss an ack gets through in about one probe in four (0.23 measured over real UDP), so six
/// in a row start in about one period in 9,000; a stood-down member probes once a period,
/// and over real UDP about one run in 80 of the issue-12 test (some 110 periods of loss)
/// brought the member back early, and every observer took its death back. Eight make that
/// about twenty times rarer (five, once in 3,000 tries, already failed one run in 20 in the
/// simulator). The cost: on a healed network it is back after eight periods, not six.
pub(crate) const REJOIN_AFTER: u32 = 8;

/// How far news may put a member's incarnation past the one this node holds for it (itself
/// included) and still be believed. Only the member raises its incarnation, by one per
/// refutation, tag change or rejoin, and gossip plus push-pull tell every member of each
/// step within seconds; a jump this long means an observer missed that many steps of one
/// member, about a thousand refutations or tag changes while cut off from every member
/// that knew. Anything further is a forgery: one record "n2 dead at 2^32-1" would otherwise
/// pin n2 dead everywhere (no refutation can outbid it), and "n2 alive at 2^32-1" would
/// silently swallow every later change of n2's. Dropped and counted (`dropped_implausible`).
///
/// The cost, for an honest observer that did miss that many: it keeps the older number,
/// so it drops that member's news until it forgets the member (`dead_node_reclaim`) and
/// learns it again as new. Without keys a stranger can still move a member by up to this
/// much per datagram (the member refutes above it), so about four million datagrams would
/// take one to the top of its range, where `incarnation_exhausted` says so; with keys only
/// a key holder can.
pub(crate) const MAX_INCARNATION_JUMP: u32 = 1024;

/// Whether `heard` runs implausibly far past `held` (see [`MAX_INCARNATION_JUMP`]).
pub(crate) fn implausible_jump(held: Incarnation, heard: Incarnation) -> bool {
    heard.0 > held.0.saturating_add(MAX_INCARNATION_JUMP)
}

impl Swim {
    pub(super) fn on_reclaim(&mut self, member: NodeName, incarnation: Incarnation) {
        if let Some(i) = self.members.find(member.as_str())
            && let Some(e) = self.members.get(i)
            && !e.state.is_active()
            && e.incarnation == incarnation
        {
            self.members.remove(i);
        }
    }

    /// Applies one piece of news by SWIM's precedence rules. `from_sync` marks records of a
    /// full-state sync, whose Dead entries are taken as suspicions (memberlist does the same):
    /// a stale table must not kill a live member outright.
    pub(super) fn merge(&mut self, now: Instant, update: Update, from_sync: bool) {
        if update.name == self.local.name {
            self.on_news_about_self(now, update);
            return;
        }
        let mut state = update.state;
        if from_sync && state == MemberState::Dead {
            state = MemberState::Suspect;
        }
        let inc = update.incarnation;
        let Some(i) = self.members.find(update.name.as_str()) else {
            if state == MemberState::Alive && self.members.len() >= self.config.max_members {
                self.stats.rejected_members += 1;
            } else if state == MemberState::Alive
                && let Some(verified) = self.admit(&update)
            {
                let id = self
                    .members
                    .identity(&update.name, update.addr, &update.tags);
                let mut entry = self.members.entry(id, inc, state, now);
                entry.verified = verified;
                let i = self.members.insert(entry);
                if !verified {
                    self.to_verify.push(update.name.clone());
                }
                self.emit(now, EventKind::Joined, i);
                self.gossip.enqueue(update);
            }
            return;
        };
        let Some(e) = self.members.get(i) else {
            return;
        };
        let (cur, ci) = (e.state, e.incarnation);
        if implausible_jump(ci, inc) {
            self.stats.dropped_implausible += 1;
            return;
        }
        use MemberState::{Alive, Dead, Left, Suspect};
        match state {
            Alive => {
                if inc <= ci {
                    return;
                }
                // A live holder keeps its name: news moving it to another address is a
                // second process with that name, or a stranger's claim (memberlist does the
                // same). The holder is probed as before; once it is Dead or Left, the new
                // address may take the name (a restart on another port).
                if matches!(cur, Alive | Suspect) && e.id.addr != update.addr {
                    self.stats.name_conflicts += 1;
                    return;
                }
                let changed = e.id.addr != update.addr || e.id.tags != update.tags;
                if changed {
                    let id = self
                        .members
                        .identity(&update.name, update.addr, &update.tags);
                    self.members.set_identity(i, id);
                }
                // A refutation of a confirmed suspicion races the suspicion's shorter floor
                // (evidence rule) in every member that holds it: pass it on at once.
                if self.config.suspicion_rule == SuspicionRule::Evidence
                    && self
                        .suspicions
                        .get(update.name.as_str())
                        .is_some_and(|s| !s.confirmed_by.is_empty())
                {
                    self.refutation_heard = true;
                }
                self.members.set(i, Alive, inc, now);
                self.suspicions.remove(update.name.as_str());
                let kind = match cur {
                    Alive => changed.then_some(EventKind::Updated),
                    Suspect | Dead => Some(EventKind::Alive),
                    Left => Some(EventKind::Joined),
                };
                if let Some(kind) = kind {
                    self.emit(now, kind, i);
                }
                if cur == Suspect {
                    self.gossip.enqueue_boosted(update, REFUTATION_BOOST);
                } else {
                    self.gossip.enqueue(update);
                }
            }
            Suspect => {
                let newer = match cur {
                    Alive => inc >= ci,
                    Suspect | Dead | Left => inc > ci,
                };
                if newer {
                    if update.from.as_ref() != Some(&self.local.name) {
                        self.blame.other_suspected(now);
                        self.volunteer(&update.name);
                    }
                    self.suspect(now, i, inc, update.from.clone(), false);
                    let mut u = update;
                    u.state = Suspect;
                    self.gossip.enqueue(u);
                } else if cur == Suspect
                    && inc == ci
                    && let Some(from) = &update.from
                {
                    self.confirm(now, i, from);
                }
            }
            Dead => {
                let newer = match cur {
                    Alive | Suspect => inc >= ci,
                    Dead | Left => inc > ci,
                };
                if newer {
                    self.depart(now, i, Dead, inc);
                    self.gossip.enqueue(update);
                }
            }
            Left => {
                let newer = match cur {
                    Alive | Suspect | Dead => inc >= ci,
                    Left => inc > ci,
                };
                if newer {
                    self.depart(now, i, Left, inc);
                    self.gossip.enqueue(update);
                }
            }
        }
    }

    /// Someone says something about us. A suspicion, a death, a leave we did not ask for, or
    /// an Alive newer than ours (from before a restart) is refuted with a higher incarnation.
    ///
    /// News about us further past our incarnation than [`MAX_INCARNATION_JUMP`] is dropped
    /// and counted, not adopted: refuting it would hand our last numbers to a forger. Except
    /// in the answers to our join (from a seed, or the member we pulled the table from, see
    /// `answers_our_join`; a background `retry_join` too): a node restarted with its numbers
    /// lost (at 0) may be held by the cluster at any incarnation from its earlier life, and
    /// that record is what it must refute, or the cluster would never take its new Alive. A
    /// stranger's datagram while joining gets no such trust.
    pub(super) fn on_news_about_self(&mut self, now: Instant, update: Update) {
        if matches!(self.status, Status::Leaving | Status::Left) {
            return;
        }
        let catching_up = self
            .heard_source
            .is_some_and(|(from, _)| self.answers_our_join(from));
        if !catching_up && implausible_jump(self.incarnation, update.incarnation) {
            self.stats.dropped_implausible += 1;
            return;
        }
        let elsewhere = update.addr != self.local.addr;
        if self.status == Status::Joining
            && elsewhere
            && matches!(update.state, MemberState::Alive | MemberState::Suspect)
        {
            // The cluster holds our name for a live member at another address. If it is a
            // crashed earlier run of ours it will be declared failed, and a later answer says
            // so: the join waits (retried) for that. If it is alive, the join ends in
            // `Status::NameTaken` at `join_timeout`. A stranger's say-so changes nothing.
            self.stats.name_conflicts += 1;
            if catching_up {
                self.name_holder = Some(update.addr);
            }
            return;
        }
        if catching_up {
            // The cluster's record of us no longer shows a live holder elsewhere.
            self.name_holder = None;
        }
        if update.state == MemberState::Alive && elsewhere && update.incarnation >= self.incarnation
        {
            // Running, and our name claimed Alive at another address: a second process with
            // our name, or a stranger. We keep our address and refute, below.
            self.stats.name_conflicts += 1;
        }
        if update.state != MemberState::Alive && self.stand_down(now, update.incarnation) {
            return;
        }
        let refute = match update.state {
            MemberState::Alive => {
                update.incarnation > self.incarnation
                    || (update.incarnation == self.incarnation
                        && (update.addr != self.local.addr || update.tags != self.local.tags))
            }
            MemberState::Suspect | MemberState::Dead | MemberState::Left => {
                update.incarnation >= self.incarnation
            }
        };
        if !refute {
            // Someone still holds a suspicion or death we already refuted: the refutation did
            // not reach it. Say it again (same incarnation), so the ack or gossip that follows
            // carries it; otherwise that member's timer would declare us dead.
            if update.state != MemberState::Alive
                && self.gossip.transmits(self.local.name.as_str()).is_none()
            {
                self.gossip
                    .enqueue_boosted(self.local_update(MemberState::Alive), REFUTATION_BOOST);
            }
            return;
        }
        if !self.raise_incarnation(update.incarnation) {
            return;
        }
        if update.state != MemberState::Alive {
            self.stats.refutations += 1;
            // Lifeguard: being suspected hints that we are the slow one.
            self.awareness.apply(1);
        }
        self.gossip
            .enqueue_boosted(self.local_update(MemberState::Alive), REFUTATION_BOOST);
        // Under the evidence rule a confirmed suspicion may end within a couple of periods:
        // the refutation goes out now rather than at the next gossip tick.
        if update.state != MemberState::Alive
            && self.config.suspicion_rule == SuspicionRule::Evidence
        {
            self.refutation_heard = true;
        }
    }

    /// Under the evidence rule, a member suspected (or declared dead) at `inc` while its own
    /// probes say its inbound path is bad (see `own_inbound_doubtful`) and recent suspicions
    /// single it out (see `Blame`) lets the verdict stand: it is the one whose packets go
    /// missing, and refuting would only start the next suspicion, an alive/suspect flap for
    /// everyone (issue 12's flaky member). It keeps probing at the base rate and comes back with a new
    /// incarnation once `REJOIN_AFTER` probes in a row are answered at once (see
    /// `count_towards_rejoin`). Returns whether it is standing down.
    fn stand_down(&mut self, now: Instant, inc: Incarnation) -> bool {
        if self.config.suspicion_rule != SuspicionRule::Evidence {
            return false;
        }
        if self.stood_down.is_none() && inc >= self.incarnation {
            self.blame.me_suspected(now);
        }
        match self.stood_down {
            Some(at) => {
                self.stood_down = Some(at.max(inc));
                true
            }
            None if self.own_inbound_doubtful()
                && self.blame.singled_out()
                && inc >= self.incarnation =>
            {
                self.stood_down = Some(inc);
                self.prompt_acks = 0;
                true
            }
            None => false,
        }
    }

    /// Whether this member's own view says that what is sent to it goes missing: its health
    /// score is bad, or (with awareness on) its probes are seldom answered at once, which a
    /// member losing most of its inbound packets sees even while the retry and the helpers
    /// get most probes answered in the end and keep its score low (see `Lateness`).
    fn own_inbound_doubtful(&self) -> bool {
        self.awareness.unhealthy() || (self.awareness.enabled() && self.lateness.late())
    }

    /// Counts a finished probe of ours while standing down: answered at once (`prompt`) or
    /// not. Enough prompt answers in a row and this member is reachable again: it rejoins
    /// with an incarnation above every verdict it let stand.
    pub(super) fn count_towards_rejoin(&mut self, prompt: bool) {
        let Some(at) = self.stood_down else {
            return;
        };
        if !prompt {
            self.prompt_acks = 0;
            return;
        }
        self.prompt_acks += 1;
        if self.prompt_acks < REJOIN_AFTER {
            return;
        }
        self.stood_down = None;
        self.prompt_acks = 0;
        if !self.raise_incarnation(at) {
            return;
        }
        self.gossip
            .enqueue_boosted(self.local_update(MemberState::Alive), REFUTATION_BOOST);
    }

    /// Takes our incarnation past `past` (and past our own). At the top of the range it
    /// refuses, counts `incarnation_exhausted` and returns false: sending the same number
    /// again would be ignored by everyone, a refutation or tag change lost without a word.
    pub(super) fn raise_incarnation(&mut self, past: Incarnation) -> bool {
        match past.max(self.incarnation).checked_next() {
            Some(next) => {
                self.incarnation = next;
                true
            }
            None => {
                self.stats.incarnation_exhausted += 1;
                false
            }
        }
    }

    /// Member `i` failed (`Dead`) or left (`Left`) at `inc`: its suspicion ends, it is
    /// reported once (Failed only if it was still in the cluster), it will be forgotten after
    /// `dead_node_reclaim`, and the verdict is passed on at once (see `pass_on_verdicts`).
    pub(super) fn depart(&mut self, now: Instant, i: usize, state: MemberState, inc: Incarnation) {
        let Some((was, name)) = self.members.get(i).map(|e| (e.state, e.id.name.clone())) else {
            return;
        };
        self.members.set(i, state, inc, now);
        self.suspicions.remove(name.as_str());
        let event = match state {
            MemberState::Dead if was.is_active() => Some(EventKind::Failed),
            MemberState::Left if was != MemberState::Left => Some(EventKind::Left),
            _ => None,
        };
        if let Some(kind) = event {
            self.emit(now, kind, i);
            self.verdict_heard = true;
        }
        self.schedule_reclaim(now, i);
    }

    pub(super) fn schedule_reclaim(&mut self, now: Instant, i: usize) {
        if let Some(e) = self.members.get(i) {
            let timer = Timer::Reclaim {
                member: e.id.name.clone(),
                incarnation: e.incarnation,
            };
            self.timers
                .schedule(now + self.config.dead_node_reclaim, timer);
        }
    }
}
