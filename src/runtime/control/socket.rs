//! The control socket's file: created 0600 in a private folder (created 0700 when missing), a
//! stale one of a dead node replaced, a live one refused, and removed when the node stops, if it
//! is still ours.
//!
//! Who may stand between a client and the node is settled here too. The folder must be a real
//! directory (not a symlink) owned by this user with no access for group or others
//! ([`check_folder`]): whoever can write to it can swap the socket for their own and receive
//! what clients send (a key given to `rumor keys install -`), and a folder another user made in
//! the shared temp dir before the node started is exactly that. A peer on the socket is trusted
//! only if it runs as this user or as root ([`trusted_peer`]); root can read the node's memory
//! anyway, so refusing it would protect nothing.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mio::net::{UnixListener, UnixStream};

use crate::error::StartError;

/// A bound control socket and the identity of its file.
pub(super) struct Bound {
    pub(super) listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file we created: on exit, a file at our path that is not
    /// this one belongs to someone else and stays.
    id: (u64, u64),
}

impl Bound {
    /// Binds `path`, replacing a stale socket, refusing a live one or anything not a socket.
    pub(super) fn new(path: &Path) -> Result<Bound, StartError> {
        let fail = |e: io::Error| StartError::Control(path.to_path_buf(), e);
        let dir = folder_of(path);
        // lstat: a symlink or a file at the folder's path is refused below, not followed.
        if fs::symlink_metadata(dir).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
            // 0700: only the owner may reach the socket, or replace it under a client's feet.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
        check_folder(dir).map_err(|why| {
            fail(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{why}: another user could swap the socket for their own; remove the \
                     folder (the node makes it anew, 0700) or give --control a path in a \
                     folder of your own with mode 0700"
                ),
            ))
        })?;
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                // Non-blocking, so a live node with a full backlog cannot make this wait.
                match UnixStream::connect(path) {
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        // Nobody listens: the socket of a node that died without cleaning up.
                        fs::remove_file(path).map_err(fail)?;
                    }
                    Ok(_) => return Err(StartError::ControlInUse(path.to_path_buf())),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Err(StartError::ControlInUse(path.to_path_buf()));
                    }
                    Err(e) => return Err(fail(e)),
                }
            }
            Ok(_) => {
                return Err(fail(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the path exists and is not a socket (left as it is)",
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        let listener = UnixListener::bind(path).map_err(|e| match e.kind() {
            // Another node bound it between our check and our bind.
            io::ErrorKind::AddrInUse => StartError::ControlInUse(path.to_path_buf()),
            _ => fail(e),
        })?;
        // Until this chmod the socket has the umask's mode; the private folder keeps others
        // out in between.
        let meta = fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .and_then(|()| fs::metadata(path));
        match meta {
            Ok(meta) => Ok(Bound {
                listener,
                path: path.to_path_buf(),
                id: (meta.dev(), meta.ino()),
            }),
            Err(e) => {
                let _ = fs::remove_file(path);
                Err(fail(e))
            }
        }
    }
}

/// The folder a socket at `path` lives in (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// This process's effective user id: the owner of what it creates, and whom its peers must be.
pub(crate) fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks that `dir` is fit to hold a control socket, looking at it with lstat (a symlink is
/// refused, not followed); `Err` says what is wrong, naming the folder.
pub(crate) fn check_folder(dir: &Path) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| format!("the control folder {} cannot be read: {e}", dir.display()))?;
    let kind = if meta.file_type().is_symlink() {
        Kind::Symlink
    } else if meta.is_dir() {
        Kind::Directory
    } else {
        Kind::Other
    };
    folder_verdict(kind, meta.uid(), meta.mode(), own_uid())
        .map_err(|why| format!("the control folder {} {why}", dir.display()))
}

/// What lstat found at a folder's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    Symlink,
    Other,
}

