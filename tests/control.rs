//! The control socket end to end: real agents on loopback and the `rumor` client commands an
//! operator types, plus raw connections that misbehave. Every agent has its own runtime folder
//! (its socket is found there by `--name`), every wait has a deadline, and every child is
//! killed by its handle however the test ends.

mod agent;
mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use agent::{Agent, BIN, Run, TempDir, json_lines, spawn_piped, text_lines, three_agents};
use common::wait_until;

/// Long enough for gossip on the test profile (50 ms periods) on a loaded machine.
const SPREAD: Duration = Duration::from_secs(5);

/// `rumor members --format json` of `agent`: name -> member object.
fn members(agent: &Agent) -> BTreeMap<String, Value> {
    let answer = agent.ask(&["members", "--format", "json"]).json();
    answer["members"]
        .as_array()
        .expect("a members list")
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m.clone()))
        .collect()
}

/// A raw control connection, kept open for as many requests as a test makes.
struct Session {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Session {
    fn open(agent: &Agent) -> Session {
        let writer = UnixStream::connect(agent.control_path()).expect("connect");
        writer.set_read_timeout(Some(SPREAD)).unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        Session { writer, reader }
    }

    /// Sends `request` (raw bytes, newline included) and reads one answer line.
    fn ask(&mut self, request: &[u8]) -> Value {
        self.writer.write_all(request).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer not JSON ({e}): {line:?}"))
    }

