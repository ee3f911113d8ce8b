//! The SWIM protocol with Lifeguard, as a plain state machine: no sockets, no clock reads, no
//! threads. Time is an argument and I/O is a return value.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod awareness;
mod gossip;
mod heard;
mod index;
mod invariants;
mod members;
mod merge;
mod outbox;
mod probe;
mod rows;
#[cfg(test)]
mod scenarios;
mod suspicion;
mod sync;
#[cfg(test)]
mod testing;
mod timer;
mod user;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

// hashbrown's hasher: nothing iterates these maps, so the faster hash cannot change a run.
use hashbrown::HashMap;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::Config;
use crate::error::ConfigError;
use crate::event::{Event, EventKind, Stats};
use crate::member::{Census, Incarnation, Member, MemberState, NodeName, Tags};
use crate::wire::{self, Message, Update, UserSection, WireError};

use awareness::{Awareness, Blame, Lateness};
use gossip::Gossip;
pub use gossip::MAX_QUEUED;
use heard::HeardLog;
pub use heard::{HEARD_LEN, Heard, News, Via};
pub use index::Directory;
pub use members::Identity;
use members::{Entry, Members};
use outbox::Outgoing;
use probe::{Probe, Relay};
use suspicion::Suspicion;
use timer::{Timer, Timers};
use user::UserEvents;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Created; `join` not called yet.
    Idle,
    /// Waiting for a seed to answer.
    Joining,
    /// A member of the cluster (or the first one).
    Running,
    /// No seed answered within `join_timeout`. The core does nothing more.
    JoinFailed,
    /// Spreading its Left update before it stops.
    Leaving,
    /// Done leaving: the host may stop driving it.
    Left,
    /// The join was refused: until `join_timeout` the cluster held this node's name for a
    /// live member at this other address (a second process started with the same name).
    /// The core does nothing more, as after `JoinFailed`.
    NameTaken(SocketAddr),
}

/// How many ping-reqs this node relays at once; more are dropped (a flood must not grow memory).
const MAX_RELAYS: usize = 1024;
/// Sync replies allowed per protocol period, so a flood of sync requests cannot make this node
/// send its whole table over and over.
const MAX_SYNC_REPLIES_PER_PERIOD: u32 = 4;

