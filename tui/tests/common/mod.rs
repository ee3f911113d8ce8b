//! Shared by the dashboard's tests: members and events built from plain values, a fixed clock
//! origin, keys, and reading a rendered screen back as text.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use rumor::{
    Event, EventKind, Incarnation, LamportTime, Member, MemberState, NodeName, Tags, UserEvent,
};
use rumor_tui::app::App;

/// The one clock read of the tests: every other time is this origin plus a fixed offset, so
/// each run renders the same screen.
#[allow(
    clippy::disallowed_methods,
    reason = "tests need one real Instant as the origin of their fixed times"
)]
pub(crate) fn origin() -> Instant {
    Instant::now()
}

/// `origin + secs`.
pub(crate) fn at(origin: Instant, secs: f64) -> Instant {
    origin + Duration::from_secs_f64(secs)
}

/// Member `name` on 127.0.0.1:`port`.
pub(crate) fn member(
    name: &str,
    port: u16,
    state: MemberState,
    inc: u32,
    since: Instant,
) -> Member {
    Member {
        name: NodeName::new(name).unwrap(),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        incarnation: Incarnation(inc),
        state,
        tags: Tags::default(),
        since,
        rtt: None,
    }
}

/// An event about member `name` (port 7000 + n for name "nN").
pub(crate) fn event(
    kind: EventKind,
    name: &str,
    state: MemberState,
    inc: u32,
    at: Instant,
) -> Event {
    let port = 7000 + name.trim_start_matches('n').parse::<u16>().unwrap_or(0);
    Event {
        kind,
        member: member(name, port, state, inc, at),
        at,
        user: None,
    }
}

/// A user event `name` broadcast by `origin` ("nN", port 7000 + N) at Lamport time `ltime`.
pub(crate) fn user_event(
    name: &str,
    origin: &str,
    ltime: u64,
    payload: &[u8],
    at: Instant,
) -> Event {
    let mut e = event(EventKind::User, origin, MemberState::Alive, 0, at);
    e.user = Some(UserEvent {
        name: name.to_string(),
        payload: payload.to_vec(),
        origin: NodeName::new(origin).unwrap(),
        ltime: LamportTime(ltime),
    });
    e
}

/// A dashboard for local node n1 that has seen: n2..n5 join, n3 suspected, n4 fail, n5 leave.
pub(crate) fn cluster_app(origin: Instant) -> App {
    let mut app = App::new(origin, member("n1", 7001, MemberState::Alive, 0, origin));
    for (i, name) in ["n2", "n3", "n4", "n5"].into_iter().enumerate() {
        app.handle_event(event(
            EventKind::Joined,
            name,
            MemberState::Alive,
            0,
            at(origin, 0.1 * (i + 1) as f64),
        ));
    }
    app.handle_event(event(
        EventKind::Suspected,
        "n3",
        MemberState::Suspect,
        0,
        at(origin, 2.0),
    ));
    app.handle_event(event(
        EventKind::Suspected,
        "n4",
        MemberState::Suspect,
        1,
        at(origin, 3.0),
    ));
    app.handle_event(event(
        EventKind::Failed,
        "n4",
        MemberState::Dead,
        1,
        at(origin, 4.0),
    ));
    app.handle_event(event(
        EventKind::Left,
        "n5",
        MemberState::Left,
        0,
        at(origin, 5.0),
    ));
    app.advance(at(origin, 10.0));
    app
}

/// A plain key press.
pub(crate) fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses each character of `text` in turn.
pub(crate) fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(key(KeyCode::Char(c)));
    }
}

/// Renders `app` at `width` x `height` and returns the buffer.
pub(crate) fn render(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| rumor_tui::ui::draw(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer's rows as text.
pub(crate) fn lines(buffer: &Buffer) -> Vec<String> {
    let area = buffer.area;
    (area.top()..area.bottom())
        .map(|y| {
            (area.left()..area.right())
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// The first row whose text contains `needle`, with its index; panics with the screen if none.
#[track_caller]
pub(crate) fn row_with(screen: &[String], needle: &str) -> (usize, String) {
    screen
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .map(|(i, l)| (i, l.clone()))
        .unwrap_or_else(|| panic!("no row contains {needle:?}:\n{}", screen.join("\n")))
}

/// The table row of member `name`: its cells, split on blanks and borders.
#[track_caller]
pub(crate) fn table_cells(screen: &[String], name: &str) -> Vec<String> {
    screen
        .iter()
        .map(|l| {
            l.split(|c: char| c.is_whitespace() || c == '│')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(name) && cells.len() > 3)
        .unwrap_or_else(|| panic!("no table row for {name}:\n{}", screen.join("\n")))
}
