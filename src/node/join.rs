//! Seeds given by host name, and joining in the background until a seed answers
//! ([`Config::retry_join`](crate::Config::retry_join)).
//!
//! Name resolution blocks (the system resolver may wait seconds for a DNS server), so it never
//! runs on the loop thread, where it would delay probes: [`Node::start`](crate::Node::start)
//! resolves on the caller's thread, and a background join on a thread of its own that talks to
//! the loop through the same commands a `Node` sends.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};
use mio::Waker;

use crate::config::RetryJoin;
use crate::runtime::Command;

/// Unread reports kept for [`Node::join_reports`](crate::Node::join_reports); later ones are
/// dropped, so a program that never reads them does not grow.
const REPORTS_KEPT: usize = 64;

/// How long the join thread waits for the loop to answer a query before it asks again later.
const REPLY_WAIT: Duration = Duration::from_secs(1);

/// What a background join ([`Config::retry_join`](crate::Config::retry_join)) reports, from
/// [`Node::join_reports`](crate::Node::join_reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinReport {
    /// No seed answered attempt `attempt` within `waited`; the next attempt goes out now.
    NoAnswer {
        /// Which attempt, from 1.
        attempt: u32,
        /// The addresses the seeds resolved to and were sent a join request.
        tried: Vec<SocketAddr>,
        /// Seeds given by host name that resolved to nothing usable, each with the reason.
        unresolved: Vec<String>,
        /// How long the attempt waited for an answer.
        waited: Duration,
    },
    /// The seed at `via` answered: this node is a member of its cluster. No more attempts.
    Joined {
        /// Which attempt was answered, from 1.
        attempt: u32,
        /// The seed that answered.
        via: SocketAddr,
    },
    /// `max_attempts` attempts went unanswered. The node runs on as a cluster of one.
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
    },
}

/// The addresses the seeds stand for: `seeds` as given, then every address each host name
/// resolves to with the IP version of `bind` (an IPv4 socket cannot send to an IPv6 address,
/// and `localhost` usually resolves to both), without repeats. Host names that resolve to
/// nothing usable come back with the reason.
pub(crate) fn resolve(
    seeds: &[SocketAddr],
    hosts: &[String],
    bind: SocketAddr,
) -> (Vec<SocketAddr>, Vec<(String, io::Error)>) {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut add = |a: SocketAddr| {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    };
    seeds.iter().copied().for_each(&mut add);
    let mut failed = Vec::new();
    for host in hosts {
        match host.as_str().to_socket_addrs() {
            Ok(found) => {
                let usable: Vec<SocketAddr> =
                    found.filter(|a| a.is_ipv4() == bind.is_ipv4()).collect();
                if usable.is_empty() {
                    let version = if bind.is_ipv4() { 4 } else { 6 };
                    let why = format!("no IPv{version} address, as the bind address {bind} needs");
                    failed.push((host.clone(), io::Error::new(io::ErrorKind::NotFound, why)));
                }
                usable.into_iter().for_each(&mut add);
            }
            Err(e) => failed.push((host.clone(), e)),
        }
    }
    (addrs, failed)
}

/// What a background join needs: the loop's command channel and waker, the seeds, and when
/// to try.
pub(crate) struct Retry {
    pub(crate) commands: Sender<Command>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) hosts: Vec<String>,
    /// The bound address: its IP version picks the usable addresses of a host name.
    pub(crate) bind: SocketAddr,
    /// The first wait between attempts (one probe interval), and how often an attempt looks
    /// for an answer.
    pub(crate) period: Duration,
    pub(crate) policy: RetryJoin,
}

/// The node's side of a running background join: dropping `stop` ends it.
pub(crate) struct Background {
    pub(crate) stop: Option<Sender<()>>,
    pub(crate) reports: Receiver<JoinReport>,
}

impl Retry {
    /// Starts the join thread. It is not joined when the node stops: it may sit in a slow DNS
    /// lookup, and it ends by itself at its next step once the node is gone.
    pub(crate) fn spawn(self, name: &str) -> io::Result<Background> {
        let (stop, stopped) = crossbeam_channel::bounded(0);
        let (tx, reports) = crossbeam_channel::bounded(REPORTS_KEPT);
        std::thread::Builder::new()
            .name(format!("rumor {name} join"))
            .spawn(move || self.run(&stopped, &tx))?;
        Ok(Background {
            stop: Some(stop),
            reports,
        })
    }

    fn run(self, stopped: &Receiver<()>, reports: &Sender<JoinReport>) {
        let report = |r: JoinReport| drop(reports.try_send(r));
        let mut wait = self.period.min(self.policy.max_interval);
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let (tried, failed) = resolve(&self.seeds, &self.hosts, self.bind);
            if !tried.is_empty() && !self.send(Command::Join(tried.clone())) {
                return;
            }
            // A seed answers within a round trip; look for it every period, not only when the
            // (possibly long) wait is over, so that the report comes soon after the answer.
            let due = crossbeam_channel::after(wait);
            let check = crossbeam_channel::tick(self.period.min(wait));
            let answered = loop {
                select! {
                    recv(stopped) -> _ => return,
                    recv(check) -> _ => match self.answered(&tried) {
                        Err(Gone) => return,
                        Ok(Some(via)) => break Some(via),
                        Ok(None) => {}
                    },
                    recv(due) -> _ => match self.answered(&tried) {
                        Err(Gone) => return,
                        Ok(found) => break found,
                    },
                }
            };
            if let Some(via) = answered {
                report(JoinReport::Joined { attempt, via });
                return;
            }
            report(JoinReport::NoAnswer {
                attempt,
                tried,
                unresolved: failed
                    .into_iter()
                    .map(|(host, e)| format!("{host} ({e})"))
                    .collect(),
                waited: wait,
            });
            if self.policy.max_attempts.is_some_and(|max| attempt >= max) {
                report(JoinReport::GaveUp { attempts: attempt });
                return;
            }
            wait = (wait * 2).min(self.policy.max_interval);
        }
    }

    /// The seed that answered, if any did: one of the addresses tried is an active member of
    /// our table (it answered our request with its table, or joined us itself).
    fn answered(&self, tried: &[SocketAddr]) -> Result<Option<SocketAddr>, Gone> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if !self.send(Command::Members(tx)) {
            return Err(Gone);
        }
        match rx.recv_timeout(REPLY_WAIT) {
            Ok(members) => Ok(members
                .iter()
                .find(|m| m.state.is_active() && tried.contains(&m.addr))
                .map(|m| m.addr)),
            // A busy loop: ask again at the next check.
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Gone),
        }
    }

    fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok() && self.waker.wake().is_ok()
    }
}

/// The node's loop has stopped: the join thread has nothing left to do.
struct Gone;

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_come_first_then_host_names_of_the_bind_version_without_repeats() {
        let seeds = [v4("127.0.0.1:7000"), v4("127.0.0.1:7000")];
        let hosts = ["localhost:7000".to_string(), "127.0.0.2:7001".to_string()];
        let (addrs, failed) = resolve(&seeds, &hosts, v4("127.0.0.1:0"));
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(addrs, [v4("127.0.0.1:7000"), v4("127.0.0.2:7001")]);
    }

    #[test]
    fn a_host_without_a_usable_address_is_reported_with_why() {
        let hosts = ["127.0.0.1:7000".to_string()];
        let (addrs, failed) = resolve(&[], &hosts, "[::1]:0".parse().unwrap());
        assert!(addrs.is_empty());
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0].1.to_string().contains("no IPv6 address"),
            "{failed:?}"
        );
    }
}
