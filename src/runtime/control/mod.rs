//! The control socket: a Unix socket served by the node's own loop, one JSON request a line
//! and one JSON answer a line, for an operator's `rumor members`, `stats`, `tags`, `leave` and
//! `monitor`.
//!
//! The listener and every client are registered in the runtime's `Poll` with their own tokens,
//! so the socket costs no thread, and nothing a client does can hold up the protocol: reads
//! and writes never block, every buffer is bounded ([`conn`]), the number of clients is bounded,
//! the requests served per loop iteration are bounded, and a client that misbehaves is answered
//! with an error where possible, counted, and closed.
//!
//! Parts: [`socket`] (the file: permissions, whom to trust, stale or live, removal), [`conn`]
//! (framing and buffers), [`request`] (parsing), [`serve`] (answering, with the runtime's
//! state), [`rows`] (a `members` answer streamed a slice at a time).

mod conn;
#[cfg(test)]
mod large_tests;
mod request;
mod rows;
mod serve;
pub(crate) mod socket;

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use mio::net::UnixStream;
use mio::{Events, Interest, Registry, Token};
use serde_json::{Value, json};

use crate::error::StartError;
use crate::event::Event;
use conn::{Conn, IDLE_TIMEOUT, MONITOR_OUTPUT, Next};
use request::Request;
use socket::Bound;

/// The listener's token; clients take the tokens above it.
const LISTENER: Token = Token(2);
const FIRST_CLIENT: usize = 3;

/// The most clients served at once; one more takes the place of the one idle longest if that
/// one has been idle for [`EVICT_AFTER`], else it is told so and closed.
const MAX_CLIENTS: usize = 32;

