//! What another local user, or a stranger's data shown on a terminal, can do through the control
//! socket and its client (issue 26): real agents and the real `rumor` client, each wait bounded.

mod agent;
mod common;

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use agent::{Agent, BIN, Run, TempDir};

/// A KEY for `rumor keys install`, base64 of 32 bytes.
const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// `rumor agent` with the test profile and `runtime_dir` as its XDG_RUNTIME_DIR, run to its end
/// (a test failure if it is still running after 5 s).
fn agent_in(runtime_dir: &Path) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "agent",
        "--name",
        "n1",
        "--bind",
        "127.0.0.1:0",
        "--profile",
        "test",
    ])
    .env("XDG_RUNTIME_DIR", runtime_dir);
    Run::to_end(cmd, Duration::from_secs(5))
}

/// This test process's user id: the owner of what it creates.
fn own_uid(dir: &Path) -> u32 {
    std::fs::metadata(dir).unwrap().uid()
}

#[test]
fn the_agent_refuses_a_control_folder_others_may_write_naming_it() {
    let runtime = TempDir::new();
    let folder = runtime.0.join("rumor");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = agent_in(&runtime.0);
    assert_eq!(run.code(), Some(1), "{run:?}");
    let want = format!("the control folder {} has mode 0777", folder.display());
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert!(
        run.stderr.contains("--control"),
        "says how to fix it: {}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        0,
        "no socket made there"
    );
}

#[test]
fn a_file_where_the_control_folder_goes_is_a_clear_error() {
    let runtime = TempDir::new();
    let folder = runtime.0.join("rumor");
    std::fs::write(&folder, "someone's file").unwrap();
    let run = agent_in(&runtime.0);
    assert_eq!(run.code(), Some(1), "{run:?}");
    let want = format!("the control folder {} is not a directory", folder.display());
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&folder).unwrap(), "someone's file");
}

#[test]
fn the_agent_refuses_a_control_folder_of_another_user() {
    let runtime = TempDir::new();
    if own_uid(&runtime.0) != 0 {
        // Only root can give a folder away; the rule itself is unit-tested (control::socket).
        return;
    }
    let folder = runtime.0.join("rumor");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&folder)
        .unwrap();
    std::os::unix::fs::chown(&folder, Some(65534), Some(65534)).unwrap();
    let run = agent_in(&runtime.0);
    assert_eq!(run.code(), Some(1), "{run:?}");
    let want = format!(
        "the control folder {} is owned by uid 65534",
        folder.display()
    );
    assert!(run.stderr.contains(&want), "{}", run.stderr);
}

/// The attack: a socket someone else could have put there waits for a key. The client checks
/// the folder first, so the key never reaches it.
#[test]
fn the_client_sends_nothing_through_a_folder_others_may_write() {
    let runtime = TempDir::new();
    let folder = runtime.0.join("rumor");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let trap = UnixListener::bind(folder.join("n1.sock")).unwrap();
    trap.set_nonblocking(true).unwrap();

    let mut cmd = Command::new(BIN);
    cmd.args(["keys", "install", KEY, "--name", "n1"])
        .env("XDG_RUNTIME_DIR", &runtime.0);
    let run = Run::to_end(cmd, Duration::from_secs(10));
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("refusing to use") && run.stderr.contains("has mode 0777"),
        "{}",
        run.stderr
    );
    // What reached the socket: at most a connection, never a byte.
    if let Ok((mut conn, _)) = trap.accept() {
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let _ = conn.read_to_end(&mut got);
        assert!(
            got.is_empty(),
            "the key reached a stranger's socket: {got:?}"
        );
    }
}

/// The server's side of the same check: a socket bound by another user's process, even in a
/// folder of this user's, is not talked to (SO_PEERCRED). Needs root, to run that process.
#[test]
fn the_client_refuses_an_agent_of_another_user() {
    let runtime = TempDir::new();
    if own_uid(&runtime.0) != 0 {
        return;
    }
    // The other user's agent, in a folder of its own.
    let theirs = TempDir::new();
    std::fs::set_permissions(&theirs.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = theirs.0.join("rumor");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&folder)
        .unwrap();
    std::os::unix::fs::chown(&folder, Some(65534), Some(65534)).unwrap();
    let mut cmd = Agent::command("n1", &[]);
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    std::os::unix::process::CommandExt::gid(&mut cmd, 65534);
    cmd.env("XDG_RUNTIME_DIR", &theirs.0);
    let agent = Agent::start("n1", cmd);
    // Its socket moved into a private folder of this user's: only the peer check is left.
    let ours = runtime.0.join("rumor");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&ours)
        .unwrap();
    std::fs::rename(agent.control_path(), ours.join("n1.sock")).unwrap();

    let mut cmd = Command::new(BIN);
    cmd.args(["keys", "install", KEY, "--name", "n1"])
        .env("XDG_RUNTIME_DIR", &runtime.0);
    let run = Run::to_end(cmd, Duration::from_secs(10));
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("served by uid 65534"), "{}", run.stderr);
}

