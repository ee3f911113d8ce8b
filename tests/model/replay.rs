//! Replaying a schedule the checker printed: the same real cores, the same steps, one by one.
//!
//! A step names a datagram by its channel and place (`Deliver { from, to, n }`), so a schedule
//! does not depend on how the network happens to be sorted, and its `Debug` form is Rust: a
//! counterexample pasted into a test (`use model::Action::*;`) replays as it was found.

use stateright::Model;

use super::{Action, Cluster, State};

/// Runs `steps` from the model's initial state and returns the state they end in. Each step
/// must be one the model offers at that point (so a replayed trace is a schedule the checker
/// could have explored, within its bounds); otherwise the error names the step, and what was
/// possible instead.
pub(crate) fn replay(m: &Cluster, steps: &[Action]) -> Result<State, String> {
    let mut s = m
        .init_states()
        .into_iter()
        .next()
        .ok_or("the model has no initial state")?;
    let mut possible = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        possible.clear();
        m.actions(&s, &mut possible);
        if !possible.contains(step) {
            return Err(format!(
                "step {i} ({step:?}) is not possible here; possible: {possible:?}"
            ));
        }
        s = m
            .next_state(&s, step.clone())
            .ok_or_else(|| format!("step {i} ({step:?}) has no next state"))?;
    }
    Ok(s)
}

/// `steps` as a Rust array expression, one step a line, for pasting into a test.
pub(crate) fn rust_steps(steps: &[Action]) -> String {
    let mut out = String::from("[\n");
    for step in steps {
        out.push_str(&format!("    {step:?},\n"));
    }
    out.push(']');
    out
}
