//! Core scenarios under a fake clock: one behaviour per test, one file per part of the
//! protocol. This file holds only what those files share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evidence;
mod gossip;
mod heard;
mod hostile;
mod membership;
mod probe;
mod rules;
mod suspicion;
mod sync;
mod user;
mod verified;

use std::time::Duration;

use super::testing::*;
use crate::member::NodeName;
use crate::wire::{Message, Packet};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn me() -> NodeName {
    NodeName::new(ME).unwrap()
}

/// Makes peer `i` stop answering and runs until we probe it; returns that probe's sequence.
fn probe_of_silent(h: &mut Harness, i: usize) -> u32 {
    h.responsive.remove(&peer_addr(i));
    let (_, ping) = h.advance_until_sent(10 * SEC, is_ping_to(&peer_name(i)));
    match ping.message {
        Message::Ping { seq, .. } => seq,
        other => panic!("not a ping: {other:?}"),
    }
}

fn is_ping_to(target: &NodeName) -> impl Fn(&std::net::SocketAddr, &Packet) -> bool + '_ {
    move |_, p| matches!(&p.message, Message::Ping { target: t, .. } if *t == target.id())
}
