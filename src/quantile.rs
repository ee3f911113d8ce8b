//! The nearest-rank quantile, shared by the simulator's summaries and the stats rendering's
//! RTT percentiles, so that "p99" means the same wherever rumor prints it.

/// The element at quantile `q` (0 < q <= 1) of `sorted` (ascending): the smallest value with at
/// least a fraction `q` of the values at or below it. `None` when `sorted` is empty.
pub(crate) fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn nearest_rank_picks_the_smallest_value_covering_the_fraction() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(5));
        assert_eq!(nearest_rank(&v, 0.9), Some(9));
        assert_eq!(nearest_rank(&v, 0.91), Some(10));
        assert_eq!(nearest_rank(&v, 1.0), Some(10));
        assert_eq!(nearest_rank(&v, 0.01), Some(1));
        assert_eq!(nearest_rank(&[7], 0.99), Some(7));
        assert_eq!(nearest_rank::<u32>(&[], 0.5), None);
    }
}
