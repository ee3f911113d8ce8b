//! The dashboard's state, folded from membership and user events, once-a-second node samples
//! and keys.
//!
//! Nothing here draws or talks to a node: keys that need the node return an [`Action`] that the
//! draw loop carries out, and the loop reports back what it did ([`App::set_fault`],
//! [`App::log`]). That keeps every state change testable with a fixed list of inputs.
//!
//! - `state`: the [`App`] and the types it is made of;
//! - `fold`: events and node samples folded into it;
//! - `keys`: what each key does, in each [`Mode`];
//! - `table`: which members the table shows, in which order;
//! - `spread`: the Spread pane, each recent change and which members' views hold it.

mod fold;
mod keys;
mod spread;
mod state;
mod table;

pub use spread::{Change, Expectation, SPREAD_LEN, Spread, Subject, ms_text, periods_text};
pub use state::{
    Action, App, Counts, DemoState, EVENT_LOG_LEN, FORGET_AFTER, Fault, HISTORY_LEN, HistoryEntry,
    LOG_LEN, Level, LogLine, MemberRow, Mode, PROMPT_LEN, Pane, Rate, TRAFFIC_LEN,
};
pub use table::{SortColumn, natural_cmp};
