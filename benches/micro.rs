//! Codec and core micro-benchmarks: ns per operation and heap allocations per operation.
//!
//! How to run: `cargo bench --bench micro` (a release build; prints a markdown table). It
//! measures encode and decode of a full 1400-byte packet (a ping carrying as many piggybacked
//! updates as fit) and `Swim::handle_datagram` for a ping with piggyback, followed by draining
//! the ack with `poll_transmit` into a reused buffer, as the runtime does.
//!
//! Allocations are counted by wrapping the system allocator (stats_alloc), so the counts are
//! exact; times are the mean over enough iterations to take about half a second each.

use std::alloc::System;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumor::proto::Identity;
use rumor::wire::{self, Message, Packet, PacketWriter, Update};
use rumor::{Config, Incarnation, MemberState, NodeName, Profile, Swim, Tags};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BUDGET: usize = 1400;

/// The wall clock, to time the loops (clippy.toml keeps it out of everything else).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i / 256) as u8, (i % 256) as u8], 7946))
}

fn update(i: usize, state: MemberState) -> Update {
    Update {
        name: NodeName::new(&format!("node-{i:05}")).expect("valid name"),
        addr: addr(i),
        incarnation: Incarnation(i as u32 % 7),
        state,
        tags: Tags::default(),
        from: (state == MemberState::Suspect)
            .then(|| NodeName::new("node-00000").expect("valid name")),
    }
}

/// A mix like a busy cluster's piggyback: mostly Alive, some Suspect (with `from`), some Dead.
fn updates(count: usize) -> Vec<Update> {
    (1..=count)
        .map(|i| {
            let state = match i % 5 {
                0 => MemberState::Suspect,
                1 => MemberState::Dead,
                _ => MemberState::Alive,
            };
            update(i, state)
        })
        .collect()
}

/// Writes a ping with as many of `ups` as fit under the budget; returns how many went in.
fn write_full(buf: &mut Vec<u8>, msg: &Message, ups: &[Update]) -> usize {
    let mut w = PacketWriter::new(buf, None, msg, BUDGET);
    for u in ups {
        if !w.push(u) {
            break;
        }
    }
    let n = w.count();
    w.finish();
    n
}

struct Figure {
    name: &'static str,
    ns: f64,
    allocs: f64,
    bytes: f64,
    note: String,
}

/// Runs `op` for about `target` of wall time; returns mean ns and allocations and bytes per op.
fn measure(target: Duration, mut op: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..1000 {
        op(); // warm caches and reused buffers
    }
    let mut iters = 1000u64;
    loop {
        let region = Region::new(GLOBAL);
        let start = now();
        for _ in 0..iters {
            op();
        }
        let took = start.elapsed();
        let stats = region.change();
        if took >= target || iters >= 1 << 30 {
            let n = iters as f64;
            return (
                took.as_nanos() as f64 / n,
                stats.allocations as f64 / n,
                stats.bytes_allocated as f64 / n,
            );
        }
        iters *= 4;
    }
}

