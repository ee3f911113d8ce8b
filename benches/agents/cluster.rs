//! The agents under test: spawning them, reading their JSON lines, and what those lines say.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Args;

/// One JSON line from one agent.
pub(crate) struct Line {
    pub(crate) agent: usize,
    pub(crate) json: Value,
}

/// The agents, killed when dropped (also on panic and early return).
pub(crate) struct Cluster {
    pub(crate) children: Vec<Option<Child>>,
    pub(crate) pids: Vec<u32>,
    /// Set when an agent exited on its own: its stderr (in [`logs_dir`]) is kept to read.
    pub(crate) keep_logs: bool,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.keep_logs {
            let _ = std::fs::remove_dir_all(logs_dir());
        }
    }
}

/// Where the agents' stderr goes, one file an agent (a restarted agent appends to its own):
/// an agent that exits on its own says why there, and the bench quotes it.
pub(crate) fn logs_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rumor-bench-agents-{}", std::process::id()))
}

fn log_path(i: usize) -> PathBuf {
    logs_dir().join(format!("{}.stderr", name(i)))
}

impl Cluster {
    /// The agents that have exited, each with its exit status and the last line it wrote to
    /// stderr, so that a failed run says why rather than only how many.
    pub(crate) fn exits(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, c) in self.children.iter_mut().enumerate() {
            let Some(status) = c.as_mut().and_then(|c| c.try_wait().ok().flatten()) else {
                continue;
            };
            let last = std::fs::read_to_string(log_path(i))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "nothing on stderr".to_owned());
            out.push(format!("{} {status}: {last}", name(i)));
        }
        if !out.is_empty() {
            self.keep_logs = true;
        }
        out
    }
}

#[derive(Default, Clone)]
pub(crate) struct Counters {
    pub(crate) ts_ms: u64,
    pub(crate) packets_out: u64,
    pub(crate) bytes_out: u64,
    pub(crate) packets_in: u64,
    pub(crate) bytes_in: u64,
    /// What the agent's own table says, to tell a gap in its table from a gap in its events.
    pub(crate) active: u64,
    /// Datagrams it dropped (malformed, faults) and could not send.
    pub(crate) dropped: u64,
    pub(crate) send_errors: u64,
    /// How it filled its table: push-pulls, repairs, table pulls.
    pub(crate) syncs: u64,
    pub(crate) repairs: u64,
    pub(crate) table_pulls: u64,
}

/// Whether an agent's last event about a member says it is in the cluster.
fn is_alive_event(event: &str) -> bool {
    matches!(event, "joined" | "alive" | "updated")
}

/// What the reader threads have told us so far.
#[derive(Default)]
pub(crate) struct View {
    /// Per agent: member name -> last event kind about it.
    pub(crate) members: Vec<HashMap<String, String>>,
    /// Per agent: how many members' last event says joined, alive or updated. Checking
    /// convergence walks N² names; this count rules most checks out in O(N), which keeps the
    /// bench from falling minutes behind 1,000 agents' output.
    pub(crate) whole: Vec<usize>,
    /// Per agent: the latest stats line.
    pub(crate) stats: Vec<Counters>,
    /// (agent, event, member, ts_ms) of failed/left/suspect events.
    pub(crate) verdicts: Vec<(usize, String, String, u64)>,
    /// Per agent: ts_ms of its latest joined/alive/updated line, by its own clock. Once every
    /// view is whole, the latest of these is when the last one became whole, however late the
    /// bench read it.
    pub(crate) completed_ms: Vec<u64>,
    /// The most a line was read after its agent stamped it, in ms: on a loaded machine the
    /// bench's own readers fall behind 1,000 agents' output.
    pub(crate) lag_ms: u64,
}

impl View {
    pub(crate) fn new(n: usize) -> Self {
        View {
            members: vec![HashMap::new(); n],
            whole: vec![0; n],
            stats: vec![Counters::default(); n],
            verdicts: Vec::new(),
            completed_ms: vec![0; n],
            lag_ms: 0,
        }
    }

