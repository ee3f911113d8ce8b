//! Two agents with one `--name` (issue 26): the second is refused with a clear error naming
//! the address of the live member that holds the name, and exits 1; the first keeps it.

mod agent;
mod common;

use std::time::Duration;

use agent::{Agent, Run, TempDir, see_each_other};

#[test]
fn a_second_agent_with_a_live_members_name_exits_1_naming_the_holder() {
    let mut seed = Agent::spawn("seed", None);
    let mut first = Agent::spawn("twin", Some(seed.addr));
    see_each_other(&mut seed, &mut first);
    let dir = TempDir::new();
    let mut cmd = Agent::command("twin", &["--join", &seed.addr.to_string()]);
    cmd.env("XDG_RUNTIME_DIR", &dir.0);
    // join_timeout (2 s in the test profile) and the start's grace, with slack.
    let second = Run::to_end(cmd, Duration::from_secs(10));
    assert_eq!(second.code(), Some(1), "{second:?}");
    let holder = first.addr.to_string();
    assert!(
        second
            .stderr
            .contains("the name twin is held by a live member at")
            && second.stderr.contains(&holder),
        "{second:?}"
    );
    // The first one is still a member, at its own address, and nobody saw it fail.
    seed.read_printed();
    let about = seed.about("twin");
    assert!(about.iter().all(|e| e["event"] != "failed"), "{about:?}");
}
