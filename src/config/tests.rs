//! Profiles, validation and the value parsers.

use super::*;

fn lan() -> Config {
    Config::new(Profile::Lan, "n1", "127.0.0.1:7946".parse().unwrap())
}

#[test]
fn profiles_validate() {
    for p in Profile::ALL {
        let c = Config::new(p, "n1", "127.0.0.1:0".parse().unwrap());
        assert_eq!(c.validate(), Ok(()), "profile {p}");
    }
}

#[test]
fn a_keyring_needs_the_feature_and_room_in_the_budget() {
    let mut c = lan();
    c.accept_plaintext = true;
    assert_eq!(c.validate().unwrap_err().field, "accept_plaintext");
    c.accept_plaintext = false;
    c.keyring = Some(Keyring::new(crate::keyring::Key::new([1; 32])));
    if cfg!(feature = "encryption") {
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            c.core_budget(),
            c.packet_budget - crate::wire::SEAL_OVERHEAD
        );
        c.packet_budget = MIN_PACKET_BUDGET;
        assert_eq!(c.validate().unwrap_err().field, "packet_budget");
        c.packet_budget = 1400;
        c.send_plaintext = true;
        assert_eq!(c.validate().unwrap_err().field, "send_plaintext");
    } else {
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "keyring");
        assert!(e.reason.contains("encryption"), "{e}");
    }
}

#[test]
fn lan_profile_has_memberlist_values() {
    let c = lan();
    assert_eq!(c.probe_interval, Duration::from_secs(1));
    assert_eq!(c.probe_timeout, Duration::from_millis(500));
    assert_eq!(c.indirect_checks, 3);
    assert_eq!(c.suspicion_mult, 4);
    assert_eq!(c.retransmit_mult, 4);
    assert_eq!(c.gossip_interval, Duration::from_millis(200));
    assert_eq!(c.gossip_nodes, 3);
}

#[test]
fn probe_timeout_must_be_below_interval() {
    let mut c = lan();
    c.probe_timeout = Duration::from_millis(1500);
    let err = c.validate().unwrap_err();
    assert_eq!(err.field, "probe_timeout");
    assert!(err.to_string().contains("probe_interval"), "{err}");
}

#[test]
fn each_bad_field_is_named() {
    type Breaker = fn(&mut Config);
    let cases: [(&str, Breaker); 20] = [
        ("name", |c| c.name.clear()),
        ("probe_interval", |c| c.probe_interval = Duration::ZERO),
        ("probe_timeout", |c| c.probe_timeout = Duration::ZERO),
        ("indirect_checks", |c| c.indirect_checks = 99),
        ("suspicion_mult", |c| c.suspicion_mult = 0),
        ("suspicion_max_timeout_mult", |c| {
            c.suspicion_max_timeout_mult = 0
        }),
        ("confirmed_suspicion_mult", |c| {
            c.confirmed_suspicion_mult = 5
        }),
        ("retransmit_mult", |c| c.retransmit_mult = 0),
        ("gossip_interval", |c| c.gossip_interval = Duration::ZERO),
        ("gossip_nodes", |c| c.gossip_nodes = 0),
        ("packet_budget", |c| c.packet_budget = 100),
        ("max_members", |c| c.max_members = 0),
        ("advertise_addr", |c| {
            c.bind_addr = "0.0.0.0:1".parse().unwrap()
        }),
        ("seeds", |c| c.seeds = vec!["127.0.0.1:0".parse().unwrap()]),
        ("seed_hosts", |c| c.seed_hosts = vec!["localhost".into()]),
        ("retry_join.max_interval", |c| {
            c.retry_join = Some(RetryJoin {
                max_interval: Duration::ZERO,
                max_attempts: None,
            })
        }),
        ("retry_join.max_attempts", |c| {
            c.retry_join = Some(RetryJoin {
                max_attempts: Some(0),
                ..RetryJoin::default()
            })
        }),
        ("user_event_buffer", |c| c.user_event_buffer = 0),
        ("user_event_max_age", |c| {
            c.user_event_max_age = Duration::ZERO
        }),
        ("max_user_payload", |c| c.max_user_payload = 1400),
    ];
    for (field, brk) in cases {
        let mut c = lan();
        brk(&mut c);
        assert_eq!(c.validate().map_err(|e| e.field), Err(field));
    }
}

#[test]
fn seed_hosts_need_a_host_and_a_port() {
    assert_eq!(
        split_host_port("seed.internal:7946"),
        Ok(("seed.internal", 7946))
    );
    assert_eq!(split_host_port("localhost:1"), Ok(("localhost", 1)));
    for bad in [
        "localhost",
        ":7946",
        "seed:0",
        "seed:http",
        "se ed:7946",
        "a/b:1",
    ] {
        assert!(split_host_port(bad).is_err(), "{bad}");
    }
    assert!(
        split_host_port("seed")
            .unwrap_err()
            .contains("needs a port")
    );
}

#[test]
fn a_control_socket_path_is_checked() {
    let mut c = lan();
    c.control_socket = Some(PathBuf::from("/run/user/1000/rumor/n1.sock"));
    let verdict = c.validate().map_err(|e| e.field);
    if cfg!(feature = "control") {
        assert_eq!(verdict, Ok(()));
    } else {
        // The lean library cannot serve it, and says so rather than ignoring the path.
        assert_eq!(verdict, Err("control_socket"));
    }
    c.control_socket = Some(PathBuf::from(format!("/tmp/{}.sock", "x".repeat(200))));
    let err = c.validate().unwrap_err();
    assert_eq!(err.field, "control_socket");
    if cfg!(feature = "control") {
        assert!(err.reason.contains("bytes"), "{err}");
    } else {
        assert!(err.reason.contains("`control` feature"), "{err}");
    }
}

#[test]
fn user_payload_limit_leaves_room_for_the_event_in_one_datagram() {
    let mut c = lan();
    let room = crate::wire::max_event_payload(
        c.packet_budget,
        None,
        &NodeName::new("n1").unwrap(),
        c.advertised(),
    );
    assert!((512..1400).contains(&room), "{room}");
    c.max_user_payload = room;
    assert_eq!(c.validate(), Ok(()));
    c.max_user_payload = room + 1;
    let err = c.validate().unwrap_err();
    assert_eq!(err.field, "max_user_payload");
    assert!(err.reason.contains(&format!("at most {room}")), "{err}");
    // The smallest budget takes a smaller payload limit, and says so.
    c.packet_budget = MIN_PACKET_BUDGET;
    c.max_user_payload = 512;
    assert_eq!(c.validate().map_err(|e| e.field), Err("max_user_payload"));
    c.max_user_payload = 256;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
    assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert!(parse_duration("200").unwrap_err().contains("unit"));
    assert!(parse_duration("fast").is_err());
    assert!(parse_duration("-1s").is_err());
}