/// One SWIM node's protocol state.
///
/// Drive it with three families of calls:
///
/// - inputs: [`join`](Self::join), [`leave`](Self::leave), [`set_tags`](Self::set_tags),
///   [`broadcast`](Self::broadcast), [`handle_datagram`](Self::handle_datagram),
///   [`handle_timeout`](Self::handle_timeout);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout);
/// - views: [`members`](Self::members), [`local`](Self::local), [`stats`](Self::stats),
///   [`status`](Self::status), [`health`](Self::health), [`heard`](Self::heard).
///
/// After every input the host MUST drain `poll_transmit` until `None` (sending each datagram),
/// drain `poll_event`, and then wait until `poll_timeout` (or a datagram) before calling
/// `handle_timeout`. `handle_timeout` may be called early or twice: it only acts on deadlines
/// that have passed. All randomness comes from the seed given to [`new`](Self::new), so one
/// seed and one sequence of inputs give one run.
///
/// User events ([`broadcast`](Self::broadcast)) are remembered by origin and Lamport time, the
/// last `user_event_buffer` of them (older ones are too old from then on, never delivered
/// twice), their payloads for `user_event_max_age` (to hand on in push-pulls to members that
/// missed them). A member that joins later is not told of events from before its join.
#[derive(Clone)]
pub struct Swim {
    config: Config,
    local: Arc<Identity>,
    /// `local.name.id()`, compared with every ping received.
    local_id: [u8; 4],
    incarnation: Incarnation,
    status: Status,
    members: Members,
    gossip: Gossip,
    timers: Timers,
    awareness: Awareness,
    /// Whom recent suspicions were about (see `merge::stand_down`).
    blame: Blame,
    /// How often our own probes miss a prompt answer (see `merge::stand_down`).
    lateness: Lateness,
    rng: SmallRng,
    outbox: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    stats: Stats,
    seq: u32,
    probe: Option<Probe>,
    relays: HashMap<u32, Relay>,
    suspicions: HashMap<NodeName, Suspicion>,
    seeds: Vec<SocketAddr>,
    sync_replies: u32,
    /// No repair sync (see `sync::compare_tables`) starts before this.
    repair_after: Instant,
    /// A joiner still without a table: whom it asked, how often (see `sync::TablePull`).
    table_pull: sync::TablePull,
    /// The decoder's update buffer, kept between datagrams so receiving allocates nothing.
    rx_updates: Vec<Update>,
    /// Application events: the Lamport clock, what was seen, what is spreading.
    user: UserEvents,
    /// Set by `depart` when a member failed or left; read by `pass_on_verdicts`.
    verdict_heard: bool,
    /// Set by `merge` when a refutation must race a confirmed suspicion (evidence rule): it
    /// is gossiped at once after the input that brought it, the answer to a ping first.
    refutation_heard: bool,
    /// Standing down (see `merge::stand_down`): the highest incarnation this node was
    /// suspected or declared dead at while it let the verdict stand.
    stood_down: Option<Incarnation>,
    /// Probes in a row answered at once while standing down.
    prompt_acks: u32,
    /// A suspect to probe at the next period, out of turn (see `probe::volunteer`).
    confirm_next: Option<NodeName>,
    picks: Vec<usize>,
    /// The gossip tick is not armed because nothing was queued when it last fired: it
    /// resumes, on the same phase, at the first of its instants from this one on once news
    /// is queued (see `outbox::wake_gossip`). Idle ticks were half an idle member's wakeups.
    gossip_asleep: Option<Instant>,
    created: Instant,
    /// Provenance of the latest changes (see `heard.rs`).
    heard: HeardLog,
    /// The datagram whose records are being merged, and how they came; `None` outside that.
    heard_source: Option<(SocketAddr, heard::Via)>,
    /// While joining: the address of a live member the cluster holds our name for (see
    /// `merge::on_news_about_self`); the join waits for it to be declared failed.
    name_holder: Option<SocketAddr>,
    /// Who the datagram whose records are being merged may add to the table (see `admit`);
    /// `None` outside that.
    admission: Option<Admission>,
    /// Members taken in unverified and not yet asked (see `probe::ask_to_verify`); at most
    /// the table's room for unverified members.
    to_verify: Vec<NodeName>,
    /// Members asked to verify and how often, asked again once a period while unverified
    /// (see `probe::ask_again_to_verify`); at most one entry per unverified row asked.
    verifying: Vec<(NodeName, u8)>,
    /// A name was turned away for want of room for unverified members since our last pull
    /// of a whole table (see `sync::pull_what_was_turned_away`).
    turned_away: bool,
    /// Sources whose join pulls got our whole table in the last probe interval, oldest first
    /// (see `sync::remember_join_pull`).
    join_pulls: VecDeque<(SocketAddr, Instant)>,
}

/// Who may enter the member table verified from one datagram's records (see
/// [`Swim::admit`]).
#[derive(Clone, Debug)]
struct Admission {
    /// The datagram's source.
    from: SocketAddr,
    /// It is part of the table this joiner asked a seed (or a verified member) for.
    vouched: bool,
}

