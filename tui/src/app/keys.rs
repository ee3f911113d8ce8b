//! What each key does in each [`Mode`]: state changes here, node work as an [`Action`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rumor::NodeName;

use super::state::{Action, App, Fault, Level, Mode, PROMPT_LEN, Pane};

/// Rows a PageUp/PageDown moves.
const PAGE: usize = 10;

impl App {
    /// Handles one key press; returns the action it asks for, if any.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quitting = true;
            return Some(Action::Quit);
        }
        match self.mode {
            Mode::Normal => self.key_normal(key),
            Mode::Filter => {
                self.key_filter(key);
                None
            }
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q')
                ) {
                    self.mode = Mode::Normal;
                }
                None
            }
            Mode::Detail => self.key_detail(key),
            Mode::ConfirmLeave => {
                self.mode = Mode::Normal;
                match key.code {
                    KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Leave),
                    _ => None,
                }
            }
            Mode::Broadcast => self.key_prompt(key),
        }
    }

    /// Typing `NAME [PAYLOAD]` after `e`; Enter sends it, Esc drops it.
    fn key_prompt(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Esc => {
                self.prompt.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => {
                let line = std::mem::take(&mut self.prompt);
                let (name, payload) = line
                    .trim_start()
                    .split_once(' ')
                    .unwrap_or((line.trim(), ""));
                if name.is_empty() {
                    self.log(Level::Warn, "a user event needs a name: e NAME [PAYLOAD]");
                    return None;
                }
                self.mode = Mode::Normal;
                return Some(Action::Broadcast {
                    name: name.to_string(),
                    payload: payload.as_bytes().to_vec(),
                });
            }
            KeyCode::Backspace => {
                self.prompt.pop();
            }
            KeyCode::Char(c) if !c.is_control() && self.prompt.len() < PROMPT_LEN => {
                self.prompt.push(c);
            }
            _ => {}
        }
        None
    }

    fn key_normal(&mut self, key: KeyEvent) -> Option<Action> {
        if self.key_move(key) {
            return None;
        }
        match key.code {
            KeyCode::Char('q') => {
                self.quitting = true;
                return Some(Action::Quit);
            }
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('l') => {
                self.pane = match self.pane {
                    Pane::Events => Pane::Log,
                    Pane::Log => Pane::Events,
                }
            }
            KeyCode::Char('v') => self.spread.shown = !self.spread.shown,
            KeyCode::Char('[') if self.spread.shown => self.select_change(1),
            KeyCode::Char(']') if self.spread.shown => self.select_change(-1),
            KeyCode::Char('L') if !self.left_cluster => self.mode = Mode::ConfirmLeave,
            KeyCode::Char('e') if !self.left_cluster => self.mode = Mode::Broadcast,
            KeyCode::Enter if self.selected_row().is_some() => self.mode = Mode::Detail,
            _ => return self.key_demo(key),
        }
        None
    }

    /// `[` (older) and `]` (newer) on the Spread pane, or on the provenance outside the demo.
    fn select_change(&mut self, step: isize) {
        if self.demo.is_some() {
            self.spread.select(step);
        } else {
            let last = self.heard.len().saturating_sub(1);
            self.heard_back = self.heard_back.saturating_add_signed(step).min(last);
        }
    }

    fn key_detail(&mut self, key: KeyEvent) -> Option<Action> {
        if self.key_move(key) {
            return None;
        }
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => {
                self.mode = Mode::Normal;
                None
            }
            _ => self.key_demo(key),
        }
    }

    fn key_filter(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) if !c.is_control() && self.filter.len() < 64 => self.filter.push(c),
            _ => {}
        }
    }

    /// Handles the keys that move the selection; true if `key` was one.
    fn key_move(&mut self, key: KeyEvent) -> bool {
        let visible: Vec<NodeName> = self
            .visible_rows()
            .iter()
            .map(|r| r.member.name.clone())
            .collect();
        let Some(last) = visible.len().checked_sub(1) else {
            return matches!(key.code, KeyCode::Up | KeyCode::Down);
        };
        let current = self.selected_index().unwrap_or(0);
        let target = match key.code {
            KeyCode::Down | KeyCode::Char('j') => (current + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => current.saturating_sub(1),
            KeyCode::PageDown => (current + PAGE).min(last),
            KeyCode::PageUp => current.saturating_sub(PAGE),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            _ => return false,
        };
        self.selected = visible.get(target).cloned();
        true
    }

    /// Demo keys act on the selected member; outside the demo they do nothing.
    fn key_demo(&mut self, key: KeyEvent) -> Option<Action> {
        self.demo?;
        if let KeyCode::Char('+' | '=') = key.code {
            return Some(Action::Loss(1));
        }
        if let KeyCode::Char('-' | '_') = key.code {
            return Some(Action::Loss(-1));
        }
        let verb = match key.code {
            KeyCode::Char('x') => "crash",
            KeyCode::Char('r') => "restart",
            KeyCode::Char('p') => "pause",
            _ => return None,
        };
        let Some(row) = self.selected_row() else {
            self.log(
                Level::Warn,
                format!("select a member to {verb} first (j/k)"),
            );
            return None;
        };
        let name = row.member.name.clone();
        let (is_local, fault) = (row.is_local, row.fault);
        if is_local {
            self.log(
                Level::Warn,
                format!("{name} runs this dashboard: it cannot {verb} itself"),
            );
            return None;
        }
        match (verb, fault) {
            ("restart", Some(Fault::Killed)) => Some(Action::Restart(name)),
            ("restart", _) => {
                self.log(
                    Level::Warn,
                    format!("{name} is running: crash it (x) before restarting it"),
                );
                None
            }
            (_, Some(Fault::Killed | Fault::Restarting)) => {
                self.log(Level::Warn, format!("{name} is down: restart it (r) first"));
                None
            }
            ("crash", _) => Some(Action::Crash(name)),
            (_, Some(Fault::Paused { .. })) => {
                self.log(Level::Warn, format!("{name} is already paused"));
                None
            }
            _ => Some(Action::Pause(name)),
        }
    }
}
