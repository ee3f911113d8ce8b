//! Traffic per member in a quiet cluster.

use std::time::Duration;

use crate::event::{MessageKind, Stats};

use super::{IP_UDP_HEADER, Params, Progress, run_seed};
use crate::sim::report::{Cell, Chart, Series, Table};

/// Traffic per member in a quiet cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Cluster size.
    pub n: usize,
    /// The run's seed.
    pub seed: u64,
    /// Protocol periods measured.
    pub periods: f64,
    /// Seconds measured.
    pub seconds: f64,
    /// Datagrams sent per member over the window, one entry per member.
    pub packets: Vec<u64>,
    /// Payload bytes sent per member over the window.
    pub bytes: Vec<u64>,
    /// Datagrams sent by all members over the window, by message kind.
    pub packets_by_kind: [u64; MessageKind::COUNT],
    /// Payload bytes sent by all members over the window, by message kind.
    pub bytes_by_kind: [u64; MessageKind::COUNT],
}

fn mean_max(v: &[u64]) -> (f64, u64) {
    let sum: u64 = v.iter().sum();
    let max = v.iter().copied().max().unwrap_or(0);
    (sum as f64 / v.len().max(1) as f64, max)
}

impl Load {
    /// Mean and max datagrams sent per member per protocol period.
    pub fn packets_per_period(&self) -> (f64, f64) {
        let (mean, max) = mean_max(&self.packets);
        (mean / self.periods, max as f64 / self.periods)
    }

    /// Mean and max payload bytes sent per member per protocol period.
    pub fn bytes_per_period(&self) -> (f64, f64) {
        let (mean, max) = mean_max(&self.bytes);
        (mean / self.periods, max as f64 / self.periods)
    }

    /// Mean bytes per second per member at the IP level (payload plus IPv4 and UDP headers).
    pub fn ip_bytes_per_second(&self) -> f64 {
        let (bytes, _) = mean_max(&self.bytes);
        let (packets, _) = mean_max(&self.packets);
        (bytes + packets * IP_UDP_HEADER as f64) / self.seconds
    }

    /// Mean datagrams and payload bytes per member per protocol period leaving out full-state
    /// syncs: the SWIM part of the load (probes, acks, gossip), which should not grow with N.
    pub fn without_sync_per_period(&self) -> (f64, f64) {
        let sync = MessageKind::Sync.index();
        let per = |v: &[u64; MessageKind::COUNT]| {
            let total: u64 = v.iter().sum();
            (total - v[sync]) as f64 / self.packets.len().max(1) as f64 / self.periods
        };
        (per(&self.packets_by_kind), per(&self.bytes_by_kind))
    }

    /// The share of bytes carried by full-state syncs.
    pub fn sync_share(&self) -> f64 {
        let total: u64 = self.bytes_by_kind.iter().sum();
        let sync = self.bytes_by_kind[MessageKind::Sync.index()];
        sync as f64 / total.max(1) as f64
    }
}

/// Measures what each member sends over `window` in a cluster with no changes.
pub fn load(params: &Params, n: usize, window: Duration, seed: u64) -> Result<Load, String> {
    let mut sim = params.sim(n, 0.0, seed)?;
    sim.set_record_events(false);
    sim.run_for(params.warmup).map_err(|e| e.to_string())?;
    let before: Vec<Stats> = sim.cores().map(|c| c.stats().clone()).collect();
    sim.run_for(window).map_err(|e| e.to_string())?;
    let mut packets = Vec::with_capacity(n);
    let mut bytes = Vec::with_capacity(n);
    let mut packets_by_kind = [0; MessageKind::COUNT];
    let mut bytes_by_kind = [0; MessageKind::COUNT];
    for (core, b) in sim.cores().zip(&before) {
        let s = core.stats();
        packets.push(s.total_packets_out() - b.total_packets_out());
        bytes.push(s.total_bytes_out() - b.total_bytes_out());
        for k in 0..MessageKind::COUNT {
            packets_by_kind[k] += s.packets_out[k] - b.packets_out[k];
            bytes_by_kind[k] += s.bytes_out[k] - b.bytes_out[k];
        }
    }
    Ok(Load {
        n,
        seed,
        periods: window.as_secs_f64() / params.probe_interval().as_secs_f64(),
        seconds: window.as_secs_f64(),
        packets,
        bytes,
        packets_by_kind,
        bytes_by_kind,
    })
}

