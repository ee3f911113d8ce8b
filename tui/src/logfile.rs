//! The dashboard's log file: its own log lines and every membership event, with wall-clock
//! timestamps. The terminal belongs to the dashboard, so nothing is ever logged there.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
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
    /// Creates (or truncates) the file at `path`. `origin` pairs one `Instant` with the wall
    /// clock at that moment.
    pub fn create(path: &Path, origin: (Instant, SystemTime)) -> io::Result<Self> {
        Ok(LogFile {
            out: BufWriter::new(File::create(path)?),
            next_seq: 0,
            origin,
        })
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
