//! The operator's commands: `rumor members`, `stats`, `tags`, `event`, `keys`, `leave` and `monitor`, each one
//! request to a running agent's control socket and its answer, shown as a table for people or
//! as JSON for scripts.
//!
//! Exit codes: 0 when the agent did what was asked, 1 when no agent answers at the path or it
//! refused the request (the reason on stderr), 2 for bad flags.
//!
//! Nothing is sent before the client has checked whom it talks to: the socket's folder as the
//! agent checks it (this user's, no access for others) and the serving process's user (this
//! one or root, by SO_PEERCRED). To reach an agent of another user, run the client as that
//! user (`sudo -u USER rumor members`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Args, Subcommand, ValueEnum};
use rumor::Tags;
use rumor::cli::{default_control_dir, default_control_path};
use serde_json::{Map, Value, json};

use crate::prometheus;

/// How long an agent may take to answer. A leave is answered once it is done, which takes at
/// most the leave timeout (5 s with the wan profile).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The commands that talk to a running agent.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// List the members a running agent knows, itself included
    Members {
        #[command(flatten)]
        target: Target,
        /// Only members in this state
        #[arg(long, value_name = "STATE", value_parser = ["alive", "suspect", "dead", "left"])]
        status: Option<String>,
    },
    /// Show a running agent's counters, health and round-trip percentiles
    Stats {
        #[command(flatten)]
        target: Target,
        /// Print the Prometheus text format instead (for node_exporter's textfile collector)
        #[arg(long, conflicts_with = "format")]
        prometheus: bool,
    },
    /// Change a running agent's tags; the change gossips to every member
    Tags {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        change: TagChange,
    },
    /// Broadcast a user event from a running agent to every member (each gets it once)
    Event {
        #[command(flatten)]
        target: Target,
        /// The event's name (1 to 64 bytes), what handlers filter on (user:NAME)
        #[arg(value_name = "NAME")]
        event: String,
        /// Its payload as text (at most the agent's max_user_payload bytes); `-` reads the
        /// bytes from standard input
        payload: Option<String>,
    },
    /// List or rotate a running agent's keys (ids only are shown, never the keys)
    Keys {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        op: KeyOp,
    },
    /// Make a running agent leave the cluster gracefully; the agent then exits 0
    Leave {
        #[command(flatten)]
        target: Target,
    },
    /// Stream a running agent's events until Ctrl-C (JSON lines unless --format table)
    Monitor {
        #[command(flatten)]
        target: Target,
    },
}

/// `rumor keys list|install|use|remove`. A rotation is install everywhere, then use
/// everywhere, then remove the old key everywhere. KEY is standard base64 of 32 bytes, or `-`
/// to read it from standard input (a key on the command line shows in `ps`).
#[derive(Subcommand, Debug)]
pub(crate) enum KeyOp {
    /// The key ids, the primary (the one datagrams are sealed with) first
    List,
    /// Accept datagrams sealed with KEY too
    Install {
        /// The key, base64, or `-` for standard input
        key: String,
    },
    /// Seal with KEY, which must be installed, from now on
    Use {
        /// The key, base64, or `-` for standard input
        key: String,
    },
    /// Stop accepting KEY (refused for the primary)
    Remove {
        /// The key, base64, or `-` for standard input
        key: String,
    },
}

/// `rumor tags set` or `rumor tags rm`.
#[derive(Subcommand, Debug)]
pub(crate) enum TagChange {
    /// Add or replace tags
    Set {
        /// The tags to set
        #[arg(required = true, value_name = "KEY=VALUE", value_parser = Tags::parse_pair)]
        pairs: Vec<(String, String)>,
    },
    /// Remove tags
    Rm {
        /// The keys to remove
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
}

/// Which agent to ask, and how to show its answer.
#[derive(Args, Debug)]
pub(crate) struct Target {
    /// The agent's control socket [default: the one socket in the default folder]
    #[arg(long, value_name = "PATH", global = true)]
    control: Option<PathBuf>,
    /// The agent's node name, to find its socket at the default path
    #[arg(long, value_name = "NAME", global = true, conflicts_with = "control")]
    name: Option<String>,
    /// table (for people) or json (one object a line, for scripts) [default: table; json for
    /// monitor]
    #[arg(long, value_name = "FORMAT", global = true)]
    format: Option<Format>,
}

/// How answers are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Why a command failed; it exits 1 with this on stderr.
struct Failure(String);

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure(e.to_string())
    }
}

