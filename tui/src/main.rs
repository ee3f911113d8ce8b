//! rumor-tui: a rumor node with a live dashboard, or (`--demo N`) a whole loopback cluster.
//!
//! This file wires things together: arguments, the node(s), the terminal (always restored: on
//! quit, on error, on panic, on SIGTERM), and the draw loop. State lives in `app`, drawing in
//! `ui`, the demo's faults in `demo`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};
use std::{panic, thread};

use clap::Parser;
use crossbeam_channel::{Receiver, Sender, never, select};
use ratatui::DefaultTerminal;
use rumor::cli::{NodeArgs, flag_for_field};
use rumor::{Event, Node};
use rumor_tui::app::{Action, App, DemoState, Fault, Level};
use rumor_tui::demo::{DEMO_LEAVE_TIMEOUT, Demo, Restarted, demo_expectation};
use rumor_tui::input::{self, UiEvent};
use rumor_tui::logfile::LogFile;
use rumor_tui::ui;

/// At most this many frames a second: bursts of events are drawn together.
const FRAME: Duration = Duration::from_millis(50);
/// How often the node is asked for counters, RTTs and its table; also the idle redraw rate,
/// since ages and uptime are shown in seconds.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often the demo reads every node's view for the Spread pane while a change travels: at
/// most 20 times a second, as the pane promises. The times it shows come from each node's own
/// record of when it heard the change, so a slower read only delays the picture.
const VIEWS_TRAVELLING: Duration = Duration::from_millis(50);
/// How often it reads them while nothing travels, to notice the next change.
const VIEWS_IDLE: Duration = Duration::from_millis(250);
/// Extra time given to a graceful leave beyond the node's own leave timeout.
const LEAVE_GRACE: Duration = Duration::from_millis(500);

/// A rumor node with a live dashboard of its cluster.
#[derive(Parser, Debug)]
#[command(name = "rumor-tui", version, about, after_help = KEYS_HELP)]
struct Cli {
    #[command(flatten)]
    node: NodeArgs,

    /// Run N real nodes on 127.0.0.1 in this process, fast timings, and watch the first one;
    /// the node options above are then ignored
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=500))]
    demo: Option<u16>,

    /// Where the dashboard writes its log and every membership event: a new file (0600), or
    /// a plain file of this user's, appended to; a symlink is refused
    /// [default: rumor-tui-<name>.log in $XDG_STATE_HOME/rumor, ~/.local/state/rumor, or a
    /// fresh private folder in the temp dir]
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
}

const KEYS_HELP: &str = "Keys: q quit (leaves gracefully), j/k move, / filter, s sort, Enter \
detail, e send a user event, v spread pane ([ ] older/newer), ? help, L leave. Demo: x crash, \
r restart, p pause, +/- packet loss.";

