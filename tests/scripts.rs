//! The orchestration scripts, run as a person would: `scripts/cluster.sh` starts a small
//! cluster of real agents and, on Ctrl-C (SIGINT), leaves nothing running; `scripts/chaos.sh`
//! disturbs it for a bounded time and puts it back together. They use the debug `rumor` binary
//! (RUMOR_BIN) and the test profile, so no release build is needed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wait_until;

/// Kills the script (and so its agents, through its own trap) if a test fails midway.
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = signal(self.0.id(), "TERM");
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn alive(pid: u32) -> bool {
    signal(pid, "0")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run folder of this test's own under the target directory, emptied first.
fn run_dir(name: &str) -> PathBuf {
    let dir = repo().join("target").join("script-tests").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` consecutive ports that were free a moment ago, from a range away from the kernel's
/// ephemeral ports so that nodes binding port 0 elsewhere in the suite do not take them.
/// `salt` keeps the tests of this file, which run at once, in different ranges.
fn free_ports(n: u16, salt: u16) -> u16 {
    let pid = std::process::id() as u16;
    (0..200)
        .map(|k| 20_000 + (pid.wrapping_mul(7).wrapping_add(salt * 5_000 + k * 37)) % 20_000)
        .find(|&base| (base..base + n).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()))
        .expect("no free port range")
}

/// (name, pid) of every agent the run folder lists.
fn agents(dir: &Path) -> Vec<(String, u32)> {
    fs::read_to_string(dir.join("nodes"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

fn start_cluster(n: u16, salt: u16, dir: &Path) -> Script {
    let child = Command::new("bash")
        .arg(repo().join("scripts/cluster.sh"))
        .args([n.to_string(), free_ports(n, salt).to_string()])
        .env("RUMOR_BIN", env!("CARGO_BIN_EXE_rumor"))
        .env("RUMOR_PROFILE", "test")
        .env("RUMOR_RUN_DIR", dir)
        // The agents' default control sockets go in the run folder, away from other tests'
        // (and people's) agents of the same names.
        .env("XDG_RUNTIME_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run scripts/cluster.sh");
    Script(child)
}

/// Every agent's JSON lines report every other agent joined.
fn all_joined(dir: &Path, n: usize) -> bool {
    let names: Vec<String> = agents(dir).into_iter().map(|(name, _)| name).collect();
    names.len() == n
        && names.iter().all(|name| {
            let events = fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap_or_default();
            names
                .iter()
                .filter(|other| *other != name)
                .all(|other| events.contains(&format!("\"member\":\"{other}\"")))
        })
}

#[test]
fn cluster_sh_starts_a_cluster_and_ctrl_c_leaves_nothing_running() {
    let dir = run_dir("cluster");
    let mut script = start_cluster(3, 0, &dir);
    assert!(
        wait_until(Duration::from_secs(30), || all_joined(&dir, 3)),
        "the agents did not all see each other; run folder {}",
        dir.display()
    );
    let pids: Vec<u32> = agents(&dir).into_iter().map(|(_, pid)| pid).collect();
    assert!(pids.iter().all(|&p| alive(p)));
    assert!(signal(script.0.id(), "INT"), "could not send SIGINT");
    assert!(
        wait_until(Duration::from_secs(20), || script
            .0
            .try_wait()
            .unwrap()
            .is_some()),
        "cluster.sh did not exit after Ctrl-C"
    );
    assert!(
        wait_until(Duration::from_secs(5), || pids.iter().all(|&p| !alive(p))),
        "agents left running: {pids:?}"
    );
    // They left gracefully: the survivors of each departure printed `left`, never `failed`.
    let logs: String = agents(&dir)
        .iter()
        .map(|(name, _)| fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap_or_default())
        .collect();
    assert!(!logs.contains("\"event\":\"failed\""), "{logs}");
}

#[test]
fn chaos_sh_disturbs_the_cluster_for_a_bounded_time_and_restores_it() {
    let dir = run_dir("chaos");
    let script = start_cluster(4, 2, &dir);
    assert!(wait_until(Duration::from_secs(30), || all_joined(&dir, 4)));
    let status = Command::new("bash")
        .arg(repo().join("scripts/chaos.sh"))
        .args([
            "--duration",
            "4",
            "--interval",
            "1",
            "--pause",
            "1",
            "--down",
            "1",
        ])
        .args(["--seed", "7"])
        .arg(&dir)
        .env("XDG_RUNTIME_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run scripts/chaos.sh");
    assert!(status.success(), "chaos.sh exited with {status}");
    let log = fs::read_to_string(dir.join("chaos.log")).unwrap_or_default();
    assert!(!log.trim().is_empty(), "chaos.sh did nothing");
    // Afterwards the cluster is whole again: every listed agent runs.
    let whole = || {
        let a = agents(&dir);
        a.len() == 4 && a.iter().all(|&(_, pid)| alive(pid))
    };
    assert!(
        wait_until(Duration::from_secs(15), whole),
        "not whole after chaos: {:?}\n{log}",
        agents(&dir)
    );
    drop(script);
}
