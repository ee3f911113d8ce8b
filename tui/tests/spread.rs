//! The Spread pane rendered into ratatui's TestBackend at 80x24 and 120x40: the views of eight
//! demo members are folded in as they would be read, and the screen must show which members
//! hold the change, `heard by K of N`, the periods it took and the log N expectation; earlier
//! changes stay selectable; outside the demo the pane shows the local node's own provenance.

mod common;

use std::time::{Duration, Instant};

use common::*;
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use rumor::{
    EventKind, Heard, Incarnation, LamportTime, MemberState, News, NodeName, Snapshot, Stats,
    Status, Via,
};
use rumor_tui::app::{App, DemoState};
use rumor_tui::demo::demo_expectation;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn name(n: &str) -> NodeName {
    NodeName::new(n).unwrap()
}

fn ms(origin: Instant, ms: u64) -> Instant {
    origin + Duration::from_millis(ms)
}

/// A demo dashboard watching n1, with the pane on as the demo starts it.
fn demo_app(o: Instant) -> App {
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    app.demo = Some(DemoState { loss: 0.0 });
    app.spread.shown = true;
    app.spread.expect = Some(demo_expectation());
    app
}

/// Node `node`'s view: every other of n1..n8 alive, except those in `states`.
fn view(o: Instant, node: &str, states: &[(&str, MemberState)], heard: Vec<Heard>) -> Snapshot {
    let port = |n: &str| 7000 + n.trim_start_matches('n').parse::<u16>().unwrap();
    let members = (1..=8)
        .map(|i| format!("n{i}"))
        .filter(|n| n != node)
        .map(|n| {
            let state = states
                .iter()
                .find(|(m, _)| *m == n)
                .map_or(MemberState::Alive, |(_, s)| *s);
            member(&n, port(&n), state, 0, o)
        })
        .collect();
    Snapshot {
        members,
        local: member(node, port(node), MemberState::Alive, 0, o),
        stats: Stats::default(),
        health: 0,
        status: Status::Running,
        heard,
    }
}

fn failed_n3() -> News {
    News::Member {
        name: name("n3"),
        kind: EventKind::Failed,
        state: MemberState::Dead,
        incarnation: Incarnation(0),
    }
}

fn record(news: News, at: Instant, via: Via, from: Option<&str>, told: u32) -> Heard {
    Heard {
        news,
        at,
        via,
        from_addr: from.map(|f| {
            let port = 7000 + f.trim_start_matches('n').parse::<u16>().unwrap();
            ([127, 0, 0, 1], port).into()
        }),
        from: from.map(name),
        told,
    }
}

/// The views after n3 crashed: `holders` (name, ms after the origin) have heard it failed.
fn crash_views(o: Instant, holders: &[(&str, u64)]) -> Vec<Snapshot> {
    ["n1", "n2", "n4", "n5", "n6", "n7", "n8"]
        .into_iter()
        .map(|node| match holders.iter().find(|(h, _)| *h == node) {
            Some(&(_, at)) => {
                let (via, from) = if at == 0 {
                    (Via::Probe, None)
                } else {
                    (Via::Piggyback, Some("n5"))
                };
                let heard = vec![record(failed_n3(), ms(o, at), via, from, 3)];
                view(o, node, &[("n3", MemberState::Dead)], heard)
            }
            None => view(o, node, &[("n3", MemberState::Suspect)], Vec::new()),
        })
        .collect()
}

/// The background of member `member`'s cell: the pane's first row below its title.
fn cell_colour(buffer: &Buffer, screen: &[String], member: &str) -> Color {
    let (y, title) = row_with(screen, " Spread ");
    let x0 = title[..title.find(" Spread ").unwrap()].chars().count();
    let y = y as u16 + 1;
    let row: Vec<&str> = (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol())
        .collect();
    let name: Vec<String> = member.chars().map(String::from).collect();
    let x = (x0..row.len() - name.len())
        .find(|&x| {
            name.iter().enumerate().all(|(i, c)| row[x + i] == c)
                && ["✓", "·", "*"].contains(&row[x + name.len()])
                && (row[x - 1] == " " || row[x - 1] == "│")
        })
        .unwrap_or_else(|| panic!("no cell {member} in row {y}:\n{}", screen.join("\n")));
    buffer[(x as u16, y)].bg
}