    fn stats(&mut self) -> Value {
        self.ask(b"{\"cmd\":\"stats\"}\n")
    }
}

/// One request over a connection of its own.
fn ask_raw(agent: &Agent, request: &[u8]) -> Value {
    Session::open(agent).ask(request)
}

#[test]
fn tags_set_through_the_socket_reach_every_member() {
    let [a, mut b, mut c] = three_agents();
    let run = a.ask(&["tags", "set", "role=web", "zone=eu-1"]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(
        run.stdout.contains("tags.zone") && run.stdout.contains("eu-1"),
        "{run:?}"
    );
    let want = json!({"role": "web", "zone": "eu-1"});
    for other in [&mut b, &mut c] {
        // Each member prints the change as an event, and lists it in its table.
        let seen = other.expect_line(SPREAD, |v| {
            v["event"] == "updated" && v["member"] == "a" && v["tags"] == want
        });
        let name = other.name.clone();
        assert!(
            seen.is_some(),
            "{name} never printed a's new tags: {:?}",
            other.about("a")
        );
        assert_eq!(members(other)["a"]["tags"], want);
    }
    let run = a.ask(&["tags", "rm", "zone", "--format", "json"]);
    assert_eq!(run.json()["tags"], json!({"role": "web"}));
    for other in [&b, &c] {
        let gone = wait_until(SPREAD, || {
            members(other)["a"]["tags"] == json!({"role": "web"})
        });
        assert!(gone, "{} still lists zone on a", other.name);
    }
    // Over the tags' size bound: refused, and nothing changes.
    let big = format!("blob={}", "x".repeat(600));
    let run = a.ask(&["tags", "set", &big]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("at most 512"), "{run:?}");
    assert_eq!(members(&a)["a"]["tags"], json!({"role": "web"}));
}

#[test]
fn an_event_sent_through_the_socket_reaches_every_member_once() {
    let [mut a, mut b, mut c] = three_agents();
    let run = a.ask(&["event", "deploy", "v42", "--format", "json"]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let ltime = run.json()["ltime"].clone();
    let is_deploy = |v: &Value| v["event"] == "user" && v["name"] == "deploy";
    for agent in [&mut a, &mut b, &mut c] {
        let name = agent.name.clone();
        let line = agent
            .find_line(SPREAD, is_deploy)
            .unwrap_or_else(|| panic!("{name} never printed the event: {:?}", agent.seen));
        assert_eq!(line["origin"], "a", "{line}");
        assert_eq!(line["payload"], "v42", "{line}");
        assert_eq!(line["ltime"], ltime, "{line}");
    }
    // Over the payload bound: refused with the reason, exit 1, and nothing spreads.
    let big = "x".repeat(600);
    let run = a.ask(&["event", "huge", &big]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("max_user_payload"), "{run:?}");
    // Exactly once each, whatever the gossip repeated (and no `huge` anywhere).
    let _ = b.expect_line(Duration::from_millis(500), |_| false);
    for agent in [&mut a, &mut b, &mut c] {
        agent.read_printed();
        let users: Vec<&Value> = agent.seen.iter().filter(|v| v["event"] == "user").collect();
        assert_eq!(users.len(), 1, "{}: {users:?}", agent.name);
    }
}

#[test]
fn every_command_answers_and_the_members_agree_with_the_events() {
    let [mut a, mut b, c] = three_agents();

    let table = a.ask(&["members"]);
    assert_eq!(table.code(), Some(0), "{table:?}");
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(
        rows[0].starts_with("NAME") && rows[0].contains("STATE"),
        "{table:?}"
    );
    assert_eq!(rows.len(), 4, "a header and three members: {table:?}");
    assert!(
        rows.iter().any(|r| r.starts_with("a *")),
        "the local node is marked: {table:?}"
    );

    // The members agree with the events a printed: each member's state and incarnation are
    // those of the last event about it (a waits for the table and the log to settle).
    let agree = |a: &mut Agent| {
        let table = members(a);
        ["b", "c"].iter().all(|name| {
            let last = a.about(name).pop();
            let m = &table[*name];
            last.is_some_and(|e| {
                e["state"] == m["state"]
                    && e["incarnation"] == m["incarnation"]
                    && e["addr"] == m["addr"]
            })
        })
    };
    assert!(
        wait_until(SPREAD, || agree(&mut a)),
        "members {:?} vs events {:?}",
        members(&a),
        a.seen
    );

    // Counters as they grow: wait for a's first probes (and an answered one, for the RTTs).
    let mut stats = Value::Null;
    let probing = wait_until(SPREAD, || {
        stats = a.ask(&["stats", "--format", "json"]).json();
        stats["stats"]["rtt_us"]["members"].as_u64() > Some(0)
    });
    assert!(probing, "a never probed: {stats}");
    assert_eq!(stats["stats"]["node"], "a");
    assert_eq!(stats["stats"]["states"]["alive"], 2);
    assert!(stats["stats"]["probes"].as_u64() > Some(0), "{stats}");
    let pings = &stats["stats"]["by_kind"]["packets_out"]["ping"];
    assert!(pings.as_u64() > Some(0), "{stats}");
    assert!(
        stats["stats"]["rtt_us"]["p50"].as_u64() > Some(0),
        "{stats}"
    );
    assert!(stats["control"]["requests"].as_u64() > Some(0), "{stats}");
    let table = a.ask(&["stats"]);
    assert!(
        table.stdout.lines().any(|l| l.starts_with("health ")),
        "{table:?}"
    );
    assert!(table.stdout.contains("rtt_us.p99"), "{table:?}");

    let prom = a.ask(&["stats", "--prometheus"]);
    assert_eq!(prom.code(), Some(0), "{prom:?}");
    let samples = check_prometheus(&prom.stdout).unwrap_or_else(|e| panic!("{e}\n{}", prom.stdout));
    assert!(samples > 40, "{samples} samples:\n{}", prom.stdout);
    assert!(
        prom.stdout
            .contains("rumor_members{node=\"a\",state=\"alive\"} 2"),
        "{}",
        prom.stdout
    );

    // A monitor on a hears b leave (asked over b's socket), then b's agent exits 0.
    let mut monitor = Monitor::start(&a);
    let run = b.ask(&["leave"]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("b left the cluster"), "{run:?}");
    let exit = b.wait_exit(SPREAD);
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "b's exit: {exit:?} {:?}",
        b.log
    );
    b.must_log("left (asked over the control socket)", SPREAD);
    assert!(!b.control_path().exists(), "b removed its socket");
    let left = monitor.expect(|e| e["event"] == "left" && e["member"] == "b");
    assert_eq!(left["node"], "a");
    assert_eq!(left["state"], "left");
    let filtered = a
        .ask(&["members", "--status", "alive", "--format", "json"])
        .json();
    let names: Vec<&str> = filtered["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert!(
        wait_until(SPREAD, || agree(&mut a)),
        "after the leave: {:?} vs {:?}",
        members(&a),
        a.seen
    );
    drop(c);
}

#[test]
fn bad_requests_are_answered_counted_and_do_not_disturb_probing() {
    let [a, mut b, _c] = three_agents();
    let garbage = ask_raw(&a, b"this is not json\n");
    assert_eq!(garbage["ok"], false);
    assert!(
        garbage["error"].as_str().unwrap().starts_with("not JSON"),
        "{garbage}"
    );
    let unknown = ask_raw(&a, b"{\"cmd\":\"explode\"}\n");
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .contains("unknown command `explode`"),
        "{unknown}"
    );

    // Over-long: answered, then closed.
    let mut long = UnixStream::connect(a.control_path()).unwrap();
    long.set_read_timeout(Some(SPREAD)).unwrap();
    let blob = vec![b'x'; 200 * 1024];
    // The node stops reading at the bound and closes, so the write may be cut short.
    let _ = long.write_all(&blob);
    let mut answer = String::new();
    let _ = long.read_to_string(&mut answer);
    assert!(answer.contains("longer than 65536 bytes"), "{answer:?}");

    // A client that hangs up mid-line, and one that hangs up without a word.
    let mut half = UnixStream::connect(a.control_path()).unwrap();
    half.write_all(b"{\"cmd\":\"mem").unwrap();
    drop(half);
    drop(UnixStream::connect(a.control_path()).unwrap());

    // More clients than the bound: the extra one is told so. First the agent closes the
    // clients above, so that this session and 31 more hold exactly the bound.
    let mut session = Session::open(&a);
    let alone = wait_until(SPREAD, || session.stats()["control"]["connected"] == 1);
    assert!(alone, "the agent kept closed clients: {}", session.stats());
    let held: Vec<UnixStream> = (0..31)
        .map(|_| UnixStream::connect(a.control_path()).unwrap())
        .collect();
    let extra = UnixStream::connect(a.control_path()).unwrap();
    extra.set_read_timeout(Some(SPREAD)).unwrap();
    let mut line = String::new();
    BufReader::new(extra).read_line(&mut line).unwrap();
    assert!(line.contains("too many control clients"), "{line:?}");
    drop(held);

    // Counted, and the node answers as before.
    let counted = wait_until(SPREAD, || {
        let c = &session.stats()["control"];
        let want = json!({
            "bad_request": 2,
            "long_line": 1,
            "half_line": 1,
            "rejected_client": 1,
            "dropped_monitor": 0,
            "foreign_client": 0,
            "idle_client": 0,
        });
        c["errors"] == want
    });
    let stats = session.stats();
    assert!(counted, "{}", stats["control"]);
    // Probing went on throughout: nobody suspected a, and a kept probing.
    let probes = stats["stats"]["probes"].as_u64().unwrap();
    assert!(
        wait_until(SPREAD, || session.stats()["stats"]["probes"].as_u64()
            > Some(probes + 5)),
        "a stopped probing"
    );
    assert!(
        b.about("a").iter().all(|e| e["event"] == "joined"),
        "{:?}",
        b.about("a")
    );
}

#[test]
fn a_flood_of_requests_does_not_disturb_probing() {
    let [a, mut b, mut c] = three_agents();
    let mut session = Session::open(&a);
    let before = session.stats()["stats"]["probes"].as_u64().unwrap();
    // Four clients, 64 requests in flight each, as fast as the agent answers, for two
    // seconds (40 probe periods, each with a 25 ms ack deadline).
    let served: u64 = std::thread::scope(|scope| {
        let flooders: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut flood = Session::open(&a);
                    let batch = b"{\"cmd\":\"stats\"}\n".repeat(64);
                    let start = common::now();
                    let mut served = 0;
                    while common::now() - start < Duration::from_secs(2) {
                        flood.writer.write_all(&batch).unwrap();
                        for _ in 0..64 {
                            let mut line = String::new();
                            flood.reader.read_line(&mut line).unwrap();
                            assert!(line.starts_with("{\"control\""), "{line}");
                        }
                        served += 64;
                    }
                    served
                })
            })
            .collect();
        flooders.into_iter().map(|f| f.join().unwrap()).sum()
    });
    let after = session.stats()["stats"]["probes"].as_u64().unwrap();
    println!(
        "{served} requests served; a probed {} times meanwhile",
        after - before
    );
    assert!(served > 1000, "the flood itself was slow: {served}");
    // 40 periods at one probe each; a loaded machine may lose a few.
    assert!(
        after - before >= 30,
        "a probed {} times in 2 s",
        after - before
    );
    for other in [&mut b, &mut c] {
        let name = other.name.clone();
        let accused = other
            .about("a")
            .into_iter()
            .filter(|e| e["event"] != "joined");
        assert_eq!(accused.count(), 0, "{name} saw a as {:?}", other.about("a"));
    }
}

