//! A `rumor agent` process as the binary-level tests drive it: spawned on a free port, its
//! JSON lines parsed, its stderr kept, killed (SIGKILL) and reaped on drop however the test
//! ends. Every wait has a deadline.
//!
//! Each test file that uses it also declares `mod common;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crossbeam_channel::Receiver;
use serde_json::Value;

use crate::common::{now, wait_for};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_rumor");

/// A running `rumor agent`, killed (SIGKILL) and reaped on drop.
pub(crate) struct Agent {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Parsed stdout lines.
    lines: Receiver<Value>,
    /// Everything parsed so far, for failure messages and repeated searches.
    pub(crate) seen: Vec<Value>,
    /// stderr lines, as they come.
    stderr: Receiver<String>,
    /// Every stderr line read so far.
    pub(crate) log: Vec<String>,
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
    pub(crate) fn spawn(name: &str, join: Option<SocketAddr>) -> Agent {
        let seed = join.map(|s| s.to_string());
        let args = match &seed {
            Some(seed) => vec!["--join", seed.as_str()],
            None => vec![],
        };
        Agent::spawn_with(name, &args)
    }

    /// Like [`Agent::spawn`], with more flags.
    pub(crate) fn spawn_with(name: &str, args: &[&str]) -> Agent {
        Agent::start(name, Agent::command(name, args))
    }

    /// The command line [`Agent::spawn_with`] runs, to add to before [`Agent::start`].
    pub(crate) fn command(name: &str, args: &[&str]) -> Command {
        let defaults = ["--bind", "127.0.0.1:0", "--profile", "test"];
        let mut cmd = Command::new(BIN);
        cmd.args(["agent", "--name", name])
            .args(defaults)
            .args(args);
        cmd
    }

    /// Starts `cmd` (a `rumor agent` command line) and waits until it says where it listens.
    pub(crate) fn start(name: &str, mut cmd: Command) -> Agent {
        let mut agent = Agent::launch(name, &mut cmd);
        let deadline = now() + Duration::from_secs(5);
        while let Ok(line) = agent.stderr.recv_deadline(deadline) {
            let addr = line.split("listening on ").nth(1).map(str::to_string);
            agent.log.push(line);
            if let Some(addr) = addr {
                agent.addr = addr.trim().parse().expect("address in the log line");
                return agent;
            }
        }
        panic!(
            "{name} never said where it listens; stderr: {:?}",
            agent.log
        );
    }

    /// Spawns `cmd` with its output read by threads of their own, so the pipes never fill.
    fn launch(name: &str, cmd: &mut Command) -> Agent {
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
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        Agent {
            name: name.to_string(),
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            seen: Vec::new(),
            stderr: err_lines,
            log: Vec::new(),
        }
    }

    /// Waits until the agent prints an event line of `kind` about `member`.
    pub(crate) fn expect(
        &mut self,
        kind: &str,
        member: &str,
        timeout: Duration,
    ) -> Option<Duration> {
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

    /// Like [`Agent::expect`], failing the test (with what the agent did print) on timeout;
    /// prints how long it took.
    pub(crate) fn must_print(&mut self, kind: &str, member: &str, timeout: Duration) -> Duration {
        let took = self.expect(kind, member, timeout);
        println!("{} printed {kind} {member} after {took:?}", self.name);
        took.unwrap_or_else(|| {
            panic!(
                "{} did not print {kind} {member} within {timeout:?}: {:?}",
                self.name, self.seen
            )
        })
    }

    /// Every line printed so far about `member`.
    pub(crate) fn about(&mut self, member: &str) -> Vec<Value> {
        self.seen.extend(self.lines.try_iter());
        self.seen
            .iter()
            .filter(|v| v["member"] == member)
            .cloned()
            .collect()
    }

    /// Waits until a stderr line contains `text`; returns that line.
    pub(crate) fn expect_log(&mut self, text: &str, timeout: Duration) -> Option<String> {
        if let Some(line) = self.log.iter().find(|l| l.contains(text)) {
            return Some(line.clone());
        }
        let deadline = now() + timeout;
        while let Ok(line) = self.stderr.recv_deadline(deadline) {
            self.log.push(line.clone());
            if line.contains(text) {
                return Some(line);
            }
        }
        None
    }

    /// Like [`Agent::expect_log`], failing the test (with the log) on timeout.
    pub(crate) fn must_log(&mut self, text: &str, timeout: Duration) -> String {
        self.expect_log(text, timeout).unwrap_or_else(|| {
            panic!(
                "{} did not log `{text}` within {timeout:?}: {:?}",
                self.name, self.log
            )
        })
    }

    /// Waits for the process to exit, then reads the rest of its stderr (until it closes, at
    /// most `timeout` more).
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_for(timeout, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        if status.is_some() {
            let deadline = now() + timeout;
            while let Ok(line) = self.stderr.recv_deadline(deadline) {
                self.log.push(line);
            }
        }
        status
    }
}

/// `first` and one agent per name joining through it, each having printed `joined` for every
/// other.
pub(crate) fn cluster(first: Agent, names: &[&str]) -> Vec<Agent> {
    let seed = first.addr;
    let mut agents = vec![first];
    agents.extend(names.iter().map(|n| Agent::spawn(n, Some(seed))));
    let all: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
    for agent in &mut agents {
        let me = agent.name.clone();
        for other in all.iter().filter(|&n| *n != me) {
            agent.must_print("joined", other, Duration::from_secs(5));
        }
    }
    agents
}

/// Waits until each of two agents has printed `joined` for the other.
pub(crate) fn see_each_other(a: &mut Agent, b: &mut Agent) {
    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    a.must_print("joined", &b_name, Duration::from_secs(5));
    b.must_print("joined", &a_name, Duration::from_secs(5));
}

/// Runs the binary to completion (at most 5 s); returns its status and stderr.
pub(crate) fn run(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rumor");
    let mut stderr = child.stderr.take().unwrap();
    let mut agent = Agent {
        name: "cli".into(),
        child,
        addr: "0.0.0.0:0".parse().unwrap(),
        // Disconnected at once: this process's output is read below, not line by line.
        lines: crossbeam_channel::bounded(0).1,
        seen: Vec::new(),
        stderr: crossbeam_channel::bounded(0).1,
        log: Vec::new(),
    };
    let status = agent
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("rumor {args:?} did not exit"));
    let mut text = String::new();
    stderr.read_to_string(&mut text).unwrap();
    (status, text)
}
