//! `rumor agent`: one node, its membership changes printed as JSON lines on stdout.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use clap::Args;
use crossbeam_channel::{Receiver, select};
use rumor::cli::{NodeArgs, flag_for_field};
use rumor::{Event, EventKind, Node, StartError, UserEvent, parse_duration};
use serde_json::json;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// `rumor agent`: node options plus what only the agent prints.
#[derive(Args, Debug)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    node: NodeArgs,

    /// Also print this node's counters as a JSON line ("event":"stats") this often
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    stats_interval: Option<Duration>,
}

/// Runs the agent until a signal, a closed stdout, or the node stopping; returns the exit code.
pub(crate) fn run(args: AgentArgs) -> ExitCode {
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
    // Registered before the node starts, so a signal during a slow join is not lost and does
    // not kill the process before it can answer.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rumor: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let (sig_tx, sig_rx) = crossbeam_channel::bounded(4);
    std::thread::spawn(move || {
        let mut seen = 0;
        for sig in signals.forever() {
            seen += 1;
            if seen > 1 {
                // A second signal while leaving: the user wants out now.
                eprintln!("rumor: second signal, exiting without finishing the leave");
                std::process::exit(1);
            }
            let _ = sig_tx.send(sig);
        }
    });

    let seeds = config.seeds.clone();
    let leave_timeout = config.leave_timeout;
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
    } else {
        let list: Vec<String> = seeds.iter().map(ToString::to_string).collect();
        eprintln!("rumor: joined via {}", list.join(", "));
    }

    let events = node.events();
    let ticks = match args.stats_interval {
        Some(d) if !d.is_zero() => crossbeam_channel::tick(d),
        _ => crossbeam_channel::never(),
    };
    let mut out = io::stdout().lock();
    loop {
        select! {
            recv(events) -> ev => match ev {
                Ok(ev) => {
                    if print_line(&mut out, &event_json(&name, &ev)).is_err() {
                        // stdout is gone (the reader exited): nobody can hear us; leave cleanly.
                        break;
                    }
                }
                Err(_) => {
                    eprintln!("rumor: the node stopped unexpectedly");
                    return ExitCode::from(1);
                }
            },
            recv(ticks) -> _ => {
                if print_line(&mut out, &stats_json(&name, &node)).is_err() {
                    break;
                }
            },
            recv(sig_rx) -> _ => break,
        }
    }

    eprintln!("rumor: leaving");
    let result = node.leave(leave_timeout + Duration::from_millis(500));
    // Changes observed while leaving still belong in the log.
    drain(&mut out, &name, &events);
    drop(node);
    match result {
        Ok(()) => {
            eprintln!("rumor: left");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rumor: {e}");
            ExitCode::from(1)
        }
    }
}

fn drain(out: &mut impl Write, name: &str, events: &Receiver<Event>) {
    for ev in events.try_iter() {
        if print_line(out, &event_json(name, &ev)).is_err() {
            return;
        }
    }
}

fn print_line(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    writeln!(out, "{value}")?;
    // One line per event, visible at once to a reader of a pipe.
    out.flush()
}

fn event_json(node: &str, ev: &Event) -> serde_json::Value {
    if let Some(user) = &ev.user {
        return user_event_json(node, user);
    }
    json!({
        "ts_ms": unix_ms(),
        "node": node,
        "event": ev.kind.as_str(),
        "member": ev.member.name.as_str(),
        "addr": ev.member.addr.to_string(),
        "incarnation": ev.member.incarnation.0,
    })
}

/// A user event: its payload as text when it is UTF-8, else as base64, and which of the two.
fn user_event_json(node: &str, user: &UserEvent) -> serde_json::Value {
    let (payload, encoding) = match std::str::from_utf8(&user.payload) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (BASE64_STANDARD.encode(&user.payload), "base64"),
    };
    json!({
        "ts_ms": unix_ms(),
        "node": node,
        "event": EventKind::User.as_str(),
        "name": user.name,
        "origin": user.origin.as_str(),
        "ltime": user.ltime.0,
        "payload": payload,
        "payload_encoding": encoding,
    })
}

fn stats_json(node_name: &str, node: &Node) -> serde_json::Value {
    let snapshot = node.snapshot();
    let (s, members) = (&snapshot.stats, &snapshot.members);
    let alive = members.iter().filter(|m| m.state.is_active()).count();
    json!({
        "ts_ms": unix_ms(),
        "node": node_name,
        "event": "stats",
        "members": members.len(),
        "active": alive,
        "health": snapshot.health,
        "packets_out": s.total_packets_out(),
        "bytes_out": s.total_bytes_out(),
        "packets_in": s.total_packets_in(),
        "bytes_in": s.total_bytes_in(),
        "dropped": s.total_dropped(),
        "send_errors": s.send_errors,
        "probes": s.probes,
        "probes_failed": s.probes_failed,
        "indirect_probes": s.indirect_probes,
        "suspicions": s.suspicions,
        "refutations": s.refutations,
        "syncs": s.syncs,
        "repairs": s.repairs,
        "last_rtt_us": s.last_rtt_us,
        "user_events": s.user_events,
    })
}

/// Wall-clock milliseconds since the Unix epoch, for the `ts_ms` field.
///
/// clippy.toml forbids `SystemTime::now` so that protocol code takes time as an argument; a
/// timestamp meant for humans and log tools must be wall-clock time at the moment of printing.
#[allow(clippy::disallowed_methods)]
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
