//! JSON renderings of events, members and counters (with the `control` feature).
//!
//! One rendering serves every place that shows the same thing: the lines `rumor agent` prints
//! on stdout, the answers of a node's control socket, and the events it streams to a monitor.
//! A field therefore means the same wherever a log tool or a script meets it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::event::{Event, EventKind, MessageKind, Stats, UserEvent};
use crate::member::{Member, MemberState};
use crate::node::Summary;
use crate::proto::Status;
use crate::quantile::nearest_rank;

/// One membership change: `{"ts_ms", "node", "event", "member", "addr", "incarnation",
/// "state", "tags"}`, where `node` is the observer, `event` the kind
/// ([`EventKind::as_str`](crate::EventKind::as_str)) and `ts_ms` the wall-clock time in
/// milliseconds since the Unix epoch (see [`unix_ms`]). A user event renders as
/// [`user_event`] instead.
pub fn event(node: &str, event: &Event, ts_ms: u64) -> Value {
    if let Some(user) = &event.user {
        return user_event(node, user, ts_ms);
    }
    let m = &event.member;
    json!({
        "ts_ms": ts_ms,
        "node": node,
        "event": event.kind.as_str(),
        "member": m.name.as_str(),
        "addr": m.addr.to_string(),
        "incarnation": m.incarnation.0,
        "state": m.state.as_str(),
        "tags": tags(m),
    })
}

/// An application's user event: `{"ts_ms", "node", "event": "user", "name", "origin",
/// "ltime", "payload", "payload_encoding"}`. The payload is the text itself when it is UTF-8
/// (`"payload_encoding": "utf8"`), else its standard base64 (`"base64"`).
pub fn user_event(node: &str, user: &UserEvent, ts_ms: u64) -> Value {
    let (payload, encoding) = match std::str::from_utf8(&user.payload) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (BASE64.encode(&user.payload), "base64"),
    };
    json!({
        "ts_ms": ts_ms,
        "node": node,
        "event": EventKind::User.as_str(),
        "name": user.name,
        "origin": user.origin.as_str(),
        "ltime": user.ltime.0,
        "payload": payload,
        "payload_encoding": encoding,
    })
}

/// One member as a node sees it: `{"name", "addr", "state", "incarnation", "tags", "rtt_us"}`,
/// `rtt_us` being the round trip of this node's last answered direct probe of it (null if
/// none was answered).
pub fn member(m: &Member) -> Value {
    json!({
        "name": m.name.as_str(),
        "addr": m.addr.to_string(),
        "state": m.state.as_str(),
        "incarnation": m.incarnation.0,
        "tags": tags(m),
        "rtt_us": m.rtt.map(|d| micros(d.as_micros())),
    })
}

fn tags(m: &Member) -> Value {
    Value::Object(
        m.tags
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect(),
    )
}

/// A node's counters, health and table size at one instant, with `"event": "stats"` so that
/// the line sits among event lines. Totals keep their short names (`packets_out`, `dropped`,
/// ...); `by_kind` splits traffic by message kind, `dropped_by_reason` the drops, `states`
/// counts members (this node excluded) by state, and `rtt_us` gives percentiles over the
/// members' last round trips (nearest rank; null when no probe was answered yet).
pub fn stats(node: &str, summary: &Summary, ts_ms: u64) -> Value {
    let s = &summary.stats;
    let census = &summary.census;
    let states: Map<String, Value> = MemberState::ALL
        .into_iter()
        .map(|state| (state.as_str().to_string(), Value::from(census.count(state))))
        .collect();
    json!({
        "ts_ms": ts_ms,
        "node": node,
        "event": "stats",
        "status": status(summary.status),
        "members": census.members(),
        "active": census.active(),
        "states": states,
        "health": summary.health,
        "packets_out": s.total_packets_out(),
        "bytes_out": s.total_bytes_out(),
        "packets_in": s.total_packets_in(),
        "bytes_in": s.total_bytes_in(),
        "dropped": s.total_dropped(),
        "send_errors": s.send_errors,
        "updates_out": s.updates_out,
        "updates_in": s.updates_in,
        "probes": s.probes,
        "probes_failed": s.probes_failed,
        "indirect_probes": s.indirect_probes,
        "nacks_in": s.nacks_in,
        "suspicions": s.suspicions,
        "refutations": s.refutations,
        "syncs": s.syncs,
        "repairs": s.repairs,
        "table_pulls": s.table_pulls,
        "rejected_members": s.rejected_members,
        "last_rtt_us": s.last_rtt_us,
        "user_events": s.user_events,
        "user_events_stale": s.user_events_stale,
        "user_events_oversize": s.user_events_oversize,
        "user_events_missed": s.user_events_missed,
        "user_bytes_out": s.user_bytes_out,
        "dropped_implausible": s.dropped_implausible,
        "incarnation_exhausted": s.incarnation_exhausted,
        "name_conflicts": s.name_conflicts,
        "rejected_unverified": s.rejected_unverified,
        "by_kind": by_kind(s),
        "dropped_by_reason": dropped_by_reason(s),
        "rtt_us": rtt_percentiles(&census.rtts_us),
        "events_dropped": s.events_dropped,
    })
}