#[test]
fn a_crash_spreads_cell_by_cell_until_heard_by_seven_of_seven() {
    for (w, h) in SIZES {
        let o = origin();
        let mut app = demo_app(o);
        let partial = crash_views(o, &[("n4", 0), ("n5", 40), ("n1", 90), ("n7", 120)]);
        assert!(app.handle_views(ms(o, 150), &partial));
        let buffer = render(&app, w, h);
        let screen = lines(&buffer);
        let (_, title) = row_with(&screen, " Spread failed n3 ");
        assert!(title.contains("1/1"), "{w}x{h}: {title}");
        row_with(&screen, "heard by 4 of 7");
        row_with(&screen, "after 0.6 periods (120 ms)");
        for lit in ["n1", "n4", "n5", "n7"] {
            assert_eq!(
                cell_colour(&buffer, &screen, lit),
                Color::Green,
                "{w}x{h} {lit}"
            );
        }
        // The marks say the same without colours.
        row_with(&screen, "n1✓ n2· n3* n4✓ n5✓ n6· n7✓ n8·");
        for dark in ["n2", "n6", "n8"] {
            assert_ne!(
                cell_colour(&buffer, &screen, dark),
                Color::Green,
                "{w}x{h} {dark}"
            );
        }

        let all = crash_views(
            o,
            &[
                ("n4", 0),
                ("n5", 40),
                ("n1", 90),
                ("n7", 120),
                ("n2", 150),
                ("n6", 180),
                ("n8", 240),
            ],
        );
        app.handle_event(event(
            EventKind::Failed,
            "n3",
            MemberState::Dead,
            0,
            ms(o, 90),
        ));
        assert!(app.handle_views(ms(o, 300), &all));
        let buffer = render(&app, w, h);
        let screen = lines(&buffer);
        row_with(&screen, "heard by 7 of 7");
        // 240 ms in 200 ms protocol periods; log base k+1 = 4 of 7 members, 50 ms rounds.
        row_with(&screen, "after 1.2 periods (240 ms)");
        row_with(&screen, "expect log4 7 ≈ 1.4 rounds (70 ms)");
        for lit in ["n1", "n2", "n4", "n5", "n6", "n7", "n8"] {
            assert_eq!(
                cell_colour(&buffer, &screen, lit),
                Color::Green,
                "{w}x{h} {lit}"
            );
        }
        // The watched node's own provenance, and the figure on the event log line.
        row_with(&screen, "n1: piggyback from n5, passed on 3×");
        // Who heard it when, in order: the first one's own probe, then the rest by gossip.
        row_with(&screen, "ms n4 0.0 · n5 40 · n1 90");
        let figure = if w >= 100 {
            "failed  n3 inc 0 → all 7 in 1.2 periods"
        } else {
            "failed  n3 inc 0 → 1.2 periods"
        };
        row_with(&screen, figure);
        let logged = app.logs.iter().map(|l| l.text.as_str()).collect::<Vec<_>>();
        assert!(
            logged.iter().any(|l| l.starts_with(
                "failed n3 reached all 7 in 1.2 periods (240 ms); log4 7 ≈ 1.4 rounds (70 ms)"
            )),
            "{logged:?}"
        );
        // A later read changes nothing: the final figure stays.
        assert!(!app.handle_views(ms(o, 400), &all));
    }
}

