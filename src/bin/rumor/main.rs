//! The `rumor` binary.
//!
//! `rumor agent` runs one node and prints one JSON object per line on stdout for every membership
//! change it observes; human-readable logs go to stderr. Exit codes: 0 after a clean leave
//! (SIGINT/SIGTERM, or `rumor leave`), 1 when the node cannot start or run (address in use, no
//! seed answered, its control socket in use), 2 for bad flags or a bad configuration value.
//!
//! `rumor members`, `stats`, `tags`, `leave` and `monitor` talk to a running agent through its
//! control socket (see `client`).

mod agent;
mod client;
mod handlers;
mod prometheus;

use std::process::ExitCode;

use agent::AgentArgs;
use clap::{Parser, Subcommand};

/// SWIM + Lifeguard failure detector and cluster membership over UDP.
#[derive(Parser, Debug)]
#[command(name = "rumor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The binary's subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node; print its membership changes as JSON lines on stdout
    // Boxed: the node options are large next to the simulator's, and clap builds this once.
    Agent(Box<AgentArgs>),
    /// Simulate N nodes in virtual time and measure a scenario (tables, JSON, CSV, SVG plots)
    #[cfg(feature = "sim")]
    Sim(rumor::sim::cli::SimArgs),
    #[command(flatten)]
    Client(client::Command),
}

fn main() -> ExitCode {
    // clap prints the message naming the flag and exits 2 on a usage error; so does a bad
    // `--config` file, naming the key.
    let cli: Cli = rumor::cli::parse();
    match cli.command {
        Command::Agent(args) => agent::run(*args),
        #[cfg(feature = "sim")]
        Command::Sim(args) => rumor::sim::cli::run(args),
        Command::Client(command) => client::run(command),
    }
}
