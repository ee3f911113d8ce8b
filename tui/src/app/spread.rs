//! The Spread pane's state: each recent change (a membership change or a user event), which
//! members' views hold it and since when, and what infection-style gossip leads one to expect.
//!
//! In the demo every node runs in this process, so the draw loop hands [`App::handle_views`]
//! one [`Snapshot`] per running node. A node's own provenance log (`Snapshot::heard`) gives the
//! exact time it heard each change; all demo nodes share one process clock, so those times
//! compare directly and the measured spread does not depend on how often the views are read.
//! A node that holds a change in its table but no longer has the record (a newer change about
//! the same member replaced it) is still lit, with an upper bound for its time, and the figure
//! is marked as approximate.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rumor::{EventKind, Incarnation, LamportTime, MemberState, News, NodeName, Snapshot};

use super::state::{App, Level, push_bounded};
use super::table::natural_cmp;

/// Changes kept for the pane: the latest and 19 earlier ones, each still selectable.
pub const SPREAD_LEN: usize = 20;

/// What a change is about, as every node names it alike (the kind of event a node reports can
/// differ: one that had the member dead reports `alive` where another reports `joined`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Member `name` reached `state` at `incarnation`.
    Member {
        /// The member.
        name: NodeName,
        /// The state it reached.
        state: MemberState,
        /// With this incarnation.
        incarnation: Incarnation,
    },
    /// The user event broadcast by `origin` at Lamport time `ltime`.
    User {
        /// Who broadcast it.
        origin: NodeName,
        /// Its Lamport time.
        ltime: LamportTime,
    },
}

impl Subject {
    /// The subject of a provenance record, and a short label for it (`failed n3`,
    /// `user deploy from n1`).
    pub fn of(news: &News) -> (Subject, String) {
        match news {
            News::Member {
                name,
                kind,
                state,
                incarnation,
            } => (
                Subject::Member {
                    name: name.clone(),
                    state: *state,
                    incarnation: *incarnation,
                },
                member_label(*kind, name, *incarnation),
            ),
            News::User {
                origin,
                ltime,
                name,
            } => (
                Subject::User {
                    origin: origin.clone(),
                    ltime: *ltime,
                },
                format!("user {name} from {origin}"),
            ),
        }
    }

    /// The member a membership change is about (it is not asked to hear news about itself).
    pub fn member(&self) -> Option<&NodeName> {
        match self {
            Subject::Member { name, .. } => Some(name),
            Subject::User { .. } => None,
        }
    }
}

fn member_label(kind: EventKind, name: &NodeName, inc: Incarnation) -> String {
    if inc == Incarnation(0) {
        format!("{} {name}", kind.as_str())
    } else {
        format!("{} {name} inc {inc}", kind.as_str())
    }
}

/// One change and how far it has travelled.
#[derive(Clone, Debug)]
pub struct Change {
    /// What changed.
    pub subject: Subject,
    /// How it reads on screen.
    pub label: String,
    /// When the first member heard it.
    pub first: Instant,
    /// The members expected to hear it: those running when it was first seen (the member it
    /// is about excepted), naturally ordered. One that stops before hearing it is dropped.
    pub audience: Vec<NodeName>,
    /// When each member of the audience heard it.
    pub heard: BTreeMap<NodeName, Instant>,
    /// Members whose time is an upper bound (their own record of it was already replaced).
    pub approx: BTreeSet<NodeName>,
    /// Audience members that stopped before they heard it.
    pub gone: Vec<NodeName>,
    /// Set once every member of the audience holds it: the time from the first to the last.
    pub reached_all: Option<Duration>,
}

impl Change {
    /// Members of the audience that hold it.
    pub fn heard_count(&self) -> usize {
        self.audience
            .iter()
            .filter(|n| self.heard.contains_key(*n))
            .count()
    }

    /// From the first member that heard it to the latest one so far.
    pub fn elapsed(&self) -> Duration {
        self.heard.values().max().map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(self.first)
        })
    }

    /// True when some time is only an upper bound.
    pub fn is_approx(&self) -> bool {
        !self.approx.is_empty()
    }
}

/// What infection-style dissemination promises for the demo's settings.
///
/// Every `gossip_interval` each member that holds a change piggybacks it to `fanout`
/// (`gossip_nodes`) random members, so the number of holders grows by up to `fanout + 1` per
/// round and all `n` hold it after about log_{k+1}(n) rounds. Probes carry news too (one ping
/// and its ack per protocol period), which only helps; retransmission limits and loss slow it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expectation {
    /// k: members each holder gossips to per round.
    pub fanout: usize,
    /// The length of a gossip round.
    pub gossip_interval: Duration,
    /// The protocol period, the unit measured spreads are given in.
    pub probe_interval: Duration,
}