#[test]
fn an_absent_agent_is_reported_and_exits_1() {
    let dir = TempDir::new();
    let missing = dir.0.join("nobody.sock");
    let run = client(&["members", "--control", missing.to_str().unwrap()], &dir);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("no agent at {}", missing.display())),
        "{run:?}"
    );
    // A stale socket (nobody listening) is no agent either.
    let stale = dir.0.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for cmd in ["members", "stats", "leave", "monitor"] {
        let run = client(&[cmd, "--control", stale.to_str().unwrap()], &dir);
        assert_eq!(run.code(), Some(1), "{cmd}: {run:?}");
        assert!(run.stderr.contains("no agent at"), "{cmd}: {run:?}");
    }
    // By name, in a runtime folder with no agents.
    let run = client(&["stats", "--name", "ghost"], &dir);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("no agent at") && run.stderr.contains("ghost.sock"),
        "{run:?}"
    );
}

#[test]
fn the_socket_is_private_printed_replaced_when_stale_refused_when_live_and_removed() {
    let dir = TempDir::new();
    let mut a = Agent::spawn_in(&dir.0, "a", &[]);
    let path = a.control_path();
    a.must_log(&format!("control socket at {}", path.display()), SPREAD);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // A second agent with the same socket is refused while a lives; a keeps working.
    let mut cmd = Command::new(BIN);
    cmd.args([
        "agent",
        "--name",
        "a",
        "--bind",
        "127.0.0.1:0",
        "--profile",
        "test",
    ])
    .env("XDG_RUNTIME_DIR", &dir.0);
    let second = Run::to_end(cmd, SPREAD);
    assert_eq!(second.code(), Some(1), "{second:?}");
    assert!(
        second
            .stderr
            .contains(&format!("another agent uses {}", path.display())),
        "{second:?}"
    );
    assert_eq!(a.ask(&["members"]).code(), Some(0));

    // Killed, a leaves its socket behind; the next agent of that name replaces it.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert!(path.exists(), "a SIGKILLed agent cannot clean up");
    let mut again = Agent::spawn_in(&dir.0, "a", &[]);
    assert_eq!(
        again.ask(&["stats"]).code(),
        Some(0),
        "the new agent serves the path"
    );

    // A graceful exit (SIGTERM) removes it.
    let sent = Command::new("kill")
        .args(["-TERM", &again.child.id().to_string()])
        .status();
    assert!(sent.expect("run kill(1)").success());
    let exit = again.wait_exit(SPREAD);
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{exit:?}");
    assert!(!path.exists(), "removed on exit");

    // `--control none`: no socket at all.
    let none = Agent::spawn_in(&dir.0, "quiet", &["--control", "none"]);
    let run = none.ask(&["members"]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(!none.control_path().exists());
}

/// Runs a client command with `dir` as its runtime folder.
fn client(args: &[&str], dir: &TempDir) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("XDG_RUNTIME_DIR", &dir.0);
    Run::to_end(cmd, Duration::from_secs(10))
}