fn main() -> ExitCode {
    // The node options, `--config FILE` included: a file can set any flag of the dashboard.
    let cli: Cli = rumor::cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rumor-tui: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the clock for uptime, ages and rates: the dashboard is a host, like the runtime, so
/// it owns its clock reads; everything it hands the app carries the time as an argument.
#[allow(
    clippy::disallowed_methods,
    reason = "the dashboard's draw loop is a host and reads the clock for display"
)]
fn clock() -> Instant {
    Instant::now()
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    // Nodes start before the terminal is taken over, so that a start error prints plainly.
    let (watched, demo, leave_timeout, control) = match cli.demo {
        Some(n) => {
            eprintln!("rumor-tui: starting {n} demo nodes on 127.0.0.1 ...");
            let (first, demo) = Demo::start(n.into())?;
            (first, Some(demo), DEMO_LEAVE_TIMEOUT + LEAVE_GRACE, None)
        }
        None => {
            let config = cli
                .node
                .into_config()
                .map_err(|e| format!("{} {}", flag_for_field(e.field), e.reason))?;
            let timeout = config.leave_timeout;
            let control = config.control_socket.clone();
            if config.seeds.is_empty() && config.seed_hosts.is_empty() {
                eprintln!("rumor-tui: starting a new cluster at {}", config.bind_addr);
            } else {
                let mut seeds: Vec<String> = config.seeds.iter().map(|s| s.to_string()).collect();
                seeds.extend(config.seed_hosts.iter().cloned());
                let until = match config.retry_join {
                    Some(_) => "in the background, until one answers".to_string(),
                    None => format!("(giving up after {:?})", config.join_timeout),
                };
                eprintln!("rumor-tui: joining via {} {until} ...", seeds.join(", "));
            }
            (Node::start(config)?, None, timeout + LEAVE_GRACE, control)
        }
    };
    let origin = (clock(), wall_clock());
    let (log_path, log) = match cli.log_file {
        Some(path) => {
            let log = LogFile::open_named(&path, origin);
            (path, log)
        }
        None => {
            let path = rumor_tui::logfile::default_path(watched.name())
                .map_err(|e| format!("cannot make a private folder for the log file: {e}"))?;
            let log = LogFile::create(&path, origin);
            (path, log)
        }
    };
    let mut log =
        log.map_err(|e| format!("cannot create the log file {}: {e}", log_path.display()))?;

    let mut app = App::new(origin.0, watched.local());
    app.log_path = Some(log_path.display().to_string());
    app.demo = demo.as_ref().map(|d| DemoState { loss: d.loss() });
    if demo.is_some() {
        app.spread.shown = true;
        app.spread.expect = Some(demo_expectation());
    }
    app.log(
        Level::Info,
        format!("{} running at {}", watched.name(), watched.addr()),
    );
    if let Some(path) = &control {
        app.log(Level::Info, format!("control socket at {}", path.display()));
    }
    if let Some(n) = cli.demo {
        app.log(
            Level::Info,
            format!("demo: {n} nodes; select one and press x, r, p; +/- for loss"),
        );
    }
    // In the file before the terminal is taken over, so a dashboard that cannot get one
    // still leaves a log of its start.
    log.sync(&app)?;

    let (panic_tx, panics) = crossbeam_channel::unbounded();
    let signals = spawn_signal_listener()?;
    // The hook in place before ratatui's (normally the default one, which prints the message
    // and the backtrace note); ours calls it once the terminal is restored.
    let previous_hook = panic::take_hook();
    let mut terminal = ratatui::try_init().map_err(|e| {
        // Raw mode may be on even though the alternate screen failed.
        ratatui::restore();
        format!("cannot take over the terminal (the dashboard needs one): {e}")
    })?;
    install_panic_hook(previous_hook, panic_tx);
    let mut session = Session {
        app,
        log,
        watched,
        demo,
        leave_timeout,
        events_dropped: 0,
    };
    let result = input::spawn_terminal_reader()
        .map_err(Box::<dyn Error>::from)
        .and_then(|keys| session.run(&mut terminal, &keys, &panics, &signals));
    let farewell = session.stop(&mut terminal);
    ratatui::restore();
    eprintln!("rumor-tui: {farewell}; log in {}", log_path.display());
    result
}

#[allow(
    clippy::disallowed_methods,
    reason = "read once, to print wall-clock times in the log file"
)]
fn wall_clock() -> SystemTime {
    SystemTime::now()
}

/// A panic hook, as `std::panic::take_hook` returns it.
type PanicHook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Replaces ratatui's panic hook (which restores the terminal on any thread's panic) with one
/// that tells the threads apart: a panic of the draw loop restores the terminal and prints as
/// usual; a panic on another thread (a node's loop, a restart) goes to the log pane and file,
/// because the dashboard is still running and the screen is still its own.
fn install_panic_hook(previous: PanicHook, to_log: Sender<String>) {
    let _ratatui_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let thread = thread::current();
        match thread.name() {
            Some("main") | None => {
                // Restore first, or the message lands on the alternate screen and vanishes.
                ratatui::restore();
                previous(info);
            }
            Some(name) => {
                // One line: the message's own line break would split it in the pane.
                let text = info.to_string().replace('\n', " ");
                let _ = to_log.send(format!("thread `{name}` {text}"));
            }
        }
    }));
}

