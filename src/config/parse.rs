//! Parsers for values as people write them: seeds by host name, durations.

use std::time::Duration;

/// Splits `host:port` (a seed given by name) into its parts, or says what is wrong with it.
/// Only the syntax is checked here; whether the name resolves is found out when joining.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, u16), String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` needs a port, like `{text}:7946`"));
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!(
            "`{text}` needs a host name or address before the port"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok((host, p)),
        _ => Err(format!(
            "`{text}` needs a port from 1 to 65535 after the last `:`"
        )),
    }
}

/// Parses durations as written on the command line: `250ms`, `1s`, `1.5s`, `2m`, `500us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 200ms, 1s or 1.5s"))?;
    let secs = match unit {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => {
            return Err(format!(
                "`{text}` needs a unit: us, ms, s or m (like 200ms or 1s)"
            ));
        }
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}
