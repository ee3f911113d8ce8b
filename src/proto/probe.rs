//! The probe cycle: ping, ping-req after `probe_timeout`, judgement at the end of the period;
//! and the other side of it, relaying someone else's ping-req (with Lifeguard's nack).

use std::net::SocketAddr;
use std::time::Instant;

use super::outbox::{Body, Outgoing};
use super::timer::Timer;
use rand::Rng;

use super::{MAX_RELAYS, Status, Swim};
use crate::config::SuspicionRule;
use crate::member::{Incarnation, MemberState, NodeName};
use crate::wire::Message;

/// How many members, on average, probe a fresh suspect out of turn (see `Swim::volunteer`).
/// Two confirmations bring a suspicion to its floor; a few more cover loss.
const CONFIRMERS: usize = 4;

/// The direct probe running in this protocol period.
#[derive(Clone)]
pub(crate) struct Probe {
    pub(crate) seq: u32,
    pub(crate) target: NodeName,
    pub(crate) addr: SocketAddr,
    pub(crate) incarnation: Incarnation,
    pub(crate) sent: Instant,
    pub(crate) acked: bool,
    /// Ping-reqs sent, so nacks expected.
    pub(crate) indirect: u32,
    pub(crate) nacks: u32,
    /// The second direct ping went out (the first got no ack within `probe_timeout`).
    pub(crate) retried: bool,
    /// The target acked the first ping itself, before the retry: the evidence a member that
    /// stood down waits for (see `Swim::stand_down`).
    pub(crate) prompt: bool,
    /// The target was verified when probed (see `Entry::verified`). An unverified target may
    /// be a name at a third party's address: it gets the two bare direct pings only, no
    /// ping-req (which would multiply what that party receives), and its silence says nothing
    /// about our own health, so it moves neither the health score nor the lateness statistics.
    pub(crate) verified: bool,
}

/// A ping-req we are carrying out for another member.
#[derive(Clone)]
pub(crate) struct Relay {
    pub(crate) requester: SocketAddr,
    pub(crate) seq: u32,
    /// Where we pinged: only an ack from there is forwarded.
    pub(crate) target: SocketAddr,
}

/// Bare pings a member heard of gets, one a probe period, until one is answered (see
/// `Swim::ask_again_to_verify`): a real member is verified despite a lost datagram or two
/// (at 10 % loss, all three asks fail about once in 150), and a name at a third party's
/// address costs that party three pings per member that holds it, besides the two of its
/// turn in the round.
pub(crate) const VERIFY_ASKS: u8 = 3;

impl Swim {
    /// End of a protocol period: judge the probe that ran in it, then start the next one.
    pub(super) fn on_probe_tick(&mut self, now: Instant) {
        // A member that stood down accuses nobody, so its probes only measure its own health,
        // and at the base rate it notices its recovery within a few periods.
        let period = if self.stood_down.is_some() {
            self.config.probe_interval
        } else {
            self.awareness.scale(self.config.probe_interval)
        };
        self.timers.schedule(now + period, Timer::ProbeTick);
        self.sync_replies = 0;
        self.finish_probe(now);
        if self.status != Status::Running {
            return;
        }
        self.ask_again_to_verify();
        self.pull_what_was_turned_away(now);
        let Some(i) = self
            .confirming_probe()
            .or_else(|| self.members.next_probe(&mut self.rng))
        else {
            return;
        };
        let Some((target, addr, incarnation, verified, state)) = self.members.get(i).map(|e| {
            (
                e.id.name.clone(),
                e.id.addr,
                e.incarnation,
                e.verified,
                e.state,
            )
        }) else {
            return;
        };
        // An unverified suspect already failed its direct pings: its turn passes in silence,
        // so a name at a third party's address costs that party three pings per member in
        // all (see `ask_to_verify`, `unverified_silent`). A real one refutes as it hears of
        // the suspicion from the members it is verified with.
        if !verified && state == MemberState::Suspect {
            return;
        }
        let seq = self.next_seq();
        self.send_probe_ping(addr, seq, &target, verified);
        self.stats.probes += 1;
        self.probe = Some(Probe {
            seq,
            target,
            addr,
            incarnation,
            sent: now,
            acked: false,
            indirect: 0,
            nacks: 0,
            retried: false,
            prompt: false,
            verified,
        });
        let timeout = self.awareness.scale(self.config.probe_timeout);
        self.timers
            .schedule(now + timeout, Timer::ProbeTimeout { seq });
    }