/// Per-member load for each N: a table and load against N.
pub fn load_suite(
    params: &Params,
    sizes: &[usize],
    window: Duration,
    progress: Progress<'_>,
) -> Result<(Table, Vec<Chart>), String> {
    let mut table = Table::new(
        format!(
            "load: traffic sent per member in a quiet cluster, {:?} window ({} profile)",
            window, params.profile
        ),
        &[
            "n",
            "pkts_per_period_mean",
            "pkts_per_period_max",
            "bytes_per_period_mean",
            "bytes_per_period_max",
            "pkts_per_period_no_sync",
            "bytes_per_period_no_sync",
            "ip_bytes_per_s_mean",
            "probe_pkts_share",
            "sync_bytes_share",
        ],
    );
    let (mut pk_mean, mut pk_max, mut by_mean, mut by_max) = (vec![], vec![], vec![], vec![]);
    let (mut pk_swim, mut by_swim) = (vec![], vec![]);
    for &n in sizes {
        let seed = run_seed(params.seed, n, 0.0, 0);
        progress(&format!("load n={n} seed={seed}"));
        let l = load(params, n, window, seed)?;
        let (pm, px) = l.packets_per_period();
        let (bm, bx) = l.bytes_per_period();
        let (ps, bs) = l.without_sync_per_period();
        let probe_kinds = [
            MessageKind::Ping,
            MessageKind::PingReq,
            MessageKind::Ack,
            MessageKind::Nack,
        ];
        let probe: u64 = probe_kinds
            .iter()
            .map(|k| l.packets_by_kind[k.index()])
            .sum();
        let total: u64 = l.packets_by_kind.iter().sum();
        table.push(vec![
            n.into(),
            Cell::Float(pm, 2),
            Cell::Float(px, 2),
            Cell::Float(bm, 0),
            Cell::Float(bx, 0),
            Cell::Float(ps, 2),
            Cell::Float(bs, 0),
            Cell::Float(l.ip_bytes_per_second(), 0),
            Cell::Float(probe as f64 / total.max(1) as f64, 2),
            Cell::Float(l.sync_share(), 2),
        ]);
        pk_mean.push((n as f64, pm));
        pk_max.push((n as f64, px));
        by_mean.push((n as f64, bm));
        by_max.push((n as f64, bx));
        pk_swim.push((n as f64, ps));
        by_swim.push((n as f64, bs));
    }
    table.notes.push(
        "A period is one probe interval. Bytes are UDP payload; ip_bytes_per_s adds 28 bytes of \
         IPv4+UDP header per datagram. *_no_sync: the mean leaving out full-state syncs (the SWIM \
         part: probes, acks, gossip). probe_pkts_share: ping, ping-req, ack and nack among all \
         datagrams; sync_bytes_share: bytes of full-state syncs (push-pull every \
         push_pull_interval, whose size grows with N) among all bytes."
            .into(),
    );
    let packets_chart = Chart {
        title: "datagrams sent per member per protocol period".into(),
        x_label: "N (log scale)".into(),
        y_label: "datagrams / period".into(),
        x_log: true,
        series: vec![
            Series {
                name: "mean".into(),
                points: pk_mean,
            },
            Series {
                name: "max".into(),
                points: pk_max,
            },
            Series {
                name: "mean without push-pull syncs".into(),
                points: pk_swim,
            },
        ],
    };
    let bytes_chart = Chart {
        title: "payload bytes sent per member per protocol period".into(),
        x_label: "N (log scale)".into(),
        y_label: "bytes / period".into(),
        x_log: true,
        series: vec![
            Series {
                name: "mean".into(),
                points: by_mean,
            },
            Series {
                name: "max".into(),
                points: by_max,
            },
            Series {
                name: "mean without push-pull syncs".into(),
                points: by_swim,
            },
        ],
    };
    Ok((table, vec![packets_chart, bytes_chart]))
}
