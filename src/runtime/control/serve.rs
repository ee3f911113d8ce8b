//! Answering control requests: the one part of the socket that sees the core.

use std::collections::BTreeMap;
use std::time::Instant;

use mio::Events;
use serde_json::{Value, json};

use super::request::Request;
use super::rows::Rows;
use super::{Budget, Control};
use crate::json;
use crate::member::Tags;
use crate::proto::Status;
use crate::runtime::Runtime;

/// The ring's key ids in hex, the primary first: enough to compare rings across members
/// without the keys ever leaving the node.
fn key_ids(ring: &crate::keyring::Keyring) -> Vec<String> {
    #[cfg(feature = "encryption")]
    let ids = ring
        .keys()
        .iter()
        .map(|k| {
            crate::wire::seal::key_id(k)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    // Without the feature no node has a keyring (`Config::validate` refuses one).
    #[cfg(not(feature = "encryption"))]
    let ids = ring.keys().iter().map(|_| String::new()).collect();
    ids
}

impl Runtime {
    /// Accepts clients, answers requests for one bounded slice (see [`Budget`]), and closes
    /// the clients that are done. A request changes the core only through the calls a program's
    /// `Node` uses (`set_tags`, `leave`), so both paths behave alike.
    pub(in crate::runtime) fn serve_control(&mut self, now: Instant, events: &Events) {
        // Taken out for the duration so that answering can borrow the rest of the runtime.
        let Some(mut control) = self.control.take() else {
            return;
        };
        control.handle_events(now, self.poll.registry(), events);
        let mut budget = Budget::new();
        while let Some((slot, request)) = control.next_request(now, &mut budget) {
            if let Some(answer) = self.answer(now, &mut control, slot, request) {
                control.reply(slot, &answer);
            }
        }
        control.sweep(now, self.poll.registry());
        self.control = Some(control);
    }

    /// The answer to one request; `None` when it comes later (a leave, once it is done).
    fn answer(
        &mut self,
        now: Instant,
        control: &mut Control,
        slot: usize,
        request: Request,
    ) -> Option<Value> {
        let local = self.swim.local();
        let node = local.name.as_str();
        let answer = match request {
            Request::Members { status } => {
                let Some(Some(conn)) = control.clients.get_mut(slot) else {
                    return None;
                };
                if conn.monitor {
                    // Its events would land in the middle of the answer's line.
                    return Some(json!({
                        "ok": false,
                        "error": "this connection monitors events; ask for members on another",
                    }));
                }
                // A snapshot now, rendered a slice per iteration (see `rows`).
                let mut members = self.swim.members();
                members.push(local.clone());
                let (rows, head) = Rows::new(node, members, status);
                conn.stream(rows, &head);
                return None;
            }
            Request::Stats => json!({
                "ok": true,
                "stats": json::stats(node, &self.summary(), json::unix_ms()),
                "control": control.counters_json(),
            }),
            Request::Tags { set, rm } => {
                let mut map: BTreeMap<String, String> = local
                    .tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                for key in &rm {
                    map.remove(key);
                }
                map.extend(set);
                match Tags::new(map) {
                    Err(why) => json!({"ok": false, "error": format!("the tags would {why}")}),
                    Ok(tags) => {
                        // An unchanged set is not news: no new incarnation, nothing to gossip.
                        if tags != local.tags {
                            self.swim.set_tags(now, tags.clone());
                        }
                        let tags: BTreeMap<&str, &str> = tags.iter().collect();
                        json!({
                            "ok": true,
                            "node": node,
                            "tags": tags,
                            "incarnation": self.swim.local().incarnation.0,
                        })
                    }
                }
            }
            Request::Event { name, payload } => match self.swim.broadcast(now, &name, &payload) {
                Ok(ltime) => json!({"ok": true, "node": node, "name": name, "ltime": ltime.0}),
                Err(why) => json!({"ok": false, "error": why.to_string()}),
            },
            Request::Keys { change } => match self.change_keys(change) {
                Ok(Some(ring)) => json!({"ok": true, "node": node, "keys": key_ids(&ring)}),
                Ok(None) => json!({"ok": false, "error": "this node runs without a keyring"}),
                Err(why) => json!({"ok": false, "error": why.to_string()}),
            },
            Request::Leave => {
                if !matches!(self.swim.status(), Status::Leaving | Status::Left) {
                    self.swim.leave(now);
                }
                control.leaving.push(slot);
                return None;
            }
            Request::Monitor => {
                if let Some(Some(conn)) = control.clients.get_mut(slot) {
                    conn.monitor = true;
                }
                json!({"ok": true, "node": node, "monitor": true})
            }
        };
        Some(answer)
    }
}
