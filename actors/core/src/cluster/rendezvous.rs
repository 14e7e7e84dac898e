//! Which live node a monitor or schedule belongs to: rendezvous (highest-random-weight)
//! hashing. Each (key, node) pair gets a weight; the key goes to the node of highest weight.
//! A node joining takes only the keys it now outweighs everyone on; a node leaving gives up
//! only its own, each to the runner-up. No table to agree on, no coordination: every node
//! computes the same answer from the same live set.
//!
//! The hash is written out here (FNV-1a 64 over the bytes, then the splitmix64 finaliser to
//! spread FNV's weak low bits) because every node must get the same weight in every process,
//! build and Rust version; std's `DefaultHasher` promises none of that.

use super::ids::{LeaseKey, NodeId};

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`, carried on from `hash` (start at [`FNV_OFFSET_BASIS`]).
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The splitmix64 output for state `x`: mixes every input bit into every output bit.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight of `node` for `key`. Over the key's stored form and the node's id, the key's
/// length first so no two (key, node) pairs hash the same bytes (`ab`+`c` and `a`+`bc`).
pub fn weight(key: &LeaseKey, node: &NodeId) -> u64 {
    weight_of(&key.to_string(), node)
}

/// [`weight`] of a key already in its stored form.
fn weight_of(key: &str, node: &NodeId) -> u64 {
    let mut hash = fnv1a(FNV_OFFSET_BASIS, &(key.len() as u64).to_le_bytes());
    hash = fnv1a(hash, key.as_bytes());
    hash = fnv1a(hash, node.as_str().as_bytes());
    splitmix64(hash)
}

/// The node of `live` that `key` belongs to; none when no node is live. The order of `live`
/// does not matter; equal weights (vanishingly rare) go to the greater id.
pub fn preferred_owner(key: &LeaseKey, live: &[NodeId]) -> Option<NodeId> {
    let key = key.to_string();
    live.iter()
        .max_by_key(|node| (weight_of(&key, node), *node))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_64_and_splitmix64_to_the_bit() {
        // Published test vectors: FNV-1a 64 of "" and "a"; splitmix64's first output from 0.
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
