//! `rumor agent --on-event [FILTER=]CMD`: a command run for each matching event, the way serf
//! runs its event handlers.
//!
//! Each handler has a thread of its own with a bounded queue in front of it. The agent's loop
//! only ever `try_send`s into the queues, so a slow, hung or failing handler delays neither the
//! protocol (which runs on the node's own thread anyway), nor the JSON lines on stdout, nor the
//! other handlers; a full queue drops the event, counts it and says so on stderr. A handler
//! runs one event at a time, in order, as `sh -c CMD` in a process group of its own, so that
//! its timeout kills everything it started. It gets the event's JSON line on stdin and the
//! event in `RUMOR_*` variables; its stdout and stderr go to the agent's stderr, never into the
//! JSON lines. It inherits the agent's environment except `RUMOR_KEYS`: a handler never sees a
//! key.
//!
//! A tag `KEY=VALUE` is `RUMOR_TAG_<KEY>`, the key upper-cased with anything but letters and
//! digits as `_`. Keys that give the same name (`role` and `ROLE`, `build-id` and `build_id`)
//! set no variable at all, and `RUMOR_TAG_CONFLICTS` lists such names (blank-separated): a
//! handler reads those tags from the JSON line. The agent refuses such tags of its own.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError, select};
use rumor::{Event, EventKind};

/// Event kinds a filter names, by the names the JSON lines use.
const KINDS: [EventKind; 6] = [
    EventKind::Joined,
    EventKind::Suspected,
    EventKind::Alive,
    EventKind::Failed,
    EventKind::Left,
    EventKind::Updated,
];

/// How long a running handler may go on once the agent is exiting, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// One `--on-event` value: which events, and the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HandlerSpec {
    /// The value as given, to name the handler in logs.
    text: String,
    /// `None` runs for every event.
    filter: Option<Vec<Match>>,
    command: String,
}

/// One item of a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Match {
    Kind(EventKind),
    /// `user` (any name) or `user:NAME`.
    User(Option<String>),
}

impl HandlerSpec {
    /// Parses `CMD` or `FILTER=CMD`, where FILTER is `*` or a comma-separated list of event
    /// kinds, `user` and `user:NAME`.
    ///
    /// The text before the first `=` is a filter when it has no blank and no shell character
    /// in it, and must then be a valid one: `faild=./x.sh` is refused rather than run for every
    /// event as a shell assignment. A command with an `=` of its own and no filter is written
    /// `*=CMD`.
    pub(crate) fn parse(text: &str) -> Result<HandlerSpec, String> {
        let (filter, command) = match text.split_once('=') {
            Some((head, rest)) if looks_like_filter(head) => (Some(head), rest),
            _ => (None, text),
        };
        if command.trim().is_empty() {
            return Err(format!("`{text}` has no command to run"));
        }
        let filter = match filter {
            None => None,
            Some(head) => parse_filter(head).map_err(|why| format!("in `{text}`: {why}"))?,
        };
        Ok(HandlerSpec {
            text: text.to_string(),
            filter,
            command: command.to_string(),
        })
    }

    fn matches(&self, event: &Event) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        filter.iter().any(|m| match m {
            Match::Kind(kind) => event.kind == *kind,
            Match::User(name) => match &event.user {
                Some(user) => name.as_ref().is_none_or(|n| *n == user.name),
                None => false,
            },
        })
    }
}

fn looks_like_filter(head: &str) -> bool {
    const SHELL: &[char] = &[
        '/', '$', '\'', '"', '\\', ';', '&', '|', '<', '>', '(', ')', '`', '~', '{', '}',
    ];
    !head.is_empty() && !head.contains(char::is_whitespace) && !head.contains(SHELL)
}

/// `None` for `*` (every event), else the items.
fn parse_filter(head: &str) -> Result<Option<Vec<Match>>, String> {
    let mut items = Vec::new();
    for item in head.split(',') {
        if item == "*" {
            return Ok(None);
        }
        let m = if let Some(kind) = KINDS.into_iter().find(|k| k.as_str() == item) {
            Match::Kind(kind)
        } else if item == "user" {
            Match::User(None)
        } else if let Some(name) = item.strip_prefix("user:") {
            if name.is_empty() {
                return Err("`user:` needs a user event's name, like user:deploy".into());
            }
            Match::User(Some(name.to_string()))
        } else {
            let kinds: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
            return Err(format!(
                "unknown event `{item}` (expected {}, user, user:NAME or *)",
                kinds.join(", ")
            ));
        };
        items.push(m);
    }
    Ok(Some(items))
}

