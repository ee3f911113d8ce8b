//! Drawing only: an [`App`] in, a frame out. No state changes here, so a test can render any
//! state into a `TestBackend` and read the screen back.
//!
//! ```text
//! header   self, address, incarnation, health, uptime / counts by state
//! table    members (the selected one highlighted)
//! events | traffic      events or log (l) | pkts/s and bytes/s sparklines, drops
//! footer   key hints (or the filter being typed)
//! ```

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, RenderDirection, Row, Sparkline, Table, TableState,
    Wrap,
};
use rumor::{EventKind, MemberState, MessageKind};

use crate::app::{App, Level, MemberRow, Mode, Pane, Rate};

/// The traffic pane never gets narrower than this (labels plus a few seconds of history).
const TRAFFIC_MIN_WIDTH: u16 = 34;
/// Width of a sparkline's label column ("bytes out 12.3k/s").
const TRAFFIC_LABEL_WIDTH: u16 = 19;

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let bottom = (area.height / 3).clamp(9, 16);
    let [header, table, lower, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(bottom),
        Constraint::Length(1),
    ])
    .areas(area);
    let traffic_width = (area.width * 2 / 5).max(TRAFFIC_MIN_WIDTH);
    let [list, traffic] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(traffic_width)]).areas(lower);

    draw_header(frame, header, app);
    draw_table(frame, table, app);
    match app.pane {
        Pane::Events => draw_events(frame, list, app),
        Pane::Log => draw_log(frame, list, app),
    }
    draw_traffic(frame, traffic, app);
    draw_footer(frame, footer, app);

    match app.mode {
        Mode::Help => draw_help(frame, area, app),
        Mode::Detail => draw_detail(frame, area, app),
        Mode::ConfirmLeave => draw_confirm(frame, area),
        Mode::Normal | Mode::Filter => {}
    }
}

/// The colour a state is shown in, everywhere.
pub fn state_style(state: MemberState) -> Style {
    match state {
        MemberState::Alive => Style::new().fg(Color::Green),
        MemberState::Suspect => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        MemberState::Dead => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        MemberState::Left => Style::new().fg(Color::DarkGray),
    }
}

fn event_style(kind: EventKind) -> Style {
    match kind {
        EventKind::Joined | EventKind::Alive => Style::new().fg(Color::Green),
        EventKind::Suspected => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        EventKind::Failed => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        EventKind::Left => Style::new().fg(Color::DarkGray),
        EventKind::Updated => Style::new().fg(Color::Cyan),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
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

fn draw_table(frame: &mut Frame, area: Rect, app: &App) {
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

fn display_name(row: &MemberRow) -> String {
    if row.is_local {
        format!("{} (self)", row.member.name)
    } else {
        row.member.name.to_string()
    }
}

fn draw_events(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .events
        .iter()
        .rev()
        .take(height)
        .map(|e| {
            Line::from(vec![
                Span::from(format_stamp(app.started, e.at)).dark_gray(),
                " ".into(),
                Span::styled(format!("{:<7}", e.kind.as_str()), event_style(e.kind)),
                " ".into(),
                Span::from(e.member.name.to_string()).bold(),
                format!(" inc {}", e.member.incarnation).dark_gray(),
            ])
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

fn draw_log(frame: &mut Frame, area: Rect, app: &App) {
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

fn draw_traffic(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(Line::from(vec![
        " Traffic ".bold(),
        "per second ".dark_gray(),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let latest = app.traffic.back().copied().unwrap_or_default();
    type Series = (&'static str, fn(&Rate) -> u64, Color);
    let series: [Series; 4] = [
        ("pkts in", |r| r.packets_in, Color::Green),
        ("pkts out", |r| r.packets_out, Color::Cyan),
        ("bytes in", |r| r.bytes_in, Color::Green),
        ("bytes out", |r| r.bytes_out, Color::Cyan),
    ];
    let rows = Layout::vertical([Constraint::Length(1); 7]).split(inner);
    for (i, (label, get, colour)) in series.into_iter().enumerate() {
        let Some(&row) = rows.get(i) else { break };
        let [label_area, spark_area] =
            Layout::horizontal([Constraint::Length(TRAFFIC_LABEL_WIDTH), Constraint::Fill(1)])
                .areas(row);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                format!("{label:<10}").dark_gray(),
                format!("{:>6}", format_count(get(&latest))).into(),
                "/s".dark_gray(),
            ])),
            label_area,
        );
        // Newest sample on the right edge; older ones scroll off to the left.
        let data: Vec<u64> = app
            .traffic
            .iter()
            .rev()
            .take(spark_area.width as usize)
            .map(get)
            .collect();
        frame.render_widget(
            Sparkline::default()
                .data(data)
                .direction(RenderDirection::RightToLeft)
                .style(Style::new().fg(colour)),
            spark_area,
        );
    }

    let s = &app.stats;
    let dropped = s.total_dropped();
    let mut drops = vec!["dropped ".dark_gray()];
    if dropped == 0 {
        drops.push("0".into());
    } else {
        drops.push(format_count(dropped).yellow());
        for (n, why) in [
            (s.dropped_fault, "fault"),
            (s.dropped_malformed, "bad"),
            (s.dropped_oversize, "big"),
            (s.dropped_version, "ver"),
            (s.dropped_wrong_cluster, "label"),
        ] {
            if n > 0 {
                drops.push(format!(" {why} {}", format_count(n)).dark_gray());
            }
        }
    }
    let protocol = Line::from(vec![
        "probes ".dark_gray(),
        format_count(s.probes).into(),
        " failed ".dark_gray(),
        format_count(s.probes_failed).into(),
        " refuted ".dark_gray(),
        format_count(s.refutations).into(),
    ]);
    if let Some(&row) = rows.get(4) {
        frame.render_widget(Paragraph::new(Line::from(drops)), row);
    }
    if let Some(&row) = rows.get(5) {
        frame.render_widget(Paragraph::new(protocol), row);
    }
    if let Some(&row) = rows.get(6) {
        // Only the kinds that were sent: the line is narrow and idle kinds say nothing.
        let mut kinds = vec!["sent/s".dark_gray()];
        for kind in MessageKind::ALL {
            let n = latest.packets_out_by_kind[kind.index()];
            if n > 0 {
                kinds.push(format!(" {} ", kind.as_str()).dark_gray());
                kinds.push(format_count(n).into());
            }
        }
        if kinds.len() == 1 {
            kinds.push(" 0".into());
        }
        frame.render_widget(Paragraph::new(Line::from(kinds)), row);
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
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
    // Most useful first: whatever does not fit the width is left off, `?` lists everything.
    let mut hints: Vec<(&str, &str)> = vec![("q", "quit"), ("?", "help")];
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

fn draw_help(frame: &mut Frame, area: Rect, app: &App) {
    let mut keys: Vec<(&str, &str)> = vec![
        ("q, Ctrl-C", "leave the cluster gracefully and quit"),
        ("j/k, ↑/↓", "move the selection (g/G first/last)"),
        ("PgUp/PgDn", "move by ten rows"),
        ("Enter", "detail and history of the selected member"),
        ("/", "filter by name, state or tag (Esc clears)"),
        ("s", "cycle the sort column"),
        ("l", "switch the lower pane: events / log"),
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

fn draw_detail(frame: &mut Frame, area: Rect, app: &App) {
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

fn draw_confirm(frame: &mut Frame, area: Rect) {
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
