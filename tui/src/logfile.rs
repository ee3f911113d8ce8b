//! The dashboard's log file: its own log lines and every membership event, with wall-clock
//! timestamps. The terminal belongs to the dashboard, so nothing is ever logged there.
//!
//! Where it goes, and how it is opened, keeps another local user from aiming it at a file of
//! ours (issue 26, finding 11: it used to be `File::create` on a predictable /tmp path, which
//! follows a planted symlink and truncates its target):
//!
//! - by default, `rumor-tui-NAME.log` in a folder private to this user (0700, owned by us):
//!   `$XDG_STATE_HOME/rumor`, else `$HOME/.local/state/rumor`, else (a service with neither) a
//!   fresh folder with a random name in the temp dir, made for this run. A log of the same
//!   name from an earlier run is replaced: nobody else can reach into a private folder.
//! - `--log-file PATH`: a new file is created; an existing one is appended to (never
//!   truncated) only if it is a plain file owned by this user with no other name (a hard
//!   link); a symlink is never followed. Anything else is refused, saying why.
//!
//! Every file it creates is 0600, exclusively (`O_CREAT | O_EXCL`, which also refuses a
//! symlink, even one pointing nowhere).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumor::Event;

use crate::app::App;

/// An open log file and how far the app's log has been copied into it.
pub struct LogFile {
    out: BufWriter<File>,
    /// The next app log line (by `seq`) not yet written.
    next_seq: u64,
    /// The same moment on both clocks, to turn an `Instant` into a wall-clock time.
    origin: (Instant, SystemTime),
}

impl LogFile {
    /// Creates a new file at `path`, readable and writable by this user only (0600); whatever
    /// is already there (a file, or a symlink, which is not followed) is an error. `origin`
    /// pairs one `Instant` with the wall clock at that moment.
    pub fn create(path: &Path, origin: (Instant, SystemTime)) -> io::Result<Self> {
        Ok(LogFile::with(create_private(path)?, origin))
    }

    /// Opens the file a user named (`--log-file`): created as [`LogFile::create`] does when it
    /// does not exist; an existing one is appended to only when it is a plain file owned by
    /// this user with no other name. A symlink, another user's file, a hard link, a folder or
    /// a device is refused, the error saying which.
    pub fn open_named(path: &Path, origin: (Instant, SystemTime)) -> io::Result<Self> {
        match create_private(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            created => return Ok(LogFile::with(created?, origin)),
        }
        let file = OpenOptions::new()
            .append(true)
            // A symlink fails here (ELOOP) rather than being followed; a FIFO would block
            // until someone reads it, so the open does not wait.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => refused("it is a symbolic link, which is never followed"),
                _ => e,
            })?;
        // Checked on the open file itself, so nothing can be swapped in between.
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(refused("it exists and is not a plain file"));
        }
        if meta.uid() != user_id()? {
            return Err(refused(&format!(
                "it exists and belongs to user {}, not to this one",
                meta.uid()
            )));
        }
        if meta.nlink() > 1 {
            return Err(refused(
                "it exists with another name too (a hard link), which could be anyone's file",
            ));
        }
        Ok(LogFile::with(file, origin))
    }

    fn with(file: File, origin: (Instant, SystemTime)) -> Self {
        LogFile {
            out: BufWriter::new(file),
            next_seq: 0,
            origin,
        }
    }

    /// Writes a membership event. Call [`LogFile::sync`] first, so that the file stays in time
    /// order.
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Some(u) = &event.user {
            return writeln!(
                self.out,
                "{} EVENT user {} from {} ltime {} payload {} bytes",
                self.stamp(event.at),
                u.name,
                u.origin,
                u.ltime,
                u.payload.len()
            );
        }
        let m = &event.member;
        writeln!(
            self.out,
            "{} EVENT {} {} {} incarnation {} state {}",
            self.stamp(event.at),
            event.kind,
            m.name,
            m.addr,
            m.incarnation,
            m.state
        )
    }

    /// Writes the app's log lines that are not in the file yet, then flushes, so the file is
    /// current whenever someone tails it.
    pub fn sync(&mut self, app: &App) -> io::Result<()> {
        let from = self.next_seq;
        for line in app.logs.iter().filter(|l| l.seq >= from) {
            writeln!(
                self.out,
                "{} {} {}",
                self.stamp(line.at),
                line.level.as_str(),
                line.text
            )?;
            self.next_seq = line.seq + 1;
        }
        self.out.flush()
    }

    fn stamp(&self, at: Instant) -> String {
        let (mono, wall) = self.origin;
        let wall = if at >= mono {
            wall + at.duration_since(mono)
        } else {
            wall - mono.duration_since(at)
        };
        format_utc(wall.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO))
    }
}