    /// A suspect this node was asked to look at (see `Swim::volunteer`), if it still is one:
    /// probed out of turn, so the round-robin order is only delayed by a period.
    fn confirming_probe(&mut self) -> Option<usize> {
        let name = self.confirm_next.take()?;
        let i = self.members.find(name.as_str())?;
        (self.members.get(i)?.state == MemberState::Suspect).then_some(i)
    }

    /// Under the evidence rule a member that hears a fresh suspicion from someone else, and
    /// is healthy itself, probes the suspect at its next period with probability
    /// `CONFIRMERS / active members`: a few independent probes at once, so a real failure
    /// is confirmed within a period or two (and a live suspect hears of its suspicion from
    /// their buddy pings), instead of waiting for the round-robin order to come by.
    pub(super) fn volunteer(&mut self, name: &NodeName) {
        if self.config.suspicion_rule != SuspicionRule::Evidence
            || !self.may_accuse()
            || self.confirm_next.is_some()
        {
            return;
        }
        let p = CONFIRMERS as f64 / self.members.active().max(1) as f64;
        if self.rng.random::<f64>() < p {
            self.confirm_next = Some(name.clone());
        }
    }

    pub(super) fn finish_probe(&mut self, now: Instant) {
        let Some(p) = self.probe.take() else {
            return;
        };
        if !p.verified && !p.acked {
            self.unverified_silent(now, &p);
            return;
        }
        self.count_towards_rejoin(p.prompt);
        let target_blamed = !p.acked && p.indirect > 0 && p.nacks >= p.indirect;
        self.lateness.record(p.prompt, target_blamed);
        // Judged by the health we had when the probe went out, not after its own failure.
        let accuse = self.may_accuse();
        if p.acked {
            self.awareness.apply(-1);
            return;
        }
        self.stats.probes_failed += 1;
        // Lifeguard: missing nacks mean our own network (or process) is the likelier culprit.
        let delta = if p.indirect > 0 {
            p.indirect.saturating_sub(p.nacks) as i32
        } else {
            1
        };
        self.awareness.apply(delta);
        let Some(i) = self.members.find(p.target.as_str()) else {
            return;
        };
        let Some((state, inc)) = self.members.get(i).map(|e| (e.state, e.incarnation)) else {
            return;
        };
        if inc != p.incarnation {
            return;
        }
        let me = self.local.name.clone();
        match state {
            // An unhealthy member keeps its suspicion to itself: it still needs one (its pings
            // to the suspect carry it, and a live suspect's refutation corrects this node's
            // view), but the rest of the cluster should not act on its word.
            MemberState::Alive => {
                self.suspect(now, i, inc, Some(me.clone()), !accuse);
                if accuse && let Some(e) = self.members.get(i) {
                    self.stats.suspicions += 1;
                    let update = Self::entry_update(e, Some(me));
                    self.gossip.enqueue(update);
                }
            }
            // Someone else suspected it first: our own failed probe is an independent
            // confirmation (memberlist counts it the same way), if we are fit to judge.
            MemberState::Suspect if accuse => {
                self.confirm(now, i, &me);
            }
            MemberState::Suspect => {}
            MemberState::Dead | MemberState::Left => {}
        }
    }

    /// No direct ack in time: ask `indirect_checks` other members to probe the target.
    pub(super) fn on_probe_timeout(&mut self, seq: u32) {
        let Some(p) = self.probe.as_ref() else {
            return;
        };
        if p.seq != seq || p.acked {
            return;
        }
        let (target, addr) = (p.target.clone(), p.addr);
        let verified = p.verified;
        if let Some(p) = self.probe.as_mut() {
            p.retried = true;
        }
        // A second direct try alongside the indirect ones: under loss, most failed probes are
        // one lost ping or ack, and this halves the suspicions that loss alone causes (the role
        // memberlist gives its TCP fallback ping). An unverified member gets it too (a real
        // one, not heard from yet, would otherwise be suspected for one lost datagram: at
        // 10 % loss that made a 200-node join storm converge 2x slower), but no ping-req.
        self.send_probe_ping(addr, seq, &target, verified);
        if !verified {
            return;
        }
        let exclude = self.members.find(target.as_str());
        let mut picks = std::mem::take(&mut self.picks);
        self.members.random(
            &mut self.rng,
            self.config.indirect_checks,
            exclude,
            |s| s == MemberState::Alive,
            &mut picks,
        );
        for &i in &picks {
            if let Some(helper) = self.members.get(i).map(|e| e.id.addr) {
                self.send(
                    helper,
                    Message::PingReq {
                        seq,
                        target: target.id(),
                        addr,
                    },
                );
            }
        }
        self.stats.indirect_probes += picks.len() as u64;
        if let Some(p) = self.probe.as_mut() {
            p.indirect = picks.len() as u32;
        }
        self.picks = picks;
    }

