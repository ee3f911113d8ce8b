//! The dashboard's state, folded from membership events, once-a-second node samples and keys.
//!
//! Nothing here draws or talks to a node: keys that need the node return an [`Action`] that the
//! draw loop carries out, and the loop reports back what it did ([`App::set_fault`],
//! [`App::log`]). That keeps every state change testable with a fixed list of inputs.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rumor::{Event, EventKind, Incarnation, Member, MemberState, MessageKind, NodeName, Stats};

use crate::input::UiEvent;

/// State changes remembered per member for the detail view; older ones are dropped.
pub const HISTORY_LEN: usize = 64;
/// Membership events kept for the event log.
pub const EVENT_LOG_LEN: usize = 500;
/// Dashboard log lines kept for the log pane (the log file keeps them all).
pub const LOG_LEN: usize = 500;
/// Traffic samples (one a second) kept for the sparklines: wider than any terminal.
pub const TRAFFIC_LEN: usize = 512;
/// A dead or left member the node has already forgotten stays on screen this long, so that a
/// person who looks away still sees what happened, and then goes so churn cannot grow the table
/// without bound.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Rows a PageUp/PageDown moves.
const PAGE: usize = 10;

/// One state change of a member, as shown in its detail view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When this node observed it.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
    /// The state it led to.
    pub state: MemberState,
    /// The incarnation it carried.
    pub incarnation: Incarnation,
}

/// What the demo did to a member's process, shown beside what the cluster believes about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Stopped abruptly (no leave).
    Killed,
    /// Frozen until this time.
    Paused {
        /// When the pause ends.
        until: Instant,
    },
    /// A restart is under way (a new node with the same name is joining).
    Restarting,
}

impl Fault {
    /// Short label for the table.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Killed => "killed",
            Fault::Paused { .. } => "paused",
            Fault::Restarting => "restart",
        }
    }
}

/// One line of the member table, with what the detail view needs.
#[derive(Clone, Debug)]
pub struct MemberRow {
    /// The latest snapshot of the member.
    pub member: Member,
    /// Its state changes, oldest first, at most [`HISTORY_LEN`].
    pub history: VecDeque<HistoryEntry>,
    /// True for the node this dashboard runs.
    pub is_local: bool,
    /// What the demo did to it, if anything.
    pub fault: Option<Fault>,
}

/// How important a dashboard log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Something the dashboard did or learned.
    Info,
    /// A request that could not be carried out.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// Upper-case name for the log file.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// A line of the dashboard's own log (never printed on the terminal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Position in the whole log, from 0, so a writer can tell which lines it has not written.
    pub seq: u64,
    /// When it was logged.
    pub at: Instant,
    /// How important it is.
    pub level: Level,
    /// The message.
    pub text: String,
}

/// Traffic over one sampling interval, per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    /// Datagrams received per second.
    pub packets_in: u64,
    /// Datagrams sent per second.
    pub packets_out: u64,
    /// Bytes received per second.
    pub bytes_in: u64,
    /// Bytes sent per second.
    pub bytes_out: u64,
    /// Datagrams sent per second by message kind (index with `MessageKind::index`), to show
    /// which part of the protocol the traffic is.
    pub packets_out_by_kind: [u64; MessageKind::COUNT],
}

/// What the draw loop reads from the node once a second.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The local node itself.
    pub local: Member,
    /// Everyone else the node knows, as it knows them now.
    pub members: Vec<Member>,
    /// Its counters (they only grow; the rate is the difference of two samples).
    pub stats: Stats,
    /// Lifeguard's local health score (0 = healthy).
    pub health: u32,
}

/// Which interaction the keys currently drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Browsing the table.
    Normal,
    /// Typing a filter after `/`.
    Filter,
    /// The key help overlay.
    Help,
    /// The selected member's detail and history.
    Detail,
    /// Asking whether to leave the cluster.
    ConfirmLeave,
}

/// The column the member table is ordered by; `s` cycles through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    /// By name, numbers by value (`n2` before `n10`).
    Name,
    /// Troubled members first: suspect, dead, alive, left.
    State,
    /// Highest incarnation first (members that refuted or restarted often).
    Incarnation,
    /// Most recent change first.
    Since,
    /// Slowest round trip first; members without one last.
    Rtt,
}

