//! Drawing only: an [`App`] in, a frame out. No state changes here, so a test can render any
//! state into a `TestBackend` and read the screen back.
//!
//! ```text
//! header   self, address, incarnation, health, uptime / counts by state
//! table    members (the selected one highlighted)
//! events | traffic      events or log (l) | pkts/s and bytes/s sparklines, drops
//!                        (or | spread, with `v`: how the latest change travelled)
//! footer   key hints (or the filter, or the user event, being typed)
//! ```
//!
//! Parts: `panes` (header, table, event and log lists, footer), `traffic` (rates and
//! counters), `spread` (the Spread pane), `overlays` (help, detail, leave confirmation), `format` (how values and states
//! look, shared by all).

mod format;
mod overlays;
mod panes;
mod spread;
mod traffic;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

pub use format::{format_age, format_clock, format_count, format_rtt, format_stamp, state_style};

use crate::app::{App, Mode, Pane};
use overlays::{draw_confirm, draw_detail, draw_help};
use panes::{draw_events, draw_footer, draw_header, draw_log, draw_table};
use spread::{SPREAD_MIN_WIDTH, draw_spread};
use traffic::{TRAFFIC_MIN_WIDTH, draw_traffic};

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
    // The Spread pane takes the traffic pane's place: both are about what travels, and the
    // event list beside it names what the pane shows.
    let right_width = if app.spread.shown {
        (area.width * 2 / 5).max(SPREAD_MIN_WIDTH)
    } else {
        (area.width * 2 / 5).max(TRAFFIC_MIN_WIDTH)
    };
    let [list, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)]).areas(lower);

    draw_header(frame, header, app);
    draw_table(frame, table, app);
    match app.pane {
        Pane::Events => draw_events(frame, list, app),
        Pane::Log => draw_log(frame, list, app),
    }
    if app.spread.shown {
        draw_spread(frame, right, app);
    } else {
        draw_traffic(frame, right, app);
    }
    draw_footer(frame, footer, app);

    match app.mode {
        Mode::Help => draw_help(frame, area, app),
        Mode::Detail => draw_detail(frame, area, app),
        Mode::ConfirmLeave => draw_confirm(frame, area),
        Mode::Normal | Mode::Filter | Mode::Broadcast => {}
    }
}