/// Where the log of the node named `name` goes without `--log-file`: `rumor-tui-NAME.log` in
/// this user's private folder (see the module docs), made now if need be. A log of the same
/// name from an earlier run is removed, so that [`LogFile::create`] can make it anew.
pub fn default_path(name: &str) -> io::Result<PathBuf> {
    // A node name may hold any character but a few; a file name must not climb out.
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    let folder = private_folder()?;
    let path = folder.join(format!("rumor-tui-{safe}.log"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(path),
    }
}

/// `$XDG_STATE_HOME/rumor`, else `$HOME/.local/state/rumor` (the XDG base directories' place
/// for logs), checked or made private; with neither variable, a fresh private folder in the
/// temp dir.
fn private_folder() -> io::Result<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let state = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/state")));
    match state {
        Some(state) => {
            let folder = state.join("rumor");
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&folder)?;
            check_private(&folder)?;
            Ok(folder)
        }
        None => fresh_folder(&std::env::temp_dir()),
    }
}

/// A new folder `rumor-tui-XXXXXXXXXXXXXXXX` (random) in `parent`, 0700. Made with `mkdir`,
/// which fails rather than reuse anything already there, so another user cannot have
/// prepared it.
fn fresh_folder(parent: &Path) -> io::Result<PathBuf> {
    use std::hash::{BuildHasher, Hasher};
    let mut last = None;
    for attempt in 0..16u32 {
        // RandomState's keys are OS randomness, fresh for each one.
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u32(attempt);
        let folder = parent.join(format!("rumor-tui-{:016x}", h.finish()));
        match DirBuilder::new().mode(0o700).create(&folder) {
            Ok(()) => {
                check_private(&folder)?;
                return Ok(folder);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free folder name")))
}

/// The folder must be a real folder (not a symlink), this user's, and closed to group and
/// others; the error names the folder and what is wrong.
fn check_private(folder: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(folder)?;
    let shown = folder.display();
    if !meta.is_dir() {
        return Err(io::Error::other(format!("{shown} is not a folder")));
    }
    if meta.uid() != user_id()? {
        return Err(io::Error::other(format!(
            "{shown} belongs to user {}, not to this one; the log stays out of it",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{shown} has mode {mode:04o}; the log goes only in a private folder (chmod 700)"
        )));
    }
    Ok(())
}

/// Opens `path` as a new file, 0600 (the umask can only narrow that), failing if anything is
/// there already; a symlink included, which `O_EXCL` never follows.
fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// This process's user id: the owner of its own `/proc` entry (the workspace denies the
/// unsafe `getuid`).
fn user_id() -> io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// The error for a `--log-file` the dashboard will not write.
fn refused(why: &str) -> io::Error {
    io::Error::other(format!("refused: {why}"))
}

/// `since_epoch` as `2026-11-25T15:40:01.123Z`.
pub fn format_utc(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): Howard Hinnant's
/// `civil_from_days`, which avoids a date crate for one timestamp format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Level;
    use rumor::{EventKind, Incarnation, Member, MemberState, NodeName, Tags};

    #[allow(
        clippy::disallowed_methods,
        reason = "the test's one clock read, as an origin"
    )]
    fn origin() -> (Instant, SystemTime) {
        (
            Instant::now(),
            UNIX_EPOCH + Duration::from_secs(1_795_564_800),
        )
    }

    fn member(name: &str) -> Member {
        Member {
            name: NodeName::new(name).unwrap(),
            addr: "127.0.0.1:7001".parse().unwrap(),
            incarnation: Incarnation(2),
            state: MemberState::Dead,
            tags: Tags::default(),
            since: origin().0,
            rtt: None,
        }
    }

    #[test]
    fn each_log_line_and_event_is_written_once_with_its_wall_time() {
        let path =
            std::env::temp_dir().join(format!("rumor-tui-logfile-{}.log", std::process::id()));
        let o = origin();
        let _ = std::fs::remove_file(&path);
        let mut file = LogFile::create(&path, o).unwrap();
        let mut app = App::new(o.0, member("n1"));
        app.log(Level::Info, "first");
        app.log(Level::Warn, "second");
        file.sync(&app).unwrap();
        app.advance(o.0 + Duration::from_millis(1500));
        app.log(Level::Error, "third");
        // As the draw loop does: pending lines first, so the file stays in time order.
        file.sync(&app).unwrap();
        file.event(&Event {
            kind: EventKind::Failed,
            member: member("n2"),
            at: o.0 + Duration::from_secs(2),
            user: None,
        })
        .unwrap();
        file.sync(&app).unwrap();
        file.sync(&app).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "2026-11-25T00:00:00.000Z INFO first",
                "2026-11-25T00:00:00.000Z WARN second",
                "2026-11-25T00:00:01.500Z ERROR third",
                "2026-11-25T00:00:02.000Z EVENT failed n2 127.0.0.1:7001 incarnation 2 state dead",
            ]
        );
    }

    /// A folder of the test's own under the temp dir, removed afterwards.
    struct Folder(PathBuf);

    impl Folder {
        fn new(label: &str) -> Folder {
            let dir = std::env::temp_dir()
                .join(format!("rumor-tui-logfile-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            Folder(dir)
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_named_log_file_with_a_second_name_or_a_dangling_symlink_is_refused() {
        let dir = Folder::new("named");
        let target = dir.0.join("target");
        std::fs::write(&target, "theirs\n").unwrap();
        let linked = dir.0.join("linked.log");
        std::fs::hard_link(&target, &linked).unwrap();
        let Err(e) = LogFile::open_named(&linked, origin()) else {
            panic!("a hard link was opened");
        };
        assert!(e.to_string().contains("hard link"), "{e}");
        // A symlink to nothing: neither created through nor opened.
        let dangling = dir.0.join("dangling.log");
        std::os::unix::fs::symlink(dir.0.join("nowhere"), &dangling).unwrap();
        let Err(e) = LogFile::open_named(&dangling, origin()) else {
            panic!("a dangling symlink was opened");
        };
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!dir.0.join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs\n");
    }

    #[test]
    fn a_folder_others_may_enter_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Folder::new("open");
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_private(&dir.0).unwrap_err().to_string();
        assert!(
            e.contains("mode 0755") && e.contains(&dir.0.display().to_string()),
            "{e}"
        );
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private(&dir.0).unwrap();
        let fresh = fresh_folder(&dir.0).unwrap();
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_ne!(
            fresh_folder(&dir.0).unwrap(),
            fresh,
            "each run a new folder"
        );
    }

    #[test]
    fn utc_timestamps_match_known_dates() {
        assert_eq!(format_utc(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:34:56.789 UTC, a leap day.
        assert_eq!(
            format_utc(Duration::from_millis(951_827_696_789)),
            "2000-02-29T12:34:56.789Z"
        );
        // 2026-11-25 00:00:00 UTC.
        assert_eq!(
            format_utc(Duration::from_secs(1_795_564_800)),
            "2026-11-25T00:00:00.000Z"
        );
    }
}