impl SortColumn {
    /// The next column in the cycle.
    pub fn next(self) -> Self {
        match self {
            SortColumn::Name => SortColumn::State,
            SortColumn::State => SortColumn::Incarnation,
            SortColumn::Incarnation => SortColumn::Since,
            SortColumn::Since => SortColumn::Rtt,
            SortColumn::Rtt => SortColumn::Name,
        }
    }

    /// Lower-case name, as shown in the table title.
    pub fn as_str(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::State => "state",
            SortColumn::Incarnation => "incarnation",
            SortColumn::Since => "since",
            SortColumn::Rtt => "rtt",
        }
    }
}

/// Which list the lower left pane shows; `l` switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// Membership events, newest first.
    Events,
    /// The dashboard's own log, newest first.
    Log,
}

/// Something a key asks of the node(s); the draw loop carries it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave the cluster gracefully and exit.
    Quit,
    /// Leave the cluster gracefully and stay on screen.
    Leave,
    /// Demo: stop this member's node abruptly.
    Crash(NodeName),
    /// Demo: start a killed member again with the same name.
    Restart(NodeName),
    /// Demo: freeze this member's node for a while.
    Pause(NodeName),
    /// Demo: raise (+1) or lower (-1) the packet loss of every demo node by one step.
    Loss(i8),
}

/// Demo-only state shown in the header and footer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DemoState {
    /// The packet-loss rate applied to every demo node, 0.0 to 1.0.
    pub loss: f64,
}

/// Members by state, the local node included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Alive members.
    pub alive: usize,
    /// Suspected members.
    pub suspect: usize,
    /// Dead members.
    pub dead: usize,
    /// Members that left.
    pub left: usize,
}

/// The whole dashboard state.
#[derive(Debug)]
pub struct App {
    /// The local node's name (its row is in `members` too).
    pub local_name: NodeName,
    /// The latest Lifeguard health score of the local node.
    pub health: u32,
    /// When the dashboard started, for uptime and event timestamps.
    pub started: Instant,
    /// The time of the latest input; every relative time on screen is measured from it.
    pub now: Instant,
    /// The table, by name.
    pub members: BTreeMap<NodeName, MemberRow>,
    /// Membership events, oldest first, at most [`EVENT_LOG_LEN`].
    pub events: VecDeque<Event>,
    /// The dashboard's log, oldest first, at most [`LOG_LEN`].
    pub logs: VecDeque<LogLine>,
    /// Where the log file is, for the log pane's title.
    pub log_path: Option<String>,
    /// Traffic per second, oldest first, at most [`TRAFFIC_LEN`].
    pub traffic: VecDeque<Rate>,
    /// The latest counters, for drop and probe totals.
    pub stats: Stats,
    /// The selected member, by name, so it stays selected while rows move.
    pub selected: Option<NodeName>,
    /// Table order.
    pub sort: SortColumn,
    /// Filter text (name or tag substring, or state prefix; case-insensitive); empty shows
    /// all.
    pub filter: String,
    /// What keys do now.
    pub mode: Mode,
    /// Which list the lower left pane shows.
    pub pane: Pane,
    /// Set in demo mode.
    pub demo: Option<DemoState>,
    /// True once the local node has left the cluster.
    pub left_cluster: bool,
    /// True once the user asked to quit.
    pub quitting: bool,
    /// The member table's scroll position in the last frame. Drawing takes `&App`, and keeping
    /// the position lets the selection move within the view instead of pinning it to an edge.
    pub table_offset: Cell<usize>,
    last_sample: Option<(Instant, Stats)>,
    next_log_seq: u64,
}