    pub(crate) fn apply(&mut self, line: Line) {
        let j = &line.json;
        let event = j["event"].as_str().unwrap_or_default().to_string();
        let ts = j["ts_ms"].as_u64().unwrap_or(0);
        self.lag_ms = self.lag_ms.max(rumor::json::unix_ms().saturating_sub(ts));
        if event == "stats" {
            if let Some(s) = self.stats.get_mut(line.agent) {
                *s = Counters {
                    ts_ms: ts,
                    packets_out: j["packets_out"].as_u64().unwrap_or(0),
                    bytes_out: j["bytes_out"].as_u64().unwrap_or(0),
                    packets_in: j["packets_in"].as_u64().unwrap_or(0),
                    bytes_in: j["bytes_in"].as_u64().unwrap_or(0),
                    active: j["active"].as_u64().unwrap_or(0),
                    dropped: j["dropped"].as_u64().unwrap_or(0),
                    send_errors: j["send_errors"].as_u64().unwrap_or(0),
                    syncs: j["syncs"].as_u64().unwrap_or(0),
                    repairs: j["repairs"].as_u64().unwrap_or(0),
                    table_pulls: j["table_pulls"].as_u64().unwrap_or(0),
                };
            }
            return;
        }
        let member = j["member"].as_str().unwrap_or_default().to_string();
        if matches!(event.as_str(), "failed" | "left" | "suspect") {
            self.verdicts
                .push((line.agent, event.clone(), member.clone(), ts));
        }
        if is_alive_event(&event)
            && let Some(t) = self.completed_ms.get_mut(line.agent)
        {
            *t = (*t).max(ts);
        }
        let good = |e: Option<&String>| e.is_some_and(|e| is_alive_event(e));
        if let (Some(m), Some(w)) = (
            self.members.get_mut(line.agent),
            self.whole.get_mut(line.agent),
        ) {
            let now_good = good(Some(&event));
            let was_good = good(m.insert(member, event).as_ref());
            match (was_good, now_good) {
                (false, true) => *w += 1,
                (true, false) => *w = w.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Agents among `who` that see every other agent of `who` as joined or alive.
    pub(crate) fn converged(&self, who: &[usize]) -> bool {
        let need = who.len().saturating_sub(1);
        if !who
            .iter()
            .all(|&a| self.whole.get(a).is_some_and(|&w| w >= need))
        {
            return false;
        }
        who.iter().all(|&a| {
            let m = &self.members[a];
            who.iter().filter(|&&b| b != a).all(|&b| {
                matches!(
                    m.get(&name(b)).map(String::as_str),
                    Some("joined" | "alive" | "updated")
                )
            })
        })
    }

    /// ts_ms of `event` about `member` by each agent of `who` that printed it.
    pub(crate) fn verdict_times(
        &self,
        who: &[usize],
        event: &str,
        member: &str,
        since: u64,
    ) -> Vec<u64> {
        who.iter()
            .filter_map(|&a| {
                self.verdicts
                    .iter()
                    .find(|(x, e, m, t)| *x == a && e == event && m == member && *t >= since)
                    .map(|v| v.3)
            })
            .collect()
    }
}

pub(crate) fn name(i: usize) -> String {
    format!("a{i}")
}

/// A monotonic clock for deadlines (clippy.toml keeps it out of the protocol code).
#[allow(clippy::disallowed_methods)]
pub(crate) fn mono() -> Instant {
    Instant::now()
}

pub(crate) struct Run<'a> {
    pub(crate) args: &'a Args,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) rx: Receiver<Line>,
    pub(crate) view: View,
}

impl Run<'_> {
    /// Applies lines until `done` holds, the deadline passes (Err) or we are told to stop.
    pub(crate) fn wait(
        &mut self,
        what: &str,
        mut done: impl FnMut(&View) -> bool,
    ) -> Result<(), String> {
        let deadline = mono() + self.args.phase_timeout;
        loop {
            if done(&self.view) {
                return Ok(());
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err("interrupted".into());
            }
            let left = deadline.saturating_duration_since(mono());
            if left.is_zero() {
                return Err(format!("{what}: not within {:?}", self.args.phase_timeout));
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => {
                    self.view.apply(line);
                    // Whatever else has arrived is applied before `done` is asked again.
                    for line in self.rx.try_iter().take(100_000) {
                        self.view.apply(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("all agents exited".into()),
            }
        }
    }

    /// Applies lines for `d` of wall time.
    pub(crate) fn soak(&mut self, d: Duration) -> Result<(), String> {
        let until = mono() + d;
        self.wait("soak", |_| mono() >= until).or_else(|e| {
            if e.starts_with("soak") {
                Ok(())
            } else {
                Err(e)
            }
        })
    }
}

/// Starts N agents, the seed first; `seed_started` is told the seed's pid before the others
/// start (to watch it through the join).
pub(crate) fn spawn(
    args: &Args,
    n: usize,
    tx: &Sender<Line>,
    seed_started: impl FnOnce(u32),
) -> Result<Cluster, String> {
    let mut cluster = Cluster {
        children: Vec::new(),
        pids: Vec::new(),
        keep_logs: false,
    };
    let mut seed_started = Some(seed_started);
    for i in 0..n {
        let child = spawn_one(args, i, tx)?;
        if let Some(f) = seed_started.take() {
            f(child.id());
        }
        cluster.pids.push(child.id());
        cluster.children.push(Some(child));
    }
    Ok(cluster)
}

/// Starts agent `i` (the first is the seed the others join through), its JSON lines read
/// into `tx`.
pub(crate) fn spawn_one(args: &Args, i: usize, tx: &Sender<Line>) -> Result<Child, String> {
    let extra: Vec<&str> = args.agent_flags.split_whitespace().collect();
    let port = args.base_port as usize + i;
    let mut cmd = Command::new(&args.binary);
    cmd.arg("agent")
        .args(["--name", &name(i)])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--profile", &args.profile])
        .args(["--stats-interval", "1s"])
        .args(&extra);
    if i > 0 {
        cmd.args(["--join", &format!("127.0.0.1:{}", args.base_port)]);
    }
    std::fs::create_dir_all(logs_dir()).map_err(|e| format!("{}: {e}", logs_dir().display()))?;
    let stderr = File::options()
        .create(true)
        .append(true)
        .open(log_path(i))
        .map_err(|e| format!("{}: {e}", log_path(i).display()))?;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.binary))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(json) = serde_json::from_str(&line)
                && tx.send(Line { agent: i, json }).is_err()
            {
                break;
            }
        }
    });
    Ok(child)
}
