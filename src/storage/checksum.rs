//! The CRC-32 (IEEE 802.3, the one zlib and `crc32fast` compute) of stored texts: the envelope's
//! checksum and a value's identity.
//!
//! Slice-by-16 like `crc32fast`'s portable path, but its 16 KB of tables are computed in memory
//! the first time a checksum is taken instead of shipped in the module's data, where they were
//! the largest single table of the core module (random bytes that do not compress).

use std::sync::OnceLock;

/// The reflected polynomial of CRC-32/IEEE.
const POLYNOMIAL: u32 = 0xedb8_8320;

type Tables = [[u32; 256]; 16];

/// `tables[0]` is the byte-at-a-time table; `tables[k][b]` is the CRC of byte `b` followed by `k`
/// zero bytes, so sixteen lookups advance sixteen bytes.
fn tables() -> &'static Tables {
    static TABLES: OnceLock<Box<Tables>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut tables = Box::new([[0u32; 256]; 16]);
        // Opaque to the optimizer, which would otherwise compute the first table at build time
        // and ship it as data.
        let polynomial = std::hint::black_box(POLYNOMIAL);
        for byte in 0..256u32 {
            let mut crc = byte;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ polynomial } else { crc >> 1 };
            }
            tables[0][byte as usize] = crc;
        }
        for k in 1..16 {
            for byte in 0..256 {
                let previous = tables[k - 1][byte];
                tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            }
        }
        tables
    })
}

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let tables = tables();
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let low = crc.to_le_bytes();
        let mut next = 0;
        for (at, &byte) in chunk.iter().enumerate() {
            let byte = if at < 4 { byte ^ low[at] } else { byte };
            next ^= tables[15 - at][byte as usize];
        }
        crc = next;
    }
    for &byte in chunks.remainder() {
        crc = tables[0][((crc as u8) ^ byte) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"hello world"), 0x0d4a_1185);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(br#"{"count":3}"#), crc32fast::hash(br#"{"count":3}"#));
    }

    proptest! {
        #[test]
        fn matches_crc32fast(bytes in prop::collection::vec(any::<u8>(), 0..300), skip in 0usize..17) {
            let bytes = &bytes[skip.min(bytes.len())..];
            prop_assert_eq!(crc32(bytes), crc32fast::hash(bytes));
        }
    }
}
