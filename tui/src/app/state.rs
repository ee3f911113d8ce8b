//! The dashboard's state and the types it is made of.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rumor::{
    Event, EventKind, Heard, Incarnation, Member, MemberState, MessageKind, NodeName, Stats,
};

use super::spread::Spread;
use super::table::SortColumn;

/// State changes remembered per member for the detail view; older ones are dropped.
pub const HISTORY_LEN: usize = 64;
/// Membership and user events kept for the event log.
pub const EVENT_LOG_LEN: usize = 500;
/// The longest user event line the `e` prompt takes: a 64-byte name, a space and a payload
/// that fits the default `max_user_payload` (the node has the last word on both).
pub const PROMPT_LEN: usize = 64 + 1 + 512;
/// Dashboard log lines kept for the log pane (the log file keeps them all).
pub const LOG_LEN: usize = 500;
/// Traffic samples (one a second) kept for the sparklines: wider than any terminal.
pub const TRAFFIC_LEN: usize = 512;
/// A dead or left member the node has already forgotten stays on screen this long, so that a
/// person who looks away still sees what happened, and then goes so churn cannot grow the table
/// without bound.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

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
    /// Typing a user event after `e`: a name, then optionally a space and a payload.
    Broadcast,
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
    /// Send a user event with this name and payload to every member.
    Broadcast {
        /// The event's name.
        name: String,
        /// Its payload (what was typed after the name).
        payload: Vec<u8>,
    },
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
    /// Membership and user events, oldest first, at most [`EVENT_LOG_LEN`].
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
    /// The user event being typed after `e` (`NAME [PAYLOAD]`).
    pub prompt: String,
    /// What keys do now.
    pub mode: Mode,
    /// Which list the lower left pane shows.
    pub pane: Pane,
    /// Set in demo mode.
    pub demo: Option<DemoState>,
    /// The Spread pane (`v`): in the demo, how each recent change travelled.
    pub spread: Spread,
    /// Outside the demo: the local node's provenance of its recent changes, oldest first.
    pub heard: VecDeque<Heard>,
    /// Outside the demo: which of `heard` the pane shows, counted back from the newest.
    pub heard_back: usize,
    /// True once the local node has left the cluster.
    pub left_cluster: bool,
    /// True once the user asked to quit.
    pub quitting: bool,
    /// The member table's scroll position in the last frame. Drawing takes `&App`, and keeping
    /// the position lets the selection move within the view instead of pinning it to an edge.
    pub table_offset: Cell<usize>,
    /// The previous sample's time and counters, to turn the next one into rates.
    pub(super) last_sample: Option<(Instant, Stats)>,
    pub(super) next_log_seq: u64,
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
            prompt: String::new(),
            mode: Mode::Normal,
            pane: Pane::Events,
            demo: None,
            spread: Spread::default(),
            heard: VecDeque::new(),
            heard_back: 0,
            left_cluster: false,
            quitting: false,
            table_offset: Cell::new(0),
            last_sample: None,
            next_log_seq: 0,
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

/// Appends `item`, dropping the oldest first when `queue` holds `cap` items.
pub(super) fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, cap: usize) {
    if queue.len() == cap {
        queue.pop_front();
    }
    queue.push_back(item);
}
