//! Real nodes over real UDP on 127.0.0.1, with the test profile's timings (probe 50 ms). These
//! prove the wiring (socket, loop, timers, commands, fault layer); the simulator proves the
//! protocol. Every wait has a deadline, and each test prints what it measured.

mod common;

use std::time::Duration;

use rumor::{Config, Event, EventKind, MemberState, Node, StartError};

use common::cluster::{Cluster, SLACK, config, converge};
use common::{free_addr, now, rng, wait_for, wait_until};

/// The longest a crash may take to be reported Failed everywhere: an unconfirmed (Lifeguard
/// maximum) suspicion timeout plus three probe periods to notice the crash and spread the news.
fn detection_bound(c: &Config, n: usize) -> Duration {
    let scale = (n as f64).log10().max(1.0);
    let min = c
        .probe_interval
        .mul_f64(f64::from(c.suspicion_mult) * scale);
    min * c.suspicion_max_timeout_mult + 3 * c.probe_interval
}

#[test]
fn five_nodes_converge() {
    let mut c = Cluster::start(5);
    let took = converge(&mut c, Duration::from_secs(5));
    println!("5 nodes converged {took:?} after the last join");
    // Each node reports every other as Joined, exactly once. An event trails the member
    // table by at most one loop iteration, hence the short wait.
    let all_joined = |c: &Cluster| {
        (0..5).all(|v| (0..5).all(|a| a == v || c.reported(v, EventKind::Joined, a) == 1))
    };
    assert!(wait_until(Duration::from_secs(1), || {
        c.collect();
        all_joined(&c)
    }));
}

#[test]
fn twenty_nodes_converge() {
    let mut c = Cluster::start(20);
    let took = converge(&mut c, Duration::from_secs(10));
    println!("20 nodes converged {took:?} after the last join");
}

#[test]
fn crashed_node_is_reported_failed_by_every_survivor_within_the_bound() {
    let n = 6;
    let mut c = Cluster::start(n);
    converge(&mut c, Duration::from_secs(5));
    let bound = detection_bound(&config("x", vec![]), n);
    let victim = 3;
    let survivors: Vec<usize> = (0..n).filter(|&i| i != victim).collect();
    c.kill(victim);
    let start = now();
    let mut seen = vec![None; n];
    let all = wait_until(bound + SLACK + Duration::from_secs(5), || {
        for &s in &survivors {
            if seen[s].is_none() && c.state(s, victim) == Some(MemberState::Dead) {
                seen[s] = Some(now() - start);
            }
        }
        survivors.iter().all(|&s| seen[s].is_some())
    });
    println!(
        "crash of n{victim}: bound {bound:?} (+{SLACK:?} slack), reported Dead after {seen:?}"
    );
    assert!(all, "not every survivor reported the crash: {seen:?}");
    let slowest = survivors.iter().filter_map(|&s| seen[s]).max().unwrap();
    assert!(
        slowest <= bound + SLACK,
        "slowest detection {slowest:?} exceeds {bound:?} + {SLACK:?}"
    );
    c.collect();
    for &s in &survivors {
        assert_eq!(c.reported(s, EventKind::Failed, victim), 1, "n{s}");
    }
    assert_eq!(c.false_failures(), Vec::<String>::new());
}

#[test]
fn graceful_leave_is_reported_left_not_failed() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(5));
    let leaver = 2;
    let survivors: Vec<usize> = (0..5).filter(|&i| i != leaver).collect();
    let start = now();
    c.node(leaver)
        .leave(Duration::from_secs(3))
        .expect("leave finishes");
    let left = wait_for(Duration::from_secs(3), || {
        c.all_see(&survivors, &[leaver], MemberState::Left)
    });
    println!("leave of n{leaver}: every survivor saw Left after {left:?}");
    assert!(left.is_some(), "not every survivor saw the leave");
    // Its queries still answer, from the state it stopped in.
    assert_eq!(c.node(leaver).local().state, MemberState::Left);
    assert!(start.elapsed() < Duration::from_secs(5));
    // Give a would-be false Failed the time it needs to show up before checking for it.
    let bound = detection_bound(&config("x", vec![]), 5);
    let failed = wait_for(bound + SLACK, || {
        survivors
            .iter()
            .any(|&s| c.state(s, leaver) != Some(MemberState::Left))
    });
    assert_eq!(failed, None, "a survivor changed its mind about the leave");
    c.collect();
    for &s in &survivors {
        assert_eq!(c.reported(s, EventKind::Left, leaver), 1, "n{s}");
        assert_eq!(c.reported(s, EventKind::Failed, leaver), 0, "n{s}");
    }
    assert_eq!(c.false_failures(), Vec::<String>::new());
}