    /// A suspicion check's ping (see `on_suspicion_check`) to suspect `target`, unless it is
    /// unverified: that check pings once a period for most of the suspicion, which for
    /// 64 fake names at a third party's address is 64 pings a period from every member. A
    /// real member not verified yet refutes anyway: its own probes of us carry its record.
    pub(super) fn send_ping(&mut self, addr: SocketAddr, seq: u32, target: &NodeName) {
        let verified = self
            .members
            .find(target.as_str())
            .and_then(|i| self.members.get(i))
            .is_none_or(|e| e.verified);
        if verified {
            self.send_probe_ping(addr, seq, target, true);
        }
    }

    /// Sends a ping that carries, first, what we suspect about its target (Lifeguard's buddy
    /// system), so a live target refutes in its ack; then, to a verified target, gossip.
    fn send_probe_ping(&mut self, addr: SocketAddr, seq: u32, target: &NodeName, verified: bool) {
        let ping = Message::Ping {
            seq,
            target: target.id(),
        };
        self.outbox.push_back(Outgoing {
            to: addr,
            message: ping,
            body: Body::Piggyback {
                buddy: Some(target.clone()),
                gossip: verified,
            },
            limit: None,
        });
    }

    /// One bare ping to each member heard of since the last call and still unverified, so
    /// that a real one answers, and is verified, within a round trip rather than when its turn
    /// in the probe round comes (a round is N periods: at 200 members joining at once, waiting
    /// for it made convergence 5 times slower, since nothing but pings is sent to an
    /// unverified member). Its ack verifies it by its source; the sequence number matches no
    /// probe. Names taken into the table are capped (`Members::room_for_unverified`), and each
    /// is asked at most [`VERIFY_ASKS`] times (see `ask_again_to_verify`). Called after a
    /// member's datagram, and after timers: a stranger's datagram is answered at once only to
    /// its source.
    pub(super) fn ask_to_verify(&mut self) {
        for name in std::mem::take(&mut self.to_verify) {
            if self.ping_to_verify(&name) {
                self.verifying.push((name, 1));
            }
        }
    }

    /// Once a probe period: asks again the members asked before that are still unverified,
    /// until each was asked [`VERIFY_ASKS`] times. One lost ping or ack (at 10 % loss, one ask
    /// in five) otherwise left a real member unverified until its turn in the round, N
    /// periods away, with two bare pings then and, if both were lost, a suspicion: in the
    /// simulator's 1,000-node join storm at 10 % loss, tens of thousands of rows stayed
    /// unverified and their suspicions kept gossip from ever quieting down, so tables that
    /// missed a member waited for a push-pull (every 180 s at that size) to be whole.
    pub(super) fn ask_again_to_verify(&mut self) {
        let mut verifying = std::mem::take(&mut self.verifying);
        verifying.retain_mut(|(name, asks)| {
            if *asks >= VERIFY_ASKS || !self.ping_to_verify(name) {
                return false;
            }
            *asks += 1;
            true
        });
        self.verifying = verifying;
    }

    /// Sends `name` a bare ping if it is an unverified Alive member; says whether it did.
    fn ping_to_verify(&mut self, name: &NodeName) -> bool {
        let Some(addr) = self
            .members
            .find(name.as_str())
            .and_then(|i| self.members.get(i))
            .filter(|e| !e.verified && e.state == MemberState::Alive)
            .map(|e| e.id.addr)
        else {
            return false;
        };
        let seq = self.next_seq();
        self.send_probe_ping(addr, seq, name, false);
        true
    }