/// This user's own agent is still reached as before, the checks passing.
#[test]
fn the_client_talks_to_its_own_agent() {
    let agent = Agent::spawn("own", None);
    let run = agent.ask(&["members", "--format", "json"]);
    assert_eq!(run.json()["node"], "own");
}

/// True for a byte a terminal could act on in UTF-8 output: C0 controls but the newline, DEL,
/// and the C1 controls (U+0080 to U+009F, encoded 0xC2 0x80 to 0xC2 0x9F).
fn raw_controls(out: &str) -> Vec<char> {
    out.chars()
        .filter(|&c| c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)))
        .collect()
}

/// Terminal escape injection: a tag value and an event payload carrying ESC, CR, an 8-bit CSI
/// and a bidi override reach the operator's screen escaped, in tables and in JSON.
#[test]
fn tables_and_json_show_no_raw_control_character() {
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\rred\u{9b}31m\u{202e}txt\u{7f}";
    let tag = format!("note={hostile}");
    let agent = Agent::spawn_with("esc", &["--tag", &tag]);
    let mut monitor = agent.client(&["monitor", "--format", "table"]);
    let mut monitor = agent::spawn_piped(&mut monitor);
    let lines = agent::text_lines(monitor.stdout.take().unwrap());
    let subscribed = common::wait_until(Duration::from_secs(5), || {
        let stats = agent.ask(&["stats", "--format", "json"]);
        stats.code() == Some(0) && stats.json()["control"]["monitors"] == 1
    });
    assert!(subscribed, "the monitor never connected");
    let sent = agent.ask(&["event", "deploy", hostile]);
    assert_eq!(sent.code(), Some(0), "{sent:?}");
    let deadline = common::now() + Duration::from_secs(5);
    let row = std::iter::from_fn(|| lines.recv_deadline(deadline).ok())
        .find(|line| line.contains("deploy"))
        .expect("the monitor shows the event");
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(row.contains("deploy") && row.contains("\\u{1b}"), "{row:?}");
    assert_eq!(raw_controls(&row), [], "monitor table: {row:?}");

    let table = agent.ask(&["members"]);
    assert_eq!(table.code(), Some(0), "{table:?}");
    assert!(
        table.stdout.contains("note=\\u{1b}]0;owned\\u{7}"),
        "{}",
        table.stdout
    );
    assert_eq!(
        raw_controls(&table.stdout),
        [],
        "members table: {:?}",
        table.stdout
    );

    for args in [
        &["members", "--format", "json"][..],
        &["tags", "set", "x=y", "--format", "json"],
    ] {
        let run = agent.ask(args);
        assert_eq!(raw_controls(&run.stdout), [], "{args:?}: {:?}", run.stdout);
        // Still the same JSON to a parser.
        let value = run.json();
        let tags = if args[0] == "members" {
            &value["members"][0]["tags"]
        } else {
            &value["tags"]
        };
        assert_eq!(tags["note"], hostile, "{args:?}");
    }
}

/// A raw connection to `agent`'s control socket that sends nothing.
fn held(agent: &Agent) -> UnixStream {
    let conn = UnixStream::connect(agent.control_path()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn
}

/// The agent's control counters, over a connection of their own.
fn control_stats(agent: &Agent) -> Option<serde_json::Value> {
    let run = agent.ask(&["stats", "--format", "json"]);
    (run.code() == Some(0)).then(|| run.json()["control"].clone())
}

/// 32 held connections used to lock the operator out until one was dropped: now a newcomer
/// takes the place of one idle for a second, which is told why.
#[test]
fn idle_connections_give_way_to_the_operator() {
    let agent = Agent::spawn("idle", None);
    let holders: Vec<UnixStream> = (0..32).map(|_| held(&agent)).collect();
    let served = common::wait_until(Duration::from_secs(5), || {
        agent.ask(&["members"]).code() == Some(0)
    });
    assert!(served, "the operator's command was never served");
    let stats = control_stats(&agent).expect("stats served too");
    assert!(
        stats["errors"]["idle_client"].as_u64() >= Some(1),
        "{stats}"
    );
    // The ones that gave way heard why, and the connection ended.
    let told = holders.into_iter().find_map(|conn| {
        conn.set_nonblocking(true).unwrap();
        let mut text = String::new();
        let _ = (&conn).read_to_string(&mut text);
        text.contains("closed as idle").then_some(text)
    });
    let told = told.expect("an evicted connection is told why");
    assert!(told.contains("another client needed its place"), "{told}");
}

/// A connection that never sends a whole request is closed after the idle timeout, saying so.
#[test]
fn a_connection_that_sends_no_request_is_closed_after_the_timeout() {
    let agent = Agent::spawn("quiet", None);
    let mut conn = held(&agent);
    std::io::Write::write_all(&mut conn, b"{\"cmd\":").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).expect("closed within 20 s");
    assert!(
        text.contains("closed as idle (no request in 10 s)"),
        "{text:?}"
    );
    let stats = control_stats(&agent).unwrap();
    assert_eq!(stats["errors"]["idle_client"], 1, "{stats}");
}

