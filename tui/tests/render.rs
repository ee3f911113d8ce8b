//! The dashboard rendered into ratatui's TestBackend from a fixed list of events: rows, states,
//! colours, counts, overlays and the filter, read back from the screen.

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use ratatui::style::Color;
use rumor::{Snapshot, Stats, Status};
use rumor_tui::app::{Action, DemoState, Fault, Mode};

#[test]
fn table_shows_each_member_with_state_incarnation_and_age() {
    let o = origin();
    let app = cluster_app(o);
    let screen = lines(&render(&app, 80, 24));

    let expected: [&[&str]; 5] = [
        &["n1", "(self)", "127.0.0.1:7001", "alive", "0", "10s", "-"],
        &["n2", "127.0.0.1:7002", "alive", "0", "9s", "-"],
        &["n3", "127.0.0.1:7003", "suspect", "0", "8s", "-"],
        &["n4", "127.0.0.1:7004", "dead", "1", "6s", "-"],
        &["n5", "127.0.0.1:7005", "left", "0", "5s", "-"],
    ];
    for row in expected {
        assert_eq!(table_cells(&screen, row[0]), row);
    }
}

#[test]
fn header_counts_members_by_state_including_self() {
    let o = origin();
    let app = cluster_app(o);
    let screen = lines(&render(&app, 80, 24));
    let (row, header) = row_with(&screen, "members:");
    assert_eq!(row, 1, "counts are on the header's second line");
    assert!(
        header.contains("5 members: 2 alive  1 suspect  1 dead  1 left"),
        "{header}"
    );
    let (_, first) = row_with(&screen, " rumor ");
    assert!(first.contains("n1 @ 127.0.0.1:7001"), "{first}");
    assert!(first.contains("up 00:10"), "{first}");
}

#[test]
fn state_cells_are_coloured_by_state() {
    let o = origin();
    let app = cluster_app(o);
    let buffer = render(&app, 80, 24);
    let screen = lines(&buffer);
    for (name, word, colour) in [
        ("n2", "alive", Color::Green),
        ("n3", "suspect", Color::Yellow),
        ("n4", "dead", Color::Red),
        ("n5", "left", Color::DarkGray),
    ] {
        let (y, line) = screen
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains(&format!("│{name} ")))
            .unwrap();
        let x = line.chars().collect::<Vec<_>>();
        let col = (0..x.len())
            .find(|&i| x[i..].iter().collect::<String>().starts_with(word))
            .unwrap();
        assert_eq!(buffer[(col as u16, y as u16)].fg, colour, "{name} {word}");
    }
}

#[test]
fn event_log_lists_newest_first_with_timestamps() {
    let o = origin();
    let app = cluster_app(o);
    let screen = lines(&render(&app, 80, 24));
    let (left, _) = row_with(&screen, "00:05.0 left    n5");
    let (failed, _) = row_with(&screen, "00:04.0 failed  n4 inc 1");
    let (suspect, _) = row_with(&screen, "00:03.0 suspect n4 inc 1");
    assert!(left < failed && failed < suspect, "{}", screen.join("\n"));
}

#[test]
fn usable_at_80x24_with_footer_hints_that_fit() {
    let o = origin();
    let app = cluster_app(o);
    let screen = lines(&render(&app, 80, 24));
    let footer = &screen[23];
    assert!(footer.contains(" q quit"), "{footer}");
    assert!(footer.contains(" ? help"), "{footer}");
    // Every member row is visible at the smallest supported size.
    for name in ["n1", "n2", "n3", "n4", "n5"] {
        table_cells(&screen, name);
    }
    // Smaller than that must still draw (clipped), never panic.
    render(&app, 30, 8);
    render(&app, 1, 1);
}

#[test]
fn help_overlay_lists_keys_and_closes() {
    let o = origin();
    let mut app = cluster_app(o);
    assert!(
        !lines(&render(&app, 80, 24))
            .iter()
            .any(|l| l.contains(" Keys "))
    );

    app.handle_key(key(KeyCode::Char('?')));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " Keys ");
    row_with(&screen, "leave the cluster gracefully and quit");
    row_with(&screen, "cycle the sort column");
    assert!(
        !screen.iter().any(|l| l.contains("demo: crash")),
        "demo keys only in the demo"
    );

    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    app.demo = Some(DemoState::default());
    app.handle_key(key(KeyCode::Char('?')));
    let screen = lines(&render(&app, 100, 30));
    row_with(&screen, "demo: crash the selected node");
}

