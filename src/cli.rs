//! Command-line options for one node, shared by `rumor agent` and `rumor-tui` (which flattens
//! [`NodeArgs`] into its own arguments). Only node options live here; flags that belong to one
//! binary (output format, the dashboard's demo mode) stay in that binary.
//!
//! [`parse`] reads a binary's arguments together with the file `--config` names, so that every
//! flag of the binary, its own included, can also be set there.

mod file;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

pub use file::{ArgsError, ConfigFileError, parse, try_parse_from};

use crate::config::{Config, Profile, RetryJoin, SuspicionRule, parse_duration, split_host_port};
use crate::error::ConfigError;
use crate::keyring::{Key, Keyring};
use crate::member::Tags;

/// Options that configure one node: identity, addresses, seeds, a timing profile and an
/// override for every timing field (named as in hashicorp/memberlist).
#[derive(Args, Clone, Debug, PartialEq)]
pub struct NodeArgs {
    /// Unique node name [default: HOSTNAME-PID]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Local UDP address to bind (port 0 picks a free port)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7946")]
    pub bind: SocketAddr,

    /// Address announced to other members, when it differs from --bind (NAT, 0.0.0.0)
    #[arg(long, value_name = "IP:PORT")]
    pub advertise: Option<SocketAddr>,

    /// A member to join through, by address or host name (repeatable; names are resolved
    /// at each join attempt); none starts a new cluster
    #[arg(long = "join", value_name = "HOST:PORT", value_parser = parse_seed)]
    pub join: Vec<String>,

    /// Keep trying the --join seeds in the background, with backoff, until one answers,
    /// running as a cluster of one meanwhile (instead of exiting when none answers)
    #[arg(long)]
    pub retry_join: bool,

    /// With --retry-join: give up after N attempts [default: never]
    #[arg(long, value_name = "N", requires = "retry_join")]
    pub retry_join_max: Option<u32>,

    /// With --retry-join: longest wait between attempts (the wait doubles up to it) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "retry_join")]
    pub retry_join_interval: Option<Duration>,

    /// Read options from this TOML file: its keys are the long flags without `--`
    /// (`probe-interval = "200ms"`); a flag given here overrides the file's key
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Timing profile: lan, wan, local (memberlist's) or test (fast, for loopback)
    #[arg(long, value_name = "PROFILE", default_value = "lan")]
    pub profile: Profile,

    /// A key=value tag gossiped with this node (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = Tags::parse_pair)]
    pub tags: Vec<(String, String)>,

    /// Cluster label: datagrams from other labels are dropped, so clusters never merge
    #[arg(long, value_name = "LABEL")]
    pub cluster_label: Option<String>,

    /// Time between probes (one protocol period), e.g. 1s or 200ms
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub probe_interval: Option<Duration>,

    /// Wait for a direct ack before indirect probing; below --probe-interval
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub probe_timeout: Option<Duration>,

    /// Time between dedicated gossip sends
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gossip_interval: Option<Duration>,

    /// Members each gossip send goes to
    #[arg(long, value_name = "N")]
    pub gossip_nodes: Option<usize>,

    /// Members asked to probe indirectly (k)
    #[arg(long, value_name = "N")]
    pub indirect_checks: Option<usize>,

    /// Suspicion timeout multiplier (x max(1, log10 N) x probe interval)
    #[arg(long, value_name = "N")]
    pub suspicion_mult: Option<u32>,

    /// Lifeguard: an unconfirmed suspicion lasts up to this many times the minimum
    #[arg(long, value_name = "N")]
    pub suspicion_max_timeout_mult: Option<u32>,

    /// How confirmations shorten a suspicion: `evidence` (confirmations from healthy members
    /// end it after --confirmed-suspicion-mult; unhealthy members keep doubts to themselves)
    /// or `lifeguard` (memberlist's: anyone's confirmations, down to --suspicion-mult)
    /// [default: evidence]
    #[arg(long, value_name = "RULE")]
    pub suspicion_rule: Option<SuspicionRule>,

    /// With the evidence rule: a suspicion confirmed by healthy members ends after this
    /// x max(1, log10 N) x probe interval (at most --suspicion-mult) [default: profile's; lan 2]
    #[arg(long, value_name = "N")]
    pub confirmed_suspicion_mult: Option<u32>,

    /// Each update is retransmitted up to this x ceil(log10(N+1)) times
    #[arg(long, value_name = "N")]
    pub retransmit_mult: Option<u32>,

    /// Time between full-state syncs with a random member (0s turns them off)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub push_pull_interval: Option<Duration>,

    /// How long dead and left members are remembered
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub dead_node_reclaim: Option<Duration>,

    /// Lifeguard: ceiling of the local health multiplier (1 turns it off)
    #[arg(long, value_name = "N")]
    pub awareness_max_multiplier: Option<u32>,

    /// Give up joining when no seed answered within this time
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub join_timeout: Option<Duration>,

    /// Longest time a graceful leave keeps gossiping before stopping
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub leave_timeout: Option<Duration>,

    /// Largest datagram sent, in bytes
    #[arg(long, value_name = "BYTES")]
    pub packet_budget: Option<usize>,

    /// Most members the table holds; news of more is dropped and counted
    #[arg(long, value_name = "N")]
    pub max_members: Option<usize>,

    /// Control socket (for rumor members, stats, tags, leave, monitor), or `none`
    /// [default: $XDG_RUNTIME_DIR/rumor/NAME.sock, else TMPDIR/rumor-UID/NAME.sock]
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
    /// Largest user event payload accepted, in bytes (must fit one datagram)
    #[arg(long, value_name = "BYTES")]
    pub max_user_payload: Option<usize>,
    /// User events remembered (name and time) so none is delivered twice; a member that has
    /// not heard an event before this many newer ones never will [default: 256]
    #[arg(long, value_name = "N")]
    pub user_event_buffer: Option<usize>,
    /// How long a user event's payload is kept to hand on to members that missed it
    /// [default: profile's; lan 5m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub user_event_max_age: Option<Duration>,

    /// Seal every datagram with these keys: base64 32-byte keys, one a line, the first
    /// primary; only its owner may read the file. Without it, $RUMOR_KEYS (the same format,
    /// lines or commas). Reloaded on SIGHUP by `rumor agent`
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// With keys, still accept plaintext datagrams (migrating a plaintext cluster)
    #[arg(long)]
    pub accept_plaintext: bool,
    /// With keys and --accept-plaintext, still send plaintext (a migration's first step)
    #[arg(long)]
    pub send_plaintext: bool,
}

/// The environment variable a keyring is read from when there is no `--key-file`.
pub const KEYS_ENV: &str = "RUMOR_KEYS";

/// Parses a keyring's text: standard base64 keys separated by newlines, commas or spaces, the
/// first primary; blank lines and lines starting with `#` are skipped. `source` names where
/// the text came from in the error.
pub fn parse_keys(text: &str, source: &str) -> Result<Keyring, String> {
    use base64::Engine;
    let mut keys = Vec::new();
    let words = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split([',', ' ', '\t']))
        .filter(|w| !w.is_empty());
    for (i, word) in words.enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(word)
            .map_err(|e| format!("{source}: key {}: not base64 ({e})", i + 1))?;
        keys.push(Key::from_slice(&bytes).map_err(|e| format!("{source}: key {}: {e}", i + 1))?);
    }
    Keyring::from_keys(keys).map_err(|e| format!("{source}: {e}"))
}

