//! Framing, bounded output and idle clients of one control connection.

use std::collections::VecDeque;

use super::*;

/// A scripted peer: reads hand out `chunks` one by one then `WouldBlock` (or EOF once
/// `eof` is set); writes accept up to `room` bytes, then `WouldBlock`.
#[derive(Default)]
struct Peer {
    chunks: VecDeque<Vec<u8>>,
    eof: bool,
    room: usize,
    written: Vec<u8>,
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.chunks.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.chunks.push_front(chunk.split_off(n));
                }
                Ok(n)
            }
            None if self.eof => Ok(0),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn conn(chunks: &[&[u8]], eof: bool) -> Conn<Peer> {
    let peer = Peer {
        chunks: chunks.iter().map(|c| c.to_vec()).collect(),
        eof,
        room: usize::MAX,
        written: Vec::new(),
    };
    Conn::new(peer, crate::test_epoch())
}

fn lines(c: &mut Conn<Peer>) -> Vec<Next> {
    let mut scratch = [0u8; 16];
    let mut out = Vec::new();
    loop {
        let next = c.next_line(&mut scratch);
        if next == Next::Idle {
            return out;
        }
        out.push(next);
    }
}

#[test]
fn lines_are_framed_across_reads_and_crlf_is_accepted() {
    let mut c = conn(
        &[b"{\"cmd\":", b"\"stats\"}\r\n{\"cmd\"", b":\"members\"}\n"],
        false,
    );
    assert_eq!(
        lines(&mut c),
        [
            Next::Line(b"{\"cmd\":\"stats\"}".to_vec()),
            Next::Line(b"{\"cmd\":\"members\"}".to_vec()),
        ]
    );
}

#[test]
fn a_line_without_end_is_cut_at_the_bound() {
    let long = vec![b'x'; MAX_LINE + 100];
    let mut c = conn(&[&long], false);
    assert_eq!(lines(&mut c), [Next::TooLong]);
    // Exactly at the bound is still a line.
    let mut max = vec![b'y'; MAX_LINE];
    max.push(b'\n');
    let mut c = conn(&[&max], false);
    assert_eq!(lines(&mut c), [Next::Line(vec![b'y'; MAX_LINE])]);
}

#[test]
fn an_over_long_line_with_its_newline_in_one_read_is_refused_too() {
    let mut long = vec![b'x'; MAX_LINE + 1];
    long.extend_from_slice(b"\n{}\n");
    let mut c = conn(&[&long], false);
    assert_eq!(lines(&mut c).first(), Some(&Next::TooLong));
}

#[test]
fn a_hang_up_mid_line_is_a_half_line_after_the_complete_ones() {
    let mut c = conn(&[b"{\"cmd\":\"stats\"}\n{\"cmd\":\"mem"], true);
    assert_eq!(
        lines(&mut c),
        [Next::Line(b"{\"cmd\":\"stats\"}".to_vec()), Next::HalfLine]
    );
    // Answered with an error where possible: the client may still be reading.
    let now = crate::test_epoch();
    c.stream.room = 0;
    c.send(b"error");
    assert!(!c.finished(now));
    c.stream.room = usize::MAX;
    c.flush();
    assert!(c.finished(now));
    assert_eq!(c.stream.written, b"error\n");
}

#[test]
fn no_request_is_read_while_answers_pile_up() {
    let mut c = conn(&[b"a\nb\n"], false);
    c.stream.room = 0;
    let mut scratch = [0u8; 16];
    assert_eq!(c.next_line(&mut scratch), Next::Line(b"a".to_vec()));
    c.send(&vec![b'z'; SOFT_OUTPUT + 1]);
    assert_eq!(c.next_line(&mut scratch), Next::Idle);
    // The client reads: the rest of the answer goes out and the next request is served.
    c.stream.room = usize::MAX;
    c.flush();
    assert_eq!(c.pending(), 0);
    assert_eq!(c.next_line(&mut scratch), Next::Line(b"b".to_vec()));
}

