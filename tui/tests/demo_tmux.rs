//! Drives `rumor-tui --demo N` in a real pseudo-terminal (tmux) as a person would: the screen
//! shows four alive members, `q` quits with status 0, and the terminal is restored (alternate
//! screen off, canonical mode and echo back on); with eight, a crashed member's failure and a
//! user event are each seen on the Spread pane to reach every running member.
//!
//! Skipped, with the reason printed, only where tmux is not installed.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own (its socket in the test's own folder), killed when the test ends
/// however it ends, and the folder removed with it.
struct Tmux {
    dir: PathBuf,
}

impl Tmux {
    /// A server of its own for test `label`, in a fresh folder; `None` (with the reason
    /// printed) where tmux is not installed.
    fn start(label: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("skipped: tmux is not installed (CI installs it in .ci/run)");
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("rumor-tui-test-{}-{label}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Tmux { dir })
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(self.dir.join("tmux.sock"))
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Starts session `demo`, `width` x `height`, running `script` in its one pane.
    fn session(&self, width: u16, height: u16, script: &str) {
        let (w, h) = (width.to_string(), height.to_string());
        let started = self.run(&[
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            &w,
            "-y",
            &h,
            script,
        ]);
        assert!(
            started.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "demo"]).stdout)
            .into_owned()
    }

    fn alternate_screen_on(&self) -> bool {
        let out = self.run(&["display-message", "-p", "-t", "demo", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Ends the pane's shell and anything still running in it (the dashboard, if the test
        // failed before it quit): only this test's server, by its own socket.
        let _ = self.run(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `probe` until it gives a value or `timeout` passes.
#[allow(
    clippy::disallowed_methods,
    reason = "a polling helper: the deadline needs the clock and the gap between polls a sleep"
)]
fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn demo_of_four_shows_four_alive_members_and_quits_cleanly_on_q() {
    let Some(tmux) = Tmux::start("four") else {
        return;
    };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rumor-tui"));
    let log = tmux.dir.join("demo.log");
    // After the dashboard exits, the pane prints its status and the terminal modes, then stays
    // open so the test can read them.
    let script = format!(
        "{} --demo 4 --log-file {}; echo \"exit=$?\"; stty -a; echo modes-printed; sleep 120",
        shell_quote(&bin),
        shell_quote(&log)
    );
    tmux.session(100, 30, &script);

    let screen = wait_for_screen(&tmux, Duration::from_secs(30), &["4 members: 4 alive"]);
    assert!(
        tmux.alternate_screen_on(),
        "the dashboard draws on the alternate screen"
    );
    for name in ["n1", "n2", "n3", "n4"] {
        let row = screen
            .lines()
            .find(|l| l.starts_with(&format!("│{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{screen}"));
        assert!(row.contains(" alive "), "{name} not alive: {row}");
    }

    tmux.run(&["send-keys", "-t", "demo", "q"]);
    let after = wait_for_screen(&tmux, Duration::from_secs(15), &["modes-printed"]);
    assert!(after.contains("exit=0"), "exit status:\n{after}");
    assert!(!tmux.alternate_screen_on(), "alternate screen left on");
    let modes: Vec<&str> = after.split_whitespace().collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "terminal left in raw mode:\n{after}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("left the cluster"), "log file:\n{logged}");
}

/// Waits until one screen shows every one of `needles`; panics with the screen if not in time.
fn wait_for_screen(tmux: &Tmux, timeout: Duration, needles: &[&str]) -> String {
    wait_until(timeout, || {
        let screen = tmux.capture();
        needles.iter().all(|n| screen.contains(n)).then_some(screen)
    })
    .unwrap_or_else(|| panic!("no {needles:?} within {timeout:?}:\n{}", tmux.capture()))
}

#[test]
fn demo_of_eight_shows_a_crash_and_a_user_event_heard_by_seven_of_seven() {
    let Some(tmux) = Tmux::start("spread") else {
        return;
    };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rumor-tui"));
    let log = tmux.dir.join("demo.log");
    let script = format!(
        "{} --demo 8 --log-file {}; echo \"exit=$?\"; sleep 120",
        shell_quote(&bin),
        shell_quote(&log)
    );
    tmux.session(120, 40, &script);
    // The pane is on by default in the demo: the joins are the first changes it shows.
    wait_for_screen(
        &tmux,
        Duration::from_secs(30),
        &["8 members: 8 alive", " Spread joined ", "heard by 7 of 7"],
    );

    // The table starts on n1 (self): two rows down is n3.
    tmux.run(&["send-keys", "-t", "demo", "j", "j", "x"]);
    let screen = wait_for_screen(
        &tmux,
        Duration::from_secs(30),
        &[" Spread failed n3 ", "heard by 7 of 7", "expect log4 7"],
    );
    // Every survivor's cell is marked as holding it, the crashed member as the subject.
    assert!(
        screen.contains("n1✓ n2✓ n3* n4✓ n5✓ n6✓ n7✓ n8✓"),
        "{screen}"
    );
    assert!(screen.contains("7 alive  0 suspect  1 dead"), "{screen}");
    let after = screen
        .lines()
        .find(|l| l.contains("after "))
        .unwrap_or_else(|| panic!("no spread time:\n{screen}"));
    assert!(after.contains(" periods ("), "{after}");

    tmux.run(&["send-keys", "-t", "demo", "e"]);
    tmux.run(&["send-keys", "-t", "demo", "-l", "deploy v2"]);
    tmux.run(&["send-keys", "-t", "demo", "Enter"]);
    wait_for_screen(
        &tmux,
        Duration::from_secs(30),
        &[" Spread user deploy from n1 ", "heard by 7 of 7"],
    );

    tmux.run(&["send-keys", "-t", "demo", "q"]);
    let after = wait_for_screen(&tmux, Duration::from_secs(15), &["exit="]);
    assert!(after.contains("exit=0"), "exit status:\n{after}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("failed n3 reached all 7 in"),
        "log file:\n{logged}"
    );
    assert!(
        logged.contains("user deploy from n1 reached all 7 in"),
        "log file:\n{logged}"
    );
}