/// The rule of [`check_folder`] on what lstat said: a directory owned by `me`, with no
/// permission bits for group or others (the socket's own 0600 comes only after its bind, so a
/// folder others may enter would leave a window).
fn folder_verdict(kind: Kind, owner: u32, mode: u32, me: u32) -> Result<(), String> {
    match kind {
        Kind::Symlink => return Err("is a symlink, not a directory of its own".into()),
        Kind::Other => return Err("is not a directory".into()),
        Kind::Directory => {}
    }
    if owner != me {
        return Err(format!(
            "is owned by uid {owner}, not by this user (uid {me})"
        ));
    }
    if mode & 0o077 != 0 {
        return Err(format!(
            "has mode {:04o}: group and others must have no access to it (chmod 700)",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Whether a peer running as `peer` may be talked to by a process running as `me`: the same
/// user, or root (who can read either side's memory anyway).
pub(crate) fn trusted_peer(peer: u32, me: u32) -> bool {
    peer == me || peer == 0
}

/// The user id of the process at the other end of a Unix stream (SO_PEERCRED: for a client, the
/// one that connected; for a server, the one that bound the listener).
pub(crate) fn peer_uid(stream: impl AsFd) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(stream)?.uid.as_raw())
}

impl Drop for Bound {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of this test's own (under the temp dir, short enough for socket paths).
    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rumor-ctl-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_file(&dir);
        dir
    }

    /// Creates `dir` as the node would: this user's, 0700.
    fn private(dir: &Path) {
        fs::DirBuilder::new().mode(0o700).create(dir).unwrap();
    }

    /// The error [`Bound::new`] gives for a socket in `dir`, as text.
    fn refusal(dir: &Path) -> String {
        match Bound::new(&dir.join("n1.sock")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a socket was bound in {}", dir.display()),
        }
    }

    #[test]
    fn the_socket_is_0600_in_a_new_0700_folder_and_removed_on_drop() {
        let dir = folder("perm");
        let path = dir.join("sub/n1.sock");
        let bound = Bound::new(&path).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.join("sub")), 0o700);
        drop(bound);
        assert!(!path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_refused() {
        let dir = folder("stale");
        let path = dir.join("n1.sock");
        private(&dir);
        // A socket file nobody listens on, as a killed node leaves it.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let live = Bound::new(&path).expect("stale socket replaced");
        match Bound::new(&path) {
            Err(StartError::ControlInUse(p)) => assert_eq!(p, path),
            other => panic!("expected ControlInUse, got {:?}", other.err()),
        }
        drop(live);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = folder("file");
        private(&dir);
        let path = dir.join("notes.txt");
        fs::write(&path, "keep me").unwrap();
        let err = Bound::new(&path).err().expect("refused");
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep me");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_replaced_socket_is_not_removed_by_its_old_owner() {
        let dir = folder("owner");
        let path = dir.join("n1.sock");
        let old = Bound::new(&path).unwrap();
        // Someone removed ours and put their own in its place.
        fs::remove_file(&path).unwrap();
        let theirs = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(old);
        assert!(path.exists(), "the newer socket stays");
        drop(theirs);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_others_may_enter_is_refused_naming_it_and_left_as_it_is() {
        let dir = folder("open");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = refusal(&dir);
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(
            err.contains("mode 0755") && err.contains("--control"),
            "{err}"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing made in it");
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "its mode untouched");
        // The shared temp dir itself (1777) is no place either.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(refusal(&dir).contains("mode 1777"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_to_a_private_folder_is_refused_not_followed() {
        let target = folder("target");
        private(&target);
        let link = folder("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = refusal(&link);
        assert!(err.contains("is a symlink"), "{err}");
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            0,
            "nothing made behind it"
        );
        fs::remove_file(&link).unwrap();
        fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn a_file_where_the_folder_should_be_is_a_clear_error() {
        let dir = folder("plain");
        fs::write(&dir, "not a folder").unwrap();
        let err = refusal(&dir);
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(
            err.contains("is not a directory") && err.contains("remove"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&dir).unwrap(), "not a folder");
        fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn a_folder_of_another_user_is_refused() {
        // The rule itself, for whoever runs the test.
        let verdict = |owner, mode, me| folder_verdict(Kind::Directory, owner, mode, me);
        assert_eq!(verdict(1000, 0o40700, 1000), Ok(()));
        let err = verdict(65534, 0o40700, 1000).unwrap_err();
        assert!(
            err.contains("uid 65534") && err.contains("uid 1000"),
            "{err}"
        );
        // Root's folder is not this user's either: the client and the node run as one user.
        assert!(verdict(0, 0o40700, 1000).is_err());
        assert!(verdict(1000, 0o40710, 1000).is_err());
        assert!(verdict(1000, 0o40701, 1000).is_err());
        assert!(folder_verdict(Kind::Other, 1000, 0o100600, 1000).is_err());
        // And on a real folder, where this process may give one away (as root).
        if own_uid() == 0 {
            let dir = folder("theirs");
            private(&dir);
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            let err = refusal(&dir);
            assert!(err.contains("owned by uid 65534"), "{err}");
            assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn peers_of_this_user_and_root_are_trusted_others_not() {
        assert!(trusted_peer(1000, 1000));
        assert!(trusted_peer(0, 1000));
        assert!(!trusted_peer(1001, 1000));
        assert!(!trusted_peer(65534, 0));
        // A real socket: this process at both ends.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), own_uid());
        assert_eq!(peer_uid(&b).unwrap(), own_uid());
    }
}