#[test]
fn crashed_node_restarted_with_the_same_name_is_alive_everywhere() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(5));
    let victim = 4;
    let survivors: Vec<usize> = (0..4).collect();
    let addr = c.addr(victim);
    c.kill(victim);
    let bound = detection_bound(&config("x", vec![]), 5);
    assert!(
        wait_until(bound + SLACK, || c.all_see(
            &survivors,
            &[victim],
            MemberState::Dead
        )),
        "crash not detected"
    );
    let dead_inc = c
        .node(0)
        .members()
        .into_iter()
        .find(|m| m.name.as_str() == "n4");
    let dead_inc = dead_inc.unwrap().incarnation;

    // Same name, same port: what a process supervisor restarting it would do.
    let mut cfg = config("n4", vec![c.addr(0)]);
    cfg.bind_addr = addr;
    let node = Node::start(cfg).expect("restart on the same port");
    c.events[victim] = node.events();
    c.nodes[victim] = Some(node);
    let back = wait_for(Duration::from_secs(5), || c.converged());
    println!("restart of n4: Alive everywhere after {back:?}");
    assert!(back.is_some(), "restarted node not Alive everywhere");
    for s in survivors {
        let m = c
            .node(s)
            .members()
            .into_iter()
            .find(|m| m.name.as_str() == "n4");
        let m = m.unwrap();
        assert!(
            m.incarnation > dead_inc,
            "n{s} sees {m:?}, dead at {dead_inc}"
        );
        assert_eq!(m.addr, addr);
    }
}

#[test]
fn crashed_node_restarted_on_a_new_port_is_alive_at_its_new_address() {
    let mut c = Cluster::start(4);
    converge(&mut c, Duration::from_secs(5));
    let victim = 3;
    let survivors: Vec<usize> = (0..3).collect();
    let old = c.addr(victim);
    c.kill(victim);
    // No waiting for the death: a supervisor restarts at once, before anyone noticed.
    let node = Node::start(config("n3", vec![c.addr(1)])).expect("restart on a new port");
    let new = node.addr();
    assert_ne!(new, old);
    c.events[victim] = node.events();
    c.nodes[victim] = Some(node);
    let moved = wait_for(Duration::from_secs(5), || {
        c.converged()
            && survivors.iter().all(|&s| {
                let m = c
                    .node(s)
                    .members()
                    .into_iter()
                    .find(|m| m.name.as_str() == "n3");
                m.is_some_and(|m| m.addr == new)
            })
    });
    println!("n3 restarted from {old} to {new}: Alive at the new address after {moved:?}");
    assert!(
        moved.is_some(),
        "the new address did not replace the old one everywhere"
    );
}

#[test]
fn node_with_total_loss_is_failed_by_the_others() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(5));
    let lossy = 1;
    let others: Vec<usize> = (0..5).filter(|&i| i != lossy).collect();
    c.node(lossy).faults().set_loss(1.0);
    let bound = detection_bound(&config("x", vec![]), 5);
    let took = wait_for(bound + SLACK, || {
        c.all_see(&others, &[lossy], MemberState::Dead)
    });
    println!("100% loss on n{lossy}: Dead everywhere after {took:?} (bound {bound:?})");
    assert!(
        took.is_some(),
        "the isolated node was not failed by everyone"
    );
    // The others stay healthy among themselves.
    assert!(c.all_see(&others, &others, MemberState::Alive));
    let stats = c.node(lossy).stats();
    assert!(stats.dropped_fault > 0, "{stats:?}");
    // The healthy ones never dropped anything on purpose.
    assert_eq!(c.node(0).stats().dropped_fault, 0);
}

