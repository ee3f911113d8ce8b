//! Popups over the dashboard: key help, a member's detail and history, leave confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use rumor::MemberState;

use super::format::{event_style, format_age, format_rtt, format_stamp, state_style};
use crate::app::App;

pub(super) fn draw_help(frame: &mut Frame, area: Rect, app: &App) {
    let mut keys: Vec<(&str, &str)> = vec![
        ("q, Ctrl-C", "leave the cluster gracefully and quit"),
        ("j/k, ↑/↓", "move the selection (g/G first/last)"),
        ("PgUp/PgDn", "move by ten rows"),
        ("Enter", "detail and history of the selected member"),
        ("/", "filter by name, state or tag (Esc clears)"),
        ("s", "cycle the sort column"),
        ("e", "send a user event to every member: NAME [PAYLOAD]"),
        ("l", "switch the lower pane: events / log"),
        (
            "v",
            "spread pane (instead of traffic); [ ] older/newer change",
        ),
        ("L", "leave the cluster (asks first)"),
        ("?", "this help"),
    ];
    if app.demo.is_some() {
        keys.extend([
            ("x", "demo: crash the selected node (no leave)"),
            ("r", "demo: restart a crashed node, same name"),
            ("p", "demo: pause the selected node for a while"),
            ("+ / -", "demo: packet loss on every node, ±5%"),
        ]);
    }
    // How the Spread pane's expectation is reckoned (see app::Expectation).
    let spread_note: Vec<String> = app.spread.expect.map_or_else(Vec::new, |e| {
        vec![
            format!(
                " spread: every gossip round ({} ms) each holder tells",
                e.gossip_interval.as_millis()
            ),
            format!(
                " k={} others, so all N hold a change after ≈ log{}(N)",
                e.fanout,
                e.fanout + 1
            ),
            format!(
                " rounds; periods are protocol periods of {} ms",
                e.probe_interval.as_millis()
            ),
        ]
    });
    let mut lines: Vec<Line> = keys
        .into_iter()
        .map(|(k, what)| Line::from(vec![format!(" {k:<11}").cyan().bold(), what.into()]))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        " states ".dark_gray(),
        Span::styled("alive", state_style(MemberState::Alive)),
        " answers probes · ".dark_gray(),
        Span::styled("suspect", state_style(MemberState::Suspect)),
        " missed one, may refute".dark_gray(),
    ]));
    lines.push(Line::from(vec![
        "        ".into(),
        Span::styled("dead", state_style(MemberState::Dead)),
        " did not refute in time · ".dark_gray(),
        Span::styled("left", state_style(MemberState::Left)),
        " said goodbye".dark_gray(),
    ]));
    if !spread_note.is_empty() {
        lines.push(Line::from(""));
        lines.extend(spread_note.into_iter().map(|l| Line::from(l.dark_gray())));
    }
    let height = lines.len() as u16 + 2;
    let popup = area.centered(Constraint::Max(64), Constraint::Max(height));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Keys ".bold())
                .title_bottom(" Esc or ? closes ".dark_gray())
                .border_style(Style::new().fg(Color::Cyan)),
        ),
        popup,
    );
}

pub(super) fn draw_detail(frame: &mut Frame, area: Rect, app: &App) {
    let Some(row) = app.selected_row() else {
        return;
    };
    let m = &row.member;
    let field = |name: &str| format!(" {name:<12}").dark_gray();
    let mut lines = vec![
        Line::from(vec![field("address"), m.addr.to_string().into()]),
        Line::from(vec![
            field("state"),
            Span::styled(m.state.as_str(), state_style(m.state)),
            format!(
                " for {}",
                format_age(app.now.saturating_duration_since(m.since))
            )
            .into(),
        ]),
        Line::from(vec![field("incarnation"), m.incarnation.to_string().into()]),
        Line::from(vec![
            field("last rtt"),
            m.rtt.map(format_rtt).unwrap_or_else(|| "-".into()).into(),
        ]),
        Line::from(vec![
            field("tags"),
            if m.tags.is_empty() {
                "-".into()
            } else {
                m.tags.to_string().into()
            },
        ]),
    ];
    if let Some(fault) = row.fault {
        lines.push(Line::from(vec![field("demo"), fault.label().magenta()]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(" history (newest first)".bold()));
    if row.history.is_empty() {
        lines.push(Line::from(
            "  no state change seen since the dashboard started".dark_gray(),
        ));
    }
    lines.extend(row.history.iter().rev().map(|h| {
        Line::from(vec![
            format!("  {} ", format_stamp(app.started, h.at)).dark_gray(),
            Span::styled(format!("{:<8}", h.kind.as_str()), event_style(h.kind)),
            "→ ".dark_gray(),
            Span::styled(format!("{:<8}", h.state.as_str()), state_style(h.state)),
            format!("inc {}", h.incarnation).into(),
        ])
    }));
    let height = (lines.len() as u16 + 2).min(area.height * 4 / 5);
    let popup = area.centered(Constraint::Max(64), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let name = if row.is_local {
        format!(" {} (self) ", m.name)
    } else {
        format!(" {} ", m.name)
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(name.bold())
                .title_bottom(" Esc closes · j/k next member ".dark_gray())
                .border_style(Style::new().fg(Color::Cyan)),
        ),
        popup,
    );
}

pub(super) fn draw_confirm(frame: &mut Frame, area: Rect) {
    let popup = area.centered(Constraint::Max(52), Constraint::Length(5));
    frame.render_widget(Clear, popup);
    let text = vec![
        Line::from(" Leave the cluster? Other members will see this"),
        Line::from(" node as left; the dashboard stays open."),
        Line::from(vec![
            " y".bold().yellow(),
            " leave   ".into(),
            "n".bold(),
            " stay".into(),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Leave ".bold())
                .border_style(Style::new().fg(Color::Yellow)),
        ),
        popup,
    );
}
