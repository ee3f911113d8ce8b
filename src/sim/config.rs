//! What a simulation is built from: the node count, the timings every node starts from, the
//! network's latency and loss, and the one seed.

use super::addr::{addr_of, name_of};
use super::network::Latency;
use crate::config::{Config, Profile};

/// What a simulation is made of: how many nodes, their timings, the network and the seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Timings every node starts from; its name and addresses are set per node.
    pub template: Config,
    /// Packet latency.
    pub latency: Latency,
    /// Uniform loss rate, 0.0 to 1.0.
    pub loss: f64,
    /// Drives every core's RNG and the network's.
    pub seed: u64,
    /// Cores find members through one directory of all nodes' identities shared by all of
    /// them (see the [memory model](super#memory)) rather than through indexes of their own.
    /// The run is the same either way (a test proves the trace hashes equal); off only to
    /// show that.
    pub shared_directory: bool,
}

impl SimConfig {
    /// `nodes` nodes with a profile's timings, the default latency and no loss.
    pub fn new(nodes: usize, profile: Profile, seed: u64) -> Self {
        SimConfig {
            nodes,
            template: Config::new(profile, "n0", addr_of(0)),
            latency: Latency::default(),
            loss: 0.0,
            seed,
            shared_directory: true,
        }
    }

    /// The config of node `i`: the template with its own name and address.
    pub fn node_config(&self, i: usize) -> Config {
        let mut c = self.template.clone();
        c.name = name_of(i);
        c.bind_addr = addr_of(i);
        c.advertise_addr = None;
        c.seeds = Vec::new();
        c
    }
}
