//! Issue 12 over real UDP on 127.0.0.1 (test profile: 50 ms periods): a crash confirmed by
//! healthy members is reported well before an unconfirmed suspicion could end, and a member
//! that loses 80 % of what is sent to it (the fault layer's receive loss) gets one stable
//! verdict from every observer and is whole again soon after the loss ends. The simulator
//! (tests/sim_flaky.rs) proves the protocol over many seeds; these prove it survives real
//! sockets, threads and a loaded machine. Every wait has a deadline.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam_channel::Receiver;
use rumor::{Config, Event, EventKind, MemberState, Node, Profile};

use common::{now, seed, wait_for, wait_until};

/// Scheduling slack on two shared cores (as in udp_cluster.rs).
const SLACK: Duration = Duration::from_millis(500);

fn config(name: &str, seeds: Vec<SocketAddr>) -> Config {
    let mut c = Config::new(Profile::Test, name, "127.0.0.1:0".parse().unwrap());
    c.seeds = seeds;
    c
}

struct Cluster {
    nodes: Vec<Option<Node>>,
    names: Vec<String>,
    events: Vec<Receiver<Event>>,
    log: Vec<Vec<Event>>,
}

impl Cluster {
    /// `n` nodes, each joining through node 0.
    fn start(n: usize) -> Cluster {
        let seed = seed();
        let mut c = Cluster {
            nodes: Vec::new(),
            names: Vec::new(),
            events: Vec::new(),
            log: Vec::new(),
        };
        for i in 0..n {
            let seeds = if i == 0 {
                vec![]
            } else {
                vec![c.node(0).addr()]
            };
            let name = format!("d{i}");
            let node = Node::start_seeded(config(&name, seeds), seed.wrapping_add(i as u64))
                .unwrap_or_else(|e| panic!("seed={seed}: {name} did not start: {e}"));
            c.events.push(node.events());
            c.log.push(Vec::new());
            c.nodes.push(Some(node));
            c.names.push(name);
        }
        let live: Vec<usize> = (0..n).collect();
        assert!(
            wait_until(Duration::from_secs(10), || c.all_see(&live, &live)),
            "seed={seed}: {n} nodes did not converge"
        );
        c.collect();
        c.log.iter_mut().for_each(Vec::clear);
        c
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is running")
    }

    fn state(&self, viewer: usize, about: usize) -> Option<MemberState> {
        let name = &self.names[about];
        self.node(viewer)
            .members()
            .into_iter()
            .find(|m| m.name.as_str() == name)
            .map(|m| m.state)
    }

    /// Every node in `viewers` holds every other node in `about` Alive.
    fn all_see(&self, viewers: &[usize], about: &[usize]) -> bool {
        viewers.iter().all(|&v| {
            about
                .iter()
                .filter(|&&a| a != v)
                .all(|&a| self.state(v, a) == Some(MemberState::Alive))
        })
    }

    fn collect(&mut self) {
        for (rx, log) in self.events.iter().zip(&mut self.log) {
            log.extend(rx.try_iter());
        }
    }

    /// Failed events about any node in `healthy`, as "viewer: member" lines.
    fn failed_about(&self, healthy: &[usize]) -> Vec<String> {
        let mut out = Vec::new();
        for (v, log) in self.log.iter().enumerate() {
            for e in log {
                let about = self.names.iter().position(|n| n == e.member.name.as_str());
                if e.kind == EventKind::Failed && about.is_some_and(|a| healthy.contains(&a)) {
                    out.push(format!("{}: {}", self.names[v], e.member.name));
                }
            }
        }
        out
    }
}

#[test]
fn a_crash_is_confirmed_and_reported_before_an_unconfirmed_suspicion_could_end() {
    let n = 8;
    let mut c = Cluster::start(n);
    let t = config("x", vec![]);
    let floor = t.probe_interval * t.confirmed_suspicion_mult;
    let unconfirmed = t.probe_interval * t.suspicion_mult * t.suspicion_max_timeout_mult;
    // Two periods for someone to probe it and judge, two for the confirmers, then the floor.
    let bound = 4 * t.probe_interval + floor;
    let victim = 5;
    let survivors: Vec<usize> = (0..n).filter(|&i| i != victim).collect();
    c.nodes[victim].take().expect("running").kill();
    let start = now();
    let mut seen = vec![None; n];
    let all = wait_until(unconfirmed + SLACK * 4, || {
        for &s in &survivors {
            if seen[s].is_none() && c.state(s, victim) == Some(MemberState::Dead) {
                seen[s] = Some(now() - start);
            }
        }
        survivors.iter().all(|&s| seen[s].is_some())
    });
    println!("crash: bound {bound:?} (+{SLACK:?}), unconfirmed {unconfirmed:?}, seen {seen:?}");
    assert!(all, "not every survivor reported the crash: {seen:?}");
    let slowest = survivors.iter().filter_map(|&s| seen[s]).max().unwrap();
    assert!(
        slowest <= bound + SLACK,
        "slowest {slowest:?} over {bound:?} + {SLACK:?}"
    );
    assert!(
        slowest < unconfirmed,
        "the verdict waited out the full span"
    );
    c.collect();
    assert_eq!(c.failed_about(&survivors), Vec::<String>::new());
}

#[test]
fn a_member_losing_80_percent_inbound_gets_one_verdict_and_comes_back_when_healed() {
    let n = 8;
    let mut c = Cluster::start(n);
    let flaky = n - 1;
    let observers: Vec<usize> = (0..flaky).collect();
    // 120 periods, the two minutes at lan timings.
    let window = Duration::from_secs(6);
    c.node(flaky).faults().set_loss_rates(0.0, 0.8);
    let start = now();
    let mut dead = vec![false; n];
    let mut reversed = vec![false; n];
    let mut changes = vec![0u32; n];
    // Collecting events until the window ends is the test's run, not its assertion.
    let _ = wait_for(window, || {
        let before: Vec<usize> = c.log.iter().map(Vec::len).collect();
        c.collect();
        for &v in &observers {
            for e in &c.log[v][before[v]..] {
                if e.member.name.as_str() != c.names[flaky] {
                    continue;
                }
                changes[v] += 1;
                match e.kind {
                    EventKind::Failed => dead[v] = true,
                    EventKind::Alive | EventKind::Joined if dead[v] => reversed[v] = true,
                    _ => {}
                }
            }
        }
        now() - start >= window
    });
    c.node(flaky).faults().set_loss(0.0);
    let whole = wait_for(Duration::from_secs(3) + SLACK, || {
        c.all_see(&observers, &[flaky]) && c.all_see(&[flaky], &observers)
    });
    c.collect();
    let mut sorted: Vec<u32> = observers.iter().map(|&v| changes[v]).collect();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let died = observers.iter().filter(|&&v| dead[v]).count();
    println!(
        "flaky: changes per observer {sorted:?}, {died} declared it dead, reversed {:?}, \
         whole after {whole:?}",
        observers.iter().filter(|&&v| reversed[v]).count()
    );
    assert!(
        median <= 6,
        "median observer changed its view {median} times"
    );
    assert!(
        observers.iter().all(|&v| !reversed[v]),
        "a death was taken back while the loss lasted: {reversed:?}"
    );
    assert_eq!(c.failed_about(&observers), Vec::<String>::new());
    assert!(whole.is_some(), "not whole again within 3 s of the heal");
}