/// Runs one command against its agent; returns the exit code.
pub(crate) fn run(command: Command) -> ExitCode {
    match execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(why)) => {
            eprintln!("rumor: {why}");
            ExitCode::from(1)
        }
    }
}

fn execute(command: Command) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match command {
        Command::Members { target, status } => {
            let mut request = json!({"cmd": "members"});
            if let Some(status) = status {
                request["status"] = Value::from(status);
            }
            let mut answer = Agent::connect(&target)?.ask(&request)?;
            // The agent lists them in its table's order, sparing its loop the sort.
            if let Some(list) = answer["members"].as_array_mut() {
                list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            }
            match target.format() {
                Format::Json => writeln!(out, "{}", json_line(&answer))?,
                Format::Table => write!(out, "{}", members_table(&answer))?,
            }
        }
        Command::Stats { target, prometheus } => {
            let answer = Agent::connect(&target)?.ask(&json!({"cmd": "stats"}))?;
            if prometheus {
                write!(out, "{}", prometheus::render(&answer))?;
            } else {
                match target.format() {
                    Format::Json => writeln!(out, "{}", json_line(&answer))?,
                    Format::Table => {
                        let parts = [("", &answer["stats"]), ("control", &answer["control"])];
                        write!(out, "{}", key_value_table(&parts))?;
                    }
                }
            }
        }
        Command::Tags { target, change } => {
            let request = match change {
                TagChange::Set { pairs } => {
                    let set: Map<String, Value> = pairs
                        .into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect();
                    json!({"cmd": "tags", "set": set})
                }
                TagChange::Rm { keys } => json!({"cmd": "tags", "rm": keys}),
            };
            let answer = Agent::connect(&target)?.ask(&request)?;
            match target.format() {
                Format::Json => writeln!(out, "{}", json_line(&answer))?,
                Format::Table => write!(out, "{}", key_value_table(&[("", &answer)]))?,
            }
        }
        Command::Event {
            target,
            event,
            payload,
        } => {
            let mut request = json!({"cmd": "event", "name": event});
            match payload.as_deref() {
                Some("-") => {
                    let mut bytes = Vec::new();
                    io::stdin().read_to_end(&mut bytes)?;
                    request["payload_base64"] = Value::from(BASE64.encode(&bytes));
                }
                Some(text) => request["payload"] = Value::from(text),
                None => {}
            }
            let answer = Agent::connect(&target)?.ask(&request)?;
            match target.format() {
                Format::Json => writeln!(out, "{}", json_line(&answer))?,
                Format::Table => writeln!(
                    out,
                    "{} broadcast {} at Lamport time {}",
                    text(&answer["node"]),
                    text(&answer["name"]),
                    text(&answer["ltime"])
                )?,
            }
        }
        Command::Keys { target, op } => {
            let (verb, key) = match op {
                KeyOp::List => ("", None),
                KeyOp::Install { key } => ("install", Some(key)),
                KeyOp::Use { key } => ("use", Some(key)),
                KeyOp::Remove { key } => ("remove", Some(key)),
            };
            let mut request = json!({"cmd": "keys"});
            if let Some(key) = key {
                let key = if key == "-" {
                    let mut text = String::new();
                    io::stdin().read_to_string(&mut text)?;
                    text.trim().to_string()
                } else {
                    key
                };
                request[verb] = Value::from(key);
            }
            let answer = Agent::connect(&target)?.ask(&request)?;
            match target.format() {
                Format::Json => writeln!(out, "{}", json_line(&answer))?,
                Format::Table => {
                    let ids = answer["keys"].as_array().cloned().unwrap_or_default();
                    for (i, id) in ids.iter().enumerate() {
                        let role = if i == 0 { "primary" } else { "accepted" };
                        writeln!(out, "{}  {role}", text(id))?;
                    }
                }
            }
        }
        Command::Leave { target } => {
            let answer = Agent::connect(&target)?.ask(&json!({"cmd": "leave"}))?;
            match target.format() {
                Format::Json => writeln!(out, "{}", json_line(&answer))?,
                Format::Table => writeln!(out, "{} left the cluster", text(&answer["node"]))?,
            }
        }
        Command::Monitor { target } => {
            let mut agent = Agent::connect(&target)?;
            agent.ask(&json!({"cmd": "monitor"}))?;
            // Events come when they happen: no answer deadline from here on.
            agent.stream.set_read_timeout(None)?;
            let format = target.format.unwrap_or(Format::Json);
            loop {
                let Some(event) = agent.read()? else {
                    // An agent that ends a monitor on purpose says so first (below).
                    return Err(Failure(format!(
                        "the agent at {} ended the event stream without a word: it died, or \
                         dropped this monitor for reading too slowly and its notice was lost; \
                         events since are missing",
                        agent.path.display()
                    )));
                };
                if event["event"] == "monitor-dropped" {
                    return Err(Failure(text(&event["error"])));
                }
                if event["event"] == "monitor-end" {
                    // The agent left or was stopped: nothing more will come, none was lost.
                    return Ok(());
                }
                let shown = match format {
                    Format::Json => writeln!(out, "{}", json_line(&event)),
                    Format::Table => writeln!(out, "{}", event_row(&event)),
                };
                // A closed stdout (`rumor monitor | head`) ends the monitor quietly.
                if shown.and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

impl Target {
    fn format(&self) -> Format {
        self.format.unwrap_or(Format::Table)
    }

    /// The socket to use: `--control`, else `--name`'s default path, else the only socket in
    /// the default folder.
    fn path(&self) -> Result<PathBuf, Failure> {
        if let Some(path) = &self.control {
            return Ok(path.clone());
        }
        if let Some(name) = &self.name {
            return Ok(default_control_path(name));
        }
        let dir = default_control_dir();
        let mut sockets: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "sock"))
                    .collect()
            })
            .unwrap_or_default();
        sockets.sort();
        match sockets.len() {
            1 => Ok(sockets.remove(0)),
            0 => Err(Failure(format!(
                "no agent at {} (no socket there; give --name NAME or --control PATH)",
                dir.display()
            ))),
            _ => {
                let names: Vec<String> = sockets
                    .iter()
                    .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .collect();
                Err(Failure(format!(
                    "several agents in {} ({}): give --name NAME or --control PATH",
                    dir.display(),
                    names.join(", ")
                )))
            }
        }
    }
}