/// How long a client must have done nothing (no request, none of its answer read) before a
/// newcomer may take its place when all [`MAX_CLIENTS`] are taken: long past the moment a
/// `rumor` command sends its request, so only held connections give way, and the operator's
/// command is served at once rather than after [`IDLE_TIMEOUT`].
const EVICT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Requests served per loop iteration, all clients together (a slice of a streamed `members`
/// answer counts as one), and the time they may take: a
/// client asking as fast as it can gets the socket's share, and the protocol's datagrams and
/// timers still get theirs between two slices (the loop comes straight back while requests
/// wait). A slice well under the test profile's 25 ms probe timeout keeps acks prompt.
const REQUESTS_PER_ITERATION: usize = 64;
const SLICE: std::time::Duration = std::time::Duration::from_millis(1);

/// What the socket counts, reported with `stats` (they are the socket's, not the protocol's,
/// so they stay out of [`Stats`](crate::Stats)).
#[derive(Clone, Debug, Default)]
struct Counters {
    clients: u64,
    rejected_clients: u64,
    requests: u64,
    bad_requests: u64,
    long_lines: u64,
    half_lines: u64,
    dropped_monitors: u64,
    foreign_clients: u64,
    idle_clients: u64,
}

/// The control socket of one node: its listener, its clients, and who waits for what.
pub(crate) struct Control {
    bound: Bound,
    clients: Vec<Option<Conn<UnixStream>>>,
    /// Clients that may have work left: a readiness event arrived and they have not yet hit
    /// `WouldBlock` (or their answers are queued).
    ready: Vec<usize>,
    /// Clients waiting for the leave they asked for to finish.
    leaving: Vec<usize>,
    node: String,
    /// This process's user id, whom clients must run as (or root).
    uid: u32,
    counters: Counters,
    scratch: Box<[u8]>,
}

impl Control {
    /// Binds the socket at `path` (see [`Bound::new`]) and registers it with the loop's poll.
    pub(crate) fn new(path: &Path, node: &str, registry: &Registry) -> Result<Self, StartError> {
        let mut bound = Bound::new(path)?;
        registry
            .register(&mut bound.listener, LISTENER, Interest::READABLE)
            .map_err(|e| StartError::Control(path.to_path_buf(), e))?;
        Ok(Control {
            bound,
            clients: (0..MAX_CLIENTS).map(|_| None).collect(),
            ready: Vec::new(),
            leaving: Vec::new(),
            node: node.to_string(),
            uid: socket::own_uid(),
            counters: Counters::default(),
            scratch: vec![0; 4096].into_boxed_slice(),
        })
    }

    /// Notes the readiness events that concern the socket: new clients are accepted, clients
    /// with an event are listed as ready.
    fn handle_events(&mut self, now: Instant, registry: &Registry, events: &Events) {
        for event in events {
            match event.token() {
                LISTENER => self.accept(now, registry),
                Token(t) if t >= FIRST_CLIENT => self.mark_ready(t - FIRST_CLIENT),
                _ => {}
            }
        }
    }

    fn accept(&mut self, now: Instant, registry: &Registry) {
        loop {
            let mut stream = match self.bound.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all accepted. Anything else (out of file descriptors) is retried
                // at the next connection.
                Err(_) => return,
            };
            // The socket's 0600 and its private folder keep other users out; this holds if
            // either is loosened by hand.
            let peer = socket::peer_uid(&stream);
            if !peer.is_ok_and(|uid| socket::trusted_peer(uid, self.uid)) {
                self.counters.foreign_clients += 1;
                let line = error("this agent serves only its own user (and root)");
                let _ = stream.write(format!("{line}\n").as_bytes());
                continue;
            }
            let free = self.clients.iter().position(Option::is_none);
            let Some(slot) = free.or_else(|| self.evict_idle(now, registry)) else {
                self.counters.rejected_clients += 1;
                let line = error(&format!("too many control clients (at most {MAX_CLIENTS})"));
                // Best effort: a fresh socket's buffer has room for one short line.
                let _ = stream.write(format!("{line}\n").as_bytes());
                continue;
            };
            let token = Token(FIRST_CLIENT + slot);
            if registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            self.counters.clients += 1;
            self.clients[slot] = Some(Conn::new(stream, now));
            // It may have written its request before we registered it: no edge would tell.
            self.mark_ready(slot);
        }
    }

    /// Frees the place of the client idle longest, if it has been idle for [`EVICT_AFTER`];
    /// returns its slot.
    fn evict_idle(&mut self, now: Instant, registry: &Registry) -> Option<usize> {
        let (slot, since) = self
            .clients
            .iter_mut()
            .enumerate()
            .filter(|(slot, _)| !self.leaving.contains(slot))
            .filter_map(|(slot, c)| {
                let deadline = c.as_mut()?.idle_deadline(now)?;
                Some((slot, deadline.checked_sub(IDLE_TIMEOUT)?))
            })
            .min_by_key(|&(_, since)| since)?;
        if now.saturating_duration_since(since) < EVICT_AFTER {
            return None;
        }
        let mut conn = self.clients[slot].take()?;
        self.counters.idle_clients += 1;
        conn.close_idle(
            now,
            idle_notice("another client needed its place").as_bytes(),
        );
        let _ = registry.deregister(&mut conn.stream);
        Some(slot)
    }

    fn mark_ready(&mut self, slot: usize) {
        if let Some(Some(conn)) = self.clients.get_mut(slot)
            && !conn.ready
        {
            conn.ready = true;
            self.ready.push(slot);
        }
    }

    /// The next well-formed request of any ready client, answering malformed ones itself, while
    /// the iteration's `budget` lasts.
    fn next_request(&mut self, now: Instant, budget: &mut Budget) -> Option<(usize, Request)> {
        while budget.left() {
            let &slot = self.ready.last()?;
            let Some(conn) = self.clients[slot].as_mut() else {
                self.ready.pop();
                continue;
            };
            conn.flush();
            if conn.streaming() {
                // A slice of a `members` answer costs about what a request does.
                budget.requests -= 1;
                if !conn.pump() && conn.streaming() {
                    // The client must read first: its writable edge brings it back.
                    conn.ready = false;
                    self.ready.pop();
                }
                continue;
            }
            match conn.next_line(&mut self.scratch) {
                Next::Line(line) => {
                    budget.requests -= 1;
                    match request::parse(&line) {
                        Ok(request) => {
                            self.counters.requests += 1;
                            return Some((slot, request));
                        }
                        Err(why) => {
                            self.counters.bad_requests += 1;
                            conn.send(error(&why).as_bytes());
                        }
                    }
                }
                Next::TooLong => {
                    self.counters.long_lines += 1;
                    let why = format!("request line longer than {} bytes", conn::MAX_LINE);
                    conn.send(error(&why).as_bytes());
                    conn.close_after(now);
                }
                Next::HalfLine => {
                    self.counters.half_lines += 1;
                    conn.send(error("the connection ended in the middle of a request").as_bytes());
                }
                Next::Idle => {
                    conn.ready = false;
                    self.ready.pop();
                }
            }
        }
        None
    }

    /// True when some client still had work when the last iteration's budget ran out: its
    /// data is already in our buffers or the kernel's, and no new readiness edge will come.
    pub(crate) fn busy(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Queues an answer for a client (gone clients are skipped).
    fn reply(&mut self, slot: usize, answer: &Value) {
        if let Some(Some(conn)) = self.clients.get_mut(slot) {
            conn.send(answer.to_string().as_bytes());
        }
    }

    /// Streams one event to every monitor; a monitor whose backlog passed its bound is dropped
    /// with a notice instead, so a slow reader costs memory up to the bound and never time.
    pub(crate) fn publish(&mut self, now: Instant, event: &Event) {
        if !self.clients.iter().flatten().any(|c| c.monitor) {
            return;
        }
        let line = crate::json::event(&self.node, event, crate::json::unix_ms()).to_string();
        for conn in self.clients.iter_mut().flatten().filter(|c| c.monitor) {
            if conn.pending() + line.len() > MONITOR_OUTPUT {
                self.counters.dropped_monitors += 1;
                let notice = json!({
                    "event": "monitor-dropped",
                    "node": self.node,
                    "error": format!(
                        "this monitor fell {} bytes behind: closed, events since are lost",
                        conn.pending()
                    ),
                });
                conn.drop_monitor(now, notice.to_string().as_bytes());
            } else {
                conn.send(line.as_bytes());
            }
        }
    }

    /// Closes the clients that are done (answered and hung up, misbehaved, or past their
    /// closing deadline).
    fn sweep(&mut self, now: Instant, registry: &Registry) {
        for slot in 0..self.clients.len() {
            let waits_for_leave = self.leaving.contains(&slot);
            if let Some(conn) = self.clients[slot].as_mut()
                && !waits_for_leave
                && conn.idle_deadline(now).is_some_and(|d| now >= d)
            {
                self.counters.idle_clients += 1;
                let why = format!("no request in {} s", IDLE_TIMEOUT.as_secs());
                conn.close_idle(now, idle_notice(&why).as_bytes());
            }
            if self.clients[slot].as_ref().is_some_and(|c| c.finished(now))
                && let Some(mut conn) = self.clients[slot].take()
            {
                let _ = registry.deregister(&mut conn.stream);
                self.leaving.retain(|&s| s != slot);
            }
        }
    }

    /// The earliest closing or idle deadline of a client, for the loop's poll timeout.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.clients
            .iter()
            .flatten()
            .filter_map(|c| match c.deadline() {
                Some(closing) => Some(closing),
                // An estimate (activity since the last sweep is not in it yet): the loop
                // only wakes early, and the sweep then looks again.
                None if c.monitor => None,
                None => Some(c.active_since() + IDLE_TIMEOUT),
            })
            .min()
    }

    /// The last act before the socket closes: clients waiting for a leave hear how it ended,
    /// and every queued answer gets one more chance to be written.
    pub(crate) fn finish(&mut self, left: bool) {
        let answer = if left {
            json!({"ok": true, "left": true, "node": self.node})
        } else {
            json!({"ok": false, "error": "the node stopped before its leave finished"})
        };
        for slot in std::mem::take(&mut self.leaving) {
            self.reply(slot, &answer);
        }
        // A monitor's last line says that the stream ends here on purpose: a stream that ends
        // without it was cut (the node died, or dropped the monitor and its notice was lost).
        let end = json!({
            "event": "monitor-end",
            "node": self.node,
            "reason": if left { "the node left the cluster" } else { "the node stopped" },
        })
        .to_string();
        for conn in self.clients.iter_mut().flatten() {
            if conn.monitor {
                conn.send(end.as_bytes());
            }
            conn.flush();
        }
    }

    /// The socket's own counters, as reported by `stats`: `errors` counts trouble by kind
    /// (malformed requests, over-long lines, requests cut by a hang-up, clients refused for
    /// being too many, monitors dropped for being too slow, clients of another user refused,
    /// clients closed for being idle).
    fn counters_json(&self) -> Value {
        let c = &self.counters;
        let clients = || self.clients.iter().flatten();
        json!({
            "clients": c.clients,
            "connected": clients().count(),
            "monitors": clients().filter(|c| c.monitor).count(),
            "requests": c.requests,
            "errors": {
                "bad_request": c.bad_requests,
                "long_line": c.long_lines,
                "half_line": c.half_lines,
                "rejected_client": c.rejected_clients,
                "dropped_monitor": c.dropped_monitors,
                "foreign_client": c.foreign_clients,
                "idle_client": c.idle_clients,
            },
        })
    }
}