#[test]
fn a_user_event_counts_its_origin_and_every_member_among_eight() {
    for (w, h) in SIZES {
        let o = origin();
        let mut app = demo_app(o);
        let deploy = News::User {
            origin: name("n1"),
            ltime: LamportTime(4),
            name: "deploy".into(),
        };
        let views: Vec<Snapshot> = (1..=8)
            .map(|i| {
                let node = format!("n{i}");
                let (via, from) = if i == 1 {
                    (Via::Origin, None)
                } else {
                    (Via::Piggyback, Some("n1"))
                };
                let heard = vec![record(deploy.clone(), ms(o, 15 * i), via, from, 2)];
                view(o, &node, &[], heard)
            })
            .collect();
        app.handle_views(ms(o, 200), &views);
        let screen = lines(&render(&app, w, h));
        row_with(&screen, " Spread user deploy from n1 ");
        row_with(&screen, "heard by 8 of 8");
        row_with(&screen, "after 0.5 periods (105 ms)");
        row_with(&screen, "expect log4 8 ≈ 1.5 rounds (75 ms)");
        row_with(&screen, "n1: origin, passed on 2×");
    }
}

#[test]
fn earlier_changes_stay_selectable_with_their_final_figure() {
    let o = origin();
    let mut app = demo_app(o);
    let suspect = News::Member {
        name: name("n3"),
        kind: EventKind::Suspected,
        state: MemberState::Suspect,
        incarnation: Incarnation(0),
    };
    // First the suspicion reaches everyone, then the verdict does.
    let suspected: Vec<Snapshot> = ["n1", "n2", "n4", "n5", "n6", "n7", "n8"]
        .into_iter()
        .enumerate()
        .map(|(i, node)| {
            let heard = vec![record(
                suspect.clone(),
                ms(o, 20 * i as u64),
                Via::Piggyback,
                Some("n2"),
                1,
            )];
            view(o, node, &[("n3", MemberState::Suspect)], heard)
        })
        .collect();
    app.handle_views(ms(o, 200), &suspected);
    app.handle_views(
        ms(o, 2000),
        &crash_views(
            o,
            &[
                ("n4", 1500),
                ("n1", 1550),
                ("n2", 1600),
                ("n5", 1600),
                ("n6", 1650),
                ("n7", 1700),
                ("n8", 1700),
            ],
        ),
    );
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Spread failed n3 ");
    row_with(&screen, "1/2");
    row_with(&screen, "suspect n3");
    row_with(&screen, "all 7 in 0.6 periods");
    row_with(&screen, "after 1.0 periods (200 ms)");

    app.handle_key(key(KeyCode::Char('[')));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Spread suspect n3 ");
    row_with(&screen, "2/2");
    row_with(&screen, "after 0.6 periods (120 ms)");
    app.handle_key(key(KeyCode::Char(']')));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Spread failed n3 ");
}

#[test]
fn a_member_holding_the_change_without_its_record_is_lit_with_an_upper_bound() {
    let o = origin();
    let mut app = demo_app(o);
    let mut views = crash_views(
        o,
        &[
            ("n4", 0),
            ("n5", 40),
            ("n1", 90),
            ("n7", 120),
            ("n2", 150),
            ("n6", 180),
        ],
    );
    // n8's table says n3 is dead, but its record of hearing so is gone.
    views.retain(|v| v.local.name.as_str() != "n8");
    views.push(view(o, "n8", &[("n3", MemberState::Dead)], Vec::new()));
    app.handle_views(ms(o, 260), &views);
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "heard by 7 of 7");
    row_with(&screen, "after ≤ 1.3 periods (260 ms)");
}

#[test]
fn the_pane_toggles_with_v_and_the_traffic_pane_comes_back() {
    let o = origin();
    let mut app = demo_app(o);
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Spread ");
    assert!(!screen.iter().any(|l| l.contains(" Traffic ")));
    app.handle_key(key(KeyCode::Char('v')));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Traffic ");
    assert!(!screen.iter().any(|l| l.contains(" Spread ")));
    app.handle_key(key(KeyCode::Char('?')));
    let screen = lines(&render(&app, 120, 40));
    row_with(&screen, "spread pane (instead of traffic)");
    row_with(&screen, "log4(N)");
}