/// A connection to an agent's control socket.
struct Agent {
    path: PathBuf,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Agent {
    fn connect(target: &Target) -> Result<Agent, Failure> {
        let path = target.path()?;
        let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                Failure(format!("no agent at {}", path.display()))
            }
            _ => Failure(format!("cannot reach the agent at {}: {e}", path.display())),
        })?;
        // Before a byte is sent (a key, perhaps): is this the agent of this user?
        rumor::cli::check_control_folder(&path)
            .and_then(|()| rumor::cli::check_control_peer(&stream))
            .map_err(|why| Failure(format!("refusing to use {}: {why}", path.display())))?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Agent {
            path,
            stream,
            reader,
        })
    }

    /// Sends one request and reads its answer; an answer with `"ok": false` is a failure.
    fn ask(&mut self, request: &Value) -> Result<Value, Failure> {
        writeln!(self.stream, "{request}")?;
        let answer = self.read()?.ok_or_else(|| {
            Failure(format!(
                "the agent at {} closed the connection without answering",
                self.path.display()
            ))
        })?;
        if answer["ok"] == true {
            Ok(answer)
        } else {
            Err(Failure(format!(
                "the agent refused: {}",
                text(&answer["error"])
            )))
        }
    }

    /// The next line from the agent, parsed; `None` at the end of the stream.
    fn read(&mut self) -> Result<Option<Value>, Failure> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => serde_json::from_str(&line)
                .map(Some)
                .map_err(|e| Failure(format!("the agent sent something that is not JSON: {e}"))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Failure(format!(
                    "the agent at {} did not answer within {} s",
                    self.path.display(),
                    ANSWER_TIMEOUT.as_secs()
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A JSON value as plain text for a terminal: strings without their quotes, every character
/// a terminal could act on escaped ([`printable`]).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => printable(s),
        Value::Null => "-".into(),
        other => json_line(other),
    }
}

/// Whether a terminal could act on `c` rather than show it: C0 and C1 controls and DEL (ESC
/// starts a colour, a cursor move, a title change or a paste; CR overwrites the line; U+009B is
/// an 8-bit CSI), and the marks that reorder text on screen (bidi embeddings, overrides and
/// isolates).
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with each character a terminal could act on written as `\u{1b}`: tag values,
/// names and event payloads come from other members, so a stranger's bytes must never drive
/// the operator's terminal.
fn printable(text: &str) -> String {
    if !text.chars().any(acts_on_terminal) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_terminal(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value as one line. serde_json escapes C0 controls already; DEL, C1 controls and the
/// bidi marks it leaves raw are escaped here too (`\u009b`), which is the same JSON to a
/// parser, since outside strings its output holds none of them.
fn json_line(value: &Value) -> String {
    let line = value.to_string();
    if !line.chars().any(acts_on_terminal) {
        return line;
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if acts_on_terminal(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// NAME ADDRESS STATE INCARNATION RTT TAGS, one member a row, this node marked with `*`.
fn members_table(answer: &Value) -> String {
    let local = &answer["node"];
    let mut rows = vec![["NAME", "ADDRESS", "STATE", "INC", "RTT", "TAGS"].map(String::from)];
    for m in answer["members"].as_array().into_iter().flatten() {
        let mark = if &m["name"] == local { " *" } else { "" };
        let tags: Vec<String> = m["tags"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{}={}", printable(k), text(v)))
            .collect();
        let rtt = m["rtt_us"]
            .as_u64()
            .map_or("-".into(), |us| format!("{:.1}ms", us as f64 / 1000.0));
        rows.push([
            format!("{}{mark}", text(&m["name"])),
            text(&m["addr"]),
            text(&m["state"]),
            text(&m["incarnation"]),
            rtt,
            tags.join(","),
        ]);
    }
    columns(&rows)
}

/// Left-aligned columns, two spaces apart, no trailing blanks.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every field of some objects as `key  value` rows, each under its prefix, nested objects
/// flattened with dots (`by_kind.packets_out.ping`); `ok` and `event` (always the same) are
/// left out.
fn key_value_table(parts: &[(&str, &Value)]) -> String {
    fn join(prefix: &str, key: &str) -> String {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    }
    fn flatten(key: String, value: &Value, rows: &mut Vec<[String; 2]>) {
        match value {
            Value::Object(fields) => {
                for (k, v) in fields {
                    flatten(join(&key, k), v, rows);
                }
            }
            other => rows.push([printable(&key), text(other)]),
        }
    }
    let mut rows = Vec::new();
    for (prefix, value) in parts {
        for (k, v) in value.as_object().into_iter().flatten() {
            if !matches!(k.as_str(), "ok" | "event") {
                flatten(join(prefix, k), v, &mut rows);
            }
        }
    }
    columns(&rows)
}

/// One event as a line for people: time, observer, kind, member, address, incarnation.
fn event_row(event: &Value) -> String {
    let ms = event["ts_ms"].as_u64().unwrap_or(0);
    let secs_of_day = (ms / 1000) % 86_400;
    let what = if event["event"] == "user" {
        format!(
            "{}  from {}  ltime {}  {} ({})",
            text(&event["name"]),
            text(&event["origin"]),
            text(&event["ltime"]),
            text(&event["payload"]),
            text(&event["payload_encoding"]),
        )
    } else {
        format!(
            "{}  {}  inc {}",
            text(&event["member"]),
            text(&event["addr"]),
            text(&event["incarnation"]),
        )
    };
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC  {}  {:<8} {what}",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        ms % 1000,
        text(&event["node"]),
        text(&event["event"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_for_a_terminal_escapes_what_a_terminal_acts_on_and_nothing_else() {
        assert_eq!(printable("db-1 é ✓"), "db-1 é ✓");
        assert_eq!(printable("a\u{1b}[2J\rb"), "a\\u{1b}[2J\\u{d}b");
        assert_eq!(
            printable("\u{9b}\u{7f}\u{202e}\t"),
            "\\u{9b}\\u{7f}\\u{202e}\\u{9}"
        );
        assert_eq!(text(&json!(["\u{1b}"])), r#"["\u001b"]"#);
    }

    #[test]
    fn json_lines_escape_c1_and_bidi_and_parse_the_same() {
        let value = json!({"v": "x\u{1b}\u{9b}\u{7f}\u{2066}y", "n": 1});
        let line = json_line(&value);
        assert!(line.is_ascii(), "{line}");
        assert!(
            line.contains(r"\u009b") && line.contains(r"\u2066"),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), value);
    }
}
