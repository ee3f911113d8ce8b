//! Lifeguard's local health multiplier: how much this node should distrust its own view.
//!
//! The score rises when this node's own probes go unanswered without the nacks that would show
//! the network is fine, and when it must refute a suspicion about itself; it falls with every
//! answered probe. Probe interval and timeout are scaled by `score + 1`, so a node that is itself
//! slow or starved probes less eagerly and stops accusing healthy members.

/// A score from 0 (healthy) to `max - 1`.
#[derive(Clone, Debug)]
pub(crate) struct Awareness {
    score: u32,
    max: u32,
}

impl Awareness {
    pub(crate) fn new(max_multiplier: u32) -> Self {
        Self {
            score: 0,
            max: max_multiplier.max(1),
        }
    }

    /// Adds `delta` (negative to lower), kept within 0..max.
    pub(crate) fn apply(&mut self, delta: i32) {
        let next = i64::from(self.score) + i64::from(delta);
        self.score = next.clamp(0, i64::from(self.max - 1)) as u32;
    }

    pub(crate) fn score(&self) -> u32 {
        self.score
    }

    /// Scales a timeout by the current health: `d * (score + 1)`.
    pub(crate) fn scale(&self, d: std::time::Duration) -> std::time::Duration {
        d * (self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn score_stays_within_bounds_and_scales_timeouts() {
        let mut a = Awareness::new(8);
        a.apply(-1);
        assert_eq!(a.score(), 0);
        a.apply(3);
        assert_eq!(a.score(), 3);
        assert_eq!(
            a.scale(Duration::from_millis(100)),
            Duration::from_millis(400)
        );
        a.apply(100);
        assert_eq!(a.score(), 7);
        a.apply(-2);
        assert_eq!(a.score(), 5);
    }

    #[test]
    fn max_of_one_turns_awareness_off() {
        let mut a = Awareness::new(1);
        a.apply(5);
        assert_eq!(a.score(), 0);
    }
}
