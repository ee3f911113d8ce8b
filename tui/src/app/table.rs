//! Which members the table shows (the filter) and in which order (the sort column).

use std::cmp::Ordering;

use rumor::MemberState;

use super::state::{App, MemberRow};

/// The column the member table is ordered by; `s` cycles through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    /// By name, numbers by value (`n2` before `n10`).
    Name,
    /// Troubled members first: suspect, dead, alive, left.
    State,
    /// Highest incarnation first (members that refuted or restarted often).
    Incarnation,
    /// Most recent change first.
    Since,
    /// Slowest round trip first; members without one last.
    Rtt,
}

impl SortColumn {
    /// The next column in the cycle.
    pub fn next(self) -> Self {
        match self {
            SortColumn::Name => SortColumn::State,
            SortColumn::State => SortColumn::Incarnation,
            SortColumn::Incarnation => SortColumn::Since,
            SortColumn::Since => SortColumn::Rtt,
            SortColumn::Rtt => SortColumn::Name,
        }
    }

    /// Lower-case name, as shown in the table title.
    pub fn as_str(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::State => "state",
            SortColumn::Incarnation => "incarnation",
            SortColumn::Since => "since",
            SortColumn::Rtt => "rtt",
        }
    }
}

impl App {
    /// Rows that pass the filter, in the chosen order.
    pub fn visible_rows(&self) -> Vec<&MemberRow> {
        let filter = self.filter.to_lowercase();
        let mut rows: Vec<&MemberRow> = self
            .members
            .values()
            .filter(|r| {
                filter.is_empty()
                    || r.member.name.as_str().to_lowercase().contains(&filter)
                    || r.member.state.as_str().starts_with(&filter)
                    || r.member.tags.to_string().to_lowercase().contains(&filter)
            })
            .collect();
        rows.sort_by(|a, b| {
            self.compare(a, b)
                .then_with(|| natural_cmp(a.member.name.as_str(), b.member.name.as_str()))
        });
        rows
    }

    fn compare(&self, a: &MemberRow, b: &MemberRow) -> Ordering {
        let (a, b) = (&a.member, &b.member);
        match self.sort {
            SortColumn::Name => Ordering::Equal,
            SortColumn::State => state_rank(a.state).cmp(&state_rank(b.state)),
            SortColumn::Incarnation => b.incarnation.cmp(&a.incarnation),
            SortColumn::Since => b.since.cmp(&a.since),
            // Some(_) sorts after None, so reversing puts the slowest first and unknowns last.
            SortColumn::Rtt => b.rtt.cmp(&a.rtt),
        }
    }

    /// Position of the selected member among the visible rows; the first row when the selected
    /// one is filtered out or none was chosen yet.
    pub fn selected_index(&self) -> Option<usize> {
        let rows = self.visible_rows();
        if rows.is_empty() {
            return None;
        }
        let found = self
            .selected
            .as_ref()
            .and_then(|name| rows.iter().position(|r| &r.member.name == name));
        Some(found.unwrap_or(0))
    }

    /// The selected member's row, if any row is visible.
    pub fn selected_row(&self) -> Option<&MemberRow> {
        let index = self.selected_index()?;
        self.visible_rows().get(index).copied()
    }
}

/// Orders names as a person would: digit runs by value, so `n2` comes before `n10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
                // Same value: fewer leading zeros first, so the order stays total.
                let order = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.len().cmp(&db.len()));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Sort rank for [`SortColumn::State`]: what needs attention first.
fn state_rank(state: MemberState) -> u8 {
    match state {
        MemberState::Suspect => 0,
        MemberState::Dead => 1,
        MemberState::Alive => 2,
        MemberState::Left => 3,
    }
}
