//! The Spread pane: in the demo, one cell per member lit when its view holds the change shown,
//! how many hold it and how long that took, against what gossip promises; outside the demo,
//! what the local node itself knows of each change: when, how and from whom it heard it, and
//! how many times it passed it on.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use rumor::Heard;

use super::format::format_stamp;
use crate::app::{App, Change, Subject, ms_text, periods_text};

/// The pane is never narrower than this.
pub(super) const SPREAD_MIN_WIDTH: u16 = 40;

pub(super) fn draw_spread(frame: &mut Frame, area: Rect, app: &App) {
    if app.demo.is_some() {
        draw_demo(frame, area, app);
    } else {
        draw_heard(frame, area, app);
    }
}

fn draw_demo(frame: &mut Frame, area: Rect, app: &App) {
    let spread = &app.spread;
    let Some(change) = spread.current() else {
        let block = Block::bordered().title(" Spread ".bold());
        frame.render_widget(
            Paragraph::new(
                "no change seen yet: crash a member (x) or send an event (e)".dark_gray(),
            )
            .wrap(Wrap { trim: true })
            .block(block),
            area,
        );
        return;
    };
    let position = spread
        .changes
        .iter()
        .rev()
        .position(|c| c.subject == change.subject)
        .map_or(1, |i| i + 1);
    let title = Line::from(vec![
        " Spread ".bold(),
        Span::from(change.label.clone()).yellow().bold(),
        format!(" {position}/{} [ ] ", spread.changes.len()).dark_gray(),
    ]);
    let inner_width = area.width.saturating_sub(2) as usize;
    let mut lines = vec![cells(app, change, inner_width)];

    let (k, n) = (change.heard_count(), change.audience.len());
    let mut count = vec![
        Span::from(format!("heard by {k} of {n}")).style(if k == n && n > 0 {
            Style::new().fg(Color::Green).bold()
        } else {
            Style::new().fg(Color::Yellow).bold()
        }),
    ];
    if !change.gone.is_empty() {
        let gone: Vec<&str> = change.gone.iter().map(|g| g.as_str()).collect();
        count.push(format!("  ({} stopped)", gone.join(" ")).dark_gray());
    }
    lines.push(Line::from(count));
    let took = change.reached_all.unwrap_or_else(|| change.elapsed());
    let about = if change.is_approx() { "≤ " } else { "" };
    let after = match spread.expect {
        Some(e) => format!(
            "after {about}{} periods ({})",
            periods_text(e.periods(took)),
            ms_text(took)
        ),
        None => format!("after {about}{}", ms_text(took)),
    };
    lines.push(Line::from(after));
    if let Some(e) = spread.expect {
        lines.push(Line::from(vec![
            "expect ".dark_gray(),
            format!(
                "log{} {n} ≈ {:.1} rounds ({} ms)",
                e.fanout + 1,
                e.rounds(n),
                e.time(n).as_millis()
            )
            .cyan(),
        ]));
    }
    if let Some(times) = times_line(change, inner_width) {
        lines.push(times);
    }
    if let Some(record) = local_record(app, &change.subject) {
        lines.push(Line::from(
            format!("{}: {}", app.local_name, provenance(record)).dark_gray(),
        ));
    }
    let room = area.height.saturating_sub(2) as usize;
    for c in spread.changes.iter().rev() {
        if lines.len() >= room {
            break;
        }
        if c.subject == change.subject {
            continue;
        }
        lines.push(history_line(app, c, inner_width));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// One cell per member: green and `✓` when its view holds the change, grey and `·` while it
/// does not, the member the change is about in magenta with `*` (the marks keep a screen
/// without colours, or a text capture, readable). Names when they fit on one line, blocks when
/// not.
fn cells(app: &App, change: &Change, width: usize) -> Line<'static> {
    let spread = &app.spread;
    let subject = change.subject.member();
    let mut names: Vec<rumor::NodeName> = spread.members.clone();
    for n in change.audience.iter().chain(subject) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names.sort_by(|a, b| crate::app::natural_cmp(a.as_str(), b.as_str()));
    let wide: usize = names.iter().map(|n| n.as_str().chars().count() + 2).sum();
    let compact = wide > width;
    let mut spans = Vec::new();
    for name in &names {
        let heard = change.heard.contains_key(name);
        let (style, mark) = if Some(name) == subject {
            (Style::new().fg(Color::Magenta), "*")
        } else if heard {
            (Style::new().fg(Color::Black).bg(Color::Green).bold(), "✓")
        } else {
            (Style::new().fg(Color::DarkGray), "·")
        };
        if compact {
            let block = if heard { "■" } else { "□" };
            spans.push(Span::styled(block, style.bg(Color::Reset)));
        } else {
            spans.push(Span::styled(name.to_string(), style));
            spans.push(Span::styled(mark, style));
            spans.push(Span::from(" "));
        }
    }
    Line::from(spans)
}

/// Who heard it when, in order, as time after the first: the doubling made visible. Only
/// whole entries are shown; `…` says more did not fit in `width`.
fn times_line(change: &Change, width: usize) -> Option<Line<'static>> {
    let mut order: Vec<(&rumor::NodeName, std::time::Duration)> = change
        .heard
        .iter()
        .map(|(n, t)| (n, t.saturating_duration_since(change.first)))
        .collect();
    if order.len() < 2 {
        return None;
    }
    order.sort_by_key(|&(n, d)| (d, n.clone()));
    let mut spans = vec!["ms ".dark_gray()];
    let mut used = 3;
    for (i, (name, d)) in order.iter().enumerate() {
        let ms = d.as_secs_f64() * 1e3;
        let text = if ms < 10.0 {
            format!("{name} {ms:.1}")
        } else {
            format!("{name} {ms:.0}")
        };
        let sep = if i > 0 { " · " } else { "" };
        let more = if i + 1 < order.len() { 2 } else { 0 };
        let need = sep.chars().count() + text.chars().count();
        if used + need + more > width {
            spans.push(" …".dark_gray());
            break;
        }
        used += need;
        spans.push(sep.dark_gray());
        let style = if change.approx.contains(*name) {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        };
        spans.push(Span::styled(text, style));
    }
    Some(Line::from(spans))
}