#[test]
fn a_real_agent_shows_only_what_it_heard_itself() {
    for (w, h) in SIZES {
        let o = origin();
        let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
        app.handle_key(key(KeyCode::Char('v')));
        let mut sample = view(o, "n1", &[("n3", MemberState::Dead)], Vec::new());
        sample.heard = vec![
            record(
                News::Member {
                    name: name("n3"),
                    kind: EventKind::Suspected,
                    state: MemberState::Suspect,
                    incarnation: Incarnation(0),
                },
                ms(o, 1_000),
                Via::Probe,
                None,
                4,
            ),
            record(failed_n3(), ms(o, 3_200), Via::Piggyback, Some("n5"), 6),
        ];
        app.handle_sample(ms(o, 4_000), sample);
        let screen = lines(&render(&app, w, h));
        row_with(&screen, " Heard by n1 ");
        row_with(&screen, "failed n3");
        row_with(&screen, "heard 00:03.2 via piggyback");
        row_with(&screen, "from n5 (127.0.0.1:7005)");
        row_with(&screen, "passed on 6 times since");
        row_with(&screen, "others' views: not visible here");
        assert!(
            !screen.iter().any(|l| l.contains("heard by ")),
            "no K of N outside the demo"
        );
        app.handle_key(key(KeyCode::Char('[')));
        let screen = lines(&render(&app, w, h));
        row_with(&screen, "heard 00:01.0 via own probe");
        row_with(&screen, "passed on 4 times since");
    }
}

#[test]
fn a_verdict_passed_on_at_once_is_shown_below_the_millisecond() {
    let o = origin();
    let mut app = demo_app(o);
    let us = |n: u64| o + Duration::from_micros(n);
    let views: Vec<Snapshot> = ["n1", "n2", "n4", "n5", "n6", "n7", "n8"]
        .into_iter()
        .enumerate()
        .map(|(i, node)| {
            let heard = vec![record(
                failed_n3(),
                us(60 * i as u64),
                Via::Piggyback,
                Some("n2"),
                1,
            )];
            view(o, node, &[("n3", MemberState::Dead)], heard)
        })
        .collect();
    app.handle_views(ms(o, 50), &views);
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "heard by 7 of 7");
    row_with(&screen, "after 0.00 periods (0.4 ms)");
}

#[test]
fn a_change_dropped_from_the_last_twenty_does_not_come_back_from_an_old_record() {
    let o = origin();
    let mut app = demo_app(o);
    let joined = |i: u32| News::Member {
        name: name("n3"),
        kind: EventKind::Alive,
        state: MemberState::Alive,
        incarnation: Incarnation(i),
    };
    // n2 heard the first change late and keeps its record while 20 newer ones come and go.
    let old = record(joined(1), ms(o, 250), Via::Piggyback, Some("n4"), 1);
    for i in 1..=21u32 {
        let views: Vec<Snapshot> = ["n1", "n2", "n4", "n5", "n6", "n7", "n8"]
            .into_iter()
            .map(|node| {
                let mut heard = vec![record(
                    joined(i),
                    ms(o, 100 * u64::from(i)),
                    Via::Piggyback,
                    Some("n4"),
                    1,
                )];
                if node == "n2" {
                    heard.insert(0, old.clone());
                }
                view(o, node, &[], heard)
            })
            .collect();
        app.handle_views(ms(o, 100 * u64::from(i) + 50), &views);
    }
    assert_eq!(app.spread.changes.len(), 20);
    let labels: Vec<&str> = app
        .spread
        .changes
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert!(!labels.contains(&"alive n3 inc 1"), "{labels:?}");
    let logged = app
        .logs
        .iter()
        .filter(|l| l.text.starts_with("alive n3 inc 1 "))
        .count();
    assert_eq!(logged, 1, "its figure is logged once");
}
