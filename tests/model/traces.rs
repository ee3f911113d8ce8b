//! Schedules the checker printed (`steps (replay with model::replay)`), pasted here so that
//! they replay as ordinary unit tests in `tests/model_check.rs`.

use super::Action::{self, *};

/// From the liveness run ("reach: a member is seen Dead", cut where it is first reached): the
/// cluster forms, n0 broadcasts a user event and crashes (by 500 ms), and the last tick ends
/// both survivors' suspicions of it: n1 and n2 declare it Dead together.
pub(crate) const N0_CRASHES_N1_SEES_IT_DEAD: &[Action] = &[
    Deliver {
        from: 1,
        to: 0,
        n: 1,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 1,
    },
    Deliver {
        from: 0,
        to: 1,
        n: 1,
    },
    Deliver {
        from: 1,
        to: 0,
        n: 2,
    },
    Deliver {
        from: 0,
        to: 1,
        n: 2,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 1,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 2,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 2,
    },
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 3,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 3,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 1,
    },
    Deliver {
        from: 0,
        to: 1,
        n: 3,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 2,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 3,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 1,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 2,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 4,
    },
    Deliver {
        from: 1,
        to: 0,
        n: 4,
    },
    Deliver {
        from: 0,
        to: 1,
        n: 4,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 4,
    },
    Tick,
    Deliver {
        from: 0,
        to: 2,
        n: 5,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 5,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 3,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 3,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 6,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 6,
    },
    Broadcast(0),
    Deliver {
        from: 0,
        to: 1,
        n: 5,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 7,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 7,
    },
    Deliver {
        from: 1,
        to: 0,
        n: 5,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 4,
    },
    Deliver {
        from: 0,
        to: 1,
        n: 6,
    },
    Deliver {
        from: 0,
        to: 2,
        n: 8,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 4,
    },
    Crash(0),
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 6,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 8,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 5,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 5,
    },
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 7,
    },
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 8,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 9,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 6,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 10,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 11,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 6,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 7,
    },
    Deliver {
        from: 1,
        to: 0,
        n: 9,
    },
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 10,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 7,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 12,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 8,
    },
    Tick,
    Deliver {
        from: 1,
        to: 0,
        n: 11,
    },
    Deliver {
        from: 2,
        to: 0,
        n: 13,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 9,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 8,
    },
    Deliver {
        from: 1,
        to: 2,
        n: 9,
    },
    Deliver {
        from: 2,
        to: 1,
        n: 10,
    },
    Tick,
    Deliver {
        from: 2,
        to: 0,
        n: 14,
    },
    Tick,
];
