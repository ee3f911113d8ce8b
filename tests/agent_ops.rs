//! Running the agent for real: event handlers (`--on-event`), the config file (`--config`),
//! seeds by host name and `--retry-join`. Real processes on loopback with the test profile;
//! every child is killed by its own handle when the test ends, every wait has a deadline, and
//! every file lives in the test's own folder.

mod agent;
mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agent::{Agent, cluster, run, see_each_other};
use common::{free_addr, wait_until};
use serde_json::Value;

/// Test profile, 3 members: unconfirmed suspicion 6 x 200 ms, plus 3 periods, plus slack (the
/// bound tests/cli_agent.rs holds a plain agent to).
const FAILED_BOUND: Duration = Duration::from_millis(1200 + 150 + 1000);

/// A folder of the test's own, emptied first; removed afterwards unless the test failed (then
/// its files help to see why).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("agent_ops")
            .join(format!("{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// The file's text once it exists (handlers write to a temporary name and rename).
    fn wait_for_file(&self, name: &str, timeout: Duration) -> Option<String> {
        let path = self.path(name);
        let mut text = None;
        wait_until(timeout, || {
            text = fs::read_to_string(&path).ok();
            text.is_some()
        });
        text
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// What a hanging handler runs: a `sleep` in a child of its shell, so that only a kill of the
/// whole process group ends it, with the sleep's pid written down for the test.
const HANG: &str = r#"sleep 60 & echo $! > "$OUT/sleep.pid"; wait"#;

/// The `sleep` of a handler running [`HANG`]; killed (SIGKILL) when the test ends, so that it
/// never outlives a failed test.
struct Sleeper(PathBuf);

impl Sleeper {
    fn new(scratch: &Scratch) -> Sleeper {
        Sleeper(scratch.path("sleep.pid"))
    }

    /// Its pid, once the handler has started it.
    fn pid(&self) -> u32 {
        assert!(
            wait_until(Duration::from_secs(5), || read_pid(&self.0).is_some()),
            "the handler never started its sleep"
        );
        read_pid(&self.0).unwrap()
    }

    fn assert_killed(&self, why: &str) {
        let pid = self.pid();
        assert!(
            wait_until(Duration::from_secs(2), || !running(pid)),
            "{why}"
        );
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        if let Some(pid) = read_pid(&self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True while the process exists and is not a zombie (an orphan's zombie may wait for a
/// reaper that a container does not have).
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state != 'Z')
        })
        .unwrap_or(false)
}

/// An agent with the test profile on a free port, more flags after, and OUT naming the
/// scratch folder: handlers inherit the agent's environment and write there.
fn agent_with(name: &str, scratch: &Scratch, args: &[&str]) -> Agent {
    let mut cmd = Agent::command(name, args);
    cmd.env("OUT", &scratch.0);
    Agent::start(name, cmd)
}

#[test]
fn a_handler_gets_the_json_line_on_stdin_and_the_event_in_its_environment() {
    let scratch = Scratch::new("stdin-env");
    let handler = r#"joined=cat > "$OUT/$RUMOR_MEMBER.tmp" && env > "$OUT/$RUMOR_MEMBER.env" && mv "$OUT/$RUMOR_MEMBER.tmp" "$OUT/$RUMOR_MEMBER.json""#;
    let mut a = agent_with("a", &scratch, &["--on-event", handler]);
    let addr = a.addr.to_string();
    let b = Agent::spawn_with("b", &["--join", &addr, "--tag", "build-id=7"]);
    a.must_print("joined", "b", Duration::from_secs(5));
    let printed = a.about("b").remove(0);

    let stdin = scratch.wait_for_file("b.json", Duration::from_secs(5));
    let stdin = stdin.unwrap_or_else(|| panic!("the handler never ran; stderr: {:?}", a.log));
    assert!(
        stdin.ends_with('\n') && stdin.lines().count() == 1,
        "{stdin:?}"
    );
    let got: Value = serde_json::from_str(&stdin).unwrap();
    // The very line the agent printed, its timestamp included.
    assert_eq!(got, printed);

    let env: HashMap<String, String> = fs::read_to_string(scratch.path("b.env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let var = |k: &str| env.get(k).map(String::as_str);
    assert_eq!(var("RUMOR_EVENT"), Some("joined"));
    assert_eq!(var("RUMOR_NODE"), Some("a"));
    assert_eq!(var("RUMOR_MEMBER"), Some("b"));
    assert_eq!(var("RUMOR_ADDR"), Some(b.addr.to_string().as_str()));
    assert_eq!(var("RUMOR_INCARNATION"), Some("0"));
    assert_eq!(var("RUMOR_TAG_BUILD_ID"), Some("7"));
}

#[test]
fn a_kind_filter_runs_the_handler_only_for_those_kinds() {
    let scratch = Scratch::new("filter");
    let handler = r#"failed,left=echo "$RUMOR_EVENT $RUMOR_MEMBER" >> "$OUT/log""#;
    let a = agent_with("a", &scratch, &["--on-event", handler]);
    let [mut a, _b, mut c]: [Agent; 3] = cluster(a, &["b", "c"]).try_into().ok().unwrap();
    c.child.kill().expect("SIGKILL c");
    a.must_print("failed", "c", FAILED_BOUND);
    let logged =
        |text: &str| fs::read_to_string(scratch.path("log")).is_ok_and(|log| log.contains(text));
    assert!(wait_until(Duration::from_secs(5), || logged("failed c")));
    // One handler runs its events in order: the joins and the suspicion came before the
    // verdict, so had they matched they would be in the log by now.
    let log = fs::read_to_string(scratch.path("log")).unwrap();
    assert_eq!(log, "failed c\n", "a printed {:?}", a.seen);
}

#[test]
fn a_hung_handler_delays_no_verdict_and_its_timeout_kills_its_process_group() {
    let scratch = Scratch::new("hung");
    // Hangs on the first join it hears (b's); quick for the others.
    let handler = format!(r#"joined=if [ "$RUMOR_MEMBER" = b ]; then {HANG}; fi"#);
    let sleeper = Sleeper::new(&scratch);
    let a = agent_with(
        "a",
        &scratch,
        &["--on-event", &handler, "--handler-timeout", "6s"],
    );
    let [mut a, mut b, mut c]: [Agent; 3] = cluster(a, &["b", "c"]).try_into().ok().unwrap();
    assert!(running(sleeper.pid()));

    c.child.kill().expect("SIGKILL c");
    for survivor in [&mut a, &mut b] {
        survivor.must_print("failed", "c", FAILED_BOUND);
    }
    assert!(
        running(sleeper.pid()),
        "the handler should still hang: the timeout is 6 s"
    );
    let killed = a.must_log("timed out after 6s", Duration::from_secs(8));
    assert!(killed.contains("for joined b"), "{killed}");
    sleeper.assert_killed("the handler's sleep survived its timeout");
}

#[test]
fn a_full_queue_drops_events_and_counts_them() {
    let scratch = Scratch::new("queue");
    let handler = format!(r#"joined=echo "$RUMOR_MEMBER" >> "$OUT/ran"; {HANG}"#);
    let sleeper = Sleeper::new(&scratch);
    let a = agent_with(
        "a",
        &scratch,
        &["--on-event", &handler, "--handler-queue", "1"],
    );
    // b's join runs (and hangs), c's waits in the queue, d's finds it full.
    let [mut a, ..]: [Agent; 4] = cluster(a, &["b", "c", "d"]).try_into().ok().unwrap();
    a.must_log("queue full", Duration::from_secs(5));
    let joins = a.seen.iter().filter(|v| v["event"] == "joined").count();
    assert!(joins >= 3, "{:?}", a.seen);

    let pid = a.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = a.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{:?}", a.log);
    let summary = a.log.iter().find(|l| l.contains("on a full queue"));
    let expected = format!("dropped {} on a full queue, 1 queued not run", joins - 2);
    assert!(
        summary.is_some_and(|l| l.contains(&expected)),
        "wanted `{expected}` in {:?}",
        a.log
    );
    assert_eq!(fs::read_to_string(scratch.path("ran")).unwrap(), "b\n");
    sleeper.assert_killed("the running handler outlived the agent");
}

#[test]
fn a_config_file_sets_the_options_and_flags_override_it() {
    let scratch = Scratch::new("config");
    let mut seed = Agent::spawn("seed", None);
    // On its own, the file's probe interval is refused (the test profile's probe timeout is
    // 25 ms); the flag replaces it, as it replaces the file's name.
    let file = scratch.write(
        "agent.toml",
        &format!(
            "name = \"from-file\"\nbind = \"127.0.0.1:0\"\nprofile = \"test\"\n\
             join = [\"{}\"]\nprobe-interval = \"10ms\"\ntag = {{ role = \"db\" }}\n",
            seed.addr
        ),
    );
    let file = file.to_str().unwrap();
    let (status, stderr) = run(&["agent", "--config", file]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--probe-timeout"), "{stderr}");

    let mut cmd = Command::new(agent::BIN);
    cmd.args([
        "agent",
        "--config",
        file,
        "--name",
        "from-flag",
        "--probe-interval",
        "100ms",
    ]);
    let mut joiner = Agent::start("from-flag", cmd);
    joiner.must_log("from-flag listening on", Duration::ZERO);
    // The file's seed was used.
    see_each_other(&mut seed, &mut joiner);
}

#[test]
fn config_file_errors_exit_2_naming_the_key_the_value_and_the_rule() {
    let scratch = Scratch::new("config-errors");
    for (text, wanted) in [
        (
            "probe_interval = \"1s\"\n",
            &[
                "unknown key `probe_interval`",
                "did you mean `probe-interval`",
            ][..],
        ),
        (
            "probe-interval = \"soon\"\n",
            &["key `probe-interval`", "\"soon\"", "is not a duration"],
        ),
        (
            "bind = [\"127.0.0.1:1\"]\n",
            &["key `bind`", "single value"],
        ),
        (
            "retry-join = \"yes\"\n",
            &["key `retry-join`", "true or false"],
        ),
        (
            "on-event = { faild = \"./x.sh\" }\n",
            &["key `on-event`", "unknown event `faild`"],
        ),
        (
            "probe-interval = 200ms\n",
            &["not valid TOML", "line 1", "probe-interval = 200ms"],
        ),
    ] {
        let file = scratch.write("bad.toml", text);
        let (status, stderr) = run(&["agent", "--config", file.to_str().unwrap()]);
        assert_eq!(status.code(), Some(2), "{text}: {stderr}");
        for w in wanted {
            assert!(stderr.contains(w), "{text}: wanted `{w}` in {stderr}");
        }
    }
    let (status, stderr) = run(&["agent", "--config", "/nonexistent/rumor.toml"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read the config file /nonexistent/rumor.toml"),
        "{stderr}"
    );
}

#[test]
fn join_takes_a_host_name() {
    let mut seed = Agent::spawn("seed", None);
    let by_name = format!("localhost:{}", seed.addr.port());
    let mut joiner = Agent::spawn_with("joiner", &["--join", &by_name]);
    see_each_other(&mut seed, &mut joiner);
}

#[test]
fn retry_join_finds_a_seed_started_after_the_joiner() {
    let seed_addr = free_addr();
    let by_name = format!("localhost:{}", seed_addr.port());
    let mut joiner = Agent::spawn_with(
        "joiner",
        &[
            "--join",
            &by_name,
            "--retry-join",
            "--retry-join-interval",
            "200ms",
        ],
    );
    // It tried before the seed existed, and runs on meanwhile.
    joiner.must_log("join attempt 1: no answer", Duration::from_secs(5));
    assert_eq!(joiner.child.try_wait().unwrap(), None);

    let addr = seed_addr.to_string();
    // On the address the joiner was told, not a free one.
    let mut cmd = Command::new(agent::BIN);
    cmd.args(["agent", "--name", "seed", "--profile", "test", "--bind"])
        .arg(&addr);
    let mut seed = Agent::start("seed", cmd);
    see_each_other(&mut seed, &mut joiner);
    let joined = joiner.must_log("joined via", Duration::from_secs(5));
    assert!(joined.contains(&addr), "{joined}");
}

#[test]
fn retry_join_max_gives_up_and_exits_1() {
    let nobody = free_addr().to_string();
    let mut joiner = Agent::spawn_with(
        "joiner",
        &[
            "--join",
            &nobody,
            "--retry-join",
            "--retry-join-max",
            "2",
            "--retry-join-interval",
            "100ms",
        ],
    );
    let status = joiner.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{:?}", joiner.log);
    joiner.must_log("join attempt 2: no answer", Duration::ZERO);
    joiner.must_log("no seed answered 2 attempts", Duration::ZERO);
}

/// Issue 26, low: `role` and `ROLE` would be one handler variable, RUMOR_TAG_ROLE. The agent
/// refuses such tags of its own, naming both keys and the variable (handlers get neither of a
/// remote member's colliding tags; see the unit tests in src/bin/rumor/handlers.rs).
#[test]
fn tags_that_would_be_one_handler_variable_are_refused() {
    let (status, stderr) = run(&[
        "agent",
        "--profile",
        "test",
        "--bind",
        "127.0.0.1:0",
        "--tag",
        "role=web",
        "--tag",
        "ROLE=admin",
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    for wanted in ["--tag", "`ROLE`", "`role`", "RUMOR_TAG_ROLE"] {
        assert!(stderr.contains(wanted), "wanted `{wanted}` in {stderr}");
    }
}
