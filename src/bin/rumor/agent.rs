//! `rumor agent`: one node, its membership changes printed as JSON lines on stdout.
//!
//! A reader of stdout that stalls blocks the agent's writes, never the node: the node keeps at
//! most `Node::EVENT_QUEUE` unread events and drops (and counts) the rest, and once a write goes
//! through again the agent prints an `"event":"events_dropped"` line with how many were lost.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use crossbeam_channel::{Receiver, Sender, TrySendError, select};
use rumor::cli::{NodeArgs, flag_for_field};
use rumor::{Event, JoinReport, KeyChange, Node, StartError, Status, json, parse_duration};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::handlers::{HandlerSpec, Handlers};

/// `rumor agent`: node options plus what only the agent prints.
#[derive(Args, Debug)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    node: NodeArgs,

    /// Also print this node's counters as a JSON line ("event":"stats") this often
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    stats_interval: Option<Duration>,

    /// Run CMD with `sh -c` for each event, or for the events FILTER names (`failed,left`,
    /// `user:NAME`, `*`); the event's JSON line on stdin, RUMOR_* variables (repeatable)
    #[arg(long = "on-event", value_name = "[FILTER=]CMD", value_parser = HandlerSpec::parse)]
    on_event: Vec<HandlerSpec>,

    /// Kill a handler run (and its process group) that lasts longer than this
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    handler_timeout: Duration,

    /// Events each handler's queue holds while it runs; more are dropped and counted
    #[arg(long, value_name = "N", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    handler_queue: u32,
}

