//! What must hold of a core between any two inputs, whatever arrived: checked by the fuzz
//! targets and the corpus replay (see `crate::fuzzing`), never by the protocol itself.

use super::{MAX_RELAYS, Swim};

impl Swim {
    /// Checks the member table's bookkeeping and the bounds a flood must not break. O(N).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.members.check_consistent()?;
        if self.members.find(self.local.name.as_str()).is_some() {
            return Err("the node lists itself as a member".into());
        }
        if self.members.len() > self.config.max_members {
            return Err(format!(
                "{} members, at most {}",
                self.members.len(),
                self.config.max_members
            ));
        }
        if self.relays.len() > MAX_RELAYS {
            return Err(format!(
                "{} relays, at most {MAX_RELAYS}",
                self.relays.len()
            ));
        }
        Ok(())
    }
}