#[test]
fn partition_is_visible_on_both_sides_and_heals() {
    let n = 10;
    let mut c = Cluster::start(n);
    converge(&mut c, Duration::from_secs(5));
    let a: Vec<usize> = (0..6).collect();
    let b: Vec<usize> = (6..n).collect();
    for &x in &a {
        for &y in &b {
            c.node(x).faults().block(c.addr(y));
            c.node(y).faults().block(c.addr(x));
        }
    }
    // The side of 4 cannot reach 6 of its 9 peers, so its members' health goes bad and
    // Lifeguard stretches their probe intervals (up to awareness_max_multiplier), and an
    // unhealthy holder waits out a suspicion's full span: that side's verdicts come later
    // than a crash's (the split took up to 3.2 s in 20 runs with the machine loaded, where
    // the side of 6 is done in 0.4-0.7 s), so its bound counts the stretched probes.
    let cfg = config("x", vec![]);
    let stretched = cfg.probe_interval * cfg.awareness_max_multiplier;
    let bound = detection_bound(&cfg, n) + 3 * stretched;
    let split = wait_for(2 * bound + SLACK, || {
        c.all_see(&a, &b, MemberState::Dead) && c.all_see(&b, &a, MemberState::Dead)
    });
    println!("partition 6|4: each side failed the other after {split:?}");
    assert!(split.is_some(), "the partition was not seen on both sides");
    assert!(c.all_see(&a, &a, MemberState::Alive));
    assert!(c.all_see(&b, &b, MemberState::Alive));

    for i in 0..n {
        c.node(i).faults().unblock_all();
    }
    // The sides remember each other as dead, and anti-entropy syncs with a remembered-dead
    // member now and then: the merge needs no rejoin, within two push-pull intervals.
    let heal_within = 2 * cfg.push_pull_interval + SLACK;
    let healed = wait_for(heal_within, || c.converged());
    println!("partition healed after {healed:?} (allowed {heal_within:?})");
    assert!(healed.is_some(), "the two sides did not merge back");
}

#[test]
fn paused_node_is_suspected_then_alive_again() {
    let mut c = Cluster::start(5);
    converge(&mut c, Duration::from_secs(5));
    let frozen = 0;
    let others: Vec<usize> = (1..5).collect();
    let pause = Duration::from_millis(800);
    c.node(frozen).faults().pause(pause);
    let noticed = wait_for(pause, || {
        others.iter().any(|&o| {
            matches!(
                c.state(o, frozen),
                Some(MemberState::Suspect | MemberState::Dead)
            )
        })
    });
    println!("pause of n{frozen} for {pause:?}: first suspicion after {noticed:?}");
    assert!(noticed.is_some(), "nobody noticed a frozen node");
    let back = wait_for(pause + Duration::from_secs(5), || c.converged());
    println!("n{frozen} Alive everywhere again {back:?} after the suspicion");
    assert!(back.is_some(), "the paused node did not come back");
    c.collect();
    let refuted: usize = others
        .iter()
        .map(|&o| c.reported(o, EventKind::Alive, frozen))
        .sum();
    assert!(
        refuted > 0,
        "the paused node came back without a refutation"
    );
}