#[test]
fn a_dropped_monitor_ends_its_partial_line_then_gets_the_notice() {
    let now = crate::test_epoch();
    let mut c = conn(&[], false);
    c.monitor = true;
    c.stream.room = 4;
    c.send(b"event-one");
    c.send(b"event-two");
    c.drop_monitor(now, b"dropped");
    c.stream.room = usize::MAX;
    c.flush();
    assert_eq!(c.stream.written, b"event-one\ndropped\n");
    assert!(!c.monitor);
    assert!(c.finished(now), "closed once the notice is out");
}

#[test]
fn a_closing_client_that_never_reads_is_closed_at_the_deadline() {
    let now = crate::test_epoch();
    let mut c = conn(&[], false);
    c.stream.room = 0;
    c.send(b"error");
    c.close_after(now);
    assert!(!c.finished(now));
    assert!(c.finished(now + CLOSE_GRACE));
}

#[test]
fn a_streamed_answer_waits_for_a_slow_reader_with_bounded_output() {
    use crate::member::{Incarnation, Member, MemberState, NodeName, Tags};
    let members: Vec<Member> = (0..5_000)
        .map(|i| Member {
            name: NodeName::new(&format!("member-{i}")).unwrap(),
            addr: "127.0.0.1:7946".parse().unwrap(),
            incarnation: Incarnation(0),
            state: MemberState::Alive,
            tags: Tags::default(),
            since: crate::test_epoch(),
            rtt: None,
        })
        .collect();
    let now = crate::test_epoch();
    // The client asked, then closed its side; it reads 1,000 bytes at a time.
    let mut c = conn(
        &[b"{\"cmd\":\"members\"}\n", b"{\"cmd\":\"stats\"}\n"],
        true,
    );
    let mut scratch = [0u8; 64];
    assert!(matches!(c.next_line(&mut scratch), Next::Line(_)));
    let (rows, head) = Rows::new("n1", members, None);
    c.stream(rows, &head);
    let mut rounds = 0;
    while c.streaming() {
        c.stream.room = 1_000;
        while c.pump() {}
        assert!(
            c.pending() <= SOFT_OUTPUT + 200,
            "{} bytes held",
            c.pending()
        );
        assert!(!c.finished(now), "closed in the middle of its answer");
        if c.streaming() {
            let next = c.next_line(&mut scratch);
            assert_eq!(next, Next::Idle, "no request read meanwhile");
        }
        rounds += 1;
    }
    c.stream.room = usize::MAX;
    c.flush();
    let answer: serde_json::Value = serde_json::from_slice(&c.stream.written).unwrap();
    assert_eq!(answer["members"].as_array().unwrap().len(), 5_000);
    assert!(rounds > 100, "written as read, {rounds} rounds");
    // Then the next request.
    assert_eq!(
        c.next_line(&mut scratch),
        Next::Line(b"{\"cmd\":\"stats\"}".to_vec())
    );
}

#[test]
fn a_client_that_neither_asks_nor_reads_is_idle_after_the_timeout() {
    // Connected, sent half a request: idle from the start.
    let mut c = conn(&[b"{\"cmd\":"], false);
    let start = c.active_since();
    let later = start + IDLE_TIMEOUT;
    let mut scratch = [0u8; 16];
    assert_eq!(c.next_line(&mut scratch), Next::Idle);
    assert_eq!(c.idle_deadline(start), Some(later));
    // A complete request, answered and read, restarts the clock.
    c.stream.chunks.push_back(b"\"stats\"}\n".to_vec());
    assert!(matches!(c.next_line(&mut scratch), Next::Line(_)));
    c.send(b"answer");
    assert_eq!(c.idle_deadline(later), Some(later + IDLE_TIMEOUT));
    // An answer it does not read does not.
    c.stream.room = 0;
    c.send(b"unread");
    assert_eq!(
        c.idle_deadline(later + IDLE_TIMEOUT),
        Some(later + IDLE_TIMEOUT)
    );
    // Closed: told why after its last whole line.
    c.close_idle(later + IDLE_TIMEOUT, b"idle");
    c.stream.room = usize::MAX;
    c.flush();
    assert_eq!(c.stream.written, b"answer\nunread\nidle\n");
    assert!(c.finished(later + IDLE_TIMEOUT));
    // A monitor only listens: never idle.
    let mut m = conn(&[], false);
    m.monitor = true;
    assert_eq!(m.idle_deadline(later), None);
}