impl App {
    /// A dashboard for the node `local`, starting at `now`.
    pub fn new(now: Instant, local: Member) -> Self {
        let local_name = local.name.clone();
        let mut members = BTreeMap::new();
        members.insert(
            local_name.clone(),
            MemberRow {
                member: local,
                history: VecDeque::new(),
                is_local: true,
                fault: None,
            },
        );
        App {
            local_name,
            health: 0,
            started: now,
            now,
            members,
            events: VecDeque::new(),
            logs: VecDeque::new(),
            log_path: None,
            traffic: VecDeque::new(),
            stats: Stats::default(),
            selected: None,
            sort: SortColumn::Name,
            filter: String::new(),
            mode: Mode::Normal,
            pane: Pane::Events,
            demo: None,
            left_cluster: false,
            quitting: false,
            table_offset: Cell::new(0),
            last_sample: None,
            next_log_seq: 0,
        }
    }

    /// Applies one input observed at `now`; returns what the node(s) should do, if anything.
    pub fn handle(&mut self, now: Instant, event: UiEvent) -> Option<Action> {
        self.advance(now);
        match event {
            UiEvent::Key(key) => self.handle_key(key),
            UiEvent::Node(event) => {
                self.handle_event(event);
                None
            }
            UiEvent::Resize(..) | UiEvent::Tick => None,
        }
    }

