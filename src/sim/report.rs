//! What a simulation run prints: tables (as markdown text, CSV or JSON), line charts as SVG
//! (plotters, SVG backend only), and the run's own cost (wall time, peak memory), read from
//! procfs the way a benchmark reads the memory of the processes it watches.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use serde_json::{Map, Value, json};

/// One table cell: a number keeps its value for JSON and CSV, and its precision for text.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A count.
    Int(u64),
    /// A measurement, printed with this many decimals.
    Float(f64, usize),
    /// Words.
    Text(String),
    /// Nothing measured (the condition never held within the run's bound).
    Missing,
}

impl Cell {
    /// A float with `decimals` decimals, or Missing when absent.
    pub fn opt(v: Option<f64>, decimals: usize) -> Cell {
        v.map_or(Cell::Missing, |v| Cell::Float(v, decimals))
    }

    fn text(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Float(v, d) => format!("{v:.d$}", d = *d),
            Cell::Text(s) => s.clone(),
            Cell::Missing => "-".into(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Float(v, _) => v.to_string(),
            Cell::Text(s) if s.contains([',', '"', '\n']) => {
                format!("\"{}\"", s.replace('"', "\"\""))
            }
            Cell::Text(s) => s.clone(),
            Cell::Missing => String::new(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Int(v) => json!(v),
            Cell::Float(v, _) => json!(v),
            Cell::Text(s) => json!(s),
            Cell::Missing => Value::Null,
        }
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::Int(v)
    }
}

impl From<usize> for Cell {
    fn from(v: usize) -> Self {
        Cell::Int(v as u64)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Text(v.into())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}

/// A table of results: named columns, rows of cells, and notes printed under it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// What the table shows.
    pub title: String,
    /// Column names (also the JSON keys and the CSV header).
    pub columns: Vec<String>,
    /// One row per measurement.
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed under the table: how to read it, what the bounds are.
    pub notes: Vec<String>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Self {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row (cells beyond the columns are ignored, missing ones print as `-`).
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// A markdown table with aligned columns, the title above and the notes below.
    pub fn to_markdown(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..self.columns.len())
                    .map(|i| r.get(i).map_or_else(|| "-".into(), Cell::text))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .filter_map(|r| r.get(i).map(|s| s.chars().count()))
                    .chain([c.chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let mut out = String::new();
        if !self.title.is_empty() {
            let _ = writeln!(out, "{}\n", self.title);
        }
        let line = |out: &mut String, items: &mut dyn Iterator<Item = String>| {
            out.push('|');
            for (item, w) in items.zip(&widths) {
                let _ = write!(out, " {item:>w$} |");
            }
            out.push('\n');
        };
        line(&mut out, &mut self.columns.iter().cloned());
        line(&mut out, &mut widths.iter().map(|w| "-".repeat(*w)));
        for r in cells {
            line(&mut out, &mut r.into_iter());
        }
        for n in &self.notes {
            let _ = writeln!(out, "\n{n}");
        }
        out
    }

    /// The header and rows as CSV.
    pub fn to_csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for r in &self.rows {
            let line: Vec<String> = (0..self.columns.len())
                .map(|i| r.get(i).map_or_else(String::new, Cell::csv))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }

    /// `{"title", "rows": [{column: value}], "notes"}`.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (i, c) in self.columns.iter().enumerate() {
                    m.insert(c.clone(), r.get(i).map_or(Value::Null, Cell::json));
                }
                Value::Object(m)
            })
            .collect();
        json!({ "title": self.title, "rows": rows, "notes": self.notes })
    }
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points in x order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart, drawn to SVG.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// Logarithmic x axis (for N from 10 to 10,000).
    pub x_log: bool,
    /// The lines.
    pub series: Vec<Series>,
}

impl Chart {
    fn ranges(&self) -> (Range<f64>, Range<f64>) {
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1) = (f64::MAX, f64::MIN);
        let mut y1 = f64::MIN;
        for &(x, y) in pts() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y1) = (1.0, 10.0, 1.0);
        }
        if self.x_log {
            x0 = x0.max(1e-9) / 1.5;
            x1 *= 1.5;
        } else if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.08 };
        (x0..x1, 0.0..y1)
    }
}

/// Draws `charts` stacked vertically into one SVG file at `path`.
pub fn write_svg(path: &Path, charts: &[Chart]) -> Result<(), String> {
    let height = 420 * charts.len().max(1) as u32;
    let root = SVGBackend::new(path, (860, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((charts.len().max(1), 1));
    for (chart, area) in charts.iter().zip(areas.iter()) {
        let (xr, yr) = chart.ranges();
        if chart.x_log {
            draw(area, chart, xr.log_scale(), yr)?;
        } else {
            draw(area, chart, xr, yr)?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

fn draw<X>(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    x: X,
    y: Range<f64>,
) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .draw()
        .map_err(err)?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        ctx.draw_series(LineSeries::new(
            s.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(err)?
        .label(s.name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A memory figure of a process in KiB, from Linux's `/proc/PID/status`: of process `pid`, or
/// of this process for `None`. `field` is the name before the colon: `VmHWM` (the peak
/// resident set), `VmRSS` (the current one), `RssAnon` (the part of it not backed by a file:
/// heap and stacks). `None` where there is no procfs, no such process or no such field.
pub fn proc_status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of this process so far, in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    proc_status_kib(None, "VmHWM").map(|k| k as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new("t", &["n", "time_s", "note"]);
        t.push(vec![Cell::Int(10), Cell::Float(1.2345, 2), "a, b".into()]);
        t.push(vec![Cell::Int(100), Cell::Missing]);
        t
    }

    #[test]
    fn markdown_aligns_and_marks_missing() {
        let md = table().to_markdown();
        assert!(md.contains("|  10 |   1.23 | a, b |"), "{md}");
        assert!(md.contains("| 100 |      - |    - |"), "{md}");
    }

    #[test]
    fn csv_quotes_and_leaves_missing_empty() {
        let csv = table().to_csv();
        assert_eq!(csv, "n,time_s,note\n10,1.2345,\"a, b\"\n100,,\n");
    }

    #[test]
    fn json_keeps_numbers_as_numbers() {
        let j = table().to_json();
        assert_eq!(j["rows"][0]["n"], json!(10));
        assert_eq!(j["rows"][0]["time_s"], json!(1.2345));
        assert_eq!(j["rows"][1]["time_s"], Value::Null);
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_memory_mib().is_some_and(|m| m > 0.0));
        }
    }

    #[test]
    fn status_of_a_pid_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let own = proc_status_kib(Some(std::process::id()), "VmHWM");
            assert!(own.is_some_and(|k| k > 0));
            assert_eq!(proc_status_kib(None, "NoSuchField"), None);
            // A prefix of a field is not the field.
            assert_eq!(proc_status_kib(None, "VmRS"), None);
        }
    }
}