/// A monitor too slow to keep up is dropped; when even the notice cannot reach it, the client
/// still must not exit 0 as if the agent had ended the stream on purpose.
#[test]
fn a_dropped_slow_monitor_exits_1_saying_so() {
    let agent = Agent::spawn("slow", None);
    // Its stdout is a pipe nobody reads until the agent has dropped it.
    let mut monitor = agent::spawn_piped(&mut agent.client(&["monitor"]));
    let subscribed = common::wait_until(Duration::from_secs(5), || {
        control_stats(&agent).is_some_and(|c| c["monitors"] == 1)
    });
    assert!(subscribed, "the monitor never connected");

    // Events: 4,000 of about 700 bytes, far past the monitor's 1 MiB backlog.
    let mut conn = UnixStream::connect(agent.control_path()).unwrap();
    let reader = conn.try_clone().unwrap();
    let answers = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(reader).lines().take(4000).count()
    });
    let payload = "x".repeat(500);
    for i in 0..4000 {
        let line = format!("{{\"cmd\":\"event\",\"name\":\"e{i}\",\"payload\":\"{payload}\"}}\n");
        std::io::Write::write_all(&mut conn, line.as_bytes()).unwrap();
    }
    assert_eq!(answers.join().unwrap(), 4000);
    drop(conn);
    // Dropped, and its connection closed (its grace to read the notice over).
    let dropped = common::wait_until(Duration::from_secs(10), || {
        control_stats(&agent)
            .is_some_and(|c| c["errors"]["dropped_monitor"] == 1 && c["monitors"] == 0)
    });
    assert!(dropped, "{:?}", control_stats(&agent));
    let gone = common::wait_until(Duration::from_secs(10), || {
        control_stats(&agent).is_some_and(|c| c["connected"] == 1)
    });
    assert!(gone, "{:?}", control_stats(&agent));

    // Now it reads: what was buffered, then the end.
    let mut out = monitor.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let mut err = String::new();
    monitor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = monitor.wait().unwrap();
    drain.join().unwrap().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("fell") || err.contains("without a word"),
        "says why: {err}"
    );
}

/// A monitor whose agent leaves hears that the stream ends on purpose and exits 0.
#[test]
fn a_monitor_exits_0_when_its_agent_leaves() {
    let mut agent = Agent::spawn("leaver", None);
    let mut monitor = agent::spawn_piped(&mut agent.client(&["monitor"]));
    let subscribed = common::wait_until(Duration::from_secs(5), || {
        control_stats(&agent).is_some_and(|c| c["monitors"] == 1)
    });
    assert!(subscribed, "the monitor never connected");
    assert_eq!(agent.ask(&["leave"]).code(), Some(0));
    assert!(agent.wait_exit(Duration::from_secs(10)).is_some());
    let mut err = String::new();
    monitor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = monitor.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
}

/// Run by [`the_agent_refuses_a_client_of_another_user`] as another user: connects to the socket
/// named in RUMOR_TEST_CONNECT, asks for stats and prints the answer. Does nothing otherwise.
#[test]
#[ignore = "a helper, run as another user by the_agent_refuses_a_client_of_another_user"]
fn connect_as_given() {
    let Some(path) = std::env::var_os("RUMOR_TEST_CONNECT") else {
        return;
    };
    let mut conn = UnixStream::connect(path).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = std::io::Write::write_all(&mut conn, b"{\"cmd\":\"stats\"}\n");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    print!("ANSWER {answer}");
}

/// The agent's side: even with its socket's modes loosened by hand, a process of another user
/// that connects is refused and counted. Needs root, to run that process.
#[test]
fn the_agent_refuses_a_client_of_another_user() {
    let agent = Agent::spawn("guarded", None);
    if own_uid(&agent.runtime_dir) != 0 {
        return;
    }
    let path = agent.control_path();
    std::fs::set_permissions(&agent.runtime_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = path.parent().unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "connect_as_given", "--ignored", "--nocapture"])
        .env("RUMOR_TEST_CONNECT", &path);
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    std::os::unix::process::CommandExt::gid(&mut cmd, 65534);
    let run = Run::to_end(cmd, Duration::from_secs(10));
    assert!(
        run.stdout
            .contains("ANSWER {\"error\":\"this agent serves only its own user"),
        "{run:?}"
    );
    // This user's client checks the folder: tightened again for it.
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let stats = control_stats(&agent).unwrap();
    assert_eq!(stats["errors"]["foreign_client"], 1, "{stats}");
}
