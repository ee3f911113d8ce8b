//! `--demo N`: N real nodes on 127.0.0.1 in this process, each with its own loop thread and UDP
//! socket, and the faults a person can inject from the dashboard: crash, restart, pause, loss.
//!
//! The dashboard watches the first node (`n1`); this module owns the others. Nothing here is
//! simulated: a crash is [`Node::kill`], a restart is a new [`Node::start`] with the same name
//! joining the survivors, so the cluster has to detect, spread and heal exactly as it would
//! across machines.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use rumor::{Config, Node, Profile, Snapshot, StartError, Tags};

use crate::app::Expectation;

/// How much one `+` or `-` changes the packet loss of every demo node.
pub const LOSS_STEP: f64 = 0.05;
/// The highest loss `+` goes to: beyond it nothing but false suspicions happen.
pub const MAX_LOSS: f64 = 0.5;
/// How long `p` freezes a node: longer than a probe round, so it gets suspected, and about as
/// long as a suspicion lasts, so it either refutes in time or comes back from Failed.
pub const PAUSE_FOR: Duration = Duration::from_secs(2);

/// How long a demo node's graceful leave may gossip before it stops: quitting the demo waits
/// this long at most.
pub const DEMO_LEAVE_TIMEOUT: Duration = Duration::from_millis(500);

/// Timings for demo nodes: fast enough that a crash is detected within seconds, slow enough
/// that a person can watch suspect turn into failed (a 200 ms period, suspicion of 0.6 s to
/// 3.6 s depending on how many members confirm it).
pub fn demo_config(name: &str, bind: SocketAddr, seeds: Vec<SocketAddr>, zone: usize) -> Config {
    let ms = Duration::from_millis;
    let mut c = Config::new(Profile::Test, name, bind);
    c.seeds = seeds;
    c.probe_interval = ms(200);
    c.probe_timeout = ms(100);
    c.gossip_interval = ms(50);
    c.suspicion_mult = 3;
    c.push_pull_interval = ms(5_000);
    // Keep dead members in the node's table long enough to see them and to restart them.
    c.dead_node_reclaim = ms(60_000);
    c.join_timeout = ms(3_000);
    c.leave_timeout = DEMO_LEAVE_TIMEOUT;
    let zones = ["a", "b", "c"];
    if let Ok(tags) = Tags::new([("zone", zones[zone % zones.len()])]) {
        c.tags = tags;
    }
    c
}

/// What gossip promises under [`demo_config`]'s settings, for the Spread pane: each gossip
/// round every holder piggybacks a change to `gossip_nodes` others.
pub fn demo_expectation() -> Expectation {
    let c = demo_config("n1", SocketAddr::from(([127, 0, 0, 1], 0)), Vec::new(), 0);
    Expectation {
        fanout: c.gossip_nodes,
        gossip_interval: c.gossip_interval,
        probe_interval: c.probe_interval,
    }
}

/// A demo node that is not the watched one.
enum Slot {
    Running(Node),
    /// Killed; its address is reused when it restarts.
    Down(SocketAddr),
    /// A restart thread is starting it again at this address.
    Starting(SocketAddr),
}

/// The outcome of a restart, sent back by the thread that ran [`Node::start`] (which blocks
/// until the node has joined, too long to wait for on the draw loop).
pub struct Restarted {
    /// The member's name.
    pub name: String,
    /// The new node, or why it could not start.
    pub result: Result<Node, StartError>,
}

/// The demo nodes other than the watched one, and the loss rate applied to all of them.
pub struct Demo {
    nodes: BTreeMap<String, Slot>,
    zones: BTreeMap<String, usize>,
    loss: f64,
    restarted_tx: Sender<Restarted>,
    restarted_rx: Receiver<Restarted>,
}