/// Runs the agent until a signal, a closed stdout, or the node stopping; returns the exit code.
pub(crate) fn run(args: AgentArgs) -> ExitCode {
    let key_file = args.node.key_file.clone();
    let config = match args.node.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "rumor: invalid value for {} ({}): {e}",
                flag_for_field(e.field),
                e.field
            );
            return ExitCode::from(2);
        }
    };
    forget_keys_env();
    if let Some((a, b, var)) = crate::handlers::colliding_tags(&config.tags) {
        eprintln!(
            "rumor: invalid value for --tag (tags): `{a}` and `{b}` would both be {var} in \
             --on-event handlers' environment (which then set neither); rename one"
        );
        return ExitCode::from(2);
    }
    // Registered before the node starts, so a signal during a slow join is not lost and does
    // not kill the process before it can answer.
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rumor: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let (sig_tx, sig_rx) = crossbeam_channel::bounded(4);
    let (hup_tx, hup_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut seen = 0;
        for sig in signals.forever() {
            if sig == SIGHUP {
                // Several HUPs before the reload ran are one reload.
                let _ = hup_tx.try_send(());
                continue;
            }
            seen += 1;
            if seen > 1 {
                // A second signal while leaving: the user wants out now.
                eprintln!("rumor: second signal, exiting without finishing the leave");
                std::process::exit(1);
            }
            let _ = sig_tx.send(sig);
        }
    });

    let mut handlers = match Handlers::start(
        &args.on_event,
        args.handler_timeout,
        args.handler_queue as usize,
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("rumor: cannot start the event handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let mut seeds: Vec<String> = config.seeds.iter().map(ToString::to_string).collect();
    seeds.extend(config.seed_hosts.iter().cloned());
    let retrying = config.retry_join.is_some();
    let leave_timeout = config.leave_timeout;
    let control = config.control_socket.clone();
    let key_file = key_file.filter(|_| config.keyring.is_some());
    let node = match Node::start(config) {
        Ok(node) => node,
        Err(e) => {
            eprintln!("rumor: {e}");
            let code = if matches!(e, StartError::Config(_)) {
                2
            } else {
                1
            };
            return ExitCode::from(code);
        }
    };
    let name = node.name().to_string();
    eprintln!("rumor: {name} listening on {}", node.addr());
    if seeds.is_empty() {
        eprintln!("rumor: started a new cluster");
    } else if retrying {
        eprintln!("rumor: joining via {} in the background", seeds.join(", "));
    } else {
        eprintln!("rumor: joined via {}", seeds.join(", "));
    }
    if let Some(path) = &control {
        eprintln!("rumor: control socket at {}", path.display());
    }
    let mut join_reports = node.join_reports();

    let events = node.events();
    let no_events = crossbeam_channel::never();
    let ticks = match args.stats_interval {
        Some(d) if !d.is_zero() => crossbeam_channel::tick(d),
        _ => crossbeam_channel::never(),
    };
    let mut printer = match Printer::start() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rumor: cannot start the stdout writer: {e}");
            return ExitCode::from(1);
        }
    };
    let mut drops = Drops::default();
    let mut exit = ExitCode::SUCCESS;
    // False when the node is already gone: nothing to leave.
    let mut leave = true;
    loop {
        // While the printer holds a line it had no room for, no event is taken: they wait in
        // the node's channel, which keeps at most EVENT_QUEUE and counts the rest.
        let taking = if printer.busy() { &no_events } else { &events };
        select! {
            recv(taking) -> ev => match ev {
                Ok(ev) => {
                    let line = json::event(&name, &ev, json::unix_ms());
                    if printer.offer(line.to_string()).is_err()
                        || drops.report(&mut printer, &name, &node).is_err()
                    {
                        // stdout is gone (the reader exited): nobody can hear us; leave cleanly.
                        break;
                    }
                    handlers.dispatch(&name, &ev, &|| line.to_string());
                }
                // Asked to leave over the control socket: the node left, and so does the agent.
                Err(_) if node.status() == Status::Left => {
                    eprintln!("rumor: left (asked over the control socket)");
                    leave = false;
                    break;
                }
                Err(_) => {
                    eprintln!("rumor: the node stopped unexpectedly");
                    exit = ExitCode::from(1);
                    leave = false;
                    break;
                }
            },
            recv(printer.written) -> written => {
                if written.is_err()
                    || printer.retry().is_err()
                    || drops.report(&mut printer, &name, &node).is_err()
                {
                    // The writer ended: stdout is gone.
                    break;
                }
            },
            recv(ticks) -> _ => {
                // Skipped while stdout is stalled: the next tick has fresher numbers anyway.
                let stats = json::stats(&name, &node.summary(), json::unix_ms());
                if printer.offer_if_room(stats.to_string()).is_err()
                    || drops.report(&mut printer, &name, &node).is_err()
                {
                    break;
                }
            },
            recv(join_reports) -> report => match report {
                Ok(JoinReport::GaveUp { attempts }) => {
                    eprintln!("rumor: no seed answered {attempts} attempts; giving up");
                    exit = ExitCode::from(1);
                    break;
                }
                Ok(report) => log_join(&report),
                // The join thread is done: stop listening to it.
                Err(_) => join_reports = crossbeam_channel::never(),
            },
            recv(hup_rx) -> _ => reload_keys(&node, key_file.as_deref()),
            recv(sig_rx) -> _ => break,
        }
    }

    if !leave {
        printer.finish(drops.last_line(&name, &node));
        return exit;
    }
    eprintln!("rumor: leaving");
    let result = node.leave(leave_timeout + Duration::from_millis(500));
    // Changes observed while leaving still belong in the log (handlers are not started for
    // them any more, since the agent is exiting), and so do the ones lost.
    let rest: Vec<Event> = events.try_iter().collect();
    let lines = rest
        .iter()
        .map(|ev| json::event(&name, ev, json::unix_ms()).to_string())
        .chain(drops.last_line(&name, &node));
    printer.finish(lines);
    drop(node);
    handlers.stop();
    match result {
        Ok(()) => {
            eprintln!("rumor: left");
            exit
        }
        Err(e) => {
            eprintln!("rumor: {e}");
            ExitCode::from(1)
        }
    }
}

