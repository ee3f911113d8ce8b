//! Folding events, samples and keys into the dashboard's state: the table, each member's
//! history, the logs, the rates, and the actions keys ask for.

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rumor::{EventKind, Incarnation, MemberState, NodeName, Snapshot, Stats, Status};
use rumor_tui::app::{
    Action, App, DemoState, EVENT_LOG_LEN, FORGET_AFTER, Fault, HISTORY_LEN, Level, Mode,
    SortColumn,
};
use rumor_tui::input::UiEvent;

fn name(n: &str) -> NodeName {
    NodeName::new(n).unwrap()
}

fn local_sample(app: &App, members: Vec<rumor::Member>, stats: Stats) -> Snapshot {
    Snapshot {
        local: app.local().unwrap().member.clone(),
        members,
        stats,
        health: 0,
        status: Status::Running,
        heard: Vec::new(),
    }
}

#[test]
fn refuted_suspicion_ends_alive_with_higher_incarnation_and_full_history() {
    let o = origin();
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    let steps = [
        (EventKind::Joined, MemberState::Alive, 0),
        (EventKind::Suspected, MemberState::Suspect, 0),
        (EventKind::Alive, MemberState::Alive, 1),
    ];
    for (i, (kind, state, inc)) in steps.into_iter().enumerate() {
        let action = app.handle(
            at(o, i as f64),
            UiEvent::Node(event(kind, "n2", state, inc, at(o, i as f64))),
        );
        assert_eq!(action, None);
    }
    let row = &app.members[&name("n2")];
    assert_eq!(row.member.state, MemberState::Alive);
    assert_eq!(row.member.incarnation, Incarnation(1));
    let history: Vec<_> = row
        .history
        .iter()
        .map(|h| (h.kind, h.state, h.incarnation.0))
        .collect();
    assert_eq!(
        history,
        [
            (EventKind::Joined, MemberState::Alive, 0),
            (EventKind::Suspected, MemberState::Suspect, 0),
            (EventKind::Alive, MemberState::Alive, 1),
        ]
    );
    assert_eq!(app.events.len(), 3);
    assert_eq!(app.now, at(o, 2.0));
}

#[test]
fn events_about_the_local_node_update_its_row_not_a_new_one() {
    let o = origin();
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    app.handle_event(event(
        EventKind::Alive,
        "n1",
        MemberState::Alive,
        3,
        at(o, 1.0),
    ));
    assert_eq!(app.members.len(), 1);
    let local = app.local().unwrap();
    assert!(local.is_local);
    assert_eq!(local.member.incarnation, Incarnation(3));
    assert_eq!(local.member.addr.port(), 7001, "keeps its own address");
}

#[test]
fn logs_and_histories_are_bounded() {
    let o = origin();
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    let total = EVENT_LOG_LEN + 10;
    for i in 0..total {
        let (kind, state) = if i % 2 == 0 {
            (EventKind::Suspected, MemberState::Suspect)
        } else {
            (EventKind::Alive, MemberState::Alive)
        };
        app.handle_event(event(kind, "n2", state, i as u32, at(o, i as f64)));
    }
    assert_eq!(app.events.len(), EVENT_LOG_LEN);
    assert_eq!(
        app.events.back().unwrap().member.incarnation,
        Incarnation(total as u32 - 1)
    );
    let history = &app.members[&name("n2")].history;
    assert_eq!(history.len(), HISTORY_LEN);
    assert_eq!(
        history.front().unwrap().incarnation,
        Incarnation((total - HISTORY_LEN) as u32)
    );
}

#[test]
fn samples_give_per_second_rates_rtts_and_members_events_missed() {
    let o = origin();
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    let mut stats = Stats::default();
    stats.packets_out[0] = 50;
    app.handle_sample(at(o, 1.0), local_sample(&app, Vec::new(), stats.clone()));
    assert!(app.traffic.is_empty(), "one sample gives no rate yet");

    stats.packets_out[0] = 50 + 300;
    stats.bytes_out[2] = 4_000;
    stats.packets_in[1] = 10;
    let mut n2 = member("n2", 7002, MemberState::Alive, 4, at(o, 0.5));
    n2.rtt = Some(Duration::from_micros(420));
    app.handle_sample(at(o, 3.0), local_sample(&app, vec![n2], stats));
    let rate = *app.traffic.back().unwrap();
    assert_eq!(rate.packets_out, 150);
    assert_eq!(rate.bytes_out, 2_000);
    assert_eq!(rate.packets_in, 5);
    let row = &app.members[&name("n2")];
    assert_eq!(row.member.rtt, Some(Duration::from_micros(420)));
    assert_eq!(row.member.incarnation, Incarnation(4));
    assert!(
        row.history.is_empty(),
        "a snapshot is not a state change anyone saw"
    );
}