    /// Moves the clock on (it never goes back) and ends pauses that are over.
    pub fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        for row in self.members.values_mut() {
            if let Some(Fault::Paused { until }) = row.fault
                && until <= self.now
            {
                row.fault = None;
            }
        }
    }

    /// Folds one membership event into the table, the member's history and the event log.
    pub fn handle_event(&mut self, event: Event) {
        let name = event.member.name.clone();
        let entry = HistoryEntry {
            at: event.at,
            kind: event.kind,
            state: event.member.state,
            incarnation: event.member.incarnation,
        };
        let is_local = name == self.local_name;
        let row = self.members.entry(name).or_insert_with(|| MemberRow {
            member: event.member.clone(),
            history: VecDeque::new(),
            is_local,
            fault: None,
        });
        if !is_local {
            // The local row keeps its own RTT-less snapshot; others take the event's.
            row.member = event.member.clone();
        } else {
            row.member.incarnation = event.member.incarnation;
            row.member.state = event.member.state;
            row.member.since = event.member.since;
        }
        if row.fault == Some(Fault::Restarting) && event.member.state.is_active() {
            row.fault = None;
        }
        push_bounded(&mut row.history, entry, HISTORY_LEN);
        push_bounded(&mut self.events, event, EVENT_LOG_LEN);
    }

    /// Takes the once-a-second sample: traffic rates, RTTs, the local node, and anything the
    /// events did not say (the node's table is the truth; events only tell the story).
    pub fn handle_sample(&mut self, now: Instant, sample: Sample) {
        self.advance(now);
        if let Some((then, prev)) = &self.last_sample {
            let secs = now.saturating_duration_since(*then).as_secs_f64();
            if secs > 0.0 {
                let per_sec =
                    |cur: u64, old: u64| (cur.saturating_sub(old) as f64 / secs).round() as u64;
                let rate = Rate {
                    packets_in: per_sec(sample.stats.total_packets_in(), prev.total_packets_in()),
                    packets_out: per_sec(
                        sample.stats.total_packets_out(),
                        prev.total_packets_out(),
                    ),
                    bytes_in: per_sec(sample.stats.total_bytes_in(), prev.total_bytes_in()),
                    bytes_out: per_sec(sample.stats.total_bytes_out(), prev.total_bytes_out()),
                    packets_out_by_kind: std::array::from_fn(|i| {
                        per_sec(sample.stats.packets_out[i], prev.packets_out[i])
                    }),
                };
                push_bounded(&mut self.traffic, rate, TRAFFIC_LEN);
            }
        }
        self.last_sample = Some((now, sample.stats.clone()));
        self.stats = sample.stats;
        self.health = sample.health;

        if let Some(row) = self.members.get_mut(&self.local_name) {
            row.member = sample.local;
        }
        let mut seen = std::collections::BTreeSet::new();
        for member in sample.members {
            seen.insert(member.name.clone());
            match self.members.get_mut(&member.name) {
                Some(row) => row.member = member,
                None => {
                    let name = member.name.clone();
                    self.members.insert(
                        name,
                        MemberRow {
                            member,
                            history: VecDeque::new(),
                            is_local: false,
                            fault: None,
                        },
                    );
                }
            }
        }
        let now = self.now;
        self.members.retain(|name, row| {
            row.is_local
                || seen.contains(name)
                || row.member.state.is_active()
                || row.fault.is_some()
                || now.saturating_duration_since(row.member.since) < FORGET_AFTER
        });
    }

    /// Adds a line to the dashboard's log (the draw loop copies new lines to the log file).
    pub fn log(&mut self, level: Level, text: impl Into<String>) {
        let line = LogLine {
            seq: self.next_log_seq,
            at: self.now,
            level,
            text: text.into(),
        };
        self.next_log_seq += 1;
        push_bounded(&mut self.logs, line, LOG_LEN);
    }

    /// Records what the demo did to a member (or clears it with `None`).
    pub fn set_fault(&mut self, name: &NodeName, fault: Option<Fault>) {
        if let Some(row) = self.members.get_mut(name) {
            row.fault = fault;
        }
    }

    /// Handles one key press; returns the action it asks for, if any.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quitting = true;
            return Some(Action::Quit);
        }
        match self.mode {
            Mode::Normal => self.key_normal(key),
            Mode::Filter => {
                self.key_filter(key);
                None
            }
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q')
                ) {
                    self.mode = Mode::Normal;
                }
                None
            }
            Mode::Detail => self.key_detail(key),
            Mode::ConfirmLeave => {
                self.mode = Mode::Normal;
                match key.code {
                    KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Leave),
                    _ => None,
                }
            }
        }
    }

    fn key_normal(&mut self, key: KeyEvent) -> Option<Action> {
        if self.key_move(key) {
            return None;
        }
        match key.code {
            KeyCode::Char('q') => {
                self.quitting = true;
                return Some(Action::Quit);
            }
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('l') => {
                self.pane = match self.pane {
                    Pane::Events => Pane::Log,
                    Pane::Log => Pane::Events,
                }
            }
            KeyCode::Char('L') if !self.left_cluster => self.mode = Mode::ConfirmLeave,
            KeyCode::Enter if self.selected_row().is_some() => self.mode = Mode::Detail,
            _ => return self.key_demo(key),
        }
        None
    }

    fn key_detail(&mut self, key: KeyEvent) -> Option<Action> {
        if self.key_move(key) {
            return None;
        }
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => {
                self.mode = Mode::Normal;
                None
            }
            _ => self.key_demo(key),
        }
    }

    fn key_filter(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) if !c.is_control() && self.filter.len() < 64 => self.filter.push(c),
            _ => {}
        }
    }

    /// Handles the keys that move the selection; true if `key` was one.
    fn key_move(&mut self, key: KeyEvent) -> bool {
        let visible: Vec<NodeName> = self
            .visible_rows()
            .iter()
            .map(|r| r.member.name.clone())
            .collect();
        let Some(last) = visible.len().checked_sub(1) else {
            return matches!(key.code, KeyCode::Up | KeyCode::Down);
        };
        let current = self.selected_index().unwrap_or(0);
        let target = match key.code {
            KeyCode::Down | KeyCode::Char('j') => (current + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => current.saturating_sub(1),
            KeyCode::PageDown => (current + PAGE).min(last),
            KeyCode::PageUp => current.saturating_sub(PAGE),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            _ => return false,
        };
        self.selected = visible.get(target).cloned();
        true
    }

    /// Demo keys act on the selected member; outside the demo they do nothing.
    fn key_demo(&mut self, key: KeyEvent) -> Option<Action> {
        self.demo?;
        if let KeyCode::Char('+' | '=') = key.code {
            return Some(Action::Loss(1));
        }
        if let KeyCode::Char('-' | '_') = key.code {
            return Some(Action::Loss(-1));
        }
        let verb = match key.code {
            KeyCode::Char('x') => "crash",
            KeyCode::Char('r') => "restart",
            KeyCode::Char('p') => "pause",
            _ => return None,
        };
        let Some(row) = self.selected_row() else {
            self.log(
                Level::Warn,
                format!("select a member to {verb} first (j/k)"),
            );
            return None;
        };
        let name = row.member.name.clone();
        let (is_local, fault) = (row.is_local, row.fault);
        if is_local {
            self.log(
                Level::Warn,
                format!("{name} runs this dashboard: it cannot {verb} itself"),
            );
            return None;
        }
        match (verb, fault) {
            ("restart", Some(Fault::Killed)) => Some(Action::Restart(name)),
            ("restart", _) => {
                self.log(
                    Level::Warn,
                    format!("{name} is running: crash it (x) before restarting it"),
                );
                None
            }
            (_, Some(Fault::Killed | Fault::Restarting)) => {
                self.log(Level::Warn, format!("{name} is down: restart it (r) first"));
                None
            }
            ("crash", _) => Some(Action::Crash(name)),
            (_, Some(Fault::Paused { .. })) => {
                self.log(Level::Warn, format!("{name} is already paused"));
                None
            }
            _ => Some(Action::Pause(name)),
        }
    }

    /// Rows that pass the filter, in the chosen order.
    pub fn visible_rows(&self) -> Vec<&MemberRow> {
        let filter = self.filter.to_lowercase();
        let mut rows: Vec<&MemberRow> = self
            .members
            .values()
            .filter(|r| {
                filter.is_empty()
                    || r.member.name.as_str().to_lowercase().contains(&filter)
                    || r.member.state.as_str().starts_with(&filter)
                    || r.member.tags.to_string().to_lowercase().contains(&filter)
            })
            .collect();
        rows.sort_by(|a, b| {
            self.compare(a, b)
                .then_with(|| natural_cmp(a.member.name.as_str(), b.member.name.as_str()))
        });
        rows
    }

    fn compare(&self, a: &MemberRow, b: &MemberRow) -> Ordering {
        let (a, b) = (&a.member, &b.member);
        match self.sort {
            SortColumn::Name => Ordering::Equal,
            SortColumn::State => state_rank(a.state).cmp(&state_rank(b.state)),
            SortColumn::Incarnation => b.incarnation.cmp(&a.incarnation),
            SortColumn::Since => b.since.cmp(&a.since),
            // Some(_) sorts after None, so reversing puts the slowest first and unknowns last.
            SortColumn::Rtt => b.rtt.cmp(&a.rtt),
        }
    }

    /// Position of the selected member among the visible rows; the first row when the selected
    /// one is filtered out or none was chosen yet.
    pub fn selected_index(&self) -> Option<usize> {
        let rows = self.visible_rows();
        if rows.is_empty() {
            return None;
        }
        let found = self
            .selected
            .as_ref()
            .and_then(|name| rows.iter().position(|r| &r.member.name == name));
        Some(found.unwrap_or(0))
    }

    /// The selected member's row, if any row is visible.
    pub fn selected_row(&self) -> Option<&MemberRow> {
        let index = self.selected_index()?;
        self.visible_rows().get(index).copied()
    }

    /// Members by state, the local node included.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for row in self.members.values() {
            match row.member.state {
                MemberState::Alive => counts.alive += 1,
                MemberState::Suspect => counts.suspect += 1,
                MemberState::Dead => counts.dead += 1,
                MemberState::Left => counts.left += 1,
            }
        }
        counts
    }

    /// The local node's row.
    pub fn local(&self) -> Option<&MemberRow> {
        self.members.get(&self.local_name)
    }

    /// How long the dashboard has been running.
    pub fn uptime(&self) -> Duration {
        self.now.saturating_duration_since(self.started)
    }
}

/// Orders names as a person would: digit runs by value, so `n2` comes before `n10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
                // Same value: fewer leading zeros first, so the order stays total.
                let order = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.len().cmp(&db.len()));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Sort rank for [`SortColumn::State`]: what needs attention first.
fn state_rank(state: MemberState) -> u8 {
    match state {
        MemberState::Suspect => 0,
        MemberState::Dead => 1,
        MemberState::Alive => 2,
        MemberState::Left => 3,
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, cap: usize) {
    if queue.len() == cap {
        queue.pop_front();
    }
    queue.push_back(item);
}