#[test]
fn a_second_node_on_the_same_address_is_refused() {
    let first = Node::start(config("first", vec![])).unwrap();
    let mut cfg = config("second", vec![]);
    cfg.bind_addr = first.addr();
    match Node::start(cfg) {
        Err(StartError::AddrInUse(addr)) => {
            assert_eq!(addr, first.addr());
            let msg = StartError::AddrInUse(addr).to_string();
            assert!(msg.contains("already in use"), "{msg}");
        }
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    // The first node is unharmed.
    assert_eq!(first.status(), rumor::Status::Running);
}

#[test]
fn join_without_an_answering_seed_fails_and_frees_the_port() {
    // A seed that exists but never answers; held open so the node's own port cannot be it.
    let silent_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent_socket.local_addr().unwrap();
    let bind = free_addr();
    let mut cfg = config("lonely", vec![silent]);
    cfg.bind_addr = bind;
    cfg.join_timeout = Duration::from_millis(300);
    let start = now();
    match Node::start(cfg) {
        Err(StartError::JoinTimeout { seeds, waited }) => {
            assert_eq!(seeds, vec![silent]);
            assert_eq!(waited, Duration::from_millis(300));
        }
        other => panic!("expected JoinTimeout, got {other:?}"),
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Nothing was left behind holding the socket.
    std::net::UdpSocket::bind(bind).expect("the failed node's port is free again");
}

#[test]
fn tags_set_on_a_running_node_reach_the_others() {
    let mut c = Cluster::start(3);
    converge(&mut c, Duration::from_secs(5));
    let tags = rumor::Tags::new([("role", "db")]).unwrap();
    c.node(2).set_tags(tags.clone());
    let spread = wait_for(Duration::from_secs(3), || {
        (0..2).all(|v| {
            c.node(v)
                .members()
                .iter()
                .any(|m| m.name.as_str() == "n2" && m.tags == tags)
        })
    });
    println!("tags of n2 reached everyone after {spread:?}");
    assert!(spread.is_some());
    assert_eq!(c.node(2).local().tags, tags);
    c.collect();
    assert!(c.reported(0, EventKind::Updated, 2) >= 1);
}

#[test]
fn shutdown_leaves_and_closes_the_event_channel() {
    let mut c = Cluster::start(2);
    converge(&mut c, Duration::from_secs(5));
    let node = c.nodes[1].take().unwrap();
    let events = node.events();
    node.shutdown().expect("graceful shutdown");
    // The loop is gone, so the channel ends once read: a `for ev in events` loop terminates.
    let rest: Vec<Event> = events.iter().collect();
    assert!(rest.len() < 100, "{rest:?}");
    assert!(wait_until(Duration::from_secs(3), || {
        c.state(0, 1) == Some(MemberState::Left)
    }));
}

#[test]
fn node_can_be_shared_between_threads() {
    // The dashboard reads a node from its draw loop while an input thread sends commands.
    fn shareable<T: Send + Sync>() {}
    shareable::<Node>();
    let node = Node::start(config("shared", vec![])).unwrap();
    let from_other_thread = std::thread::scope(|s| s.spawn(|| node.local()).join().unwrap());
    assert_eq!(from_other_thread.name.as_str(), "shared");
    assert_eq!(from_other_thread.addr, node.addr());
}

/// How long the lossy-network tests run: `RUMOR_LOSS_SECS`, default 10 s, which at the test
/// profile's 50 ms periods is 200 protocol periods (over three minutes of the lan profile).
/// Issue 5's full run, 60 s: `RUMOR_LOSS_SECS=60 cargo test --test udp_cluster lossy -- --nocapture`.
fn lossy_run() -> Duration {
    let secs = std::env::var("RUMOR_LOSS_SECS").map_or(10.0, |s| {
        s.parse()
            .unwrap_or_else(|_| panic!("RUMOR_LOSS_SECS={s} is not a number"))
    });
    Duration::from_secs_f64(secs)
}

fn lossy_network_raises_no_false_failures(rate: f64) {
    let n = 10;
    let mut c = Cluster::start(n);
    converge(&mut c, Duration::from_secs(5));
    // Loss on receive at every node: each datagram crosses one lossy hop, so every link
    // loses `rate` of its traffic, the uniform loss.
    for i in 0..n {
        c.node(i).faults().set_loss_rates(0.0, rate);
    }
    let run = lossy_run();
    // Waiting for a false failure that must never come: the wait is the test's run time.
    let failed = wait_for(run, || !c.false_failures().is_empty());
    let suspicions: u64 = (0..n).map(|i| c.node(i).stats().suspicions).sum();
    let dropped: u64 = (0..n).map(|i| c.node(i).stats().dropped_fault).sum();
    println!(
        "{n} nodes, {:.0}% loss for {run:?}: {suspicions} suspicions, {dropped} datagrams dropped",
        rate * 100.0
    );
    assert_eq!(failed, None, "false failures: {:?}", c.false_failures());
    assert!(dropped > 0, "the loss was not applied");
    for i in 0..n {
        c.node(i).faults().set_loss(0.0);
    }
    assert!(wait_until(Duration::from_secs(5), || c.converged()));
}

#[test]
fn twenty_percent_loss_raises_no_false_failures() {
    lossy_network_raises_no_false_failures(0.2);
}

#[test]
fn thirty_percent_loss_raises_no_false_failures() {
    lossy_network_raises_no_false_failures(0.3);
}

/// Datagrams the kernel dropped at the UDP socket bound to 127.0.0.1:`port` because its
/// receive buffer was full (the `drops` column of /proc/net/udp).
fn kernel_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()))
            .then(|| fields.last()?.parse().ok())
            .flatten()
    })
}

/// What the member's core must make of the flood, by the decoder it uses: how many datagrams
/// it drops for each reason (malformed, oversize, version, wrong cluster, sealed), and how many
/// it reads.
fn verdicts(flood: &[Vec<u8>]) -> ([u64; 5], u64) {
    let mut dropped = [0; 5];
    let mut read = 0;
    for d in flood {
        match rumor::wire::decode(d, None) {
            Ok(_) => read += 1,
            Err(rumor::wire::WireError::Oversize(_)) => dropped[1] += 1,
            Err(rumor::wire::WireError::Version(_)) => dropped[2] += 1,
            Err(rumor::wire::WireError::WrongCluster) => dropped[3] += 1,
            Err(rumor::wire::WireError::Sealed) => dropped[4] += 1,
            Err(_) => dropped[0] += 1,
        }
    }
    (dropped, read)
}

fn drops_by_reason(s: &rumor::Stats) -> [u64; 5] {
    [
        s.dropped_malformed,
        s.dropped_oversize,
        s.dropped_version,
        s.dropped_wrong_cluster,
        s.dropped_sealed,
    ]
}