#[test]
fn forgotten_dead_members_leave_the_table_after_a_while() {
    let o = origin();
    let mut app = cluster_app(o);
    // The node still knows n4 (dead) and n5 (left): they stay.
    let known: Vec<_> = app
        .members
        .values()
        .filter(|r| !r.is_local)
        .map(|r| r.member.clone())
        .collect();
    app.handle_sample(
        at(o, 20.0),
        local_sample(&app, known.clone(), Stats::default()),
    );
    assert_eq!(app.members.len(), 5);
    // It forgot them: they stay for FORGET_AFTER, then go. Active members never go this way.
    let alive: Vec<_> = known.into_iter().filter(|m| m.state.is_active()).collect();
    app.handle_sample(
        at(o, 30.0),
        local_sample(&app, alive.clone(), Stats::default()),
    );
    assert_eq!(app.members.len(), 5);
    let later = at(o, 10.0) + FORGET_AFTER;
    app.handle_sample(later, local_sample(&app, alive, Stats::default()));
    let names: Vec<_> = app.members.keys().map(|n| n.to_string()).collect();
    assert_eq!(names, ["n1", "n2", "n3"]);
}

#[test]
fn sort_cycles_and_selection_follows_the_member() {
    let o = origin();
    let mut app = cluster_app(o);
    app.handle_key(key(KeyCode::Char('j')));
    app.handle_key(key(KeyCode::Char('j')));
    assert_eq!(app.selected_row().unwrap().member.name, name("n3"));

    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortColumn::State);
    let order: Vec<_> = app
        .visible_rows()
        .iter()
        .map(|r| r.member.name.to_string())
        .collect();
    assert_eq!(
        order,
        ["n3", "n4", "n1", "n2", "n5"],
        "troubled members first"
    );
    assert_eq!(app.selected_index(), Some(0), "still on n3");

    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortColumn::Incarnation);
    assert_eq!(app.visible_rows()[0].member.name, name("n4"));
    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortColumn::Since);
    assert_eq!(
        app.visible_rows()[0].member.name,
        name("n5"),
        "latest change first"
    );
    app.handle_key(key(KeyCode::Char('s')));
    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortColumn::Name);

    app.handle_key(key(KeyCode::End));
    assert_eq!(app.selected_row().unwrap().member.name, name("n5"));
    app.handle_key(key(KeyCode::Down));
    assert_eq!(
        app.selected_row().unwrap().member.name,
        name("n5"),
        "stays at the end"
    );
    app.handle_key(key(KeyCode::Home));
    app.handle_key(key(KeyCode::Up));
    assert_eq!(app.selected_row().unwrap().member.name, name("n1"));
}

#[test]
fn quit_and_leave_keys_ask_for_the_right_actions() {
    let o = origin();
    let mut app = cluster_app(o);
    app.handle_key(key(KeyCode::Char('L')));
    assert_eq!(app.mode, Mode::ConfirmLeave);
    assert_eq!(app.handle_key(key(KeyCode::Char('n'))), None);
    assert_eq!(app.mode, Mode::Normal);
    app.handle_key(key(KeyCode::Char('L')));
    assert_eq!(app.handle_key(key(KeyCode::Char('y'))), Some(Action::Leave));

    // Ctrl-C quits from any mode, even while typing a filter; q there is just a letter.
    app.handle_key(key(KeyCode::Char('/')));
    assert_eq!(app.handle_key(key(KeyCode::Char('q'))), None);
    assert_eq!(app.filter, "q");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.handle_key(ctrl_c), Some(Action::Quit));
    assert!(app.quitting);

    let mut app = cluster_app(o);
    assert_eq!(app.handle_key(key(KeyCode::Char('q'))), Some(Action::Quit));
}