/// SIGTERM, SIGINT and SIGHUP end the dashboard like `q` does: a graceful leave, then the
/// terminal is restored.
fn spawn_signal_listener() -> std::io::Result<Receiver<i32>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let (tx, rx) = crossbeam_channel::bounded(4);
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(signal).is_err() {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// Everything the draw loop works with.
struct Session {
    app: App,
    log: LogFile,
    watched: Node,
    demo: Option<Demo>,
    leave_timeout: Duration,
    /// The watched node's count of events it dropped because this loop fell a whole
    /// `Node::EVENT_QUEUE` behind, as last logged.
    events_dropped: u64,
}

impl Session {
    /// The draw loop: wait for an input or the next deadline, fold it into the app, draw when
    /// something changed (at most once per [`FRAME`]) and at least once per [`SAMPLE_EVERY`].
    fn run(
        &mut self,
        terminal: &mut DefaultTerminal,
        keys: &Receiver<UiEvent>,
        panics: &Receiver<String>,
        signals: &Receiver<i32>,
    ) -> Result<(), Box<dyn Error>> {
        let mut events: Receiver<Event> = self.watched.events();
        let restarted: Receiver<Restarted> = match &self.demo {
            Some(demo) => demo.restarted().clone(),
            None => never(),
        };
        let mut dirty = true;
        let mut last_draw: Option<Instant> = None;
        let mut next_sample = clock();
        // Only the demo has other views to read.
        let mut next_views = self.demo.as_ref().map(|_| clock());
        loop {
            let now = clock();
            if now >= next_sample {
                self.sample(now);
                next_sample = now + SAMPLE_EVERY;
                dirty = true;
            }
            if let Some(at) = next_views
                && now >= at
            {
                dirty |= self.read_views(now);
                let every = if self.app.spread.travelling() {
                    VIEWS_TRAVELLING
                } else {
                    VIEWS_IDLE
                };
                next_views = Some(now + every);
            }
            if dirty && last_draw.is_none_or(|at| now >= at + FRAME) {
                terminal.draw(|frame| ui::draw(frame, &self.app))?;
                self.log.sync(&self.app)?;
                last_draw = Some(now);
                dirty = false;
            }
            if self.app.quitting {
                return Ok(());
            }
            let wake = match last_draw {
                Some(at) if dirty => at + FRAME,
                _ => next_sample,
            };
            let wake = next_views.map_or(wake, |at| wake.min(at));
            let timeout = wake.saturating_duration_since(clock());
            select! {
                recv(keys) -> key => {
                    let key = key.map_err(|_| "the terminal input ended")?;
                    if let Some(action) = self.app.handle(clock(), key) {
                        self.act(terminal, action)?;
                    }
                    dirty = true;
                }
                recv(events) -> event => match event {
                    Ok(event) => {
                        self.log.sync(&self.app)?;
                        self.log.event(&event)?;
                        self.app.handle(clock(), UiEvent::Node(event));
                        dirty = true;
                    }
                    // The node stopped (it left): no more events will come.
                    Err(_) => {
                        events = never();
                        if !self.app.left_cluster && self.watched.status() == rumor::Status::Left {
                            // Asked over the control socket (`rumor leave`).
                            self.app.left_cluster = true;
                            self.app.log(Level::Info, "left the cluster (rumor leave); q quits the dashboard");
                            dirty = true;
                        }
                    }
                },
                recv(restarted) -> done => {
                    if let Ok(done) = done {
                        self.finish_restart(done);
                        dirty = true;
                    }
                }
                recv(panics) -> message => {
                    if let Ok(message) = message {
                        self.app.log(Level::Error, message);
                        dirty = true;
                    }
                }
                recv(signals) -> signal => {
                    if let Ok(signal) = signal {
                        self.app.log(Level::Info, format!("signal {signal}: quitting"));
                    }
                    self.app.quitting = true;
                }
                default(timeout) => {
                    self.app.handle(clock(), UiEvent::Tick);
                }
            }
        }
    }

    /// Asks the node for what events do not carry: counters, RTTs, its table, its health.
    fn sample(&mut self, now: Instant) {
        self.app.handle_sample(now, self.watched.snapshot());
        // The table comes from the snapshot and stays right; only the event log has gaps.
        let dropped = self.watched.events_dropped();
        if dropped > self.events_dropped {
            self.app.log(
                Level::Warn,
                format!(
                    "{} events not shown: the dashboard fell {} events behind ({dropped} in all)",
                    dropped - self.events_dropped,
                    Node::EVENT_QUEUE
                ),
            );
            self.events_dropped = dropped;
        }
    }

    /// Demo: reads every running node's view for the Spread pane; true if the pane changed.
    fn read_views(&mut self, now: Instant) -> bool {
        let Some(demo) = &self.demo else {
            return false;
        };
        let mut views = demo.snapshots();
        views.push(self.watched.snapshot());
        self.app.handle_views(now, &views)
    }

    fn act(
        &mut self,
        terminal: &mut DefaultTerminal,
        action: Action,
    ) -> Result<(), Box<dyn Error>> {
        match action {
            Action::Quit => {}
            Action::Leave => {
                self.app.log(Level::Info, "leaving the cluster ...");
                terminal.draw(|frame| ui::draw(frame, &self.app))?;
                match self.watched.leave(self.leave_timeout) {
                    Ok(()) => {
                        self.app.left_cluster = true;
                        self.app
                            .log(Level::Info, "left the cluster; q quits the dashboard");
                    }
                    Err(e) => {
                        self.app.left_cluster = true;
                        self.app.log(Level::Error, format!("leave: {e}"));
                    }
                }
            }
            Action::Crash(name) => {
                let Some(demo) = &mut self.demo else {
                    return Ok(());
                };
                match demo.crash(name.as_str()) {
                    Ok(()) => {
                        self.app.set_fault(&name, Some(Fault::Killed));
                        self.app
                            .log(Level::Info, format!("crashed {name} (killed, no leave)"));
                    }
                    Err(e) => self.app.log(Level::Warn, e),
                }
            }
            Action::Restart(name) => {
                let Some(demo) = &mut self.demo else {
                    return Ok(());
                };
                let mut seeds = vec![self.watched.addr()];
                seeds.extend(demo.live_addrs());
                match demo.restart(name.as_str(), seeds) {
                    Ok(()) => {
                        self.app.set_fault(&name, Some(Fault::Restarting));
                        self.app.log(Level::Info, format!("restarting {name} ..."));
                    }
                    Err(e) => self.app.log(Level::Warn, e),
                }
            }
            Action::Pause(name) => {
                let Some(demo) = &self.demo else {
                    return Ok(());
                };
                match demo.pause(name.as_str()) {
                    Ok(d) => {
                        let until = clock() + d;
                        self.app.set_fault(&name, Some(Fault::Paused { until }));
                        self.app.log(
                            Level::Info,
                            format!("paused {name} for {}s", d.as_secs_f64()),
                        );
                    }
                    Err(e) => self.app.log(Level::Warn, e),
                }
            }
            Action::Broadcast { name, payload } => match self.watched.broadcast(&name, &payload) {
                Ok(ltime) => self.app.log(
                    Level::Info,
                    format!(
                        "sent user event {name} ({} bytes) to every member, ltime {ltime}",
                        payload.len()
                    ),
                ),
                Err(e) => self.app.log(Level::Warn, format!("user event {name}: {e}")),
            },
            Action::Loss(steps) => {
                let Some(demo) = &mut self.demo else {
                    return Ok(());
                };
                let loss = demo.change_loss(steps, &self.watched);
                self.app.demo = Some(DemoState { loss });
                self.app.log(
                    Level::Info,
                    format!("packet loss on every node: {:.0}%", loss * 100.0),
                );
            }
        }
        Ok(())
    }

    fn finish_restart(&mut self, done: Restarted) {
        let Some(demo) = &mut self.demo else {
            return;
        };
        let name = done.name.clone();
        let key = rumor::NodeName::new(&name).ok();
        match demo.finish_restart(done) {
            Ok(addr) => {
                if let Some(key) = &key {
                    self.app.set_fault(key, None);
                }
                self.app.log(
                    Level::Info,
                    format!("{name} restarted at {addr} and joined"),
                );
            }
            Err(e) => {
                if let Some(key) = &key {
                    self.app.set_fault(key, Some(Fault::Killed));
                }
                self.app
                    .log(Level::Error, format!("restart of {name} failed: {e}"));
            }
        }
    }

    /// Leaves gracefully (every demo node too, in parallel), showing it on screen; returns a
    /// line for the restored terminal.
    fn stop(self, terminal: &mut DefaultTerminal) -> String {
        let Session {
            mut app,
            mut log,
            watched,
            demo,
            ..
        } = self;
        if !app.left_cluster {
            app.log(Level::Info, "leaving the cluster ...");
        }
        // The screen may already be gone (the error that ended the loop); that is fine.
        let _ = terminal.draw(|frame| ui::draw(frame, &app));
        let result = thread::scope(|scope| {
            if let Some(demo) = demo {
                scope.spawn(move || demo.shutdown());
            }
            watched.shutdown()
        });
        let farewell = match result {
            Ok(()) => "left the cluster".to_string(),
            Err(e) => format!("stopped without a complete leave ({e})"),
        };
        app.log(Level::Info, farewell.clone());
        let _ = log.sync(&app);
        farewell
    }
}
