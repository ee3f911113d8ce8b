//! `rumor sim` end to end: the binary runs a small scenario and its JSON, CSV and SVG outputs
//! hold what the table says; bad arguments exit 2.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn rumor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rumor"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rumor-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn dissemination_prints_json_and_writes_csv_and_svg() {
    let csv = scratch("d.csv");
    let svg = scratch("d.svg");
    let out = rumor()
        .args([
            "sim",
            "dissemination",
            "--nodes",
            "8,16",
            "--seed",
            "5",
            "--json",
        ])
        .arg("--csv")
        .arg(&csv)
        .arg("--plot")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, n) in rows.iter().zip([8, 16]) {
        assert_eq!(row["n"], n);
        let ms = row["time_to_all_ms"].as_f64().unwrap();
        assert!(ms > 0.0 && ms < 30_000.0, "{row}");
    }
    assert!(j["wall_s"].as_f64().is_some() && j["peak_memory_mib"].as_f64().is_some());
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(csv.starts_with("n,loss,run,time_to_all_ms"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("N = 16"),
        "{svg:.200}"
    );
}

#[test]
fn same_seed_prints_the_same_table() {
    let run = || {
        let out = rumor()
            .args([
                "sim", "crash", "--nodes", "6", "--loss", "0.1", "--seed", "9",
            ])
            .args(["--json", "--quiet"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut j: Value = serde_json::from_slice(&out.stdout).unwrap();
        j["wall_s"] = Value::Null;
        j["peak_memory_mib"] = Value::Null;
        j
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a["rows"][0]["all_failed_s"].as_f64().is_some(), "{a}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["sim", "nonsense"],
        vec!["sim", "load", "--nodes", "0"],
        vec!["sim", "crash", "--loss", "1.5"],
        vec!["sim", "load", "--latency", "fast"],
    ] {
        let out = rumor().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
