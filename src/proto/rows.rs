//! How a member table keeps its rows and its probe order.
//!
//! A real agent's table is one `Vec` of rows and one `Vec` of the members not yet probed this
//! round. The simulator runs thousands of tables that start alike (every node bootstrapped
//! with every other, Alive at incarnation 0, at the same instant) and mostly stay alike: a
//! node changes the rows it probes (their round trip) and the rows a change reaches, a small
//! part of N in minutes of virtual time. So such a table may read its rows from one shared,
//! immutable [`Base`] and keep only the rows it changed (copy on write), and keep the part of
//! its probe round not yet walked as the few positions that moved rather than all of them.
//!
//! Either way a table answers the same for every position, and draws the same random numbers
//! in the same order: which representation it uses never shows in what it does, so a
//! simulation's trace hash is the same with plain tables (`tests/sim_determinism.rs`).

use std::sync::Arc;

use hashbrown::HashMap;
use rand::Rng;

use super::members::Entry;

/// Rows every table of a simulation starts with: one per member of a shared directory, in its
/// order. Immutable; a table reads a row here until it changes it.
pub(crate) struct Base {
    rows: Vec<Entry>,
    /// The XOR of every row's part of a table digest: a table's digest without a pass over N.
    digest: u64,
    /// The table's state-change time the rows carry (deciseconds since its epoch): only
    /// tables that were bootstrapped at that time may share them.
    since_ds: u32,
}

impl Base {
    pub(crate) fn new(rows: Vec<Entry>, since_ds: u32, part: impl Fn(&Entry) -> u64) -> Self {
        let digest = rows.iter().fold(0, |d, e| d ^ part(e));
        Base {
            rows,
            digest,
            since_ds,
        }
    }

    /// The digest of every row (see [`Base::new`]).
    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    pub(crate) fn row(&self, g: usize) -> Option<&Entry> {
        self.rows.get(g)
    }

    pub(crate) fn since_ds(&self) -> u32 {
        self.since_ds
    }
}

/// A table's view of a [`Base`]: every base row but its own (`skip`), at positions
/// `0..covered`, less the positions it overwrote (`changed`).
#[derive(Clone)]
struct View {
    base: Arc<Base>,
    skip: usize,
    covered: usize,
    changed: HashMap<u32, Entry>,
}

impl View {
    fn base_row(&self, i: usize) -> Option<&Entry> {
        let g = if i >= self.skip { i + 1 } else { i };
        self.base.rows.get(g)
    }
}

/// The rows of one member table, by position.
#[derive(Clone, Default)]
pub(crate) struct Rows {
    /// Every row of a plain table; the rows past the base's of a shared one.
    own: Vec<Entry>,
    view: Option<View>,
    len: usize,
}