#[test]
fn filter_by_name_or_state_hides_other_rows() {
    let o = origin();
    let mut app = cluster_app(o);
    app.handle_key(key(KeyCode::Char('/')));
    type_text(&mut app, "sus");
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "filter /sus");
    assert!(
        screen[23].contains(" filter  /sus"),
        "footer: {}",
        screen[23]
    );
    table_cells(&screen, "n3");
    for hidden in ["n1", "n2", "n4", "n5"] {
        assert!(
            !screen.iter().any(|l| l.contains(&format!("│{hidden} "))),
            "{hidden} should be filtered out:\n{}",
            screen.join("\n")
        );
    }
    row_with(&screen, "Members (1/5)");

    // Enter keeps the filter, Esc in normal mode clears it.
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.filter, "sus");
    app.handle_key(key(KeyCode::Esc));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "Members (5/5)");

    app.handle_key(key(KeyCode::Char('/')));
    type_text(&mut app, "N4");
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "Members (1/5)");
    table_cells(&screen, "n4");
}

#[test]
fn selected_row_is_highlighted_and_detail_shows_history() {
    let o = origin();
    let mut app = cluster_app(o);
    // Rows by name: n1 n2 n3 n4 n5; three steps down is n4.
    for _ in 0..3 {
        app.handle_key(key(KeyCode::Char('j')));
    }
    let buffer = render(&app, 80, 24);
    let screen = lines(&buffer);
    let (y, _) = row_with(&screen, "│n4 ");
    assert!(
        buffer[(2, y as u16)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "the selected row is drawn reversed"
    );

    app.handle_key(key(KeyCode::Enter));
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, " n4 ");
    let (failed, line) = row_with(&screen, "failed  → dead");
    assert!(line.contains("00:04.0"), "{line}");
    let (suspected, _) = row_with(&screen, "suspect → suspect");
    let (joined, _) = row_with(&screen, "joined  → alive");
    assert!(failed < suspected && suspected < joined, "newest first");
}

#[test]
fn traffic_pane_shows_rates_from_two_samples() {
    let o = origin();
    let mut app = cluster_app(o);
    let local = app.local().unwrap().member.clone();
    let mut stats = Stats::default();
    app.handle_sample(
        at(o, 10.0),
        Snapshot {
            local: local.clone(),
            members: Vec::new(),
            stats: stats.clone(),
            health: 0,
            status: Status::Running,
            heard: Vec::new(),
        },
    );
    stats.packets_in[0] = 240;
    stats.bytes_in[0] = 24_000;
    stats.packets_out[0] = 120;
    stats.bytes_out[0] = 6_000;
    stats.dropped_fault = 7;
    app.handle_sample(
        at(o, 12.0),
        Snapshot {
            local,
            members: Vec::new(),
            stats,
            health: 2,
            status: Status::Running,
            heard: Vec::new(),
        },
    );
    let screen = lines(&render(&app, 80, 24));
    row_with(&screen, "pkts in      120/s");
    row_with(&screen, "pkts out      60/s");
    row_with(&screen, "bytes in   12.0k/s");
    row_with(&screen, "bytes out   3.0k/s");
    row_with(&screen, "dropped 7 fault 7");
    let (_, kinds) = row_with(&screen, "sent/s ping 60");
    assert!(
        !kinds.contains("ack"),
        "kinds not sent are left out: {kinds}"
    );
    row_with(&screen, "health 2");
}

#[test]
fn demo_shows_faults_and_loss() {
    let o = origin();
    let mut app = cluster_app(o);
    app.demo = Some(DemoState { loss: 0.15 });
    app.handle_key(key(KeyCode::Char('j')));
    assert_eq!(
        app.handle_key(key(KeyCode::Char('x'))),
        Some(Action::Crash(rumor::NodeName::new("n2").unwrap()))
    );
    app.set_fault(&rumor::NodeName::new("n2").unwrap(), Some(Fault::Killed));
    app.set_fault(
        &rumor::NodeName::new("n3").unwrap(),
        Some(Fault::Paused {
            until: at(o, 10.0) + Duration::from_secs(2),
        }),
    );
    let screen = lines(&render(&app, 100, 30));
    row_with(&screen, "demo loss 15%");
    assert_eq!(table_cells(&screen, "n2")[6], "killed");
    assert_eq!(table_cells(&screen, "n3")[6], "paused");
    assert!(screen[29].contains(" x crash"), "{}", screen[29]);

    // The pause ends by itself once its time has passed.
    app.advance(at(o, 13.0));
    let screen = lines(&render(&app, 100, 30));
    assert_eq!(table_cells(&screen, "n3").len(), 6, "no fault column entry");
}

