//! The fixed panes: header, member table, event and log lists, footer.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use rumor::{Event, MemberState};

use super::format::{event_style, format_age, format_clock, format_rtt, format_stamp, state_style};
use crate::app::{App, Level, MemberRow, Mode, Subject, periods_text};

pub(super) fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let mut first = vec![" rumor ".black().on_cyan().bold(), " ".into()];
    if let Some(local) = app.local() {
        let m = &local.member;
        first.extend([
            Span::from(m.name.to_string()).bold(),
            format!(" @ {}", m.addr).into(),
            "  inc ".dark_gray(),
            m.incarnation.to_string().into(),
        ]);
    }
    let health = if app.health == 0 {
        Span::from("0").green()
    } else {
        Span::from(app.health.to_string()).yellow().bold()
    };
    first.extend([
        "  health ".dark_gray(),
        health,
        "  up ".dark_gray(),
        format_clock(app.uptime()).into(),
    ]);
    if app.left_cluster {
        first.extend(["  ".into(), " LEFT ".black().on_dark_gray()]);
    }

    let counts = app.counts();
    let total = counts.alive + counts.suspect + counts.dead + counts.left;
    // Suspect and dead counts light up only when non-zero, so trouble is what catches the eye;
    // left members are no trouble and stay plain.
    let count = |n: usize, state: MemberState| {
        let style = match state {
            MemberState::Alive => state_style(state),
            MemberState::Suspect | MemberState::Dead if n > 0 => state_style(state),
            _ => Style::new(),
        };
        Span::styled(format!("{n} {}", state.as_str()), style)
    };
    let mut second: Vec<Span> = vec![
        format!(" {total} members: ").into(),
        count(counts.alive, MemberState::Alive),
        "  ".into(),
        count(counts.suspect, MemberState::Suspect),
        "  ".into(),
        count(counts.dead, MemberState::Dead),
        "  ".into(),
        count(counts.left, MemberState::Left),
    ];
    if let Some(demo) = app.demo {
        second.extend([
            "   demo loss ".dark_gray(),
            Span::from(format!("{:.0}%", demo.loss * 100.0)).style(if demo.loss > 0.0 {
                Style::new().fg(Color::Magenta).bold()
            } else {
                Style::new()
            }),
        ]);
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

pub(super) fn draw_table(frame: &mut Frame, area: Rect, app: &App) {
    let rows = app.visible_rows();
    let demo = app.demo.is_some();
    let name_width = rows
        .iter()
        .map(|r| display_name(r).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 24) as u16;
    let addr_width = rows
        .iter()
        .map(|r| r.member.addr.to_string().len())
        .max()
        .unwrap_or(7)
        .clamp(7, 40) as u16;

    let mut header = vec!["name", "address", "state", "inc", "since", "rtt"];
    let mut widths = vec![
        Constraint::Length(name_width),
        Constraint::Length(addr_width),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(7),
    ];
    if demo {
        header.push("fault");
        widths.push(Constraint::Length(7));
    }
    header.push("tags");
    widths.push(Constraint::Fill(1));

    let body = rows.iter().map(|r| {
        let m = &r.member;
        let name_style = if r.is_local {
            Style::new().bold()
        } else if m.state.is_active() {
            Style::new()
        } else {
            Style::new().fg(Color::DarkGray)
        };
        let mut cells = vec![
            Cell::from(display_name(r)).style(name_style),
            Cell::from(m.addr.to_string()),
            Cell::from(m.state.as_str()).style(state_style(m.state)),
            Cell::from(m.incarnation.to_string()),
            Cell::from(format_age(app.now.saturating_duration_since(m.since))),
            Cell::from(m.rtt.map(format_rtt).unwrap_or_else(|| "-".into())),
        ];
        if demo {
            cells.push(match r.fault {
                Some(f) => Cell::from(f.label()).style(Style::new().fg(Color::Magenta)),
                None => Cell::from(""),
            });
        }
        cells.push(Cell::from(m.tags.to_string()).style(Style::new().fg(Color::DarkGray)));
        Row::new(cells)
    });

    let mut title = vec![
        " Members ".bold(),
        format!("({}/{}) ", rows.len(), app.members.len()).into(),
        "sort ".dark_gray(),
        format!("{} ", app.sort.as_str()).into(),
    ];
    if !app.filter.is_empty() || app.mode == Mode::Filter {
        title.extend(["filter ".dark_gray(), format!("/{} ", app.filter).yellow()]);
    }
    let table = Table::new(body, widths)
        .header(Row::new(header).style(Style::new().fg(Color::Cyan).bold()))
        .block(Block::bordered().title(Line::from(title)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .column_spacing(1);
    let mut state = TableState::default()
        .with_offset(app.table_offset.get())
        .with_selected(app.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
    app.table_offset.set(state.offset());
}

pub(super) fn display_name(row: &MemberRow) -> String {
    if row.is_local {
        format!("{} (self)", row.member.name)
    } else {
        row.member.name.to_string()
    }
}

pub(super) fn draw_events(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .events
        .iter()
        .rev()
        .take(height)
        .map(|e| {
            let mut spans = vec![
                Span::from(format_stamp(app.started, e.at)).dark_gray(),
                " ".into(),
                Span::styled(format!("{:<7}", e.kind.as_str()), event_style(e.kind)),
                " ".into(),
            ];
            match &e.user {
                Some(u) => spans.extend([
                    Span::from(u.name.clone()).bold(),
                    " from ".dark_gray(),
                    Span::from(u.origin.to_string()),
                    format!(" t{} ", u.ltime).dark_gray(),
                    Span::from(payload_preview(&u.payload)),
                ]),
                None => spans.extend([
                    Span::from(e.member.name.to_string()).bold(),
                    format!(" inc {}", e.member.incarnation).dark_gray(),
                ]),
            }
            if let Some((long, short)) = spread_figure(app, e) {
                // The long form when it fits the line, else the short one, else none.
                let used: usize = spans.iter().map(Span::width).sum();
                let room = width.saturating_sub(used);
                if let Some(figure) = [long, short]
                    .into_iter()
                    .find(|f| f.chars().count() <= room)
                {
                    spans.push(Span::from(figure).green());
                }
            }
            Line::from(spans)
        })
        .collect();
    let title = Line::from(vec![" Events ".bold(), "(l: log) ".dark_gray()]);
    let body = if lines.is_empty() {
        Paragraph::new("no membership changes yet".dark_gray())
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(Block::bordered().title(title)), area);
}

/// The demo's "reached all in P periods" figure for the change an event line reports, once
/// every member holds it: a long and a short form.
fn spread_figure(app: &App, e: &Event) -> Option<(String, String)> {
    let expect = app.spread.expect?;
    let subject = match &e.user {
        Some(u) => Subject::User {
            origin: u.origin.clone(),
            ltime: u.ltime,
        },
        None => Subject::Member {
            name: e.member.name.clone(),
            state: e.member.state,
            incarnation: e.member.incarnation,
        },
    };
    let change = app.spread.find(&subject)?;
    let took = change.reached_all?;
    let about = if change.is_approx() { "≤" } else { "" };
    let periods = periods_text(expect.periods(took));
    Some((
        format!(
            " → all {} in {about}{periods} periods",
            change.audience.len()
        ),
        format!(" → {about}{periods} periods"),
    ))
}

/// A user event's payload in one short line: the text when it is printable UTF-8, else its
/// size.
fn payload_preview(payload: &[u8]) -> String {
    const SHOWN: usize = 40;
    match std::str::from_utf8(payload) {
        Ok("") => "(no payload)".into(),
        Ok(text) if !text.chars().any(char::is_control) => {
            let mut shown: String = text.chars().take(SHOWN).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("{shown:?}")
        }
        _ => format!("({} bytes)", payload.len()),
    }
}

pub(super) fn draw_log(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .logs
        .iter()
        .rev()
        .take(height)
        .map(|l| {
            let text = match l.level {
                Level::Info => Span::from(l.text.as_str()),
                Level::Warn => Span::from(l.text.as_str()).yellow(),
                Level::Error => Span::from(l.text.as_str()).red().bold(),
            };
            Line::from(vec![
                Span::from(format_stamp(app.started, l.at)).dark_gray(),
                " ".into(),
                text,
            ])
        })
        .collect();
    let mut title = vec![" Log ".bold()];
    if let Some(path) = &app.log_path {
        title.push(format!("{path} ").dark_gray());
    }
    title.push("(l: events) ".dark_gray());
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(Line::from(title))),
        area,
    );
}

pub(super) fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    if app.mode == Mode::Filter {
        let line = Line::from(vec![
            " filter ".black().on_yellow(),
            " /".into(),
            app.filter.as_str().into(),
            "█".slow_blink(),
            "   Enter keep  Esc clear".dark_gray(),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if app.mode == Mode::Broadcast {
        let line = Line::from(vec![
            " event ".black().on_magenta(),
            " ".into(),
            if app.prompt.is_empty() {
                "NAME [PAYLOAD]".dark_gray()
            } else {
                app.prompt.as_str().into()
            },
            "█".slow_blink(),
            "   Enter send to all  Esc cancel".dark_gray(),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    // Most useful first: whatever does not fit the width is left off, `?` lists everything.
    let mut hints: Vec<(&str, &str)> = vec![("q", "quit"), ("?", "help"), ("v", "spread")];
    if app.demo.is_some() {
        hints.extend([
            ("x", "crash"),
            ("r", "restart"),
            ("p", "pause"),
            ("+/-", "loss"),
        ]);
    }
    hints.extend([
        ("↑↓", "move"),
        ("⏎", "detail"),
        ("/", "filter"),
        ("s", "sort"),
        ("e", "event"),
        ("l", "log"),
        ("L", "leave"),
    ]);
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (key, what) in hints {
        let width = key.chars().count() + what.len() + 3;
        if used + width > area.width as usize {
            break;
        }
        used += width;
        spans.extend([
            Span::from(format!(" {key} ")).black().on_gray(),
            Span::from(format!("{what} ")),
        ]);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
