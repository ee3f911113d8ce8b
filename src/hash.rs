//! The crate's two small non-cryptographic hashes, kept in one place because their outputs are
//! fixed by what depends on them: FNV-1a (the 4-byte name fingerprint in pings, the member
//! table digest in acks, the simulator's trace hash) and splitmix64's finaliser (the table
//! digest again, and the seeds of the simulator's measured runs). Changing either changes the
//! wire format or the simulator's replays, so neither may change.

/// 64-bit FNV-1a's starting state (its offset basis): the digest of no bytes.
pub(crate) const FNV1A_64_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV1A_64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV1A_32_BASIS: u32 = 0x811c_9dc5;
const FNV1A_32_PRIME: u32 = 0x0100_0193;

/// 32-bit FNV-1a of `bytes`.
pub(crate) fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV1A_32_BASIS, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(FNV1A_32_PRIME)
    })
}

/// 64-bit FNV-1a continued over `bytes` from the state `h`: pass [`FNV1A_64_BASIS`] to start a
/// digest, or a previous result to extend one (a digest built piece by piece equals the digest
/// of the concatenation).
pub(crate) fn fnv1a_64(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV1A_64_PRIME))
}

/// splitmix64's finaliser: a bijection on `u64` under which inputs that differ in one bit give
/// outputs that differ in about half their bits.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published FNV-1a test vectors (Fowler, Noll and Vo's reference test suite).
    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
        assert_eq!(fnv1a_64(FNV1A_64_BASIS, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(FNV1A_64_BASIS, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(FNV1A_64_BASIS, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fnv1a_64_extends_piece_by_piece() {
        let whole = fnv1a_64(FNV1A_64_BASIS, b"foobar");
        assert_eq!(fnv1a_64(fnv1a_64(FNV1A_64_BASIS, b"foo"), b"bar"), whole);
    }

    /// The first outputs of the splitmix64 generator seeded with 0 (Vigna's reference code):
    /// the generator adds the golden gamma to its state and returns the finaliser of the sum.
    #[test]
    fn splitmix64_matches_the_reference_generator() {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        assert_eq!(splitmix64(GAMMA), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(GAMMA.wrapping_mul(2)), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(splitmix64(0), 0);
    }
}
