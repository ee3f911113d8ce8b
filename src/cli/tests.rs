//! Flags to Config: every override lands, bad values name their flag.

use super::*;
use clap::Parser;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    node: NodeArgs,
}

const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

#[test]
fn keys_parse_from_lines_or_commas_and_errors_name_the_key() {
    let ring = parse_keys(&format!("# primary\n{K1}\n\n{K2}\n"), "f").unwrap();
    assert_eq!(ring.primary(), &Key::new([1; 32]));
    assert_eq!(ring.keys().len(), 2);
    assert_eq!(
        parse_keys(&format!("{K2},{K1}"), "env").unwrap().primary(),
        &Key::new([2; 32])
    );
    let e = parse_keys(&format!("{K1}\nnot-base64!"), "RUMOR_KEYS").unwrap_err();
    assert!(e.starts_with("RUMOR_KEYS: key 2: not base64"), "{e}");
    let e = parse_keys("AAAA", "f").unwrap_err();
    assert!(e.contains("key 1: a key is 32 bytes, not 3"), "{e}");
    assert!(
        parse_keys("\n# none\n", "f")
            .unwrap_err()
            .contains("at least one key")
    );
}

#[test]
fn a_key_file_others_can_read_is_refused_naming_file_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("rumor-keys-test-{}", std::process::id()));
    std::fs::write(&path, format!("{K1}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = read_key_file(&path).unwrap_err();
    assert!(
        e.contains(&path.display().to_string()) && e.contains("mode 0644"),
        "{e}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = parse(&["--key-file", path.to_str().unwrap(), "--accept-plaintext"]).unwrap();
    let c = args.into_config().unwrap();
    assert_eq!(c.keyring, Some(Keyring::new(Key::new([1; 32]))));
    assert!(c.accept_plaintext);
    std::fs::remove_file(&path).unwrap();
    let e = parse(&["--key-file", path.to_str().unwrap()])
        .unwrap()
        .into_config();
    assert_eq!(e.unwrap_err().field, "keyring");
    assert_eq!(flag_for_field("keyring"), "--key-file");
}

fn parse(args: &[&str]) -> Result<NodeArgs, clap::Error> {
    let argv = std::iter::once("rumor").chain(args.iter().copied());
    Cli::try_parse_from(argv).map(|c| c.node)
}

#[test]
fn defaults_give_the_lan_profile_on_port_7946() {
    let c = parse(&["--name", "n1"]).unwrap().into_config().unwrap();
    let mut lan = Config::new(Profile::Lan, "n1", "127.0.0.1:7946".parse().unwrap());
    lan.control_socket = Some(default_control_path("n1"));
    assert_eq!(c, lan);
}

#[test]
fn overrides_replace_profile_values() {
    let c = parse(&[
        "--name",
        "n1",
        "--profile",
        "test",
        "--probe-interval",
        "200ms",
        "--probe-timeout",
        "100ms",
        "--gossip-interval",
        "50ms",
        "--gossip-nodes",
        "5",
        "--indirect-checks",
        "2",
        "--suspicion-mult",
        "6",
        "--suspicion-max-timeout-mult",
        "3",
        "--retransmit-mult",
        "5",
        "--push-pull-interval",
        "0s",
        "--dead-node-reclaim",
        "1m",
        "--awareness-max-multiplier",
        "1",
        "--join-timeout",
        "3s",
        "--leave-timeout",
        "1.5s",
        "--packet-budget",
        "1200",
        "--max-user-payload",
        "700",
        "--user-event-buffer",
        "1024",
        "--user-event-max-age",
        "90s",
        "--suspicion-rule",
        "lifeguard",
        "--confirmed-suspicion-mult",
        "3",
        "--join",
        "127.0.0.1:7000",
        "--join",
        "127.0.0.1:7001",
        "--tag",
        "role=db",
        "--tag",
        "zone=a=b",
        "--cluster-label",
        "prod",
        "--advertise",
        "127.0.0.2:9000",
    ])
    .unwrap()
    .into_config()
    .unwrap();
    let ms = Duration::from_millis;
    assert_eq!(c.probe_interval, ms(200));
    assert_eq!(c.probe_timeout, ms(100));
    assert_eq!(c.gossip_interval, ms(50));
    assert_eq!(c.gossip_nodes, 5);
    assert_eq!(c.indirect_checks, 2);
    assert_eq!(c.suspicion_mult, 6);
    assert_eq!(c.suspicion_max_timeout_mult, 3);
    assert_eq!(c.retransmit_mult, 5);
    assert_eq!(c.push_pull_interval, Duration::ZERO);
    assert_eq!(c.dead_node_reclaim, ms(60_000));
    assert_eq!(c.awareness_max_multiplier, 1);
    assert_eq!(c.join_timeout, ms(3000));
    assert_eq!(c.leave_timeout, ms(1500));
    assert_eq!(c.packet_budget, 1200);
    assert_eq!(c.max_user_payload, 700);
    assert_eq!(c.user_event_buffer, 1024);
    assert_eq!(c.user_event_max_age, ms(90_000));
    assert_eq!(c.suspicion_rule, SuspicionRule::Lifeguard);
    assert_eq!(c.confirmed_suspicion_mult, 3);
    assert_eq!(c.seeds.len(), 2);
    assert_eq!(c.tags.get("role"), Some("db"));
    assert_eq!(c.tags.get("zone"), Some("a=b"));
    assert_eq!(c.cluster_label.as_deref(), Some("prod"));
    assert_eq!(c.advertised(), "127.0.0.2:9000".parse().unwrap());
}

#[test]
fn a_bad_value_is_refused_naming_its_field() {
    let err = parse(&["--probe-interval", "1s", "--probe-timeout", "2s"])
        .unwrap()
        .into_config()
        .unwrap_err();
    assert_eq!(err.field, "probe_timeout");
    assert_eq!(flag_for_field(err.field), "--probe-timeout");

    let err = parse(&["--suspicion-mult", "3", "--confirmed-suspicion-mult", "4"])
        .unwrap()
        .into_config()
        .unwrap_err();
    assert_eq!(flag_for_field(err.field), "--confirmed-suspicion-mult");
}

#[test]
fn unparsable_flags_are_refused_by_clap() {
    for args in [
        &["--probe-interval", "200"][..],
        &["--profile", "moon"],
        &["--tag", "novalue"],
        &["--bind", "localhost"],
        &["--suspicion-rule", "sometimes"],
    ] {
        let err = parse(args).unwrap_err();
        assert!(err.to_string().contains(args[0]), "{args:?}: {err}");
    }
}

#[test]
fn default_name_is_host_and_pid() {
    let c = parse(&[]).unwrap().into_config().unwrap();
    assert!(
        c.name.ends_with(&format!("-{}", std::process::id())),
        "{}",
        c.name
    );
}

#[test]
fn join_takes_addresses_and_host_names() {
    let c = parse(&["--join", "127.0.0.1:7000", "--join", "seed.internal:7946"])
        .unwrap()
        .into_config()
        .unwrap();
    assert_eq!(c.seeds, ["127.0.0.1:7000".parse().unwrap()]);
    assert_eq!(c.seed_hosts, ["seed.internal:7946"]);
    assert_eq!(c.retry_join, None);
    let err = parse(&["--join", "seed.internal"]).unwrap_err();
    assert!(err.to_string().contains("needs a port"), "{err}");
}

#[test]
fn retry_join_flags_build_the_policy() {
    let c = parse(&["--retry-join"]).unwrap().into_config().unwrap();
    assert_eq!(c.retry_join, Some(RetryJoin::default()));
    let c = parse(&[
        "--retry-join",
        "--retry-join-max",
        "5",
        "--retry-join-interval",
        "2s",
    ])
    .unwrap()
    .into_config()
    .unwrap();
    let policy = RetryJoin {
        max_interval: Duration::from_secs(2),
        max_attempts: Some(5),
    };
    assert_eq!(c.retry_join, Some(policy));
    let err = parse(&["--retry-join-max", "5"]).unwrap_err();
    assert!(err.to_string().contains("--retry-join"), "{err}");
    let err = parse(&["--retry-join", "--retry-join-max", "0"])
        .unwrap()
        .into_config()
        .unwrap_err();
    assert_eq!(flag_for_field(err.field), "--retry-join-max");
}

#[test]
fn the_control_socket_defaults_to_the_name_and_none_turns_it_off() {
    let c = parse(&["--name", "n1"]).unwrap().into_config().unwrap();
    let path = c.control_socket.expect("a socket by default");
    assert!(path.ends_with("n1.sock"), "{}", path.display());
    assert_eq!(path.parent(), Some(default_control_dir().as_path()));
    let c = parse(&["--control", "none"])
        .unwrap()
        .into_config()
        .unwrap();
    assert_eq!(c.control_socket, None);
    let c = parse(&["--control", "/tmp/x/a.sock"]).unwrap();
    assert_eq!(
        c.into_config().unwrap().control_socket,
        Some(PathBuf::from("/tmp/x/a.sock"))
    );
    assert_eq!(flag_for_field("control_socket"), "--control");
}

#[test]
fn flags_are_named_after_config_fields() {
    assert_eq!(flag_for_field("bind_addr"), "--bind");
    assert_eq!(flag_for_field("seeds"), "--join");
    assert_eq!(
        flag_for_field("suspicion_max_timeout_mult"),
        "--suspicion-max-timeout-mult"
    );
}

#[test]
fn a_client_checks_the_control_folder_as_the_agent_does() {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("rumor-cli-{}-folder", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    let socket = dir.join("n1.sock");
    assert_eq!(check_control_folder(&socket), Ok(()));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let err = check_control_folder(&socket).unwrap_err();
    assert!(
        err.contains(&dir.display().to_string()) && err.contains("0750"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let err = check_control_folder(&socket).unwrap_err();
    assert!(err.contains("cannot be read"), "{err}");
    // The peer check on a socket this process serves itself.
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    assert_eq!(check_control_peer(&a), Ok(()));
}
