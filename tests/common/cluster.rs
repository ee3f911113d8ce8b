//! A set of real nodes on loopback with the test profile's timings, for the tests that drive
//! whole clusters over UDP (udp_cluster.rs, udp_detection.rs).

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam_channel::Receiver;
use rand::Rng;
use rumor::{Config, Event, EventKind, MemberState, Node, Profile};

use super::{rng, wait_for};

/// Scheduling slack added to every protocol bound: two cores shared with compilers and other
/// test binaries can delay a loop thread by a few hundred milliseconds. Small next to the bounds
/// themselves, so a protocol that is off by a period or more still fails.
pub(crate) const SLACK: Duration = Duration::from_millis(500);

pub(crate) fn config(name: &str, seeds: Vec<SocketAddr>) -> Config {
    let mut c = Config::new(Profile::Test, name, "127.0.0.1:0".parse().unwrap());
    c.seeds = seeds;
    c
}

/// A set of nodes on loopback; a slot is `None` once its node was killed or dropped.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Option<Node>>,
    pub(crate) names: Vec<String>,
    pub(crate) events: Vec<Receiver<Event>>,
    /// Every event each node reported so far, filled by [`Cluster::collect`].
    pub(crate) log: Vec<Vec<Event>>,
}

impl Cluster {
    /// Starts `n` nodes; each joins through a random node started before it.
    pub(crate) fn start(n: usize) -> Cluster {
        let (seed, mut rng) = rng();
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
                vec![c.addr(rng.random_range(0..i))]
            };
            let name = format!("n{i}");
            let node = Node::start_seeded(config(&name, seeds), seed.wrapping_add(i as u64))
                .unwrap_or_else(|e| panic!("seed={seed}: {name} did not start: {e}"));
            c.events.push(node.events());
            c.log.push(Vec::new());
            c.nodes.push(Some(node));
            c.names.push(name);
        }
        c
    }

    pub(crate) fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is running")
    }

    pub(crate) fn addr(&self, i: usize) -> SocketAddr {
        self.node(i).addr()
    }

    pub(crate) fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// What `viewer` believes about node `about`.
    pub(crate) fn state(&self, viewer: usize, about: usize) -> Option<MemberState> {
        let name = &self.names[about];
        self.node(viewer)
            .members()
            .into_iter()
            .find(|m| m.name.as_str() == name)
            .map(|m| m.state)
    }

    /// True when every node in `group` sees every other node in `group` in `state`.
    pub(crate) fn all_see(&self, group: &[usize], about: &[usize], state: MemberState) -> bool {
        group.iter().all(|&v| {
            about
                .iter()
                .filter(|&&a| a != v)
                .all(|&a| self.state(v, a) == Some(state))
        })
    }

    pub(crate) fn converged(&self) -> bool {
        let live = self.live();
        live.iter()
            .all(|&v| self.node(v).members().len() == live.len() - 1)
            && self.all_see(&live, &live, MemberState::Alive)
    }

    pub(crate) fn kill(&mut self, i: usize) {
        self.nodes[i].take().expect("node is running").kill();
    }

    /// Moves every reported event into the log.
    pub(crate) fn collect(&mut self) {
        for (rx, log) in self.events.iter().zip(&mut self.log) {
            log.extend(rx.try_iter());
        }
    }

    /// Events of `kind` that `viewer` reported about `about`.
    pub(crate) fn reported(&self, viewer: usize, kind: EventKind, about: usize) -> usize {
        self.log[viewer]
            .iter()
            .filter(|e| e.kind == kind && e.member.name.as_str() == self.names[about])
            .count()
    }

    /// Failed events about nodes that are still running: false positives.
    pub(crate) fn false_failures(&mut self) -> Vec<String> {
        self.collect();
        self.failed_about(&self.live())
    }

    /// Failed events reported about any node in `about` by a running node, as "viewer
    /// reported member Failed" lines (from the log: [`Cluster::collect`] first).
    pub(crate) fn failed_about(&self, about: &[usize]) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.live() {
            for &a in about {
                if self.reported(v, EventKind::Failed, a) > 0 {
                    out.push(format!(
                        "{} reported {} Failed",
                        self.names[v], self.names[a]
                    ));
                }
            }
        }
        out
    }
}

pub(crate) fn converge(c: &mut Cluster, timeout: Duration) -> Duration {
    let took = wait_for(timeout, || c.converged());
    let took = took.unwrap_or_else(|| {
        let views: Vec<String> = c
            .live()
            .iter()
            .map(|&i| format!("{}: {:?}", c.names[i], c.node(i).members()))
            .collect();
        panic!("no convergence within {timeout:?}:\n{}", views.join("\n"))
    });
    assert_eq!(c.false_failures(), Vec::<String>::new());
    took
}