fn main() {
    let target = Duration::from_millis(500);
    let mut figures = Vec::new();

    // ---- encode / decode of a full packet
    let ups = updates(200);
    let ping = Message::Ping {
        seq: 7,
        target: NodeName::new("node-99999").expect("valid name").id(),
    };
    let mut buf = Vec::with_capacity(BUDGET);
    let fitted = write_full(&mut buf, &ping, &ups);
    let full = buf.clone();
    let (ns, allocs, bytes) = measure(target, || {
        black_box(write_full(&mut buf, black_box(&ping), black_box(&ups)));
    });
    figures.push(Figure {
        name: "encode full packet (PacketWriter, reused buffer)",
        ns,
        allocs,
        bytes,
        note: format!("{} bytes, {fitted} updates", full.len()),
    });
    let (ns, allocs, bytes) = measure(target, || {
        let p = wire::decode(black_box(&full), None).expect("decodes");
        black_box(p);
    });
    figures.push(Figure {
        name: "decode full packet (wire::decode)",
        ns,
        allocs,
        bytes,
        note: format!("{} bytes, {fitted} updates", full.len()),
    });
    let small = wire::encode(None, &Packet::new(ping.clone(), Vec::new()));
    let (ns, allocs, bytes) = measure(target, || {
        black_box(wire::decode(black_box(&small), None).expect("decodes"));
    });
    figures.push(Figure {
        name: "decode bare ping",
        ns,
        allocs,
        bytes,
        note: format!("{} bytes", small.len()),
    });

    // ---- sealing (XChaCha20-Poly1305) of a full packet and of a bare ping, as the runtime
    // does with a keyring: one seal per datagram sent, one open per datagram received.
    #[cfg(feature = "encryption")]
    {
        use rumor::wire::seal::Sealer;
        let sealer = Sealer::new(&rumor::Keyring::new(rumor::Key::new([7; 32])));
        let mut sealed = Vec::with_capacity(BUDGET + wire::SEAL_OVERHEAD);
        let mut opened = Vec::with_capacity(BUDGET + wire::SEAL_OVERHEAD);
        for (what, plain) in [("full packet", &full), ("bare ping", &small)] {
            let mut nonce = [0u8; 24];
            let (ns, allocs, bytes) = measure(target, || {
                // A changing nonce, as every datagram has; its source is not what is timed.
                nonce[0] = nonce[0].wrapping_add(1);
                black_box(sealer.seal(nonce, [1; 16], black_box(plain), &mut sealed));
            });
            let note = format!(
                "{} bytes, +{} sealed",
                plain.len(),
                sealed.len() - plain.len()
            );
            figures.push(Figure {
                name: if what == "full packet" {
                    "seal full packet"
                } else {
                    "seal bare ping"
                },
                ns,
                allocs,
                bytes,
                note: note.clone(),
            });
            let (ns, allocs, bytes) = measure(target, || {
                black_box(sealer.open(black_box(&sealed), &mut opened)).expect("opens");
            });
            figures.push(Figure {
                name: if what == "full packet" {
                    "open full packet"
                } else {
                    "open bare ping"
                },
                ns,
                allocs,
                bytes,
                note,
            });
        }
    }

    // ---- handle_datagram: a ping with piggyback to a node in a 1000-member table
    let members = 1000;
    let base = now();
    let mut config = Config::new(Profile::Lan, "node-00000", addr(0));
    config.push_pull_interval = Duration::ZERO;
    let me = NodeName::new(&config.name).expect("valid name");
    let mut swim = Swim::new(config, 1, base).expect("valid config");
    let ids: Vec<Arc<Identity>> = (1..members)
        .map(|i| {
            Arc::new(Identity {
                name: NodeName::new(&format!("node-{i:05}")).expect("valid name"),
                addr: addr(i),
                tags: Tags::default(),
            })
        })
        .collect();
    swim.bootstrap(base, ids);
    swim.join(base, &[]);
    // Piggyback the receiver already knows (Alive at incarnation 0): the steady state, where
    // gossip repeats news a member has heard.
    let known: Vec<Update> = (1..=6)
        .map(|i| update(i * 100, MemberState::Alive))
        .collect();
    let known: Vec<Update> = known
        .into_iter()
        .map(|mut u| {
            u.incarnation = Incarnation(0);
            u
        })
        .collect();
    let mut pkt = Vec::new();
    let to_me = Message::Ping {
        seq: 1,
        target: me.id(),
    };
    let pig = write_full(&mut pkt, &to_me, &known);
    let from = addr(1);
    let mut out = Vec::with_capacity(BUDGET);
    let t = base + Duration::from_millis(1);
    let (ns, allocs, bytes) = measure(target, || {
        swim.handle_datagram(t, from, black_box(&pkt));
        while let Some(to) = swim.poll_transmit(&mut out) {
            black_box(to);
        }
        while let Some(e) = swim.poll_event() {
            black_box(e);
        }
    });
    figures.push(Figure {
        name: "handle_datagram(ping + piggyback) + poll_transmit(ack)",
        ns,
        allocs,
        bytes,
        note: format!(
            "{} bytes, {pig} known updates, {members}-member table",
            pkt.len()
        ),
    });

    // The core's own receive path for a full packet: a gossip datagram of 1,400 bytes whose
    // updates are all about members it knows (names shared with its table, no allocation).
    let known_full: Vec<Update> = (1..members)
        .map(|i| {
            let mut u = update(i, MemberState::Alive);
            u.incarnation = Incarnation(0);
            u
        })
        .collect();
    let mut full_gossip = Vec::new();
    let fitted = write_full(&mut full_gossip, &Message::Gossip, &known_full);
    let (ns, allocs, bytes) = measure(target, || {
        swim.handle_datagram(t, from, black_box(&full_gossip));
        while let Some(to) = swim.poll_transmit(&mut out) {
            black_box(to);
        }
    });
    figures.push(Figure {
        name: "handle_datagram(full gossip packet of known members)",
        ns,
        allocs,
        bytes,
        note: format!("{} bytes, {fitted} updates", full_gossip.len()),
    });

    println!("| operation | ns/op | allocations/op | bytes allocated/op | input |");
    println!("|---|---:|---:|---:|---|");
    for f in &figures {
        println!(
            "| {} | {:.0} | {:.2} | {:.0} | {} |",
            f.name, f.ns, f.allocs, f.bytes, f.note
        );
    }
}
