//! The `rumor agent` binary as a user runs it: real processes on loopback, JSON lines on stdout,
//! exit codes, signals. Every child is killed by its own handle when the test ends, pass or
//! fail, and every wait has a deadline.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crossbeam_channel::Receiver;
use serde_json::Value;

use common::{now, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_rumor");

/// A running `rumor agent`, killed (SIGKILL) and reaped on drop.
struct Agent {
    name: String,
    child: Child,
    addr: SocketAddr,
    /// Parsed stdout lines.
    lines: Receiver<Value>,
    /// Everything parsed so far, for failure messages and repeated searches.
    seen: Vec<Value>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// Starts an agent on a free port (`--bind 127.0.0.1:0`) with the test profile, and reads
    /// its real address from the "listening on" line it logs.
    fn spawn(name: &str, join: Option<SocketAddr>) -> Agent {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "agent",
            "--name",
            name,
            "--bind",
            "127.0.0.1:0",
            "--profile",
            "test",
        ]);
        if let Some(seed) = join {
            cmd.args(["--join", &seed.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rumor agent");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if line_tx.send(value).is_err() {
                    return;
                }
            }
        });
        let (err_tx, err_lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            // Keeps draining after the address is known, so the pipe never fills.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut agent = Agent {
            name: name.to_string(),
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            seen: Vec::new(),
        };
        let deadline = now() + Duration::from_secs(5);
        let mut log = Vec::new();
        while let Ok(line) = err_lines.recv_deadline(deadline) {
            if let Some(addr) = line.split("listening on ").nth(1) {
                agent.addr = addr.trim().parse().expect("address in the log line");
                return agent;
            }
            log.push(line);
        }
        panic!("{name} never said where it listens; stderr: {log:?}");
    }

    /// Waits until the agent prints an event line of `kind` about `member`.
    fn expect(&mut self, kind: &str, member: &str, timeout: Duration) -> Option<Duration> {
        let start = now();
        let found = |v: &Value| v["event"] == kind && v["member"] == member;
        if self.seen.iter().any(found) {
            return Some(Duration::ZERO);
        }
        let deadline = start + timeout;
        while let Ok(v) = self.lines.recv_deadline(deadline) {
            let hit = found(&v);
            self.seen.push(v);
            if hit {
                return Some(now() - start);
            }
        }
        None
    }

    /// Waits until the agent prints a line that `pred` accepts; returns it.
    fn expect_line(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return Some(v.clone());
        }
        let deadline = now() + timeout;
        while let Ok(v) = self.lines.recv_deadline(deadline) {
            self.seen.push(v.clone());
            if pred(&v) {
                return Some(v);
            }
        }
        None
    }

    /// Every line printed so far about `member`.
    fn about(&mut self, member: &str) -> Vec<Value> {
        self.seen.extend(self.lines.try_iter());
        self.seen
            .iter()
            .filter(|v| v["member"] == member)
            .cloned()
            .collect()
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_for(timeout, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        status
    }
}

/// Starts three agents (a, b, c joining through a) and waits until each has printed a `joined`
/// line for both others.
fn three_agents() -> [Agent; 3] {
    let a = Agent::spawn("a", None);
    let b = Agent::spawn("b", Some(a.addr));
    let c = Agent::spawn("c", Some(a.addr));
    let mut agents = [a, b, c];
    let names = ["a", "b", "c"];
    for agent in &mut agents {
        let me = agent.name.clone();
        for other in names.iter().filter(|&&n| n != me) {
            let joined = agent.expect("joined", other, Duration::from_secs(5));
            assert!(
                joined.is_some(),
                "{} never printed joined {other}",
                agent.name
            );
        }
    }
    agents
}

#[test]
fn survivors_print_failed_for_a_killed_agent() {
    let [mut a, mut b, mut c] = three_agents();
    c.child.kill().expect("SIGKILL c");
    c.child.wait().expect("reap c");
    // Test profile, 3 members: unconfirmed suspicion 6 x 200 ms, plus 3 periods, plus slack.
    let bound = Duration::from_millis(1200 + 150 + 1000);
    for survivor in [&mut a, &mut b] {
        let took = survivor.expect("failed", "c", bound);
        println!("{} printed failed c after {took:?}", survivor.name);
        assert!(
            took.is_some(),
            "{} did not print failed c: {:?}",
            survivor.name,
            survivor.seen
        );
        let line = survivor.about("c").pop().unwrap();
        assert_eq!(line["node"], survivor.name.as_str());
        assert!(
            line["ts_ms"]
                .as_u64()
                .is_some_and(|t| t > 1_600_000_000_000),
            "{line}"
        );
        assert!(line["incarnation"].is_u64(), "{line}");
        let addr: SocketAddr = line["addr"].as_str().unwrap().parse().unwrap();
        assert_eq!(addr, c.addr);
    }
    // Neither survivor accused the other.
    assert!(a.about("b").iter().all(|v| v["event"] != "failed"));
    assert!(b.about("a").iter().all(|v| v["event"] != "failed"));
}

