//! Where the simulated nodes live: node `i` is named `n{i}` and sits at the virtual address
//! `127.0.0.1 + i`, port 7946. Nothing is ever sent to these addresses; they only let the
//! cores address each other as they would over UDP, and let the simulator map a datagram's
//! destination back to a node.

use std::net::{Ipv4Addr, SocketAddr};

/// The port every virtual node listens on.
pub const PORT: u16 = 7946;
/// First virtual address (node 0); node `i` is this plus `i`.
const BASE_IP: u32 = 0x7f00_0001;
/// Most nodes a simulation may hold: the virtual addresses must stay inside 127.0.0.0/8.
pub const MAX_NODES: usize = 0x00ff_fff0;

/// The virtual address of node `i`.
pub fn addr_of(i: usize) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(BASE_IP + i as u32), PORT))
}

/// The node living at `addr`, if it is a virtual address of a simulation with `n` nodes.
pub fn index_of(addr: SocketAddr, n: usize) -> Option<usize> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    if v4.port() != PORT {
        return None;
    }
    let i = u32::from(*v4.ip()).checked_sub(BASE_IP)? as usize;
    (i < n).then_some(i)
}

/// The name of node `i`.
pub fn name_of(i: usize) -> String {
    format!("n{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_indices() {
        for i in [0usize, 1, 255, 256, 9_999, 70_000] {
            assert_eq!(index_of(addr_of(i), 100_000), Some(i));
        }
        assert_eq!(index_of(addr_of(10), 10), None);
        assert_eq!(index_of("127.0.0.1:1".parse().unwrap(), 10), None);
        assert_eq!(index_of("[::1]:7946".parse().unwrap(), 10), None);
    }
}