/// Reads a key file, refusing one that its group or others may access, one owned by another
/// user than this one or root, and one in a folder others may write to (where the file could be
/// replaced): the keys are the cluster's only secret.
pub fn read_key_file(path: &Path) -> Result<Keyring, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    file::check_owned_file(path, &meta).map_err(|why| format!("{shown}: {why}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{shown}: mode {mode:04o} lets group or others access the keys; \
             make it readable by its owner only (chmod 600)"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    parse_keys(&text, &shown.to_string())
}

impl NodeArgs {
    /// Builds and validates the node's [`Config`]: the profile's values, then every override
    /// given. The error names the [`Config`] field; [`flag_for_field`] gives its flag.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let name = self.name.unwrap_or_else(default_name);
        let mut c = Config::new(self.profile, name, self.bind);
        c.advertise_addr = self.advertise;
        for seed in self.join {
            match seed.parse::<SocketAddr>() {
                Ok(addr) => c.seeds.push(addr),
                Err(_) => c.seed_hosts.push(seed),
            }
        }
        if self.retry_join {
            let mut retry = RetryJoin {
                max_attempts: self.retry_join_max,
                ..RetryJoin::default()
            };
            set(&mut retry.max_interval, self.retry_join_interval);
            c.retry_join = Some(retry);
        }
        c.tags = Tags::new(self.tags).map_err(|reason| ConfigError {
            field: "tags",
            reason,
        })?;
        c.cluster_label = self.cluster_label;
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        set(&mut c.probe_interval, self.probe_interval);
        set(&mut c.probe_timeout, self.probe_timeout);
        set(&mut c.gossip_interval, self.gossip_interval);
        set(&mut c.gossip_nodes, self.gossip_nodes);
        set(&mut c.indirect_checks, self.indirect_checks);
        set(&mut c.suspicion_mult, self.suspicion_mult);
        set(
            &mut c.suspicion_max_timeout_mult,
            self.suspicion_max_timeout_mult,
        );
        set(&mut c.suspicion_rule, self.suspicion_rule);
        set(
            &mut c.confirmed_suspicion_mult,
            self.confirmed_suspicion_mult,
        );
        set(&mut c.retransmit_mult, self.retransmit_mult);
        set(&mut c.push_pull_interval, self.push_pull_interval);
        set(&mut c.dead_node_reclaim, self.dead_node_reclaim);
        set(
            &mut c.awareness_max_multiplier,
            self.awareness_max_multiplier,
        );
        set(&mut c.join_timeout, self.join_timeout);
        set(&mut c.leave_timeout, self.leave_timeout);
        set(&mut c.packet_budget, self.packet_budget);
        set(&mut c.max_members, self.max_members);
        c.control_socket = match self.control {
            None => Some(default_control_path(&c.name)),
            Some(path) if path == Path::new("none") => None,
            Some(path) => Some(path),
        };
        set(&mut c.max_user_payload, self.max_user_payload);
        set(&mut c.user_event_buffer, self.user_event_buffer);
        set(&mut c.user_event_max_age, self.user_event_max_age);
        let keyring = match (&self.key_file, std::env::var(KEYS_ENV)) {
            (Some(path), _) => Some(read_key_file(path)),
            (None, Ok(text)) => Some(parse_keys(&text, KEYS_ENV)),
            (None, Err(_)) => None,
        };
        c.keyring = keyring.transpose().map_err(|reason| ConfigError {
            field: "keyring",
            reason,
        })?;
        c.accept_plaintext = self.accept_plaintext;
        c.send_plaintext = self.send_plaintext;
        c.validate()?;
        Ok(c)
    }
}