/// Every drop counter by its reason (a json! of its own: the stats object is past the macro's
/// recursion limit).
fn dropped_by_reason(s: &Stats) -> Value {
    json!({
        "malformed": s.dropped_malformed,
        "oversize": s.dropped_oversize,
        "version": s.dropped_version,
        "wrong_cluster": s.dropped_wrong_cluster,
        "fault": s.dropped_fault,
        "plaintext": s.dropped_plaintext,
        "sealed": s.dropped_sealed,
        "replayed": s.dropped_replayed,
        "unknown_key": s.dropped_unknown_key,
        "unauthenticated": s.dropped_unauthenticated,
    })
}

fn by_kind(s: &Stats) -> Value {
    let split = |counts: &[u64; MessageKind::COUNT]| -> Value {
        let per_kind: Map<String, Value> = MessageKind::ALL
            .into_iter()
            .map(|k| (k.as_str().to_string(), Value::from(counts[k.index()])))
            .collect();
        Value::Object(per_kind)
    };
    json!({
        "packets_out": split(&s.packets_out),
        "bytes_out": split(&s.bytes_out),
        "packets_in": split(&s.packets_in),
        "bytes_in": split(&s.bytes_in),
    })
}

/// `{"members": n, "p50", "p90", "p99", "max"}` in microseconds over the members that
/// answered a direct probe (`rtts`, ascending); the percentiles are null when none did.
fn rtt_percentiles(rtts: &[u32]) -> Value {
    let at = |q: f64| nearest_rank(rtts, q);
    json!({
        "members": rtts.len(),
        "p50": at(0.5),
        "p90": at(0.9),
        "p99": at(0.99),
        "max": rtts.last(),
    })
}

fn micros(us: u128) -> u64 {
    u64::try_from(us).unwrap_or(u64::MAX)
}

/// Where a node stands, as a lower-case word: idle, joining, running, join-failed, leaving,
/// left.
pub fn status(status: Status) -> &'static str {
    match status {
        Status::Idle => "idle",
        Status::Joining => "joining",
        Status::Running => "running",
        Status::JoinFailed => "join-failed",
        Status::Leaving => "leaving",
        Status::Left => "left",
        Status::NameTaken(_) => "name-taken",
    }
}

/// Wall-clock milliseconds since the Unix epoch, for `ts_ms` fields.
///
/// clippy.toml forbids `SystemTime::now` so that protocol code takes time as an argument; a
/// timestamp meant for people and log tools must be the wall-clock time at which it is shown.
#[allow(clippy::disallowed_methods)]
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| micros(d.as_millis()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::member::{Census, Incarnation, NodeName, Tags};

    fn member(name: &str, rtt_ms: Option<u64>) -> Member {
        Member {
            name: NodeName::new(name).unwrap(),
            addr: "127.0.0.1:7946".parse().unwrap(),
            incarnation: Incarnation(3),
            state: MemberState::Alive,
            tags: Tags::new([("role", "db")]).unwrap(),
            since: crate::test_epoch(),
            rtt: rtt_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn a_member_renders_every_field() {
        let v = super::member(&member("b", Some(2)));
        assert_eq!(v["name"], "b");
        assert_eq!(v["addr"], "127.0.0.1:7946");
        assert_eq!(v["state"], "alive");
        assert_eq!(v["incarnation"], 3);
        assert_eq!(v["tags"]["role"], "db");
        assert_eq!(v["rtt_us"], 2000);
        assert!(super::member(&member("c", None))["rtt_us"].is_null());
    }

    #[test]
    fn rtt_percentiles_use_nearest_rank() {
        let members: Vec<Member> = (1..=10)
            .map(|i| member(&format!("m{i}"), Some(i)))
            .chain([member("silent", None)])
            .collect();
        let v = rtt_percentiles(&Census::of(&members).rtts_us);
        assert_eq!(v["members"], 10);
        assert_eq!(v["p50"], 5000);
        assert_eq!(v["p90"], 9000);
        assert_eq!(v["p99"], 10_000);
        assert_eq!(v["max"], 10_000);
        let none = rtt_percentiles(&Census::of(&[member("silent", None)]).rtts_us);
        assert_eq!(none["members"], 0);
        assert!(none["p50"].is_null() && none["max"].is_null());
    }
}
