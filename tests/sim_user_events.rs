//! User events in the simulator, as properties over seeds: one broadcast reaches every one of
//! 50 members exactly once, without loss within the paper's lambda*log(N) periods, and under
//! 20 % loss within that plus two push-pull intervals (gossip leaves a member out now and then;
//! anti-entropy and the repair of quiet members bring it the event).

mod common;

use std::time::Duration;

use rumor::Profile;
use rumor::sim::SimConfig;
use rumor::sim::scenario::{Params, lambda_log_n, user_event};

const SEEDS: u64 = 8;
const N: usize = 50;

#[test]
fn one_event_reaches_all_fifty_exactly_once_within_the_bound() {
    let base = common::seed();
    let params = Params::new(base);
    let t = SimConfig::new(1, Profile::Lan, 0).template;
    let gossip_bound = t.probe_interval * lambda_log_n(t.retransmit_mult, N);
    // Past 32 members push-pull runs every second interval.
    let push_pull = t.push_pull_interval * 2;
    // Repeats may arrive for as long as gossip and syncs carry the event: watch a minute.
    let window = Duration::from_secs(60);
    for (loss, bound) in [(0.0, gossip_bound), (0.2, gossip_bound + push_pull * 2)] {
        for k in 0..SEEDS {
            let seed = base.wrapping_add(k);
            let u = user_event(&params, N, loss, window, seed).unwrap();
            let d = &u.spread;
            let took = d.time_to_all.unwrap_or_else(|| {
                panic!(
                    "seed={seed} loss={loss}: only {} of {N} delivered it",
                    d.received.iter().flatten().count()
                )
            });
            assert!(
                took <= bound,
                "seed={seed} loss={loss}: the last delivered after {took:?}, bound {bound:?}"
            );
            assert_eq!(u.duplicates, 0, "seed={seed} loss={loss}: delivered twice");
            assert!(u.event_bytes > 0);
        }
    }
}