impl Demo {
    /// Starts `n` nodes on 127.0.0.1: `n1` first (a new cluster), then the others in parallel
    /// joining it. Returns `n1`, for the dashboard, and the rest. On error every node started
    /// so far is stopped again.
    pub fn start(n: usize) -> Result<(Node, Demo), StartError> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let first = Node::start(demo_config("n1", any, Vec::new(), 0))?;
        let seeds = vec![first.addr()];
        let started: Vec<(String, Result<Node, StartError>)> = thread::scope(|scope| {
            let handles: Vec<_> = (2..=n)
                .map(|i| {
                    let name = format!("n{i}");
                    let config = demo_config(&name, any, seeds.clone(), i - 1);
                    (name, scope.spawn(move || Node::start(config)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(name, h)| {
                    let result = h.join().unwrap_or_else(|_| {
                        Err(StartError::Io(std::io::Error::other(
                            "start thread panicked",
                        )))
                    });
                    (name, result)
                })
                .collect()
        });
        let (restarted_tx, restarted_rx) = crossbeam_channel::unbounded();
        let mut demo = Demo {
            nodes: BTreeMap::new(),
            zones: BTreeMap::new(),
            loss: 0.0,
            restarted_tx,
            restarted_rx,
        };
        let mut failure = None;
        for (i, (name, result)) in started.into_iter().enumerate() {
            match result {
                Ok(node) => {
                    demo.zones.insert(name.clone(), i + 1);
                    demo.nodes.insert(name, Slot::Running(node));
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            first.kill();
            for slot in demo.nodes.into_values() {
                if let Slot::Running(node) = slot {
                    node.kill();
                }
            }
            return Err(e);
        }
        Ok((first, demo))
    }

    /// The current loss rate, 0.0 to [`MAX_LOSS`].
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Where restart threads report back; the draw loop selects on it.
    pub fn restarted(&self) -> &Receiver<Restarted> {
        &self.restarted_rx
    }

    /// Stops `name` abruptly (no leave): the others must detect it.
    pub fn crash(&mut self, name: &str) -> Result<(), String> {
        match self.nodes.remove(name) {
            Some(Slot::Running(node)) => {
                let addr = node.addr();
                node.kill();
                self.nodes.insert(name.to_string(), Slot::Down(addr));
                Ok(())
            }
            Some(other) => {
                self.nodes.insert(name.to_string(), other);
                Err(format!("{name} is not running"))
            }
            None => Err(format!("{name} is not a demo node")),
        }
    }

    /// Starts a crashed `name` again, on its old address (any free one if that was taken
    /// meanwhile), joining through `seeds` (the live nodes). The start runs on its own thread;
    /// its outcome arrives on [`Demo::restarted`].
    pub fn restart(&mut self, name: &str, seeds: Vec<SocketAddr>) -> Result<(), String> {
        let Some(Slot::Down(addr)) = self.nodes.get(name) else {
            return Err(format!("{name} is not down"));
        };
        let addr = *addr;
        let zone = self.zones.get(name).copied().unwrap_or(0);
        let config = demo_config(name, addr, seeds, zone);
        let (tx, owned) = (self.restarted_tx.clone(), name.to_string());
        let loss = self.loss;
        thread::Builder::new()
            .name(format!("restart {name}"))
            .spawn(move || {
                let result = match Node::start(config.clone()) {
                    // Another program took the old port meanwhile: any port will do, the
                    // cluster knows a member by its name.
                    Err(StartError::AddrInUse(_)) => Node::start(Config {
                        bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                        ..config
                    }),
                    other => other,
                }
                .inspect(|node| set_link_loss(node, loss));
                // The dashboard may have quit meanwhile; the node then stops when dropped.
                let _ = tx.send(Restarted {
                    name: owned,
                    result,
                });
            })
            .map_err(|e| format!("cannot start a thread to restart {name}: {e}"))?;
        self.nodes.insert(name.to_string(), Slot::Starting(addr));
        Ok(())
    }

    /// Takes back a restarted node (or marks it down again if its start failed).
    pub fn finish_restart(&mut self, restarted: Restarted) -> Result<SocketAddr, StartError> {
        let Restarted { name, result } = restarted;
        let addr = match self.nodes.get(&name) {
            Some(Slot::Starting(addr) | Slot::Down(addr)) => *addr,
            _ => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        match result {
            Ok(node) => {
                // The loss may have changed while it was starting.
                set_link_loss(&node, self.loss);
                let addr = node.addr();
                self.nodes.insert(name, Slot::Running(node));
                Ok(addr)
            }
            Err(e) => {
                self.nodes.insert(name, Slot::Down(addr));
                Err(e)
            }
        }
    }

    /// Freezes `name` for [`PAUSE_FOR`]; returns how long.
    pub fn pause(&self, name: &str) -> Result<Duration, String> {
        match self.nodes.get(name) {
            Some(Slot::Running(node)) => {
                node.faults().pause(PAUSE_FOR);
                Ok(PAUSE_FOR)
            }
            Some(_) => Err(format!("{name} is not running")),
            None => Err(format!("{name} is not a demo node")),
        }
    }

    /// Moves the loss rate of every node (`watched` included) by `steps` of [`LOSS_STEP`],
    /// within 0 and [`MAX_LOSS`]; returns the new rate.
    pub fn change_loss(&mut self, steps: i8, watched: &Node) -> f64 {
        let raw = self.loss + f64::from(steps) * LOSS_STEP;
        // Rounded to whole steps so that repeated presses never drift (0.1 + 0.05 + ...).
        self.loss = ((raw / LOSS_STEP).round() * LOSS_STEP).clamp(0.0, MAX_LOSS);
        set_link_loss(watched, self.loss);
        for node in self.running() {
            set_link_loss(node, self.loss);
        }
        self.loss
    }

    /// The view of every running node but the watched one, each read through
    /// [`Node::snapshot`], the one round trip the dashboard already makes to its own node.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.running().map(Node::snapshot).collect()
    }

    /// Addresses of the running nodes, for a restart to join through.
    pub fn live_addrs(&self) -> Vec<SocketAddr> {
        self.running().map(Node::addr).collect()
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter_map(|slot| match slot {
            Slot::Running(node) => Some(node),
            _ => None,
        })
    }

    /// Every running node leaves gracefully, all at once so that quitting takes one leave
    /// timeout rather than N.
    pub fn shutdown(self) {
        thread::scope(|scope| {
            for slot in self.nodes.into_values() {
                if let Slot::Running(node) = slot {
                    scope.spawn(move || {
                        // A node that cannot finish its leave is stopped anyway; the others
                        // then see it fail rather than leave, which harms no one at exit.
                        let _ = node.shutdown();
                    });
                }
            }
        });
    }
}

/// Applies the demo's loss rate as the loss of every link: each node drops that share of what
/// it receives and nothing of what it sends. (Dropping on both ends would make a datagram cross
/// two lossy hops, and the header's "loss 20%" would really be 36%.)
fn set_link_loss(node: &Node, rate: f64) {
    node.faults().set_loss_rates(0.0, rate);
}
