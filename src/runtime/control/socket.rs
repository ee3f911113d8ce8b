//! The control socket's file: created 0600 (its folder 0700 when created), a stale one of a
//! dead node replaced, a live one refused, and removed when the node stops, if it is still ours.

use std::fs;
use std::io;
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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            // 0700: only the owner may reach the socket, or replace it under a client's feet.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
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
        // Until this chmod the socket has the umask's mode; the 0700 folder (when we made it)
        // keeps others out in between.
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
        dir
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
        fs::create_dir_all(&dir).unwrap();
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
        fs::create_dir_all(&dir).unwrap();
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
}
