//! What a run leaves behind to be checked by: event counts by kind, and the trace hash, a
//! running FNV-1a digest of every delivery (time, ends, size) and every event. Two runs of one
//! seed with one sequence of inputs must end with equal hashes; keeping a digest rather than
//! the trace itself lets a run of millions of steps be compared in 8 bytes.

use super::{Delivery, Sim, SimEvent};
use crate::event::EventKind;
use crate::hash::{FNV1A_64_BASIS, fnv1a_64};

/// The counts and the digest of one run so far.
pub(super) struct Trace {
    hash: u64,
    counts: [u64; 7],
}

impl Trace {
    pub(super) fn new() -> Self {
        Trace {
            hash: FNV1A_64_BASIS,
            counts: [0; 7],
        }
    }

    pub(super) fn delivery(&mut self, d: &Delivery) {
        self.mix(d.at);
        self.mix(u64::from(d.from) << 32 | u64::from(d.to));
        self.mix(d.bytes.len() as u64);
    }

    pub(super) fn event(&mut self, e: &SimEvent) {
        let kind = kind_index(e.kind);
        if let Some(c) = self.counts.get_mut(kind) {
            *c += 1;
        }
        self.mix(e.at.as_nanos() as u64);
        self.mix(u64::from(e.node) << 32 | u64::from(e.member));
        self.mix(kind as u64);
        self.mix(u64::from(e.incarnation));
    }

    fn mix(&mut self, x: u64) {
        self.hash = fnv1a_64(self.hash, &x.to_le_bytes());
    }
}

impl Sim {
    /// Events of `kind` observed by all nodes since the start.
    pub fn event_count(&self, kind: EventKind) -> u64 {
        self.trace
            .counts
            .get(kind_index(kind))
            .copied()
            .unwrap_or(0)
    }

    /// A digest of every delivery (time, ends, size) and every event so far: equal seeds and
    /// equal inputs give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash
    }
}

/// A fixed number per kind: the index of its count, and what the digest mixes in, so it must
/// not change with the enum's declaration order.
fn kind_index(kind: EventKind) -> usize {
    match kind {
        EventKind::Joined => 0,
        EventKind::Suspected => 1,
        EventKind::Alive => 2,
        EventKind::Failed => 3,
        EventKind::Left => 4,
        EventKind::Updated => 5,
        EventKind::User => 6,
    }
}