#[test]
fn sigterm_makes_an_agent_leave_and_exit_zero() {
    let [mut a, mut b, mut c] = three_agents();
    let pid = c.child.id().to_string();
    // std has no way to send SIGTERM and the crate forbids the unsafe libc call; kill(1) is in
    // every base system.
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.expect("run kill(1)").success());
    let status = c.wait_exit(Duration::from_secs(5));
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "c's exit: {status:?}"
    );
    for survivor in [&mut a, &mut b] {
        let took = survivor.expect("left", "c", Duration::from_secs(3));
        println!("{} printed left c after {took:?}", survivor.name);
        assert!(
            took.is_some(),
            "{} did not print left c: {:?}",
            survivor.name,
            survivor.seen
        );
    }
    // Left, and not mistaken for a crash afterwards (an unconfirmed suspicion would have ended
    // within 1.2 s).
    assert_eq!(a.expect("failed", "c", Duration::from_millis(1500)), None);
    assert!(b.about("c").iter().all(|v| v["event"] != "failed"));
}

/// Runs the binary to completion (at most 5 s); returns its status and stderr.
#[test]
fn an_agent_prints_each_user_event_once_as_text_or_base64() {
    let config = rumor::Config::new(
        rumor::Profile::Test,
        "embedded",
        "127.0.0.1:0".parse().unwrap(),
    );
    let node = rumor::Node::start(config).expect("an in-process node starts a cluster");
    let mut agent = Agent::spawn("a1", Some(node.addr()));
    assert!(
        agent
            .expect("joined", "embedded", Duration::from_secs(5))
            .is_some(),
        "the agent did not join: {:?}",
        agent.seen
    );
    node.broadcast("greeting", "héllo".as_bytes()).unwrap();
    node.broadcast("binary", &[0xff, 0x00, 0x41]).unwrap();
    let user = |name: &'static str| move |v: &Value| v["event"] == "user" && v["name"] == name;
    let text = agent
        .expect_line(Duration::from_secs(5), user("greeting"))
        .unwrap_or_else(|| panic!("no greeting line: {:?}", agent.seen));
    assert_eq!(text["origin"], "embedded");
    assert_eq!(text["node"], "a1");
    assert_eq!(text["payload"], "héllo");
    assert_eq!(text["payload_encoding"], "utf8");
    let binary = agent
        .expect_line(Duration::from_secs(5), user("binary"))
        .unwrap_or_else(|| panic!("no binary line: {:?}", agent.seen));
    assert_eq!(binary["payload"], "/wBB");
    assert_eq!(binary["payload_encoding"], "base64");
    assert!(
        binary["ltime"].as_u64() > text["ltime"].as_u64(),
        "{text} then {binary}"
    );
    // Exactly once each, however many copies the gossip carried.
    let _ = agent.expect_line(Duration::from_millis(500), |_| false);
    let count = agent.seen.iter().filter(|v| v["event"] == "user").count();
    assert_eq!(count, 2, "{:?}", agent.seen);
}

fn run(args: &[&str]) -> (ExitStatus, String) {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rumor");
    let mut agent = Agent {
        name: "cli".into(),
        child,
        addr: "0.0.0.0:0".parse().unwrap(),
        lines: crossbeam_channel::never(),
        seen: Vec::new(),
    };
    let status = agent
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("rumor {args:?} did not exit"));
    let mut stderr = String::new();
    agent
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

#[test]
fn a_bad_flag_exits_2_naming_the_flag() {
    let (status, stderr) = run(&["agent", "--no-such-flag"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");

    let (status, stderr) = run(&["agent", "--probe-interval", "soon"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--probe-interval"), "{stderr}");
}

#[test]
fn a_bad_config_value_exits_2_naming_the_flag() {
    let (status, stderr) = run(&[
        "agent",
        "--bind",
        "127.0.0.1:0",
        "--probe-interval",
        "100ms",
        "--probe-timeout",
        "200ms",
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--probe-timeout"), "{stderr}");
}

#[test]
fn a_port_in_use_exits_1_saying_so() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (status, stderr) = run(&["agent", "--bind", &addr, "--profile", "test"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("address {addr} is already in use")),
        "{stderr}"
    );
}