    /// An unverified member did not answer its direct pings. It is suspected like anyone
    /// else, so that a real member that has not been heard from yet can refute, and a name
    /// nobody answers for leaves the table by the usual path: suspected, then dead after the
    /// suspicion timeout, then forgotten after `dead_node_reclaim`; meanwhile it is pinged
    /// only when its turn in the round comes. Our health score, lateness and stand-down
    /// count are left alone: that silence says nothing about our own network.
    fn unverified_silent(&mut self, now: Instant, p: &Probe) {
        self.stats.probes_failed += 1;
        let Some(i) = self.members.find(p.target.as_str()) else {
            return;
        };
        let Some((state, inc)) = self.members.get(i).map(|e| (e.state, e.incarnation)) else {
            return;
        };
        if inc != p.incarnation || state != MemberState::Alive {
            return;
        }
        let me = self.local.name.clone();
        self.suspect(now, i, inc, Some(me.clone()), false);
        if let Some(e) = self.members.get(i) {
            self.stats.suspicions += 1;
            let update = Self::entry_update(e, Some(me));
            self.gossip.enqueue(update);
        }
    }

    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        from: SocketAddr,
        seq: u32,
        digest: Option<[u8; 4]>,
    ) {
        self.clear_private_doubt(now, from);
        if let Some(p) = self.probe.as_mut()
            && p.seq == seq
        {
            let direct = from == p.addr;
            if direct && !p.retried {
                p.prompt = true;
            }
            if !p.acked && direct {
                let rtt = now.saturating_duration_since(p.sent);
                let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
                self.stats.last_rtt_us = u64::from(us);
                if let Some(i) = self.members.find(p.target.as_str()) {
                    self.members.set_rtt(i, us);
                }
            }
            p.acked = true;
            // Only the member we probed is asked to sync by its digest: an ack from anyone
            // else (a helper forwarding, or a forger) must not start a table transfer.
            if direct && let Some(digest) = digest {
                self.compare_tables(now, from, digest);
            }
            return;
        }
        if self.relays.get(&seq).is_some_and(|r| r.target == from)
            && let Some(relay) = self.relays.remove(&seq)
        {
            self.send(
                relay.requester,
                Message::Ack {
                    seq: relay.seq,
                    digest: None,
                },
            );
        }
    }

    pub(super) fn on_nack(&mut self, now: Instant, seq: u32) {
        self.stats.nacks_in += 1;
        let Some(p) = self.probe.as_mut() else {
            return;
        };
        if p.seq != seq {
            return;
        }
        p.nacks += 1;
        // Every helper tried and failed: waiting out the period cannot add evidence, so the
        // verdict (and the suspicion's clock) starts now.
        if !p.acked && p.nacks >= p.indirect {
            self.finish_probe(now);
        }
    }

    /// A member asks us to probe `target` for it. Only a member we know at `addr` is probed:
    /// a ping-req naming any other address would make us ping whomever its sender likes.
    pub(super) fn relay(
        &mut self,
        now: Instant,
        requester: SocketAddr,
        seq: u32,
        target: [u8; 4],
        addr: SocketAddr,
    ) {
        if self.relays.len() >= MAX_RELAYS || target == self.local_id {
            return;
        }
        let member = self
            .members
            .find_addr(addr)
            .and_then(|i| self.members.get(i));
        // Nor one we have not verified: the requester may have been fed the same fake name.
        if member.is_none_or(|e| e.id.name.id() != target || !e.verified) {
            return;
        }
        let mine = self.next_seq();
        self.relays.insert(
            mine,
            Relay {
                requester,
                seq,
                target: addr,
            },
        );
        self.send(addr, Message::Ping { seq: mine, target });
        // Lifeguard: answer before the requester's own deadline, so a nack can reach it.
        let nack_at = now + self.config.probe_timeout.mul_f64(0.8);
        self.timers
            .schedule(nack_at, Timer::RelayNack { seq: mine });
        let expire_at = now + self.config.probe_interval;
        self.timers
            .schedule(expire_at, Timer::RelayExpire { seq: mine });
    }

    pub(super) fn on_relay_nack(&mut self, seq: u32) {
        if let Some((requester, seq)) = self.relays.get(&seq).map(|r| (r.requester, r.seq)) {
            self.send(requester, Message::Nack { seq });
        }
    }
}
