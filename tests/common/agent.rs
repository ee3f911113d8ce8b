//! `rumor agent` processes and `rumor` client commands for the tests that run the binary.
//!
//! Every agent gets a runtime folder of its own (`XDG_RUNTIME_DIR`), so its default control
//! socket never meets another test's agent of the same name; client commands run with the same
//! variable find it by `--name`. Children are killed by their own handles however a test ends,
//! and every wait has a deadline.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;
use serde_json::Value;

use super::{now, wait_for};

/// The `rumor` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_rumor");

/// A folder of this test process's own under the temp dir (short: socket paths are bounded),
/// created empty, removed by [`TempDir`]'s drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rumor-t{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a test folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `rumor agent`, killed (SIGKILL) and reaped on drop.
pub(crate) struct Agent {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Parsed stdout lines.
    pub(crate) lines: Receiver<Value>,
    /// Everything parsed so far, for failure messages and repeated searches.
    pub(crate) seen: Vec<Value>,
    /// stderr lines after the one that gave the address.
    pub(crate) log: Receiver<String>,
    /// What it logged before that line, and since (as read by [`Agent::logged`]).
    pub(crate) log_seen: Vec<String>,
    /// Its XDG_RUNTIME_DIR.
    pub(crate) runtime_dir: PathBuf,
    /// The runtime folder when it is the agent's own, removed after the agent is killed.
    own_dir: Option<TempDir>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// Starts an agent on a free port (`--bind 127.0.0.1:0`) with the test profile, in a
    /// runtime folder of its own.
    pub(crate) fn spawn(name: &str, join: Option<SocketAddr>) -> Agent {
        let dir = TempDir::new();
        let mut agent = Agent::spawn_in(&dir.0, name, join, &[]);
        agent.own_dir = Some(dir);
        agent
    }

    /// Starts an agent with `runtime_dir` as its XDG_RUNTIME_DIR and `extra` flags, and reads
    /// its real address from the "listening on" line it logs.
    pub(crate) fn spawn_in(
        runtime_dir: &Path,
        name: &str,
        join: Option<SocketAddr>,
        extra: &[&str],
    ) -> Agent {
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
        let mut child = spawn_piped(cmd.args(extra).env("XDG_RUNTIME_DIR", runtime_dir));
        let lines = json_lines(child.stdout.take().unwrap());
        let log = text_lines(child.stderr.take().unwrap());
        let mut agent = Agent {
            name: name.to_string(),
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            seen: Vec::new(),
            log,
            log_seen: Vec::new(),
            runtime_dir: runtime_dir.to_path_buf(),
            own_dir: None,
        };
        let deadline = now() + Duration::from_secs(5);
        while let Ok(line) = agent.log.recv_deadline(deadline) {
            let addr = line.split("listening on ").nth(1).map(str::to_string);
            agent.log_seen.push(line);
            if let Some(addr) = addr {
                agent.addr = addr.trim().parse().expect("address in the log line");
                return agent;
            }
        }
        panic!(
            "{name} never said where it listens; stderr: {:?}",
            agent.log_seen
        );
    }

    /// Where its control socket is by default.
    pub(crate) fn control_path(&self) -> PathBuf {
        self.runtime_dir
            .join("rumor")
            .join(format!("{}.sock", self.name))
    }

    /// `rumor ARGS --name NAME`, a client command that finds this agent through its runtime
    /// folder.
    pub(crate) fn client(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--name", &self.name])
            .env("XDG_RUNTIME_DIR", &self.runtime_dir);
        cmd
    }

    /// Runs [`Agent::client`] to its end.
    pub(crate) fn ask(&self, args: &[&str]) -> Run {
        Run::to_end(self.client(args), Duration::from_secs(10))
    }

    /// Waits until the agent prints an event line of `kind` about `member`.
    pub(crate) fn expect(
        &mut self,
        kind: &str,
        member: &str,
        timeout: Duration,
    ) -> Option<Duration> {
        self.expect_line(timeout, |v| v["event"] == kind && v["member"] == member)
    }

    /// Waits until the agent prints a line that `pred` accepts.
    pub(crate) fn expect_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Duration> {
        let start = now();
        if self.seen.iter().any(&pred) {
            return Some(Duration::ZERO);
        }
        let deadline = start + timeout;
        while let Ok(v) = self.lines.recv_deadline(deadline) {
            let hit = pred(&v);
            self.seen.push(v);
            if hit {
                return Some(now() - start);
            }
        }
        None
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

    /// Everything it logged on stderr so far.
    pub(crate) fn logged(&mut self) -> String {
        self.log_seen.extend(self.log.try_iter());
        self.log_seen.join("\n")
    }

    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
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
pub(crate) fn three_agents() -> [Agent; 3] {
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

/// A finished run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Runs `cmd` to its end, killing it after `timeout` (a test failure).
    pub(crate) fn to_end(mut cmd: Command, timeout: Duration) -> Run {
        let mut child = spawn_piped(&mut cmd);
        // Read on threads so that a full pipe never stalls the child.
        let stdout = read_all(child.stdout.take().unwrap());
        let stderr = read_all(child.stderr.take().unwrap());
        let mut status = None;
        wait_for(timeout, || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        });
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not exit within {timeout:?}");
        };
        Run {
            status,
            stdout: stdout.recv().unwrap_or_default(),
            stderr: stderr.recv().unwrap_or_default(),
        }
    }

    /// The exit code (None when killed by a signal).
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The stdout of a successful run, parsed as one JSON object; panics with the run otherwise.
    pub(crate) fn json(&self) -> Value {
        assert_eq!(self.code(), Some(0), "{self:?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Spawns `cmd` with stdin closed and stdout and stderr piped.
pub(crate) fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

fn read_all(mut from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

/// Every line of `from`, parsed as JSON (a line that is not JSON fails the test).
pub(crate) fn json_lines(from: impl Read + Send + 'static) -> Receiver<Value> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    rx
}

/// Every line of `from`; keeps draining so the pipe never fills.
pub(crate) fn text_lines(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}