/// The command-line flag that sets a [`Config`] field, for error messages: a user who typed
/// `--probe-timeout` should be told about `--probe-timeout`, not `probe_timeout`.
pub fn flag_for_field(field: &str) -> String {
    match field {
        "bind_addr" => "--bind".into(),
        "advertise_addr" => "--advertise".into(),
        "seeds" | "seed_hosts" => "--join".into(),
        "tags" => "--tag".into(),
        "control_socket" => "--control".into(),
        "keyring" => "--key-file".into(),
        "retry_join.max_interval" => "--retry-join-interval".into(),
        "retry_join.max_attempts" => "--retry-join-max".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A seed as `--join` takes it: an address, or a host name with a port (resolved later).
fn parse_seed(text: &str) -> Result<String, String> {
    if text.parse::<SocketAddr>().is_err() {
        split_host_port(text)?;
    }
    Ok(text.to_string())
}

/// Where a node named `name` serves its control socket unless told otherwise:
/// `NAME.sock` in [`default_control_dir`]. The `rumor` clients look there for `--name NAME`.
pub fn default_control_path(name: &str) -> PathBuf {
    default_control_dir().join(format!("{name}.sock"))
}

/// The folder of default control sockets: `$XDG_RUNTIME_DIR/rumor` (the session's private
/// runtime folder), else `rumor-UID` in the temp dir. The node creates it 0700 and refuses it,
/// naming it, unless it is this user's with no access for others ([`check_control_folder`]):
/// in a temp dir shared by every user, another one may have made it first.
pub fn default_control_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("rumor"),
        None => std::env::temp_dir().join(format!("rumor-{}", user_id())),
    }
}

/// Checks the folder of the control socket at `socket` as the agent checks it before binding:
/// a real directory (not a symlink) owned by this user, with no access for group or others.
/// A client checks it before it sends anything, since whoever can write to the folder can put
/// their own socket there. `Err` names the folder and what is wrong.
pub fn check_control_folder(socket: &Path) -> Result<(), String> {
    use crate::runtime::control::socket;
    socket::check_folder(socket::folder_of(socket))
}

/// Checks that the process serving a control socket runs as this user or as root (SO_PEERCRED),
/// so that a key or a request never reaches another user's program. `Err` says whose it is.
pub fn check_control_peer(stream: &std::os::unix::net::UnixStream) -> Result<(), String> {
    use crate::runtime::control::socket;
    let me = socket::own_uid();
    match socket::peer_uid(stream) {
        Ok(uid) if socket::trusted_peer(uid, me) => Ok(()),
        Ok(uid) => Err(format!(
            "the socket is served by uid {uid}, not by this user (uid {me}) or root"
        )),
        Err(e) => Err(format!("cannot tell who serves the socket: {e}")),
    }
}

/// This process's user id: the owner of its own `/proc` entry, since the crate forbids the
/// unsafe `getuid`; elsewhere the `USER` variable.
fn user_id() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .ok()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "user".into())
}

/// `<hostname>-<pid>`: unique per process on a host, readable on a dashboard. Reads Linux's
/// hostname file rather than calling into libc (the crate forbids unsafe code); elsewhere the
/// `HOSTNAME` variable, else plain `rumor`.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rumor".into());
    format!("{host}-{}", std::process::id())
}