#[test]
fn demo_keys_act_on_the_selected_member_only_when_they_make_sense() {
    let o = origin();
    let mut app = cluster_app(o);
    assert_eq!(
        app.handle_key(key(KeyCode::Char('x'))),
        None,
        "no demo, no crash"
    );

    app.demo = Some(DemoState::default());
    // n1 is the local node: it cannot crash itself.
    assert_eq!(app.handle_key(key(KeyCode::Char('x'))), None);
    assert_eq!(app.logs.back().unwrap().level, Level::Warn);

    app.handle_key(key(KeyCode::Char('j')));
    let n2 = || Some(name("n2"));
    // (key, fault of n2 before the key, expected action): n2 is running, then killed.
    let script = [
        ('r', None, None),
        ('p', None, Some(Action::Pause(name("n2")))),
        ('x', None, Some(Action::Crash(name("n2")))),
        ('p', Some(Fault::Killed), None),
        ('x', Some(Fault::Killed), None),
        ('r', Some(Fault::Killed), Some(Action::Restart(name("n2")))),
        ('+', Some(Fault::Killed), Some(Action::Loss(1))),
        ('-', Some(Fault::Killed), Some(Action::Loss(-1))),
    ];
    for (c, fault, expected) in script {
        app.set_fault(&name("n2"), fault);
        assert_eq!(
            app.handle_key(key(KeyCode::Char(c))),
            expected,
            "key {c} with n2 {fault:?}"
        );
        assert_eq!(app.selected_row().map(|r| r.member.name.clone()), n2());
    }

    // A restarted member's fault clears once the cluster sees it active again.
    app.set_fault(&name("n2"), Some(Fault::Restarting));
    app.handle_event(event(
        EventKind::Alive,
        "n2",
        MemberState::Alive,
        1,
        at(o, 11.0),
    ));
    assert_eq!(app.members[&name("n2")].fault, None);
}

#[test]
fn log_lines_are_numbered_for_the_file_writer() {
    let o = origin();
    let mut app = App::new(o, member("n1", 7001, MemberState::Alive, 0, o));
    app.log(Level::Info, "one");
    app.advance(at(o, 1.0));
    app.log(Level::Error, "two");
    let seqs: Vec<_> = app
        .logs
        .iter()
        .map(|l| (l.seq, l.text.as_str(), l.at))
        .collect();
    assert_eq!(seqs, [(0, "one", o), (1, "two", at(o, 1.0))]);
}

#[test]
fn filter_matches_tags_too() {
    let o = origin();
    let mut app = cluster_app(o);
    let mut n2 = app.members[&name("n2")].member.clone();
    n2.tags = rumor::Tags::new([("zone", "eu-west")]).unwrap();
    app.handle_sample(at(o, 11.0), local_sample(&app, vec![n2], Stats::default()));
    app.handle_key(key(KeyCode::Char('/')));
    type_text(&mut app, "EU-");
    let shown: Vec<_> = app
        .visible_rows()
        .iter()
        .map(|r| r.member.name.to_string())
        .collect();
    assert_eq!(shown, ["n2"]);
}

#[test]
fn terminal_input_keeps_presses_and_resizes_only() {
    use crossterm::event::{Event as Term, KeyEventKind};
    use rumor_tui::input::from_terminal;
    let mut release = key(KeyCode::Char('q'));
    release.kind = KeyEventKind::Release;
    assert!(
        from_terminal(Term::Key(release)).is_none(),
        "a release must not act twice"
    );
    assert!(matches!(
        from_terminal(Term::Key(key(KeyCode::Char('q')))),
        Some(UiEvent::Key(k)) if k.code == KeyCode::Char('q')
    ));
    assert!(matches!(
        from_terminal(Term::Resize(80, 24)),
        Some(UiEvent::Resize(80, 24))
    ));
    assert!(from_terminal(Term::FocusGained).is_none());
}

#[test]
fn names_sort_with_numbers_by_value() {
    use rumor_tui::app::natural_cmp;
    use std::cmp::Ordering::*;
    let mut names = vec![
        "n10", "n2", "n1", "web-3b", "web-3a", "n010", "n02", "n", "m100",
    ];
    names.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        names,
        [
            "m100", "n", "n1", "n2", "n02", "n10", "n010", "web-3a", "web-3b"
        ]
    );
    assert_eq!(natural_cmp("n2", "n2"), Equal);
    assert_eq!(natural_cmp("a9", "a10"), Less);
    assert_eq!(natural_cmp("é2", "é10"), Less);
    assert_eq!(
        natural_cmp("n18446744073709551616", "n9"),
        Greater,
        "beyond u64"
    );
}
