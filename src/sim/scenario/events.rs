//! One user event from one node: when each member delivers it, that none delivers it twice,
//! and what carrying it costs in bytes.

use std::time::Duration;

use super::dissemination::{Spread, each_run, first_cells, infected_series, series_name};
use super::{Dissemination, Params, Progress, lambda_log_n, waited};
use crate::event::EventKind;
use crate::sim::report::{Cell, Chart, Table};
use crate::sim::{SimConfig, SimError};

/// The payload every run broadcasts: 64 bytes, a typical small application update.
const PAYLOAD: [u8; 64] = [b'x'; 64];

/// The longest a run waits for every member to deliver: past anti-entropy's slowest rounds at
/// 10,000 members (the lan profile's 30 s push-pull, ten times slower there) with room for a
/// lost one.
const LIMIT: Duration = Duration::from_secs(900);

/// One user event spreading through a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct UserEventSpread {
    /// When each member delivered it (as a [`Dissemination`], the origin at zero).
    pub spread: Dissemination,
    /// Deliveries beyond the first, summed over members (the property: zero).
    pub duplicates: usize,
    /// How long the bytes were counted over: `window`, or until the last delivery if later.
    pub measured: Duration,
    /// Bytes of user-event sections every member sent in that time, summed.
    pub event_bytes: u64,
    /// Bytes every member sent in that time, summed (all traffic, for scale).
    pub total_bytes: u64,
}

impl UserEventSpread {
    /// Event-section bytes per member per second over the measured time.
    pub fn event_bytes_per_member_per_s(&self) -> f64 {
        self.event_bytes as f64 / self.spread.n as f64 / self.measured.as_secs_f64()
    }

    /// All bytes per member per second over the measured time.
    pub fn total_bytes_per_member_per_s(&self) -> f64 {
        self.total_bytes as f64 / self.spread.n as f64 / self.measured.as_secs_f64()
    }
}

/// Node 0 broadcasts a 64-byte user event; measures when each node delivers it under uniform
/// `loss`, counts repeated deliveries, and the bytes sent in the `window` after it (at least
/// until the last delivery).
pub fn user_event(
    params: &Params,
    n: usize,
    loss: f64,
    window: Duration,
    seed: u64,
) -> Result<UserEventSpread, String> {
    let mut sim = params.sim(n, loss, seed)?;
    sim.run_for(params.warmup).map_err(|e| e.to_string())?;
    sim.clear_events();
    let bytes = |sim: &crate::sim::Sim| {
        sim.cores().fold((0, 0), |(e, t), c| {
            let s = c.stats();
            (e + s.user_bytes_out, t + s.total_bytes_out())
        })
    };
    let before = bytes(&sim);
    let t0 = sim.now();
    sim.broadcast(0, "bench", &PAYLOAD)
        .map_err(|e| format!("seed={seed} n={n}: {e}"))?;
    let mut spread = Spread::new(n, t0);
    let is_it = |e: &crate::sim::SimEvent| e.kind == EventKind::User && e.member == 0;
    let outcome = sim.run_watching(LIMIT, |events| spread.watch(events, is_it));
    let time_to_all = waited(outcome, &format!("seed={seed} n={n}"))?;
    // Keep counting (repeats, and bytes) for the rest of the window.
    let elapsed = sim.now() - t0;
    if let Some(rest) = window.checked_sub(elapsed) {
        let outcome = sim.run_watching(rest, |events| {
            spread.watch(events, is_it);
            false
        });
        match outcome {
            Ok(_) | Err(SimError::Timeout { .. } | SimError::Idle { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let after = bytes(&sim);
    Ok(UserEventSpread {
        duplicates: spread.repeats,
        spread: Dissemination {
            n,
            seed,
            time_to_all,
            received: spread.received,
        },
        measured: sim.now() - t0,
        event_bytes: after.0 - before.0,
        total_bytes: after.1 - before.1,
    })
}

/// User events for each N and loss rate: a table and the delivered-fraction curves.
pub fn user_event_suite(
    params: &Params,
    sizes: &[usize],
    losses: &[f64],
    window: Duration,
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let template = SimConfig::new(1, params.profile, 0).template;
    let period = template.probe_interval;
    let mut table = Table::new(
        format!(
            "user events: one 64-byte event from one node ({} profile, probe {:?}, gossip {:?} \
             to {}, push-pull {:?})",
            params.profile,
            period,
            template.gossip_interval,
            template.gossip_nodes,
            template.push_pull_interval
        ),
        &[
            "n",
            "loss",
            "run",
            "time_to_all_ms",
            "periods",
            "lambda_log_n",
            "delivered",
            "duplicates",
            "event_bytes_per_member",
            "event_bytes_per_member_per_s",
            "total_bytes_per_member_per_s",
        ],
    );
    let mut series = Vec::new();
    let tails = each_run(
        params,
        sizes,
        losses,
        "events",
        progress,
        |n, loss, run, seed| {
            let u = user_event(params, n, loss, window, seed)?;
            let d = &u.spread;
            let mut row = first_cells(n, loss, run, d.time_to_all, period);
            row.extend([
                Cell::Int(u64::from(lambda_log_n(template.retransmit_mult, n))),
                Cell::Int(d.received.iter().flatten().count() as u64),
                Cell::Int(u.duplicates as u64),
                Cell::Float(u.event_bytes as f64 / n as f64, 0),
                Cell::Float(u.event_bytes_per_member_per_s(), 1),
                Cell::Float(u.total_bytes_per_member_per_s(), 0),
            ]);
            table.push(row);
            if run == 0 {
                series.push(infected_series(d, series_name(n, loss, losses), &template));
            }
            Ok(d.time_to_all)
        },
    )?;
    table.notes.extend(tails);
    table.notes.push(format!(
        "periods = time until every member delivered the event / probe interval, rounded up; \
         lambda_log_n = retransmit_mult * ceil(log10(N+1)) periods. delivered: members that \
         delivered it within {} s; duplicates: deliveries beyond the first (must be 0). Bytes \
         are counted from the broadcast over {} s (or until the last delivery, if later): \
         event_bytes = the user-event sections of every datagram (gossip and push-pulls, UDP \
         payload only, not the headers of datagrams sent only for the event); total_bytes = \
         everything sent, for scale.",
        LIMIT.as_secs(),
        window.as_secs()
    ));
    let chart = Chart {
        title: "user events: fraction of members that delivered the event".into(),
        x_label: "protocol periods since the broadcast".into(),
        y_label: "fraction delivered".into(),
        x_log: false,
        series,
    };
    Ok((table, vec![chart]))
}