impl Swim {
    /// A node that is not yet part of any cluster; call [`join`](Self::join) next.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let name = NodeName::new(&config.name).map_err(|reason| ConfigError {
            field: "name",
            reason,
        })?;
        let local = Arc::new(Identity {
            name,
            addr: config.advertised(),
            tags: config.tags.clone(),
        });
        Ok(Swim {
            created: now,
            local_id: local.name.id(),
            awareness: Awareness::new(config.awareness_max_multiplier),
            blame: Blame::new(),
            lateness: Lateness::new(),
            config,
            local,
            incarnation: Incarnation(0),
            status: Status::Idle,
            members: Members::new(now),
            gossip: Gossip::default(),
            timers: Timers::default(),
            rng: SmallRng::seed_from_u64(seed),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            seq: 0,
            probe: None,
            relays: HashMap::new(),
            suspicions: HashMap::new(),
            seeds: Vec::new(),
            sync_replies: 0,
            repair_after: now,
            table_pull: sync::TablePull::default(),
            verdict_heard: false,
            refutation_heard: false,
            stood_down: None,
            prompt_acks: 0,
            confirm_next: None,
            rx_updates: Vec::new(),
            user: UserEvents::default(),
            picks: Vec::new(),
            gossip_asleep: None,
            heard: HeardLog::default(),
            heard_source: None,
            name_holder: None,
            admission: None,
            to_verify: Vec::new(),
            verifying: Vec::new(),
            turned_away: false,
            join_pulls: VecDeque::new(),
        })
    }

    /// Starts taking part: contacts `seeds` (if any) for their member tables and starts
    /// probing. With no seeds the node is at once the first member of a new cluster. Calling
    /// it again while joining or running contacts the seeds again.
    pub fn join(&mut self, now: Instant, seeds: &[SocketAddr]) {
        if matches!(self.status, Status::Leaving | Status::Left) {
            return;
        }
        let me = self.local.addr;
        self.seeds = seeds.iter().copied().filter(|s| *s != me).collect();
        if self.status == Status::Idle {
            // Random phases keep nodes started together from probing in lockstep.
            let probe_in = self.random_fraction(self.config.probe_interval);
            self.timers.schedule(now + probe_in, Timer::ProbeTick);
            let gossip_in = self.random_fraction(self.config.gossip_interval);
            self.timers.schedule(now + gossip_in, Timer::GossipTick);
            if !self.config.push_pull_interval.is_zero() {
                let sync_in = self.config.push_pull_interval / 2
                    + self.random_fraction(self.config.push_pull_interval);
                self.timers.schedule(now + sync_in, Timer::PushPullTick);
            }
        }
        if self.seeds.is_empty() {
            self.status = Status::Running;
            return;
        }
        if self.status != Status::Running {
            self.user.expect_join_clock();
            self.status = Status::Joining;
            self.timers
                .schedule(now + self.config.join_timeout, Timer::JoinDeadline);
        }
        self.send_join(now);
    }

    /// Leaves gracefully: gossips a Left update about itself until it has been sent enough
    /// times or `leave_timeout` passes; then [`status`](Self::status) is `Left`. Other
    /// members report this node as Left, not Failed.
    pub fn leave(&mut self, now: Instant) {
        match self.status {
            Status::Leaving | Status::Left => return,
            Status::Idle | Status::JoinFailed | Status::NameTaken(_) => {
                self.status = Status::Left;
                return;
            }
            Status::Joining | Status::Running => {}
        }
        if self.members.active() == 0 {
            self.status = Status::Left;
            return;
        }
        self.status = Status::Leaving;
        self.gossip.enqueue(self.local_update(MemberState::Left));
        // Tell more members than a gossip round would, at once: a leave should be seen within
        // a few milliseconds, not after the next gossip ticks.
        let fanout = self.config.gossip_nodes * 2;
        self.gossip_now(fanout);
        self.timers
            .schedule(now + self.config.leave_timeout, Timer::LeaveDeadline);
        self.wake_gossip(now);
    }

    /// Changes this node's tags; the change is gossiped with a new incarnation. At the top
    /// of the incarnation range the change is refused and counted (`incarnation_exhausted`).
    pub fn set_tags(&mut self, now: Instant, tags: Tags) {
        if !self.raise_incarnation(self.incarnation) {
            return;
        }
        self.local = Arc::new(Identity {
            name: self.local.name.clone(),
            addr: self.local.addr,
            tags,
        });
        self.gossip.enqueue(self.local_update(MemberState::Alive));
        self.wake_gossip(now);
    }

    /// A datagram arrived from `from`. Bad datagrams are counted in [`Stats`] and dropped;
    /// nothing a peer sends can make this panic.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if matches!(
            self.status,
            Status::Left | Status::JoinFailed | Status::NameTaken(_)
        ) {
            return;
        }
        let mut updates = std::mem::take(&mut self.rx_updates);
        let mut user: Option<UserSection> = None;
        let known = KnownMembers {
            members: &self.members,
            local: &self.local,
            user: &self.user,
        };
        let label = self.config.cluster_label.as_deref();
        let message = match wire::decode_into(bytes, label, &known, &mut updates, &mut user) {
            Ok(m) => m,
            Err(e) => {
                self.rx_updates = updates;
                match e {
                    WireError::Oversize(_) => self.stats.dropped_oversize += 1,
                    WireError::Version(_) => self.stats.dropped_version += 1,
                    WireError::WrongCluster => self.stats.dropped_wrong_cluster += 1,
                    WireError::Sealed => self.stats.dropped_sealed += 1,
                    WireError::BadHeader
                    | WireError::Malformed(_)
                    | WireError::TrailingBytes(_) => self.stats.dropped_malformed += 1,
                }
                return;
            }
        };
        // Any decodable datagram from a member's own address verifies it: whoever is there
        // answers for the name, so sending to it aims at no third party.
        if let Some(i) = self.members.find_addr(from) {
            self.members.verify(i);
        }
        // Asked before the updates are merged: a datagram cannot vouch for its own sender.
        let known = self.knows(from);
        // What a stranger may be answered with: no more bytes than it sent, so that a forged
        // source address never turns this node into an amplifier.
        let limit = (!known).then_some(bytes.len());
        let kind = message.kind().index();
        self.stats.packets_in[kind] += 1;
        self.stats.bytes_in[kind] += bytes.len() as u64;
        self.stats.updates_in += updates.len() as u64;
        let from_sync = matches!(message, Message::Sync { .. });
        let records = updates.len();
        // Who a stranger's join request is from, by its first record (see `on_sync`).
        let joiner = match message {
            Message::Sync { join: true, .. } if !known => updates.first().map(|u| u.name.clone()),
            _ => None,
        };
        // Updates first: a ping that carries our own suspicion (Lifeguard's buddy system) makes
        // us refute before we ack, so the ack carries the refutation.
        let via = if from_sync {
            heard::Via::Sync
        } else {
            heard::Via::Piggyback
        };
        self.heard_source = Some((from, via));
        self.admission = Some(Admission {
            from,
            vouched: from_sync && known && self.answers_our_join(from),
        });
        for update in updates.drain(..) {
            self.merge(now, update, from_sync);
        }
        self.rx_updates = updates;
        self.admission = None;
        if let Some(section) = user {
            self.on_user_section(now, section, from_sync);
        }
        self.heard_source = None;
        // A stranger's verdict waits for our own next input (a timer, gossip tick at the
        // latest): passed on at once it would make a few bytes from anyone fan out to
        // gossip_nodes members.
        if known {
            self.pass_on_verdicts();
            self.ask_to_verify();
        }
        match message {
            Message::Ping { seq, target } => {
                if target == self.local_id {
                    // The digest asks the prober to sync: only a member may be asked.
                    let digest = if known { self.quiet_digest() } else { None };
                    self.answer(from, Message::Ack { seq, digest }, limit);
                    // Only a seed's ping says the cluster took us in: anyone else's, to a
                    // joiner that knows no one else, is a stranger's, and must not make it
                    // report "joined" or pull a table from whoever sent it.
                    if self.status == Status::Joining && known {
                        self.joined_via(now, from);
                    }
                }
            }
            // Only members are relayed for (see `relay`); acks, nacks and digests come from
            // members we asked, so a stranger's say nothing.
            Message::PingReq { seq, target, addr } if known => {
                self.relay(now, from, seq, target, addr)
            }
            Message::Ack { seq, digest } if known => self.on_ack(now, from, seq, digest),
            Message::Nack { seq } if known => self.on_nack(now, seq),
            Message::Digest { digest } if known => self.on_digest(from, u64::from_le_bytes(digest)),
            Message::PingReq { .. } | Message::Ack { .. } | Message::Nack { .. } => {}
            Message::Digest { .. } | Message::Gossip => {}
            Message::Sync { reply, join } => self.on_sync(
                now,
                sync::SyncIn {
                    from,
                    reply,
                    join,
                    limit,
                    joiner,
                    records,
                },
            ),
        }
        // As with verdicts, a stranger's news waits for the next gossip tick.
        if std::mem::take(&mut self.refutation_heard) && known {
            self.gossip_now(self.config.gossip_nodes);
        }
        self.check_leave();
        self.wake_gossip(now);
        self.prune_timers();
    }

    /// Acts on every deadline that has passed at `now`. Extra calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            if matches!(
                self.status,
                Status::Left | Status::JoinFailed | Status::NameTaken(_)
            ) {
                continue;
            }
            match timer {
                Timer::ProbeTick => self.on_probe_tick(now),
                Timer::ProbeTimeout { seq } => self.on_probe_timeout(seq),
                Timer::RelayNack { seq } => self.on_relay_nack(seq),
                Timer::RelayExpire { seq } => {
                    self.relays.remove(&seq);
                }
                Timer::SuspicionTimeout {
                    member,
                    incarnation,
                } => self.on_suspicion_timeout(now, member, incarnation),
                Timer::SuspicionCheck {
                    member,
                    incarnation,
                } => self.on_suspicion_check(now, member, incarnation),
                Timer::GossipTick => self.on_gossip_tick(now),
                Timer::PushPullTick => self.on_push_pull_tick(now),
                Timer::JoinRetry => {
                    if self.status == Status::Joining {
                        self.send_join(now);
                    }
                }
                Timer::TablePull => self.on_table_pull(now),
                Timer::JoinDeadline => {
                    if self.status == Status::Joining {
                        self.status = match self.name_holder {
                            Some(holder) => Status::NameTaken(holder),
                            None => Status::JoinFailed,
                        };
                        self.outbox.clear();
                    }
                }
                Timer::LeaveDeadline => {
                    if self.status == Status::Leaving {
                        self.status = Status::Left;
                    }
                }
                Timer::Reclaim {
                    member,
                    incarnation,
                } => self.on_reclaim(member, incarnation),
            }
        }
        self.expire_user_events(now);
        self.pass_on_verdicts();
        self.ask_to_verify();
        self.check_leave();
        self.wake_gossip(now);
        self.prune_timers();
    }

    /// Writes the next datagram to send into `buf` (replacing its contents) and returns where
    /// to send it, or `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let to = self.encode_next(buf)?;
        // That datagram may have carried the last copy of our Left update.
        self.check_leave();
        Some(to)
    }

    /// The next membership change or user event observed, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > KEEP_EVENTS {
            self.events = VecDeque::new();
        }
        event
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(
            self.status,
            Status::Left | Status::JoinFailed | Status::NameTaken(_)
        ) {
            return None;
        }
        self.timers.next()
    }

    /// Every member this node knows of, itself excluded, Dead and Left ones included until
    /// they are forgotten.
    pub fn members(&self) -> Vec<Member> {
        let epoch = self.members.epoch();
        self.members.iter().map(|e| member_of(e, epoch)).collect()
    }

    /// How many members are in each state, and their round trips, itself excluded: what
    /// [`Swim::members`] would say in counts, without copying a member.
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for e in self.members.iter() {
            c.add(e.state, (e.rtt_us > 0).then_some(e.rtt_us));
        }
        c.rtts_us.sort_unstable();
        c
    }

    /// Members this node considers Alive or Suspect, itself excluded.
    pub fn active_members(&self) -> usize {
        self.members.active()
    }

    /// Members this node considers Alive, itself excluded: with
    /// [`active_members`](Self::active_members), "is anyone suspected?" in O(1).
    pub fn alive_members(&self) -> usize {
        self.members.alive()
    }

    /// Members only heard of, none of whose own datagrams has arrived yet (in any state): they
    /// are probed directly and sent nothing else, and there are at most
    /// max(64, verified members) of them (see `Members::room_for_unverified`).
    pub fn unverified_members(&self) -> usize {
        self.members.unverified()
    }

    /// The state this node holds member `name` in (`None` for a stranger, or itself), found in
    /// O(1): a host watching one member need not copy the table ([`Swim::members`]).
    pub fn member_state(&self, name: &str) -> Option<MemberState> {
        let i = self.members.find(name)?;
        self.members.get(i).map(|e| e.state)
    }

    /// Membership updates waiting to be piggybacked, at most [`MAX_QUEUED`]: a host (or the
    /// model check) can watch the backlog and see the bound hold.
    pub fn queued_updates(&self) -> usize {
        self.gossip.len()
    }

    /// User events waiting to be piggybacked, at most [`MAX_QUEUED`].
    pub fn queued_user_events(&self) -> usize {
        self.user.queue.len()
    }

    /// This node as the cluster should see it.
    pub fn local(&self) -> Member {
        Member {
            name: self.local.name.clone(),
            addr: self.local.addr,
            incarnation: self.incarnation,
            state: match self.status {
                Status::Leaving | Status::Left => MemberState::Left,
                _ => MemberState::Alive,
            },
            tags: self.local.tags.clone(),
            since: self.created,
            rtt: None,
        }
    }

    /// The running counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Where this node is in its life.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Lifeguard's local health score: 0 is healthy; each point stretches this node's probe
    /// interval and timeout by one more multiple.
    pub fn health(&self) -> u32 {
        self.awareness.score()
    }

    /// Whether this node is standing down: suspected or declared dead while its own probes
    /// said that what is sent to it goes missing, and singled out by the suspicions it hears,
    /// it lets the verdict stand instead of refuting, and rejoins by itself once its probes
    /// are answered promptly again ([`SuspicionRule::Evidence`] only).
    ///
    /// [`SuspicionRule::Evidence`]: crate::config::SuspicionRule::Evidence
    pub fn standing_down(&self) -> bool {
        self.stood_down.is_some()
    }

    /// Adds members this node knows without being told over the network, as Alive at
    /// incarnation 0, with no event and no gossip. For simulations that start from a formed
    /// cluster; sharing one `Arc<Identity>` per member across nodes keeps their tables small.
    pub fn bootstrap(&mut self, now: Instant, members: impl IntoIterator<Item = Arc<Identity>>) {
        let members = members.into_iter();
        self.members.reserve(members.size_hint().0);
        for id in members {
            if id.name == self.local.name || self.members.find(id.name.as_str()).is_some() {
                continue;
            }
            let entry = self
                .members
                .entry(id, Incarnation(0), MemberState::Alive, now);
            self.members.push_unordered(entry);
        }
    }

    /// [`bootstrap`](Self::bootstrap) with every identity of the [`Directory`] this core
    /// shares ([`share_directory`](Self::share_directory)), in O(1) rather than O(N): the
    /// rows are read from one copy shared by every core so bootstrapped at the same `now`
    /// until this one changes them (see the simulator's memory model); what the core does is
    /// the same as after `bootstrap`. Returns false, doing nothing, when the core shares no
    /// directory, already holds members, or the shared rows were made at another time.
    pub fn bootstrap_directory(&mut self, now: Instant) -> bool {
        let Some(dir) = self.members.directory() else {
            return false;
        };
        let own = dir.number_of(self.local.name.as_str());
        self.members.fill_shared(own, now)
    }

    // ---- helpers shared by the parts ----

    /// Whether `addr` is a member's (in any state: a healed partition reconnects through
    /// members remembered dead) or a seed's. Everyone else is a stranger, whose datagrams
    /// are answered with no more bytes than they carried, and only to their source.
    fn knows(&self, addr: SocketAddr) -> bool {
        self.members.find_addr(addr).is_some() || self.seeds.contains(&addr)
    }

    /// Whether the record `update`, about a member the table does not hold, may enter it, and
    /// if so whether verified (see `Entry::verified`); counts what it turns away.
    ///
    /// A record at the datagram's source is verified: its sender answers for it. So are the
    /// records of the table a joiner asked for (a seed's or a verified member's: `push_table`
    /// sends only verified members). Every other new member is unverified, whoever named it,
    /// and past `Members::room_for_unverified` it is dropped (`Stats::rejected_unverified`).
    ///
    /// A stranger's other names are not refused outright (the first design): anyone becomes
    /// a member by sending its own record first, so refusing them bounded nothing, and in a
    /// join storm, where every joiner is a stranger to most members for a while, it made
    /// 200 nodes converge in 77 s instead of 1.5 s. What bounds a stranger is what every
    /// unverified name gets: bare direct pings, a cap, no health cost.
    fn admit(&mut self, update: &Update) -> Option<bool> {
        let Some(a) = self.admission.as_ref() else {
            return Some(true);
        };
        let verified = update.addr == a.from || a.vouched;
        if !verified && !self.members.room_for_unverified() {
            self.stats.rejected_unverified += 1;
            self.turned_away = true;
            return None;
        }
        Some(verified)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn random_fraction(&mut self, d: Duration) -> Duration {
        d.mul_f64(self.rng.random::<f64>())
    }

    fn local_update(&self, state: MemberState) -> Update {
        Update {
            name: self.local.name.clone(),
            addr: self.local.addr,
            incarnation: self.incarnation,
            state,
            tags: if state == MemberState::Alive {
                self.local.tags.clone()
            } else {
                Tags::default()
            },
            from: None,
        }
    }

    fn entry_update(entry: &Entry, from: Option<NodeName>) -> Update {
        Update {
            name: entry.id.name.clone(),
            addr: entry.id.addr,
            incarnation: entry.incarnation,
            state: entry.state,
            tags: if entry.state == MemberState::Alive {
                entry.id.tags.clone()
            } else {
                Tags::default()
            },
            from,
        }
    }

    fn check_leave(&mut self) {
        if self.status == Status::Leaving
            && self.gossip.transmits(self.local.name.as_str()).is_none()
        {
            self.status = Status::Left;
        }
    }

    fn emit(&mut self, now: Instant, kind: EventKind, i: usize) {
        if let Some(e) = self.members.get(i) {
            let news = heard::News::Member {
                name: e.id.name.clone(),
                kind,
                state: e.state,
                incarnation: e.incarnation,
            };
            self.events.push_back(Event {
                kind,
                member: member_of(e, self.members.epoch()),
                at: now,
                user: None,
            });
            self.record_heard(now, news);
        }
    }
}