#[test]
fn selection_moves_within_the_view_once_scrolled() {
    let o = origin();
    let mut app = cluster_app(o);
    for i in 6..=30 {
        app.handle_event(event(
            rumor::EventKind::Joined,
            &format!("n{i}"),
            rumor::MemberState::Alive,
            0,
            at(o, 1.0),
        ));
    }
    // 80x24 shows nine member rows. Going to the end scrolls; one step up then moves the
    // highlight inside the view rather than scrolling again.
    app.handle_key(key(KeyCode::End));
    let bottom = lines(&render(&app, 80, 24));
    let (last_y, _) = row_with(&bottom, "│n30 ");
    app.handle_key(key(KeyCode::Char('k')));
    let buffer = render(&app, 80, 24);
    let screen = lines(&buffer);
    assert_eq!(
        row_with(&screen, "│n30 ").0,
        last_y,
        "the view did not scroll"
    );
    let (y, _) = row_with(&screen, "│n29 ");
    assert!(
        buffer[(2, y as u16)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
    assert!(
        !screen.iter().any(|l| l.contains("│n2 ")),
        "n2 scrolled out"
    );
}

#[test]
fn user_events_show_in_the_event_log_with_name_origin_and_payload() {
    let o = origin();
    let mut app = cluster_app(o);
    app.handle_event(user_event("deploy", "n2", 12, b"release 42", at(o, 6.0)));
    app.handle_event(user_event("blob", "n3", 13, &[0xff, 0, 1], at(o, 7.0)));
    let screen = lines(&render(&app, 100, 30));
    let (blob, line) = row_with(&screen, "00:07.0 user    blob from n3 t13 (3 bytes)");
    assert!(!line.contains("inc"), "{line}");
    let (deploy, _) = row_with(&screen, "00:06.0 user    deploy from n2 t12 \"release 42\"");
    assert!(blob < deploy, "newest first");
    // A user event is no state change: the table still has five members, n2 still alive.
    row_with(&screen, "Members (5/5)");
    assert_eq!(table_cells(&screen, "n2")[2], "alive");
}

#[test]
fn the_event_key_opens_a_prompt_that_sends_name_and_payload() {
    let o = origin();
    let mut app = cluster_app(o);
    let screen = lines(&render(&app, 120, 30));
    assert!(screen[29].contains(" e event"), "hint: {}", screen[29]);
    app.handle_key(key(KeyCode::Char('e')));
    assert_eq!(app.mode, Mode::Broadcast);
    let screen = lines(&render(&app, 100, 30));
    assert!(
        screen[29].contains(" event  NAME [PAYLOAD]"),
        "{}",
        screen[29]
    );
    type_text(&mut app, "deploy v2 now");
    let screen = lines(&render(&app, 100, 30));
    assert!(
        screen[29].contains(" event  deploy v2 now"),
        "{}",
        screen[29]
    );
    let action = app.handle_key(key(KeyCode::Enter));
    assert_eq!(
        action,
        Some(Action::Broadcast {
            name: "deploy".into(),
            payload: b"v2 now".to_vec(),
        })
    );
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.prompt.is_empty());
    // A name alone sends an empty payload; Esc drops what was typed.
    app.handle_key(key(KeyCode::Char('e')));
    type_text(&mut app, "ping");
    assert_eq!(
        app.handle_key(key(KeyCode::Enter)),
        Some(Action::Broadcast {
            name: "ping".into(),
            payload: vec![],
        })
    );
    app.handle_key(key(KeyCode::Char('e')));
    type_text(&mut app, "oops");
    assert_eq!(app.handle_key(key(KeyCode::Esc)), None);
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.prompt.is_empty());
    // Keys typed in the prompt are text, not commands ('q' does not quit).
    app.handle_key(key(KeyCode::Char('e')));
    type_text(&mut app, "q");
    assert!(!app.quitting);
    // No name: nothing is sent and the prompt stays open.
    app.handle_key(key(KeyCode::Backspace));
    assert_eq!(app.handle_key(key(KeyCode::Enter)), None);
    assert_eq!(app.mode, Mode::Broadcast);
}

#[test]
fn help_lists_the_event_key() {
    let o = origin();
    let mut app = cluster_app(o);
    app.handle_key(key(KeyCode::Char('?')));
    let screen = lines(&render(&app, 100, 30));
    row_with(&screen, "send a user event to every member: NAME [PAYLOAD]");
}
