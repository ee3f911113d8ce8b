//! A `members` answer written a slice at a time.
//!
//! Rendering a whole table at once held the loop for seconds and took about 1 GB at 100,000
//! members (issue 26): a JSON value per member, then one string of them all, then a copy in
//! the client's output buffer. Instead the answer takes a snapshot of the members when asked
//! (cheap copies that share names and tags: about 6 ms and 10 MB at 100,000), and the loop
//! renders rows from it only while little of the answer waits to be written ([`Conn::pump`]),
//! a bounded slice per iteration. The client still reads one JSON line; what it lists is the
//! table as it was when asked, in the table's order: sorting 100,000 names would hold the loop
//! twice as long again, so the `rumor` client sorts them instead.
//!
//! [`Conn::pump`]: super::conn::Conn::pump

use crate::member::{Member, MemberState};

/// What is left of one `members` answer: the snapshot's rows not yet rendered.
pub(super) struct Rows {
    rows: std::vec::IntoIter<Member>,
    /// No row rendered yet (no comma before the next one).
    first: bool,
}

impl Rows {
    /// The rows of an answer listing `members` (only those in `status` when given) in the
    /// order given, and the answer's opening bytes, which the caller queues first.
    pub(super) fn new(
        node: &str,
        mut members: Vec<Member>,
        status: Option<MemberState>,
    ) -> (Rows, Vec<u8>) {
        if let Some(status) = status {
            members.retain(|m| m.state == status);
        }
        let mut head = br#"{"ok":true,"node":"#.to_vec();
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut head, node);
        head.extend_from_slice(br#","members":["#);
        let rows = Rows {
            rows: members.into_iter(),
            first: true,
        };
        (rows, head)
    }

    /// Renders rows into `out` until it holds at least `limit` bytes or the rows run out, then
    /// the answer's closing bytes (without the newline, which the caller adds). True once the
    /// answer is complete.
    pub(super) fn render(&mut self, out: &mut Vec<u8>, limit: usize) -> bool {
        while out.len() < limit {
            let Some(member) = self.rows.next() else {
                out.extend_from_slice(b"]}");
                return true;
            };
            if !self.first {
                out.push(b',');
            }
            self.first = false;
            let _ = serde_json::to_writer(&mut *out, &crate::json::member(&member));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::member::{Incarnation, NodeName, Tags};

    fn member(name: &str, state: MemberState) -> Member {
        Member {
            name: NodeName::new(name).unwrap(),
            addr: "127.0.0.1:7946".parse().unwrap(),
            incarnation: Incarnation(1),
            state,
            tags: Tags::default(),
            since: crate::test_epoch(),
            rtt: None,
        }
    }

    /// Renders the whole answer `limit` bytes at a time, as the loop would, checking that no
    /// slice passes the limit by more than one row.
    fn whole(mut rows: Rows, mut out: Vec<u8>, limit: usize) -> Value {
        let mut answer = Vec::new();
        loop {
            let done = rows.render(&mut out, limit);
            assert!(out.len() <= limit + 200, "a slice of {} bytes", out.len());
            answer.append(&mut out);
            if done {
                return serde_json::from_slice(&answer).expect("one JSON object");
            }
        }
    }

    #[test]
    fn an_answer_in_slices_is_the_whole_table_in_order() {
        let members: Vec<Member> = (0..500)
            .rev()
            .map(|i| member(&format!("m{i:03}"), MemberState::Alive))
            .collect();
        let (rows, head) = Rows::new("n\"1", members, None);
        let answer = whole(rows, head, 1024);
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["node"], "n\"1");
        let names: Vec<&str> = answer["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 500);
        assert!(names.iter().rev().is_sorted(), "in the order given");
    }

    #[test]
    fn a_status_keeps_only_its_members_and_an_empty_list_is_still_an_answer() {
        let members = vec![
            member("b", MemberState::Suspect),
            member("a", MemberState::Alive),
            member("c", MemberState::Suspect),
        ];
        let (rows, head) = Rows::new("n1", members, Some(MemberState::Suspect));
        let answer = whole(rows, head, 1);
        assert_eq!(answer["members"][0]["name"], "b");
        assert_eq!(answer["members"][1]["name"], "c");
        assert_eq!(answer["members"].as_array().unwrap().len(), 2);
        let (rows, head) = Rows::new("n1", Vec::new(), None);
        assert_eq!(whole(rows, head, 64)["members"], Value::Array(Vec::new()));
    }
}
