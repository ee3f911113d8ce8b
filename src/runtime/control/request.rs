//! The control socket's requests: one JSON object a line, `{"cmd": ..., fields}`.
//!
//! Parsing is strict (an unknown command or field is refused by name) so that a typo in a
//! script is an error it sees, not a request silently done differently.

use serde_json::{Map, Value};

use crate::keyring::{Key, KeyChange};
use crate::member::MemberState;

/// The commands, for error messages.
const COMMANDS: &str = "members, stats, tags, event, keys, leave, monitor";

/// A well-formed request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Request {
    /// `{"cmd":"members"}`, optionally `"status":"alive"` (or suspect, dead, left): the
    /// members, this node included, with that state only when given, in the table's order.
    Members { status: Option<MemberState> },
    /// `{"cmd":"stats"}`: every counter, health, RTT percentiles, the socket's own counters.
    Stats,
    /// `{"cmd":"tags","set":{"k":"v"},"rm":["k"]}`: changes this node's tags (both fields
    /// optional; with neither, the current tags are only read).
    Tags {
        set: Vec<(String, String)>,
        rm: Vec<String>,
    },
    /// `{"cmd":"event","name":"deploy","payload":"v42"}`: broadcasts a user event to every
    /// member. The payload is optional, given as text (`payload`) or, for bytes that are not
    /// UTF-8, as standard base64 (`payload_base64`), not both.
    Event { name: String, payload: Vec<u8> },
    /// `{"cmd":"keys"}` lists the keyring's key ids; with one of `"install"`, `"use"` or
    /// `"remove"` and a base64 key, applies that rotation step first.
    Keys { change: Option<KeyChange> },
    /// `{"cmd":"leave"}`: leave gracefully; answered once the leave is done, then the node stops.
    Leave,
    /// `{"cmd":"monitor"}`: stream every later event to this connection, one JSON line each.
    Monitor,
}

/// Parses one request line, or says what is wrong with it.
pub(super) fn parse(line: &[u8]) -> Result<Request, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut fields) = value else {
        return Err(r#"a request is a JSON object, like {"cmd":"members"}"#.into());
    };
    let cmd = match fields.remove("cmd") {
        Some(Value::String(cmd)) => cmd,
        Some(_) => return Err("`cmd` must be a string".into()),
        None => return Err(format!("no `cmd` (one of: {COMMANDS})")),
    };
    let request = match cmd.as_str() {
        "members" => Request::Members {
            status: status(&mut fields)?,
        },
        "stats" => Request::Stats,
        "tags" => Request::Tags {
            set: set(&mut fields)?,
            rm: rm(&mut fields)?,
        },
        "event" => Request::Event {
            name: string(&mut fields, "name")?
                .ok_or("`event` needs a `name`, like {\"cmd\":\"event\",\"name\":\"deploy\"}")?,
            payload: payload(&mut fields)?,
        },
        "keys" => Request::Keys {
            change: key_change(&mut fields)?,
        },
        "leave" => Request::Leave,
        "monitor" => Request::Monitor,
        other => return Err(format!("unknown command `{other}` (one of: {COMMANDS})")),
    };
    if let Some(field) = fields.keys().next() {
        return Err(format!("unknown field `{field}` for `{cmd}`"));
    }
    Ok(request)
}

/// An optional string field.
fn string(fields: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match fields.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

fn key_change(fields: &mut Map<String, Value>) -> Result<Option<KeyChange>, String> {
    use base64::Engine;
    let mut change = None;
    for op in ["install", "use", "remove"] {
        let Some(text) = string(fields, op)? else {
            continue;
        };
        if change.is_some() {
            return Err("give one of `install`, `use` or `remove`, not several".into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("`{op}` is not a base64 key: {e}"))?;
        let key = Key::from_slice(&bytes).map_err(|e| format!("`{op}`: {e}"))?;
        change = Some(match op {
            "install" => KeyChange::Install(key),
            "use" => KeyChange::Use(key),
            _ => KeyChange::Remove(key),
        });
    }
    Ok(change)
}

fn payload(fields: &mut Map<String, Value>) -> Result<Vec<u8>, String> {
    use base64::Engine;
    match (
        string(fields, "payload")?,
        string(fields, "payload_base64")?,
    ) {
        (Some(_), Some(_)) => Err("give `payload` or `payload_base64`, not both".into()),
        (Some(text), None) => Ok(text.into_bytes()),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("`payload_base64` is not base64: {e}")),
        (None, None) => Ok(Vec::new()),
    }
}

fn status(fields: &mut Map<String, Value>) -> Result<Option<MemberState>, String> {
    let Some(value) = fields.remove("status") else {
        return Ok(None);
    };
    let states = [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ];
    value
        .as_str()
        .and_then(|text| states.into_iter().find(|s| s.as_str() == text))
        .map(Some)
        .ok_or_else(|| format!("`status` is {value}, not one of alive, suspect, dead, left"))
}

fn set(fields: &mut Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let Some(value) = fields.remove("set") else {
        return Ok(Vec::new());
    };
    let Value::Object(pairs) = value else {
        return Err(r#"`set` must be an object of strings, like {"role":"db"}"#.into());
    };
    pairs
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(v) if !key.is_empty() => Ok((key, v)),
            Value::String(_) => Err("a tag key must not be empty".into()),
            other => Err(format!("tag `{key}` must have a string value, not {other}")),
        })
        .collect()
}