/// One event as a handler gets it, built once and shared by every handler it matches.
struct Job {
    /// `failed c`, for logs.
    what: String,
    line: String,
    env: Vec<(String, String)>,
}

impl Job {
    fn new(node: &str, event: &Event, line: String) -> Job {
        let m = &event.member;
        let mut env = vec![
            ("RUMOR_EVENT".to_string(), event.kind.as_str().to_string()),
            ("RUMOR_NODE".to_string(), node.to_string()),
            ("RUMOR_MEMBER".to_string(), m.name.as_str().to_string()),
            ("RUMOR_ADDR".to_string(), m.addr.to_string()),
            ("RUMOR_INCARNATION".to_string(), m.incarnation.0.to_string()),
        ];
        if let Some(user) = &event.user {
            // The payload itself comes on stdin only (in the JSON line): it may be binary. A
            // name with a NUL byte (anyone may send one) cannot be a variable, and would keep
            // the handler from starting at all; it is still in the JSON line.
            if !user.name.contains('\0') {
                env.push(("RUMOR_USER_EVENT".to_string(), user.name.clone()));
            }
            env.push(("RUMOR_LTIME".to_string(), user.ltime.0.to_string()));
        }
        // Keys that become the same variable (`role`, `ROLE`) set none: whichever came last
        // would win, and a member could add one to shadow another. The handler is told which.
        let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (key, value) in m.tags.iter() {
            by_name.entry(env_name(key)).or_default().push(value);
        }
        let mut conflicts = Vec::new();
        for (name, values) in by_name {
            match values[..] {
                // A value with a NUL byte cannot be an environment variable; it is still in
                // the JSON line on stdin.
                [value] if !value.contains('\0') => {
                    env.push((format!("RUMOR_TAG_{name}"), value.to_string()));
                }
                [_] => {}
                _ => conflicts.push(name),
            }
        }
        if !conflicts.is_empty() {
            // Variable names are [A-Z0-9_]: a blank separates them unambiguously.
            env.push(("RUMOR_TAG_CONFLICTS".to_string(), conflicts.join(" ")));
        }
        Job {
            what: format!("{} {}", event.kind.as_str(), m.name),
            line,
            env,
        }
    }
}

/// A tag key as a variable name: upper case, anything but letters and digits as `_`
/// (`build-id` is `RUMOR_TAG_BUILD_ID`). Distinct keys can give one name; see [`Job::new`]
/// and [`colliding_tags`].
pub(crate) fn env_name(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_ascii_uppercase(),
            _ => '_',
        })
        .collect()
}

/// The first two of `tags`' keys that would become the same handler variable, with it: the
/// agent refuses such tags of its own, since no handler anywhere could read either.
pub(crate) fn colliding_tags(tags: &rumor::Tags) -> Option<(String, String, String)> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (key, _) in tags.iter() {
        let name = env_name(key);
        if let Some(first) = seen.get(&name) {
            return Some((
                first.to_string(),
                key.to_string(),
                format!("RUMOR_TAG_{name}"),
            ));
        }
        seen.insert(name, key);
    }
    None
}

/// The handlers of one agent: their queues on the agent's side, their threads behind.
pub(crate) struct Handlers {
    queues: Vec<Queue>,
    /// Dropped to tell the workers the agent is exiting.
    stop: Option<Sender<()>>,
    workers: Vec<JoinHandle<()>>,
}

struct Queue {
    spec: Arc<HandlerSpec>,
    jobs: Sender<Arc<Job>>,
    dropped: u64,
    /// Dropped since the queue last took an event, told when it takes one again.
    unreported: u64,
}