/// Past this many slots a drained event queue gives its memory back. A join or a sync adds a
/// row, and so an event, per member at once (10,000 Joined events are ~1.5 MB), and a queue
/// otherwise keeps its largest burst's room for good: in the simulator's 10,000 nodes joining
/// at once, gigabytes. Below it the room is kept, so steady traffic does not allocate.
const KEEP_EVENTS: usize = 64;

/// Lets the decoder share the names and tags this node already holds, and skip the bodies of
/// user events it already has.
struct KnownMembers<'a> {
    members: &'a Members,
    local: &'a Identity,
    user: &'a UserEvents,
}

impl wire::Known for KnownMembers<'_> {
    fn name(&self, text: &str) -> Option<NodeName> {
        if self.local.name.as_str() == text {
            return Some(self.local.name.clone());
        }
        self.members.known_name(text).cloned()
    }

    fn tags(&self, name: &NodeName) -> Option<Tags> {
        let i = self.members.find(name.as_str())?;
        self.members.get(i).map(|e| e.id.tags.clone())
    }

    fn has_event(&self, origin: &NodeName, ltime: crate::event::LamportTime) -> bool {
        self.user.has(origin, ltime)
    }
}

fn member_of(e: &Entry, epoch: Instant) -> Member {
    Member {
        name: e.id.name.clone(),
        addr: e.id.addr,
        incarnation: e.incarnation,
        state: e.state,
        tags: e.id.tags.clone(),
        since: e.since(epoch),
        rtt: (e.rtt_us > 0).then(|| Duration::from_micros(u64::from(e.rtt_us))),
    }
}
