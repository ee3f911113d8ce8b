//! CPU time figures of a process, from /proc.

use std::process::Command;

/// utime + stime of a process in clock ticks, from /proc/PID/stat.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of all of a process's threads in nanoseconds, from /proc/PID/task/*/schedstat
/// (nanosecond resolution: an idle agent uses well under one 10 ms clock tick per second).
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0;
    for t in tasks.flatten() {
        let s = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        sum += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(sum)
}

pub(crate) fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The 1-minute load average, from /proc/loadavg (printed beside the figures: on 2 cores a
/// run of 1,000 agents is measured on a loaded machine).
pub(crate) fn load_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Samples a process's CPU time (`cpu_ns`) every 100 ms on a thread of its own until stopped,
/// so that the busiest second of a phase can be told from its average.
pub(crate) struct CpuSampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Vec<(std::time::Instant, u64)>>,
}

impl CpuSampler {
    pub(crate) fn start(pid: u32) -> Self {
        use std::sync::mpsc::RecvTimeoutError;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            // Bounded: a phase lasts at most a few minutes, and the owner always stops it.
            while samples.len() < 100_000 {
                if let Some(ns) = cpu_ns(pid) {
                    samples.push((crate::cluster::mono(), ns));
                }
                match stopped.recv_timeout(std::time::Duration::from_millis(100)) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            samples
        });
        CpuSampler { stop, thread }
    }

    /// Stops sampling; returns the highest CPU share over any window of at least one second,
    /// in % of one core (0 with fewer than two samples a second apart).
    pub(crate) fn peak_pct(self) -> f64 {
        let _ = self.stop.send(());
        let samples = self.thread.join().unwrap_or_default();
        let mut peak: f64 = 0.0;
        let mut j = 0;
        for (i, &(t0, ns0)) in samples.iter().enumerate() {
            j = j.max(i);
            while j < samples.len() && samples[j].0.duration_since(t0).as_secs_f64() < 1.0 {
                j += 1;
            }
            let Some(&(t1, ns1)) = samples.get(j) else {
                break;
            };
            let secs = t1.duration_since(t0).as_secs_f64();
            peak = peak.max(ns1.saturating_sub(ns0) as f64 / 1e9 / secs * 100.0);
        }
        peak
    }
}

/// A field of /proc/PID/smaps_rollup in KiB ("Pss", "Pss_Anon", "Pss_File"...). PSS divides
/// each shared page among the processes mapping it: the binary's text, mapped by all N
/// agents of one build, counts 1/N to each, which VmRSS counts whole to every agent.
pub(crate) fn smaps_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