/// Removes `RUMOR_KEYS` from the agent's environment once the keyring is built (issue 26,
/// finding 9): whatever the agent starts later (its `--on-event` handlers, which also remove
/// it themselves) must never inherit the cluster's only secret. Called while the agent is
/// still single-threaded, before the signal, handler and node threads exist.
///
/// What this cannot do: the kernel keeps the environment the process was started with, so
/// `/proc/PID/environ` still shows it to the agent's own user and to root, who could read the
/// key file anyway. A key file (mode 0600) is the way to keep keys out of any environment.
#[allow(unsafe_code)]
fn forget_keys_env() {
    if std::env::var_os(rumor::cli::KEYS_ENV).is_some() {
        // SAFETY: no other thread exists yet (clap and the config file parse on this one), so
        // nothing can read the environment while it changes.
        unsafe { std::env::remove_var(rumor::cli::KEYS_ENV) };
    }
}

/// SIGHUP: the key file is read again and replaces the keyring. A file that no longer reads
/// (or a node without one) leaves the keys as they were.
fn reload_keys(node: &Node, key_file: Option<&std::path::Path>) {
    let Some(path) = key_file else {
        eprintln!("rumor: SIGHUP ignored: no --key-file to reload");
        return;
    };
    let ring = match rumor::cli::read_key_file(path) {
        Ok(ring) => ring,
        Err(e) => {
            eprintln!("rumor: key file not reloaded, keys unchanged: {e}");
            return;
        }
    };
    let count = ring.keys().len();
    match node.change_keys(KeyChange::Replace(ring)) {
        Ok(_) => eprintln!("rumor: reloaded {} ({count} keys)", path.display()),
        Err(e) => eprintln!("rumor: key file not reloaded: {e}"),
    }
}

fn log_join(report: &JoinReport) {
    match report {
        JoinReport::NoAnswer {
            attempt,
            tried,
            unresolved,
            waited,
        } => {
            let tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
            let mut line = format!(
                "rumor: join attempt {attempt}: no answer within {waited:?} from [{}]",
                tried.join(", ")
            );
            if !unresolved.is_empty() {
                line.push_str(&format!("; not resolved: {}", unresolved.join(", ")));
            }
            eprintln!("{line}");
        }
        JoinReport::Joined { attempt, via } => {
            eprintln!("rumor: joined via {via} (attempt {attempt})");
        }
        JoinReport::GaveUp { attempts } => eprintln!("rumor: gave up joining after {attempts}"),
    }
}

/// The events the node dropped because this agent did not read them in time (its stdout was
/// not being read, so its writes blocked): reported once it can write again.
#[derive(Default)]
struct Drops {
    /// The node's count when last reported.
    reported: u64,
}

impl Drops {
    /// Prints an `events_dropped` line (and says so on stderr) if the node dropped events
    /// since the last report: `count` since then, `total` since the start. Such drops happen
    /// while the agent is blocked writing to a stdout nobody reads, so this runs right after a
    /// write went through: the line comes as soon as the reader is back, among the events the
    /// node kept (every one of them older than the dropped ones).
    fn report(&mut self, printer: &mut Printer, name: &str, node: &Node) -> Result<(), Gone> {
        let total = node.events_dropped();
        if total <= self.reported {
            return Ok(());
        }
        let count = total - self.reported;
        // No room yet: told at the next chance, with the count then.
        if printer.offer_if_room(dropped_line(name, count, total))? {
            self.reported = total;
            say_dropped(count, total);
        }
        Ok(())
    }

    /// At exit: the line for drops not reported yet, if any.
    fn last_line(&mut self, name: &str, node: &Node) -> Option<String> {
        let total = node.events_dropped();
        let count = total.checked_sub(self.reported).filter(|&c| c > 0)?;
        self.reported = total;
        say_dropped(count, total);
        Some(dropped_line(name, count, total))
    }
}

