//! The control socket against a large table, on a real loop thread: a `members` answer must
//! not stall the protocol loop, and must arrive whole (issue 26, finding 8).
//!
//! The table is filled with [`Swim::bootstrap`](crate::Swim::bootstrap) before the loop
//! starts, which costs no datagram; the loop's responsiveness is measured with the handle's
//! own commands (a `Health` query answered between two iterations), the same loop that
//! answers pings.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::{Config, Profile};
use crate::member::{NodeName, Tags};
use crate::proto::Identity;
use crate::runtime::{Command, Handles, Runtime};

/// A node on its own loop thread with `members` bootstrapped members.
struct Big {
    handles: Handles,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
    path: PathBuf,
}

impl Big {
    fn start(tag: &str, members: usize) -> Big {
        let dir = std::env::temp_dir().join(format!("rumor-ctl-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("big.sock");
        let mut config = Config::new(Profile::Test, "big", "127.0.0.1:0".parse().unwrap());
        config.control_socket = Some(path.clone());
        let (mut runtime, handles) = Runtime::new(config, 7).unwrap();
        let tags = Tags::new([("role", "db"), ("zone", "eu-west-1a")]).unwrap();
        // Addresses in 127.0.0.0/8 that nobody serves: probes go nowhere but loopback.
        let ids = (0..members).map(|i| {
            Arc::new(Identity {
                name: NodeName::new(&format!("member-{i:06}")).unwrap(),
                addr: std::net::SocketAddr::from(([127, 0, 2, (i % 250) as u8], 9)),
                tags: tags.clone(),
            })
        });
        runtime.swim.bootstrap(super::super::now(), ids);
        let thread = std::thread::spawn(move || runtime.run());
        Big {
            handles,
            thread: Some(thread),
            dir,
            path,
        }
    }

    /// How long the loop takes to answer one query from its handle.
    fn round_trip(&self) -> Duration {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let sent = super::super::now();
        self.handles.commands.send(Command::Health(tx)).unwrap();
        self.handles.waker.wake().unwrap();
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the loop answers");
        super::super::now() - sent
    }
}

impl Drop for Big {
    fn drop(&mut self) {
        let _ = self.handles.commands.send(Command::Stop);
        let _ = self.handles.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asks for the members, and while the answer is pending (the client reads nothing for a
/// while, then everything) measures the loop's round trips. Returns the answer, the longest
/// round trip, and how many round trips were measured while the client held off.
fn members_while_probing(big: &Big, hold: Duration) -> (String, Duration, usize) {
    let mut client = UnixStream::connect(&big.path).unwrap();
    client.write_all(b"{\"cmd\":\"members\"}\n").unwrap();
    let until = super::super::now() + hold;
    let mut worst = Duration::ZERO;
    let mut probes = 0;
    while super::super::now() < until {
        worst = worst.max(big.round_trip());
        probes += 1;
    }
    let held = probes;
    let reader = std::thread::spawn(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut line = String::new();
        BufReader::new(client).read_line(&mut line).unwrap();
        line
    });
    while !reader.is_finished() {
        worst = worst.max(big.round_trip());
    }
    (reader.join().unwrap(), worst, held)
}

#[test]
fn a_members_answer_of_a_large_table_is_whole_and_the_loop_keeps_serving() {
    const MEMBERS: usize = 30_000;
    let big = Big::start("large", MEMBERS);
    assert!(big.round_trip() < Duration::from_secs(5), "the loop runs");
    let (line, worst, probes) = members_while_probing(&big, Duration::from_millis(300));
    let answer: Value = serde_json::from_str(&line).expect("one whole JSON line");
    assert_eq!(answer["ok"], true, "{}", answer["error"]);
    let members = answer["members"].as_array().expect("a members list");
    assert_eq!(
        members.len(),
        MEMBERS + 1,
        "every member and the node itself"
    );
    let names: std::collections::HashSet<&str> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), MEMBERS + 1, "each once");
    assert!(names.contains("big") && names.contains("member-029999"));
    assert_eq!(members[0]["tags"]["zone"], "eu-west-1a");
    // The loop kept answering its handle while the answer waited for the client: built at
    // once, the answer held the loop for the whole hold (one or two round trips in 300 ms of a
    // debug build); sliced, each round trip costs at most one 64 KiB slice. Counted rather
    // than timed, so a loaded machine's single slow round trip does not fail it.
    assert!(
        probes >= 20,
        "the loop answered only {probes} round trips in 300 ms (longest {worst:?})"
    );
}

/// Figures for the report, not a test of time: the loop's longest stall and the process's
/// memory while one `members` answer of 100,000 rows is built and sent. Run alone, in release:
/// `cargo test --release -p rumor --lib members_figures -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run alone, in release"]
fn members_figures() {
    fn rss_kib(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    let started: Instant = super::super::now();
    let big = Big::start("figures", 100_000);
    let mut idle = Duration::ZERO;
    for _ in 0..50 {
        idle = idle.max(big.round_trip());
    }
    let before = (rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    let (line, worst, probes) = members_while_probing(&big, Duration::from_millis(500));
    // Before parsing: what the node took, plus the answer's text the test holds.
    let after = (rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    let answer: Value = serde_json::from_str(&line).unwrap();
    let rows = answer["members"].as_array().map_or(0, Vec::len);
    println!(
        "members answer: {rows} rows; loop round trip idle max {idle:?}, during the answer max \
         {worst:?} over {probes} probes; RSS {} -> {} MiB, peak {} -> {} MiB, the answer's \
         line {} MiB of it (setup {:?})",
        before.0 / 1024,
        after.0 / 1024,
        before.1 / 1024,
        after.1 / 1024,
        line.len() >> 20,
        started.elapsed()
    );
}