impl Rows {
    /// Rows read from `base`, leaving out the table's own row (directory number `skip`).
    pub(crate) fn shared(base: Arc<Base>, skip: Option<usize>) -> Self {
        let skip = skip.unwrap_or(usize::MAX);
        let covered = base.rows.len() - usize::from(skip < base.rows.len());
        Rows {
            own: Vec::new(),
            view: Some(View {
                base,
                skip,
                covered,
                changed: HashMap::new(),
            }),
            len: covered,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Entry> {
        if i >= self.len {
            return None;
        }
        match &self.view {
            None => self.own.get(i),
            Some(v) if i < v.covered => v.changed.get(&(i as u32)).or_else(|| v.base_row(i)),
            Some(v) => self.own.get(i - v.covered),
        }
    }

    /// Row `i` to change: a shared table copies it out of the base first.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Entry> {
        if i >= self.len {
            return None;
        }
        let Rows { own, view, .. } = self;
        let Some(v) = view else {
            return own.get_mut(i);
        };
        if i >= v.covered {
            return own.get_mut(i - v.covered);
        }
        if !v.changed.contains_key(&(i as u32)) {
            let row = v.base_row(i)?.clone();
            v.changed.insert(i as u32, row);
        }
        v.changed.get_mut(&(i as u32))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        (0..self.len).filter_map(|i| self.get(i))
    }

    pub(crate) fn push(&mut self, e: Entry) {
        let Rows { own, view, len } = self;
        match view {
            Some(v) if *len < v.covered => {
                v.changed.insert(*len as u32, e);
            }
            _ => own.push(e),
        }
        self.len += 1;
    }

    pub(crate) fn reserve(&mut self, more: usize) {
        self.own.reserve(more);
    }

    /// Makes a plain table's room exactly `total` rows when it has less: a table that shares a
    /// directory of `total` members and fills row by row (a join) would otherwise double its
    /// way past it (16,384 rows of room for 10,000: 0.15 GB a thousand tables). A shared
    /// table's own rows are the few past its base; they grow as they come.
    pub(crate) fn make_room_for(&mut self, total: usize) {
        if self.view.is_none() && self.own.capacity() < total {
            self.own.reserve_exact(total - self.own.len());
        }
    }

    /// Removes row `i`, moving the last row into its place (`Vec::swap_remove`).
    pub(crate) fn swap_remove(&mut self, i: usize) -> Option<Entry> {
        if i >= self.len {
            return None;
        }
        let last = self.len - 1;
        let moved = self.take(last)?;
        self.len -= 1;
        if i == last {
            return Some(moved);
        }
        let gone = self.get(i)?.clone();
        self.put(i, moved);
        Some(gone)
    }

    /// Takes the last row out (position `i` must be the last).
    fn take(&mut self, i: usize) -> Option<Entry> {
        let Rows { own, view, .. } = self;
        match view {
            Some(v) if i < v.covered => v
                .changed
                .remove(&(i as u32))
                .or_else(|| v.base_row(i).cloned()),
            _ => own.pop(),
        }
    }

    fn put(&mut self, i: usize, e: Entry) {
        if let Some(slot) = self.get_mut(i) {
            *slot = e;
        }
    }
}

/// The members not probed yet this round, drawn at random one at a time (SWIM's shuffled
/// round-robin: every round walks a fresh uniform permutation). When it runs out it is every
/// position again. Kept as an array of the positions left (`Dense`), or, for a table of
/// thousands that probes a few of them a minute, as only the array slots that no longer hold
/// their own position (`Sparse`): the same draws give the same members.
#[derive(Clone)]
pub(crate) enum Pool {
    Dense(Vec<u32>),
    Sparse {
        left: usize,
        moved: HashMap<u32, u32>,
    },
}

impl Pool {
    pub(crate) fn dense() -> Self {
        Pool::Dense(Vec::new())
    }

    pub(crate) fn sparse() -> Self {
        Pool::Sparse {
            left: 0,
            moved: HashMap::new(),
        }
    }

    /// Members left in this round.
    pub(crate) fn left(&self) -> usize {
        match self {
            Pool::Dense(v) => v.len(),
            Pool::Sparse { left, .. } => *left,
        }
    }

    fn at(&self, k: usize) -> u32 {
        match self {
            Pool::Dense(v) => v.get(k).copied().unwrap_or(k as u32),
            Pool::Sparse { moved, .. } => moved.get(&(k as u32)).copied().unwrap_or(k as u32),
        }
    }

    fn set(&mut self, k: usize, value: u32) {
        match self {
            Pool::Dense(v) => {
                if let Some(s) = v.get_mut(k) {
                    *s = value;
                }
            }
            Pool::Sparse { moved, .. } => {
                if value as usize == k {
                    moved.remove(&(k as u32));
                } else {
                    moved.insert(k as u32, value);
                }
            }
        }
    }

    /// Takes the member at array slot `k` out, the last slot's member filling its place.
    fn take_at(&mut self, k: usize) -> u32 {
        let value = self.at(k);
        let last = self.left() - 1;
        let tail = self.at(last);
        match self {
            Pool::Dense(v) => {
                v.swap_remove(k);
            }
            Pool::Sparse { left, moved } => {
                moved.remove(&(last as u32));
                *left -= 1;
            }
        }
        if k != last {
            self.set(k, tail);
        }
        value
    }

    /// A sparse pool whose moved slots cost more than an array of every slot left becomes that
    /// array: a table that grows row by row while a round runs (a join in the simulator) moves
    /// a slot for every member added, and a map entry costs ~12 bytes against 4. The same
    /// slots hold the same members either way, so the draws are the same.
    fn densify_if_crowded(&mut self) {
        if let Pool::Sparse { left, moved } = self
            && moved.len() * 3 > *left
            && *left >= 64
        {
            let v = (0..*left).map(|k| self.at(k)).collect();
            *self = Pool::Dense(v);
        }
    }