impl Expectation {
    /// log_{k+1}(n): rounds for `n` members to hold a change one of them started.
    pub fn rounds(&self, n: usize) -> f64 {
        if n <= 1 {
            return 0.0;
        }
        (n as f64).ln() / ((self.fanout + 1) as f64).ln()
    }

    /// `rounds(n)` as a time.
    pub fn time(&self, n: usize) -> Duration {
        self.gossip_interval.mul_f64(self.rounds(n))
    }

    /// A time in protocol periods.
    pub fn periods(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.probe_interval.as_secs_f64()
    }
}

/// A number of periods as shown: one decimal, two below 0.1 (a verdict is passed on at once
/// and can reach everyone in well under a period).
pub fn periods_text(p: f64) -> String {
    if p < 0.1 {
        format!("{p:.2}")
    } else {
        format!("{p:.1}")
    }
}

/// A spread time as shown: whole milliseconds, with a decimal below 10 ms.
pub fn ms_text(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The pane's state: recent changes, which one is shown, and whether the pane is.
#[derive(Clone, Debug, Default)]
pub struct Spread {
    /// Recent changes, oldest first, at most [`SPREAD_LEN`].
    pub changes: VecDeque<Change>,
    /// The change shown; `None` follows the latest.
    pub selected: Option<Subject>,
    /// Whether the pane is on screen (`v`).
    pub shown: bool,
    /// Set in the demo, where the settings are known.
    pub expect: Option<Expectation>,
    /// The members whose views were read last time, naturally ordered.
    pub members: Vec<NodeName>,
    /// Changes dropped from `changes`, newest last, at most [`FORGOTTEN_LEN`]: a node's log
    /// can still hold one of them, and it must not come back as news with a made-up figure.
    forgotten: VecDeque<Subject>,
}

/// Dropped changes remembered so they are not tracked again: more than all nodes' logs hold
/// of one subject's lifetime under churn (each node keeps 16 records).
const FORGOTTEN_LEN: usize = 4 * SPREAD_LEN;

impl Spread {
    /// The change shown: the selected one, or the latest.
    pub fn current(&self) -> Option<&Change> {
        match &self.selected {
            Some(s) => self.changes.iter().find(|c| &c.subject == s),
            None => self.changes.back(),
        }
    }

    /// The change about `subject`, if it is still kept.
    pub fn find(&self, subject: &Subject) -> Option<&Change> {
        self.changes.iter().find(|c| &c.subject == subject)
    }

    /// True while a change is still travelling: the views are then read more often.
    pub fn travelling(&self) -> bool {
        self.changes.iter().any(|c| c.reached_all.is_none())
    }

    /// Selects the change `step` places older (negative: newer) than the one shown; moving
    /// onto the latest follows the latest again.
    pub fn select(&mut self, step: isize) {
        let Some(last) = self.changes.len().checked_sub(1) else {
            return;
        };
        let current = match &self.selected {
            Some(s) => self
                .changes
                .iter()
                .position(|c| &c.subject == s)
                .unwrap_or(last),
            None => last,
        };
        let target = current.saturating_add_signed(-step).min(last);
        self.selected = if target == last {
            None
        } else {
            self.changes.get(target).map(|c| c.subject.clone())
        };
    }
}

impl App {
    /// Folds one read of every running demo node's view into the Spread pane (the watched
    /// node's included). Returns true when something on the pane changed.
    pub fn handle_views(&mut self, now: Instant, views: &[Snapshot]) -> bool {
        self.advance(now);
        let mut running: Vec<NodeName> = views.iter().map(|s| s.local.name.clone()).collect();
        running.sort_by(|a, b| natural_cmp(a.as_str(), b.as_str()));
        let mut changed = running != self.spread.members;
        self.spread.members = running;
        for view in views {
            if view.local.name == self.local_name {
                keep_heard(&mut self.heard, view.heard.clone());
            }
            for record in &view.heard {
                changed |= self.note_heard(&view.local.name, &record.news, record.at);
            }
        }
        let mut finished = Vec::new();
        for change in self.spread.changes.iter_mut() {
            if change.reached_all.is_some() {
                continue;
            }
            changed |= hold_from_views(change, views, now);
            let members = &self.spread.members;
            let (stay, gone): (Vec<NodeName>, Vec<NodeName>) = std::mem::take(&mut change.audience)
                .into_iter()
                .partition(|n| members.contains(n) || change.heard.contains_key(n));
            changed |= !gone.is_empty();
            change.audience = stay;
            change.gone.extend(gone);
            if !change.audience.is_empty() && change.heard_count() == change.audience.len() {
                change.reached_all = Some(change.elapsed());
                finished.push(change.clone());
                changed = true;
            }
        }
        for change in finished {
            let text = self.reached_all_text(&change);
            self.log(Level::Info, text);
        }
        changed
    }

    /// The log line of a change that reached everyone.
    pub fn reached_all_text(&self, change: &Change) -> String {
        let took = change.reached_all.unwrap_or_default();
        let n = change.audience.len();
        let about = if change.is_approx() { "≤" } else { "" };
        match self.spread.expect {
            Some(e) => format!(
                "{} reached all {n} in {about}{} periods ({}); log{} {n} ≈ {:.1} rounds ({} ms)",
                change.label,
                periods_text(e.periods(took)),
                ms_text(took),
                e.fanout + 1,
                e.rounds(n),
                e.time(n).as_millis(),
            ),
            None => format!(
                "{} reached all {n} in {about}{}",
                change.label,
                ms_text(took)
            ),
        }
    }

    /// Member `node` heard `news` at `at`: starts tracking it if it is new, and records the
    /// time if `node` is one of those expected to hear it.
    fn note_heard(&mut self, node: &NodeName, news: &News, at: Instant) -> bool {
        let (subject, label) = Subject::of(news);
        let spread = &mut self.spread;
        let i = match spread.changes.iter().position(|c| c.subject == subject) {
            Some(i) => i,
            None => {
                if spread.forgotten.contains(&subject) {
                    return false;
                }
                let audience: Vec<NodeName> = spread
                    .members
                    .iter()
                    .filter(|n| Some(*n) != subject.member())
                    .cloned()
                    .collect();
                if !audience.contains(node) {
                    return false;
                }
                let change = Change {
                    subject,
                    label,
                    first: at,
                    audience,
                    heard: BTreeMap::new(),
                    approx: BTreeSet::new(),
                    gone: Vec::new(),
                    reached_all: None,
                };
                // Kept in order of first hearing, which is what "latest" means on screen.
                let pos = spread.changes.partition_point(|c| c.first <= at);
                if pos == 0 && spread.changes.len() == SPREAD_LEN {
                    return false;
                }
                spread.changes.insert(pos, change);
                if spread.changes.len() > SPREAD_LEN
                    && let Some(old) = spread.changes.pop_front()
                {
                    push_bounded(&mut spread.forgotten, old.subject, FORGOTTEN_LEN);
                }
                return self.note_heard(node, news, at);
            }
        };
        let Some(change) = spread.changes.get_mut(i) else {
            return false;
        };
        if change.reached_all.is_some() || !change.audience.contains(node) {
            return false;
        }
        let was_approx = change.approx.remove(node);
        match change.heard.get(node) {
            Some(&t) if t <= at && !was_approx => return false,
            _ => {}
        }
        change.heard.insert(node.clone(), at);
        if at < change.first {
            change.first = at;
        }
        true
    }
}

/// Lights the members whose table holds a membership change although their provenance log no
/// longer has it (a newer change replaced the record). Their time is an upper bound: the newer
/// record's, or else this read's.
fn hold_from_views(change: &mut Change, views: &[Snapshot], now: Instant) -> bool {
    let Subject::Member {
        name,
        state,
        incarnation,
    } = &change.subject
    else {
        return false;
    };
    let mut changed = false;
    for view in views {
        let node = &view.local.name;
        if change.heard.contains_key(node) || !change.audience.contains(node) {
            continue;
        }
        let overrides = |inc: Incarnation, st: MemberState| {
            inc > *incarnation || (inc == *incarnation && rank(st) >= rank(*state))
        };
        let holds = view
            .members
            .iter()
            .any(|m| &m.name == name && overrides(m.incarnation, m.state));
        if !holds {
            continue;
        }
        // It heard our change no later than the news that overrode it.
        let newer = view
            .heard
            .iter()
            .filter(|r| {
                matches!(&r.news, News::Member { name: n, state: st, incarnation: inc, .. }
                    if n == name && overrides(*inc, *st))
            })
            .map(|r| r.at)
            .min();
        change
            .heard
            .insert(node.clone(), newer.unwrap_or(now).min(now));
        change.approx.insert(node.clone());
        changed = true;
    }
    changed
}

/// SWIM's precedence at one incarnation: a later state overrides an earlier one.
fn rank(state: MemberState) -> u8 {
    match state {
        MemberState::Alive => 0,
        MemberState::Suspect => 1,
        MemberState::Dead | MemberState::Left => 2,
    }
}

/// Appends the provenance records of a real agent's sample, kept for the pane outside the demo.
pub(super) fn keep_heard(kept: &mut VecDeque<rumor::Heard>, fresh: Vec<rumor::Heard>) {
    for record in fresh {
        let (subject, _) = Subject::of(&record.news);
        match kept
            .iter_mut()
            .find(|r| Subject::of(&r.news).0 == subject && r.at == record.at)
        {
            Some(old) => *old = record,
            None => push_bounded(kept, record, SPREAD_LEN),
        }
    }
}