fn rm(fields: &mut Map<String, Value>) -> Result<Vec<String>, String> {
    let Some(value) = fields.remove("rm") else {
        return Ok(Vec::new());
    };
    let Value::Array(keys) = value else {
        return Err(r#"`rm` must be an array of keys, like ["role"]"#.into());
    };
    keys.into_iter()
        .map(|key| match key {
            Value::String(k) => Ok(k),
            other => Err(format!("a key in `rm` must be a string, not {other}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Request {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(line: &[u8]) -> String {
        parse(line).expect_err("refused")
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(
            ok(r#"{"cmd":"members"}"#),
            Request::Members { status: None }
        );
        assert_eq!(
            ok(r#"{"cmd":"members","status":"suspect"}"#),
            Request::Members {
                status: Some(MemberState::Suspect)
            }
        );
        assert_eq!(ok(r#"{"cmd":"stats"}"#), Request::Stats);
        assert_eq!(
            ok(r#" {"rm":["zone"],"cmd":"tags","set":{"role":"db","v":""}} "#),
            Request::Tags {
                set: vec![("role".into(), "db".into()), ("v".into(), String::new())],
                rm: vec!["zone".into()],
            }
        );
        assert_eq!(
            ok(r#"{"cmd":"tags"}"#),
            Request::Tags {
                set: vec![],
                rm: vec![]
            }
        );
        assert_eq!(ok(r#"{"cmd":"leave"}"#), Request::Leave);
        assert_eq!(
            ok(r#"{"cmd":"event","name":"deploy","payload":"v42"}"#),
            Request::Event {
                name: "deploy".into(),
                payload: b"v42".to_vec()
            }
        );
        assert_eq!(
            ok(r#"{"cmd":"event","name":"bin","payload_base64":"/wBB"}"#),
            Request::Event {
                name: "bin".into(),
                payload: vec![0xff, 0x00, 0x41]
            }
        );
        assert_eq!(
            ok(r#"{"cmd":"event","name":"ping"}"#),
            Request::Event {
                name: "ping".into(),
                payload: Vec::new()
            }
        );
        assert_eq!(ok(r#"{"cmd":"monitor"}"#), Request::Monitor);
    }

    #[test]
    fn garbage_is_refused_saying_why() {
        assert!(err(b"hello").starts_with("not JSON"));
        assert!(err(b"\xff\xfe{}").starts_with("not JSON"));
        assert!(err(b"").starts_with("not JSON"));
        assert!(err(b"[1,2]").contains("JSON object"));
        assert!(err(br#"{"cmd":7}"#).contains("`cmd` must be a string"));
        assert!(err(br#"{"command":"members"}"#).contains("no `cmd`"));
        // Deep nesting hits serde_json's recursion limit instead of the stack's.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(err(deep.as_bytes()).starts_with("not JSON"));
    }

    #[test]
    fn unknown_commands_and_fields_are_named() {
        let e = err(br#"{"cmd":"explode"}"#);
        assert!(
            e.contains("unknown command `explode`") && e.contains("members"),
            "{e}"
        );
        let e = err(br#"{"cmd":"stats","verbose":true}"#);
        assert!(e.contains("unknown field `verbose` for `stats`"), "{e}");
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(err(br#"{"cmd":"members","status":"zombie"}"#).contains("`status`"));
        assert!(err(br#"{"cmd":"members","status":1}"#).contains("`status`"));
        assert!(err(br#"{"cmd":"tags","set":["a"]}"#).contains("`set`"));
        assert!(err(br#"{"cmd":"tags","set":{"a":1}}"#).contains("tag `a`"));
        assert!(err(br#"{"cmd":"tags","set":{"":"x"}}"#).contains("empty"));
        assert!(err(br#"{"cmd":"tags","rm":"a"}"#).contains("`rm`"));
        assert!(err(br#"{"cmd":"tags","rm":[1]}"#).contains("`rm`"));
        assert!(err(br#"{"cmd":"event"}"#).contains("`name`"));
        let k = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        assert_eq!(ok(r#"{"cmd":"keys"}"#), Request::Keys { change: None });
        assert_eq!(
            ok(&format!(r#"{{"cmd":"keys","use":"{k}"}}"#)),
            Request::Keys {
                change: Some(KeyChange::Use(Key::new([1; 32])))
            }
        );
        assert!(err(br#"{"cmd":"keys","install":"AAAA"}"#).contains("32 bytes, not 3"));
        let both = format!(r#"{{"cmd":"keys","install":"{k}","remove":"{k}"}}"#);
        assert!(err(both.as_bytes()).contains("not several"));
        assert!(err(br#"{"cmd":"event","name":1}"#).contains("`name`"));
        assert!(err(br#"{"cmd":"event","name":"a","payload_base64":"%%"}"#).contains("base64"));
        assert!(
            err(br#"{"cmd":"event","name":"a","payload":"x","payload_base64":"eA=="}"#)
                .contains("not both")
        );
    }
}