/// What one loop iteration may still spend on requests.
pub(super) struct Budget {
    requests: usize,
    until: Instant,
}

impl Budget {
    /// A fresh slice, from the clock rather than the iteration's `now`, which is from before
    /// the iteration's other work.
    fn new() -> Budget {
        Budget {
            requests: REQUESTS_PER_ITERATION,
            until: super::now() + SLICE,
        }
    }

    /// Checked against the clock, since requests differ in cost (`members` of a large table
    /// takes longest).
    fn left(&self) -> bool {
        self.requests > 0 && super::now() < self.until
    }
}

/// The line an idle client is closed with.
fn idle_notice(why: &str) -> String {
    error(&format!("closed as idle ({why})"))
}

/// An error answer.
fn error(why: &str) -> String {
    json!({"ok": false, "error": why}).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream as StdStream;
    use std::time::Duration;

    use mio::Poll;

    use super::*;
    use crate::event::EventKind;
    use crate::member::{Incarnation, Member, MemberState, NodeName, Tags};

    fn joined(name: &str) -> Event {
        let at = crate::test_epoch();
        Event {
            kind: EventKind::Joined,
            member: Member {
                name: NodeName::new(name).unwrap(),
                addr: "127.0.0.1:7946".parse().unwrap(),
                incarnation: Incarnation(0),
                state: MemberState::Alive,
                tags: Tags::default(),
                since: at,
                rtt: None,
            },
            at,
            user: None,
        }
    }

    #[test]
    fn a_monitor_that_does_not_read_is_dropped_with_a_notice_and_bounded_memory() {
        let dir = std::env::temp_dir().join(format!("rumor-ctl-{}-slow", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let poll = Poll::new().unwrap();
        let mut control = Control::new(&dir.join("n1.sock"), "n1", poll.registry()).unwrap();
        let mut client = StdStream::connect(dir.join("n1.sock")).unwrap();
        client.write_all(b"{\"cmd\":\"monitor\"}\n").unwrap();
        control.accept(crate::test_epoch(), poll.registry());
        let now = crate::test_epoch();
        let mut budget = Budget::new();
        let (slot, request) = control.next_request(now, &mut budget).expect("the request");
        assert_eq!(request, Request::Monitor);
        control.clients[slot].as_mut().unwrap().monitor = true;

        // The client never reads: the kernel's buffer fills, then ours up to the bound.
        let mut published = 0;
        while control.counters.dropped_monitors == 0 {
            control.publish(now, &joined(&format!("m{published}")));
            let conn = control.clients[slot].as_ref().unwrap();
            assert!(conn.pending() <= MONITOR_OUTPUT, "{}", conn.pending());
            published += 1;
            assert!(published < 1_000_000, "never dropped");
        }
        // Later events are not queued for it any more.
        control.publish(now, &joined("late"));

        // What reaches the client: whole event lines, then the notice, then the end.
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let reader = BufReader::new(client.try_clone().unwrap());
        let mut last = Value::Null;
        let mut lines = 0;
        let mut late = false;
        for line in reader.lines() {
            // The loop writes again when the socket is writable; here, at every line read.
            control.mark_ready(slot);
            let _ = control.next_request(now, &mut Budget::new());
            control.sweep(now, poll.registry());
            let line = line.expect("a line before the end");
            last = serde_json::from_str(&line).expect("every line whole JSON");
            late |= last["member"] == "late";
            lines += 1;
        }
        assert_eq!(last["event"], "monitor-dropped", "{last}");
        assert!(lines < published, "{lines} lines of {published} events");
        assert!(control.clients[slot].is_none(), "closed after the notice");
        assert!(!late, "an event after the drop reached the dropped monitor");
        drop(control);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
