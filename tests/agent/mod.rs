//! A `rumor agent` process as the binary-level tests drive it: spawned on a free port, its
//! JSON lines parsed, its stderr kept, killed (SIGKILL) and reaped on drop however the test
//! ends. Every wait has a deadline.
//!
//! Every agent gets a runtime folder of its own (`XDG_RUNTIME_DIR`) unless its command names
//! one, so that its default control socket never meets another test's agent of the same name;
//! client commands run with the same variable ([`Agent::client`]) find it by `--name`.
//!
//! Each test file that uses it also declares `mod common;`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
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
    /// Its XDG_RUNTIME_DIR.
    pub(crate) runtime_dir: PathBuf,
    /// The runtime folder when it is the agent's own, removed after the agent is killed.
    own_dir: Option<TempDir>,
    /// The stdout nobody reads yet ([`Agent::start_stalled`]).
    stalled: Option<std::process::ChildStdout>,
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

    /// Like [`Agent::spawn_with`], with `runtime_dir` as its XDG_RUNTIME_DIR (several agents,
    /// or one after another, sharing a folder).
    pub(crate) fn spawn_in(runtime_dir: &Path, name: &str, args: &[&str]) -> Agent {
        let mut cmd = Agent::command(name, args);
        cmd.env("XDG_RUNTIME_DIR", runtime_dir);
        Agent::start(name, cmd)
    }

    /// Starts `cmd` (a `rumor agent` command line) and waits until it says where it listens.
    pub(crate) fn start(name: &str, mut cmd: Command) -> Agent {
        let xdg = OsStr::new("XDG_RUNTIME_DIR");
        let given = cmd.get_envs().find(|(k, _)| *k == xdg).and_then(|(_, v)| v);
        let (runtime_dir, own_dir) = match given {
            Some(dir) => (PathBuf::from(dir), None),
            None => {
                let dir = TempDir::new();
                cmd.env(xdg, &dir.0);
                (dir.0.clone(), Some(dir))
            }
        };
        let mut agent = Agent::launch(name, &mut cmd);
        agent.runtime_dir = runtime_dir;
        agent.own_dir = own_dir;
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

    /// Like [`Agent::start`], but nobody reads the agent's stdout: a pipe that fills and then
    /// blocks every write, as a stalled reader's would. Its lines are read only once the test
    /// calls [`Agent::read_stdout`].
    pub(crate) fn start_stalled(name: &str, mut cmd: Command) -> Agent {
        let dir = TempDir::new();
        cmd.env("XDG_RUNTIME_DIR", &dir.0);
        let mut child = spawn_piped(&mut cmd);
        let stalled = child.stdout.take();
        let stderr = text_lines(child.stderr.take().unwrap());
        let mut agent = Agent {
            name: name.to_string(),
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines: crossbeam_channel::never(),
            seen: Vec::new(),
            stderr,
            log: Vec::new(),
            runtime_dir: dir.0.clone(),
            own_dir: Some(dir),
            stalled,
        };
        let line = agent.must_log("listening on ", Duration::from_secs(5));
        let addr = line.split("listening on ").nth(1).unwrap_or_default();
        agent.addr = addr.trim().parse().expect("address in the log line");
        agent
    }

    /// Starts reading the stdout of an agent started with [`Agent::start_stalled`].
    pub(crate) fn read_stdout(&mut self) {
        if let Some(out) = self.stalled.take() {
            self.lines = json_lines(out);
        }
    }

    /// Spawns `cmd` with its output read by threads of their own, so the pipes never fill.
    fn launch(name: &str, cmd: &mut Command) -> Agent {
        let mut child = spawn_piped(cmd);
        let lines = json_lines(child.stdout.take().unwrap());
        let stderr = text_lines(child.stderr.take().unwrap());
        Agent {
            name: name.to_string(),
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            seen: Vec::new(),
            stderr,
            log: Vec::new(),
            runtime_dir: PathBuf::new(),
            own_dir: None,
            stalled: None,
        }
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

    /// Waits like [`Agent::expect_line`]; returns the first line `pred` accepts.
    pub(crate) fn find_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.expect_line(timeout, &pred)?;
        self.seen.iter().find(|v| pred(v)).cloned()
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
        self.read_printed();
        self.seen
            .iter()
            .filter(|v| v["member"] == member)
            .cloned()
            .collect()
    }

    /// Moves every line printed so far into `seen`, without waiting.
    pub(crate) fn read_printed(&mut self) {
        self.seen.extend(self.lines.try_iter());
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

/// Three agents, b and c joining through a, each having printed `joined` for both others.
pub(crate) fn three_agents() -> [Agent; 3] {
    let agents = cluster(Agent::spawn("a", None), &["b", "c"]);
    agents
        .try_into()
        .unwrap_or_else(|_| unreachable!("three names, three agents"))
}

/// Waits until each of two agents has printed `joined` for the other.
pub(crate) fn see_each_other(a: &mut Agent, b: &mut Agent) {
    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    a.must_print("joined", &b_name, Duration::from_secs(5));
    b.must_print("joined", &a_name, Duration::from_secs(5));
}

/// Runs the binary to completion (at most 5 s), in a runtime folder of its own; returns its
/// status and stderr.
pub(crate) fn run(args: &[&str]) -> (ExitStatus, String) {
    let dir = TempDir::new();
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("XDG_RUNTIME_DIR", &dir.0);
    let run = Run::to_end(cmd, Duration::from_secs(5));
    (run.status, run.stderr)
}

/// A folder of this test process's own under the temp dir (short: socket paths are bounded),
/// created empty, removed on drop.
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
