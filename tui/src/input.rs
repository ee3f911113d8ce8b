//! Everything the dashboard reacts to, as one enum, and the thread that reads the terminal.
//!
//! Keys, resizes and membership events arrive on different sources; the draw loop turns each
//! into a [`UiEvent`] so that [`App::handle`](crate::app::App::handle) has one entry point and
//! tests can feed it a script of them.

use std::thread;

use crossbeam_channel::{Receiver, Sender};
use crossterm::event::{self as term, KeyEvent, KeyEventKind};
use rumor::Event;

/// One thing that happened, from the dashboard's point of view.
#[derive(Clone, Debug)]
pub enum UiEvent {
    /// A key was pressed (releases and repeats of other platforms are filtered out).
    Key(KeyEvent),
    /// The terminal changed size to (columns, rows).
    Resize(u16, u16),
    /// The node observed a membership change.
    Node(Event),
    /// Time passed: relative times and uptime move on even when nothing else happens.
    Tick,
}

/// Turns a terminal event into a [`UiEvent`], or `None` for what the dashboard ignores
/// (key releases, mouse, focus, paste).
pub fn from_terminal(event: term::Event) -> Option<UiEvent> {
    match event {
        // Windows reports releases too; acting on them would double every keystroke.
        term::Event::Key(key) if key.kind != KeyEventKind::Release => Some(UiEvent::Key(key)),
        term::Event::Resize(cols, rows) => Some(UiEvent::Resize(cols, rows)),
        _ => None,
    }
}

/// Starts the thread that blocks on the terminal and forwards keys and resizes.
///
/// A blocking read costs nothing while idle, unlike polling with a timeout. The thread ends
/// when the receiver is dropped (the next send fails) or the terminal read fails.
pub fn spawn_terminal_reader() -> std::io::Result<Receiver<UiEvent>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || read_terminal(&tx))?;
    Ok(rx)
}

fn read_terminal(tx: &Sender<UiEvent>) {
    while let Ok(event) = term::read() {
        if let Some(ui) = from_terminal(event)
            && tx.send(ui).is_err()
        {
            // The draw loop is gone: nobody is left to read keys for.
            return;
        }
    }
}
