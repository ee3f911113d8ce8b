//! One control client: line framing in, buffered lines out, every buffer bounded.
//!
//! The stream is non-blocking and registered edge-triggered, so each method works until the
//! kernel says `WouldBlock`, and the owner calls again on the next readiness event.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::rows::Rows;

/// The longest request line accepted, newline excluded. Requests are small (the largest, a tag
/// change, is bounded by the tags' own 512 bytes); the bound only stops a client that never
/// sends a newline from growing the node's memory.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// While more than this many answer bytes wait to be written, no further request of the
/// client is read: a client that asks faster than it reads is slowed down, not buffered for.
/// A streamed answer ([`Rows`]) is rendered up to this much at a time, so a `members` answer
/// of any size holds at most this much text (plus a row) for a client that reads slowly.
pub(super) const SOFT_OUTPUT: usize = 64 * 1024;

/// How many event bytes may wait for a monitor before it is dropped as too slow.
pub(super) const MONITOR_OUTPUT: usize = 1024 * 1024;

/// How long a connection that is being closed (it misbehaved, or its monitor was dropped) may
/// take to read its last answer before it is closed anyway.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long a connection may go without sending a complete request or reading any of its
/// answer before it is closed (monitors, which only listen, and clients waiting for a leave
/// excepted). Every `rumor` command sends its request at once and reads its answer at once;
/// the bound stops held connections from taking the [`MAX_CLIENTS`](super::MAX_CLIENTS)
/// places an operator needs, while leaving a person typing into `socat` some time.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`Conn::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// A complete line, without its newline (nor a `\r` before it).
    Line(Vec<u8>),
    /// A line passed [`MAX_LINE`] without ending; its bytes are discarded.
    TooLong,
    /// The client hung up in the middle of a line; the fragment is discarded.
    HalfLine,
    /// Nothing to do until the next readiness event: no complete line yet, answers waiting to
    /// be written, or the connection no longer takes requests.
    Idle,
}

/// A control connection: a stream plus its input and output buffers and where it stands.
pub(super) struct Conn<S> {
    pub(super) stream: S,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes at the front of `output` already written.
    sent: usize,
    /// The client will send nothing more (it closed its side).
    eof: bool,
    /// A read or write failed (the client is gone): close at once.
    broken: bool,
    /// Takes no more requests; closed once the output is written, or at this deadline.
    closing: Option<Instant>,
    /// Subscribed to the node's events.
    pub(super) monitor: bool,
    /// Listed among the connections with work left this loop iteration.
    pub(super) ready: bool,
    /// The rest of a `members` answer being streamed; no request is read until it is out.
    rows: Option<Rows>,
    /// When the client last sent a complete request or took some of its answer (or connected).
    active: Instant,
    /// It did one of those since `active` was last set.
    progressed: bool,
}

impl<S: Read + Write> Conn<S> {
    /// A connection accepted at `now`.
    pub(super) fn new(stream: S, now: Instant) -> Self {
        Conn {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            eof: false,
            broken: false,
            closing: None,
            monitor: false,
            ready: false,
            rows: None,
            active: now,
            progressed: false,
        }
    }

    /// Answer bytes not yet written.
    pub(super) fn pending(&self) -> usize {
        self.output.len() - self.sent
    }

