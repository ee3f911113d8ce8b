//! Files the agent trusts (issue 26, low findings): the key file holds the cluster's only
//! secret and the config file holds shell commands (`on-event`), so each must be out of other
//! users' reach: owned by this user or root, not writable by others, in a folder others cannot
//! write to (a sticky one such as /tmp excepted: there nobody can replace another's file).
//! Each refusal exits 2 naming the file (or folder) and the reason.

mod agent;
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::{Agent, TempDir, run};

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// A user id that is not ours: `nobody`.
const OTHER_UID: u32 = 65_534;

fn write(path: &Path, text: &str, mode: u32) -> PathBuf {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    path.to_path_buf()
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives `path` to another user; false where this process may not (it is not root).
fn give_away(path: &Path) -> bool {
    match std::os::unix::fs::chown(path, Some(OTHER_UID), None) {
        Ok(()) => true,
        Err(e) => {
            println!("not checked: cannot chown as this user ({e}); CI runs as root");
            false
        }
    }
}

/// Runs `rumor agent` with `args`; it must exit 2 with every one of `wanted` in its stderr.
fn refused(args: &[&str], wanted: &[&str]) {
    let mut all = vec!["agent", "--profile", "test", "--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (status, stderr) = run(&all);
    assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
    for w in wanted {
        assert!(stderr.contains(w), "{args:?}: wanted `{w}` in {stderr}");
    }
}

#[test]
fn a_key_file_of_another_user_or_in_a_folder_others_can_write_is_refused() {
    let dir = TempDir::new();
    let folder = dir.0.join("keys.d");
    fs::create_dir(&folder).unwrap();
    chmod(&folder, 0o755);
    let keys = write(&folder.join("keys"), &format!("{K1}\n"), 0o600);
    let file = keys.to_str().unwrap();

    // Others may write the folder: they could replace the file.
    chmod(&folder, 0o777);
    refused(
        &["--key-file", file],
        &["--key-file", folder.to_str().unwrap(), "writable by others"],
    );
    // A sticky folder (like /tmp) is fine: nobody can remove or rename another's file there.
    chmod(&folder, 0o1777);
    let mut agent = Agent::spawn_with("sticky", &["--key-file", file]);
    agent.must_log("listening on", Duration::from_secs(5));
    drop(agent);
    chmod(&folder, 0o755);

    // Someone else's file, however private.
    if give_away(&keys) {
        refused(
            &["--key-file", file],
            &[file, "owned by user 65534", "not by this user or root"],
        );
    }
}

#[test]
fn a_config_file_others_can_change_is_refused() {
    let dir = TempDir::new();
    let folder = dir.0.join("conf.d");
    fs::create_dir(&folder).unwrap();
    chmod(&folder, 0o755);
    let config = folder.join("rumor.toml");
    let text = "on-event = \"touch /tmp/pwned\"\nprofile = \"test\"\n";
    for mode in [0o664, 0o646] {
        let path = write(&config, text, mode);
        refused(
            &["--config", path.to_str().unwrap()],
            &[
                path.to_str().unwrap(),
                &format!("mode {mode:04o}"),
                "writable by group or others",
            ],
        );
    }
    let path = write(&config, text, 0o644);
    chmod(&folder, 0o777);
    refused(
        &["--config", path.to_str().unwrap()],
        &[folder.to_str().unwrap(), "writable by others"],
    );
    chmod(&folder, 0o755);
    if give_away(&path) {
        refused(
            &["--config", path.to_str().unwrap()],
            &[path.to_str().unwrap(), "owned by user 65534"],
        );
    }
}
