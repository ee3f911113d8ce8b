//! The `rumor agent` binary as a user runs it: real processes on loopback, JSON lines on stdout,
//! exit codes, signals. Every child is killed by its own handle when the test ends, pass or
//! fail, and every wait has a deadline.

mod agent;
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use agent::{Agent, run, three_agents};
use serde_json::Value;

#[test]
fn survivors_print_failed_for_a_killed_agent() {
    let [mut a, mut b, mut c] = three_agents();
    c.child.kill().expect("SIGKILL c");
    c.child.wait().expect("reap c");
    // Test profile, 3 members: unconfirmed suspicion 6 x 200 ms, plus 3 periods, plus slack.
    let bound = Duration::from_millis(1200 + 150 + 1000);
    for survivor in [&mut a, &mut b] {
        survivor.must_print("failed", "c", bound);
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
        survivor.must_print("left", "c", Duration::from_secs(3));
    }
    // Left, and not mistaken for a crash afterwards (an unconfirmed suspicion would have ended
    // within 1.2 s).
    assert_eq!(a.expect("failed", "c", Duration::from_millis(1500)), None);
    assert!(b.about("c").iter().all(|v| v["event"] != "failed"));
}

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
        .find_line(Duration::from_secs(5), user("greeting"))
        .unwrap_or_else(|| panic!("no greeting line: {:?}", agent.seen));
    assert_eq!(text["origin"], "embedded");
    assert_eq!(text["node"], "a1");
    assert_eq!(text["payload"], "héllo");
    assert_eq!(text["payload_encoding"], "utf8");
    let binary = agent
        .find_line(Duration::from_secs(5), user("binary"))
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