impl Handlers {
    /// Starts one worker thread per handler, each behind a queue of `capacity` events.
    pub(crate) fn start(
        specs: &[HandlerSpec],
        timeout: Duration,
        capacity: usize,
    ) -> io::Result<Handlers> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let mut handlers = Handlers {
            queues: Vec::new(),
            stop: Some(stop),
            workers: Vec::new(),
        };
        for (i, spec) in specs.iter().enumerate() {
            let spec = Arc::new(spec.clone());
            let (jobs, queued) = crossbeam_channel::bounded(capacity);
            let worker = Worker {
                spec: Arc::clone(&spec),
                timeout,
                stopped: stopped.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("handler {i}"))
                .spawn(move || worker.run(&queued))?;
            handlers.workers.push(thread);
            handlers.queues.push(Queue {
                spec,
                jobs,
                dropped: 0,
                unreported: 0,
            });
        }
        Ok(handlers)
    }

    /// Hands the event to every handler whose filter matches; never blocks. `line` is the
    /// event's JSON line as the agent printed it.
    pub(crate) fn dispatch(&mut self, node: &str, event: &Event, line: &dyn Fn() -> String) {
        let mut job: Option<Arc<Job>> = None;
        for q in self.queues.iter_mut().filter(|q| q.spec.matches(event)) {
            let job = job.get_or_insert_with(|| Arc::new(Job::new(node, event, line())));
            match q.jobs.try_send(Arc::clone(job)) {
                Ok(()) if q.unreported > 0 => {
                    eprintln!(
                        "rumor: handler `{}`: {} events dropped while its queue was full \
                         ({} in all)",
                        q.spec.text, q.unreported, q.dropped
                    );
                    q.unreported = 0;
                }
                Ok(()) => {}
                Err(TrySendError::Full(job)) => {
                    q.dropped += 1;
                    if q.unreported == 0 {
                        eprintln!(
                            "rumor: handler `{}`: queue full ({} waiting), dropping {} and \
                             later events until it catches up",
                            q.spec.text,
                            q.jobs.len(),
                            job.what
                        );
                    }
                    q.unreported += 1;
                }
                // The worker is gone (it could not start a thread for a run): nothing to do.
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Stops the workers: events still queued are not run (and are counted), a running
    /// handler gets a moment to finish and is then killed. Says on stderr what was dropped.
    pub(crate) fn stop(mut self) {
        for q in &self.queues {
            let unrun = q.jobs.len() as u64;
            if q.dropped + unrun > 0 {
                eprintln!(
                    "rumor: handler `{}`: dropped {} on a full queue, {unrun} queued not run at \
                     exit",
                    q.spec.text, q.dropped
                );
            }
        }
        self.stop.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// The thread behind one handler's queue.
struct Worker {
    spec: Arc<HandlerSpec>,
    timeout: Duration,
    /// Disconnects when the agent exits.
    stopped: Receiver<()>,
}

impl Worker {
    fn run(self, queued: &Receiver<Arc<Job>>) {
        loop {
            select! {
                recv(self.stopped) -> _ => return,
                recv(queued) -> job => match job {
                    // Both may be ready at once, and select picks at random: an exiting agent
                    // starts no more runs.
                    Ok(_) if self.exiting() => return,
                    Ok(job) => self.run_one(&job),
                    Err(_) => return,
                },
            }
        }
    }

    fn exiting(&self) -> bool {
        self.stopped.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected)
    }

    fn run_one(&self, job: &Job) {
        let name = &self.spec.text;
        let mut child = match self.spawn(job) {
            Ok(child) => child,
            Err(e) => {
                eprintln!(
                    "rumor: handler `{name}` for {}: cannot start sh: {e}",
                    job.what
                );
                return;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A handler that does not read its stdin may exit first (EPIPE); that is its right.
            // The line is far below a pipe's buffer, so this cannot block on a handler that
            // never reads. Dropping stdin gives it end-of-file.
            let _ = writeln!(stdin, "{}", job.line);
        }
        let group = child.id();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let waiter = std::thread::Builder::new()
            .name("handler wait".into())
            .spawn(move || drop(done_tx.send(child.wait())));
        if let Err(e) = waiter {
            eprintln!(
                "rumor: handler `{name}` for {}: no thread to wait on it: {e}",
                job.what
            );
            kill_group(group);
            return;
        }
        let timed_out = crossbeam_channel::after(self.timeout);
        let status = select! {
            recv(done) -> status => status.ok(),
            recv(timed_out) -> _ => {
                kill_group(group);
                eprintln!(
                    "rumor: handler `{name}` for {} timed out after {:?}; killed its process group",
                    job.what, self.timeout
                );
                // Reaps it: after SIGKILL that is at once.
                let _ = done.recv();
                return;
            },
            recv(self.stopped) -> _ => {
                let status = done.recv_timeout(EXIT_GRACE).ok();
                if status.is_none() {
                    kill_group(group);
                    eprintln!(
                        "rumor: handler `{name}` for {} still running at exit; killed its \
                         process group",
                        job.what
                    );
                    let _ = done.recv();
                }
                status
            },
        };
        match status {
            Some(Ok(s)) if s.success() => {}
            Some(Ok(s)) => {
                eprintln!("rumor: handler `{name}` for {} {}", job.what, describe(s));
            }
            Some(Err(e)) => eprintln!("rumor: handler `{name}` for {}: wait failed: {e}", job.what),
            None => {}
        }
    }

    fn spawn(&self, job: &Job) -> io::Result<Child> {
        Command::new("sh")
            .arg("-c")
            .arg(&self.spec.command)
            // Never the keys, even if something put them back in the agent's environment
            // after it removed them at start (issue 26, finding 9).
            .env_remove(rumor::cli::KEYS_ENV)
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            // stdout carries the agent's JSON lines; a handler's output is a log.
            .stdout(Stdio::from(io::stderr()))
            .stderr(Stdio::inherit())
            // Its own group, so that a timeout kills what it started too, and a Ctrl-C meant
            // for the agent does not reach it.
            .process_group(0)
            .spawn()
    }
}

/// Kills the process group a handler leads; one that already ended is no error.
fn kill_group(leader: u32) {
    let pid = i32::try_from(leader)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        // sh's answer for a command it could not find or run.
        (Some(127), _) => "failed: exit status 127 (command not found)".into(),
        (Some(126), _) => "failed: exit status 126 (not executable)".into(),
        (Some(code), _) => format!("failed: exit status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended: {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(text: &str) -> Option<Vec<Match>> {
        HandlerSpec::parse(text).unwrap().filter
    }

    #[test]
    fn a_bare_command_runs_for_every_event() {
        let spec = HandlerSpec::parse("./log.sh --all").unwrap();
        assert_eq!(spec.filter, None);
        assert_eq!(spec.command, "./log.sh --all");
        assert_eq!(filter("*=./log.sh"), None);
        assert_eq!(filter("failed,*=./log.sh"), None);
    }

    #[test]
    fn kinds_are_the_json_names() {
        assert_eq!(
            filter("failed,left=./x.sh"),
            Some(vec![
                Match::Kind(EventKind::Failed),
                Match::Kind(EventKind::Left)
            ])
        );
        for kind in KINDS {
            let spec = HandlerSpec::parse(&format!("{}=true", kind.as_str())).unwrap();
            assert_eq!(spec.filter, Some(vec![Match::Kind(kind)]));
        }
    }

    #[test]
    fn user_events_by_name_or_all() {
        assert_eq!(
            filter("user:deploy=./deploy.sh"),
            Some(vec![Match::User(Some("deploy".into()))])
        );
        assert_eq!(
            filter("user,joined=./x.sh"),
            Some(vec![Match::User(None), Match::Kind(EventKind::Joined)])
        );
        assert!(
            HandlerSpec::parse("user:=./x.sh")
                .unwrap_err()
                .contains("name")
        );
    }

    /// An event of `kind` about n1; a user event named `user` when one is given.
    fn event(kind: EventKind, user: Option<&str>) -> Event {
        use rumor::{Incarnation, LamportTime, Member, MemberState, NodeName, Tags, UserEvent};
        let name = NodeName::new("n1").unwrap();
        #[allow(clippy::disallowed_methods)] // a stamp nobody reads; the filter ignores it
        let at = std::time::Instant::now();
        Event {
            kind,
            member: Member {
                name: name.clone(),
                addr: "127.0.0.1:7946".parse().unwrap(),
                incarnation: Incarnation(0),
                state: MemberState::Alive,
                tags: Tags::default(),
                since: at,
                rtt: None,
            },
            at,
            user: user.map(|n| UserEvent {
                name: n.to_string(),
                payload: Vec::new(),
                origin: name,
                ltime: LamportTime(1),
            }),
        }
    }

    #[test]
    fn user_filters_match_user_events_by_name() {
        let deploy = event(EventKind::User, Some("deploy"));
        let other = event(EventKind::User, Some("restart"));
        let joined = event(EventKind::Joined, None);
        let by_name = HandlerSpec::parse("user:deploy=./x.sh").unwrap();
        assert!(by_name.matches(&deploy));
        assert!(!by_name.matches(&other));
        assert!(!by_name.matches(&joined));
        let any_user = HandlerSpec::parse("user=./x.sh").unwrap();
        assert!(any_user.matches(&deploy) && any_user.matches(&other));
        assert!(!any_user.matches(&joined));
        let env = Job::new("n2", &deploy, String::new()).env;
        assert!(
            env.contains(&("RUMOR_USER_EVENT".into(), "deploy".into())),
            "{env:?}"
        );
        assert!(
            env.contains(&("RUMOR_EVENT".into(), "user".into())),
            "{env:?}"
        );
    }

    /// A user event's name comes from whoever sent it; one with a NUL byte cannot be an
    /// environment variable, and must not keep the handler from running at all.
    #[test]
    fn a_user_event_name_with_a_nul_byte_is_left_out_of_the_environment() {
        let ev = event(EventKind::User, Some("deploy\0now"));
        let env = Job::new("n2", &ev, String::new()).env;
        assert!(
            env.iter()
                .all(|(k, v)| !v.contains('\0') && !k.contains('\0')),
            "{env:?}"
        );
        assert!(env.iter().all(|(k, _)| k != "RUMOR_USER_EVENT"), "{env:?}");
        assert!(env.contains(&("RUMOR_LTIME".into(), "1".into())), "{env:?}");
    }

    #[test]
    fn the_command_keeps_its_own_equals_signs() {
        let spec = HandlerSpec::parse("failed=./x.sh --level=warn").unwrap();
        assert_eq!(spec.command, "./x.sh --level=warn");
        // No filter: the text before `=` has a blank or a shell character in it.
        for text in ["./x.sh --level=warn", "echo a=b", "$HOME/x.sh a=b"] {
            let spec = HandlerSpec::parse(text).unwrap();
            assert_eq!((spec.filter, spec.command.as_str()), (None, text));
        }
        let spec = HandlerSpec::parse("*=FOO=bar ./x.sh").unwrap();
        assert_eq!(spec.command, "FOO=bar ./x.sh");
    }

    #[test]
    fn a_bad_filter_is_refused_naming_the_item() {
        for (text, named) in [
            ("faild=./x.sh", "`faild`"),
            ("failed,,left=./x.sh", "``"),
            ("FOO=bar ./x.sh", "`FOO`"),
            ("suspected=./x.sh", "`suspected`"),
        ] {
            let err = HandlerSpec::parse(text).unwrap_err();
            assert!(err.contains(named), "{text}: {err}");
            assert!(err.contains("expected joined, suspect"), "{text}: {err}");
        }
        assert!(
            HandlerSpec::parse("failed=")
                .unwrap_err()
                .contains("no command")
        );
        assert!(HandlerSpec::parse("  ").unwrap_err().contains("no command"));
    }

    /// Issue 26, low: `role` and `ROLE` (or `build-id` and `build_id`) would both be
    /// RUMOR_TAG_ROLE, and which one a handler saw depended on their order: a member could add
    /// `ROLE` to shadow what `role` says. Neither is set; RUMOR_TAG_CONFLICTS names the
    /// variable, and the tags themselves are in the JSON line on stdin.
    #[test]
    fn tag_keys_that_collide_as_variables_set_none_and_are_named() {
        use rumor::Tags;
        let mut ev = event(EventKind::Joined, None);
        ev.member.tags = Tags::new([
            ("role", "web"),
            ("ROLE", "admin"),
            ("zone", "a"),
            ("build-id", "7"),
            ("build_id", "8"),
        ])
        .unwrap();
        let env = Job::new("n2", &ev, String::new()).env;
        let var = |k: &str| -> Vec<&str> {
            env.iter()
                .filter(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(var("RUMOR_TAG_ZONE"), ["a"], "{env:?}");
        assert!(var("RUMOR_TAG_ROLE").is_empty(), "{env:?}");
        assert!(var("RUMOR_TAG_BUILD_ID").is_empty(), "{env:?}");
        assert_eq!(var("RUMOR_TAG_CONFLICTS"), ["BUILD_ID ROLE"], "{env:?}");
        // Without a collision there is no such variable.
        let plain = Job::new("n2", &event(EventKind::Joined, None), String::new()).env;
        assert!(plain.iter().all(|(k, _)| k != "RUMOR_TAG_CONFLICTS"));
    }

    #[test]
    fn tag_keys_become_variable_names() {
        assert_eq!(env_name("role"), "ROLE");
        assert_eq!(env_name("build-id.v2"), "BUILD_ID_V2");
    }
}
