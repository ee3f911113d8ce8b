//! Where `rumor-tui` writes its log (issue 26, finding 11): never through a file or symlink
//! another local user planted at a predictable path. The real binary, started without a
//! terminal: it opens its log before it takes the terminal over, then exits (or is killed).

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rumor-tui");

/// A fresh folder of the test's own, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tui-logfile-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The dashboard as one member named `name`, with `TMPDIR` set to `tmp` and no HOME or
/// XDG_STATE_HOME (a service's environment), plus `args`.
fn dashboard(tmp: &Path, name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--name", name, "--bind", "127.0.0.1:0", "--control", "none"])
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` until it exits (without a terminal it cannot draw) or `timeout` passes, then
/// kills it; returns its stderr.
fn run(mut cmd: Command, timeout: Duration) -> String {
    let mut child: Child = cmd.spawn().expect("spawn rumor-tui");
    #[allow(clippy::disallowed_methods, reason = "a deadline for a real process")]
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        #[allow(clippy::disallowed_methods, reason = "a deadline for a real process")]
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        #[allow(
            clippy::disallowed_methods,
            reason = "a polling step, not an assertion"
        )]
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    stderr
}

fn uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// Every `.log` file under `dir`, one folder deep.
fn logs_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap().flatten() {
                if inner.path().extension().is_some_and(|e| e == "log") {
                    found.push(inner.path());
                }
            }
        }
    }
    found
}

#[test]
fn a_symlink_at_the_old_predictable_path_is_not_followed_and_the_log_is_private() {
    let scratch = Scratch::new("default");
    let tmp = scratch.0.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Another user's trap: the path the dashboard used to write, pointing at a file of ours.
    let victim = scratch.0.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    symlink(&victim, tmp.join("rumor-tui-t1.log")).unwrap();

    let stderr = run(dashboard(&tmp, "t1", &[]), Duration::from_secs(10));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "the symlink was followed; stderr: {stderr}"
    );
    assert!(
        std::fs::symlink_metadata(tmp.join("rumor-tui-t1.log"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The log went to a folder of its own, private to this user.
    let logs = logs_under(&tmp);
    assert_eq!(logs.len(), 1, "{logs:?}; stderr: {stderr}");
    let log = &logs[0];
    let file = std::fs::symlink_metadata(log).unwrap();
    assert!(file.is_file());
    assert_eq!(
        file.permissions().mode() & 0o777,
        0o600,
        "{}",
        log.display()
    );
    assert_eq!(file.uid(), uid());
    let folder = std::fs::symlink_metadata(log.parent().unwrap()).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    assert_eq!(folder.uid(), uid());
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("t1 running at"), "{text}");
}

#[test]
fn a_log_file_named_on_the_command_line_is_never_reached_through_a_symlink() {
    let scratch = Scratch::new("named");
    let victim = scratch.0.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = scratch.0.join("dash.log");
    symlink(&victim, &link).unwrap();
    let stderr = run(
        dashboard(&scratch.0, "t2", &["--log-file", link.to_str().unwrap()]),
        Duration::from_secs(10),
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        stderr.contains(link.to_str().unwrap()) && stderr.contains("symbolic link"),
        "{stderr}"
    );

    // A new file is made for this user only; an existing one of ours is added to, not
    // truncated.
    let fresh = scratch.0.join("fresh.log");
    run(
        dashboard(&scratch.0, "t2", &["--log-file", fresh.to_str().unwrap()]),
        Duration::from_secs(10),
    );
    let meta = std::fs::metadata(&fresh).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&fresh).unwrap();
    assert!(first.contains("t2 running at"), "{first}");
    run(
        dashboard(&scratch.0, "t2", &["--log-file", fresh.to_str().unwrap()]),
        Duration::from_secs(10),
    );
    let both = std::fs::read_to_string(&fresh).unwrap();
    assert!(
        both.starts_with(&first) && both.matches("t2 running at").count() == 2,
        "{both}"
    );
}
