//! The traffic pane: packets and bytes per second as sparklines, drops and probe counters.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, RenderDirection, Sparkline};
use rumor::MessageKind;

use super::format::format_count;
use crate::app::{App, Rate};

/// The traffic pane never gets narrower than this (labels plus a few seconds of history).
pub(super) const TRAFFIC_MIN_WIDTH: u16 = 34;
/// Width of a sparkline's label column ("bytes out 12.3k/s").
pub(super) const TRAFFIC_LABEL_WIDTH: u16 = 19;

pub(super) fn draw_traffic(frame: &mut Frame, area: Rect, app: &App) {
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
            (s.dropped_plaintext, "plain"),
            (s.dropped_sealed, "sealed"),
            (s.dropped_unknown_key, "key?"),
            (s.dropped_unauthenticated, "forged"),
            (s.dropped_replayed, "replay"),
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