/// Datagrams the flood keeps in flight at most (sent, not yet read).
const FLOOD_WINDOW: u64 = 128;

#[test]
#[cfg(target_os = "linux")]
fn a_member_flooded_with_hostile_datagrams_stays_up_and_accounts_for_each() {
    let n = 10;
    let mut c = Cluster::start(n);
    converge(&mut c, Duration::from_secs(10));
    let (_, mut rng) = rng();
    let corpus = common::hostile::corpus(false);
    let flood: Vec<Vec<u8>> = (0..200_000)
        .map(|_| common::hostile::any(&mut rng, &corpus))
        .collect();
    let (expect_dropped, expect_read) = verdicts(&flood);
    let target = 1;
    let to = c.addr(target);
    let others_out = |c: &Cluster| -> u64 {
        (0..n)
            .filter(|&i| i != target)
            .map(|i| c.node(i).stats().total_packets_out())
            .sum()
    };
    let before = c.node(target).stats();
    let (out_before, kernel_before) = (others_out(&c), kernel_drops(to.port()).unwrap());

    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Every datagram that reached the socket is read, then counted one way or the other.
    let kernel = || kernel_drops(to.port()).unwrap() - kernel_before;
    let seen = |s: &rumor::Stats| {
        let d = s.total_dropped() - before.total_dropped();
        d + s.total_packets_in() - before.total_packets_in()
    };
    // As fast as the member reads, no faster: with at most FLOOD_WINDOW datagrams in flight
    // its socket buffer never overflows, so the cluster's own datagrams still get through.
    // (Unpaced, a sender outruns a member on two shared cores several times over; the kernel
    // then drops most of everything, probes and refutations included, and the member is
    // rightly declared failed: a flood that fills the pipe is a partition.)
    let start = now();
    let mut sent = 0;
    for burst in flood.chunks(FLOOD_WINDOW as usize) {
        let deadline = now() + Duration::from_secs(10);
        while seen(&c.node(target).stats()) + FLOOD_WINDOW < sent
            && seen(&c.node(target).stats()) + kernel() + FLOOD_WINDOW < sent
        {
            assert!(now() < deadline, "the flooded member stopped reading");
            std::thread::yield_now();
        }
        sent += burst
            .iter()
            .filter(|d| sender.send_to(d, to).is_ok())
            .count() as u64;
    }
    let sending = now() - start;
    let read_all = wait_until(Duration::from_secs(30), || {
        seen(&c.node(target).stats()) + kernel() >= sent
    });
    assert!(read_all, "the flooded member reads what reached its socket");
    let elapsed = now() - start;
    let after = c.node(target).stats();
    let (kernel, cluster_out) = (kernel(), others_out(&c) - out_before);
    let arrived = sent - kernel;
    println!(
        "flood: {sent} datagrams sent in {sending:?} ({:.0}/s); the kernel dropped {kernel}; \
         {arrived} arrived and were read within {elapsed:?} ({:.0}/s absorbed)",
        sent as f64 / sending.as_secs_f64(),
        arrived as f64 / elapsed.as_secs_f64(),
    );

    // Each drop counter grew by what the flood holds of its kind, less at most what the
    // kernel lost (the cluster's own datagrams are never malformed).
    let dropped = drops_by_reason(&after);
    let mut lost = 0;
    for (r, (&had, &now)) in drops_by_reason(&before).iter().zip(&dropped).enumerate() {
        let grew = now - had;
        assert!(
            grew <= expect_dropped[r],
            "reason {r}: {grew} > {expect_dropped:?}"
        );
        lost += expect_dropped[r] - grew;
    }
    assert!(lost <= kernel, "{lost} malformed datagrams unaccounted for");
    // Every datagram read is one of the flood's or one the other members sent.
    let read = after.total_packets_in() - before.total_packets_in();
    assert!(read + kernel >= expect_read, "{read} read of {expect_read}");
    assert!(
        read <= expect_read + cluster_out,
        "{read} read: more than the flood's {expect_read} and the cluster's {cluster_out}"
    );
    // Arrived = dropped + read, give or take the cluster's traffic and what the kernel lost.
    let total = seen(&after);
    assert!(total + kernel >= sent && total <= sent + cluster_out);

    // The member is up, in a cluster that never believed anyone failed, and no ghost got in.
    assert_eq!(c.node(target).status(), rumor::Status::Running);
    assert!(
        wait_until(Duration::from_secs(5), || c.converged()),
        "the cluster no longer agrees after the flood"
    );
    assert_eq!(c.false_failures(), Vec::<String>::new());
}
