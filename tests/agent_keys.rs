//! Keys on real agents: a key file others can read is refused, a live cluster rotates its key
//! with `rumor keys` and nobody is suspected, removing the primary is refused with the reason,
//! and SIGHUP reloads the key file; keys given in RUMOR_KEYS never reach an event handler.

mod agent;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agent::{Agent, TempDir, run, see_each_other};
use common::wait_until;

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const K3: &str = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

fn key_file(dir: &Path, name: &str, keys: &[&str], mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, keys.join("\n") + "\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The agent's key ids, primary first.
fn ids(agent: &Agent) -> Vec<String> {
    let answer = agent.ask(&["keys", "list", "--format", "json"]).json();
    let keys = answer["keys"].as_array().expect("a key list");
    keys.iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_key_file_others_can_read_is_refused_with_its_name_and_mode() {
    let dir = TempDir::new();
    let path = key_file(&dir.0, "keys", &[K1], 0o640);
    let (status, stderr) = run(&[
        "agent",
        "--profile",
        "test",
        "--bind",
        "127.0.0.1:0",
        "--key-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--key-file") && stderr.contains(path.to_str().unwrap()),
        "{stderr}"
    );
    assert!(stderr.contains("mode 0640"), "{stderr}");
}

#[test]
fn agents_rotate_keys_live_and_reload_the_key_file_on_sighup() {
    let dir = TempDir::new();
    let path = key_file(&dir.0, "keys", &[K1], 0o600);
    let file = path.to_str().unwrap();
    let mut a = Agent::spawn_with("a", &["--key-file", file]);
    let seed = a.addr.to_string();
    let mut b = Agent::spawn_with("b", &["--key-file", file, "--join", &seed]);
    see_each_other(&mut a, &mut b);
    let old = ids(&a);
    assert_eq!(old.len(), 1);
    assert_eq!(ids(&b), old);

    // The three steps, each on every member before the next.
    for step in [["install", K2], ["use", K2], ["remove", K1]] {
        for agent in [&a, &b] {
            let run = agent.ask(&["keys", step[0], step[1]]);
            assert_eq!(run.code(), Some(0), "{} {run:?}", step[0]);
        }
    }
    let new = ids(&a);
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
    let refused = a.ask(&["keys", "remove", K2]);
    assert_eq!(refused.code(), Some(1), "{refused:?}");
    assert!(refused.stderr.contains("primary"), "{refused:?}");

    // Gossip kept flowing under the new key, and nobody was suspected at any point.
    let packets_in = |agent: &Agent| {
        let stats = agent.ask(&["stats", "--format", "json"]).json();
        stats["stats"]["packets_in"].as_u64().unwrap()
    };
    let before = packets_in(&a);
    assert!(wait_until(Duration::from_secs(5), || packets_in(&a) > before + 20));
    for (agent, other) in [(&mut a, "b"), (&mut b, "a")] {
        let lines = agent.about(other);
        assert!(
            lines
                .iter()
                .all(|l| l["event"] != "suspect" && l["event"] != "failed"),
            "{}: {lines:?}",
            agent.name
        );
        let stats = agent.ask(&["stats", "--format", "json"]).json();
        let drops = &stats["stats"]["dropped_by_reason"];
        assert_eq!(drops["unknown_key"], 0, "{drops}");
        assert_eq!(drops["unauthenticated"], 0, "{drops}");
        let prom = agent.ask(&["stats", "--prometheus"]);
        assert_eq!(prom.code(), Some(0), "{prom:?}");
        for reason in [
            "plaintext",
            "sealed",
            "replayed",
            "unknown_key",
            "unauthenticated",
        ] {
            let sample = format!("reason=\"{reason}\"");
            assert!(
                prom.stdout.contains(&sample),
                "no {sample}: {}",
                prom.stdout
            );
        }
    }

    // SIGHUP replaces a's ring with the file's: K2 (still primary) and K3.
    key_file(&dir.0, "keys", &[K2, K3], 0o600);
    let hup = Command::new("kill")
        .args(["-HUP", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    a.must_log("reloaded", Duration::from_secs(5));
    assert!(wait_until(Duration::from_secs(5), || ids(&a).len() == 2));
    assert_eq!(ids(&a)[0], new[0]);
}

/// Issue 26, finding 9: an `--on-event` handler is a program the agent runs for every event,
/// and must not be handed the cluster's only secret. The agent reads RUMOR_KEYS once; neither
/// its handlers nor anything else it starts sees the variable or the key text.
#[test]
fn keys_given_in_rumor_keys_never_reach_a_handler() {
    let dir = TempDir::new();
    let out = dir.0.join("env");
    let handler = format!(
        r#"joined=env > "{0}.tmp" && mv "{0}.tmp" "{0}""#,
        out.display()
    );
    let mut cmd = Agent::command("a", &["--on-event", &handler]);
    cmd.env("RUMOR_KEYS", K1);
    let mut a = Agent::start("a", cmd);
    let seed = a.addr.to_string();
    let mut b_cmd = Agent::command("b", &["--join", &seed]);
    b_cmd.env("RUMOR_KEYS", K1);
    let mut b = Agent::start("b", b_cmd);
    see_each_other(&mut a, &mut b);
    assert!(
        wait_until(Duration::from_secs(5), || out.exists()),
        "the handler never ran: {:?}",
        a.log
    );
    let env = std::fs::read_to_string(&out).unwrap();
    // The handler did get its own variables: the dump is the real one.
    assert!(env.contains("RUMOR_EVENT=joined"), "{env}");
    assert!(
        !env.contains("RUMOR_KEYS"),
        "the handler saw RUMOR_KEYS:\n{env}"
    );
    assert!(!env.contains(K1), "the handler saw the key:\n{env}");
}