    /// The next request line, reading as much as needed (and available).
    pub(super) fn next_line(&mut self, scratch: &mut [u8]) -> Next {
        loop {
            if self.broken
                || self.closing.is_some()
                || self.rows.is_some()
                || self.pending() > SOFT_OUTPUT
            {
                return Next::Idle;
            }
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                if end > MAX_LINE {
                    self.input.clear();
                    return Next::TooLong;
                }
                self.progressed = true;
                let mut line: Vec<u8> = self.input.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Next::Line(line);
            }
            if self.input.len() > MAX_LINE {
                self.input.clear();
                return Next::TooLong;
            }
            if self.eof {
                if self.input.is_empty() {
                    return Next::Idle;
                }
                self.input.clear();
                return Next::HalfLine;
            }
            match self.stream.read(scratch) {
                Ok(0) => self.eof = true,
                Ok(n) => self.input.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.broken = true,
            }
        }
    }

    /// Queues one line (a newline is added) and writes what the kernel takes.
    pub(super) fn send(&mut self, line: &[u8]) {
        if self.broken {
            return;
        }
        self.output.extend_from_slice(line);
        self.output.push(b'\n');
        self.flush();
    }

    /// Writes queued output until it is all written or the kernel's buffer is full.
    pub(super) fn flush(&mut self) {
        while !self.broken && self.sent < self.output.len() {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(0) => self.broken = true,
                Ok(n) => {
                    self.sent += n;
                    self.progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.broken = true,
            }
        }
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        } else if self.sent > SOFT_OUTPUT {
            // Reclaim the written front now and then rather than on every partial write.
            self.output.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Starts a streamed answer: `head` is queued now, the rows by [`Conn::pump`].
    pub(super) fn stream(&mut self, rows: Rows, head: &[u8]) {
        if self.broken {
            return;
        }
        self.output.extend_from_slice(head);
        self.rows = Some(rows);
    }

    /// True while a streamed answer has rows left to render.
    pub(super) fn streaming(&self) -> bool {
        self.rows.is_some()
    }

    /// Renders more of a streamed answer while less than [`SOFT_OUTPUT`] waits to be written,
    /// and writes what the kernel takes. True when it may be called again at once (rows are
    /// left and the kernel took everything); false when done or when the client must read first.
    pub(super) fn pump(&mut self) -> bool {
        if self.broken {
            self.rows = None;
        }
        let pending = self.pending();
        let Some(rows) = self.rows.as_mut() else {
            return false;
        };
        if pending < SOFT_OUTPUT {
            let limit = self.output.len() + SOFT_OUTPUT - pending;
            if rows.render(&mut self.output, limit) {
                self.output.push(b'\n');
                self.rows = None;
            }
        }
        self.flush();
        self.rows.is_some() && self.pending() < SOFT_OUTPUT
    }

    /// Takes no further requests; the connection closes once its output is written, or at
    /// `now + CLOSE_GRACE` at the latest.
    pub(super) fn close_after(&mut self, now: Instant) {
        self.input.clear();
        self.monitor = false;
        if self.closing.is_none() {
            self.closing = Some(now + CLOSE_GRACE);
        }
    }

    /// Drops the events queued for this monitor, keeping the stream line-aligned (the line
    /// being written is finished), and queues `notice` as the last line before closing.
    pub(super) fn drop_monitor(&mut self, now: Instant, notice: &[u8]) {
        let rest = &self.output[self.sent..];
        let keep = rest.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        // The first unsent line may be partly written already: it is finished, the rest cut.
        self.output.truncate(self.sent + keep);
        self.close_after(now);
        self.output.extend_from_slice(notice);
        self.output.push(b'\n');
        self.flush();
    }

    /// Notes at `now` whether the client did anything since the last call, and returns when
    /// it counts as idle ([`IDLE_TIMEOUT`] after that), `None` for a monitor or a closing one.
    pub(super) fn idle_deadline(&mut self, now: Instant) -> Option<Instant> {
        if std::mem::take(&mut self.progressed) {
            self.active = now;
        }
        (!self.monitor && self.closing.is_none()).then_some(self.active + IDLE_TIMEOUT)
    }

    /// Closes an idle connection: told why when its output is at a line's end, its streamed
    /// answer (if any) dropped.
    pub(super) fn close_idle(&mut self, now: Instant, notice: &[u8]) {
        if self.rows.take().is_none() {
            self.output.extend_from_slice(notice);
            self.output.push(b'\n');
            self.flush();
        }
        self.close_after(now);
    }

    /// When the client last sent a request or took some of its answer, as last noted.
    pub(super) fn active_since(&self) -> Instant {
        self.active
    }

    /// The deadline by which a closing connection is closed anyway.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.closing
    }

    /// True when the connection should be closed now.
    pub(super) fn finished(&self, now: Instant) -> bool {
        if self.broken || self.closing.is_some_and(|d| now >= d) {
            return true;
        }
        // A client that stops sending is done once its answers are out, a monitor too: it
        // keeps its side open while it listens, so a hang-up frees its slot at once rather
        // than at the next event written into the void.
        (self.closing.is_some() || self.eof) && self.pending() == 0 && self.rows.is_none()
    }
}

#[cfg(test)]
mod tests;