/// The stdout line that says `count` events were lost since the last such line (`total` since
/// the start).
fn dropped_line(name: &str, count: u64, total: u64) -> String {
    serde_json::json!({
        "ts_ms": json::unix_ms(),
        "node": name,
        "event": "events_dropped",
        "count": count,
        "total": total,
    })
    .to_string()
}

fn say_dropped(count: u64, total: u64) {
    eprintln!(
        "rumor: {count} events dropped while stdout was not read ({total} in all; the node \
         holds at most {} unread)",
        Node::EVENT_QUEUE
    );
}

/// Lines the stdout writer holds before the agent stops taking events: enough to ride out a
/// reader's hiccup, small next to the node's own queue (a line is a few hundred bytes).
const PRINT_QUEUE: usize = 256;

/// How long an exiting agent waits for a stalled stdout to take its last lines.
const PRINT_GRACE: Duration = Duration::from_secs(2);

/// stdout was closed (its reader exited).
#[derive(Debug)]
struct Gone;

/// The JSON lines, written to stdout by a thread of their own, so that a reader that stops
/// reading blocks only that thread: the agent still answers signals (a SIGTERM still leaves),
/// SIGHUP and join reports, and only stops taking events, which then wait in the node's
/// bounded channel.
struct Printer {
    lines: Sender<String>,
    /// A message after each line written (room in the queue again); disconnects when the
    /// writer ends, on a write error.
    written: Receiver<()>,
    /// The line the queue had no room for; while there is one, no events are taken.
    pending: Option<String>,
}

impl Printer {
    fn start() -> io::Result<Printer> {
        let (lines, queued) = crossbeam_channel::bounded::<String>(PRINT_QUEUE);
        let (wrote, written) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                let mut out = io::stdout().lock();
                for line in queued {
                    // One line per event, visible at once to a reader of a pipe.
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        return;
                    }
                    let _ = wrote.try_send(());
                }
            })?;
        Ok(Printer {
            lines,
            written,
            pending: None,
        })
    }

    /// A line waits for room: take no events until [`Printer::retry`] clears it.
    fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Queues an event's line; with the queue full it is held as the pending line (the
    /// caller takes no more events until it goes through). Never blocks.
    fn offer(&mut self, line: String) -> Result<(), Gone> {
        match self.lines.try_send(line) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(line)) => {
                self.pending = Some(line);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(Gone),
        }
    }

    /// Queues a line only if there is room now (a stats or drop line can wait or be skipped);
    /// true if it was queued.
    fn offer_if_room(&mut self, line: String) -> Result<bool, Gone> {
        if self.busy() {
            return Ok(false);
        }
        match self.lines.try_send(line) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => Ok(false),
            Err(TrySendError::Disconnected(_)) => Err(Gone),
        }
    }

    /// The writer made room: the pending line goes in if it fits now.
    fn retry(&mut self) -> Result<(), Gone> {
        match self.pending.take() {
            Some(line) => self.offer(line),
            None => Ok(()),
        }
    }

    /// Prints what it holds, then `rest`, waiting at most [`PRINT_GRACE`] in all for a
    /// stalled stdout, then gives up on the rest (an exit is not held hostage by its reader).
    fn finish(self, rest: impl IntoIterator<Item = String>) {
        let Printer {
            lines,
            written,
            pending,
        } = self;
        let timeout = crossbeam_channel::after(PRINT_GRACE);
        for line in pending.into_iter().chain(rest) {
            select! {
                send(lines, line) -> sent => if sent.is_err() {
                    // The writer ended: stdout is gone.
                    return;
                },
                recv(timeout) -> _ => {
                    eprintln!("rumor: stdout is not being read; exiting without the last lines");
                    return;
                },
            }
        }
        drop(lines);
        loop {
            select! {
                recv(written) -> w => if w.is_err() {
                    return;
                },
                recv(timeout) -> _ => {
                    eprintln!("rumor: stdout is not being read; exiting without the last lines");
                    return;
                },
            }
        }
    }
}
