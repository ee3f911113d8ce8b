//! How values and states look everywhere on screen: short text formats and state colours.

use std::time::{Duration, Instant};

use ratatui::style::{Color, Modifier, Style};
use rumor::{EventKind, MemberState};

/// The colour a state is shown in, everywhere.
pub fn state_style(state: MemberState) -> Style {
    match state {
        MemberState::Alive => Style::new().fg(Color::Green),
        MemberState::Suspect => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        MemberState::Dead => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        MemberState::Left => Style::new().fg(Color::DarkGray),
    }
}

pub(super) fn event_style(kind: EventKind) -> Style {
    match kind {
        EventKind::Joined | EventKind::Alive => Style::new().fg(Color::Green),
        EventKind::Suspected => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        EventKind::Failed => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        EventKind::Left => Style::new().fg(Color::DarkGray),
        EventKind::Updated => Style::new().fg(Color::Cyan),
        EventKind::User => Style::new().fg(Color::Magenta),
    }
}

/// A duration as a short age: `0s`, `42s`, `3m`, `5h`, `2d`.
pub fn format_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A duration as a clock: `04:05` under an hour, `1:02:03` above.
pub fn format_clock(d: Duration) -> String {
    let s = d.as_secs();
    if s < 3600 {
        format!("{:02}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// When something happened, as time since the dashboard started: `01:23.4`.
pub fn format_stamp(started: Instant, at: Instant) -> String {
    let d = at.saturating_duration_since(started);
    let s = d.as_secs();
    format!("{:02}:{:02}.{}", s / 60, s % 60, d.subsec_millis() / 100)
}

/// A round trip: `0.42ms` below 10 ms, `37ms` below 10 s.
pub fn format_rtt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.0}s", d.as_secs_f64())
    }
}

/// A count in at most five characters: `999`, `12.3k`, `4.5M`.
pub fn format_count(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..100_000 => format!("{:.1}k", n as f64 / 1e3),
        100_000..1_000_000 => format!("{}k", n / 1000),
        1_000_000..100_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{}M", n / 1_000_000),
    }
}