    /// Starts a new round over positions `0..n`, kept as an array or, for a table sharing a
    /// directory, sparsely (see [`Pool::sparse`]); a pool that turned dense mid-round
    /// ([`densify_if_crowded`](Self::densify_if_crowded)) starts sparse again.
    pub(crate) fn refill(&mut self, n: usize, sparse: bool) {
        match (self, sparse) {
            (Pool::Dense(v), false) => {
                v.clear();
                v.extend(0..n as u32);
            }
            (Pool::Sparse { left, moved }, true) => {
                moved.clear();
                *left = n;
            }
            (p, true) => {
                *p = Pool::Sparse {
                    left: n,
                    moved: HashMap::new(),
                }
            }
            (p, false) => *p = Pool::Dense((0..n as u32).collect()),
        }
    }

    /// A random member left this round, taken out of the pool.
    pub(crate) fn draw(&mut self, rng: &mut impl Rng) -> Option<usize> {
        if self.left() == 0 {
            return None;
        }
        let k = rng.random_range(0..self.left());
        Some(self.take_at(k) as usize)
    }

    /// Adds position `i` to this round.
    pub(crate) fn add(&mut self, i: usize) {
        match self {
            Pool::Dense(v) => v.push(i as u32),
            Pool::Sparse { left, .. } => {
                let k = *left;
                *left += 1;
                self.set(k, i as u32);
                self.densify_if_crowded();
            }
        }
    }

    /// Where position `i` waits in the pool, if it does.
    fn slot_of(&self, i: usize) -> Option<usize> {
        match self {
            Pool::Dense(v) => v.iter().position(|&x| x as usize == i),
            Pool::Sparse { left, moved } => moved
                .iter()
                .find(|&(&k, &x)| x as usize == i && (k as usize) < *left)
                .map(|(&k, _)| k as usize)
                .or_else(|| (i < *left && !moved.contains_key(&(i as u32))).then_some(i)),
        }
    }

    /// Follows the table's `swap_remove(i)`: position `i` leaves, position `last` becomes `i`.
    /// O(pool): a departure is forgotten once, long after the fact.
    pub(crate) fn remove(&mut self, i: usize, last: usize) {
        if let Some(k) = self.slot_of(i) {
            self.take_at(k);
        }
        if i != last
            && let Some(k) = self.slot_of(last)
        {
            self.set(k, i as u32);
        }
    }

    /// Every position left this round (for consistency checks).
    pub(crate) fn positions(&self) -> Vec<u32> {
        (0..self.left()).map(|k| self.at(k)).collect()
    }

    /// The same pool kept sparsely.
    pub(crate) fn to_sparse(&self) -> Self {
        let mut p = Pool::sparse();
        if let Pool::Sparse { left, moved } = &mut p {
            *left = self.left();
            for k in 0..*left {
                let x = self.at(k);
                if x as usize != k {
                    moved.insert(k as u32, x);
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::Pool;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// A sparse pool that grows while a round runs turns dense once its moved slots outgrow an
    /// array, and draws what a dense pool fed the same adds and draws draws, before and after.
    #[test]
    fn a_crowded_sparse_pool_turns_dense_and_draws_the_same() {
        let (mut dense, mut sparse) = (Pool::dense(), Pool::sparse());
        dense.refill(100, false);
        sparse.refill(100, true);
        let (mut a, mut b) = (SmallRng::seed_from_u64(7), SmallRng::seed_from_u64(7));
        let mut ops = SmallRng::seed_from_u64(8);
        let (mut len, mut turned) = (100, false);
        for _ in 0..3_000 {
            if ops.random_bool(0.6) {
                dense.add(len);
                sparse.add(len);
                len += 1;
            } else {
                assert_eq!(dense.draw(&mut a), sparse.draw(&mut b));
            }
            turned |= matches!(sparse, Pool::Dense(_));
            assert_eq!(dense.positions(), sparse.positions());
        }
        assert!(turned, "the sparse pool never turned dense");
        sparse.refill(len, true);
        assert!(
            matches!(sparse, Pool::Sparse { .. }),
            "a new round is sparse again"
        );
    }
}
