//! The demo's faults on real nodes over loopback UDP, as the watched node sees them: a crash
//! is detected and declared Failed, a restart with the same name comes back with a higher
//! incarnation, loss and pause reach the nodes.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rumor::{Event, EventKind, Incarnation, MemberState};
use rumor_tui::demo::{Demo, LOSS_STEP, MAX_LOSS};

/// Reads events until one matches, or fails after `timeout` of silence or mismatch.
#[allow(
    clippy::disallowed_methods,
    reason = "the deadline of a wait needs one clock read"
)]
fn wait_for(
    events: &Receiver<Event>,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(format!(
                "{} {} inc {}",
                e.kind, e.member.name, e.member.incarnation
            )),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                panic!("no {what} within {timeout:?}; saw: {seen:?}")
            }
        }
    }
}

#[test]
fn crash_is_detected_and_restart_comes_back_with_a_higher_incarnation() {
    let (watched, mut demo) = Demo::start(4).expect("start 4 demo nodes");
    let events = watched.events();
    assert_eq!(watched.members().len(), 3);

    demo.crash("n3").unwrap();
    assert!(
        demo.crash("n3").is_err(),
        "a crashed node cannot crash again"
    );
    assert!(demo.pause("n3").is_err(), "nor pause");
    let failed = wait_for(&events, Duration::from_secs(15), "Failed n3", |e| {
        e.kind == EventKind::Failed && e.member.name.as_str() == "n3"
    });
    assert_eq!(failed.member.state, MemberState::Dead);

    let mut seeds = vec![watched.addr()];
    seeds.extend(demo.live_addrs());
    assert_eq!(seeds.len(), 3, "n1, n2, n4 are up");
    demo.restart("n3", seeds).unwrap();
    let restarted = demo
        .restarted()
        .recv_timeout(Duration::from_secs(10))
        .expect("the restart thread reports back");
    assert_eq!(restarted.name, "n3");
    demo.finish_restart(restarted).expect("n3 starts again");
    let back = wait_for(&events, Duration::from_secs(15), "n3 back", |e| {
        e.member.name.as_str() == "n3" && e.member.state == MemberState::Alive
    });
    assert!(
        back.member.incarnation > Incarnation(0),
        "a restart refutes its death with a higher incarnation, got {:?}",
        back.member.incarnation
    );

    // Loss moves in whole steps within its bounds, on every node.
    assert_eq!(demo.change_loss(-1, &watched), 0.0);
    assert_eq!(demo.change_loss(1, &watched), LOSS_STEP);
    for _ in 0..50 {
        demo.change_loss(1, &watched);
    }
    assert_eq!(demo.loss(), MAX_LOSS);
    demo.change_loss(-20, &watched);
    assert_eq!(demo.loss(), 0.0);

    assert_eq!(demo.pause("n2").unwrap(), rumor_tui::demo::PAUSE_FOR);
    demo.shutdown();
    let _ = watched.shutdown();
}
