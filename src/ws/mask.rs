//! Client-to-server masking (RFC 6455 §5.3): XOR with a 4-byte key, position-dependent.

/// XOR `data` in place with `key`, as if `data` started at byte `offset` of the payload.
///
/// Eight bytes at a time with a `u64` XOR: the compiler vectorises this, and it is about
/// eight times faster than the byte loop (see docs/performance.md).
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let rot = (offset % 4) as usize;
    let rotated = [
        key[rot],
        key[(rot + 1) % 4],
        key[(rot + 2) % 4],
        key[(rot + 3) % 4],
    ];
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(bytes) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i % 4];
    }
}

/// The obvious byte loop; the reference the fast path is tested against.
pub fn apply_mask_bytewise(data: &mut [u8], key: [u8; 4], offset: u64) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[((offset + i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc6455_section_5_7_masked_hello() {
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    proptest! {
        #[test]
        fn fast_path_matches_byte_loop(data in proptest::collection::vec(any::<u8>(), 0..100),
                                       key in any::<[u8; 4]>(), offset in 0u64..16) {
            let mut fast = data.clone();
            let mut slow = data;
            apply_mask(&mut fast, key, offset);
            apply_mask_bytewise(&mut slow, key, offset);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn unmasking_in_pieces_equals_unmasking_whole(data in proptest::collection::vec(any::<u8>(), 0..64),
                                                      key in any::<[u8; 4]>(), split in 0usize..64) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data;
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split as u64);
            prop_assert_eq!(whole, pieces);
        }
    }
}
