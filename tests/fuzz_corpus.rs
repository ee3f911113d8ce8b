//! Replays the corpus the fuzzers kept (fuzz/corpus/TARGET/*) through the very code each fuzz
//! target runs (`rumor::fuzzing`), so that a regression on any input the fuzzer once found
//! interesting fails the normal suite, without a fuzzer. Inputs that once crashed are in the
//! corpus too, and have a named test each next to the code they broke.

use std::path::PathBuf;

/// Every input kept for `target`, with its file name; at least `min`, so that a moved or
/// emptied corpus fails here rather than passing on nothing.
fn corpus(target: &str, min: usize) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= min,
        "{}: {} inputs, expected at least {min}",
        dir.display(),
        inputs.len()
    );
    inputs
}

/// Runs `check` on every input of `target`, naming the input that panics.
fn replay(target: &str, min: usize, check: fn(&[u8])) {
    for (name, bytes) in corpus(target, min) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(
            outcome.is_ok(),
            "fuzz/corpus/{target}/{name} fails (replay it with `cargo fuzz run {target} \
             fuzz/corpus/{target}/{name}` in fuzz/)"
        );
    }
}

#[test]
fn the_decode_corpus_still_decodes_within_bounds_and_round_trips() {
    replay("decode", 50, rumor::fuzzing::decode);
}

#[test]
fn the_datagram_corpus_is_still_counted_bounded_and_never_amplified() {
    replay("datagram", 50, rumor::fuzzing::datagram);
}

#[test]
fn the_merge_corpus_still_leaves_a_consistent_table() {
    replay("merge", 20, rumor::fuzzing::merge);
}
