//! `rumor stats --prometheus`: an agent's stats answer in Prometheus' text exposition format
//! (version 0.0.4), ready to be written to a `.prom` file for node_exporter's textfile
//! collector.
//!
//! Every metric is named `rumor_*` and labelled with the node's name, so that the files of
//! several agents on one host never define the same series; counters end in `_total`; kinds
//! and reasons are labels rather than names, so that a query can sum over them.

use std::fmt::Write;

use serde_json::Value;

/// Where a family's samples come from in the stats answer (JSON pointers into it).
enum Source {
    /// One sample: a count.
    Count(&'static str),
    /// One sample per field of an object, the field's name as the value of the label.
    Each(&'static str, &'static str),
    /// One sample: microseconds, shown as seconds.
    Seconds(&'static str),
    /// The percentile fields of an RTT object as `quantile` samples, in seconds.
    Quantiles(&'static str),
}

use Source::{Count, Each, Quantiles, Seconds};

/// Every family written: name (after `rumor_`), type, source, help.
#[rustfmt::skip]
const FAMILIES: &[(&str, &str, Source, &str)] = &[
    ("members", "gauge", Each("/stats/states", "state"), "Members this node knows, itself excluded, by state."),
    ("health", "gauge", Count("/stats/health"), "Lifeguard's local health score; 0 is healthy."),
    ("packets_sent_total", "counter", Each("/stats/by_kind/packets_out", "kind"), "Datagrams sent, by message kind."),
    ("packets_received_total", "counter", Each("/stats/by_kind/packets_in", "kind"), "Datagrams received and decoded, by message kind."),
    ("sent_bytes_total", "counter", Each("/stats/by_kind/bytes_out", "kind"), "UDP payload bytes sent, by message kind."),
    ("received_bytes_total", "counter", Each("/stats/by_kind/bytes_in", "kind"), "UDP payload bytes of decoded datagrams, by message kind."),
    ("dropped_datagrams_total", "counter", Each("/stats/dropped_by_reason", "reason"), "Datagrams dropped, by reason."),
    ("send_errors_total", "counter", Count("/stats/send_errors"), "Datagrams the socket refused to send."),
    ("gossip_updates_sent_total", "counter", Count("/stats/updates_out"), "Gossip updates sent."),
    ("gossip_updates_received_total", "counter", Count("/stats/updates_in"), "Gossip updates received."),
    ("probes_total", "counter", Count("/stats/probes"), "Direct probes started."),
    ("probes_failed_total", "counter", Count("/stats/probes_failed"), "Direct probes that got no ack."),
    ("indirect_probes_total", "counter", Count("/stats/indirect_probes"), "Ping-req messages sent."),
    ("nacks_received_total", "counter", Count("/stats/nacks_in"), "Nacks received from indirect probers."),
    ("suspicions_total", "counter", Count("/stats/suspicions"), "Suspicions this node raised."),
    ("refutations_total", "counter", Count("/stats/refutations"), "Suspicions of itself this node refuted."),
    ("syncs_total", "counter", Count("/stats/syncs"), "Full-state syncs this node started."),
    ("repairs_total", "counter", Count("/stats/repairs"), "Syncs started early because two tables differed."),
    ("table_pulls_total", "counter", Count("/stats/table_pulls"), "Table pulls a joiner sent after hearing only that it was in."),
    ("user_events_total", "counter", Count("/stats/user_events"), "User events delivered to this node's application, each once."),
    ("user_events_stale_total", "counter", Count("/stats/user_events_stale"), "User events dropped as older than the remembered window."),
    ("user_events_oversize_total", "counter", Count("/stats/user_events_oversize"), "User events dropped as larger than this node's max_user_payload."),
    ("user_events_missed_total", "counter", Count("/stats/user_events_missed"), "User events heard of only after their payload had aged out."),
    ("user_event_sent_bytes_total", "counter", Count("/stats/user_bytes_out"), "Bytes of user events this node sent (piggybacked or synced)."),
    ("rejected_members_total", "counter", Count("/stats/rejected_members"), "News of new members dropped: the table was full."),
    ("last_probe_rtt_seconds", "gauge", Seconds("/stats/last_rtt_us"), "Round trip of the last answered direct probe (0 before one)."),
    ("member_rtt_seconds", "gauge", Quantiles("/stats/rtt_us"), "Quantiles (nearest rank) of the members' last probe round trips."),
    ("member_rtt_members", "gauge", Count("/stats/rtt_us/members"), "Members with an answered probe, the RTT quantiles' population."),
    ("control_clients", "gauge", Count("/control/connected"), "Clients connected to the control socket."),
    ("control_monitors", "gauge", Count("/control/monitors"), "Control clients following the node's events."),
    ("control_requests_total", "counter", Count("/control/requests"), "Well-formed control requests served."),
    ("control_errors_total", "counter", Each("/control/errors", "kind"), "Control socket trouble, by kind."),
    ("events_dropped_total", "counter", Count("/stats/events_dropped"), "Events dropped because the node's event channel was full (a stalled reader)."),
    ("dropped_implausible_total", "counter", Count("/stats/dropped_implausible"), "Records dropped as implausible jumps of an incarnation or event clock."),
    ("incarnation_exhausted_total", "counter", Count("/stats/incarnation_exhausted"), "Raises of this node's own incarnation refused at the top of its range."),
    ("name_conflicts_total", "counter", Count("/stats/name_conflicts"), "News moving a live member's name to another address, dropped."),
    ("rejected_unverified_total", "counter", Count("/stats/rejected_unverified"), "News of new unverified members dropped: the table held as many as it makes room for."),
];

/// Renders the answer to a `stats` request.
pub(crate) fn render(answer: &Value) -> String {
    let node = answer
        .pointer("/stats/node")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut text = String::new();
    for (name, kind, source, help) in FAMILIES {
        // A family without samples still declares itself, so a dashboard sees it exists.
        // Writing to a String cannot fail.
        let _ = writeln!(text, "# HELP rumor_{name} {help}");
        let _ = writeln!(text, "# TYPE rumor_{name} {kind}");
        for (label, value) in samples(answer, source) {
            let mut labels = format!("node=\"{}\"", escape(node));
            if let Some((key, v)) = label {
                let _ = write!(labels, ",{key}=\"{}\"", escape(&v));
            }
            let _ = writeln!(text, "rumor_{name}{{{labels}}} {value}");
        }
    }
    text
}

/// One sample: an optional extra label besides `node`, and the value.
type Sample = (Option<(&'static str, String)>, String);

/// A family's samples. A missing field, or a null one (a percentile before any probe was
/// answered), gives no sample rather than a made-up value.
fn samples(answer: &Value, source: &Source) -> Vec<Sample> {
    let at = |pointer: &str| answer.pointer(pointer).unwrap_or(&Value::Null);
    match *source {
        Count(p) => number(at(p)).map(|v| (None, v)).into_iter().collect(),
        Seconds(p) => seconds(at(p)).map(|v| (None, v)).into_iter().collect(),
        Each(p, label) => at(p)
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| Some((Some((label, key.clone())), number(value)?)))
            .collect(),
        Quantiles(p) => [
            ("0.5", "p50"),
            ("0.9", "p90"),
            ("0.99", "p99"),
            ("1", "max"),
        ]
        .into_iter()
        .filter_map(|(q, field)| Some((Some(("quantile", q.to_string())), seconds(&at(p)[field])?)))
        .collect(),
    }
}

/// A label value with the format's three escapes.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A JSON count as a sample value.
fn number(value: &Value) -> Option<String> {
    value.as_u64().map(|n| n.to_string())
}

/// Microseconds as seconds.
fn seconds(micros: &Value) -> Option<String> {
    micros.as_u64().map(|us| format!("{}", us as f64 / 1e6))
}