/// A running `rumor monitor`, killed on drop (as Ctrl-C would end it).
struct Monitor {
    child: std::process::Child,
    lines: crossbeam_channel::Receiver<Value>,
    seen: Vec<Value>,
}

impl Monitor {
    fn start(agent: &Agent) -> Monitor {
        let mut child = spawn_piped(&mut agent.client(&["monitor"]));
        let lines = json_lines(child.stdout.take().unwrap());
        // Drained, so that a full pipe never stalls it.
        let _log = text_lines(child.stderr.take().unwrap());
        // Events before the agent counts the monitor as subscribed would not reach it.
        let subscribed = wait_until(SPREAD, || {
            let stats = agent.ask(&["stats", "--format", "json"]);
            stats.code() == Some(0) && stats.json()["control"]["monitors"] == 1
        });
        assert!(subscribed, "the monitor never connected");
        Monitor {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn expect(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = common::now() + SPREAD;
        while let Ok(v) = self.lines.recv_deadline(deadline) {
            self.seen.push(v.clone());
            if pred(&v) {
                return v;
            }
        }
        panic!(
            "the monitor never printed the event; it printed {:?}",
            self.seen
        );
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks Prometheus' text exposition format line by line: every line a `# HELP`, a `# TYPE`
/// or a sample; names and labels well formed; each family typed once, before its samples;
/// counters named `_total`; every name `rumor_`; no series twice. Returns the sample count.
fn check_prometheus(text: &str) -> Result<usize, String> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut series = HashSet::new();
    let mut samples = 0;
    for (n, line) in text.lines().enumerate() {
        let at = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text"))?;
            valid_name(name).ok_or_else(|| at("bad metric name"))?;
            if !helped.insert(name.to_string()) || help.trim().is_empty() {
                return Err(at("HELP repeated or empty"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type"))?;
            valid_name(name).ok_or_else(|| at("bad metric name"))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at("unknown type"));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at("a counter's name ends in _total"));
            }
            if typed.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(at("TYPE repeated"));
            }
        } else if line.starts_with('#') || line.trim().is_empty() {
            return Err(at("neither HELP, TYPE nor a sample"));
        } else {
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value"))?;
            let name = &line[..name_end];
            valid_name(name).ok_or_else(|| at("bad metric name"))?;
            if !name.starts_with("rumor_") {
                return Err(at("not rumor_ prefixed"));
            }
            if !typed.contains_key(name) {
                return Err(at("sample before its TYPE"));
            }
            let mut rest = &line[name_end..];
            let mut labels = String::new();
            if let Some(inner) = rest.strip_prefix('{') {
                let close = labels_end(inner).ok_or_else(|| at("bad labels"))?;
                labels = inner[..close].to_string();
                rest = &inner[close + 1..];
            }
            let mut fields = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before the value"))?
                .split(' ');
            let value = fields.next().unwrap_or_default();
            let number = matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok();
            if !number {
                return Err(at("value is not a number"));
            }
            if let Some(ts) = fields.next()
                && ts.parse::<i64>().is_err()
            {
                return Err(at("timestamp is not an integer"));
            }
            if fields.next().is_some() {
                return Err(at("trailing fields"));
            }
            if !series.insert(format!("{name}{{{labels}}}")) {
                return Err(at("series repeated"));
            }
            samples += 1;
        }
    }
    Ok(samples)
}

fn valid_name(name: &str) -> Option<()> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = (first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    ok.then_some(())
}

/// Where `key="value",...}` ends (the index of `}`), checking each label on the way.
fn labels_end(inner: &str) -> Option<usize> {
    let bytes = inner.as_bytes();
    let mut i = 0;
    loop {
        if bytes.get(i) == Some(&b'}') {
            return Some(i);
        }
        let eq = i + inner[i..].find('=')?;
        let key = &inner[i..eq];
        let mut kc = key.chars();
        let first = kc.next()?;
        if !(first.is_ascii_alphabetic() || first == '_')
            || !kc.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        i = eq + 1;
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        loop {
            match bytes.get(i)? {
                b'\\' => {
                    if !matches!(bytes.get(i + 1)?, b'\\' | b'"' | b'n') {
                        return None;
                    }
                    i += 2;
                }
                b'"' => break,
                b'\n' => return None,
                _ => i += 1,
            }
        }
        i += 1;
        match bytes.get(i)? {
            b',' => i += 1,
            b'}' => return Some(i),
            _ => return None,
        }
    }
}

#[test]
fn the_prometheus_checker_refuses_what_it_should() {
    let good = "# HELP rumor_x_total X.\n# TYPE rumor_x_total counter\nrumor_x_total{node=\"a\",kind=\"p\\\"q\"} 3\n";
    assert_eq!(check_prometheus(good), Ok(1));
    for bad in [
        "rumor_x_total 1\n",                                 // no TYPE
        "# TYPE rumor_x counter\nrumor_x 1\n",               // counter without _total
        "# TYPE rumor_x gauge\nrumor_x{node=\"a} 1\n",       // unterminated label
        "# TYPE rumor_x gauge\nrumor_x{node=a} 1\n",         // unquoted label
        "# TYPE rumor_x gauge\nrumor_x one\n",               // not a number
        "# TYPE rumor_x gauge\nrumor_x 1\nrumor_x 2\n",      // series twice
        "# TYPE other gauge\nother 1\n",                     // not rumor_
        "# TYPE rumor_x gauge\n# TYPE rumor_x gauge\n",      // TYPE twice
        "# a comment\n",                                     // neither
        "# TYPE rumor_x gauge\nrumor_x{node=\"a\"} 1 2 3\n", // trailing field
    ] {
        assert!(check_prometheus(bad).is_err(), "accepted {bad:?}");
    }
}