/// An earlier change with its final figure; the label gives way when the line is narrow.
fn history_line(app: &App, c: &Change, width: usize) -> Line<'static> {
    let figure = match (c.reached_all, app.spread.expect) {
        (Some(took), Some(e)) => format!(
            "all {} in {}{} periods",
            c.audience.len(),
            if c.is_approx() { "≤" } else { "" },
            periods_text(e.periods(took))
        ),
        (Some(took), None) => format!("all {} in {}", c.audience.len(), ms_text(took)),
        (None, _) => format!("{} of {} so far", c.heard_count(), c.audience.len()),
    };
    let room = width.saturating_sub(figure.chars().count() + 1);
    let mut label: String = c.label.chars().take(room).collect();
    if label.chars().count() < c.label.chars().count() {
        label.pop();
        label.push('…');
    }
    let pad = room.min(16);
    Line::from(vec![
        format!("{label:<pad$} ").into(),
        Span::from(figure).dark_gray(),
    ])
}

/// The local node's own record of `subject`, if it still has it.
fn local_record<'a>(app: &'a App, subject: &Subject) -> Option<&'a Heard> {
    app.heard
        .iter()
        .rev()
        .find(|r| &Subject::of(&r.news).0 == subject)
}

/// What one node knows of how it heard a change: the path, the sender, the count passed on.
fn provenance(r: &Heard) -> String {
    let from = match (&r.from, r.from_addr) {
        (Some(name), _) => format!(" from {name}"),
        (None, Some(addr)) => format!(" from {addr}"),
        _ => String::new(),
    };
    format!("{}{from}, passed on {}×", r.via.as_str(), r.told)
}

/// Outside the demo the other members' views are out of reach: the pane says what this node
/// itself knows, nothing more.
fn draw_heard(frame: &mut Frame, area: Rect, app: &App) {
    let title = Line::from(vec![
        " Heard ".bold(),
        format!("by {} ", app.local_name).into(),
        "[ ] older/newer ".dark_gray(),
    ]);
    let block = Block::bordered().title(title);
    let Some(shown) = app.heard.iter().rev().nth(app.heard_back) else {
        frame.render_widget(
            Paragraph::new("no change heard since the dashboard started".dark_gray())
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    };
    let (_, label) = Subject::of(&shown.news);
    let mut lines = vec![
        Line::from(Span::from(label).yellow().bold()),
        Line::from(vec![
            "heard ".dark_gray(),
            format_stamp(app.started, shown.at).into(),
            " via ".dark_gray(),
            shown.via.as_str().into(),
        ]),
    ];
    if let Some(addr) = shown.from_addr {
        let who = shown
            .from
            .as_ref()
            .map_or_else(|| "a stranger".to_string(), |n| n.to_string());
        lines.push(Line::from(vec![
            "from ".dark_gray(),
            who.into(),
            format!(" ({addr})").dark_gray(),
        ]));
    }
    lines.push(Line::from(vec![
        "passed on ".dark_gray(),
        shown.told.to_string().into(),
        " times since".dark_gray(),
    ]));
    // Which other members hold it is in their views, out of this node's reach.
    lines.push(Line::from("others' views: not visible here".dark_gray()));
    let room = area.height.saturating_sub(2) as usize;
    for r in app.heard.iter().rev() {
        if lines.len() >= room {
            break;
        }
        if std::ptr::eq(r, shown) {
            continue;
        }
        let (_, label) = Subject::of(&r.news);
        let from = r.from.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
        lines.push(Line::from(vec![
            format!("{} ", format_stamp(app.started, r.at)).dark_gray(),
            format!("{label:<14} ").into(),
            format!("{}{from} ·{}", r.via.as_str(), r.told).dark_gray(),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
