//! A deterministic simulator of many SWIM nodes (being written for the benchmarks issue).
